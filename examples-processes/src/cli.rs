//! The command line: sections, the flags every section understands, and the hidden worker
//! mode (`<exe> __worker <orders>`, see [`Role`]).

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use shared::{CommonArgs, HttpArgs};

/// What `--help` says this binary is (the first paragraph is the `-h` summary).
pub const ABOUT: &str = "Real OS processes in Rust, measured beside Python's multiprocessing and \
    concurrent.futures tutorials.\n\nRuns every section in order, or the one named. Worker \
    processes are this same binary started again by the example.";

/// The command line: the section to run (default: all, in order) and [`Args`].
pub type Cli = shared::cli::Cli<Section, Args>;

/// Everything a section may look at.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
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
    /// Three worker processes pulling from one queue with get(timeout=2), stopped by a
    /// shutdown event; a dead worker's task re-queued (001 "Using a messaging queue with
    /// multiple workers")
    QueueWorkers,
    /// The same queue fed 200,000 tiny tasks: tasks/s through pipes to processes vs a channel
    /// to threads, 1 or 4096 tasks per message (001 "Using a messaging queue with multiple
    /// workers", what a message costs)
    QueueThroughput,
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
            Section::QueueThroughput => crate::queue_throughput::run(args),
            Section::Memory => crate::memory::run(args),
            Section::Gotchas => crate::gotchas::run(args),
            Section::Downloads => crate::downloads::run(args),
        }
    }
}

/// What a worker process started by a section is to do: its orders, sent as the argument
/// after `__worker` (a typed message, see `worker.rs`). Hidden from `--help`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Role {
    /// A pool worker: runs each task it is sent (`process_pool.rs`).
    Pool,
    /// A queue worker: the tutorial's `worker_func` (`queue_workers.rs`).
    Queue(crate::queue::Orders),
    /// One long-running job that prints its own line (`long_running.rs`).
    Job(crate::long_running::Job),
    /// Holds a copy of a buffer while the parent measures memory (`memory.rs`).
    Hold,
}

impl Role {
    /// Runs this worker until its work is done (or its parent closes its stdin).
    pub fn run(self) -> anyhow::Result<()> {
        use crate::worker::pipes;
        match self {
            Role::Pool => crate::process_pool::worker_main(pipes()?),
            Role::Queue(orders) => crate::queue_workers::worker_main(orders, pipes()?),
            Role::Job(job) => crate::long_running::job_main(job),
            Role::Hold => crate::memory::hold_main(pipes()?),
        }
    }
}
