//! What every example crate shares, so that the examples themselves hold only their lesson.
//!
//! - [`cli`]: the common flags (`--scale`, `--quick`, `--json`, `--workers`, ...), parsed by clap.
//! - [`output`]: where human text goes (stdout, or stderr under `--json`) and the JSON lines.
//! - [`timing`]: the tutorials' `@timed` decorator, and CPU time from the OS.
//! - [`measure`]: a [`measure::Section`] times each variant of a section, prints a row with its
//!   speed-up against the serial baseline, and emits one JSON object per measurement.
//! - [`message`]: values crossing a process boundary, as postcard bytes.
//! - [`spans`]: a cheap recorder of per-task spans (lane, task, start, end) for timelines.
//! - [`timeline`]: Gantt charts of spans, as SVG (plotters) and as terminal text.
//! - [`workloads`]: every workload of the tutorials, defined once, seeded, sized like the tutorials.
//! - [`server`]: the embedded HTTP server the HTTP examples talk to instead of the internet.
//! - [`system`]: core count and resident memory read from the OS.
//! - [`executor`]: the `concurrent.futures` interface (Future, as_completed, wait, thread pool).
//! - [`testkit`]: running the real binaries from integration tests, with a timeout.
//! - [`report`]: the `report` binary's runner and renderer (`scripts/run_all.sh`, REPORT.md).
//!
//! `shared` knows no example: nothing here names a crate or section except as data.

pub mod cli;
pub mod executor;
pub mod measure;
pub mod message;
pub mod output;
pub mod report;
pub mod server;
pub mod spans;
pub mod system;
pub mod testkit;
pub mod timeline;
pub mod timing;
pub mod workloads;

pub use cli::{CommonArgs, HttpArgs, OutArgs};
pub use measure::{Ctx, Section, Variant};
pub use spans::{Span, Spans};
pub use timing::{CpuTime, timed};
