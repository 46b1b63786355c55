//! Runs the real binary: every section with `--quick --json`, the forced fallback, bad flags.
//! What a section measured and checked is read from its JSON lines; the human text (on stderr
//! under `--json`) is read only for what has no JSON line.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use shared::testkit::{Run, run_bin, run_command};

const BIN: &str = env!("CARGO_BIN_EXE_examples-simd");
const TIMEOUT: Duration = Duration::from_secs(180);

/// A section at quick sizes with 2 workers, under `--json`: it must exit 0, and every check
/// it emitted must have passed.
fn quick(section: &str, extra: &[&str]) -> Run {
    let mut args = vec![section, "--quick", "--workers", "2", "--json"];
    args.extend_from_slice(extra);
    let run = run_bin(BIN, &args, TIMEOUT);
    assert_eq!(run.code(), Some(0), "{section} failed\n{}", run.stderr);
    let failed: Vec<Value> = run
        .json_of_kind("check")
        .into_iter()
        .filter(|c| c["ok"] != true)
        .collect();
    assert!(failed.is_empty(), "{section}: failed checks {failed:?}");
    for m in run.json_of_kind("measurement") {
        assert_eq!(m["section"], section, "{m}");
    }
    run
}

/// The checks a run emitted, by name (each one passed: [`quick`] saw to it).
fn checks(run: &Run) -> Vec<String> {
    run.json_of_kind("check")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The measurements of the workload whose name starts with `workload`, as (variant, line).
fn rows(run: &Run, workload: &str) -> Vec<(String, Value)> {
    run.json_of_kind("measurement")
        .into_iter()
        .filter(|m| m["workload"].as_str().unwrap_or("").starts_with(workload))
        .map(|m| (m["variant"].as_str().unwrap().to_owned(), m))
        .collect()
}

fn variants(rows: &[(String, Value)]) -> Vec<&str> {
    rows.iter().map(|(v, _)| v.as_str()).collect()
}

#[test]
fn svd_batch_sweeps_the_sizes_checks_each_and_states_the_crossover() {
    let run = quick("svd_batch", &[]);
    let sizes = [
        "(4, 8, 8)",
        "(6, 1000, 10)",
        "(2000, 4, 4)",
        "(6, 200, 50)",
        "(8, 400, 100)",
    ];
    for size in sizes {
        let r = rows(&run, size);
        assert_eq!(
            variants(&r),
            ["serial", "rayon, 2 threads", "thread::scope, 2 chunks"],
            "{size}"
        );
        assert!(r[0].1["reps"].as_u64().unwrap() >= 1, "{size}: {:?}", r[0]);
    }
    assert!(!rows(&run, "(6, 1000, 10), the tutorial's size").is_empty());
    let checks = checks(&run);
    assert_eq!(checks.len(), 2 * sizes.len(), "{checks:?}");
    for name in [
        "rayon: same singular values as serial",
        "thread::scope: same singular values as serial",
    ] {
        assert_eq!(checks.iter().filter(|c| *c == name).count(), sizes.len());
    }
    let text = &run.stderr;
    assert!(text.contains("OpenBLAS held at 1 thread"), "{text}");
    assert!(text.contains("Crossover:"), "{text}");
}

#[test]
fn blas_threads_sets_the_librarys_threads_and_checks_every_combination() {
    let run = quick("blas_threads", &[]);
    let cores = shared::system::cores();
    let r = rows(&run, "(8, 400, 100): OpenBLAS's threads");
    let both = format!("rayon 2 x OpenBLAS {cores} = {} threads", 2 * cores);
    let inside = format!(
        "serial, OpenBLAS {} inside",
        shared::output::count(cores, "thread")
    );
    assert_eq!(
        variants(&r),
        ["serial", "rayon 2 x OpenBLAS 1 = 2 threads", &inside, &both]
    );
    // What OpenBLAS reported while each ran: the count the section set through its C API.
    let blas: Vec<u64> = r[1..]
        .iter()
        .map(|(_, m)| m["blas_threads"].as_u64().unwrap())
        .collect();
    assert_eq!(blas[0], 1);
    assert_eq!(blas[1], blas[2]);
    assert_eq!(blas[1] > 1, cores > 1, "{blas:?}");
    assert_eq!(
        checks(&run),
        [
            "rayon 2 x OpenBLAS 1 = 2 threads: same singular values".to_owned(),
            format!("{inside}: same singular values"),
            format!("{both}: same singular values"),
        ]
    );
    assert!(run.stderr.contains("The rule: one level of parallelism"));
}

#[test]
fn fft_compares_the_planners_and_the_batch() {
    let run = quick("fft", &[]);
    let one = rows(&run, "one forward FFT of 40000 points");
    assert_eq!(one[0].0, "scalar (FftPlannerScalar)");
    assert!(
        one.iter()
            .all(|(_, m)| m["gflop_s"].as_f64().unwrap() > 0.0)
    );
    let batch = rows(&run, "32 forward FFTs of 4096 points");
    assert_eq!(variants(&batch), ["serial", "rayon, 2 threads"]);
    let checks = checks(&run);
    assert!(checks.contains(&"rayon: every transform bit-for-bit equal to serial".to_owned()));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("fma") {
        assert_eq!(
            variants(&one),
            [
                "scalar (FftPlannerScalar)",
                "SSE4.1 (FftPlannerSse)",
                "AVX+FMA (FftPlannerAvx)"
            ]
        );
        assert!(checks.contains(&"AVX+FMA (FftPlannerAvx): same spectrum as scalar".to_owned()));
    }
}

#[test]
fn simd_measures_the_ceiling_and_four_ways_from_memory_and_in_cache() {
    let run = quick("simd", &[]);
    let read = rows(&run, "memory bandwidth");
    assert_eq!(
        variants(&read),
        ["streaming read, 1 core", "streaming read, 2 threads"]
    );
    for workload in [
        "dot product of 1048576 f32 from memory",
        "the same kernels on 4096 f32",
    ] {
        let r = rows(&run, workload);
        assert_eq!(r.len(), 4, "{workload}");
        assert_eq!(r[0].0, "scalar loop (one dependency chain)");
        assert_eq!(r[1].0, "16 accumulators (compiler-vectorised)");
        assert!(r[3].0.ends_with(", 2 threads"), "{:?}", r[3].0);
        assert!(r.iter().all(|(_, m)| m["gflop_s"].as_f64().unwrap() > 0.0));
    }
    for m in run.json_of_kind("measurement") {
        assert!(m["gb_s"].as_f64().unwrap() > 0.0, "{m}");
    }
    let checks = checks(&run);
    assert_eq!(checks.len(), 7, "{checks:?}");
    assert_eq!(checks[0], "parallel read: same checksum as serial");
    assert!(
        checks[1..]
            .iter()
            .all(|c| c.ends_with(": agrees with the scalar loop"))
    );
    assert!(run.stderr.contains("float addition is not associative"));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        let r = rows(&run, "the same kernels on 4096 f32");
        assert_eq!(r[2].0, "explicit AVX2+FMA");
        assert_eq!(r[3].0, "explicit AVX2+FMA, 2 threads");
    }
}

