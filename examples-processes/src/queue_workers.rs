//! # Worker processes pulling from one queue, stopped by an event
//!
//! Mirrors seed 001 (Parallel Programming in Python), "Using a messaging queue with multiple
//! workers".
//!
//! The lesson: three long-lived workers share one queue. Each idle worker asks for the next
//! task (pull-based), so a 5 s task never holds up the short ones behind it, and the makespan
//! comes close to the ideal greedy schedule. The workers wait on the queue with a timeout
//! (2 tutorial seconds) so that, while idle, they still look at the shutdown event regularly;
//! clearing it makes each one print its shutdown line and exit. Then the price of the
//! process boundary: 200,000 tiny tasks through the process queue vs a channel between
//! threads, with and without batching.
//!
//! Run: `cargo run --release -p examples-processes -- queue_workers`
//!
//! Output: the tutorial's lines (`worker id: 0 task id: 3 task time: 2s`), a timeline, a
//! summary (each task done once, tasks per worker, makespan vs the ideal), the shutdown lines;
//! then tasks per second for threads and processes.
//!
//! Two things the tutorial's printed run does not show. Its worker loop is
//! `while event.is_set()`, so *clearing* the event is what stops the workers (the code here
//! does the same), and it stops them even if tasks are still queued: the notebook's user
//! cleared it by hand, after the work was done. Here the parent clears it once every task is
//! back. And its trace is cut off mid-line: the notebook printed the workers' lines
//! asynchronously into whichever cell was running; the full run is below.
//!
//! How the queue works across processes: the queue lives in the parent (a crossbeam
//! channel); each worker has a "broker" thread in the parent that answers its requests:
//! `IsSet` (the event), `Get { timeout, max }` (up to `max` tasks, or `Empty` after the
//! timeout) and `Done` (results). If a worker dies holding tasks, its broker puts them back
//! on the queue for the others: each task is still done exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};
use shared::measure::ideal;
use shared::spans::unix_now_s;
use shared::timing::Stopwatch;
use shared::workloads::queue_tasks;
use shared::{Ctx, Section, Spans, Variant, say};

use crate::children::{self, Connected, Proc, cpu_seconds, describe_exit, say_hello};
use crate::cli::Args;
use crate::task::{Output, Task, TaskError};
use crate::wire;
use crate::worker::Pipes;

/// The tutorial's `queue.get(timeout=2)`, in tutorial seconds.
pub const GET_TIMEOUT_S: f64 = 2.0;

/// Tasks per message in the throughput run.
pub const BATCH: u32 = 4096;

/// One task on the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The task id the tutorial prints.
    pub id: u64,
    /// What to run.
    pub task: Task,
    /// The tutorial's task time in whole seconds, to print; `None` prints nothing.
    pub shown_secs: Option<u64>,
}

/// A finished item, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    /// The item's id.
    pub id: u64,
    /// Its result.
    pub result: Result<Output, TaskError>,
    /// The line the worker printed for it, if any.
    pub line: Option<String>,
    /// When it started and ended (Unix seconds), for the timeline of shown tasks only:
    /// two clock reads and 16 bytes per task are not free when tasks are tiny.
    pub span_unix_s: Option<(f64, f64)>,
}

/// Worker to parent.
#[derive(Debug, Serialize, Deserialize)]
enum Ask {
    /// `event.is_set()`.
    IsSet,
    /// `queue.get(timeout)`, up to `max` items at once.
    Get { timeout_ms: u64, max: u32 },
    /// Results of the items of the last `Get`.
    Done(Vec<Finished>),
    /// A line the worker prints.
    Say(String),
}

/// Parent to worker.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    /// The event's state.
    Event(bool),
    /// Items for a `Get`.
    Items(Vec<Item>),
    /// Nothing came within the timeout (Python's `queue.Empty`).
    Empty,
}

