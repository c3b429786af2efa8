//! The query API over known data: bands, paging, ordering, services, active, live, traces' self times, bad
//! parameters (the same 400 for an inverted window everywhere), and the request timeout.

mod common;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use common::*;
use futures::StreamExt;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::trace::v1::Span;
use sightline_model::{ActiveList, Hitmap, LivePoint, ServiceList, Status, Trace, TransactionPage};
use tower::ServiceExt;

/// 100 transactions of `checkout` (10 failing), 0..=990 ms, plus a 0 ms one and a 9 s one.
async fn seeded() -> (TestApp, i64) {
    let app = TestApp::new().await;
    let now = now_ms();
    let mut spans: Vec<Span> = (0..100u64)
        .map(|i| {
            let s = server_span(i + 1, 1, if i % 2 == 0 { "GET /a" } else { "GET /b" }, now - 1000 - i as i64, i as f64 * 10.0);
            if i % 10 == 5 {
                failed(s, "Boom", "boom")
            } else {
                s
            }
        })
        .collect();
    spans.push(server_span(500, 1, "GET /zero", now - 10, 0.0));
    spans.push(server_span(501, 1, "GET /slow", now - 10, 9000.0));
    assert_eq!(app.post_proto(&request("checkout", spans)).await.0, StatusCode::OK);
    assert_eq!(app.post_proto(&request("other", vec![server_span(600, 1, "GET /o", now - 5, 1.0)])).await.0, StatusCode::OK);
    (app, now)
}

#[tokio::test]
async fn hitmap_counts_every_transaction_including_zero_and_overflow() {
    let (app, now) = seeded().await;
    let q = format!("from={}&to={}&cols=30&rows=10&ymax=5000", now - 60_000, now);
    let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{q}&service=checkout")).await;
    assert_eq!((h.total, h.total_err), (102, 10));
    let last = h.grid.cols - 1;
    assert_eq!(h.ok[h.grid.index(last, h.grid.rows)], 1, "9 s lands in the ≥ max band");
    let all: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{q}&scale=log")).await;
    assert_eq!(all.total, 103);
    let none: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{q}&service=nobody")).await;
    assert_eq!(none.total, 0);
}

#[tokio::test]
async fn transactions_bands_paging_and_order() {
    let (app, now) = seeded().await;
    let w = format!("from={}&to={}&service=checkout", now - 60_000, now);
    // min_ms=0 includes the 0 ms transaction; no max_ms includes the 9 s one.
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&min_ms=0&max_ms=0.5")).await;
    assert_eq!(p.total, 2, "0 ms ones (GET /zero and i=0)");
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&min_ms=5000")).await;
    assert_eq!((p.total, p.items[0].endpoint.as_str()), (1, "GET /slow"));
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&status=error")).await;
    assert_eq!(p.total, 10);
    assert!(p.items.iter().all(|t| t.status == Status::Error && t.error.as_deref() == Some("Boom")));
    let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&endpoint=GET%20/a&min_ms=100&max_ms=200")).await;
    assert_eq!(p.total, 5);

    // Paging: slowest first, 7 per page, every one exactly once, in order.
    for order in ["slowest", "newest"] {
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let c = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&order={order}&limit=7{c}")).await;
            assert_eq!(p.total, 102);
            assert!(p.items.len() <= 7);
            seen.extend(p.items);
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 102, "{order}");
        if order == "slowest" {
            assert!(seen.windows(2).all(|w| w[0].duration_ms >= w[1].duration_ms));
            assert_eq!(seen[0].endpoint, "GET /slow");
        } else {
            assert!(seen.windows(2).all(|w| w[0].end_ms >= w[1].end_ms));
        }
    }
}

#[tokio::test]
async fn bad_parameters_get_json_400s() {
    let (app, now) = seeded().await;
    for uri in [
        format!("/api/v1/hitmap?from={now}&to={now}"),
        format!("/api/v1/hitmap?from={}&to={now}", now + 1),
        "/api/v1/hitmap?cols=0".to_string(),
        "/api/v1/hitmap?cols=2001".to_string(),
        "/api/v1/hitmap?rows=0".to_string(),
        "/api/v1/hitmap?ymax=-1".to_string(),
        "/api/v1/hitmap?scale=cubic".to_string(),
        "/api/v1/hitmap?from=yesterday".to_string(),
        "/api/v1/transactions?min_ms=10&max_ms=5".to_string(),
        "/api/v1/transactions?limit=0".to_string(),
        "/api/v1/transactions?status=maybe".to_string(),
        "/api/v1/transactions?order=random".to_string(),
        "/api/v1/transactions?cursor=zzz".to_string(),
        format!("/api/v1/services?from={now}&to=1"),
    ] {
        let (s, v) = app.get(&uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["status"], 400, "{uri}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{uri}");
    }
    let (s, v) = app.get("/api/v1/nope").await;
    assert_eq!((s, v["status"].as_u64()), (StatusCode::NOT_FOUND, Some(404)));
}

