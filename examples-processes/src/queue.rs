//! The queue and the shutdown event, as the processes of `queue_workers` share them: what
//! `multiprocessing.Queue` and `multiprocessing.Event` do for the tutorial.
//!
//! `multiprocessing.Queue` is a pipe plus a feeder thread in the process that puts. Here the
//! queue is a `VecDeque` in the parent ([`Workers::run`] puts every task on it), and each
//! worker's stdin is its end of it: a *lane* thread per worker takes the next item (or the
//! next `per_message` items, in `queue_throughput`) whenever its worker is idle, writes them
//! to the worker and waits for the answer. So the parent always knows what each worker holds,
//! and when a worker dies its lane puts exactly that back on the queue for the others: each
//! task is still done exactly once.
//!
//! `multiprocessing.Event` is a flag in shared memory; here it is a file every worker can see
//! ([`Event`]): set while it exists, `clear()` removes it. Nothing is sent when it is
//! cleared: each worker looks at it between tasks and whenever its `get` times out. Used by
//! `queue_workers.rs` (the tutorial's run) and `queue_throughput.rs` (tiny tasks).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ChildStdout;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use shared::child::{Child, describe_exit};
use shared::{Spans, say};

use crate::cli::Role;
use crate::task::{Output, Task, TaskError};
use crate::worker::{self, Connected};

/// The shutdown event, shared by every worker: set while its file exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    path: PathBuf,
}

impl Event {
    /// `event.set()`, in `dir`.
    pub fn set_in(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("event");
        std::fs::write(&path, b"set").context("cannot create the event's file")?;
        Ok(Self { path })
    }

    /// `event.is_set()`.
    pub fn is_set(&self) -> bool {
        self.path.exists()
    }

    /// `event.clear()`.
    pub fn clear(&self) -> anyhow::Result<()> {
        std::fs::remove_file(&self.path).context("cannot remove the event's file")
    }
}

/// A queue worker's orders ([`Role::Queue`]): `Process(target=worker_func, args=(queue, i))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orders {
    /// The `worker_id` it prints.
    pub id: usize,
    /// `get(timeout=...)` as it lasts in this run, in seconds.
    pub get_timeout_s: f64,
    /// The shutdown event.
    pub event: Event,
}

/// One task on the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The task id the tutorial prints.
    pub id: u64,
    /// What to run.
    pub task: Task,
    /// The tutorial's task time in whole seconds, to print; `None` prints nothing.
    pub shown_secs: Option<u64>,
}

/// A finished item, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    /// The item's id.
    pub id: u64,
    /// Its result.
    pub result: Result<Output, TaskError>,
    /// The line the worker printed for it, if any.
    pub line: Option<String>,
    /// When it started and ended (Unix seconds), for shown tasks only (not free when tiny).
    pub span_unix_s: Option<(f64, f64)>,
}

/// Worker to parent: a line it prints (the tutorial's `print`), or the results of the items
/// it was handed last.
#[derive(Debug, Serialize, Deserialize)]
pub enum Said {
    Line(String),
    Done(Vec<Finished>),
}

/// The queue: items waiting for a worker, in the parent, shared by the lanes.
///
/// Why a `Mutex` and a `Condvar`: the main thread puts items while lanes take them or put
/// back what a dead worker held, each for one push or one drain under the lock; a lane whose
/// worker is idle sleeps on the `Condvar` until there is something to take, never polling.
#[derive(Debug, Default)]
struct Queue {
    /// The items, and whether the run is over (no more will come).
    state: Mutex<(VecDeque<Item>, bool)>,
    ready: Condvar,
    /// Print what the workers say.
    loud: bool,
}

impl Queue {
    /// `queue.put(item)` for each item, at the back; or at the front, for items put back.
    fn put(&self, items: Vec<Item>, front: bool) {
        let mut state = self.state.lock();
        match front {
            true => items.into_iter().rev().for_each(|i| state.0.push_front(i)),
            false => state.0.extend(items),
        }
        drop(state);
        self.ready.notify_all();
    }

    /// Up to `max` items, waiting while the queue is empty; `None` once the run is over.
    fn take(&self, max: usize) -> Option<Vec<Item>> {
        let mut state = self.state.lock();
        while state.0.is_empty() && !state.1 {
            self.ready.wait(&mut state);
        }
        let n = max.min(state.0.len());
        (n > 0).then(|| state.0.drain(..n).collect())
    }

    /// The run is over: every lane waiting for items stops waiting.
    fn close(&self) {
        self.state.lock().1 = true;
        self.ready.notify_all();
    }
}

