//! # What `ProcessPoolExecutor` does for you: lanes, pull-based dispatch, a dead worker replaced
//!
//! Mirrors Concurrency and parallelism (concurrent.futures) (seed 002), "Executor" and
//! "Gotchas": what `ProcessPoolExecutor` does behind `submit` when its workers are other
//! processes, and what happens when one of them dies.
//!
//! The lesson: N long-lived workers (this binary again, see `worker.rs`), one queue of tasks
//! in the parent, and one *lane* thread per worker. A lane takes the next task only when its
//! worker is idle (pull-based, so one long task never holds up the others behind it), writes
//! it to the worker's stdin, waits for the answer on its stdout and completes the task's
//! future: `shared::executor::Future`, the type the thread pool hands out, so `as_completed`,
//! `wait` and `cancel` work the same on both. When a worker dies (it aborts, is killed, sends
//! garbage), its lane knows which task it was running: that one future fails, naming the task
//! and how the worker ended, a fresh worker takes the slot, and every other task still runs.
//! Python's pool instead declares itself a `BrokenProcessPool`, fails every pending future
//! and refuses new work. If no worker can be started any more, every queued task fails at
//! once: never a hang.
//!
//! [`ProcessPool`] implements the interface both pools share, `pool.rs`'s [`Executor`]
//! (Python's base class): code written against it runs on either pool, and
//! `map(tasks, chunksize)` sends each chunk as one [`Task::Chunk`] message.
//!
//! Seen at work in `pool` (compute_x and scrypt on both pools), `gotchas` (crashes, the cost
//! per task) and `downloads`: `cargo run --release -p examples-processes -- gotchas`. The
//! plumbing it uses: `task.rs` (what a task is) and `worker.rs` (starting a worker, frames).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use shared::child::{Child, describe_exit};
use shared::executor::{Future, FutureError, Promise, pair};

use crate::cli::Role;
use crate::pool::Executor;
use crate::task::{Output, Task, TaskError};
use crate::worker::{self, Connected, Pipes};

/// The worker's side ([`Role::Pool`]): hello, then runs each task it is sent and answers
/// with its outcome (a `Result<Output, TaskError>`), until its stdin closes.
pub fn worker_main(mut pipes: Pipes) -> anyhow::Result<()> {
    worker::say_hello(&mut pipes.output)?;
    // End-of-file on stdin is the pool's `shutdown`: return and exit 0.
    while let Some(task) = worker::recv::<Task>(&mut pipes.input)
        .context("the parent sent a message this worker cannot read")?
    {
        worker::send(&mut pipes.output, &task.run_caught())?;
    }
    Ok(())
}

/// A submitted task and the promise of its future.
#[derive(Debug)]
struct Job {
    id: u64,
    task: Task,
    promise: Promise<Output>,
}

/// What one lane shows the pool: its worker process, and the job it runs.
#[derive(Debug, Default)]
struct LaneView {
    worker: Option<Arc<Child>>,
    job: Option<u64>,
}

/// What the pool and its lanes share.
///
/// Why `Mutex`es: lanes write these (a worker replaced, a job started, an incident) while the
/// caller reads them (`pids`, `running`, `incidents`). Each lock is held for one push or one
/// copy, never across a read from a pipe, so neither side ever waits long on the other.
#[derive(Debug)]
struct PoolState {
    program: PathBuf,
    lanes: Mutex<Vec<LaneView>>,
    /// Worker deaths and replacements, in order, in words.
    incidents: Mutex<Vec<String>>,
    /// Set when the pool is dropped during a panic: no dead worker is replaced then.
    closing: AtomicBool,
    lanes_alive: AtomicUsize,
}

impl PoolState {
    fn incident(&self, what: String) {
        self.incidents.lock().push(what);
    }

    /// No lane left: fail everything still queued, so that nobody waits for ever.
    fn fail_backlog(&self, backlog: &Receiver<Job>) {
        let last = self.incidents.lock().last().cloned();
        let why = last.unwrap_or_else(|| "no worker could be started".to_owned());
        for job in backlog.try_iter() {
            let what = job.task.describe();
            let msg = format!(
                "task {} ({what}) never ran: the pool has no worker left (last incident: {why})",
                job.id
            );
            job.promise.set_result(Err(FutureError::Lost(msg)));
        }
    }
}

/// Python's `ProcessPoolExecutor(max_workers)`: worker processes behind [`Executor`].
#[derive(Debug)]
pub struct ProcessPool {
    /// `None` after shutdown: the closed queue ends the lanes once it is empty.
    jobs: Option<Sender<Job>>,
    /// Kept to cancel queued jobs on `shutdown(cancel_futures=True)`.
    backlog: Receiver<Job>,
    lanes: Vec<JoinHandle<()>>,
    state: Arc<PoolState>,
    next_job: AtomicU64,
    workers: usize,
}

