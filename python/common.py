"""What every Python program here shares: flags, timing, JSON lines, spans, checks.

The Python programs run the tutorials' workloads on the same machine as the Rust examples,
with the same sizes, seeds and flags, and print the same JSON lines with "language": "python",
so that the report (`report run --with-python`) can put both side by side. This module is the
Python twin of the Rust `shared` crate (cli, measure, output, spans): the lessons live in the
`examples_*.py` programs, not here.

Flags (as in Rust): SECTION, --scale, --quick, --json, --workers, --seed, --verbose,
--list-sections (hidden), plus --base-url (the report's embedded HTTP server) and
--workloads (the seeded inputs the Rust side generated, written by the report runner).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

# ---------------------------------------------------------------------------------------------
# Output: human text on stdout, or on stderr under --json so stdout holds only JSON lines.

_JSON = False
_FAILED_CHECKS = 0
_EMIT_LOCK = threading.Lock()


def say(*parts: Any) -> None:
    """Prints a line of human text (stderr under --json)."""
    print(*parts, file=sys.stderr if _JSON else sys.stdout, flush=True)


def emit(obj: dict) -> None:
    """Writes one JSON object as one line on stdout, under --json."""
    if _JSON:
        with _EMIT_LOCK:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()


def cpu_s() -> float:
    """CPU seconds of this process and of its reaped children, from the OS (getrusage)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fmt_secs(s: float) -> str:
    if s >= 1.0:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} µs"


# ---------------------------------------------------------------------------------------------
# Ideal wall times (the same formulas as shared::measure::ideal).


def ideal_cpu_bound(serial_s: float, workers: int, tasks: int) -> float:
    return serial_s / max(1, min(workers, tasks, cores()))


def ideal_waves(task_s: float, tasks: int, workers: int) -> float:
    return math.ceil(tasks / max(1, workers)) * task_s


def ideal_longest(durations: list[float]) -> float:
    return max(durations, default=0.0)


def ideal_greedy_makespan(durations: list[float], workers: int) -> float:
    free_at = [0.0] * max(1, workers)
    for d in durations:
        i = free_at.index(min(free_at))
        free_at[i] += d
    return max(free_at)


# ---------------------------------------------------------------------------------------------
# Spans: which lane ran which task, when (seconds since the recorder started).


