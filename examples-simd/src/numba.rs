//! # Numba's parallel loops: a compiled loop on every core, same answer to the last bit
//!
//! Mirrors seed 000 (Concurrency & Parallelism) "Numba": Numba compiles a Python loop to
//! machine code and, with `parallel=True` and `prange`, runs it on real threads that never
//! touch the GIL, "one of the unique cases" of true parallel threads in Python.
//!
//! The lesson: in Rust every thread is like that. A loop-heavy kernel (Monte-Carlo pi: draw
//! points in the unit square, count those inside the quarter circle) goes from a serial loop
//! to all cores by turning the loop over chunks into `par_iter`, and the speed-up is about
//! the number of cores. The result is identical, not just close: each chunk draws from its
//! own seeded random stream, so the numbers do not depend on which thread ran which chunk
//! (Numba's `np.random` in `prange` gives each thread its own state instead, so its result
//! changes with the thread count), and the hit counts are integers, so the order of the sum
//! cannot matter.
//!
//! Run: `cargo run --release -p examples-simd -- numba`
//!
//! Output: serial and `par_iter` rows (speed-up about the cores, about that many cores busy),
//! the samples per second, the estimate of pi, and the check that both counts are equal.
//!
//! Numba recognises `hits += 1` inside `prange` as a reduction. Rust does not guess: a
//! parallel closure may not write to a shared counter, and the reduction is spelled `sum()`:
//!
//! ```compile_fail,E0594
//! use rayon::prelude::*;
//! let mut hits = 0_u64;
//! (0..1000_u64).into_par_iter().for_each(|i| {
//!     if i % 3 == 0 {
//!         hits += 1; // a data race in C; here, error E0594
//!     }
//! });
//! ```

use anyhow::Result;
use rand::Rng;
use rayon::prelude::*;
use shared::measure::ideal;
use shared::workloads::rng;
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// Points drawn at full size.
pub const SAMPLES: u64 = 1 << 26;
/// Points drawn under `--quick`.
pub const QUICK_SAMPLES: u64 = 1 << 21;
/// Points per chunk: the unit of work and of random streams (the last chunk may be shorter).
pub const CHUNK: u64 = 1 << 16;

/// The kernel, as Numba would compile it: `samples` points from chunk `chunk`'s stream,
/// counting those with `x² + y² < 1`.
pub fn hits_in_chunk(seed: u64, chunk: u64, samples: u64) -> u64 {
    let mut r = rng(seed, chunk);
    let mut hits = 0;
    for _ in 0..samples {
        let (x, y): (f64, f64) = (r.random(), r.random());
        if x * x + y * y < 1.0 {
            hits += 1;
        }
    }
    hits
}

/// Number of chunks for `total` points.
pub fn chunks(total: u64) -> u64 {
    total.div_ceil(CHUNK)
}

fn chunk_len(total: u64, chunk: u64) -> u64 {
    CHUNK.min(total - chunk * CHUNK)
}

/// The plain loop over the chunks.
pub fn serial(seed: u64, total: u64) -> u64 {
    (0..chunks(total))
        .map(|c| hits_in_chunk(seed, c, chunk_len(total, c)))
        .sum()
}

/// The same loop with `prange`: the chunks spread over the pool's threads.
pub fn parallel(seed: u64, total: u64, pool: &rayon::ThreadPool) -> u64 {
    // Why nothing is shared: each chunk has its own generator and returns its own count;
    // `sum()` adds the counts as they come back. There is no lock and no interpreter to
    // release: the threads are free from the start.
    pool.install(|| {
        (0..chunks(total))
            // New: `into_par_iter` where the serial loop had a plain range.
            .into_par_iter()
            .map(|c| hits_in_chunk(seed, c, chunk_len(total, c)))
            .sum()
    })
}

/// The estimate of pi from a hit count.
pub fn estimate(hits: u64, total: u64) -> f64 {
    4.0 * hits as f64 / total.max(1) as f64
}

/// Standard error of [`estimate`] for `total` points.
pub fn std_error(total: u64) -> f64 {
    let p = std::f64::consts::FRAC_PI_4;
    4.0 * (p * (1.0 - p) / total.max(1) as f64).sqrt()
}

/// The hit count serially and with `par_iter`, each checked, and the estimate of pi.
pub fn run(args: &Args) -> Result<()> {
    shared::linalg::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let total = c.size(SAMPLES, QUICK_SAMPLES);
    let mut s = Bench::new("examples-simd", "numba", c);
    s.title("seed 000 Numba: true parallel threads for a compiled loop");
    s.workload(&format!(
        "Monte-Carlo pi: {total} points in {} chunks of {CHUNK}, one seeded stream per chunk",
        chunks(total)
    ));

    crate::with_pool(workers, |pool| -> Result<()> {
        let rate =
            |ctx: &mut shared::Ctx, secs: f64| ctx.set("msamples_s", total as f64 / secs / 1e6);
        let serial_hits = s.measure(Variant::serial(chunks(total) as usize), |ctx| {
            let t = std::time::Instant::now();
            let h = serial(c.seed, total);
            rate(ctx, t.elapsed().as_secs_f64());
            h
        });
        let serial_s = s.baseline_s().unwrap_or_default();
        let tasks = chunks(total) as usize;
        let par_hits = s.measure(
            Variant::new(
                format!("par_iter, {}", crate::count(workers, "thread")),
                workers,
                tasks,
            )
            .ideal_s(ideal::cpu_bound(serial_s, workers, tasks)),
            |ctx| {
                let t = std::time::Instant::now();
                let h = parallel(c.seed, total, pool);
                rate(ctx, t.elapsed().as_secs_f64());
                h
            },
        );
        s.check(
            "par_iter: exactly the serial hit count",
            par_hits == serial_hits,
            format!("{par_hits} vs {serial_hits}"),
        );
        let pi = estimate(serial_hits, total);
        let err = (pi - std::f64::consts::PI).abs();
        s.check(
            "the estimate is within 5 standard errors of pi",
            err <= 5.0 * std_error(total),
            format!(
                "{pi:.6} (error {err:.1e}, standard error {:.1e})",
                std_error(total)
            ),
        );
        say!();
        say!("  Numba needs @njit(parallel=True) and prange to get here; in Rust every thread");
        say!("  runs compiled code with no global lock, so par_iter is the whole change.");
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_equals_serial_exactly_for_any_pool_and_size() {
        for total in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            let want = serial(3, total);
            for workers in [1, 2, 5] {
                let got = crate::with_pool(workers, |p| parallel(3, total, p)).unwrap();
                assert_eq!(got, want, "total {total}, {workers} workers");
            }
        }
    }

    #[test]
    fn chunks_cover_every_point_once() {
        let total = 5 * CHUNK + 123;
        assert_eq!(chunks(total), 6);
        let covered: u64 = (0..chunks(total)).map(|c| chunk_len(total, c)).sum();
        assert_eq!(covered, total);
        assert_eq!(chunks(0), 0);
    }

    #[test]
    fn the_estimate_is_close_to_pi_and_depends_on_the_seed() {
        let total = 1 << 20;
        let pi = estimate(serial(1, total), total);
        assert!(
            (pi - std::f64::consts::PI).abs() < 5.0 * std_error(total),
            "{pi}"
        );
        assert_ne!(serial(1, total), serial(2, total));
        assert_eq!(hits_in_chunk(1, 4, 1000), hits_in_chunk(1, 4, 1000));
    }
}
