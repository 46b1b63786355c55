use std::process::ExitCode;

use examples_simd::cli::{ABOUT, Section};

fn main() -> ExitCode {
    shared::cli::main("examples-simd", ABOUT, |section: &Section, args| {
        section.run(args)
    })
}