class Spans:
    """A thread-safe recorder of (lane, task, start, end)."""

    def __init__(self) -> None:
        self.epoch = time.perf_counter()
        self.epoch_unix = time.time()
        self._lock = threading.Lock()
        self._spans: list[dict] = []

    def record(self, lane: str, task: int, start: float, end: float) -> None:
        """A task timed with time.perf_counter() in this process."""
        with self._lock:
            self._spans.append(
                {"lane": lane, "task": int(task), "start_s": max(0.0, start - self.epoch),
                 "end_s": max(0.0, end - self.epoch)})

    def record_unix(self, lane: str, task: int, start_unix: float, end_unix: float) -> None:
        """A task timed in another process with time.time()."""
        with self._lock:
            self._spans.append(
                {"lane": lane, "task": int(task), "start_s": max(0.0, start_unix - self.epoch_unix),
                 "end_s": max(0.0, end_unix - self.epoch_unix)})

    def track(self, lane: str, task: int, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = fn()
        self.record(lane, task, start, time.perf_counter())
        return value

    def take(self) -> list[dict]:
        with self._lock:
            spans, self._spans = self._spans, []
        return sorted(spans, key=lambda s: s["start_s"])


_LANES: dict[int, str] = {}
_LANES_LOCK = threading.Lock()


def thread_lane() -> str:
    """The current thread's lane: "thread 1", "thread 2", ... in order of first use within
    the current measurement."""
    with _LANES_LOCK:
        return _LANES.setdefault(threading.get_ident(), f"thread {len(_LANES) + 1}")


# ---------------------------------------------------------------------------------------------
# Measuring a section's variants against the serial baseline.


@dataclass
class Variant:
    name: str
    workers: int
    tasks: int
    ideal_s: float | None = None
    baseline: bool = False

    @staticmethod
    def serial(tasks: int) -> "Variant":
        return Variant("serial", 1, tasks, baseline=True)


@dataclass
class Ctx:
    spans: Spans = field(default_factory=Spans)
    extra: dict = field(default_factory=dict)

    def set(self, key: str, value: Any) -> None:
        self.extra[key] = value


class Section:
    """The measurements of one section: prints rows, emits JSON lines (same keys as Rust)."""

    def __init__(self, krate: str, section: str, args: argparse.Namespace) -> None:
        self.krate, self.section, self.args = krate, section, args
        self.workload_name: str | None = None
        self.baseline_s: float | None = None
        self.header_due = True
        self.measurements: list[dict] = []

    def title(self, mirrors: str) -> None:
        flags = []
        if self.args.scale != 1.0:
            flags.append(f"sleeps x{self.args.scale}")
        if self.args.quick:
            flags.append("quick sizes")
        say()
        say(f"=== {self.krate} {self.section} (Python): {mirrors}"
            + (f" [{', '.join(flags)}]" if flags else ""))

    def workload(self, name: str) -> None:
        self.workload_name, self.baseline_s, self.header_due = name, None, True
        say()
        say(f"--- {name}")

    def measure(self, variant: Variant, fn: Callable[[Ctx], Any]) -> Any:
        ctx = Ctx()
        with _LANES_LOCK:
            _LANES.clear()
        c0, t0 = cpu_s(), time.perf_counter()
        value = fn(ctx)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        self.record(variant, wall, cpu, ctx)
        return value

    def record(self, v: Variant, wall_s: float, cpu: float, ctx: Ctx | None = None) -> dict:
        ctx = ctx or Ctx()
        if v.baseline:
            self.baseline_s = wall_s
        ideal_s = v.ideal_s if v.ideal_s is not None else (wall_s if v.baseline else None)
        speedup = self.baseline_s / wall_s if self.baseline_s and wall_s > 0 else None
        ideal_speedup = (self.baseline_s / ideal_s
                         if self.baseline_s is not None and ideal_s else None)
        m = {
            "kind": "measurement", "language": "python", "crate": self.krate,
            "section": self.section, "variant": v.name, "workers": v.workers,
            "tasks": v.tasks, "wall_s": wall_s, "cpu_s": cpu, "ideal_s": ideal_s,
            "speedup": speedup, "ideal_speedup": ideal_speedup, "baseline": v.baseline,
            "cores": cores(), "scale": self.args.scale, "quick": self.args.quick,
        }
        if self.workload_name is not None:
            m["workload"] = self.workload_name
        m.update(ctx.extra)
        self._print_row(m)
        emit(m)
        for span in ctx.spans.take():
            line = {"kind": "span", "language": "python", "crate": self.krate,
                    "section": self.section, "variant": v.name, **span}
            if self.workload_name is not None:
                line["workload"] = self.workload_name
            emit(line)
        self.measurements.append(m)
        return m

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        global _FAILED_CHECKS
        if not ok:
            _FAILED_CHECKS += 1
        mark = "ok    " if ok else "FAILED"
        say(f"  [{mark}] {name}" + (f": {detail}" if detail else ""))
        emit({"kind": "check", "language": "python", "crate": self.krate,
              "section": self.section, "name": name, "ok": bool(ok), "detail": detail})
        return ok

    def _print_row(self, m: dict) -> None:
        if self.header_due:
            self.header_due = False
            say(f"  {'variant':<40} {'workers':>7} {'wall':>10}  {'speed-up':>9} {'ideal':>7}"
                f" {'eff.':>6}  {'cpu':>10}")
        if m["baseline"]:
            sp = "1.00x"
        elif m["speedup"] is not None:
            sp = f"-> {m['speedup']:.2f}x"
        else:
            sp = "-"
        ideal = f"{m['ideal_speedup']:.2f}x" if m["ideal_speedup"] else "-"
        eff = (f"{100 * m['speedup'] / m['ideal_speedup']:.0f}%"
               if m["speedup"] and m["ideal_speedup"] else "-")
        util = m["cpu_s"] / m["wall_s"] if m["wall_s"] > 0 else 0.0
        say(f"  {m['variant']:<40} {m['workers']:>7} {fmt_secs(m['wall_s']):>10}  {sp:>9}"
            f" {ideal:>7} {eff:>6}  {util:>4.2f} cores")


# ---------------------------------------------------------------------------------------------
# Workloads: the Rust side's seeded inputs (written by the report runner), or our own.


def load_workloads(args: argparse.Namespace) -> dict:
    """The seeded inputs of the Rust side (--workloads FILE). Without the file, the same sizes
    with inputs drawn from numpy's generator seeded with --seed (not the same numbers)."""
    if args.workloads:
        with open(args.workloads, encoding="utf-8") as f:
            return json.load(f)
    import numpy as np  # only needed for the fallback

    rng = np.random.default_rng(args.seed)

    def service(requests: int, iterations: int, fft_len: int) -> dict:
        return {"requests": requests, "iterations": iterations, "fft_len": fft_len,
                "sleeps_s": rng.random((requests, iterations)).tolist()}

    say("  (no --workloads file: own seeded inputs; the report runner passes the Rust ones)")
    return {
        "seed": args.seed,
        "compute_x": {"sleep_s": 0.8, "inputs": list(range(1, 11)), "default_y": 2,
                      "partial_y": 3},
        "fake_runtimes_s": [5.0, 2.0, 4.0, 1.0, 5.0],
        "queue_tasks": [{"id": i, "secs": int(rng.integers(1, 6))} for i in range(15)]
        + [{"id": i, "secs": int(rng.integers(2, 7))} for i in range(100, 111)],
        "service": {"tutorial": service(10, 5, 4_000_000), "quick": service(4, 2, 1 << 16)},
        "scrypt": {
            "tutorial": {"log_n": 7, "r": 1024, "p": 32, "len": 64},
            "quick": {"log_n": 7, "r": 256, "p": 2, "len": 64},
            "salt": "salt", "my_password": "my password",
            "my_password_hex": "5e2c846158bd667c38099c9d27eb8990d4632151ebea95de18ebe407d823d172"
                               "05369f2d5e4a964efbbc1b774d944662ffd23a2befa59cb815645c4b4dd70d3f",
            "passwords": [f"password {i}" for i in range(8)], "passwords_hex": [],
        },
        "csv_rows": 10_000_000,
        "web": {"wiki_pages": ["Ocean", "Island", "this_page_does_not_exist", "Shark"],
                "image_downloads": 20, "image_bytes": 1 << 20,
                "image_head_hex": "", "image_tail_hex": ""},
    }


# ---------------------------------------------------------------------------------------------
# The command line, and running sections (the twin of shared::cli::run_sections).


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{s}` is not a number (try 1.0, or 0.1)") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"the scale must be a finite number above 0, got {s}")
    return v


def _workers(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{s}` is not a whole number of workers") from None
    if not 1 <= v <= 1024:
        raise argparse.ArgumentTypeError("a pool needs 1 to 1024 workers")
    return v


def main(krate: str, about: str, sections: dict[str, tuple[Callable, str]]) -> None:
    """Parses the flags and runs the chosen section (or all, in order). Exit code 1 when a
    section raises or a check fails, 2 for bad flags (argparse)."""
    global _JSON
    p = argparse.ArgumentParser(prog=f"{krate.replace('-', '_')}.py", description=about)
    p.add_argument("section", nargs="?", choices=list(sections),
                   help="the section to run (default: all); " + "; ".join(
                       f"{k}: {doc}" for k, (_, doc) in sections.items()))
    p.add_argument("--scale", type=_positive_float, default=1.0,
                   help="multiply every sleep of the tutorials by this factor")
    p.add_argument("--quick", action="store_true", help="small sizes for a fast pass")
    p.add_argument("--json", action="store_true",
                   help="JSON lines on stdout, human text on stderr")
    p.add_argument("--workers", type=_workers, default=None, help="pool size where there is one")
    p.add_argument("--seed", type=int, default=42, help="seed of the random workloads")
    p.add_argument("--verbose", "-v", action="store_true", help="per-task log lines")
    p.add_argument("--list-sections", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--base-url", default=None,
                   help="HTTP server for the wiki/download sections (the report starts one)")
    p.add_argument("--workloads", default=None,
                   help="JSON file of the Rust side's seeded inputs (the report writes it)")
    args = p.parse_args()
    if args.list_sections:
        print("\n".join(sections))
        return
    _JSON = args.json
    chosen = [args.section] if args.section else list(sections)
    fail = os.environ.get("EXAMPLES_FAIL_SECTION", "")
    for name in chosen:
        fn, _ = sections[name]
        try:
            if fail == f"{krate}/{name}":
                raise RuntimeError(f"failing on purpose because EXAMPLES_FAIL_SECTION={fail}")
            fn(args)
        except Exception as e:  # a section's error ends the run with its name, like Rust
            traceback.print_exc(file=sys.stderr)
            print(f"error in section {name}: {e}", file=sys.stderr)
            sys.exit(1)
    if _FAILED_CHECKS:
        print(f"error: {_FAILED_CHECKS} check(s) failed (see FAILED above)", file=sys.stderr)
        sys.exit(1)


def need_base_url(args: argparse.Namespace) -> str:
    if not args.base_url:
        raise RuntimeError("this section needs --base-url (the report runner starts a server "
                           "and passes it; or point it at any server with /wiki/<page> and "
                           "/image)")
    return args.base_url.rstrip("/")
