//! Every section, run through the real binary at small sizes with `--json`: the sections' own
//! checks (JSON `check` lines) must all pass, and the lines the tutorials print must be there.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use shared::testkit::{Run, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_examples-processes");
const TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `args` with `--json`; it must succeed.
fn run(args: &[&str]) -> Run {
    let r = run_bin(BIN, &[args, &["--json"]].concat(), TIMEOUT);
    assert_eq!(
        r.code(),
        Some(0),
        "{args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    r
}

/// The names of the run's checks, each of which must have passed, and must include `want`.
fn passed_checks(r: &Run, want: &[&str]) -> BTreeSet<String> {
    let checks = r.json_of_kind("check");
    for c in &checks {
        assert_eq!(c["ok"], true, "failed check {c}\nstderr:\n{}", r.stderr);
    }
    let names: BTreeSet<String> = checks
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    for w in want {
        assert!(names.contains(*w), "no check {w:?} among {names:#?}");
    }
    names
}

/// The human lines (stderr under `--json`) that start with `prefix`.
fn lines_starting<'a>(r: &'a Run, prefix: &str) -> Vec<&'a str> {
    r.stderr.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn long_running_runs_each_job_once_in_a_process_of_its_own() {
    // Which child finishes first is decided by sleeps 50 ms apart: the section checks it and
    // shows it, but this test asks only what every run must show, however loaded the machine.
    const ORDER: &str = "the shortest job finishes first, the longest last";
    let r = run_bin(BIN, &["long_running", "--quick", "--json"], TIMEOUT);
    let checks = r.json_of_kind("check");
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(
        failed.iter().all(|c| c["name"] == ORDER),
        "{failed:?}\n{}",
        r.stderr
    );
    assert_eq!(r.code(), Some(if failed.is_empty() { 0 } else { 1 }));
    assert!(checks.iter().any(|c| c["name"] == ORDER));
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "every job ran once" && c["ok"] == true)
    );

    // Serial: one after the other, in start order. Processes: each job once, in any order.
    let done = lines_starting(&r, "Process id ");
    assert_eq!(done.len(), 10, "{}", r.stderr);
    let id = |l: &str| {
        l["Process id ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    let serial: Vec<String> = done[..5].iter().map(|l| id(l)).collect();
    assert_eq!(serial, ["0", "1", "2", "3", "4"]);
    let children: BTreeSet<String> = done[5..].iter().map(|l| id(l)).collect();
    assert_eq!(children.len(), 5, "{done:?}");
    assert!(done.contains(&"Process id 3 - Complete - Task time: 1s"));

    let measurements = r.json_of_kind("measurement");
    assert_eq!(measurements.len(), 2);
    for m in &measurements {
        for key in [
            "crate", "section", "variant", "workers", "tasks", "wall_s", "cpu_s", "speedup",
        ] {
            assert!(m.get(key).is_some(), "missing {key} in {m}");
        }
        assert_eq!(m["crate"], "examples-processes");
        assert_eq!(m["section"], "long_running");
    }
    let lanes: BTreeSet<String> = r
        .json_of_kind("span")
        .iter()
        .map(|s| s["lane"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lanes.len(), 5, "one span per child process: {lanes:?}");
}

#[test]
fn pool_runs_the_same_tasks_on_processes_and_threads() {
    let r = run(&["pool", "--quick", "--scale", "0.1"]);
    passed_checks(
        &r,
        &[
            "Pool(2).map (processes): results in input order, equal to serial",
            "ProcessPoolExecutor(4).map: results in input order, equal to serial",
            "ThreadPoolExecutor(4).map: results in input order, equal to serial",
            "as_completed yields every future once",
            "shutdown with cancel_futures: every future finished or cancelled, none left pending",
            "no task accepted after shutdown",
            "the submitted digest equals Python's hashlib",
            "processes (ProcessPoolExecutor): digests identical to serial",
            "threads (ThreadPoolExecutor): digests identical to serial",
            "the 8 digests equal Python's hashlib (--quick's cheaper parameters)",
        ],
    );
    assert_eq!(lines_starting(&r, "  password ").len(), 8, "{}", r.stderr);
}

#[test]
fn queue_workers_do_each_task_once_and_shut_down() {
    let r = run(&["queue_workers", "--quick", "--scale", "0.25"]);
    passed_checks(
        &r,
        &[
            "each task done exactly once",
            "every task succeeded",
            "every worker shut down cleanly after the event was cleared",
        ],
    );
    assert_eq!(lines_starting(&r, "worker id: ").len(), 26, "{}", r.stderr);
    for w in 0..3 {
        assert!(r.stderr.contains(&format!("Worker {w} starting")));
        assert!(r.stderr.contains(&format!("Worker {w} Shutting down...")));
    }
    let m = &r.json_of_kind("measurement")[0];
    let per_worker = m["tasks_per_worker"].as_object().unwrap();
    let total: u64 = per_worker.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, 26, "{m}");
    assert!(m["shutdown_s"].as_f64().is_some(), "{m}");
    assert_eq!(r.json_of_kind("span").len(), 26);
}

#[test]
fn queue_throughput_measures_every_variant_and_gets_every_result_back() {
    let r = run(&["queue_throughput", "--quick"]);
    passed_checks(
        &r,
        &[
            "threads, 1 per message: every result back",
            "threads, batched: every result back",
            "2 processes, pipes, 4096 tasks/msg: every result back once",
            "2 processes, pipes, 1 task/msg: every result back once",
        ],
    );
    let per_message: Vec<u64> = r
        .json_of_kind("measurement")
        .iter()
        .map(|m| {
            assert_eq!(m["section"], "queue_throughput");
            assert!(m["tasks_per_s"].as_f64().is_some_and(|x| x > 0.0), "{m}");
            m["tasks_per_message"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(per_message, [1, 4096, 4096, 1]);
}

#[test]
fn memory_threads_share_and_processes_copy() {
    let r = run(&["memory", "--quick"]);
    passed_checks(
        &r,
        &[
            "every thread and every child read the same bytes",
            "threads: about one copy in total",
            "processes: a copy in each of the 4 children, plus the parent's",
        ],
    );
}

#[test]
fn gotchas_report_crashes_by_task_and_never_hang() {
    let r = run(&["gotchas", "--quick"]);
    passed_checks(
        &r,
        &[
            "panic, abort and SIGKILL each fail only their own task; the rest succeed; no hang",
            "every error names its task",
            "2 processes, submit each: right results",
            "2 processes, map(chunksize=1000): right results",
        ],
    );
    // How each worker died is told in the errors (no check says which signal it was).
    for needle in [
        "was killed by signal 6 (SIGABRT, an abort) while running task 3 (abort())",
        "was killed by signal 9 (SIGKILL) while running task 6",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            r.stderr
        );
    }
    let variants: Vec<Value> = r
        .json_of_kind("measurement")
        .iter()
        .map(|m| m["variant"].clone())
        .collect();
    assert!(variants.contains(&Value::from("1 worker process: spawn + handshake")));
}

#[test]
fn downloads_check_every_body_and_expose_the_silent_failures() {
    let r = run(&["downloads", "--quick", "--latency-ms", "20"]);
    passed_checks(
        &r,
        &[
            "serial: every image arrived whole",
            "4 threads: every image arrived whole, in order",
            "4 processes: every image arrived whole, in order",
            "the silent pool's tasks all failed (reading the results is what shows it)",
        ],
    );
}

#[test]
fn downloads_honour_base_url() {
    // A site the section did not start itself: its own server, on another port.
    let server = shared::server::Server::start_with_latency(Duration::from_millis(5)).unwrap();
    let base = server.base_url();
    let r = run(&["downloads", "--quick", "--base-url", &base]);
    let names = passed_checks(&r, &["4 processes: every image arrived whole, in order"]);
    // Serial, threads and processes each downloaded 8 images from it.
    assert_eq!(server.requests(), 24);
    // A real site's image is not known in advance: the pools are compared with serial only.
    assert!(
        !names.contains("serial: every image arrived whole"),
        "{names:?}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["--workers", "0"][..],
        &["no-such-section"],
        &["pool", "--scale", "-1"],
    ] {
        let r = run_bin(BIN, args, TIMEOUT);
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn help_lists_the_sections_and_their_tutorials() {
    let r = run_bin(BIN, &["--help"], TIMEOUT);
    assert_eq!(r.code(), Some(0));
    let sections = [
        "long_running",
        "pool",
        "queue_workers",
        "queue_throughput",
        "memory",
        "gotchas",
        "downloads",
    ];
    for s in sections {
        assert!(r.stdout.contains(s), "{s} missing from --help");
    }
    for tutorial in [
        "Speed up long running jobs using Process",
        "Using a messaging queue with multiple workers",
        "Gotchas",
        "Example: Downloading Files",
    ] {
        assert!(
            r.stdout.contains(tutorial),
            "{tutorial} missing from --help"
        );
    }
    assert!(!r.stdout.contains("__worker"), "worker mode stays hidden");
    let r = run_bin(BIN, &["--list-sections"], TIMEOUT);
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), sections);
}
