//! Flex boards in real headless Chromium against the real server: build a board from a template, add
//! widgets from the catalogue, move and resize by dragging, save and reload; a refused import; two
//! sessions saving the same board; restoring an old version; the read-only share link; notes rendered by
//! the server (raw HTML inert, a refused one explained in its tile); a failing widget
//! next to working ones; one request per widget when the range changes.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::{json, Value};
use support::otlp::{send, transaction};
use support::{Browser, Server};

/// `[id, x, y, w, h, title]` of every widget on the page, sorted by id.
async fn layout(b: &Browser) -> Vec<Value> {
    let v = b
        .js("return [...document.querySelectorAll('[data-testid=widget]')].map(w => [w.dataset.widgetId, +w.dataset.x, +w.dataset.y, +w.dataset.w, +w.dataset.h, w.querySelector('[data-testid=widget-title]').textContent]).sort((a, b) => a[0] < b[0] ? -1 : 1);")
        .await;
    v.as_array().unwrap().clone()
}

async fn widget_geom(b: &Browser, id: &str) -> (i64, i64, i64, i64) {
    let v = b.js(&format!("const w = document.querySelector('[data-widget-id=\"{id}\"]').dataset; return [+w.x, +w.y, +w.w, +w.h];")).await;
    let n = |i: usize| v[i].as_i64().unwrap();
    (n(0), n(1), n(2), n(3))
}

