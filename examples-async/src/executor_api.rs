//! # Many futures at once: `wait`, `as_completed`, `map`, `shutdown`, in tokio
//!
//! Mirrors seed 002 ("Concurrency and parallelism", the `concurrent.futures` notebook), the
//! sections "`Executor`" (`map`, `shutdown(wait, cancel_futures)`) and the two module
//! functions `wait(fs, return_when)` and `as_completed(fs, timeout)`. The single `Future` and
//! its methods are the section before, `future_api` (whose `napper` task and table rows this
//! file reuses).
//!
//! The lesson: `wait(FIRST_COMPLETED)` is `select_all`, `wait(ALL_COMPLETED)` is `join_all`,
//! `as_completed` is a `FuturesUnordered` read under a deadline, `map` is a stream `buffered`
//! to the pool's size (results in input order, whatever order the tasks end in), and
//! `shutdown(cancel_futures=True)` is a `JoinSet`'s `abort_all`. One difference: tokio's
//! `abort` also stops an async task that has started, at its next `.await`, where Python
//! cancels only what is still queued. A `spawn_blocking` job behaves exactly like Python's:
//! on a pool of one thread, the queued job is cancelled and never runs; the running one ends.
//!
//! Run: `cargo run --release -p examples-async -- executor_api`
//!
//! Output: one line per call, as in `future_api`: the Python call, its tokio counterpart, and
//! what was observed with tasks of a few 50 ms ticks; the unit tests check the same demos'
//! orders exactly on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use parking_lot::Mutex;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout_at};

use crate::cli::Args;
use crate::future_api::{napper, row, tour};

/// Spawns one napper per entry of `ticks` (task `i` sleeps `ticks[i]` ticks).
fn spawn_nappers(ticks: &[u32], tick: Duration) -> Vec<JoinHandle<usize>> {
    // `executor.submit` for each: every task is queued at once and runs on its own; the
    // handles are the futures that `wait` and `as_completed` are given.
    ticks
        .iter()
        .enumerate()
        .map(|(id, &t)| tokio::spawn(napper(id, t, tick)))
        .collect()
}

/// `wait(fs, return_when=FIRST_COMPLETED)`: which finished first, how many were still
/// pending then, and the others' values once awaited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstCompleted {
    pub first: usize,
    pub still_pending: usize,
    pub rest: Vec<usize>,
}

/// `wait(FIRST_COMPLETED)`: `select_all` returns the first handle to finish and the others.
pub async fn wait_first_completed(tick: Duration) -> anyhow::Result<FirstCompleted> {
    let handles = spawn_nappers(&[3, 1, 2], tick);
    let (first, _index, others) = futures::future::select_all(handles).await;
    let still_pending = others.iter().filter(|h| !h.is_finished()).count();
    let rest = futures::future::try_join_all(others).await?;
    Ok(FirstCompleted {
        first: first?,
        still_pending,
        rest,
    })
}

/// `wait(ALL_COMPLETED)`: `join_all`; returns the values and how long the wait took.
pub async fn wait_all_completed(tick: Duration) -> anyhow::Result<(Vec<usize>, Duration)> {
    let start = Instant::now();
    let values = futures::future::try_join_all(spawn_nappers(&[3, 1, 2], tick)).await?;
    Ok((values, start.elapsed()))
}

/// What `as_completed(fs, timeout)` gave before its deadline, and what was left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsCompletedTimeout {
    pub yielded: Vec<usize>,
    pub pending_at_timeout: Vec<usize>,
}

/// `as_completed(fs, timeout=4 ticks)` over tasks of 3, 1, 2 and 6 ticks: a
/// `FuturesUnordered`, read under one deadline. Python raises `TimeoutError` at the deadline
/// and leaves the rest running; here the rest is aborted, so nothing outlives the demo.
pub async fn as_completed_timeout(tick: Duration) -> anyhow::Result<AsCompletedTimeout> {
    let handles = spawn_nappers(&[3, 1, 2, 6], tick);
    let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
    let mut unfinished: FuturesUnordered<_> = handles.into_iter().collect();
    let deadline = Instant::now() + tick * 4;
    let mut yielded = Vec::new();
    // `next()` gives whichever task finishes first; `timeout_at` bounds the whole loop.
    while let Ok(Some(joined)) = timeout_at(deadline, unfinished.next()).await {
        yielded.push(joined?);
    }
    let pending_at_timeout = (0..aborts.len()).filter(|i| !yielded.contains(i)).collect();
    for a in aborts {
        a.abort();
    }
    Ok(AsCompletedTimeout {
        yielded,
        pending_at_timeout,
    })
}

