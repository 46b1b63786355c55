//! LAPACK singular values on OpenBLAS, and OpenBLAS's own thread control (feature `linalg`).
//!
//! [`singular_values`] is `dgesdd` with `JOBZ='N'`, exactly what
//! `np.linalg.svd(a, compute_uv=False)` calls: the SVD workload of seed 002's "Exercise",
//! used by `examples-simd` and `examples-distributed`.
//!
//! Every program that links OpenBLAS also meets its helper threads. [`set_threads`] and
//! [`Threads`] choose how many it uses inside each call (one per rank or per rayon task, to
//! avoid cores x cores threads); [`settle_after_load`] keeps their start-up spin out of the
//! first measurement. The count is set with `openblas_set_num_threads`, not with the
//! `OPENBLAS_NUM_THREADS` environment variable: the variable is read once, when the library
//! loads, while the call changes it between measurements.
//!
//! The library is Debian's `libopenblas-dev`, linked through ndarray-linalg's
//! `openblas-system` feature.

use std::ffi::{CStr, c_char, c_int};

use anyhow::{Context, Result};
use ndarray::{Array1, ArrayView2};
use ndarray_linalg::{JobSvd, SVDDC};

// Links the library whose C API is declared below.
use openblas_src as _;

/// The tolerance every parallel or distributed result must meet against the serial one,
/// relative to each matrix's largest singular value (its 2-norm: the scale of an SVD's
/// rounding); see [`crate::workloads::max_rel_diff_rows`].
pub const REL_TOL: f64 = 1e-10;

/// Singular values of one matrix, largest first.
pub fn singular_values(a: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
    let (_, s, _) = a
        .svddc(JobSvd::None)
        .with_context(|| format!("LAPACK dgesdd failed on a {:?} matrix", a.dim()))?;
    Ok(s)
}

// Declared in OpenBLAS's `cblas.h`. None of them takes a pointer from us; the getters
// only read the library's settings.
unsafe extern "C" {
    fn openblas_set_num_threads(num_threads: c_int);
    safe fn openblas_get_num_threads() -> c_int;
    safe fn openblas_get_parallel() -> c_int;
    safe fn openblas_get_config() -> *const c_char;
    safe fn openblas_get_corename() -> *const c_char;
}

/// Longer than OpenBLAS's idle helper threads keep spinning before they sleep: 2^28 TSC
/// cycles by default (`thread_timeout` in `driver/others/blas_server.c`), about 0.1 s.
pub const HELPER_SPIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Threads OpenBLAS uses inside each call now.
pub fn threads() -> usize {
    usize::try_from(openblas_get_num_threads()).unwrap_or(1)
}

/// Sets the threads OpenBLAS uses inside each call (clamped by the library to what it was
/// built for). `set_threads(1)` makes it compute on the calling thread only.
pub fn set_threads(n: usize) {
    let n = c_int::try_from(n.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: a plain C call with an int. OpenBLAS allows it at any time; it takes its own
    // server lock when it has to start more threads. Callers change it only between
    // measurements, when no BLAS call is running.
    unsafe { openblas_set_num_threads(n) }
}

/// How the library was built to run threads: "sequential", "pthreads" or "OpenMP".
pub fn threading_model() -> &'static str {
    match openblas_get_parallel() {
        0 => "sequential",
        1 => "pthreads",
        2 => "OpenMP",
        _ => "unknown",
    }
}

/// The library's build string, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ...`.
pub fn config() -> String {
    string(openblas_get_config())
}

/// The kernels chosen for this CPU at run time (a `DYNAMIC_ARCH` build has several).
pub fn core_name() -> String {
    string(openblas_get_corename())
}

fn string(p: *const c_char) -> String {
    if p.is_null() {
        return "unknown".to_owned();
    }
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string it owns.
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim()
        .to_owned()
}

/// Waits until helper threads that just finished work have stopped spinning, so that
/// their spinning is not charged to the next measurement.
pub fn settle() {
    std::thread::sleep(HELPER_SPIN);
}

/// Holds OpenBLAS at a thread count while alive; puts the previous count back on drop,
/// even when the section stops early with an error.
#[derive(Debug)]
pub struct Threads {
    previous: usize,
}

impl Threads {
    /// Sets `n` threads until the guard is dropped.
    pub fn set(n: usize) -> Self {
        let previous = threads();
        set_threads(n);
        Self { previous }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        set_threads(self.previous);
    }
}

/// Waits, once per process, for the helper threads OpenBLAS started when the program loaded:
/// they spin for about 0.1 s before they sleep, and would slow the first measurement of
/// whichever section runs first (call this before measuring).
pub fn settle_after_load() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(settle);
}
