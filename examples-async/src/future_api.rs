//! # A `concurrent.futures.Future`, method by method, in tokio
//!
//! Mirrors seed 002 ("Concurrency and parallelism", the `concurrent.futures` notebook), the
//! sections "`Executor`" (`submit`) and "`Future`" (`cancel`, `cancelled`, `running`, `done`,
//! `result`, and `exception`). What to do with many futures at once (`wait`, `as_completed`,
//! `map`, `shutdown`) is the next section, `executor_api`.
//!
//! The lesson: every method has a counterpart. `submit` is `tokio::spawn` (or `spawn_blocking`
//! for CPU or blocking work) and the `Future` is its `JoinHandle`: `done()` is
//! `is_finished()`, `cancel()` is `abort()`, a cancelled or panicked task comes back as a
//! `JoinError` saying which, and `result(timeout)` is `tokio::time::timeout`. Two differences
//! matter. Python cannot cancel a call that has started; tokio cancels an async task at its
//! next `.await` (but never a `spawn_blocking` job that is running: see `executor_api`). And
//! there is no `running()`: an async task is either not yet polled, suspended at an `.await`,
//! or finished, so this file tracks "started" itself.
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
//! on a single-thread runtime with tasks that sleep a few 50 ms ticks. The unit tests run the
//! same demos on tokio's paused clock, so their orders and timings are checked exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use shared::executor::panic_message;
use shared::{Bench, CommonArgs, say};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

use crate::cli::Args;

/// A task that sleeps `ticks` ticks, then returns its id.
pub(crate) async fn napper(id: usize, ticks: u32, tick: Duration) -> usize {
    sleep(tick * ticks).await;
    id
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
    // `executor.submit`: the task is queued on the runtime and runs on its own from the
    // spawner's next `.await`; the JoinHandle is the Future we keep to ask about it.
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

/// `running()`: "started and not finished". On a current_thread runtime a spawned task
/// starts only when the spawner yields.
pub async fn running(tick: Duration) -> anyhow::Result<Running> {
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    // The task owns a handle to the flag (it may outlive this frame) and sets it on its first
    // poll: the only way to see "started" from outside.
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
    /// Whether its body began, and whether it reached its end.
    pub started: bool,
    pub finished: bool,
}

/// A task that records whether its body started and finished, `ticks` ticks apart.
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

/// `result(timeout)` twice on a task of 3 ticks: too short, then long enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTimeout {
    pub first_timed_out: bool,
    pub then: Option<usize>,
}

/// `result(timeout)`: `tokio::time::timeout` around a `&mut JoinHandle`. As in Python, giving
/// up waiting does not cancel the task: waiting again gets its result.
pub async fn result_timeout(tick: Duration) -> anyhow::Result<ResultTimeout> {
    // Waited on through `&mut`, so a wait that gives up leaves the handle, and the task, alone.
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
    // A panic ends only its own task: tokio catches it and hands it to whoever awaits it.
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

/// One row of the section's table: the Python call, its tokio counterpart, what was seen.
pub(crate) fn row(python: &str, rust: &str, observed: impl AsRef<str>) {
    say!("  {python:<36} {rust:<36} {}", observed.as_ref());
}

/// Runs `f` with Rust's panic report replaced by one line, for a planned panic. The hook is
/// process-wide: only the section does this, on its single thread, and restores it after.
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

/// Each `Future` method's demo on a single-thread runtime, as a table, with its checks.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let title = "seed 002 Executor.submit and Future: every method's tokio counterpart";
    let (s, tick, runtime) = tour(&args.common, "future_api", title)?;
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
        anyhow::Ok(())
    })
}

/// What both API tours (this one and `executor_api`) start with: their measurement table,
/// the tick their tasks sleep in (50 ms, 20 ms under `--quick`), the head of their table, and
/// a single-thread runtime, as asyncio has, on which "pending" and "started" are well defined.
pub(crate) fn tour(
    c: &CommonArgs,
    section: &str,
    title: &str,
) -> anyhow::Result<(Bench, Duration, tokio::runtime::Runtime)> {
    let s = Bench::new("examples-async", section, c);
    s.title(title);
    let tick = c.size(Duration::from_millis(50), Duration::from_millis(20));
    let ms = tick.as_millis();
    say!("  tasks sleep a few ticks of {ms} ms on a single-thread runtime");
    say!();
    row("concurrent.futures", "tokio / futures", "observed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot build a tokio runtime")?;
    Ok((s, tick, runtime))
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
}
