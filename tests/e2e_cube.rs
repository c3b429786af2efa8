//! The cube page in real headless Chromium against the real server: on the demo workload, group by
//! endpoint × status, sort by p95, drill from a figure into exactly the transactions it counts, and get the
//! same view back from the back button and a reload. Also the server's message for a query it refuses.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::demo::{self, now_ms};
use support::{Browser, Server};

/// The pivot's rows as `data-key` ("endpoint · status"), in order.
const ROW_KEYS: &str = "return [...document.querySelectorAll('[data-testid=cube-row]')].map(r => r.dataset.key)";
/// Everything the table shows, to compare one view with another.
const TABLE_TEXT: &str = "return document.querySelector('[data-testid=cube-table]')?.innerText ?? ''";

#[tokio::test(flavor = "multi_thread")]
async fn group_by_endpoint_and_status_sort_by_p95_drill_into_a_cell_and_come_back_to_the_same_view() {
    let server = demo::start().await;
    // Whole past minutes inside the backfill: the figures do not move while the test runs.
    let to = now_ms() / 60_000 * 60_000 - 60_000;
    let from = to - 10 * 60_000;
    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/cube?from={from}&to={to}"))).await.unwrap();
    b.find("[data-testid=cube-row]").await;

    // Group by endpoint (the default) × status.
    b.set_value("[data-testid=cube-add-dim]", "status").await;
    b.wait_js("new URLSearchParams(location.search).get('group_by') === 'endpoint,status'").await;
    b.wait_js("[...document.querySelectorAll('[data-testid=cube-row]')].some(r => r.dataset.key.endsWith(' · error'))").await;

    // Sort by p95: the rows come in the server's p95 order.
    b.find("[data-testid=cube-sort-p95]").await.click().await.unwrap();
    b.wait_js("new URLSearchParams(location.search).get('sort') === 'p95'").await;
    let answer = demo::api(&server, &format!("/api/v1/cube?from={from}&to={to}&group_by=endpoint,status&sort=p95&limit=20")).await;
    let expected: Vec<String> = answer["rows"].as_array().unwrap().iter().map(|r| {
        r["key"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect::<Vec<_>>().join(" · ")
    }).collect();
    assert!(expected.len() >= 5, "endpoints × statuses: {answer}");
    let p95: Vec<f64> = answer["rows"].as_array().unwrap().iter().map(|r| r["measures"]["p95"].as_f64().unwrap()).collect();
    assert!(p95.windows(2).all(|w| w[0] >= w[1]), "the server sorts by p95: {p95:?}");
    b.wait_js(&format!("JSON.stringify((() => {{ {ROW_KEYS} }})()) === {:?}", serde_json::to_string(&expected).unwrap())).await;
    b.wait_js("document.querySelector('[data-testid=cube-sort-p95]').getAttribute('aria-sort') === 'descending'").await;
    assert!(b.exists("[data-testid=cube-total]").await, "a totals row");
    b.wait_js("document.querySelector('[data-testid=cube-chart] [data-testid=series-chart]')?.dataset.series > 1").await;
    let view_url = b.url().await;
    let table = b.js(TABLE_TEXT).await;

    // Drill into the slowest group's count: exactly its transactions are listed.
    let row = &answer["rows"][0];
    let (endpoint, status) = (row["key"][0].as_str().unwrap(), row["key"][1].as_str().unwrap());
    let count = row["measures"]["count"].as_u64().unwrap();
    b.find("[data-testid=cube-row] [data-testid=cube-cell][data-measure=count]").await.click().await.unwrap();
    b.wait_js("location.pathname === '/apm'").await;
    let url = b.url().await;
    assert!(url.contains(&format!("status={status}")) && url.contains("endpoint="), "{url}");
    // The list writes 1,234 for 1234.
    let total = count.to_string().as_bytes().rchunks(3).rev().map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(",");
    b.wait_text("[data-testid=tx-count]", |t| t.ends_with(&format!(" of {total}"))).await;
    let listed = b.js("return [...document.querySelectorAll('[data-testid=tx-row] td.endpoint')].map(c => c.textContent)").await;
    assert!(listed.as_array().unwrap().iter().all(|e| e == endpoint), "only {endpoint}: {listed}");

    // Back: the same view; a reload of its URL: the same view again.
    b.client.back().await.unwrap();
    b.wait_js(&format!("location.href === {view_url:?}")).await;
    b.wait_js(&format!("(() => {{ {TABLE_TEXT} }})() === {table}")).await;
    b.client.refresh().await.unwrap();
    b.wait_js(&format!("(() => {{ {TABLE_TEXT} }})() === {table}")).await;
    b.wait_js(&format!("JSON.stringify((() => {{ {ROW_KEYS} }})()) === {:?}", serde_json::to_string(&expected).unwrap())).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_the_server_refuses_shows_its_message_where_the_table_would_be() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/cube?range=15m&live=0&group_by=endpoint,colour")).await.unwrap();
    b.wait_text("[data-testid=page-cube] [data-testid=error]", |t| t.contains("Could not load the cube") && t.contains("colour") && t.contains("400")).await;
    assert!(!b.exists("[data-testid=cube-table]").await);
    // The controls show the dimension they know; a corrected URL brings the table.
    b.find("[data-testid=cube-dim-endpoint]").await;
    b.client.goto(&server.url("/cube?range=15m&live=0&group_by=endpoint")).await.unwrap();
    b.wait_js("!document.querySelector('[data-testid=page-cube] [data-testid=error]') && document.querySelector('[data-testid=cube-table], [data-testid=cube-empty]')").await;
    b.close().await;
}

/// After raw retention dropped a range's transactions, the cube still answers for it; the page says which
/// figures come from the rollup only, and a figure of a group seen only then says its transactions are gone
/// instead of opening an empty list.
#[tokio::test(flavor = "multi_thread")]
async fn figures_older_than_raw_retention_come_from_the_rollup_and_say_so() {
    use support::otlp::{send, transaction};
    let mut server = Server::start_with(&["--retention-hours", "1"]).await;
    let now = now_ms();
    let old_end = (now - 3 * 3_600_000) / 60_000 * 60_000 + 30_000;
    let mut spans: Vec<_> = (0..5).map(|i| transaction("ledger", 900 + i, "GET /old", (old_end + i as i64) as f64, 40.0, false)).collect();
    spans.extend((0..3).map(|i| transaction("ledger", 950 + i, "GET /new", (now - 60_000 + i as i64) as f64, 20.0, false)));
    send(&server.url(""), &spans).await;
    // A restart runs a retention pass at once: the 3-hour-old transactions go, their rollup stays.
    server.kill();
    server.spawn().await;
    let from = old_end / 3_600_000 * 3_600_000;
    let to = (now / 60_000 + 2) * 60_000;
    let answer = demo::api(&server, &format!("/api/v1/cube?from={from}&to={to}&group_by=endpoint")).await;
    let raw_since = answer["raw_since_ms"].as_i64().unwrap_or_else(|| panic!("the new transactions are kept: {answer}"));
    assert!(raw_since > old_end + 3_600_000, "raw retention dropped the old ones: {answer}");
    let old = answer["rows"].as_array().unwrap().iter().find(|r| r["key"][0] == "GET /old").unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(old["measures"]["count"], 5, "the rollup still counts them: {answer}");

    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/cube?from={from}&to={to}"))).await.unwrap();
    b.wait_text("[data-testid=rollup-note]", |t| t.contains("come from the rollup only")).await;
    b.wait_js("[...document.querySelectorAll('[data-testid=cube-row]')].some(r => r.dataset.key === 'GET /old')").await;
    b.find("[data-testid=cube-row][data-key='GET /old'] [data-testid=cube-cell][data-measure=count]").await.click().await.unwrap();
    b.wait_text("[data-testid=cube-drill-note]", |t| t.contains("Only the rollup is left")).await;
    assert!(b.url().await.contains("/cube"), "stayed on the cube");
    // A group whose transactions are still kept opens its list.
    b.find("[data-testid=cube-row][data-key='GET /new'] [data-testid=cube-cell][data-measure=count]").await.click().await.unwrap();
    b.wait_js("location.pathname === '/apm'").await;
    b.wait_text("[data-testid=tx-count]", |t| t.ends_with(" of 3")).await;
    b.close().await;
}
