//! Alert evaluation (issue 12): one round of 1 000 metric rules over demo-like data. Target: ≤ 5 % of one
//! core at the default 15 s interval, i.e. ≤ 750 ms of CPU per round.
//!
//! `cargo bench -p sightline-server --bench alerts -- --warm-up-time 1 --measurement-time 5`
//!
//! The data: 10 minutes of transactions ending now (the evaluator reads the clock), 5 services × 8
//! endpoints at 60 transactions per second in all (the demo's order of magnitude), 2 % errors, ingested
//! through the real OTLP path (so the cube rolls them up too). The rules: 400 × p95 per service, 200 ×
//! error rate per endpoint, 200 × throughput of one service, 100 × mean response time of one endpoint,
//! 100 × cube p95 per service; windows of 60–300 s; thresholds the data mostly stays under (steady state:
//! no state change, nothing written, as in a quiet hour).
//!
//! `alerts/round_1000_rules` is the wall time of one round evaluated rule after rule; the CPU time of a
//! round (every thread of the process, from `/proc/self/stat`) is measured over 10 rounds and printed
//! with its share of one core at 15 s.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sightline_model::alert::AlertRule;
use sightline_server::config::ServeArgs;
use sightline_server::state::AppState;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const SERVICES: usize = 5;
const ENDPOINTS: usize = 8;
const PER_SECOND: usize = 60;
const MINUTES: i64 = 10;
const RULES: usize = 1000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }), ..Default::default() }
}

/// One second of transactions of one service.
fn second(rng: &mut StdRng, service: usize, end_ms: i64, next_id: &mut u64) -> ExportTraceServiceRequest {
    let spans = (0..PER_SECOND / SERVICES)
        .map(|_| {
            *next_id += 1;
            let id = *next_id;
            let end = end_ms - rng.random_range(0..1000);
            let dur = (rng.random::<f64>() * 3.0 + 2.0).exp() * if rng.random_range(0..50) == 0 { 10.0 } else { 1.0 };
            let mut trace_id = vec![0xab; 16];
            trace_id[8..].copy_from_slice(&id.to_be_bytes());
            let end_ns = end as u64 * 1_000_000;
            let error = rng.random_range(0..50) == 0;
            Span {
                trace_id,
                span_id: (id | 1 << 56).to_be_bytes().to_vec(),
                name: format!("GET /api/e{}", rng.random_range(0..ENDPOINTS)),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: end_ns - (dur * 1e6) as u64,
                end_time_unix_nano: end_ns,
                attributes: vec![kv("http.request.method", "GET")],
                status: error.then(|| Status { code: status::StatusCode::Error as i32, message: "boom".into() }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", &format!("svc-{service}"))], ..Default::default() }),
            scope_spans: vec![ScopeSpans { scope: Some(InstrumentationScope { name: "bench".into(), ..Default::default() }), spans, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}

fn rules() -> Vec<AlertRule> {
    (0..RULES)
        .map(|i| {
            let service = format!("svc-{}", i % SERVICES);
            let endpoint = format!("GET /api/e{}", i % ENDPOINTS);
            let window = [60, 120, 300][i % 3];
            let (metric, filter, group_by, threshold) = match i % 10 {
                0..=3 => ("transactions.response_time.p95", json!({}), json!(["service"]), 5_000 + i),
                4 | 5 => ("transactions.error_rate", json!({}), json!(["endpoint"]), 1),
                6 | 7 => ("transactions.tps", json!({"service": service}), json!([]), 1_000 + i),
                8 => ("transactions.response_time.avg", json!({"endpoint": endpoint}), json!([]), 5_000 + i),
                _ => ("cube.response_time.p95", json!({}), json!(["service"]), 5_000 + i),
            };
            serde_json::from_value(json!({
                "name": format!("rule {i}"),
                "source": {"kind": "metric", "metric": metric, "filter": filter, "group_by": group_by, "window_s": window},
                "condition": {"op": "above", "threshold": threshold},
                "for_s": 60,
            }))
            .unwrap()
        })
        .collect()
}

/// CPU time of this process so far (user + system, every thread).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the command name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

async fn round(state: &AppState, rules: &[AlertRule]) {
    for r in rules {
        state.alerts.evaluate_once(r).await;
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, rules) = setup(&rt, dir.path());
    // Steady state first: the first round creates every instance (writes).
    rt.block_on(round(&state, &rules));
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    for _ in 0..10 {
        rt.block_on(round(&state, &rules));
    }
    let per_round = (cpu_time() - cpu0) / 10;
    println!(
        "alerts: {RULES} rules, {} instances; per round: CPU {:.1} ms (wall {:.1} ms) = {:.2} % of one core at a 15 s interval",
        state.alerts.overview().rules.iter().map(|r| r.instances.len()).sum::<usize>(),
        per_round.as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e3 / 10.0,
        per_round.as_secs_f64() / 15.0 * 100.0
    );
    let mut g = c.benchmark_group("alerts");
    g.sample_size(10);
    g.bench_function("round_1000_rules", |b| b.iter(|| rt.block_on(round(&state, &rules))));
    g.finish();
}

fn setup(rt: &Runtime, dir: &std::path::Path) -> (AppState, Vec<AlertRule>) {
    let state = rt.block_on(AppState::open(&ServeArgs::for_tests(dir))).unwrap();
    let router = sightline_server::app::router(state.clone(), None);
    let now = sightline_server::store::now_ms();
    let mut rng = StdRng::seed_from_u64(12);
    let mut id = 0u64;
    let started = Instant::now();
    rt.block_on(async {
        for s in (0..MINUTES * 60).rev() {
            for svc in 0..SERVICES {
                let body = second(&mut rng, svc, now - s * 1000, &mut id).encode_to_vec();
                let req = Request::post("/v1/traces").header("content-type", "application/x-protobuf").body(Body::from(body)).unwrap();
                let resp = router.clone().oneshot(req).await.unwrap();
                assert!(resp.status().is_success());
            }
        }
    });
    println!("alerts: ingested {id} transactions in {:.1} s", started.elapsed().as_secs_f64());
    let alerts = state.alerts.clone();
    let rules = rt
        .block_on(sightline_server::blocking::run("creating rules", move || {
            rules().into_iter().map(|r| alerts.create_rule(r)).collect::<Result<Vec<_>, _>>()
        }))
        .unwrap();
    (state, rules)
}

criterion_group!(benches, bench);
criterion_main!(benches);
