//! Python's `ProcessPoolExecutor`, with real worker processes.
//!
//! N long-lived workers (this binary, `__worker pool`), one queue of jobs in the parent, and
//! one "lane" thread per worker. A lane takes the next job only when its worker is idle
//! (pull-based, so one long task never holds up the others), writes it to the worker's stdin,
//! waits for the answer on its stdout, and completes the job's [`Future`]. The futures are
//! `shared::executor`'s, the same type the thread pool returns, so `as_completed`, `wait`,
//! `cancel` and `result(timeout)` work unchanged ([`crate::backend::Executor`]).
//!
//! What happens when a worker dies (it aborts, is killed, segfaults, or sends garbage): its
//! lane sees end-of-file (or a malformed frame) on the pipe, knows exactly which job that
//! worker was running, and fails that job's future with an error naming the task and how the
//! worker ended. Python's `ProcessPoolExecutor` calls this `BrokenProcessPool` and then fails
//! *every* pending future and refuses new work; here only the culprit's job fails, a fresh
//! worker takes the dead one's place, and every other task still runs. If no worker can be
//! started any more, every queued job fails at once: never a hang.
//!
//! Batching: a job carries one task (`submit`) or a chunk of them (`map(tasks, chunksize)`,
//! like Python's `chunksize`), and a chunk crosses the pipe as one message each way.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use shared::executor::{Future, FutureError, Promise, pair};
use shared::spans::Spans;

use crate::backend::{ChunkFuture, Executor, task_error};
use crate::children::{self, Connected, Proc, describe_exit, say_hello};
use crate::task::{Output, Task, TaskError};
use crate::wire;
use crate::worker::Pipes;

/// Parent to pool worker.
#[derive(Debug, Serialize, Deserialize)]
enum ToWorker {
    /// Run these tasks, in order, and answer with one `Done`.
    Run { job: u64, tasks: Vec<Task> },
}

/// Pool worker to parent.
#[derive(Debug, Serialize, Deserialize)]
enum FromWorker {
    /// The results of job `job`, one per task, in order.
    Done {
        job: u64,
        results: Vec<Result<Output, TaskError>>,
    },
}

/// The worker's side: hello, then run whatever comes until the pipe closes.
pub fn worker_main(mut pipes: Pipes) -> anyhow::Result<()> {
    say_hello(&mut pipes.output)?;
    // End-of-file on stdin is the pool's `shutdown`: return and exit 0.
    while let Some(msg) = wire::recv::<ToWorker>(&mut pipes.input)
        .context("the parent sent a message this worker cannot read")?
    {
        match msg {
            ToWorker::Run { job, tasks } => {
                let results = tasks.iter().map(Task::run_caught).collect();
                wire::send(&mut pipes.output, &FromWorker::Done { job, results })?;
            }
        }
    }
    Ok(())
}

/// Who gets a job's outcome.
#[derive(Debug)]
enum Reply {
    /// `submit`: one task, one future.
    One(Promise<Output>),
    /// `map` chunk: many tasks, one future of their results in order.
    Many(Promise<Vec<Result<Output, FutureError>>>),
}

impl Reply {
    fn set_running(&self) -> bool {
        match self {
            Reply::One(p) => p.set_running(),
            Reply::Many(p) => p.set_running(),
        }
    }

    fn cancel(self) {
        match self {
            Reply::One(p) => {
                p.cancel();
            }
            Reply::Many(p) => {
                p.cancel();
            }
        }
    }

    fn fail(self, err: FutureError) {
        match self {
            Reply::One(p) => p.set_result(Err(err)),
            Reply::Many(p) => p.set_result(Err(err)),
        }
    }

    /// Completes the future(s) with a worker's results for job `id`.
    fn complete(self, results: Vec<Result<Output, TaskError>>, id: u64, what: &str, whom: &str) {
        match self {
            Reply::One(p) => {
                let r = results.into_iter().next().unwrap_or(Err(TaskError::Failed(
                    "the worker returned no result".to_owned(),
                )));
                p.set_result(r.map_err(|e| task_error(e, id, what, whom)));
            }
            Reply::Many(p) => p.set_result(Ok(results
                .into_iter()
                .map(|r| r.map_err(|e| task_error(e, id, what, whom)))
                .collect())),
        }
    }
}

