//! In-browser benchmarks of the app (run by `cargo xtask bench`, ignored by `cargo test`): numbers go
//! to BENCHMARKS.md; nothing here asserts on time.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use sightline_app::components::hitmap_chart::{DRAW_MEASURE, FIRST_DATA_MARK};
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
    // The app measures each draw with User Timing; only the drags' draws count.
    b.js(&format!("performance.clearMeasures('{DRAW_MEASURE}')")).await;
    for _ in 0..5 {
        b.drag("[data-testid=hitmap-canvas]", (100.0, 40.0), (900.0, 300.0)).await;
    }
    let samples = b.js(&format!("return performance.getEntriesByName('{DRAW_MEASURE}').map(e => e.duration)")).await;
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

/// A board of 12 widgets (4 numbers, 4 time series, a bar chart, 2 top-N tables, a hitmap) over 6 hours of
/// traffic: time from navigation start until every widget has drawn its data, measured in the page
/// (`performance.now()` when a requestAnimationFrame check first sees all 12 done); then the same after a
/// range change, from the click.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: cargo xtask bench"]
async fn board_with_12_widgets_over_6h_render_time() {
    let server = Server::start().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    const SERVICES: [&str; 4] = ["gateway", "checkout", "catalog", "billing"];
    const ENDPOINTS: [&str; 6] = ["GET /api/items", "POST /api/cart", "POST /api/pay", "GET /api/user", "GET /health", "POST /api/search"];
    // One transaction every 0.5 s for 6 h: 43 200 transactions.
    let mut batch = Vec::new();
    let total = 6 * 3600 * 2;
    for i in 0..total as u64 {
        let end = now - 1_000.0 - i as f64 * 500.0;
        let dur = 20.0 + ((i * 7919) % 600) as f64 + if i % 97 == 0 { 3_000.0 } else { 0.0 };
        batch.push(transaction(SERVICES[(i % 4) as usize], 1_000_000 + i, ENDPOINTS[(i % 6) as usize], end, dur, i % 23 == 0));
        if batch.len() == 4_000 {
            send(&server.url(""), &batch).await;
            batch.clear();
        }
    }
    send(&server.url(""), &batch).await;

    let q = |m: &str, g: &[&str]| serde_json::json!({"metric": m, "group_by": g});
    let w = |id: &str, kind: &str, x: u32, y: u32, wd: u32, h: u32, query: serde_json::Value| {
        serde_json::json!({"id": id, "kind": kind, "title": id, "x": x, "y": y, "w": wd, "h": h, "query": query, "options": {"sparkline": true}})
    };
    let widgets = vec![
        w("n1", "single_number", 0, 0, 6, 4, q("transactions.tps", &[])),
        w("n2", "single_number", 6, 0, 6, 4, q("transactions.response_time.p95", &[])),
        w("n3", "single_number", 12, 0, 6, 4, q("transactions.error_rate", &[])),
        w("n4", "single_number", 18, 0, 6, 4, q("transactions.errors", &[])),
        w("t1", "timeseries", 0, 4, 12, 7, q("transactions.tps", &["service"])),
        w("t2", "timeseries", 12, 4, 12, 7, q("transactions.response_time.p95", &["service"])),
        w("t3", "timeseries", 0, 11, 12, 7, q("transactions.response_time.p99", &["endpoint"])),
        w("t4", "timeseries", 12, 11, 12, 7, q("transactions.error_rate", &["service"])),
        w("b1", "bar", 0, 18, 12, 7, q("transactions.errors", &["service"])),
        w("top1", "top_n", 12, 18, 12, 7, q("transactions.response_time.p95", &["endpoint"])),
        w("top2", "top_n", 0, 25, 12, 7, q("transactions.errors", &["endpoint"])),
        serde_json::json!({"id": "hm", "kind": "hitmap", "title": "hitmap", "x": 12, "y": 25, "w": 12, "h": 7}),
    ];
    let board = serde_json::json!({"format_version": 1, "id": "bench12", "title": "Bench 12", "widgets": widgets,
        "time": {"range": {"type": "relative", "ms": 6 * 3_600_000}, "live": false}});
    let r = reqwest::Client::new().post(server.url("/api/v1/boards")).json(&board).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // Every widget drew its data and none is loading.
    const DONE: &str = "(() => { const ws = [...document.querySelectorAll('[data-testid=widget]')]; return ws.length === 12 && ws.every(w => !w.querySelector('.widget-progress.on') && w.querySelector('[data-series]:not([data-series=\"0\"]), [data-testid=single-number-value], [data-testid=top-n-row], canvas[data-grid]')); })()";
    let watch = format!("window.__done = null; const f = () => {{ if ({DONE}) {{ window.__done = performance.now() - (window.__t0 ?? 0); }} else requestAnimationFrame(f); }}; f();");
    let b = Browser::start().await;
    let mut first = Vec::new();
    for _ in 0..6 {
        b.client.goto(&server.url("/boards/bench12?range=6h&live=0")).await.unwrap();
        // `__t0` unset: time since navigation start.
        b.js(&watch).await;
        b.wait_js("window.__done !== null").await;
        first.push(b.js("return window.__done").await.as_f64().unwrap());
    }
    let mut change = Vec::new();
    // After the click: first some widget must start loading, then all must be done.
    let watch_change = format!("window.__done = null; let seen = false; const f = () => {{ if (!seen) seen = !!document.querySelector('.widget-progress.on'); if (seen && {DONE}) {{ window.__done = performance.now() - window.__t0; }} else requestAnimationFrame(f); }}; f();");
    for range in ["1h", "6h", "1h", "6h", "1h", "6h"] {
        b.js(&format!("{watch_change} window.__t0 = performance.now(); document.querySelector('[data-testid=range-{range}]').click();")).await;
        b.wait_js("window.__done !== null").await;
        change.push(b.js("return window.__done").await.as_f64().unwrap());
    }
    let fmt = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        format!("median={:.0} ms max={:.0} ms (n={})", percentile(&v, 0.5), v[v.len() - 1], v.len())
    };
    // The first load is the cold one (wasm compile); report it apart.
    println!("board 12 widgets / 6 h / {total} transactions: full render from navigation start: first={:.0} ms, then {}", first[0], fmt(first[1..].to_vec()));
    println!("board 12 widgets / 6 h: re-render after a range change (from the click): {}", fmt(change));
    b.close().await;
}

