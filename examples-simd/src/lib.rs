//! # examples-simd: what a C extension does inside, written in Rust and measured
//!
//! One module per tutorial section, each read top to bottom. `cargo run -p examples-simd`
//! runs them all in order; `cargo run -p examples-simd -- <section>` runs one; `--help` lists
//! them with the tutorial section each mirrors.
//!
//! The thread of the whole crate: the Python tutorials get their speed from C extensions
//! (NumPy's LAPACK and FFT, Numba's compiled loops) that leave the interpreter behind and
//! either run one fast core or start threads of their own. In Rust that native layer is
//! ordinary code: [`svd_batch`] calls the same LAPACK (OpenBLAS) to find when parallel pays,
//! [`blas_threads`] decides who owns the threads, [`fft`] and [`simd`] show what SIMD buys on
//! one core and what memory bandwidth ([`bandwidth`]) allows, and [`numba`] runs a compiled
//! loop on every core with nothing to release.

pub mod bandwidth;
pub mod blas_threads;
pub mod cli;
pub mod fft;
pub mod numba;
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

/// The SIMD features this CPU reports, for the `fft` and `simd` sections' first line.
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
        f.map(|(name, on)| format!("{name} {}", if on { "yes" } else { "no" }))
            .join(", ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "not x86-64: only the portable kernels run".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pool_has_the_threads_asked_for() {
        let n = super::with_pool(3, |pool| pool.install(rayon::current_num_threads)).unwrap();
        assert_eq!(n, 3);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn cpu_features_name_each_feature_once() {
        let f = super::cpu_features();
        assert_eq!(f.split(", ").count(), 5, "{f}");
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        assert!(f.contains(if avx2 { "avx2 yes" } else { "avx2 no" }), "{f}");
    }
}
