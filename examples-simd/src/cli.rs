//! The command line: sections, and the flags every section understands.

use clap::ValueEnum;
use shared::CommonArgs;

/// What `--help` says this binary is (the first paragraph is the `-h` summary).
pub const ABOUT: &str = "What a C extension does inside, written in Rust and measured: a batch \
    of SVDs on OpenBLAS and whose threads run them, FFTs with SIMD, an explicit-SIMD dot product, \
    and Numba-style parallel loops.\n\nRuns every section in order, or the one named.";

/// The command line: the section to run (default: all, in order) and [`Args`].
pub type Cli = shared::cli::Cli<Section, Args>;

/// Everything a section may look at.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Never use the explicit AVX2+FMA kernels, even when the CPU has them: take the portable
    /// fallback path, as on a CPU without AVX2 (`simd` section).
    #[arg(
        long,
        global = true,
        env = FORCE_SCALAR_ENV,
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub force_scalar: bool,
}

/// Environment variable read at start, same as `--force-scalar` (`1`, `true`, `yes`, `on`;
/// `0`, `false`, `no`, `off` leave the detected kernel).
pub const FORCE_SCALAR_ENV: &str = "EXAMPLES_SIMD_FORCE_SCALAR";

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The sections, in running order, each with the tutorial section it mirrors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A batch of SVDs (singular values only) serially, with rayon and with scoped threads,
    /// over a sweep of sizes: where parallel starts paying
    /// (002 "Exercise" on the SVD of an array of matrices)
    #[value(name = "svd_batch")]
    SvdBatch,
    /// The benchmark batch of SVDs with OpenBLAS's own threads, ours, and both at once: one
    /// level of threads (004 "Parallelism and concurrency in C extensions": their own threads)
    #[value(name = "blas_threads")]
    BlasThreads,
    /// One 4,000,000-point FFT with rustfft's scalar, SSE and AVX code; 32 FFTs across cores
    /// (004 "A toy problem": the NumPy FFT in `service_request` "uses only a single core")
    Fft,
    /// A dot product of 2^26 f32: scalar loop, compiler-vectorised, explicit AVX2+FMA, and
    /// explicit SIMD on every core, against the measured memory bandwidth
    /// (004 "Parallelism and concurrency in C extensions": what the C code does inside)
    Simd,
    /// A loop-heavy kernel (Monte-Carlo pi) serial and with par_iter: true parallel threads
    /// (000 "Numba")
    Numba,
}

impl Section {
    /// Runs this section.
    pub fn run(self, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::SvdBatch => crate::svd_batch::run(args),
            Section::BlasThreads => crate::blas_threads::run(args),
            Section::Fft => crate::fft::run(args),
            Section::Simd => crate::simd::run(args),
            Section::Numba => crate::numba::run(args),
        }
    }
}
