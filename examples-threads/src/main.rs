use std::process::ExitCode;

use clap::Parser;
use examples_threads::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.args.common.install();
    shared::cli::run_sections(cli.section, |section| section.run(&cli.args))
}
