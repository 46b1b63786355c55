//! Runs the real binary: every section at tiny sizes, `--json`, `--verbose`, bad flags.

use std::time::Duration;

use shared::testkit::{Run, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_examples-async");
const QUICK: [&str; 5] = ["--quick", "--scale", "0.01", "--latency-ms", "10"];

fn run(args: &[&str]) -> Run {
    run_bin(BIN, args, Duration::from_secs(120))
}

fn quick(section: &str, extra: &[&str]) -> Run {
    let mut args = vec![section];
    args.extend(QUICK);
    args.extend(extra);
    let r = run(&args);
    assert_eq!(
        r.code(),
        Some(0),
        "{section}: stderr:\n{}\nstdout:\n{}",
        r.stderr,
        r.stdout
    );
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    r
}

#[test]
fn service_request_runs_every_variant_and_checks_results() {
    let r = quick("service_request", &["--verbose"]);
    for needle in [
        "=== examples-async service_request",
        "sequential",
        "tokio current_thread (asyncio)",
        "tokio multi-thread + spawn_blocking",
        "4 OS threads",
        "FFT results equal the sequential ones",
        "no two FFTs ever ran at once",
        "call 0 iteration 0",
        "end 3 iteration 1",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    // The verbose log has one call and one end line per request and iteration, per variant.
    let calls = r.stdout.lines().filter(|l| l.starts_with("call ")).count();
    assert_eq!(calls % 8, 0);
    assert!(calls >= 8 * 4, "{calls}");
}

#[test]
fn as_completed_checks_digests_against_hashlib() {
    let r = quick("as_completed", &[]);
    for needle in [
        "scrypt(\"my password\") = 5353a8339649e337",
        "[ok    ] the digest equals Python's hashlib.scrypt",
        "as_completed: every task yielded exactly once",
        "map: digests equal the serial ones, in input order",
        "buffer_unordered(4)",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn future_api_shows_every_method() {
    let r = quick("future_api", &[]);
    for needle in [
        "f.done()",
        "f.running()",
        "f.cancel() on a pending future",
        "f.result(timeout",
        "f.exception()",
        "FIRST_COMPLETED",
        "ALL_COMPLETED",
        "as_completed(fs, timeout",
        "shutdown(wait=True, cancel_futures)",
        "Err(\"task 1 failed on purpose\")",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    // The planned panic is reported in one line, without a backtrace.
    assert!(!r.stderr.contains("stack backtrace"), "{}", r.stderr);
}

#[test]
fn http_finds_the_404_and_the_refused_connection_and_verifies_bodies() {
    let r = quick("http", &[]);
    for needle in [
        "/wiki/this_page_does_not_exist - does not exist",
        "/wiki/Shark - exists",
        "- unknown (cannot connect: Connection refused",
        "4 OS threads (blocking reqwest)",
        "buffer_unordered(4)",
        "all at once: 8 bodies",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn many_tasks_reports_memory_per_task_and_per_thread() {
    let r = quick("many_tasks", &[]);
    for needle in [
        "all 10000 tasks finished their sleep",
        "all 1000 threads finished their sleep",
        "per task:",
        "per thread:",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn blocking_the_loop_reports_the_worst_tick_delay() {
    let r = quick("blocking_the_loop", &[]);
    assert!(r.stdout.contains("worst_tick_delay_ms="), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("spawn_blocking computed the same FFTs as inline")
    );
}

#[test]
fn json_output_is_only_json_lines_with_the_documented_keys() {
    let mut args = vec!["--json"];
    args.extend(QUICK);
    let r = run(&args);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let lines = r.json_lines();
    assert!(!lines.is_empty());
    let mut sections = std::collections::BTreeSet::new();
    for line in &lines {
        match line["kind"].as_str() {
            Some("measurement") => {
                for key in [
                    "crate", "section", "variant", "workers", "tasks", "wall_s", "cpu_s",
                    "ideal_s", "speedup", "cores", "scale", "quick",
                ] {
                    assert!(line.get(key).is_some(), "no {key} in {line}");
                }
                assert_eq!(line["crate"], "examples-async");
                sections.insert(line["section"].as_str().unwrap_or_default().to_owned());
            }
            Some("span") => {
                for key in ["lane", "task", "start_s", "end_s", "variant"] {
                    assert!(line.get(key).is_some(), "no {key} in {line}");
                }
            }
            Some("check") => assert_eq!(line["ok"], true, "{line}"),
            other => panic!("unexpected kind {other:?} in {line}"),
        }
    }
    for s in [
        "service_request",
        "as_completed",
        "http",
        "many_tasks",
        "blocking_the_loop",
    ] {
        assert!(
            sections.contains(s),
            "no measurement from {s}: {sections:?}"
        );
    }
    let ticks = r.json_of_kind("measurement");
    let inline = ticks
        .iter()
        .find(|m| m["variant"] == "FFT inline on the runtime thread")
        .expect("the inline measurement");
    assert!(inline["worst_tick_delay_ms"].as_f64().is_some(), "{inline}");
    assert!(
        !r.stderr.is_empty(),
        "human text goes to stderr under --json"
    );
}

#[test]
fn help_lists_the_sections_with_what_they_mirror() {
    let r = run(&["--help"]);
    assert_eq!(r.code(), Some(0));
    for needle in [
        "service_request",
        "as_completed",
        "future_api",
        "http",
        "many_tasks",
        "blocking_the_loop",
        "004 \"A toy problem\"",
        "002 \"An illustrative example\"",
        "--latency-ms",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    for (args, says) in [
        (&["--workers", "0"][..], "at least 1 worker"),
        (&["--scale=-1"], "scale must be a finite number above 0"),
        (&["no_such_section"], "invalid value 'no_such_section'"),
        (&["--latency-ms", "soon"], "invalid value 'soon'"),
        (
            &["--base-url", "ftp://example.org"],
            "not an http:// or https:// URL",
        ),
    ] {
        let r = run(args);
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}
