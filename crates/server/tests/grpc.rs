//! OTLP/gRPC ingest (`TraceService/Export` on `--otlp-grpc-addr`) against the real `sightline` process,
//! with opentelemetry-proto's generated tonic client: what it stores is what the HTTP API shows; gzip both
//! ways; bad input gets the right gRPC code and the server keeps serving; acknowledged spans survive a
//! kill -9. Overload (all ingest permits taken) is checked in process, where the test can hold them.

mod common;
#[path = "../benches/support/raw_codec.rs"]
mod raw_codec;
use raw_codec::Raw;

use std::time::Duration;

use axum::http::uri::PathAndQuery;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use sightline_model::{StepKind, Trace, TransactionPage};
use sightline_server::ingest::grpc::EXPORT_PATH;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A server process with OTLP/gRPC on a free port: `(server, gRPC port)`.
fn start(dir: &std::path::Path, envs: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut all = vec![("SIGHTLINE_OTLP_GRPC_ADDR", addr.as_str())];
    all.extend_from_slice(envs);
    (Server::start(dir, &all), port)
}

async fn channel(port: u16) -> Channel {
    Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap().timeout(Duration::from_secs(30)).connect().await.unwrap()
}

async fn client(port: u16) -> TraceServiceClient<Channel> {
    TraceServiceClient::new(channel(port).await)
}

