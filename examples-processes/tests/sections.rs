//! Every section, run through the real binary at small sizes, and the command line.

use std::time::Duration;

use shared::testkit::{Run, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_examples-processes");
const TIMEOUT: Duration = Duration::from_secs(120);

fn run(args: &[&str]) -> Run {
    let r = run_bin(BIN, args, TIMEOUT);
    assert_eq!(
        r.code(),
        Some(0),
        "{args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    r
}

#[test]
fn long_running_finishes_shortest_first() {
    // Scale 1 under --quick: the jobs are 40-200 ms apart, far more than process start-up.
    let r = run(&["long_running", "--quick"]);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("Process id"))
        .collect();
    assert_eq!(lines.len(), 10, "{}", r.stdout);
    // Serial: start order. Processes: each child printed its own line, shortest first.
    assert_eq!(lines[0], "Process id 0 - Complete - Task time: 5s");
    assert_eq!(lines[5], "Process id 3 - Complete - Task time: 1s");
    assert_eq!(lines[6], "Process id 1 - Complete - Task time: 2s");
    assert!(r.stdout.contains("completion order (job ids): [3, 1, 2, "));
    assert!(
        r.stdout
            .contains("[ok    ] the shortest job finishes first")
    );
}

#[test]
fn pool_runs_the_same_tasks_on_processes_and_threads() {
    let r = run(&["pool", "--quick", "--scale", "0.1"]);
    for needle in [
        "Pool(2).map (processes)",
        "ProcessPoolExecutor(4).map",
        "ThreadPoolExecutor(4).map",
        "[ok    ] as_completed yields every future once",
        "cancelled",
        "[ok    ] processes (ProcessPoolExecutor): digests identical to serial",
        "[ok    ] threads (ThreadPoolExecutor): digests identical to serial",
        "password 7: ",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
}

#[test]
fn queue_workers_do_each_task_once_and_shut_down() {
    let r = run(&["queue_workers", "--quick", "--scale", "0.25"]);
    let done: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("worker id: "))
        .collect();
    assert_eq!(done.len(), 26, "{}", r.stdout);
    for w in 0..3 {
        assert!(r.stdout.contains(&format!("Worker {w} starting")));
        assert!(r.stdout.contains(&format!("Worker {w} Shutting down...")));
    }
    assert!(r.stdout.contains("[ok    ] each task done exactly once"));
    assert!(r.stdout.contains("2 processes, pipes, 4096 tasks/msg"));
    assert!(r.stdout.contains("tasks_per_s="));
}

#[test]
fn memory_threads_share_and_processes_copy() {
    let r = run(&["memory", "--quick"]);
    assert!(
        r.stdout
            .contains("[ok    ] threads: about one copy in total")
    );
    assert!(
        r.stdout
            .contains("[ok    ] processes: a copy in each of the 4 children")
    );
}

#[test]
fn gotchas_report_crashes_by_task_and_never_hang() {
    let r = run(&["gotchas", "--quick"]);
    for needle in [
        "task 1: error: the task panicked: task 1 (panic())",
        "was killed by signal 6 (SIGABRT, an abort) while running task 3 (abort())",
        "was killed by signal 9 (SIGKILL) while running task 6",
        "task 7: ok Tiny(42)",
        "2 processes, map(chunksize=1000)",
        "1 worker process: spawn + handshake",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
}

#[test]
fn downloads_check_every_body_and_expose_the_silent_failures() {
    let r = run(&["downloads", "--quick", "--latency-ms", "20"]);
    assert!(
        r.stdout
            .contains("[ok    ] 4 processes: every image arrived whole, in order")
    );
    assert!(
        r.stdout
            .contains("nothing was printed, yet 8 of 8 tasks failed")
    );
}

#[test]
fn json_mode_prints_only_json_lines_with_the_documented_keys() {
    let r = run(&["long_running", "--quick", "--json"]);
    let lines = r.json_lines();
    assert!(!lines.is_empty());
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
    assert_eq!(
        r.json_of_kind("span").len(),
        5,
        "one span per child process"
    );
    assert!(r.json_of_kind("check").iter().all(|c| c["ok"] == true));
    // The children's own lines went to stderr with the rest of the human text.
    assert!(r.stderr.contains("Process id 3 - Complete - Task time: 1s"));
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
    let r = run(&["--help"]);
    for s in [
        "long_running",
        "pool",
        "queue_workers",
        "memory",
        "gotchas",
        "downloads",
    ] {
        assert!(r.stdout.contains(s), "{s} missing from --help");
    }
    assert!(
        r.stdout
            .contains("Speed up long running jobs using Process")
    );
    assert!(!r.stdout.contains("__worker"), "worker mode stays hidden");
    let r = run(&["--list-sections"]);
    assert_eq!(r.stdout.lines().count(), 6);
}