impl ProcessPool {
    /// `ProcessPoolExecutor(max_workers=workers)`: starts the workers (this executable, or
    /// `$EXAMPLES_PROCESSES_WORKER`) and returns once every one has said hello.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
        Self::with_program(workers, &worker::program()?)
    }

    /// Like [`new`](Self::new) with an explicit worker program (tests pass
    /// `env!("CARGO_BIN_EXE_examples-processes")`, since a test harness cannot be a worker).
    pub fn with_program(workers: usize, program: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(workers > 0, "a process pool needs at least 1 worker, got 0");
        let state = Arc::new(PoolState {
            program: program.to_owned(),
            lanes: Mutex::new((0..workers).map(|_| LaneView::default()).collect()),
            incidents: Mutex::default(),
            closing: AtomicBool::new(false),
            lanes_alive: AtomicUsize::new(workers),
        });
        let (jobs, backlog) = crossbeam_channel::unbounded::<Job>();
        let (ready_tx, ready) = crossbeam_channel::unbounded::<anyhow::Result<()>>();
        let mut lanes = Vec::with_capacity(workers);
        for slot in 0..workers {
            let (backlog, state, ready) = (backlog.clone(), state.clone(), ready_tx.clone());
            // Why one thread per worker: its blocking read on that worker's pipe is how a
            // death is noticed at once, and the kernel ties each worker's PDEATHSIG to the
            // thread that started it, which is this lane: it lives as long as its workers.
            let lane = std::thread::Builder::new()
                .name(format!("pool lane {slot}"))
                .spawn(move || lane(slot, &backlog, &state, &ready))
                .context("cannot start a pool thread")?;
            lanes.push(lane);
        }
        drop(ready_tx);
        let mut pool = Self {
            jobs: Some(jobs),
            backlog,
            lanes,
            state,
            next_job: AtomicU64::new(0),
            workers,
        };
        // Every lane answers once; a lane that panicked closes its sender instead.
        let first_error = (0..workers)
            .map(|_| {
                ready
                    .recv()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a lane died")))
            })
            .find_map(Result::err);
        if let Some(e) = first_error {
            pool.shutdown(true, true);
            return Err(e.context(format!(
                "cannot start a pool of {workers} worker process(es) from {}",
                program.display()
            )));
        }
        Ok(pool)
    }

    /// Pids of the current workers.
    pub fn pids(&self) -> Vec<u32> {
        let lanes = self.state.lanes.lock();
        lanes
            .iter()
            .filter_map(|l| Some(l.worker.as_ref()?.pid()))
            .collect()
    }

    /// What each busy worker runs now: (pid, task id), the id counting submissions from 0.
    pub fn running(&self) -> Vec<(u32, u64)> {
        let lanes = self.state.lanes.lock();
        lanes
            .iter()
            .filter_map(|l| Some((l.worker.as_ref()?.pid(), l.job?)))
            .collect()
    }

    /// Worker deaths and replacements, in order, in words.
    pub fn incidents(&self) -> Vec<String> {
        self.state.incidents.lock().clone()
    }
}

impl Executor for ProcessPool {
    fn workers(&self) -> usize {
        self.workers
    }

    fn submit(&self, task: Task) -> Future<Output> {
        let (promise, future) = pair();
        let Some(jobs) = &self.jobs else {
            promise.set_result(Err(FutureError::Shutdown));
            return future;
        };
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = jobs.send(Job { id, task, promise }) {
            e.into_inner()
                .promise
                .set_result(Err(FutureError::Shutdown));
        }
        // Every lane gone (no worker could be started again): fail rather than wait.
        if self.state.lanes_alive.load(Ordering::SeqCst) == 0 {
            self.state.fail_backlog(&self.backlog);
        }
        future
    }

    /// Closes the queue (each worker gets end-of-file once it is empty, and exits); with
    /// `cancel_futures`, queued jobs are cancelled; with `wait`, returns once every worker
    /// has exited and been reaped.
    fn shutdown(&mut self, wait: bool, cancel_futures: bool) {
        self.jobs = None;
        if cancel_futures {
            for job in self.backlog.try_iter() {
                job.promise.cancel();
            }
        }
        if wait {
            for lane in self.lanes.drain(..) {
                let _ = lane.join();
            }
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The caller is unwinding: do not wait for running tasks, stop the workers now.
            self.state.closing.store(true, Ordering::SeqCst);
            for worker in self
                .state
                .lanes
                .lock()
                .iter()
                .filter_map(|l| l.worker.as_ref())
            {
                worker.kill();
            }
            self.shutdown(true, true);
        } else {
            // Leaving Python's `with` block: shutdown(wait=True).
            self.shutdown(true, false);
        }
    }
}

/// A worker process as its lane sees it.
struct Worker {
    slot: usize,
    conn: Connected,
}

impl Worker {
    fn start(slot: usize, state: &PoolState) -> anyhow::Result<Self> {
        let name = format!("worker {slot}");
        let conn = Connected::start(&state.program, &Role::Pool, &name)?;
        state.lanes.lock()[slot].worker = Some(conn.child.clone());
        Ok(Worker { slot, conn })
    }

