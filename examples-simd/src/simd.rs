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
//! here too. Only on data in cache does SIMD's full factor show.
//!
//! Run: `cargo run --release -p examples-simd -- simd`
//! (`--force-scalar` or `EXAMPLES_SIMD_FORCE_SCALAR=1` takes the portable fallback path.)
//!
//! Output: the measured streaming-read bandwidth (one core, all cores), then the dot product
//! of 2^26 f32 (512 MiB, from memory) and the same kernels on 2^12 f32 held in L1 cache,
//! 2^16 times over. Each row gives GFLOP/s and GB/s; the "ideal" column of the memory rows is
//! what the measured bandwidth allows.
//!
//! Why `std::arch` and not a portable SIMD crate: the intrinsics are in the standard library
//! (no dependency), they name exactly the instructions a C extension's intrinsics name, and
//! `#[target_feature]` plus `is_x86_feature_detected!` is the same run-time dispatch NumPy
//! does. `std::simd` is not stable yet, and `wide` picks its width when compiling, so a binary
//! built for any x86-64 would stop at SSE2. The cost: `unsafe`, kept to the loads and the one
//! call that the detection makes sound. AVX2+FMA rather than AVX-512: nearly every x86-64 core
//! since 2013 has it; AVX-512 would double the lanes in cache, not the bandwidth of memory.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use rand::Rng;
use rayon::prelude::*;
use shared::measure::ideal;
use shared::workloads::rng;
use shared::{Section, Variant, say};

