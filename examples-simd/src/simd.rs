//! # What a C extension does inside: one dot product, four ways, against the memory's speed
//!
//! Mirrors seed 004 (the 2020 talk), "Parallelism and concurrency in C extensions": NumPy and
//! friends are fast because their C code runs without the interpreter, with SIMD
//! instructions, and sometimes on threads of its own. This file is that C code, in Rust.
//!
//! The lesson: a plain loop that adds into one sum runs one addition at a time, because each
//! addition waits for the previous one and the compiler may not reorder float additions (they
//! are not associative: `(a + b) + c` and `a + (b + c)` can differ in the last bit). Give it
//! independent sums and it vectorises; explicit AVX2+FMA goes wider still; threads multiply
//! that by the cores. But a dot product reads 8 bytes per 2 flops, so over data that lives
//! in memory every variant hits the same ceiling, the memory bandwidth, which is measured
//! here too (by `bandwidth.rs`). Only on data in cache does SIMD's full factor show.
//!
//! Run: `cargo run --release -p examples-simd -- simd`
//! (`--force-scalar` or `EXAMPLES_SIMD_FORCE_SCALAR=1` takes the portable fallback path.)
//!
//! Output: the streaming-read bandwidth (one core, all cores), then the dot product of 2^26
//! f32 (512 MiB, from memory) and of 2^12 f32 in L1 cache, 2^16 times over: GFLOP/s and GB/s
//! per row; the "ideal" of the memory rows is what the measured bandwidth allows.
//!
//! Why `std::arch`: its intrinsics name exactly the instructions a C extension's name, and
//! `#[target_feature]` with `is_x86_feature_detected!` is the run-time dispatch NumPy does
//! (`std::simd` is not stable; `wide` fixes its width at compile time: SSE2 on x86-64). The
//! cost, `unsafe`, is kept to the loads and the one call that detection makes sound. AVX2+FMA,
//! not AVX-512: nearly every x86-64 core since 2013 has it, and memory would not get wider.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use rand::Rng;
use rayon::ThreadPool;
use rayon::prelude::*;
use shared::measure::ideal;
use shared::workloads::rng;
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::count;

/// Elements per vector of the dot product: 2^26 f32, 256 MiB each.
pub const LEN: usize = 1 << 26;
/// The same under `--quick`.
pub const QUICK_LEN: usize = 1 << 20;
/// Elements per vector of the in-cache run: 2 × 16 KiB, inside the L1 data cache of most
/// x86-64 cores (32-48 KiB).
pub const CACHE_LEN: usize = 1 << 12;
/// Dot products of the in-cache run: 2^28 multiply-adds, long enough to time on all cores.
pub const CACHE_SWEEPS: usize = 1 << 16;
/// The same under `--quick`.
pub const QUICK_CACHE_SWEEPS: usize = 1 << 10;
/// Every variant must agree with the scalar loop within this, relative to `Σ|xᵢ·yᵢ|`: the
/// size of the terms, which bounds the rounding of any summation order (the dot itself can be
/// near zero by cancellation, so relative to it would mean nothing).
pub const TOLERANCE: f64 = 1e-5;
/// Independent partial sums of the compiler-vectorised variant.
pub const ACCUMULATORS: usize = 16;
/// Elements per task when the explicit kernel runs on every core.
pub const PAR_CHUNK: usize = 1 << 16;

/// The plain loop: one running sum, so one addition after another.
pub fn dot_scalar(x: &[f32], y: &[f32]) -> f32 {
    let mut sum = 0.0_f32;
    for (a, b) in x.iter().zip(y) {
        // Each addition needs the previous `sum`. Reordering would change the rounding, so
        // the compiler keeps this order: no SIMD, one add per add latency.
        sum += a * b;
    }
    sum
}

