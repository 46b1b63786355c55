//! # Gotchas: what may cross, what happens when a worker dies, what a task costs
//!
//! Mirrors Concurrency and parallelism (concurrent.futures) (seed 002), "Gotchas".
//!
//! The lesson, in three parts.
//!
//! 1. Only registered tasks cross the boundary. Python finds out at run time, in the worker,
//!    that a lambda or a notebook function cannot be pickled or found (seed 002's
//!    `AttributeError: Can't get attribute 'my_function'`). Here the compiler refuses:
//!    a closure is not a [`Task`] and does not implement `Serialize`.
//!
//!    ```compile_fail,E0308
//!    use examples_processes::pool::Executor;
//!    use examples_processes::process_pool::ProcessPool;
//!    let pool = ProcessPool::new(2).unwrap();
//!    // error[E0308]: mismatched types: expected `Task`, found closure
//!    let _ = pool.submit(|x: u64| x - 1);
//!    ```
//!
//!    ```compile_fail,E0277
//!    // error[E0277]: the trait bound `{closure}: Serialize` is not satisfied
//!    let my_function = |x: u64| x - 1;
//!    let _ = shared::message::encode(&my_function);
//!    ```
//!
//!    What compiles is a value naming a registered kind:
//!
//!    ```
//!    use examples_processes::task::Task;
//!    let bytes = shared::message::encode(&Task::Tiny(1)).unwrap();
//!    assert_eq!(bytes.len(), 2);
//!    ```
//!
//!    Seed 002's other gotcha, "workers need the same packages", cannot happen either: the
//!    worker is the same binary.
//!
//! 2. A worker that panics, aborts or is killed never leaves the caller waiting. A panic is
//!    caught in the worker and becomes that task's error; an abort or a SIGKILL ends the
//!    process, and the pool fails exactly the task that worker was running, with a message
//!    naming it (Python's `BrokenProcessPool`), then starts a replacement (`process_pool.rs`
//!    shows how).
//!
//! 3. Tiny tasks are not worth a pool: the overhead per task (a message each way for a
//!    process, a queue hand-over for a thread) is measured against running them inline, and
//!    against batching them (`map` with a `chunksize`). Also measured: what it costs to start
//!    one worker process (spawn + handshake, median of 20) and one thread.
//!
//! Run: `cargo run --release -p examples-processes -- gotchas`
//!
//! Output: the outcome of each crash task with its error; the overhead table in µs per task;
//! start-up medians.
//!
//! Plumbing: `pool.rs` (the `Executor` interface), `process_pool.rs` (the process pool),
//! `task.rs`.

use std::time::{Duration, Instant};

use anyhow::Context;
use shared::executor::{Future, FutureError, ThreadPoolExecutor};
use shared::timing::Stopwatch;
use shared::{Bench, Ctx, Variant, say};
use statrs::statistics::{Data, Max, Median, Min};

use crate::cli::{Args, Role};
use crate::pool::Executor;
use crate::process_pool::ProcessPool;
use crate::task::{Output, Task};
use crate::worker::{self, Connected};

/// How long the section waits for any one result before calling it a hang.
const NO_HANG: Duration = Duration::from_secs(60);

/// The tasks of the crash demonstration and what each should give.
fn crash_tasks() -> Vec<(Task, bool)> {
    vec![
        (Task::Tiny(0), true),
        (
            Task::Panic {
                message: "bad input: x must be positive".to_owned(),
            },
            false,
        ),
        (Task::Tiny(2), true),
        (Task::Abort, false),
        (Task::Tiny(4), true),
        (Task::Tiny(5), true),
    ]
}

fn show(i: usize, f: &Future<Output>) -> Result<Output, FutureError> {
    let r = f.result(Some(NO_HANG));
    match &r {
        Ok(out) => say!("  task {i}: ok {out:?}"),
        Err(e) => say!("  task {i}: error: {e}"),
    }
    r
}

