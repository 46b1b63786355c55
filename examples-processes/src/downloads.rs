//! # Downloading one image 20 times: serial, threads, processes
//!
//! Mirrors seed 003 (Concurrency vs parallelism, a blog post), "Example: Downloading Files"
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
//! Output: serial, 4 threads, 4 processes (all bodies checked), then the failing pool: its
//! time, and the 20 errors it would have hidden.

use shared::measure::ideal;
use shared::server::{Server, unreachable_url};
use shared::workloads::web;
use shared::{Section, Variant, say};

use crate::backend::Executor;
use crate::cli::Args;
use crate::pool::{Backend, run_map};
use crate::process_pool::ProcessPool;
use crate::task::{Output, Task};

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Section::new("examples-processes", "downloads", c);
    s.title("seed 003 Example: Downloading Files (threads, then multi-processing)");

    // The embedded server, unless --base-url points elsewhere.
    let latency = std::time::Duration::from_millis(args.http.latency_ms);
    let server = match &args.http.base_url {
        Some(_) => None,
        None => Some(Server::start_with_latency(latency)?),
    };
    let base = match (&args.http.base_url, &server) {
        (Some(url), _) => url.clone(),
        (None, Some(server)) => server.base_url(),
        (None, None) => anyhow::bail!("no server to download from"),
    };
    let url = web::image_url(&base);
    let n = c.size(web::IMAGE_DOWNLOADS, 8);
    let workers = c.workers_or(4);
    let tasks: Vec<Task> = (0..n)
        .map(|_| Task::Download { url: url.clone() })
        .collect();
    let expected = server
        .as_ref()
        .map(|_| Output::Body(web::image_body().to_vec()));
    s.workload(&format!(
        "{n} downloads of {url} ({} ms latency per response)",
        args.http.latency_ms
    ));

    let serial = s.measure(Variant::serial(n), |_| {
        tasks.iter().map(Task::run).collect::<Result<Vec<_>, _>>()
    });
    let serial = serial.map_err(anyhow::Error::msg)?;
    let serial_s = s.baseline_s().unwrap_or_default();
    let one_s = serial_s / n as f64;
    if let Some(want) = &expected {
        s.check(
            "serial: every image arrived whole",
            serial.iter().all(|o| o == want),
            "",
        );
    }
    for backend in [Backend::Threads(workers), Backend::Processes(workers)] {
        let name = match backend {
            Backend::Threads(w) => format!("{w} threads"),
            Backend::Processes(w) => format!("{w} processes"),
        };
        let v = Variant::new(&name, workers, n).ideal_s(ideal::waves(one_s, n, workers));
        // `with Executor(4) as ex: list(ex.map(download_image, urls))`, results read.
        let out = s.measure(v, |_| run_map(backend, tasks.clone(), 1))?;
        s.check(
            &format!("{name}: every image arrived whole, in order"),
            out == serial,
            "",
        );
    }
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
    let futures = s.measure(
        Variant::new(
            format!("{workers} processes, results never read"),
            workers,
            n,
        ),
        |_| -> anyhow::Result<_> {
            // As in the post: start, map, leave the `with` block (shutdown, wait=True), and
            // never look at what came back.
            let mut ex = ProcessPool::new(workers)?;
            let futures: Vec<_> = failing.iter().map(|t| ex.submit(t.clone())).collect();
            ex.shutdown(true, false);
            Ok(futures)
        },
    )?;
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
    drop(server);
    Ok(())
}
