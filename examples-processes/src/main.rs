use std::process::ExitCode;

use clap::Parser;
use examples_processes::cli::Cli;

fn main() -> ExitCode {
    // First, before clap sees the arguments: is this process a worker that the binary started
    // from itself (`<exe> __worker <kind> ...`)? Deciding here, not in a clap subcommand, keeps
    // the mode hidden from `--help` and works whoever the parent is (the example, a test).
    if let Some(code) = examples_processes::worker::run_if_worker() {
        return code;
    }
    let cli = Cli::parse();
    cli.args.common.install();
    examples_processes::children::install_interrupt_handler();
    shared::cli::run_sections(
        "examples-processes",
        cli.section,
        &cli.args.common,
        |section| section.run(&cli.args),
    )
}
