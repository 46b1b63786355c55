//! # Worker processes pulling from one queue, stopped by an event
//!
//! Mirrors Parallel Programming in Python (seed 001), "Using a messaging queue with multiple
//! workers".
//!
//! The lesson: three long-lived workers share one queue. An idle worker takes the next task,
//! so a 5 s task never holds up the short ones behind it, and the makespan comes close to the
//! ideal greedy schedule. Each worker waits on the queue with `get(timeout=2)`, so that while
//! idle it still looks at the shutdown event every 2 tutorial seconds; clearing the event
//! makes each one print its shutdown line and exit.
//!
//! Run: `cargo run --release -p examples-processes -- queue_workers`
//!
//! Output: the tutorial's lines (`worker id: 0 task id: 3 task time: 2s`), a timeline, a
//! summary (each task done once, tasks per worker, makespan vs the ideal), the shutdown lines.
//! `queue_throughput` feeds the same queue tiny tasks to measure what a message costs.
//!
//! How the pieces map to Python's (`queue.rs` holds the parent's side): the queue lives in
//! the parent, and each worker's stdin is its end of it: a lane thread per worker hands it
//! the next task whenever it is idle, so the parent always knows what a worker holds and puts
//! a dead worker's task back on the queue. `queue.get(timeout=2)` is the worker waiting up to
//! 2 tutorial seconds for a message on its stdin (nothing came is Python's `queue.Empty`);
//! the `Event` is a file every worker can see, set while it exists.
//!
//! Two things the tutorial's printed run does not show. Its worker loop is
//! `while event.is_set()`, so *clearing* the event is what stops the workers (the code here
//! does the same), and it stops them even if tasks are still queued: the notebook's user
//! cleared it by hand, after the work was done. Here the parent clears it once every task is
//! back. And its trace is cut off mid-line: the notebook printed the workers' lines
//! asynchronously into whichever cell was running; the full run is below.
//!
//! Plumbing: `queue.rs` (the queue and the event), `worker.rs` (starting a worker process,
//! frames on its pipes), `task.rs`.

use std::time::Duration;

use anyhow::Context;
use shared::measure::ideal;
use shared::spans::unix_now_s;
use shared::timing::Stopwatch;
use shared::workloads::queue_tasks;
use shared::{Bench, Ctx, Variant, say};

use crate::cli::Args;
use crate::queue::{Finished, Item, Orders, Said, Workers};
use crate::task::Task;
use crate::worker::{self, Pipes};

/// The tutorial's `queue.get(timeout=2)`, in tutorial seconds.
pub const GET_TIMEOUT_S: f64 = 2.0;

/// The worker ([`Role::Queue`](crate::cli::Role::Queue)): the tutorial's `worker_func`.
pub fn worker_main(orders: Orders, mut pipes: Pipes) -> anyhow::Result<()> {
    let Orders {
        id,
        get_timeout_s,
        event,
    } = orders;
    let timeout = Duration::from_secs_f64(get_timeout_s);
    worker::say_hello(&mut pipes.output)?;
    let line = |pipes: &mut Pipes, text: String| worker::send(&mut pipes.output, &Said::Line(text));
    line(&mut pipes, format!("Worker {id} starting"))?;
    while event.is_set() {
        // `queue.get(timeout=2)`; `except Empty: continue`, back to look at the event.
        let Some(items) = get(&mut pipes, timeout)? else {
            continue;
        };
        let done = items.into_iter().map(|item| finish(id, item)).collect();
        worker::send(&mut pipes.output, &Said::Done(done))?;
    }
    line(&mut pipes, format!("Worker {id} Shutting down..."))
}

/// The next items handed to this worker, waiting at most `timeout`; `None` when none came.
fn get(pipes: &mut Pipes, timeout: Duration) -> anyhow::Result<Option<Vec<Item>>> {
    let waiting = pipes.input.buffer().is_empty();
    if waiting && !worker::wait_readable(pipes.input.get_ref(), timeout)? {
        return Ok(None);
    }
    let items = worker::recv(&mut pipes.input)?.context("the parent closed the queue")?;
    Ok(Some(items))
}

fn finish(worker: usize, item: Item) -> Finished {
    let start = item.shown_secs.map(|_| unix_now_s());
    let result = item.task.run_caught();
    Finished {
        id: item.id,
        result,
        line: item.shown_secs.map(|secs| {
            format!(
                "worker id: {worker} task id: {} task time: {secs}s",
                item.id
            )
        }),
        span_unix_s: start.map(|s| (s, unix_now_s())),
    }
}

