//! # HTTP with async reqwest: does the page exist, and 20 image downloads
//!
//! Mirrors seed 000 ("Concurrency & Parallelism"), section "Examples" (the I/O-bound
//! `get_wiki_page_existence` over four Wikipedia URLs, one of them missing) and its threaded
//! `as_completed` version under "Concurrent Futures"; and seed 003 ("Concurrency vs
//! parallelism"), section "Example: Downloading Files" (one image downloaded 20 times, serially
//! and with `ThreadPoolExecutor(4)`).
//!
//! The lesson: waiting on the network needs no thread at all. One async task per request on a
//! single thread overlaps every wait; `buffer_unordered(4)` is the four-thread pool's
//! behaviour without the four threads, and "all at once" finishes in about one round trip.
//! A thread pool needs a thread per request in flight; async needs a few hundred bytes.
//!
//! Run: `cargo run --release -p examples-async -- http` (`--latency-ms` sets the embedded
//! server's delay, `--base-url https://en.wikipedia.org` sends the wiki requests to the real
//! site; the image downloads always use the embedded server, whose image is known byte for
//! byte).
//!
//! Output: the five URLs with their status (`exists`, `does not exist`, and `unknown` for a
//! port where nothing listens), serial against all at once; then the 20 downloads: serial,
//! 4 OS threads with blocking reqwest (the tutorial's pool, measured here for comparison),
//! `buffer_unordered(4)` (about the same as the 4 threads: 5 waves of one round trip) and all
//! at once (about one round trip). Every body is checked against the server's bytes; seed 003
//! never reads its pool's results, so a failed download there would go unnoticed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use shared::measure::ideal;
use shared::server::{Server, unreachable_url};
use shared::workloads::web::{self, IMAGE_DOWNLOADS};
use shared::{Section, Spans, Variant, say};

use crate::cli::Args;

/// The tutorial's `requests.get(url, timeout=10)`.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The tutorial's pool size (`ThreadPoolExecutor(4)`).
pub const DEFAULT_WORKERS: usize = 4;

const USER_AGENT: &str = concat!("examples-async/", env!("CARGO_PKG_VERSION"));

/// An async client with the tutorial's timeout. Build it inside the runtime that will use it:
/// its pooled connections belong to that runtime.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .context("cannot build an HTTP client")
}

pub use web::PageStatus;

/// GET `url` and classify it: 200 exists, 404 does not, anything else (another status, a
/// refused connection, a timeout) is unknown. The tutorial lets a refused connection raise;
/// here it is an answer like any other.
pub async fn page_existence(client: &reqwest::Client, url: &str) -> PageStatus {
    match client.get(url).send().await {
        Ok(response) => PageStatus::of(url, Ok(response.status().as_u16())),
        Err(e) => PageStatus::of(url, Err(&e)),
    }
}

/// Checks every URL, one after the other.
pub async fn existence_serial(client: &reqwest::Client, urls: &[String]) -> Vec<PageStatus> {
    let mut out = Vec::new();
    for url in urls {
        out.push(page_existence(client, url).await);
    }
    out
}

/// Checks every URL at once, collected as they answer (the tutorial's `as_completed`).
pub async fn existence_as_completed(client: &reqwest::Client, urls: &[String]) -> Vec<PageStatus> {
    // New: all requests in flight together on this one thread; `FuturesUnordered` hands each
    // back as soon as its answer arrives.
    let pending: futures::stream::FuturesUnordered<_> =
        urls.iter().map(|u| page_existence(client, u)).collect();
    pending.collect().await
}

/// One downloaded image: its size and whether it is the server's image, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    pub bytes: usize,
    pub intact: bool,
}

impl Download {
    fn of(body: &[u8]) -> Self {
        Self {
            bytes: body.len(),
            intact: body == web::image_body(),
        }
    }
}

/// Downloads `url` once (seed 003's `download_image`), as task `i` on `lane`.
async fn download(
    client: &reqwest::Client,
    url: &str,
    i: usize,
    lane: String,
    spans: &Spans,
) -> anyhow::Result<Download> {
    let start = Instant::now();
    let response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("download {i} of {url} failed"))?;
    let body = response
        .bytes()
        .await
        .with_context(|| format!("download {i} of {url} broke off"))?;
    spans.record(lane, i as u64, start, Instant::now());
    Ok(Download::of(&body))
}

/// Seed 003's `serial_download`: one after the other.
pub async fn downloads_serial(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Download>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(download(client, url, i, "task 0".to_owned(), spans).await?);
    }
    Ok(out)
}

