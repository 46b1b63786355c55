//! # What a Future is made of: `concurrent.futures`, small enough to read
//!
//! Mirrors seed 002 (Concurrency and parallelism, concurrent.futures), "Executor" and
//! "Future": a future is pending, running, finished or cancelled; `cancel()` succeeds only
//! while it is pending; `result(timeout)` waits for the value; the module functions
//! `as_completed(fs, timeout)` and `wait(fs, timeout, return_when)` (`FIRST_COMPLETED`,
//! `FIRST_EXCEPTION`, `ALL_COMPLETED`) watch many futures at once; and
//! `shutdown(wait, cancel_futures)` ends an executor.
//!
//! The lesson: none of it is magic. A future is one slot, a mutex over its state plus a
//! condition variable, shared by two handles: the [`Future`] the caller holds and the
//! [`Promise`] held by whoever runs the task. `result()` sleeps on the condition variable until
//! the promise fills the slot. To watch many futures, [`as_completed`] and [`wait`] put a
//! channel's sender in each slot's list of waiters, and each slot sends its index as it
//! completes, so the caller sleeps on one receiver instead of polling. A promise dropped
//! without a value completes its future with [`FutureError::Lost`], so a dead worker can never
//! leave a caller waiting forever (Python's `BrokenProcessPool`).
//!
//! Python ships this in its standard library; Rust's has threads and channels but no executor
//! with cancellable handles, so the example crates share this one. [`ThreadPoolExecutor`] runs
//! closures on N threads pulling from one queue (examples-threads `executors`, `wiki`,
//! `downloads`); the process pool of examples-processes (`process_pool.rs`) and the MPI pool of
//! examples-distributed (`pool.rs`) hand out the same [`Future`], completed through a
//! [`Promise`] when a worker process or rank replies. Each state change is forced, step by
//! step, in `shared/tests/executor.rs`.
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
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex, MutexGuard};

/// Why a future has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FutureError {
    /// It was cancelled before it started.
    Cancelled,
    /// `result(timeout)` gave up waiting; the task may still finish later.
    TimedOut,
    /// The task panicked (Python: the function raised); the message is the panic's.
    Panicked(String),
    /// The task ran and reported an error of its own (e.g. a worker process's task failed).
    Failed(String),
    /// Its runner went away without a result: the worker crashed, was killed or dropped it.
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
            Self::Failed(msg) => write!(f, "the task failed: {msg}"),
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

/// Python's four states of a future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Running,
    Finished,
    Cancelled,
}

impl Phase {
    fn done(self) -> bool {
        matches!(self, Phase::Finished | Phase::Cancelled)
    }
}

#[derive(Debug)]
struct State<T> {
    phase: Phase,
    /// Set exactly when the phase becomes done.
    result: Option<Result<T, FutureError>>,
    /// Told (the index they gave) when this future completes: how as_completed/wait watch
    /// many futures with one channel.
    waiters: Vec<(Sender<usize>, usize)>,
}

/// What a [`Future`] and its [`Promise`] share.
#[derive(Debug)]
struct Slot<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

const DONE_HOLDS_RESULT: &str = "a done future holds its result";

impl<T> Slot<T> {
    /// Completes the future once; a later outcome (a cancel racing a result) changes nothing.
    fn complete(&self, phase: Phase, result: Result<T, FutureError>) {
        let st = self.state.lock();
        if !st.phase.done() {
            self.settle(st, phase, result);
        }
    }

    /// Cancels a pending task; returns whether the future is now cancelled. One lock for the
    /// check and the change, so a worker cannot start the task in between.
    fn cancel(&self) -> bool {
        let st = self.state.lock();
        match st.phase {
            Phase::Pending => {
                self.settle(st, Phase::Cancelled, Err(FutureError::Cancelled));
                true
            }
            Phase::Cancelled => true,
            Phase::Running | Phase::Finished => false,
        }
    }

