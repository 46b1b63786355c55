//! # What two threads do over time, drawn
//!
//! Mirrors seed 003 "Concurrency vs parallelism", section "Concurrency - Threading" (two
//! threads of a `ThreadPoolExecutor(2)` each sleeping ten random 10-50 ms intervals, plotted
//! as "Thread Activity Visualization with Context Switches").
//!
//! The lesson: two threads that wait overlap completely, so the pair finishes in the time of
//! the longer list of sleeps, not the sum of both. Each bar below is one sleep of one thread,
//! recorded as a (thread, start, end) span; the serial panel shows the same sleeps on one
//! thread for comparison.
//!
//! Run: `cargo run --release -p examples-threads -- timeline` (`--out DIR` for the SVG,
//! default `target/examples-out`; `--seed` draws other sleeps).
//!
//! Output: the path of `threads-timeline.svg` (two panels: one thread, two threads) and the
//! same timelines as text, where both thread rows are busy from start to end side by side.
//!
//! The tutorial's chart draws a segment between each pair of consecutive timestamps in a list
//! shared by both threads, coloured by the thread of the first one, and only for the first 20
//! of its 24 timestamps. A segment may thus join one thread's event to the other's, so the chart
//! shows the order in which events were logged, not what each thread was doing; and the
//! "context switches" it suggests cost nothing here, as both threads are asleep. Spans per
//! thread, as below, show the activity itself.

use std::path::{Path, PathBuf};

use rand::Rng;
use shared::spans::{Span, Spans};
use shared::timeline::{Panel, text, write_svg};
use shared::workloads::{rng, sleep_scaled};
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// Sleeps per thread, as in the tutorial (`arg * 10` with `arg = 1`).
pub const SLEEPS_PER_THREAD: usize = 10;

/// The file written into `--out`.
pub const SVG_NAME: &str = "threads-timeline.svg";

/// The seeded sleeps of thread `thread` (1 or 2), in tutorial seconds: uniform in 10-50 ms.
pub fn sleeps_s(seed: u64, thread: u64) -> Vec<f64> {
    let mut rng = rng(seed, 0x7153 + thread);
    (0..SLEEPS_PER_THREAD)
        .map(|_| rng.random_range(0.01..=0.05))
        .collect()
}

/// Sleeps through `sleeps` on the calling thread, one span per sleep on `lane`.
fn sleep_through(spans: &Spans, lane: &str, first_task: u64, sleeps: &[f64], scale: f64) {
    for (i, &secs) in sleeps.iter().enumerate() {
        spans.track(lane, first_task + i as u64, || sleep_scaled(secs, scale));
    }
}

/// Both lists on the calling thread, one after the other.
pub fn one_thread(spans: &Spans, lists: &[Vec<f64>; 2], scale: f64) {
    sleep_through(spans, "one thread", 0, &lists[0], scale);
    sleep_through(
        spans,
        "one thread",
        SLEEPS_PER_THREAD as u64,
        &lists[1],
        scale,
    );
}

/// Each list on its own thread, `thread 1` and `thread 2`, at the same time.
pub fn two_threads(spans: &Spans, lists: &[Vec<f64>; 2], scale: f64) {
    std::thread::scope(|s| {
        // Two threads that mostly sleep: they need no core while waiting, so both lists run
        // side by side. Scoped, so they borrow the lists and end before this returns.
        for (t, list) in lists.iter().enumerate() {
            let lane = format!("thread {}", t + 1);
            let first_task = (t * SLEEPS_PER_THREAD) as u64;
            s.spawn(move || sleep_through(spans, &lane, first_task, list, scale));
        }
    });
}

