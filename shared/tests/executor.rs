//! The `concurrent.futures` contract of `shared::executor`, on its public API. Every order and
//! every state change is forced with channels: no test depends on how long anything takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;
use shared::executor::{FutureError, ReturnWhen, ThreadPoolExecutor, as_completed, pair, wait};

/// Blocks until `running` says the task has started: a worker holds it and no cancel can win.
fn until(running: impl Fn() -> bool) {
    while !running() {
        std::thread::yield_now();
    }
}

#[test]
fn map_keeps_input_order_when_tasks_finish_in_reverse() {
    // Task i may finish only after task i + 1 has: the last is released by the test, so the
    // tasks finish 4, 3, 2, 1, 0 whatever the scheduler does.
    let n = 5;
    let (txs, rxs): (Vec<Sender<()>>, Vec<Receiver<()>>) = (0..n).map(|_| bounded(1)).unzip();
    let finished = Arc::new(Mutex::new(Vec::new()));
    let items: Vec<_> = (0..n)
        .map(|i| {
            let release_previous = (i > 0).then(|| txs[i - 1].clone());
            (i as u64, rxs[i].clone(), release_previous)
        })
        .collect();
    let pool = ThreadPoolExecutor::new(n);
    let log = finished.clone();
    let results = pool.map(
        move |(x, mine, previous): (u64, Receiver<()>, Option<Sender<()>>)| {
            mine.recv().expect("released");
            log.lock().push(x);
            if let Some(p) = previous {
                p.send(()).expect("the previous task waits");
            }
            x * 10
        },
        items,
    );
    txs[n - 1].send(()).unwrap();
    let out: Vec<u64> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(out, [0, 10, 20, 30, 40]);
    assert_eq!(*finished.lock(), [4, 3, 2, 1, 0]);
}

#[test]
fn as_completed_yields_each_future_once_in_the_order_they_complete() {
    let order = [3, 1, 2, 0];
    let (gates, opens): (Vec<Sender<()>>, Vec<Receiver<()>>) = (0..4).map(|_| bounded(1)).unzip();
    let pool = ThreadPoolExecutor::new(4);
    let futures: Vec<_> = opens
        .into_iter()
        .enumerate()
        .map(|(i, open)| pool.submit(move || open.recv().map(|()| i).unwrap()))
        .collect();
    let mut completed = as_completed(&futures, None);
    for &i in &order {
        // Only task i can finish now, so the next future yielded must be it.
        gates[i].send(()).unwrap();
        let f = completed.next().expect("a future for each task").unwrap();
        assert_eq!(f.result(None), Ok(i));
    }
    assert!(completed.next().is_none(), "each future is yielded once");
}

#[test]
fn as_completed_yields_the_already_finished_first() {
    let (p0, f0) = pair::<u8>();
    let (p1, f1) = pair::<u8>();
    p1.set_result(Ok(1));
    let futures = [f0, f1];
    let mut it = as_completed(&futures, None);
    assert_eq!(it.next().unwrap().unwrap().result(None), Ok(1));
    p0.set_result(Ok(0));
    assert_eq!(it.next().unwrap().unwrap().result(None), Ok(0));
    assert!(it.next().is_none());
}

#[test]
fn shutdown_with_cancel_leaves_pending_tasks_unrun() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = bounded::<()>(0);
    let mut pool = ThreadPoolExecutor::new(1);
    let blocker = pool.submit(move || release_rx.recv().is_ok());
    let pending: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    until(|| blocker.running());
    assert!(pending.iter().all(|f| !f.running() && !f.done()));
    pool.shutdown(false, true);
    release_tx.send(()).unwrap();
    pool.shutdown(true, false);
    assert_eq!(blocker.result(None), Ok(true));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(pending.iter().all(|f| f.cancelled() && f.done()));
    assert_eq!(pending[0].result(None), Err(FutureError::Cancelled));
    assert_eq!(pool.submit(|| 1).result(None), Err(FutureError::Shutdown));
}

#[test]
fn shutdown_without_cancel_runs_every_task_exactly_once() {
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..20).map(|_| AtomicUsize::new(0)).collect());
    let mut pool = ThreadPoolExecutor::new(2);
    for i in 0..20 {
        let runs = runs.clone();
        pool.submit(move || runs[i].fetch_add(1, Ordering::SeqCst));
    }
    pool.shutdown(true, false);
    assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) == 1));
}

