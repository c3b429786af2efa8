//! OTLP/HTTP ingest through the real router: encodings, assembly across requests, bad input, token.

mod common;

use axum::http::StatusCode;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use sightline_model::{Hitmap, StepKind, Trace, TransactionPage};

fn window(now: i64) -> String {
    format!("from={}&to={}", now - 600_000, now + 60_000)
}

async fn total(app: &TestApp, now: i64) -> u64 {
    app.get_ok::<Hitmap>(&format!("/api/v1/hitmap?{}", window(now))).await.total
}

/// A transaction with a SQL step and an exception, sent as protobuf, shows up in the hitmap, the list and
/// the trace with its SQL text, thread and exception.
#[tokio::test]
async fn protobuf_ingest_appears_everywhere() {
    let app = TestApp::new().await;
    let now = now_ms();
    let root = failed(server_span(1, 1, "POST /api/pay", now, 3000.0), "java.sql.SQLTimeoutException", "lock wait");
    let start = root.start_time_unix_nano;
    let db = db_span(1, 2, 1, start + 100_000_000, start + 2_900_000_000, "SELECT * FROM accounts FOR UPDATE");
    let (status, body) = app.post_proto(&request("payment", vec![root, db])).await;
    assert_eq!(status, StatusCode::OK);
    let resp = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    assert!(resp.partial_success.is_none(), "{resp:?}");

    let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{}&ymax=5000&rows=50&cols=60", window(now))).await;
    assert_eq!((h.total, h.total_err), (1, 1));
    let col = h.grid.col_of(now).unwrap();
    assert_eq!(h.err[h.grid.index(col, h.grid.row_of(3000.0))], 1);

    let page: TransactionPage =
        app.get_ok(&format!("/api/v1/transactions?{}&min_ms=2900&max_ms=3100&service=payment", window(now))).await;
    assert_eq!(page.total, 1);
    let tx = &page.items[0];
    assert_eq!((tx.endpoint.as_str(), tx.service.as_str()), ("POST /api/pay", "payment"));
    assert_eq!(tx.error.as_deref(), Some("java.sql.SQLTimeoutException"));
    assert_eq!(tx.thread.as_deref(), Some("http-nio-8080-exec-1"));

    let trace: Trace = app.get_ok(&format!("/api/v1/traces/{}", tx.trace_id)).await;
    assert_eq!(trace.steps.len(), 2);
    let sql = &trace.steps[1];
    assert_eq!(sql.kind, StepKind::Sql);
    assert_eq!(sql.depth, 1);
    assert_eq!(sql.text.as_deref(), Some("SELECT * FROM accounts FOR UPDATE"));
    assert_eq!(sql.target.as_deref(), Some("postgresql/bank"));
    assert!((sql.offset_ms - 100.0).abs() < 1e-6);
    assert_eq!(trace.slowest_step, Some(1));
    assert!(trace.steps.iter().all(|s| s.critical));
    let err = trace.steps[0].error.as_ref().unwrap();
    assert_eq!(err.message.as_deref(), Some("lock wait"));
    assert_eq!(err.stacktrace.as_deref(), Some("at x\nat y"));
    // Upper-case ids work too; unknown ids are a JSON 404, malformed ones a JSON 400.
    let (s, _) = app.get(&format!("/api/v1/traces/{}", tx.trace_id.to_uppercase())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.get(&format!("/api/v1/traces/{}", "0".repeat(31) + "1")).await;
    assert_eq!((s, v["status"].as_u64()), (StatusCode::NOT_FOUND, Some(404)));
    let (s, v) = app.get("/api/v1/traces/xyz").await;
    assert_eq!((s, v["status"].as_u64()), (StatusCode::BAD_REQUEST, Some(400)));
}

/// OTLP/JSON as the spec writes it: hex ids, int64 as strings, enums as integers; also gzip-encoded.
#[tokio::test]
async fn json_and_gzip_ingest() {
    let app = TestApp::new().await;
    let now = now_ms();
    let end_ns = (now as u64) * 1_000_000;
    let json = serde_json::json!({
        "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "gateway" } }] },
            "scopeSpans": [{
                "scope": { "name": "manual" },
                "spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "name": "GET /balance",
                    "kind": 2,
                    "startTimeUnixNano": (end_ns - 42_000_000).to_string(),
                    "endTimeUnixNano": end_ns.to_string(),
                    "attributes": [
                        { "key": "thread.id", "value": { "intValue": "17" } },
                        { "key": "some.future.field", "value": { "stringValue": "x" } }
                    ],
                    "someUnknownField": { "nested": true },
                    "status": { "code": 1 }
                }]
            }]
        }]
    });
    let (s, body) = app.post("application/json", None, json.to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!({}));
    let trace: Trace = app.get_ok("/api/v1/traces/5b8efff798038103d269b633813fc60c").await;
    assert_eq!(trace.steps[0].span_id, "eee19b7ec3c1b174");
    assert_eq!(trace.steps[0].thread.as_deref(), Some("thread 17"));
    assert!((trace.duration_ms - 42.0).abs() < 1e-6);

    // gzip, protobuf and JSON.
    let req = request("gateway", vec![server_span(2, 1, "GET /a", now, 5.0)]);
    let (s, _) = app.post("application/x-protobuf", Some("gzip"), gzip(&proto(&req))).await;
    assert_eq!(s, StatusCode::OK);
    let req_json = serde_json::to_vec(&request("gateway", vec![server_span(3, 1, "GET /b", now, 6.0)])).unwrap();
    let (s, body) = app.post("application/json; charset=utf-8", Some("gzip"), gzip(&req_json)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(total(&app, now).await, 3);
    let page: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{}&endpoint=GET%20/b", window(now))).await;
    assert_eq!(page.total, 1);
}

