//! # The `service_request` toy: sequential, async on one thread, async with `spawn_blocking`, threads
//!
//! Mirrors seed 004 (Elliott Forney, "Exploring parallelism and concurrency in Python"), the
//! sections "A toy problem", "Sequential Execution", "Asynchronous programming with `asyncio`
//! and coroutines" and "Concurrency and parallelism with threads".
//!
//! The lesson: a request that waits (a blocking sleep standing in for a downstream call) and
//! then computes (an FFT of 4,000,000 values) has two halves that want different tools. Async
//! tasks on one thread overlap the waits but run the FFTs one at a time: concurrency without
//! parallelism, about one core busy, exactly like the talk's asyncio version. Moving the FFT
//! to `spawn_blocking` on a multi-thread runtime keeps the waits overlapped and runs the FFTs
//! on every core: concurrency and parallelism. Plain OS threads get there too, because in Rust
//! nothing stops two threads computing at once.
//!
//! A `spawn_blocking` job runs on another thread and may outlive the task that started it,
//! so it must own what it uses; borrowing the request's buffer does not compile:
//!
//! ```compile_fail,E0373
//! async fn request() -> f64 {
//!     let samples = vec![0.5_f64; 1024];
//!     // error: the closure may outlive `request`, but it borrows `samples`
//!     tokio::task::spawn_blocking(|| samples.iter().sum::<f64>())
//!         .await
//!         .unwrap()
//! }
//! ```
//!
//! The fix, as in `request_spawn_blocking` below: move what the job needs into it.
//!
//! ```
//! async fn request() -> f64 {
//!     let samples = vec![0.5_f64; 1024];
//!     tokio::task::spawn_blocking(move || samples.iter().sum::<f64>())
//!         .await
//!         .unwrap()
//! }
//! ```
//!
//! Run: `cargo run --release -p examples-async -- service_request` (add `--verbose` for the
//! talk's `call i iteration j` / `end i iteration j` lines, `--scale 0.1` for shorter sleeps).
//!
//! Output: four rows. `sequential` pays every sleep and every FFT in turn. `tokio
//! current_thread` is much faster but shows about 1.0 cores, and a timeline where no two FFTs
//! overlap. `tokio multi-thread + spawn_blocking` and `10 OS threads` (the talk's version)
//! show about 2 cores on a 2-core machine and timelines where FFTs overlap. The ideal beside
//! each is the critical-path bound of the talk's problem: the longest request's sleeps plus
//! the FFT CPU time (measured in the sequential run) spread over the cores, or the longest
//! single request if that is longer. A scheduler that runs other requests' FFTs during the
//! longest request's sleeps beats it, so eff. above 100 % is a good sign, not an error.
//! Every variant's FFT results are checked equal to the sequential ones, and
//! `max_ffts_at_once` says how many FFTs ran together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use shared::workloads::service::Workload;
use shared::{Bench, CpuTime, Spans, Variant, say, timeline};
use tokio::task::JoinSet;

use crate::cli::Args;

/// The FFT results of a run, `[request][iteration]`: what the variants must agree on.
pub type Results = Vec<Vec<f64>>;

/// One run of the toy: the workload, how long its sleeps really are, and where to log.
#[derive(Debug, Clone)]
pub struct Job {
    workload: Arc<Workload>,
    sleep_factor: f64,
    verbose: bool,
    spans: Spans,
    ffts: Arc<InFlight>,
}

/// Counts the FFTs running at this instant, and the most ever seen at once.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Job {
    /// A run of `workload` whose tutorial sleeps are multiplied by `sleep_factor`; each FFT is
    /// recorded as a span in `spans` (lane `request i`).
    pub fn new(workload: Arc<Workload>, sleep_factor: f64, verbose: bool, spans: Spans) -> Self {
        Self {
            workload,
            sleep_factor,
            verbose,
            spans,
            ffts: Arc::default(),
        }
    }

    /// The most FFTs that ever ran at the same time in this run (1 means none overlapped).
    pub fn max_ffts_at_once(&self) -> usize {
        self.ffts.max.load(Ordering::SeqCst)
    }

    /// The workload.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// The sleep of request `i`, iteration `j`, as this run sleeps it.
    fn sleep(&self, i: usize, j: usize) -> Duration {
        Duration::from_secs_f64(self.workload.sleeps_s[i][j] * self.sleep_factor)
    }

    fn call(&self, i: usize, j: usize) {
        if self.verbose {
            say!("call {i} iteration {j}");
        }
    }

    fn end(&self, i: usize, j: usize) {
        if self.verbose {
            say!("end {i} iteration {j}");
        }
    }

    /// The CPU half of one iteration, timed and recorded as a span. Returns the FFT's value
    /// and how long it took.
    fn fft(&self, i: usize, j: usize) -> (f64, Duration) {
        let at_once = self.ffts.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.ffts.max.fetch_max(at_once, Ordering::SeqCst);
        let start = Instant::now();
        let value = self.workload.cpu_step(i, j);
        let end = Instant::now();
        self.ffts.now.fetch_sub(1, Ordering::SeqCst);
        let task = (i * self.workload.iterations + j) as u64;
        self.spans.record(format!("request {i}"), task, start, end);
        (value, end - start)
    }
}

