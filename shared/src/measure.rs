//! Measuring the variants of a section against its serial baseline.
//!
//! ```
//! use shared::{CommonArgs, Bench, Variant};
//!
//! let args = CommonArgs::default();
//! let mut s = Bench::new("examples-demo", "sleeps", &args);
//! s.workload("four 10 ms sleeps");
//! s.measure(Variant::serial(4), |_| {
//!     for _ in 0..4 { std::thread::sleep(std::time::Duration::from_millis(10)) }
//! });
//! s.measure(Variant::new("4 threads", 4, 4).ideal_s(0.010), |_| {
//!     std::thread::scope(|sc| {
//!         for _ in 0..4 { sc.spawn(|| std::thread::sleep(std::time::Duration::from_millis(10))); }
//!     })
//! });
//! // One row per variant, each compared with the baseline. How fast the threads were is
//! // what the row prints, not something to assert: the machine may be busy.
//! assert_eq!(s.measurements().len(), 2);
//! assert!(s.measurements()[1].speedup.is_some());
//! ```
//!
//! Each [`Bench::measure`] prints one row (variant, workers, wall, `-> 1.93x` against the
//! baseline, the ideal speed-up, CPU utilisation in cores) and, under `--json`, emits one
//! `{"kind":"measurement",...}` line and one `{"kind":"span",...}` line per recorded span.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::CommonArgs;
use crate::output::{self, emit};
use crate::say;
use crate::spans::{Span, Spans};
use crate::timing::Stopwatch;

/// What is about to be measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    name: String,
    workers: usize,
    tasks: usize,
    ideal_s: Option<f64>,
    baseline: bool,
}

impl Variant {
    /// The serial baseline: one worker; later variants' speed-ups are relative to it.
    pub fn serial(tasks: usize) -> Self {
        Self::baseline("serial", 1, tasks)
    }

    /// A baseline with another name (e.g. `"inline"`): speed-ups of later variants are
    /// relative to it.
    pub fn baseline(name: impl Into<String>, workers: usize, tasks: usize) -> Self {
        Self {
            baseline: true,
            ..Self::new(name, workers, tasks)
        }
    }

    /// A variant compared with the latest baseline.
    pub fn new(name: impl Into<String>, workers: usize, tasks: usize) -> Self {
        Self {
            name: name.into(),
            workers,
            tasks,
            ideal_s: None,
            baseline: false,
        }
    }

    /// The best wall time this variant could reach (see [`ideal`] for the usual formulas).
    pub fn ideal_s(mut self, secs: f64) -> Self {
        self.ideal_s = Some(secs);
        self
    }
}

/// Handed to the measured closure: the span recorder, and extra keys for the JSON line.
#[derive(Debug)]
pub struct Ctx {
    spans: Spans,
    extra: Map<String, Value>,
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}

impl Ctx {
    /// An empty context, for [`Bench::record`] of runs timed elsewhere.
    pub fn new() -> Self {
        Self {
            spans: Spans::new(),
            extra: Map::new(),
        }
    }

    /// Records per-task spans for this variant's timeline.
    pub fn spans(&self) -> &Spans {
        &self.spans
    }

    /// Adds a section-specific key to this measurement (e.g. `"tasks_per_s"`, `"rss_mib"`).
    pub fn set(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.extra.insert(key.to_owned(), value);
    }
}

/// One measured run: the keys the report and other tools rely on.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Always `"measurement"`.
    pub kind: &'static str,
    /// `"rust"` here; the Python programs write `"python"`.
    pub language: &'static str,
    /// The example crate, e.g. `"examples-threads"`.
    #[serde(rename = "crate")]
    pub krate: String,
    /// The section, e.g. `"gil"`.
    pub section: String,
    /// Which workload of the section (a section may compare several, each with its baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// The variant, e.g. `"serial"`, `"4 threads"`.
    pub variant: String,
    /// Workers (threads, processes, tasks in flight) the variant used.
    pub workers: usize,
    /// Tasks it ran.
    pub tasks: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// CPU seconds of this process and its reaped children during the run, from the OS.
    pub cpu_s: f64,
    /// Best possible wall seconds for this variant, where it can be stated.
    pub ideal_s: Option<f64>,
    /// Baseline wall / this wall.
    pub speedup: Option<f64>,
    /// Baseline wall / ideal wall: the speed-up a perfect run would show.
    pub ideal_speedup: Option<f64>,
    /// Whether this run is the baseline of its workload.
    pub baseline: bool,
    /// Logical cores of the machine.
    pub cores: usize,
    /// `--scale` in force.
    pub scale: f64,
    /// `--quick` in force.
    pub quick: bool,
    /// Section-specific keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The spans recorded during the run (emitted as separate lines).
    #[serde(skip)]
    pub spans: Vec<Span>,
}