#[tokio::test]
async fn services_summary() {
    let (app, now) = seeded().await;
    let list: ServiceList = app.get_ok(&format!("/api/v1/services?from={}&to={now}", now - 10_000)).await;
    let names: Vec<&str> = list.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["checkout", "other"]);
    let c = &list.services[0];
    assert_eq!((c.transactions, c.errors), (102, 10));
    assert!((c.tps - 10.2).abs() < 1e-9);
    assert!((c.error_rate - 10.0 / 102.0).abs() < 1e-9);
    // 97th of 102 by nearest rank: durations 0,0,10..990,9000 → 950 ms.
    assert_eq!(c.p95_ms, 950.0);
}

#[tokio::test]
async fn active_shows_in_flight_until_finished() {
    let app = TestApp::new().await;
    let now = now_ms();
    let mut running = server_span(1, 1, "POST /recharge", now, 4000.0);
    running.end_time_unix_nano = 0;
    let mut step = db_span(1, 2, 1, running.start_time_unix_nano + 1_000_000, 0, "SELECT pg_sleep(10)");
    step.name = "SELECT pg_sleep".into();
    assert_eq!(app.post_proto(&request("recharge", vec![running, step])).await.0, StatusCode::OK);
    let list: ActiveList = app.get_ok("/api/v1/active?service=recharge").await;
    assert_eq!(list.items.len(), 1);
    let a = &list.items[0];
    assert_eq!((a.endpoint.as_str(), a.current_step.as_deref()), ("POST /recharge", Some("SELECT pg_sleep")));
    assert!(a.elapsed_ms >= 4000.0);
    assert!(app.get_ok::<ActiveList>("/api/v1/active?service=gateway").await.items.is_empty());
    // Not on the hitmap while running.
    let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?from={}&to={}", now - 60_000, now + 60_000)).await;
    assert_eq!(h.total, 0);
    // The running trace can already be opened.
    let t: sightline_model::Trace = app.get_ok(&format!("/api/v1/traces/{}", const_hex::encode(trace_id(1)))).await;
    assert_eq!(t.steps.len(), 2);

    assert_eq!(app.post_proto(&request("recharge", vec![server_span(1, 1, "POST /recharge", now + 1, 4001.0)])).await.0, StatusCode::OK);
    assert!(app.get_ok::<ActiveList>("/api/v1/active?service=recharge").await.items.is_empty());
}

#[tokio::test]
async fn live_stream_pushes_new_transactions() {
    let app = TestApp::new().await;
    let resp = app
        .router
        .clone()
        .oneshot(Request::get("/api/v1/hitmap/live?service=live").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = resp.into_body();
    let now = now_ms();
    let hitmap_uri = format!("/api/v1/hitmap?from={}&to={}&service=live", now - 60_000, now + 60_000);
    let before: Hitmap = app.get_ok(&hitmap_uri).await;
    // Another service's transaction is filtered out; ours arrives.
    assert_eq!(app.post_proto(&request("other", vec![server_span(1, 1, "GET /", now, 1.0)])).await.0, StatusCode::OK);
    assert_eq!(app.post_proto(&request("live", vec![server_span(2, 1, "GET /", now, 12.5)])).await.0, StatusCode::OK);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame()).await.expect("an event").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data:")).expect("a data line");
    let points: Vec<LivePoint> = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(points, [LivePoint { end_ms: now, duration_ms: 12.5, error: false, service: "live".into() }]);
    // The event's id numbers the commit; a snapshot before it lacks the point, one after has it.
    let id: u64 = text.lines().find_map(|l| l.strip_prefix("id:")).expect("an id line").trim().parse().unwrap();
    assert!(id > before.seq, "event {id} must be newer than the earlier snapshot {}", before.seq);
    assert_eq!(before.total, 0);
    let after: Hitmap = app.get_ok(&hitmap_uri).await;
    assert!(after.seq >= id, "a later snapshot ({}) includes event {id}", after.seq);
    assert_eq!(after.total, 1);
}

