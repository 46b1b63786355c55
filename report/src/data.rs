//! Reading `results.jsonl`: every line the examples printed under `--json`, plus the lines
//! the runner adds (one `machine` line, one `section` line per section run).
//!
//! Unknown kinds and malformed lines are kept as warnings, never a panic: a report of a
//! half-finished run is still worth reading.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::machine::Machine;

/// Which section of which crate, in which language, a line belongs to: the keys every kind of
/// line carries (flattened into each of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// `"rust"` or `"python"`; `"rust"` when a line has none (the examples' check lines).
    #[serde(default = "rust")]
    pub language: String,
    /// The example crate, e.g. `"examples-threads"`.
    #[serde(rename = "crate")]
    pub krate: String,
    /// The section, e.g. `"gil"` (see [`same_name`]).
    pub section: String,
}

fn rust() -> String {
    "rust".to_owned()
}

impl Key {
    /// The key of a line of `language`, `krate` and `section`.
    pub fn new(language: &str, krate: &str, section: &str) -> Self {
        Self {
            language: language.to_owned(),
            krate: krate.to_owned(),
            section: section.to_owned(),
        }
    }

    /// Whether the line belongs to this crate's section, whatever its language.
    pub fn is(&self, krate: &str, section: &str) -> bool {
        self.krate == krate && same_name(&self.section, section)
    }

    /// Whether both name the same section in the same language.
    pub fn same(&self, other: &Key) -> bool {
        self.language == other.language && self.is(&other.krate, &other.section)
    }
}

/// One `{"kind":"measurement",...}` line (see [`shared::measure::Measurement`]). Only the
/// crate, section, variant and wall time are required: the Python programs write fewer keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Language, crate and section.
    #[serde(flatten)]
    pub key: Key,
    /// Which workload of the section, if it has several.
    pub workload: Option<String>,
    /// The variant, e.g. `"2 threads"`.
    pub variant: String,
    /// Workers the variant used.
    #[serde(default)]
    pub workers: usize,
    /// Tasks it ran.
    #[serde(default)]
    pub tasks: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// CPU seconds (process and reaped children).
    #[serde(default)]
    pub cpu_s: f64,
    /// Best possible wall seconds, where stated.
    pub ideal_s: Option<f64>,
    /// Baseline wall / this wall.
    pub speedup: Option<f64>,
    /// Baseline wall / ideal wall.
    pub ideal_speedup: Option<f64>,
    /// Whether this run is its workload's baseline.
    #[serde(default)]
    pub baseline: bool,
    /// Logical cores of the machine.
    pub cores: Option<usize>,
    /// `--scale` in force.
    pub scale: Option<f64>,
    /// `--quick` in force.
    pub quick: Option<bool>,
    /// Section-specific keys (e.g. `tasks_per_s`, `rss_mib`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Row {
    /// Speed-up divided by the ideal speed-up: 1.0 is a perfect run.
    pub fn efficiency(&self) -> Option<f64> {
        match (self.speedup, self.ideal_speedup) {
            (Some(s), Some(i)) if i > 0.0 => Some(s / i),
            _ => None,
        }
    }

    /// CPU seconds per wall second: how many cores were busy on average.
    pub fn cpu_util(&self) -> Option<f64> {
        (self.wall_s > 0.0).then(|| self.cpu_s / self.wall_s)
    }

    /// The workload, or `""` when the section has only one.
    pub fn workload_name(&self) -> &str {
        self.workload.as_deref().unwrap_or("")
    }
}

/// One `{"kind":"span",...}` line: a task on a lane of a variant's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    /// Language, crate and section.
    #[serde(flatten)]
    pub key: Key,
    /// The workload whose run it belongs to, if the section has several.
    pub workload: Option<String>,
    /// The variant whose run it belongs to.
    pub variant: String,
    /// Thread, worker process or task that ran it.
    pub lane: String,
    /// Task id.
    pub task: u64,
    /// Seconds since the variant's start.
    pub start_s: f64,
    /// Seconds since the variant's start.
    pub end_s: f64,
}

/// One `{"kind":"check",...}` line: a section's own check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    /// Language (the runner adds it when the example did not), crate and section.
    #[serde(flatten)]
    pub key: Key,
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// Details (counts, digests).
    #[serde(default)]
    pub detail: String,
}