impl Measurement {
    /// CPU seconds per wall second: how many cores were busy on average.
    pub fn cpu_util(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.cpu_s / self.wall_s
        } else {
            0.0
        }
    }

    /// A section-specific key set with [`Ctx::set`].
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.extra.get(key)
    }
}

#[derive(Serialize)]
struct SpanLine<'a> {
    kind: &'static str,
    language: &'static str,
    #[serde(rename = "crate")]
    krate: &'a str,
    section: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    workload: Option<&'a str>,
    variant: &'a str,
    #[serde(flatten)]
    span: &'a Span,
}

/// The measurement table of one section of one example crate: its title, workloads, one row
/// per variant (with the speed-up against the serial baseline), and its checks.
#[derive(Debug)]
pub struct Bench {
    krate: String,
    section: String,
    workload: Option<String>,
    baseline_s: Option<f64>,
    header_due: bool,
    scale: f64,
    quick: bool,
    measurements: Vec<Measurement>,
}

impl Bench {
    /// Starts a section. Nothing is printed until [`Bench::title`] or the first row.
    pub fn new(krate: &str, section: &str, args: &CommonArgs) -> Self {
        Self {
            krate: krate.to_owned(),
            section: section.to_owned(),
            workload: None,
            baseline_s: None,
            header_due: true,
            scale: args.scale,
            quick: args.quick,
            measurements: Vec::new(),
        }
    }

