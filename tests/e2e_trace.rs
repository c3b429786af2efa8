//! The trace view in real headless Chromium against the real server, fed over OTLP/HTTP JSON: the steps of a
//! known trace with their kinds, the slowest step marked, the SQL text and thread in the detail, collapse,
//! closing with Esc and Close; and a 10 000-step trace that stays virtualised, with its timings printed
//! (recorded in BENCHMARKS.md, not asserted).
//!
//! Set `SIGHTLINE_SCREENSHOTS=<dir>` to keep screenshots of what the tests saw.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use fantoccini::key::Key;
use serde_json::{json, Value};
use support::{Browser, Server};

const SQL: &str = "SELECT balance FROM accounts WHERE id = $1";
const THREAD: &str = "http-nio-8080-exec-7";
const FRAUD_URL: &str = "http://fraud.internal:8080/v1/check";

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn s(key: &str, v: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": v } })
}

fn i(key: &str, v: i64) -> Value {
    json!({ "key": key, "value": { "intValue": v.to_string() } })
}

/// SpanKind numbers of the OTLP proto.
const INTERNAL: i32 = 1;
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

/// One span of a test trace; [`SpanSpec::json`] writes it as OTLP/JSON does.
struct SpanSpec<'a> {
    trace_id: &'a str,
    span_id: u64,
    parent: Option<u64>,
    name: String,
    kind: i32,
    start_ns: u64,
    end_ns: u64,
    attributes: Vec<Value>,
    events: Vec<Value>,
    error: bool,
}

impl<'a> SpanSpec<'a> {
    /// A span without attributes, events or error; `parent: None` is a root.
    fn new(trace_id: &'a str, (span_id, parent): (u64, Option<u64>), name: impl Into<String>, kind: i32, (start_ns, end_ns): (u64, u64)) -> Self {
        SpanSpec { trace_id, span_id, parent, name: name.into(), kind, start_ns, end_ns, attributes: vec![], events: vec![], error: false }
    }

    fn attributes(mut self, attributes: Vec<Value>) -> Self {
        self.attributes = attributes;
        self
    }

    /// Status error, with these span events (e.g. the exception).
    fn failed(mut self, events: Vec<Value>) -> Self {
        self.events = events;
        self.error = true;
        self
    }

    /// The span as OTLP/JSON writes it: hex ids, nanoseconds as strings, enums as numbers.
    fn json(self) -> Value {
        let mut v = json!({
            "traceId": self.trace_id,
            "spanId": span_id(self.span_id),
            "name": self.name,
            "kind": self.kind,
            "startTimeUnixNano": self.start_ns.to_string(),
            "endTimeUnixNano": self.end_ns.to_string(),
            "attributes": self.attributes,
            "events": self.events,
            "status": if self.error { json!({ "code": 2, "message": "failed" }) } else { json!({ "code": 1 }) },
        });
        if let Some(p) = self.parent {
            v["parentSpanId"] = json!(span_id(p));
        }
        v
    }
}

async fn send(server: &Server, service: &str, spans: Vec<Value>) {
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": [s("service.name", service)] },
            "scopeSpans": [{ "scope": { "name": "e2e-trace" }, "spans": spans }]
        }]
    });
    let resp = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST /v1/traces");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "ingest answered {status}: {text}");
}

fn span_id(n: u64) -> String {
    format!("{:016x}", 0x1000_0000_0000_0000u64 + n)
}