/// The talk's `run_sequential`: every request in turn, each iteration a blocking sleep then an
/// FFT. Also returns each FFT's CPU seconds (from the OS, so other programs' load does not
/// inflate them), from which the ideals of the other variants follow.
pub fn sequential(job: &Job) -> (Results, Vec<Vec<f64>>) {
    let w = job.workload();
    let mut results = Vec::with_capacity(w.requests);
    let mut times = Vec::with_capacity(w.requests);
    for i in 0..w.requests {
        let (mut values, mut took) = (Vec::new(), Vec::new());
        for j in 0..w.iterations {
            job.call(i, j);
            std::thread::sleep(job.sleep(i, j));
            // This thread is the only one working, so the process's CPU time is the FFT's.
            let cpu = CpuTime::now();
            let (value, _) = job.fft(i, j);
            took.push(CpuTime::now().since(&cpu));
            values.push(value);
            job.end(i, j);
        }
        results.push(values);
        times.push(took);
    }
    (results, times)
}

/// The talk's `service_request_async`: the sleep is awaited, the FFT runs right here, on the
/// runtime's thread.
async fn request_inline(job: Job, i: usize) -> Vec<f64> {
    let mut values = Vec::new();
    for j in 0..job.workload().iterations {
        job.call(i, j);
        // New: an async sleep. The task gives its thread back to the runtime until the timer
        // fires, so the other requests' FFTs can run meanwhile.
        tokio::time::sleep(job.sleep(i, j)).await;
        // No `.await` inside: while this FFT runs, no other task on this thread can run.
        values.push(job.fft(i, j).0);
        job.end(i, j);
    }
    values
}

/// asyncio's model: one thread runs every request task (`asyncio.gather` of the coroutines).
pub fn current_thread(job: &Job) -> anyhow::Result<Results> {
    // One thread drives every task and every timer: the event loop of the talk.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot build a current_thread tokio runtime")?;
    runtime.block_on(gather(job, request_inline))
}

/// Like [`request_inline`], but the FFT goes to tokio's blocking pool.
async fn request_spawn_blocking(job: Job, i: usize) -> anyhow::Result<Vec<f64>> {
    let mut values = Vec::new();
    for j in 0..job.workload().iterations {
        job.call(i, j);
        tokio::time::sleep(job.sleep(i, j)).await;
        let worker = job.clone();
        // New: the FFT runs on a thread of the blocking pool, in parallel with other requests'
        // FFTs; this task only waits for it, so the runtime's threads stay free to wake the
        // sleepers on time. The job owns its data (`worker` is moved in): it may outlive
        // this task if the task is dropped.
        let (value, _) = tokio::task::spawn_blocking(move || worker.fft(i, j))
            .await
            .context("an FFT on the blocking pool failed")?;
        values.push(value);
        job.end(i, j);
    }
    Ok(values)
}

/// Concurrency and parallelism: a multi-thread runtime, FFTs on `spawn_blocking`.
pub fn multi_thread(job: &Job, workers: usize) -> anyhow::Result<Results> {
    // One worker thread per core drives the tasks; the blocking pool (separate threads, as
    // many as there are FFTs in flight) runs the FFTs. Dropping the runtime at the end of
    // this function waits for all of them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .context("cannot build a multi-thread tokio runtime")?;
    let results = runtime.block_on(gather(job, request_spawn_blocking))?;
    results.into_iter().collect()
}

/// Spawns one task per request and collects their values in request order.
async fn gather<F, T>(job: &Job, request: impl Fn(Job, usize) -> F) -> anyhow::Result<Vec<T>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // A JoinSet owns its tasks: if we return early (an error), dropping it aborts the rest.
    let mut set = JoinSet::new();
    for i in 0..job.workload().requests {
        let fut = request(job.clone(), i);
        set.spawn(async move { (i, fut.await) });
    }
    let mut slots: Vec<Option<T>> = (0..job.workload().requests).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, value) = joined.context("a request task failed")?;
        slots[i] = Some(value);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.with_context(|| format!("request {i} never finished")))
        .collect()
}

