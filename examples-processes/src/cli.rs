//! The command line: sections, and the flags every section understands.

use clap::{Parser, ValueEnum};
use shared::{CommonArgs, HttpArgs};

/// Real OS processes in Rust, measured beside Python's multiprocessing and
/// concurrent.futures tutorials.
///
/// Runs every section in order, or the one named. Add `--release` to `cargo run` for
/// meaningful timings. Worker processes are this same binary started again by the example.
#[derive(Parser, Debug, Clone)]
#[command(name = "examples-processes", version)]
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
}

/// The sections, in running order, each with the tutorial section it mirrors. Their names on
/// the command line are the ones in the JSON lines (`long_running`, `queue_workers`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Section {
    /// Five fake jobs (5,2,4,1,5 s), serially and one child process each; completion order
    /// (001 "Speed up long running jobs using Process")
    LongRunning,
    /// A process pool: submit, map, as_completed, shutdown; compute_x and the scrypt batch
    /// on processes and on threads through one interface (000 "Concurrent Futures",
    /// "Multiprocessing"; 002 "concurrent.futures", "An illustrative example")
    Pool,
    /// Three worker processes pulling from one queue, a shutdown event; then tiny-task
    /// throughput, processes vs threads (001 "Using a messaging queue with multiple workers")
    QueueWorkers,
    /// One big buffer shared by threads vs copied into processes, resident memory from the OS
    /// (001 "Differences in memory management")
    Memory,
    /// Only registered tasks cross; a crashed worker is an error, not a hang; per-task
    /// overhead and worker start-up (002 "Gotchas")
    Gotchas,
    /// 20 image downloads: serial, 4 threads, 4 processes; what the 0.11 s likely was
    /// (003 "Example: Downloading Files", both)
    Downloads,
}

impl Section {
    /// Runs this section.
    pub fn run(self, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::LongRunning => crate::long_running::run(args),
            Section::Pool => crate::pool::run(args),
            Section::QueueWorkers => crate::queue_workers::run(args),
            Section::Memory => crate::memory::run(args),
            Section::Gotchas => crate::gotchas::run(args),
            Section::Downloads => crate::downloads::run(args),
        }
    }
}
