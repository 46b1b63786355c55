"""Threads in Python, measured on the same machine as examples-threads (the Rust crate).

Each section runs the tutorials' own workload the Python way, with the same sizes, seeds and
flags as the Rust section of the same name, and prints the same JSON lines under --json
("language": "python"). Run through the report: `scripts/run_all.sh --with-python`; or alone:
`python python/examples_threads.py gil --base-url http://...`.

Sections:
  gil          seed 000 "Python's GIL problem", seed 001 "Differences in CPU usage", seed 004
               "The infamous GIL": pure-Python CPU work, sleeps and a C extension on threads,
               under the real GIL.
  csv_threads  seed 001 "I/O speed-up using Threads": pandas.read_csv three times, serially
               and on three threads.
  executors    seed 000 "Joblib", "Concurrent Futures", "Multiprocessing", "Threading
               Library": compute_x through every executor the tutorial shows, including its
               ProcessPoolExecutor example exactly as written.
  wiki         seed 000 wiki page existence: serially and with ThreadPoolExecutor(2).
  downloads    seed 003 "Example: Downloading Files": 20 downloads, serially and on 4 threads.
  timeline     seed 003 thread activity: two threads of random 10-50 ms sleeps.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing as mp
import multiprocessing.pool
import os
import random
import tempfile
import threading
import time

import common
from common import Section, Variant, ideal_cpu_bound, ideal_waves, say

CRATE = "examples-threads"
# Under --quick one tutorial second lasts this long (times --scale), as in the Rust crates.
QUICK_SECOND_S = 0.04


def tutorial_second(args) -> float:
    return args.scale * (QUICK_SECOND_S if args.quick else 1.0)


def on_threads(threads: int, tasks: int, work) -> list:
    """Task i on thread i % threads; results in task order (like the Rust section)."""
    results: list = [None] * tasks

    def run(t: int) -> None:
        for i in range(t, tasks, threads):
            results[i] = work(i)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return results


# --- gil ------------------------------------------------------------------------------------


def count_primes(lo: int, hi: int) -> int:
    """Pure-Python CPU work: trial division, the same algorithm as the Rust interpreter's."""
    count = 0
    for n in range(lo, hi):
        if n < 2:
            continue
        d = 2
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 1
        count += prime
    return count


def fft_task(seed: int, i: int, n: int) -> float:
    """numpy: generate the input and FFT it (native code that can release the GIL)."""
    import numpy as np

    data = np.random.default_rng([seed, i]).random(n)
    return float(abs(np.fft.fft(data)[1]))


def _primes_block(args: tuple[int, int]) -> int:
    return count_primes(*args)


def pool_map(processes: int, fn, items: list) -> list:
    """multiprocessing.Pool(processes).map, start-up included, workers reaped at the end (so
    getrusage counts their CPU time)."""
    pool = mp.Pool(processes)
    try:
        return pool.map(fn, items)
    finally:
        pool.close()
        pool.join()


def gil(args) -> None:
    s = Section(CRATE, "gil", args)
    s.title("seed 000 GIL problem / 001 CPU usage / 004 GIL, with CPython's real lock")
    tasks = 4
    # Blocks of 0..limit with equal cost, as in the Rust section: trial division's work below
    # n grows like n^1.5, so equal-length blocks would leave one thread busier than another.
    limit = 80_000 if args.quick else 3_200_000
    edges = [int(limit * (i / tasks) ** (2 / 3)) for i in range(tasks + 1)]
    blocks = [(edges[i], edges[i + 1]) for i in range(tasks)]

    def compare(work, ntasks: int, ideal) -> list:
        serial = s.measure(Variant.serial(ntasks), lambda _: on_threads(1, ntasks, work))
        for threads in (2, 4):
            v = Variant(f"{threads} threads", threads, ntasks,
                        ideal_s=ideal(threads, s.baseline_s or 0.0))
            out = s.measure(v, lambda _, t=threads: on_threads(t, ntasks, work))
            s.check(f"{threads} threads: same results as serial", out == serial)
        return serial

    s.workload("CPU work under the GIL (pure Python)")
    serial = compare(lambda i: count_primes(*blocks[i]), tasks, lambda t, serial_s: serial_s)

    # Python's way around the GIL for pure-Python code: processes, each with its own.
    s.workload("the same CPU work in processes (a GIL each)")
    s.measure(Variant.serial(tasks), lambda _: [count_primes(*b) for b in blocks])
    serial_s = s.baseline_s or 0.0
    for procs in (2, 4):
        v = Variant(f"{procs} processes", procs, tasks,
                    ideal_s=ideal_cpu_bound(serial_s, procs, tasks))
        out = s.measure(v, lambda _, p=procs: pool_map(p, _primes_block, blocks))
        s.check(f"{procs} processes: same results as serial", out == serial)

    io_tasks = 8
    wait = (0.05 if args.quick else 0.25) * args.scale
    s.workload("I/O under the GIL (time.sleep releases it)")
    compare(lambda _: time.sleep(wait), io_tasks,
            lambda t, _: ideal_waves(wait, io_tasks, t))

    n = (1 << 14) if args.quick else (1 << 22)
    fft_task(args.seed, 0, 1 << 10)  # import numpy and warm its FFT up before timing
    s.workload("C-extension work under the GIL (an FFT that releases it)")
    compare(lambda i: fft_task(args.seed, i, n), tasks,
            lambda t, serial_s: ideal_cpu_bound(serial_s, t, tasks))
    say()
    say("  Pure-Python CPU work takes turns under the GIL (about 1x, one core busy); sleeping")
    say("  and native code that releases the GIL run on every core the machine has.")


