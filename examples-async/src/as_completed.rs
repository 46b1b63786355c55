//! # Hashing passwords with scrypt: in completion order, in input order, k at a time
//!
//! Mirrors seed 002 ("Concurrency and parallelism", the `concurrent.futures` notebook), section
//! "An illustrative example": one `hashlib.scrypt` digest of `b"my password"`, then 8 passwords
//! hashed through `executor.map` and through `submit` + `as_completed`.
//!
//! The lesson: a digest is CPU work, so in async code it belongs on `spawn_blocking`, never
//! on the task itself. Once it is there, the three ways the notebook collects results each
//! have a direct tokio/futures counterpart: `as_completed` is a `JoinSet` (or
//! `FuturesUnordered`) yielding tasks as they finish, `map` is `join_all`, which keeps input
//! order, and a bounded pool (`max_workers=4`) is `buffer_unordered(4)`. With no GIL and no
//! pickling, the batch runs on every core.
//!
//! Run: `cargo run --release -p examples-async -- as_completed` (`--workers K` sets the bound
//! of `buffer_unordered`, default 4 as in the notebook's pool).
//!
//! Output: the single digest in hex, checked against Python's `hashlib`; then serial against
//! the three collection styles, each expected near the number of cores (about 2x, ~2 cores
//! busy, on a 2-core machine), with the order in which digests came back. The notebook
//! measured no speed-up at all (13 s with 4 processes against 12.8 s serially). That is not
//! what the method gives: the 8 digests are independent CPU work, so the flat figure says
//! more about the machine the notebook ran on than about process pools. The closing line
//! prints the speed-ups measured on this machine beside the notebook's figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use shared::measure::ideal;
use shared::workloads::scrypt::{self, Params};
use shared::{Bench, Spans, Variant, say};
use tokio::task::JoinSet;

use crate::cli::Args;

/// The notebook's pool size (`ProcessPoolExecutor(max_workers=4)`).
pub const DEFAULT_BOUND: usize = 4;

/// A current_thread runtime whose blocking-pool threads are named `pool-1`, `pool-2`, ... so
/// that timelines show which thread hashed what.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let next = Arc::new(AtomicUsize::new(1));
    tokio::runtime::Builder::new_current_thread()
        .thread_name_fn(move || format!("pool-{}", next.fetch_add(1, Ordering::Relaxed)))
        .build()
        .context("cannot build a tokio runtime")
}

/// `as_completed`: every task submitted to the blocking pool at once; the stream yields
/// `(index, value)` as each one finishes, like Python's `as_completed` iterator. Call it
/// inside a tokio runtime: the tasks are spawned right away.
pub fn as_completed<T, F>(
    n: usize,
    work: F,
) -> impl futures::Stream<Item = anyhow::Result<(usize, T)>>
where
    T: Send + 'static,
    F: Fn(usize) -> T + Send + Sync + 'static,
{
    let work = Arc::new(work);
    // The JoinSet owns the tasks (`executor.submit` for each); `join_next` hands back whichever
    // finishes first. Dropping the stream drops the set, which aborts what has not started.
    let mut set = JoinSet::new();
    for i in 0..n {
        let work = work.clone();
        // CPU work: on the blocking pool, where it may hold a thread as long as it likes.
        set.spawn_blocking(move || (i, work(i)));
    }
    futures::stream::unfold(set, |mut set| async move {
        let joined = set.join_next().await?;
        Some((joined.context("a hashing task failed"), set))
    })
}

/// `executor.map`: all tasks submitted at once, results in input order.
pub async fn map<T, F>(n: usize, work: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> T + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let handles = (0..n).map(|i| {
        let work = work.clone();
        // Submitted at once, like `executor.map`, each on a blocking-pool thread of its own.
        tokio::task::spawn_blocking(move || work(i))
    });
    // New: `join_all` waits for every handle and returns them in the order given, whatever
    // the order they finished in, exactly as `map` does.
    futures::future::join_all(handles)
        .await
        .into_iter()
        .map(|r| r.context("a hashing task failed"))
        .collect()
}

