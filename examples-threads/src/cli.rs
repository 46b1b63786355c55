//! The command line: sections, and the flags every section understands.

use clap::{Parser, ValueEnum};
use shared::{CommonArgs, HttpArgs, OutArgs};

/// Threads in Rust, measured beside five Python tutorials on concurrency and parallelism.
///
/// Runs every section in order, or the one named. Add `--release` to `cargo run` for
/// meaningful timings.
#[derive(Parser, Debug, Clone)]
#[command(name = "examples-threads", version)]
pub struct Cli {
    /// The section to run (default: all, in this order).
    #[arg(value_enum)]
    pub section: Option<Section>,

    #[command(flatten)]
    pub args: Args,
}

/// Everything a section may look at.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutArgs,
}

/// The sections, in running order, each with the tutorial section it mirrors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The GIL rebuilt and measured: CPU work with and without it, I/O, C extensions
    /// (000 "Python's GIL problem"; 001 "Differences in CPU usage"; 004 "GIL")
    Gil,
}

impl Section {
    /// Runs this section.
    pub fn run(self, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::Gil => crate::gil::run(args),
        }
    }
}