/// `executor.map` with at most 2 in flight: `buffered(2)` keeps input order. Returns the
/// results and the order in which the tasks actually finished.
pub async fn map_buffered(tick: Duration) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let ticks = [3, 1, 2];
    let results: Vec<_> = futures::stream::iter(0..ticks.len())
        .map(|i| {
            let finished = finished.clone();
            // Spawned, not merely awaited in place: a map's calls run on their own, and
            // `buffered(2)` only decides how many are started ahead and in what order they
            // are handed back.
            tokio::spawn(async move {
                let id = napper(i, ticks[i], tick).await;
                // Tasks append their id as they end, each holding the lock for one push: a
                // parking_lot Mutex, which has no poisoning to handle.
                finished.lock().push(id);
                id
            })
        })
        .buffered(2)
        .collect()
        .await;
    let results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let order = finished.lock().clone();
    Ok((results, order))
}

/// `shutdown(wait=True, cancel_futures=True)` half-way through: which completed, how many
/// were cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shutdown {
    pub completed: Vec<usize>,
    pub cancelled: usize,
}

/// `shutdown(cancel_futures=True)`: a `JoinSet` of 4 tasks (1..4 ticks), `abort_all` after
/// 1.5 ticks, then wait for all (`wait=True`). Dropping the set instead is `wait=False`.
pub async fn shutdown(tick: Duration) -> anyhow::Result<Shutdown> {
    // The set is the executor: it owns every task it spawned, so one `abort_all` reaches
    // them all, and dropping the set would abort them too (nothing outlives the demo).
    let mut set = JoinSet::new();
    for id in 0..4 {
        set.spawn(napper(id, id as u32 + 1, tick));
    }
    sleep(tick * 3 / 2).await;
    set.abort_all();
    let (mut completed, mut cancelled) = (Vec::new(), 0);
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(id) => completed.push(id),
            Err(e) if e.is_cancelled() => cancelled += 1,
            Err(e) => return Err(e).context("a task failed during shutdown"),
        }
    }
    Ok(Shutdown {
        completed,
        cancelled,
    })
}

/// `cancel()` on two `spawn_blocking` jobs sharing a pool of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelBlocking {
    /// The running job's value: `abort()` cannot stop a blocking job that has started.
    pub running_result: Option<usize>,
    /// The queued job came back cancelled.
    pub queued_cancelled: bool,
    /// The queued job's body ran (it must not).
    pub queued_ran: bool,
}

/// Python's exact semantics, with blocking jobs: the running one cannot be cancelled, the
/// queued one can, and then never runs. Builds its own runtime with one blocking thread.
pub fn cancel_blocking() -> anyhow::Result<CancelBlocking> {
    // One blocking thread: the second job must wait in the queue, as in a full thread pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .context("cannot build a tokio runtime")?;
    runtime.block_on(async {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        // The first job takes the pool's only thread and says so, so that the second is
        // certainly queued behind it when both are cancelled.
        let first = tokio::task::spawn_blocking(move || {
            let _ = started_tx.send(());
            // Holds the only thread until told to go (or until `go_tx` is dropped).
            let _ = go_rx.recv();
            1
        });
        started_rx
            .await
            .context("the first blocking job never started")?;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        // Queued: it would run only once the first job gives the thread back.
        let second = tokio::task::spawn_blocking(move || {
            flag.store(true, Ordering::SeqCst);
            2
        });
        // New: cancel both. Only the queued one can be stopped.
        first.abort();
        second.abort();
        let _ = go_tx.send(());
        let running_result = first.await.ok();
        let queued_cancelled = matches!(second.await, Err(e) if e.is_cancelled());
        Ok(CancelBlocking {
            running_result,
            queued_cancelled,
            queued_ran: ran.load(Ordering::SeqCst),
        })
    })
}