/// The same with [`ACCUMULATORS`] independent sums, which the compiler vectorises.
pub fn dot_accumulators(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0_f32; ACCUMULATORS];
    let (xs, ys) = (x.chunks_exact(ACCUMULATORS), y.chunks_exact(ACCUMULATORS));
    let tail = dot_scalar(xs.remainder(), ys.remainder());
    for (cx, cy) in xs.zip(ys) {
        for i in 0..ACCUMULATORS {
            // New: lane i only ever adds into acc[i]. We chose this order, so the compiler
            // may run the 16 lanes as SIMD registers (SSE2 here: the baseline x86-64 target).
            acc[i] += cx[i] * cy[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The explicit-SIMD kernel this CPU can run, decided once at start.
///
/// The AVX2+FMA path can only be chosen by [`Simd::detect`] after the CPU said it has both
/// features; that is what makes calling [`x86::dot_avx2_fma`] sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simd {
    avx2_fma: bool,
}

impl Simd {
    /// AVX2+FMA when the CPU has both and `force_scalar` is off; else the portable fallback.
    pub fn detect(force_scalar: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        let has = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        let avx2_fma = has && !force_scalar;
        Self { avx2_fma }
    }

    /// The kernel's name, for the output.
    pub fn name(&self) -> &'static str {
        if self.avx2_fma {
            "explicit AVX2+FMA"
        } else {
            "portable fallback (no AVX2+FMA)"
        }
    }

    /// The dot product with this kernel.
    pub fn dot(&self, x: &[f32], y: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: `avx2_fma` is only true when `detect` found AVX2 and FMA on this CPU.
            return unsafe { x86::dot_avx2_fma(x, y) };
        }
        dot_accumulators(x, y)
    }

    /// The dot product with this kernel on every thread of `pool`.
    pub fn dot_par(&self, x: &[f32], y: &[f32], pool: &ThreadPool) -> f32 {
        // Why no lock and no shared sum: each task reduces its own chunk to one partial sum.
        // The partials come back in chunk order and are added in that order, so the result
        // is the same however the chunks were scheduled.
        let partials: Vec<f32> = pool.install(|| {
            x.par_chunks(PAR_CHUNK)
                .zip(y.par_chunks(PAR_CHUNK))
                // New: the same kernel, one chunk per task, on every core.
                .map(|(cx, cy)| self.dot(cx, cy))
                .collect()
        });
        partials.iter().sum()
    }
}

/// The AVX2+FMA kernel.
///
/// It is unsafe to call, because running it on a CPU without AVX2 or FMA is undefined
/// behaviour; the compiler refuses a call from code that has not said why it is sound:
///
/// ```compile_fail,E0133
/// let x = [1.0_f32; 64];
/// let dot = examples_simd::simd::x86::dot_avx2_fma(&x, &x);
/// ```
#[cfg(target_arch = "x86_64")]
pub mod x86 {
    use std::arch::x86_64::*;

    /// Registers of 8 f32 added into independently: enough to keep the FMA units busy while
    /// each FMA waits for its previous result.
    const REGS: usize = 4;
    const STEP: usize = 8 * REGS;

    /// The dot product over the common length of `x` and `y`, 32 elements per iteration.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (check with `is_x86_feature_detected!`).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_avx2_fma(x: &[f32], y: &[f32]) -> f32 {
        let n = x.len().min(y.len());
        let (x, y) = (&x[..n], &y[..n]);
        let (xs, ys) = (x.chunks_exact(STEP), y.chunks_exact(STEP));
        let tail = super::dot_scalar(xs.remainder(), ys.remainder());
        let mut acc: [__m256; REGS] = [_mm256_setzero_ps(); REGS];
        for (cx, cy) in xs.zip(ys) {
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: `cx` and `cy` hold STEP = 8 * REGS floats, so the 8 floats read from
                // offset 8 * r (r < REGS) are inside them; loadu needs no alignment.
                let (vx, vy) = unsafe {
                    (
                        _mm256_loadu_ps(cx.as_ptr().add(8 * r)),
                        _mm256_loadu_ps(cy.as_ptr().add(8 * r)),
                    )
                };
                // One instruction: 8 multiplies and 8 adds, rounded once.
                *a = _mm256_fmadd_ps(vx, vy, *a);
            }
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut lanes = [0.0_f32; 8];
        // SAFETY: `lanes` has room for the 8 floats stored.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum::<f32>() + tail
    }
}

