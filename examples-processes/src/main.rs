use std::process::ExitCode;

use examples_processes::cli::{ABOUT, Role, Section};

fn main() -> ExitCode {
    // First, before clap sees the arguments: is this process a worker that the binary started
    // from itself (`<exe> __worker <orders>`)? Deciding here, not in a clap subcommand, keeps
    // the mode hidden from `--help` and works whoever the parent is (the example, a test).
    if let Some(code) = examples_processes::worker::run_if_worker(Role::run) {
        return code;
    }
    shared::cli::main("examples-processes", ABOUT, |section: &Section, args| {
        section.run(args)
    })
}
