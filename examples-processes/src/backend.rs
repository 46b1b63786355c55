//! One executor interface, two backends: worker processes or threads.
//!
//! Seed 002 points out that `concurrent.futures` is an interface (`Executor`, `Future`) with
//! several implementations behind it. [`Executor`] is that interface for this crate's
//! registered tasks; [`crate::process_pool::ProcessPool`] and [`ThreadPool`] (a thin wrapper
//! over `shared::executor::ThreadPoolExecutor`) implement it, and both hand out the same
//! `shared::executor::Future`. The sections write their code once, against
//! `&dyn Executor`, and run it on both: the interface is the lesson, the backend a choice.
//!
//! ```
//! use examples_processes::backend::{Executor, ThreadPool};
//! use examples_processes::task::{Output, Task};
//!
//! let pool = ThreadPool::new(2).unwrap();
//! let out: Vec<_> = pool.map(vec![Task::Tiny(1), Task::Tiny(2)], 1).collect();
//! assert_eq!(out, [Ok(Output::Tiny(2)), Ok(Output::Tiny(3))]);
//! ```
//!
//! A task must be a [`Task`]; a closure is not one:
//!
//! ```compile_fail,E0308
//! use examples_processes::backend::{Executor, ThreadPool};
//! let pool = ThreadPool::new(2).unwrap();
//! // error[E0308]: mismatched types: expected `Task`, found closure
//! let _ = pool.submit(|| 41 + 1);
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use shared::executor::{Future, FutureError, Promise, ThreadPoolExecutor, pair};

use crate::task::{Output, Task, TaskError};

/// Python's `Executor`, for registered tasks.
pub trait Executor {
    /// E.g. `2 processes`, `4 threads`.
    fn label(&self) -> String;

    /// Number of workers.
    fn workers(&self) -> usize;

    /// `submit(fn, *args)`: queues one task, returns its future at once.
    fn submit(&self, task: Task) -> Future<Output>;

    /// Queues several tasks as one unit (one message for a process), returning one future of
    /// their results in order. What `map(chunksize=...)` is made of.
    fn submit_chunk(&self, tasks: Vec<Task>) -> ChunkFuture;

    /// `shutdown(wait, cancel_futures)`.
    fn shutdown(&mut self, wait: bool, cancel_futures: bool);

    /// `map(fn, items, chunksize)`: submits everything now, yields results in input order.
    /// `chunksize` tasks travel together (Python's `chunksize`; 1 is its default).
    fn map(&self, tasks: Vec<Task>, chunksize: usize) -> MapResults {
        let chunksize = chunksize.max(1);
        let mut chunks = VecDeque::new();
        let mut rest = tasks.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<Task> = rest.by_ref().take(chunksize).collect();
            let n = chunk.len();
            chunks.push_back((n, self.submit_chunk(chunk)));
        }
        MapResults {
            chunks,
            current: Vec::new().into_iter(),
        }
    }
}

/// The future of a chunk of tasks: their results in order.
pub type ChunkFuture = Future<Vec<Result<Output, FutureError>>>;

/// The results of [`Executor::map`], in input order, each waited for when reached.
#[derive(Debug)]
pub struct MapResults {
    chunks: VecDeque<(usize, ChunkFuture)>,
    current: std::vec::IntoIter<Result<Output, FutureError>>,
}

impl Iterator for MapResults {
    type Item = Result<Output, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            let (n, chunk) = self.chunks.pop_front()?;
            self.current = match chunk.into_result() {
                Ok(results) => results.into_iter(),
                // The whole chunk was lost (its worker died): each of its items says so.
                Err(e) => vec![Err(e); n].into_iter(),
            };
        }
    }
}

/// A task's own failure as the caller sees it, naming the task and who ran it.
pub fn task_error(e: TaskError, id: u64, what: &str, whom: &str) -> FutureError {
    match e {
        TaskError::Panicked(msg) => {
            FutureError::Panicked(format!("task {id} ({what}) on {whom}: {msg}"))
        }
        TaskError::Failed(msg) => {
            FutureError::Lost(format!("task {id} ({what}) failed on {whom}: {msg}"))
        }
    }
}

