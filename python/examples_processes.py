"""Processes in Python, measured on the same machine as examples-processes (the Rust crate).

Same sizes, seeds and flags as the Rust sections of the same names; the same JSON lines
under --json with "language": "python". Run through `scripts/run_all.sh --with-python`.

Sections:
  long_running   seed 001 "Speed up long running jobs using Process": fake runtimes 5,2,4,1,5.
  pool           seed 000 "Concurrent Futures / Multiprocessing: Parallel" (compute_x) and
                 seed 002 "An illustrative example" (8 scrypt digests), process vs thread pools.
  queue_workers  seed 001 "Using a messaging queue with multiple workers": 3 worker processes,
                 get(timeout=2), a shutdown Event; then tiny-task throughput.
  gotchas        seed 002 "Gotchas": the per-task overhead of tiny tasks.
  downloads      seed 003 "Parallelism - Multi-Processing: Downloading Files": 20 downloads on
                 4 processes, every body checked; and the post's pattern that measured 0.11 s.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import hashlib
import multiprocessing as mp
import queue
import threading
import time

import common
from common import (Section, Variant, ideal_cpu_bound, ideal_greedy_makespan, ideal_longest,
                    ideal_waves, say)
from examples_threads import (QUICK_SECOND_S, body_ok, common_workloads, compute_x,
                              download_image, pool_map)

CRATE = "examples-processes"


def tutorial_second(args) -> float:
    return args.scale * (QUICK_SECOND_S if args.quick else 1.0)


# --- long_running ---------------------------------------------------------------------------


def long_running_process(process_id: int, task_time: int, second: float, done=None) -> None:
    start = time.time()
    time.sleep(task_time * second)
    say(f"  Process id {process_id} - Complete - Task time: {task_time}s")
    if done is not None:
        done.put((process_id, start, time.time()))


def long_running(args) -> None:
    s = Section(CRATE, "long_running", args)
    s.title("seed 001 Speed up long running jobs using Process")
    runtimes = [int(t) for t in common_workloads(args)["fake_runtimes_s"]]
    second = tutorial_second(args)
    s.workload("five fake jobs, 5+2+4+1+5 s")
    s.measure(Variant.serial(len(runtimes)),
              lambda _: [long_running_process(i, t, second) for i, t in enumerate(runtimes)])

    order: list[int] = []

    def processes(ctx) -> None:
        done = mp.Queue()
        ps = [mp.Process(target=long_running_process, args=(i, t, second, done))
              for i, t in enumerate(runtimes)]
        for p in ps:
            p.start()
        for _ in ps:
            i, start, end = done.get(timeout=60 + max(runtimes) * second)
            order.append(i)
            ctx.spans.record_unix(f"process {i}", i, start, end)
        for p in ps:
            p.join()

    v = Variant("5 processes, one per job", len(runtimes), len(runtimes),
                ideal_s=ideal_longest([t * second for t in runtimes]))
    s.measure(v, processes)
    done_times = [runtimes[i] for i in order]
    s.check("jobs completed shortest first", done_times == sorted(done_times),
            f"completion order {order}")


# --- pool -----------------------------------------------------------------------------------


def scrypt_digest(password: str, log_n: int, r: int, p: int, length: int, salt: str) -> str:
    """hashlib.scrypt (OpenSSL, which runs without the GIL)."""
    return hashlib.scrypt(password.encode(), salt=salt.encode(), n=2 ** log_n, r=r, p=p,
                          dklen=length, maxmem=256 * 1024 * 1024).hex()


def pool(args) -> None:
    s = Section(CRATE, "pool", args)
    s.title("seed 000 ProcessPoolExecutor / Pool, seed 002 scrypt with executors")
    w = common_workloads(args)
    second = tutorial_second(args)
    cx = w["compute_x"]
    xs = cx["inputs"]
    n = len(xs)
    sleep = cx["sleep_s"] * second
    job = functools.partial(compute_x, second=second)
    want = [(x, cx["default_y"]) for x in xs]

    s.workload("compute_x(x) for x in 1..=10 (each sleeps 0.8 tutorial s)")
    s.measure(Variant.serial(n), lambda _: [job(x) for x in xs])

    def executor_map(cls, workers: int) -> list:
        with cls(max_workers=workers) as ex:
            return list(ex.map(job, xs))

    runs = [("Pool(2).map (processes)", 2, lambda: pool_map(2, job, xs)),
            ("ProcessPoolExecutor(4).map", 4, lambda: executor_map(cf.ProcessPoolExecutor, 4)),
            ("ThreadPoolExecutor(4).map", 4, lambda: executor_map(cf.ThreadPoolExecutor, 4))]
    for name, workers, run in runs:
        v = Variant(name, workers, n, ideal_s=ideal_waves(sleep, n, workers))
        out = s.measure(v, lambda _, run=run: run())
        s.check(f"{name}: results in input order, equal to serial", out == want)

    sc = w["scrypt"]
    params = sc["quick"] if args.quick else sc["tutorial"]
    tutorial_params = params == sc["tutorial"]
    digest = functools.partial(scrypt_digest, log_n=params["log_n"], r=params["r"],
                               p=params["p"], length=params["len"], salt=sc["salt"])
    workers = args.workers or 2
    s.workload(f"scrypt of 8 passwords (n=2^{params['log_n']}, r={params['r']}, "
               f"p={params['p']}, salt \"salt\", {params['len']}-byte digest)")
    with cf.ProcessPoolExecutor(max_workers=workers) as ex:
        one = ex.submit(digest, sc["my_password"])
        done_at_once = one.done()
        mine = one.result()
    say(f"  submit(scrypt, b\"my password\"): done() right away = {done_at_once}; result():")
    say(f"    {mine}")
    if tutorial_params:
        s.check("the submitted digest equals the tutorial's", mine == sc["my_password_hex"])

    passwords = sc["passwords"]
    serial = s.measure(Variant.serial(len(passwords)), lambda _: [digest(p) for p in passwords])
    if tutorial_params and sc["passwords_hex"]:
        s.check("serial digests equal the Rust crate's", serial == sc["passwords_hex"])
    serial_s = s.baseline_s or 0.0
    for name, cls in ((f"{workers} processes (ProcessPoolExecutor)", cf.ProcessPoolExecutor),
                      (f"{workers} threads (ThreadPoolExecutor)", cf.ThreadPoolExecutor)):
        def run(_ctx, cls=cls) -> list:
            with cls(max_workers=workers) as ex:
                futures = {ex.submit(digest, p): i for i, p in enumerate(passwords)}
                out: list = [None] * len(passwords)
                for f in cf.as_completed(futures):
                    out[futures[f]] = f.result()
                return out

        v = Variant(name, workers, len(passwords),
                    ideal_s=ideal_cpu_bound(serial_s, workers, len(passwords)))
        out = s.measure(v, run)
        s.check(f"{name}: digests identical to serial", out == serial)


# --- queue_workers --------------------------------------------------------------------------


def worker_func(task_queue, results, event, worker_id: int, timeout: float, second: float):
    """Seed 001's worker: poll the queue with a timeout so that a cleared event is noticed."""
    say(f"  Working {worker_id} starting")
    while event.is_set():
        try:
            task_id, task_time = task_queue.get(timeout=timeout)
        except queue.Empty:
            continue
        start = time.time()
        time.sleep(task_time * second)
        results.put((worker_id, task_id, task_time, start, time.time()))
        say(f"  worker id: {worker_id} task id: {task_id} task time: {task_time}s")
    say(f"  Worker {worker_id} Shutting down...")


