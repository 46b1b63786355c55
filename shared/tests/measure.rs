//! Measurements (`shared::measure`), output (`shared::output`) and CPU time (`shared::timing`).

use std::time::Instant;

use shared::measure::{format_secs, ideal};
use shared::output::count;
use shared::timing::CpuTime;
use shared::{Bench, CommonArgs, Ctx, Variant};

#[test]
fn speedup_is_relative_to_the_workloads_baseline() {
    let mut s = Bench::new("c", "s", &CommonArgs::default());
    s.workload("a");
    s.record(Variant::serial(4), 4.0, 4.0, ctx());
    s.record(
        Variant::new("2 threads", 2, 4).ideal_s(2.0),
        2.5,
        4.0,
        ctx(),
    );
    s.workload("b");
    s.record(Variant::new("before any baseline", 2, 4), 1.0, 1.0, ctx());
    s.record(Variant::baseline("inline", 1, 4), 1.0, 1.0, ctx());
    let ms = s.measurements();
    assert_eq!(ms[0].speedup, Some(1.0));
    assert_eq!(ms[0].ideal_speedup, Some(1.0));
    assert_eq!(ms[1].speedup, Some(1.6));
    assert_eq!(ms[1].ideal_speedup, Some(2.0));
    assert_eq!(ms[1].cpu_util(), 1.6);
    assert_eq!(
        ms[2].speedup, None,
        "a new workload forgets the old baseline"
    );
    assert_eq!(ms[3].workload.as_deref(), Some("b"));
}

#[test]
fn json_line_has_the_documented_keys() {
    let mut s = Bench::new("examples-x", "sec", &CommonArgs::default());
    let value = s.measure(Variant::serial(1), |ctx| {
        ctx.set("tasks_per_s", 12.5);
        ctx.spans().track("thread 0", 0, || 7)
    });
    assert_eq!(value, 7);
    let m = &s.measurements()[0];
    assert_eq!(m.spans.len(), 1);
    let json = serde_json::to_value(m).unwrap();
    for key in [
        "kind",
        "crate",
        "section",
        "variant",
        "workers",
        "tasks",
        "wall_s",
        "cpu_s",
        "ideal_s",
        "speedup",
        "tasks_per_s",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["kind"], "measurement");
    assert_eq!(json["crate"], "examples-x");
    assert!(json.get("spans").is_none());
}

#[test]
fn ideal_formulas() {
    assert_eq!(ideal::waves(0.8, 10, 4), 2.4000000000000004);
    assert_eq!(ideal::longest(&[5.0, 2.0, 4.0, 1.0, 5.0]), 5.0);
    // 3 workers pull 4,3,3,2,2: w0 4 | w1 3+2 | w2 3+2
    assert_eq!(ideal::greedy_makespan(&[4.0, 3.0, 3.0, 2.0, 2.0], 3), 5.0);
    assert_eq!(format_secs(1.5), "1.500 s");
    assert_eq!(format_secs(0.0125), "12.5 ms");
}

fn ctx() -> Ctx {
    Ctx::new()
}

#[test]
fn counts_have_their_plural() {
    assert_eq!(count(1, "worker rank"), "1 worker rank");
    assert_eq!(count(2, "chunk"), "2 chunks");
}

#[test]
fn cpu_time_counts_busy_work() {
    // Other tests run in this process at the same time, so only "it grows while we spin"
    // can be asserted about the process-wide counter, not an exact amount.
    let start = CpuTime::now();
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let mut x = 0u64;
    while CpuTime::now().since(&start) < 0.05 {
        assert!(
            Instant::now() < deadline,
            "30 s of spinning did not show 0.05 s of CPU"
        );
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

#[test]
fn children_are_counted_once_reaped() {
    let before = CpuTime::now();
    let status = std::process::Command::new("sh")
        .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
        .status()
        .expect("sh runs");
    assert!(status.success());
    let after = CpuTime::now();
    assert!(after.children_s > before.children_s);
}
