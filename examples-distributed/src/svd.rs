//! Singular values on OpenBLAS's LAPACK, one thread per rank.
//!
//! The same call as `examples-simd` (`dgesdd` with `JOBZ='N'`, what
//! `np.linalg.svd(a, compute_uv=False)` calls), kept as a small local copy because example
//! crates do not depend on each other.
//!
//! One BLAS thread per rank: MPI already puts one rank on each core, and OpenBLAS would
//! otherwise start one thread per core inside every rank, asking for cores² threads.
//! `OPENBLAS_NUM_THREADS=1` in the environment would do it too, but only if every launch
//! remembers to set it (the variable is read when the library loads); the call below works
//! however the job was started.

use anyhow::{Context, Result};
use ndarray::{Array1, ArrayView2};
use ndarray_linalg::{JobSvd, SVDDC};

// Links Debian's OpenBLAS (ndarray-linalg's `openblas-system`), whose C API is called below.
use openblas_src as _;

// Declared in OpenBLAS's `cblas.h`. It takes an int and no pointer, so calling it cannot
// break memory safety; OpenBLAS allows it at any time (it takes its own lock).
unsafe extern "C" {
    safe fn openblas_set_num_threads(num_threads: std::ffi::c_int);
    safe fn openblas_get_num_threads() -> std::ffi::c_int;
}

/// Makes OpenBLAS compute on the calling rank's thread only.
pub fn one_blas_thread_per_rank() {
    openblas_set_num_threads(1);
}

/// Threads OpenBLAS uses inside each call now.
pub fn blas_threads() -> usize {
    usize::try_from(openblas_get_num_threads()).unwrap_or(1)
}

/// Singular values of one matrix, largest first.
pub fn singular_values(a: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
    let (_, s, _) = a
        .svddc(JobSvd::None)
        .with_context(|| format!("LAPACK dgesdd failed on a {:?} matrix", a.dim()))?;
    Ok(s)
}

/// Largest difference between two sets of singular values, each row relative to its largest
/// value (the scale of an SVD's rounding). Rows of different lengths count as infinitely far.
pub fn max_rel_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    shared::workloads::max_rel_diff_rows(a, b)
}

/// The tolerance every distributed result must meet against the serial one.
pub const REL_TOL: f64 = 1e-10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_values_of_a_known_matrix() {
        one_blas_thread_per_rank();
        assert_eq!(blas_threads(), 1);
        let a = ndarray::array![[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]];
        let s = singular_values(a.view()).unwrap();
        assert!((s[0] - 2.0).abs() < 1e-12 && (s[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn differences_are_relative_and_shapes_must_match() {
        let a = vec![vec![10.0, 1.0]];
        let b = vec![vec![10.0, 1.0 + 1e-9]];
        assert!((max_rel_diff(&a, &b) - 1e-10).abs() < 1e-15);
        assert_eq!(max_rel_diff(&a, &[]), f64::INFINITY);
        assert_eq!(max_rel_diff(&a, &[vec![10.0]]), f64::INFINITY);
    }
}
