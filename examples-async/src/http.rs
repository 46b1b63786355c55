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
//! server's delay; `--base-url URL` sends every request to that site instead, which must then
//! serve `/wiki/<page>` and `/image`).
//!
//! Output: the five URLs with their status (`exists`, `does not exist`, and `unknown` for a
//! port where nothing listens), serial against all at once; then the 20 downloads: serial,
//! 4 OS threads with blocking reqwest (the tutorial's pool, measured here for comparison),
//! `buffer_unordered(4)` (about the same as the 4 threads: 5 waves of one round trip) and all
//! at once (about one round trip). Every body is checked against the embedded server's image
//! (or, from a real site, against the first download); seed 003 never reads its pool's
//! results, so a failed download there would go unnoticed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use shared::measure::ideal;
use shared::server::{async_client, blocking_client, unreachable_url};
use shared::workloads::web::{self, IMAGE_DOWNLOADS, PageStatus};
use shared::{Bench, Spans, Variant, say};

use crate::cli::Args;

/// The tutorial's `requests.get(url, timeout=10)`.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The tutorial's pool size (`ThreadPoolExecutor(4)`).
pub const DEFAULT_WORKERS: usize = 4;

/// One downloaded body, as the variants return them.
pub type Body = Vec<u8>;

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

/// Downloads `url` once (seed 003's `download_image`), as task `i` on `lane`.
async fn download(
    client: &reqwest::Client,
    url: &str,
    i: usize,
    lane: String,
    spans: &Spans,
) -> anyhow::Result<Body> {
    let start = Instant::now();
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("download {i} of {url} failed"))?;
    let status = response.status();
    ensure!(
        status.is_success(),
        "{url} answered {status}: point --base-url at a site that serves /image, or leave it \
         out to use the embedded server"
    );
    let body = response
        .bytes()
        .await
        .with_context(|| format!("download {i} of {url} broke off"))?;
    spans.record(lane, i as u64, start, Instant::now());
    Ok(body.to_vec())
}