fn ask(pipes: &mut Pipes, question: &Ask) -> anyhow::Result<Answer> {
    wire::send(&mut pipes.output, question)?;
    wire::recv(&mut pipes.input)?.context("the parent closed the queue")
}

/// The worker (`__worker queue <id> <timeout ms> <max>`): the tutorial's `worker_func`.
pub fn worker_main(mut pipes: Pipes, args: &[String]) -> anyhow::Result<()> {
    let [id, timeout_ms, max] = args else {
        bail!("expected `queue <worker id> <timeout ms> <max per get>`, got {args:?}");
    };
    let id: u64 = id.parse().context("worker id")?;
    let timeout_ms: u64 = timeout_ms.parse().context("timeout")?;
    let max: u32 = max.parse().context("max per get")?;
    say_hello(&mut pipes.output)?;
    // Printing needs no answer.
    wire::send(
        &mut pipes.output,
        &Ask::Say(format!("Worker {id} starting")),
    )?;
    // `while event.is_set():` -- checked before every get, as in the tutorial.
    while matches!(ask(&mut pipes, &Ask::IsSet)?, Answer::Event(true)) {
        let items = match ask(&mut pipes, &Ask::Get { timeout_ms, max })? {
            Answer::Items(items) => items,
            // `except Empty: continue` -- back to look at the event.
            Answer::Empty | Answer::Event(_) => continue,
        };
        let done = items
            .into_iter()
            .map(|item| {
                let shown = item.shown_secs.is_some();
                let start = shown.then(unix_now_s);
                let result = item.task.run_caught();
                Finished {
                    id: item.id,
                    line: item.shown_secs.map(|secs| {
                        format!("worker id: {id} task id: {} task time: {secs}s", item.id)
                    }),
                    result,
                    span_unix_s: start.map(|s| (s, unix_now_s())),
                }
            })
            .collect();
        wire::send(&mut pipes.output, &Ask::Done(done))?;
    }
    wire::send(
        &mut pipes.output,
        &Ask::Say(format!("Worker {id} Shutting down...")),
    )?;
    Ok(())
}

/// What the brokers tell the parent's main thread.
#[derive(Debug)]
enum Report {
    /// Items a worker finished.
    Finished { worker: usize, items: Vec<Finished> },
    /// A worker is gone; `requeued` are the ids it held, now back on the queue.
    Gone {
        worker: usize,
        how: String,
        requeued: Vec<u64>,
        clean: bool,
    },
}

/// The shared queue: the tutorial's `multiprocessing.Queue`, living in the parent.
#[derive(Debug, Clone)]
pub struct Queue {
    tx: Sender<Item>,
    rx: Receiver<Item>,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }

    /// `queue.put(item)`.
    pub fn put(&self, item: Item) {
        // Both ends live in this struct, so the channel cannot be closed here.
        let _ = self.tx.send(item);
    }

    /// Up to `max` items, waiting at most `timeout` for the first.
    fn get(&self, timeout: Duration, max: u32) -> Vec<Item> {
        let Ok(first) = self.rx.recv_timeout(timeout) else {
            return Vec::new();
        };
        let mut items = vec![first];
        items.extend(self.rx.try_iter().take(max.saturating_sub(1) as usize));
        items
    }
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