    fn name(&self) -> String {
        format!("worker {} (pid {})", self.slot, self.conn.child.pid())
    }

    /// Sends one task and waits for its outcome; `Err` says how the worker broke.
    fn run(&mut self, task: &Task) -> Result<Result<Output, TaskError>, String> {
        let conn = &mut self.conn;
        let sent = worker::send(&mut conn.input, task);
        match worker::recv(&mut conn.output) {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => {
                let how = describe_exit(conn.child.close(Duration::from_secs(1)));
                Err(match sent {
                    Ok(()) => how,
                    Err(e) => format!("{how} (sending the task failed: {e:#})"),
                })
            }
            Err(e) => {
                conn.child.kill();
                Err(format!("sent a malformed message ({e:#}) and was stopped"))
            }
        }
    }
}

/// One lane: start the worker, then feed it jobs one at a time until the queue closes.
fn lane(slot: usize, jobs: &Receiver<Job>, state: &PoolState, ready: &Sender<anyhow::Result<()>>) {
    let mut worker = match Worker::start(slot, state) {
        Ok(w) => {
            let _ = ready.send(Ok(()));
            Some(w)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            None
        }
    };
    while let Some(w) = worker.as_mut() {
        let Ok(Job { id, task, promise }) = jobs.recv() else {
            break;
        };
        // Cancelled while queued: skip it (its future already says so).
        if !promise.set_running() {
            continue;
        }
        let what = task.describe();
        state.lanes.lock()[slot].job = Some(id);
        let outcome = w.run(&task);
        state.lanes.lock()[slot].job = None;
        match outcome {
            Ok(result) => {
                let whose = format!("task {id} ({what}) on {}", w.name());
                promise.set_result(result.map_err(|e| e.into_future_error(&whose)));
            }
            Err(how) => {
                // BrokenProcessPool, confined: name the task that broke the worker.
                let msg = format!(
                    "{} {how} while running task {id} ({what}): its result is lost",
                    w.name()
                );
                state.incident(msg.clone());
                promise.set_result(Err(FutureError::Lost(msg)));
                worker = replace(slot, state);
            }
        }
    }
    if let Some(w) = worker.take() {
        w.conn.close(Duration::from_secs(2));
    }
    state.lanes.lock()[slot].worker = None;
    // The last lane out fails whatever is still queued.
    if state.lanes_alive.fetch_sub(1, Ordering::SeqCst) == 1 {
        state.fail_backlog(jobs);
    }
}

/// A new worker in `slot` after its worker died, unless the pool or the program is stopping.
fn replace(slot: usize, state: &PoolState) -> Option<Worker> {
    state.lanes.lock()[slot].worker = None;
    if state.closing.load(Ordering::SeqCst) || shared::interrupt::requested() {
        return None;
    }
    match Worker::start(slot, state) {
        Ok(w) => {
            let pid = w.conn.child.pid();
            state.incident(format!(
                "worker {slot} replaced by a new process (pid {pid})"
            ));
            Some(w)
        }
        Err(e) => {
            state.incident(format!("worker {slot} could not be replaced: {e:#}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, BufWriter};

    use super::*;
    use crate::worker::{Hello, PROTOCOL};

    #[test]
    fn zero_workers_and_a_missing_program_are_errors_not_panics() {
        let err = ProcessPool::with_program(0, Path::new("/bin/true")).unwrap_err();
        assert!(err.to_string().contains("at least 1 worker"), "{err}");
        let err = ProcessPool::with_program(2, Path::new("/nonexistent/worker")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cannot start worker"), "{text}");
        assert!(text.contains("/nonexistent/worker"), "{text}");
        let err = ProcessPool::with_program(1, Path::new("/bin/true")).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("exited with code 0 before its handshake"),
            "{text}"
        );
    }

    #[test]
    fn the_worker_loop_answers_each_task_and_stops_at_end_of_file() {
        let mut input = Vec::new();
        let panic = Task::Panic {
            message: "no".into(),
        };
        worker::send(&mut input, &Task::Tiny(1)).unwrap();
        worker::send(&mut input, &panic).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (inp, out) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::write(&inp, &input).unwrap();
        let pipes = Pipes {
            input: BufReader::new(std::fs::File::open(&inp).unwrap()),
            output: BufWriter::new(std::fs::File::create(&out).unwrap()),
        };
        worker_main(pipes).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let mut r = &bytes[..];
        let hello: Hello = worker::recv(&mut r).unwrap().unwrap();
        assert_eq!(hello.protocol, PROTOCOL);
        type Outcome = Result<Output, TaskError>;
        assert_eq!(
            worker::recv::<Outcome>(&mut r).unwrap(),
            Some(Ok(Output::Tiny(2)))
        );
        let panicked = Err(TaskError::Panicked("no".into()));
        assert_eq!(worker::recv::<Outcome>(&mut r).unwrap(), Some(panicked));
        assert!(worker::recv::<Outcome>(&mut r).unwrap().is_none());
    }
}