/// Seed 003's `serial_download`: one after the other.
pub async fn downloads_serial(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Body>> {
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
) -> anyhow::Result<Vec<Body>> {
    let each = futures::stream::iter(0..n)
        .map(|i| download(client, url, i, format!("download {i}"), spans));
    // New: `buffer_unordered(k)` starts the next download as soon as one of the k finishes.
    let results: Vec<anyhow::Result<Body>> = each.buffer_unordered(k.max(1)).collect().await;
    results.into_iter().collect()
}

/// Every download in flight at once, on one thread.
pub async fn downloads_all_at_once(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    spans: &Spans,
) -> anyhow::Result<Vec<Body>> {
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
) -> anyhow::Result<Vec<Body>> {
    let client = blocking_client(TIMEOUT)?;
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Body>> = vec![None; n];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut handles = Vec::new();
        for t in 0..k.max(1) {
            let (client, next) = (&client, &next);
            // Each thread blocks in its request while the others block in theirs: that is
            // how a thread pool overlaps I/O. The scope joins them all, even on error.
            let handle = std::thread::Builder::new()
                .name(format!("thread {t}"))
                .spawn_scoped(scope, move || -> anyhow::Result<Vec<(usize, Body)>> {
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
                        mine.push((i, body.to_vec()));
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

/// Checks that a variant brought back `n` bodies, each equal to `expected`.
fn all_intact(s: &Bench, name: &str, bodies: &[Body], n: usize, expected: &[u8]) {
    let intact = bodies.iter().filter(|b| b.as_slice() == expected).count();
    s.check(
        &format!(
            "{name}: {n} bodies, each the server's {} bytes",
            expected.len()
        ),
        bodies.len() == n && intact == n,
        format!("{intact} of {} intact", bodies.len()),
    );
}

/// Five existence checks, serially and all at once; then the downloads serially, on OS
/// threads, with `buffer_unordered(k)` and all at once, on one thread.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-async", "http", c);
    s.title("seed 000 wiki pages / seed 003 image downloads, with async reqwest");

    let site = args.http.site()?;
    say!("  {}", site.describe());
    let mut urls = web::wiki_urls(site.base_url());
    // One more URL, on a port where nothing listens: the `unknown` answer without the internet.
    urls.push(format!("{}/wiki/Ocean", unreachable_url()?));

    // One thread for every async variant; the embedded server runs on its own.
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
        runtime
            .block_on(async { anyhow::Ok(existence_serial(&async_client(TIMEOUT)?, &urls).await) })
    })?;
    let mut v = Variant::new("as_completed (all at once)", urls.len(), urls.len());
    if let Some(latency) = site.latency() {
        // The embedded server answers every page after one latency: one wave for all.
        v = v.ideal_s(ideal::waves(latency.as_secs_f64(), answered, answered));
    }
    let concurrent = s.measure(v, |_| {
        runtime.block_on(async {
            anyhow::Ok(existence_as_completed(&async_client(TIMEOUT)?, &urls).await)
        })
    })?;
    say!("    in the order they answered:");
    for e in &concurrent {
        say!("      {e}");
    }
    // Only the embedded server's pages are known in advance.
    if site.latency().is_some() {
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
    let image = web::image_url(site.base_url());
    s.workload(&format!(
        "{n} downloads of a {} KiB image",
        web::IMAGE_BYTES / 1024
    ));
    let got = s.measure(Variant::serial(n), |ctx| {
        runtime.block_on(async {
            downloads_serial(&async_client(TIMEOUT)?, &image, n, ctx.spans()).await
        })
    })?;
    // The embedded server's image is known; a real site's must at least be the same each time.
    let expected = match site.latency() {
        Some(_) => web::image_body().to_vec(),
        None => got.first().cloned().unwrap_or_default(),
    };
    all_intact(&s, "serial", &got, n, &expected);
    // One download as the serial run saw it: a round trip plus the transfer.
    let one_s = s.baseline_s().unwrap_or_default() / n as f64;

    let v = Variant::new(format!("{k} OS threads (blocking reqwest)"), k, n)
        .ideal_s(ideal::waves(one_s, n, k));
    let got = s.measure(v, |ctx| downloads_thread_pool(&image, n, k, ctx.spans()))?;
    all_intact(&s, &format!("{k} OS threads"), &got, n, &expected);

    let v = Variant::new(format!("buffer_unordered({k}), 1 thread"), k, n)
        .ideal_s(ideal::waves(one_s, n, k));
    let got = s.measure(v, |ctx| {
        runtime.block_on(async {
            downloads_bounded(&async_client(TIMEOUT)?, &image, n, k, ctx.spans()).await
        })
    })?;
    all_intact(&s, &format!("buffer_unordered({k})"), &got, n, &expected);

    let v = Variant::new("all at once (join_all), 1 thread", n, n).ideal_s(one_s);
    let got = s.measure(v, |ctx| {
        let got = runtime.block_on(async {
            downloads_all_at_once(&async_client(TIMEOUT)?, &image, n, ctx.spans()).await
        });
        ctx.set("one_download_s", one_s);
        got
    })?;
    all_intact(&s, "all at once", &got, n, &expected);

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
    drop(site);
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::server::Server;

    use super::*;

    fn server() -> Server {
        Server::start_with_latency(Duration::from_millis(5)).unwrap()
    }

    fn client() -> reqwest::Client {
        async_client(TIMEOUT).unwrap()
    }

    #[tokio::test]
    async fn statuses_include_the_404_and_the_refused_connection() {
        let server = server();
        let mut urls = web::wiki_urls(&server.base_url());
        urls.push(format!("{}/wiki/Ocean", unreachable_url().unwrap()));
        let client = client();
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
        let client = client();
        let spans = Spans::new();
        let want = web::image_body();
        for got in [
            downloads_serial(&client, &url, 2, &spans).await.unwrap(),
            downloads_bounded(&client, &url, 3, 2, &spans)
                .await
                .unwrap(),
            downloads_all_at_once(&client, &url, 3, &spans)
                .await
                .unwrap(),
        ] {
            assert!(got.iter().all(|body| body.as_slice() == want));
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
        assert!(got.iter().all(|body| body.as_slice() == web::image_body()));
        let mut tasks: Vec<u64> = spans.take().iter().map(|s| s.task).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_missing_image_is_an_error_not_a_body() {
        let server = server();
        let client = client();
        let url = format!("{}/wiki/no_such_page", server.base_url());
        let err = downloads_serial(&client, &url, 1, &Spans::new())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("404"), "{err:#}");
    }
}