/// Saves what the browser shows, in the theme it has and in the other one.
async fn screenshot(b: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("SIGHTLINE_SCREENSHOTS") {
        let dir = std::path::Path::new(&dir);
        b.screenshot(&dir.join(format!("{name}.png"))).await;
        let theme = b.js("const h = document.documentElement; const t = h.dataset.theme;
            h.dataset.theme = t === 'dark' ? 'light' : 'dark'; return t").await;
        b.screenshot(&dir.join(format!("{name}-other-theme.png"))).await;
        b.js(&format!("document.documentElement.dataset.theme = {theme}")).await;
    }
}

/// Types one key into whatever has the focus, as a user would.
async fn press(b: &Browser, key: Key) {
    b.client.active_element().await.unwrap().send_keys(&char::from(key).to_string()).await.unwrap();
}

async fn row_count(b: &Browser) -> u64 {
    b.js("return document.querySelectorAll('[data-testid=trace-row]').length").await.as_u64().unwrap()
}

/// The two traces these tests open.
#[derive(Clone, Copy)]
enum Fixture {
    /// A payment with SQL, an HTTP call, methods and an exception on one thread.
    Payment,
    /// 10 000 steps, for virtualisation.
    Big,
}

impl Fixture {
    fn trace_id(self) -> &'static str {
        match self {
            Fixture::Payment => "4bf92f3577b34da6a3ce929d0e0e4736",
            Fixture::Big => "0af7651916cd43dd8448eb211c80319c",
        }
    }
}

/// A fresh server holding the fixture's trace, and a browser with it open (`/apm?trace=`), as a shared link
/// would open it.
async fn open(fixture: Fixture) -> (Server, Browser) {
    let server = Server::start().await;
    let trace_id = fixture.trace_id();
    match fixture {
        Fixture::Payment => seed_payment_trace(&server, trace_id).await,
        Fixture::Big => seed_big_trace(&server, trace_id).await,
    }
    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?trace={trace_id}"))).await.unwrap();
    (server, b)
}

/// A gateway transaction of 1 s: a short method call, a PostgreSQL query taking 800 ms (the slowest step),
/// then an outbound HTTP call that fails with an exception. Children arrive before their parent.
async fn seed_payment_trace(server: &Server, trace_id: &str) {
    let t0 = now_ns() - 5_000_000_000;
    let ms = 1_000_000u64;
    let root = 1;
    let children = vec![
        SpanSpec::new(trace_id, (2, Some(root)), "PaymentService.authorize", INTERNAL, (t0 + 20 * ms, t0 + 40 * ms)).json(),
        SpanSpec::new(trace_id, (3, Some(root)), "SELECT bank.accounts", CLIENT, (t0 + 50 * ms, t0 + 850 * ms))
            .attributes(vec![s("db.system", "postgresql"), s("db.namespace", "bank"), s("db.query.text", SQL)])
            .json(),
        SpanSpec::new(trace_id, (4, Some(root)), "POST fraud-check", CLIENT, (t0 + 860 * ms, t0 + 950 * ms))
            .attributes(vec![
                s("http.request.method", "POST"),
                s("url.full", FRAUD_URL),
                s("server.address", "fraud.internal"),
                i("server.port", 8080),
            ])
            .failed(vec![json!({
                "timeUnixNano": (t0 + 950 * ms).to_string(),
                "name": "exception",
                "attributes": [
                    s("exception.type", "java.net.SocketTimeoutException"),
                    s("exception.message", "Read timed out"),
                    s("exception.stacktrace", "java.net.SocketTimeoutException: Read timed out\n\tat FraudClient.check(FraudClient.java:42)"),
                ]
            })])
            .json(),
    ];
    send(server, "gateway", children).await;
    let root_span = SpanSpec::new(trace_id, (root, None), "POST /api/pay", SERVER, (t0, t0 + 1000 * ms))
        .attributes(vec![s("thread.name", THREAD), s("http.request.method", "POST"), s("url.path", "/api/pay")])
        .json();
    send(server, "gateway", vec![root_span]).await;
}

