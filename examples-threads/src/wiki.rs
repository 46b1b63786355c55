//! # Does the page exist? Four requests, one after another and on a pool of two
//!
//! Mirrors seed 000 "Concurrency & Parallelism": "Examples" (the I/O-bound job,
//! `get_wiki_page_existence` over four Wikipedia URLs, one missing) and "Concurrent Futures",
//! "Concurrent" (`ThreadPoolExecutor(max_workers=2)`, `submit`, `as_completed`).
//!
//! The lesson: a thread waiting for a response needs no core, so two threads wait for two
//! responses at once and four requests take two rounds of latency instead of four. Python
//! gets this too (the GIL is released while waiting); what Rust adds is the check that every
//! failure is a value: a refused connection, a timeout or an odd status is `unknown`, never a
//! crash. The tutorial's function calls `requests.get` without a `try`, so a refused
//! connection or a timeout raises instead of answering "unknown".
//!
//! Run: `cargo run --release -p examples-threads -- wiki` (against the embedded server with
//! `--latency-ms`, default 100; `--base-url https://en.wikipedia.org` asks the real site).
//!
//! Output: `<url> - exists` / `does not exist` lines, serial in order and pooled in completion
//! order; the pool of 2 takes about two latencies (200 ms) against four (400 ms); a URL where
//! nothing listens prints `unknown` with the reason.

use std::time::Duration;

use anyhow::Context;
use reqwest::blocking::Client;
use shared::executor::{ThreadPoolExecutor, as_completed};
use shared::measure::ideal;
use shared::server::{blocking_client, unreachable_url};
use shared::workloads::web::{self, PageStatus};
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// The tutorial's `timeout=10`.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `get_wiki_page_existence`: 200 is `exists`, 404 `does not exist`, and anything else,
/// including no answer at all, `unknown`.
pub fn page_existence(client: &Client, url: &str) -> PageStatus {
    match client.get(url).send() {
        Ok(response) => {
            let code = response.status().as_u16();
            // Read the body as `requests.get` does, so the connection can be reused.
            let _ = response.bytes();
            PageStatus::of(url, Ok(code))
        }
        Err(e) => PageStatus::of(url, Err(&e)),
    }
}

/// The four checks on a pool of `workers` threads, in the order they finish.
pub fn pooled(client: &Client, urls: &[String], workers: usize) -> anyhow::Result<Vec<PageStatus>> {
    let pool = ThreadPoolExecutor::new(workers);
    let futures: Vec<_> = urls
        .iter()
        .map(|url| {
            // A pool thread may run the check after this loop has moved on, so the task owns
            // its URL and its client (a handle to one shared connection pool: a cheap clone).
            // While one thread waits for its response, the other sends the next request.
            let (client, url) = (client.clone(), url.clone());
            // New: the check is handed to the pool instead of run in place.
            pool.submit(move || page_existence(&client, &url))
        })
        .collect();
    as_completed(&futures, None)
        .map(|done| done.and_then(|future| future.result(None)))
        .collect::<Result<_, _>>()
        .context("a page check did not finish")
}

/// Four page checks serially, then on a pool with `as_completed`, and one refused connection.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "wiki", c);
    s.title("seed 000 I/O-bound job: wiki page existence, ThreadPoolExecutor(2) + as_completed");

    let site = args.http.site()?;
    let urls = web::wiki_urls(site.base_url());
    let client = blocking_client(TIMEOUT)?;
    let workers = c.workers_or(2);
    say!("  {}; timeout {} s", site.describe(), TIMEOUT.as_secs());

    s.workload("four page checks, one page missing");
    let serial = s.measure(Variant::serial(urls.len()), |_| {
        urls.iter()
            .map(|url| page_existence(&client, url))
            .collect::<Vec<_>>()
    });
    for page in &serial {
        say!("    {}", page.line());
    }
    // One round is the server's latency, or for a real site the serial run's average.
    let round_s = match site.latency() {
        Some(latency) => latency.as_secs_f64(),
        None => s.baseline_s().unwrap_or_default() / urls.len() as f64,
    };
    let v = Variant::new(
        format!("pool of {workers} + as_completed"),
        workers,
        urls.len(),
    )
    .ideal_s(ideal::waves(round_s, urls.len(), workers));
    let pooled = s.measure(v, |_| pooled(&client, &urls, workers))?;
    for page in &pooled {
        say!("    {}", page.line());
    }

    let mut sorted = pooled.clone();
    sorted.sort_by_key(|p| urls.iter().position(|u| *u == p.url));
    s.check(
        "the pool found what the serial run found",
        sorted == serial,
        "",
    );
    // Only the embedded server's pages are known in advance.
    if site.latency().is_some() {
        let statuses: Vec<&str> = serial.iter().map(|p| p.status).collect();
        s.check(
            "three pages exist and the missing one is a 404",
            statuses == ["exists", "exists", "does not exist", "exists"],
            format!("{statuses:?}"),
        );
    }
    for page in serial.iter().filter(|p| p.status == "unknown") {
        say!(
            "    {}: {}",
            page.url,
            page.reason.as_deref().unwrap_or("?")
        );
    }

    // A server that is not there: an answer, not a crash.
    let nowhere = format!("{}/wiki/Ocean", unreachable_url()?);
    let page = page_existence(&client, &nowhere);
    say!();
    say!(
        "  where nothing listens: {} ({})",
        page.line(),
        page.reason.as_deref().unwrap_or("")
    );
    s.check(
        "a refused connection is `unknown`",
        page.status == "unknown",
        "",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::server::Server;

    use super::*;

    #[test]
    fn statuses_of_the_four_pages_including_the_404() {
        let server = Server::start_with_latency(Duration::from_millis(2)).unwrap();
        let client = blocking_client(TIMEOUT).unwrap();
        let urls = web::wiki_urls(&server.base_url());
        let serial: Vec<&str> = urls
            .iter()
            .map(|u| page_existence(&client, u).status)
            .collect();
        assert_eq!(serial, ["exists", "exists", "does not exist", "exists"]);
        let mut pooled = pooled(&client, &urls, 2).unwrap();
        assert_eq!(pooled.len(), 4);
        pooled.sort_by_key(|p| urls.iter().position(|u| *u == p.url));
        let statuses: Vec<&str> = pooled.iter().map(|p| p.status).collect();
        assert_eq!(statuses, serial);
        assert_eq!(
            pooled[2].line(),
            format!(
                "{}/wiki/this_page_does_not_exist - does not exist",
                server.base_url()
            )
        );
    }

    #[test]
    fn a_refused_connection_is_unknown_not_a_panic() {
        let url = format!("{}/wiki/Ocean", unreachable_url().unwrap());
        let page = page_existence(&blocking_client(TIMEOUT).unwrap(), &url);
        assert_eq!(page.status, "unknown");
        assert!(page.reason.unwrap().contains("cannot connect"));
    }

    #[test]
    fn a_timeout_is_unknown() {
        // The server answers 100 times later than the client gives up: no close race decides it.
        let server = Server::start_with_latency(Duration::from_secs(5)).unwrap();
        let client = blocking_client(Duration::from_millis(50)).unwrap();
        let page = page_existence(&client, &format!("{}/wiki/Ocean", server.base_url()));
        assert_eq!(page.status, "unknown");
        assert_eq!(page.reason.as_deref(), Some("timed out"));
    }
}
