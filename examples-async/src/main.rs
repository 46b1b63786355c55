use std::process::ExitCode;

use examples_async::cli::{ABOUT, Section};

fn main() -> ExitCode {
    shared::cli::main("examples-async", ABOUT, |section: &Section, args| {
        section.run(args)
    })
}
