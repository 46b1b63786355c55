//! `REPORT.md` and its charts, from the lines of one run.
//!
//! The report has: the machine line; an overview of every section run; one table per section
//! (variant, workers, wall, speed-up, ideal, efficiency, CPU utilisation, and the tutorial's
//! own figure where it published one) with its speed-up chart and timelines; Python beside
//! Rust where Python ran; the sections not measured; and "What the tutorials got wrong,
//! measured", whose numbers all come from the results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::charts::{self, Bar};
use crate::data::{Results, Row, SpanRow, same_name};
use crate::tutorials::{Tutorials, secs};

/// What [`render`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// `REPORT.md`.
    pub report: PathBuf,
    /// Every SVG written, under `charts/`.
    pub charts: Vec<PathBuf>,
    /// Charts that could not be drawn (also noted in the report).
    pub chart_errors: Vec<String>,
}

/// Writes `dir/REPORT.md` and `dir/charts/*.svg`.
pub fn render(dir: &Path, results: &Results, tutorials: &Tutorials) -> anyhow::Result<Rendered> {
    let chart_dir = dir.join("charts");
    std::fs::create_dir_all(&chart_dir)
        .with_context(|| format!("cannot create {}", chart_dir.display()))?;
    let mut out = Rendered {
        report: dir.join("REPORT.md"),
        ..Rendered::default()
    };
    let md = markdown(dir, results, tutorials, &mut out);
    std::fs::write(&out.report, md)
        .with_context(|| format!("cannot write {}", out.report.display()))?;
    Ok(out)
}

fn markdown(dir: &Path, results: &Results, tutorials: &Tutorials, out: &mut Rendered) -> String {
    let mut md = String::new();
    let scale = results.machine.as_ref().map_or(1.0, |m| m.scale);
    let has_python = results.has_python();

    md.push_str("# Concurrency and parallelism, measured\n\n");
    header(&mut md, results, has_python);
    reading_guide(&mut md, results);
    failures(&mut md, results);
    overview(&mut md, results);

    let mut current_crate = String::new();
    for (krate, section) in results.sections() {
        if krate != current_crate {
            let _ = writeln!(md, "## {krate}\n");
            current_crate = krate.clone();
        }
        section_block(
            &mut md, dir, results, tutorials, &krate, &section, scale, out,
        );
    }

    not_measured(&mut md, results, tutorials);
    claims(&mut md, results, tutorials);

    if !results.other_kinds.is_empty() {
        let kinds: Vec<String> = results
            .other_kinds
            .iter()
            .map(|(k, n)| format!("`{k}` ×{n}"))
            .collect();
        let _ = writeln!(
            md,
            "Other lines in results.jsonl, not drawn here: {}.\n",
            kinds.join(", ")
        );
    }
    if !results.warnings.is_empty() || !out.chart_errors.is_empty() {
        md.push_str("## Warnings\n\n");
        for w in results.warnings.iter().chain(&out.chart_errors) {
            let _ = writeln!(md, "- {w}");
        }
        md.push('\n');
    }
    md
}

fn header(md: &mut String, results: &Results, has_python: bool) {
    match &results.machine {
        Some(m) => {
            let _ = writeln!(md, "**Machine:** {}\n", m.line());
            let sizes = if m.quick {
                "quick sizes (`--quick`: not comparable with the tutorials' figures)"
            } else {
                "the tutorials' sizes"
            };
            let langs = if has_python {
                "Rust and Python"
            } else {
                "Rust (add `--with-python` for Python beside it)"
            };
            let _ = writeln!(
                md,
                "**Run:** {} UTC · {sizes} · sleeps ×{} (`--scale`) · {langs} · {} sections, {} failed\n",
                m.started_utc.trim_end_matches('Z').replace('T', " "),
                m.scale,
                results.runs.len(),
                results.failed_runs().len()
            );
        }
        None => md.push_str("**Machine:** not recorded (these results have no machine line)\n\n"),
    }
}

