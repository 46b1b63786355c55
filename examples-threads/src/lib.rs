//! # examples-threads: what threads do in Rust, beside the Python tutorials
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-threads`
//! runs them all in order; `cargo run -p examples-threads -- <section>` runs one; `--help`
//! lists them with the tutorial section each mirrors.
//!
//! The thread of the whole crate: Python threads are real OS threads held back by the GIL
//! whenever they run Python code. Rust threads are the same OS threads with no global lock,
//! so they run CPU work in parallel, and the compiler, not a lock, keeps shared data safe.
//! [`gil`] rebuilds the GIL in Rust to measure exactly what it costs.

pub mod cli;
pub mod csv_threads;
pub mod downloads;
pub mod executors;
pub mod gil;
pub mod races;
pub mod timeline;
pub mod wiki;
