//! Runs the real binary: every section with `--quick`, `--json`, the forced fallback, bad flags.

use std::process::Command;
use std::time::Duration;

use shared::testkit::{Run, run_bin, run_command};

const BIN: &str = env!("CARGO_BIN_EXE_examples-simd");
const TIMEOUT: Duration = Duration::from_secs(180);

fn quick(section: &str, extra: &[&str]) -> Run {
    let mut args = vec![section, "--quick", "--scale", "0.01", "--workers", "2"];
    args.extend_from_slice(extra);
    let run = run_bin(BIN, &args, TIMEOUT);
    assert_eq!(
        run.code(),
        Some(0),
        "{section} failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
    run
}

/// The rows a section printed, by their first words.
fn has_rows(out: &str, rows: &[&str]) {
    for row in rows {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(row)),
            "no row starting {row:?} in:\n{out}"
        );
    }
}

#[test]
fn svd_batch_sweeps_sizes_states_the_crossover_and_measures_oversubscription() {
    let out = quick("svd_batch", &[]).stdout;
    assert!(out.contains("=== examples-simd svd_batch"), "{out}");
    assert!(out.contains("OpenBLAS held at 1 thread"), "{out}");
    has_rows(
        &out,
        &[
            "serial",
            "rayon, 2 threads",
            "thread::scope, 2 chunks",
            "(6, 1000, 10)",
        ],
    );
    assert!(
        out.contains("--- (2000, 4, 4), many tiny matrices"),
        "{out}"
    );
    assert!(out.contains("Crossover:"), "{out}");
    assert!(out.contains("rayon 2 x OpenBLAS 2 = 4 threads"), "{out}");
    assert!(out.contains("serial, OpenBLAS 2 threads inside"), "{out}");
    assert!(out.contains("The rule: one level of parallelism"), "{out}");
    assert!(
        out.contains("rayon: same singular values as serial"),
        "{out}"
    );
}

#[test]
fn fft_compares_the_planners_and_the_batch() {
    let out = quick("fft", &[]).stdout;
    assert!(out.contains("one forward FFT of 40000 points"), "{out}");
    has_rows(
        &out,
        &["scalar (FftPlannerScalar)", "serial", "rayon, 2 threads"],
    );
    assert!(out.contains("gflop_s="), "{out}");
    assert!(out.contains("32 forward FFTs of 4096 points"), "{out}");
    assert!(out.contains("[ok    ] rayon: every transform bit-for-bit equal to serial"));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("fma") {
        has_rows(&out, &["AVX+FMA (FftPlannerAvx)", "SSE4.1 (FftPlannerSse)"]);
        assert!(out.contains("AVX+FMA (FftPlannerAvx): same spectrum as scalar"));
    }
}

#[test]
fn simd_measures_the_ceiling_and_four_ways() {
    let out = quick("simd", &[]).stdout;
    has_rows(
        &out,
        &[
            "streaming read, 1 core",
            "streaming read, 2 threads",
            "scalar loop (one dependency chain)",
            "16 accumulators (compiler-vectorised)",
        ],
    );
    assert!(out.contains("gb_s="), "{out}");
    assert!(
        out.contains("dot product of 1048576 f32 from memory"),
        "{out}"
    );
    assert!(out.contains("in L1 cache"), "{out}");
    assert!(out.contains("float addition is not associative"), "{out}");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        has_rows(&out, &["explicit AVX2+FMA", "explicit AVX2+FMA, 2 threads"]);
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
        cmd.args(["simd", "--quick", "--workers", "2"]);
        cmd.env_remove("EXAMPLES_SIMD_FORCE_SCALAR");
        if let Some(v) = env {
            cmd.env("EXAMPLES_SIMD_FORCE_SCALAR", v);
        }
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let run = run_command(&mut cmd, TIMEOUT);
        assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout, run.stderr);
        let out = &run.stdout;
        assert!(out.contains("Explicit kernel: portable fallback"), "{out}");
        assert!(!out.contains("explicit AVX2+FMA"), "{out}");
        assert!(
            out.contains("[ok    ] portable fallback (no AVX2+FMA): agrees with the scalar loop"),
            "{out}"
        );
        assert!(!out.contains("FAILED"), "{out}");
    }
    // "0" leaves the detected kernel.
    let mut cmd = Command::new(BIN);
    cmd.args(["simd", "--quick"])
        .env("EXAMPLES_SIMD_FORCE_SCALAR", "0");
    let run = run_command(&mut cmd, TIMEOUT);
    assert_eq!(run.code(), Some(0));
    assert!(run.stdout.contains("Explicit kernel: "), "{}", run.stdout);
}

#[test]
fn numba_parallel_count_equals_serial() {
    let out = quick("numba", &[]).stdout;
    has_rows(&out, &["serial", "par_iter, 2 threads"]);
    assert!(
        out.contains("[ok    ] par_iter: exactly the serial hit count"),
        "{out}"
    );
    assert!(out.contains("msamples_s="), "{out}");
}

#[test]
fn json_output_is_only_json_lines_with_the_documented_keys() {
    let run = quick("numba", &["--json"]);
    let lines = run.json_lines();
    assert!(!lines.is_empty());
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
        assert_eq!(m["section"], "numba");
    }
    let checks = run.json_of_kind("check");
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    // Human text went to stderr.
    assert!(
        run.stderr.contains("=== examples-simd numba"),
        "{}",
        run.stderr
    );

    let run = quick("simd", &["--json"]);
    for m in run.json_of_kind("measurement") {
        assert!(m.get("gb_s").is_some(), "{m}");
    }
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
        "fft",
        "simd",
        "numba",
        "002",
        "004",
        "000",
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
        ["svd_batch", "fft", "simd", "numba"]
    );
}