#[test]
fn simd_fallback_is_forced_by_the_environment_or_the_flag() {
    for (env, flag) in [
        (Some("1"), None),
        (Some("true"), None),
        (None, Some("--force-scalar")),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["simd", "--quick", "--workers", "2", "--json"]);
        cmd.env_remove("EXAMPLES_SIMD_FORCE_SCALAR");
        if let Some(v) = env {
            cmd.env("EXAMPLES_SIMD_FORCE_SCALAR", v);
        }
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let run = run_command(&mut cmd, TIMEOUT);
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        assert!(run.stderr.contains("Explicit kernel: portable fallback"));
        let measured = run.json_of_kind("measurement");
        assert!(
            measured
                .iter()
                .all(|m| !m["variant"].as_str().unwrap().contains("explicit AVX2")),
            "{measured:?}"
        );
        let fallback = run
            .json_of_kind("check")
            .into_iter()
            .find(|c| c["name"] == "portable fallback (no AVX2+FMA): agrees with the scalar loop")
            .expect("the fallback kernel is checked");
        assert_eq!(fallback["ok"], true);
    }
    // "0" leaves the detected kernel.
    let mut cmd = Command::new(BIN);
    cmd.args(["simd", "--quick"])
        .env("EXAMPLES_SIMD_FORCE_SCALAR", "0");
    let run = run_command(&mut cmd, TIMEOUT);
    assert_eq!(run.code(), Some(0));
    assert!(run.stdout.contains("Explicit kernel: "), "{}", run.stdout);
    assert!(!run.stdout.contains("--force-scalar /"), "{}", run.stdout);
}

#[test]
fn numba_writes_only_json_lines_with_the_documented_keys() {
    let run = quick("numba", &[]);
    let measurements = run.json_of_kind("measurement");
    assert_eq!(measurements.len(), 2);
    for m in &measurements {
        for key in [
            "kind",
            "language",
            "crate",
            "section",
            "workload",
            "variant",
            "workers",
            "tasks",
            "wall_s",
            "cpu_s",
            "ideal_s",
            "speedup",
            "cores",
            "scale",
            "quick",
            "msamples_s",
        ] {
            assert!(m.get(key).is_some(), "missing {key} in {m}");
        }
        assert_eq!(m["crate"], "examples-simd");
    }
    assert_eq!(measurements[1]["variant"], "par_iter, 2 threads");
    assert_eq!(
        checks(&run),
        [
            "par_iter: exactly the serial hit count",
            "the estimate is within 5 standard errors of pi"
        ]
    );
    // Every stdout line is JSON (json_lines panics on any other); human text went to stderr.
    assert_eq!(run.json_lines().len(), 4);
    assert!(
        run.stderr.contains("=== examples-simd numba"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    for args in [
        &["--workers", "0"][..],
        &["--scale", "-1"],
        &["no_such_section"],
        &["--no-such-flag"],
    ] {
        let run = run_bin(BIN, args, TIMEOUT);
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["simd", "--quick"])
        .env("EXAMPLES_SIMD_FORCE_SCALAR", "banana");
    let run = run_command(&mut cmd, TIMEOUT);
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("banana"), "{}", run.stderr);
}

#[test]
fn help_names_each_section_and_the_tutorial_it_mirrors() {
    let run = run_bin(BIN, &["--help"], TIMEOUT);
    assert_eq!(run.code(), Some(0));
    for s in [
        "svd_batch",
        "blas_threads",
        "fft",
        "simd",
        "numba",
        "002 \"Exercise\"",
        "004 \"Parallelism and concurrency in C extensions\"",
        "004 \"A toy problem\"",
        "000 \"Numba\"",
        "--force-scalar",
    ] {
        assert!(
            run.stdout.contains(s),
            "{s} missing from --help:\n{}",
            run.stdout
        );
    }
    let run = run_bin(BIN, &["--list-sections"], TIMEOUT);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["svd_batch", "blas_threads", "fft", "simd", "numba"]
    );
}
