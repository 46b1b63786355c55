//! # What a message costs: tiny tasks through the queue, processes vs threads
//!
//! Mirrors Parallel Programming in Python (seed 001), "Using a messaging queue with multiple
//! workers": the same queue and worker processes as `queue_workers.rs` (`queue.rs`), fed
//! 200,000 tasks too small to be worth sending anywhere (x -> x + 1), so that what is
//! measured is the queue.
//!
//! The lesson: between processes a message costs microseconds (a system call and a wake-up
//! on each side, the bytes copied through the kernel, encoding and decoding); between threads
//! it is a value moved through a channel in one address space. Handing a worker 4,096 tasks
//! per message pays the fixed cost once per batch, which is what `map(chunksize=...)` and
//! `Pool.imap(chunksize=...)` do in Python. The tutorial hands out one task per `get`: fine
//! for tasks of seconds, ruinous for tasks of nanoseconds.
//!
//! Run: `cargo run --release -p examples-processes -- queue_throughput`
//!
//! Output: one row per variant (2 threads over a channel, 2 worker processes over pipes; 1 or
//! 4,096 tasks per message), each with `tasks_per_message` and `tasks_per_s`, then the
//! rates in million tasks per second.

use std::time::{Duration, Instant};

use shared::timing::Stopwatch;
use shared::{Bench, Ctx, Variant, say};

use crate::cli::Args;
use crate::queue::{Item, Workers};
use crate::task::{Output, Task};

/// Tasks per message in the batched variants.
pub const BATCH: usize = 4096;

/// Worker threads or processes in every variant.
const WORKERS: usize = 2;

/// What one variant measured (also in its JSON line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tasks that travelled together in one message.
    pub tasks_per_message: usize,
    /// Tasks (and their results) through per second of wall time.
    pub tasks_per_s: f64,
}

impl Rate {
    fn new(tasks_per_message: usize, n: u64, wall_s: f64) -> Self {
        let tasks_per_s = n as f64 / wall_s.max(f64::MIN_POSITIVE);
        Self {
            tasks_per_message,
            tasks_per_s,
        }
    }

    fn set(self, ctx: &mut Ctx) -> Self {
        ctx.set("tasks_per_message", self.tasks_per_message);
        ctx.set("tasks_per_s", self.tasks_per_s);
        self
    }
}

fn per_msg(k: usize) -> String {
    format!("{k} task{}/msg", if k == 1 { "" } else { "s" })
}

