//! `report`: runs every section of the example binaries and writes REPORT.md, or re-renders
//! the report of an earlier run. `scripts/run_all.sh` is its main user; see the library
//! ([`report`]) for what it writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use report::run::{self, PythonOptions, RunOptions};
use report::{Results, Tutorials};
use shared::say;

/// Runs every section of the example binaries and writes a report of what they measured.
#[derive(Parser, Debug)]
#[command(name = "report", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run every section of every binary given after `--`, then render the report.
    Run {
        /// Small sizes for a fast pass (passed to every section).
        #[arg(long)]
        quick: bool,

        /// Multiply the tutorials' sleeps by this factor (passed to every section).
        #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
        scale: f64,

        /// Directory that holds one directory per run and the `latest` link.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,

        /// Also run the Python programs: `<python-dir>/<binary name, _ for ->.py`.
        #[arg(long)]
        with_python: bool,

        /// The Python interpreter for `--with-python`.
        #[arg(long, value_name = "PATH", default_value = "python/.venv/bin/python")]
        python: PathBuf,

        /// Where the Python programs are.
        #[arg(long, value_name = "DIR", default_value = "python")]
        python_dir: PathBuf,

        /// Kill a section that runs longer than this and count it as failed.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        timeout_s: u64,

        /// Read the tutorials' figures and claims from this file instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        tutorials: Option<PathBuf>,

        /// Run only this section (repeatable), e.g. `--only examples-threads/gil`.
        #[arg(long, value_name = "CRATE/SECTION", value_parser = parse_only)]
        only: Vec<String>,

        /// The example binaries, in running order.
        #[arg(last = true, required = true, value_name = "BINARY")]
        binaries: Vec<PathBuf>,
    },
    /// Re-render REPORT.md and the charts of an earlier run from its results.jsonl.
    Render {
        /// The run's directory (e.g. results/latest).
        dir: PathBuf,

        /// Read the tutorials' figures and claims from this file instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        tutorials: Option<PathBuf>,
    },
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "the scale must be a finite number above 0, got {s}"
        )),
    }
}

fn parse_only(s: &str) -> Result<String, String> {
    match s.split_once('/') {
        Some((k, sec)) if !k.is_empty() && !sec.is_empty() => Ok(s.to_owned()),
        _ => Err(format!(
            "`{s}` is not CRATE/SECTION (e.g. examples-threads/gil)"
        )),
    }
}

fn tutorials(path: Option<&PathBuf>) -> anyhow::Result<Tutorials> {
    match path {
        Some(p) => Tutorials::load(p),
        None => Tutorials::builtin(),
    }
}

fn main() -> ExitCode {
    match real_main(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Render { dir, tutorials: t } => {
            let results = Results::load(&dir.join("results.jsonl"))?;
            let rendered = report::render(&dir, &results, &tutorials(t.as_ref())?)?;
            say!(
                "wrote {} and {} charts",
                rendered.report.display(),
                rendered.charts.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            quick,
            scale,
            results,
            with_python,
            python,
            python_dir,
            timeout_s,
            tutorials: t,
            only,
            binaries,
        } => {
            run::install_interrupt_handler()?;
            let opts = RunOptions {
                binaries,
                quick,
                scale,
                results_root: results,
                python: with_python.then_some(PythonOptions {
                    interpreter: python,
                    dir: python_dir,
                }),
                timeout: Duration::from_secs(timeout_s),
                tutorials: tutorials(t.as_ref())?,
                only,
            };
            let outcome = run::run(&opts)?;
            if outcome.interrupted {
                eprintln!("error: interrupted; the report covers the sections run so far");
                return Ok(ExitCode::from(130));
            }
            let failed = outcome.failed();
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: {} section(s) failed: {}",
                    failed.len(),
                    failed.join(", ")
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
