//! # FFT: one transform on one core, with and without SIMD; many transforms on all cores
//!
//! Mirrors seed 004 (the 2020 talk), "A toy problem": each iteration of `service_request`
//! runs `np.fft.fft` on 4,000,000 random values, with the remark that NumPy's FFT "uses only
//! a single core".
//!
//! The lesson: a single FFT runs on one core (in NumPy and in rustfft alike), so its speed
//! comes from the instructions it uses: rustfft's SSE and AVX code paths, picked at run time,
//! do the same arithmetic several lanes at a time. Cores help once there are several
//! independent transforms: a batch spread across threads scales with the cores.
//!
//! Run: `cargo run --release -p examples-simd -- fft`
//!
//! Output: the 4,000,000-point FFT with the scalar, SSE and AVX planners (time, speed-up
//! against scalar, GFLOP/s counted as 5 N log2 N per transform, the usual convention), then
//! 32 FFTs of 2^20 points serially and with rayon, with their total GFLOP/s.
//!
//! The talk is right that `np.fft.fft` uses one core. What it does not show is that one core
//! with SIMD is several times one core without, and that many transforms are what fill the
//! other cores.

use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftDirection, FftPlanner, FftPlannerAvx, FftPlannerScalar, FftPlannerSse};
use shared::measure::ideal;
use shared::workloads::service;
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// The talk's FFT length: `np.random.random(4000000)`.
pub const LEN: usize = 4_000_000;
/// A small length with the same kind of factors (2^6 · 5^4) for `--quick`.
pub const QUICK_LEN: usize = 40_000;
/// Transforms in the batch.
pub const BATCH: usize = 32;
/// Length of each transform in the batch.
pub const BATCH_LEN: usize = 1 << 20;
/// The same under `--quick`.
pub const QUICK_BATCH_LEN: usize = 1 << 12;
/// SSE and AVX results must match the scalar one within this, relative to the largest
/// coefficient (they add in a different order, so the last bits may differ).
pub const REL_TOL: f64 = 1e-9;

/// One of rustfft's planners, each limited to one instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planner {
    /// Plain scalar code: one complex number at a time.
    Scalar,
    /// SSE4.1: 128-bit registers, one complex f64 per register.
    Sse,
    /// AVX and FMA: 256-bit registers, two complex f64 per register.
    Avx,
}

impl Planner {
    /// Every planner, slowest first.
    pub const ALL: [Planner; 3] = [Planner::Scalar, Planner::Sse, Planner::Avx];

    /// The row's name.
    pub fn name(self) -> &'static str {
        match self {
            Planner::Scalar => "scalar (FftPlannerScalar)",
            Planner::Sse => "SSE4.1 (FftPlannerSse)",
            Planner::Avx => "AVX+FMA (FftPlannerAvx)",
        }
    }

    /// Plans a transform with this planner's code, or `None` when this CPU lacks its
    /// instructions (rustfft checks at run time; the binary itself runs on any x86-64).
    pub fn plan(self, len: usize, direction: FftDirection) -> Option<Arc<dyn Fft<f64>>> {
        match self {
            Planner::Scalar => Some(FftPlannerScalar::new().plan_fft(len, direction)),
            Planner::Sse => FftPlannerSse::new()
                .ok()
                .map(|mut p| p.plan_fft(len, direction)),
            Planner::Avx => FftPlannerAvx::new()
                .ok()
                .map(|mut p| p.plan_fft(len, direction)),
        }
    }
}

/// GFLOP/s of `ffts` transforms of `len` points in `secs`, counting 5 N log2 N flops each.
pub fn gflops(len: usize, ffts: usize, secs: f64) -> f64 {
    let n = len as f64;
    5.0 * n * n.log2() * ffts as f64 / secs.max(1e-12) / 1e9
}

/// Largest difference between two spectra, relative to `b`'s largest coefficient.
pub fn max_rel_diff(a: &[Complex64], b: &[Complex64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let scale = b
        .iter()
        .fold(0.0_f64, |m, c| m.max(c.norm()))
        .max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm() / scale)
        .fold(0.0, f64::max)
}

/// Runs `fft` in place on every `fft.len()`-point chunk of `data`, one after the other.
pub fn batch_serial(fft: &dyn Fft<f64>, data: &mut [Complex64]) {
    let mut scratch = vec![Complex64::default(); fft.get_inplace_scratch_len()];
    for chunk in data.chunks_exact_mut(fft.len()) {
        fft.process_with_scratch(chunk, &mut scratch);
    }
}

/// The same with the chunks spread over the pool's threads.
pub fn batch_rayon(fft: &dyn Fft<f64>, data: &mut [Complex64], pool: &rayon::ThreadPool) {
    // Why this is safe without locks: one plan is shared read-only (rustfft plans are
    // `Sync`), every task transforms its own chunk, and every thread gets its own scratch
    // buffer, made once per thread rather than once per transform.
    pool.install(|| {
        data.par_chunks_exact_mut(fft.len()).for_each_init(
            || vec![Complex64::default(); fft.get_inplace_scratch_len()],
            // New: the loop body, now run by whichever thread is free.
            |scratch, chunk| fft.process_with_scratch(chunk, scratch),
        );
    });
}