/// One export with the generated client; `token` as `authorization: Bearer …`.
async fn export(port: u16, req: ExportTraceServiceRequest, token: Option<&str>) -> Result<ExportTraceServiceResponse, Status> {
    let mut req = tonic::Request::new(req);
    if let Some(t) = token {
        req.metadata_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    client(port).await.export(req).await.map(|r| r.into_inner())
}

/// `bytes` as the Export message (gzip-compressed on the wire when `gzip`) to `path`.
async fn raw(port: u16, path: &'static str, bytes: Vec<u8>, gzip: bool) -> Result<bytes::Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel(port).await);
    if gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready().await.unwrap();
    grpc.unary(tonic::Request::new(bytes::Bytes::from(bytes)), PathAndQuery::from_static(path), Raw).await.map(|r| r.into_inner())
}

async fn get<T: serde::de::DeserializeOwned>(base: &str, path: &str) -> T {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

fn window() -> String {
    format!("from={}&to={}", now_ms() - 600_000, now_ms() + 600_000)
}

/// A transaction with a SQL step and one invalid span: stored as the HTTP path stores it, the invalid span
/// counted in `partial_success`; then the same with gzip both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_round_trip_to_the_http_api() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = start(dir.path(), &[]);
    let now = now_ms();
    let root = server_span(1, 1, "GET /grpc", now, 40.0);
    let db = db_span(1, 2, 1, root.start_time_unix_nano + 1_000_000, root.end_time_unix_nano - 1_000_000, "SELECT 42");
    let mut bad = server_span(2, 1, "GET /bad", now, 1.0);
    bad.trace_id = vec![1, 2];
    let resp = export(port, request("grpc-svc", vec![root, db, bad]), None).await.unwrap();
    let partial = resp.partial_success.expect("one span was rejected");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("trace_id must be 16 bytes"), "{}", partial.error_message);

    let page: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{}&service=grpc-svc", window())).await;
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].endpoint, "GET /grpc");
    let t: Trace = get(&server.base, &format!("/api/v1/traces/{}", page.items[0].trace_id)).await;
    assert_eq!(t.steps.len(), 2);
    assert_eq!((t.steps[1].kind, t.steps[1].text.as_deref()), (StepKind::Sql, Some("SELECT 42")));

    // gzip: the request compressed, the answer too (the client asks for it).
    let mut c = client(port).await.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
    let spans = (0..100).map(|i| server_span(10 + i, 1, "POST /gzip", now - i as i64, 5.0)).collect();
    let resp = c.export(request("grpc-gzip", spans)).await.unwrap();
    assert_eq!(resp.metadata().get("grpc-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    assert_eq!(resp.into_inner().partial_success, None);
    let page: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{}&service=grpc-gzip", window())).await;
    assert_eq!(page.total, 100);
}

/// Garbage, an oversize message, a gzip bomb, an unknown encoding or method: each gets its gRPC code, nothing
/// is stored, and the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_code_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let max = 64 * 1024;
    let (server, port) = start(dir.path(), &[("SIGHTLINE_INGEST_MAX_BYTES", &max.to_string())]);
    let still_serving = |n: u64| async move {
        let ok = export(port, request("after", vec![server_span(100 + n, 1, "GET /ok", now_ms(), 1.0)]), None).await;
        assert_eq!(ok.unwrap().partial_success, None, "after case {n}");
    };

    let garbage = raw(port, EXPORT_PATH, vec![0xff; 64], false).await.unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    assert!(garbage.message().contains("cannot decode OTLP protobuf"), "{}", garbage.message());
    still_serving(1).await;

    let spans: Vec<_> = (0..2000).map(|i| server_span(1000 + i, 1, "GET /big", now_ms(), 1.0)).collect();
    let big = proto(&request("big", spans));
    assert!(big.len() > max);
    let oversize = raw(port, EXPORT_PATH, big, false).await.unwrap_err();
    assert_eq!(oversize.code(), Code::ResourceExhausted, "{oversize:?}");
    assert!(oversize.message().contains("limit is 65536 bytes"), "{}", oversize.message());
    still_serving(2).await;

    // A few hundred bytes on the wire that inflate beyond the limit.
    let bomb = raw(port, EXPORT_PATH, vec![0; 4 * max], true).await.unwrap_err();
    assert_eq!(bomb.code(), Code::ResourceExhausted, "{bomb:?}");
    still_serving(3).await;

    let metrics = raw(port, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", vec![], false).await.unwrap_err();
    assert_eq!(metrics.code(), Code::Unimplemented, "{metrics:?}");
    still_serving(4).await;

    let page: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{}", window())).await;
    assert_eq!(page.total, 4, "only the good exports were stored: {:?}", page.items.iter().map(|t| &t.service).collect::<Vec<_>>());
}

/// Without auto sign-in, an export needs an ingest token in `authorization` metadata, checked like
/// `POST /v1/traces`: none or a wrong one is UNAUTHENTICATED, a viewer token PERMISSION_DENIED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_token_is_checked_like_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let pw = "grpc-admin-password";
    let (server, port) = start(dir.path(), &[("SIGHTLINE_AUTO_SIGN_IN", "false"), ("SIGHTLINE_ADMIN_PASSWORD", pw)]);
    let http = reqwest::Client::new();
    let signed_in = http
        .post(format!("{}/api/v1/auth/sign-in", server.base))
        .header("origin", &server.base)
        .json(&serde_json::json!({"name": "admin", "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let token = |scope: &'static str| {
        let (http, base, cookie) = (http.clone(), server.base.clone(), cookie.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/tokens"))
                .header("origin", &base)
                .header("cookie", cookie)
                .json(&serde_json::json!({"name": scope, "scope": scope}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<serde_json::Value>().await.unwrap()["secret"].as_str().unwrap().to_string()
        }
    };
    let ingest = token("ingest").await;
    let viewer = token("viewer").await;
    let req = |n: u64| request("authed", vec![server_span(n, 1, "GET /t", now_ms(), 1.0)]);

    let none = export(port, req(1), None).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated, "{none:?}");
    let wrong = export(port, req(2), Some("slt_not-a-real-token")).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
    assert!(!wrong.message().contains("slt_not"), "the credential is never echoed: {}", wrong.message());
    let denied = export(port, req(3), Some(&viewer)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    export(port, req(4), Some(&ingest)).await.unwrap();

    let p: TransactionPage = http
        .get(format!("{}/api/v1/transactions?{}&service=authed", server.base, window()))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p.total, 1);
}

/// What an export was acknowledged for is durable: kill -9 right after the answer, restart, it is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_exports_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = start(dir.path(), &[]);
    let now = now_ms();
    let spans = (0..300).map(|i| server_span(500 + i, 1, "GET /durable-grpc", now - i as i64, 3.0)).collect();
    export(port, request("grpc-durable", spans), None).await.unwrap();
    server.kill9();

    let (server, _) = start(dir.path(), &[]);
    let page: TransactionPage = get(&server.base, &format!("/api/v1/transactions?{}&service=grpc-durable", window())).await;
    assert_eq!(page.total, 300);
}

/// With every ingest permit taken, an export is refused RESOURCE_EXHAUSTED with `RetryInfo` (OTLP exporters
/// retry only then) within half its own deadline; once permits are free it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_resource_exhausted_with_retry_info() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(sightline_server::ingest::grpc::serve(app.state.clone(), listener, None, async {
        let _ = stopped.await;
    }));
    let all = sightline_server::ingest::http::MAX_CONCURRENT_REQUESTS as u32;
    let held = app.state.ingest_permits.clone().acquire_many_owned(all).await.unwrap();
    let mut req = tonic::Request::new(request("busy", vec![server_span(1, 1, "GET /busy", now_ms(), 1.0)]));
    req.set_timeout(Duration::from_millis(600));
    let err = client(port).await.export(req).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let retry = err.get_details_retry_info().expect("RetryInfo in the details");
    assert_eq!(retry.retry_delay, Some(sightline_server::ingest::grpc::RETRY_AFTER));
    drop(held);
    let ok = client(port).await.export(request("busy", vec![server_span(2, 1, "GET /busy", now_ms(), 1.0)])).await;
    assert_eq!(ok.unwrap().into_inner().partial_success, None);
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}