/// One unit of work for one worker.
#[derive(Debug)]
struct Job {
    id: u64,
    tasks: Vec<Task>,
    /// The task's description, for error messages.
    what: String,
    reply: Reply,
}

/// State the pool and its lanes share.
#[derive(Debug)]
struct Shared {
    program: PathBuf,
    /// The current worker of each slot, so `Drop` can kill them and callers can see pids.
    procs: Mutex<Vec<Option<Arc<Proc>>>>,
    /// What went wrong with workers, in order (deaths, replacements).
    incidents: Mutex<Vec<String>>,
    /// Spawn + handshake time of every worker started, in order.
    startups: Mutex<Vec<Duration>>,
    /// What each slot's worker is running now: job id and description.
    running: Mutex<Vec<Option<(u64, String)>>>,
    spans: Option<Spans>,
    closing: AtomicBool,
    lanes_alive: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data, updated in single steps: a panicking holder cannot leave it torn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn incident(&self, what: String) {
        lock(&self.incidents).push(what);
    }

    /// No lane left: fail everything still queued, so that nobody waits for ever.
    fn fail_backlog(&self, backlog: &Receiver<Job>) {
        let why = lock(&self.incidents)
            .last()
            .cloned()
            .unwrap_or_else(|| "the pool has no worker left".to_owned());
        for job in backlog.try_iter() {
            let msg = format!(
                "task {} ({}) never ran: the pool has no worker left (last incident: {why})",
                job.id, job.what
            );
            job.reply.fail(FutureError::Lost(msg));
        }
    }
}

/// A worker process as its lane sees it.
struct Worker {
    slot: usize,
    conn: Connected,
}

impl Worker {
    fn name(&self) -> String {
        format!("worker {} (pid {})", self.slot, self.conn.proc.pid())
    }

    /// Sends one job and waits for its results; `Err` says how the worker broke.
    fn run(&mut self, id: u64, tasks: Vec<Task>) -> Result<Vec<Result<Output, TaskError>>, String> {
        let n = tasks.len();
        let conn = &mut self.conn;
        let sent = wire::send(&mut conn.input, &ToWorker::Run { job: id, tasks });
        match wire::recv::<FromWorker>(&mut conn.output) {
            Ok(Some(FromWorker::Done { job, results })) if job == id && results.len() == n => {
                Ok(results)
            }
            Ok(Some(FromWorker::Done { job, results })) => {
                conn.proc.kill();
                Err(format!(
                    "answered for job {job} with {} results instead of job {id} with {n}, and \
                     was stopped",
                    results.len()
                ))
            }
            Ok(None) => {
                let how = describe_exit(conn.proc.close(Duration::from_secs(1)));
                Err(match sent {
                    Ok(()) => how,
                    Err(e) => format!("{how} (sending the job failed: {e:#})"),
                })
            }
            Err(e) => {
                conn.proc.kill();
                Err(format!("sent a malformed message ({e:#}) and was stopped"))
            }
        }
    }
}

/// A pool of worker processes with `concurrent.futures`' interface.
pub struct ProcessPool {
    jobs: Option<Sender<Job>>,
    /// Kept to cancel queued jobs on `shutdown(cancel_futures=True)`.
    backlog: Receiver<Job>,
    lanes: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    next_job: AtomicU64,
    workers: usize,
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.workers)
            .field("pids", &self.pids())
            .field("queued", &self.backlog.len())
            .finish()
    }
}