/// The batch's input: transform `i` gets the seeded values of the talk's request `i`.
fn batch_input(seed: u64, len: usize, pool: &rayon::ThreadPool) -> Vec<Complex64> {
    let w = service::Workload::new(seed, BATCH, 1, len);
    pool.install(|| {
        (0..BATCH)
            .into_par_iter()
            .flat_map_iter(|i| w.fft_input(i, 0))
            .collect()
    })
}

/// A digest of every bit of every transform, to compare two batches exactly.
fn digests(data: &[Complex64], len: usize) -> Vec<u64> {
    data.chunks_exact(len)
        .map(|chunk| {
            let mut h = DefaultHasher::new();
            for c in chunk {
                h.write_u64(c.re.to_bits());
                h.write_u64(c.im.to_bits());
            }
            h.finish()
        })
        .collect()
}

/// One transform with each planner. Returns the best single-core GFLOP/s.
fn one_fft(s: &mut Bench, args: &Args) -> Result<f64> {
    let c = &args.common;
    let len = c.size(LEN, QUICK_LEN);
    let reps = c.size(3, 1);
    s.workload(&format!(
        "one forward FFT of {len} points (the talk's np.fft.fft), {reps} per run, one core"
    ));
    let input = service::Workload::new(c.seed, 1, 1, len).fft_input(0, 0);

    let mut reference: Option<Vec<Complex64>> = None;
    let mut best = 0.0_f64;
    let mut speedups = Vec::new();
    for planner in Planner::ALL {
        let t = Instant::now();
        let Some(fft) = planner.plan(len, FftDirection::Forward) else {
            say!(
                "  {}: this CPU lacks its instructions; skipped (rustfft's own FftPlanner falls \
                 back to the next best the same way)",
                planner.name()
            );
            continue;
        };
        let plan_s = t.elapsed().as_secs_f64();
        let mut scratch = vec![Complex64::default(); fft.get_inplace_scratch_len()];
        // A first run outside the clock touches every page of the buffers; its output is the
        // one compared between planners.
        let mut out = input.clone();
        fft.process_with_scratch(&mut out, &mut scratch);

        let mut buf = input.clone();
        let variant = match planner {
            Planner::Scalar => Variant::baseline(planner.name(), 1, reps),
            _ => Variant::new(planner.name(), 1, reps),
        };
        s.measure(variant, |ctx| {
            let t = Instant::now();
            // Transforming the previous output again costs exactly the same: the work of an
            // FFT does not depend on the values.
            for _ in 0..reps {
                fft.process_with_scratch(&mut buf, &mut scratch);
            }
            let g = gflops(len, reps, t.elapsed().as_secs_f64());
            best = best.max(g);
            ctx.set("gflop_s", g);
            ctx.set("plan_ms", plan_s * 1e3);
        });
        if let Some(x) = s.last().and_then(|m| m.speedup) {
            speedups.push((planner, x));
        }
        match &reference {
            None => reference = Some(out),
            Some(r) => {
                let diff = max_rel_diff(&out, r);
                s.check(
                    &format!("{}: same spectrum as scalar", planner.name()),
                    diff <= REL_TOL,
                    format!("max rel. diff {diff:.1e}"),
                );
            }
        }
    }
    let of = |p: Planner| {
        speedups
            .iter()
            .find(|(q, _)| *q == p)
            .map_or("not run".to_owned(), |(_, x)| format!("{x:.2}x"))
    };
    say!();
    say!(
        "  Against the scalar code: SSE4.1 {}, AVX+FMA {}. A 128-bit SSE register holds one",
        of(Planner::Sse),
        of(Planner::Avx)
    );
    say!("  complex f64, the same count the scalar code handles (x86-64 scalar maths already runs");
    say!("  on SSE2), so SSE changes little; a 256-bit AVX register holds two, and FMA fuses");
    let mib = (len * std::mem::size_of::<Complex64>()) as f64 / (1 << 20) as f64;
    say!("  the multiply-adds.");
    if mib > 8.0 {
        say!("  At {len} points each buffer is {mib:.0} MiB, far past the per-core caches, so");
        say!("  memory traffic caps the gain as well.");
    }
    Ok(best)
}

