//! Span recording (`shared::spans`) and the timelines drawn from it (`shared::timeline`).

use std::time::Instant;

use shared::spans::{Span, Spans, unix_now_s};
use shared::timeline::{Panel, text, write_svg};

#[test]
fn spans_from_threads_are_all_kept_and_ordered() {
    let spans = Spans::new();
    std::thread::scope(|s| {
        for lane in 0..4 {
            let spans = &spans;
            s.spawn(move || {
                for task in 0..10 {
                    let id = lane * 10 + task;
                    assert_eq!(spans.track(format!("thread {lane}"), id, || id * 2), id * 2);
                }
            });
        }
    });
    let all = spans.take();
    assert_eq!(all.len(), 40);
    assert!(all.windows(2).all(|w| w[0].start_s <= w[1].start_s));
    assert!(all.iter().all(|s| s.end_s >= s.start_s && s.start_s >= 0.0));
    let mut tasks: Vec<u64> = all.iter().map(|s| s.task).collect();
    tasks.sort_unstable();
    assert_eq!(tasks, (0..40).collect::<Vec<_>>());
    assert!(spans.is_empty());
}

#[test]
fn a_unix_timestamp_lands_where_the_local_clock_puts_it() {
    let spans = Spans::new();
    // A timestamp another process reads between two local instants belongs between them. The
    // recorder read its two clocks one after the other, so the Unix side may be early by the
    // gap between those reads: microseconds, allowed 10 ms.
    let before = Instant::now();
    let now = unix_now_s();
    let after = Instant::now();
    spans.record("local", 0, before, after);
    spans.record_unix("worker 0", 1, now, now + 0.5);
    spans.record_unix("worker 1", 2, now - 100.0, now - 99.0);
    let all = spans.take();
    let lane = |name: &str| all.iter().find(|s| s.lane == name).unwrap().clone();
    let (local, remote) = (lane("local"), lane("worker 0"));
    assert!(
        remote.start_s >= local.start_s - 0.01 && remote.start_s <= local.end_s + 1e-6,
        "{remote:?} outside {local:?}"
    );
    assert!((remote.end_s - remote.start_s - 0.5).abs() < 1e-6);
    let early = lane("worker 1");
    assert_eq!(
        (early.start_s, early.end_s),
        (0.0, 0.0),
        "before time zero is time zero"
    );
}

fn span(lane: &str, task: u64, a: f64, b: f64) -> Span {
    Span {
        lane: lane.to_owned(),
        task,
        start_s: a,
        end_s: b,
    }
}

#[test]
fn svg_has_one_bar_per_span_and_every_lane_label() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/t.svg");
    let spans = vec![
        span("thread 1", 0, 0.0, 0.02),
        span("thread 2", 1, 0.0, 0.03),
        span("thread 1", 2, 0.02, 0.05),
    ];
    write_svg(
        &path,
        "demo",
        &[Panel {
            title: "two threads".into(),
            spans,
        }],
    )
    .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("thread 1") && svg.contains("thread 2"));
    assert!(svg.contains("two threads"));
    assert!(svg.matches("<rect").count() >= 3);
}

#[test]
fn text_timeline_has_a_row_per_lane() {
    let t = text(
        &[
            span("worker 10", 0, 0.0, 1.0),
            span("worker 9", 1, 0.0, 0.5),
            span("worker 9", 2, 0.5, 1.0),
        ],
        20,
    );
    let rows: Vec<&str> = t.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contains("worker 9") && rows[0].contains("##########=========="));
    assert!(rows[1].contains("worker 10"));
}
