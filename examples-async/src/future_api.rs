//! # The `concurrent.futures` API, method by method, in tokio
//!
//! Mirrors seed 002 ("Concurrency and parallelism", the `concurrent.futures` notebook), the
//! sections "`Executor`" (`submit`, `map`, `shutdown`), "`Future`" (`cancel`, `cancelled`,
//! `running`, `done`, `result`) and the two module functions `wait` and `as_completed`.
//!
//! The lesson: every method has a counterpart. `submit` is `tokio::spawn` (or `spawn_blocking`
//! for CPU or blocking work) and the `Future` is its `JoinHandle`: `done()` is
//! `is_finished()`, `cancel()` is `abort()`, a cancelled or panicked task comes back as a
//! `JoinError` saying which, `result(timeout)` is `tokio::time::timeout`, `wait` is
//! `select_all` / `join_all`, `as_completed` is a `FuturesUnordered` and `shutdown` is a
//! `JoinSet`'s `abort_all` (or dropping it). Two differences matter. Python cannot cancel a
//! call that has started; tokio cancels an async task at its next `.await` (but, like Python,
//! never a `spawn_blocking` job that is already running). And there is no `running()`: an
//! async task is either not yet polled, suspended at an `.await`, or finished, so this file
//! tracks "started" itself.
//!
//! What Python checks at run time, or not at all, the compiler checks here. A task may outlive
//! the function that submitted it, so it cannot borrow that function's locals (Python's
//! executor would happily share them, and any race is yours):
//!
//! ```compile_fail,E0373
//! async fn submit() {
//!     let passwords = vec!["password 0".to_owned()];
//!     // error: the async block may outlive `submit`, but it borrows `passwords`
//!     let handle = tokio::spawn(async { passwords.len() });
//!     let _ = handle.await;
//! }
//! ```
//!
//! The fix is to give the task its own data: `async move`, which moves `passwords` in.
//!
//! ```
//! async fn submit() {
//!     let passwords = vec!["password 0".to_owned()];
//!     let handle = tokio::spawn(async move { passwords.len() });
//!     let _ = handle.await;
//! }
//! ```
//!
//! And what a task or a blocking job takes to another thread must be `Send`. An `Rc` counts
//! its references without atomics (like CPython's refcounts, which the GIL protects), so it
//! cannot go to the blocking pool:
//!
//! ```compile_fail,E0277
//! use std::rc::Rc;
//!
//! async fn hash_on_the_pool(password: Rc<String>) -> usize {
//!     // error: `Rc<String>` cannot be sent between threads safely
//!     tokio::task::spawn_blocking(move || password.len()).await.unwrap()
//! }
//! ```
//!
//! The fix is `Arc`, whose count is atomic. The same rule refuses a task that holds a
//! `std::sync::MutexGuard` across an `.await` ("future cannot be sent between threads
//! safely"): hold the guard only between awaits, or use `tokio::sync::Mutex`.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! async fn hash_on_the_pool(password: Arc<String>) -> usize {
//!     tokio::task::spawn_blocking(move || password.len()).await.unwrap()
//! }
//!
//! async fn tally(count: Arc<Mutex<u64>>) {
//!     let handle = tokio::spawn(async move {
//!         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!         *count.lock().unwrap() += 1;
//!     });
//!     let _ = handle.await;
//! }
//! ```
//!
//! Run: `cargo run --release -p examples-async -- future_api`
//!
//! Output: one line per method: the Python call, its tokio counterpart, and what was observed
//! on a single-thread runtime with tasks that sleep a few 50 ms ticks; then the section's
//! checks. The unit tests at the bottom run the same demos with tokio's paused clock, so their
//! exact orders and timings are checked deterministically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use shared::executor::panic_message;
use shared::{Section, say};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout, timeout_at};

use crate::cli::Args;

/// A task that sleeps `ticks` ticks, then returns its id.
async fn napper(id: usize, ticks: u32, tick: Duration) -> usize {
    sleep(tick * ticks).await;
    id
}

/// Spawns one napper per entry of `ticks` (task `i` sleeps `ticks[i]` ticks).
fn spawn_nappers(ticks: &[u32], tick: Duration) -> Vec<JoinHandle<usize>> {
    // `executor.submit` for each: the task is queued on the runtime at once and runs on its
    // own; the JoinHandle is the Future we keep to ask about it.
    ticks
        .iter()
        .enumerate()
        .map(|(id, &t)| tokio::spawn(napper(id, t, tick)))
        .collect()
}

/// `future.done()` before and after the task finished, and its `result()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub before: bool,
    pub after: bool,
    pub value: usize,
}

/// `submit` + `done()`: `tokio::spawn` + `JoinHandle::is_finished`.
pub async fn done(tick: Duration) -> anyhow::Result<Done> {
    let handle = tokio::spawn(napper(7, 1, tick));
    let before = handle.is_finished();
    sleep(tick * 2).await;
    let after = handle.is_finished();
    let value = handle.await?;
    Ok(Done {
        before,
        after,
        value,
    })
}