/// A pool of `k`: at most `k` tasks in flight, results as they finish. Returns `(index, value)`
/// in completion order.
pub async fn bounded<T, F>(n: usize, k: usize, work: F) -> anyhow::Result<Vec<(usize, T)>>
where
    T: Send + 'static,
    F: Fn(usize) -> T + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let tasks = futures::stream::iter(0..n).map(|i| {
        let work = work.clone();
        // Nothing runs until the stream polls this future, and it polls at most k at a time.
        async move { tokio::task::spawn_blocking(move || (i, work(i))).await }
    });
    // New: `buffer_unordered(k)` keeps k tasks in flight (a FuturesUnordered inside) and
    // yields them in completion order: `ProcessPoolExecutor(max_workers=k)` + `as_completed`.
    let results: Vec<_> = tasks.buffer_unordered(k.max(1)).collect().await;
    results
        .into_iter()
        .map(|r| r.context("a hashing task failed"))
        .collect()
}

/// A hashing job for the variants: password `i`, recorded as a span on its thread's lane.
fn hasher(
    passwords: Arc<Vec<String>>,
    params: Params,
    spans: &Spans,
) -> impl Fn(usize) -> String + Send + Sync + 'static {
    let spans = spans.clone();
    move |i| {
        spans.track(shared::spans::thread_lane(), i as u64, || {
            scrypt::hex_digest(&passwords[i], &params)
        })
    }
}

/// Puts `(index, value)` pairs back in index order; `None` if an index is missing or repeated.
pub fn by_index<T>(n: usize, pairs: Vec<(usize, T)>) -> Option<Vec<T>> {
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for (i, v) in pairs {
        if slots.get(i)?.is_some() {
            return None;
        }
        slots[i] = Some(v);
    }
    slots.into_iter().collect()
}

fn order(pairs: &[(usize, String)]) -> String {
    let ids: Vec<String> = pairs.iter().map(|(i, _)| i.to_string()).collect();
    ids.join(" ")
}