use crate::cli::Args;

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
        let avx2_fma = !force_scalar
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2_fma = {
            let _ = force_scalar;
            false
        };
        Self { avx2_fma }
    }

    /// The portable fallback, whatever the CPU.
    pub fn portable() -> Self {
        Self { avx2_fma: false }
    }

    /// Whether the AVX2+FMA kernel is in use.
    pub fn uses_avx2_fma(&self) -> bool {
        self.avx2_fma
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
    pub fn dot_par(&self, x: &[f32], y: &[f32], pool: &rayon::ThreadPool) -> f32 {
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
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

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

/// A streaming read of `x` and `y` side by side, as the dot product reads them: every 4-byte
/// word added as an integer. Integer addition is associative, so the compiler vectorises
/// this freely and it runs at the speed of the memory.
pub fn stream_read(x: &[f32], y: &[f32]) -> u32 {
    x.iter().zip(y).fold(0, |acc, (u, v)| {
        acc.wrapping_add(u.to_bits()).wrapping_add(v.to_bits())
    })
}

/// The same on every thread of `pool` (the same checksum, in any order).
pub fn stream_read_par(x: &[f32], y: &[f32], pool: &rayon::ThreadPool) -> u32 {
    pool.install(|| {
        x.par_chunks(PAR_CHUNK)
            .zip(y.par_chunks(PAR_CHUNK))
            .map(|(cx, cy)| stream_read(cx, cy))
            .reduce(|| 0, u32::wrapping_add)
    })
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

/// The SIMD features this CPU reports, for the output.
pub fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let f = [
            ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ];
        f.iter()
            .map(|(name, on)| format!("{name} {}", if *on { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "not x86-64: only the portable kernels run".to_owned()
    }
}

/// Two seeded vectors of `len` f32, uniform in [-1, 1), generated chunk by chunk in parallel
/// (chunk `i` of `x` uses stream `2i`, of `y` stream `2i + 1`: the same numbers on any pool).
pub fn vectors(seed: u64, len: usize, pool: &rayon::ThreadPool) -> (Vec<f32>, Vec<f32>) {
    let fill = |v: &mut Vec<f32>, parity: u64| {
        pool.install(|| {
            v.par_chunks_mut(PAR_CHUNK).enumerate().for_each(|(i, c)| {
                let mut r = rng(seed, 2 * i as u64 + parity);
                c.fill_with(|| r.random_range(-1.0..1.0));
            });
        });
    };
    let (mut x, mut y) = (vec![0.0; len], vec![0.0; len]);
    fill(&mut x, 0);
    fill(&mut y, 1);
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
            Way::AllCores => format!("{}, {}", simd.name(), crate::count(workers, "thread")),
        }
    }
}

/// Bytes and flops of one dot product of `len` elements.
fn traffic(len: usize, dots: usize) -> (f64, f64) {
    let elems = (len * dots) as f64;
    (8.0 * elems, 2.0 * elems)
}

/// Passes of the streaming read; the bandwidth is the best pass (as STREAM reports it), since
/// a pass can only be slowed down by other work on the machine, never sped up.
pub const READ_PASSES: usize = 3;

/// The streaming-read bandwidth, one core and all cores, in GB/s.
fn bandwidth(s: &mut Section, pool: &rayon::ThreadPool, x: &[f32], y: &[f32]) -> (f64, f64) {
    let workers = pool.current_num_threads();
    let bytes = (std::mem::size_of_val(x) + std::mem::size_of_val(y)) as f64;
    s.workload(&format!(
        "memory bandwidth: a streaming read of both vectors ({:.0} MiB), best of {READ_PASSES} \
         passes: the ceiling",
        bytes / (1 << 20) as f64
    ));
    let read = |par: bool| {
        move |ctx: &mut shared::Ctx| {
            let mut best_s = f64::INFINITY;
            let mut sum = 0;
            for _ in 0..READ_PASSES {
                let t = Instant::now();
                // black_box: a pass whose result went unused could be optimised away.
                sum = black_box(if par {
                    stream_read_par(x, y, pool)
                } else {
                    stream_read(black_box(x), black_box(y))
                });
                best_s = best_s.min(t.elapsed().as_secs_f64());
            }
            let gb_s = bytes / best_s / 1e9;
            ctx.set("gb_s", gb_s);
            (sum, gb_s)
        }
    };
    let (sum1, one) = s.measure(
        Variant::baseline("streaming read, 1 core", 1, READ_PASSES),
        read(false),
    );
    let (sum_n, all) = s.measure(
        Variant::new(
            format!("streaming read, {}", crate::count(workers, "thread")),
            workers,
            READ_PASSES,
        ),
        read(true),
    );
    s.check("parallel read: same checksum as serial", sum1 == sum_n, "");
    (one, all)
}

/// Measures the four ways on one pair of vectors, each doing `sweeps` dot products.
/// Returns the single-core explicit kernel's speed-up over the scalar loop.
#[allow(clippy::too_many_arguments)]
fn four_ways(
    s: &mut Section,
    pool: &rayon::ThreadPool,
    simd: Simd,
    x: &[f32],
    y: &[f32],
    sweeps: usize,
    ceiling_gb_s: Option<(f64, f64)>,
) -> f64 {
    let workers = pool.current_num_threads();
    let (bytes, flops) = traffic(x.len(), sweeps);
    let (exact, scale) = reference(x, y);
    let mut scalar = 0.0_f32;
    let mut explicit_x = 0.0;
    let mut explicit_s = 0.0;
    for way in Way::ALL {
        let name = way.name(simd, workers);
        let threads = if way == Way::AllCores { workers } else { 1 };
        let mut v = if way == Way::Scalar {
            Variant::baseline(&name, 1, sweeps)
        } else {
            Variant::new(&name, threads, sweeps)
        };
        // Over memory, the ideal is the time the measured bandwidth allows; in cache, the
        // all-cores ideal is the one-core explicit time spread over the cores.
        match (ceiling_gb_s, way) {
            (_, Way::Scalar) => {}
            (Some((_, all)), Way::AllCores) => v = v.ideal_s(bytes / (all * 1e9)),
            (Some((one, _)), _) => v = v.ideal_s(bytes / (one * 1e9)),
            (None, Way::AllCores) => v = v.ideal_s(ideal::cpu_bound(explicit_s, workers, sweeps)),
            (None, _) => {}
        }
        let (got, all_same) = s.measure(v, |ctx| {
            let t = Instant::now();
            let (got, all_same) = match way {
                Way::AllCores if sweeps > 1 => {
                    // In cache: the sweeps are the tasks, each on one core's own cache.
                    let dots: Vec<f32> = pool.install(|| {
                        (0..sweeps)
                            .into_par_iter()
                            // A sweep is well under a microsecond: hand them out in batches.
                            .with_min_len(256)
                            .map(|_| simd.dot(black_box(x), black_box(y)))
                            .collect()
                    });
                    (
                        dots[0],
                        dots.iter().all(|d| d.to_bits() == dots[0].to_bits()),
                    )
                }
                _ => {
                    let mut got = 0.0;
                    for _ in 0..sweeps {
                        // black_box: the compiler must not notice that every sweep is the same.
                        let (x, y) = (black_box(x), black_box(y));
                        got = match way {
                            Way::Scalar => dot_scalar(x, y),
                            Way::Accumulators => dot_accumulators(x, y),
                            Way::Explicit => simd.dot(x, y),
                            Way::AllCores => simd.dot_par(x, y, pool),
                        };
                        black_box(got);
                    }
                    (got, true)
                }
            };
            let secs = t.elapsed().as_secs_f64();
            ctx.set("gflop_s", flops / secs / 1e9);
            ctx.set("gb_s", bytes / secs / 1e9);
            (got, all_same)
        });
        if way == Way::Scalar {
            scalar = got;
        } else {
            s.check(
                &format!("{name}: agrees with the scalar loop"),
                agrees(got, scalar, scale) && all_same,
                format!(
                    "{got} vs {scalar}, diff {:.1e} x sum|xy| (tolerance {TOLERANCE:.0e})",
                    (f64::from(got) - f64::from(scalar)).abs() / scale
                ),
            );
        }
        if way == Way::Explicit {
            explicit_x = s.last().and_then(|m| m.speedup).unwrap_or_default();
            explicit_s = s.last().map_or(0.0, |m| m.wall_s);
        }
    }
    let err = (f64::from(scalar) - exact).abs() / scale;
    say!("  f64 reference {exact:.3}; the scalar loop's own rounding: {err:.1e} x sum|xy|.");
    explicit_x
}

/// The section.
pub fn run(args: &Args) -> Result<()> {
    crate::openblas::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let simd = Simd::detect(args.force_scalar);
    let mut s = Section::new("examples-simd", "simd", c);
    s.title("seed 004 C extensions: what the native code does inside");
    say!("  CPU (detected at run time): {}", cpu_features());
    if args.force_scalar {
        say!(
            "  --force-scalar / {}: explicit rows use the portable fallback.",
            crate::cli::FORCE_SCALAR_ENV
        );
    }
    say!("  Explicit kernel: {}.", simd.name());

    crate::with_pool(workers, |pool| -> Result<()> {
        let len = c.size(LEN, QUICK_LEN);
        let (x, y) = vectors(c.seed, len, pool);
        let ceiling = bandwidth(&mut s, pool, &x, &y);

        s.workload(&format!(
            "dot product of {len} f32 from memory (x . y, 2 flops per 8 bytes)"
        ));
        let mem_x = four_ways(&mut s, pool, simd, &x, &y, 1, Some(ceiling));
        drop((x, y));

        let sweeps = c.size(CACHE_SWEEPS, QUICK_CACHE_SWEEPS);
        let (xc, yc) = vectors(c.seed, CACHE_LEN, pool);
        s.workload(&format!(
            "the same kernels on {CACHE_LEN} f32 held in L1 cache, {sweeps} dot products"
        ));
        let cache_x = four_ways(&mut s, pool, simd, &xc, &yc, sweeps, None);

        say!();
        say!("  The scalar loop keeps one sum: every addition waits for the one before, and the");
        say!("  compiler may not reorder them, since float addition is not associative. Separate");
        say!("  sums make the order ours, so the compiler vectorises; AVX2+FMA does 8 lanes with");
        say!("  one fused instruction; rayon runs that on every core.");
        say!(
            "  From memory the explicit kernel is {mem_x:.1}x the scalar loop: capped by the {:.1} GB/s",
            ceiling.0
        );
        say!(
            "  one core can read ({:.1} GB/s with {workers} threads). In cache, where arithmetic is the",
            ceiling.1
        );
        say!(
            "  limit, it is {cache_x:.1}x: the memory-bound kernel gains only what the bandwidth allows."
        );
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
            for simd in [Simd::detect(false), Simd::portable()] {
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
        for simd in [Simd::detect(false), Simd::portable()] {
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
        assert!(!forced.uses_avx2_fma());
        assert_eq!(forced, Simd::portable());
        assert!(forced.name().contains("fallback"));
        let (x, y) = pair(1000);
        assert_eq!(forced.dot(&x, &y), dot_accumulators(&x, &y));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn detection_matches_the_cpu() {
        let has = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        assert_eq!(Simd::detect(false).uses_avx2_fma(), has);
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
    fn parallel_read_and_vectors_are_deterministic() {
        let (x, y) = pair(300_000);
        let (x2, y2) = crate::with_pool(1, |p| vectors(11, 300_000, p)).unwrap();
        assert_eq!((&x, &y), (&x2, &y2));
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
        assert_ne!(x, y);
        let par = crate::with_pool(2, |p| stream_read_par(&x, &y, p)).unwrap();
        assert_eq!(par, stream_read(&x, &y));
        assert_eq!(
            stream_read(&[1.0, 2.0], &[3.0]),
            1.0_f32.to_bits().wrapping_add(3.0_f32.to_bits())
        );
    }
}
