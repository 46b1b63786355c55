"""NumPy's "C extensions", measured beside examples-simd (Rust).

Same sizes, seeds and flags as the Rust sections of the same names; the same JSON lines under
--json with "language": "python". Run through `scripts/run_all.sh --with-python`.

Sections:
  svd_batch  seed 002 "Exercise": singular values of a batch of random matrices, serially, as
             one batched np.linalg.svd call, and on thread and process pools, over the same
             size sweep as the Rust section.
  fft        seed 004 "A toy problem" (NumPy's FFT runs on one core): one 4,000,000-point
             np.fft.fft, then 32 FFTs of 2^20 points serially and on threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time

# One BLAS thread per call, set before NumPy loads OpenBLAS, like the Rust section's main
# measurements: the wheel's default (a thread per core inside every call) oversubscribes the
# cores as soon as the batch itself runs in parallel, and on a busy 2-core machine made 8 SVDs
# of 400 x 100 take seconds instead of milliseconds. Export OPENBLAS_NUM_THREADS to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import common
from common import Section, Variant, ideal_cpu_bound, say

CRATE = "examples-simd"

# The Rust section's sweeps: (k, m, n, note).
SWEEP = [(4, 8, 8, "a handful of tiny matrices"), (6, 1000, 10, "the tutorial's size"),
         (20_000, 4, 4, "many tiny matrices"), (6, 1000, 100, ""), (64, 1000, 100, ""),
         (16, 2000, 500, "the benchmark size")]
QUICK_SWEEP = [(4, 8, 8, "a handful of tiny matrices"), (6, 1000, 10, "the tutorial's size"),
               (2_000, 4, 4, "many tiny matrices"), (6, 200, 50, ""),
               (8, 400, 100, "the benchmark size, scaled down")]


def singular_values(m):
    import numpy as np

    return np.linalg.svd(m, compute_uv=False)


def svd_batch(args) -> None:
    import numpy as np

    s = Section(CRATE, "svd_batch", args)
    s.title("seed 002 exercise: batched SVD, when does parallel pay off")
    workers = args.workers or common.cores()
    say(f"  OpenBLAS threads per call: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    for k, m, n, note in (QUICK_SWEEP if args.quick else SWEEP):
        batch = np.random.default_rng(args.seed).random((k, m, n))
        # Tiny batches are far too quick to time once: repeat to about the same work.
        reps = max(1, int(2e6 // (k * m * n * min(m, n))))
        s.workload(f"({k}, {m}, {n})" + (f" {note}" if note else "")
                   + (f", {reps} runs" if reps > 1 else ""))

        def repeat(fn):
            out = None
            for _ in range(reps):
                out = fn()
            return out

        serial = s.measure(Variant.serial(k), lambda _: repeat(
            lambda: np.stack([singular_values(a) for a in batch])))
        serial_s = s.baseline_s or 0.0
        out = s.measure(Variant("np.linalg.svd on the whole batch (one call)", 1, k),
                        lambda _: repeat(lambda: np.linalg.svd(batch, compute_uv=False)))
        s.check(f"({k}, {m}, {n}) one call: equal to the loop", bool(np.allclose(
            out, serial, rtol=1e-10, atol=0)))
        for name, cls in ((f"ThreadPoolExecutor({workers})", cf.ThreadPoolExecutor),
                          (f"ProcessPoolExecutor({workers})", cf.ProcessPoolExecutor)):
            if cls is cf.ProcessPoolExecutor and k > 1000:
                say(f"  {name}: skipped for {k} matrices (one pickled task each)")
                continue

            def run(ctx, cls=cls):
                ctx.set("rust_variant", f"rayon, {workers} threads")
                with cls(max_workers=workers) as ex:
                    return repeat(lambda: np.stack(list(ex.map(singular_values, batch))))

            v = Variant(name, workers, k, ideal_s=ideal_cpu_bound(serial_s, workers, k))
            out = s.measure(v, run)
            s.check(f"({k}, {m}, {n}) {name}: equal to serial",
                    bool(np.allclose(out, serial, rtol=1e-10, atol=0)))


def fft(args) -> None:
    import numpy as np

    s = Section(CRATE, "fft", args)
    s.title("seed 004 NumPy's FFT on one core, and a batch across threads")
    length = 40_000 if args.quick else 4_000_000
    reps = 1 if args.quick else 3
    data = np.random.default_rng(args.seed).random(length)
    np.fft.fft(data[:1024])  # warm up
    s.workload(f"one forward FFT of {length} points (the talk's np.fft.fft), {reps} per run, "
               "one core")

    def one(ctx):
        t = time.perf_counter()
        for _ in range(reps):
            z = np.fft.fft(data)
        secs = time.perf_counter() - t
        ctx.set("gflop_s", 5 * length * np.log2(length) * reps / secs / 1e9)
        return z

    s.measure(Variant("numpy.fft (pocketfft)", 1, reps, baseline=True), one)

    batch, blen = 32, (1 << 12) if args.quick else (1 << 20)
    inputs = [np.random.default_rng([args.seed, i]).random(blen) for i in range(batch)]
    s.workload(f"{batch} forward FFTs of {blen} points (numpy.fft)")
    serial = s.measure(Variant.serial(batch), lambda _: [np.fft.fft(x) for x in inputs])
    serial_s = s.baseline_s or 0.0
    workers = args.workers or common.cores()

    def threads(_ctx):
        with cf.ThreadPoolExecutor(workers) as ex:
            return list(ex.map(np.fft.fft, inputs))

    v = Variant(f"ThreadPoolExecutor, {workers} threads", workers, batch,
                ideal_s=ideal_cpu_bound(serial_s, workers, batch))
    out = s.measure(v, threads)
    s.check("threads: same spectra as serial",
            all(np.array_equal(a, b) for a, b in zip(out, serial)))


SECTIONS = {
    "svd_batch": (svd_batch, "batched SVD over the Rust section's size sweep"),
    "fft": (fft, "np.fft.fft on one core, and a batch of FFTs on threads"),
}

if __name__ == "__main__":
    common.main(CRATE, "NumPy's C extensions, measured beside examples-simd.", SECTIONS)
