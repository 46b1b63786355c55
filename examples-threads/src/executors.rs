//! # Executors: joblib, concurrent.futures, multiprocessing.pool and threading, in Rust
//!
//! Mirrors seed 000 "Concurrency & Parallelism": "Examples" (`compute_x`), "Joblib"
//! (`Parallel(n_jobs=4)`, the loky and threading backends), "Concurrent Futures" (`submit`,
//! `map`, `functools.partial`, `as_completed`), "Multiprocessing" (`ThreadPool.map`) and
//! "Threading Library" (`threading.Thread(...).start()`); and seed 002 "Concurrency and
//! parallelism", section "`concurrent.futures`" (`Executor.submit`/`map`/`shutdown`,
//! `Future`, `as_completed`).
//!
//! The lesson: every Python pool API has a direct Rust counterpart, and all of them run
//! `compute_x` (a 0.8 s sleep) in `ceil(10 / workers)` waves, as any pool of threads does
//! with waiting work. joblib's default backend (loky) uses worker processes and its
//! "threading" backend uses threads, because in Python only processes escape the GIL for CPU
//! work; a Rust thread has no GIL to escape, so both are plain threads here (processes are
//! in `examples-processes`). The seed 000 `ProcessPoolExecutor` calls are mirrored with
//! threads for the same reason.
//!
//! Run: `cargo run --release -p examples-threads -- executors` (`--workers N` resizes the
//! pools; `--scale 0.1` shortens the sleeps; `--verbose` prints each result as it arrives).
//!
//! Output: serial 8 s; joblib, `submit` + `as_completed`, `map` and the `partial` map each
//! 2.4 s (3 waves of 4); `ThreadPool(2).map` 4.8 s, not 4.0 s, because `Pool.map` sends the
//! calls in chunks of 2; one thread per call 0.8 s; `shutdown` without cancelling runs all
//! ten, with `cancel_futures` only the four already running.
//!
//! The tutorial's first `ProcessPoolExecutor` example builds `futures = []` but never
//! appends the submitted futures to it, so `as_completed(futures)` yields nothing and its
//! `result` is an empty list, although the `with` block still waits for all ten calls. The
//! variant "submit as the tutorial wrote it" runs exactly that and shows the empty result.

use std::sync::Arc;

use anyhow::Context;
use crossbeam_channel::Receiver;
use rayon::prelude::*;
use shared::executor::{Future, FutureError, ThreadPoolExecutor, as_completed};
use shared::measure::ideal;
use shared::workloads::compute_x::{self, compute_x};
use shared::{Section, Variant, say};

use crate::cli::Args;

/// What `compute_x` returns: `(x, y)`.
pub type Pair = (u64, u64);

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
    let mut results = Vec::with_capacity(inputs.len());
    let mut failure = None;
    for handle in handles {
        match handle {
            Ok(h) => match h.join() {
                Ok(value) => results.push(value),
                Err(_) => failure = Some(anyhow::anyhow!("a thread panicked")),
            },
            Err(e) => failure = Some(anyhow::anyhow!("the OS refused to start a thread: {e}")),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(results),
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
        while self.seen.len() < n {
            match self.started.recv() {
                Ok(x) => self.seen.push(x),
                // Every sender is gone: nothing else can start.
                Err(_) => return,
            }
        }
    }

    /// Waits for every call's outcome and sorts them into ran / cancelled / failed.
    pub fn report(mut self) -> ShutdownReport {
        let mut report = ShutdownReport {
            ran: Vec::new(),
            cancelled: Vec::new(),
            failed: Vec::new(),
            started: Vec::new(),
        };
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

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Section::new("examples-threads", "executors", c);
    s.title(
        "seed 000 joblib / concurrent.futures / multiprocessing / threading; 002 concurrent.futures",
    );
    // Tutorial seconds times --scale, and 20 times shorter again under --quick.
    let scale = c.scale * c.size(1.0, 0.05);
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
    let expected: Vec<Pair> = s.measure(Variant::serial(n), |_| {
        inputs.iter().map(|&x| call(x)).collect()
    });

    // joblib: loky (processes) or "threading" in Python; one thread pool in Rust either way.
    let v = Variant::new(format!("joblib Parallel(n_jobs={workers})"), workers, n).ideal_s(waves);
    let got = s.measure(v, |_| parallel(workers, &inputs, call))?;
    s.check("Parallel: results in input order", got == expected, "");
    say!(
        "    (joblib's default backend, loky, would use worker processes and backend=\"threading\""
    );
    say!("    threads; Rust threads have no GIL to escape, so one thread pool serves both)");

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
    let got = s.measure(v, |_| {
        let pool = ThreadPoolExecutor::new(workers);
        pool.map(call, inputs.clone())
            .collect::<Result<Vec<_>, _>>()
    })?;
    s.check("map: results in input order", got == expected, "");

    // New: functools.partial(compute_x, y=3) is a closure that binds y.
    let partial = move |x: u64| compute_x(x, compute_x::PARTIAL_Y, scale);
    let v = Variant::new("map(partial(compute_x, y=3))", workers, n).ideal_s(waves);
    let got = s.measure(v, |_| {
        let pool = ThreadPoolExecutor::new(workers);
        pool.map(partial, inputs.clone())
            .collect::<Result<Vec<_>, _>>()
    })?;
    let with_y3: Vec<Pair> = inputs.iter().map(|&x| (x, compute_x::PARTIAL_Y)).collect();
    s.check("partial: every y is 3, in input order", got == with_y3, "");

    // shutdown(wait=True, cancel_futures=...) while the first wave runs and the rest queue.
    for cancel_futures in [false, true] {
        let (name, ideal_s) = if cancel_futures {
            ("shutdown(cancel_futures=True)", task_s)
        } else {
            ("shutdown(wait=True)", waves)
        };
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
        s.check(
            &format!("{name}: every call ran or was cancelled, and no cancelled call started"),
            report.is_consistent(&inputs) && report.failed.is_empty(),
            if report.failed.is_empty() && report.is_consistent(&inputs) {
                String::new()
            } else {
                format!("{report:?}")
            },
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
    say!(
        "  run CPU work in parallel too (see the gil section), so Rust needs no process pool for it."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Later inputs finish first, so completion order differs from input order.
    fn reversed_sleep(x: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(3 * (8 - x)));
        x * 10
    }

    #[test]
    fn parallel_and_map_keep_input_order() {
        let inputs: Vec<u64> = (1..=8).collect();
        let expected: Vec<u64> = inputs.iter().map(|x| x * 10).collect();
        assert_eq!(parallel(4, &inputs, reversed_sleep).unwrap(), expected);
        assert_eq!(
            thread_pool_map(3, &inputs, reversed_sleep).unwrap(),
            expected
        );
        assert_eq!(spawn_and_join(&inputs, reversed_sleep).unwrap(), expected);
    }

    #[test]
    fn as_completed_yields_every_call_exactly_once() {
        let pool = ThreadPoolExecutor::new(3);
        let inputs: Vec<u64> = (1..=7).collect();
        let mut got = submit_as_completed(&pool, &inputs, reversed_sleep).unwrap();
        got.sort_unstable();
        assert_eq!(got, [10, 20, 30, 40, 50, 60, 70]);
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
        let mut tracked = submit_tracked(&pool, &inputs, reversed_sleep);
        tracked.wait_started(2);
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
