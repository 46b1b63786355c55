//! # examples-simd: what a C extension does inside, written in Rust and measured
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-simd`
//! runs them all in order; `cargo run -p examples-simd -- <section>` runs one; `--help` lists
//! them with the tutorial section each mirrors.
//!
//! The thread of the whole crate: the Python tutorials get their speed from C extensions
//! (NumPy's LAPACK and FFT, Numba's compiled loops) that leave the interpreter behind and
//! either run one fast core or start threads of their own. In Rust that native layer is
//! ordinary code: [`svd_batch`] calls the same LAPACK (OpenBLAS) and decides who owns the
//! threads, [`fft`] and [`simd`] show what SIMD buys on one core and what memory bandwidth
//! allows, and [`numba`] runs a compiled loop on every core with nothing to release.

// Links Debian's OpenBLAS (ndarray-linalg's `openblas-system`), whose C API [`openblas`]
// calls directly.
use openblas_src as _;

pub mod cli;
pub mod fft;
pub mod numba;
pub mod openblas;
pub mod simd;
pub mod svd_batch;

/// Runs `f` with a rayon pool of `workers` threads, all of them joined before this returns.
///
/// Every section uses its own pool rather than rayon's global one, for two reasons: the pool
/// size follows `--workers`, and no thread outlives the example (a global pool's threads live
/// until the process ends; these are scoped threads, joined when `f` returns).
pub fn with_pool<R>(workers: usize, f: impl FnOnce(&rayon::ThreadPool) -> R) -> anyhow::Result<R> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("rayon-{i}"))
        .build_scoped(|thread| thread.run(), f)
        .map_err(|e| anyhow::anyhow!("cannot start a pool of {workers} threads: {e}"))
}

pub use shared::output::count;

#[cfg(test)]
mod tests {
    #[test]
    fn the_pool_has_the_threads_asked_for() {
        let n = super::with_pool(3, |pool| pool.install(rayon::current_num_threads)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(super::count(1, "thread"), "1 thread");
        assert_eq!(super::count(2, "chunk"), "2 chunks");
    }
}