/// The value of the JavaScript expression `count` once it has stopped changing: the same in
/// `STABLE_POLLS` polls in a row, 100 ms apart. A count that keeps growing (a request storm) never settles,
/// and the wait fails at the UI deadline.
async fn settled_count(b: &Browser, count: &str) -> u64 {
    const STABLE_POLLS: u32 = 8;
    let deadline = std::time::Instant::now() + support::UI_TIMEOUT;
    let (mut last, mut same) = (u64::MAX, 0);
    while std::time::Instant::now() < deadline {
        let n = b.js(&format!("return {count};")).await.as_u64().unwrap();
        same = if n == last { same + 1 } else { 0 };
        last = n;
        if same + 1 >= STABLE_POLLS {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("`{count}` never settled (last {last})");
}

async fn widget_count(b: &Browser) -> usize {
    b.js("return document.querySelectorAll('[data-testid=widget]').length;").await.as_u64().unwrap() as usize
}

/// Width of one grid column plus its gap, in CSS px.
async fn col_pitch(b: &Browser) -> f64 {
    b.js("return (document.querySelector('[data-testid=board-grid]').getBoundingClientRect().width + 8) / 24;").await.as_f64().unwrap()
}

async fn api_board(server: &Server, id: &str) -> Value {
    reqwest::get(server.url(&format!("/api/v1/boards/{id}"))).await.unwrap().json().await.unwrap()
}

fn board_id_of(url: &str) -> String {
    url.split("/boards/").nth(1).unwrap().split(['?', '#']).next().unwrap().to_string()
}

async fn seed_traffic(server: &Server) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    let mut spans = Vec::new();
    for i in 0..120u64 {
        let service = if i % 2 == 0 { "shop" } else { "billing" };
        spans.push(transaction(service, 10_000 + i, if i % 3 == 0 { "GET /api/items" } else { "POST /api/pay" }, now - 20_000.0 - i as f64 * 5_000.0, 40.0 + (i % 11) as f64 * 30.0, i % 10 == 0));
    }
    send(&server.url(""), &spans).await;
}

/// Sends spans of one service reporting `service.version` = `version`, as an SDK's resource would.
async fn send_versioned(server: &Server, version: &str, spans: &[support::otlp::TestSpan]) {
    let mut body = support::otlp::export_json(spans);
    body["resourceSpans"][0]["resource"]["attributes"].as_array_mut().unwrap().push(json!({"key": "service.version", "value": {"stringValue": version}}));
    let r = reqwest::Client::new().post(server.url("/v1/traces")).json(&body).send().await.unwrap();
    assert!(r.status().is_success());
}

// Long on purpose (~100 lines): one user's session from template to saved board; each step starts from
// the state the previous one left (widgets added, moved, undone), so splitting would only repeat it.
#[tokio::test(flavor = "multi_thread")]
async fn build_a_board_from_a_template_drag_save_and_reload() {
    let server = Server::start().await;
    seed_traffic(&server).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.click("[data-testid=template-apm-overview]").await;
    b.find("[data-testid=board-grid]").await;
    b.wait_js("location.search.includes('edit=1') && location.search.includes('range=')").await;
    let id = board_id_of(&b.url().await);
    assert_ne!(id, "apm-overview", "a board made from a template gets its own id");
    let start = widget_count(&b).await;
    assert_eq!(start, 9, "the APM overview template has 9 widgets");
    // The template's charts drew real data (seeded traffic): the throughput-by-service chart has 2 series.
    b.wait_js("document.querySelector('[data-widget-id=\"tps-by-service\"] [data-series]')?.dataset.series === '2'").await;

    // 1. A time series of p99 by endpoint.
    b.click("[data-testid=add-widget]").await;
    b.find("[data-testid=widget-editor]").await;
    b.set_value("[data-testid=editor-metric]", "transactions.response_time").await;
    b.set_value("[data-testid=editor-aggregation]", "p99").await;
    b.click("[data-testid=editor-group-endpoint]").await;
    b.set_value("[data-testid=editor-title]", "p99 by endpoint").await;
    // The live preview draws the query being built.
    b.wait_js("document.querySelector('[data-testid=widget-preview] [data-series]')?.dataset.series === '2'").await;
    b.click("[data-testid=editor-apply]").await;
    // 2. A single number of the error count.
    b.click("[data-testid=add-widget]").await;
    b.click("[data-testid=catalogue-single_number]").await;
    b.set_value("[data-testid=editor-metric]", "transactions.errors").await;
    b.set_value("[data-testid=editor-title]", "Errors (all services)").await;
    b.click("[data-testid=editor-apply]").await;
    // 3. A note.
    b.click("[data-testid=add-widget]").await;
    b.click("[data-testid=catalogue-text]").await;
    b.set_value("[data-testid=editor-title]", "On call").await;
    b.set_value("[data-testid=editor-text]", "Page **#payments**").await;
    b.click("[data-testid=editor-apply]").await;
    b.wait_js(&format!("document.querySelectorAll('[data-testid=widget]').length === {}", start + 3)).await;
    b.wait_text("[data-widget-id=widget-3] [data-testid=widget-text]", |t| t.contains("Page #payments")).await;

    // Move "tps" (top-left, 6×4) two widgets to the right by dragging its title bar: it lands at column 12
    // and the error-rate widget that was there is pushed down.
    let pitch = col_pitch(&b).await;
    assert_eq!(widget_geom(&b, "tps").await, (0, 0, 6, 4));
    b.drag("[data-widget-id=tps] [data-testid=widget-handle]", (30.0, 10.0), (30.0 + 12.0 * pitch, 10.0)).await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.x === '12'").await;
    let (_, ey, _, _) = widget_geom(&b, "error-rate").await;
    assert!(ey >= 4, "the widget in the way was pushed down (row {ey})");
    // Resize it by its corner: 2 columns wider, 2 rows taller.
    b.drag("[data-widget-id=tps] [data-testid=widget-resize]", (8.0, 8.0), (8.0 + 2.0 * pitch, 8.0 + 2.0 * 40.0)).await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.w === '8'").await;
    assert_eq!(widget_geom(&b, "tps").await, (12, 0, 8, 6));
    // Nothing overlaps after the drags.
    let l = layout(&b).await;
    for (i, a) in l.iter().enumerate() {
        for c in &l[i + 1..] {
            let (ax, ay, aw, ah) = (a[1].as_i64().unwrap(), a[2].as_i64().unwrap(), a[3].as_i64().unwrap(), a[4].as_i64().unwrap());
            let (cx, cy, cw, ch) = (c[1].as_i64().unwrap(), c[2].as_i64().unwrap(), c[3].as_i64().unwrap(), c[4].as_i64().unwrap());
            assert!(!(ax < cx + cw && cx < ax + aw && ay < cy + ch && cy < ay + ah), "{a:?} overlaps {c:?}");
        }
    }
    // Undo takes back the resize only.
    b.click("[data-testid=undo]").await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.w === '6'").await;
    assert_eq!(widget_geom(&b, "tps").await, (12, 0, 6, 4));
    b.drag("[data-widget-id=tps] [data-testid=widget-resize]", (8.0, 8.0), (8.0 + 2.0 * pitch, 8.0 + 2.0 * 40.0)).await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.w === '8'").await;

    // The keyboard does the same: Shift+↓ one row taller, ← one column left; undo takes both back.
    let key = |k: &str, shift: bool| format!("document.querySelector('[data-widget-id=tps]').dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}', shiftKey: {shift}, bubbles: true}}));");
    b.js(&key("ArrowDown", true)).await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.h === '7'").await;
    b.js(&key("ArrowLeft", false)).await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.x === '11'").await;
    b.click("[data-testid=undo]").await;
    b.click("[data-testid=undo]").await;
    b.wait_js("document.querySelector('[data-widget-id=tps]').dataset.h === '6'").await;
    assert_eq!(widget_geom(&b, "tps").await, (12, 0, 8, 6));

    let before = layout(&b).await;
    assert!(b.exists("[data-testid=unsaved]").await);
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", |t| t.contains("Saved as version 2")).await;
    assert!(!b.exists("[data-testid=unsaved]").await);

    // Reload: the same layout, and the server has the queries as built.
    b.client.refresh().await.unwrap();
    b.find("[data-testid=board-grid]").await;
    b.wait_js(&format!("document.querySelectorAll('[data-testid=widget]').length === {}", start + 3)).await;
    assert_eq!(layout(&b).await, before);
    let saved = api_board(&server, &id).await;
    let w = |wid: &str| saved["widgets"].as_array().unwrap().iter().find(|w| w["id"] == wid).unwrap().clone();
    assert_eq!(w("widget-1")["query"], json!({"metric": "transactions.response_time.p99", "group_by": ["endpoint"]}));
    assert_eq!(w("widget-1")["kind"], "timeseries");
    assert_eq!(w("widget-2")["query"]["metric"], "transactions.errors");
    assert_eq!(w("widget-2")["kind"], "single_number");
    assert_eq!(w("widget-3")["options"]["text"], "Page **#payments**");
    assert_eq!((w("tps")["x"].as_i64(), w("tps")["w"].as_i64(), w("tps")["h"].as_i64()), (Some(12), Some(8), Some(6)));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_import_is_refused_with_every_problem_and_changes_nothing() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.find("[data-testid=board-row]").await;
    let rows = || async { b.js("return document.querySelectorAll('[data-testid=board-row]').length;").await.as_u64().unwrap() };
    let before = rows().await;
    let list_before: Value = reqwest::get(server.url("/api/v1/boards")).await.unwrap().json().await.unwrap();

    let bad = json!({
        "format_version": 1, "id": "overview", "title": "Broken",
        "widgets": [
            {"id": "a", "kind": "timeseries", "x": 0, "y": 0, "w": 30, "h": 4, "query": {"metric": "transactions.tps"}},
            {"id": "b", "kind": "sparkles", "x": 0, "y": 0, "w": 4, "h": 4}
        ]
    });
    b.set_value("[data-testid=import-json]", &bad.to_string()).await;
    b.click("[data-testid=import]").await;
    let text = b.wait_text("[data-testid=import-problems]", |t| t.contains("Not imported")).await;
    assert!(text.contains("30 columns wide"), "{text}");
    assert!(text.contains("unknown kind \"sparkles\""), "{text}");
    // Not JSON at all: the server's own message.
    b.set_value("[data-testid=import-json]", "{ this is not json").await;
    b.click("[data-testid=import]").await;
    b.wait_text("[data-testid=notice]", |t| t.contains("Not imported")).await;

    let list_after: Value = reqwest::get(server.url("/api/v1/boards")).await.unwrap().json().await.unwrap();
    assert_eq!(list_before, list_after, "a failed import touches nothing");
    assert_eq!(api_board(&server, "overview").await["title"], "APM overview");
    assert_eq!(rows().await, before);

    // A valid export imports as a new board next to the original.
    let mut good = api_board(&server, "overview").await;
    good["title"] = json!("Imported overview");
    b.set_value("[data-testid=import-json]", &good.to_string()).await;
    b.click("[data-testid=import]").await;
    b.wait_text("[data-testid=board-title]", |t| t == "Imported overview").await;
    assert_ne!(board_id_of(&b.url().await), "overview");
    assert_eq!(api_board(&server, "overview").await["title"], "APM overview");

    // Delete asks first; cancelling keeps the board.
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.wait_js("[...document.querySelectorAll('[data-testid=board-link]')].some(a => a.textContent === 'Imported overview')").await;
    let n = rows().await;
    b.js("[...document.querySelectorAll('[data-testid=board-row]')].find(r => r.textContent.includes('Imported overview')).querySelector('[data-testid=delete]').click();").await;
    b.click("[data-testid=confirm-delete-no]").await;
    assert_eq!(rows().await, n);
    b.js("[...document.querySelectorAll('[data-testid=board-row]')].find(r => r.textContent.includes('Imported overview')).querySelector('[data-testid=delete]').click();").await;
    b.click("[data-testid=confirm-delete-yes]").await;
    b.wait_text("[data-testid=notice]", |t| t.contains("Deleted")).await;
    b.wait_js(&format!("document.querySelectorAll('[data-testid=board-row]').length === {}", n - 1)).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sessions_saving_the_same_board_conflict_with_a_diff_then_history_restores() {
    let server = Server::start().await;
    let first = Browser::start().await;
    let second = Browser::start().await;
    for b in [&first, &second] {
        b.client.goto(&server.url("/boards/overview?edit=1")).await.unwrap();
        b.find("[data-widget-id=hitmap]").await;
    }
    // The first session deletes the hitmap and saves.
    first.click("[data-widget-id=hitmap] [data-testid=widget-delete]").await;
    first.click("[data-testid=save]").await;
    first.wait_text("[data-testid=notice]", |t| t.contains("Saved as version 2")).await;

    // The second, still on version 1, moves "tps" and saves: refused, with both sides' changes.
    let pitch = col_pitch(&second).await;
    second.drag("[data-widget-id=tps] [data-testid=widget-handle]", (30.0, 10.0), (30.0 + 6.0 * pitch, 10.0)).await;
    second.wait_js("document.querySelector('[data-widget-id=tps]').dataset.x === '6'").await;
    second.click("[data-testid=save]").await;
    let theirs = second.wait_text("[data-testid=conflict-theirs]", |t| !t.is_empty()).await;
    assert!(theirs.contains("removed \"Response times\""), "{theirs}");
    let mine = second.wait_text("[data-testid=conflict-mine]", |t| !t.is_empty()).await;
    assert!(mine.contains("moved \"Throughput (tps)\""), "{mine}");
    assert_eq!(api_board(&server, "overview").await["version"], 2, "nothing was overwritten silently");

    // Overwrite: the second session's board wins as version 3.
    second.click("[data-testid=conflict-overwrite]").await;
    second.wait_text("[data-testid=notice]", |t| t.contains("Saved as version 3")).await;
    let now = api_board(&server, "overview").await;
    assert!(now["widgets"].as_array().unwrap().iter().any(|w| w["id"] == "hitmap"), "overwrite kept the second session's widgets");

    // History: pick version 2 (the one without the hitmap), see the diff, restore it.
    // (The first session reloads to see version 3; the diff is against what it has loaded.)
    first.client.refresh().await.unwrap();
    first.find("[data-widget-id=hitmap]").await;
    first.click("[data-testid=history]").await;
    first.click("[data-testid=history-row][data-version='2']").await;
    let d = first.wait_text("[data-testid=history-diff]", |t| t.contains("Restoring it would")).await;
    assert!(d.contains("removed \"Response times\""), "{d}");
    first.click("[data-testid=history-restore]").await;
    first.wait_text("[data-testid=notice]", |t| t.contains("now version 4")).await;
    first.wait_js("!document.querySelector('[data-widget-id=hitmap]')").await;
    let restored = api_board(&server, "overview").await;
    assert_eq!(restored["version"], 4);
    assert!(!restored["widgets"].as_array().unwrap().iter().any(|w| w["id"] == "hitmap"));

    // The share link opens the board read-only with the range shown.
    first.click("[data-testid=share]").await;
    let link = first.find("[data-testid=share-link]").await.prop("value").await.unwrap().unwrap();
    assert!(link.contains("readonly=1") && link.contains("range="), "{link}");
    second.client.goto(&link).await.unwrap();
    second.find("[data-testid=readonly-badge]").await;
    second.find("[data-testid=board-grid]").await;
    assert!(!second.exists("[data-testid=edit]").await);
    assert!(!second.exists("[data-testid=widget-delete]").await);
    // The wall-screen link: no top bar either.
    let tv = first.find("[data-testid=share-tv-link]").await.prop("value").await.unwrap().unwrap();
    assert!(tv.contains("kiosk=1") && !tv.contains("readonly=1"), "{tv}");
    second.client.goto(&tv).await.unwrap();
    second.find("[data-testid=board-grid]").await;
    assert!(second.exists("[data-testid=board-title]").await);
    assert!(!second.exists("[data-testid=time-range]").await, "no top bar");
    assert!(!second.exists("[data-testid=edit]").await && !second.exists("[data-testid=share]").await);
    first.close().await;
    second.close().await;
}

/// Notes are rendered by the server: Markdown shows formatted, raw HTML as text (never as elements), and a
/// note the server refuses to render says why in its own tile while the other note shows.
#[tokio::test(flavor = "multi_thread")]
async fn notes_render_safely_and_a_refused_one_says_why_in_its_tile() {
    let server = Server::start().await;
    let long = "x".repeat(300 * 1024);
    let board = json!({
        "format_version": 1, "id": "notes", "title": "Notes",
        "time": {"range": {"type": "relative", "ms": 3600000}, "live": false},
        "widgets": [
            {"id": "ok", "kind": "text", "title": "runbook", "x": 0, "y": 0, "w": 12, "h": 4,
             "options": {"text": "Page **#payments** <img src=x onerror=\"window.__pwned=1\"> [bad](javascript:window.__pwned=1)"}},
            {"id": "long", "kind": "text", "title": "too long", "x": 12, "y": 0, "w": 12, "h": 4, "options": {"text": long}}
        ]
    });
    let r = reqwest::Client::new().post(server.url("/api/v1/boards")).json(&board).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards/notes")).await.unwrap();
    b.wait_js("document.querySelector('[data-widget-id=ok] [data-testid=widget-text] strong')?.textContent === '#payments'").await;
    let note = b.js("const n = document.querySelector('[data-widget-id=ok] [data-testid=widget-text]'); return [n.textContent, n.querySelectorAll('img').length, n.querySelector('a').getAttribute('href')]").await;
    assert!(note[0].as_str().unwrap().contains("<img src=x"), "raw HTML is shown as text: {note}");
    assert_eq!(note[1], 0, "no element from raw HTML");
    assert_eq!(note[2], "#", "a javascript: link leads nowhere");
    let err = b.wait_text("[data-widget-id=long] [data-testid=widget-error]", |t| !t.is_empty()).await;
    assert!(err.contains("at most 256 KiB") && err.contains("HTTP 400"), "{err}");
    assert_eq!(b.js("return window.__pwned === undefined").await, true);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_widget_stays_in_its_tile_and_a_range_change_refreshes_each_widget_once() {
    let server = Server::start().await;
    seed_traffic(&server).await;
    let board = json!({
        "format_version": 1, "id": "mixed", "title": "Mixed",
        "time": {"range": {"type": "relative", "ms": 3600000}, "live": false},
        "widgets": [
            {"id": "tps", "kind": "timeseries", "title": "tps", "x": 0, "y": 0, "w": 12, "h": 6, "query": {"metric": "transactions.tps", "group_by": ["service"]}},
            {"id": "cpu", "kind": "timeseries", "title": "in flight", "x": 12, "y": 0, "w": 12, "h": 6, "query": {"metric": "transactions.active"}},
            {"id": "slow", "kind": "top_n", "title": "slowest", "x": 0, "y": 6, "w": 12, "h": 6, "query": {"metric": "transactions.response_time.p95", "group_by": ["endpoint"]}},
            {"id": "n", "kind": "single_number", "title": "count", "x": 12, "y": 6, "w": 12, "h": 6, "query": {"metric": "transactions.count"}},
            {"id": "hm", "kind": "hitmap", "title": "hitmap", "x": 0, "y": 12, "w": 24, "h": 8},
            {"id": "proc", "kind": "process_cpu_mem", "title": "processes", "x": 0, "y": 20, "w": 24, "h": 10}
        ]
    });
    let r = reqwest::Client::new().post(server.url("/api/v1/boards")).json(&board).send().await.unwrap();
    assert_eq!(r.status(), 201);
    // "shop" was deployed 20 minutes ago (1.0 before, 1.1 since), and again 30 s later (1.2, a quick fix).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    send_versioned(&server, "1.0", &[transaction("shop", 90_001, "GET /api/items", now - 40.0 * 60_000.0, 50.0, false)]).await;
    send_versioned(&server, "1.1", &[transaction("shop", 90_002, "GET /api/items", now - 20.0 * 60_000.0, 50.0, false)]).await;
    send_versioned(&server, "1.2", &[transaction("shop", 90_003, "GET /api/items", now - 19.5 * 60_000.0, 50.0, false)]).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards/mixed")).await.unwrap();
    // Room for every request of the test in Resource Timing (the browser keeps 250 by default).
    b.js("performance.setResourceTimingBufferSize(10000)").await;
    let err = b.wait_text("[data-widget-id=cpu] [data-testid=widget-error]", |t| !t.is_empty()).await;
    assert!(err.contains("not available"), "{err}");
    // The others drew: two services, both endpoints ranked, a number.
    b.wait_js("document.querySelector('[data-widget-id=tps] [data-series]')?.dataset.series === '2'").await;
    b.wait_js("document.querySelectorAll('[data-widget-id=slow] [data-testid=top-n-row]').length === 2").await;
    b.wait_js("/\\d/.test(document.querySelector('[data-widget-id=n] [data-testid=single-number-value]')?.textContent ?? '')").await;
    // The deploys are marked on the time series (the first version seen is not a deploy); the two flags, a
    // few px apart on the hour, are both readable: stacked, not one over the other.
    b.wait_js("document.querySelectorAll('[data-widget-id=tps] [data-testid=deploy-marker]').length === 2").await;
    let titles = b.js("return [...document.querySelectorAll('[data-widget-id=tps] [data-testid=deploy-marker]')].map(m => m.title)").await;
    let titles: Vec<&str> = titles.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(titles[0].starts_with("shop 1.1 (was 1.0) at ") && titles[1].starts_with("shop 1.2 (was 1.1) at "), "{titles:?}");
    assert_flags_apart(&b, "[data-widget-id=tps]").await;

    // Change the range: exactly one new query per metric widget.
    let count = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/metrics/query')).length";
    b.wait_js("!document.querySelector('[data-testid=widget-loading].on')").await;
    let before = settled_count(&b, count).await;
    b.click("[data-testid=range-6h]").await;
    b.wait_js("location.search.includes('range=6h')").await;
    b.wait_js(&format!("{count} >= {}", before + 4)).await;
    let after = settled_count(&b, count).await;
    assert_eq!(after - before, 4, "one request per metric widget, no storm");
    let hitmaps = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/hitmap?')).length";
    assert_eq!(b.js(&format!("return {hitmaps};")).await.as_u64().unwrap(), 2, "and one hitmap request per range");

    // The process widget lists this machine's busiest processes (the host collector runs by default);
    // a click draws one's CPU and memory over the range.
    b.js("document.querySelector('[data-widget-id=proc]').scrollIntoView({block: 'end'});").await;
    b.find("[data-widget-id=proc] [data-testid=process-row]").await;
    b.wait_text("[data-widget-id=proc] [data-testid=host-cpu]", |t| t.starts_with("CPU ")).await;
    b.click("[data-widget-id=proc] [data-testid=process-row]").await;
    b.wait_js("document.querySelectorAll('[data-widget-id=proc] [data-testid=process-history] [data-series=\"1\"]').length === 2").await;

    // The hitmap widget: a drag over it opens the APM page on those transactions.
    b.js("document.querySelector('[data-widget-id=hm]').scrollIntoView({block: 'end'});").await;
    b.wait_js("document.querySelector('[data-widget-id=hm] [data-testid=hitmap-canvas]')?.dataset.grid").await;
    let p = b.js("return document.querySelector('[data-widget-id=hm] [data-testid=hitmap-canvas]').dataset.plot.split(',').map(Number)").await;
    let (x, y, w, h) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap(), p[2].as_f64().unwrap(), p[3].as_f64().unwrap());
    b.drag("[data-widget-id=hm] [data-testid=hitmap-canvas]", (x + 1.0, y + 1.0), (x + w - 1.0, y + h - 1.0)).await;
    b.wait_js("location.pathname === '/apm' && location.search.includes('sel=')").await;
    b.find("[data-testid=tx-row]").await;
    // The APM hitmap marks the deploys too, their flags apart.
    b.wait_js("document.querySelectorAll('.hitmap-wrap [data-testid=deploy-marker]').length === 2").await;
    assert_flags_apart(&b, ".hitmap-wrap").await;
    b.close().await;
}

/// The deploy flags inside `scope` are all visible and no two of them overlap.
async fn assert_flags_apart(b: &Browser, scope: &str) {
    let overlaps = b
        .js(&format!(
            "const f = [...document.querySelectorAll('{scope} [data-testid=deploy-marker] .chart-deploy-flag')].map(e => e.getBoundingClientRect());
             const bad = [];
             f.forEach((a, i) => f.slice(i + 1).forEach((c, j) => {{
               if (a.left < c.right && c.left < a.right && a.top < c.bottom && c.top < a.bottom) bad.push([i, i + 1 + j]);
             }}));
             return {{ n: f.length, visible: f.every(r => r.width > 0 && r.height > 0), bad }};"
        ))
        .await;
    assert_eq!(overlaps["n"], 2, "{overlaps}");
    assert_eq!(overlaps["visible"], true, "{overlaps}");
    assert_eq!(overlaps["bad"], serde_json::json!([]), "deploy flags overlap in {scope}: {overlaps}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_page_shows_this_machine_and_becomes_a_board() {
    let server = Server::start_with(&["--host-interval-ms", "1000"]).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/servers?range=5m")).await.unwrap();
    // The host collector's first samples: the CPU chart has a series, the process table rows.
    b.wait_js("document.querySelector('[data-widget-id=cpu] [data-series]')?.dataset.series === '1'").await;
    b.find("[data-widget-id=processes] [data-testid=process-row]").await;
    b.wait_js("document.querySelector('[data-widget-id=process-cpu] [data-series]')?.dataset.series >= 1").await;
    assert!(!b.exists("[data-testid=widget-configure]").await, "read-only");
    b.click("[data-testid=servers-to-board]").await;
    b.wait_js("location.pathname.startsWith('/boards/servers') && location.search.includes('edit=1')").await;
    b.find("[data-testid=add-widget]").await;
    // The board's `host` variable offers this machine; picking it filters the host charts.
    b.wait_js("document.querySelectorAll('[data-testid=variable-host] option').length === 2").await;
    let host = b.js("return document.querySelectorAll('[data-testid=variable-host] option')[1].value").await;
    b.set_value("[data-testid=variable-host] select", host.as_str().unwrap()).await;
    b.wait_js(&format!("location.search.includes('var-host={}')", host.as_str().unwrap())).await;
    b.wait_js("document.querySelector('[data-widget-id=cpu] [data-series]')?.dataset.series === '1'").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_server_goes_away_each_widget_the_deploys_and_the_catalogue_say_so() {
    let mut server = Server::start().await;
    seed_traffic(&server).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards/overview?edit=1&range=1h")).await.unwrap();
    b.wait_js("document.querySelector('[data-widget-id=\"tps-by-service\"] [data-series]')?.dataset.series === '2'").await;
    let widgets = widget_count(&b).await;
    assert!(!b.exists("[data-testid=widget-error]").await);

    server.kill();
    // A new range: every widget asks again and says, in its tile, why it has nothing new.
    b.click("[data-testid=range-6h]").await;
    b.wait_js(&format!("document.querySelectorAll('[data-testid=widget-error]').length === {widgets}")).await;
    let errors = b.js("return [...document.querySelectorAll('[data-testid=widget-error]')].map(e => e.textContent)").await;
    for e in errors.as_array().unwrap() {
        assert!(e.as_str().unwrap().contains("cannot reach the Sightline server"), "{e}");
    }
    b.wait_text("[data-testid=deploys-error]", |t| t.starts_with("Could not load the deploy markers: cannot reach the Sightline server")).await;
    // The widget editor has no catalogue to offer: it says so where the metric pickers would be.
    b.click("[data-testid=add-widget]").await;
    let text = b.wait_text("[data-testid=catalogue-error]", |t| !t.is_empty()).await;
    assert!(text.contains("Could not load the metric catalogue") && text.contains("cannot reach the Sightline server"), "{text}");
    assert!(!b.exists("[data-testid=editor-metric]").await);

    // Back: "Try again" fetches it, and the pickers appear.
    server.spawn().await;
    b.click("[data-testid=catalogue-retry]").await;
    b.find("[data-testid=editor-metric]").await;
    assert!(!b.exists("[data-testid=catalogue-error]").await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_page_shows_the_servers_own_message_when_it_refuses() {
    let mut server = Server::start_with(&["--host-collector=false"]).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/servers?range=5m")).await.unwrap();
    // The server answers 404 with why: shown as it said it, in the tiles that wanted the data.
    let procs = b.wait_text("[data-widget-id=processes] [data-testid=widget-error]", |t| !t.is_empty()).await;
    assert_eq!(procs, "the host collector is off (--host-collector=false) (HTTP 404)");
    let cpu = b.wait_text("[data-widget-id=cpu] [data-testid=widget-error]", |t| !t.is_empty()).await;
    assert!(cpu.contains("is not available: the host collector is off") && cpu.ends_with("(HTTP 400)"), "{cpu}");
    assert!(!b.js("return document.body.textContent").await.as_str().unwrap().contains("unexpected answer"));

    // "Make it a board" with the server gone: the reason, not a decoding error.
    server.kill();
    b.click("[data-testid=servers-to-board]").await;
    let notice = b.wait_text("[data-testid=notice]", |t| !t.is_empty()).await;
    assert!(notice.starts_with("Could not make a board of it: cannot reach the Sightline server"), "{notice}");
    b.close().await;
}
