//! The APM hitmap in real headless Chromium: seeded transactions, a real drag over the 3 s band, the
//! list of exactly those transactions, and the trace behind one of them. Also the "≥ max" and 0 ms
//! edges that peer tools make unselectable.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::otlp::{child, send, transaction, TestSpan};
use support::{Browser, Server};

const STUCK: usize = 6;

/// 60 quick transactions over ~8 minutes, `STUCK` pinned at ~3 s with a slow SQL step, one at 12 s
/// (above the 5 s axis) and two at 0 ms.
fn seed(now: f64) -> (Vec<TestSpan>, Vec<String>) {
    let mut spans = Vec::new();
    let mut stuck = Vec::new();
    for i in 0..60u64 {
        let end = now - 30_000.0 - i as f64 * 8_000.0;
        spans.push(transaction("shop", 100 + i, "GET /api/items", end, 20.0 + (i % 7) as f64 * 35.0, i % 9 == 0));
    }
    for i in 0..STUCK as u64 {
        let end = now - 60_000.0 - i as f64 * 40_000.0;
        let mut tx = transaction("shop", 500 + i, "POST /api/checkout", end, 3_000.0 + i as f64 * 8.0, true);
        tx.attrs.push(("thread.name", format!("http-nio-8080-exec-{}", 40 + i)));
        let sql = child(&tx, 1, "SELECT inventory", 3, tx.start_ms + 5.0, 2_980.0, vec![
            ("db.system", "postgresql".into()),
            ("db.query.text", "SELECT qty FROM inventory WHERE sku = $1 FOR UPDATE".into()),
            ("thread.name", format!("http-nio-8080-exec-{}", 40 + i)),
        ]);
        stuck.push(tx.trace_id.clone());
        spans.push(sql);
        spans.push(tx);
    }
    spans.push(transaction("shop", 900, "GET /api/report", now - 100_000.0, 12_000.0, false));
    spans.push(transaction("shop", 901, "GET /api/ping", now - 90_000.0, 0.0, false));
    spans.push(transaction("shop", 902, "GET /api/ping", now - 80_000.0, 0.0, false));
    (spans, stuck)
}

struct Plot {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    rows: f64,
    ymax: f64,
}

impl Plot {
    async fn read(b: &Browser) -> Plot {
        b.wait_js("document.querySelector('[data-testid=hitmap-canvas]').dataset.grid").await;
        let v = b.js("const c = document.querySelector('[data-testid=hitmap-canvas]'); return [c.dataset.plot, c.dataset.grid];").await;
        let plot: Vec<f64> = v[0].as_str().unwrap().split(',').map(|s| s.parse().unwrap()).collect();
        let grid: Vec<f64> = v[1].as_str().unwrap().split(',').map(|s| s.parse().unwrap()).collect();
        Plot { x: plot[0], y: plot[1], w: plot[2], h: plot[3], rows: grid[3], ymax: grid[4] }
    }

    /// y (CSS px in the canvas) of a duration on the linear axis.
    fn y_of(&self, ms: f64) -> f64 {
        let row_h = self.h / (self.rows + 1.0);
        self.y + self.h - ms / self.ymax * self.rows * row_h
    }
}

/// Wall-clock time in epoch milliseconds.
fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64
}

/// A server that has seen one quick transaction, a minute ago.
async fn with_one_transaction() -> Server {
    let server = Server::start().await;
    send(&server.url(""), &[transaction("shop", 1, "GET /a", now() - 60_000.0, 40.0, false)]).await;
    server
}

async fn seeded() -> (Server, Vec<String>, i64, i64) {
    let server = Server::start().await;
    let (spans, stuck) = seed(now());
    // Children first and parents later, in separate requests, as batching exporters do.
    let (children, parents): (Vec<_>, Vec<_>) = spans.into_iter().partition(|s| s.parent.is_some());
    send(&server.url(""), &children).await;
    send(&server.url(""), &parents).await;
    let to = now() as i64;
    let from = to - 10 * 60_000;
    (server, stuck, from, to)
}