/// One `{"kind":"section",...}` line, written by the runner after each section it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionRun {
    /// Language, crate (the binary's name) and section.
    #[serde(flatten)]
    pub key: Key,
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its exit code (`None` if killed by a signal).
    pub exit_code: Option<i32>,
    /// Wall seconds the section took, start to exit.
    pub elapsed_s: f64,
    /// Why it failed (exit status, timeout) and the last lines it printed on stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its stderr (human output), relative to the results directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Everything in one `results.jsonl`.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// The machine the run was on (the runner's first line).
    pub machine: Option<Machine>,
    /// Measurements, in file order.
    pub rows: Vec<Row>,
    /// Spans, in file order.
    pub spans: Vec<SpanRow>,
    /// The sections' own checks.
    pub checks: Vec<CheckRow>,
    /// The runner's record of each section it ran.
    pub runs: Vec<SectionRun>,
    /// Lines that could not be read, with their line numbers.
    pub warnings: Vec<String>,
    /// Lines of kinds the report does not draw (e.g. a crate's own `startup` lines): kind and
    /// count, kept in `results.jsonl` and listed at the end of the report.
    pub other_kinds: Vec<(String, usize)>,
}

/// Section names compare equal whether clap spelled them `csv-threads` or `csv_threads`.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            let n = |c: char| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            n(x) == n(y)
        })
}