/// The talk's `run_threads`: one OS thread per request, with the blocking sleep.
pub fn os_threads(job: &Job) -> anyhow::Result<Results> {
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for i in 0..job.workload().requests {
            // One thread per request, as the talk does: each sleeps and computes on its own,
            // and the OS runs as many FFTs at once as there are cores. The scope joins every
            // thread before returning, even if a spawn fails halfway.
            let handle = std::thread::Builder::new()
                .name(format!("request-{i}"))
                .spawn_scoped(scope, move || {
                    let mut values = Vec::new();
                    for j in 0..job.workload().iterations {
                        job.call(i, j);
                        std::thread::sleep(job.sleep(i, j));
                        values.push(job.fft(i, j).0);
                        job.end(i, j);
                    }
                    values
                })
                .with_context(|| format!("cannot start the thread of request {i}"))?;
            handles.push(handle);
        }
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("the thread of request {i} panicked"))
            })
            .collect()
    })
}

/// The critical-path ideal on `lanes` cores: the longest request's sleeps plus all the FFT
/// work spread over the lanes, or the longest single request (its sleeps and its own FFTs)
/// if that is longer. `fft_s[i][j]` is the CPU seconds of request `i`'s FFT `j`.
pub fn critical_path_ideal_s(
    workload: &Workload,
    sleep_factor: f64,
    fft_s: &[Vec<f64>],
    lanes: usize,
) -> f64 {
    let request_fft_s = |i: usize| fft_s[i].iter().sum::<f64>();
    let total_fft_s: f64 = (0..workload.requests).map(request_fft_s).sum();
    let longest_chain_s = (0..workload.requests)
        .map(|i| workload.request_sleep_s(i) * sleep_factor + request_fft_s(i))
        .fold(0.0, f64::max);
    let spread = workload.longest_sleep_s() * sleep_factor + total_fft_s / lanes.max(1) as f64;
    spread.max(longest_chain_s)
}

/// The toy run four ways: sequentially (the baseline and the FFTs' CPU times), on tokio's
/// current_thread runtime, on a multi-thread runtime with `spawn_blocking`, on OS threads.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-async", "service_request", c);
    s.title("seed 004 toy problem: sequential / asyncio / threads, and tokio's answer");

    let workload = Arc::new(if c.quick {
        Workload::quick(c.seed)
    } else {
        Workload::tutorial(c.seed)
    });
    // How long one of the talk's seconds of sleep lasts here (`--scale`, shorter under `--quick`).
    let sleep_factor = c.tutorial_second();
    let cores = shared::system::cores();
    let (n, iters) = (workload.requests, workload.iterations);
    let job = |spans: &Spans| Job::new(workload.clone(), sleep_factor, c.verbose, spans.clone());

    s.workload(&format!(
        "{n} requests x {iters} iterations: sleep U[0,1) s x {sleep_factor}, then an FFT of {} values",
        workload.fft_len
    ));
    let (expected, fft_cpu_s) = s.measure(Variant::baseline("sequential", 1, n), |ctx| {
        sequential(&job(ctx.spans()))
    });
    let fft_total_s: f64 = fft_cpu_s.iter().flatten().sum();
    let ideal = |lanes| critical_path_ideal_s(&workload, sleep_factor, &fft_cpu_s, lanes);

    // Concurrency without parallelism: every FFT on the one thread.
    let v = Variant::new("tokio current_thread (asyncio)", 1, n).ideal_s(ideal(1));
    let (got, at_once) = s.measure(v, |ctx| {
        let job = job(ctx.spans());
        let results = current_thread(&job);
        ctx.set("max_ffts_at_once", job.max_ffts_at_once());
        results.map(|r| (r, job.max_ffts_at_once()))
    })?;
    check_same(&s, "tokio current_thread", &got, &expected);
    s.check(
        "tokio current_thread: no two FFTs ever ran at once",
        at_once == 1,
        format!("at most {at_once} at once"),
    );
    let one_thread_spans = s.last().map(|m| m.spans.clone()).unwrap_or_default();

    // Concurrency and parallelism: FFTs on the blocking pool.
    let v = Variant::new("tokio multi-thread + spawn_blocking", cores, n).ideal_s(ideal(cores));
    let got = s.measure(v, |ctx| {
        let job = job(ctx.spans());
        let results = multi_thread(&job, cores);
        ctx.set("max_ffts_at_once", job.max_ffts_at_once());
        results
    })?;
    check_same(&s, "tokio multi-thread + spawn_blocking", &got, &expected);

    let pool_spans = s.last().map(|m| m.spans.clone()).unwrap_or_default();

    // The talk's threads: one per request, blocking sleeps.
    let v = Variant::new(format!("{n} OS threads"), n, n).ideal_s(ideal(n.min(cores)));
    let got = s.measure(v, |ctx| {
        let job = job(ctx.spans());
        let results = os_threads(&job);
        ctx.set("max_ffts_at_once", job.max_ffts_at_once());
        results
    })?;
    check_same(&s, &format!("{n} OS threads"), &got, &expected);

    say!();
    say!(
        "  FFT work in the sequential run: {:.3} s of CPU in all; the longest request sleeps {:.3} s.",
        fft_total_s,
        workload.longest_sleep_s() * sleep_factor
    );
    say!("  ideal = those sleeps + the FFT CPU / cores (critical path); running other requests'");
    say!("  FFTs during the longest one's sleeps beats it, hence eff. above 100 %.");
    say!();
    say!("  FFTs (one bar each) over time, tokio current_thread: never two at once.");
    say!("{}", timeline::text(&one_thread_spans, 64).trim_end());
    say!("  The same with the FFTs on spawn_blocking: they overlap, on every core.");
    say!("{}", timeline::text(&pool_spans, 64).trim_end());
    say!();
    say!("  asyncio (and tokio's current_thread) overlaps waiting, not computing: ~1 core busy.");
    say!(
        "  spawn_blocking on a multi-thread runtime does both; Rust threads need no trick at all."
    );
    Ok(())
}