def tiny_worker(inbox, outbox, batch: int) -> None:
    while True:
        xs = inbox.get()
        if xs is None:
            return
        outbox.put([x + 1 for x in xs] if batch > 1 else xs + 1)


def queue_workers(args) -> None:
    s = Section(CRATE, "queue_workers", args)
    s.title("seed 001 Using a messaging queue with multiple workers")
    tasks = common_workloads(args)["queue_tasks"]
    second = tutorial_second(args)
    n_workers = args.workers or 3
    timeout = 2.0 * second
    s.workload(f"{len(tasks)} tasks (ids 0-14: 1-5 s, 100-110: 2-6 s; seed {args.seed}), "
               f"{n_workers} worker processes, get(timeout=2 s)")
    task_queue, results, event = mp.Queue(), mp.Queue(), mp.Event()
    event.set()
    workers = [mp.Process(target=worker_func, args=(task_queue, results, event, i, timeout,
                                                    second), daemon=True)
               for i in range(n_workers)]
    ctx = common.Ctx()
    c0 = common.cpu_s()
    for w in workers:
        w.start()
    t0 = time.perf_counter()
    for t in tasks:
        task_queue.put((t["id"], t["secs"]))
    done: dict[int, list[int]] = {}
    per_worker: dict[str, int] = {}
    for _ in tasks:
        worker, task_id, _secs, start, end = results.get(timeout=120 + 10 * timeout)
        done.setdefault(task_id, []).append(worker)
        per_worker[f"worker {worker}"] = per_worker.get(f"worker {worker}", 0) + 1
        ctx.spans.record_unix(f"worker {worker}", task_id, start, end)
    makespan = time.perf_counter() - t0
    event.clear()
    t1 = time.perf_counter()
    for w in workers:
        w.join(timeout=30 + 2 * timeout)
    shutdown_s = time.perf_counter() - t1
    clean = all(w.exitcode == 0 for w in workers)
    ctx.set("tasks_per_worker", per_worker)
    ctx.set("shutdown_s", shutdown_s)
    secs = [t["secs"] * second for t in tasks]
    v = Variant(f"{n_workers} worker processes, one queue", n_workers, len(tasks),
                ideal_s=ideal_greedy_makespan(secs, n_workers))
    s.record(v, makespan, common.cpu_s() - c0, ctx)
    s.check("each task done exactly once",
            sorted(done) == sorted(t["id"] for t in tasks)
            and all(len(ws) == 1 for ws in done.values()),
            f"{len(done)} of {len(tasks)} tasks back")
    s.check("every worker shut down cleanly after the event was cleared", clean,
            f"in {shutdown_s:.3f} s")