/// What a first visit costs (issue 16), over the demo workload: the time from navigation start to the first
/// hitmap draw that shows transactions on the APM page (the app's `FIRST_DATA_MARK`), the bytes the page,
/// its script and wasm took on the wire (Resource Timing `transferSize`; the API's answers not counted),
/// and when the app ran (its first request: who is signed in). Cold: a new browser with a fresh profile
/// each run (nothing cached, the wasm compiled anew); warm: reloads in the last one.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: cargo xtask bench"]
async fn apm_first_data_paint() {
    let server = support::demo::start().await;
    let painted = format!("performance.getEntriesByName('{FIRST_DATA_MARK}').length > 0");
    let read = format!(
        "const n = performance.getEntriesByType('navigation')[0];
         const r = performance.getEntriesByType('resource');
         const app = r.filter(e => !new URL(e.name).pathname.startsWith('/api/'));
         const first = p => r.find(e => new URL(e.name).pathname.endsWith(p));
         const wasm = first('.wasm'), hitmap = first('/api/v1/hitmap'), me = first('/api/v1/auth/me');
         return {{ paint: performance.getEntriesByName('{FIRST_DATA_MARK}')[0].startTime,
                  bytes: n.transferSize + app.reduce((s, e) => s + e.transferSize, 0), files: app.length + 1,
                  page_end: n.responseEnd, wasm_start: wasm ? wasm.startTime : -1, wasm_end: wasm ? wasm.responseEnd : -1,
                  hitmap_start: hitmap ? hitmap.startTime : -1, hitmap_end: hitmap ? hitmap.responseEnd : -1,
                  app_start: me ? me.startTime : -1 }}"
    );
    let line = |v: &serde_json::Value| {
        let f = |k: &str| v[k].as_f64().unwrap_or(-1.0);
        format!(
            "{:.0} ms (page received {:.0}, wasm asked {:.0}, received {:.0}, hitmap asked {:.0}, answered {:.0}, app's first request {:.0}; {} files, {:.0} KB)",
            f("paint"), f("page_end"), f("wasm_start"), f("wasm_end"), f("hitmap_start"), f("hitmap_end"), f("app_start"), v["files"], f("bytes") / 1000.0
        )
    };
    let summary = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        format!("median={:.0} ms min={:.0} ms max={:.0} ms (n={})", percentile(&v, 0.5), v[0], v[v.len() - 1], v.len())
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    const RUNS: usize = 5;
    let mut b = None;
    for run in 0..RUNS {
        let browser = Browser::start().await;
        browser.client.goto(&server.url("/apm")).await.unwrap();
        browser.wait_js(&painted).await;
        let v = browser.js(&read).await;
        println!("APM first data paint, cold run {run}: {}", line(&v));
        cold.push(v["paint"].as_f64().unwrap());
        // The last browser stays for the warm runs.
        if let Some(done) = b.replace(browser) {
            done.close().await;
        }
    }
    let b = b.unwrap();
    for run in 0..RUNS {
        b.client.refresh().await.unwrap();
        b.wait_js(&painted).await;
        let v = b.js(&read).await;
        println!("APM first data paint, warm run {run}: {}", line(&v));
        warm.push(v["paint"].as_f64().unwrap());
    }
    println!("APM first data paint, cold (fresh profile): {}", summary(cold));
    println!("APM first data paint, warm (reload): {}", summary(warm));
    b.close().await;
}
