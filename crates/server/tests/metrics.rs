//! The metric catalogue and series queries over transactions ingested through the real OTLP endpoint:
//! known data in, exact tps / percentiles / error rates out.

mod common;

use axum::http::StatusCode;
use common::*;
use sightline_model::{MetricCatalog, MetricQueryResult};

/// One minute starting at `base`: `checkout` ends a transaction every 500 ms (120), alternating `GET /a`
/// (1..=60 ms) and `GET /b` (101..=160 ms, 6 of them failing); `other` has 30 of 5 ms.
async fn seeded() -> (TestApp, i64) {
    let app = TestApp::new().await;
    let base = (now_ms() - 30 * 60_000) / 60_000 * 60_000;
    let spans = (0..120u64)
        .map(|i| {
            let k = i / 2;
            if i % 2 == 0 {
                server_span(i + 1, 1, "GET /a", base + i as i64 * 500, 1.0 + k as f64)
            } else {
                let s = server_span(i + 1, 1, "GET /b", base + i as i64 * 500, 101.0 + k as f64);
                if k % 10 == 0 {
                    failed(s, "Timeout", "upstream timed out")
                } else {
                    s
                }
            }
        })
        .collect();
    assert_eq!(app.post_proto(&request("checkout", spans)).await.0, StatusCode::OK);
    let other = (0..30u64).map(|i| server_span(1000 + i, 1, "GET /o", base + i as i64 * 2000, 5.0)).collect();
    assert_eq!(app.post_proto(&request("other", other)).await.0, StatusCode::OK);
    (app, base)
}

fn q(base: i64, rest: &str) -> String {
    format!("/api/v1/metrics/query?from={base}&to={}&{}", base + 60_000, rest.replace(' ', "%20"))
}

#[tokio::test]
async fn catalogue_lists_units_dimensions_and_what_is_unavailable() {
    let app = TestApp::new().await;
    let c: MetricCatalog = app.get_ok("/api/v1/metrics").await;
    let m = |n: &str| c.metrics.iter().find(|m| m.name == n).unwrap_or_else(|| panic!("{n} missing"));
    let p95 = m("transactions.response_time.p95");
    assert_eq!((p95.unit.as_str(), p95.available), ("ms", true));
    assert_eq!(p95.dimensions, ["service", "endpoint"]);
    assert_eq!(m("transactions.tps").unit, "1/s");
    assert_eq!(m("transactions.error_rate").unit, "ratio");
    for pending in ["db.sessions.active", "db.buffer_hit_ratio", "host.cpu.usage", "process.memory.rss"] {
        assert!(!m(pending).available && m(pending).unavailable_reason.is_some(), "{pending}");
    }
    // Without a --postgres instance, the database metrics say how to get one.
    assert!(m("db.tps").unavailable_reason.as_deref().unwrap().contains("--postgres"));
    assert_eq!(m("db.sessions.active").dimensions, ["instance", "wait_class"]);
}

#[tokio::test]
async fn tps_percentiles_and_error_rate_of_a_known_minute() {
    let (app, base) = seeded().await;

    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.tps&step=1m&filter=service:checkout")).await;
    assert_eq!((r.from, r.to, r.step_ms, r.unit.as_str()), (base, base + 60_000, 60_000, "1/s"));
    assert_eq!(r.timestamps, [base]);
    assert_eq!(r.series.len(), 1);
    assert!(r.series[0].labels.is_empty());
    assert_eq!(r.series[0].values, [Some(2.0)]);

    // Six 10 s buckets of 20 transactions each.
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.tps&step=10s&filter=service:checkout")).await;
    assert_eq!(r.timestamps, (0..6).map(|i| base + i * 10_000).collect::<Vec<_>>());
    assert_eq!(r.series[0].values, [Some(2.0); 6]);

    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.response_time.p95&step=60000&filter=service:checkout")).await;
    assert_eq!(r.series[0].values, [Some(154.0)], "the 114th of 1..=60 ∪ 101..=160");
    let r: MetricQueryResult =
        app.get_ok(&q(base, "metric=transactions.response_time.p95&step=1m&filter=service:checkout&group_by=endpoint")).await;
    let by: Vec<(&str, Option<f64>)> = r.series.iter().map(|s| (s.labels["endpoint"].as_str(), s.values[0])).collect();
    assert_eq!(by, [("GET /a", Some(57.0)), ("GET /b", Some(157.0))]);
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.response_time.p50&step=1m&filter=service:checkout,endpoint:GET /a")).await;
    assert_eq!(r.series[0].values, [Some(30.0)]);
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.response_time.p99&step=1m&filter=endpoint:GET /b")).await;
    assert_eq!(r.series[0].values, [Some(160.0)]);

    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.error_rate&step=1m&group_by=service")).await;
    let by: Vec<(&str, Option<f64>)> = r.series.iter().map(|s| (s.labels["service"].as_str(), s.values[0])).collect();
    assert_eq!(by, [("checkout", Some(0.05)), ("other", Some(0.0))]);
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.errors&step=1m")).await;
    assert_eq!(r.series[0].values, [Some(6.0)]);
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.count&step=1m&group_by=service,endpoint")).await;
    assert_eq!(r.series.len(), 3);
    assert_eq!(r.series[2].labels.get("service").map(String::as_str), Some("other"));
    assert_eq!(r.series.iter().map(|s| s.values[0].unwrap()).collect::<Vec<_>>(), [60.0, 60.0, 30.0]);

    // limit keeps the busiest groups.
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.count&step=1m&group_by=endpoint&limit=2")).await;
    assert_eq!((r.series.len(), r.truncated), (2, 1));
    assert!(r.series.iter().all(|s| s.labels["endpoint"] != "GET /o"));
}

