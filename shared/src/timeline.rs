//! Timelines (Gantt charts) of [`Span`]s: one row per lane, one bar per task.
//!
//! [`write_svg`] draws one or more panels (e.g. serial, threads, processes, async) on a
//! common time axis with plotters' SVG backend; [`text`] draws the same thing in the terminal.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::spans::Span;

/// One chart: a title and the spans to draw.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Shown above the chart, e.g. `"4 threads"`.
    pub title: String,
    /// The spans; lanes are drawn in order of first appearance.
    pub spans: Vec<Span>,
}

/// Lanes in order of first start, each with its index.
fn lanes(spans: &[Span]) -> Vec<String> {
    let mut firsts: BTreeMap<&str, f64> = BTreeMap::new();
    for s in spans {
        let e = firsts.entry(&s.lane).or_insert(s.start_s);
        *e = e.min(s.start_s);
    }
    let mut v: Vec<(&str, f64)> = firsts.into_iter().collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then(natural(a.0).cmp(&natural(b.0))));
    v.into_iter().map(|(l, _)| l.to_owned()).collect()
}

/// Sort key so that "worker 10" comes after "worker 9".
fn natural(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(char::is_ascii_digit).collect();
    let n = digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    (
        s.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned(),
        n,
    )
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Writes an SVG with one Gantt chart per panel, stacked, sharing the time axis.
pub fn write_svg(path: &Path, title: &str, panels: &[Panel]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    }
    let t_max = panels
        .iter()
        .flat_map(|p| p.spans.iter().map(|s| s.end_s))
        .fold(0.0_f64, f64::max)
        .max(1e-3);
    let heights: Vec<u32> = panels
        .iter()
        // At least four lanes' height: plotters sizes axis labels by the area, and a one-lane
        // panel would get unreadable ones.
        .map(|p| 90 + 28 * lanes(&p.spans).len().max(4) as u32)
        .collect();
    let total_h = 40 + heights.iter().sum::<u32>();
    let root = SVGBackend::new(path, (1000, total_h)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (head, mut rest) = root.split_vertically(40);
    // A long title gets a smaller font (about 0.55 em per character fits 1000 px), and is
    // cut with an ellipsis below 13 px rather than run off both edges.
    let size = (1000.0 / (0.55 * title.chars().count().max(1) as f64)).clamp(13.0, 22.0);
    let fits = (1000.0 / (0.55 * size)) as usize;
    let title = if title.chars().count() > fits {
        format!("{}…", title.chars().take(fits - 1).collect::<String>())
    } else {
        title.to_owned()
    };
    head.titled(&title, ("sans-serif", size))
        .map_err(draw_err)?;

    for (panel, &h) in panels.iter().zip(&heights) {
        let (area, below) = rest.split_vertically(h);
        rest = below;
        let lanes = lanes(&panel.spans);
        let n = lanes.len().max(1);
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..t_max * 1.02, -0.5..(n as f64 - 0.5))
            .map_err(draw_err)?;
        let lane_names = lanes.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&move |y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 {
                    lane_names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("seconds")
            .draw()
            .map_err(draw_err)?;
        let index: BTreeMap<&str, usize> = lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        chart
            .draw_series(panel.spans.iter().map(|s| {
                let y = index[s.lane.as_str()] as f64;
                let color = COLORS[s.task as usize % COLORS.len()];
                Rectangle::new([(s.start_s, y - 0.35), (s.end_s, y + 0.35)], color.filled())
            }))
            .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)?;
    Ok(())
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e:?}")
}

/// A terminal timeline: one row per lane, `width` columns for the run's duration; tasks
/// alternate between `#` and `=` so that consecutive tasks on a lane can be told apart.
pub fn text(spans: &[Span], width: usize) -> String {
    let width = width.max(10);
    let t_max = spans
        .iter()
        .map(|s| s.end_s)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let lanes = lanes(spans);
    let label_w = lanes.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for lane in &lanes {
        let mut row = vec![' '; width];
        let mut mine: Vec<&Span> = spans.iter().filter(|s| &s.lane == lane).collect();
        mine.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        for (k, s) in mine.iter().enumerate() {
            let a = ((s.start_s / t_max) * width as f64).floor() as usize;
            let b = (((s.end_s / t_max) * width as f64).ceil() as usize).max(a + 1);
            let mark = if k % 2 == 0 { '#' } else { '=' };
            for c in row.iter_mut().take(b.min(width)).skip(a.min(width - 1)) {
                *c = mark;
            }
        }
        out.push_str(&format!(
            "  {lane:>label_w$} |{}|\n",
            row.into_iter().collect::<String>()
        ));
    }
    out.push_str(&format!(
        "  {:>label_w$}  0 s{:>w$}\n",
        "",
        format!("{t_max:.2} s"),
        w = width.saturating_sub(2)
    ));
    out
}