/// Each many-futures demo on a single-thread runtime, as a table, then cancelling blocking
/// jobs on a pool of one thread.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let title = "seed 002 Executor.map / shutdown, wait and as_completed: their tokio counterparts";
    let (s, tick, runtime) = tour(&args.common, "executor_api", title)?;
    // On one thread, the orders below follow from the ticks alone.
    runtime.block_on(async {
        let f = wait_first_completed(tick).await?;
        row(
            "wait(fs, FIRST_COMPLETED)",
            "future::select_all",
            format!(
                "first: task {}, {} still pending, then {:?}",
                f.first, f.still_pending, f.rest
            ),
        );

        let (values, waited) = wait_all_completed(tick).await?;
        row(
            "wait(fs, ALL_COMPLETED)",
            "future::join_all",
            format!(
                "{values:?} after {:.1} ticks (the longest task: 3)",
                waited.as_secs_f64() / tick.as_secs_f64()
            ),
        );
        s.check(
            "wait(ALL_COMPLETED): every task's value, in order",
            values == [0, 1, 2],
            "",
        );

        let ac = as_completed_timeout(tick).await?;
        row(
            "as_completed(fs, timeout=4 ticks)",
            "FuturesUnordered + timeout_at",
            format!(
                "yielded {:?}, still pending at the deadline {:?}",
                ac.yielded, ac.pending_at_timeout
            ),
        );
        let mut seen = ac.yielded.clone();
        seen.extend(&ac.pending_at_timeout);
        seen.sort_unstable();
        s.check(
            "as_completed(timeout): each task yielded once or reported pending",
            seen == [0, 1, 2, 3],
            "",
        );

        let (mapped, finished) = map_buffered(tick).await?;
        row(
            "executor.map(fn, xs) (2 workers)",
            "stream.map(spawn).buffered(2)",
            format!("{mapped:?} though they finished as {finished:?}"),
        );
        s.check("map keeps input order", mapped == [0, 1, 2], "");

        let sd = shutdown(tick).await?;
        row(
            "shutdown(wait=True, cancel_futures)",
            "JoinSet::abort_all, then join_next",
            format!(
                "after 1.5 ticks: completed {:?}, cancelled {}",
                sd.completed, sd.cancelled
            ),
        );
        s.check(
            "shutdown: every task either completed or was cancelled",
            sd.completed.len() + sd.cancelled == 4,
            "",
        );
        anyhow::Ok(())
    })?;

    let b = cancel_blocking()?;
    row(
        "f.cancel(), pool of 1 thread",
        "abort() on spawn_blocking jobs",
        format!(
            "running job finished anyway: {:?}; queued job cancelled {}, ran {}",
            b.running_result, b.queued_cancelled, b.queued_ran
        ),
    );
    s.check(
        "a queued blocking job is cancelled and never runs; a running one completes",
        b.running_result == Some(1) && b.queued_cancelled && !b.queued_ran,
        "",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(50);
    #[test]
    fn a_queued_blocking_job_is_cancelled_a_running_one_is_not() {
        let b = cancel_blocking().unwrap();
        assert_eq!(
            b,
            CancelBlocking {
                running_result: Some(1),
                queued_cancelled: true,
                queued_ran: false
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn first_completed_is_the_shortest_task() {
        let f = wait_first_completed(TICK).await.unwrap();
        assert_eq!(
            f,
            FirstCompleted {
                first: 1,
                still_pending: 2,
                rest: vec![0, 2]
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn all_completed_waits_for_the_longest_task_only() {
        let (values, waited) = wait_all_completed(TICK).await.unwrap();
        assert_eq!(values, [0, 1, 2]);
        // Paused time: the clock jumps from timer to timer (1 ms resolution), so this is a
        // deterministic fact, not a timing.
        assert!(waited >= TICK * 3 && waited <= TICK * 3 + Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn as_completed_yields_in_completion_order_until_the_deadline() {
        let ac = as_completed_timeout(TICK).await.unwrap();
        assert_eq!(
            ac,
            AsCompletedTimeout {
                yielded: vec![1, 2, 0],
                pending_at_timeout: vec![3]
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn map_keeps_input_order_whatever_the_completion_order() {
        let (results, finished) = map_buffered(TICK).await.unwrap();
        assert_eq!(results, [0, 1, 2]);
        assert_eq!(finished, [1, 0, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_what_has_not_finished() {
        let sd = shutdown(TICK).await.unwrap();
        assert_eq!(
            sd,
            Shutdown {
                completed: vec![0],
                cancelled: 3
            }
        );
    }
}