impl ProcessPool {
    /// `ProcessPoolExecutor(max_workers=workers)`: starts the workers (this executable, or
    /// `$EXAMPLES_PROCESSES_WORKER`) and returns once every one has said hello.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
        Self::with_options(workers, &children::worker_program()?, None)
    }

    /// Like [`new`](Self::new) with an explicit worker program (tests pass
    /// `env!("CARGO_BIN_EXE_examples-processes")`, since a test harness cannot be a worker)
    /// and an optional span recorder (one span per job, lane = worker slot).
    pub fn with_options(
        workers: usize,
        program: &Path,
        spans: Option<&Spans>,
    ) -> anyhow::Result<Self> {
        if workers == 0 {
            bail!("a process pool needs at least 1 worker, got 0");
        }
        let shared = Arc::new(Shared {
            program: program.to_owned(),
            procs: Mutex::new(vec![None; workers]),
            incidents: Mutex::new(Vec::new()),
            startups: Mutex::new(Vec::new()),
            running: Mutex::new(vec![None; workers]),
            spans: spans.cloned(),
            closing: AtomicBool::new(false),
            lanes_alive: AtomicUsize::new(workers),
        });
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<anyhow::Result<()>>();
        let mut lanes = Vec::with_capacity(workers);
        for slot in 0..workers {
            let (rx, shared, ready) = (rx.clone(), shared.clone(), ready_tx.clone());
            // Why one thread per worker: its blocking reads on that worker's pipe are how a
            // death is noticed at once, and the kernel ties each worker's PDEATHSIG to the
            // thread that started it, which is this lane: it lives exactly as long as the
            // worker should.
            let lane = std::thread::Builder::new()
                .name(format!("pool lane {slot}"))
                .spawn(move || lane(slot, &rx, &shared, &ready))
                .context("cannot start a pool thread")?;
            lanes.push(lane);
        }
        drop(ready_tx);
        let mut pool = Self {
            jobs: Some(tx),
            backlog: rx,
            lanes,
            shared,
            next_job: AtomicU64::new(0),
            workers,
        };
        let mut first_error = None;
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert_with(|| anyhow::anyhow!("a pool thread died"));
                }
            }
        }
        if let Some(e) = first_error {
            pool.shared.closing.store(true, Ordering::SeqCst);
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
        lock(&self.shared.procs)
            .iter()
            .flatten()
            .map(|p| p.pid())
            .collect()
    }

    /// Spawn + handshake time of every worker started so far (replacements included).
    pub fn startup_times(&self) -> Vec<Duration> {
        lock(&self.shared.startups).clone()
    }

    /// What each worker is running now: (pid, task id, task description).
    pub fn running(&self) -> Vec<(u32, u64, String)> {
        let procs = lock(&self.shared.procs);
        let running = lock(&self.shared.running);
        procs
            .iter()
            .zip(running.iter())
            .filter_map(|(p, r)| match (p, r) {
                (Some(p), Some((id, what))) => Some((p.pid(), *id, what.clone())),
                _ => None,
            })
            .collect()
    }

    /// Worker deaths and replacements, in order, in words.
    pub fn incidents(&self) -> Vec<String> {
        lock(&self.shared.incidents).clone()
    }

    fn enqueue(&self, tasks: Vec<Task>, what: String, reply: Reply) {
        let Some(jobs) = &self.jobs else {
            reply.fail(FutureError::Shutdown);
            return;
        };
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            id,
            tasks,
            what,
            reply,
        };
        if let Err(e) = jobs.send(job) {
            e.into_inner().reply.fail(FutureError::Shutdown);
        }
        // Every lane gone (no worker could be started again): fail rather than wait.
        if self.shared.lanes_alive.load(Ordering::SeqCst) == 0 {
            self.shared.fail_backlog(&self.backlog);
        }
    }
}

/// One lane: start the worker, then feed it jobs one at a time until the queue closes.
fn lane(slot: usize, jobs: &Receiver<Job>, shared: &Shared, ready: &Sender<anyhow::Result<()>>) {
    let mut worker = match start_worker(slot, shared) {
        Ok(w) => {
            let _ = ready.send(Ok(()));
            Some(w)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            None
        }
    };
    let lane_name = format!("process {slot}");
    while let Some(w) = worker.as_mut() {
        let Ok(job) = jobs.recv() else { break };
        // Cancelled while queued: skip it (its future already says so).
        if !job.reply.set_running() {
            continue;
        }
        let start = Instant::now();
        let Job {
            id,
            tasks,
            what,
            reply,
        } = job;
        lock(&shared.running)[slot] = Some((id, what.clone()));
        let outcome = w.run(id, tasks);
        lock(&shared.running)[slot] = None;
        match outcome {
            Ok(results) => {
                if let Some(spans) = &shared.spans {
                    spans.record(lane_name.as_str(), id, start, Instant::now());
                }
                reply.complete(results, id, &what, &w.name());
            }
            Err(how) => {
                // BrokenProcessPool, confined: name the task that broke the worker.
                let msg = format!(
                    "{} {how} while running task {id} ({what}): its result is lost",
                    w.name()
                );
                shared.incident(msg.clone());
                reply.fail(FutureError::Lost(msg));
                worker = None;
                lock(&shared.procs)[slot] = None;
                let stopping =
                    shared.closing.load(Ordering::SeqCst) || children::shutdown_requested();
                if !stopping {
                    match start_worker(slot, shared) {
                        Ok(w) => {
                            shared.incident(format!(
                                "worker {slot} replaced by a new process (pid {})",
                                w.conn.proc.pid()
                            ));
                            worker = Some(w);
                        }
                        Err(e) => {
                            shared.incident(format!("worker {slot} could not be replaced: {e:#}"))
                        }
                    }
                }
            }
        }
    }
    if let Some(w) = worker.take() {
        w.conn.close(Duration::from_secs(2));
    }
    lock(&shared.procs)[slot] = None;
    // The last lane out fails whatever is still queued.
    if shared.lanes_alive.fetch_sub(1, Ordering::SeqCst) == 1 {
        shared.fail_backlog(jobs);
    }
}

