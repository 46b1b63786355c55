//! What every example crate shares, so that the examples themselves hold only their lesson.
//!
//! - [`cli`]: the common flags (`--scale`, `--quick`, `--json`, `--workers`, ...), parsed by
//!   clap, and the `main` every example binary shares.
//! - [`interrupt`]: Ctrl-C and SIGTERM: stop at once, name the section, leave no child.
//! - [`child`]: child processes that are killed and reaped when dropped, or when we die.
//! - [`output`]: where human text goes (stdout, or stderr under `--json`) and the JSON lines.
//! - [`timing`]: the tutorials' `@timed` decorator, and CPU time from the OS.
//! - [`measure`]: a [`measure::Bench`] times each variant of a section, prints a row with its
//!   speed-up against the serial baseline, and emits one JSON object per measurement.
//! - [`message`]: values crossing a process boundary, as postcard bytes.
//! - [`spans`]: a cheap recorder of per-task spans (lane, task, start, end) for timelines.
//! - [`timeline`]: Gantt charts of spans, as SVG (plotters) and as terminal text.
//! - [`workloads`]: every workload of the tutorials, defined once, seeded, sized like the tutorials.
//! - [`server`]: the embedded HTTP server the HTTP examples talk to instead of the internet,
//!   the `--base-url` alternative ([`server::Site`]) and the one HTTP client setup.
//! - [`system`]: core count and resident memory read from the OS.
//! - `linalg` (feature `linalg`): singular values on OpenBLAS's LAPACK, OpenBLAS's threads.
//! - [`executor`]: the `concurrent.futures` interface (Future, as_completed, wait, thread pool).
//! - [`testkit`]: running the real binaries from integration tests, with a timeout.
//!
//! `shared` knows no example: nothing here names a crate or section except as data.

pub mod child;
pub mod cli;
pub mod executor;
pub mod interrupt;
#[cfg(feature = "linalg")]
pub mod linalg;
pub mod measure;
pub mod message;
pub mod output;
pub mod server;
pub mod spans;
pub mod system;
pub mod testkit;
pub mod timeline;
pub mod timing;
pub mod workloads;

pub use cli::{CommonArgs, HttpArgs, OutArgs};
pub use measure::{Bench, Ctx, Variant};
pub use spans::{Span, Spans};
pub use timing::{CpuTime, timed};