#[tokio::test(flavor = "multi_thread")]
async fn dragging_over_the_3s_band_lists_exactly_the_stuck_transactions_and_opens_their_trace() {
    let (server, stuck, from, to) = seeded().await;
    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?from={from}&to={to}"))).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with(&format!("{} transactions", 60 + STUCK + 3))).await;

    let p = Plot::read(&b).await;
    b.drag("[data-testid=hitmap-canvas]", (p.x + 2.0, p.y_of(3_400.0)), (p.x + p.w - 2.0, p.y_of(2_700.0))).await;

    b.wait_text("[data-testid=tx-count]", |t| t == format!("1–{STUCK} of {STUCK}")).await;
    let ids = b.js("return [...document.querySelectorAll('[data-testid=tx-row]')].map(r => r.dataset.traceId)").await;
    let mut ids: Vec<String> = ids.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let durations = b.js("return [...document.querySelectorAll('[data-testid=tx-duration]')].map(r => r.textContent)").await;
    assert_eq!(durations[0], "3.04 s", "slowest first: {durations}");
    ids.sort();
    let mut expected = stuck.clone();
    expected.sort();
    assert_eq!(ids, expected, "exactly the stuck transactions are listed");
    // The selection is in the URL: a reload reproduces the list.
    assert!(b.url().await.contains("sel="));
    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=tx-count]", |t| t == format!("1–{STUCK} of {STUCK}")).await;

    // Newest first flips the order.
    b.find("[data-testid=order-newest]").await.click().await.unwrap();
    b.wait_js("location.search.includes('order=newest')").await;
    b.wait_js("[...document.querySelectorAll('[data-testid=tx-duration]')][0]?.textContent === '3.00 s'").await;

    // Open the first one: its trace shows the SQL step and the thread.
    b.find("[data-testid=tx-row]").await.click().await.unwrap();
    b.find("[data-testid=trace-view]").await;
    let sql_row = b.find("[data-testid=trace-row][data-step-kind=sql]").await;
    sql_row.click().await.unwrap();
    b.wait_text("[data-testid=trace-sql]", |t| t.contains("SELECT qty FROM inventory WHERE sku = $1 FOR UPDATE")).await;
    b.wait_text("[data-testid=trace-detail]", |t| t.contains("http-nio-8080-exec-4")).await;

    // Esc closes the trace first, then clears the selection.
    b.find("[data-testid=trace-close]").await.click().await.unwrap();
    b.wait_js("!document.querySelector('[data-testid=trace-view]')").await;
    b.js("window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))").await;
    b.wait_js("!document.querySelector('[data-testid=selection-panel]') && !location.search.includes('sel=')").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_over_max_band_and_zero_ms_transactions_are_selectable() {
    let (server, _, from, to) = seeded().await;
    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?from={from}&to={to}"))).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with(&format!("{} transactions", 60 + STUCK + 3))).await;
    let p = Plot::read(&b).await;

    // The top band (≥ 5 s) holds the 12 s report.
    let band_mid = p.y + p.h / (p.rows + 1.0) / 2.0;
    b.drag("[data-testid=hitmap-canvas]", (p.x + 1.0, band_mid - 1.0), (p.x + p.w - 1.0, band_mid + 1.0)).await;
    b.wait_text("[data-testid=tx-count]", |t| t == "1–1 of 1").await;
    b.wait_text("[data-testid=selection-panel]", |t| t.contains("GET /api/report") && t.contains("12.00 s")).await;
    assert!(b.url().await.contains("sel="));

    // The bottom row starts at 0 ms: both pings are in it.
    let bottom = p.y + p.h - 1.0;
    b.drag("[data-testid=hitmap-canvas]", (p.x + 1.0, bottom - 2.0), (p.x + p.w - 1.0, bottom)).await;
    b.wait_text("[data-testid=selection-panel]", |t| t.matches("GET /api/ping").count() == 2).await;

    // The log scale is a URL parameter too, and redraws the same transactions.
    b.find("[data-testid=scale-log]").await.click().await.unwrap();
    b.wait_js("location.search.includes('scale=log') && document.querySelector('[data-testid=scale-log]').classList.contains('selected')").await;
    assert_eq!(b.js("return document.querySelector('[data-testid=scale-linear]').classList.contains('selected')").await, false);
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with(&format!("{} transactions", 60 + STUCK + 3))).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn live_mode_adds_new_transactions_from_the_stream_without_reloading() {
    let server = with_one_transaction().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm?range=15m")).await.unwrap();
    b.wait_text("[data-testid=stream-state]", |t| t == "streaming").await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with("1 transactions")).await;
    // Mark the page so a reload would be detected.
    b.js("window.__sameDocument = true").await;

    let fresh: Vec<_> = (0..5).map(|i| transaction("shop", 10 + i, "GET /b", now() - 100.0, 50.0, i == 0)).collect();
    send(&server.url(""), &fresh).await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t == "6 transactions · 1 errors").await;
    assert_eq!(b.js("return window.__sameDocument === true").await, true);
    b.close().await;
}

