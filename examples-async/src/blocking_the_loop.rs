//! # Blocking the loop: CPU work on the runtime's thread stalls every other task
//!
//! Mirrors seed 004 ("Exploring parallelism and concurrency in Python"), section
//! "Asynchronous programming with `asyncio` and coroutines": the talk's coroutine runs its FFT
//! with no `await`, and notes that async gives no CPU parallelism. This section measures what
//! that costs the *other* tasks, the classic async mistake.
//!
//! The lesson: a task gives its thread back only at an `.await`. While one task computes an
//! FFT inline, nothing else on that thread runs: not a timer, not a socket, not a ticker that
//! should fire every 10 ms. Its ticks arrive as late as the FFT is long. Moving the FFT to
//! `spawn_blocking` leaves the runtime thread free, and the ticker stays as punctual as when
//! it runs alone, on the very same single-thread runtime.
//!
//! Run: `cargo run --release -p examples-async -- blocking_the_loop`
//!
//! Output: a row per variant with `worst_tick_delay_ms` (how late the latest tick was) and
//! `late_ticks` (ticks more than 2 ms late); the first variant, the ticker alone, shows the
//! timer's own jitter: tokio rounds each deadline up to its next millisecond tick and the OS
//! wait rounds up again, so a tick may be 1-2 ms late with nothing else running (about 2 ms
//! at worst on the 2-core VM this was written on, 1.5 ms on the median). Inline, the worst
//! delay is about one FFT (hundreds of ms); with `spawn_blocking`, the same as alone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shared::workloads::service::Workload;
use shared::{Bench, Variant, say};
use tokio::time::{Instant, MissedTickBehavior};

use crate::cli::Args;

/// How often the ticker should tick.
pub const PERIOD: Duration = Duration::from_millis(10);
/// A tick later than this counts as late.
pub const LATE: Duration = Duration::from_millis(2);

/// Where the FFTs run while the ticker ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No FFT at all: the ticker's own jitter.
    Idle,
    /// On the runtime's only thread, between two `.await`s.
    Inline,
    /// On tokio's blocking pool.
    SpawnBlocking,
}

/// What the ticker saw, and the FFTs' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// How late each tick was against its schedule.
    pub delays: Vec<Duration>,
    /// The FFTs' values (to check both placements computed the same thing).
    pub values: Vec<f64>,
}

impl Ticks {
    /// The latest tick's delay.
    pub fn worst(&self) -> Duration {
        self.delays.iter().copied().max().unwrap_or_default()
    }

    /// The median tick's delay.
    pub fn median(&self) -> Duration {
        let mut sorted = self.delays.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// Ticks later than [`LATE`].
    pub fn late(&self) -> usize {
        self.delays.iter().filter(|d| **d > LATE).count()
    }
}

/// Ticks every `period` until `stop` fires; returns how late each tick was.
async fn ticker(period: Duration, stop: tokio::sync::oneshot::Receiver<()>) -> Vec<Duration> {
    let mut interval = tokio::time::interval(period);
    // Missed ticks fire at once, one by one, each reporting how late it is.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut delays = Vec::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return delays,
            scheduled = interval.tick() => delays.push(Instant::now() - scheduled),
        }
    }
}

/// The FFTs of `workload` (request 0, every iteration), placed as `mode` says; a task of
/// its own, like a request handler sharing the runtime with the ticker.
async fn ffts(workload: Arc<Workload>, mode: Mode, period: Duration) -> anyhow::Result<Vec<f64>> {
    let mut values = Vec::new();
    for j in 0..workload.iterations {
        let value = match mode {
            Mode::Idle => {
                tokio::time::sleep(period * 10).await;
                continue;
            }
            Mode::Inline => {
                // No `.await` until the FFT is done: the ticker cannot run meanwhile.
                let value = workload.cpu_step(0, j);
                // Then give the thread back, so the ticker catches up between two FFTs.
                tokio::task::yield_now().await;
                value
            }
            Mode::SpawnBlocking => {
                let w = workload.clone();
                // New: the FFT runs on a blocking-pool thread; this task awaits it, and the
                // runtime thread is free for the ticker the whole time.
                tokio::task::spawn_blocking(move || w.cpu_step(0, j))
                    .await
                    .context("the FFT on the blocking pool failed")?
            }
        };
        values.push(value);
    }
    Ok(values)
}

