//! The `report` binary, end to end: rendering a fixture `results.jsonl`, and running a fake
//! example binary (a shell script that speaks the examples' protocol: `--list-sections`, then
//! `<section> --json --scale S [--quick]`) through its success, failure and timeout paths.
//! `scripts/test.sh` also runs `scripts/run_all.sh --quick` on the real examples.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shared::testkit::{Run, run_bin};

const REPORT: &str = env!("CARGO_BIN_EXE_report");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/results.jsonl");

fn report(args: &[&str]) -> Run {
    run_bin(REPORT, args, Duration::from_secs(120))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Fails with the needle and the whole report when `md` lacks `needle`.
#[track_caller]
fn assert_has(md: &str, needle: &str) {
    assert!(md.contains(needle), "REPORT.md lacks {needle:?}:\n{md}");
}

#[test]
fn render_writes_tables_charts_python_and_the_claims_from_fixture_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join("results.jsonl")).unwrap();
    let run = report(&["render", dir.path().to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let md = read(&dir.path().join("REPORT.md"));

    // Machine line and run line.
    assert_has(&md, "**Machine:** Fixture CPU 3000 · 2 cores · 8.0 GiB");
    assert_has(&md, "BLAS: /usr/lib/x86_64-linux-gnu/libopenblas.so.0");
    // One table per section, with efficiency and CPU, and the tutorial's own figure.
    assert_has(&md, "### examples-processes pool");
    assert_has(
        &md,
        "| 2 processes (ProcessPoolExecutor) | 2 | 4.10 s | 1.95× | 2.00× | 98 % | 1.98 |",
    );
    assert_has(&md, "12.80 s (seed 002): 8 scrypt digests serially");
    assert_has(
        &md,
        "13.00 s (seed 002): 8 scrypt digests on ProcessPoolExecutor(4)",
    );
    // The post's 0.11 s is beside its reproduction.
    assert_has(&md, "110 ms (seed 003)");
    // Python beside Rust, with the ratio.
    assert_has(&md, "Python on the same machine");
    assert_has(
        &md,
        "| 2 processes (ProcessPoolExecutor) | 6.30 s | 2 processes (ProcessPoolExecutor) | 4.10 s | 1.54× |",
    );
    // Failures: a failed section and a failed check are named.
    assert_has(&md, "## Failures");
    assert_has(
        &md,
        "**examples-async service_request** (rust): exit status 1",
    );
    assert_has(&md, "check failed in **examples-processes downloads**");
    // A section of the map that produced nothing is listed, not silently dropped.
    assert_has(&md, "## Not measured in this run");
    assert_has(&md, "- examples-simd svd_batch");
    // The wrong claims, with numbers pulled from the lines above.
    assert_has(&md, "## What the tutorials got wrong, measured");
    assert_has(
        &md,
        "Rust, process pool: wall 4.10 s, 1.95× vs its baseline (ideal 2.00×), 1.98 cores busy",
    );
    assert_has(
        &md,
        "Rust, C-extension work under the GIL analogue, 2 threads: 1.95×",
    );
    assert_has(&md, "not measured (not in this run's results");
    // The unreadable line is a warning, not a crash.
    assert_has(&md, "## Warnings");
    assert_has(&md, "line 30: not JSON");

    // Charts: a speed-up chart per measured section, a timeline where spans were recorded.
    let charts = dir.path().join("charts");
    for f in [
        "examples-threads-gil-speedup.svg",
        "examples-processes-pool-speedup.svg",
        "examples-processes-downloads-speedup.svg",
    ] {
        assert!(read(&charts.join(f)).contains("<svg"), "{f}");
        assert_has(&md, &format!("(charts/{f})"));
    }
    let timeline = charts.join(
        "examples-processes-pool-scrypt-of-8-passwords-n-2-7-r-1024-p-32-salt-salt-64-byte-digest-rust-timeline.svg",
    );
    let svg = read(&timeline);
    assert!(svg.contains("worker 0") && svg.contains("worker 1"));
}

#[test]
fn render_of_a_missing_run_is_a_clear_error() {
    let run = report(&["render", "/nonexistent/run"]);
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr
            .contains("cannot read /nonexistent/run/results.jsonl"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_usage_is_exit_code_2() {
    let run = report(&["run"]);
    assert_eq!(run.code(), Some(2), "no binaries: {}", run.stderr);
    let run = report(&["run", "--scale", "0", "--", "x"]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("above 0"));
    let run = report(&["run", "--only", "nocrate", "--", "x"]);
    assert_eq!(run.code(), Some(2));
    let run = report(&["run", "--", "/nonexistent/examples-x"]);
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr.contains("build the examples first"),
        "{}",
        run.stderr
    );
}

/// A fake example crate's binary: sections `fast` (measures, records spans, passes its
/// check), `broken` (exits 1), `noisy` (prints a non-JSON line on stdout) and `hang` (starts
/// a child and never ends).
fn fake_example(dir: &Path) -> PathBuf {
    let path = dir.join("examples-fake");
    let m = |variant: &str, workers: u32, wall: f64, speedup: f64, baseline: bool| {
        format!(
            r#"{{"kind":"measurement","language":"rust","crate":"examples-fake","section":"fast","workload":"two sleeps","variant":"{variant}","workers":{workers},"tasks":2,"wall_s":{wall},"cpu_s":0.01,"ideal_s":{wall},"speedup":{speedup},"ideal_speedup":{speedup},"baseline":{baseline},"argv":"%s"}}"#
        )
    };
    let script = format!(
        r#"#!/bin/sh
case "$1" in
  --list-sections) printf 'fast\nbroken\nnoisy\nhang\n' ;;
  fast)
    printf '{serial}\n' "$*"
    printf '{threads}\n' "$*"
    echo '{{"kind":"span","language":"rust","crate":"examples-fake","section":"fast","workload":"two sleeps","variant":"2 threads","lane":"thread 1","task":0,"start_s":0.0,"end_s":0.1}}'
    echo '{{"kind":"check","crate":"examples-fake","section":"fast","name":"both slept","ok":true,"detail":""}}'
    echo "human text of fast: $*" >&2 ;;
  broken) echo "error in section broken: $EXAMPLES_FAIL_SECTION" >&2; exit 1 ;;
  noisy) echo 'this is not JSON' ;;
  hang) sleep 37.25 & wait ;;
  *) echo "unknown section $1" >&2; exit 2 ;;