// One user's walk through one trace (open, read, select, collapse, close): each step starts from where the
// last one left the drawer, hence the length.
#[tokio::test(flavor = "multi_thread")]
async fn trace_view_shows_steps_slowest_sql_thread_collapses_and_closes() {
    let trace_id = Fixture::Payment.trace_id();
    let (server, b) = open(Fixture::Payment).await;
    b.find("[data-testid=trace-view]").await;
    assert_eq!(b.find("[data-testid=trace-id]").await.text().await.unwrap(), trace_id);
    b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length === 4").await;
    screenshot(&b, "trace-opened").await;

    // Depth-first, siblings by start time, each with its kind.
    let kinds = b.js("return [...document.querySelectorAll('[data-testid=trace-row]')].map(r => r.dataset.stepKind)").await;
    assert_eq!(kinds, json!(["transaction", "method", "sql", "http"]));
    let header = b.find("[data-testid=trace-endpoint]").await.text().await.unwrap();
    assert_eq!(header, "POST /api/pay");

    // The 800 ms query is the one slowest step, labelled so.
    let slowest = b.js(
        "const s = [...document.querySelectorAll('[data-testid=trace-row][data-slowest=true]')];
         return s.map(r => [r.dataset.stepKind, r.textContent.includes('slowest step')])",
    )
    .await;
    assert_eq!(slowest, json!([["sql", true]]));
    let error_rows = b.js("return [...document.querySelectorAll('[data-testid=trace-row].error')].map(r => r.dataset.stepKind)").await;
    assert_eq!(error_rows, json!(["http"]), "the failed HTTP call is the error step");

    // The HTTP step's detail: URL, host and the exception.
    b.find("[data-testid=trace-row][data-step-kind=http]").await.click().await.unwrap();
    b.wait_text("[data-testid=trace-url]", |t| t.contains(FRAUD_URL)).await;
    b.wait_text("[data-testid=trace-target]", |t| t == "fraud.internal:8080").await;
    let err = b.wait_text("[data-testid=trace-error]", |t| t.contains("SocketTimeoutException")).await;
    assert!(err.contains("Read timed out") && err.contains("FraudClient.java:42"), "{err}");
    assert!(!b.exists("[data-testid=trace-sql]").await, "no SQL for an HTTP step");

    // Clicking the SQL step shows its full statement and the thread it ran on.
    b.find("[data-testid=trace-row][data-step-kind=sql]").await.click().await.unwrap();
    b.wait_text("[data-testid=trace-detail] [data-testid=trace-sql]", |t| t == SQL).await;
    b.wait_text("[data-testid=trace-detail] [data-testid=trace-thread]", |t| t == THREAD).await;
    assert_eq!(b.find("[data-testid=trace-self-time]").await.text().await.unwrap(), "800 ms");
    let selected = b.js("return document.querySelector('[data-testid=trace-row].selected').dataset.stepKind").await;
    assert_eq!(selected, "sql");
    screenshot(&b, "trace-sql-selected").await;

    // ↑ moves the selection to the step above.
    press(&b, Key::Up).await;
    b.wait_text("[data-testid=trace-detail-name]", |t| t == "PaymentService.authorize").await;

    // The copy button answers.
    b.find("[data-testid=trace-copy]").await.click().await.unwrap();
    b.wait_text("[data-testid=trace-copy]", |t| t == "copied").await;

    // ← on a leaf goes to its parent, ← again collapses it, → expands it.
    press(&b, Key::Left).await;
    b.wait_text("[data-testid=trace-detail-name]", |t| t == "POST /api/pay").await;
    press(&b, Key::Left).await;
    b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length === 1").await;
    press(&b, Key::Right).await;
    b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length === 4").await;
    press(&b, Key::Down).await;
    b.wait_text("[data-testid=trace-detail-name]", |t| t == "PaymentService.authorize").await;

    // Collapsing the transaction hides its three children; expanding brings them back.
    let caret = "[data-testid=trace-row][data-step-kind=transaction] [data-testid=trace-caret]";
    b.find(caret).await.click().await.unwrap();
    b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length === 1").await;
    // The selection was inside: it moves to the collapsed step.
    b.wait_text("[data-testid=trace-detail-name]", |t| t == "POST /api/pay").await;
    b.find(caret).await.click().await.unwrap();
    b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length === 4").await;

    // Esc closes the view and drops `trace` from the URL, keeping the page.
    press(&b, Key::Escape).await;
    b.wait_js("!document.querySelector('[data-testid=trace-view]')").await;
    b.wait_js("!new URLSearchParams(location.search).has('trace')").await;
    b.find("[data-testid=page-apm]").await;

    // And so does the Close button.
    b.client.goto(&server.url(&format!("/apm?trace={trace_id}"))).await.unwrap();
    b.find("[data-testid=trace-row]").await;
    b.find("[data-testid=trace-close]").await.click().await.unwrap();
    b.wait_js("!document.querySelector('[data-testid=trace-view]')").await;
    b.wait_js("!new URLSearchParams(location.search).has('trace')").await;

    // An unknown trace says so inside the view instead of showing an empty waterfall.
    b.client.goto(&server.url("/apm?trace=0123456789abcdef0123456789abcdef")).await.unwrap();
    let err = b.wait_text("[data-testid=trace-view] [data-testid=error]", |t| t.contains("no trace")).await;
    assert!(err.contains("404"), "{err}");
    b.close().await;
}