# --- csv_threads ----------------------------------------------------------------------------


def write_csv(path: str, rows: int) -> None:
    """The tutorial's file: rows `line,data,<i>`, no header."""
    step = 1_000_000
    with open(path, "w", encoding="ascii") as f:
        for lo in range(0, rows, step):
            f.write("".join(f"line,data,{i}\n" for i in range(lo, min(rows, lo + step))))


def read_df(path: str) -> tuple[int, int]:
    import pandas as pd

    df = pd.read_csv(path, header=None)
    return len(df), int(df[2].sum())


def csv_threads(args) -> None:
    s = Section(CRATE, "csv_threads", args)
    s.title("seed 001 I/O speed-up using Threads (pandas.read_csv)")
    rows = 200_000 if args.quick else common_workloads(args)["csv_rows"]
    reads = 3
    want = (rows, rows * (rows - 1) // 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.csv")
        t0 = time.perf_counter()
        write_csv(path, rows)
        say(f"  wrote {rows:,} rows in {time.perf_counter() - t0:.2f} s")

        s.workload("the bytes alone, from the page cache (no parsing)")

        def read_bytes(_ctx) -> int:
            total = 0
            for _ in range(reads):
                with open(path, "rb") as f:
                    total += len(f.read())
            return total

        s.measure(Variant("read the bytes, x3", 1, reads, baseline=True), read_bytes)

        s.workload("parsing like pandas: pandas.read_csv under the real GIL")
        serial = s.measure(Variant.serial(reads), lambda ctx: [
            ctx.spans.track("thread 1", i, lambda: read_df(path)) for i in range(reads)])
        s.check("serial: every read has the rows and the sum", all(r == want for r in serial),
                f"{serial[0][0]:,} rows")

        def threaded(ctx) -> list:
            # The tutorial's code: one Thread per read, started, then joined.
            out: list = [None] * reads

            def work(i: int) -> None:
                out[i] = ctx.spans.track(f"thread {i + 1}", i, lambda: read_df(path))

            ts = [threading.Thread(target=work, args=(i,)) for i in range(reads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out

        v = Variant("3 threads", reads, reads,
                    ideal_s=ideal_cpu_bound(s.baseline_s or 0.0, reads, reads))
        out = s.measure(v, threaded)
        s.check("3 threads: every read has the rows and the sum", all(r == want for r in out))


# --- executors ------------------------------------------------------------------------------


def compute_x(x: int, y: int = 2, second: float = 1.0) -> tuple[int, int]:
    """Seed 000's compute_x: sleeps 0.8 tutorial seconds, returns (x, y)."""
    time.sleep(0.8 * second)
    return (x, y)


def executors(args) -> None:
    s = Section(CRATE, "executors", args)
    s.title("seed 000 Joblib / concurrent.futures / multiprocessing / threading")
    w = common_workloads(args)["compute_x"]
    xs = w["inputs"]
    second = tutorial_second(args)
    sleep = w["sleep_s"] * second
    n = len(xs)
    job = functools.partial(compute_x, second=second)
    want = [(x, w["default_y"]) for x in xs]

    s.workload("compute_x over 1..=10 (each sleeps 0.8 tutorial s)")
    out = s.measure(Variant.serial(n), lambda _: [job(x) for x in xs])
    s.check("serial: (x, 2) for every x", out == want)

    def joblib_run(backend: str | None):
        from joblib import Parallel, delayed

        kw = {"backend": backend} if backend else {}
        return Parallel(n_jobs=4, **kw)(delayed(job)(x) for x in xs)

    for name, backend in (("joblib Parallel(n_jobs=4)", None),
                          ("joblib Parallel(n_jobs=4, backend=\"threading\")", "threading")):
        v = Variant(name, 4, n, ideal_s=ideal_waves(sleep, n, 4))
        out = s.measure(v, lambda _, b=backend: joblib_run(b))
        s.check(f"{name}: results in input order", out == want)

    def submit_as_completed(executor_cls, ctx) -> list:
        with executor_cls(max_workers=4) as ex:
            futures = [ex.submit(job, x) for x in xs]
            result = [f.result() for f in cf.as_completed(futures)]
        ctx.set("results", len(result))
        return result

    v = Variant("submit + as_completed", 4, n,
                ideal_s=ideal_waves(sleep, n, 4))
    out = s.measure(v, lambda ctx: submit_as_completed(cf.ThreadPoolExecutor, ctx))
    s.check("ThreadPoolExecutor as_completed: every task once", sorted(out) == want)

    v = Variant("ProcessPoolExecutor(4) submit + as_completed", 4, n,
                ideal_s=ideal_waves(sleep, n, 4))
    out = s.measure(v, lambda ctx: submit_as_completed(cf.ProcessPoolExecutor, ctx))
    s.check("ProcessPoolExecutor as_completed: every task once", sorted(out) == want)

    def as_written(ctx) -> list:
        # Seed 000's first ProcessPoolExecutor example, as printed: submit's future is
        # dropped, so `futures` stays empty and as_completed(futures) yields nothing.
        with cf.ProcessPoolExecutor(max_workers=4) as executor:
            futures: list = []
            for i in xs:
                executor.submit(job, x=i)
            result = [future.result() for future in cf.as_completed(futures)]
        ctx.set("results", len(result))
        return result

    v = Variant("submit as the tutorial wrote it", 4, n,
                ideal_s=ideal_waves(sleep, n, 4))
    out = s.measure(v, as_written)
    s.check("as written: the tutorial's example returns no result at all", out == [],
            f"{len(out)} results for {n} tasks")

    def partial_map(_ctx) -> list:
        with cf.ProcessPoolExecutor(max_workers=4) as ex:
            return list(ex.map(functools.partial(job, y=w["partial_y"]), xs))

    v = Variant("map(partial(compute_x, y=3))", 4, n, ideal_s=ideal_waves(sleep, n, 4))
    out = s.measure(v, partial_map)
    s.check("map with partial(y=3): input order, y bound", out == [(x, 3) for x in xs])

    def mp_pool(_ctx) -> list:
        return pool_map(2, job, xs)

    v = Variant("Pool(2).map (processes)", 2, n, ideal_s=ideal_waves(sleep, n, 2))
    s.check("Pool(2).map: input order", s.measure(v, mp_pool) == want)

    def thread_pool(_ctx) -> list:
        with multiprocessing.pool.ThreadPool(2) as pool:
            return pool.map(job, xs)

    v = Variant("ThreadPool(2).map", 2, n, ideal_s=ideal_waves(sleep, n, 2))
    s.check("ThreadPool(2).map: input order", s.measure(v, thread_pool) == want)

    def bare_threads(_ctx) -> int:
        ts = [threading.Thread(target=job, args=(x,)) for x in xs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return len(ts)

    v = Variant("threading.Thread(...).start() per item", n, n, ideal_s=sleep)
    s.measure(v, bare_threads)


# --- wiki and downloads ---------------------------------------------------------------------


def get_wiki_page_existence(wiki_page_url: str, timeout: float = 10) -> str:
    import requests

    try:
        status = requests.get(url=wiki_page_url, timeout=timeout).status_code
    except requests.RequestException:  # refused, timed out: "unknown", never a crash
        status = 0
    page_status = {200: "exists", 404: "does not exist"}.get(status, "unknown")
    return f"{wiki_page_url} - {page_status}"


def wiki(args) -> None:
    s = Section(CRATE, "wiki", args)
    s.title("seed 000 wiki page existence (requests)")
    base = common.need_base_url(args)
    urls = [f"{base}/wiki/{p}" for p in common_workloads(args)["web"]["wiki_pages"]]
    n = len(urls)
    s.workload("four page checks, one page missing (requests, timeout 10 s)")
    serial = s.measure(Variant.serial(n), lambda _: [get_wiki_page_existence(u) for u in urls])
    for line in serial:
        say(f"  {line}")
    statuses = sorted(line.rsplit(" - ", 1)[1] for line in serial)
    s.check("three pages exist, one does not", statuses == ["does not exist"] + ["exists"] * 3,
            ", ".join(statuses))
    one = (s.baseline_s or 0.0) / n

    def pool_as_completed(_ctx) -> list:
        with cf.ThreadPoolExecutor(max_workers=2) as ex:
            futures = [ex.submit(get_wiki_page_existence, wiki_page_url=u) for u in urls]
            return [f.result() for f in cf.as_completed(futures)]

    v = Variant("ThreadPoolExecutor(2), as_completed", 2, n, ideal_s=ideal_waves(one, n, 2))
    out = s.measure(v, pool_as_completed)
    s.check("as_completed: every page once", sorted(out) == sorted(serial))

    def thread_pool_map(_ctx) -> list:
        with multiprocessing.pool.ThreadPool(2) as pool:
            return pool.map(get_wiki_page_existence, urls)

    v = Variant("ThreadPool(2).map", 2, n, ideal_s=ideal_waves(one, n, 2))
    s.check("ThreadPool.map: input order", s.measure(v, thread_pool_map) == serial)


def download_image(url: str) -> bytes:
    import requests

    return requests.get(url, timeout=30).content


def body_ok(body: bytes, web: dict) -> bool:
    """Length, and the first and last 32 bytes the Rust server's image has."""
    if len(body) != web["image_bytes"]:
        return False
    head, tail = web.get("image_head_hex"), web.get("image_tail_hex")
    return (not head or body[:32].hex() == head) and (not tail or body[-32:].hex() == tail)


def downloads(args) -> None:
    s = Section(CRATE, "downloads", args)
    s.title("seed 003 Example: Downloading Files (threads)")
    base = common.need_base_url(args)
    web = common_workloads(args)["web"]
    n = web["image_downloads"]
    url = f"{base}/image"
    s.workload(f"downloading one image again and again ({n} times, requests, {url})")
    serial = s.measure(Variant.serial(n), lambda ctx: [
        ctx.spans.track("main thread", i, lambda: download_image(url)) for i in range(n)])
    s.check("serial: every image arrived whole", all(body_ok(b, web) for b in serial))
    one = (s.baseline_s or 0.0) / n

    def threads(ctx) -> list:
        def task(i: int) -> bytes:
            return ctx.spans.track(common.thread_lane(), i, lambda: download_image(url))

        with cf.ThreadPoolExecutor(4) as ex:
            return list(ex.map(task, range(n)))  # results read, unlike the post

    v = Variant("4 threads (executor.map)", 4, n, ideal_s=ideal_waves(one, n, 4))
    out = s.measure(v, threads)
    s.check("4 threads: every image arrived whole", all(body_ok(b, web) for b in out))


# --- timeline -------------------------------------------------------------------------------


def timeline(args) -> None:
    s = Section(CRATE, "timeline", args)
    s.title("seed 003 thread activity with context switches")
    rng = random.Random(args.seed)
    sleeps = [[rng.uniform(0.01, 0.05) * args.scale for _ in range(10)] for _ in range(2)]
    s.workload("ten random sleeps on each of two threads (10-50 ms)")

    def one_thread(ctx) -> None:
        for t in range(2):
            for k, d in enumerate(sleeps[t]):
                ctx.spans.track("thread 1", t * 10 + k, lambda d=d: time.sleep(d))

    s.measure(Variant.serial(20), one_thread)

    def run(ctx) -> None:
        def work(t: int) -> None:
            for k, d in enumerate(sleeps[t]):
                ctx.spans.track(f"thread {t + 1}", t * 10 + k, lambda d=d: time.sleep(d))

        ts = [threading.Thread(target=work, args=(t,)) for t in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    total = [sum(x) for x in sleeps]
    s.measure(Variant("2 threads", 2, 20, ideal_s=max(total)), run)


def common_workloads(args) -> dict:
    if not hasattr(args, "_workloads"):
        args._workloads = common.load_workloads(args)
    return args._workloads


SECTIONS = {
    "gil": (gil, "the GIL, measured: CPU work, sleeps, a C extension on threads"),
    "csv_threads": (csv_threads, "pandas.read_csv three times, serially and on 3 threads"),
    "executors": (executors, "compute_x through joblib, concurrent.futures, multiprocessing"),
    "wiki": (wiki, "wiki page existence, serially and with ThreadPoolExecutor(2)"),
    "downloads": (downloads, "20 image downloads, serially and on 4 threads"),
    "timeline": (timeline, "two threads of random sleeps, as spans"),
}

if __name__ == "__main__":
    common.main(CRATE, "Threads in Python, measured beside examples-threads.", SECTIONS)
