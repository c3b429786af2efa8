//! The OTLP payload the benchmarks send: realistic traces as an instrumented Java service would export.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// The OpenTelemetry SDKs' default export batch size.
pub const SPANS_PER_REQUEST: usize = 512;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }), ..Default::default() }
}

pub fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }), ..Default::default() }
}

/// A realistic batch: traces of 8 spans (SERVER, 4 SQL, 1 HTTP client, 2 internal) with the attributes
/// instrumentations actually set.
pub fn payload(seed: u64) -> Vec<u8> {
    let now_ns = sightline_server::store::now_ms() as u64 * 1_000_000;
    let mut spans = Vec::with_capacity(SPANS_PER_REQUEST);
    let mut t = 0u64;
    while spans.len() < SPANS_PER_REQUEST {
        t += 1;
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&seed.to_be_bytes());
        trace_id[8..].copy_from_slice(&t.to_be_bytes());
        let root_id = (t << 8 | 1).to_be_bytes().to_vec();
        let start = now_ns - 50_000_000;
        spans.push(Span {
            trace_id: trace_id.to_vec(),
            span_id: root_id.clone(),
            name: "POST /api/v1/payments".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 40_000_000 + t * 1000,
            attributes: vec![
                kv("http.request.method", "POST"),
                kv("url.path", "/api/v1/payments"),
                kv("http.route", "/api/v1/payments"),
                kv_int("http.response.status_code", 200),
                kv("server.address", "payment.internal"),
                kv("thread.name", "http-nio-8080-exec-12"),
                kv_int("thread.id", 112),
            ],
            ..Default::default()
        });
        for c in 0..7u64 {
            let (name, kind, attrs) = match c {
                0..=3 => (
                    "SELECT payments",
                    SpanKind::Client,
                    vec![
                        kv("db.system", "postgresql"),
                        kv("db.name", "payments"),
                        kv("db.statement", "SELECT id, amount, currency, status FROM payments WHERE account_id = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 50"),
                        kv("server.address", "pg-primary"),
                        kv_int("server.port", 5432),
                    ],
                ),
                4 => (
                    "GET",
                    SpanKind::Client,
                    vec![kv("http.request.method", "GET"), kv("url.full", "http://balance.internal/api/balance/42"), kv("server.address", "balance.internal"), kv_int("http.response.status_code", 200)],
                ),
                _ => ("PaymentService.authorize", SpanKind::Internal, vec![kv("code.function", "authorize"), kv("code.namespace", "com.example.payment.PaymentService")]),
            };
            spans.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: (t << 8 | (c + 2)).to_be_bytes().to_vec(),
                parent_span_id: root_id.clone(),
                name: name.into(),
                kind: kind as i32,
                start_time_unix_nano: start + c * 4_000_000,
                end_time_unix_nano: start + c * 4_000_000 + 3_000_000,
                attributes: attrs,
                ..Default::default()
            });
        }
    }
    spans.truncate(SPANS_PER_REQUEST);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "payment"), kv("service.version", "1.4.2"), kv("host.name", "payment-7d9f")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "io.opentelemetry.spring-webmvc-6.0".into(), version: "2.9.0".into(), ..Default::default() }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

