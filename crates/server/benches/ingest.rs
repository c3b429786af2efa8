//! Ingest throughput: OTLP/HTTP protobuf over a real socket into the durable store (fsync per group
//! commit), against bare prost decoding of the very same payloads, in the same run.
//!
//! `cargo bench -p sightline-server --bench ingest`. Each iteration sends 64 requests of 512 spans
//! (the OTel SDK's default batch) with 8 connections in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span};
use prost::Message;
use sightline_server::config::ServeArgs;
use sightline_server::state::AppState;

const REQUESTS: usize = 64;
const SPANS_PER_REQUEST: usize = 512;
const CONCURRENCY: usize = 8;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }), ..Default::default() }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }), ..Default::default() }
}

/// A realistic batch: traces of 8 spans (SERVER, 4 SQL, 1 HTTP client, 2 internal) with the attributes
/// instrumentations actually set.
fn payload(seed: u64) -> Vec<u8> {
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

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base, _state) = rt.block_on(async {
        let args = ServeArgs::for_tests(dir.path());
        let state = AppState::open(&args).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = sightline_server::app::router(state.clone(), None);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{addr}/v1/traces"), state)
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build().unwrap();
    let mut seed = 0u64;
    let mut next_payloads = || -> Arc<Vec<bytes::Bytes>> {
        seed += 1;
        Arc::new((0..REQUESTS).map(|i| bytes::Bytes::from(payload(seed * 1000 + i as u64))).collect())
    };
    let bytes_per_iter: usize = next_payloads().iter().map(|p| p.len()).sum();
    eprintln!("payload: {REQUESTS} requests × {SPANS_PER_REQUEST} spans, {} KiB per request", bytes_per_iter / REQUESTS / 1024);

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements((REQUESTS * SPANS_PER_REQUEST) as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    let decode_payloads = next_payloads();
    g.bench_function("bare_prost_decode", |b| {
        b.iter(|| {
            let mut n = 0;
            for p in decode_payloads.iter() {
                let req = ExportTraceServiceRequest::decode(p.clone()).unwrap();
                n += req.resource_spans[0].scope_spans[0].spans.len();
            }
            assert_eq!(n, REQUESTS * SPANS_PER_REQUEST);
        })
    });

    // The CPU part of ingest without HTTP or storage: decode, validate and reduce to stored records.
    g.bench_function("decode_and_convert", |b| {
        b.iter(|| {
            let mut n = 0;
            for p in decode_payloads.iter() {
                let req = ExportTraceServiceRequest::decode(p.clone()).unwrap();
                n += sightline_server::ingest::convert(req).spans.len();
            }
            assert_eq!(n, REQUESTS * SPANS_PER_REQUEST);
        })
    });

    g.bench_function("otlp_http_protobuf_durable", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Fresh ids each iteration: retries of stored transactions would be skipped as duplicates.
                let payloads = next_payloads();
                let client = client.clone();
                let base = base.clone();
                let started = Instant::now();
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for w in 0..CONCURRENCY {
                        let (client, base, payloads) = (client.clone(), base.clone(), payloads.clone());
                        tasks.push(tokio::spawn(async move {
                            for p in payloads.iter().skip(w).step_by(CONCURRENCY) {
                                let r = client
                                    .post(&base)
                                    .header("content-type", "application/x-protobuf")
                                    .body(p.clone())
                                    .send()
                                    .await
                                    .unwrap();
                                assert_eq!(r.status(), 200);
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