def queue_throughput(args) -> None:
    s = Section(CRATE, "queue_throughput", args)
    s.title("seed 001 Using a messaging queue with multiple workers: what one message costs")
    n = 20_000 if args.quick else 200_000
    s.workload(f"{n} tiny tasks (x -> x + 1) and their results, 2 workers")

    def through(kind: str, m: int, batch: int, ctx) -> int:
        if kind == "threads":
            inbox, outbox = queue.Queue(), queue.Queue()
            ws = [threading.Thread(target=tiny_worker, args=(inbox, outbox, batch))
                  for _ in range(2)]
        else:
            inbox, outbox = mp.Queue(), mp.Queue()
            ws = [mp.Process(target=tiny_worker, args=(inbox, outbox, batch)) for _ in range(2)]
        for w in ws:
            w.start()
        t = time.perf_counter()
        chunks = [list(range(i, min(m, i + batch))) for i in range(0, m, batch)]
        for c in chunks:
            inbox.put(c if batch > 1 else c[0])
        total = 0
        for _ in chunks:
            got = outbox.get()
            total += sum(got) if batch > 1 else got
        ctx.set("tasks_per_s", m / (time.perf_counter() - t))
        for _ in ws:
            inbox.put(None)
        for w in ws:
            w.join()
        return total

    batch = 4096
    runs = [("2 threads, queue.Queue, 1 task/message", "threads", n, 1, True),
            (f"2 threads, queue.Queue, {batch} tasks/message", "threads", n, batch, False),
            (f"2 processes, multiprocessing.Queue, {batch} task(s)/message", "processes", n,
             batch, False),
            (f"2 processes, multiprocessing.Queue, 1 task(s)/message ({n // 10} tasks)",
             "processes", n // 10, 1, False)]
    for name, kind, m, b, base in runs:
        v = Variant(name, 2, m, baseline=base)

        def run(ctx, k=kind, m=m, b=b) -> int:
            ctx.set("tasks_per_message", b)
            return through(k, m, b, ctx)

        got = s.measure(v, run)
        s.check(f"{name}: every result back once", got == sum(x + 1 for x in range(m)))


# --- gotchas --------------------------------------------------------------------------------


def plus_one(x: int) -> int:
    return x + 1


def gotchas(args) -> None:
    s = Section(CRATE, "gotchas", args)
    s.title("seed 002 Gotchas: overheads of tiny tasks")
    n = 300 if args.quick else 2_000
    want = [x + 1 for x in range(n)]
    s.workload(f"{n} tiny tasks (x -> x + 1): overhead per task")

    def per_task(ctx, t: float) -> None:
        ctx.set("us_per_task", (time.perf_counter() - t) * 1e6 / n)

    def inline(ctx) -> list:
        t = time.perf_counter()
        out = [plus_one(x) for x in range(n)]
        per_task(ctx, t)
        return out

    s.check("inline: right results", s.measure(Variant("inline (a plain loop)", 1, n,
                                                       baseline=True), inline) == want)
    for name, cls, chunksize in (("2 threads, submit each", cf.ThreadPoolExecutor, None),
                                 ("2 processes, submit each", cf.ProcessPoolExecutor, None),
                                 ("2 threads, map(chunksize=1000)", cf.ThreadPoolExecutor, 1000),
                                 ("2 processes, map(chunksize=1000)", cf.ProcessPoolExecutor,
                                  1000)):
        # The pool is started before the clock, as in Rust: the cost per task, not start-up.
        with cls(max_workers=2) as ex:
            list(ex.map(plus_one, range(4)))  # workers up and warm

            def run(ctx, ex=ex, chunksize=chunksize) -> list:
                t = time.perf_counter()
                if chunksize is None:
                    out = [f.result() for f in [ex.submit(plus_one, x) for x in range(n)]]
                else:
                    out = list(ex.map(plus_one, range(n), chunksize=chunksize))
                per_task(ctx, t)
                return out

            out = s.measure(Variant(name, 2, n), run)
        s.check(f"{name}: right results, in order", out == want)


# --- downloads ------------------------------------------------------------------------------


def _function_the_workers_cannot_import():
    """A download function that, like one typed into a notebook cell, cannot be shipped to a
    pool's processes: pickle finds no `__main__.<name>` to refer to."""
    ns: dict = {}
    exec("import requests\n"
         "def download_image(img_url):\n"
         "    return requests.get(img_url).content\n", ns)
    f = ns["download_image"]
    f.__module__ = "__main__"
    f.__qualname__ = "download_image_typed_in_a_notebook_cell"
    return f


def downloads(args) -> None:
    s = Section(CRATE, "downloads", args)
    s.title("seed 003 Downloading Files: serial, 4 threads, 4 processes")
    base = common.need_base_url(args)
    web = common_workloads(args)["web"]
    n = web["image_downloads"]
    workers = args.workers or 4
    url = f"{base}/image"
    urls = [url] * n
    s.workload(f"{n} downloads of {url} (requests)")
    serial = s.measure(Variant.serial(n), lambda _: [download_image(u) for u in urls])
    s.check("serial: every image arrived whole", all(body_ok(b, web) for b in serial))
    one = (s.baseline_s or 0.0) / n
    for name, cls in ((f"{workers} threads", cf.ThreadPoolExecutor),
                      (f"{workers} processes", cf.ProcessPoolExecutor)):
        def run(ctx, cls=cls) -> list:
            with cls(workers) as ex:
                out = list(ex.map(download_image, urls))  # results read, unlike the post
            ctx.set("bytes", sum(len(b) for b in out))
            return out

        out = s.measure(Variant(name, workers, n, ideal_s=ideal_waves(one, n, workers)), run)
        s.check(f"{name}: every image arrived whole, in order",
                all(body_ok(b, web) for b in out) and len(out) == n)

    s.workload(f"the post's 0.11 s: {workers} processes whose worker cannot be shipped, "
               "results unread")
    notebook_download = _function_the_workers_cannot_import()

    def as_in_the_post(ctx) -> list:
        # The post's code: map inside `with`, and nothing ever reads the results.
        with cf.ProcessPoolExecutor(workers) as executor:
            futures = [executor.submit(notebook_download, u) for u in urls]
        # After the fact (microseconds): what did those futures hold?
        errors = [f.exception() for f in futures]
        ctx.set("downloaded", sum(e is None for e in errors))
        ctx.set("errors", sum(e is not None for e in errors))
        return errors

    errors = s.measure(Variant(f"{workers} processes, results never read", workers, n),
                       as_in_the_post)
    failed = sum(e is not None for e in errors)
    first = next((e for e in errors if e is not None), None)
    say(f"  {failed} of {n} tasks failed at once; the first error: {first!r}")
    s.check("the post's pattern downloads nothing, and says nothing unless asked",
            failed == n, f"{n - failed} downloaded, {failed} errors")


SECTIONS = {
    "long_running": (long_running, "fake runtimes 5,2,4,1,5 serially and one process each"),
    "pool": (pool, "compute_x and scrypt on process and thread pools"),
    "queue_workers": (queue_workers, "3 worker processes on one queue with a shutdown event"),
    "queue_throughput": (queue_throughput, "tiny tasks through queues: 1 vs 4096 per message"),
    "gotchas": (gotchas, "the per-task overhead of tiny tasks"),
    "downloads": (downloads, "20 downloads: serial, 4 threads, 4 processes, the post's 0.11 s"),
}

if __name__ == "__main__":
    common.main(CRATE, "Processes in Python, measured beside examples-processes.", SECTIONS)