/// Part 2: crashes in workers.
fn crashes(s: &Bench) -> anyhow::Result<()> {
    say!();
    say!("--- a worker that panics, aborts, or is killed (2 processes)");
    let pool = ProcessPool::new(2)?;
    let first_pids = pool.pids();
    let tasks = crash_tasks();
    let futures: Vec<_> = tasks.iter().map(|(t, _)| pool.submit(t.clone())).collect();
    let mut as_expected = true;
    let mut named = true;
    for (i, ((task, ok), f)) in tasks.iter().zip(&futures).enumerate() {
        let r = show(i, f);
        as_expected &= r.is_ok() == *ok && r != Err(FutureError::TimedOut);
        if let Err(e) = &r {
            named &= e
                .to_string()
                .contains(&format!("task {i} ({})", task.describe()));
        }
    }

    // Killed from outside, mid-task: find the worker running the long sleep and SIGKILL it.
    let sleeper = pool.submit(Task::Sleep { secs: 30.0 });
    let sleeper_id = futures.len();
    let deadline = Instant::now() + NO_HANG;
    while !sleeper.running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let victim = pool
        .running()
        .into_iter()
        .find(|&(_, id)| id == sleeper_id as u64)
        .map(|(pid, _)| pid)
        .context("the sleeping task is not running anywhere")?;
    say!("  (sending SIGKILL to pid {victim}, which runs task {sleeper_id})");
    // SAFETY: kill(2) with a pid of our own live worker and a valid signal number.
    unsafe {
        libc::kill(victim as libc::pid_t, libc::SIGKILL);
    }
    let t = Instant::now();
    let r = show(sleeper_id, &sleeper);
    let noticed = t.elapsed();
    as_expected &= matches!(&r, Err(FutureError::Lost(m)) if m.contains("SIGKILL"));
    let after = pool.submit(Task::Tiny(41));
    let r = show(sleeper_id + 1, &after);
    as_expected &= r == Ok(Output::Tiny(42));
    // The replacement starts right after the death is reported; give it its moment.
    let deadline = Instant::now() + NO_HANG;
    while pool.pids().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    say!(
        "  the kill was noticed {:.2} ms after it was sent; workers were {first_pids:?}, now {:?}",
        noticed.as_secs_f64() * 1e3,
        pool.pids()
    );
    for incident in pool.incidents() {
        say!("  pool: {incident}");
    }
    drop(pool);

    s.check(
        "panic, abort and SIGKILL each fail only their own task; the rest succeed; no hang",
        as_expected,
        "",
    );
    s.check("every error names its task", named, "");
    Ok(())
}

/// Part 3: per-task overhead of tiny tasks.
fn overhead(s: &mut Bench, n: usize) -> anyhow::Result<()> {
    let tasks: Vec<Task> = (0..n as u64).map(Task::Tiny).collect();
    let want: Vec<Output> = (1..=n as u64).map(Output::Tiny).collect();
    s.workload(&format!("{n} tiny tasks (x -> x + 1): overhead per task"));
    let out = s.measure(Variant::baseline("inline (a plain loop)", 1, n), |ctx| {
        let t = Instant::now();
        let out: Result<Vec<Output>, String> = tasks.iter().map(Task::run).collect();
        ctx.set("us_per_task", t.elapsed().as_secs_f64() * 1e6 / n as f64);
        out
    });
    s.check("inline: right results", out.as_ref() == Ok(&want), "");

    // The pools are started before the clock: this is the cost per task, not start-up.
    let (name, pool) = ("2 threads, submit each", ThreadPoolExecutor::new(2));
    per_task(s, name, pool, &tasks, 1, &want);
    let (name, pool) = ("2 processes, submit each", ProcessPool::new(2)?); // New: processes.
    per_task(s, name, pool, &tasks, 1, &want);
    let (name, pool) = ("2 threads, map(chunksize=1000)", ThreadPoolExecutor::new(2));
    per_task(s, name, pool, &tasks, 1000, &want); // New: 1000 tasks per message.
    let (name, pool) = ("2 processes, map(chunksize=1000)", ProcessPool::new(2)?);
    per_task(s, name, pool, &tasks, 1000, &want);
    Ok(())
}