/// `(x·y, Σ|xᵢ·yᵢ|)` in f64: the reference and the scale of the tolerance.
pub fn reference(x: &[f32], y: &[f32]) -> (f64, f64) {
    x.iter().zip(y).fold((0.0, 0.0), |(d, a), (&u, &v)| {
        let p = f64::from(u) * f64::from(v);
        (d + p, a + p.abs())
    })
}

/// Whether `got` is within [`TOLERANCE`] of `want`, relative to `scale` (= `Σ|xᵢ·yᵢ|`).
pub fn agrees(got: f32, want: f32, scale: f64) -> bool {
    (f64::from(got) - f64::from(want)).abs() <= TOLERANCE * scale
}

/// Two seeded vectors of `len` f32, uniform in [-1, 1), generated chunk by chunk in parallel
/// (chunk `i` of `x` uses stream `2i`, of `y` stream `2i + 1`: the same numbers on any pool).
pub fn vectors(seed: u64, len: usize, pool: &ThreadPool) -> (Vec<f32>, Vec<f32>) {
    let [x, y] = [0, 1].map(|parity: u64| {
        let mut v = vec![0.0; len];
        pool.install(|| {
            v.par_chunks_mut(PAR_CHUNK).enumerate().for_each(|(i, c)| {
                let mut r = rng(seed, 2 * i as u64 + parity);
                c.fill_with(|| r.random_range(-1.0..1.0));
            })
        });
        v
    });
    (x, y)
}

/// The four ways, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Scalar,
    Accumulators,
    Explicit,
    AllCores,
}

impl Way {
    const ALL: [Way; 4] = [Way::Scalar, Way::Accumulators, Way::Explicit, Way::AllCores];

    fn name(self, simd: Simd, workers: usize) -> String {
        match self {
            Way::Scalar => "scalar loop (one dependency chain)".to_owned(),
            Way::Accumulators => format!("{ACCUMULATORS} accumulators (compiler-vectorised)"),
            Way::Explicit => simd.name().to_owned(),
            Way::AllCores => format!("{}, {}", simd.name(), count(workers, "thread")),
        }
    }
}