/// Measures tiny tasks through a channel to 2 threads and through the queue to 2 worker
/// processes, 1 and 4,096 tasks per message; every result is checked.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-processes", "queue_throughput", c);
    s.title("seed 001 Using a messaging queue with multiple workers: what a message costs");
    let n: u64 = c.size(200_000, 20_000);
    s.workload(&format!(
        "{n} tiny tasks (x -> x + 1) and their results, {WORKERS} workers"
    ));
    let want: u64 = (0..n).map(|x| x + 1).sum();

    let v = Variant::baseline(
        format!("2 threads, channel, {}", per_msg(1)),
        WORKERS,
        n as usize,
    );
    let (threads_one, sum) = s.measure(v, |ctx| threads_channel(n, 1, ctx));
    s.check("threads, 1 per message: every result back", sum == want, "");
    let v = Variant::new(
        format!("2 threads, channel, {}", per_msg(BATCH)),
        WORKERS,
        n as usize,
    );
    let (threads_batched, sum) = s.measure(v, |ctx| threads_channel(n, BATCH, ctx));
    s.check("threads, batched: every result back", sum == want, "");
    let processes_batched = processes_queue(&mut s, n, BATCH, want)?;
    let processes_one = processes_queue(&mut s, n, 1, want)?;

    let m = |r: Rate| r.tasks_per_s / 1e6;
    say!();
    say!(
        "  million tasks/s: threads {:.1} (1/msg), {:.1} (batched); processes {:.2} (batched), \
         {:.2} (1/msg)",
        m(threads_one),
        m(threads_batched),
        m(processes_batched),
        m(processes_one)
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
/// returns the rate and the sum of the results.
fn threads_channel(n: u64, batch: usize, ctx: &mut Ctx) -> (Rate, u64) {
    let t = Instant::now();
    let sum = if batch <= 1 {
        // One message per task, as a plain `Sender<u64>`.
        let (tx, rx) = crossbeam_channel::unbounded::<u64>();
        let (back_tx, back_rx) = crossbeam_channel::unbounded::<u64>();
        std::thread::scope(|sc| {
            for _ in 0..WORKERS {
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
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<u64>>(); // New: `batch` per message.
        let (back_tx, back_rx) = crossbeam_channel::unbounded::<Vec<u64>>();
        std::thread::scope(|sc| {
            for _ in 0..WORKERS {
                let (rx, back) = (rx.clone(), back_tx.clone());
                // Why threads: as above, one address space; each message now moves a Vec.
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
    (Rate::new(batch, n, t.elapsed().as_secs_f64()).set(ctx), sum)
}

/// Tiny tasks through the queue (`queue.rs`) to 2 worker processes, `per_message`
/// handed out at a time; records the row, checks that every result came back once.
fn processes_queue(s: &mut Bench, n: u64, per_message: usize, want: u64) -> anyhow::Result<Rate> {
    let name = format!("2 processes, pipes, {}", per_msg(per_message));
    // A short get timeout: no worker waits on it while tasks flow; it only bounds how long
    // the shutdown takes.
    let mut workers = Workers::start(WORKERS, Duration::from_millis(50), per_message, false)?;
    let items: Vec<Item> = (0..n)
        .map(|x| Item {
            id: x,
            task: Task::Tiny(x),
            shown_secs: None,
        })
        .collect();
    // Measured: from the first put to the last result back, with the workers already
    // running (as in the tutorial); their CPU is read from /proc before and after, since
    // the OS counts a child's CPU time in ours only once it is reaped.
    let cpu_before = cpu_seconds(&workers.pids());
    let sw = Stopwatch::start();
    let out = workers.run(items, None)?;
    let wall = sw.wall_s();
    let cpu = sw.cpu_s() + (cpu_seconds(&workers.pids()) - cpu_before).max(0.0);
    workers.stop()?;
    let mut ctx = Ctx::new();
    let rate = Rate::new(per_message, n, wall).set(&mut ctx);
    s.record(Variant::new(&name, WORKERS, n as usize), wall, cpu, ctx);
    let sum: u64 = out
        .results
        .iter()
        .filter_map(|(_, r)| match r {
            Ok(Output::Tiny(v)) => Some(*v),
            _ => None,
        })
        .sum();
    s.check(
        &format!("{name}: every result back once"),
        out.exactly_once(&(0..n).collect::<Vec<_>>()) && sum == want,
        format!("{} of {n} tasks back", out.times_done.len()),
    );
    Ok(rate)
}

/// CPU seconds (user + system) the live processes `pids` have used so far, from
/// `/proc/<pid>/stat`.
fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&pid| cpu_seconds_of(pid)).sum()
}

fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain numbers.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_return_every_result_and_their_rate() {
        let want: u64 = (0..10_000u64).map(|x| x + 1).sum();
        for batch in [1, 512] {
            let mut ctx = Ctx::new();
            let (rate, sum) = threads_channel(10_000, batch, &mut ctx);
            assert_eq!(sum, want, "batch {batch}");
            assert_eq!(rate.tasks_per_message, batch);
            assert!(rate.tasks_per_s.is_finite());
        }
    }

    #[test]
    fn cpu_seconds_of_a_busy_process_grow() {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "while :; do :; done"]);
        let child = shared::child::Child::spawn(&mut cmd, "spinner").unwrap();
        let pid = child.pid();
        let first = cpu_seconds(&[pid]);
        // Spins until the kernel has charged it a tick: no fixed sleep, just the count rising.
        let deadline = Instant::now() + Duration::from_secs(30);
        while cpu_seconds(&[pid]) <= first {
            assert!(Instant::now() < deadline, "no CPU time charged in 30 s");
            std::thread::yield_now();
        }
        assert!(cpu_seconds_of(u32::MAX).is_none());
    }
}