fn reading_guide(md: &mut String, results: &Results) {
    let cores = results
        .machine
        .as_ref()
        .map(|m| m.cores)
        .or_else(|| results.rows.iter().find_map(|r| r.cores))
        .unwrap_or(0);
    let _ = writeln!(
        md,
        "How to read the tables: **speed-up** is the workload's baseline wall time divided by \
         the variant's. **Ideal** is the speed-up a perfect run would reach: for CPU work \
         min(workers, tasks, cores), for waiting (sleeps, network latency) the number of \
         overlapping waves, for unequal jobs the longest job or the best schedule. \
         **Efficiency** = speed-up / ideal. **CPU** = CPU seconds per wall second, i.e. cores \
         busy on average (a global lock shows about 1.00 whatever the thread count). This \
         machine has {cores} cores, so no CPU-bound variant can pass {cores}×; waiting-bound \
         variants can, because waiting needs no core. **Tutorial** is the tutorial's own \
         published time for the same workload, on its machine.\n"
    );
}

fn failures(md: &mut String, results: &Results) {
    let failed = results.failed_runs();
    let failed_checks: Vec<_> = results.checks.iter().filter(|c| !c.ok).collect();
    if failed.is_empty() && failed_checks.is_empty() {
        return;
    }
    md.push_str("## Failures\n\n");
    for r in failed {
        let _ = write!(
            md,
            "- **{} {}** ({}): {}",
            r.key.krate,
            r.key.section,
            r.key.language,
            r.reason.as_deref().unwrap_or("failed")
        );
        if let Some(log) = &r.log {
            let _ = write!(md, " — log: [{log}]({log})");
        }
        md.push('\n');
    }
    for c in failed_checks {
        let _ = writeln!(
            md,
            "- check failed in **{} {}** ({}): {} {}",
            c.key.krate, c.key.section, c.key.language, c.name, c.detail
        );
    }
    md.push('\n');
}