/// Measures the four ways on `x · y`, `sweeps` dot products each; `ceiling` is the measured
/// bandwidth (one core, all cores) when the vectors come from memory. Returns the explicit
/// kernel's speed-up over the scalar loop on one core.
fn four_ways(
    s: &mut Bench,
    pool: &ThreadPool,
    simd: Simd,
    xy: (&[f32], &[f32]),
    sweeps: usize,
    ceiling: Option<(f64, f64)>,
) -> f64 {
    let workers = pool.current_num_threads();
    let (x, y) = xy;
    let elems = (x.len() * sweeps) as f64;
    let (bytes, flops) = (8.0 * elems, 2.0 * elems);
    let (exact, scale) = reference(x, y);
    // `sweeps` dot products: the last result, and whether every sweep gave the same bits.
    let run = |way: Way| {
        if way == Way::AllCores && sweeps > 1 {
            // In cache: the sweeps are the tasks, each on one core's own cache, handed out in
            // batches since a sweep is well under a microsecond.
            let dots: Vec<f32> = pool.install(|| {
                (0..sweeps)
                    .into_par_iter()
                    .with_min_len(256)
                    .map(|_| simd.dot(black_box(x), black_box(y)))
                    .collect()
            });
            let same = dots.iter().all(|d| d.to_bits() == dots[0].to_bits());
            return (dots[0], same);
        }
        let mut got = 0.0;
        for _ in 0..sweeps {
            // black_box: the compiler must not notice that every sweep is the same.
            let (x, y) = (black_box(x), black_box(y));
            got = black_box(match way {
                Way::Scalar => dot_scalar(x, y),
                Way::Accumulators => dot_accumulators(x, y),
                Way::Explicit => simd.dot(x, y),
                Way::AllCores => simd.dot_par(x, y, pool),
            });
        }
        (got, true)
    };
    let (mut scalar, mut explicit_x, mut explicit_s) = (0.0_f32, 0.0, 0.0);
    for way in Way::ALL {
        let name = way.name(simd, workers);
        let threads = if way == Way::AllCores { workers } else { 1 };
        let mut v = Variant::new(&name, threads, sweeps);
        // Over memory, the ideal is the time the measured bandwidth allows; in cache, the
        // all-cores ideal is the one-core explicit time spread over the cores.
        match (ceiling, way) {
            (_, Way::Scalar) => v = Variant::baseline(&name, 1, sweeps),
            (Some((_, all)), Way::AllCores) => v = v.ideal_s(bytes / (all * 1e9)),
            (Some((one, _)), _) => v = v.ideal_s(bytes / (one * 1e9)),
            (None, Way::AllCores) => v = v.ideal_s(ideal::cpu_bound(explicit_s, workers, sweeps)),
            (None, _) => {}
        }
        let (got, all_same) = s.measure(v, |ctx| {
            let t = Instant::now();
            let out = run(way);
            let secs = t.elapsed().as_secs_f64();
            ctx.set("gflop_s", flops / secs / 1e9);
            ctx.set("gb_s", bytes / secs / 1e9);
            out
        });
        if way == Way::Scalar {
            scalar = got;
            continue;
        }
        let diff = (f64::from(got) - f64::from(scalar)).abs() / scale;
        s.check(
            &format!("{name}: agrees with the scalar loop"),
            agrees(got, scalar, scale) && all_same,
            format!("{got} vs {scalar}, diff {diff:.1e} x sum|xy| (tolerance {TOLERANCE:.0e})"),
        );
        if way == Way::Explicit {
            explicit_x = s.last().and_then(|m| m.speedup).unwrap_or_default();
            explicit_s = s.last().map_or(0.0, |m| m.wall_s);
        }
    }
    let err = (f64::from(scalar) - exact).abs() / scale;
    say!("  f64 reference {exact:.3}; the scalar loop's own rounding: {err:.1e} x sum|xy|.");
    explicit_x
}