/// `future.running()` at three moments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub before_first_poll: bool,
    pub while_suspended: bool,
    pub after_end: bool,
}

/// `running()`: "started and not finished", tracked with a flag the task sets on its first
/// poll. On a current_thread runtime a spawned task starts only when the spawner yields.
pub async fn running(tick: Duration) -> anyhow::Result<Running> {
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let handle = tokio::spawn(async move {
        flag.store(true, Ordering::SeqCst);
        sleep(tick).await;
    });
    let running = |h: &JoinHandle<()>| started.load(Ordering::SeqCst) && !h.is_finished();
    let before_first_poll = running(&handle);
    // Give the runtime's only thread to the task: it starts, then suspends in its sleep.
    tokio::task::yield_now().await;
    let while_suspended = running(&handle);
    sleep(tick * 2).await;
    let after_end = running(&handle);
    handle.await?;
    Ok(Running {
        before_first_poll,
        while_suspended,
        after_end,
    })
}

/// What `cancel()` did to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// `cancelled()`: the JoinError says the task was cancelled.
    pub cancelled: bool,
    /// Its body began.
    pub started: bool,
    /// Its body reached the end.
    pub finished: bool,
}

/// Spawns a task that records whether its body started and finished, sleeping `ticks` ticks
/// in between.
fn flagged_task(tick: Duration, ticks: u32) -> (JoinHandle<()>, Arc<AtomicBool>, Arc<AtomicBool>) {
    let (started, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (s, f) = (started.clone(), finished.clone());
    // The flags are shared with the task (Arc) because it outlives this function's frame;
    // atomics, because the task may run on another thread.
    let handle = tokio::spawn(async move {
        s.store(true, Ordering::SeqCst);
        sleep(tick * ticks).await;
        f.store(true, Ordering::SeqCst);
    });
    (handle, started, finished)
}

async fn outcome(
    handle: JoinHandle<()>,
    started: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
) -> anyhow::Result<Cancelled> {
    let cancelled = match handle.await {
        Ok(()) => false,
        Err(e) if e.is_cancelled() => true,
        Err(e) => return Err(e).context("the task failed"),
    };
    Ok(Cancelled {
        cancelled,
        started: started.load(Ordering::SeqCst),
        finished: finished.load(Ordering::SeqCst),
    })
}

/// `cancel()` on a pending future: `abort()` before the task was ever polled. Its body never
/// runs.
pub async fn cancel_pending(tick: Duration) -> anyhow::Result<Cancelled> {
    let (handle, started, finished) = flagged_task(tick, 1);
    // New: no `.await` since the spawn, so on this single-thread runtime the task is pending.
    handle.abort();
    outcome(handle, started, finished).await
}

/// `cancel()` on a started async task: Python would refuse; tokio drops the task at the
/// `.await` where it is suspended, so the rest of its body never runs.
pub async fn cancel_started(tick: Duration) -> anyhow::Result<Cancelled> {
    let (handle, started, finished) = flagged_task(tick, 2);
    tokio::task::yield_now().await;
    // New: the task is now suspended in its sleep; aborting it drops it right there.
    handle.abort();
    outcome(handle, started, finished).await
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

/// `result(timeout)` twice on a task of 3 ticks: too short, then long enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTimeout {
    pub first_timed_out: bool,
    pub then: Option<usize>,
}

/// `result(timeout)`: `tokio::time::timeout` around a `&mut JoinHandle`. As in Python, giving
/// up waiting does not cancel the task: waiting again gets its result.
pub async fn result_timeout(tick: Duration) -> anyhow::Result<ResultTimeout> {
    let mut handle = tokio::spawn(napper(3, 3, tick));
    let first_timed_out = timeout(tick, &mut handle).await.is_err();
    let then = match timeout(tick * 5, &mut handle).await {
        Ok(joined) => Some(joined?),
        Err(_) => {
            handle.abort();
            None
        }
    };
    Ok(ResultTimeout {
        first_timed_out,
        then,
    })
}

/// `exception()`: three tasks, the middle one panics. Each outcome is the value, or the
/// panic's message.
pub async fn exception(tick: Duration) -> Vec<Result<usize, String>> {
    let handles = vec![
        tokio::spawn(napper(0, 1, tick)),
        tokio::spawn(async move {
            sleep(tick).await;
            panic!("task 1 failed on purpose")
        }),
        tokio::spawn(napper(2, 2, tick)),
    ];
    futures::future::join_all(handles)
        .await
        .into_iter()
        .map(|joined| {
            joined.map_err(|e| {
                if e.is_panic() {
                    panic_message(&*e.into_panic())
                } else {
                    e.to_string()
                }
            })
        })
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
            tokio::spawn(async move {
                let id = napper(i, ticks[i], tick).await;
                // Tasks append their id as they end; the lock is held for one push only.
                finished
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(id);
                id
            })
        })
        .buffered(2)
        .collect()
        .await;
    let results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let order = finished
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
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

