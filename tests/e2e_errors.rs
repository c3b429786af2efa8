//! The errors page in real headless Chromium against the real server: on the demo workload, its failing
//! endpoint ranks first with its exception type, and a failure kind leads to the failing transactions and
//! from one of them to its trace, opened at the exception. Also the empty state, and a fetch that fails.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::demo::{self, now_ms};
use support::otlp::{send, transaction};
use support::{Browser, Server};

/// The demo's endpoints that fail (recharge's telecom timeouts, payment's bad deploy) — the others fail only
/// by chance, far less often.
const FAILING: &[&str] = &["/api/v1/recharge", "/api/v1/pay"];

/// `org.x.Outer$Inner` → `Outer$Inner`, as the page shows a type.
fn short_type(t: &str) -> &str {
    t.rsplit('.').next().unwrap_or(t)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_failing_endpoint_ranks_first_and_leads_to_a_failing_trace_opened_at_its_exception() {
    let server = demo::start().await;
    // A fixed window of whole past minutes, so the page and this test see the same figures.
    let to = now_ms() / 60_000 * 60_000;
    let from = to - 12 * 60_000;
    let expected = demo::api(&server, &format!("/api/v1/errors?from={from}&to={to}")).await;
    let top = &expected["endpoints"][0];
    let (endpoint, top_type) = (top["endpoint"].as_str().unwrap().to_string(), top["groups"][0]["error_type"].as_str().unwrap().to_string());
    assert!(FAILING.iter().any(|f| endpoint.ends_with(f)), "the demo's failing endpoint ranks first: {expected}");
    assert!(!top_type.is_empty(), "its failures carry an exception type: {top}");

    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/errors?from={from}&to={to}"))).await.unwrap();
    b.find("[data-testid=errors-row]").await;
    let first = b.js("const r = document.querySelector('[data-testid=errors-row]'); return [r.dataset.endpoint, r.textContent];").await;
    assert_eq!(first[0], endpoint.as_str(), "the page ranks as the server does");
    assert!(first[1].as_str().unwrap().contains(short_type(&top_type)), "its exception type is shown: {}", first[1]);
    assert!(b.exists("[data-testid=errors-row] [data-testid=errors-sparkline] path").await);

    // Sorting by another column and back is in the URL.
    b.find("[data-testid=sort-endpoint]").await.click().await.unwrap();
    b.wait_js("location.search.includes('sort=endpoint')").await;
    b.find("[data-testid=sort-errors]").await.click().await.unwrap();
    b.wait_js(&format!("location.search.includes('sort=errors') && document.querySelector('[data-testid=errors-row]').dataset.endpoint === {endpoint:?}")).await;
    // The server's answer for that order redraws the rows: click one of the rows it drew, not one about to go.
    b.wait_js("!document.querySelector('[data-testid=loading]').classList.contains('active')").await;

    // The top failure kind → its failing transactions, filtered as the errors page was.
    b.find("[data-testid=errors-row] [data-testid=error-group-link]").await.click().await.unwrap();
    b.wait_js("location.pathname === '/apm' && location.search.includes('status=error') && location.search.includes('error_type=')").await;
    b.wait_text("[data-testid=tx-count]", |t| t.contains(" of ") && !t.starts_with("0 of")).await;
    b.wait_text("[data-testid=list-filter-error_type]", |t| t.contains(&top_type)).await;
    let listed = b.js("return [...document.querySelectorAll('[data-testid=tx-row]')].map(r => [r.querySelector('td.endpoint').textContent, r.textContent])").await;
    for row in listed.as_array().unwrap() {
        assert_eq!(row[0], endpoint.as_str(), "only the endpoint's transactions: {row}");
        assert!(!row[1].as_str().unwrap().contains("OK"), "only failed ones: {row}");
    }

    // → its trace, opened at the exception of that type.
    b.find("[data-testid=tx-row]").await.click().await.unwrap();
    b.find("[data-testid=trace-view]").await;
    b.wait_text("[data-testid=trace-focus]", |t| t.contains(short_type(&top_type))).await;
    b.wait_text("[data-testid=trace-error-type]", |t| t == top_type).await;
    b.wait_js("document.querySelector('[data-testid=trace-row][data-focus=true]')?.classList.contains('selected')").await;

    // The board widget "errors by endpoint": the catalogue's ready-made Top N of the cube's errors.
    b.client.goto(&server.url(&format!("/boards?from={from}&to={to}"))).await.unwrap();
    b.click("[data-testid=template-apm-overview]").await;
    b.click("[data-testid=add-widget]").await;
    b.click("[data-testid=catalogue-preset-errors-by-endpoint]").await;
    b.wait_js("document.querySelector('[data-testid=editor-metric]')?.value === 'cube.errors' && document.querySelector('[data-testid=editor-title]').value === 'errors by endpoint'").await;
    let shown = b.wait_text("[data-testid=widget-preview] [data-testid=top-n]", |t| t.contains(&endpoint)).await;
    assert!(shown.lines().take(4).any(|l| l.contains(&endpoint)), "the failing endpoint is among the top rows: {shown}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_query_no_errors_and_a_failed_fetch_are_each_shown_where_the_table_would_be() {
    let mut server = Server::start().await;
    send(&server.url(""), &[transaction("shop", 1, "GET /ok", now_ms() as f64 - 60_000.0, 40.0, false)]).await;
    let b = Browser::start().await;
    // A query the server refuses: its message, where the table would be.
    b.client.goto(&server.url("/errors?range=15m&live=0&sort=loudest")).await.unwrap();
    b.wait_text("[data-testid=page-errors] [data-testid=error]", |t| t.contains("Could not load the errors") && t.contains("loudest") && t.contains("400")).await;
    assert!(!b.exists("[data-testid=errors-table]").await);
    b.client.goto(&server.url("/errors?range=15m&live=0")).await.unwrap();
    b.wait_text("[data-testid=errors-empty]", |t| t.contains("No failed transactions")).await;
    assert!(!b.exists("[data-testid=page-errors] [data-testid=error]").await);

    // The server goes away; the next fetch (a new filter) fails and says so in the page.
    server.kill();
    let input = b.find("[data-testid=filter-endpoint]").await;
    input.send_keys("/pay\n").await.unwrap();
    b.wait_js("location.search.includes('endpoint=')").await;
    b.wait_text("[data-testid=page-errors] [data-testid=error]", |t| t.contains("Could not load the errors") && t.contains("cannot reach")).await;
    b.close().await;
}
