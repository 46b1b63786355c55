//! The tutorials' own figures and the claims the report checks, from a small data file.
//!
//! `report/data/tutorials.json` holds only numbers the tutorials published, which crate,
//! section and variant each belongs to, and each claim in our own words with the evidence to
//! pull from the results. Nothing measured is in it: the report reads every number it shows
//! about this machine from `results.jsonl`. The file is compiled into the `report` binary;
//! `--tutorials FILE` reads another one.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::data::{Key, Results, Row, same_name};

/// The compiled-in data file.
pub const BUILTIN: &str = include_str!("../data/tutorials.json");

/// Everything in the data file.
#[derive(Debug, Clone, Deserialize)]
pub struct Tutorials {
    /// The five tutorials: seed number and title.
    pub tutorials: Vec<Tutorial>,
    /// Which tutorial section each of our sections mirrors, in the report's order.
    pub sections: Vec<SectionInfo>,
    /// Figures the tutorials published.
    pub figures: Vec<Figure>,
    /// Claims that do not hold, measured.
    pub claims: Vec<Claim>,
}

/// One tutorial.
#[derive(Debug, Clone, Deserialize)]
pub struct Tutorial {
    /// `"000"` .. `"004"`.
    pub seed: String,
    /// Its title.
    pub title: String,
}

/// One of our sections and what it mirrors.
#[derive(Debug, Clone, Deserialize)]
pub struct SectionInfo {
    /// Example crate.
    #[serde(rename = "crate")]
    pub krate: String,
    /// Section name.
    pub section: String,
    /// The tutorial section(s) it mirrors, e.g. `"seed 001, I/O speed-up using threads"`.
    pub mirrors: String,
}

/// Which measurement a figure or a piece of evidence refers to. Text matches are
/// case-insensitive substrings; absent fields match anything.
#[derive(Debug, Clone, Deserialize)]
pub struct Select {
    /// Crate, section (`-` and `_` are the same) and language (`"rust"` unless it says).
    #[serde(flatten)]
    pub key: Key,
    /// A substring of the workload.
    pub workload: Option<String>,
    /// A substring of the variant.
    pub variant: Option<String>,
    /// Only the workload's baseline (or only non-baselines).
    pub baseline: Option<bool>,
}

fn contains(haystack: &str, needle: &Option<String>) -> bool {
    needle.as_ref().is_none_or(|n| {
        haystack
            .to_ascii_lowercase()
            .contains(&n.to_ascii_lowercase())
    })
}

impl Select {
    /// Whether `row` is one this selects.
    pub fn matches(&self, row: &Row) -> bool {
        row.key.same(&self.key)
            && contains(row.workload_name(), &self.workload)
            && contains(&row.variant, &self.variant)
            && self.baseline.is_none_or(|b| b == row.baseline)
    }

    /// The first row of `results` this selects.
    pub fn find<'a>(&self, results: &'a Results) -> Option<&'a Row> {
        results.rows.iter().find(|r| self.matches(r))
    }

    /// `crate section` for messages.
    pub fn place(&self) -> String {
        let Key {
            language,
            krate,
            section,
        } = &self.key;
        format!("{krate} {section} ({language})")
    }
}

/// A figure a tutorial published.
#[derive(Debug, Clone, Deserialize)]
pub struct Figure {
    /// Which tutorial.
    pub seed: String,
    /// What was timed, in our words.
    pub what: String,
    /// The published wall time in seconds.
    pub wall_s: f64,
    /// Whether the time is mostly the tutorial's sleeps (so `--scale` scales it).
    #[serde(default)]
    pub sleep_bound: bool,
    /// The row it corresponds to.
    #[serde(flatten)]
    pub at: Select,
}

impl Figure {
    /// The figure as shown in a table: `7.24 s (seed 001)`, scaled like the sleeps when the
    /// run used `--scale`.
    pub fn shown(&self, scale: f64) -> String {
        if self.sleep_bound && scale != 1.0 {
            format!(
                "{} (seed {}; ×{scale} = {})",
                secs(self.wall_s),
                self.seed,
                secs(self.wall_s * scale)
            )
        } else {
            format!("{} (seed {})", secs(self.wall_s), self.seed)
        }
    }
}

/// A claim that the measurements contradict.
#[derive(Debug, Clone, Deserialize)]
pub struct Claim {
    /// Which tutorial.
    pub seed: String,
    /// The tutorial's section.
    pub place: String,
    /// The claim (or what the code does), in our words.
    pub claim: String,
    /// Why the measurement differs.
    pub why: String,
    /// What to pull from the results.
    pub evidence: Vec<Evidence>,
}

/// One measured number behind a claim.
#[derive(Debug, Clone, Deserialize)]
pub struct Evidence {
    /// What the number is, e.g. `"Rust, process pool of 2"`.
    pub label: String,
    /// The row.
    #[serde(flatten)]
    pub at: Select,
    /// What to show: `wall`, `speedup`, `ideal`, `cpu`, `tasks`, `workers`, `extra:<key>`.
    pub show: Vec<String>,
}

impl Evidence {
    /// `label: wall 1.234 s, 1.93× vs serial (ideal 2.00×)`, or `None` if not measured.
    pub fn measured(&self, results: &Results) -> Option<String> {
        let row = self.at.find(results)?;
        let parts: Vec<String> = self.show.iter().map(|m| metric(row, m)).collect();
        Some(format!("{}: {}", self.label, parts.join(", ")))
    }
}

