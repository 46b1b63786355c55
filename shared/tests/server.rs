//! The embedded HTTP server and the `--base-url` alternative, over real HTTP on 127.0.0.1.

use std::time::Duration;

use shared::server::{Server, Site, blocking_client, unreachable_url};
use shared::workloads::web::image_body;

#[test]
fn routes_answer_as_documented() {
    let server = Server::start_with_latency(Duration::from_millis(5)).unwrap();
    let client = reqwest::blocking::Client::new();
    let base = server.base_url();
    for (page, status) in [
        ("Ocean", 200),
        ("Island", 200),
        ("Shark", 200),
        ("Nope", 404),
    ] {
        let r = client.get(format!("{base}/wiki/{page}")).send().unwrap();
        assert_eq!(r.status().as_u16(), status, "{page}");
    }
    let body = client
        .get(format!("{base}/image"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&body[..], image_body());
    assert_eq!(server.requests(), 5);
    drop(server);
}

#[test]
fn latency_is_applied_and_drop_returns_with_open_connections() {
    let server = Server::start_with_latency(Duration::from_millis(80)).unwrap();
    let client = reqwest::blocking::Client::new();
    let t = std::time::Instant::now();
    let r = client
        .get(format!("{}/wiki/Ocean", server.base_url()))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    assert!(t.elapsed() >= Duration::from_millis(80));
    // The client keeps its connection alive; dropping the server must still return.
    drop(server);
    drop(client);
}

#[test]
fn unreachable_url_refuses_connections() {
    let url = unreachable_url().unwrap();
    let err = reqwest::blocking::get(format!("{url}/wiki/Ocean")).unwrap_err();
    assert!(err.is_connect(), "{err}");
}

#[test]
fn a_site_is_the_embedded_server_or_the_named_one() {
    let site = Site::embedded(Duration::from_millis(1)).unwrap();
    assert!(site.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(site.latency(), Some(Duration::from_millis(1)));
    let client = blocking_client(Duration::from_secs(5)).unwrap();
    let r = client
        .get(format!("{}/wiki/Shark", site.base_url()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(site.requests(), Some(1));

    let remote = Site::remote("https://en.wikipedia.org/");
    assert_eq!(remote.base_url(), "https://en.wikipedia.org");
    assert_eq!((remote.latency(), remote.requests()), (None, None));
    assert!(remote.describe().contains("--base-url"));
}