    fn settle(&self, mut st: MutexGuard<'_, State<T>>, phase: Phase, r: Result<T, FutureError>) {
        st.phase = phase;
        st.result = Some(r);
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
    /// `None` once completed, so that `Drop` knows there is nothing left to do.
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Promise<T> {
    /// Marks the task as running. Returns `false` if it was cancelled: then do not run it.
    pub fn set_running(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut st = slot.state.lock();
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

    /// Cancels the future if its task has not started (a queue emptied at shutdown); returns
    /// whether it is cancelled. A started task's future, its promise given up, ends `Lost`.
    pub fn cancel(self) -> bool {
        self.slot.as_ref().is_some_and(|s| s.cancel())
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let why = "its runner went away without a result".to_owned();
            slot.complete(Phase::Finished, Err(FutureError::Lost(why)));
        }
    }
}

/// The result of a task that may not have finished yet.
#[derive(Debug)]
pub struct Future<T> {
    slot: Arc<Slot<T>>,
}

/// `None` waits forever (also for a timeout too long to add to the clock).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

impl<T> Future<T> {
    /// Finished, failed or cancelled.
    pub fn done(&self) -> bool {
        self.slot.state.lock().phase.done()
    }

    /// A worker is running it now.
    pub fn running(&self) -> bool {
        self.slot.state.lock().phase == Phase::Running
    }

    /// Cancelled before it started.
    pub fn cancelled(&self) -> bool {
        self.slot.state.lock().phase == Phase::Cancelled
    }

    /// Cancels the task if it has not started; returns whether it is (now) cancelled.
    /// A running or finished task cannot be cancelled, as in Python.
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    /// Waits until done, or for `timeout`. Returns whether it is done.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = deadline(timeout);
        let mut st = self.slot.state.lock();
        while !st.phase.done() {
            // The condition variable releases the lock while asleep; `settle` wakes it.
            match deadline {
                None => self.slot.changed.wait(&mut st),
                Some(d) => {
                    if self.slot.changed.wait_until(&mut st, d).timed_out() {
                        return st.phase.done();
                    }
                }
            }
        }
        true
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
            .state
            .lock()
            .result
            .clone()
            .expect(DONE_HOLDS_RESULT)
    }

    /// The task's value, consuming the handle (no `Clone` needed); waits as long as it takes.
    pub fn into_result(self) -> Result<T, FutureError> {
        self.wait(None);
        self.slot
            .state
            .lock()
            .result
            .take()
            .expect(DONE_HOLDS_RESULT)
    }

    /// Python's `exception()`: the error the task ended with, `None` if it succeeded.
    /// Waits up to `timeout`; `Err(TimedOut)` if it is still not done.
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<FutureError>, FutureError> {
        if !self.wait(timeout) {
            return Err(FutureError::TimedOut);
        }
        Ok(self
            .slot
            .state
            .lock()
            .result
            .as_ref()
            .and_then(|r| r.as_ref().err().cloned()))
    }

    /// Registers `tx` to receive `index` on completion; false if already complete.
    fn watch(&self, tx: &Sender<usize>, index: usize) -> bool {
        let mut st = self.slot.state.lock();
        if !st.phase.done() {
            st.waiters.push((tx.clone(), index));
        }
        !st.phase.done()
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
    let deadline = deadline(timeout);
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
    /// As soon as any future fails (cancelled is not failed), or all are done.
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
    // As in Python, a cancelled future is done but did not fail.
    let failed = |f: &Future<T>| matches!(&f.slot.state.lock().result, Some(Err(e)) if *e != FutureError::Cancelled);
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

/// What a worker thread, or `shutdown(cancel_futures=True)`, does with a queued job.
enum Fate {
    Run,
    Cancel,
}

/// A queued task with its promise.
type Job = Box<dyn FnOnce(Fate) + Send>;

/// Python's `ThreadPoolExecutor(max_workers)`: N threads, one queue, [`Future`] handles.
///
/// Dropping it is `shutdown(wait=True)`, like leaving Python's `with` block: queued tasks
/// still run, and no pool thread outlives the executor.
pub struct ThreadPoolExecutor {
    /// `None` after shutdown: the closed queue ends the workers' loops once it is empty.
    queue: Option<Sender<Job>>,
    /// Kept to empty the queue on `shutdown(cancel_futures=True)`.
    backlog: Receiver<Job>,
    threads: Vec<JoinHandle<()>>,
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
        assert!(workers > 0, "a thread pool needs at least one worker");
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let threads = (0..workers)
            .map(|i| {
                let rx = rx.clone();
                // Why long-lived threads pulling from one queue: no thread is started per task,
                // and an idle thread takes the next job, so one long task never holds up the
                // others. Python's pool works the same way.
                std::thread::Builder::new()
                    .name(format!("worker {i}"))
                    .spawn(move || rx.iter().for_each(|job| job(Fate::Run)))
                    .expect("the OS refused to start a pool thread")
            })
            .collect();
        Self {
            queue: Some(tx),
            backlog: rx,
            threads,
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
        self.submit_fallible(move || Ok(f()))
    }

    /// `submit(fn)` for a task that can fail without panicking: its `Err` becomes the
    /// future's error, as an exception raised by a Python function becomes
    /// `future.exception()`.
    pub fn submit_fallible<T, F>(&self, f: F) -> Future<T>
    where
        F: FnOnce() -> Result<T, FutureError> + Send + 'static,
        T: Send + 'static,
    {
        let (promise, future) = pair();
        let Some(queue) = &self.queue else {
            promise.set_result(Err(FutureError::Shutdown));
            return future;
        };
        let job: Job = Box::new(move |fate| match fate {
            Fate::Cancel => {
                promise.cancel();
            }
            // `set_running` refuses a task the caller cancelled while it was queued.
            Fate::Run => {
                if promise.set_running() {
                    let outcome = catch_unwind(AssertUnwindSafe(f))
                        .unwrap_or_else(|p| Err(FutureError::Panicked(panic_message(p.as_ref()))));
                    promise.set_result(outcome);
                }
            }
        });
        // Cannot fail while `backlog` holds the receiving end; if it did, the dropped job's
        // promise would complete the future as lost.
        let _ = queue.send(job);
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
            // Workers and this loop take jobs from the same queue: each job goes to one of them.
            for job in self.backlog.try_iter() {
                job(Fate::Cancel);
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
