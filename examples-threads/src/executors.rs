//! # Executors: joblib, concurrent.futures, multiprocessing.pool and threading, in Rust
//!
//! Mirrors seed 000 "Concurrency & Parallelism": "Examples" (`compute_x`), "Joblib",
//! "Concurrent Futures" (`submit`, `map`, `functools.partial`, `as_completed`),
//! "Multiprocessing" (`ThreadPool.map`) and "Threading Library"; and seed 002, section
//! "`concurrent.futures`" (`Executor.submit`/`map`/`shutdown`, `as_completed`).
//!
//! The lesson: every Python pool API has a direct Rust counterpart, and all of them run
//! `compute_x` (a 0.8 s sleep) in `ceil(10 / workers)` waves, as any pool of threads does with
//! waiting work. In Python only processes escape the GIL for CPU work, hence joblib's default
//! (loky) backend and the `ProcessPoolExecutor` calls; a Rust thread has no GIL to escape, so
//! they are plain threads here (processes are in `examples-processes`). The pool itself,
//! `ThreadPoolExecutor` with its `Future`s, is a lesson of its own: `shared/src/executor.rs`.
//!
//! Run: `cargo run --release -p examples-threads -- executors` (`--workers N`, `--scale 0.1`;
//! `--verbose` prints each result as it arrives).
//!
//! Output: serial 8 s; joblib, `submit` + `as_completed`, `map` and `partial` 2.4 s each (3
//! waves of 4); `ThreadPool(2).map` 4.8 s, not 4.0 s, as `Pool.map` sends chunks of 2; a
//! thread per call 0.8 s; `shutdown` runs all ten, with `cancel_futures` only the four running.
//!
//! The tutorial's first `ProcessPoolExecutor` example never appends the submitted futures to
//! its `futures` list, so `as_completed(futures)` yields nothing (the `with` block still waits
//! for all ten calls): the variant "submit as the tutorial wrote it" shows that empty result.

use std::sync::Arc;

use anyhow::Context;
use crossbeam_channel::Receiver;
use rayon::prelude::*;
use shared::executor::{Future, FutureError, ThreadPoolExecutor, as_completed};
use shared::measure::ideal;
use shared::workloads::compute_x::{self, compute_x};
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// joblib's `Parallel(n_jobs)(delayed(f)(x) for x in inputs)`: results in input order.
///
/// A rayon pool of `n_jobs` threads, built for this call and joined before it returns (as
/// joblib's pool belongs to its `Parallel` call). `with_max_len(1)` hands out one call at a
/// time, like joblib's dispatcher, so the pool fills every thread before any takes a second.
pub fn parallel<T: Send>(
    n_jobs: usize,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Sync + Send,
) -> anyhow::Result<Vec<T>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n_jobs)
        .thread_name(|i| format!("joblib {i}"))
        // Scoped: the pool's threads are spawned in a `std::thread::scope`, so all of them
        // have exited when this returns; none outlives the example.
        .build_scoped(
            |thread| thread.run(),
            |pool| pool.install(|| inputs.par_iter().with_max_len(1).map(|&x| f(x)).collect()),
        )
        .context("cannot start joblib's thread pool")
}

/// `[executor.submit(f, x) for x in inputs]`, then the results in the order the calls
/// finish (`as_completed`), not the order they were submitted.
pub fn submit_as_completed<T: Clone + Send + 'static>(
    pool: &ThreadPoolExecutor,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, FutureError> {
    let f = Arc::new(f);
    let futures: Vec<Future<T>> = inputs
        .iter()
        .map(|&x| {
            // Queued at once; the pool's threads share the one `f` (an Arc) as they take calls.
            let f = f.clone();
            pool.submit(move || f(x))
        })
        .collect();
    as_completed(&futures, None)
        .map(|done| done.and_then(|future| future.result(None)))
        .collect()
}