fn overview(md: &mut String, results: &Results) {
    if results.sections().is_empty() {
        md.push_str("No section was measured.\n\n");
        return;
    }
    md.push_str("## Overview\n\n");
    md.push_str("| crate | section | status | measurements | best speed-up (variant) | its ideal | its CPU |\n");
    md.push_str("|---|---|---|---:|---|---:|---:|\n");
    for (krate, section) in results.sections() {
        let rows: Vec<&Row> = results.rows_of(&krate, &section, "rust").collect();
        let best = rows
            .iter()
            .filter(|r| !r.baseline)
            .filter_map(|r| r.speedup.map(|s| (s, *r)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let (best_s, ideal, cpu) = match best {
            Some((s, r)) => (
                format!("{} ({})", times(s), cell(&r.variant)),
                r.ideal_speedup.map_or("–".to_owned(), times),
                cpu(r),
            ),
            None => ("–".to_owned(), "–".to_owned(), "–".to_owned()),
        };
        let _ = writeln!(
            md,
            "| {krate} | [{section}](#{}) | {} | {} | {best_s} | {ideal} | {cpu} |",
            anchor(&krate, &section),
            status(results, &krate, &section),
            rows.len()
        );
    }
    md.push('\n');
}

fn status(results: &Results, krate: &str, section: &str) -> String {
    let runs = results.runs_of(krate, section);
    let failed_checks = results
        .checks_of(krate, section)
        .iter()
        .filter(|c| !c.ok)
        .count();
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("FAILED ({})", r.key.language))
        .collect();
    if !failed.is_empty() {
        failed.join(", ")
    } else if failed_checks > 0 {
        format!("{failed_checks} check(s) FAILED")
    } else if runs.is_empty() {
        "not run by the runner".to_owned()
    } else {
        "ok".to_owned()
    }
}

fn anchor(krate: &str, section: &str) -> String {
    charts::slug(&[krate, section])
}

#[allow(clippy::too_many_arguments)]
fn section_block(
    md: &mut String,
    dir: &Path,
    results: &Results,
    tutorials: &Tutorials,
    krate: &str,
    section: &str,
    scale: f64,
    out: &mut Rendered,
) {
    let _ = writeln!(
        md,
        "<a id=\"{}\"></a>\n### {krate} {section}\n",
        anchor(krate, section)
    );
    if let Some(m) = tutorials.mirrors(krate, section) {
        let _ = writeln!(
            md,
            "Mirrors {m}. Status: {}.\n",
            status(results, krate, section)
        );
    } else {
        let _ = writeln!(md, "Status: {}.\n", status(results, krate, section));
    }
    for r in results.runs_of(krate, section).iter().filter(|r| !r.ok) {
        let _ = writeln!(
            md,
            "> **{} run failed:** {}\n",
            r.key.language,
            r.reason.as_deref().unwrap_or("no reason recorded")
        );
    }

    let rows: Vec<&Row> = results.rows_of(krate, section, "rust").collect();
    if rows.is_empty() {
        md.push_str("No Rust measurements (the section measures behaviour only, or it failed before measuring).\n\n");
    } else {
        table(md, results, tutorials, &rows, scale);
    }
    checks_line(md, results, krate, section);

    let py: Vec<&Row> = results.rows_of(krate, section, "python").collect();
    let bars: Vec<Bar> = rows
        .iter()
        .chain(&py)
        .filter_map(|r| {
            r.speedup.map(|s| Bar {
                label: bar_label(r),
                speedup: s,
                ideal: r.ideal_speedup,
                python: r.key.language == "python",
            })
        })
        .collect();
    let base = charts::slug(&[krate, section]);
    if !bars.is_empty() {
        let file = format!("{base}-speedup.svg");
        match charts::speedup_svg(
            &dir.join("charts").join(&file),
            &format!("{krate} {section}: speed-up vs ideal"),
            &bars,
        ) {
            Ok(()) => {
                out.charts.push(dir.join("charts").join(&file));
                let _ = writeln!(md, "![{section}: speed-up vs ideal](charts/{file})\n");
            }
            Err(e) => out.chart_errors.push(format!("{file}: {e:#}")),
        }
    }
    timelines(md, dir, results, krate, section, &base, out);
    if !py.is_empty() {
        python_table(md, &rows, &py);
    }
}

fn bar_label(r: &Row) -> String {
    let lang = if r.key.language == "python" {
        " (Python)"
    } else {
        ""
    };
    match &r.workload {
        Some(w) => format!("{}: {}{lang}", short_workload(w), r.variant),
        None => format!("{}{lang}", r.variant),
    }
}

fn short_workload(w: &str) -> String {
    let w = w.split(" (").next().unwrap_or(w);
    if w.chars().count() > 28 {
        let head: String = w.chars().take(27).collect();
        format!("{head}…")
    } else {
        w.to_owned()
    }
}

fn table(md: &mut String, results: &Results, tutorials: &Tutorials, rows: &[&Row], scale: f64) {
    md.push_str("| workload | variant | workers | wall | speed-up | ideal | efficiency | CPU | tutorial |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    let mut last_workload = None;
    for r in rows {
        let workload = workload_cell(&mut last_workload, r);
        let figure = tutorials.figure_for(results, r).map_or(String::new(), |f| {
            format!("{}: {}", f.shown(scale), cell(&f.what))
        });
        let _ = writeln!(
            md,
            "| {workload} | {} | {} | {} | {} | {} | {} | {} | {figure} |",
            cell(&r.variant),
            r.workers,
            secs(r.wall_s),
            if r.baseline {
                "1.00× (baseline)".to_owned()
            } else {
                r.speedup.map_or("–".to_owned(), times)
            },
            r.ideal_speedup.map_or("–".to_owned(), times),
            r.efficiency()
                .map_or("–".to_owned(), |e| format!("{:.0} %", 100.0 * e)),
            cpu(r),
        );
    }
    md.push('\n');
}

/// A table's workload cell: written on the first row of each workload, blank below it.
fn workload_cell<'a>(last: &mut Option<&'a str>, r: &'a Row) -> String {
    let name = r.workload_name();
    let shown = if *last == Some(name) {
        String::new()
    } else {
        cell(name)
    };
    *last = Some(name);
    shown
}

/// CPU seconds per wall second, or a dash.
fn cpu(r: &Row) -> String {
    r.cpu_util().map_or("–".to_owned(), |c| format!("{c:.2}"))
}

fn checks_line(md: &mut String, results: &Results, krate: &str, section: &str) {
    let checks = results.checks_of(krate, section);
    if checks.is_empty() {
        return;
    }
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    let _ = write!(
        md,
        "Checks: {} of {} passed",
        checks.len() - failed.len(),
        checks.len()
    );
    if failed.is_empty() {
        md.push_str(".\n\n");
    } else {
        md.push_str("; FAILED:\n\n");
        for c in failed {
            let _ = writeln!(md, "- {} ({}): {}", c.name, c.key.language, cell(&c.detail));
        }
        md.push('\n');
    }
}

fn timelines(
    md: &mut String,
    dir: &Path,
    results: &Results,
    krate: &str,
    section: &str,
    base: &str,
    out: &mut Rendered,
) {
    // One chart per (language, workload), in run order.
    let section_spans: Vec<&SpanRow> = results
        .spans
        .iter()
        .filter(|s| s.key.is(krate, section))
        .collect();
    let mut groups: Vec<(String, String)> = Vec::new();
    for s in &section_spans {
        let key = (
            s.key.language.clone(),
            s.workload.clone().unwrap_or_default(),
        );
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (language, workload) in groups {
        let spans: Vec<&SpanRow> = section_spans
            .iter()
            .copied()
            .filter(|s| {
                s.key.language == language && s.workload.as_deref().unwrap_or("") == workload
            })
            .collect();
        let file = format!(
            "{}.svg",
            charts::slug(&[base, &workload, &language, "timeline"])
        );
        let title = if workload.is_empty() {
            format!("{krate} {section} ({language}): timeline")
        } else {
            format!("{krate} {section} ({language}): {workload}")
        };
        let path = dir.join("charts").join(&file);
        match charts::timeline_svg(&path, &title, &spans) {
            Ok(()) => {
                out.charts.push(path);
                let _ = writeln!(md, "![{}](charts/{file})\n", cell(&title));
            }
            Err(e) => out.chart_errors.push(format!("{file}: {e:#}")),
        }
    }
}

/// The first three words of a workload, letters and digits only: workload names embed URLs,
/// ports and library names that differ between the languages.
fn workload_key(w: &str) -> Vec<String> {
    w.split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .take(3)
        .collect()
}

/// The Rust row a Python row is compared with: same workload (by its first words), then the
/// variant the Python row names in its `rust_variant` key, or the same variant name, else the
/// one Rust variant with as many workers (and the same role).
pub fn rust_twin<'a>(rust: &[&'a Row], p: &Row) -> Option<&'a Row> {
    let key = workload_key(p.workload_name());
    let same_workload: Vec<&Row> = rust
        .iter()
        .copied()
        .filter(|r| workload_key(r.workload_name()) == key)
        .collect();
    let norm = |s: &str| s.trim().to_ascii_lowercase();
    if let Some(named) = p.extra.get("rust_variant").and_then(|v| v.as_str()) {
        return same_workload
            .into_iter()
            .find(|r| norm(&r.variant) == norm(named));
    }
    if let Some(r) = same_workload
        .iter()
        .find(|r| norm(&r.variant) == norm(&p.variant))
    {
        return Some(r);
    }
    let by_workers: Vec<&Row> = same_workload
        .into_iter()
        .filter(|r| r.workers == p.workers && r.baseline == p.baseline)
        .collect();
    match by_workers.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn python_table(md: &mut String, rust: &[&Row], python: &[&Row]) {
    md.push_str("Python on the same machine (same workload and sizes; Python / Rust > 1 means Python is slower):\n\n");
    md.push_str("| workload | Python variant | Python wall | Rust variant | Rust wall | Python / Rust | Python speed-up | Rust speed-up | Python CPU |\n");
    md.push_str("|---|---|---:|---|---:|---:|---:|---:|---:|\n");
    let mut last_workload = None;
    for p in python {
        let twin = rust_twin(rust, p);
        let speed = |r: &Row| {
            if r.baseline {
                "1.00×".to_owned()
            } else {
                r.speedup.map_or("–".to_owned(), times)
            }
        };
        let workload = workload_cell(&mut last_workload, p);
        let _ = writeln!(
            md,
            "| {workload} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&p.variant),
            secs(p.wall_s),
            twin.map_or("–".to_owned(), |r| cell(&r.variant)),
            twin.map_or("–".to_owned(), |r| secs(r.wall_s)),
            twin.filter(|r| r.wall_s > 0.0)
                .map_or("–".to_owned(), |r| times(p.wall_s / r.wall_s)),
            speed(p),
            twin.map_or("–".to_owned(), speed),
            cpu(p),
        );
    }
    md.push('\n');
}

