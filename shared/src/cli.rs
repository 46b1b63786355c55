//! Flags every example binary understands, parsed by clap.
//!
//! Flatten [`CommonArgs`] into the binary's parser (and [`HttpArgs`] / [`OutArgs`] where a
//! crate has HTTP or file output), then call [`CommonArgs::install`] once so that human text
//! and JSON lines go where `--json` says. Bad values (0 workers, a negative, zero or infinite
//! scale) are clap errors: a message and exit code 2, never a panic.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

/// `--scale`, `--quick`, `--json`, `--workers`, `--seed`, `--verbose`.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct CommonArgs {
    /// Multiply every sleep of the tutorials by this factor (0.1 runs them ten times faster).
    #[arg(long, global = true, default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,

    /// Small sizes for a fast pass (the default reproduces the tutorials' sizes).
    #[arg(long, global = true)]
    pub quick: bool,

    /// One JSON object per measurement, span and check on stdout; human text goes to stderr.
    #[arg(long, global = true)]
    pub json: bool,

    /// Number of workers where a section has a pool (default: the tutorial's number).
    #[arg(long, global = true, value_name = "N", value_parser = parse_workers)]
    pub workers: Option<usize>,

    /// Seed of every random workload (task times, sleeps, matrices, FFT inputs).
    #[arg(long, global = true, default_value_t = 42)]
    pub seed: u64,

    /// Print per-task log lines (e.g. `call 3 iteration 1`), as the tutorials do.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// Print the section names, one per line, and exit (used by scripts/run_all.sh).
    #[arg(long, global = true, hide = true)]
    pub list_sections: bool,
}

impl Default for CommonArgs {
    fn default() -> Self {
        Self {
            scale: 1.0,
            quick: false,
            json: false,
            workers: None,
            seed: 42,
            verbose: false,
            list_sections: false,
        }
    }
}

impl CommonArgs {
    /// Routes human output (`say!`) to stderr under `--json`, so stdout holds only JSON lines.
    /// Call once, at the start of `main`, after parsing.
    pub fn install(&self) {
        crate::output::set_json(self.json);
    }

    /// `--workers`, or the section's default (the tutorial's number).
    pub fn workers_or(&self, default: usize) -> usize {
        self.workers.unwrap_or(default)
    }

    /// A tutorial sleep of `secs` seconds, multiplied by `--scale`.
    pub fn sleep_s(&self, secs: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(secs * self.scale)
    }

    /// `full` normally, `quick` under `--quick`.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// `--base-url` and `--latency-ms`, for crates whose sections make HTTP requests.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct HttpArgs {
    /// Send requests to this site instead of the embedded server (e.g. https://en.wikipedia.org).
    #[arg(long, global = true, value_name = "URL", value_parser = parse_base_url)]
    pub base_url: Option<String>,

    /// Latency the embedded server adds to every response, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 100)]
    pub latency_ms: u64,
}

impl Default for HttpArgs {
    fn default() -> Self {
        Self {
            base_url: None,
            latency_ms: 100,
        }
    }
}

/// `--out`, for sections that write files (charts).
#[derive(Args, Debug, Clone, PartialEq)]
pub struct OutArgs {
    /// Directory for the files a section writes (created if missing).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "target/examples-out"
    )]
    pub out: PathBuf,
}

/// Environment variable that makes a section fail on purpose, to test that failures are
/// reported (e.g. by `scripts/run_all.sh`): `<crate>/<section>`, e.g. `examples-threads/gil`.
pub const FAIL_SECTION_ENV: &str = "EXAMPLES_FAIL_SECTION";

/// Runs the chosen section, or every section in declaration order when none is chosen.
///
/// Sections are a `clap::ValueEnum` (so `--help` lists them with the tutorial section each
/// mirrors). `--list-sections` prints their names, one per line, and runs nothing. An error
/// stops the run with `error in section <name>: ...` on stderr and exit code 1; failed checks
/// (see [`crate::output::check`]) also give exit code 1.
pub fn run_sections<S: clap::ValueEnum>(
    krate: &str,
    chosen: Option<S>,
    common: &CommonArgs,
    mut run: impl FnMut(&S) -> anyhow::Result<()>,
) -> std::process::ExitCode {
    let name = |s: &S| {
        s.to_possible_value()
            .map_or_else(|| "?".to_owned(), |v| v.get_name().to_owned())
    };
    let list: Vec<&S> = match &chosen {
        Some(s) => vec![s],
        None => S::value_variants().iter().collect(),
    };
    if common.list_sections {
        for s in S::value_variants() {
            let _ = writeln!(std::io::stdout().lock(), "{}", name(s));
        }
        return std::process::ExitCode::SUCCESS;
    }
    let fail = std::env::var(FAIL_SECTION_ENV).unwrap_or_default();
    for section in list {
        let result = if fail == format!("{krate}/{}", name(section)) {
            Err(anyhow::anyhow!(
                "failing on purpose because {FAIL_SECTION_ENV}={fail}"
            ))
        } else {
            run(section)
        };
        if let Err(e) = result {
            eprintln!("error in section {}: {e:#}", name(section));
            return std::process::ExitCode::FAILURE;
        }
    }
    crate::output::exit_code()
}

impl Default for OutArgs {
    fn default() -> Self {
        Self {
            out: PathBuf::from("target/examples-out"),
        }
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| {
        format!("`{s}` is not a number (try 1.0, or 0.1 for ten times shorter sleeps)")
    })?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!(
            "the scale must be a finite number above 0, got {s}"
        ))
    }
}

fn parse_workers(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of workers"))?;
    match v {
        0 => Err("a pool needs at least 1 worker".to_owned()),
        1..=1024 => Ok(v),
        _ => Err(format!(
            "{v} workers is more than this example supports (at most 1024)"
        )),
    }
}

fn parse_base_url(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    if (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        && trimmed.len() > "https://".len()
    {
        Ok(trimmed.to_owned())
    } else {
        Err(format!("`{s}` is not an http:// or https:// URL"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        http: HttpArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_reproduce_the_tutorials() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.common, CommonArgs::default());
        assert_eq!(cli.http.latency_ms, 100);
        assert_eq!(cli.http.base_url, None);
    }

    #[test]
    fn bad_values_are_usage_errors_not_panics() {
        for bad in [
            &["--workers", "0"][..],
            &["--workers", "-1"],
            &["--workers", "many"],
            &["--scale", "0"],
            &["--scale", "-1"],
            &["--scale", "inf"],
            &["--scale", "NaN"],
            &["--base-url", "ftp://x"],
        ] {
            let err = parse(bad).expect_err(&format!("{bad:?} should be rejected"));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn good_values_parse() {
        let cli = parse(&["--scale", "0.01", "--workers", "3", "--quick", "--json"]).unwrap();
        assert_eq!(cli.common.scale, 0.01);
        assert_eq!(cli.common.workers_or(2), 3);
        assert!(cli.common.quick && cli.common.json);
        let cli = parse(&["--base-url", "https://en.wikipedia.org/"]).unwrap();
        assert_eq!(
            cli.http.base_url.as_deref(),
            Some("https://en.wikipedia.org")
        );
    }
}
