//! Flags every example binary understands, parsed by clap.
//!
//! Flatten [`CommonArgs`] into the binary's parser (and [`HttpArgs`] / [`OutArgs`] where a
//! crate has HTTP or file output), then call [`CommonArgs::install`] once so that human text
//! and JSON lines go where `--json` says. Bad values (0 workers, a negative, zero or infinite
//! scale) are clap errors: a message and exit code 2, never a panic.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::server::Site;

/// Under `--quick`, one tutorial second lasts this many seconds (times `--scale`).
pub const QUICK_SECOND: f64 = 0.05;

/// The command line of every example binary: the section to run (default: all, in order)
/// and the crate's flags `A` (which flatten [`CommonArgs`] and whatever else the crate needs).
///
/// Each crate names itself and says what it is with [`Cli::parse_for`]; its sections are a
/// `clap::ValueEnum` whose doc comments `--help` shows, with the tutorial section each mirrors.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Cli<S, A>
where
    S: ValueEnum + Clone + Send + Sync + 'static,
    A: Args,
{
    /// The section to run (default: all, in this order).
    #[arg(value_enum)]
    pub section: Option<S>,

    #[command(flatten)]
    pub args: A,
}

impl<S, A> Cli<S, A>
where
    S: ValueEnum + Clone + Send + Sync + 'static,
    A: Args,
{
    /// The clap command, named `name`, with `about` as its description (its first paragraph
    /// for `-h`, all of it for `--help`).
    pub fn command_for(name: &'static str, about: &'static str) -> clap::Command {
        let short = about.split("\n\n").next().unwrap_or(about);
        Self::command()
            .name(name)
            .bin_name(name)
            .about(short)
            .long_about(about)
            .after_help(
                "Add `--release` to `cargo run` for meaningful timings. \
                 `--json` sends one JSON object per measurement to stdout.",
            )
    }

    /// Parses `args` (the first is the program name); errors and `--help` as clap values.
    pub fn try_parse_for<I, T>(
        name: &'static str,
        about: &'static str,
        args: I,
    ) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut cmd = Self::command_for(name, about);
        let matches = cmd.try_get_matches_from_mut(args)?;
        Self::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
    }

    /// Parses the process's arguments; on a bad flag prints clap's message and exits 2.
    pub fn parse_for(name: &'static str, about: &'static str) -> Self {
        Self::try_parse_for(name, about, std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

/// The whole `main` of an example crate: parse, route output, install the Ctrl-C handler,
/// run the chosen section or all of them with `run` (see [`run_sections`]).
pub fn main<S, A>(
    name: &'static str,
    about: &'static str,
    run: impl FnMut(&S, &A) -> anyhow::Result<()>,
) -> std::process::ExitCode
where
    S: ValueEnum + Clone + Send + Sync + 'static,
    A: Args + AsRef<CommonArgs>,
{
    let mut run = run;
    let cli = Cli::<S, A>::parse_for(name, about);
    let common = cli.args.as_ref();
    common.install();
    run_sections(name, cli.section.clone(), common, |s| run(s, &cli.args))
}

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
    /// Routes human output (`say!`) to stderr under `--json`, so stdout holds only JSON lines,
    /// and installs the Ctrl-C / SIGTERM handler ([`crate::interrupt`]). Call once, at the
    /// start of `main`, after parsing.
    pub fn install(&self) {
        crate::output::set_json(self.json);
        crate::interrupt::install();
    }

    /// `--workers`, or the section's default (the tutorial's number).
    pub fn workers_or(&self, default: usize) -> usize {
        self.workers.unwrap_or(default)
    }

    /// How long one of the tutorials' seconds lasts in this run: `--scale`, times
    /// [`QUICK_SECOND`] under `--quick`, so that a quick pass takes seconds, not minutes.
    pub fn tutorial_second(&self) -> f64 {
        self.scale * self.size(1.0, QUICK_SECOND)
    }

    /// A sleep of `secs` of the tutorials' seconds, as it lasts in this run.
    pub fn tutorial_sleep(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(secs * self.tutorial_second())
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

impl HttpArgs {
    /// The embedded server's latency per response (`--latency-ms`).
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }

    /// Where to send requests: the `--base-url` site, or else the embedded server, started
    /// now with `--latency-ms` (it stops when the [`Site`] is dropped).
    pub fn site(&self) -> anyhow::Result<Site> {
        match &self.base_url {
            Some(url) => Ok(Site::remote(url)),
            None => Site::embedded(self.latency()),
        }
    }

    /// An error for a section that has to use the embedded server (it needs a route or a
    /// latency no real site offers), when `--base-url` was given.
    pub fn refuse_base_url(&self, why: &str) -> anyhow::Result<()> {
        match &self.base_url {
            Some(url) => anyhow::bail!(
                "this section cannot use --base-url {url}: {why}; run it without --base-url"
            ),
            None => Ok(()),
        }
    }
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
        crate::interrupt::set_section(&name(section));
        let result = if fail == format!("{krate}/{}", name(section)) {
            Err(anyhow::anyhow!(
                "failing on purpose because {FAIL_SECTION_ENV}={fail}"
            ))
        } else {
            crate::interrupt::check().and_then(|()| run(section))
        };
        if let Some(code) = crate::interrupt::exit_code() {
            eprintln!("interrupted: section {} did not finish", name(section));
            return std::process::ExitCode::from(code);
        }
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
