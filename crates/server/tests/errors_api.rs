//! The errors view and the cube API over spans ingested through the real OTLP endpoint: the failing
//! endpoint tops the list with its exception types, messages that differ by ids are one group, a kind of
//! failure is new since a deploy only after a `service.version` change, a group clicks through to its
//! transactions, the cube's groupings count what was sent, and bad cube queries are 400s that name the
//! problem.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use sightline_model::{CubeAnswer, ErrorsAnswer, MetricQueryResult, Status, TransactionPage};

const MINUTE: i64 = 60_000;

/// `request(service, spans)` from a resource that also names its instance and version.
fn resource(service: &str, instance: &str, version: Option<&str>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let mut r = request(service, spans);
    let attrs = &mut r.resource_spans[0].resource.as_mut().unwrap().attributes;
    attrs.push(kv("service.instance.id", instance));
    if let Some(v) = version {
        attrs.push(kv("service.version", v));
    }
    r
}

/// A transaction with its HTTP method and response status.
fn http(trace: u64, name: &str, end_ms: i64, dur_ms: f64, method: &str, status: i64) -> Span {
    let mut s = server_span(trace, 1, name, end_ms, dur_ms);
    s.attributes = vec![kv("http.request.method", method), kv_int("http.response.status_code", status)];
    s
}