fn check_same(s: &Bench, name: &str, got: &Results, expected: &Results) {
    s.check(
        &format!("{name}: FFT results equal the sequential ones"),
        got == expected,
        "",
    );
}

#[cfg(test)]
mod tests {
    use rustfft::num_complex::Complex64;

    use super::*;

    fn tiny_job(spans: &Spans) -> Job {
        Job::new(
            Arc::new(Workload::new(3, 3, 2, 256)),
            0.002,
            false,
            spans.clone(),
        )
    }

    #[test]
    fn the_fft_matches_a_naive_dft() {
        let w = Workload::new(9, 1, 1, 48);
        let input = w.fft_input(0, 0);
        let n = input.len();
        let naive: Vec<Complex64> = (0..n)
            .map(|k| {
                (0..n)
                    .map(|t| {
                        let angle = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                        input[t] * Complex64::from_polar(1.0, angle)
                    })
                    .sum()
            })
            .collect();
        let mut fast = input.clone();
        shared::workloads::service::fft_forward(&mut fast);
        for (a, b) in fast.iter().zip(&naive) {
            assert!((a - b).norm() < 1e-9, "{a} vs {b}");
        }
        assert!((w.cpu_step(0, 0) - naive[1].norm()).abs() < 1e-9);
    }

    #[test]
    fn every_variant_computes_the_sequential_results() {
        let spans = Spans::new();
        let (expected, times) = sequential(&tiny_job(&spans));
        assert_eq!(expected.len(), 3);
        assert!(expected.iter().all(|r| r.len() == 2));
        assert_eq!(times.len(), 3);
        assert_eq!(spans.take().len(), 6);

        let job = tiny_job(&spans);
        assert_eq!(current_thread(&job).unwrap(), expected);
        assert_eq!(job.max_ffts_at_once(), 1, "one thread never runs two FFTs");
        assert_eq!(multi_thread(&tiny_job(&spans), 2).unwrap(), expected);
        assert_eq!(os_threads(&tiny_job(&spans)).unwrap(), expected);
        // Every variant recorded one span per FFT, on its request's lane.
        let all = spans.take();
        assert_eq!(all.len(), 3 * 6);
        assert!(all.iter().all(|s| s.lane.starts_with("request ")));
    }

    #[test]
    fn critical_path_ideal_is_the_longer_of_spread_work_and_one_request() {
        let mut w = Workload::new(1, 2, 2, 8);
        w.sleeps_s = vec![vec![0.5, 0.5], vec![0.1, 0.1]];
        // Little CPU work: the longest request's own chain (1.0 s + 0.2 s) dominates.
        let light = vec![vec![0.1, 0.1], vec![0.1, 0.1]];
        assert!((critical_path_ideal_s(&w, 1.0, &light, 2) - 1.2).abs() < 1e-9);
        // Heavy CPU work: longest sleeps + total FFT / lanes = 1.0 + 4.0 / 2.
        let heavy = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        assert!((critical_path_ideal_s(&w, 1.0, &heavy, 2) - 3.0).abs() < 1e-9);
        assert!((critical_path_ideal_s(&w, 1.0, &heavy, 1) - 5.0).abs() < 1e-9);
        // --scale shrinks the sleeps only.
        assert!((critical_path_ideal_s(&w, 0.5, &heavy, 2) - 2.5).abs() < 1e-9);
    }
}