    /// Prints the section's banner: what it mirrors, and the scale in force.
    pub fn title(&self, mirrors: &str) {
        let mut flags = Vec::new();
        if self.scale != 1.0 {
            flags.push(format!("sleeps x{}", self.scale));
        }
        if self.quick {
            flags.push("quick sizes".to_owned());
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        say!();
        say!("=== {} {}: {mirrors}{flags}", self.krate, self.section);
    }

    /// Starts a new workload within the section: the next baseline variant is its reference.
    pub fn workload(&mut self, name: &str) {
        self.workload = Some(name.to_owned());
        self.baseline_s = None;
        self.header_due = true;
        say!();
        say!("--- {name}");
    }

    /// Runs `f` once, timing wall and CPU, prints the row and emits the JSON lines.
    pub fn measure<T>(&mut self, variant: Variant, f: impl FnOnce(&mut Ctx) -> T) -> T {
        let mut ctx = Ctx::new();
        let sw = Stopwatch::start();
        let value = f(&mut ctx);
        let (wall_s, cpu_s) = (sw.wall_s(), sw.cpu_s());
        // A run cut short by Ctrl-C measured nothing: no row, no JSON line.
        if !crate::interrupt::requested() {
            self.record(variant, wall_s, cpu_s, ctx);
        }
        value
    }

    /// Records a run timed elsewhere (e.g. by worker processes that report their own times).
    pub fn record(&mut self, variant: Variant, wall_s: f64, cpu_s: f64, ctx: Ctx) -> &Measurement {
        if variant.baseline {
            self.baseline_s = Some(wall_s);
        }
        let ideal_s = variant
            .ideal_s
            .or(if variant.baseline { Some(wall_s) } else { None });
        let speedup = self.baseline_s.map(|b| b / wall_s);
        let ideal_speedup = match (self.baseline_s, ideal_s) {
            (Some(b), Some(i)) if i > 0.0 => Some(b / i),
            _ => None,
        };
        let m = Measurement {
            kind: "measurement",
            language: "rust",
            krate: self.krate.clone(),
            section: self.section.clone(),
            workload: self.workload.clone(),
            variant: variant.name,
            workers: variant.workers,
            tasks: variant.tasks,
            wall_s,
            cpu_s,
            ideal_s,
            speedup,
            ideal_speedup,
            baseline: variant.baseline,
            cores: crate::system::cores(),
            scale: self.scale,
            quick: self.quick,
            extra: ctx.extra,
            spans: ctx.spans.take(),
        };
        self.print_row(&m);
        emit(&m);
        for span in &m.spans {
            emit(&SpanLine {
                kind: "span",
                language: "rust",
                krate: &m.krate,
                section: &m.section,
                workload: m.workload.as_deref(),
                variant: &m.variant,
                span,
            });
        }
        self.measurements.push(m);
        self.measurements.last().expect("just pushed")
    }

    /// One of the section's own checks (results equal, every task done once). A failure is
    /// printed, emitted, and makes the binary exit non-zero.
    pub fn check(&self, name: &str, ok: bool, detail: impl AsRef<str>) -> bool {
        output::check(&self.krate, &self.section, name, ok, detail.as_ref())
    }

    /// Every measurement so far.
    pub fn measurements(&self) -> &[Measurement] {
        &self.measurements
    }

    /// The most recent measurement.
    pub fn last(&self) -> Option<&Measurement> {
        self.measurements.last()
    }

    /// Wall seconds of the current workload's baseline, once measured.
    pub fn baseline_s(&self) -> Option<f64> {
        self.baseline_s
    }

    fn print_row(&mut self, m: &Measurement) {
        if std::mem::take(&mut self.header_due) {
            say!(
                "  {:<36} {:>7} {:>6} {:>10}  {:>9} {:>7} {:>6}  {:>10}",
                "variant",
                "workers",
                "tasks",
                "wall",
                "speed-up",
                "ideal",
                "eff.",
                "cpu"
            );
        }
        let speedup = match (m.baseline, m.speedup) {
            (true, _) => "1.00x".to_owned(),
            (false, Some(s)) => format!("-> {s:.2}x"),
            (false, None) => "-".to_owned(),
        };
        let ideal = m
            .ideal_speedup
            .map_or("-".to_owned(), |i| format!("{i:.2}x"));
        let eff = match (m.speedup, m.ideal_speedup) {
            (Some(s), Some(i)) if i > 0.0 => format!("{:.0}%", 100.0 * s / i),
            _ => "-".to_owned(),
        };
        let extra = if m.extra.is_empty() {
            String::new()
        } else {
            let kv: Vec<String> = m
                .extra
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect();
            format!("  {}", kv.join(" "))
        };
        say!(
            "  {:<36} {:>7} {:>6} {:>10}  {:>9} {:>7} {:>6}  {:>4.2} cores{extra}",
            m.variant,
            m.workers,
            m.tasks,
            format_secs(m.wall_s),
            speedup,
            ideal,
            eff,
            m.cpu_util(),
        );
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `1.234 s`, `12.3 ms` or `45.6 µs`.
pub fn format_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// The usual ideal wall times.
pub mod ideal {
    /// CPU-bound work: the serial time spread over `min(workers, tasks, cores)`.
    pub fn cpu_bound(serial_s: f64, workers: usize, tasks: usize) -> f64 {
        let lanes = workers.min(tasks).min(crate::system::cores()).max(1);
        serial_s / lanes as f64
    }

    /// Waiting (sleep, I/O) that overlaps freely: equal tasks in `ceil(tasks / workers)` waves.
    pub fn waves(task_s: f64, tasks: usize, workers: usize) -> f64 {
        tasks.div_ceil(workers.max(1)) as f64 * task_s
    }

    /// Tasks that all run at once: the longest one.
    pub fn longest(durations_s: &[f64]) -> f64 {
        durations_s.iter().copied().fold(0.0, f64::max)
    }

    /// Makespan of a pull-based pool: tasks in order, each to the worker that is free first.
    pub fn greedy_makespan(durations_s: &[f64], workers: usize) -> f64 {
        let mut free_at = vec![0.0_f64; workers.max(1)];
        for &d in durations_s {
            let (i, _) = free_at
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .expect("at least one worker");
            free_at[i] += d;
        }
        free_at.into_iter().fold(0.0, f64::max)
    }
}
