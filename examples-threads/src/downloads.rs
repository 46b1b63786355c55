//! # One image, downloaded 20 times: serially and on 4 threads
//!
//! Mirrors seed 003 "Concurrency vs parallelism", section "Concurrency - Threading",
//! "Example: Downloading Files" (`serial_download` vs `multi_threaded_download` with
//! `ThreadPoolExecutor(4).map`: 2.86 s vs 1.42 s).
//!
//! The lesson: a download is mostly waiting for the server, so four threads overlap four
//! waits and 20 downloads take `ceil(20 / 4) = 5` rounds of latency instead of 20. Every body
//! is compared byte for byte with what the server sent, so nothing is counted that did not
//! arrive.
//!
//! Run: `cargo run --release -p examples-threads -- downloads` (`--latency-ms` sets the
//! embedded server's delay, `--workers` the pool, `--quick` makes 8 downloads).
//!
//! Output: serial about 20 x 100 ms, 4 threads about 5 x 100 ms (about 4x), 20 MiB verified
//! in each run.
//!
//! The tutorial's timings only ever time the calls: `executor.map(download_image, ...)`
//! returns results nobody reads, so a download that failed would go unnoticed. That is the
//! likely story behind its third figure (0.11 s for four processes, faster than one round
//! trip of the serial run): a function defined in a notebook cannot be sent to worker
//! processes (seed 002's "Gotchas"), each task fails at once and the error is never looked
//! at. `examples-processes` measures real process downloads.

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::blocking::Client;
use shared::executor::ThreadPoolExecutor;
use shared::measure::ideal;
use shared::server::blocking_client;
use shared::system::mib;
use shared::workloads::web;
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// A download that takes longer than this is an error, not a hang (the tutorial sets none).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// `download_image`: the body of `url`, or an error saying what went wrong.
pub fn download(client: &Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let response = client
        .get(url)
        .send()
        .with_context(|| format!("cannot download {url}"))?;
    let status = response.status();
    ensure!(
        status.is_success(),
        "{url} answered {status}: point --base-url at a site that serves /image, or leave it \
         out to use the embedded server"
    );
    let body = response
        .bytes()
        .with_context(|| format!("the download of {url} broke off"))?;
    Ok(body.to_vec())
}

/// `serial_download`: one after the other.
pub fn serial(client: &Client, urls: &[String]) -> anyhow::Result<Vec<Vec<u8>>> {
    urls.iter().map(|url| download(client, url)).collect()
}

/// `multi_threaded_download`: `ThreadPoolExecutor(workers).map(download_image, urls)`, every
/// result read (and so every failure seen). Bodies in input order.
pub fn threaded(client: &Client, urls: &[String], workers: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let pool = ThreadPoolExecutor::new(workers);
    // The pool's threads outlive this borrow, so the calls own a handle to the client (one
    // shared pool of keep-alive connections); each thread waits for its own response.
    let client = client.clone();
    // New: the same downloads, through the pool's map.
    pool.map(move |url: String| download(&client, &url), urls.to_vec())
        .map(|result| result.context("a download task did not finish")?)
        .collect()
}

/// Adds the MiB downloaded to the measurement.
fn with_mib(
    ctx: &mut shared::Ctx,
    bodies: anyhow::Result<Vec<Vec<u8>>>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    if let Ok(bodies) = &bodies {
        ctx.set("mib", mib(bodies.iter().map(|b| b.len() as u64).sum()));
    }
    bodies
}

/// How many bodies equal `expected`.
fn matching(bodies: &[Vec<u8>], expected: &[u8]) -> usize {
    bodies.iter().filter(|b| b.as_slice() == expected).count()
}

/// The same downloads serially and on a pool of threads, every body checked.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "downloads", c);
    s.title("seed 003 Example: Downloading Files (one image 20 times, serial vs 4 threads)");

    let site = args.http.site()?;
    let downloads = c.size(web::IMAGE_DOWNLOADS, 8);
    let urls = vec![web::image_url(site.base_url()); downloads];
    let workers = c.workers_or(4);
    let client = blocking_client(TIMEOUT)?;
    say!("  {downloads} x {} from {}", urls[0], site.describe());

    s.workload("downloading one image again and again");
    let bodies = s.measure(Variant::serial(downloads), |ctx| {
        with_mib(ctx, serial(&client, &urls))
    })?;
    // The embedded server's image is known; a real site's must at least be the same each time.
    let expected: Vec<u8> = match (site.latency(), bodies.first()) {
        (Some(_), _) => web::image_body().to_vec(),
        (None, Some(first)) => first.clone(),
        (None, None) => Vec::new(),
    };
    let total_mib = mib(bodies.iter().map(|b| b.len() as u64).sum());
    s.check(
        "serial: every body is the image, byte for byte",
        matching(&bodies, &expected) == downloads,
        format!("{total_mib:.1} MiB"),
    );

    let round_s = match site.latency() {
        Some(latency) => latency.as_secs_f64(),
        None => s.baseline_s().unwrap_or_default() / downloads as f64,
    };
    let v = Variant::new(
        format!("{workers} threads (executor.map)"),
        workers,
        downloads,
    )
    .ideal_s(ideal::waves(round_s, downloads, workers));
    let bodies = s.measure(v, |ctx| with_mib(ctx, threaded(&client, &urls, workers)))?;
    s.check(
        &format!("{workers} threads: every body is the image, byte for byte"),
        matching(&bodies, &expected) == downloads,
        "",
    );
    drop(site);

    say!();
    say!("  Waiting overlaps: 4 threads wait for 4 responses at once. A real link's bandwidth is");
    say!("  shared, so large files gain less (the tutorial's 2.86 s -> 1.42 s is 2x, not 4x).");
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::server::{Server, unreachable_url};

    use super::*;

    #[test]
    fn every_download_is_the_servers_image_serially_and_threaded() {
        let server = Server::start_with_latency(Duration::from_millis(1)).unwrap();
        let client = blocking_client(TIMEOUT).unwrap();
        let urls = vec![web::image_url(&server.base_url()); 6];
        let bodies = serial(&client, &urls).unwrap();
        assert_eq!(matching(&bodies, web::image_body()), 6);
        let bodies = threaded(&client, &urls, 4).unwrap();
        assert_eq!(matching(&bodies, web::image_body()), 6);
        assert_eq!(server.requests(), 12);
    }

    #[test]
    fn failures_are_errors_that_say_what_happened() {
        let server = Server::start_with_latency(Duration::from_millis(1)).unwrap();
        let client = blocking_client(TIMEOUT).unwrap();
        let missing = format!("{}/wiki/Nope", server.base_url());
        let err = format!("{:#}", download(&client, &missing).unwrap_err());
        assert!(err.contains("404"), "{err}");
        let nowhere = web::image_url(&unreachable_url().unwrap());
        let err = threaded(&client, &[nowhere], 2).unwrap_err();
        assert!(format!("{err:#}").contains("cannot download"), "{err:#}");
        assert_eq!(matching(&[vec![1, 2]], &[1, 2, 3]), 0);
    }
}
