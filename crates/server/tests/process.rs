//! Tests against the real `sightline` binary, where a real process matters: durability across kill -9,
//! and a real OpenTelemetry SDK exporting to it.

mod common;

use std::time::Duration;

use common::*;
use sightline_model::{DeployList, Hitmap, StepKind, Trace, TransactionPage};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn post(base: &str, body: Vec<u8>) -> reqwest::StatusCode {
    client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn get<T: serde::de::DeserializeOwned>(base: &str, path: &str) -> T {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// Everything acknowledged before a SIGKILL is there after a restart on the same data directory, including
/// what concurrent requests (sharing one group commit) had acknowledged just before the kill, and the
/// service version the last request introduced (the deploy log is written before the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_spans_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let server = Server::start(dir.path(), &[]);
    let base = server.base.clone();
    let mut tasks = Vec::new();
    for r in 0..20u64 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let spans = (0..50u64).map(|i| server_span(r * 1000 + i + 1, 1, "GET /durable", now - i as i64, 20.0)).collect();
            post(&base, proto(&request("durable", spans))).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), reqwest::StatusCode::OK);
    }
    // The last one alone, then kill immediately after its 200.
    let root = server_span(99_999, 1, "POST /last", now, 30.0);
    let db = db_span(99_999, 2, 1, root.start_time_unix_nano + 1_000_000, root.end_time_unix_nano - 1_000_000, "SELECT 1");
    let mut last = request("durable", vec![root, db]);
    last.resource_spans[0].resource.as_mut().unwrap().attributes.push(kv("service.version", "2.4.0"));
    assert_eq!(post(&base, proto(&last)).await, reqwest::StatusCode::OK);
    server.kill9();

    let server = Server::start(dir.path(), &[]);
    let q = format!("from={}&to={}", now - 60_000, now + 60_000);
    // The restarted server answers at once and reads its history in the background: a hitmap says when
    // it is not complete yet (docs/STORE.md, "Restart").
    let h: Hitmap = common::wait_for(30, "the stored history to load", String::new, || async {
        let h: Hitmap = get(&server.base, &format!("/api/v1/hitmap?{q}&service=durable")).await;
        h.history.is_none().then_some(h)
    })
    .await;
    assert_eq!(h.total, 1001);
    let p: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{q}&endpoint=POST%20/last")).await;
    assert_eq!(p.total, 1);
    let t: Trace = get(&server.base, &format!("/api/v1/traces/{}", p.items[0].trace_id)).await;
    assert_eq!(t.steps.len(), 2);
    assert_eq!(t.steps[1].text.as_deref(), Some("SELECT 1"));
    let d: DeployList = get(&server.base, &format!("/api/v1/deploys?{q}&service=durable")).await;
    assert_eq!(d.deploys.iter().map(|d| d.version.as_str()).collect::<Vec<_>>(), ["2.4.0"], "{d:?}");
    // And the restarted server keeps accepting.
    assert_eq!(post(&server.base, proto(&request("durable", vec![server_span(77, 1, "GET /after", now, 1.0)]))).await, reqwest::StatusCode::OK);
}

/// The OpenTelemetry Python SDK with its OTLP/HTTP protobuf exporter sends a SERVER span with a database
/// child and an exception; the hitmap counts it and the trace shows both steps. CI points
/// `SIGHTLINE_PYTHON` at a Python with `opentelemetry-sdk`, `opentelemetry-exporter-otlp-proto-http` and
/// `-grpc` (`cargo xtask setup` makes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_opentelemetry_sdk_traces_appear() {
    real_sdk_trace("http").await;
}

/// The same with the SDK's OTLP/gRPC exporter (gzip), to `--otlp-grpc-addr`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_opentelemetry_sdk_traces_appear_over_grpc() {
    real_sdk_trace("grpc").await;
}

async fn real_sdk_trace(protocol: &str) {
    let python = std::env::var("SIGHTLINE_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SIGHTLINE_PYTHON is not set: point it at a python with opentelemetry-sdk, \
             opentelemetry-exporter-otlp-proto-http and opentelemetry-exporter-otlp-proto-grpc installed \
             (`cargo xtask setup` makes .tools/venv; SIGHTLINE_PYTHON=$PWD/.tools/venv/bin/python). This test does not skip."
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let grpc_addr = format!("127.0.0.1:{}", free_port());
    let server = Server::start(dir.path(), &[("SIGHTLINE_INGEST_TOKEN", "otel-token"), ("SIGHTLINE_OTLP_GRPC_ADDR", &grpc_addr)]);
    let url = match protocol {
        "grpc" => format!("http://{grpc_addr}"),
        _ => server.base.clone(),
    };
    let before = now_ms();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otel_sdk.py");
    let out = tokio::process::Command::new(&python)
        .args([script, &url, "otel-token", protocol])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "the SDK script failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let trace_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(trace_id.len(), 32, "script printed {trace_id:?}");

    let q = format!("from={}&to={}", before - 60_000, now_ms() + 60_000);
    let h: Hitmap = get(&server.base, &format!("/api/v1/hitmap?{q}&service=py-otel-shop")).await;
    assert_eq!((h.total, h.total_err), (1, 1));
    let p: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{q}&service=py-otel-shop")).await;
    assert_eq!(p.items[0].trace_id, trace_id);
    assert_eq!(p.items[0].endpoint, "POST /checkout");
    assert_eq!(p.items[0].error.as_deref(), Some("ValueError"));
    assert_eq!(p.items[0].thread.as_deref(), Some("worker-7"));
    let t: Trace = get(&server.base, &format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(t.steps.len(), 2);
    assert_eq!(t.steps[0].kind, StepKind::Transaction);
    let e = t.steps[0].error.as_ref().expect("exception on the root");
    assert_eq!((e.kind.as_deref(), e.message.as_deref()), (Some("ValueError"), Some("card declined")));
    assert!(e.stacktrace.as_deref().is_some_and(|s| s.contains("ValueError")));
    let db = &t.steps[1];
    assert_eq!((db.kind, db.depth), (StepKind::Sql, 1));
    assert_eq!(db.text.as_deref(), Some("SELECT * FROM orders WHERE id = $1"));
    assert_eq!(db.target.as_deref(), Some("postgresql/shop"));
    assert!(db.duration_ms >= 50.0);
}
