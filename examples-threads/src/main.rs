use std::process::ExitCode;

use examples_threads::cli::{ABOUT, Section};

fn main() -> ExitCode {
    shared::cli::main("examples-threads", ABOUT, |section: &Section, args| {
        section.run(args)
    })
}
