//! Makes the screenshots in docs/ from the real app with the demo workload (`cargo xtask screenshots`).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::Path;

use support::{Browser, Server};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/*.png: cargo xtask screenshots"]
async fn apm_hitmap_and_trace() {
    let server = Server::start_with(&["--demo"]).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm?range=15m")).await.unwrap();
    // Wait until the demo's 15-minute backfill is stored (it ends with the present minute), then load
    // the page so every panel shows the whole window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let url = server.url(&format!("/api/v1/hitmap?from={}&to={now}&cols=15&rows=1&ymax=1000", now - 15 * 60_000));
        let h: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        // The backfill runs oldest first: once the last minute has transactions it is done.
        let last_minute: u64 = [28, 29].iter().map(|i| h["ok"][i].as_u64().unwrap_or(0) + h["err"][i].as_u64().unwrap_or(0)).sum();
        if h["total"].as_u64().unwrap_or(0) > 45_000 && last_minute > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "demo backfill did not complete: {h}");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=stream-state]", |t| t == "streaming").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    b.screenshot(&docs.join("screenshot-apm.png")).await;

    // Select the 3 s band (the recharge timeouts) and open the slowest transaction's trace.
    let v = b.js("return document.querySelector('[data-testid=hitmap-canvas]').dataset.plot.split(',').map(Number)").await;
    let (x, y, w, h) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap(), v[3].as_f64().unwrap());
    let y_of = |ms: f64| y + h - ms / 5000.0 * 100.0 * h / 101.0;
    b.drag("[data-testid=hitmap-canvas]", (x + 2.0, y_of(3_300.0)), (x + w - 2.0, y_of(2_800.0))).await;
    b.find("[data-testid=tx-row]").await;
    b.screenshot(&docs.join("screenshot-selection.png")).await;
    b.find("[data-testid=tx-row]").await.click().await.unwrap();
    b.find("[data-testid=trace-row]").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.screenshot(&docs.join("screenshot-trace.png")).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/*.png: cargo xtask screenshots"]
async fn flex_board_and_editor() {
    let server = Server::start_with(&["--demo"]).await;
    let b = Browser::start().await;
    // The default board over the demo's backfilled quarter hour.
    tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    b.client.goto(&server.url("/boards/overview?range=15m&live=0")).await.unwrap();
    b.wait_js("document.querySelectorAll('[data-testid=widget] [data-series]').length >= 2 && !document.querySelector('.widget-progress.on')").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    b.screenshot(&docs.join("screenshot-board.png")).await;
    b.find("[data-testid=edit]").await.click().await.unwrap();
    b.find("[data-testid=add-widget]").await;
    b.screenshot(&docs.join("screenshot-board-edit.png")).await;
    b.find("[data-testid=add-widget]").await.click().await.unwrap();
    b.js("const e = document.querySelector('[data-testid=editor-metric]'); e.value = 'transactions.response_time'; e.dispatchEvent(new Event('change', {bubbles: true}));").await;
    b.find("[data-testid=editor-group-service]").await.click().await.unwrap();
    b.wait_js("document.querySelector('[data-testid=widget-preview] [data-series]')?.dataset.series > 1").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.screenshot(&docs.join("screenshot-board-editor.png")).await;
    b.find("[data-testid=editor-cancel]").await.click().await.unwrap();
    b.find("[data-testid=discard]").await.click().await.unwrap();

    // The Database overview template over the demo PostgreSQL (when its binaries are installed).
    let t: serde_json::Value = reqwest::get(server.url("/api/v1/boards/templates")).await.unwrap().json().await.unwrap();
    let mut db = t.as_array().unwrap().iter().find(|b| b["id"] == "database-overview").unwrap().clone();
    db["id"] = "".into();
    let created: serde_json::Value = reqwest::Client::new().post(server.url("/api/v1/boards")).json(&db).send().await.unwrap().json().await.unwrap();
    b.client.goto(&server.url(&format!("/boards/{}?range=5m&live=0", created["id"].as_str().unwrap()))).await.unwrap();
    b.wait_js("document.querySelectorAll('[data-testid=widget] [data-series]').length >= 2 && !document.querySelector('.widget-progress.on')").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    b.screenshot(&docs.join("screenshot-board-db.png")).await;
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.find("[data-testid=board-row]").await;
    b.find("[data-testid=template-servers]").await;
    b.screenshot(&docs.join("screenshot-boards.png")).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/*.png: cargo xtask screenshots"]
async fn servers_page() {
    let server = Server::start_with(&["--host-interval-ms", "1000"]).await;
    let b = Browser::start().await;
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    b.client.goto(&server.url("/servers?range=5m")).await.unwrap();
    b.find("[data-widget-id=processes] [data-testid=process-row]").await;
    b.find("[data-widget-id=processes] [data-testid=process-row]").await.click().await.unwrap();
    b.wait_js("document.querySelectorAll('[data-testid=process-history] [data-series=\"1\"]').length === 2").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    b.screenshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshot-servers.png")).await;
    b.close().await;
}
