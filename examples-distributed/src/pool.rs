//! mpi4py.futures' `MPIPoolExecutor`, on rsmpi: the `concurrent.futures` interface with
//! worker ranks behind it.
//!
//! Rank 0 keeps a queue of submitted tasks and a list of idle workers. A dispatcher thread
//! hands the next task to a worker only when that worker is idle (its hello, or its last
//! result, was its request for more), so a long task never holds up the others: dynamic
//! balancing. The futures are `shared::executor`'s, the same type the thread pool and the
//! process pool of the other crates return, so `result`, `done`, `as_completed` and `wait`
//! work unchanged: the interface carries over from threads to processes to ranks on many
//! machines, which is seed 002's point.
//!
//! Why a dispatcher thread: the caller blocks in `result()` or `as_completed` like in Python,
//! while someone must keep receiving results and sending the next tasks. MPI is initialised
//! with `MPI_THREAD_MULTIPLE`, and in practice only this thread talks to the workers while a
//! pool is open (the client thread waits on the futures, not on MPI).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Source};
use parking_lot::Mutex;
use shared::executor::{Future, FutureError, Promise, pair};
use shared::spans::Spans;
use shared::timing::Stopwatch;
use shared::{Bench, Ctx, Variant};

use crate::task::{Output, Task};
use crate::wire::{self, Backoff, ResultMsg, TAG_RESULT, TAG_TASK, TaskMsg};
use crate::world::World;

/// What a pool did, for the checks and the CPU column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Ids of the tasks submitted, in order.
    pub submitted: Vec<u64>,
    /// `(task id, rank)` of every result received, in arrival order.
    pub done: Vec<(u64, i32)>,
    /// CPU seconds the workers spent on the tasks (they report it with each result).
    pub worker_cpu_s: f64,
}

impl Stats {
    /// Whether every submitted task came back exactly once, and nothing else did.
    pub fn each_task_once(&self) -> bool {
        let mut done: Vec<u64> = self.done.iter().map(|&(id, _)| id).collect();
        let mut submitted = self.submitted.clone();
        done.sort_unstable();
        submitted.sort_unstable();
        done == submitted
    }

    /// Tasks run by each rank.
    pub fn per_rank(&self) -> BTreeMap<i32, usize> {
        let mut m = BTreeMap::new();
        for &(_, rank) in &self.done {
            *m.entry(rank).or_default() += 1;
        }
        m
    }
}

/// A submitted task on its way to a worker.
#[derive(Debug)]
struct Job {
    id: u64,
    task: Task,
    promise: Promise<Output>,
}

/// A task a worker is running.
#[derive(Debug)]
struct Running {
    id: u64,
    what: String,
    promise: Promise<Output>,
}

/// `MPIPoolExecutor(max_workers=n)`: rank 0's handle to `n` worker ranks.
#[derive(Debug)]
pub struct Pool {
    jobs: Option<Sender<Job>>,
    dispatcher: Option<JoinHandle<()>>,
    stats: Arc<Mutex<Stats>>,
    ids: Arc<AtomicU64>,
    workers: usize,
    taken: Arc<AtomicBool>,
}