/// Answers one worker's requests until it exits; puts back what a dead worker held.
fn broker(
    worker: usize,
    mut conn: Connected,
    queue: &Queue,
    event: &AtomicBool,
    reports: &Sender<Report>,
    loud: bool,
) {
    let mut held: Vec<Item> = Vec::new();
    let how = loop {
        let question = match wire::recv::<Ask>(&mut conn.output) {
            Ok(Some(q)) => q,
            Ok(None) => break None,
            Err(e) => {
                conn.proc.kill();
                break Some(format!("sent a malformed message ({e:#}) and was stopped"));
            }
        };
        let answer = match question {
            Ask::IsSet => Answer::Event(event.load(Ordering::SeqCst)),
            Ask::Get { timeout_ms, max } => {
                let items = queue.get(Duration::from_millis(timeout_ms), max.max(1));
                if items.is_empty() {
                    Answer::Empty
                } else {
                    held.clone_from(&items);
                    Answer::Items(items)
                }
            }
            Ask::Done(items) => {
                let back: HashSet<u64> = items.iter().map(|f| f.id).collect();
                held.retain(|h| !back.contains(&h.id));
                let _ = reports.send(Report::Finished { worker, items });
                continue;
            }
            Ask::Say(line) => {
                if loud {
                    say!("{line}");
                }
                continue;
            }
        };
        if wire::send(&mut conn.input, &answer).is_err() {
            // It died between asking and our answer; what we just gave it is in `held`.
            break None;
        }
    };
    let pid = conn.proc.pid();
    let status = conn.close(Duration::from_secs(1));
    let clean = how.is_none() && status.is_some_and(|s| s.success());
    let how = how.unwrap_or_else(|| describe_exit(status));
    let requeued: Vec<u64> = held.iter().map(|i| i.id).collect();
    if !clean {
        say!(
            "worker {worker} (pid {pid}) {how}{}",
            if requeued.is_empty() {
                String::new()
            } else {
                format!(" while holding task(s) {requeued:?}: put back on the queue")
            }
        );
    }
    for item in held {
        queue.put(item);
    }
    let _ = reports.send(Report::Gone {
        worker,
        how,
        requeued,
        clean,
    });
}

/// Running workers and their brokers. Dropping it kills whatever still runs and reaps it.
struct Workers {
    procs: Vec<Arc<Proc>>,
    brokers: Vec<JoinHandle<()>>,
    reports: Receiver<Report>,
}

impl Workers {
    /// Starts `n` queue workers, each with its broker thread; `loud` prints what they say.
    fn start(
        n: usize,
        program: &Path,
        (timeout, max): (Duration, u32),
        queue: &Queue,
        event: &Arc<AtomicBool>,
        loud: bool,
    ) -> anyhow::Result<Self> {
        let (tx, reports) = crossbeam_channel::unbounded();
        let mut workers = Workers {
            procs: Vec::new(),
            brokers: Vec::new(),
            reports,
        };
        for i in 0..n {
            let args = [
                i.to_string(),
                timeout.as_millis().to_string(),
                max.to_string(),
            ];
            // Why processes: the tutorial's point is separate interpreters; here each is
            // also a separate failure domain (see the reliability test that kills one).
            let conn = Connected::start(program, "queue", &args, &format!("worker {i}"))?;
            workers.procs.push(conn.proc.clone());
            let (queue, event, tx) = (queue.clone(), event.clone(), tx.clone());
            // Why a thread per worker: each answers its worker's blocking requests, and a
            // `get` with a 2 s timeout must not hold up the other workers' answers.
            let broker = std::thread::Builder::new()
                .name(format!("broker {i}"))
                .spawn(move || broker(i, conn, &queue, &event, &tx, loud))
                .context("cannot start a broker thread")?;
            workers.brokers.push(broker);
        }
        Ok(workers)
    }

    /// CPU seconds the live workers have used so far.
    fn cpu_s(&self) -> f64 {
        self.procs.iter().filter_map(|p| cpu_seconds(p.pid())).sum()
    }

