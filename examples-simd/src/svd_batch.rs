//! # A batch of SVDs: when parallel pays off, and whose threads to use
//!
//! Mirrors seed 002 (concurrent.futures) "Exercise": the singular values of an array of
//! matrices, `np.linalg.svd(matrices, compute_uv=False)`, parallelised with an executor while
//! "playing with the size" to see when it pays; and seed 004 "Parallelism and concurrency in
//! C extensions": libraries such as NumPy's LAPACK run threads of their own.
//!
//! The lesson: parallelism pays once each batch holds much more work than it costs to hand the
//! work out. Rust's overhead is microseconds (a rayon pool is already running; spawning scoped
//! threads costs a little more), not the milliseconds of pickling to a process pool, so the
//! crossover comes early. And use one level of threads: OpenBLAS with a thread per core inside
//! each call, plus our threads outside, asks for more threads than there are cores.
//!
//! Run: `cargo run --release -p examples-simd -- svd_batch`
//!
//! Output: for each size of the sweep, serial / rayon / `std::thread::scope` rows (OpenBLAS
//! held at 1 thread), then a table of time and speed-up per size with the measured crossover.
//! Last, the (16, 2000, 500) batch with OpenBLAS at 1 thread and at one per core, each with
//! and without rayon outside: the oversubscribed combination is measured and explained.
//!
//! Like NumPy, this calls LAPACK's divide-and-conquer `dgesdd` with `JOBZ='N'` (no U, no V).
//! The tutorial's "C extensions ... can only be done in C" is wrong: everything here,
//! including the call into OpenBLAS's own C API, is Rust.

use anyhow::{Context, Result, anyhow};
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView2, ArrayView3, ArrayViewMut2, Axis};
use ndarray_linalg::{JobSvd, SVDDC};
use shared::measure::{format_secs, ideal};
use shared::workloads::matrix_batch;
use shared::{Section, Variant, say};

use crate::cli::Args;
use crate::openblas;

/// The tolerance every variant's singular values must meet against the serial ones, relative
/// to each matrix's largest singular value (its 2-norm: the scale of an SVD's rounding).
pub const REL_TOL: f64 = 1e-10;

/// A speed-up at least this large counts as "parallelism pays" in the sweep's table.
pub const PAYS: f64 = 1.25;

/// Singular values of one matrix, largest first: LAPACK `dgesdd` with `JOBZ='N'`, exactly
/// what `np.linalg.svd(a, compute_uv=False)` calls.
pub fn singular_values(a: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
    let (_, s, _) = a
        .svddc(JobSvd::None)
        .with_context(|| format!("LAPACK dgesdd failed on a {:?} matrix", a.dim()))?;
    Ok(s)
}

/// An empty result: one row of `min(m, n)` singular values per matrix, like NumPy's `s`.
fn output_for(batch: ArrayView3<'_, f64>) -> Array2<f64> {
    let (k, m, n) = batch.dim();
    Array2::zeros((k, m.min(n)))
}

/// Fills `out` row by row on the calling thread.
fn fill_serial(batch: ArrayView3<'_, f64>, mut out: ArrayViewMut2<'_, f64>) -> Result<()> {
    for (a, mut row) in batch.outer_iter().zip(out.outer_iter_mut()) {
        row.assign(&singular_values(a)?);
    }
    Ok(())
}

/// The hint's loop: one matrix after another.
pub fn serial(batch: ArrayView3<'_, f64>) -> Result<Array2<f64>> {
    let mut out = output_for(batch);
    fill_serial(batch, out.view_mut())?;
    Ok(out)
}

/// `executor.map` over the batch, on the pool's threads.
pub fn rayon(batch: ArrayView3<'_, f64>, pool: &rayon::ThreadPool) -> Result<Array2<f64>> {
    let mut out = output_for(batch);
    // Why no lock: each task gets its own matrix (a read-only view) and its own output row
    // (a disjoint mutable view), so the borrow checker proves the tasks share nothing. rayon
    // splits the batch among idle threads by work stealing, so uneven matrices balance out.
    // New: the loop becomes a parallel iterator over pairs (matrix, output row).
    pool.install(|| {
        batch
            .axis_iter(Axis(0))
            .into_par_iter()
            .zip(out.axis_iter_mut(Axis(0)))
            .try_for_each(|(a, mut row)| -> Result<()> {
                row.assign(&singular_values(a)?);
                Ok(())
            })
    })?;
    Ok(out)
}