/// At most `k` downloads in flight, on one thread: the async form of a pool of `k`.
pub async fn downloads_bounded(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    k: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Download>> {
    let each = futures::stream::iter(0..n)
        .map(|i| download(client, url, i, format!("download {i}"), spans));
    // New: `buffer_unordered(k)` starts the next download as soon as one of the k finishes.
    let results: Vec<anyhow::Result<Download>> = each.buffer_unordered(k.max(1)).collect().await;
    results.into_iter().collect()
}

/// Every download in flight at once, on one thread.
pub async fn downloads_all_at_once(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Download>> {
    // New: no bound at all. Each in-flight download is a small state machine, not a thread.
    let all = (0..n).map(|i| download(client, url, i, format!("download {i}"), spans));
    futures::future::try_join_all(all).await
}

/// Seed 003's `multi_threaded_download`: `k` OS threads with blocking reqwest, each taking
/// the next download from a shared counter (what `ThreadPoolExecutor.map` does). Must not be
/// called from inside a tokio runtime: blocking reqwest runs one of its own.
pub fn downloads_thread_pool(
    url: &str,
    n: usize,
    k: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Download>> {
    let client = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .context("cannot build a blocking HTTP client")?;
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Download>> = vec![None; n];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut handles = Vec::new();
        for t in 0..k.max(1) {
            let (client, next) = (&client, &next);
            // Each thread blocks in its request while the others block in theirs: that is
            // how a thread pool overlaps I/O. The scope joins them all, even on error.
            let handle = std::thread::Builder::new()
                .name(format!("thread {t}"))
                .spawn_scoped(scope, move || -> anyhow::Result<Vec<(usize, Download)>> {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(mine);
                        }
                        let start = Instant::now();
                        let body = client
                            .get(url)
                            .send()
                            .and_then(reqwest::blocking::Response::error_for_status)
                            .and_then(reqwest::blocking::Response::bytes)
                            .with_context(|| format!("download {i} of {url} failed"))?;
                        spans.record(format!("thread {t}"), i as u64, start, Instant::now());
                        mine.push((i, Download::of(&body)));
                    }
                })
                .with_context(|| format!("cannot start download thread {t}"))?;
            handles.push(handle);
        }
        for h in handles {
            let mine = h
                .join()
                .map_err(|_| anyhow::anyhow!("a download thread panicked"))??;
            for (i, d) in mine {
                results[i] = Some(d);
            }
        }
        Ok(())
    })?;
    results
        .into_iter()
        .enumerate()
        .map(|(i, d)| d.with_context(|| format!("download {i} never ran")))
        .collect()
}