    /// Waits for every broker (so every worker has exited and been reaped).
    fn join(&mut self) {
        for b in self.brokers.drain(..) {
            let _ = b.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if !self.brokers.is_empty() {
            for p in &self.procs {
                p.kill();
            }
            self.join();
        }
    }
}

/// What a run of the queue produced.
#[derive(Debug, Default)]
struct Outcome {
    /// id -> how many times it came back (once each, if all is well).
    times_done: HashMap<u64, u32>,
    /// Worker -> tasks it finished.
    per_worker: BTreeMap<String, usize>,
    /// Results in arrival order.
    results: Vec<(u64, Result<Output, TaskError>)>,
    /// Worker incidents.
    lost: Vec<String>,
    /// Seconds from the first put to the last result.
    makespan_s: f64,
}

/// Puts `items` on the queue and collects results until each is back or no worker is left.
fn collect(
    workers: &Workers,
    queue: &Queue,
    items: Vec<Item>,
    spans: Option<&Spans>,
    n_workers: usize,
) -> anyhow::Result<Outcome> {
    let total = items.len();
    let start = Instant::now();
    for item in items {
        queue.put(item);
    }
    let mut out = Outcome::default();
    let mut alive = n_workers;
    while out.results.len() < total && alive > 0 {
        match workers.reports.recv_timeout(Duration::from_millis(100)) {
            Ok(Report::Finished { worker, items }) => {
                *out.per_worker
                    .entry(format!("worker {worker}"))
                    .or_default() += items.len();
                for f in items {
                    if let Some(line) = &f.line {
                        say!("{line}");
                    }
                    if let (Some(spans), Some((start, end))) = (spans, f.span_unix_s) {
                        spans.record_unix(format!("worker {worker}"), f.id, start, end);
                    }
                    *out.times_done.entry(f.id).or_default() += 1;
                    out.results.push((f.id, f.result));
                }
            }
            Ok(Report::Gone {
                worker,
                how,
                requeued,
                ..
            }) => {
                alive -= 1;
                out.lost
                    .push(format!("worker {worker} {how}; re-queued {requeued:?}"));
            }
            Err(RecvTimeoutError::Timeout) => {
                if children::shutdown_requested() {
                    bail!("interrupted by Ctrl-C");
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if children::shutdown_requested() {
        bail!("interrupted by Ctrl-C");
    }
    out.makespan_s = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Clears the event and waits for every worker to notice it and exit. Returns the seconds
/// that took and whether each exited cleanly.
fn stop(workers: &mut Workers, event: &AtomicBool) -> (f64, bool) {
    let t = Instant::now();
    // `event.clear()`: each worker sees it at its next `is_set()`, at the latest when its
    // `get` times out.
    event.store(false, Ordering::SeqCst);
    workers.join();
    let mut clean = true;
    for r in workers.reports.try_iter() {
        if let Report::Gone { clean: c, .. } = r {
            clean &= c;
        }
    }
    (t.elapsed().as_secs_f64(), clean)
}

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let second_s = crate::tutorial_second_s(c);
    let program = children::worker_program()?;
    let mut s = Section::new("examples-processes", "queue_workers", c);
    s.title("seed 001 Using a messaging queue with multiple workers");

    // --- The tutorial's run: 3 workers, 15 tasks of 1-5 s then 11 of 2-6 s.
    let n_workers = c.workers_or(3);
    let tasks = queue_tasks(c.seed);
    let secs: Vec<f64> = tasks.iter().map(|t| t.secs as f64 * second_s).collect();
    let timeout = Duration::from_secs_f64(GET_TIMEOUT_S * second_s);
    s.workload(&format!(
        "{} tasks (ids 0-14: 1-5 s, 100-110: 2-6 s; seed {}), {n_workers} worker processes, \
         get(timeout={GET_TIMEOUT_S} s)",
        tasks.len(),
        c.seed
    ));
    say!(
        "  one tutorial second lasts {second_s:.3} s here; the work adds up to {:.3} s",
        secs.iter().sum::<f64>()
    );
    let event = Arc::new(AtomicBool::new(true)); // event.set()
    let queue = Queue::new();
    let mut ctx = Ctx::new();
    let sw = Stopwatch::start();
    let mut workers = Workers::start(n_workers, &program, (timeout, 1), &queue, &event, true)?;
    let items: Vec<Item> = tasks
        .iter()
        .map(|t| Item {
            id: t.id,
            task: Task::Sleep {
                secs: t.secs as f64 * second_s,
            },
            shown_secs: Some(t.secs),
        })
        .collect();
    let out = collect(&workers, &queue, items, Some(ctx.spans()), n_workers)?;
    let (shutdown_s, clean) = stop(&mut workers, &event);
    // The workers are reaped by now, so the OS counts their CPU time in ours.
    let cpu = sw.cpu_s();
    let per_worker = &out.per_worker;
    ctx.set("tasks_per_worker", per_worker);
    ctx.set("shutdown_s", shutdown_s);
    let ideal_s = ideal::greedy_makespan(&secs, n_workers);
    let v = Variant::new(
        format!("{n_workers} worker processes, one queue"),
        n_workers,
        tasks.len(),
    )
    .ideal_s(ideal_s);
    // Wall time is the makespan: first put to last result (the shutdown is reported apart).
    let makespan = out.makespan_s;
    let timeline = s.record(v, makespan, cpu, ctx).spans.clone();
    say!();
    say!("{}", shared::timeline::text(&timeline, 60));
    let exactly_once = tasks.iter().all(|t| out.times_done.get(&t.id) == Some(&1))
        && out.times_done.len() == tasks.len();
    s.check(
        "each task done exactly once",
        exactly_once,
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
        clean || !out.lost.is_empty(),
        if out.lost.is_empty() {
            ""
        } else {
            "(those still alive)"
        },
    );
    drop(workers);

    // --- Throughput: tiny tasks and their results, through processes vs threads.
    let n: u64 = c.size(200_000, 20_000);
    let tp_workers = 2;
    s.workload(&format!(
        "{n} tiny tasks (x -> x + 1) and their results, {tp_workers} workers"
    ));
    let want: u64 = (0..n).map(|x| x + 1).sum();
    let per_task = s.measure(
        Variant::baseline("2 threads, channel, 1 task/msg", 2, n as usize),
        |ctx| threads_channel(n, 1, ctx),
    );
    s.check(
        "threads, 1 per message: every result back",
        per_task == want,
        "",
    );
    let batched = s.measure(
        Variant::new(
            format!("2 threads, channel, {BATCH} tasks/msg"),
            2,
            n as usize,
        ),
        |ctx| threads_channel(n, BATCH as usize, ctx),
    );
    s.check("threads, batched: every result back", batched == want, "");
    for max in [BATCH, 1] {
        let name = format!(
            "2 processes, pipes, {max} task{}/msg",
            if max == 1 { "" } else { "s" }
        );
        let got = processes_queue(&mut s, &program, n, max, &name)?;
        s.check(&format!("{name}: every result back once"), got == want, "");
    }
    let rate = |i: usize| {
        s.measurements()
            .get(i)
            .and_then(|m| m.get("tasks_per_s"))
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
            / 1e6
    };
    let k = s.measurements().len();
    say!();
    say!(
        "  million tasks/s: threads {:.1} (1/msg), {:.1} (batched); processes {:.2} (batched), \
         {:.2} (1/msg)",
        rate(k - 4),
        rate(k - 3),
        rate(k - 2),
        rate(k - 1)
    );
    say!(
        "  A message between processes costs microseconds (a system call and a wake-up on \
         each side);"
    );
    say!(
        "  batching {BATCH} tasks per message pays it once per batch. Threads share memory: \
         no copy at all."
    );
    Ok(())
}

/// Tiny tasks through a crossbeam channel to 2 threads and back, `batch` per message;
/// returns the sum of the results.
fn threads_channel(n: u64, batch: usize, ctx: &mut Ctx) -> u64 {
    let t = Instant::now();
    let sum = if batch <= 1 {
        // One message per task, as a plain `Sender<u64>`.
        let (tx, rx) = crossbeam_channel::unbounded::<u64>();
        let (back_tx, back_rx) = crossbeam_channel::unbounded::<u64>();
        std::thread::scope(|sc| {
            for _ in 0..2 {
                let (rx, back) = (rx.clone(), back_tx.clone());
                // Why threads: one address space, so a message is a value moved between
                // them, not bytes copied through the kernel.
                sc.spawn(move || {
                    for x in rx {
                        let _ = back.send(x + 1);
                    }
                });
            }
            drop(back_tx);
            for x in 0..n {
                let _ = tx.send(x);
            }
            drop(tx);
            back_rx.iter().sum::<u64>()
        })
    } else {
        // New: the same, `batch` tasks per message.
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<u64>>();
        let (back_tx, back_rx) = crossbeam_channel::unbounded::<Vec<u64>>();
        std::thread::scope(|sc| {
            for _ in 0..2 {
                let (rx, back) = (rx.clone(), back_tx.clone());
                sc.spawn(move || {
                    for chunk in rx {
                        let _ = back.send(chunk.iter().map(|x| x + 1).collect());
                    }
                });
            }
            drop(back_tx);
            let mut x = 0;
            while x < n {
                let end = (x + batch as u64).min(n);
                let _ = tx.send((x..end).collect());
                x = end;
            }
            drop(tx);
            back_rx.iter().map(|c| c.iter().sum::<u64>()).sum::<u64>()
        })
    };
    ctx.set("tasks_per_s", n as f64 / t.elapsed().as_secs_f64());
    sum
}

/// Tiny tasks through the queue to 2 worker processes, `max` per message; returns the sum.
fn processes_queue(
    s: &mut Section,
    program: &Path,
    n: u64,
    max: u32,
    name: &str,
) -> anyhow::Result<u64> {
    let event = Arc::new(AtomicBool::new(true));
    let queue = Queue::new();
    // A short poll: nothing waits on it during the measured window.
    let timeout = Duration::from_millis(50);
    let mut workers = Workers::start(2, program, (timeout, max), &queue, &event, false)?;
    let items: Vec<Item> = (0..n)
        .map(|x| Item {
            id: x,
            task: Task::Tiny(x),
            shown_secs: None,
        })
        .collect();
    // Measured: from the first put to the last result back, with the workers already
    // running (as in the tutorial); their CPU is read from /proc before and after.
    let cpu_before = workers.cpu_s();
    let sw = Stopwatch::start();
    let out = collect(&workers, &queue, items, None, 2)?;
    let wall = sw.wall_s();
    let cpu = sw.cpu_s() + (workers.cpu_s() - cpu_before).max(0.0);
    stop(&mut workers, &event);
    let mut ctx = Ctx::new();
    ctx.set("tasks_per_s", n as f64 / wall);
    s.record(Variant::new(name, 2, n as usize), wall, cpu, ctx);
    let once = out.times_done.values().all(|&k| k == 1) && out.times_done.len() as u64 == n;
    let sum = out
        .results
        .iter()
        .map(|(_, r)| match r {
            Ok(Output::Tiny(v)) => *v,
            _ => 0,
        })
        .sum();
    Ok(if once { sum } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_hands_out_at_most_max_items() {
        let q = Queue::new();
        for id in 0..10 {
            q.put(Item {
                id,
                task: Task::Tiny(id),
                shown_secs: None,
            });
        }
        assert_eq!(q.get(Duration::ZERO, 4).len(), 4);
        assert_eq!(q.get(Duration::ZERO, 100).len(), 6);
        let t = Instant::now();
        assert!(q.get(Duration::from_millis(20), 1).is_empty());
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn thread_channel_returns_every_result() {
        let want: u64 = (0..10_000u64).map(|x| x + 1).sum();
        assert_eq!(threads_channel(10_000, 1, &mut Ctx::new()), want);
        assert_eq!(threads_channel(10_000, 512, &mut Ctx::new()), want);
    }

    #[test]
    fn worker_lines_match_the_tutorials() {
        let f = Finished {
            id: 3,
            result: Ok(Output::Slept),
            line: Some(format!("worker id: {} task id: {} task time: {}s", 0, 3, 2)),
            span_unix_s: None,
        };
        assert_eq!(
            f.line.as_deref(),
            Some("worker id: 0 task id: 3 task time: 2s")
        );
    }
}
