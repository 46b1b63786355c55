//! The `concurrent.futures` interface: [`Future`] handles, [`as_completed`], [`wait`], and a
//! [`ThreadPoolExecutor`].
//!
//! Python ships this in its standard library; Rust's standard library has threads and
//! channels but no executor with cancellable result handles, so this module provides the
//! same contract, small enough to read:
//!
//! - a [`Future`] is the consumer side of a result slot: `done()`, `running()`, `cancel()`,
//!   `cancelled()`, `result(timeout)`, `exception(timeout)`;
//! - a [`Promise`] is the producer side, held by whoever runs the task (a pool thread here, a
//!   worker process's reader in `examples-processes`). A promise dropped without a result
//!   completes its future with [`FutureError::Lost`], so a dead worker can never leave the
//!   caller waiting forever (Python's `BrokenProcessPool`);
//! - [`ThreadPoolExecutor`] runs closures on N long-lived threads pulling from one queue.
//!
//! ```
//! use shared::executor::{ThreadPoolExecutor, as_completed};
//!
//! let pool = ThreadPoolExecutor::new(2);
//! let futures: Vec<_> = (1..=4u64).map(|x| pool.submit(move || x * x)).collect();
//! let mut squares: Vec<u64> = as_completed(&futures, None)
//!     .map(|f| f.unwrap().result(None).unwrap())
//!     .collect();
//! squares.sort();
//! assert_eq!(squares, [1, 4, 9, 16]);
//! assert_eq!(pool.map(|x: u64| x + 1, [1, 2, 3]).collect::<Result<Vec<_>, _>>().unwrap(), [2, 3, 4]);
//! ```

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::spans::Spans;

/// Why a future has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FutureError {
    /// It was cancelled before it started.
    Cancelled,
    /// `result(timeout)` gave up waiting; the task may still finish later.
    TimedOut,
    /// The task panicked (Python: the task raised); the message is the panic's.
    Panicked(String),
    /// The task failed or its worker was lost (crashed, killed, dropped it).
    Lost(String),
    /// Submitted after the executor was shut down.
    Shutdown,
}

impl std::fmt::Display for FutureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cancelled => write!(f, "the task was cancelled before it started"),
            Self::TimedOut => write!(f, "timed out waiting for the result"),
            Self::Panicked(msg) => write!(f, "the task panicked: {msg}"),
            Self::Lost(msg) => write!(f, "the task was lost: {msg}"),
            Self::Shutdown => write!(f, "cannot schedule new tasks after shutdown"),
        }
    }
}

impl std::error::Error for FutureError {}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Running,
    Finished,
    Cancelled,
}

#[derive(Debug)]
struct State<T> {
    phase: Phase,
    result: Option<Result<T, FutureError>>,
    /// Notified with (their index) when this future completes: how as_completed/wait
    /// watch many futures at once.
    waiters: Vec<(Sender<usize>, usize)>,
}

#[derive(Debug)]
struct Slot<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is plain data updated in one step; a panic elsewhere cannot tear it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, phase: Phase, result: Result<T, FutureError>) {
        let mut st = self.lock();
        if matches!(st.phase, Phase::Finished | Phase::Cancelled) {
            return;
        }
        st.phase = phase;
        st.result = Some(result);
        for (tx, index) in st.waiters.drain(..) {
            let _ = tx.send(index);
        }
        drop(st);
        self.changed.notify_all();
    }
}

/// A new linked pair: the runner keeps the [`Promise`], the caller gets the [`Future`].
pub fn pair<T>() -> (Promise<T>, Future<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            phase: Phase::Pending,
            result: None,
            waiters: Vec::new(),
        }),
        changed: Condvar::new(),
    });
    (
        Promise {
            slot: Some(slot.clone()),
        },
        Future { slot },
    )
}

/// The producer side of a [`Future`].
#[derive(Debug)]
pub struct Promise<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Promise<T> {
    /// Marks the task as running. Returns `false` if it was cancelled: then do not run it.
    pub fn set_running(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut st = slot.lock();
        match st.phase {
            Phase::Pending => {
                st.phase = Phase::Running;
                drop(st);
                slot.changed.notify_all();
                true
            }
            Phase::Running => true,
            Phase::Finished | Phase::Cancelled => false,
        }
    }