/// What a lane tells the parent's main thread.
#[derive(Debug)]
enum Report {
    /// Worker `.0` finished these items.
    Done(usize, Vec<Finished>),
    /// Worker `.0` is gone: what happened, and whether it was a clean exit.
    Gone(usize, String, bool),
}

/// Reads what a worker says (printing its lines if `loud`) until it answers for `handed`, or
/// ends: its end of the pipe closes when it exits, however it exits. `Err` says how it ended
/// and whether that was a clean exit.
fn answer(
    from: &mut BufReader<ChildStdout>,
    child: &Child,
    handed: &[Item],
    loud: bool,
) -> Result<Vec<Finished>, (String, bool)> {
    let broke = |how: String| {
        child.kill();
        Err((format!("{how}, and was stopped"), false))
    };
    loop {
        match worker::recv::<Said>(from) {
            Ok(Some(Said::Line(line))) if loud => say!("{line}"),
            Ok(Some(Said::Line(_))) => {}
            Ok(Some(Said::Done(done))) => {
                let ids = |d: &[Finished]| d.iter().map(|f| f.id).eq(handed.iter().map(|i| i.id));
                return if ids(&done) {
                    Ok(done)
                } else {
                    broke("answered for other items".into())
                };
            }
            Ok(None) => {
                let status = child.close(Duration::from_secs(1));
                return Err((describe_exit(status), status.is_some_and(|s| s.success())));
            }
            Err(e) => return broke(format!("sent a malformed message ({e:#})")),
        }
    }
}

/// One worker's lane: whenever the worker is idle, hands it the next items (up to
/// `per_message`) and waits for its answer; if the worker dies, puts back what it held.
fn lane(w: usize, conn: Connected, queue: &Queue, per_message: usize, reports: &Sender<Report>) {
    let Connected {
        child,
        input: mut to,
        output: mut from,
        ..
    } = conn;
    let (how, clean) = loop {
        // `None` once the run is over and the event cleared: the worker says goodbye, exits.
        let Some(items) = queue.take(per_message) else {
            break answer(&mut from, &child, &[], queue.loud).map_or_else(
                |gone| gone,
                |_| ("answered without being handed anything".into(), false),
            );
        };
        // A worker that died meanwhile fails this write; reading its pipe then says how.
        let _ = worker::send(&mut to, &items);
        match answer(&mut from, &child, &items, queue.loud) {
            Ok(done) => {
                let _ = reports.send(Report::Done(w, done));
            }
            Err((how, clean)) => {
                let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
                queue.put(items, true);
                say!(
                    "worker {w} (pid {}) {how} while holding task(s) {ids:?}: put back on the \
                     queue",
                    child.pid()
                );
                break (format!("{how}; re-queued {ids:?}"), clean);
            }
        }
    };
    let _ = reports.send(Report::Gone(w, how, clean));
}

/// What a run of the queue produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// id -> how many times it came back (once each, if all is well).
    pub times_done: HashMap<u64, u32>,
    /// Worker -> tasks it finished.
    pub per_worker: BTreeMap<String, usize>,
    /// Results in arrival order.
    pub results: Vec<(u64, Result<Output, TaskError>)>,
    /// Workers lost during the run, and what was re-queued.
    pub lost: Vec<String>,
    /// Seconds from the first put to the last result.
    pub makespan_s: f64,
}

/// The running workers and the parent's side of the queue. Dropping it stops the lanes, and
/// kills and reaps whatever still runs (each worker is a `shared::child::Child`).
#[derive(Debug)]
pub struct Workers {
    queue: Arc<Queue>,
    children: Vec<Arc<Child>>,
    lanes: Vec<JoinHandle<()>>,
    reports: Receiver<Report>,
    /// Lanes whose worker has not gone yet.
    alive: usize,
    event: Event,
    /// The event's directory, removed on drop.
    _dir: tempfile::TempDir,
}

