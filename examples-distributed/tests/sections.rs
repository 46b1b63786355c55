//! Every section, run as a real MPI job (`mpiexec -n 3` on the built binary) at small sizes.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use shared::testkit::{Run, run_command};

const BIN: &str = env!("CARGO_BIN_EXE_examples-distributed");
const TIMEOUT: Duration = Duration::from_secs(120);

/// `mpiexec -n 3 <bin> <args> --quick --json`, which must succeed with every check ok.
fn mpiexec(args: &[&str]) -> Run {
    let r = run_command(
        Command::new("mpiexec")
            .args(["-n", "3", BIN])
            .args(args)
            .args(["--quick", "--json"]),
        TIMEOUT,
    );
    assert_eq!(
        r.code(),
        Some(0),
        "{args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    let checks = r.json_of_kind("check");
    assert!(!checks.is_empty(), "no checks in\n{}", r.stdout);
    for c in &checks {
        assert_eq!(c["ok"], true, "failed check {c}\nstderr:\n{}", r.stderr);
    }
    r
}

/// How many check lines are named `name` (every check passed: [`mpiexec`] asserts it).
fn checks_named(r: &Run, name: &str) -> usize {
    r.json_of_kind("check")
        .iter()
        .filter(|c| c["name"] == name)
        .count()
}

/// Each of `names` is among the checks.
fn assert_checks(r: &Run, names: &[&str]) {
    for name in names {
        assert!(
            checks_named(r, name) > 0,
            "missing check {name:?}\n{}",
            r.stdout
        );
    }
}

/// Task ids of the spans of each (workload, variant), with their lanes.
fn spans_by_variant(r: &Run) -> BTreeMap<(String, String), Vec<(u64, String)>> {
    let mut m: BTreeMap<(String, String), Vec<(u64, String)>> = BTreeMap::new();
    for s in r.json_of_kind("span") {
        let key = (
            s["workload"].as_str().unwrap_or_default().to_owned(),
            s["variant"].as_str().unwrap_or_default().to_owned(),
        );
        let lane = s["lane"].as_str().unwrap_or_default().to_owned();
        m.entry(key)
            .or_default()
            .push((s["task"].as_u64().unwrap(), lane));
    }
    m
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

#[test]
fn executor_digests_and_singular_values_equal_serial() {
    let r = mpiexec(&["executor"]);
    // Every check passed (`mpiexec` asserts it), and these are among them: the digests are
    // hashlib's for the --quick parameters, the singular values serial's.
    assert_checks(
        &r,
        &[
            "submit: the digest equals Python's hashlib",
            "map: digests in input order, identical to serial",
            "as_completed yields every future once, digests identical to serial",
            "as_completed: every task done exactly once",
            "the 8 digests equal Python's hashlib for these parameters",
            "map: singular values equal the serial ones",
            "map: every task done exactly once",
            "submit each: right results, every task done exactly once",
            "map(chunksize): right results, in order",
        ],
    );
    // Every measured pool variant ran each task exactly once, on worker ranks only.
    let mut pools = 0;
    for ((workload, variant), spans) in spans_by_variant(&r) {
        if variant == "serial" {
            assert!(spans.iter().all(|(_, lane)| lane == "rank 0"));
            continue;
        }
        pools += 1;
        let mut ids: Vec<u64> = spans.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let first = ids[0];
        assert_eq!(
            ids,
            (first..first + ids.len() as u64).collect::<Vec<_>>(),
            "{workload} / {variant}"
        );
        assert!(
            spans
                .iter()
                .all(|(_, lane)| lane == "rank 1" || lane == "rank 2"),
            "{workload} / {variant}: {spans:?}"
        );
    }
    assert!(pools >= 4, "scrypt map, as_completed, two SVD maps");
    let ms = r.json_of_kind("measurement");
    assert!(ms.iter().all(
        |m| str_of(m, "crate") == "examples-distributed" && str_of(m, "section") == "executor"
    ));
    let round_trip = ms
        .iter()
        .find(|m| str_of(m, "variant") == "1 worker rank, submit then result")
        .expect("the round-trip row");
    assert!(round_trip["us_per_task"].is_f64(), "{round_trip}");
}

#[test]
fn scatter_gather_does_every_matrix_once_on_both_schedules() {
    let r = mpiexec(&["scatter_gather"]);
    // One check per variant and batch: both batches run static and pool, the tiny one also
    // the pool with a chunksize.
    let same = "singular values equal the serial ones, every task done exactly once";
    for (variant, batches) in [("static", 2), ("pool", 2), ("pool with chunksize", 1)] {
        let name = format!("{variant}: {same}");
        assert_eq!(checks_named(&r, &name), batches, "{name}\n{}", r.stdout);
    }
    let spans = spans_by_variant(&r);
    let uneven: Vec<_> = spans
        .iter()
        .filter(|((w, _), _)| w.starts_with("uneven"))
        .collect();
    assert_eq!(uneven.len(), 3, "serial, static, pool: {:?}", spans.keys());
    for ((_, variant), s) in uneven {
        let mut ids: Vec<u64> = s.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        if variant.starts_with("static") {
            // Static: the matrices are numbered in the batch, 12 under --quick.
            assert_eq!(ids, (0..12).collect::<Vec<_>>());
            // Contiguous blocks: rank 1 has the first half, rank 2 the second.
            assert!(
                s.iter().all(|(id, lane)| (*id < 6) == (lane == "rank 1")),
                "{s:?}"
            );
        } else {
            assert_eq!(ids.len(), 12);
            ids.dedup();
            assert_eq!(ids.len(), 12, "{variant}: a task ran twice");
        }
    }
    assert!(r.stderr.contains("busy: rank 1 "), "{}", r.stderr);
}

#[test]
fn cluster_starts_a_real_job_from_a_hostfile() {
    let r = mpiexec(&["cluster"]);
    assert_checks(
        &r,
        &[
            "the demo job's 4 ranks each reported once, each its own new process",
            "127.0.0.1 and localhost are this host",
        ],
    );
    // What the section shows besides its checks: the hostfile and what each host needs.
    assert!(r.stderr.contains("127.0.0.1:2"), "{}", r.stderr);
    assert!(r.stderr.contains("passwordless ssh"), "{}", r.stderr);
    let ms = r.json_of_kind("measurement");
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["workers"], 4);
}

#[test]
fn only_rank_0_prints_on_stdout() {
    let r = mpiexec(&["cluster"]);
    // Every stdout line is one JSON object (json_lines panics otherwise), from rank 0.
    assert!(
        r.json_lines()
            .iter()
            .all(|l| l["crate"] == "examples-distributed")
    );
}
