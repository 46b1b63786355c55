//! # A batch of SVDs: when does parallel pay off?
//!
//! Mirrors seed 002 (concurrent.futures) "Exercise": the singular values of an array of
//! matrices, `np.linalg.svd(matrices, compute_uv=False)`, parallelised with an executor while
//! "playing with the size" to see when it pays.
//!
//! The lesson: parallelism pays once each batch holds much more work than it costs to hand the
//! work out. Rust's overhead is microseconds (a rayon pool is already running; spawning scoped
//! threads costs a little more), not the milliseconds of pickling to a process pool, so the
//! crossover comes early. Whose threads to use, OpenBLAS's or ours, is the next section,
//! `blas_threads`; here the library is held at 1 thread so that only ours run.
//!
//! Run: `cargo run --release -p examples-simd -- svd_batch`
//!
//! Output: for each size of the sweep, serial / rayon / `std::thread::scope` rows, then a
//! table of time and speed-up per size with the measured crossover.
//!
//! Like NumPy, this calls LAPACK's divide-and-conquer `dgesdd` with `JOBZ='N'` (no U, no V),
//! through `shared::linalg` (`shared/src/linalg.rs`, which also sets OpenBLAS's threads).

use anyhow::{Result, anyhow};
use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView3, ArrayViewMut2, Axis};
use shared::linalg::{self, REL_TOL, singular_values};
use shared::measure::{format_secs, ideal};
use shared::workloads::matrix_batch;
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::count;

/// A speed-up at least this large counts as "parallelism pays" in the sweep's table.
pub const PAYS: f64 = 1.25;

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
    s: &mut Bench,
    c: &shared::CommonArgs,
    pool: &rayon::ThreadPool,
    size: Size,
) -> Result<SweepRow> {
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
        Variant::new(format!("rayon, {}", count(workers, "thread")), workers, k).ideal_s(ideal_s),
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
            format!("thread::scope, {}", count(workers, "chunk")),
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

/// The sweep: each size serially, with rayon and with scoped threads, then where parallel
/// started paying.
pub fn run(args: &Args) -> Result<()> {
    linalg::settle_after_load();
    let c = &args.common;
    let workers = c.workers_or(shared::system::cores());
    let mut s = Bench::new("examples-simd", "svd_batch", c);
    s.title("seed 002 Exercise: SVD of an array of matrices, when does parallel pay off");
    say!(
        "  LAPACK: {} (kernels for {}, {} threading, {} threads by default)",
        linalg::config(),
        linalg::core_name(),
        linalg::threading_model(),
        linalg::threads(),
    );
    say!("  Singular values only: dgesdd with JOBZ='N', as np.linalg.svd(a, compute_uv=False).");
    #[cfg(target_arch = "x86_64")]
    if linalg::core_name() == "Prescott" && std::arch::is_x86_feature_detected!("avx2") {
        say!("  Note: this OpenBLAS does not know this CPU and fell back to its generic SSE3");
        say!(
            "  kernels; OPENBLAS_CORETYPE=Haswell (or SkylakeX) in the environment picks faster ones."
        );
    }

    crate::with_pool(workers, |pool| -> Result<()> {
        // Our threads only: one OpenBLAS thread inside each SVD, for the whole sweep.
        let _one = linalg::Threads::set(1);
        say!(
            "  OpenBLAS held at {} thread for the sweep (openblas_set_num_threads).",
            linalg::threads()
        );
        let mut rows = Vec::new();
        for size in c.size(&SWEEP[..], &QUICK_SWEEP[..]) {
            rows.push(sweep_one(&mut s, c, pool, *size)?);
        }
        summarise(&mut rows);
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, array};
    use ndarray_linalg::{Eigh, UPLO};

    use super::*;

    #[test]
    fn singular_values_are_the_square_roots_of_the_eigenvalues_of_ata() {
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
        let empty = Array3::<f64>::zeros((0, 4, 3));
        assert_eq!(serial(empty.view()).unwrap().dim(), (0, 3));
        assert_eq!(scoped_chunks(empty.view(), 2).unwrap().dim(), (0, 3));
    }
}