/// Number of steps in the large trace.
const BIG: usize = 10_000;
/// Steps per OTLP request when seeding it.
const BATCH: usize = 2_500;

/// 1 root, 99 batches of 100 leaf steps each (10 000 spans), generated in depth-first order with rising
/// start times, so step `k` of the waterfall is named `step-k` and the last one `step-9999`. Every step's
/// time is covered by its children except the leaves' (1 ms each), and one leaf in the middle,
/// [`SLOW_STEP`], takes 30 ms: the slowest step, 5 000 rows down.
async fn seed_big_trace(server: &Server, trace_id: &str) {
    let t0 = now_ns() - 60_000_000_000;
    let ms = 1_000_000u64;
    let mut spans = Vec::with_capacity(BIG);
    spans.push(
        SpanSpec::new(trace_id, (0, None), "GET /reports/big", SERVER, (t0, t0 + 9_900 * ms))
            .attributes(vec![s("thread.name", "http-nio-8080-exec-1")])
            .json(),
    );
    let mut k = 1u64;
    for g in 0..99u64 {
        let batch_id = k;
        let start = t0 + g * 100 * ms;
        spans.push(SpanSpec::new(trace_id, (batch_id, Some(0)), format!("step-{k} batch {g}"), INTERNAL, (start, start + 100 * ms)).json());
        k += 1;
        for j in 0..100u64 {
            let sql = j % 2 == 0;
            let name = format!("step-{k}");
            let dur = if name == SLOW_STEP { 30 * ms } else { ms };
            let (kind, attributes) =
                if sql { (CLIENT, vec![s("db.system", "postgresql"), s("db.query.text", "SELECT 1")]) } else { (INTERNAL, vec![]) };
            let (from, to) = (start + j * ms, start + j * ms + dur);
            spans.push(SpanSpec::new(trace_id, (k, Some(batch_id)), name, kind, (from, to)).attributes(attributes).json());
            k += 1;
        }
    }
    assert_eq!(spans.len(), BIG);
    // Reverse order and several requests: the trace assembles whatever order the spans come in.
    spans.reverse();
    for chunk in spans.chunks(BATCH) {
        send(server, "reports", chunk.to_vec()).await;
    }
}

/// The slowest step of the big trace.
const SLOW_STEP: &str = "step-5001";

/// JavaScript: whether the row labelled `name` is rendered and wholly inside the scrolled viewport.
fn row_in_view(name: &str) -> String {
    format!(
        "(() => {{ const sc = document.querySelector('[data-testid=trace-scroll]').getBoundingClientRect();
          const r = [...document.querySelectorAll('[data-testid=trace-row]')]
              .find(r => r.querySelector('.wf-label').textContent === '{name}');
          if (!r) return false; const b = r.getBoundingClientRect();
          return b.top >= sc.top - 1 && b.bottom <= sc.bottom + 1; }})()"
    )
}