impl Pool {
    /// Opens a pool on worker ranks `1..=workers` (fewer if the job has fewer). `spans`
    /// records one span per task, lane `rank N`, timed by the worker.
    pub fn new(world: &World, workers: usize, spans: Option<&Spans>) -> anyhow::Result<Self> {
        let workers = workers.min(world.workers());
        anyhow::ensure!(
            workers >= 1,
            "a pool needs at least one worker rank, and this job has {} rank(s)",
            world.size()
        );
        let taken = world
            .take_workers()
            .context("another pool is still open: shut it down first")?;
        // Why a lock: the caller's thread notes each submission and the dispatcher each
        // result; both hold it for one push, never while waiting on MPI or on a future.
        let stats = Arc::new(Mutex::new(Stats::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let ranks: Vec<i32> = (1..=workers as i32).collect();
        let (st, sp) = (stats.clone(), spans.cloned());
        // Why a named thread: a panic message from it says "mpi dispatcher", and the panic
        // hook aborts the whole job, so no rank is left waiting for it.
        let dispatcher = std::thread::Builder::new()
            .name("mpi dispatcher".to_owned())
            .spawn(move || dispatch(ranks, &rx, &st, sp.as_ref()))
            .context("cannot start the dispatcher thread")?;
        Ok(Self {
            jobs: Some(tx),
            dispatcher: Some(dispatcher),
            stats,
            ids: world.task_ids(),
            workers,
            taken,
        })
    }

    /// Worker ranks in this pool.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// `executor.submit(fn, *args)`: queues the task and returns its future at once.
    pub fn submit(&self, task: Task) -> Future<Output> {
        let (promise, future) = pair();
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        self.stats.lock().submitted.push(id);
        match &self.jobs {
            Some(jobs) => {
                // A send fails only if the dispatcher is gone; the promise then drops inside
                // the error and the future reports the task as lost.
                let _ = jobs.send(Job { id, task, promise });
            }
            None => promise.set_result(Err(FutureError::Shutdown)),
        }
        future
    }

    /// `executor.map(fn, items)`: submits everything now; the results come in input order.
    pub fn map<I: IntoIterator<Item = Task>>(
        &self,
        tasks: I,
    ) -> impl Iterator<Item = Result<Output, FutureError>> + use<I> {
        let futures: Vec<Future<Output>> = tasks.into_iter().map(|t| self.submit(t)).collect();
        futures.into_iter().map(Future::into_result)
    }

    /// `executor.map(fn, items, chunksize=n)`: `n` tasks per message each way; the results
    /// still come one per task, in input order.
    pub fn map_chunked(
        &self,
        tasks: Vec<Task>,
        chunksize: usize,
    ) -> Vec<Result<Output, FutureError>> {
        let chunks: Vec<Vec<Task>> = tasks
            .chunks(chunksize.max(1))
            .map(<[Task]>::to_vec)
            .collect();
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let mut out = Vec::new();
        for (result, n) in self.map(chunks.into_iter().map(Task::Batch)).zip(sizes) {
            match result {
                Ok(Output::Batch(outputs)) if outputs.len() == n => {
                    out.extend(outputs.into_iter().map(Ok));
                }
                Ok(other) => {
                    let e = FutureError::Failed(format!("a batch of {n} returned {other:?}"));
                    out.extend(std::iter::repeat_n(Err(e), n));
                }
                Err(e) => out.extend(std::iter::repeat_n(Err(e), n)),
            }
        }
        out
    }

    /// `executor.shutdown(wait=True)`: every queued task still runs; returns once all are
    /// done, with what the pool did.
    pub fn shutdown(mut self) -> Stats {
        self.close();
        self.stats.lock().clone()
    }

    fn close(&mut self) {
        self.jobs = None;
        if let Some(d) = self.dispatcher.take() {
            let _ = d.join();
        }
        self.taken.store(false, Ordering::SeqCst);
    }
}

impl Drop for Pool {
    /// Leaving Python's `with` block: shutdown(wait=True). (A panic aborts the whole job
    /// before any unwinding reaches here, see [`crate::world::abort_job_on_panic`].)
    fn drop(&mut self) {
        self.close();
    }
}

/// The dispatcher: hands queued tasks to idle workers, completes futures as results arrive,
/// until the queue is closed and nothing is left queued or running.
fn dispatch(ranks: Vec<i32>, jobs: &Receiver<Job>, stats: &Mutex<Stats>, spans: Option<&Spans>) {
    let comm = SimpleCommunicator::world();
    let mut idle: VecDeque<i32> = ranks.into();
    let mut running: HashMap<i32, Running> = HashMap::new();
    let mut backlog: VecDeque<Job> = VecDeque::new();
    let mut open = true;
    let mut backoff = Backoff::new();
    loop {
        while open {
            match jobs.try_recv() {
                Ok(job) => backlog.push_back(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        // Work goes only to a worker that has none: the pull model.
        while !idle.is_empty() {
            let Some(job) = backlog.pop_front() else {
                break;
            };
            // Cancelled while queued: its future already says so.
            if !job.promise.set_running() {
                continue;
            }
            let rank = idle.pop_front().expect("checked above");
            let what = job.task.describe();
            let msg = TaskMsg {
                id: job.id,
                task: job.task,
            };
            match wire::send(&comm.process_at_rank(rank), TAG_TASK, &msg) {
                Ok(()) => {
                    let r = Running {
                        id: job.id,
                        what,
                        promise: job.promise,
                    };
                    running.insert(rank, r);
                }
                Err(e) => {
                    job.promise.set_result(Err(FutureError::Lost(format!(
                        "task {} ({what}) could not be sent: {e:#}",
                        job.id
                    ))));
                    idle.push_front(rank);
                }
            }
        }
        if let Some(probed) = comm
            .any_process()
            .immediate_matched_probe_with_tag(TAG_RESULT)
        {
            let rank = probed.1.source_rank();
            let result = wire::receive::<ResultMsg>(probed);
            complete(rank, result, running.remove(&rank), stats, spans);
            idle.push_back(rank);
            backoff.reset();
            continue;
        }
        if !open && backlog.is_empty() && running.is_empty() {
            return;
        }
        if running.is_empty() {
            // Nothing to hear from the workers: sleep until the client submits or closes.
            // (Spinning here first was measured to make round trips slower, not faster: on
            // 2 cores it takes the CPU from the client thread that is about to submit.)
            match jobs.recv() {
                Ok(job) => backlog.push_back(job),
                Err(_) => open = false,
            }
            backoff.reset();
            continue;
        }
        // Wait for whichever comes first: a new task from the client (the channel wakes us
        // at once) or the next poll of the workers.
        match backoff.next_pause() {
            Duration::ZERO => std::thread::yield_now(),
            pause if open => match jobs.recv_timeout(pause) {
                Ok(job) => {
                    backlog.push_back(job);
                    backoff.reset();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            },
            pause => std::thread::sleep(pause),
        }
    }
}

/// Completes the future of the task `rank` was running.
fn complete(
    rank: i32,
    result: anyhow::Result<ResultMsg>,
    running: Option<Running>,
    stats: &Mutex<Stats>,
    spans: Option<&Spans>,
) {
    let Some(Running { id, what, promise }) = running else {
        // Not ours to complete; a result from a rank with no task is a protocol bug.
        panic!("rank {rank} sent a result although it was running no task");
    };
    let outcome = match result {
        Ok(r) if r.id == id => {
            let t = r.timing;
            if let Some(spans) = spans {
                spans.record_unix(format!("rank {rank}"), id, t.start_unix_s, t.end_unix_s);
            }
            let mut st = stats.lock();
            st.done.push((id, rank));
            st.worker_cpu_s += t.cpu_s;
            // Released before the future completes: the caller it wakes may read the stats.
            drop(st);
            r.output.map_err(|e| {
                FutureError::Failed(format!("task {id} ({what}) failed on rank {rank}: {e}"))
            })
        }
        Ok(r) => Err(FutureError::Lost(format!(
            "rank {rank} answered for task {} while running task {id} ({what})",
            r.id
        ))),
        Err(e) => Err(FutureError::Lost(format!(
            "rank {rank} sent an unreadable result for task {id} ({what}): {e:#}"
        ))),
    };
    promise.set_result(outcome);
}

/// Runs `f` on a fresh pool of `workers` ranks as one measured variant: wall time on rank 0,
/// CPU of rank 0 plus the CPU the workers reported, and (with `spans`) one span per task.
pub fn measured<T>(
    s: &mut Bench,
    variant: Variant,
    world: &World,
    workers: usize,
    spans: bool,
    f: impl FnOnce(&Pool, &mut Ctx) -> anyhow::Result<T>,
) -> anyhow::Result<(T, Stats)> {
    let mut ctx = Ctx::new();
    let sw = Stopwatch::start();
    let pool = Pool::new(world, workers, spans.then(|| ctx.spans()))?;
    let value = f(&pool, &mut ctx);
    let stats = pool.shutdown();
    let (wall_s, cpu_s) = (sw.wall_s(), sw.cpu_s() + stats.worker_cpu_s);
    s.record(variant, wall_s, cpu_s, ctx);
    Ok((value?, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_once_catches_lost_and_repeated_tasks() {
        let mut st = Stats {
            submitted: vec![3, 4, 5],
            done: vec![(4, 1), (3, 2), (5, 1)],
            worker_cpu_s: 0.0,
        };
        assert!(st.each_task_once());
        assert_eq!(st.per_rank(), BTreeMap::from([(1, 2), (2, 1)]));
        st.done.push((5, 2));
        assert!(!st.each_task_once(), "a task done twice");
        st.done.truncate(2);
        assert!(!st.each_task_once(), "a task never done");
    }
}