async fn ingest(app: &TestApp, r: &ExportTraceServiceRequest) {
    let (status, body) = app.post_proto(r).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// Polls `uri` until `done` holds (the cube may publish a batch after acknowledging it), 10 s at most.
async fn until<T: serde::de::DeserializeOwned + std::fmt::Debug>(app: &TestApp, uri: &str, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: T = app.get_ok(uri).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{uri}: still {v:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `shop` on `shop-1`, in the minute starting at `base`: `POST /api/pay` 20 transactions of which 8 fail
/// with `PaymentDeclined` (messages differing by card and order numbers) and 2 with `TimeoutException`;
/// `GET /api/items` 30 with 1 `NotFound`; `GET /health` 10, none failing.
async fn shop(app: &TestApp, base: i64) {
    let mut spans = Vec::new();
    for i in 0..20u64 {
        let s = http(i + 1, "POST /api/pay", base + 1_000 + i as i64 * 100, 50.0 + i as f64, "POST", 200);
        spans.push(match i {
            0..8 => {
                let mut s = failed(s, "PaymentDeclined", &format!("card {} declined for order {}", 4000 + i, 1000 + i * 7));
                s.attributes[1] = kv_int("http.response.status_code", 402);
                s
            }
            8..10 => failed(s, "TimeoutException", &format!("upstream timed out after {}ms", 3000 + i)),
            _ => s,
        });
    }
    for i in 0..30u64 {
        let s = http(100 + i, "GET /api/items", base + 2_000 + i as i64 * 100, 5.0, "GET", 200);
        spans.push(if i == 3 { failed(s, "NotFound", "item 77 not found") } else { s });
    }
    for i in 0..10u64 {
        spans.push(http(200 + i, "GET /health", base + 3_000 + i as i64 * 100, 1.0, "GET", 200));
    }
    ingest(app, &resource("shop", "shop-1", None, spans)).await;
}

#[tokio::test]
async fn the_failing_endpoint_tops_the_errors_with_its_groups() {
    let app = TestApp::new().await;
    let base = (now_ms() - 20 * MINUTE) / MINUTE * MINUTE;
    shop(&app, base).await;
    let w = format!("from={}&to={}", base - 10 * MINUTE, base + 10 * MINUTE);
    let e: ErrorsAnswer = until(&app, &format!("/api/v1/errors?{w}"), |e: &ErrorsAnswer| e.endpoints.len() == 2).await;
    let pay = &e.endpoints[0];
    assert_eq!((pay.service.as_str(), pay.endpoint.as_str()), ("shop", "POST /api/pay"));
    assert_eq!((pay.transactions, pay.errors), (20, 10));
    assert!((pay.error_rate - 0.5).abs() < 1e-9);
    let groups: Vec<_> = pay.groups.iter().map(|g| (g.error_type.as_str(), g.message.as_str(), g.count)).collect();
    assert_eq!(
        groups,
        [("PaymentDeclined", "card <n> declined for order <n>", 8), ("TimeoutException", "upstream timed out after <n>ms", 2)]
    );
    assert_eq!(pay.sparkline.len(), e.timestamps.len());
    assert_eq!(pay.sparkline.iter().sum::<u64>(), 10);
    assert!(e.timestamps.len() >= 10 && e.timestamps.len() <= 61, "{} steps", e.timestamps.len());
    assert!(pay.first_seen_ms >= base && pay.last_seen_ms < base + 2 * MINUTE, "{pay:?}");
    assert!(!pay.new_since_deploy && pay.deployed_version.is_none(), "no version was ever reported");
    let items = &e.endpoints[1];
    assert_eq!((items.endpoint.as_str(), items.transactions, items.errors), ("GET /api/items", 30, 1));
    assert_eq!(items.groups[0].message, "item <n> not found");

    // Sorts and filters.
    let by_name: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{w}&sort=endpoint")).await;
    assert_eq!(by_name.endpoints[0].endpoint, "GET /api/items");
    let by_rate: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{w}&sort=error_rate")).await;
    assert_eq!(by_rate.endpoints[0].endpoint, "POST /api/pay");
    let timeouts: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{w}&error_type=TimeoutException")).await;
    assert_eq!(timeouts.endpoints.len(), 1);
    assert_eq!((timeouts.endpoints[0].errors, timeouts.endpoints[0].transactions, timeouts.endpoints[0].groups.len()), (2, 20, 1));
    let items_only: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{w}&service=shop&endpoint=GET%20/api/items")).await;
    assert_eq!(items_only.endpoints.len(), 1);
    let nobody: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{w}&service=nobody")).await;
    assert!(nobody.endpoints.is_empty());

    // Click-through: a group's failing transactions, by exception type.
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&service=shop&error_type=PaymentDeclined")).await;
    assert_eq!(p.total, 8);
    assert!(p.items.iter().all(|t| t.status == Status::Error && t.endpoint == "POST /api/pay" && t.error.as_deref() == Some("PaymentDeclined")));
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&error_type=NoSuchType")).await;
    assert_eq!(p.total, 0);
}

#[tokio::test]
async fn a_kind_of_failure_is_new_only_after_a_version_change() {
    let app = TestApp::new().await;
    let t0 = (now_ms() - 40 * MINUTE) / MINUTE * MINUTE;
    let boom = |trace: u64, end: i64, kind: &str, msg: &str| failed(server_span(trace, 1, "POST /api/pay", end, 20.0), kind, msg);
    let v1 = vec![boom(1, t0 + 1_000, "IllegalStateException", "state 3 invalid"), server_span(2, 1, "POST /api/pay", t0 + 2_000, 10.0)];
    ingest(&app, &resource("pay", "pay-1", Some("1.0"), v1)).await;
    let w = format!("from={}&to={}", t0 - MINUTE, t0 + 40 * MINUTE);
    let before: ErrorsAnswer = until(&app, &format!("/api/v1/errors?{w}"), |e: &ErrorsAnswer| !e.endpoints.is_empty()).await;
    assert!(!before.endpoints[0].new_since_deploy && before.endpoints[0].groups.iter().all(|g| !g.new_since_deploy), "{before:?}");
    assert_eq!(before.endpoints[0].deployed_version, None, "the first version seen is no deploy");

    // Version 2.0 ten minutes later: the old kind again, and a new one.
    let t1 = t0 + 10 * MINUTE;
    let v2 = vec![
        boom(10, t1 + 1_000, "IllegalStateException", "state 9 invalid"),
        boom(11, t1 + 2_000, "NullPointerException", "order 5512 has no customer"),
        boom(12, t1 + 3_000, "NullPointerException", "order 17 has no customer"),
    ];
    ingest(&app, &resource("pay", "pay-2", Some("2.0"), v2)).await;
    let after: ErrorsAnswer = until(&app, &format!("/api/v1/errors?{w}"), |e: &ErrorsAnswer| e.endpoints.first().is_some_and(|p| p.errors == 4)).await;
    let pay = &after.endpoints[0];
    assert!(pay.new_since_deploy);
    assert_eq!(pay.deployed_version.as_deref(), Some("2.0"));
    let flags: Vec<_> = pay.groups.iter().map(|g| (g.error_type.as_str(), g.message.as_str(), g.count, g.new_since_deploy)).collect();
    assert_eq!(
        flags,
        [
            ("IllegalStateException", "state <n> invalid", 2, false),
            ("NullPointerException", "order <n> has no customer", 2, true),
        ]
    );
    // Asked about the range after the deploy only, the old kind is still not new: its first sighting is
    // looked for over the whole retention.
    let late = format!("from={}&to={}", t1, t1 + 10 * MINUTE);
    let after_only: ErrorsAnswer = app.get_ok(&format!("/api/v1/errors?{late}")).await;
    let ise = after_only.endpoints[0].groups.iter().find(|g| g.error_type == "IllegalStateException").unwrap();
    assert!(!ise.new_since_deploy && ise.count == 1 && ise.first_seen_ms >= t1, "{ise:?}");
}

#[tokio::test]
async fn cube_groups_by_endpoint_and_status_as_sent() {
    let app = TestApp::new().await;
    let base = (now_ms() - 20 * MINUTE) / MINUTE * MINUTE;
    shop(&app, base).await;
    // A SQL step under one `GET /api/items` transaction, and one whose transaction is in another request.
    let step = |trace: u64, id: u64, sql: &str| db_span(trace, id, 1, ((base + 1_500) * 1_000_000) as u64, ((base + 1_502) * 1_000_000) as u64, sql);
    let mut with_sql = resource("shop", "shop-1", None, vec![step(300, 2, "SELECT * FROM items WHERE id = 1")]);
    with_sql.resource_spans[0].scope_spans[0].spans.push(http(300, "GET /api/items", base + 2_000, 5.0, "GET", 200));
    ingest(&app, &with_sql).await;
    let step_only = resource("shop", "shop-2", None, vec![step(101, 2, "select * from items where id = 2")]);
    ingest(&app, &step_only).await;
    // An exporter's retries: the same requests again count nothing twice (a step that came with its
    // transaction is counted with it; one without is deduplicated on its own).
    ingest(&app, &with_sql).await;
    ingest(&app, &step_only).await;
    let w = format!("from={}&to={}", base - MINUTE, base + 2 * MINUTE);

    let c: CubeAnswer = until(&app, &format!("/api/v1/cube?{w}&group_by=endpoint,status"), |c: &CubeAnswer| c.total.count == 61).await;
    let mut rows: Vec<(Vec<&str>, u64, u64)> =
        c.rows.iter().map(|r| (r.key.iter().map(String::as_str).collect(), r.measures.count, r.measures.errors)).collect();
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "by count, descending: {rows:?}");
    rows.sort();
    assert_eq!(
        rows,
        [
            (vec!["GET /api/items", "error"], 1, 1),
            (vec!["GET /api/items", "ok"], 30, 0),
            (vec!["GET /health", "ok"], 10, 0),
            (vec!["POST /api/pay", "error"], 10, 10),
            (vec!["POST /api/pay", "ok"], 10, 0),
        ]
    );
    assert_eq!((c.groups, c.other.is_none(), c.total.errors), (5, true, 11));

    // Method × HTTP status, on one instance; p95 of a slice within the sketch's bound.
    let c: CubeAnswer = app.get_ok(&format!("/api/v1/cube?{w}&group_by=http_method,http_status&filter=instance:shop-1&sort=p95")).await;
    let keys: Vec<(String, u64)> = c.rows.iter().map(|r| (r.key.join(" "), r.measures.count)).collect();
    assert_eq!(keys, [("POST 200".to_string(), 12), ("POST 402".to_string(), 8), ("GET 200".to_string(), 41)]);
    let p95 = c.rows[0].measures.p95.unwrap();
    // POST 200: 50 + i ms for i in 8..20; nearest-rank p95 of 12 values is the 12th, 69 ms.
    assert!((p95 - 69.0).abs() <= 69.0 * 0.011, "p95 {p95}");

    // Top N and "other": the answer says what was cut.
    let c: CubeAnswer = app.get_ok(&format!("/api/v1/cube?{w}&group_by=endpoint&limit=1")).await;
    assert_eq!((c.rows.len(), c.groups), (1, 3));
    assert_eq!(c.rows[0].key, ["GET /api/items"]);
    assert_eq!(c.other.as_ref().map(|o| o.measures.count), Some(30));

    // SQL steps: grouped by statement, with their transaction's endpoint when it came in the same request.
    let c: CubeAnswer = app.get_ok(&format!("/api/v1/cube?{w}&group_by=statement,endpoint,instance")).await;
    let steps: Vec<(Vec<&str>, u64)> = c.rows.iter().map(|r| (r.key.iter().map(String::as_str).collect(), r.measures.count)).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps.contains(&(vec!["select*from items where id=?", "GET /api/items", "shop-1"], 1)), "{steps:?}");
    assert!(steps.contains(&(vec!["select*from items where id=?", "", "shop-2"], 1)), "{steps:?}");

    // Series over time, whole minutes.
    let c: CubeAnswer = app.get_ok(&format!("/api/v1/cube?{w}&group_by=endpoint&step_ms=60000")).await;
    assert_eq!(c.step_ms, 60_000);
    assert!(c.rows.iter().all(|r| r.series.len() == c.timestamps.len()));
    assert_eq!(c.rows[0].series.iter().map(|m| m.count).sum::<u64>(), 31);
}

#[tokio::test]
async fn cube_metrics_slice_by_any_dimension() {
    let app = TestApp::new().await;
    let base = (now_ms() - 20 * MINUTE) / MINUTE * MINUTE;
    shop(&app, base).await;
    let w = format!("from={}&to={}", base - 5 * MINUTE, base + 5 * MINUTE);
    let uri = format!("/api/v1/metrics/query?metric=cube.errors&group_by=endpoint&{w}");
    let r: MetricQueryResult = until(&app, &uri, |r: &MetricQueryResult| r.series.len() == 3).await;
    let errors_of = |e: &str| -> f64 { r.series.iter().find(|s| s.labels["endpoint"] == e).unwrap().values.iter().flatten().sum() };
    assert_eq!((errors_of("POST /api/pay"), errors_of("GET /api/items"), errors_of("GET /health")), (10.0, 1.0, 0.0));
    assert_eq!(r.step_ms % 60_000, 0);
    assert!(r.series.iter().all(|s| s.values.len() == r.timestamps.len()));
    let uri = format!("/api/v1/metrics/query?metric=cube.response_time.p95&filter=instance:shop-1,http_method:POST,http_status:200&{w}");
    let p95: MetricQueryResult = app.get_ok(&uri).await;
    assert_eq!(p95.series.len(), 1);
    let v: Vec<f64> = p95.series[0].values.iter().flatten().copied().collect();
    assert_eq!(v.len(), 1, "one minute had such transactions: {:?}", p95.series[0].values);
    assert!((v[0] - 69.0).abs() <= 69.0 * 0.011, "p95 {}", v[0]);
    let (s, body) = app.get(&format!("/api/v1/metrics/query?metric=cube.count&group_by=colour&{w}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("colour"), "{body}");
}

#[tokio::test]
async fn bad_cube_and_errors_queries_are_400s_that_name_the_problem() {
    let app = TestApp::new().await;
    let now = now_ms();
    let h = now - 3_600_000;
    let month = now - 40 * 86_400_000;
    for (query, names) in [
        (format!("/api/v1/cube?from={h}&to={now}&group_by=endpoint,colour"), "\"colour\""),
        (format!("/api/v1/cube?from={h}&to={now}&sort=loudness"), "\"loudness\""),
        (format!("/api/v1/cube?from={h}&to={now}&filter=colour:red"), "\"colour\""),
        (format!("/api/v1/cube?from={h}&to={now}&filter=service"), "not dimension:value"),
        (format!("/api/v1/cube?from={now}&to={h}"), "must be before to"),
        (format!("/api/v1/cube?from={now}&to={now}"), "must be before to"),
        (format!("/api/v1/cube?from={month}&to={now}"), "retention"),
        (format!("/api/v1/cube?from={h}&to={}", now + 3 * 86_400_000), "more than a day"),
        (format!("/api/v1/cube?from={h}&to={now}&group_by=service,endpoint,instance,status,http_status"), "at most 4"),
        (format!("/api/v1/cube?from={h}&to={now}&group_by=endpoint,endpoint"), "twice"),
        (format!("/api/v1/cube?from={h}&to={now}&limit=0"), "limit"),
        (format!("/api/v1/cube?from={h}&to={now}&limit=100000"), "limit"),
        (format!("/api/v1/cube?from={h}&to={now}&step_ms=1000"), "whole number of minutes"),
        (format!("/api/v1/cube?from={}&to={now}&group_by=endpoint&limit=1000&step_ms=60000", now - 20 * 86_400_000), "cells"),
        (format!("/api/v1/cube?to={now}"), "from"),
        (format!("/api/v1/cube?from=yesterday&to={now}"), "from"),
        (format!("/api/v1/errors?from={h}&to={now}&sort=loudest"), "\"loudest\""),
        (format!("/api/v1/errors?from={now}&to={h}"), "must be before to"),
        (format!("/api/v1/errors?from={month}&to={now}"), "retention"),
    ] {
        let (s, body) = app.get(&query).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
        let e = body["error"].as_str().unwrap_or_default();
        assert!(e.contains(names), "{query}: {e:?} should name {names}");
    }
    // All the problems of one query at once.
    let (_, body) = app.get(&format!("/api/v1/cube?from={now}&to={h}&group_by=colour&sort=loudness&limit=0")).await;
    let e = body["error"].as_str().unwrap();
    for part in ["must be before to", "\"colour\"", "\"loudness\"", "limit"] {
        assert!(e.contains(part), "{e}");
    }
}
