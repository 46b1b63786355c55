//! The command line: sections, and the flags every section understands.

use clap::{Parser, ValueEnum};
use shared::CommonArgs;

/// What a C extension does inside, written in Rust and measured: a batch of SVDs on OpenBLAS,
/// FFTs with SIMD, an explicit-SIMD dot product, and Numba-style parallel loops.
///
/// Runs every section in order, or the one named. Add `--release` to `cargo run` for
/// meaningful timings.
#[derive(Parser, Debug, Clone)]
#[command(name = "examples-simd", version)]
pub struct Cli {
    /// The section to run (default: all, in this order).
    #[arg(value_enum)]
    pub section: Option<Section>,

    #[command(flatten)]
    pub args: Args,
}

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

/// The sections, in running order, each with the tutorial section it mirrors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A batch of SVDs (singular values only) serially, with rayon and with scoped threads,
    /// over a sweep of sizes; OpenBLAS's own threads against ours
    /// (002 "Exercise" on the SVD of an array of matrices; 004 "Parallelism and concurrency
    /// in C extensions")
    #[value(name = "svd_batch")]
    SvdBatch,
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
            Section::Fft => crate::fft::run(args),
            Section::Simd => crate::simd::run(args),
            Section::Numba => crate::numba::run(args),
        }
    }
}
