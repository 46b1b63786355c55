//! The real binary, run as a user would: every section at tiny sizes with `--json`, bad flags,
//! a refused `--base-url`. What a section checks is read from its JSON `check` lines, what it
//! measured from its `measurement` lines; human text is looked at only where no check says it.
//! No timing is asserted.

use std::time::Duration;

use serde_json::Value;
use shared::testkit::{Run, SectionRun, run_bin};

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

/// `args` plus the fast flags, `--json`, and `--out` into `out`.
fn quick_args<'a>(args: &[&'a str], out: &'a tempfile::TempDir) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--json", "--quick", "--scale", "0.01", "--latency-ms", "5"]);
    all.extend(["--out", out.path().to_str().expect("a UTF-8 temp path")]);
    all
}

/// Runs `args` with [`quick_args`]; it must exit 0.
fn quick(args: &[&str], out: &tempfile::TempDir) -> Run {
    let all = quick_args(args, out);
    let run = run_bin(BIN, &all, TIMEOUT);
    assert_eq!(
        run.code(),
        Some(0),
        "{all:?} failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// Runs section `name` alone, read from its JSON lines (see [`SectionRun::of`]).
fn section(name: &str) -> SectionRun {
    let out = tempfile::tempdir().unwrap();
    SectionRun::of(quick(&[name], &out), "examples-threads", name)
}

#[test]
fn gil() {
    let s = section("gil");
    s.checked(&[
        "2 threads: same results as serial",
        "4 threads: same results as serial",
        "the GIL let one thread at a time run \"Python\" code",
    ])
    .measured(&["serial", "2 threads", "4 threads"]);
    let workloads: Vec<&str> = s
        .measurements
        .iter()
        .filter(|m| m["variant"] == "4 threads")
        .filter_map(|m| m["workload"].as_str())
        .collect();
    assert_eq!(workloads.len(), 4, "{workloads:?}");
    for part in ["under the GIL", "without the GIL", "I/O", "C-extension"] {
        assert!(workloads.iter().any(|w| w.contains(part)), "{workloads:?}");
    }
}

#[test]
fn csv_threads() {
    let s = section("csv_threads");
    s.checked(&[
        "every copy has the file's length",
        "serial: every read found 200000 rows and the right sum",
        "3 threads: every read found 200000 rows and the right sum",
    ])
    .measured(&["read the bytes, x3", "serial", "3 threads"])
    .says(&["wrote 200000 rows"]);
    let under_gil: Vec<&Value> = s
        .measurements
        .iter()
        .filter(|m| {
            m["workload"]
                .as_str()
                .unwrap_or("")
                .contains("GIL analogue")
        })
        .collect();
    assert_eq!(under_gil.len(), 2);
    for m in under_gil {
        let held = m["gil_held"].as_f64().expect("gil_held");
        assert!((0.0..=1.0).contains(&held), "{m}");
    }
}

#[test]
fn executors() {
    let s = section("executors");
    s.checked(&[
        "Parallel: results in input order",
        "as_completed: every call exactly once",
        "map: results in input order",
        "partial: every y is 3, in input order",
        "shutdown(wait=True): all queued calls still ran",
        "shutdown(cancel_futures=True): every call ran or was cancelled, and no cancelled call \
         started",
        "ThreadPool.map: results in input order",
        "spawn + join: results in input order",
    ])
    .measured(&[
        "joblib Parallel(n_jobs=4)",
        "submit + as_completed",
        "submit as the tutorial wrote it",
        "executor.map",
        "map(partial(compute_x, y=3))",
        "shutdown(wait=True)",
        "shutdown(cancel_futures=True)",
        "ThreadPool(2).map",
        "thread::spawn per call + join",
    ])
    .says(&["completion order:", "ran: [", "chunksize is 2"]);
    assert_eq!(
        s.detail("the tutorial's version collects nothing (its `futures` list stays empty)"),
        "0 results"
    );
}

#[test]
fn wiki() {
    section("wiki")
        .checked(&[
            "the pool found what the serial run found",
            "three pages exist and the missing one is a 404",
            "a refused connection is `unknown`",
        ])
        .measured(&["serial", "pool of 2 + as_completed"])
        .says(&[
            "/wiki/Ocean - exists",
            "/wiki/this_page_does_not_exist - does not exist",
            "/wiki/Ocean - unknown (cannot connect",
        ]);
}

#[test]
fn downloads() {
    let s = section("downloads");
    s.checked(&[
        "serial: every body is the image, byte for byte",
        "4 threads: every body is the image, byte for byte",
    ])
    .measured(&["serial", "4 threads (executor.map)"])
    .says(&["8 x http://127.0.0.1:"]);
    for m in &s.measurements {
        assert_eq!(m["mib"].as_f64(), Some(8.0), "{m}");
    }
}

#[test]
fn timeline() {
    let out = tempfile::tempdir().unwrap();
    let run = quick(&["timeline"], &out);
    let svg = out.path().join("threads-timeline.svg");
    assert!(run.stderr.contains(&format!("timeline: {}", svg.display())));
    let svg = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(svg.contains("thread 1") && svg.contains("thread 2"));
    let checks = run.json_of_kind("check");
    for name in [
        "two threads: 20 sleeps on two lanes",
        "timeline SVG written",
    ] {
        assert!(
            checks.iter().any(|c| c["name"] == name && c["ok"] == true),
            "{name}"
        );
    }
    let lanes: Vec<Value> = run
        .json_of_kind("span")
        .iter()
        .filter(|s| s["variant"] == "2 threads")
        .map(|s| s["lane"].clone())
        .collect();
    assert_eq!(lanes.len(), 20);
    assert!(lanes.iter().all(|l| l == "thread 1" || l == "thread 2"));
    assert!(run.stderr.contains("thread 1 |") && run.stderr.contains("thread 2 |"));
}

#[test]
fn races() {
    let s = section("races");
    s.checked(&[
        "reference counts are 1, 2, 1",
        "one thread counts exactly",
        "fetch_add: exact",
        "Mutex: exact",
        "local counts, one fetch_add each: exact",
        "forced interleaving loses exactly one update",
        "fetch_add loses none",
        "an Arc cycle is never freed",
        "the Weak back-pointer frees both",
    ])
    .says(&["updates lost", "(E0373)"]);
    let racy = s
        .measurements
        .iter()
        .find(|m| m["variant"] == "load + store (racy)")
        .expect("the racy count");
    // Updates can be lost, never invented.
    let (total, lost) = (racy["total"].as_u64(), racy["lost"].as_u64());
    assert_eq!(
        total.zip(lost).map(|(t, l)| t + l),
        Some(4_000_000),
        "{racy}"
    );
}

#[test]
fn json_stdout_is_only_json_lines_with_the_documented_keys() {
    let out = tempfile::tempdir().unwrap();
    let run = quick(&[], &out);
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
    // The human text went to stderr.
    assert!(run.stderr.contains("=== examples-threads races:"));
}

#[test]
fn a_refused_base_url_is_unknown_pages_and_a_download_error_not_a_panic() {
    let out = tempfile::tempdir().unwrap();
    let refused = ["--base-url", "http://127.0.0.1:1"];
    let wiki = quick(&[&["wiki"][..], &refused].concat(), &out);
    assert!(wiki.stderr.contains("the real site http://127.0.0.1:1"));
    let checks = wiki.json_of_kind("check");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    // The embedded server's statuses are not claimed for another site.
    assert!(
        !checks
            .iter()
            .any(|c| c["name"] == "three pages exist and the missing one is a 404")
    );
    assert!(
        wiki.stderr
            .contains("http://127.0.0.1:1/wiki/Ocean - unknown")
    );

    let args = quick_args(&[&["downloads"][..], &refused].concat(), &out);
    let downloads = run_bin(BIN, &args, TIMEOUT);
    assert_eq!(downloads.code(), Some(1), "{}", downloads.stderr);
    assert!(
        downloads
            .stderr
            .contains("error in section downloads: cannot download http://127.0.0.1:1/image"),
        "{}",
        downloads.stderr
    );
    assert!(
        !downloads.stderr.contains("panicked"),
        "{}",
        downloads.stderr
    );
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
