//! Helpers shared by the integration tests: OTLP requests built with the real opentelemetry-proto types,
//! an in-process router, and a spawned `sightline` process.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use sightline_server::config::ServeArgs;
use sightline_server::state::AppState;
use tower::ServiceExt;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }), ..Default::default() }
}

pub fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }), ..Default::default() }
}

pub fn now_ms() -> i64 {
    sightline_server::store::now_ms()
}

pub fn trace_id(n: u64) -> Vec<u8> {
    let mut t = vec![0xab; 16];
    t[8..].copy_from_slice(&n.to_be_bytes());
    t
}

pub fn span_id(n: u64) -> Vec<u8> {
    (n | 1 << 56).to_be_bytes().to_vec()
}

/// A SERVER span (a transaction) ending at `end_ms` after `dur_ms`.
pub fn server_span(trace: u64, id: u64, name: &str, end_ms: i64, dur_ms: f64) -> Span {
    let end_ns = (end_ms as u64) * 1_000_000;
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        name: name.into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: end_ns - (dur_ms * 1e6) as u64,
        end_time_unix_nano: end_ns,
        attributes: vec![kv("http.request.method", "GET"), kv("thread.name", "http-nio-8080-exec-1")],
        ..Default::default()
    }
}

/// A database step under `parent`.
pub fn db_span(trace: u64, id: u64, parent: u64, start_ns: u64, end_ns: u64, sql: &str) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: span_id(parent),
        name: "SELECT accounts".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: end_ns,
        attributes: vec![kv("db.system", "postgresql"), kv("db.statement", sql), kv("db.name", "bank")],
        ..Default::default()
    }
}

pub fn failed(mut s: Span, kind: &str, msg: &str) -> Span {
    s.status = Some(Status { code: status::StatusCode::Error as i32, message: msg.into() });
    s.events.push(Event {
        name: "exception".into(),
        time_unix_nano: s.end_time_unix_nano,
        attributes: vec![kv("exception.type", kind), kv("exception.message", msg), kv("exception.stacktrace", "at x\nat y")],
        ..Default::default()
    });
    s
}

pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", service)], ..Default::default() }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "test".into(), ..Default::default() }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn proto(req: &ExportTraceServiceRequest) -> Vec<u8> {
    req.encode_to_vec()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An in-process server: the real router and state on a temporary data directory.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut ServeArgs)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ServeArgs::for_tests(dir.path());
        tweak(&mut args);
        let state = AppState::open(&args).await.unwrap();
        let router = sightline_server::app::router(state.clone(), None);
        TestApp { state, router, dir }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, body)
    }

    pub async fn post(&self, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let mut b = Request::post("/v1/traces").header("content-type", content_type);
        if let Some(e) = encoding {
            b = b.header("content-encoding", e);
        }
        let (s, _, body) = self.send(b.body(Body::from(body)).unwrap()).await;
        (s, body)
    }

    pub async fn post_proto(&self, req: &ExportTraceServiceRequest) -> (StatusCode, Vec<u8>) {
        self.post("application/x-protobuf", None, proto(req)).await
    }

    /// Sends `method uri` with `body` as JSON: the status and the answer's JSON (`Null` when empty, the text
    /// as a string when it is not JSON).
    pub async fn call(&self, method: &str, uri: &str, body: Option<serde_json::Value>) -> (StatusCode, serde_json::Value) {
        let mut b = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        let (s, _, bytes) = self.send(b.body(body).unwrap()).await;
        let v = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (s, v)
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let (s, _, body) = self.send(Request::get(uri).body(Body::empty()).unwrap()).await;
        let v = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        (s, v)
    }

    pub async fn get_ok<T: serde::de::DeserializeOwned>(&self, uri: &str) -> T {
        let (s, v) = self.get(uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
        serde_json::from_value(v).unwrap()
    }
}

/// A free local port (racy in theory; fine for tests on one machine).
/// Polls `f` every 100 ms until it returns `Some`; after `secs` fails naming `what`, followed by
/// `context()` (e.g. the logs of the processes under test).
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, context: impl Fn() -> String, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs} s waiting for {what}\n{}", context());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real `sightline serve` binary on `data_dir`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts with auto sign-in on (requests without credentials act as an admin, as before sign-in
    /// existed); `envs` may turn it off (`SIGHTLINE_AUTO_SIGN_IN=false`).
    pub fn start(data_dir: &Path, envs: &[(&str, &str)]) -> Self {
        Self::start_logging(data_dir, envs, None)
    }

    /// Like [`Server::start`], with the server's output (log lines, the first admin's password) written to
    /// `log` instead of the test's own.
    pub fn start_logging(data_dir: &Path, envs: &[(&str, &str)], log: Option<&Path>) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
        cmd.arg("serve")
            .env("SIGHTLINE_ADDR", format!("127.0.0.1:{port}"))
            .env("SIGHTLINE_DATA_DIR", data_dir)
            .env("SIGHTLINE_DIST", data_dir.join("no-dist"))
            .env("SIGHTLINE_LOG", "warn")
            .env("SIGHTLINE_AUTO_SIGN_IN", "true")
            // Many servers run at once: none takes the OTLP/gRPC default port (tests/grpc.rs picks one).
            .env("SIGHTLINE_OTLP_GRPC_ADDR", "")
            .env_remove("SIGHTLINE_INGEST_TOKEN")
            .env_remove("SIGHTLINE_DEMO")
            .env_remove("SIGHTLINE_ADMIN_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(path) = log {
            // The log lines go to stdout, the first admin's password to stderr: keep both.
            let file = std::fs::File::create(path).expect("create the server's log file");
            cmd.stdout(file.try_clone().expect("clone the log file")).stderr(file);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn sightline");
        let base = format!("http://127.0.0.1:{port}");
        let server = Server { child, base };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sightline did not start listening on {}", self.base);
    }

    /// SIGTERM, then waits (with a deadline) for the clean shutdown to finish.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("wait for sightline").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sightline did not stop within 30 s of SIGTERM");
    }

    /// SIGKILL: no shutdown hook runs, so only what was fsynced survives.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate it signed, for `localhost` only (not `127.0.0.1`, so a client that checks
/// the name can tell them apart): (CA PEM, server certificate PEM, server key PEM).
pub fn test_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Sightline test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}
