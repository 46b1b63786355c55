//! Runs the real binary: every section at tiny sizes with `--json`, `--verbose`, bad flags, a
//! refused `--base-url`. What a section checks is read from its JSON `check` lines, what it
//! measured from its `measurement` lines; human text is looked at only where no check says it.
//! No timing is asserted.

use std::time::Duration;

use shared::testkit::{Run, SectionRun, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_examples-async");
const QUICK: [&str; 6] = ["--json", "--quick", "--scale", "0.01", "--latency-ms", "10"];
const SECTIONS: [&str; 7] = [
    "service_request",
    "as_completed",
    "future_api",
    "executor_api",
    "http",
    "many_tasks",
    "blocking_the_loop",
];

fn run(args: &[&str]) -> Run {
    run_bin(BIN, args, Duration::from_secs(120))
}

/// `args` plus the fast flags and `--json`.
fn quick_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &QUICK].concat()
}

/// Runs section `name` alone with `extra` flags, read from its JSON lines (see
/// [`SectionRun::of`]).
fn section(name: &str, extra: &[&str]) -> SectionRun {
    let args = quick_args(&[&[name], extra].concat());
    SectionRun::of(run(&args), "examples-async", name)
}

#[test]
fn service_request_runs_every_variant_and_checks_results() {
    let s = section("service_request", &["--verbose"]);
    s.checked(&[
        "tokio current_thread: FFT results equal the sequential ones",
        "tokio current_thread: no two FFTs ever ran at once",
        "tokio multi-thread + spawn_blocking: FFT results equal the sequential ones",
        "4 OS threads: FFT results equal the sequential ones",
    ])
    .measured(&[
        "sequential",
        "tokio current_thread (asyncio)",
        "tokio multi-thread + spawn_blocking",
        "4 OS threads",
    ]);
    let one = s.measurement("tokio current_thread (asyncio)").unwrap();
    assert_eq!(one["max_ffts_at_once"], 1, "{one}");
    // The verbose log has one call and one end line per request and iteration, per variant:
    // 4 requests x 2 iterations under --quick, 4 variants.
    let log = |word: &str| s.run.stderr.lines().filter(|l| l.starts_with(word)).count();
    assert_eq!(log("call "), 8 * 4);
    assert_eq!(log("end "), 8 * 4);
    s.says(&["call 0 iteration 0", "end 3 iteration 1"]);
}

#[test]
fn as_completed_checks_digests_against_hashlib() {
    section("as_completed", &[])
        .checked(&[
            "the digest equals Python's hashlib.scrypt",
            "serial digests equal Python's hashlib.scrypt",
            "as_completed: every task yielded exactly once",
            "as_completed: digests equal the serial ones",
            "map: digests equal the serial ones, in input order",
            "buffer_unordered(4): digests equal the serial ones, each once",
        ])
        .measured(&[
            "serial",
            "as_completed (JoinSet)",
            "map (join_all, input order)",
            "buffer_unordered(4)",
        ])
        .says(&["scrypt(\"my password\") = 5353a8339649e337"]);
}

#[test]
fn future_api_shows_every_method_of_a_future() {
    let s = section("future_api", &[]);
    s.checked(&[
        "a task cancelled before it started never ran its body",
        "an aborted async task stops at its .await",
        "a panicking task is reported as an error and the others finish",
    ])
    .says(&[
        "f.done()",
        "f.running()",
        "f.cancel() on a pending future",
        "f.result(timeout",
        "Err(\"task 1 failed on purpose\")",
    ]);
    // The planned panic is reported in one line, without a backtrace.
    assert!(
        !s.run.stderr.contains("stack backtrace"),
        "{}",
        s.run.stderr
    );
}

#[test]
fn executor_api_shows_wait_as_completed_map_and_shutdown() {
    section("executor_api", &[])
        .checked(&[
            "wait(ALL_COMPLETED): every task's value, in order",
            "as_completed(timeout): each task yielded once or reported pending",
            "map keeps input order",
            "shutdown: every task either completed or was cancelled",
            "a queued blocking job is cancelled and never runs; a running one completes",
        ])
        .says(&["FIRST_COMPLETED", "as_completed(fs, timeout"]);
}