/// One digest checked against hashlib, then 8 serially and in the notebook's three ways of
/// collecting results, each checked against the serial digests.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-async", "as_completed", c);
    s.title("seed 002 scrypt hashing: as_completed, map, a pool of k");

    let n = 8;
    let params = Params::for_run(c);
    let cheaper = " (--quick: cheaper than the notebook's r=1024, p=32)";
    say!(
        "  {}{}",
        params.describe(n),
        if c.quick { cheaper } else { "" }
    );

    // The notebook's first cell: one digest, shown in full.
    let mine = shared::timed(|| scrypt::hex_digest(scrypt::MY_PASSWORD, &params));
    say!("  scrypt({:?}) = {mine}", scrypt::MY_PASSWORD);
    match scrypt::mine_matches_hashlib(&params, &mine) {
        Some(ok) => {
            s.check("the digest equals Python's hashlib.scrypt", ok, "");
        }
        None => say!("  (no hashlib digest is known for these parameters: not compared)"),
    }

    let passwords = Arc::new(scrypt::passwords(n));
    let k = c.workers_or(DEFAULT_BOUND);
    s.workload(&format!("{n} passwords, one digest each"));
    let serial = s.measure(Variant::serial(n), |ctx| {
        let hash = hasher(passwords.clone(), params, ctx.spans());
        (0..n).map(hash).collect::<Vec<_>>()
    });
    let serial_s = s.baseline_s().unwrap_or_default();
    if let Some(ok) = scrypt::batch_matches_hashlib(&params, &serial) {
        s.check("serial digests equal Python's hashlib.scrypt", ok, "");
    }

    // as_completed: all 8 at once, taken as they finish.
    let v = Variant::new("as_completed (JoinSet)", n, n).ideal_s(ideal::cpu_bound(serial_s, n, n));
    let done = s.measure(v, |ctx| {
        let hash = hasher(passwords.clone(), params, ctx.spans());
        runtime()?.block_on(async { as_completed(n, hash).try_collect::<Vec<_>>().await })
    })?;
    say!("    completed in order: {}", order(&done));
    let all = by_index(n, done);
    s.check(
        "as_completed: every task yielded exactly once",
        all.is_some(),
        "",
    );
    s.check(
        "as_completed: digests equal the serial ones",
        all.as_ref() == Some(&serial),
        "",
    );

    // map: all 8 at once, taken in input order.
    let v =
        Variant::new("map (join_all, input order)", n, n).ideal_s(ideal::cpu_bound(serial_s, n, n));
    let mapped = s.measure(v, |ctx| {
        let hash = hasher(passwords.clone(), params, ctx.spans());
        runtime()?.block_on(map(n, hash))
    })?;
    s.check(
        "map: digests equal the serial ones, in input order",
        mapped == serial,
        "",
    );

    // A pool of k: never more than k digests in flight.
    let v = Variant::new(format!("buffer_unordered({k})"), k, n)
        .ideal_s(ideal::cpu_bound(serial_s, k, n));
    let done = s.measure(v, |ctx| {
        let hash = hasher(passwords.clone(), params, ctx.spans());
        runtime()?.block_on(bounded(n, k, hash))
    })?;
    say!("    completed in order: {}", order(&done));
    s.check(
        &format!("buffer_unordered({k}): digests equal the serial ones, each once"),
        by_index(n, done).as_ref() == Some(&serial),
        "",
    );

    let speedups: Vec<String> = s
        .measurements()
        .iter()
        .filter(|m| !m.baseline)
        .filter_map(|m| Some(format!("{} {:.2}x", m.variant, m.speedup?)))
        .collect();
    say!();
    say!("  The notebook measured no gain: 13 s with 4 processes against 12.8 s serially.");
    say!(
        "  Measured here on {} cores: {}.",
        shared::system::cores(),
        speedups.join(", ")
    );
    say!("  Completion order varies from run to run; map's order never does.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use parking_lot::{Condvar, Mutex};

    use super::*;

    /// Task `i` may finish only after task `i + 1` has: completion order is exactly the
    /// reverse of input order, with no timing involved.
    fn reverse_finisher(n: usize) -> impl Fn(usize) -> usize + Send + Sync + 'static {
        let turn = Arc::new((Mutex::new(n), Condvar::new()));
        move |i| {
            let (lock, cv) = &*turn;
            let mut next = lock.lock();
            cv.wait_while(&mut next, |next| *next != i + 1);
            *next = i;
            cv.notify_all();
            i * 10
        }
    }

    #[tokio::test]
    async fn as_completed_yields_every_task_once_in_completion_order() {
        // Task 0 cannot finish before the test lets it, after the three others came back.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let done = as_completed(4, move |i| {
            if i == 0 {
                let _ = gate.lock().recv();
            }
            i * 10
        });
        let mut done = std::pin::pin!(done);
        let mut first = Vec::new();
        for _ in 0..3 {
            first.push(done.next().await.unwrap().unwrap());
        }
        first.sort_unstable();
        assert_eq!(first, [(1, 10), (2, 20), (3, 30)]);
        release.send(()).unwrap();
        assert_eq!(done.next().await.unwrap().unwrap(), (0, 0));
        assert!(done.next().await.is_none(), "each task is yielded once");
    }

    #[tokio::test]
    async fn map_preserves_input_order_whatever_the_completion_order() {
        let mapped = map(8, reverse_finisher(8)).await.unwrap();
        assert_eq!(mapped, (0..8).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn buffer_unordered_keeps_exactly_k_in_flight_and_runs_each_once() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (now, max) = (in_flight.clone(), most.clone());
        // Tasks meet three at a time before they finish, so three are surely in flight
        // together; a fourth would be counted before it reached the barrier.
        let three = Arc::new(Barrier::new(3));
        let done = bounded(12, 3, move |i| {
            let here = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(here, Ordering::SeqCst);
            three.wait();
            now.fetch_sub(1, Ordering::SeqCst);
            i
        })
        .await
        .unwrap();
        assert_eq!(by_index(12, done), Some((0..12).collect::<Vec<_>>()));
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn by_index_rejects_missing_and_repeated_tasks() {
        assert_eq!(by_index(2, vec![(1, 'b'), (0, 'a')]), Some(vec!['a', 'b']));
        assert_eq!(by_index(2, vec![(1, 'b'), (1, 'b')]), None);
        assert_eq!(by_index(2, vec![(0, 'a')]), None);
        assert_eq!(by_index(1, vec![(3, 'x')]), None);
    }
}
