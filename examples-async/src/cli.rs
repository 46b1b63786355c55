//! The command line: sections, and the flags every section understands.

use clap::{Parser, ValueEnum};
use shared::{CommonArgs, HttpArgs};

/// Async Rust (tokio) measured beside five Python tutorials on concurrency and parallelism.
///
/// Runs every section in order, or the one named. Add `--release` to `cargo run` for
/// meaningful timings.
#[derive(Parser, Debug, Clone)]
#[command(name = "examples-async", version)]
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
    /// Every concurrent.futures method and its tokio counterpart
    /// (002 "Executor", "Future", module functions wait / as_completed)
    FutureApi,
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
            Section::Http => crate::http::run(args),
            Section::ManyTasks => crate::many_tasks::run(args),
            Section::BlockingTheLoop => crate::blocking_the_loop::run(args),
        }
    }
}