// One big trace, opened once (sending and storing 10 000 steps is the slow part) and checked for every
// virtualisation property and its timings, hence the length.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_step_trace_is_virtualised_and_scrolls_to_the_end() {
    let trace_id = Fixture::Big.trace_id();
    let (_server, b) = open(Fixture::Big).await;
    b.find("[data-testid=trace-row]").await;
    b.wait_text("[data-testid=trace-step-count]", |t| t.replace('\u{202f}', "") == BIG.to_string()).await;
    let rendered = row_count(&b).await;
    assert!(rendered > 10 && rendered < 200, "{rendered} rows in the DOM for {BIG} steps: not virtualised");
    // The slowest step, 5 000 rows down, is marked, scrolled into view and selected.
    b.wait_js(&row_in_view(SLOW_STEP)).await;
    let marked = b.js("return document.querySelector('[data-testid=trace-row][data-slowest=true] .wf-label').textContent").await;
    assert_eq!(marked, SLOW_STEP);
    b.wait_text("[data-testid=trace-detail-name]", |t| t == SLOW_STEP).await;
    b.wait_text("[data-testid=trace-self-time]", |t| t == "30 ms").await;
    screenshot(&b, "trace-big-opened").await;

    // From navigation start: the app's wasm loaded, the trace requested and received, the first rows in
    // the DOM (the app's own User Timing mark).
    let t = b.js(
        "const res = performance.getEntriesByType('resource');
         const w = res.find(e => e.name.endsWith('_bg.wasm'));
         const r = res.find(e => e.name.includes('/api/v1/traces/'));
         const m = performance.getEntriesByName('sightline:trace-rows')[0];
         const d = performance.getEntriesByName('sightline:trace-loaded')[0];
         return { wasm: w ? w.responseEnd : null, request: r ? r.requestStart : null,
                  received: r ? r.responseEnd : null, bytes: r ? r.decodedBodySize : null,
                  decoded: d ? d.startTime : null, rows: m ? m.startTime : null }",
    )
    .await;
    let rows_ms = t["rows"].as_f64().expect("the app marks when the first rows are rendered");

    // Jump through the list as a scrollbar drag would; time each scroll until the new rows are in the DOM
    // (mutation) and until the next frame is painted.
    let mut dom_ms = Vec::new();
    let mut frame_ms = Vec::new();
    // From the scroll event to the new rows in the DOM: the app's own work.
    let mut render_ms = Vec::new();
    for f in [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.4, 0.6, 0.8, 1.0] {
        let v = b
            .client
            .execute_async(
                "const [f, done] = arguments;
                 const sc = document.querySelector('[data-testid=trace-scroll]');
                 const win = sc.querySelector('.wf-window');
                 const t0 = performance.now();
                 let ts = null;
                 sc.addEventListener('scroll', () => { ts = performance.now(); }, { capture: true, once: true });
                 const obs = new MutationObserver(() => {
                     obs.disconnect();
                     const t1 = performance.now();
                     requestAnimationFrame(() => done([t1 - t0, performance.now() - t0, ts === null ? null : t1 - ts]));
                 });
                 obs.observe(win, { childList: true });
                 sc.scrollTop = Math.round((sc.scrollHeight - sc.clientHeight) * f);",
                vec![json!(f)],
            )
            .await
            .unwrap();
        dom_ms.push(v[0].as_f64().unwrap());
        frame_ms.push(v[1].as_f64().unwrap());
        render_ms.push(v[2].as_f64().expect("the scroll event came before the new rows"));
    }

    // At the bottom: the last step is rendered, inside the visible part of the list.
    b.wait_js(&row_in_view("step-9999")).await;
    let rendered_at_end = row_count(&b).await;
    assert!(rendered_at_end < 200, "{rendered_at_end} rows in the DOM after scrolling");
    screenshot(&b, "trace-big-bottom").await;

    // Collapsing the root of 10 000 steps, and expanding it again.
    b.client.execute("document.querySelector('[data-testid=trace-scroll]').scrollTop = 0", vec![]).await.unwrap();
    b.wait_js("document.querySelector('[data-testid=trace-row][data-step-kind=transaction]')").await;
    let collapse_ms = b
        .client
        .execute_async(
            "const done = arguments[0];
             const caret = document.querySelector('[data-testid=trace-row][data-step-kind=transaction] [data-testid=trace-caret]');
             const t0 = performance.now();
             caret.click();
             requestAnimationFrame(() => {
                 const t1 = performance.now(), n1 = document.querySelectorAll('[data-testid=trace-row]').length;
                 caret.click();
                 requestAnimationFrame(() => done([t1 - t0, performance.now() - t1, n1]));
             });",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(collapse_ms[2], 1, "collapsing the root leaves one row");

    // Opening the trace again in the running app, as a click in the transaction list does (client-side
    // navigation): until its first rows are in the DOM, and how much of it was the request.
    b.client.find(fantoccini::Locator::Css("[data-testid=trace-close]")).await.unwrap().click().await.unwrap();
    b.wait_js("!document.querySelector('[data-testid=trace-view]')").await;
    let warm = b
        .client
        .execute_async(
            "const [id, done] = arguments;
             performance.clearResourceTimings();
             const t0 = performance.now();
             const obs = new MutationObserver(() => {
                 if (!document.querySelector('[data-testid=trace-row]')) return;
                 obs.disconnect();
                 const t1 = performance.now();
                 const r = performance.getEntriesByType('resource').find(e => e.name.includes('/api/v1/traces/'));
                 requestAnimationFrame(() => done([t1 - t0, performance.now() - t0,
                     r ? r.responseEnd - r.requestStart : null, r ? r.responseEnd - t0 : null]));
             });
             obs.observe(document.body, { childList: true, subtree: true });
             const u = new URL(location.href);
             u.searchParams.set('trace', id);
             history.pushState(null, '', u);
             dispatchEvent(new PopStateEvent('popstate', { state: null }));",
            vec![json!(trace_id)],
        )
        .await
        .unwrap();
    b.find("[data-testid=trace-row]").await;

    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (dom, frame, render) = (sorted(&dom_ms), sorted(&frame_ms), sorted(&render_ms));
    let f = |v: &Value| v.as_f64().map(|x| format!("{x:.0}")).unwrap_or_else(|| "?".into());
    println!(
        "TRACE-BENCH steps={BIG} rows_in_dom={rendered} json_bytes={} | cold, ms from navigation start: \
         wasm_loaded={} trace_requested={} trace_received={} trace_decoded={} first_rows_laid_out={rows_ms:.0} | \
         warm open (client-side navigation): rows_in_dom_ms={} next_frame_ms={} of which request_ms={} \
         json_received_ms={} | scroll jump (set scrollTop) to new rows in DOM ms (median/max)={:.1}/{:.1}, to next frame \
         {:.1}/{:.1}, scroll event to new rows in DOM {:.1}/{:.1} | collapse root to frame ms={:.1}, expand root to frame ms={:.1}",
        t["bytes"],
        f(&t["wasm"]),
        f(&t["request"]),
        f(&t["received"]),
        f(&t["decoded"]),
        f(&warm[0]),
        f(&warm[1]),
        f(&warm[2]),
        f(&warm[3]),
        dom[dom.len() / 2],
        dom[dom.len() - 1],
        frame[frame.len() / 2],
        frame[frame.len() - 1],
        render[render.len() / 2],
        render[render.len() - 1],
        collapse_ms[0].as_f64().unwrap(),
        collapse_ms[1].as_f64().unwrap(),
    );
    b.close().await;
}