/// Writes the SVG with one panel per run into `out` and returns its path.
pub fn draw(out: &Path, serial: &[Span], threaded: &[Span]) -> anyhow::Result<PathBuf> {
    let path = out.join(SVG_NAME);
    write_svg(
        &path,
        "examples-threads timeline: ten random 10-50 ms sleeps per thread (seed 003)",
        &[
            Panel {
                title: "one thread (serial)".to_owned(),
                spans: serial.to_vec(),
            },
            Panel {
                title: "two threads".to_owned(),
                spans: threaded.to_vec(),
            },
        ],
    )?;
    Ok(path)
}

/// The distinct lanes of some spans, sorted.
pub fn lanes(spans: &[Span]) -> Vec<&str> {
    let mut lanes: Vec<&str> = spans.iter().map(|s| s.lane.as_str()).collect();
    lanes.sort_unstable();
    lanes.dedup();
    lanes
}

/// Both threads' sleeps on one thread, then on two, recorded as spans and drawn.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "timeline", c);
    s.title("seed 003 thread activity with context switches (2 threads, 10-50 ms sleeps)");
    let lists = [sleeps_s(c.seed, 1), sleeps_s(c.seed, 2)];
    let sums: Vec<f64> = lists
        .iter()
        .map(|l| l.iter().sum::<f64>() * c.scale)
        .collect();
    let n = 2 * SLEEPS_PER_THREAD;

    s.workload("ten random sleeps on each of two threads");
    s.measure(Variant::serial(n), |ctx| {
        one_thread(ctx.spans(), &lists, c.scale)
    });
    let serial = s.last().map(|m| m.spans.clone()).unwrap_or_default();
    let v = Variant::new("2 threads", 2, n).ideal_s(sums[0].max(sums[1]));
    s.measure(v, |ctx| two_threads(ctx.spans(), &lists, c.scale));
    let threaded = s.last().map(|m| m.spans.clone()).unwrap_or_default();

    s.check(
        "two threads: 20 sleeps on two lanes",
        threaded.len() == n && lanes(&threaded) == ["thread 1", "thread 2"],
        format!("{} spans on {:?}", threaded.len(), lanes(&threaded)),
    );
    let path = draw(&args.out.out, &serial, &threaded)?;
    s.check("timeline SVG written", path.is_file(), "");
    say!();
    say!("  one thread:");
    for line in text(&serial, 64).lines() {
        say!("  {line}");
    }
    say!("  two threads:");
    for line in text(&threaded, 64).lines() {
        say!("  {line}");
    }
    say!();
    say!("  timeline: {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_are_seeded_and_in_range() {
        let a = sleeps_s(1, 1);
        assert_eq!(a.len(), SLEEPS_PER_THREAD);
        assert_eq!(a, sleeps_s(1, 1));
        assert_ne!(a, sleeps_s(1, 2));
        assert!(a.iter().all(|s| (0.01..=0.05).contains(s)));
    }

    #[test]
    fn the_svg_is_written_with_two_thread_lanes() {
        let lists = [sleeps_s(7, 1), sleeps_s(7, 2)];
        let (serial, threaded) = (Spans::new(), Spans::new());
        one_thread(&serial, &lists, 0.01);
        two_threads(&threaded, &lists, 0.01);
        let (serial, threaded) = (serial.take(), threaded.take());
        assert_eq!(lanes(&serial), ["one thread"]);
        assert_eq!(lanes(&threaded), ["thread 1", "thread 2"]);
        assert_eq!(threaded.len(), 20);
        // A thread sleeps one interval at a time: its own spans never overlap.
        for lane in ["thread 1", "thread 2"] {
            let mine: Vec<&Span> = threaded.iter().filter(|s| s.lane == lane).collect();
            assert!(mine.windows(2).all(|w| w[0].end_s <= w[1].start_s));
        }

        let dir = tempfile::tempdir().unwrap();
        let path = draw(&dir.path().join("out"), &serial, &threaded).unwrap();
        assert_eq!(path.file_name().unwrap(), SVG_NAME);
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("thread 1") && svg.contains("thread 2"));
        assert!(svg.contains("two threads") && svg.contains("one thread"));
    }
}
