//! # examples-processes: real OS processes, beside Python's `multiprocessing`
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-processes`
//! runs them all in order; `cargo run -p examples-processes -- <section>` runs one; `--help`
//! lists them with the tutorial section each mirrors.
//!
//! Python reaches for processes to get around the GIL. Rust has no GIL, so its threads already
//! run CPU work on every core ([`pool`] shows the same tasks on both backends); processes are
//! still the tool for isolation (a crash takes down one worker, not the program, see
//! [`gotchas`]) and they cost what they cost in any language: start-up, copies of the data
//! ([`memory`]) and messages ([`queue_workers`]).
//!
//! ## Why no `fork()`, and what replaces pickling
//! `multiprocessing` on Linux used to `fork()` the interpreter: the child is a copy of the
//! parent, threads excluded. In a program that has threads (every Rust program with a pool,
//! an HTTP client or a runtime), a forked child inherits locks held by threads that do not
//! exist in it, so the first allocation may deadlock; Python 3.14 moved away from fork for the
//! same reason. Rust's standard library only offers fork-and-exec (`std::process::Command`),
//! so a worker here is this very binary started again with a hidden first argument
//! (`__worker <kind>`, see [`worker`]). It has the same code, so the tasks it can run are
//! known at compile time: a task is a value of the serde enum [`task::Task`], not a pickled
//! function, and messages cross the pipes as postcard bytes ([`wire`]).
//!
//! The machinery: [`children`] (every child is owned; dropping it kills and reaps it; Ctrl-C),
//! [`process_pool`] (`ProcessPoolExecutor`), [`backend`] (one interface over processes and
//! threads).

use std::time::Duration;

use shared::CommonArgs;

pub mod backend;
pub mod children;
pub mod cli;
pub mod process_pool;
pub mod task;
pub mod wire;
pub mod worker;

pub mod downloads;
pub mod gotchas;
pub mod long_running;
pub mod memory;
pub mod pool;
pub mod queue_workers;

/// Under `--quick` one tutorial second lasts this long (times `--scale`), so that every
/// section finishes in about 2 s.
pub const QUICK_SECOND_S: f64 = 0.04;

/// How long one of the tutorial's seconds lasts in this run: `--scale`, and shorter under
/// `--quick`.
pub fn tutorial_second_s(c: &CommonArgs) -> f64 {
    c.scale * c.size(1.0, QUICK_SECOND_S)
}

/// A tutorial duration of `secs` seconds in this run.
pub fn tutorial_secs(c: &CommonArgs, secs: f64) -> Duration {
    Duration::from_secs_f64(secs * tutorial_second_s(c))
}
