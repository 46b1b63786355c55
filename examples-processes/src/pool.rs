//! # A process pool: submit, map, as_completed, shutdown
//!
//! Mirrors Concurrency & Parallelism (seed 000), "Concurrent Futures" and "Multiprocessing"
//! (`Pool(2).map`, `ProcessPoolExecutor(4)`, `functools.partial`, `as_completed`), and
//! Concurrency and parallelism (concurrent.futures) (seed 002), "Executor", "Future" and "An
//! illustrative example" (the scrypt batch).
//!
//! The lesson: an executor is an interface (submit a task, get a future; map in input order;
//! wait for whichever finishes first; shut down with or without the queued work), and where
//! the work runs is a choice made in one line: the line that creates the pool. The interface
//! is the trait [`Executor`] below, Python's `Executor` base class; `ProcessPool`
//! (`process_pool.rs`) and `shared::executor::ThreadPoolExecutor` implement it, and the same
//! generic [`run_map`] runs `compute_x` and the scrypt batch on worker processes and on
//! threads. For Python the choice matters (only processes escape the GIL); in Rust, threads
//! run the CPU-bound scrypt batch on every core too, so processes are chosen for isolation,
//! not speed.
//!
//! Run: `cargo run --release -p examples-processes -- pool` (`--workers N` sets the scrypt
//! pools' size, 2 by default).
//!
//! Output: `compute_x` serial vs `Pool(2)`, `ProcessPoolExecutor(4)` and 4 threads (waves of
//! 0.8 s: 5 and 3); `as_completed` order; a `shutdown(cancel_futures=True)` that cancels the
//! queue; then one scrypt digest through `submit`, the 8 digests in hex, serial vs 2
//! processes vs 2 threads, all equal to Python's hashlib.
//!
//! `ThreadPoolExecutor`'s own `submit` takes any closure (its tasks stay in this process);
//! through the trait it takes a [`Task`], as the process pool does. Generic code sees only the
//! trait; on a `ThreadPoolExecutor` value write `Executor::submit(&pool, task)`.
//!
//! Seed 002 measured no speed-up for the scrypt batch (13 s with 4 processes vs 12.8 s
//! serial). The pool is not the cause: the table shows about 2x on 2 cores. The likely
//! cause is that its notebook had a single CPU available to it.

use std::time::Duration;

use shared::executor::{Future, FutureError, ThreadPoolExecutor, as_completed};
use shared::measure::ideal;
use shared::spans::thread_lane;
use shared::workloads::{compute_x, scrypt};
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::process_pool::ProcessPool;
use crate::task::{Output, Task};

/// Python's `concurrent.futures.Executor`, for this crate's registered tasks: what both pools
/// offer, whatever runs the tasks.
pub trait Executor {
    /// `max_workers`.
    fn workers(&self) -> usize;

    /// `submit(fn, *args)`: queues one task and returns its future at once.
    fn submit(&self, task: Task) -> Future<Output>;

    /// `shutdown(wait, cancel_futures)`: no new tasks; with `cancel_futures`, queued ones are
    /// cancelled; with `wait`, returns once every worker has finished.
    fn shutdown(&mut self, wait: bool, cancel_futures: bool);

    /// `map(fn, items, chunksize=...)`: submits everything now and yields the results in
    /// input order. Each `chunksize` tasks travel as one [`Task::Chunk`]: one message to a
    /// worker process and one back, instead of one per task.
    fn map(
        &self,
        tasks: Vec<Task>,
        chunksize: usize,
    ) -> impl Iterator<Item = Result<Output, FutureError>> {
        let mut rest = tasks.into_iter().peekable();
        let mut chunks = Vec::new();
        while rest.peek().is_some() {
            let chunk: Vec<Task> = rest.by_ref().take(chunksize.max(1)).collect();
            chunks.push((chunk.len(), self.submit(Task::Chunk(chunk))));
        }
        let mut next = 0; // Position in the input, to name a task that failed.
        chunks.into_iter().flat_map(move |(n, chunk)| {
            let first = next;
            next += n;
            match chunk.into_result() {
                Ok(Output::Chunk(results)) => (first..)
                    .zip(results)
                    .map(|(i, r)| r.map_err(|e| e.into_future_error(&format!("map item {i}"))))
                    .collect(),
                Ok(other) => vec![Err(FutureError::Failed(format!("a chunk gave {other:?}"))); n],
                // The whole chunk was lost (its worker died): each of its tasks says so.
                Err(e) => vec![Err(e); n],
            }
        })
    }
}

