//! # examples-async: what async tasks do in Rust, beside the Python tutorials
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-async`
//! runs them all in order; `cargo run -p examples-async -- <section>` runs one; `--help` lists
//! them with the tutorial section each mirrors.
//!
//! The thread of the whole crate: an async task is a state machine that gives its thread back
//! at every `.await`, so one thread can keep thousands of waits in flight (concurrency), but
//! CPU work inside a task holds that thread until it ends. Python's asyncio stops there, on
//! one thread. tokio adds the two things that make async *parallel* as well: a multi-thread
//! runtime, and `spawn_blocking` to move CPU work off the threads that drive the tasks.

pub mod as_completed;
pub mod blocking_the_loop;
pub mod cli;
pub mod executor_api;
pub mod future_api;
pub mod http;
pub mod many_tasks;
pub mod service_request;