fn metric(row: &Row, name: &str) -> String {
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("n/a".to_owned(), f);
    match name {
        "wall" => format!("wall {}", secs(row.wall_s)),
        "speedup" => {
            let ideal = opt(row.ideal_speedup, &|i| format!(" (ideal {i:.2}×)"));
            let ideal = if ideal == "n/a" { String::new() } else { ideal };
            opt(row.speedup, &|s| format!("{s:.2}× vs its baseline{ideal}"))
        }
        "ideal" => opt(row.ideal_s, &|i| format!("best possible {}", secs(i))),
        "cpu" => opt(row.cpu_util(), &|c| format!("{c:.2} cores busy")),
        "tasks" => format!("{} tasks", row.tasks),
        "workers" => format!("{} workers", row.workers),
        other => match other.strip_prefix("extra:") {
            Some(key) => match row.extra.get(key) {
                Some(v) => format!("{key} = {v}"),
                None => format!("{key} not recorded"),
            },
            None => format!("(unknown metric {other:?})"),
        },
    }
}

/// Seconds for a report: `12.80 s`, `110 ms`.
pub fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        let ms = format!("{:.1}", s * 1e3);
        format!("{} ms", ms.strip_suffix(".0").unwrap_or(&ms))
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

impl Tutorials {
    /// The compiled-in data file.
    pub fn builtin() -> anyhow::Result<Self> {
        serde_json::from_str(BUILTIN).context("the built-in report/data/tutorials.json is invalid")
    }

    /// Reads a data file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the tutorials data file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid tutorials data file", path.display()))
    }

    /// The title of a tutorial, by seed number.
    pub fn title(&self, seed: &str) -> &str {
        self.tutorials
            .iter()
            .find(|t| t.seed == seed)
            .map_or("?", |t| t.title.as_str())
    }

    /// What a section mirrors, if the data file knows it.
    pub fn mirrors(&self, krate: &str, section: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.krate == krate && same_name(&s.section, section))
            .map(|s| s.mirrors.as_str())
    }

    /// The published figure for `row`, if any: a figure belongs to the first row it selects.
    pub fn figure_for<'a>(&'a self, results: &Results, row: &Row) -> Option<&'a Figure> {
        self.figures.iter().find(|f| {
            f.at.find(results)
                .is_some_and(|first| std::ptr::eq(first, row))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_file_is_valid_and_names_every_claim_the_issue_asks_for() {
        let t = Tutorials::builtin().unwrap();
        assert_eq!(t.tutorials.len(), 5);
        assert!(t.claims.len() >= 5);
        let text: String = t.claims.iter().map(|c| c.claim.clone()).collect();
        for needle in ["scrypt", "0.11 s", "CSV", "futures", "one core"] {
            assert!(text.contains(needle), "no claim about {needle}");
        }
        for c in &t.claims {
            assert!(
                !c.evidence.is_empty(),
                "claim without evidence: {}",
                c.claim
            );
            for e in &c.evidence {
                for m in &e.show {
                    assert!(
                        ["wall", "speedup", "ideal", "cpu", "tasks", "workers"]
                            .contains(&m.as_str())
                            || m.starts_with("extra:"),
                        "unknown metric {m}"
                    );
                }
            }
        }
        assert!(t.figures.iter().any(|f| f.wall_s == 0.11));
        assert_eq!(
            t.title("002"),
            "Concurrency and parallelism (concurrent.futures)"
        );
    }

    #[test]
    fn selection_and_evidence() {
        let results = Results::parse(concat!(
            r#"{"kind":"measurement","crate":"c","section":"pool","workload":"scrypt batch","variant":"serial","workers":1,"tasks":8,"wall_s":8.0,"cpu_s":8.0,"speedup":1.0,"ideal_speedup":1.0,"baseline":true}"#,
            "\n",
            r#"{"kind":"measurement","crate":"c","section":"pool","workload":"scrypt batch","variant":"process pool(2)","workers":2,"tasks":8,"wall_s":4.0,"cpu_s":8.0,"ideal_s":4.0,"speedup":2.0,"ideal_speedup":2.0,"baseline":false,"digests":8}"#,
        ));
        let e = Evidence {
            label: "Rust".into(),
            at: Select {
                key: Key::new("rust", "c", "pool"),
                workload: Some("SCRYPT".into()),
                variant: Some("process".into()),
                baseline: None,
            },
            show: vec![
                "wall".into(),
                "speedup".into(),
                "cpu".into(),
                "extra:digests".into(),
                "extra:nope".into(),
            ],
        };
        assert_eq!(
            e.measured(&results).unwrap(),
            "Rust: wall 4.00 s, 2.00× vs its baseline (ideal 2.00×), 2.00 cores busy, \
             digests = 8, nope not recorded"
        );
        let mut missing = e.clone();
        missing.at.key.language = "python".into();
        assert_eq!(missing.measured(&results), None);

        let fig = Figure {
            seed: "002".into(),
            what: "serial".into(),
            wall_s: 12.8,
            sleep_bound: false,
            at: Select {
                key: Key::new("rust", "c", "pool"),
                workload: None,
                variant: None,
                baseline: Some(true),
            },
        };
        assert!(fig.at.matches(&results.rows[0]) && !fig.at.matches(&results.rows[1]));
        assert_eq!(fig.shown(0.5), "12.80 s (seed 002)");
        let sleepy = Figure {
            sleep_bound: true,
            ..fig
        };
        assert_eq!(sleepy.shown(0.5), "12.80 s (seed 002; ×0.5 = 6.40 s)");
        assert_eq!(secs(0.11), "110 ms");
        assert_eq!(secs(0.0125), "12.5 ms");
    }
}
