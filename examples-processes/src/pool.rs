//! # A process pool: submit, map, as_completed, shutdown
//!
//! Mirrors seed 000 (Concurrency & Parallelism), "Concurrent Futures" and "Multiprocessing"
//! (`Pool(2).map`, `ProcessPoolExecutor(4)`, `functools.partial`, `as_completed`), and seed
//! 002 (concurrent.futures), "Executor", "Future" and "An illustrative example" (the scrypt
//! batch).
//!
//! The lesson: an executor is an interface (submit a task, get a future; map in input order;
//! wait for whichever finishes first; shut down with or without the queued work), and where
//! the work runs is a choice made in one line. The same function below runs `compute_x` and
//! the scrypt batch on worker processes and on threads. For Python the choice matters (only
//! processes escape the GIL); in Rust, threads run the CPU-bound scrypt batch on every core
//! too, so processes are chosen for isolation, not speed.
//!
//! Run: `cargo run --release -p examples-processes -- pool` (`--workers N` sets the scrypt
//! pools' size, 2 by default).
//!
//! Output: `compute_x` serial vs `Pool(2)`, `ProcessPoolExecutor(4)` and 4 threads (waves of
//! 0.8 s: 5 and 3); `as_completed` order; a `shutdown(cancel_futures=True)` that cancels the
//! queue; then one scrypt digest through `submit`, the 8 digests in hex, serial vs 2
//! processes vs 2 threads, all equal to Python's hashlib.
//!
//! Seed 002 measured no speed-up for the scrypt batch (13 s with 4 processes vs 12.8 s
//! serial). The pool is not the cause: the table shows about 2x on 2 cores. The likely
//! cause is that its notebook had a single CPU available to it.

use std::time::Duration;

use shared::executor::{FutureError, as_completed};
use shared::measure::ideal;
use shared::workloads::{compute_x, scrypt};
use shared::{Section, Variant, say};

use crate::backend::{Executor, ThreadPool};
use crate::cli::Args;
use crate::process_pool::ProcessPool;
use crate::task::{Output, Task};

/// Where tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// N worker processes.
    Processes(usize),
    /// N threads.
    Threads(usize),
}

impl Backend {
    /// Starts an executor of this kind. Switching backends is this one line.
    pub fn start(self) -> anyhow::Result<Box<dyn Executor>> {
        Ok(match self {
            Backend::Processes(n) => Box::new(ProcessPool::new(n)?),
            Backend::Threads(n) => Box::new(ThreadPool::new(n)?),
        })
    }

    /// Number of workers.
    pub fn workers(self) -> usize {
        match self {
            Backend::Processes(n) | Backend::Threads(n) => n,
        }
    }
}