/// The tutorial's `multiproc` exactly as written: each `submit` handle is dropped instead of
/// appended to `futures`, so `as_completed(futures)` has nothing to yield. The calls still
/// run, and leaving the pool (`with`, here the drop) still waits for all of them.
pub fn submit_as_the_tutorial_wrote_it<T: Clone + Send + 'static>(
    workers: usize,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, FutureError> {
    let pool = ThreadPoolExecutor::new(workers);
    let f = Arc::new(f);
    let futures: Vec<Future<T>> = Vec::new();
    for &x in inputs {
        let f = f.clone();
        // New: the handle is thrown away, as in the tutorial (`executor.submit(...)` alone).
        drop(pool.submit(move || f(x)));
    }
    let result = as_completed(&futures, None)
        .map(|done| done.and_then(|future| future.result(None)))
        .collect();
    drop(pool);
    result
}

/// `ThreadPoolExecutor(workers).map(f, inputs)`, the results collected in input order.
pub fn executor_map<T: Send + 'static>(
    workers: usize,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, FutureError> {
    ThreadPoolExecutor::new(workers)
        .map(f, inputs.to_vec())
        .collect()
}

/// multiprocessing's default `chunksize` for `Pool.map`: `ceil(len / (4 * workers))`.
pub fn pool_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(4 * workers.max(1)).max(1)
}

/// `multiprocessing.pool.ThreadPool(workers).map(f, inputs)`: a blocking map that returns the
/// list. Like Python's, it sends the inputs to the threads in chunks of [`pool_chunksize`].
pub fn thread_pool_map<T: Send + 'static>(
    workers: usize,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, FutureError> {
    let pool = ThreadPoolExecutor::new(workers);
    let chunks: Vec<Vec<u64>> = inputs
        .chunks(pool_chunksize(inputs.len(), workers))
        .map(<[u64]>::to_vec)
        .collect();
    let per_chunk = pool.map(
        move |chunk: Vec<u64>| chunk.into_iter().map(&f).collect::<Vec<T>>(),
        chunks,
    );
    per_chunk
        .collect::<Result<Vec<Vec<T>>, _>>()
        .map(|chunks| chunks.into_iter().flatten().collect())
}

/// `threading.Thread(target=f, args=(x,)).start()` for every input, then `join()` each: one
/// OS thread per call, all at once. Results in input order.
pub fn spawn_and_join<T: Send + 'static>(
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> anyhow::Result<Vec<T>> {
    let f = Arc::new(f);
    // One thread per call: fine for ten waits, wasteful for ten thousand (that is what pools
    // are for). Each JoinHandle is joined below, so no thread outlives the call; Python's
    // `.start()` without `.join()` would leave them running.
    let handles: Vec<_> = inputs
        .iter()
        .map(|&x| {
            let f = f.clone();
            std::thread::Builder::new()
                .name(format!("thread {x}"))
                .spawn(move || f(x))
        })
        .collect();
    // Every thread is joined before the first failure is reported, so none is left running.
    let joined: Vec<anyhow::Result<T>> = handles
        .into_iter()
        .map(|handle| {
            handle
                .context("the OS refused to start a thread")?
                .join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))
        })
        .collect();
    joined.into_iter().collect()
}

/// Submitted calls whose start is reported, so a shutdown can be placed while some run and
/// others wait in the queue.
#[derive(Debug)]
pub struct Tracked<T> {
    inputs: Vec<u64>,
    futures: Vec<Future<T>>,
    started: Receiver<u64>,
    seen: Vec<u64>,
}

/// Submits `f(x)` for every input; each call reports its `x` when it starts.
pub fn submit_tracked<T: Send + 'static>(
    pool: &ThreadPoolExecutor,
    inputs: &[u64],
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Tracked<T> {
    let f = Arc::new(f);
    let (tx, started) = crossbeam_channel::unbounded();
    let futures = inputs
        .iter()
        .map(|&x| {
            // Each call says it has started before it works, so the caller can shut the pool
            // down at a known moment: `workers` calls running, the rest still queued.
            let (f, tx) = (f.clone(), tx.clone());
            pool.submit(move || {
                let _ = tx.send(x);
                f(x)
            })
        })
        .collect();
    Tracked {
        inputs: inputs.to_vec(),
        futures,
        started,
        seen: Vec::new(),
    }
}