/// Detects the kernel, measures the memory's bandwidth, then the four ways on vectors from
/// memory and on vectors in L1 cache, and says what limited each.
pub fn run(args: &Args) -> Result<()> {
    shared::linalg::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let simd = Simd::detect(args.force_scalar);
    let mut s = Bench::new("examples-simd", "simd", c);
    s.title("seed 004 C extensions: what the native code does inside");
    say!("  CPU (detected at run time): {}", crate::cpu_features());
    if args.force_scalar {
        let env = crate::cli::FORCE_SCALAR_ENV;
        say!("  --force-scalar / {env}: explicit rows use the portable fallback.");
    }
    say!("  Explicit kernel: {}.", simd.name());

    crate::with_pool(workers, |pool| -> Result<()> {
        let len = c.size(LEN, QUICK_LEN);
        let (x, y) = vectors(c.seed, len, pool);
        let (one, all) = crate::bandwidth::measure(&mut s, pool, (&x, &y));
        s.workload(&format!(
            "dot product of {len} f32 from memory (x . y, 2 flops per 8 bytes)"
        ));
        let mem_x = four_ways(&mut s, pool, simd, (&x, &y), 1, Some((one, all)));
        drop((x, y));

        let sweeps = c.size(CACHE_SWEEPS, QUICK_CACHE_SWEEPS);
        let (x, y) = vectors(c.seed, CACHE_LEN, pool);
        s.workload(&format!(
            "the same kernels on {CACHE_LEN} f32 held in L1 cache, {sweeps} dot products"
        ));
        let cache_x = four_ways(&mut s, pool, simd, (&x, &y), sweeps, None);

        say!();
        say!("  The scalar loop keeps one sum: every addition waits for the one before, and the");
        say!("  compiler may not reorder them, since float addition is not associative. Separate");
        say!("  sums make the order ours, so the compiler vectorises; AVX2+FMA does 8 lanes with");
        say!("  one fused instruction; rayon runs that on every core.");
        say!("  From memory the explicit kernel is {mem_x:.1}x the scalar loop, capped by the");
        say!("  {one:.1} GB/s one core can read ({all:.1} GB/s with {workers} threads). In cache,");
        say!("  where arithmetic is the limit, it is {cache_x:.1}x: the memory-bound kernel gains");
        say!("  only what the bandwidth allows.");
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(len: usize) -> (Vec<f32>, Vec<f32>) {
        crate::with_pool(2, |p| vectors(11, len, p)).unwrap()
    }

    #[test]
    fn every_kernel_agrees_with_the_scalar_loop_on_awkward_lengths() {
        // Lengths around the 16- and 32-element steps exercise every tail.
        for len in [0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 1023, 4096, 70_001] {
            let (x, y) = pair(len);
            let (exact, scale) = reference(&x, &y);
            let want = dot_scalar(&x, &y);
            assert!((f64::from(want) - exact).abs() <= TOLERANCE * scale.max(1e-30));
            for simd in [Simd::detect(false), Simd::detect(true)] {
                let got = [
                    dot_accumulators(&x, &y),
                    simd.dot(&x, &y),
                    crate::with_pool(3, |p| simd.dot_par(&x, &y, p)).unwrap(),
                ];
                for g in got {
                    assert!(agrees(g, want, scale), "len {len} {simd:?}: {g} vs {want}");
                }
            }
        }
    }

    #[test]
    fn small_exact_cases() {
        let x: Vec<f32> = (1..=40).map(|i| i as f32).collect();
        let ones = vec![1.0_f32; 40];
        // 1 + 2 + ... + 40 = 820, exact in f32 whatever the order.
        for simd in [Simd::detect(false), Simd::detect(true)] {
            assert_eq!(simd.dot(&x, &ones), 820.0);
        }
        assert_eq!(dot_scalar(&x, &ones), 820.0);
        assert_eq!(dot_accumulators(&x, &ones), 820.0);
        // Unequal lengths use the common length.
        assert_eq!(Simd::detect(false).dot(&x, &ones[..3]), 6.0);
        assert_eq!(dot_accumulators(&x[..20], &ones), 210.0);
    }

    #[test]
    fn forcing_scalar_takes_the_fallback_path() {
        let forced = Simd::detect(true);
        assert!(forced.name().contains("fallback"));
        let (x, y) = pair(1000);
        assert_eq!(forced.dot(&x, &y), dot_accumulators(&x, &y));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn detection_matches_the_cpu() {
        let has = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        assert_eq!(Simd::detect(false).name() == "explicit AVX2+FMA", has);
    }

    #[test]
    fn the_tolerance_notices_a_wrong_sum() {
        let (x, y) = pair(10_000);
        let (_, scale) = reference(&x, &y);
        let want = dot_scalar(&x, &y);
        assert!(!agrees(want + 1.0, want, scale));
        assert!(agrees(want, want, scale));
    }

    #[test]
    fn vectors_are_the_same_on_any_pool() {
        let (x, y) = pair(300_000);
        let (x2, y2) = crate::with_pool(1, |p| vectors(11, 300_000, p)).unwrap();
        assert_eq!((&x, &y), (&x2, &y2));
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
        assert_ne!(x, y);
    }
}