#[test]
fn http_finds_the_404_and_the_refused_connection_and_verifies_bodies() {
    section("http", &[])
        .checked(&[
            "statuses: exists, exists, does not exist (404), exists, unknown (refused)",
            "as_completed: the same answers as serial, each URL once",
            "serial: 8 bodies, each the server's 1048576 bytes",
            "4 OS threads: 8 bodies, each the server's 1048576 bytes",
            "buffer_unordered(4): 8 bodies, each the server's 1048576 bytes",
            "all at once: 8 bodies, each the server's 1048576 bytes",
        ])
        .measured(&[
            "as_completed (all at once)",
            "4 OS threads (blocking reqwest)",
            "buffer_unordered(4), 1 thread",
            "all at once (join_all), 1 thread",
        ])
        .says(&[
            "/wiki/this_page_does_not_exist - does not exist",
            "- unknown (cannot connect: Connection refused",
        ]);
}

#[test]
fn http_with_a_refused_base_url_answers_unknown_then_stops_with_a_message() {
    let args = quick_args(&["http", "--base-url", "http://127.0.0.1:1"]);
    let r = run(&args);
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the real site http://127.0.0.1:1 (--base-url)")
    );
    assert!(
        r.stderr
            .contains("http://127.0.0.1:1/wiki/Ocean - unknown (cannot connect")
    );
    assert!(
        r.stderr
            .contains("error in section http: download 0 of http://127.0.0.1:1/image failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    // The page checks ran; the embedded server's statuses are not claimed for another site.
    let checks = r.json_of_kind("check");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(
        checks
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with("statuses"))
    );
}

#[test]
fn many_tasks_reports_memory_per_task_and_per_thread() {
    let s = section("many_tasks", &[]);
    s.checked(&[
        "all 10000 tasks finished their sleep",
        "all 1000 threads finished their sleep",
    ])
    .says(&["per task:", "per thread:"]);
    let tasks = s.measurement("10000 tokio tasks, 1 thread").unwrap();
    assert!(tasks["spawn_us_per_task"].as_f64().is_some(), "{tasks}");
    let threads = s.measurement("1000 OS threads").unwrap();
    // Each thread reserves its stack's address space (2 MiB by default).
    assert!(
        threads["virtual_per_thread_kib"].as_u64() >= Some(1024),
        "{threads}"
    );
}

#[test]
fn blocking_the_loop_reports_the_tick_delays() {
    let s = section("blocking_the_loop", &[]);
    s.checked(&["spawn_blocking computed the same FFTs as inline"]);
    for v in [
        "ticker alone (no FFT)",
        "FFT inline on the runtime thread",
        "FFT on spawn_blocking",
    ] {
        let m = s.measurement(v).unwrap_or_else(|| panic!("no {v:?}"));
        for key in [
            "worst_tick_delay_ms",
            "median_tick_delay_ms",
            "late_ticks",
            "ticks",
        ] {
            assert!(m[key].is_number(), "no {key} in {m}");
        }
    }
}

#[test]
fn json_output_is_only_json_lines_with_the_documented_keys() {
    let r = run(&QUICK);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let lines = r.json_lines();
    assert!(!lines.is_empty());
    let mut measured = std::collections::BTreeSet::new();
    let mut checked = std::collections::BTreeSet::new();
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
                measured.insert(line["section"].as_str().unwrap_or_default().to_owned());
            }
            Some("span") => {
                for key in ["lane", "task", "start_s", "end_s", "variant"] {
                    assert!(line.get(key).is_some(), "no {key} in {line}");
                }
            }
            Some("check") => {
                assert_eq!(line["ok"], true, "{line}");
                checked.insert(line["section"].as_str().unwrap_or_default().to_owned());
            }
            other => panic!("unexpected kind {other:?} in {line}"),
        }
    }
    // Every section checks something; all but the two API tours also measure.
    assert_eq!(checked.iter().collect::<Vec<_>>(), {
        let mut all = SECTIONS.to_vec();
        all.sort_unstable();
        all
    });
    for s in SECTIONS.iter().filter(|s| !s.ends_with("_api")) {
        assert!(
            measured.contains(*s),
            "no measurement from {s}: {measured:?}"
        );
    }
    assert!(
        !r.stderr.is_empty(),
        "human text goes to stderr under --json"
    );
}

#[test]
fn help_and_section_list_name_every_section() {
    let r = run(&["--help"]);
    assert_eq!(r.code(), Some(0));
    for needle in SECTIONS.iter().chain(&[
        "004 \"A toy problem\"",
        "002 \"An illustrative example\"",
        "002 \"Executor\" submit, \"Future\"",
        "module functions wait",
        "--latency-ms",
    ]) {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    let list = run(&["--list-sections"]);
    assert_eq!(list.code(), Some(0));
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), SECTIONS);
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
