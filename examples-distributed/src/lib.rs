//! # examples-distributed: the executor lesson on a real distributed engine (MPI)
//!
//! One module per tutorial section, each read top to bottom.
//! `cargo run -p examples-distributed` runs them all in order;
//! `cargo run -p examples-distributed -- <section>` runs one; `--help` lists them with the
//! tutorial section each mirrors.
//!
//! Seed 002 ends with "Beyond built-in executors": the `Executor`/`Future` interface is small
//! enough that other engines implement it, so the same code can use many machines
//! (ipyparallel, `mpi4py.futures`, `dask.distributed`). In Rust the established engine for
//! that is MPI, through the `mpi` crate (rsmpi) on MPICH. One binary is started N times by
//! `mpiexec`; copy 0 (rank 0) runs the sections, the others are workers.
//!
//! - [`executor`]: `mpi4py.futures`' pool: submit, map, as_completed, on ranks ([`pool`]).
//! - [`scatter_gather`]: the other MPI style, one collective split of the work, against the
//!   pool, and when each wins.
//! - [`cluster`]: the same binary on several hosts: hostfile, what each host needs, and a real
//!   job on 127.0.0.1.
//!
//! The machinery: [`launch`] (a plain start re-launches itself under `mpiexec`), [`world`]
//! (the job as rank 0 sees it; a panic anywhere aborts the whole job), [`worker`] (every other
//! rank's loop, which hands a collective round to the lesson's code), [`wire`] (postcard
//! messages, tags, timings, waiting without spinning), [`task`] (what may travel), [`pool`]
//! (mpi4py.futures' `MPIPoolExecutor`: pull-based dispatch on ranks). The machinery uses no
//! lesson and no lesson uses another (`tests/layering.rs`); `main.rs` wires them together.

pub mod cli;
pub mod launch;
pub mod pool;
pub mod task;
pub mod wire;
pub mod worker;
pub mod world;

pub mod cluster;
pub mod executor;
pub mod scatter_gather;

pub use shared::output::count;