esac
"#,
        serial = m("serial", 1, 0.2, 1.0, true),
        threads = m("2 threads", 2, 0.1, 2.0, false),
    );
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn only_run_dir(root: &Path) -> PathBuf {
    let latest = root.join("latest");
    let target = std::fs::read_link(&latest).expect("results/latest is a link");
    root.join(target)
}

#[test]
fn a_failing_section_makes_the_run_fail_and_is_named_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_example(tmp.path());
    let root = tmp.path().join("results");
    let run = run_bin(
        REPORT,
        &[
            "run",
            "--quick",
            "--scale",
            "0.25",
            "--results",
            root.to_str().unwrap(),
            "--only",
            "examples-fake/fast",
            "--only",
            "examples-fake/broken",
            "--only",
            "examples-fake/noisy",
            "--",
            bin.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(run.code(), Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "2 section(s) failed: examples-fake/broken (rust), examples-fake/noisy (rust)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("summary:") && run.stdout.contains("FAILED"));

    let dir = only_run_dir(&root);
    let jsonl = read(&dir.join("results.jsonl"));
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "machine", "the machine line comes first");
    let section = |name: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "section" && l["section"] == name)
            .unwrap_or_else(|| panic!("no section line for {name}"))
    };
    assert_eq!(section("fast")["ok"], true);
    assert_eq!(section("broken")["ok"], false);
    assert_eq!(section("broken")["exit_code"], 1);
    assert!(
        section("noisy")["reason"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    // The flags reached the section, and check lines got their language.
    let measurement = lines.iter().find(|l| l["kind"] == "measurement").unwrap();
    assert_eq!(measurement["argv"], "fast --json --scale 0.25 --quick");
    let check = lines.iter().find(|l| l["kind"] == "check").unwrap();
    assert_eq!(check["language"], "rust");
    // Human text went to the section's log.
    assert!(read(&dir.join("logs/examples-fake-fast-rust.log")).contains("human text of fast"));

    let md = read(&dir.join("REPORT.md"));
    assert_has(&md, "**examples-fake broken** (rust): exit status 1");
    assert_has(
        &md,
        "| two sleeps | serial | 1 | 200 ms | 1.00× (baseline) |",
    );
    assert!(dir.join("charts/examples-fake-fast-speedup.svg").is_file());
    assert!(
        dir.join("charts/examples-fake-fast-two-sleeps-rust-timeline.svg")
            .is_file()
    );
}

#[test]
fn a_passing_run_exits_0_and_rerendering_gives_the_same_report() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_example(tmp.path());
    let root = tmp.path().join("results");
    let args = [
        "run",
        "--results",
        root.to_str().unwrap(),
        "--only",
        "examples-fake/fast",
        "--",
        bin.to_str().unwrap(),
    ];
    let run = report(&args);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let dir = only_run_dir(&root);
    let first = read(&dir.join("REPORT.md"));
    let again = report(&["render", dir.to_str().unwrap()]);
    assert_eq!(again.code(), Some(0), "{}", again.stderr);
    assert_eq!(read(&dir.join("REPORT.md")), first);
}

#[test]
fn a_hanging_section_is_killed_with_its_children_at_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_example(tmp.path());
    let root = tmp.path().join("results");
    let run = report(&[
        "run",
        "--timeout-s",
        "1",
        "--results",
        root.to_str().unwrap(),
        "--only",
        "examples-fake/hang",
        "--",
        bin.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("examples-fake/hang (rust)"));
    let md = read(&only_run_dir(&root).join("REPORT.md"));
    assert_has(&md, "timed out after 1 s and was killed");
    // The section's own child (`sleep 37.25`) died with it: the whole group was killed. The
    // kernel may take a moment to tear a killed process down, so this waits for that (up to
    // 10 s, far below the 37 s the child would live if it had not been killed).
    let survivors = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains("sleep 37.25"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !survivors().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(survivors(), Vec::<String>::new(), "left running");
}