impl Results {
    /// Reads a `results.jsonl` file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read {} (run `report run` first, or give the directory of a run)",
                path.display()
            )
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses JSON lines; what cannot be read becomes a warning.
    pub fn parse(text: &str) -> Self {
        let mut r = Self::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if let Err(e) = r.add_line(line) {
                r.warnings.push(format!("line {}: {e}", i + 1));
            }
        }
        r
    }

    fn add_line(&mut self, line: &str) -> anyhow::Result<()> {
        let mut value: Value = serde_json::from_str(line).context("not JSON")?;
        let obj = value
            .as_object_mut()
            .ok_or_else(|| anyhow::anyhow!("not a JSON object"))?;
        let kind = obj
            .remove("kind")
            .and_then(|k| k.as_str().map(str::to_owned))
            .ok_or_else(|| anyhow::anyhow!("no \"kind\" key"))?;
        match kind.as_str() {
            "measurement" => self.rows.push(serde_json::from_value(value)?),
            "span" => self.spans.push(serde_json::from_value(value)?),
            "check" => self.checks.push(serde_json::from_value(value)?),
            "section" => self.runs.push(serde_json::from_value(value)?),
            "machine" => self.machine = Some(serde_json::from_value(value)?),
            other => match self.other_kinds.iter_mut().find(|(k, _)| k == other) {
                Some((_, n)) => *n += 1,
                None => self.other_kinds.push((other.to_owned(), 1)),
            },
        }
        Ok(())
    }

    /// Every (crate, section) seen, in order of first appearance (the run order).
    pub fn sections(&self) -> Vec<(String, String)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let keys = self
            .runs
            .iter()
            .map(|r| &r.key)
            .chain(self.rows.iter().map(|r| &r.key))
            .chain(self.checks.iter().map(|c| &c.key));
        for key in keys {
            if seen.insert((key.krate.clone(), key.section.replace('-', "_"))) {
                out.push((key.krate.clone(), key.section.clone()));
            }
        }
        out
    }

    /// The measurements of one section in one language.
    pub fn rows_of<'a>(
        &'a self,
        krate: &'a str,
        section: &'a str,
        language: &'a str,
    ) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows
            .iter()
            .filter(move |r| r.key.is(krate, section) && r.key.language == language)
    }

    /// The checks of one section, every language.
    pub fn checks_of(&self, krate: &str, section: &str) -> Vec<&CheckRow> {
        self.checks
            .iter()
            .filter(|c| c.key.is(krate, section))
            .collect()
    }

    /// The runner's records of one section (one per language run).
    pub fn runs_of(&self, krate: &str, section: &str) -> Vec<&SectionRun> {
        self.runs
            .iter()
            .filter(|r| r.key.is(krate, section))
            .collect()
    }

    /// Whether any Python program was measured (`--with-python`).
    pub fn has_python(&self) -> bool {
        self.rows.iter().any(|r| r.key.language == "python")
    }

    /// The sections the runner saw fail.
    pub fn failed_runs(&self) -> Vec<&SectionRun> {
        self.runs.iter().filter(|r| !r.ok).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"
{"kind":"measurement","language":"rust","crate":"examples-x","section":"csv-threads","workload":"w","variant":"serial","workers":1,"tasks":3,"wall_s":3.0,"cpu_s":3.0,"ideal_s":3.0,"speedup":1.0,"ideal_speedup":1.0,"baseline":true,"cores":2,"scale":1.0,"quick":false}
{"kind":"measurement","language":"rust","crate":"examples-x","section":"csv-threads","workload":"w","variant":"3 threads","workers":3,"tasks":3,"wall_s":1.5,"cpu_s":3.0,"ideal_s":1.5,"speedup":2.0,"ideal_speedup":2.0,"baseline":false,"cores":2,"scale":1.0,"quick":false,"rows":10}
{"kind":"span","language":"rust","crate":"examples-x","section":"csv-threads","variant":"3 threads","lane":"thread 1","task":0,"start_s":0.0,"end_s":1.0}
{"kind":"check","crate":"examples-x","section":"csv-threads","name":"sums equal","ok":true,"detail":""}
{"kind":"section","language":"rust","crate":"examples-x","section":"csv-threads","ok":false,"exit_code":1,"elapsed_s":4.5,"reason":"exit status 1"}
not json
{"kind":"mystery"}
{"no kind":1}
"#;

    #[test]
    fn every_kind_is_read_and_bad_lines_become_warnings() {
        let r = Results::parse(LINES);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[1].extra["rows"], 10);
        assert_eq!(r.rows[1].efficiency(), Some(1.0));
        assert_eq!(r.rows[1].cpu_util(), Some(2.0));
        assert_eq!(r.spans.len(), 1);
        assert_eq!(r.checks[0].key.language, "rust", "defaults to rust");
        assert_eq!(r.failed_runs().len(), 1);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert_eq!(r.other_kinds, [("mystery".to_owned(), 1)]);
        assert!(r.warnings[0].starts_with("line 7"));
        assert_eq!(
            r.sections(),
            vec![("examples-x".to_owned(), "csv-threads".to_owned())]
        );
        assert_eq!(r.rows_of("examples-x", "csv_threads", "rust").count(), 2);
        assert_eq!(r.rows_of("examples-x", "csv_threads", "python").count(), 0);
        assert_eq!(r.checks_of("examples-x", "csv_threads").len(), 1);
        assert_eq!(r.runs_of("examples-x", "CSV_threads").len(), 1);
        assert_eq!(r.runs_of("examples-y", "csv-threads").len(), 0);
    }

    #[test]
    fn only_unknown_keys_are_extra_and_python_lines_may_omit_the_rest() {
        let r = Results::parse(LINES);
        let extra: Vec<&String> = r.rows[1].extra.keys().collect();
        assert_eq!(
            extra,
            ["rows"],
            "the flattened key is not repeated in extra"
        );

        let r = Results::parse(concat!(
            r#"{"kind":"measurement","language":"python","crate":"c","section":"s","variant":"v","wall_s":2.0}"#,
            "\n",
            r#"{"kind":"measurement","crate":"c","section":"s","wall_s":2.0}"#,
        ));
        let row = &r.rows[0];
        assert_eq!(row.key.language, "python");
        assert_eq!(
            (row.workers, row.tasks, row.cpu_s, row.baseline),
            (0, 0, 0.0, false)
        );
        assert_eq!(
            (row.workload.as_deref(), row.speedup, row.cores),
            (None, None, None)
        );
        assert_eq!(row.efficiency(), None);
        assert_eq!(r.rows.len(), 1);
        assert!(r.warnings[0].contains("`variant`"), "{:?}", r.warnings);
    }

    #[test]
    fn section_lines_are_written_flat_as_before() {
        let run = SectionRun {
            key: Key::new("rust", "c", "s"),
            ok: true,
            exit_code: Some(0),
            elapsed_s: 1.5,
            reason: None,
            log: Some("logs/c-s-rust.log".into()),
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"language": "rust", "crate": "c", "section": "s", "ok": true,
                "exit_code": 0, "elapsed_s": 1.5, "log": "logs/c-s-rust.log"})
        );
        assert_eq!(serde_json::from_value::<SectionRun>(v).unwrap(), run);
    }

    #[test]
    fn names_match_across_dash_and_underscore() {
        assert!(same_name("csv-threads", "csv_threads"));
        assert!(same_name("Gil", "gil"));
        assert!(!same_name("gil", "gil2"));
    }
}
