//! # 10,000 sleeping tasks on one thread, against 1,000 sleeping OS threads
//!
//! Mirrors seed 004 ("Exploring parallelism and concurrency in Python"), section
//! "Asynchronous programming with `asyncio` and coroutines": coroutines interleave on one
//! thread, and a scheduler runs whichever is ready. The talk runs ten; this section runs ten
//! thousand, which is the reason async runtimes exist.
//!
//! The lesson: a waiting task is a small state machine in a queue, not a thread. Ten thousand
//! tasks each sleeping one second finish in about one second on a single thread, and each
//! costs a few hundred bytes and about a microsecond or less to spawn. An OS thread costs tens of
//! microseconds to start, several KiB of resident memory, a kernel stack the RSS figure does
//! not even show, and a whole stack's worth of reserved address space (2 MiB each by default
//! in Rust), which is why servers do not start one per connection.
//!
//! Run: `cargo run --release -p examples-async -- many_tasks` (`--scale 0.1` for 0.1 s sleeps)
//!
//! Output: one sleep as the baseline, then the tasks and the threads, each close to one sleep
//! of wall time (eff. near 100 %), with the resident memory and spawn time per task and per
//! thread beside them, and the ratio of the two.

use std::time::{Duration, Instant};

use anyhow::Context;
use parking_lot::RwLock;
use shared::system::{mib, self_rss_bytes, self_virtual_bytes};
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// The talk's point scaled up: this many tasks.
pub const TASKS: usize = 10_000;
/// Threads are dearer: this many.
pub const THREADS: usize = 1_000;
/// Each sleeps this long, in tutorial seconds (see `CommonArgs::tutorial_sleep`).
pub const SLEEP_S: f64 = 1.0;

/// What a crowd of sleepers cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crowd {
    /// How many finished their sleep.
    pub finished: usize,
    /// Seconds spent spawning them all.
    pub spawn_s: f64,
    /// Resident memory added while they all existed, in bytes.
    pub rss_added: u64,
    /// Address space added while they all existed, in bytes.
    pub virtual_added: u64,
}

impl Crowd {
    /// Resident bytes per sleeper.
    pub fn rss_each(&self, n: usize) -> f64 {
        self.rss_added as f64 / n.max(1) as f64
    }

    /// Microseconds to spawn one sleeper.
    pub fn spawn_us_each(&self, n: usize) -> f64 {
        self.spawn_s * 1e6 / n.max(1) as f64
    }
}

/// Returns the heap's free pages to the OS, so that a resident-memory difference measured
/// next counts only the pages that new allocations really touch (earlier sections free a lot,
/// and glibc would otherwise hand that already-resident memory straight back).
fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap structures under its own locks; it takes
    // no pointer from us and any argument value is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// This process's resident and virtual bytes at one moment.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    vm: u64,
}

impl Memory {
    fn now() -> anyhow::Result<Self> {
        Ok(Self {
            rss: self_rss_bytes().context("cannot read this process's resident memory")?,
            vm: self_virtual_bytes().context("cannot read this process's virtual memory")?,
        })
    }
}

impl Crowd {
    /// `finished` sleepers, spawned in `spawn_s`, with memory read before and while they all
    /// existed.
    fn new(finished: usize, spawn_s: f64, before: Memory, during: Memory) -> Self {
        Self {
            finished,
            spawn_s,
            rss_added: during.rss.saturating_sub(before.rss),
            virtual_added: during.vm.saturating_sub(before.vm),
        }
    }
}

/// `n` tokio tasks, each sleeping `sleep`, on a single-thread runtime.
pub fn tasks(n: usize, sleep: Duration) -> anyhow::Result<Crowd> {
    // One thread, as asyncio has: every task and every timer is driven from here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot build a tokio runtime")?;
    release_free_heap();
    let before = Memory::now()?;
    runtime.block_on(async {
        let start = Instant::now();
        // Spawning allocates each task (its future, a header and the sleep's timer entry
        // inside it) and queues it; nothing runs until this future awaits.
        let handles: Vec<_> = (0..n)
            .map(|_| tokio::spawn(tokio::time::sleep(sleep)))
            .collect();
        let spawn_s = start.elapsed().as_secs_f64();
        let during = Memory::now()?;
        let mut finished = 0;
        for handle in handles {
            handle.await.context("a sleeping task failed")?;
            finished += 1;
        }
        Ok(Crowd::new(finished, spawn_s, before, during))
    })
}

