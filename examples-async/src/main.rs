use std::process::ExitCode;

use clap::Parser;
use examples_async::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.args.common.install();
    shared::cli::run_sections("examples-async", cli.section, &cli.args.common, |section| {
        section.run(&cli.args)
    })
}