/// A first visit to the APM page with its defaults: the page itself asks for the hitmap while the wasm
/// loads (index.html), and the app shows that answer instead of asking again; then, live, new transactions
/// still arrive from the stream, counted once.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_hitmap_is_the_one_the_page_asked_for_while_the_app_loaded() {
    let server = with_one_transaction().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm")).await.unwrap();
    b.wait_text("[data-testid=stream-state]", |t| t == "streaming").await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with("1 transactions")).await;
    let v = b
        .js("const p = window.__sightline_prefetch;
             const r = performance.getEntriesByType('resource');
             const wasm = r.find(e => e.name.endsWith('.wasm'));
             const first = r.find(e => e.name.includes('/api/v1/hitmap?'));
             return { at: p.at, waiting: Object.keys(p.requests).length, url: new URL(first.name).search,
                      before_wasm: first.startTime < wasm.responseEnd };")
        .await;
    assert_eq!(v["waiting"], 0, "the app took the page's request: {v}");
    let at = v["at"].as_i64().unwrap();
    assert_eq!(v["url"], format!("?from={}&to={at}&cols=240&rows=100&ymax=5000.0&scale=linear", at - 15 * 60_000), "{v}");
    assert_eq!(v["before_wasm"], true, "sent while the wasm loaded: {v}");

    send(&server.url(""), &[transaction("shop", 2, "GET /b", now() - 100.0, 50.0, true)]).await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t == "2 transactions · 1 errors").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drag_that_starts_in_the_axis_margin_selects_from_the_plot_edge() {
    let (server, stuck, from, to) = seeded().await;
    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?from={from}&to={to}"))).await.unwrap();
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with(&format!("{} transactions", 60 + STUCK + 3))).await;
    let p = Plot::read(&b).await;

    // From the left margin (over the duration labels) across the 3 s band: the same transactions as a
    // drag from the plot's left edge.
    b.drag("[data-testid=hitmap-canvas]", (p.x - 30.0, p.y_of(3_400.0)), (p.x + p.w - 2.0, p.y_of(2_700.0))).await;
    b.wait_text("[data-testid=tx-count]", |t| t == format!("1–{STUCK} of {STUCK}")).await;
    let sel = b.js("return new URLSearchParams(location.search).get('sel')").await;
    assert_eq!(sel.as_str().unwrap().split(',').next().unwrap(), from_of_grid(&b).await, "starts at the first column");
    let ids = b.js("return [...document.querySelectorAll('[data-testid=tx-row]')].map(r => r.dataset.traceId).sort()").await;
    let mut expected = stuck.clone();
    expected.sort();
    assert_eq!(ids, serde_json::json!(expected));

    // From the bottom-left corner, below the time labels, up to 1 s: the bottom row is in (0 ms pings
    // included), so every quick transaction is selected.
    b.drag("[data-testid=hitmap-canvas]", (p.x - 20.0, p.y + p.h + 14.0), (p.x + p.w - 2.0, p.y_of(1_000.0))).await;
    b.wait_text("[data-testid=tx-count]", |t| t == "1–50 of 62").await;
    let sel = b.js("return new URLSearchParams(location.search).get('sel')").await;
    assert_eq!(sel.as_str().unwrap().split(',').nth(2), Some("0"), "from 0 ms: {sel}");

    // A click on an axis label is not a selection: the last one stays.
    let before = b.url().await;
    b.drag("[data-testid=hitmap-canvas]", (p.x - 30.0, p.y_of(2_000.0)), (p.x - 30.0, p.y_of(2_000.0))).await;
    b.wait_text("[data-testid=tx-count]", |t| t == "1–50 of 62").await;
    assert_eq!(b.url().await, before);
    b.close().await;
}

/// The first column's start, as the canvas reports its grid.
async fn from_of_grid(b: &Browser) -> String {
    b.js("return document.querySelector('[data-testid=hitmap-canvas]').dataset.grid.split(',')[0]").await.as_str().unwrap().to_string()
}

/// A live event the app cannot read cannot come from the real server (it only sends what it encoded), so
/// the browser's `EventSource` is wrapped (before the APM page opens it) to hand the page one such event
/// among the real ones. The decoding and resync rules themselves are also tested in tests/wasm_logic.rs.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_update_that_cannot_be_read_is_reported_and_the_hitmap_resyncs() {
    let server = with_one_transaction().await;
    let b = Browser::start().await;
    // Start elsewhere, wrap EventSource, then navigate inside the app (same document).
    b.client.goto(&server.url("/boards?range=15m")).await.unwrap();
    b.find("[data-testid=page-boards]").await;
    b.js("window.__sources = []; const Real = window.EventSource; window.EventSource = class extends Real { constructor(u, o) { super(u, o); window.__sources.push(this); } };").await;
    b.find("[data-testid=nav-apm]").await.click().await.unwrap();
    b.wait_text("[data-testid=stream-state]", |t| t == "streaming").await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with("1 transactions")).await;
    assert!(!b.exists("[data-testid=live-batch-error]").await);
    let snapshots = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/hitmap?')).length";
    let before = b.js(&format!("return {snapshots};")).await.as_u64().unwrap();

    b.js("window.__sources.at(-1).dispatchEvent(new MessageEvent('message', { data: '[{\"end_ms\": \"soon\"}]', lastEventId: '999999999' }));").await;
    let text = b.wait_text("[data-testid=live-batch-error]", |t| !t.is_empty()).await;
    assert!(text.contains("a live update could not be read") && text.contains("reloaded from the server"), "{text}");
    // The resync: a new snapshot, the same count (the bad event counted nothing).
    b.wait_js(&format!("{snapshots} > {before}")).await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t.starts_with("1 transactions")).await;

    // The stream goes on: new transactions still arrive without a reload.
    send(&server.url(""), &[transaction("shop", 2, "GET /b", now() - 100.0, 50.0, true)]).await;
    b.wait_text("[data-testid=hitmap-totals]", |t| t == "2 transactions · 1 errors").await;
    b.close().await;
}