/// Runs the FFTs of `workload` on a single-thread runtime while a ticker ticks every
/// `period`.
pub fn run_ticker(workload: &Arc<Workload>, mode: Mode, period: Duration) -> anyhow::Result<Ticks> {
    // One thread for every task, as in asyncio: the ticker and the FFT task share it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot build a tokio runtime")?;
    runtime.block_on(async {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        // Two tasks on the one thread: each runs whenever the other is at an `.await`.
        let ticks = tokio::spawn(ticker(period, stopped));
        tokio::time::sleep(period * 3).await;
        let values = tokio::spawn(ffts(workload.clone(), mode, period))
            .await
            .context("the FFT task failed")??;
        tokio::time::sleep(period * 3).await;
        let _ = stop.send(());
        let delays = ticks.await.context("the ticker failed")?;
        Ok(Ticks { delays, values })
    })
}

/// A ticker's delays alone, beside FFTs inline on its thread, beside FFTs on `spawn_blocking`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-async", "blocking_the_loop", c);
    s.title("seed 004 asyncio without parallelism: what an inline FFT does to other tasks");

    let (ffts, len) = c.size((5, 4_000_000), (3, 1 << 20));
    let workload = Arc::new(Workload::new(c.seed, 1, ffts, len));
    s.workload(&format!(
        "a ticker every {} ms while {ffts} FFTs of {len} values run, one thread",
        PERIOD.as_millis()
    ));

    let record = |s: &mut Bench, v: Variant, mode: Mode| -> anyhow::Result<Ticks> {
        s.measure(v, |ctx| {
            let ticks = run_ticker(&workload, mode, PERIOD);
            if let Ok(t) = &ticks {
                ctx.set("worst_tick_delay_ms", t.worst().as_secs_f64() * 1e3);
                ctx.set("median_tick_delay_ms", t.median().as_secs_f64() * 1e3);
                ctx.set("late_ticks", t.late());
                ctx.set("ticks", t.delays.len());
            }
            ticks
        })
    };
    let idle = record(
        &mut s,
        Variant::new("ticker alone (no FFT)", 1, 0),
        Mode::Idle,
    )?;
    let inline = record(
        &mut s,
        Variant::baseline("FFT inline on the runtime thread", 1, ffts),
        Mode::Inline,
    )?;
    let pooled = record(
        &mut s,
        Variant::new("FFT on spawn_blocking", 1, ffts),
        Mode::SpawnBlocking,
    )?;
    s.check(
        "spawn_blocking computed the same FFTs as inline",
        pooled.values == inline.values && inline.values.len() == ffts,
        "",
    );

    let ms = |t: &Ticks| t.worst().as_secs_f64() * 1e3;
    say!();
    say!(
        "  worst tick delay: {:.2} ms alone, {:.1} ms with the FFT inline, {:.2} ms with spawn_blocking",
        ms(&idle),
        ms(&inline),
        ms(&pooled)
    );
    say!(
        "  median tick delay: {:.2} ms alone, {:.2} ms with spawn_blocking: the timer's own rounding",
        idle.median().as_secs_f64() * 1e3,
        pooled.median().as_secs_f64() * 1e3
    );
    say!("  Inline, every other task on the thread waits for the whole FFT: no .await, no turn.");
    say!("  On spawn_blocking the ticker is as punctual as when it runs alone.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_placements_compute_the_same_ffts_and_the_ticker_ticks() {
        let w = Arc::new(Workload::new(1, 1, 2, 1 << 12));
        let inline = run_ticker(&w, Mode::Inline, Duration::from_millis(2)).unwrap();
        let pooled = run_ticker(&w, Mode::SpawnBlocking, Duration::from_millis(2)).unwrap();
        assert_eq!(inline.values, pooled.values);
        assert_eq!(inline.values, [w.cpu_step(0, 0), w.cpu_step(0, 1)]);
        // An interval's first tick is immediate, and the ticker is polled during the first
        // sleep: every run records at least that one.
        assert!(!inline.delays.is_empty() && !pooled.delays.is_empty());
    }

    #[test]
    fn summaries_of_ticks() {
        let t = Ticks {
            delays: [0, 1, 3, 250].map(Duration::from_millis).to_vec(),
            values: vec![],
        };
        assert_eq!(t.worst(), Duration::from_millis(250));
        assert_eq!(t.late(), 2);
        assert_eq!(t.median(), Duration::from_millis(3));
        let none = Ticks {
            delays: vec![],
            values: vec![],
        };
        assert_eq!(none.median(), Duration::ZERO);
    }
}