/// A child arrives before its parent, in another request; a grandchild in a third. The trace assembles.
#[tokio::test]
async fn out_of_order_spans_across_requests_assemble() {
    let app = TestApp::new().await;
    let now = now_ms();
    let root = server_span(9, 1, "GET /slow", now, 1000.0);
    let s0 = root.start_time_unix_nano;
    let mut method = db_span(9, 2, 1, s0 + 10_000_000, s0 + 900_000_000, "");
    method.attributes = vec![kv("code.function", "charge")];
    method.kind = 1;
    method.name = "PaymentService.charge".into();
    let sql = db_span(9, 3, 2, s0 + 20_000_000, s0 + 800_000_000, "UPDATE balance SET x = 1");
    for (svc, spans) in [("payment", vec![sql]), ("payment", vec![method]), ("gateway", vec![root])] {
        let (s, _) = app.post_proto(&request(svc, spans)).await;
        assert_eq!(s, StatusCode::OK);
    }
    let trace: Trace = app.get_ok(&format!("/api/v1/traces/{}", const_hex::encode(trace_id(9)))).await;
    let shape: Vec<(u32, StepKind, &str)> = trace.steps.iter().map(|s| (s.depth, s.kind, s.service.as_str())).collect();
    assert_eq!(
        shape,
        [(0, StepKind::Transaction, "gateway"), (1, StepKind::Method, "payment"), (2, StepKind::Sql, "payment")]
    );
    assert_eq!(trace.slowest_step, Some(2));
    assert_eq!(trace.transactions.len(), 1);
}

