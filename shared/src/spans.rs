//! Per-task spans for timelines: which lane (thread, worker process, async task, rank) ran
//! which task, from when to when.
//!
//! A [`Spans`] recorder is cheap to clone and to share between threads (one short lock per
//! finished task). Times are seconds since the recorder was created. Work done in another
//! process is recorded with wall-clock (Unix) timestamps the child reports, converted with
//! [`Spans::record_unix`]; both clocks are read at creation so the two kinds line up.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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

    /// Time zero.
    pub fn epoch(&self) -> Instant {
        self.inner.epoch
    }

    /// Seconds since time zero.
    pub fn now_s(&self) -> f64 {
        self.inner.epoch.elapsed().as_secs_f64()
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
        self.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every span, ordered by start time.
    pub fn take(&self) -> Vec<Span> {
        let mut spans = std::mem::take(&mut *self.lock());
        spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        spans
    }

    fn push(&self, span: Span) {
        self.lock().push(span);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Span>> {
        // A panicking task must not make the timeline unreadable: the data is plain values.
        self.inner
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn spans_from_threads_are_all_kept_and_ordered() {
        let spans = Spans::new();
        std::thread::scope(|s| {
            for lane in 0..4 {
                let spans = &spans;
                s.spawn(move || {
                    for task in 0..10 {
                        spans.track(format!("thread {lane}"), lane * 10 + task, || {
                            std::thread::sleep(Duration::from_micros(200))
                        });
                    }
                });
            }
        });
        let all = spans.take();
        assert_eq!(all.len(), 40);
        assert!(all.windows(2).all(|w| w[0].start_s <= w[1].start_s));
        assert!(all.iter().all(|s| s.end_s >= s.start_s && s.start_s >= 0.0));
        let mut tasks: Vec<u64> = all.iter().map(|s| s.task).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, (0..40).collect::<Vec<_>>());
        assert!(spans.is_empty());
    }

    #[test]
    fn unix_timestamps_line_up_with_instants() {
        let spans = Spans::new();
        std::thread::sleep(Duration::from_millis(20));
        let now = unix_now_s();
        spans.record_unix("worker 0", 1, now, now + 0.5);
        let s = &spans.take()[0];
        assert!((s.start_s - 0.02).abs() < 0.015, "start {}", s.start_s);
        assert!((s.end_s - s.start_s - 0.5).abs() < 1e-6);
    }
}