    /// Completes the future with the task's outcome.
    pub fn set_result(mut self, result: Result<T, FutureError>) {
        if let Some(slot) = self.slot.take() {
            slot.complete(Phase::Finished, result);
        }
    }

    /// Completes the future as cancelled, if it has not started.
    pub fn cancel(self) -> bool {
        self.slot.as_ref().is_some_and(|s| cancel_slot(s))
    }

    /// Whether the caller cancelled it.
    pub fn is_cancelled(&self) -> bool {
        self.slot
            .as_ref()
            .is_some_and(|s| s.lock().phase == Phase::Cancelled)
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(
                Phase::Finished,
                Err(FutureError::Lost(
                    "its runner went away without a result".to_owned(),
                )),
            );
        }
    }
}

fn cancel_slot<T>(slot: &Slot<T>) -> bool {
    let st = slot.lock();
    match st.phase {
        Phase::Cancelled => true,
        Phase::Running | Phase::Finished => false,
        Phase::Pending => {
            drop(st);
            slot.complete(Phase::Cancelled, Err(FutureError::Cancelled));
            true
        }
    }
}

/// The result of a task that may not have finished yet.
#[derive(Debug)]
pub struct Future<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Future<T> {
    /// Finished, failed or cancelled.
    pub fn done(&self) -> bool {
        matches!(self.slot.lock().phase, Phase::Finished | Phase::Cancelled)
    }

    /// A worker is running it now.
    pub fn running(&self) -> bool {
        self.slot.lock().phase == Phase::Running
    }

    /// Cancelled before it started.
    pub fn cancelled(&self) -> bool {
        self.slot.lock().phase == Phase::Cancelled
    }

    /// Cancels the task if it has not started; returns whether it is (now) cancelled.
    /// A running or finished task cannot be cancelled, as in Python.
    pub fn cancel(&self) -> bool {
        cancel_slot(&self.slot)
    }

    /// Waits until done, or for `timeout`. Returns whether it is done.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.slot.lock();
        loop {
            if matches!(st.phase, Phase::Finished | Phase::Cancelled) {
                return true;
            }
            st = match deadline {
                None => self
                    .slot
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.slot
                        .changed
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// The task's value, waiting up to `timeout` (forever with `None`).
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, FutureError>
    where
        T: Clone,
    {
        if !self.wait(timeout) {
            return Err(FutureError::TimedOut);
        }
        self.slot
            .lock()
            .result
            .clone()
            .unwrap_or(Err(FutureError::Lost("no result stored".to_owned())))
    }

    /// The task's value, consuming the handle (no `Clone` needed); waits as long as it takes.
    pub fn into_result(self) -> Result<T, FutureError> {
        self.wait(None);
        self.slot
            .lock()
            .result
            .take()
            .unwrap_or(Err(FutureError::Lost("no result stored".to_owned())))
    }

    /// Python's `exception()`: the error the task ended with, `None` if it succeeded.
    /// Waits up to `timeout`; `Err(TimedOut)` if it is still not done.
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<FutureError>, FutureError> {
        if !self.wait(timeout) {
            return Err(FutureError::TimedOut);
        }
        Ok(match &self.slot.lock().result {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        })
    }

    /// Registers `tx` to receive `index` on completion; false if already complete.
    fn watch(&self, tx: &Sender<usize>, index: usize) -> bool {
        let mut st = self.slot.lock();
        if matches!(st.phase, Phase::Finished | Phase::Cancelled) {
            false
        } else {
            st.waiters.push((tx.clone(), index));
            true
        }
    }
}

/// Python's `as_completed(fs, timeout)`: yields each future as it completes (finished ones
/// first). With a timeout, yields `Err(TimedOut)` once if the rest are not done in time.
pub fn as_completed<T>(
    futures: &[Future<T>],
    timeout: Option<Duration>,
) -> impl Iterator<Item = Result<&Future<T>, FutureError>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    for (i, f) in futures.iter().enumerate() {
        if !f.watch(&tx, i) {
            let _ = tx.send(i);
        }
    }
    drop(tx);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut left = futures.len();
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let next = match deadline {
            None => rx.recv().ok(),
            Some(d) => rx.recv_deadline(d).ok(),
        };
        match next {
            Some(i) => {
                left -= 1;
                Some(Ok(&futures[i]))
            }
            None => {
                left = 0;
                Some(Err(FutureError::TimedOut))
            }
        }
    })
}

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any future is done.
    FirstCompleted,
    /// As soon as any future fails, or all are done.
    FirstException,
    /// When all are done.
    AllCompleted,
}

