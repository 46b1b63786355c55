//! The command line: sections, and the flags every section understands.

use clap::ValueEnum;
use shared::{CommonArgs, HttpArgs};

/// What `--help` says this binary is (the first paragraph is the `-h` summary).
pub const ABOUT: &str = "Async Rust (tokio) measured beside five Python tutorials on concurrency \
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
}

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The sections, in running order, each with the tutorial section it mirrors. Their names on
/// the command line are the ones the output prints (`service_request`, not `service-request`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Section {
    /// The service_request toy: sequential, asyncio-style, tokio + spawn_blocking, threads
    /// (004 "A toy problem", "Asynchronous programming with asyncio", "... with threads")
    ServiceRequest,
    /// scrypt hashing as tasks, consumed in completion order, in input order, k at a time
    /// (002 "An illustrative example")
    AsCompleted,
    /// A Future's methods and their tokio counterparts: submit, done, running, cancel,
    /// result(timeout), exception (002 "Executor" submit, "Future")
    FutureApi,
    /// Many futures at once: wait, as_completed(timeout), map, shutdown(cancel_futures),
    /// cancelling blocking jobs (002 "Executor" map / shutdown, module functions wait /
    /// as_completed)
    ExecutorApi,
    /// Wiki page existence and 20 image downloads with async reqwest
    /// (000 "Examples" I/O-bound job; 003 "Example: Downloading Files")
    Http,
    /// 10,000 sleeping tasks on one thread against 1,000 sleeping OS threads
    /// (004 "Asynchronous programming with asyncio": why async exists)
    ManyTasks,
    /// The classic mistake: CPU work on the async runtime stalls every other task
    /// (004 "Asynchronous programming with asyncio": no CPU parallelism)
    BlockingTheLoop,
}

impl Section {
    /// Runs this section.
    pub fn run(self, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::ServiceRequest => crate::service_request::run(args),
            Section::AsCompleted => crate::as_completed::run(args),
            Section::FutureApi => crate::future_api::run(args),
            Section::ExecutorApi => crate::executor_api::run(args),
            Section::Http => crate::http::run(args),
            Section::ManyTasks => crate::many_tasks::run(args),
            Section::BlockingTheLoop => crate::blocking_the_loop::run(args),
        }
    }
}