/// The same by hand: the batch cut into one contiguous chunk per thread.
pub fn scoped_chunks(batch: ArrayView3<'_, f64>, threads: usize) -> Result<Array2<f64>> {
    let mut out = output_for(batch);
    let chunk = batch.len_of(Axis(0)).div_ceil(threads.max(1)).max(1);
    // Why scoped threads: they may borrow the batch and the output (no copies, no Arc),
    // because the scope joins them all before it returns. Each thread owns one chunk of rows,
    // so again nothing is shared and nothing is locked. The price: threads are spawned on
    // every call, and a chunk with slower matrices cannot hand work to an idle thread.
    std::thread::scope(|s| {
        let workers: Vec<_> = batch
            .axis_chunks_iter(Axis(0), chunk)
            .zip(out.axis_chunks_iter_mut(Axis(0), chunk))
            // New: one OS thread per chunk, running the serial loop on its rows.
            .map(|(mats, rows)| s.spawn(move || fill_serial(mats, rows)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow!("an SVD worker thread panicked"))?
        })
    })?;
    Ok(out)
}

/// Largest difference between two results, each row relative to its largest singular value.
pub fn max_rel_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    shared::workloads::max_rel_diff_rows(a.outer_iter(), b.outer_iter())
}

/// One size of the sweep: `k` matrices of `m × n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Matrices in the batch.
    pub k: usize,
    /// Rows.
    pub m: usize,
    /// Columns.
    pub n: usize,
    /// Why this size is in the sweep.
    pub note: &'static str,
}

const fn size(k: usize, m: usize, n: usize, note: &'static str) -> Size {
    Size { k, m, n, note }
}

/// The sweep at full size: the tutorial's size, the sizes, and tiny matrices.
pub const SWEEP: [Size; 6] = [
    size(4, 8, 8, "a handful of tiny matrices"),
    size(6, 1000, 10, "the tutorial's size"),
    size(20_000, 4, 4, "many tiny matrices"),
    size(6, 1000, 100, ""),
    size(64, 1000, 100, ""),
    size(16, 2000, 500, "the benchmark size"),
];

/// The sweep under `--quick`.
pub const QUICK_SWEEP: [Size; 5] = [
    size(4, 8, 8, "a handful of tiny matrices"),
    size(6, 1000, 10, "the tutorial's size"),
    size(2_000, 4, 4, "many tiny matrices"),
    size(6, 200, 50, ""),
    size(8, 400, 100, "the benchmark size, scaled down"),
];

/// What one size of the sweep measured.
#[derive(Debug, Clone, Copy)]
struct SweepRow {
    size: Size,
    serial_s: f64,
    rayon: f64,
    scoped: f64,
}

impl SweepRow {
    fn best(&self) -> f64 {
        self.rayon.max(self.scoped)
    }
}

/// Runs `batch_fn` `reps` times (tiny batches are far too quick to time once) and returns the
/// last result.
fn repeat(reps: usize, mut batch_fn: impl FnMut() -> Result<Array2<f64>>) -> Result<Array2<f64>> {
    let mut last = batch_fn()?;
    for _ in 1..reps {
        last = batch_fn()?;
    }
    Ok(last)
}

