//! # examples-processes: real OS processes, beside Python's `multiprocessing`
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-processes`
//! runs them all in order; `cargo run -p examples-processes -- <section>` runs one; `--help`
//! lists them with the tutorial section each mirrors.
//!
//! Python reaches for processes to get around the GIL. Rust has no GIL, so its threads already
//! run CPU work on every core ([`pool`] shows the same tasks on both pools); processes are
//! still the tool for isolation (a crash takes down one worker, not the program, see
//! [`gotchas`]) and they cost what they cost in any language: start-up, copies of the data
//! ([`memory`]) and messages ([`queue_throughput`]).
//!
//! ## Why no `fork()`, and what replaces pickling
//! `multiprocessing` on Linux used to `fork()` the interpreter: the child is a copy of the
//! parent, threads excluded. In a program that has threads (every Rust program with a pool,
//! an HTTP client or a runtime), a forked child inherits locks held by threads that do not
//! exist in it, so the first allocation may deadlock; Python 3.14 moved away from fork for the
//! same reason. Rust's standard library only offers fork-and-exec (`std::process::Command`),
//! so a worker here is this very binary started again with a hidden first argument and its
//! orders (`__worker <orders>`, see [`worker`]). It has the same code, so the tasks it can run
//! are known at compile time: a task is a value of the serde enum [`task::Task`], not a
//! pickled function, and messages cross the pipes as postcard bytes.
//!
//! The files the lessons lean on: [`process_pool`] (what `ProcessPoolExecutor` does: a lesson
//! of its own; the `Executor` interface both pools share is in [`pool`]), [`queue`] (the
//! queue and the event of [`queue_workers`]), [`task`] (what a task is) and [`worker`]
//! (starting a worker, frames on its pipes). Child processes are `shared::child::Child`s: killed and reaped when
//! dropped, killed by the kernel if this program dies, killed on Ctrl-C.

pub mod cli;
pub mod process_pool;
pub mod queue;
pub mod task;
pub mod worker;

pub mod downloads;
pub mod gotchas;
pub mod long_running;
pub mod memory;
pub mod pool;
pub mod queue_throughput;
pub mod queue_workers;