/// Garbage, wrong content type, truncated protobuf, a 10 MB attribute, unknown fields, oversized and
/// gzip-bomb bodies: each gets the right answer and what was stored before is still there.
#[tokio::test]
async fn bad_input_is_refused_and_earlier_data_survives() {
    let app = TestApp::with(|_| {}).await;
    let now = now_ms();
    let good = request("svc", vec![server_span(1, 1, "GET /", now, 10.0)]);
    assert_eq!(app.post_proto(&good).await.0, StatusCode::OK);
    assert_eq!(total(&app, now).await, 1);

    let (s, body) = app.post("application/x-protobuf", None, b"\xff\xff\xff garbage \x00\x01".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["status"], 400);
    assert_eq!(app.post("text/plain", None, proto(&good)).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.post("", None, proto(&good)).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.post("application/x-protobuf", Some("br"), proto(&good)).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.post("application/json", None, b"{\"resourceSpans\": [".to_vec()).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.post("application/x-protobuf", Some("gzip"), b"not gzip".to_vec()).await.0, StatusCode::BAD_REQUEST);

    let big = request("svc", (2..50).map(|i| server_span(i, 1, "GET /x", now, 10.0)).collect());
    let bytes = proto(&big);
    let (s, _) = app.post("application/x-protobuf", None, bytes[..bytes.len() - 7].to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "truncated protobuf");
    assert_eq!(total(&app, now).await, 1, "nothing of a refused request is stored");

    // 10 MB attribute value: accepted, stored truncated.
    let mut huge = db_span(60, 2, 1, 1, 2, "");
    huge.start_time_unix_nano = (now as u64 - 5) * 1_000_000;
    huge.end_time_unix_nano = (now as u64 - 1) * 1_000_000;
    huge.attributes = vec![kv("db.system", "postgresql"), kv("db.statement", &"x".repeat(10 * 1024 * 1024))];
    let (s, _) = app.post_proto(&request("svc", vec![server_span(60, 1, "GET /huge", now, 10.0), huge])).await;
    assert_eq!(s, StatusCode::OK);
    let trace: Trace = app.get_ok(&format!("/api/v1/traces/{}", const_hex::encode(trace_id(60)))).await;
    let text = trace.steps[1].text.as_deref().unwrap();
    assert!(text.len() <= sightline_server::ingest::MAX_TEXT && text.ends_with('…'));

    // Unknown fields (a field number no version of OTLP uses) must be skipped, as protobuf requires.
    let mut with_unknown = proto(&request("svc", vec![server_span(61, 1, "GET /u", now, 10.0)]));
    with_unknown.extend_from_slice(&[0xf8, 0xff, 0x07, 0x2a]); // field 16383, varint 42
    let (s, _) = app.post("application/x-protobuf", None, with_unknown).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(total(&app, now).await, 3);

    // Spans with bad ids are rejected one by one: partial success.
    let mut bad = server_span(62, 1, "GET /bad", now, 1.0);
    bad.span_id = vec![1, 2, 3];
    let (s, body) = app.post_proto(&request("svc", vec![bad, server_span(63, 1, "GET /ok", now, 1.0)])).await;
    assert_eq!(s, StatusCode::OK);
    let p = ExportTraceServiceResponse::decode(&body[..]).unwrap().partial_success.unwrap();
    assert_eq!(p.rejected_spans, 1);
    assert!(p.error_message.contains("span_id"), "{}", p.error_message);
    assert_eq!(total(&app, now).await, 4);
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_get_413() {
    let app = TestApp::new().await;
    let mut state = app.state.clone();
    state.ingest_max_bytes = 64 * 1024;
    let small = sightline_server::app::router(state, None);
    let app = TestApp { router: small, ..app };
    let now = now_ms();
    let mut s = server_span(1, 1, "GET /", now, 1.0);
    s.attributes.push(kv("blob", &"y".repeat(100 * 1024)));
    let body = proto(&request("svc", vec![s]));
    assert_eq!(app.post("application/x-protobuf", None, body.clone()).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // 100 KB of 'y' gzips to a few hundred bytes: the limit applies after decompression.
    let bomb = gzip(&body);
    assert!(bomb.len() < 4096);
    assert_eq!(app.post("application/x-protobuf", Some("gzip"), bomb).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(total(&app, now).await, 0);
}

#[tokio::test]
async fn ingest_token_is_required_when_set() {
    let app = TestApp::with(|a| a.ingest_token = Some("s3cret".into())).await;
    let now = now_ms();
    let body = proto(&request("svc", vec![server_span(1, 1, "GET /", now, 1.0)]));
    let post = |auth: Option<&'static str>| {
        let mut b = axum::http::Request::post("/v1/traces").header("content-type", "application/x-protobuf");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(axum::body::Body::from(body.clone())).unwrap()
    };
    for auth in [None, Some("Bearer wrong"), Some("Bearer s3cre"), Some("Basic s3cret")] {
        let (s, _, body) = app.send(post(auth)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth:?}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(!v["error"].as_str().unwrap().contains("s3cret"));
    }
    assert_eq!(total(&app, now).await, 0);
    let (s, _, _) = app.send(post(Some("Bearer s3cret"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(total(&app, now).await, 1);
}

/// More concurrent exports than ingest permits: the extra ones wait their turn, none is refused or lost,
/// and concurrent requests share group commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_exports_beyond_the_permit_count_all_land() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let now = now_ms();
    let n = sightline_server::ingest::http::MAX_CONCURRENT_REQUESTS as u64 * 3;
    let mut tasks = Vec::new();
    for r in 0..n {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let spans = (0..20).map(|i| server_span(r * 100 + i + 1, 1, "GET /c", now - i as i64, 3.0)).collect();
            app.post_proto(&request("svc", spans)).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(total(&app, now).await, n * 20);
    assert_eq!(app.state.ingest_permits.available_permits(), sightline_server::ingest::http::MAX_CONCURRENT_REQUESTS);
}