/// Measures one size: serial, rayon and scoped threads, each checked against serial.
fn sweep_one(
    s: &mut Section,
    args: &Args,
    pool: &rayon::ThreadPool,
    size: Size,
) -> Result<SweepRow> {
    let c = &args.common;
    let workers = pool.current_num_threads();
    let Size { k, m, n, note } = size;
    let batch = matrix_batch(c.seed, k, m, n);
    let batch = batch.view();

    // Calibrate: repeat small batches until a run takes long enough to time.
    let target_s = c.size(0.25, 0.02);
    let t = std::time::Instant::now();
    serial(batch)?;
    let once_s = t.elapsed().as_secs_f64().max(1e-7);
    let reps = ((target_s / once_s).ceil() as usize).clamp(1, 100_000);

    let note = if note.is_empty() {
        String::new()
    } else {
        format!(", {note}")
    };
    let runs = if reps == 1 {
        String::new()
    } else {
        format!(" (each run repeats the batch {reps} times)")
    };
    s.workload(&format!("({k}, {m}, {n}){note}{runs}"));

    let expected = s.measure(Variant::serial(k), |ctx| {
        ctx.set("reps", reps);
        repeat(reps, || serial(batch))
    })?;
    let serial_s = s.baseline_s().unwrap_or_default();
    let ideal_s = ideal::cpu_bound(serial_s, workers, k);

    let got = s.measure(
        Variant::new(
            format!("rayon, {}", crate::count(workers, "thread")),
            workers,
            k,
        )
        .ideal_s(ideal_s),
        |_| repeat(reps, || rayon(batch, pool)),
    )?;
    let rayon_x = s.last().and_then(|m| m.speedup).unwrap_or_default();
    let diff = max_rel_diff(&got, &expected);
    s.check(
        "rayon: same singular values as serial",
        diff <= REL_TOL,
        format!("max rel. diff {diff:.1e}"),
    );

    let got = s.measure(
        Variant::new(
            format!("thread::scope, {}", crate::count(workers, "chunk")),
            workers,
            k,
        )
        .ideal_s(ideal_s),
        |_| repeat(reps, || scoped_chunks(batch, workers)),
    )?;
    let scoped_x = s.last().and_then(|m| m.speedup).unwrap_or_default();
    let diff = max_rel_diff(&got, &expected);
    s.check(
        "thread::scope: same singular values as serial",
        diff <= REL_TOL,
        format!("max rel. diff {diff:.1e}"),
    );

    Ok(SweepRow {
        size,
        serial_s: serial_s / reps as f64,
        rayon: rayon_x,
        scoped: scoped_x,
    })
}

/// Prints the sweep's table, smallest batch (by serial work) first, and the crossover.
fn summarise(rows: &mut [SweepRow]) {
    rows.sort_by(|a, b| a.serial_s.total_cmp(&b.serial_s));
    say!();
    say!(
        "--- where parallelism starts paying (OpenBLAS at 1 thread; sorted by serial work per batch)"
    );
    say!(
        "  {:<20} {:>14} {:>9} {:>9}  verdict",
        "size (k, m, n)",
        "serial/batch",
        "rayon",
        "scope"
    );
    for r in rows.iter() {
        let verdict = match r.best() {
            b if b >= PAYS => "pays",
            b if b >= 1.0 => "break-even",
            _ => "overhead: slower than serial",
        };
        say!(
            "  {:<20} {:>14} {:>8.2}x {:>8.2}x  {verdict}",
            format!("({}, {}, {})", r.size.k, r.size.m, r.size.n),
            format_secs(r.serial_s),
            r.rayon,
            r.scoped,
        );
    }
    // The crossover: the smallest batch from which every larger one paid.
    let first_paying = rows
        .iter()
        .rposition(|r| r.best() < PAYS)
        .map_or(0, |i| i + 1);
    say!();
    match (first_paying, rows.get(first_paying)) {
        (_, None) => say!(
            "  Crossover: parallelism did not pay (>= {PAYS}x) at the largest size measured; \
             on a busy machine, run again."
        ),
        (0, Some(r)) => say!(
            "  Crossover: below the smallest batch measured; parallelism paid (>= {PAYS}x) even \
             with {} of work per batch.",
            format_secs(r.serial_s)
        ),
        (i, Some(r)) => say!(
            "  Crossover: between {} and {} of serial work per batch. From {:?} up, parallel \
             paid (>= {PAYS}x); below it, the cost of waking or spawning threads ate the gain.",
            format_secs(rows[i - 1].serial_s),
            format_secs(r.serial_s),
            (r.size.k, r.size.m, r.size.n),
        ),
    }
    if let Some(tiny) = rows.iter().find(|r| r.size.note.starts_with("many tiny")) {
        let (k, m, n) = (tiny.size.k, tiny.size.m, tiny.size.n);
        say!(
            "  {k} matrices of {m}x{n}: {:.2}x with rayon. What counts is the work per batch, not",
            tiny.rayon
        );
        say!("  per matrix: rayon hands tiny tasks out in large pieces, so their cost is paid");
        say!("  once per piece. A Python process pool pays pickling and a round trip to a worker");
        say!("  for every task (or chunksize of them), so its crossover sits far higher.");
    }
}

