"""asyncio, threads and processes on the talk's toy problem, beside examples-async (Rust).

Same sizes, seeds and flags as the Rust sections of the same names; the same JSON lines under
--json with "language": "python". Run through `scripts/run_all.sh --with-python`.

Sections:
  service_request  seed 004 "A toy problem": 10 requests x 5 iterations of a blocking sleep of
                   U[0,1) s then an FFT of 4,000,000 values; sequential, asyncio, 10 threads,
                   10 processes, as the talk runs them.
  as_completed     seed 002 "An illustrative example": the 8 scrypt digests consumed with
                   as_completed from thread and process pools, and from asyncio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import functools
import multiprocessing as mp
import threading
import time

import common
from common import Section, Variant, ideal_cpu_bound, say
from examples_processes import scrypt_digest
from examples_threads import common_workloads

CRATE = "examples-async"
# Under --quick the sleeps are this much shorter (times --scale), as in the Rust crate.
QUICK_SLEEP_FACTOR = 0.1


class Toy:
    """The talk's service_request, with the Rust side's seeded sleeps."""

    def __init__(self, w: dict, seed: int, sleep_factor: float, verbose: bool) -> None:
        self.requests, self.iterations = w["requests"], w["iterations"]
        self.fft_len, self.sleeps = w["fft_len"], w["sleeps_s"]
        self.seed, self.factor, self.verbose = seed, sleep_factor, verbose

    def cpu_step(self, r: int, it: int) -> float:
        """np.random.random(n) then np.fft.fft: the CPU part of one iteration."""
        import numpy as np

        data = np.random.default_rng([self.seed, 1 + r * self.iterations + it]).random(
            self.fft_len)
        return float(abs(np.fft.fft(data)[1]))

    def log(self, what: str, r: int, it: int) -> None:
        if self.verbose:
            say(f"  {what} {r} iteration {it}")

    def request(self, r: int, spans: common.Spans | None = None) -> list[float]:
        out = []
        for it in range(self.iterations):
            self.log("call", r, it)
            time.sleep(self.sleeps[r][it] * self.factor)  # blocking, like the talk
            start = time.perf_counter()  # a span is the FFT alone, as in the Rust section
            out.append(self.cpu_step(r, it))
            if spans is not None:
                spans.record(f"request {r}", r * self.iterations + it, start,
                             time.perf_counter())
            self.log("end", r, it)
        return out

    async def request_async(self, r: int, spans: common.Spans) -> list[float]:
        out = []
        for it in range(self.iterations):
            self.log("call", r, it)
            await asyncio.sleep(self.sleeps[r][it] * self.factor)  # yields to the loop
            start = time.perf_counter()
            out.append(self.cpu_step(r, it))  # inline: blocks the loop while it runs
            spans.record(f"request {r}", r * self.iterations + it, start, time.perf_counter())
            self.log("end", r, it)
        return out


def _request_in_process(toy: Toy, r: int, results) -> None:
    spans = common.Spans()
    out = toy.request(r, spans)
    results.put((r, out, spans.epoch_unix, spans.take()))


def service_request(args) -> None:
    s = Section(CRATE, "service_request", args)
    s.title("seed 004 the toy problem: sequential, asyncio, threads, processes")
    w = common_workloads(args)["service"]["quick" if args.quick else "tutorial"]
    factor = args.scale * (QUICK_SLEEP_FACTOR if args.quick else 1.0)
    toy = Toy(w, args.seed, factor, args.verbose)
    n, iters = toy.requests, toy.iterations
    toy.cpu_step(0, 0)  # import numpy and warm up before timing
    s.workload(f"{n} requests x {iters} iterations: sleep U[0,1) s x {factor}, then an FFT "
               f"of {toy.fft_len} values")

    fft_s: list[float] = []

    def sequential(ctx) -> list:
        out = []
        for r in range(n):
            t = time.perf_counter()
            out.append(toy.request(r, ctx.spans))
            fft_s.append(time.perf_counter() - t - sum(toy.sleeps[r]) * factor)
        return out

    expected = s.measure(Variant("sequential", 1, n, baseline=True), sequential)
    fft_total = max(0.0, sum(fft_s))
    longest = max((sum(toy.sleeps[r]) * factor + fft_s[r] for r in range(n)), default=0.0)

    def ideal(lanes: int) -> float:
        # Critical path: the longest request, or all the FFT work spread over the lanes.
        return max(longest, fft_total / max(1, min(lanes, common.cores())))

    def with_asyncio(ctx) -> list:
        async def main() -> list:
            return await asyncio.gather(*(toy.request_async(r, ctx.spans) for r in range(n)))

        return asyncio.run(main())

    def asyncio_twin(ctx) -> list:
        ctx.set("rust_variant", "tokio current_thread (asyncio)")
        return with_asyncio(ctx)

    out = s.measure(Variant("asyncio (FFT inline, one thread)", 1, n, ideal_s=ideal(1)),
                    asyncio_twin)
    s.check("asyncio: same results as sequential", out == expected)

    def with_threads(ctx) -> list:
        out: list = [None] * n

        def run(r: int) -> None:
            out[r] = toy.request(r, ctx.spans)

        ts = [threading.Thread(target=run, args=(r,)) for r in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    out = s.measure(Variant(f"{n} OS threads", n, n, ideal_s=ideal(n)), with_threads)
    s.check("threads: same results as sequential", out == expected)

    def with_processes(ctx) -> list:
        results = mp.Queue()
        ps = [mp.Process(target=_request_in_process, args=(toy, r, results)) for r in range(n)]
        for p in ps:
            p.start()
        out: list = [None] * n
        for _ in ps:
            r, values, epoch_unix, spans = results.get(timeout=600)
            out[r] = values
            for sp in spans:
                ctx.spans.record_unix(f"process {r}", sp["task"], epoch_unix + sp["start_s"],
                                      epoch_unix + sp["end_s"])
        for p in ps:
            p.join()
        return out

    out = s.measure(Variant(f"{n} processes", n, n, ideal_s=ideal(n)), with_processes)
    s.check("processes: same results as sequential", out == expected)


def as_completed(args) -> None:
    s = Section(CRATE, "as_completed", args)
    s.title("seed 002 scrypt with as_completed")
    sc = common_workloads(args)["scrypt"]
    params = sc["quick"] if args.quick else sc["tutorial"]
    digest = functools.partial(scrypt_digest, log_n=params["log_n"], r=params["r"],
                               p=params["p"], length=params["len"], salt=sc["salt"])
    mine = digest(sc["my_password"])
    say(f"  scrypt(b\"my password\") = {mine}")
    if params == sc["tutorial"]:
        s.check("digest equals the tutorial's hashlib output", mine == sc["my_password_hex"])
    passwords = sc["passwords"]
    n = len(passwords)
    workers = args.workers or 2
    s.workload(f"{n} passwords, one digest each (hashlib.scrypt, n=2^{params['log_n']}, "
               f"r={params['r']}, p={params['p']})")
    serial = s.measure(Variant.serial(n), lambda _: [digest(p) for p in passwords])
    serial_s = s.baseline_s or 0.0

    def pool(cls, ctx) -> list:
        ctx.set("rust_variant", "as_completed (JoinSet, spawn_blocking)")
        with cls(max_workers=workers) as ex:
            futures = {ex.submit(digest, p): i for i, p in enumerate(passwords)}
            order = []
            out: list = [None] * n
            for f in cf.as_completed(futures):
                order.append(futures[f])
                out[futures[f]] = f.result()
        ctx.set("completion_order", order)
        return out

    for name, cls in ((f"ThreadPoolExecutor({workers}), as_completed", cf.ThreadPoolExecutor),
                      (f"ProcessPoolExecutor({workers}), as_completed", cf.ProcessPoolExecutor)):
        v = Variant(name, workers, n, ideal_s=ideal_cpu_bound(serial_s, workers, n))
        out = s.measure(v, lambda ctx, cls=cls: pool(cls, ctx))
        s.check(f"{name}: every digest once, equal to serial", out == serial)

    def with_asyncio(_ctx) -> list:
        async def main() -> list:
            loop = asyncio.get_running_loop()
            with cf.ThreadPoolExecutor(max_workers=workers) as ex:

                async def one(i: int, password: str) -> tuple[int, str]:
                    return i, await loop.run_in_executor(ex, digest, password)

                out: list = [None] * n
                for fut in asyncio.as_completed([one(i, p) for i, p in enumerate(passwords)]):
                    i, value = await fut
                    out[i] = value
                return out

        return asyncio.run(main())

    v = Variant(f"asyncio, run_in_executor({workers} threads), as_completed", workers, n,
                ideal_s=ideal_cpu_bound(serial_s, workers, n))
    out = s.measure(v, with_asyncio)
    s.check("asyncio as_completed: every digest once", out == serial)


SECTIONS = {
    "service_request": (service_request, "the talk's toy problem: sequential, asyncio, "
                                         "threads, processes"),
    "as_completed": (as_completed, "8 scrypt digests consumed with as_completed"),
}

if __name__ == "__main__":
    common.main(CRATE, "asyncio, threads and processes, measured beside examples-async.",
                SECTIONS)