/// Runs `tasks` on `pool` (each submitted alone, or mapped in chunks), records the time per
/// task and checks the results.
fn per_task<E: Executor>(
    s: &mut Bench,
    name: &str,
    mut pool: E,
    tasks: &[Task],
    chunksize: usize,
    want: &[Output],
) {
    let n = tasks.len();
    let out = s.measure(Variant::new(name, pool.workers(), n), |ctx| {
        let t = Instant::now();
        let out: Result<Vec<Output>, FutureError> = if chunksize == 1 {
            let futures: Vec<_> = tasks.iter().map(|t| pool.submit(t.clone())).collect();
            futures.into_iter().map(Future::into_result).collect()
        } else {
            pool.map(tasks.to_vec(), chunksize).collect()
        };
        ctx.set("us_per_task", t.elapsed().as_secs_f64() * 1e6 / n as f64);
        out
    });
    pool.shutdown(true, false);
    s.check(
        &format!("{name}: right results"),
        out.as_deref() == Ok(want),
        "",
    );
}

/// Part 3b: what starting one worker costs, median of `samples` (statrs).
fn startup(s: &mut Bench, samples: usize) -> anyhow::Result<()> {
    s.workload(&format!("starting one worker, median of {samples}"));
    let record = |s: &mut Bench, v: Variant, ms: Vec<f64>, sw: Stopwatch| {
        let n = ms.len().max(1) as f64;
        let data = Data::new(ms);
        let mut ctx = Ctx::new();
        ctx.set("median_of", samples);
        ctx.set("min_ms", data.min());
        ctx.set("max_ms", data.max());
        // One row per kind of worker: the median start, and the CPU of an average one.
        s.record(v, data.median() / 1e3, sw.cpu_s() / n, ctx);
        data.median()
    };

    let sw = Stopwatch::start();
    let mut thread_ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        // Why a thread here: the same measurement for the cheaper kind of worker.
        std::thread::spawn(|| ())
            .join()
            .map_err(|_| anyhow::anyhow!("an empty thread panicked"))?;
        thread_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let thread = record(
        s,
        Variant::baseline("1 thread: spawn + join", 1, samples),
        thread_ms,
        sw,
    );

    let sw = Stopwatch::start();
    let mut process_ms = Vec::with_capacity(samples);
    let program = worker::program()?;
    for _ in 0..samples {
        // What a pool does for each of its workers (`process_pool.rs`), on its own.
        let started = Connected::start(&program, &Role::Pool, "worker 0")?;
        process_ms.push(started.startup.as_secs_f64() * 1e3);
        started.close(Duration::from_secs(2));
    }
    let process = record(
        s,
        Variant::new("1 worker process: spawn + handshake", 1, samples),
        process_ms,
        sw,
    );
    say!("  median start-up: {process:.3} ms for a process, {thread:.3} ms for a thread");
    Ok(())
}

/// Shows what may cross to a worker, what a crashed worker costs its caller (one task), and
/// what a tiny task and a new worker cost.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-processes", "gotchas", c);
    s.title("seed 002 Gotchas");

    say!();
    say!("--- only registered tasks cross (a closure does not compile: see the doc tests)");
    for t in [
        Task::Tiny(1),
        Task::ComputeX {
            x: 3,
            y: 2,
            seconds: 1.0,
        },
        Task::Download {
            url: "http://127.0.0.1:8000/image".into(),
        },
    ] {
        let bytes = shared::message::encode(&t)?;
        say!("  {} is {} bytes on the wire", t.describe(), bytes.len());
    }

    crashes(&s)?;
    overhead(&mut s, c.size(2_000, 300))?;
    startup(&mut s, 20)?;
    say!();
    say!("  A task must do much more than the overhead per task to be worth a pool; batch it");
    say!("  (map with a chunksize) or run it inline.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_tasks_fail_on_threads_only_where_expected() {
        // Abort would take the test process down: threads share it. That is the point of
        // isolation, shown with processes in tests/.
        let pool = ThreadPoolExecutor::new(2);
        for (task, ok) in crash_tasks().into_iter().filter(|(t, _)| *t != Task::Abort) {
            assert_eq!(Executor::submit(&pool, task).result(None).is_ok(), ok);
        }
    }
}
