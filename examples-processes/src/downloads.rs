//! # Downloading one image 20 times: serial, threads, processes
//!
//! Mirrors Concurrency vs parallelism (seed 003, a blog post), "Example: Downloading Files"
//! (both: the threaded one and the multi-processing one).
//!
//! The lesson: a download mostly waits for the server, and waiting needs no core. Four
//! threads overlap four waits; four processes overlap four waits too, and add their start-up
//! and a copy of every body through a pipe, so for I/O they are not faster than threads.
//!
//! The post's figures were 2.86 s (serial), 1.42 s (4 threads) and 0.11 s (4 processes). The
//! last one cannot be 20 completed downloads: at 0.11 s each worker would have fetched five
//! images at 22 ms each, while the same machine needed 143 to 193 ms per image serially. What likely
//! happened: `with ProcessPoolExecutor(4) as ex: ex.map(download_image, urls)` never reads
//! the results, so an exception raised in a worker is silently dropped; and on a platform
//! that starts workers with `spawn` (macOS, Windows, and notebooks there), a function defined
//! in `__main__` cannot be found by the workers (seed 002's gotcha shows that
//! `AttributeError`), so every task failed at once. 0.11 s is then mostly the start-up of
//! four processes. The last table below measures exactly that: four workers whose every task
//! fails at once, with the results never read.
//!
//! Run: `cargo run --release -p examples-processes -- downloads` (against the embedded
//! server, 100 ms of latency per response; `--latency-ms`, `--base-url` to change).
//!
//! Output: serial, 4 threads, 4 processes (all bodies checked against the embedded server's
//! image; with `--base-url`, against the serial downloads), then the failing pool: its time,
//! and the 20 errors it would have hidden.
//!
//! Plumbing: `pool.rs` (the `Executor` interface, `run_map`), `process_pool.rs`.

use shared::executor::ThreadPoolExecutor;
use shared::measure::ideal;
use shared::server::unreachable_url;
use shared::workloads::web;
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::pool::{Executor, run_map};
use crate::process_pool::ProcessPool;
use crate::task::{Output, Task};

/// Downloads the image serially, on 4 threads and on 4 processes, then shows what the post's
/// 0.11 s most likely measured: a pool whose every task failed, its results never read.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-processes", "downloads", c);
    s.title("seed 003 Example: Downloading Files (threads, then multi-processing)");

    let site = args.http.site()?;
    let url = web::image_url(site.base_url());
    let n = c.size(web::IMAGE_DOWNLOADS, 8);
    let workers = c.workers_or(4);
    let tasks: Vec<Task> = (0..n)
        .map(|_| Task::Download { url: url.clone() })
        .collect();
    s.workload(&format!("{n} downloads of {url}, {}", site.describe()));

    let serial = s.measure(Variant::serial(n), |_| {
        tasks.iter().map(Task::run).collect::<Result<Vec<_>, _>>()
    });
    let serial = serial.map_err(anyhow::Error::msg)?;
    let one_s = s.baseline_s().unwrap_or_default() / n as f64;
    // The embedded server sends a known image; a real site's is whatever it sent serially.
    if site.latency().is_some() {
        let want = Output::Body(web::image_body().to_vec());
        s.check(
            "serial: every image arrived whole",
            serial.iter().all(|o| *o == want),
            "",
        );
    }
    let waves =
        |name: &str| Variant::new(name, workers, n).ideal_s(ideal::waves(one_s, n, workers));
    // `with Executor(4) as ex: list(ex.map(download_image, urls))`, results read.
    let name = format!("{workers} threads");
    let out = s.measure(waves(&name), |_| {
        run_map(ThreadPoolExecutor::new(workers), tasks.clone(), 1)
    })?;
    let whole = |name: &str| format!("{name}: every image arrived whole, in order");
    s.check(&whole(&name), out == serial, "");
    let name = format!("{workers} processes");
    let out = s.measure(waves(&name), |_| {
        run_map(ProcessPool::new(workers)?, tasks.clone(), 1) // New: processes, not threads.
    })?;
    s.check(&whole(&name), out == serial, "");
    say!();
    say!("  For waiting, processes are not faster than threads: the same overlap, plus start-up");
    say!("  and a copy of each result through a pipe.");

    // What the post's 0.11 s likely was: every task failing at once, results never read.
    s.workload("the post's 0.11 s: 4 processes whose every task fails at once, results unread");
    let dead = unreachable_url()?;
    let failing: Vec<Task> = (0..n)
        .map(|_| Task::Download {
            url: web::image_url(&dead),
        })
        .collect();
    let name = format!("{workers} processes, results never read");
    let futures = s.measure(Variant::new(name, workers, n), |_| -> anyhow::Result<_> {
        // As in the post: start, map, leave the `with` block (shutdown, wait=True), and
        // never look at what came back.
        let mut ex = ProcessPool::new(workers)?;
        let futures: Vec<_> = failing.iter().map(|t| ex.submit(t.clone())).collect();
        ex.shutdown(true, false);
        Ok(futures)
    })?;
    let errors: Vec<String> = futures
        .iter()
        .filter_map(|f| f.result(None).err().map(|e| e.to_string()))
        .collect();
    say!(
        "  nothing was printed, yet {} of {n} tasks failed; the first error:",
        errors.len()
    );
    if let Some(e) = errors.first() {
        say!("    {e}");
    }
    say!("  A Python worker takes tens of milliseconds more to start (an interpreter, imports),");
    say!("  which puts the post's 0.11 s within reach of this; 20 real downloads are not.");
    s.check(
        "the silent pool's tasks all failed (reading the results is what shows it)",
        errors.len() == n,
        "",
    );
    Ok(())
}
