//! The embedded HTTP server every HTTP example talks to, so the examples need no internet
//! and their timings do not depend on someone else's site.
//!
//! It is a real HTTP/1.1 server (axum on hyper) on `127.0.0.1`, port 0 by default (the OS picks
//! a free one), running on its own thread with its own small tokio runtime, so blocking,
//! threaded and async clients can all use it. Routes:
//!
//! - `/wiki/Ocean`, `/wiki/Island`, `/wiki/Shark`: 200 with a small HTML page;
//! - any other `/wiki/...`: 404;
//! - `/image`: 200 with [`image_body`](crate::workloads::web::image_body) (1 MiB).
//!
//! Every response waits `latency` first (100 ms by default), like a distant server.
//! Dropping the [`Server`] stops it and joins its thread.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::workloads::web::{EXISTING_PAGES, image_body};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Delay before each response.
    pub latency: Duration,
    /// Address to bind; port 0 lets the OS choose.
    pub addr: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(100),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
}

/// A running server. Dropping it shuts it down.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts a server with the given latency on `127.0.0.1:0`.
    pub fn start_with_latency(latency: Duration) -> anyhow::Result<Self> {
        Self::start(Config {
            latency,
            ..Config::default()
        })
    }

    /// Starts a server; returns once it is accepting connections.
    pub fn start(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .with_context(|| format!("cannot listen on {} for the embedded server", config.addr))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();

        let app = Router::new()
            .route("/wiki/{page}", get(wiki))
            .route("/image", get(image))
            .with_state(AppState {
                latency: config.latency,
                stats: stats.clone(),
            });

        // A runtime of its own, on a thread of its own: the examples' clients may be blocking
        // threads, processes, or another tokio runtime, and none of them must host the server.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot build the embedded server's runtime")?;
        let thread = std::thread::Builder::new()
            .name("embedded-http".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            crate::say!("embedded server: cannot use its socket: {e}");
                            return;
                        }
                    };
                    // Not a graceful shutdown: idle keep-alive connections of a client that
                    // is still alive must not keep the example waiting. Dropping the runtime
                    // below closes them.
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(e) = result {
                                crate::say!("embedded server stopped: {e}");
                            }
                        }
                        _ = stop_rx => {}
                    }
                });
            })
            .context("cannot start the embedded server's thread")?;

        Ok(Self {
            addr,
            stats,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered (or being answered) so far.
    pub fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where an HTTP section sends its requests: the embedded server (with `--latency-ms`), or
/// the site `--base-url` names. Made by [`HttpArgs::site`](crate::HttpArgs::site); dropping
/// it stops the server, if there is one.
#[derive(Debug)]
pub struct Site {
    server: Option<Server>,
    base: String,
    latency: Duration,
}

impl Site {
    /// Starts the embedded server with `latency` per response.
    pub fn embedded(latency: Duration) -> anyhow::Result<Self> {
        let server = Server::start_with_latency(latency)?;
        Ok(Self {
            base: server.base_url(),
            server: Some(server),
            latency,
        })
    }

    /// A real site, e.g. `https://en.wikipedia.org` (no trailing slash).
    pub fn remote(base: &str) -> Self {
        Self {
            server: None,
            base: base.trim_end_matches('/').to_owned(),
            latency: Duration::ZERO,
        }
    }

    /// `http://127.0.0.1:<port>` or the `--base-url`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The embedded server's latency per response; `None` for a real site, whose latency
    /// nobody knows in advance (so no ideal can be computed from it).
    pub fn latency(&self) -> Option<Duration> {
        self.server.as_ref().map(|_| self.latency)
    }

    /// Requests the embedded server has answered (`None` for a real site).
    pub fn requests(&self) -> Option<u64> {
        self.server.as_ref().map(Server::requests)
    }

    /// One line for the section's header, e.g. `embedded server at http://127.0.0.1:4242
    /// (100 ms latency per response)`.
    pub fn describe(&self) -> String {
        match self.latency() {
            Some(l) => format!(
                "embedded server at {} ({} ms latency per response)",
                self.base,
                l.as_millis()
            ),
            None => format!("the real site {} (--base-url)", self.base),
        }
    }
}

/// The User-Agent every example sends (real sites ask for one that names the program).
pub const USER_AGENT: &str = concat!("rust-concurrency-examples/", env!("CARGO_PKG_VERSION"));

/// A blocking client (threads, processes) that gives up after `timeout`, connect and response
/// together. One client is a pool of keep-alive connections: clone it, do not rebuild it.
pub fn blocking_client(timeout: Duration) -> anyhow::Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
        .context("cannot build a blocking HTTP client")
}

/// An async client with the same settings. Build it inside the runtime that uses it: its
/// pooled connections belong to that runtime.
pub fn async_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
        .context("cannot build an async HTTP client")
}

/// A URL on 127.0.0.1 where nothing listens (a port bound, then released): connections to it
/// are refused, which is how the examples show the `unknown` status without the internet.
pub fn unreachable_url() -> anyhow::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

#[derive(Clone)]
struct AppState {
    latency: Duration,
    stats: Arc<Stats>,
}

async fn wiki(State(state): State<AppState>, Path(page): Path<String>) -> impl IntoResponse {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(state.latency).await;
    if EXISTING_PAGES.contains(&page.as_str()) {
        let html =
            format!("<html><head><title>{page}</title></head><body><h1>{page}</h1></body></html>");
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], html)
    } else {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Wikipedia does not have an article with this exact name.</body></html>"
                .to_owned(),
        )
    }
}

async fn image(State(state): State<AppState>) -> impl IntoResponse {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(state.latency).await;
    ([(header::CONTENT_TYPE, "image/jpeg")], image_body())
}