/// Selecting hitmap cells by index lists exactly the transactions the hitmap counted in them, also at
/// cell edges where millisecond bounds recomputed from the grid would be off by one.
#[tokio::test]
async fn cell_selection_matches_hitmap_counts_exactly() {
    let app = TestApp::new().await;
    let to = now_ms() - 5_000;
    let from = to - 10_000;
    // 3 columns of 3 333.3 ms: ends at the rounded column starts are the edge cases.
    let ends = [from, from + 3333, from + 3334, from + 6666, from + 6667, to - 1];
    let durations = [0.0, 0.4, 1.0, 50.0, 714.2857142857143, 1234.5678, 4999.9, 5000.0, 7000.0];
    let mut spans = Vec::new();
    let mut id = 0;
    for &e in &ends {
        for &d in &durations {
            id += 1;
            spans.push(server_span(id, 1, "GET /edge", e, d));
        }
    }
    assert_eq!(app.post_proto(&request("edge", spans)).await.0, StatusCode::OK);
    for scale in ["linear", "log"] {
        let g = format!("from={from}&to={to}&cols=3&rows=7&ymax=5000&scale={scale}");
        let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{g}")).await;
        assert_eq!(h.total, (ends.len() * durations.len()) as u64);
        let mut listed = 0;
        for col in 0..3 {
            for row in 0..=7 {
                let i = h.grid.index(col, row);
                let page: TransactionPage = app
                    .get_ok(&format!("/api/v1/transactions?{g}&col_from={col}&col_to={col}&row_from={row}&row_to={row}&limit=1000"))
                    .await;
                assert_eq!(page.total, (h.ok[i] + h.err[i]) as u64, "{scale} cell ({col}, {row})");
                listed += page.total;
            }
        }
        assert_eq!(listed, h.total);
        // A rectangle: the ≥ max band over all columns.
        let page: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{g}&row_from=7")).await;
        assert_eq!(page.total, 2 * ends.len() as u64, "5000 and 7000 ms are at or above ymax");
    }
    let (s, v) = app.get(&format!("/api/v1/transactions?from={from}&to={to}&cols=3&col_from=2&col_to=3")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = app.get(&format!("/api/v1/transactions?from={from}&to={to}&rows=7&row_from=8")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// A service reporting a new `service.version` is a deploy: listed with the version before it, at the start
/// of its earliest span; the first version seen is listed without a previous one.
#[tokio::test]
async fn a_new_service_version_is_listed_as_a_deploy() {
    let app = TestApp::new().await;
    let now = now_ms();
    let versioned = |version: &str, spans: Vec<Span>| {
        let mut r = request("payment", spans);
        r.resource_spans[0].resource.as_mut().unwrap().attributes.push(kv("service.version", version));
        r
    };
    assert_eq!(app.post_proto(&versioned("3.0.1", vec![server_span(1, 1, "POST /pay", now - 50_000, 10.0)])).await.0, StatusCode::OK);
    assert_eq!(app.post_proto(&versioned("3.1.0", vec![server_span(2, 1, "POST /pay", now - 20_000, 10.0), server_span(3, 1, "POST /pay", now - 30_000, 5.0)])).await.0, StatusCode::OK);
    // Without a version nothing is learnt.
    assert_eq!(app.post_proto(&request("gateway", vec![server_span(4, 1, "GET /", now - 10_000, 1.0)])).await.0, StatusCode::OK);
    let list: sightline_model::DeployList = app.get_ok(&format!("/api/v1/deploys?from={}&to={now}", now - 60_000)).await;
    let d: Vec<(&str, &str, Option<&str>)> = list.deploys.iter().map(|d| (d.service.as_str(), d.version.as_str(), d.previous.as_deref())).collect();
    assert_eq!(d, vec![("payment", "3.0.1", None), ("payment", "3.1.0", Some("3.0.1"))]);
    assert_eq!(list.deploys[1].at_ms, now - 30_000 - 5, "the earliest span of the new version (start = end - duration)");
    let none: sightline_model::DeployList = app.get_ok(&format!("/api/v1/deploys?from={}&to={now}&service=gateway", now - 60_000)).await;
    assert!(none.deploys.is_empty());
}

/// Every endpoint that takes a window answers an inverted or empty one with the same 400, before it looks
/// anything up (an unknown database instance, an unknown process).
#[tokio::test]
async fn an_inverted_window_is_the_same_400_everywhere() {
    let app = TestApp::with(|a| a.host_collector = true).await;
    let (from, to) = (now_ms(), now_ms() - 60_000);
    for path in [
        "/api/v1/hitmap?",
        "/api/v1/transactions?",
        "/api/v1/transactions?col_from=0&",
        "/api/v1/services?",
        "/api/v1/deploys?",
        "/api/v1/metrics/query?metric=transactions.tps&",
        "/api/v1/db/instances/nope/metrics?",
        "/api/v1/db/instances/nope/statements?",
        "/api/v1/db/instances/nope/samples?",
        "/api/v1/host/processes/1/history?",
    ] {
        for (f, t) in [(from, to), (to, to)] {
            let uri = format!("{path}from={f}&to={t}");
            let (s, v) = app.get(&uri).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
            assert_eq!(v["error"], format!("from ({f}) must be before to ({t})"), "{uri}");
        }
    }
    // A `from` after the default `to` (now) is inverted too; a moment that is not a number is a bad query.
    let (s, _) = app.get(&format!("/api/v1/deploys?from={}", now_ms() + 3_600_000)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for uri in ["/api/v1/host/processes?at=yesterday", "/api/v1/db/instances/nope/locks?at=noon"] {
        let (s, v) = app.get(uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert!(v["error"].as_str().unwrap().starts_with("bad query parameters"), "{uri}: {v}");
    }
}

/// The server sends each step's self time: its duration minus the union of its children's intervals.
#[tokio::test]
async fn trace_steps_carry_their_self_time() {
    let app = TestApp::new().await;
    let end = now_ms() - 1_000;
    let root = server_span(7, 1, "POST /pay", end, 100.0);
    let t0 = root.start_time_unix_nano;
    let ms = |n: u64| t0 + n * 1_000_000;
    // Two overlapping statements (10..40 and 30..60 ms) and one after them (70..80 ms).
    let steps = vec![
        db_span(7, 2, 1, ms(10), ms(40), "SELECT 1"),
        db_span(7, 3, 1, ms(30), ms(60), "SELECT 2"),
        db_span(7, 4, 1, ms(70), ms(80), "SELECT 3"),
    ];
    assert_eq!(app.post_proto(&request("payment", [vec![root], steps].concat())).await.0, StatusCode::OK);
    let t: Trace = app.get_ok(&format!("/api/v1/traces/{}", const_hex::encode(trace_id(7)))).await;
    let own: Vec<f64> = t.steps.iter().map(|s| s.self_ms).collect();
    assert_eq!(own, [100.0 - 50.0 - 10.0, 30.0, 30.0, 10.0]);
}

/// Past the request timeout an API request is answered 503 in the usual error shape; an OTLP export that
/// takes longer than that is not cut, and the live stream stays open through it.
#[tokio::test]
async fn slow_requests_time_out_but_ingest_and_the_live_stream_do_not() {
    let app = TestApp::with(|a| a.request_timeout_ms = 200).await;
    let live = app.router.clone().oneshot(Request::get("/api/v1/hitmap/live").body(Body::empty()).unwrap()).await.unwrap();
    let mut live = live.into_body();

    // An export whose second half arrives after the API timeout (the pause is the test's stimulus).
    let bytes = proto(&request("slow", vec![server_span(1, 1, "GET /", now_ms(), 3.0)]));
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    let (head, tail) = (Bytes::copy_from_slice(head), Bytes::copy_from_slice(tail));
    let upload = futures::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(futures::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(tail)
    }));
    let export = Request::post("/v1/traces").header("content-type", "application/x-protobuf").body(Body::from_stream(upload)).unwrap();
    let started = Instant::now();
    let (s, _, _) = app.send(export).await;
    assert_eq!(s, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(500));
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), live.frame()).await.expect("an event").unwrap().unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    assert!(text.contains("\"service\":\"slow\""), "{text}");

    // A board save whose body never finishes arriving: abandoned at the timeout.
    let never = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{\"title\":")) }).chain(futures::stream::pending());
    let save = Request::put("/api/v1/boards/x").header("content-type", "application/json").body(Body::from_stream(never)).unwrap();
    let started = Instant::now();
    let (s, _, body) = app.send(save).await;
    let waited = started.elapsed();
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], 503);
    assert!(v["error"].as_str().unwrap().starts_with("no answer within 0.2 s"), "{v}");
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(10), "{waited:?}");
    // Quick requests are unaffected.
    assert_eq!(app.get("/api/v1/health").await.0, StatusCode::OK);
}
