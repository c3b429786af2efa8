//! In-browser benchmarks of the app (run by `cargo xtask bench`, ignored by `cargo test`): numbers go
//! to BENCHMARKS.md; nothing here asserts on time.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::otlp::{send, transaction};
use support::{Browser, Server};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Draw time of a hitmap where every one of the 240 × 101 cells holds transactions (the worst case
/// for the cell pass), sampled over the redraws of a slow drag.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: cargo xtask bench"]
async fn hitmap_full_grid_draw_time() {
    let server = Server::start().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (from, to) = (now - 15 * 60_000, now);
    let col_ms = (to - from) as f64 / 240.0;
    let mut trace = 1u64;
    let mut batch = Vec::new();
    for col in 0..240 {
        for row in 0..=100 {
            let end = from as f64 + (col as f64 + 0.5) * col_ms;
            let dur = if row == 100 { 9_000.0 } else { (row as f64 + 0.5) * 50.0 };
            batch.push(transaction("bench", trace, "GET /x", end, dur, (col + row) % 11 == 0));
            trace += 1;
        }
        if batch.len() >= 3_000 {
            send(&server.url(""), &batch).await;
            batch.clear();
        }
    }
    send(&server.url(""), &batch).await;

    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?from={from}&to={to}"))).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with("24,240 transactions")).await;
    let filled = b.js("const c = document.querySelector('[data-testid=hitmap-canvas]'); return [c.width, c.height, window.devicePixelRatio]").await;
    b.js("window.__hitmapDrawMs = []").await;
    for _ in 0..5 {
        b.drag("[data-testid=hitmap-canvas]", (100.0, 40.0), (900.0, 300.0)).await;
    }
    let samples = b.js("return window.__hitmapDrawMs").await;
    let mut ms: Vec<f64> = samples.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(ms.len() >= 5, "too few draws sampled: {}", ms.len());
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "hitmap draw, full 240x101 grid, canvas {filled}: n={} median={:.2} ms p95={:.2} ms max={:.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms[ms.len() - 1]
    );
    b.close().await;
}
