//! Per-task spans for timelines: which lane (thread, worker process, async task, rank) ran
//! which task, from when to when.
//!
//! A [`Spans`] recorder is cheap to clone and to share between threads (one short lock per
//! finished task). Times are seconds since the recorder was created. Work done in another
//! process is recorded with wall-clock (Unix) timestamps the child reports, converted with
//! [`Spans::record_unix`]; both clocks are read at creation so the two kinds line up.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One task on one lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Who ran it: `"thread 1"`, `"worker 2"`, `"task 7"`, `"rank 3"`.
    pub lane: String,
    /// The task's id.
    pub task: u64,
    /// Seconds since the recorder's start.
    pub start_s: f64,
    /// Seconds since the recorder's start.
    pub end_s: f64,
}

/// A shared recorder of [`Span`]s.
#[derive(Debug, Clone)]
pub struct Spans {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    epoch: Instant,
    epoch_unix_s: f64,
    spans: Mutex<Vec<Span>>,
}

impl Default for Spans {
    fn default() -> Self {
        Self::new()
    }
}

impl Spans {
    /// A recorder whose time zero is now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                epoch_unix_s: unix_now_s(),
                spans: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Records a task that ran on `lane` between two instants of this process.
    pub fn record(&self, lane: impl Into<String>, task: u64, start: Instant, end: Instant) {
        let at = |t: Instant| t.saturating_duration_since(self.inner.epoch).as_secs_f64();
        self.push(Span {
            lane: lane.into(),
            task,
            start_s: at(start),
            end_s: at(end),
        });
    }

    /// Records a task timed in another process with [`unix_now_s`] timestamps.
    pub fn record_unix(
        &self,
        lane: impl Into<String>,
        task: u64,
        start_unix_s: f64,
        end_unix_s: f64,
    ) {
        let at = |t: f64| (t - self.inner.epoch_unix_s).max(0.0);
        self.push(Span {
            lane: lane.into(),
            task,
            start_s: at(start_unix_s),
            end_s: at(end_unix_s),
        });
    }

    /// Runs `f` as task `task` on `lane` and records its span.
    pub fn track<T>(&self, lane: impl Into<String>, task: u64, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = f();
        self.record(lane, task, start, Instant::now());
        value
    }

    /// Number of spans recorded so far.
    pub fn len(&self) -> usize {
        self.inner.spans.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every span, ordered by start time.
    pub fn take(&self) -> Vec<Span> {
        let mut spans = std::mem::take(&mut *self.inner.spans.lock());
        spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        spans
    }

    fn push(&self, span: Span) {
        self.inner.spans.lock().push(span);
    }
}

/// Wall-clock seconds since the Unix epoch: the timestamp child processes report for spans.
pub fn unix_now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The lane name of the current thread: its name if it has one, else its id.
pub fn thread_lane() -> String {
    let t = std::thread::current();
    match t.name() {
        Some(name) => name.to_owned(),
        None => format!("{:?}", t.id()),
    }
}