/// The batch, serially and across cores.
fn batch(s: &mut Bench, args: &Args, pool: &rayon::ThreadPool, one_core: f64) -> Result<()> {
    let c = &args.common;
    let len = c.size(BATCH_LEN, QUICK_BATCH_LEN);
    let workers = pool.current_num_threads();
    s.workload(&format!(
        "{BATCH} forward FFTs of {len} points (FftPlanner: the best code this CPU has)"
    ));
    let fft = FftPlanner::<f64>::new().plan_fft_forward(len);

    let mut data = batch_input(c.seed, len, pool);
    // Warm-up on a copy of one transform's input: the first run touches the plan's tables.
    batch_serial(fft.as_ref(), &mut data[..len].to_vec());
    s.measure(Variant::serial(BATCH), |ctx| {
        let t = Instant::now();
        batch_serial(fft.as_ref(), &mut data);
        ctx.set("gflop_s", gflops(len, BATCH, t.elapsed().as_secs_f64()));
    });
    let expected = digests(&data, len);
    drop(data);
    let serial_s = s.baseline_s().unwrap_or_default();

    let mut data = batch_input(c.seed, len, pool);
    let mut total = 0.0;
    s.measure(
        Variant::new(
            format!("rayon, {}", crate::count(workers, "thread")),
            workers,
            BATCH,
        )
        .ideal_s(ideal::cpu_bound(serial_s, workers, BATCH)),
        |ctx| {
            let t = Instant::now();
            batch_rayon(fft.as_ref(), &mut data, pool);
            total = gflops(len, BATCH, t.elapsed().as_secs_f64());
            ctx.set("gflop_s", total);
        },
    );
    s.check(
        "rayon: every transform bit-for-bit equal to serial",
        digests(&data, len) == expected,
        "",
    );

    say!();
    say!("  One transform ran on one core: {one_core:.2} GFLOP/s at best (SIMD), as np.fft.fft");
    say!("  runs on one core. rustfft does not split one transform across threads either.");
    say!("  {BATCH} independent transforms on {workers} threads: {total:.2} GFLOP/s in total.");
    say!("  np.fft.fft releases the GIL while it runs, so Python threads over many transforms");
    say!(
        "  fill the cores too (examples-threads gil measures it); one big transform stays on one."
    );
    Ok(())
}

/// One transform with each planner on one core, then the batch across cores.
pub fn run(args: &Args) -> Result<()> {
    shared::linalg::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let mut s = Bench::new("examples-simd", "fft", c);
    s.title("seed 004 A toy problem: the NumPy FFT uses only a single core");
    say!("  CPU (detected at run time): {}", crate::cpu_features());
    let one_core = one_fft(&mut s, args)?;
    crate::with_pool(workers, |pool| batch(&mut s, args, pool, one_core))?
}

#[cfg(test)]
mod tests {
    use std::f64::consts::TAU;

    use super::*;

    fn naive_dft(x: &[Complex64]) -> Vec<Complex64> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(j, v)| {
                        v * Complex64::from_polar(1.0, -TAU * (j * k % n) as f64 / n as f64)
                    })
                    .sum()
            })
            .collect()
    }

    fn input(len: usize) -> Vec<Complex64> {
        service::Workload::new(9, 1, 1, len).fft_input(0, 0)
    }

    #[test]
    fn every_planner_equals_a_naive_dft() {
        // Powers of two, mixed radix, primes (Rader/Bluestein), and the talk's kind of length.
        for len in [1, 2, 3, 8, 12, 17, 64, 100, 127, 250, 1000] {
            let x = input(len);
            let want = naive_dft(&x);
            for p in Planner::ALL {
                let Some(fft) = p.plan(len, FftDirection::Forward) else {
                    continue;
                };
                let mut got = x.clone();
                fft.process(&mut got);
                let diff = max_rel_diff(&got, &want);
                assert!(diff < 1e-12, "{p:?} len {len}: {diff:e}");
            }
        }
    }

    #[test]
    fn forward_then_inverse_gives_back_the_input() {
        for len in [16, 40_000, 1 << 12] {
            let x = input(len);
            for p in Planner::ALL {
                let (Some(fwd), Some(inv)) = (
                    p.plan(len, FftDirection::Forward),
                    p.plan(len, FftDirection::Inverse),
                ) else {
                    continue;
                };
                let mut y = x.clone();
                fwd.process(&mut y);
                inv.process(&mut y);
                let back: Vec<_> = y.iter().map(|c| c / len as f64).collect();
                assert!(max_rel_diff(&back, &x) < 1e-12, "{p:?} len {len}");
            }
        }
    }

    #[test]
    fn the_batch_in_parallel_is_bit_for_bit_the_serial_batch() {
        let len = 256;
        let fft = FftPlanner::<f64>::new().plan_fft_forward(len);
        let (a, b) = crate::with_pool(3, |pool| {
            let mut a = batch_input(5, len, pool);
            let mut b = a.clone();
            batch_serial(fft.as_ref(), &mut a);
            batch_rayon(fft.as_ref(), &mut b, pool);
            (a, b)
        })
        .unwrap();
        assert_eq!(a.len(), BATCH * len);
        assert_eq!(digests(&a, len), digests(&b, len));
        // And the batch really transformed each chunk.
        let mut first = batch_input_plain(5, len)[..len].to_vec();
        fft.process(&mut first);
        assert_eq!(&a[..len], &first[..]);
    }

    fn batch_input_plain(seed: u64, len: usize) -> Vec<Complex64> {
        crate::with_pool(1, |pool| batch_input(seed, len, pool)).unwrap()
    }

    #[test]
    fn gflops_counts_five_n_log_n() {
        assert!((gflops(1024, 1, 1e-3) - 5.0 * 1024.0 * 10.0 / 1e-3 / 1e9).abs() < 1e-9);
        assert!(max_rel_diff(&input(4), &input(5)).is_infinite());
    }
}