/// Which calls ran and which were cancelled after a shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Finished with a result.
    pub ran: Vec<u64>,
    /// Cancelled before they started.
    pub cancelled: Vec<u64>,
    /// Failed otherwise (panicked, lost): none expected.
    pub failed: Vec<u64>,
    /// Every call that started, in start order.
    pub started: Vec<u64>,
}

impl ShutdownReport {
    /// Every call is accounted for once, and no cancelled call ever started.
    pub fn is_consistent(&self, inputs: &[u64]) -> bool {
        let mut all: Vec<u64> = [&self.ran[..], &self.cancelled, &self.failed].concat();
        all.sort_unstable();
        let mut expected = inputs.to_vec();
        expected.sort_unstable();
        all == expected
            && self.cancelled.iter().all(|x| !self.started.contains(x))
            && self.ran.iter().all(|x| self.started.contains(x))
    }
}

impl<T> Tracked<T> {
    /// Waits until `n` calls have started.
    pub fn wait_started(&mut self, n: usize) {
        // The iterator ends early only if every sender is gone: nothing else can start.
        let more = n.saturating_sub(self.seen.len());
        self.seen.extend(self.started.iter().take(more));
    }

    /// Waits for every call's outcome and sorts them into ran / cancelled / failed.
    pub fn report(mut self) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        for (x, future) in self.inputs.iter().zip(self.futures) {
            match future.into_result() {
                Ok(_) => report.ran.push(*x),
                Err(FutureError::Cancelled) => report.cancelled.push(*x),
                Err(_) => report.failed.push(*x),
            }
        }
        self.seen.extend(self.started.try_iter());
        report.started = self.seen;
        report
    }
}

