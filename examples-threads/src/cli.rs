//! The command line: sections, and the flags every section understands.

use clap::ValueEnum;
use shared::{CommonArgs, HttpArgs, OutArgs};

/// What `--help` says this binary is (the first paragraph is the `-h` summary).
pub const ABOUT: &str = "Threads in Rust, measured beside five Python tutorials on concurrency \
    and parallelism.\n\nRuns every section in order, or the one named.";

/// The command line: the section to run (default: all, in order) and [`Args`].
pub type Cli = shared::cli::Cli<Section, Args>;

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

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The sections, in running order, each with the tutorial section it mirrors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The GIL rebuilt and measured: CPU work with and without it, I/O, C extensions
    /// (000 "Python's GIL problem"; 001 "Differences in CPU usage"; 004 "GIL")
    Gil,
    /// A 10,000,000-row CSV read three times, serially and on three threads, with and without
    /// the GIL analogue (001 "I/O speed-up using Threads")
    #[value(name = "csv_threads", alias = "csv-threads")]
    CsvThreads,
    /// compute_x over 1..=10: joblib Parallel; ThreadPoolExecutor submit, map, as_completed,
    /// partial and shutdown; ThreadPool.map; threading.Thread (000 "Joblib", "Concurrent
    /// Futures", "Multiprocessing", "Threading Library"; 002 "concurrent.futures")
    Executors,
    /// Does each of four wiki pages exist? Serial vs a pool of 2 with as_completed
    /// (000 "Examples" I/O-bound job and "Concurrent Futures: Concurrent")
    Wiki,
    /// One image downloaded 20 times, serially and on 4 threads, every byte verified
    /// (003 "Example: Downloading Files")
    Downloads,
    /// Two threads of ten random 10-50 ms sleeps drawn as a timeline, SVG and text
    /// (003 "Concurrency - Threading", thread activity with context switches)
    Timeline,
    /// Reference counts, a lost update, a leak through a cycle, and what the compiler refuses
    /// (001 "Differences in memory management"; 003 "Global Interpreter Lock")
    Races,
}

impl Section {
    /// Runs this section.
    pub fn run(self, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::Gil => crate::gil::run(args),
            Section::CsvThreads => crate::csv_threads::run(args),
            Section::Executors => crate::executors::run(args),
            Section::Wiki => crate::wiki::run(args),
            Section::Downloads => crate::downloads::run(args),
            Section::Timeline => crate::timeline::run(args),
            Section::Races => crate::races::run(args),
        }
    }
}