/// The interplay of OpenBLAS's threads and ours on one batch.
fn blas_threads(s: &mut Section, args: &Args, pool: &rayon::ThreadPool, size: Size) -> Result<()> {
    let c = &args.common;
    let cores = shared::system::cores();
    let ours = pool.current_num_threads();
    let Size { k, m, n, .. } = size;
    let batch = matrix_batch(c.seed, k, m, n);
    let batch = batch.view();

    s.workload(&format!(
        "({k}, {m}, {n}): OpenBLAS's threads (set with openblas_set_num_threads) and ours"
    ));
    let expected = {
        let _g = openblas::Threads::set(1);
        s.measure(Variant::serial(k), |_| serial(batch))?
    };
    let serial_s = s.baseline_s().unwrap_or_default();

    // OpenBLAS at 1 thread first: once its helpers have worked they spin for a while, which
    // would be charged to whatever ran next.
    let mut speedups = Vec::new();
    let combos = [
        ("rayon", ours, 1),
        ("serial, OpenBLAS", 1, cores),
        ("rayon", ours, cores),
    ];
    for (what, outer, inner) in combos {
        let _g = openblas::Threads::set(inner);
        let threads = outer * inner;
        let name = if outer == 1 {
            format!("{what} {} inside", crate::count(inner, "thread"))
        } else {
            format!("{what} {outer} x OpenBLAS {inner} = {threads} threads")
        };
        let v =
            Variant::new(&name, threads, k).ideal_s(ideal::cpu_bound(serial_s, threads, k * inner));
        let got = s.measure(v, |ctx| {
            ctx.set("blas_threads", openblas::threads());
            if outer == 1 {
                serial(batch)
            } else {
                rayon(batch, pool)
            }
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
    openblas::settle();
    say!("  The rule: one level of parallelism. Many independent matrices: parallelise outside");
    say!("  and hold the library at 1 thread (openblas_set_num_threads(1) here; in Python");
    say!("  OPENBLAS_NUM_THREADS=1 before NumPy loads, or threadpoolctl). One large matrix: call");
    say!("  it serially and let the library use the cores. Never threads x threads > cores.");
    Ok(())
}

/// Why threads inside the library plus threads outside it do not add up.
fn explain_oversubscription(ours: usize, cores: usize) {
    say!("  Why: each of our {ours} threads asks OpenBLAS for {cores} threads at once.");
    if openblas::threading_model() == "pthreads" {
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

/// The section.
pub fn run(args: &Args) -> Result<()> {
    crate::openblas::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let mut s = Section::new("examples-simd", "svd_batch", c);
    s.title("seed 002 Exercise: SVD of an array of matrices / 004 C extensions' own threads");
    say!(
        "  LAPACK: {} (kernels for {}, {} threading, {} threads by default)",
        openblas::config(),
        openblas::core_name(),
        openblas::threading_model(),
        openblas::threads(),
    );
    say!("  Singular values only: dgesdd with JOBZ='N', as np.linalg.svd(a, compute_uv=False).");
    #[cfg(target_arch = "x86_64")]
    if openblas::core_name() == "Prescott" && std::arch::is_x86_feature_detected!("avx2") {
        say!("  Note: this OpenBLAS does not know this CPU and fell back to its generic SSE3");
        say!(
            "  kernels; OPENBLAS_CORETYPE=Haswell (or SkylakeX) in the environment picks faster ones."
        );
    }

    crate::with_pool(workers, |pool| -> Result<()> {
        // Our threads only: one OpenBLAS thread inside each SVD, for the whole sweep.
        let mut rows = Vec::new();
        {
            let _one = openblas::Threads::set(1);
            say!(
                "  OpenBLAS held at {} thread for the sweep (openblas_set_num_threads).",
                openblas::threads()
            );
            for size in c.size(&SWEEP[..], &QUICK_SWEEP[..]) {
                rows.push(sweep_one(&mut s, args, pool, *size)?);
            }
        }
        summarise(&mut rows);
        let big = *c
            .size(&SWEEP[..], &QUICK_SWEEP[..])
            .last()
            .context("the sweep has sizes")?;
        blas_threads(&mut s, args, pool, big)
    })?
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ndarray::{Array3, array};
    use ndarray_linalg::{Eigh, UPLO};

    use super::*;

    /// Tests run in parallel threads; the one that changes OpenBLAS's thread count must not
    /// overlap the others' BLAS calls.
    static BLAS: Mutex<()> = Mutex::new(());

    fn blas() -> std::sync::MutexGuard<'static, ()> {
        BLAS.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn a_diagonal_matrix_has_its_absolute_diagonal_as_singular_values() {
        let _b = blas();
        let a = array![
            [3.0, 0.0, 0.0],
            [0.0, -5.0, 0.0],
            [0.0, 0.0, 0.5],
            [0.0, 0.0, 0.0]
        ];
        let s = singular_values(a.view()).unwrap();
        assert_eq!(s.len(), 3);
        for (got, want) in s.iter().zip([5.0, 3.0, 0.5]) {
            assert!((got - want).abs() < 1e-14, "{s}");
        }
    }

    #[test]
    fn singular_values_are_the_square_roots_of_the_eigenvalues_of_ata() {
        let _b = blas();
        let batch = matrix_batch(7, 1, 6, 4);
        let a = batch.index_axis(Axis(0), 0);
        let s = singular_values(a).unwrap();
        let (eig, _) = a.t().dot(&a).eigh(UPLO::Lower).unwrap();
        let mut from_eig: Vec<f64> = eig.iter().map(|l| l.max(0.0).sqrt()).collect();
        from_eig.sort_by(|x, y| y.total_cmp(x));
        for (got, want) in s.iter().zip(&from_eig) {
            assert!(
                (got - want).abs() <= 1e-10 * from_eig[0],
                "{s} vs {from_eig:?}"
            );
        }
    }

    #[test]
    fn every_variant_equals_serial() {
        let _b = blas();
        let batch = matrix_batch(3, 7, 30, 5);
        let expected = serial(batch.view()).unwrap();
        assert_eq!(expected.dim(), (7, 5));
        for w in [1, 2, 3, 8] {
            let r = crate::with_pool(w, |p| rayon(batch.view(), p))
                .unwrap()
                .unwrap();
            assert!(max_rel_diff(&r, &expected) <= REL_TOL);
            let c = scoped_chunks(batch.view(), w).unwrap();
            assert!(max_rel_diff(&c, &expected) <= REL_TOL);
        }
        // Wide matrices (m < n) too, and each row equals the single-matrix call.
        let wide = matrix_batch(4, 3, 2, 6);
        let expected = serial(wide.view()).unwrap();
        for (i, row) in expected.outer_iter().enumerate() {
            assert_eq!(row, singular_values(wide.index_axis(Axis(0), i)).unwrap());
        }
    }

    #[test]
    fn the_check_notices_a_wrong_answer() {
        let a = array![[2.0, 1.0], [4.0, 3.0]];
        let mut b = a.clone();
        b[[1, 1]] += 1e-6;
        assert!(max_rel_diff(&a, &b) > REL_TOL);
        assert_eq!(max_rel_diff(&a, &a), 0.0);
        assert_eq!(max_rel_diff(&a, &Array2::zeros((3, 2))), f64::INFINITY);
    }

    #[test]
    fn an_empty_batch_gives_an_empty_result() {
        let _b = blas();
        let empty = Array3::<f64>::zeros((0, 4, 3));
        assert_eq!(serial(empty.view()).unwrap().dim(), (0, 3));
        assert_eq!(scoped_chunks(empty.view(), 2).unwrap().dim(), (0, 3));
    }

    #[test]
    fn openblas_thread_count_is_set_through_its_api_and_restored() {
        let _b = blas();
        let before = openblas::threads();
        {
            let _g = openblas::Threads::set(1);
            assert_eq!(openblas::threads(), 1);
            let _h = openblas::Threads::set(2);
            assert_eq!(openblas::threads(), 2);
        }
        assert_eq!(openblas::threads(), before);
        assert!(
            openblas::config().contains("OpenBLAS"),
            "{}",
            openblas::config()
        );
        assert_ne!(openblas::threading_model(), "unknown");
    }
}