/// The thread pool behind the same interface: a task runs on one of its threads, here.
impl Executor for ThreadPoolExecutor {
    fn workers(&self) -> usize {
        ThreadPoolExecutor::workers(self)
    }

    fn submit(&self, task: Task) -> Future<Output> {
        self.submit_fallible(move || {
            let whose = || format!("{} on {}", task.describe(), thread_lane());
            task.run_caught().map_err(|e| e.into_future_error(&whose()))
        })
    }

    fn shutdown(&mut self, wait: bool, cancel_futures: bool) {
        ThreadPoolExecutor::shutdown(self, wait, cancel_futures);
    }
}

/// `with Executor(...) as pool: list(pool.map(task, items, chunksize=...))` on any pool:
/// maps, then shuts the pool down, so that its workers are reaped and their CPU time counted.
pub fn run_map<E: Executor>(
    mut pool: E,
    tasks: Vec<Task>,
    chunksize: usize,
) -> anyhow::Result<Vec<Output>> {
    let out: Result<Vec<Output>, FutureError> = pool.map(tasks, chunksize).collect();
    pool.shutdown(true, false);
    Ok(out?)
}

fn compute_x_tasks(y: u64, second_s: f64) -> Vec<Task> {
    compute_x::inputs()
        .into_iter()
        .map(|x| Task::ComputeX {
            x,
            y,
            seconds: second_s,
        })
        .collect()
}

fn scrypt_tasks(params: scrypt::Params) -> Vec<Task> {
    scrypt::passwords(8)
        .into_iter()
        .map(|password| Task::Scrypt { password, params })
        .collect()
}