/// Python's `wait(fs, timeout, return_when)`: the indices of done and not-done futures.
pub fn wait<T>(
    futures: &[Future<T>],
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> (Vec<usize>, Vec<usize>) {
    let failed = |f: &Future<T>| matches!(f.slot.lock().result, Some(Err(_)));
    let mut seen = 0;
    for item in as_completed(futures, timeout) {
        let Ok(f) = item else { break };
        seen += 1;
        let stop = match return_when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstException => failed(f),
            ReturnWhen::AllCompleted => false,
        };
        if stop || seen == futures.len() {
            break;
        }
    }
    (0..futures.len()).partition(|&i| futures[i].done())
}

struct Job {
    task: u64,
    /// Runs the task unless it was cancelled; returns whether it ran.
    run: Box<dyn FnOnce() -> bool + Send>,
    cancel: Box<dyn FnOnce() + Send>,
}

/// Python's `ThreadPoolExecutor(max_workers)`: N threads, one queue, [`Future`] handles.
///
/// Dropping it is `shutdown(wait=True)`, like leaving Python's `with` block: queued tasks
/// still run, and no pool thread outlives the executor.
pub struct ThreadPoolExecutor {
    queue: Option<Sender<Job>>,
    /// Kept to drain the queue on `shutdown(cancel_futures=True)`.
    backlog: Receiver<Job>,
    threads: Vec<JoinHandle<()>>,
    next_task: AtomicU64,
}

impl std::fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("workers", &self.threads.len())
            .field("queued", &self.backlog.len())
            .finish()
    }
}

impl ThreadPoolExecutor {
    /// A pool of `workers` threads named `worker 0`, `worker 1`, ...
    ///
    /// # Panics
    /// If `workers` is 0 (the command lines reject 0 before it gets here) or a thread
    /// cannot be spawned.
    pub fn new(workers: usize) -> Self {
        Self::build(workers, None)
    }

    /// Like [`new`](Self::new), recording one span per task (lane = worker thread).
    pub fn with_spans(workers: usize, spans: &Spans) -> Self {
        Self::build(workers, Some(spans.clone()))
    }