fn not_measured(md: &mut String, results: &Results, tutorials: &Tutorials) {
    let seen = results.sections();
    let missing: Vec<_> = tutorials
        .sections
        .iter()
        .filter(|s| {
            !seen
                .iter()
                .any(|(k, sec)| *k == s.krate && same_name(sec, &s.section))
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    md.push_str("## Not measured in this run\n\n");
    md.push_str("These sections are in the tutorials' map but produced no results in this run (their crate was not run, or is not written yet):\n\n");
    for s in missing {
        let _ = writeln!(md, "- {} {} (mirrors {})", s.krate, s.section, s.mirrors);
    }
    md.push('\n');
}

fn claims(md: &mut String, results: &Results, tutorials: &Tutorials) {
    md.push_str("## What the tutorials got wrong, measured\n\n");
    md.push_str("Each claim is in our words; every number under \"measured here\" comes from this run's results.\n\n");
    for (i, c) in tutorials.claims.iter().enumerate() {
        let _ = writeln!(
            md,
            "### {}. Seed {} ({}), \"{}\"\n",
            i + 1,
            c.seed,
            tutorials.title(&c.seed),
            c.place
        );
        let _ = writeln!(md, "**The tutorial:** {}\n", c.claim);
        md.push_str("**Measured here:**\n\n");
        for e in &c.evidence {
            match e.measured(results) {
                Some(line) => {
                    let _ = writeln!(md, "- {line}");
                }
                None => {
                    let why = if e.at.key.language == "python" && !results.has_python() {
                        "Python was not run (`--with-python`)"
                    } else {
                        "not in this run's results"
                    };
                    let _ = writeln!(md, "- {}: not measured ({why}: {})", e.label, e.at.place());
                }
            }
        }
        let _ = writeln!(md, "\n**Why:** {}\n", c.why);
    }
}

fn times(x: f64) -> String {
    format!("{x:.2}×")
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Key;

    fn row(workload: &str, variant: &str, workers: usize, baseline: bool) -> Row {
        Row {
            key: Key::new("rust", "c", "s"),
            workload: Some(workload.into()),
            variant: variant.into(),
            workers,
            tasks: 4,
            wall_s: 1.0,
            cpu_s: 1.0,
            ideal_s: None,
            speedup: None,
            ideal_speedup: None,
            baseline,
            cores: None,
            scale: None,
            quick: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn python_rows_find_their_rust_twin() {
        let rust = [
            row(
                "20 downloads of http://127.0.0.1:1/image (100 ms)",
                "serial",
                1,
                true,
            ),
            row(
                "20 downloads of http://127.0.0.1:1/image (100 ms)",
                "4 threads",
                4,
                false,
            ),
            row(
                "20 downloads of http://127.0.0.1:1/image (100 ms)",
                "4 processes",
                4,
                false,
            ),
            row("four page checks", "pool of 2 + as_completed", 2, false),
        ];
        let refs: Vec<&Row> = rust.iter().collect();
        let py = |w: &str, v: &str, n: usize, b: bool| rust_twin(&refs, &row(w, v, n, b));
        let w = "20 downloads of http://127.0.0.1:2/image (requests)";
        assert_eq!(py(w, "serial", 1, true).unwrap().variant, "serial");
        assert_eq!(py(w, "4 threads", 4, false).unwrap().variant, "4 threads");
        assert!(
            py(w, "4 workers", 4, false).is_none(),
            "ambiguous: two with 4 workers"
        );
        assert_eq!(
            py(
                "four page checks (requests)",
                "ThreadPoolExecutor(2)",
                2,
                false
            )
            .unwrap()
            .variant,
            "pool of 2 + as_completed"
        );
        assert!(py("something else", "serial", 1, true).is_none());
        let mut named = row(w, "ThreadPoolExecutor(4)", 4, false);
        named
            .extra
            .insert("rust_variant".into(), "4 processes".into());
        assert_eq!(rust_twin(&refs, &named).unwrap().variant, "4 processes");
    }

    #[test]
    fn cells_escape_pipes() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(times(1.954), "1.95×");
        assert_eq!(
            short_workload("CPU work under the GIL (pure-Python style)"),
            "CPU work under the GIL"
        );
    }
}
