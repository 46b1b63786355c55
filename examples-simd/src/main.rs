use std::process::ExitCode;

use clap::Parser;
use examples_simd::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.args.common.install();
    shared::cli::run_sections("examples-simd", cli.section, &cli.args.common, |section| {
        section.run(&cli.args)
    })
}