    fn build(workers: usize, spans: Option<Spans>) -> Self {
        assert!(workers > 0, "a thread pool needs at least one worker");
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let threads = (0..workers)
            .map(|i| {
                let rx = rx.clone();
                let spans = spans.clone();
                std::thread::Builder::new()
                    .name(format!("worker {i}"))
                    .spawn(move || {
                        let lane = format!("worker {i}");
                        // Pull-based: an idle thread takes the next job, so one long task
                        // never holds up the queue. Ends when the queue is closed and empty.
                        for job in rx.iter() {
                            let start = Instant::now();
                            if (job.run)()
                                && let Some(spans) = &spans
                            {
                                spans.record(lane.as_str(), job.task, start, Instant::now());
                            }
                        }
                    })
                    .expect("the OS refused to start a pool thread")
            })
            .collect();
        Self {
            queue: Some(tx),
            backlog: rx,
            threads,
            next_task: AtomicU64::new(0),
        }
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Python's `submit(fn)`: queues `f` and returns its [`Future`].
    pub fn submit<T, F>(&self, f: F) -> Future<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (promise, future) = pair();
        let Some(queue) = &self.queue else {
            promise.set_result(Err(FutureError::Shutdown));
            return future;
        };
        let task = self.next_task.fetch_add(1, Ordering::Relaxed);
        let promise = Arc::new(Mutex::new(Some(promise)));
        let for_cancel = promise.clone();
        let job = Job {
            task,
            run: Box::new(move || {
                let Some(promise) = promise
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                else {
                    return false;
                };
                if !promise.set_running() {
                    return false;
                }
                let outcome = catch_unwind(AssertUnwindSafe(f))
                    .map_err(|p| FutureError::Panicked(panic_message(p.as_ref())));
                promise.set_result(outcome);
                true
            }),
            cancel: Box::new(move || {
                if let Some(p) = for_cancel
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    p.cancel();
                }
            }),
        };
        if let Err(e) = queue.send(job) {
            (e.into_inner().cancel)();
        }
        future
    }

    /// Python's `map(fn, items)`: submits every item now and yields results in input order
    /// (not completion order), each waiting for its own task.
    pub fn map<I, T, F>(
        &self,
        f: F,
        items: I,
    ) -> impl Iterator<Item = Result<T, FutureError>> + use<I, T, F>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let futures: Vec<Future<T>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.submit(move || f(item))
            })
            .collect();
        futures.into_iter().map(Future::into_result)
    }

    /// Python's `shutdown(wait, cancel_futures)`: no new tasks are accepted; with
    /// `cancel_futures`, queued tasks that have not started are cancelled; with `wait`, returns
    /// once every worker has finished. Without `wait` the workers finish in the background and
    /// are joined when the executor is dropped.
    pub fn shutdown(&mut self, wait: bool, cancel_futures: bool) {
        self.queue = None;
        if cancel_futures {
            for job in self.backlog.try_iter() {
                (job.cancel)();
            }
        }
        if wait {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn map_keeps_input_order_even_when_tasks_finish_out_of_order() {
        let pool = ThreadPoolExecutor::new(3);
        let out: Vec<u64> = pool
            .map(
                |x: u64| {
                    std::thread::sleep(Duration::from_millis(30 - 5 * x));
                    x * 10
                },
                [1, 2, 3, 4, 5],
            )
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(out, [10, 20, 30, 40, 50]);
    }

    #[test]
    fn as_completed_yields_each_future_once_in_completion_order() {
        let pool = ThreadPoolExecutor::new(4);
        let delays = [40u64, 10, 30, 0];
        let futures: Vec<_> = delays
            .iter()
            .map(|&d| {
                pool.submit(move || {
                    std::thread::sleep(Duration::from_millis(d * 3));
                    d
                })
            })
            .collect();
        let order: Vec<u64> = as_completed(&futures, None)
            .map(|f| f.unwrap().result(None).unwrap())
            .collect();
        assert_eq!(order, [0, 10, 30, 40]);
    }

    #[test]
    fn shutdown_with_cancel_leaves_pending_tasks_unrun() {
        let ran = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let mut pool = ThreadPoolExecutor::new(1);
        let blocker = pool.submit(move || release_rx.recv().is_ok());
        let pending: Vec<_> = (0..5)
            .map(|_| {
                let ran = ran.clone();
                pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
            })
            .collect();
        while !blocker.running() {
            std::thread::yield_now();
        }
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
    fn shutdown_without_cancel_runs_everything() {
        let ran = Arc::new(AtomicUsize::new(0));
        let mut pool = ThreadPoolExecutor::new(2);
        for _ in 0..20 {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst));
        }
        pool.shutdown(true, false);
        assert_eq!(ran.load(Ordering::SeqCst), 20);
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
                    assert!(msg.contains("task 3 refuses"));
                    assert!(f.exception(None).unwrap().is_some());
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }

    #[test]
    fn cancel_running_future_fails_and_timeouts_report() {
        let pool = ThreadPoolExecutor::new(1);
        let (tx, rx) = crossbeam_channel::bounded::<()>(0);
        let slow = pool.submit(move || rx.recv().is_ok());
        let queued = pool.submit(|| 5);
        while !slow.running() {
            std::thread::yield_now();
        }
        assert!(!slow.cancel(), "a running task cannot be cancelled");
        assert_eq!(
            slow.result(Some(Duration::from_millis(20))),
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
        let mut it = as_completed(std::slice::from_ref(&slow), Some(Duration::from_millis(1)));
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().is_none());
    }

    #[test]
    fn with_spans_records_one_span_per_task_on_worker_lanes() {
        let spans = Spans::new();
        let pool = ThreadPoolExecutor::with_spans(2, &spans);
        let out: Vec<u64> = pool
            .map(|x: u64| x + 1, 0..6)
            .collect::<Result<_, _>>()
            .unwrap();
        drop(pool);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        let recorded = spans.take();
        assert_eq!(recorded.len(), 6);
        let mut tasks: Vec<u64> = recorded.iter().map(|s| s.task).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, [0, 1, 2, 3, 4, 5]);
        assert!(
            recorded
                .iter()
                .all(|s| s.lane == "worker 0" || s.lane == "worker 1")
        );
    }

    #[test]
    fn a_dropped_promise_completes_its_future_as_lost() {
        let (promise, future) = pair::<u8>();
        assert!(promise.set_running());
        drop(promise);
        assert!(matches!(future.result(None), Err(FutureError::Lost(_))));
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
}
