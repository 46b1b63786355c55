//! # A library's own threads: OpenBLAS's, ours, or both at once
//!
//! Mirrors seed 004 (the 2020 talk), "Parallelism and concurrency in C extensions": a C
//! extension may run a threading model of its own (NumPy's LAPACK is OpenBLAS, with a thread
//! per core inside each call), and the talk advises combining such libraries with parallelism
//! on the Python side. On seed 002's batch of SVDs, that combination is measured here.
//!
//! The lesson: use one level of threads. Each of our threads asking OpenBLAS for a thread per
//! core means threads x threads on the same cores; they queue for the library's helpers and
//! gain nothing, because every core already had a whole SVD of its own. Many independent
//! matrices: parallelise outside and hold the library at 1 thread. One large matrix: call it
//! serially and let the library use the cores.
//!
//! Run: `cargo run --release -p examples-simd -- blas_threads`
//!
//! Output: the benchmark batch of `svd_batch`, (16, 2000, 500), serially with OpenBLAS at 1
//! thread (the baseline), with rayon outside (OpenBLAS at 1), with OpenBLAS's threads inside
//! (serial outside), and with both; then why the oversubscribed combination is no faster.
//!
//! The talk's "Disadvantage: can only be done in C" is wrong: the LAPACK call and OpenBLAS's
//! thread control (`openblas_set_num_threads`, called through its C API) are Rust, in
//! `shared/src/linalg.rs`.

use anyhow::Result;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, ArrayView3, Axis};
use rayon::ThreadPool;
use shared::linalg::{self, REL_TOL, Threads, singular_values};
use shared::measure::ideal;
use shared::workloads::{matrix_batch, max_rel_diff_rows};
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::count;

/// The batch (k matrices of m x n): seed 002's exercise at the size where parallel pays.
pub const SIZE: (usize, usize, usize) = (16, 2000, 500);
/// The same under `--quick`.
pub const QUICK_SIZE: (usize, usize, usize) = (8, 400, 100);

/// The batch's singular values, one row per matrix: one matrix after another, or, with a
/// pool, the matrices spread over its threads (the outer level of threads).
pub fn batch(b: ArrayView3<'_, f64>, pool: Option<&ThreadPool>) -> Result<Vec<Array1<f64>>> {
    match pool {
        None => b.outer_iter().map(singular_values).collect(),
        // Each task reads its own matrix and returns its own row: nothing shared, no lock.
        Some(pool) => pool.install(|| {
            b.axis_iter(Axis(0))
                .into_par_iter()
                .map(singular_values)
                .collect()
        }),
    }
}

/// Largest difference between two results, each row relative to its largest singular value.
pub fn max_rel_diff(a: &[Array1<f64>], b: &[Array1<f64>]) -> f64 {
    max_rel_diff_rows(a.iter(), b.iter())
}

/// Why threads inside the library plus threads outside it do not add up.
fn explain_oversubscription(ours: usize, cores: usize) {
    say!("  Why: each of our {ours} threads asks OpenBLAS for {cores} threads at once.");
    if linalg::threading_model() == "pthreads" {
        say!(
            "  This pthreads build has one pool of {} helper thread(s) for the whole process,",
            cores.saturating_sub(1)
        );
        say!("  and its multi-threaded level-3 calls take one process-wide lock (level3_lock in");
        say!(
            "  driver/level3/level3_thread.c). So the threaded parts of concurrent SVDs queue for"
        );
        say!("  the same helpers and the same lock, and a thread waiting for a helper spins");
        say!("  (sched_yield) instead of sleeping, taking CPU time from the threads doing work.");
    } else {
        say!(
            "  Each call starts its own team of threads, so {ours} calls run {} threads on",
            ours * cores
        );
        say!("  {cores} cores, and the operating system time-slices them.");
    }
    say!("  The hand-offs buy nothing when every core already has a whole SVD of its own.");
    say!("  Inside one SVD the library's threads help only the level-3 parts (the QR, half of");
    say!("  the reduction to bidiagonal form); the rest of dgesdd is level-2 work bound by");
    say!("  memory, where extra threads add little.");
}

