//! The report's charts, as SVG with plotters: speed-up against the ideal per section, and
//! Gantt timelines of the recorded spans (drawn by [`shared::timeline::write_svg`]).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::data::SpanRow;
use shared::spans::Span;
use shared::timeline::{self, Panel};

/// One bar of a speed-up chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// `workload: variant`, shown left of the bar.
    pub label: String,
    /// Measured speed-up against the workload's baseline.
    pub speedup: f64,
    /// The ideal speed-up, drawn as a black mark.
    pub ideal: Option<f64>,
    /// Python bars are drawn in another colour.
    pub python: bool,
}

const RUST: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const PYTHON: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const LABEL_CHARS: usize = 52;

/// Draws horizontal bars of measured speed-up, each with its ideal as a black tick, and a
/// grey line at 1x (no faster than the baseline).
pub fn speedup_svg(path: &Path, title: &str, bars: &[Bar]) -> anyhow::Result<()> {
    if bars.is_empty() {
        anyhow::bail!("no bars to draw for {title}");
    }
    let x_max = bars
        .iter()
        .flat_map(|b| [Some(b.speedup), b.ideal])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        * 1.12;
    let n = bars.len();
    let height = 110 + 26 * n as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let labels: Vec<String> = bars.iter().map(|b| shorten(&b.label)).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(360)
        .build_cartesian_2d(0.0..x_max, -0.5..(n as f64 - 0.5))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                // Row 0 at the top: plotters' y grows upwards.
                labels
                    .get(n.saturating_sub(1 + i as usize))
                    .cloned()
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("speed-up vs the workload's baseline (bar: measured, black tick: ideal; orange: Python)")
        .draw()
        .map_err(draw_err)?;
    let row_y = |i: usize| (n - 1 - i) as f64;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let y = row_y(i);
            let color = if b.python { PYTHON } else { RUST };
            let w = if b.speedup.is_finite() {
                b.speedup
            } else {
                0.0
            };
            Rectangle::new([(0.0, y - 0.32), (w, y + 0.32)], color.filled())
        }))
        .map_err(draw_err)?;
    chart
        .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
            let y = row_y(i);
            b.ideal.filter(|v| v.is_finite()).map(|ideal| {
                PathElement::new(
                    vec![(ideal, y - 0.45), (ideal, y + 0.45)],
                    BLACK.stroke_width(3),
                )
            })
        }))
        .map_err(draw_err)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
            RGBColor(0x99, 0x99, 0x99).stroke_width(1),
        )))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let head: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e:?}")
}

/// Most lanes drawn per panel (a panel of 10,000 async tasks would be 280,000 px tall).
pub const MAX_LANES: usize = 24;
/// Most spans drawn per panel.
pub const MAX_SPANS: usize = 2_000;

/// Turns the spans of one workload into one panel per variant (in run order), keeping the
/// first [`MAX_LANES`] lanes and [`MAX_SPANS`] spans of each; the title says what was left out.
pub fn panels(spans: &[&SpanRow]) -> Vec<Panel> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_variant: BTreeMap<&str, Vec<&SpanRow>> = BTreeMap::new();
    for s in spans {
        if !by_variant.contains_key(s.variant.as_str()) {
            order.push(&s.variant);
        }
        by_variant.entry(&s.variant).or_default().push(s);
    }
    order
        .into_iter()
        .map(|variant| {
            let mut rows = by_variant.remove(variant).unwrap_or_default();
            rows.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
            let mut lanes: Vec<&str> = Vec::new();
            for r in &rows {
                if !lanes.contains(&r.lane.as_str()) {
                    lanes.push(&r.lane);
                }
            }
            let total_lanes = lanes.len();
            lanes.truncate(MAX_LANES);
            let kept: Vec<Span> = rows
                .iter()
                .filter(|r| lanes.contains(&r.lane.as_str()))
                .take(MAX_SPANS)
                .map(|r| Span {
                    lane: r.lane.clone(),
                    task: r.task,
                    start_s: r.start_s,
                    end_s: r.end_s,
                })
                .collect();
            let mut title = format!("{variant}: {} tasks on {total_lanes} lanes", rows.len());
            if kept.len() < rows.len() {
                title.push_str(&format!(
                    " (first {} lanes, {} spans drawn)",
                    lanes.len(),
                    kept.len()
                ));
            }
            Panel { title, spans: kept }
        })
        .collect()
}

/// Writes a Gantt chart of one workload's spans, one panel per variant on a shared time axis.
pub fn timeline_svg(path: &Path, title: &str, spans: &[&SpanRow]) -> anyhow::Result<()> {
    timeline::write_svg(path, title, &panels(spans))
}

/// A file-name-safe slug: lowercase letters and digits, other runs become one `-`.
pub fn slug(parts: &[&str]) -> String {
    let mut out = String::new();
    for c in parts.join("-").chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Key;

    fn span(variant: &str, lane: &str, task: u64, a: f64, b: f64) -> SpanRow {
        SpanRow {
            key: Key::new("rust", "c", "s"),
            workload: None,
            variant: variant.into(),
            lane: lane.into(),
            task,
            start_s: a,
            end_s: b,
        }
    }

    #[test]
    fn speedup_chart_has_every_label_and_bar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.svg");
        let bars = vec![
            Bar {
                label: "w: serial".into(),
                speedup: 1.0,
                ideal: Some(1.0),
                python: false,
            },
            Bar {
                label: "w: 2 threads".into(),
                speedup: 1.9,
                ideal: Some(2.0),
                python: false,
            },
            Bar {
                label: "w: 2 threads (Python)".into(),
                speedup: 1.1,
                ideal: None,
                python: true,
            },
        ];
        speedup_svg(&path, "demo", &bars).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for b in &bars {
            assert!(svg.contains(&b.label), "{} missing", b.label);
        }
        assert!(svg.matches("<rect").count() >= 3);
        assert!(speedup_svg(&path, "empty", &[]).is_err());
    }

    #[test]
    fn panels_follow_run_order_and_cap_lanes() {
        let many: Vec<SpanRow> = (0..100)
            .map(|i| span("10,000 tasks", &format!("task {i}"), i, 0.0, 1.0))
            .collect();
        let mut all = vec![span("serial", "main", 0, 0.0, 1.0)];
        all.extend(many);
        let refs: Vec<&SpanRow> = all.iter().collect();
        let p = panels(&refs);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].title, "serial: 1 tasks on 1 lanes");
        assert_eq!(p[1].spans.len(), MAX_LANES);
        assert!(p[1].title.contains("first 24 lanes"), "{}", p[1].title);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        timeline_svg(&path, "t", &refs).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("task 23"));
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug(&["examples-threads", "gil", "CPU work under the GIL (pure)"]),
            "examples-threads-gil-cpu-work-under-the-gil-pure"
        );
    }
}