/// `n` OS threads, each sleeping `sleep`. They all start sleeping together, once every one of
/// them exists and memory has been measured.
pub fn threads(n: usize, sleep: Duration) -> anyhow::Result<Crowd> {
    release_free_heap();
    let before = Memory::now()?;
    // A start gate: held for writing while the threads are spawned and measured; each thread
    // first takes it for reading, so they all wait, alive, until it is dropped. Dropping it
    // on an error path too means no thread is ever left waiting.
    let gate = RwLock::new(());
    std::thread::scope(|scope| {
        let closed = gate.write();
        let start = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let gate = &gate;
            // One OS thread per sleeper: a kernel-scheduled thread with its own stack, the
            // way a thread-per-request server would do it.
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                drop(gate.read());
                std::thread::sleep(sleep);
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    drop(closed);
                    return Err(e).context(format!(
                        "could start only {i} of {n} threads (see `ulimit -u`); try a smaller run"
                    ));
                }
            }
        }
        let spawn_s = start.elapsed().as_secs_f64();
        let during = Memory::now()?;
        drop(closed);
        let mut finished = 0;
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a sleeping thread panicked"))?;
            finished += 1;
        }
        Ok(Crowd::new(finished, spawn_s, before, during))
    })
}

/// One sleep, then 10,000 sleeping tasks and 1,000 sleeping threads: time, memory and spawn
/// cost of each.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-async", "many_tasks", c);
    s.title("seed 004 asyncio, scaled up: 10,000 sleeping tasks vs 1,000 threads");
    let sleep = c.tutorial_sleep(SLEEP_S);
    let sleep_s = sleep.as_secs_f64();

    s.workload(&format!(
        "sleepers of {sleep_s:.3} s each, against one sleep"
    ));
    s.measure(Variant::baseline("one sleep", 1, 1), |_| {
        std::thread::sleep(sleep)
    });

    let v = Variant::new(format!("{TASKS} tokio tasks, 1 thread"), TASKS, TASKS).ideal_s(sleep_s);
    let t = s.measure(v, |ctx| {
        let crowd = tasks(TASKS, sleep);
        if let Ok(crowd) = &crowd {
            ctx.set("rss_per_task_bytes", crowd.rss_each(TASKS).round() as u64);
            ctx.set("spawn_us_per_task", crowd.spawn_us_each(TASKS));
        }
        crowd
    })?;
    s.check(
        &format!("all {TASKS} tasks finished their sleep"),
        t.finished == TASKS,
        "",
    );

    let v = Variant::new(format!("{THREADS} OS threads"), THREADS, THREADS).ideal_s(sleep_s);
    let th = s.measure(v, |ctx| {
        let crowd = threads(THREADS, sleep);
        if let Ok(crowd) = &crowd {
            ctx.set(
                "rss_per_thread_bytes",
                crowd.rss_each(THREADS).round() as u64,
            );
            ctx.set("spawn_us_per_thread", crowd.spawn_us_each(THREADS));
            ctx.set(
                "virtual_per_thread_kib",
                crowd.virtual_added / THREADS as u64 / 1024,
            );
        }
        crowd
    })?;
    s.check(
        &format!("all {THREADS} threads finished their sleep"),
        th.finished == THREADS,
        "",
    );

    let (task_b, thread_b) = (t.rss_each(TASKS), th.rss_each(THREADS));
    say!();
    say!(
        "  per task:   {:>8.0} bytes resident, {:>6.2} µs to spawn ({:.1} MiB for all {TASKS})",
        task_b,
        t.spawn_us_each(TASKS),
        mib(t.rss_added)
    );
    say!(
        "  per thread: {:>8.0} bytes resident, {:>6.2} µs to spawn, {:.0} KiB of address space (its stack)",
        thread_b,
        th.spawn_us_each(THREADS),
        th.virtual_added as f64 / THREADS as f64 / 1024.0
    );
    if task_b > 0.0 {
        say!(
            "  a thread costs about {:.0}x the resident memory of a task and {:.0}x its spawn time,",
            thread_b / task_b,
            th.spawn_us_each(THREADS) / t.spawn_us_each(TASKS).max(1e-9)
        );
    } else {
        say!("  the tasks' memory was below what /proc can resolve; threads: see above,");
    }
    say!("  plus a kernel stack per thread (16 KiB on x86-64 Linux) that RSS does not show.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_and_every_thread_finishes() {
        let t = tasks(500, Duration::from_millis(5)).unwrap();
        assert_eq!(t.finished, 500);
        let th = threads(50, Duration::from_millis(5)).unwrap();
        assert_eq!(th.finished, 50);
        // 50 threads reserve 50 stacks of address space (2 MiB each by default).
        assert!(th.virtual_added >= 50 << 20, "{th:?}");
    }
}