/// Runs the tutorial's queue: 3 workers, 15 tasks of 1-5 s then 11 of 2-6 s, a shutdown
/// event; shows the schedule the workers made, and checks each task was done once.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-processes", "queue_workers", c);
    s.title("seed 001 Using a messaging queue with multiple workers");

    let n_workers = c.workers_or(3);
    let tasks = queue_tasks(c.seed);
    let secs: Vec<f64> = tasks
        .iter()
        .map(|t| c.tutorial_sleep(t.secs as f64).as_secs_f64())
        .collect();
    let timeout = c.tutorial_sleep(GET_TIMEOUT_S);
    s.workload(&format!(
        "{} tasks (ids 0-14: 1-5 s, 100-110: 2-6 s; seed {}), {n_workers} worker processes, \
         get(timeout={GET_TIMEOUT_S} s)",
        tasks.len(),
        c.seed
    ));
    say!(
        "  one tutorial second lasts {:.3} s here; the work adds up to {:.3} s",
        c.tutorial_second(),
        secs.iter().sum::<f64>()
    );
    let mut ctx = Ctx::new();
    let sw = Stopwatch::start();
    let mut workers = Workers::start(n_workers, timeout, 1, true)?;
    let items: Vec<Item> = tasks
        .iter()
        .zip(&secs)
        .map(|(t, &secs)| Item {
            id: t.id,
            task: Task::Sleep { secs },
            shown_secs: Some(t.secs),
        })
        .collect();
    let out = workers.run(items, Some(ctx.spans()))?;
    let (shutdown_s, clean) = workers.stop()?;
    // The workers are reaped by now, so the OS counts their CPU time in ours.
    let cpu = sw.cpu_s();
    let per_worker = &out.per_worker;
    ctx.set("tasks_per_worker", per_worker);
    ctx.set("shutdown_s", shutdown_s);
    let ideal_s = ideal::greedy_makespan(&secs, n_workers);
    let name = format!("{n_workers} worker processes, one queue");
    let v = Variant::new(name, n_workers, tasks.len()).ideal_s(ideal_s);
    // Wall time is the makespan: first put to last result (the shutdown is reported apart).
    let makespan = out.makespan_s;
    let timeline = s.record(v, makespan, cpu, ctx).spans.clone();
    say!();
    say!("{}", shared::timeline::text(&timeline, 60));
    s.check(
        "each task done exactly once",
        out.exactly_once(&tasks.iter().map(|t| t.id).collect::<Vec<_>>()),
        format!("{} of {} tasks back", out.times_done.len(), tasks.len()),
    );
    s.check(
        "every task succeeded",
        out.results.iter().all(|(_, r)| r.is_ok()),
        "",
    );
    for l in &out.lost {
        say!("  lost a worker: {l}");
    }
    say!(
        "  tasks per worker: {per_worker:?}; makespan {makespan:.3} s vs ideal greedy schedule \
         {ideal_s:.3} s"
    );
    say!(
        "  event cleared: the workers exited {shutdown_s:.3} s later (an idle worker notices \
         within its get timeout of {:.3} s)",
        timeout.as_secs_f64()
    );
    s.check(
        "every worker shut down cleanly after the event was cleared",
        clean,
        if out.lost.is_empty() {
            ""
        } else {
            "(those still alive)"
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{BufReader, BufWriter};
    use std::path::Path;

    use super::*;
    use crate::queue::Event;
    use crate::task::Output;

    /// A worker's pipes backed by files: `input` holds what the parent would send.
    fn pipes(dir: &Path, input: &[u8]) -> Pipes {
        let (inp, out) = (dir.join("in"), dir.join("out"));
        std::fs::write(&inp, input).unwrap();
        Pipes {
            input: BufReader::new(File::open(&inp).unwrap()),
            output: BufWriter::new(File::create(&out).unwrap()),
        }
    }

    fn said(dir: &Path) -> Vec<Said> {
        let bytes = std::fs::read(dir.join("out")).unwrap();
        let mut r = &bytes[..];
        let _hello: worker::Hello = worker::recv(&mut r).unwrap().unwrap();
        std::iter::from_fn(|| worker::recv(&mut r).unwrap()).collect()
    }

    #[test]
    fn a_worker_runs_what_it_is_handed_and_prints_the_tutorials_lines() {
        let dir = tempfile::tempdir().unwrap();
        let event = Event::set_in(dir.path()).unwrap();
        let items = vec![Item {
            id: 3,
            task: Task::Tiny(1),
            shown_secs: Some(2),
        }];
        let mut input = Vec::new();
        worker::send(&mut input, &items).unwrap();
        let orders = Orders {
            id: 0,
            get_timeout_s: 0.01,
            event: event.clone(),
        };
        // The worker sees end-of-file once it has run the item: the parent "closed the
        // queue", an error, because the event was never cleared.
        let err = worker_main(orders, pipes(dir.path(), &input)).unwrap_err();
        assert!(err.to_string().contains("closed the queue"), "{err}");
        let said = said(dir.path());
        assert!(matches!(&said[0], Said::Line(l) if l == "Worker 0 starting"));
        let Said::Done(done) = &said[1] else {
            panic!("{said:?}")
        };
        assert_eq!(done[0].id, 3);
        assert_eq!(done[0].result, Ok(Output::Tiny(2)));
        assert_eq!(
            done[0].line.as_deref(),
            Some("worker id: 0 task id: 3 task time: 2s")
        );
    }

    #[test]
    fn a_cleared_event_stops_an_idle_worker_after_its_get_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let event = Event::set_in(dir.path()).unwrap();
        event.clear().unwrap();
        assert!(!event.is_set());
        let orders = Orders {
            id: 2,
            get_timeout_s: 0.01,
            event: event.clone(),
        };
        // No input at all: a cleared event is seen before any get.
        worker_main(orders, pipes(dir.path(), &[])).unwrap();
        let said = said(dir.path());
        assert!(matches!(&said[..], [Said::Line(a), Said::Line(b)]
            if a == "Worker 2 starting" && b == "Worker 2 Shutting down..."));
    }
}
