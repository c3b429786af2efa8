//! The app against a node that keeps its traces in ClickHouse (Debian's server, started here), in real
//! headless Chromium: data shows as on the embedded store; with ClickHouse stopped the page says which part
//! is unavailable where the hitmap would be (not an empty chart); once ClickHouse is back, so is the data,
//! without restarting the node.
#![cfg(not(target_arch = "wasm32"))]

mod support;
#[path = "../crates/server/tests/ch/mod.rs"]
mod ch;

use support::otlp::{send, transaction};
use support::{Browser, Server};

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apm_page_shows_a_clickhouse_outage_and_recovers() {
    let mut clickhouse = ch::ClickHouse::start();
    let url = clickhouse.url("e2e");
    let server = Server::start_with(&["--clickhouse", &url]).await;
    let t = now();
    send(
        &server.url(""),
        &[
            transaction("shop", 1, "GET /a", t - 60_000.0, 40.0, false),
            transaction("shop", 2, "GET /b", t - 50_000.0, 900.0, true),
            transaction("shop", 3, "GET /a", t - 40_000.0, 12.0, false),
        ],
    )
    .await;
    let (from, to) = (t as i64 - 10 * 60_000, t as i64 + 60_000);
    let page = server.url(&format!("/apm?from={from}&to={to}"));

    let b = Browser::start().await;
    b.client.goto(&page).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |s| s.starts_with("3 transactions")).await;

    clickhouse.kill();
    b.client.goto(&page).await.unwrap();
    let shown = b.wait_text("[data-testid=error]", |s| s.contains("ClickHouse")).await;
    assert!(shown.contains("unavailable"), "the message says the store is unavailable: {shown}");
    let errors = b.js("return [...document.querySelectorAll('[data-testid=error]')].map(e => e.textContent)").await;
    for panel in ["Could not load the hitmap", "Could not load the services", "Could not load the active transactions"] {
        assert!(errors.to_string().contains(panel), "{panel}: {errors}");
    }
    let totals = b.js("return document.querySelector('[data-testid=hitmap-totals]')?.textContent ?? ''").await;
    assert!(!totals.as_str().unwrap().contains("transactions"), "no count of zeros in its place: {totals}");

    clickhouse.restart();
    b.client.goto(&page).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |s| s.starts_with("3 transactions")).await;
    b.close().await;
}