#[test]
fn a_panicking_task_is_an_error_and_the_others_finish() {
    let pool = ThreadPoolExecutor::new(2);
    let futures: Vec<_> = (0..6u32)
        .map(|i| {
            pool.submit(move || {
                assert_ne!(i, 3, "task {i} refuses");
                i
            })
        })
        .collect();
    let (done, not_done) = wait(&futures, None, ReturnWhen::AllCompleted);
    assert_eq!((done.len(), not_done.len()), (6, 0));
    for (i, f) in futures.iter().enumerate() {
        match f.result(None) {
            Ok(v) => assert_eq!(v, i as u32),
            Err(FutureError::Panicked(msg)) => {
                assert_eq!(i, 3);
                assert!(msg.contains("task 3 refuses"), "{msg}");
                assert!(f.exception(None).unwrap().is_some());
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(futures[0].exception(None), Ok(None));
}

#[test]
fn a_running_task_cannot_be_cancelled_and_timeouts_say_so() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, rx) = bounded::<()>(0);
    let slow = pool.submit(move || rx.recv().is_ok());
    let queued = pool.submit(|| 5);
    until(|| slow.running());
    assert!(!slow.cancel(), "a running task cannot be cancelled");
    assert_eq!(
        slow.result(Some(Duration::from_millis(20))),
        Err(FutureError::TimedOut)
    );
    assert_eq!(
        slow.exception(Some(Duration::ZERO)),
        Err(FutureError::TimedOut)
    );
    let (done, not_done) = wait(
        std::slice::from_ref(&queued),
        Some(Duration::from_millis(10)),
        ReturnWhen::FirstCompleted,
    );
    assert!(done.is_empty() && not_done == [0]);
    assert!(queued.cancel() && queued.cancelled());
    tx.send(()).unwrap();
    assert_eq!(slow.result(None), Ok(true));
    assert!(!slow.cancelled() && !slow.cancel());
    assert_eq!(queued.result(None), Err(FutureError::Cancelled));
    let mut it = as_completed(std::slice::from_ref(&slow), Some(Duration::from_millis(1)));
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().is_none());
}

#[test]
fn wait_returns_when_its_condition_holds() {
    let (promises, futures): (Vec<_>, Vec<_>) = (0..3).map(|_| pair::<u8>()).unzip();
    let mut promises = promises.into_iter();
    let (p0, p1, p2) = (
        promises.next().unwrap(),
        promises.next().unwrap(),
        promises.next().unwrap(),
    );
    p0.set_result(Ok(0));
    // One done, two pending: FIRST_COMPLETED returns at once.
    let (done, not_done) = wait(&futures, None, ReturnWhen::FirstCompleted);
    assert_eq!((done, not_done), (vec![0], vec![1, 2]));
    // No failure yet: FIRST_EXCEPTION waits until its timeout.
    let (done, _) = wait(
        &futures,
        Some(Duration::from_millis(10)),
        ReturnWhen::FirstException,
    );
    assert_eq!(done, [0]);
    // A failure returns at once, with the failed future among the done.
    let (q, failing) = pair::<u8>();
    q.set_result(Err(FutureError::Failed("bad input".into())));
    let (_unfinished, pending) = pair::<u8>();
    let mixed = [failing, pending];
    let (done, not_done) = wait(&mixed, None, ReturnWhen::FirstException);
    assert_eq!((done, not_done), (vec![0], vec![1]));
    assert_eq!(
        mixed[0].exception(None),
        Ok(Some(FutureError::Failed("bad input".into())))
    );
    // A cancelled future is done without failing, so FIRST_EXCEPTION goes on to wait for all.
    // Whenever the other thread completes future 1, a correct `wait` returns all three done
    // (the pause only gives a wrong one the time to return early).
    assert!(futures[2].cancel());
    assert!(!p2.set_running());
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            p1.set_result(Ok(1));
        });
        let (done, not_done) = wait(&futures, None, ReturnWhen::FirstException);
        assert_eq!((done, not_done), (vec![0, 1, 2], vec![]));
    });
}

#[test]
fn a_dropped_promise_completes_its_future_as_lost() {
    let (promise, future) = pair::<u8>();
    assert!(promise.set_running());
    assert!(future.running());
    drop(promise);
    assert!(future.done() && !future.cancelled());
    assert!(matches!(future.result(None), Err(FutureError::Lost(_))));
}

#[test]
fn a_cancelled_future_refuses_its_runner() {
    let (promise, future) = pair::<u8>();
    assert!(future.cancel());
    assert!(!promise.set_running(), "the runner must not start it");
    promise.set_result(Ok(1));
    assert_eq!(future.into_result(), Err(FutureError::Cancelled));
}

#[test]
fn as_completed_times_out_once() {
    let (_promise, future) = pair::<u8>();
    let items: Vec<_> = as_completed(
        std::slice::from_ref(&future),
        Some(Duration::from_millis(5)),
    )
    .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().err(), Some(&FutureError::TimedOut));
}

#[test]
fn a_timeout_too_long_for_the_clock_waits_forever_instead_of_panicking() {
    let (promise, future) = pair::<u8>();
    promise.set_result(Ok(7));
    assert_eq!(future.result(Some(Duration::MAX)), Ok(7));
}