/// `with Executor(...) as ex: list(ex.map(task, items))`: starts the pool, maps, and shuts
/// it down (so the workers are reaped and their CPU time counted), on any backend.
pub fn run_map(
    backend: Backend,
    tasks: Vec<Task>,
    chunksize: usize,
) -> anyhow::Result<Vec<Output>> {
    let mut ex = backend.start()?;
    let out: Result<Vec<Output>, FutureError> = ex.map(tasks, chunksize).collect();
    ex.shutdown(true, false);
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

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let second_s = crate::tutorial_second_s(c);
    let mut s = Section::new("examples-processes", "pool", c);
    s.title("seed 000 Concurrent Futures / Multiprocessing; seed 002 concurrent.futures");

    // --- compute_x: sleeping tasks, so every backend overlaps them.
    let tasks = compute_x_tasks(compute_x::DEFAULT_Y, second_s);
    let n = tasks.len();
    let sleep = compute_x::SLEEP_S * second_s;
    s.workload("compute_x(x) for x in 1..=10 (each sleeps 0.8 tutorial s)");
    let serial: Vec<Output> = s
        .measure(Variant::serial(n), |_| {
            tasks.iter().map(|t| t.run()).collect::<Result<_, _>>()
        })
        .map_err(anyhow::Error::msg)?;
    for (name, backend) in [
        ("Pool(2).map (processes)", Backend::Processes(2)),
        ("ProcessPoolExecutor(4).map", Backend::Processes(4)),
        ("ThreadPoolExecutor(4).map", Backend::Threads(4)),
    ] {
        let w = backend.workers();
        let v = Variant::new(name, w, n).ideal_s(ideal::waves(sleep, n, w));
        let out = s.measure(v, |_| run_map(backend, tasks.clone(), 1))?;
        s.check(
            &format!("{name}: results in input order, equal to serial"),
            out == serial,
            "",
        );
    }
    say!(
        "  map returned {:?} ...",
        &serial[..3]
            .iter()
            .map(|o| match o {
                Output::Pair(x, y) => (*x, *y),
                _ => (0, 0),
            })
            .collect::<Vec<_>>()
    );

    // --- submit + as_completed, with the tutorial's functools.partial(compute_x, y=3): a
    // task is data, so the bound argument is simply a field.
    let mut ex = Backend::Processes(4).start()?;
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
    let mut ex = Backend::Processes(2).start()?;
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
    let params = c.size(scrypt::Params::TUTORIAL, scrypt::Params::QUICK);
    let tutorial_params = params == scrypt::Params::TUTORIAL;
    let workers = c.workers_or(2);
    s.workload(&format!(
        "scrypt of 8 passwords (n=2^{}, r={}, p={}, salt \"salt\", {}-byte digest)",
        params.log_n, params.r, params.p, params.len
    ));

    // One hash through `submit`: the future is not done at first, then holds the digest.
    let ex = Backend::Processes(workers).start()?;
    let one = ex.submit(Task::Scrypt {
        password: scrypt::MY_PASSWORD.to_owned(),
        params,
    });
    let done_at_once = one.done();
    let digest = match one.result(None)? {
        Output::Digest(d) => hex::encode(d),
        other => anyhow::bail!("scrypt returned {other:?}"),
    };
    drop(ex);
    say!("  submit(scrypt, b\"my password\"): done() right away = {done_at_once}; result():");
    say!("    {digest}");
    if tutorial_params {
        s.check(
            "the submitted digest equals Python's hashlib",
            digest == scrypt::MY_PASSWORD_HEX,
            "",
        );
    }

    let tasks = scrypt_tasks(params);
    let n = tasks.len();
    let serial = s.measure(Variant::serial(n), |_| {
        tasks.iter().map(|t| t.run()).collect::<Result<Vec<_>, _>>()
    });
    let serial = digests(&serial.map_err(anyhow::Error::msg)?);
    let serial_s = s.baseline_s().unwrap_or_default();
    for backend in [Backend::Processes(workers), Backend::Threads(workers)] {
        let v = Variant::new(format!("{workers} {}", label(backend)), workers, n)
            .ideal_s(ideal::cpu_bound(serial_s, workers, n));
        let out = digests(&s.measure(v, |_| run_map(backend, tasks.clone(), 1))?);
        s.check(
            &format!("{}: digests identical to serial", label(backend)),
            out == serial,
            "",
        );
    }
    say!();
    for (pw, d) in scrypt::passwords(n).iter().zip(&serial) {
        say!("  {pw}: {d}");
    }
    if tutorial_params {
        s.check(
            "the 8 digests equal Python's hashlib (seed 002's parameters)",
            serial
                .iter()
                .zip(scrypt::PASSWORDS_HEX)
                .all(|(a, b)| a == b),
            "",
        );
    } else {
        say!("  (--quick uses cheaper scrypt parameters, so these differ from the tutorial's)");
    }
    say!();
    say!("  Rust threads already use every core for CPU work: pick processes for isolation.");
    Ok(())
}

fn label(b: Backend) -> &'static str {
    match b {
        Backend::Processes(_) => "processes (ProcessPoolExecutor)",
        Backend::Threads(_) => "threads (ThreadPoolExecutor)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_code_runs_on_threads() {
        // Processes are tested from tests/ (a test harness cannot be a worker).
        let tasks = compute_x_tasks(3, 0.0);
        let out = run_map(Backend::Threads(3), tasks, 4).unwrap();
        assert_eq!(out[0], Output::Pair(1, 3));
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn quick_scrypt_digests_hex() {
        let d = digests(&[Output::Digest(vec![0xab, 0x01])]);
        assert_eq!(d, ["ab01"]);
        assert_eq!(scrypt_tasks(scrypt::Params::QUICK).len(), 8);
    }
}