fn row(python: &str, rust: &str, observed: impl AsRef<str>) {
    say!("  {python:<36} {rust:<36} {}", observed.as_ref());
}

/// Runs `f` with Rust's panic report (message, and a backtrace under `RUST_BACKTRACE`)
/// replaced by one line: the panic inside is planned. The hook is process-wide, which is why
/// only the section does this, on its single thread, and puts the old hook back afterwards.
async fn quiet_panics<T>(f: impl Future<Output = T>) -> T {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        say!(
            "  (planned panic{place}: {:?}; tokio catches it)",
            panic_message(info.payload())
        );
    }));
    let out = f.await;
    drop(std::panic::take_hook());
    std::panic::set_hook(previous);
    out
}

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let s = Section::new("examples-async", "future_api", c);
    s.title("seed 002 Executor and Future: every method's tokio counterpart");
    let tick = c.size(Duration::from_millis(50), Duration::from_millis(20));
    say!(
        "  tasks sleep a few ticks of {} ms on a single-thread runtime",
        tick.as_millis()
    );
    say!();
    row("concurrent.futures", "tokio / futures", "observed");

    // A single thread, as asyncio has: "pending" and "started" are then well defined.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot build a tokio runtime")?;
    runtime.block_on(async {
        let d = done(tick).await?;
        row(
            "submit(fn); f.done(); f.result()",
            "spawn; h.is_finished(); h.await",
            format!(
                "done {} -> {} after 2 ticks, result {}",
                d.before, d.after, d.value
            ),
        );

        let r = running(tick).await?;
        row(
            "f.running()",
            "(none: a flag set on first poll)",
            format!(
                "{} before the first poll, {} while suspended, {} after",
                r.before_first_poll, r.while_suspended, r.after_end
            ),
        );

        let p = cancel_pending(tick).await?;
        row(
            "f.cancel() on a pending future",
            "h.abort(); JoinError::is_cancelled",
            format!("cancelled {}, body ran {}", p.cancelled, p.started),
        );
        s.check(
            "a task cancelled before it started never ran its body",
            p.cancelled && !p.started,
            "",
        );

        let a = cancel_started(tick).await?;
        row(
            "f.cancel() on a running future",
            "h.abort() at its .await",
            format!(
                "cancelled {}, started {}, reached its end {} (Python: cannot cancel)",
                a.cancelled, a.started, a.finished
            ),
        );
        s.check(
            "an aborted async task stops at its .await",
            a.cancelled && a.started && !a.finished,
            "",
        );

        let t = result_timeout(tick).await?;
        row(
            "f.result(timeout=1 tick)",
            "time::timeout(d, &mut h)",
            format!(
                "timed out {}, then (not cancelled) {:?}",
                t.first_timed_out, t.then
            ),
        );

        let e = quiet_panics(exception(tick)).await;
        let shown: Vec<String> = e
            .iter()
            .map(|o| match o {
                Ok(v) => format!("Ok({v})"),
                Err(msg) => format!("Err({msg:?})"),
            })
            .collect();
        row(
            "f.exception()",
            "JoinError::is_panic / into_panic",
            shown.join(", "),
        );
        s.check(
            "a panicking task is reported as an error and the others finish",
            e.len() == 3 && e[0] == Ok(0) && e[1].is_err() && e[2] == Ok(2),
            "",
        );

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

    #[tokio::test(start_paused = true)]
    async fn done_turns_true_when_the_task_ends() {
        let d = done(TICK).await.unwrap();
        assert_eq!(
            d,
            Done {
                before: false,
                after: true,
                value: 7
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn running_means_started_and_not_finished() {
        let r = running(TICK).await.unwrap();
        assert_eq!(
            r,
            Running {
                before_first_poll: false,
                while_suspended: true,
                after_end: false
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_pending_task_never_runs_its_body() {
        let p = cancel_pending(TICK).await.unwrap();
        assert_eq!(
            p,
            Cancelled {
                cancelled: true,
                started: false,
                finished: false
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_aborted_async_task_stops_at_its_await() {
        let a = cancel_started(TICK).await.unwrap();
        assert_eq!(
            a,
            Cancelled {
                cancelled: true,
                started: true,
                finished: false
            }
        );
        // Long after it would have ended, it still has not.
        sleep(TICK * 10).await;
    }

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
    async fn result_timeout_gives_up_without_cancelling() {
        let t = result_timeout(TICK).await.unwrap();
        assert_eq!(
            t,
            ResultTimeout {
                first_timed_out: true,
                then: Some(3)
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_reported_and_the_others_finish() {
        let e = exception(TICK).await;
        assert_eq!(
            e,
            vec![Ok(0), Err("task 1 failed on purpose".to_owned()), Ok(2)]
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