fn digests(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| match o {
            Output::Digest(d) => hex::encode(d),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Runs compute_x and the scrypt batch serially, on worker processes and on threads through
/// one interface; shows submit, map, as_completed and shutdown(cancel_futures=True).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let second_s = c.tutorial_second();
    let mut s = Bench::new("examples-processes", "pool", c);
    s.title("seed 000 Concurrent Futures / Multiprocessing; seed 002 concurrent.futures");

    // --- compute_x: sleeping tasks, so every pool overlaps them.
    let tasks = compute_x_tasks(compute_x::DEFAULT_Y, second_s);
    let n = tasks.len();
    let sleep = compute_x::SLEEP_S * second_s;
    s.workload("compute_x(x) for x in 1..=10 (each sleeps 0.8 tutorial s)");
    let serial: Vec<Output> = s
        .measure(Variant::serial(n), |_| {
            tasks.iter().map(|t| t.run()).collect::<Result<_, _>>()
        })
        .map_err(anyhow::Error::msg)?;
    let waves = |name: &str, w: usize| Variant::new(name, w, n).ideal_s(ideal::waves(sleep, n, w));
    let same = |s: &mut Bench, name: &str, out: Vec<Output>| {
        let check = format!("{name}: results in input order, equal to serial");
        s.check(&check, out == serial, "");
    };
    let name = "Pool(2).map (processes)";
    let out = s.measure(waves(name, 2), |_| {
        run_map(ProcessPool::new(2)?, tasks.clone(), 1)
    })?;
    same(&mut s, name, out);
    let name = "ProcessPoolExecutor(4).map";
    let out = s.measure(waves(name, 4), |_| {
        run_map(ProcessPool::new(4)?, tasks.clone(), 1)
    })?;
    same(&mut s, name, out);
    let name = "ThreadPoolExecutor(4).map";
    let out = s.measure(waves(name, 4), |_| {
        run_map(ThreadPoolExecutor::new(4), tasks.clone(), 1) // New: threads, nothing else.
    })?;
    same(&mut s, name, out);
    let pairs: Vec<_> = serial[..3]
        .iter()
        .filter_map(|o| match o {
            Output::Pair(x, y) => Some((*x, *y)),
            _ => None,
        })
        .collect();
    say!("  map returned {pairs:?} ...");

    // --- submit + as_completed, with the tutorial's functools.partial(compute_x, y=3): a
    // task is data, so the bound argument is simply a field.
    let mut ex = ProcessPool::new(4)?;
    let futures: Vec<_> = compute_x_tasks(compute_x::PARTIAL_Y, second_s)
        .into_iter()
        .map(|t| ex.submit(t))
        .collect();
    let mut completed = Vec::new();
    for f in as_completed(&futures, None) {
        match f?.result(None)? {
            Output::Pair(x, y) => completed.push((x, y)),
            other => anyhow::bail!("compute_x returned {other:?}"),
        }
    }
    ex.shutdown(true, false);
    say!("  submit + as_completed (y=3), completion order: {completed:?}");
    let mut sorted = completed.clone();
    sorted.sort_unstable();
    s.check(
        "as_completed yields every future once",
        sorted == (1..=10).map(|x| (x, 3)).collect::<Vec<_>>(),
        "",
    );

    // --- shutdown(wait=True, cancel_futures=True) while most tasks are still queued.
    let mut ex = ProcessPool::new(2)?;
    let futures: Vec<_> = tasks.iter().map(|t| ex.submit(t.clone())).collect();
    futures[0].wait(None);
    ex.shutdown(true, true);
    let finished = futures
        .iter()
        .filter(|f| f.result(Some(Duration::ZERO)).is_ok())
        .count();
    let cancelled = futures.iter().filter(|f| f.cancelled()).count();
    say!(
        "  shutdown(cancel_futures=True) after the first result: {finished} finished, \
         {cancelled} cancelled"
    );
    s.check(
        "shutdown with cancel_futures: every future finished or cancelled, none left pending",
        finished + cancelled == n && cancelled > 0 && finished >= 1,
        format!("{finished} + {cancelled} of {n}"),
    );
    s.check(
        "no task accepted after shutdown",
        ex.submit(Task::Tiny(0)).result(None) == Err(FutureError::Shutdown),
        "",
    );

    // --- scrypt: CPU-bound native work.
    let params = scrypt::Params::for_run(c);
    let workers = c.workers_or(2);
    s.workload(&params.describe(8));

    // One hash through `submit`: the future is not done at first, then holds the digest.
    let ex = ProcessPool::new(workers)?;
    let one = ex.submit(Task::Scrypt {
        password: scrypt::MY_PASSWORD.to_owned(),
        params,
    });
    let done_at_once = one.done();
    let digest = digests(&[one.result(None)?]).remove(0);
    drop(ex);
    say!("  submit(scrypt, b\"my password\"): done() right away = {done_at_once}; result():");
    say!("    {digest}");
    if let Some(same) = scrypt::mine_matches_hashlib(&params, &digest) {
        s.check("the submitted digest equals Python's hashlib", same, "");
    }

    let tasks = scrypt_tasks(params);
    let n = tasks.len();
    let serial = s.measure(Variant::serial(n), |_| {
        tasks.iter().map(|t| t.run()).collect::<Result<Vec<_>, _>>()
    });
    let serial = digests(&serial.map_err(anyhow::Error::msg)?);
    let serial_s = s.baseline_s().unwrap_or_default();
    let cpu_bound = |label: &str| {
        Variant::new(format!("{workers} {label}"), workers, n)
            .ideal_s(ideal::cpu_bound(serial_s, workers, n))
    };
    let label = "processes (ProcessPoolExecutor)";
    let out = s.measure(cpu_bound(label), |_| {
        run_map(ProcessPool::new(workers)?, tasks.clone(), 1)
    })?;
    s.check(
        &format!("{label}: digests identical to serial"),
        digests(&out) == serial,
        "",
    );
    let label = "threads (ThreadPoolExecutor)";
    let out = s.measure(cpu_bound(label), |_| {
        run_map(ThreadPoolExecutor::new(workers), tasks.clone(), 1) // New: on threads.
    })?;
    s.check(
        &format!("{label}: digests identical to serial"),
        digests(&out) == serial,
        "",
    );
    say!();
    for (pw, d) in scrypt::passwords(n).iter().zip(&serial) {
        say!("  {pw}: {d}");
    }
    let which = match params == scrypt::Params::TUTORIAL {
        true => "seed 002's parameters",
        false => "--quick's cheaper parameters",
    };
    match scrypt::batch_matches_hashlib(&params, &serial) {
        Some(same) => {
            s.check(
                &format!("the 8 digests equal Python's hashlib ({which})"),
                same,
                "",
            );
        }
        None => say!("  (no hashlib digests recorded for these parameters)"),
    }
    say!();
    say!("  Rust threads already use every core for CPU work: pick processes for isolation.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_code_runs_on_threads() {
        // Processes are tested from tests/ (a test harness cannot be a worker).
        let tasks = compute_x_tasks(3, 0.0);
        let out = run_map(ThreadPoolExecutor::new(3), tasks, 4).unwrap();
        let want: Vec<_> = (1..=10).map(|x| Output::Pair(x, 3)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn map_keeps_input_order_across_chunks_on_threads() {
        let pool = ThreadPoolExecutor::new(3);
        let tasks: Vec<Task> = (0..10).map(Task::Tiny).collect();
        for chunksize in [1, 3, 100] {
            let out: Vec<_> = Executor::map(&pool, tasks.clone(), chunksize).collect();
            let want: Vec<_> = (1..=10).map(|x| Ok(Output::Tiny(x))).collect();
            assert_eq!(out, want, "chunksize {chunksize}");
        }
    }

    #[test]
    fn a_failing_task_in_a_chunk_fails_alone_and_is_named_by_position() {
        let pool = ThreadPoolExecutor::new(2);
        let mut tasks: Vec<Task> = (0..5).map(Task::Tiny).collect();
        tasks[3] = Task::Panic {
            message: "bad input 3".into(),
        };
        let out: Vec<_> = Executor::map(&pool, tasks, 2).collect();
        assert_eq!(out[2], Ok(Output::Tiny(3)));
        assert_eq!(out[4], Ok(Output::Tiny(5)));
        assert_eq!(
            out[3],
            Err(FutureError::Panicked("map item 3: bad input 3".into()))
        );
    }

    #[test]
    fn a_task_that_returns_an_error_is_failed_not_lost() {
        let pool = ThreadPoolExecutor::new(1);
        let url = shared::server::unreachable_url().unwrap();
        let f = Executor::submit(&pool, Task::Download { url });
        match f.result(None) {
            Err(FutureError::Failed(msg)) => assert!(msg.contains("download_image("), "{msg}"),
            other => panic!("{other:?}"),
        }
        let f = Executor::submit(
            &pool,
            Task::Panic {
                message: "7".into(),
            },
        );
        assert!(matches!(f.result(None), Err(FutureError::Panicked(m)) if m.contains("panic()")));
    }

    #[test]
    fn shutdown_with_cancel_cancels_what_is_queued_behind_a_running_task() {
        let mut pool = ThreadPoolExecutor::new(1);
        // The first task holds the only thread until the channel says go: the others queue.
        let (go, wait) = crossbeam_channel::bounded::<()>(0);
        let blocker = pool.submit(move || wait.recv().is_ok());
        while !blocker.running() {
            std::thread::yield_now();
        }
        let queued: Vec<_> = (0..5)
            .map(|i| Executor::submit(&pool, Task::Tiny(i)))
            .collect();
        Executor::shutdown(&mut pool, false, true);
        assert!(
            queued.iter().all(Future::cancelled),
            "queued tasks cancelled"
        );
        go.send(()).unwrap();
        assert_eq!(
            blocker.result(None),
            Ok(true),
            "the running task still finishes"
        );
        let late = Executor::submit(&pool, Task::Tiny(1));
        assert_eq!(late.result(None), Err(FutureError::Shutdown));
    }

    #[test]
    fn quick_scrypt_digests_match_hashlib() {
        let outs: Vec<Output> = scrypt_tasks(scrypt::Params::QUICK)
            .iter()
            .map(|t| t.run().unwrap())
            .collect();
        let hex = digests(&outs);
        let params = scrypt::Params::QUICK;
        assert_eq!(scrypt::batch_matches_hashlib(&params, &hex), Some(true));
    }
}
