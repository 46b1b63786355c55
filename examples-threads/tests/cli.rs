//! The real binary, run as a user would: every section at tiny sizes, `--json` output, bad flags.
//! Behaviour only: no timing is asserted.

use std::time::Duration;

use shared::testkit::{Run, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_examples-threads");
const TIMEOUT: Duration = Duration::from_secs(180);
const SECTIONS: [&str; 7] = [
    "gil",
    "csv_threads",
    "executors",
    "wiki",
    "downloads",
    "timeline",
    "races",
];

/// Runs `args` plus the fast flags (and `--out` into a temporary directory); must exit 0.
fn quick(args: &[&str], out: &tempfile::TempDir) -> Run {
    let out = out.path().to_str().expect("a UTF-8 temp path");
    let mut all = args.to_vec();
    all.extend([
        "--quick",
        "--scale",
        "0.01",
        "--latency-ms",
        "5",
        "--out",
        out,
    ]);
    let run = run_bin(BIN, &all, TIMEOUT);
    assert_eq!(
        run.code(),
        Some(0),
        "{all:?} failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
    run
}

fn section(name: &str, expected: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let run = quick(&[name], &out);
    assert!(
        run.stdout
            .contains(&format!("=== examples-threads {name}:")),
        "{}",
        run.stdout
    );
    for text in expected {
        assert!(
            run.stdout.contains(text),
            "missing {text:?} in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("[ok    ]"),
        "no checks ran:\n{}",
        run.stdout
    );
    run
}

#[test]
fn gil() {
    section(
        "gil",
        &[
            "CPU work under the GIL",
            "without the GIL",
            "I/O under the GIL",
            "C-extension work",
            "4 threads",
        ],
    );
}

#[test]
fn csv_threads() {
    section(
        "csv_threads",
        &[
            "wrote 200000 rows",
            "the bytes alone",
            "3 threads",
            "every read found 200000 rows and the right sum",
            "under the GIL analogue",
            "gil_held=",
        ],
    );
}

#[test]
fn executors() {
    section(
        "executors",
        &[
            "joblib Parallel(n_jobs=4)",
            "submit + as_completed",
            "completion order:",
            "the tutorial's version collects nothing",
            "map(partial(compute_x, y=3))",
            "shutdown(cancel_futures=True)",
            "ran: [",
            "ThreadPool(2).map",
            "chunksize is 2",
            "thread::spawn per call + join",
        ],
    );
}

#[test]
fn wiki() {
    section(
        "wiki",
        &[
            "/wiki/Ocean - exists",
            "/wiki/this_page_does_not_exist - does not exist",
            "pool of 2 + as_completed",
            "/wiki/Ocean - unknown (cannot connect",
        ],
    );
}

#[test]
fn downloads() {
    section(
        "downloads",
        &[
            "8 x http://127.0.0.1:",
            "4 threads (executor.map)",
            "byte for byte",
        ],
    );
}

#[test]
fn timeline() {
    let out = tempfile::tempdir().unwrap();
    let run = quick(&["timeline"], &out);
    let svg = out.path().join("threads-timeline.svg");
    assert!(run.stdout.contains(&format!("timeline: {}", svg.display())));
    let svg = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(svg.contains("thread 1") && svg.contains("thread 2"));
    for text in [
        "2 threads",
        "one thread:",
        "two threads:",
        "thread 1 |",
        "thread 2 |",
    ] {
        assert!(
            run.stdout.contains(text),
            "missing {text:?} in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn races() {
    section(
        "races",
        &[
            "Arc::strong_count: 1 alone, 2 while a thread holds a clone, 1 after it ends",
            "load + store (racy)",
            "updates lost",
            "2 increments give 1",
            "with fetch_add: 2",
            "with Arc: 0 of 2 freed",
            "with Weak: 2 of 2 freed",
            "(E0373)",
        ],
    );
}

#[test]
fn json_stdout_is_only_json_lines_with_the_documented_keys() {
    let out = tempfile::tempdir().unwrap();
    let run = quick(&["--json"], &out);
    // json_lines panics, naming the line, on anything that is not JSON.
    let lines = run.json_lines();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| ["measurement", "span", "check"].contains(&l["kind"].as_str().unwrap_or(""))),
        "an unknown kind"
    );
    let measurements = run.json_of_kind("measurement");
    for m in &measurements {
        for key in [
            "crate", "section", "variant", "workers", "tasks", "wall_s", "cpu_s", "ideal_s",
            "speedup",
        ] {
            assert!(m.get(key).is_some(), "missing {key} in {m}");
        }
        assert_eq!(m["crate"], "examples-threads");
    }
    for name in SECTIONS {
        assert!(
            measurements.iter().any(|m| m["section"] == name),
            "no measurement from {name}"
        );
    }
    let checks = run.json_of_kind("check");
    assert!(checks.iter().all(|c| c["ok"] == true), "a check failed");
    assert!(
        run.json_of_kind("span")
            .iter()
            .any(|s| s["section"] == "timeline" && s["lane"] == "thread 2")
    );
    // The human text went to stderr.
    assert!(run.stderr.contains("=== examples-threads races:"));
}

#[test]
fn help_and_section_list_name_every_section() {
    let help = run_bin(BIN, &["--help"], TIMEOUT);
    assert_eq!(help.code(), Some(0));
    for text in [
        "csv_threads",
        "I/O speed-up using Threads",
        "executors",
        "timeline",
        "races",
        "--workers",
        "--base-url",
        "--out",
    ] {
        assert!(help.stdout.contains(text), "missing {text:?} in --help");
    }
    let list = run_bin(BIN, &["--list-sections"], TIMEOUT);
    assert_eq!(list.code(), Some(0));
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), SECTIONS);
}

#[test]
fn bad_flags_exit_with_code_2_and_a_message() {
    for (args, message) in [
        (&["--workers", "0"][..], "at least 1 worker"),
        (&["--scale=-1"], "above 0"),
        (&["--scale", "0"], "above 0"),
        (&["--scale", "inf"], "above 0"),
        (&["no_such_section"], "invalid value"),
        (&["--bogus"], "unexpected argument"),
        (&["--base-url", "ftp://example.org"], "not an http"),
        (&["--latency-ms", "soon"], "invalid value"),
    ] {
        let run = run_bin(BIN, args, TIMEOUT);
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(message),
            "{args:?}: expected {message:?} in {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