/// `compute_x` over 1..=10 through every pool API of the tutorials, serial first.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "executors", c);
    s.title(
        "seed 000 joblib / concurrent.futures / multiprocessing / threading; 002 concurrent.futures",
    );
    let scale = c.tutorial_second();
    let task_s = compute_x::SLEEP_S * scale;
    let inputs = compute_x::inputs();
    let n = inputs.len();
    let workers = c.workers_or(4);
    let waves = ideal::waves(task_s, n, workers);
    let verbose = c.verbose;
    let call = move |x: u64| {
        let pair = compute_x(x, compute_x::DEFAULT_Y, scale);
        if verbose {
            say!("    compute_x({x}) -> {pair:?}");
        }
        pair
    };
    say!(
        "  compute_x(x, y=2) sleeps {task_s:.3} s and returns (x, y); x = 1..=10; pools of {workers}"
    );

    s.workload("compute_x over 1..=10");
    let expected: Vec<_> = s.measure(Variant::serial(n), |_| {
        inputs.iter().map(|&x| call(x)).collect()
    });

    // joblib: loky (processes) or "threading" in Python; one thread pool in Rust either way.
    let v = Variant::new(format!("joblib Parallel(n_jobs={workers})"), workers, n).ideal_s(waves);
    let got = s.measure(v, |_| parallel(workers, &inputs, call))?;
    s.check("Parallel: results in input order", got == expected, "");
    say!("    (loky uses processes, \"threading\" threads: one Rust pool serves both)");

    // concurrent.futures: one handle per call, collected as they finish.
    let v = Variant::new("submit + as_completed", workers, n).ideal_s(waves);
    let got = s.measure(v, |_| {
        let pool = ThreadPoolExecutor::new(workers);
        submit_as_completed(&pool, &inputs, call)
    })?;
    say!(
        "    completion order: {:?}",
        got.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    let mut sorted = got.clone();
    sorted.sort_unstable();
    s.check(
        "as_completed: every call exactly once",
        sorted == expected,
        "",
    );

    let v = Variant::new("submit as the tutorial wrote it", workers, n).ideal_s(waves);
    let got = s.measure(v, |_| {
        submit_as_the_tutorial_wrote_it(workers, &inputs, call)
    })?;
    s.check(
        "the tutorial's version collects nothing (its `futures` list stays empty)",
        got.is_empty(),
        format!("{} results", got.len()),
    );

    let v = Variant::new("executor.map", workers, n).ideal_s(waves);
    let got = s.measure(v, |_| executor_map(workers, &inputs, call))?;
    s.check("map: results in input order", got == expected, "");

    // New: functools.partial(compute_x, y=3) is a closure that binds y.
    let partial = move |x: u64| compute_x(x, compute_x::PARTIAL_Y, scale);
    let v = Variant::new("map(partial(compute_x, y=3))", workers, n).ideal_s(waves);
    let got = s.measure(v, |_| executor_map(workers, &inputs, partial))?;
    let with_y3: Vec<_> = inputs.iter().map(|&x| (x, compute_x::PARTIAL_Y)).collect();
    s.check("partial: every y is 3, in input order", got == with_y3, "");

    // shutdown(wait=True, cancel_futures=...) while the first wave runs and the rest queue.
    for (name, cancel_futures, ideal_s) in [
        ("shutdown(wait=True)", false, waves),
        ("shutdown(cancel_futures=True)", true, task_s),
    ] {
        let v = Variant::new(name, workers, n).ideal_s(ideal_s);
        let report = s.measure(v, |_| {
            let mut pool = ThreadPoolExecutor::new(workers);
            let mut tracked = submit_tracked(&pool, &inputs, call);
            tracked.wait_started(workers.min(n));
            pool.shutdown(true, cancel_futures);
            tracked.report()
        });
        say!(
            "    ran: {:?}  cancelled: {:?}",
            report.ran,
            report.cancelled
        );
        let ok = report.is_consistent(&inputs) && report.failed.is_empty();
        let detail = (!ok).then(|| format!("{report:?}"));
        s.check(
            &format!("{name}: every call ran or was cancelled, and no cancelled call started"),
            ok,
            detail.unwrap_or_default(),
        );
        if !cancel_futures {
            s.check(
                "shutdown(wait=True): all queued calls still ran",
                report.ran == inputs,
                "",
            );
        }
    }

    // multiprocessing.pool.ThreadPool: the tutorial's 2 workers, chunked like Pool.map.
    let tp_workers = c.workers_or(2);
    let chunk = pool_chunksize(n, tp_workers);
    let chunk_s: Vec<f64> = inputs
        .chunks(chunk)
        .map(|ch| ch.len() as f64 * task_s)
        .collect();
    let v = Variant::new(format!("ThreadPool({tp_workers}).map"), tp_workers, n)
        .ideal_s(ideal::greedy_makespan(&chunk_s, tp_workers));
    let got = s.measure(v, |_| thread_pool_map(tp_workers, &inputs, call))?;
    say!(
        "    Pool.map's chunksize is {chunk}: {} chunks on {tp_workers} threads, not {n} single calls",
        chunk_s.len()
    );
    s.check(
        "ThreadPool.map: results in input order",
        got == expected,
        "",
    );

    // threading.Thread(target=...).start(), once per call, then join.
    let v = Variant::new("thread::spawn per call + join", n, n).ideal_s(task_s);
    let got = s.measure(v, |_| spawn_and_join(&inputs, call))?;
    s.check("spawn + join: results in input order", got == expected, "");

    say!();
    say!("  Every pool runs waiting work in waves of its size; with no GIL, the same pools would");
    say!("  run CPU work in parallel too (see `gil`): Rust needs no process pool for it.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use parking_lot::{Condvar, Mutex};

    use super::*;

    const N: u64 = 8;

    /// `f(x)` for `x` in `1..=N` returns `10 x`, but only after `f(x + 1)` has returned: the
    /// calls end in exactly the reverse of input order, forced by a condition variable, not by
    /// sleeps. All `N` calls must be in flight at once (a pool of `N`); a call that waits 10 s
    /// in vain panics instead of hanging the test.
    fn reverse_finisher() -> impl Fn(u64) -> u64 + Send + Sync + 'static {
        let turn = Arc::new((Mutex::new(N + 1), Condvar::new()));
        move |x| {
            let (last_returned, cv) = &*turn;
            let mut last = last_returned.lock();
            while *last != x + 1 {
                let waited = cv.wait_for(&mut last, Duration::from_secs(10));
                assert!(!waited.timed_out(), "call {x} never saw call {} end", x + 1);
            }
            *last = x;
            cv.notify_all();
            x * 10
        }
    }

    #[test]
    fn every_map_keeps_input_order_though_the_calls_end_in_reverse() {
        let inputs: Vec<u64> = (1..=N).collect();
        let expected: Vec<u64> = inputs.iter().map(|x| x * 10).collect();
        let n = N as usize;
        assert_eq!(parallel(n, &inputs, reverse_finisher()).unwrap(), expected);
        let mapped = executor_map(n, &inputs, reverse_finisher()).unwrap();
        assert_eq!(mapped, expected);
        // 8 inputs on 8 threads: chunks of 1, so every call is in flight at once.
        let chunked = thread_pool_map(n, &inputs, reverse_finisher()).unwrap();
        assert_eq!(chunked, expected);
        let spawned = spawn_and_join(&inputs, reverse_finisher()).unwrap();
        assert_eq!(spawned, expected);
    }

    #[test]
    fn as_completed_yields_every_call_exactly_once() {
        let pool = ThreadPoolExecutor::new(N as usize);
        let inputs: Vec<u64> = (1..=N).collect();
        let mut got = submit_as_completed(&pool, &inputs, reverse_finisher()).unwrap();
        got.sort_unstable();
        assert_eq!(got, [10, 20, 30, 40, 50, 60, 70, 80]);
    }

    #[test]
    fn the_tutorials_version_collects_nothing_but_runs_every_call() {
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = ran.clone();
        let got = submit_as_the_tutorial_wrote_it(2, &[1, 2, 3, 4, 5], move |x| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            x
        })
        .unwrap();
        assert!(got.is_empty());
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[test]
    fn pool_map_chunks_like_python() {
        // divmod(10, 2 * 4) = (1, 2) -> chunksize 2, as CPython computes it.
        assert_eq!(pool_chunksize(10, 2), 2);
        assert_eq!(pool_chunksize(10, 4), 1);
        assert_eq!(pool_chunksize(100, 3), 9);
        assert_eq!(pool_chunksize(0, 2), 1);
    }

    #[test]
    fn cancel_on_shutdown_leaves_pending_calls_unrun() {
        let mut pool = ThreadPoolExecutor::new(1);
        // The first call is held at a gate until the queue has been cancelled, so the
        // shutdown lands at a known moment: one call running, three queued.
        let (gate, held) = crossbeam_channel::bounded::<()>(0);
        let mut tracked = submit_tracked(&pool, &[1, 2, 3, 4], move |x| {
            let _ = held.recv();
            x
        });
        tracked.wait_started(1);
        pool.shutdown(false, true);
        drop(gate);
        pool.shutdown(true, false);
        let report = tracked.report();
        assert_eq!(report.ran, [1]);
        assert_eq!(report.cancelled, [2, 3, 4]);
        assert_eq!(report.started, [1], "a cancelled call started");
        assert!(report.is_consistent(&[1, 2, 3, 4]));
    }

    #[test]
    fn shutdown_without_cancel_runs_every_queued_call() {
        let mut pool = ThreadPoolExecutor::new(2);
        let inputs: Vec<u64> = (1..=6).collect();
        // Two calls are held at a gate, so the shutdown lands with four calls still queued.
        let (gate, held) = crossbeam_channel::bounded::<()>(0);
        let mut tracked = submit_tracked(&pool, &inputs, move |x| {
            let _ = held.recv();
            x
        });
        tracked.wait_started(2);
        pool.shutdown(false, false);
        drop(gate);
        pool.shutdown(true, false);
        let report = tracked.report();
        assert_eq!(report.ran, inputs);
        assert!(report.cancelled.is_empty());
        assert!(report.is_consistent(&inputs));
        let bad = ShutdownReport {
            started: vec![],
            ..report
        };
        assert!(!bad.is_consistent(&inputs), "ran without starting");
    }
}