#[tokio::test]
async fn empty_buckets_and_the_point_budget() {
    let (app, base) = seeded().await;
    // The hour around the data at ≤ 10 points: 10 min steps; only the data's bucket has a p95.
    let (from, to) = (base - 30 * 60_000, base + 30 * 60_000);
    let r: MetricQueryResult =
        app.get_ok(&format!("/api/v1/metrics/query?metric=transactions.response_time.p95&from={from}&to={to}&max_points=10")).await;
    assert_eq!(r.step_ms, 600_000);
    assert!(r.timestamps.len() <= 10);
    assert_eq!(r.series[0].values.iter().filter(|v| v.is_some()).count(), 1, "{:?}", r.series[0].values);
    let tps: MetricQueryResult = app.get_ok(&format!("/api/v1/metrics/query?metric=transactions.tps&from={from}&to={to}&max_points=10")).await;
    assert!((tps.series[0].values.iter().map(|v| v.unwrap()).sum::<f64>() * 600.0 - 150.0).abs() < 1e-9, "150 transactions in all");
    // A day at the default budget: never more than 1000 points; a step that is too fine is coarsened.
    let r: MetricQueryResult =
        app.get_ok(&format!("/api/v1/metrics/query?metric=transactions.tps&from={}&to={}&step=1s", base - 86_400_000, base)).await;
    assert!(r.timestamps.len() <= 1000 && r.series[0].values.len() == r.timestamps.len(), "{}", r.timestamps.len());
    assert_eq!(r.step_ms, 120_000);
    // A service nobody knows: one series of zeros, not an error.
    let r: MetricQueryResult = app.get_ok(&q(base, "metric=transactions.tps&step=1m&filter=service:nobody")).await;
    assert_eq!(r.series[0].values, [Some(0.0)]);
}

#[tokio::test]
async fn bad_queries_say_what_is_wrong() {
    let (app, base) = seeded().await;
    for (query, says) in [
        ("metric=db.tps", "is not available: no PostgreSQL instance is monitored"),
        ("metric=nope", "unknown metric \"nope\""),
        ("metric=transactions.tps&group_by=host", "has no dimension \"host\""),
        ("metric=transactions.tps&filter=service", "is not dimension:value"),
        ("metric=transactions.tps&step=fast", "step \"fast\""),
        ("metric=transactions.tps&max_points=0", "max_points must be"),
        ("metric=transactions.tps&max_points=1", "max_points must be 2..=10000"),
    ] {
        let (s, v) = app.get(&q(base, query)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{query}: {v}");
    }
    let (s, _) = app.get(&format!("/api/v1/metrics/query?metric=transactions.tps&from={base}&to={base}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Windows far outside time are refused rather than overflowing the step arithmetic.
    let (s, v) = app.get("/api/v1/metrics/query?metric=transactions.tps&from=-1&to=9223372036854775807").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app.get("/api/v1/metrics/query?metric=transactions.tps&from=0&to=7000000000000&max_points=2").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["timestamps"].as_array().unwrap().len() <= 2);
    let (s, _) = app.get("/api/v1/metrics/query").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "metric is required");
}
