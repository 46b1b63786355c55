//! The project's report: runs every section of every example binary, then renders
//! `REPORT.md` with tables, charts and the tutorials' claims checked against the measurements.
//!
//! The `report` binary (`src/main.rs`) is a thin clap front end to this library, and
//! `scripts/run_all.sh` is its main user:
//!
//! - `report run [--quick] [--with-python] [--scale S] [--results DIR] -- <binary>...` runs
//!   every section (see [`run`]) into `results/<UTC time>/results.jsonl`, renders, and
//!   points `results/latest` at the run;
//! - `report render <dir>` re-renders `REPORT.md` and the SVGs from a `results.jsonl`
//!   without running anything (see [`render()`]).
//!
//! The pieces: [`data`] reads the JSON lines, [`machine`] describes the machine,
//! [`tutorials`] holds the tutorials' published figures and claims (`data/tutorials.json`),
//! [`charts`] draws speed-up charts and timelines, [`render`](mod@render) writes the
//! Markdown. What the examples record (measurements, spans, the timeline drawing, the
//! embedded server, the workloads' seeded inputs) comes from `shared`; no example uses this
//! crate.
//!
//! Nothing here names an example crate: the binaries come from `scripts/run_all.sh`, and the
//! data file names crates only as data.

pub mod charts;
pub mod data;
pub mod machine;
pub mod render;
pub mod run;
pub mod tutorials;

pub use data::Results;
pub use render::{Rendered, render};
pub use tutorials::Tutorials;