impl Workers {
    /// `event.set()`, then `n` workers (`queue_workers::worker_main`) that wait `get_timeout`
    /// on the queue, each handed up to `per_message` items at once; `loud` prints their lines.
    pub fn start(
        n: usize,
        get_timeout: Duration,
        per_message: usize,
        loud: bool,
    ) -> anyhow::Result<Self> {
        let program = worker::program()?;
        let dir = tempfile::tempdir().context("cannot create a directory for the event")?;
        let event = Event::set_in(dir.path())?;
        let (tx, reports) = crossbeam_channel::unbounded();
        let mut workers = Workers {
            queue: Arc::new(Queue {
                loud,
                ..Queue::default()
            }),
            children: Vec::new(),
            lanes: Vec::new(),
            reports,
            alive: 0,
            event,
            _dir: dir,
        };
        for id in 0..n {
            let orders = Orders {
                id,
                get_timeout_s: get_timeout.as_secs_f64(),
                event: workers.event.clone(),
            };
            // Why processes: the tutorial's point is separate interpreters; here each is also
            // a separate failure domain (the reliability test kills one and loses no task).
            let conn = Connected::start(&program, &Role::Queue(orders), &format!("worker {id}"))?;
            workers.children.push(conn.child.clone());
            let (queue, tx) = (workers.queue.clone(), tx.clone());
            // Why a thread per worker (a lane, as in process_pool.rs): it waits on the queue
            // while its worker is idle and on the worker's pipe while it is busy, so an answer
            // is met with the next item at once, whatever the other workers do, and a death
            // is seen the moment the pipe closes.
            let lane = std::thread::Builder::new()
                .name(format!("queue lane {id}"))
                .spawn(move || lane(id, conn, &queue, per_message.max(1), &tx))
                .context("cannot start a lane thread")?;
            workers.lanes.push(lane);
            workers.alive += 1;
        }
        Ok(workers)
    }

    /// Pids of the workers (alive or not).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.pid()).collect()
    }

    /// `queue.put(item)` for every item, then collects results until each is back.
    pub fn run(&mut self, items: Vec<Item>, spans: Option<&Spans>) -> anyhow::Result<Outcome> {
        let total = items.len();
        let start = Instant::now();
        self.queue.put(items, false);
        let mut out = Outcome::default();
        while out.results.len() < total {
            let missing = total - out.results.len();
            anyhow::ensure!(
                self.alive > 0,
                "every worker is gone, {missing} tasks not done"
            );
            match self.next_report()? {
                Some(Report::Done(w, done)) => out.add(w, done, spans),
                Some(Report::Gone(w, how, _)) => out.lost.push(format!("worker {w} {how}")),
                None => {}
            }
        }
        out.makespan_s = start.elapsed().as_secs_f64();
        Ok(out)
    }

    /// `event.clear()`, then waits for every worker to notice it and exit. Returns the
    /// seconds that took and whether each exited cleanly.
    pub fn stop(mut self) -> anyhow::Result<(f64, bool)> {
        let t = Instant::now();
        // Each worker sees it at its next `is_set()`, at the latest when its `get` times out.
        self.event.clear()?;
        self.queue.close();
        let mut clean = true;
        while self.alive > 0 {
            if let Some(Report::Gone(_, _, c)) = self.next_report()? {
                clean &= c;
            }
        }
        Ok((t.elapsed().as_secs_f64(), clean))
    }

    /// The next report of any lane, or `None` after 100 ms; an error once Ctrl-C was pressed.
    fn next_report(&mut self) -> anyhow::Result<Option<Report>> {
        let report = match self.reports.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => bail!("every lane is gone"),
        };
        if let Some(Report::Gone(..)) = report {
            self.alive -= 1;
        }
        shared::interrupt::check()?;
        Ok(report)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.close();
        for child in &self.children {
            child.kill();
        }
        for lane in self.lanes.drain(..) {
            let _ = lane.join();
        }
    }
}

impl Outcome {
    /// Whether each of `ids` came back exactly once, and nothing else did.
    pub fn exactly_once(&self, ids: &[u64]) -> bool {
        let once = |id| self.times_done.get(id) == Some(&1);
        self.times_done.len() == ids.len() && ids.iter().all(once)
    }

    fn add(&mut self, worker: usize, done: Vec<Finished>, spans: Option<&Spans>) {
        let lane = format!("worker {worker}");
        *self.per_worker.entry(lane.clone()).or_default() += done.len();
        for f in done {
            if let Some(line) = &f.line {
                say!("{line}");
            }
            if let (Some(spans), Some((start, end))) = (spans, f.span_unix_s) {
                spans.record_unix(lane.as_str(), f.id, start, end);
            }
            *self.times_done.entry(f.id).or_default() += 1;
            self.results.push((f.id, f.result));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_once_wants_every_id_once_and_nothing_else() {
        let mut out = Outcome::default();
        out.times_done.extend([(1, 1), (2, 1)]);
        assert!(out.exactly_once(&[1, 2]));
        assert!(!out.exactly_once(&[1, 2, 3]));
        assert!(!out.exactly_once(&[1]));
        out.times_done.insert(2, 2);
        assert!(!out.exactly_once(&[1, 2]));
    }
}
