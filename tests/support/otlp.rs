//! Building OTLP/HTTP JSON export requests the way SDKs send them, for seeding the server in tests.

use serde_json::{json, Value};

/// One span to send. Times are epoch milliseconds.
#[derive(Clone, Debug)]
pub struct TestSpan {
    pub service: &'static str,
    pub trace_id: String,
    pub span_id: String,
    pub parent: Option<String>,
    pub name: String,
    /// 1 internal, 2 server, 3 client (OTLP SpanKind numbers).
    pub kind: u8,
    pub start_ms: f64,
    pub end_ms: f64,
    pub error: bool,
    pub attrs: Vec<(&'static str, String)>,
}

/// A server span (a transaction) with no parent.
pub fn transaction(service: &'static str, trace: u64, name: &str, end_ms: f64, duration_ms: f64, error: bool) -> TestSpan {
    TestSpan {
        service,
        trace_id: format!("{trace:032x}"),
        span_id: format!("{:016x}", trace * 1000 + 1),
        parent: None,
        name: name.into(),
        kind: 2,
        start_ms: end_ms - duration_ms,
        end_ms,
        error,
        attrs: vec![("http.request.method", "GET".into())],
    }
}

/// A child of `parent` in the same trace.
pub fn child(parent: &TestSpan, n: u64, name: &str, kind: u8, start_ms: f64, duration_ms: f64, attrs: Vec<(&'static str, String)>) -> TestSpan {
    TestSpan {
        service: parent.service,
        trace_id: parent.trace_id.clone(),
        span_id: format!("{:016x}", u64::from_str_radix(&parent.span_id, 16).unwrap() + n),
        parent: Some(parent.span_id.clone()),
        name: name.into(),
        kind,
        start_ms,
        end_ms: start_ms + duration_ms,
        error: false,
        attrs,
    }
}

fn nanos(ms: f64) -> String {
    format!("{}", (ms * 1_000_000.0) as u64)
}

/// The OTLP JSON body for `spans`, grouped by service into resourceSpans.
pub fn export_json(spans: &[TestSpan]) -> Value {
    let mut services: Vec<&str> = spans.iter().map(|s| s.service).collect();
    services.sort();
    services.dedup();
    json!({
        "resourceSpans": services.iter().map(|svc| json!({
            "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": svc } } ] },
            "scopeSpans": [ {
                "scope": { "name": "sightline-tests" },
                "spans": spans.iter().filter(|s| s.service == *svc).map(|s| json!({
                    "traceId": s.trace_id,
                    "spanId": s.span_id,
                    "parentSpanId": s.parent.clone().unwrap_or_default(),
                    "name": s.name,
                    "kind": s.kind,
                    "startTimeUnixNano": nanos(s.start_ms),
                    "endTimeUnixNano": nanos(s.end_ms),
                    "attributes": s.attrs.iter().map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } })).collect::<Vec<_>>(),
                    "status": { "code": if s.error { 2 } else { 1 } },
                })).collect::<Vec<_>>(),
            } ],
        })).collect::<Vec<_>>(),
    })
}

/// POSTs spans to the server's OTLP endpoint and checks they were all accepted.
pub async fn send(base_url: &str, spans: &[TestSpan]) {
    let resp = reqwest::Client::new()
        .post(format!("{base_url}/v1/traces"))
        .json(&export_json(spans))
        .send()
        .await
        .expect("POST /v1/traces");
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "ingest answered {status}: {body}");
    assert!(!body.contains("rejectedSpans\":\"") || body.contains("rejectedSpans\":\"0"), "spans rejected: {body}");
}