fn start_worker(slot: usize, shared: &Shared) -> anyhow::Result<Worker> {
    let conn = Connected::start(&shared.program, "pool", &[], &format!("worker {slot}"))?;
    lock(&shared.startups).push(conn.startup);
    lock(&shared.procs)[slot] = Some(conn.proc.clone());
    Ok(Worker { slot, conn })
}

impl Executor for ProcessPool {
    fn label(&self) -> String {
        format!("{} processes", self.workers)
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn submit(&self, task: Task) -> Future<Output> {
        let (promise, future) = pair();
        let what = task.describe();
        self.enqueue(vec![task], what, Reply::One(promise));
        future
    }

    fn submit_chunk(&self, tasks: Vec<Task>) -> ChunkFuture {
        let (promise, future) = pair();
        let what = match tasks.first() {
            Some(first) if tasks.len() > 1 => {
                format!("a chunk of {} tasks from {}", tasks.len(), first.describe())
            }
            Some(first) => first.describe(),
            None => "an empty chunk".to_owned(),
        };
        self.enqueue(tasks, what, Reply::Many(promise));
        future
    }

    /// `shutdown(wait, cancel_futures)`: closes the queue (workers get end-of-file once it is
    /// empty and exit); with `cancel_futures`, queued jobs are cancelled; with `wait`, returns
    /// once every worker has exited and been reaped.
    fn shutdown(&mut self, wait: bool, cancel_futures: bool) {
        self.jobs = None;
        if cancel_futures {
            for job in self.backlog.try_iter() {
                job.reply.cancel();
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
            self.shared.closing.store(true, Ordering::SeqCst);
            for p in lock(&self.shared.procs).iter().flatten() {
                p.kill();
            }
            self.shutdown(true, true);
        } else {
            // Leaving Python's `with` block: shutdown(wait=True).
            self.shutdown(true, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, BufWriter};

    use super::*;
    use crate::wire::{Hello, PROTOCOL};

    #[test]
    fn zero_workers_and_a_missing_program_are_errors_not_panics() {
        let err = ProcessPool::with_options(0, Path::new("/bin/true"), None).unwrap_err();
        assert!(err.to_string().contains("at least 1 worker"), "{err}");
        let err = ProcessPool::with_options(2, Path::new("/nonexistent/worker"), None).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cannot start worker"), "{text}");
        assert!(text.contains("/nonexistent/worker"), "{text}");
    }

    #[test]
    fn a_program_that_exits_at_once_is_reported() {
        let err = ProcessPool::with_options(1, Path::new("/bin/true"), None).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("exited with code 0 before its handshake"),
            "{text}"
        );
    }

    #[test]
    fn the_worker_loop_answers_runs_and_stops_at_end_of_file() {
        // The worker's side, driven through in-memory pipes.
        let mut input = Vec::new();
        wire::send(
            &mut input,
            &ToWorker::Run {
                job: 4,
                tasks: vec![
                    Task::Tiny(1),
                    Task::Panic {
                        message: "no".into(),
                    },
                ],
            },
        )
        .unwrap();
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
        let hello: Hello = wire::recv(&mut r).unwrap().unwrap();
        assert_eq!(hello.protocol, PROTOCOL);
        let FromWorker::Done { job, results } = wire::recv(&mut r).unwrap().unwrap();
        assert_eq!(job, 4);
        assert_eq!(results[0], Ok(Output::Tiny(2)));
        assert_eq!(results[1], Err(TaskError::Panicked("no".into())));
    }
}