/// Measures the batch with OpenBLAS's threads, ours, and both, each checked against serial,
/// and explains the combination.
pub fn run(args: &Args) -> Result<()> {
    linalg::settle_after_load();
    let c = &args.common;
    let cores = shared::system::cores();
    let ours = c.workers_or(cores);
    let (k, m, n) = c.size(SIZE, QUICK_SIZE);
    let mut s = Bench::new("examples-simd", "blas_threads", c);
    s.title("seed 004 C extensions' own threads: OpenBLAS's threads and ours");
    say!(
        "  OpenBLAS: {} threading, {} threads by default (kernels for {}).",
        linalg::threading_model(),
        linalg::threads(),
        linalg::core_name(),
    );
    let matrices = matrix_batch(c.seed, k, m, n);
    let matrices = matrices.view();

    crate::with_pool(ours, |pool| -> Result<()> {
        s.workload(&format!(
            "({k}, {m}, {n}): OpenBLAS's threads (set with openblas_set_num_threads) and ours"
        ));
        let expected = {
            let _one = Threads::set(1);
            s.measure(Variant::serial(k), |_| batch(matrices, None))?
        };
        let serial_s = s.baseline_s().unwrap_or_default();

        // OpenBLAS at 1 thread first: once its helpers have worked they spin for a while, which
        // would be charged to whatever ran next.
        let mut speedups = Vec::new();
        for (outer, inner) in [(Some(ours), 1), (None, cores), (Some(ours), cores)] {
            // New: the library's thread count, held by a guard that restores it on drop.
            let _inner = Threads::set(inner);
            let threads = outer.unwrap_or(1) * inner;
            let name = match outer {
                None => format!("serial, OpenBLAS {} inside", count(inner, "thread")),
                Some(o) => format!(
                    "rayon {o} x OpenBLAS {inner} = {}",
                    count(threads, "thread")
                ),
            };
            let ideal_s = ideal::cpu_bound(serial_s, threads, k * inner);
            let got = s.measure(Variant::new(&name, threads, k).ideal_s(ideal_s), |ctx| {
                ctx.set("blas_threads", linalg::threads());
                batch(matrices, outer.map(|_| pool))
            })?;
            speedups.push(s.last().and_then(|m| m.speedup).unwrap_or_default());
            let diff = max_rel_diff(&got, &expected);
            s.check(
                &format!("{name}: same singular values"),
                diff <= REL_TOL,
                format!("max rel. diff {diff:.1e}"),
            );
        }

        let (outer, lib, both) = (speedups[0], speedups[1], speedups[2]);
        let compared = match both / outer.max(f64::MIN_POSITIVE) {
            r if r < 0.95 => "slower than ours alone",
            r if r > 1.05 => "faster than ours alone: a noisy run? try again",
            _ => "no better than ours alone",
        };
        say!();
        say!("  OpenBLAS's threads alone: {lib:.2}x. Ours alone (OpenBLAS at 1): {outer:.2}x.");
        say!(
            "  Both at once: {both:.2}x, {} threads asking for {cores} cores: {compared}.",
            ours * cores
        );
        explain_oversubscription(ours, cores);
        // The library's helpers have just worked: let them go idle before anything else is timed.
        linalg::settle();
        say!(
            "  The rule: one level of parallelism. Many independent matrices: parallelise outside"
        );
        say!("  and hold the library at 1 thread (openblas_set_num_threads(1) here; in Python");
        say!(
            "  OPENBLAS_NUM_THREADS=1 before NumPy loads, or threadpoolctl). One large matrix: call"
        );
        say!("  it serially and let the library use the cores. Never threads x threads > cores.");
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    // The thread count itself is OpenBLAS's global setting, changed only between calls: it is
    // tested in shared's own tests and through the binary (tests/cli.rs), not beside the
    // other SVD tests running in this process.

    #[test]
    fn the_batch_on_our_threads_equals_the_serial_batch() {
        let b = matrix_batch(5, 7, 40, 6);
        let expected = batch(b.view(), None).unwrap();
        assert_eq!(expected.len(), 7);
        for (i, row) in expected.iter().enumerate() {
            assert_eq!(row, &singular_values(b.index_axis(Axis(0), i)).unwrap());
        }
        for workers in [1, 2, 3] {
            let got = crate::with_pool(workers, |p| batch(b.view(), Some(p)))
                .unwrap()
                .unwrap();
            assert!(
                max_rel_diff(&got, &expected) <= REL_TOL,
                "{workers} workers"
            );
        }
    }

    #[test]
    fn the_check_notices_a_wrong_row() {
        let a = vec![ndarray::array![3.0, 1.0], ndarray::array![2.0, 0.5]];
        let mut b = a.clone();
        b[1][1] += 1e-6;
        assert!(max_rel_diff(&a, &b) > REL_TOL);
        assert_eq!(max_rel_diff(&a, &a), 0.0);
        assert_eq!(max_rel_diff(&a, &a[..1]), f64::INFINITY);
    }
}