fn all_intact(s: &Section, name: &str, downloads: &[Download], n: usize) {
    let intact = downloads.iter().filter(|d| d.intact).count();
    s.check(
        &format!(
            "{name}: {n} bodies, each the server's {} bytes",
            web::IMAGE_BYTES
        ),
        downloads.len() == n && intact == n,
        format!("{intact} of {} intact", downloads.len()),
    );
}

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Section::new("examples-async", "http", c);
    s.title("seed 000 wiki pages / seed 003 image downloads, with async reqwest");

    let latency = Duration::from_millis(args.http.latency_ms);
    let server = Server::start_with_latency(latency)?;
    let wiki_base = args
        .http
        .base_url
        .clone()
        .unwrap_or_else(|| server.base_url());
    say!(
        "  embedded server at {} ({} ms latency per response){}",
        server.base_url(),
        latency.as_millis(),
        match &args.http.base_url {
            Some(b) => format!("; wiki pages from {b}"),
            None => String::new(),
        }
    );
    let mut urls = web::wiki_urls(&wiki_base);
    // One more URL, on a port where nothing listens: the `unknown` answer without the internet.
    urls.push(format!("{}/wiki/Ocean", unreachable_url()?));

    // One thread for every async variant; the server runs on its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build a tokio runtime")?;

    s.workload(&format!(
        "page existence: {} URLs (4 wiki pages + 1 refused)",
        urls.len()
    ));
    let answered = urls.len() - 1;
    let serial = s.measure(Variant::serial(urls.len()), |_| {
        runtime.block_on(async { anyhow::Ok(existence_serial(&client()?, &urls).await) })
    })?;
    let mut v = Variant::new("as_completed (all at once)", urls.len(), urls.len());
    if args.http.base_url.is_none() {
        // The embedded server answers every page after one latency: one wave for all.
        v = v.ideal_s(ideal::waves(latency.as_secs_f64(), answered, answered));
    }
    let concurrent = s.measure(v, |_| {
        runtime.block_on(async { anyhow::Ok(existence_as_completed(&client()?, &urls).await) })
    })?;
    say!("    in the order they answered:");
    for e in &concurrent {
        say!("      {e}");
    }
    if args.http.base_url.is_none() {
        let statuses: Vec<&str> = serial.iter().map(|e| e.status).collect();
        s.check(
            "statuses: exists, exists, does not exist (404), exists, unknown (refused)",
            statuses == ["exists", "exists", "does not exist", "exists", "unknown"],
            statuses.join(", "),
        );
    }
    let mut sorted = concurrent.clone();
    sorted.sort_by_key(|e| urls.iter().position(|u| *u == e.url));
    s.check(
        "as_completed: the same answers as serial, each URL once",
        sorted
            .iter()
            .map(|e| (&e.url, e.status))
            .eq(serial.iter().map(|e| (&e.url, e.status))),
        "",
    );

    let n = c.size(IMAGE_DOWNLOADS, 8);
    let k = c.workers_or(DEFAULT_WORKERS);
    let image = web::image_url(&server.base_url());
    s.workload(&format!(
        "{n} downloads of a {} KiB image",
        web::IMAGE_BYTES / 1024
    ));
    let got = s.measure(Variant::serial(n), |ctx| {
        runtime.block_on(async { downloads_serial(&client()?, &image, n, ctx.spans()).await })
    })?;
    all_intact(&s, "serial", &got, n);
    // One download as the serial run saw it: a round trip plus the transfer.
    let one_s = s.baseline_s().unwrap_or_default() / n as f64;

    let v = Variant::new(format!("{k} OS threads (blocking reqwest)"), k, n)
        .ideal_s(ideal::waves(one_s, n, k));
    let got = s.measure(v, |ctx| downloads_thread_pool(&image, n, k, ctx.spans()))?;
    all_intact(&s, &format!("{k} OS threads"), &got, n);

    let v = Variant::new(format!("buffer_unordered({k}), 1 thread"), k, n)
        .ideal_s(ideal::waves(one_s, n, k));
    let got = s.measure(v, |ctx| {
        runtime.block_on(async { downloads_bounded(&client()?, &image, n, k, ctx.spans()).await })
    })?;
    all_intact(&s, &format!("buffer_unordered({k})"), &got, n);

    let v = Variant::new("all at once (join_all), 1 thread", n, n).ideal_s(one_s);
    let got = s.measure(v, |ctx| {
        let got = runtime
            .block_on(async { downloads_all_at_once(&client()?, &image, n, ctx.spans()).await });
        ctx.set("one_download_s", one_s);
        got
    })?;
    all_intact(&s, "all at once", &got, n);

    say!();
    say!(
        "  One download (round trip + transfer) took {:.1} ms serially. A pool of {k} needs {} waves",
        one_s * 1e3,
        n.div_ceil(k)
    );
    say!(
        "  of it, with threads or with buffer_unordered; with no bound, about one wave, on one thread."
    );
    drop(runtime);
    drop(server);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server::start_with_latency(Duration::from_millis(5)).unwrap()
    }

    #[tokio::test]
    async fn statuses_include_the_404_and_the_refused_connection() {
        let server = server();
        let mut urls = web::wiki_urls(&server.base_url());
        urls.push(format!("{}/wiki/Ocean", unreachable_url().unwrap()));
        let client = client().unwrap();
        let got = existence_serial(&client, &urls).await;
        let statuses: Vec<&str> = got.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            ["exists", "exists", "does not exist", "exists", "unknown"]
        );
        let why = got[4].reason.as_deref().unwrap_or_default();
        assert!(
            why.contains("cannot connect") && why.contains("refused"),
            "{why}"
        );
        assert!(
            got[2]
                .to_string()
                .ends_with("this_page_does_not_exist - does not exist")
        );

        let mut unordered = existence_as_completed(&client, &urls).await;
        unordered.sort_by_key(|e| urls.iter().position(|u| *u == e.url));
        assert_eq!(unordered, got);
    }

    #[tokio::test]
    async fn every_async_download_is_the_servers_image() {
        let server = server();
        let url = web::image_url(&server.base_url());
        let client = client().unwrap();
        let spans = Spans::new();
        let want = Download {
            bytes: web::IMAGE_BYTES,
            intact: true,
        };
        for got in [
            downloads_serial(&client, &url, 2, &spans).await.unwrap(),
            downloads_bounded(&client, &url, 3, 2, &spans)
                .await
                .unwrap(),
            downloads_all_at_once(&client, &url, 3, &spans)
                .await
                .unwrap(),
        ] {
            assert!(got.iter().all(|d| *d == want), "{got:?}");
        }
        assert_eq!(spans.len(), 8);
        assert_eq!(server.requests(), 8);
    }

    #[test]
    fn the_thread_pool_downloads_each_image_once() {
        let server = server();
        let spans = Spans::new();
        let got = downloads_thread_pool(&web::image_url(&server.base_url()), 5, 2, &spans).unwrap();
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|d| d.intact));
        let mut tasks: Vec<u64> = spans.take().iter().map(|s| s.task).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_missing_image_is_an_error_not_a_body() {
        let server = server();
        let client = client().unwrap();
        let url = format!("{}/wiki/no_such_page", server.base_url());
        let err = downloads_serial(&client, &url, 1, &Spans::new())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("404"), "{err:#}");
    }
}