/// The response message is what prost decodes, also for a raw client (guards the framing of [`answer`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_is_one_well_framed_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = start(dir.path(), &[]);
    let mut bad = server_span(7, 1, "GET /x", now_ms(), 1.0);
    bad.start_time_unix_nano = 0;
    let body = raw(port, EXPORT_PATH, proto(&request("framed", vec![bad])), false).await.unwrap();
    let resp = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(resp.partial_success.unwrap().rejected_spans, 1);
}

/// SIGTERM while four exporters are busy: the server stops within the harness's deadline, and every export
/// it acknowledged, up to the last answer before the port closed, is there after a restart. (That exports in
/// flight at the signal are finished rather than cut is tonic's graceful shutdown; this test does not tell
/// the two apart, only that nothing acknowledged is lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_exports() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = start(dir.path(), &[]);
    let acked = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..4u64)
        .map(|w| {
            let acked = acked.clone();
            tokio::spawn(async move {
                let mut c = client(port).await;
                for round in 0u64.. {
                    let first = (w * 1_000_000) + round * 100;
                    let spans = (0..100).map(|i| server_span(first + i + 1, 1, "GET /term", now_ms(), 1.0)).collect();
                    match c.export(request("term", spans)).await {
                        Ok(_) => acked.fetch_add(100, Ordering::SeqCst),
                        Err(_) => return,
                    };
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::SeqCst) < 2_000 {
        assert!(std::time::Instant::now() < deadline, "exports did not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.load(Ordering::SeqCst);

    // The restarted server answers before its history is read back (issue 16): wait until the hitmap says
    // it is complete, then count.
    let (server, _) = start(dir.path(), &[]);
    let url = format!("/api/v1/hitmap?{}&service=term", window());
    let h = wait_for(60, "the restarted server's history to be read back", String::new, || async {
        let h: sightline_model::Hitmap = get(&server.base, &url).await;
        h.history.is_none().then_some(h)
    })
    .await;
    assert!(h.total >= acked, "{acked} spans acknowledged, {} stored", h.total);
}

/// With `--tls-cert`, the gRPC port speaks TLS (HTTP/2 by ALPN) with the same certificate; plaintext
/// gRPC gets no answer there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_the_grpc_port_speaks_tls() {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let (_server, port) =
        start(dir.path(), &[("SIGHTLINE_TLS_CERT", cert_path.to_str().unwrap()), ("SIGHTLINE_TLS_KEY", key_path.to_str().unwrap())]);
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)).domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}")).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
    let resp = TraceServiceClient::new(channel).export(request("tls", vec![server_span(1, 1, "GET /tls", now_ms(), 1.0)])).await;
    assert_eq!(resp.unwrap().into_inner().partial_success, None);
    let plain = export(port, request("tls", vec![server_span(2, 1, "GET /plain", now_ms(), 1.0)]), None).await;
    assert!(plain.is_err(), "plaintext gRPC on the TLS port: {plain:?}");
}