/// `ThreadPoolExecutor` behind the same [`Executor`] interface.
#[derive(Debug)]
pub struct ThreadPool {
    pool: ThreadPoolExecutor,
    next: AtomicU64,
    closed: AtomicBool,
}

impl ThreadPool {
    /// A pool of `workers` threads.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(workers > 0, "a thread pool needs at least 1 worker, got 0");
        Ok(Self {
            pool: ThreadPoolExecutor::new(workers),
            next: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// Runs `work` on a pool thread with our own promise, so that task errors become the
    /// future's error. If the pool drops the job unrun (`cancel_futures`), the future says
    /// cancelled.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce(u64) -> Result<T, FutureError> + Send + 'static,
    ) -> Future<T> {
        let (promise, future) = pair();
        if self.closed.load(Ordering::SeqCst) {
            promise.set_result(Err(FutureError::Shutdown));
            return future;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut slot = CancelIfUnrun(Some(promise));
        // The pool's own future (of `()`) is not needed: ours carries the result.
        let _ = self.pool.submit(move || {
            let Some(promise) = slot.0.take() else { return };
            if promise.set_running() {
                promise.set_result(work(id));
            }
        });
        future
    }
}

/// Holds a promise until its job runs; cancels it if the job is dropped unrun.
struct CancelIfUnrun<T>(Option<Promise<T>>);

impl<T> Drop for CancelIfUnrun<T> {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.cancel();
        }
    }
}

fn whom() -> String {
    shared::spans::thread_lane()
}

impl Executor for ThreadPool {
    fn label(&self) -> String {
        format!("{} threads", self.pool.workers())
    }

    fn workers(&self) -> usize {
        self.pool.workers()
    }

    fn submit(&self, task: Task) -> Future<Output> {
        self.spawn(move |id| {
            task.run_caught()
                .map_err(|e| task_error(e, id, &task.describe(), &whom()))
        })
    }

    fn submit_chunk(&self, tasks: Vec<Task>) -> ChunkFuture {
        self.spawn(move |id| {
            Ok(tasks
                .iter()
                .map(|t| {
                    t.run_caught()
                        .map_err(|e| task_error(e, id, &t.describe(), &whom()))
                })
                .collect())
        })
    }

    fn shutdown(&mut self, wait: bool, cancel_futures: bool) {
        self.closed.store(true, Ordering::SeqCst);
        self.pool.shutdown(wait, cancel_futures);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::executor::as_completed;

    use super::*;

    #[test]
    fn map_keeps_input_order_across_chunks() {
        let pool = ThreadPool::new(3).unwrap();
        let tasks: Vec<Task> = (0..10).map(Task::Tiny).collect();
        for chunksize in [1, 3, 100] {
            let out: Vec<_> = pool.map(tasks.clone(), chunksize).collect();
            let want: Vec<_> = (1..=10).map(|x| Ok(Output::Tiny(x))).collect();
            assert_eq!(out, want, "chunksize {chunksize}");
        }
    }

    #[test]
    fn panics_and_failures_name_the_task() {
        let pool = ThreadPool::new(1).unwrap();
        let f = pool.submit(Task::Panic {
            message: "bad input 7".into(),
        });
        match f.result(None) {
            Err(FutureError::Panicked(msg)) => {
                assert!(
                    msg.contains("panic()") && msg.contains("bad input 7"),
                    "{msg}"
                )
            }
            other => panic!("{other:?}"),
        }
        let ok = pool.submit(Task::Tiny(1));
        assert_eq!(ok.result(None), Ok(Output::Tiny(2)));
    }

    #[test]
    fn shutdown_with_cancel_cancels_queued_tasks() {
        let mut pool = ThreadPool::new(1).unwrap();
        let slow = pool.submit(Task::Sleep { secs: 0.2 });
        while !slow.running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let queued: Vec<_> = (0..5).map(|i| pool.submit(Task::Tiny(i))).collect();
        pool.shutdown(true, true);
        assert_eq!(slow.result(None), Ok(Output::Slept));
        assert!(
            queued.iter().all(|f| f.cancelled()),
            "queued tasks cancelled"
        );
        assert_eq!(
            pool.submit(Task::Tiny(1)).result(None),
            Err(FutureError::Shutdown)
        );
        let done = as_completed(&queued, None).count();
        assert_eq!(done, 5);
    }
}
