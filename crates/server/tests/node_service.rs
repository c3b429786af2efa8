//! A real auto-instrumented service against Sightline, end to end: the express + `pg` service in
//! `tests/node_service/`, run with OpenTelemetry's Node auto-instrumentation (`@opentelemetry/sdk-node`,
//! `@opentelemetry/auto-instrumentations-node`, the pg instrumentation's sqlcommenter option on), exporting
//! over OTLP/gRPC (a second test: OTLP/HTTP) with an ingest token, configured only by the standard `OTEL_*` variables; its database is
//! a throwaway PostgreSQL 15 that the real `sightline` binary monitors.
//!
//! Checked through the HTTP API: every request is exactly one transaction (per endpoint), the slow
//! endpoint's trace has the SQL text and its time, the failing endpoint is an error transaction with the
//! exception, and the slow SQL step is tied to the database session that ran it by the `traceparent`
//! comment the instrumentation put on the statement.
//!
//! Needs `node` on PATH and the service's pinned npm packages (`cargo xtask setup` installs both: Debian's
//! `nodejs`/`npm` when missing, then `npm ci`), and the PostgreSQL 15 server binaries (see `pg/mod.rs`).
//! Without them the test fails: it never skips.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sightline_model::{DbInstanceList, DbMatchKind, DbStatus, DbTraceSessions, Status, StepKind, Trace, TransactionPage};

mod common;
mod pg;
use pg::*;

const MONITOR_PASSWORD: &str = "Sekr3t-monitor-pw-4711";
const APP_PASSWORD: &str = "app-pw-node-0815";
const INGEST_TOKEN: &str = "node-ingest-token-5f2c9a";
const SERVICE: &str = "node-checkout";
/// How long `GET /slow` sleeps in PostgreSQL: several samples at the 500 ms interval used here.
const SLOW_SECONDS: f64 = 1.5;
const FAST_REQUESTS: usize = 5;

fn service_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node_service")
}

/// A child process with its output in a log file, killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Self {
        let out = fs::File::create(&log).expect("create a log file");
        cmd.stdin(Stdio::null()).stdout(out.try_clone().expect("clone the log file")).stderr(out);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc { name, child, log }
    }

    fn log(&self) -> String {
        format!("--- {} log ---\n{}", self.name, fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Waits until something listens on `port`, failing early (with the log) if the process exits.
    fn wait_listening(&mut self, port: u16, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                panic!("{} exited ({status}) before listening on {port}\n{}", self.name, self.log());
            }
            assert!(Instant::now() < deadline, "{} did not listen on {port} within {secs} s\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits (with a deadline) for the exit; returns whether it exited with success.
    fn terminate(&mut self, secs: u64) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "{} did not exit within {secs} s of SIGTERM\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the service exports: the value of `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Clone, Copy)]
enum Protocol {
    /// `@opentelemetry/exporter-trace-otlp-grpc` to `--otlp-grpc-addr`.
    Grpc,
    /// `@opentelemetry/exporter-trace-otlp-proto` to `POST /v1/traces`.
    HttpProtobuf,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Everything of one run: the cluster, Sightline watching it, and the Node service.
struct Setup {
    _cluster: Cluster,
    _work: tempfile::TempDir,
    sightline: Proc,
    node: Proc,
    base: String,
    node_base: String,
    instance: String,
}

impl Setup {
    fn logs(&self) -> String {
        format!("{}\n{}", self.sightline.log(), self.node.log())
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Polls `f` until it returns `Some`, failing with `what` and the logs after `secs`.
    async fn wait_for<T, F, Fut>(&self, secs: u64, what: &str, f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        common::wait_for(secs, what, || self.logs(), f).await
    }

    async fn start(protocol: Protocol) -> Self {
        let node_modules = service_dir().join("node_modules");
        assert!(
            node_modules.join("@opentelemetry/sdk-node").is_dir(),
            "{} is missing: run `cargo xtask setup` (installs Node.js and runs `npm ci` there). This test does not skip.",
            node_modules.display()
        );
        let cluster = Cluster::new();
        cluster.create_monitor(MONITOR_PASSWORD);
        cluster.psql(&format!("CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'"));
        let work = tempfile::tempdir().unwrap();

        let (http_port, grpc_port) = (free_port(), free_port());
        let mut sightline = Proc::spawn(
            "sightline",
            Command::new(env!("CARGO_BIN_EXE_sightline"))
                .arg("serve")
                .arg("--postgres")
                .arg(format!("postgres://monitor:{MONITOR_PASSWORD}@127.0.0.1:{}/postgres", cluster.port))
                .args(["--pg-interval-ms", "500"])
                .env("SIGHTLINE_ADDR", format!("127.0.0.1:{http_port}"))
                .env("SIGHTLINE_OTLP_GRPC_ADDR", format!("127.0.0.1:{grpc_port}"))
                .env("SIGHTLINE_DATA_DIR", work.path().join("store"))
                .env("SIGHTLINE_DIST", work.path().join("no-dist"))
                .env("SIGHTLINE_LOG", "info")
                // API reads act as an admin; ingest still needs the token.
                .env("SIGHTLINE_AUTO_SIGN_IN", "true")
                .env("SIGHTLINE_INGEST_TOKEN", INGEST_TOKEN)
                .env_remove("SIGHTLINE_POSTGRES")
                .env_remove("SIGHTLINE_DEMO")
                .env_remove("SIGHTLINE_DEMO_POSTGRES"),
            work.path().join("sightline.log"),
        );
        sightline.wait_listening(http_port, 60);
        let endpoint = match protocol {
            Protocol::Grpc => {
                sightline.wait_listening(grpc_port, 30);
                format!("http://127.0.0.1:{grpc_port}")
            }
            Protocol::HttpProtobuf => format!("http://127.0.0.1:{http_port}"),
        };

        let node_port = free_port();
        let mut node = Command::new("node");
        node.args(["--require", "./otel.js", "server.js"])
            .current_dir(service_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", node_port.to_string())
            .env("SLOW_SECONDS", SLOW_SECONDS.to_string())
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", cluster.port.to_string())
            .env("PGUSER", "app")
            .env("PGPASSWORD", APP_PASSWORD)
            .env("PGDATABASE", "postgres")
            // The standard OpenTelemetry variables, as the README tells users to set them.
            .env("OTEL_SERVICE_NAME", SERVICE)
            .env("OTEL_RESOURCE_ATTRIBUTES", "service.version=1.4.2,deployment.environment.name=test")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.name())
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_HEADERS", format!("authorization=Bearer {INGEST_TOKEN}"))
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("OTEL_BSP_SCHEDULE_DELAY", "200");
        let mut node = Proc::spawn("node service", &mut node, work.path().join("node.log"));
        node.wait_listening(node_port, 60);

        let s = Setup {
            instance: format!("127.0.0.1-{}-postgres", cluster.port),
            _cluster: cluster,
            _work: work,
            sightline,
            node,
            base: format!("http://127.0.0.1:{http_port}"),
            node_base: format!("http://127.0.0.1:{node_port}"),
        };
        // The slow query must run while the collector samples.
        s.wait_for(30, "the PostgreSQL instance to be up and sampled", || async {
            let l: DbInstanceList = s.get("/api/v1/db/instances").await;
            l.instances.iter().any(|i| i.id == s.instance && i.status == DbStatus::Up && i.last_sample.is_some()).then_some(())
        })
        .await;
        s
    }
}

/// The trace's SQL step that ran a statement (the pg instrumentation's `pg.connect` and `pg-pool.connect`
/// spans are database steps too, without text).
fn query_step(trace: &Trace) -> &sightline_model::Step {
    let mut queries = trace.steps.iter().filter(|st| st.kind == StepKind::Sql && st.text.is_some());
    let step = queries.next().unwrap_or_else(|| panic!("no SQL statement step: {trace:#?}"));
    assert!(queries.next().is_none(), "one statement per request: {trace:#?}");
    step
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_auto_instrumentation_over_grpc() {
    requests_become_transactions_tied_to_sessions(Protocol::Grpc).await;
}

/// The same service and checks over OTLP/HTTP, the other transport an SDK may be set to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_auto_instrumentation_over_http() {
    requests_become_transactions_tied_to_sessions(Protocol::HttpProtobuf).await;
}

async fn requests_become_transactions_tied_to_sessions(protocol: Protocol) {
    let started = sightline_server::store::now_ms();
    let mut s = Setup::start(protocol).await;
    let client = reqwest::Client::new();

    // The slow request runs while the fast ones and the failing one are served: one process, overlapping
    // requests, each must stay its own transaction.
    let slow = {
        let (client, url) = (client.clone(), format!("{}/slow", s.node_base));
        tokio::spawn(async move {
            let t = Instant::now();
            let r = client.get(url).send().await.expect("GET /slow");
            (r.status(), t.elapsed())
        })
    };
    for _ in 0..FAST_REQUESTS {
        let r = client.get(format!("{}/fast", s.node_base)).send().await.expect("GET /fast");
        assert_eq!(r.status(), 200, "GET /fast: {}\n{}", r.text().await.unwrap_or_default(), s.logs());
    }
    let r = client.get(format!("{}/error", s.node_base)).send().await.expect("GET /error");
    assert_eq!(r.status(), 500, "GET /error");
    let (status, took) = slow.await.unwrap();
    assert_eq!(status, 200, "GET /slow\n{}", s.logs());
    assert!(took >= Duration::from_secs_f64(SLOW_SECONDS), "GET /slow took only {took:?}");

    // A clean stop flushes every finished span (sdk.shutdown()); once the process is gone nothing more
    // can arrive, so the counts below are final.
    let flushed = s.node.terminate(30);
    assert!(flushed, "the node service did not shut down cleanly\n{}", s.logs());

    let to = sightline_server::store::now_ms() + 1;
    let list = format!("/api/v1/transactions?service={SERVICE}&from={started}&to={to}&limit=1000");
    let expected = [("GET /fast", FAST_REQUESTS), ("GET /slow", 1), ("GET /error", 1)];
    let page: TransactionPage = s
        .wait_for(20, "a transaction for every request", || async {
            let p: TransactionPage = s.get(&list).await;
            let all_there = expected.iter().all(|(e, n)| p.items.iter().filter(|t| t.endpoint == *e).count() >= *n);
            all_there.then_some(p)
        })
        .await;
    for (endpoint, n) in expected {
        let got: Vec<_> = page.items.iter().filter(|t| t.endpoint == endpoint).collect();
        assert_eq!(got.len(), n, "{endpoint}: exactly one transaction per request: {got:#?}");
    }
    // Besides the requests, only the `dns.lookup` the http module makes when the server starts listening:
    // a root span outside any request, so a transaction of its own (said in the README).
    let others: Vec<_> = page.items.iter().filter(|t| !expected.iter().any(|(e, _)| t.endpoint == *e)).collect();
    assert!(others.len() <= 1 && others.iter().all(|t| t.endpoint == "dns.lookup"), "transactions that are no request: {others:#?}");
    let mut traces: Vec<&str> = page.items.iter().filter(|t| t.endpoint.starts_with("GET /")).map(|t| t.trace_id.as_str()).collect();
    traces.sort_unstable();
    traces.dedup();
    assert_eq!(traces.len(), FAST_REQUESTS + 2, "each request its own trace: {:#?}", page.items);

    // Every request's trace: one transaction, its SQL step (not the error's: it runs none).
    for t in page.items.iter().filter(|t| t.endpoint == "GET /fast") {
        let trace: Trace = s.get(&format!("/api/v1/traces/{}", t.trace_id)).await;
        assert_eq!(trace.transactions.len(), 1, "{trace:#?}");
        assert!(t.status == Status::Ok, "{t:?}");
        let sql = query_step(&trace);
        assert_eq!(sql.text.as_deref(), Some("SELECT count(*)::int AS n FROM pg_class WHERE relkind = $1"), "{sql:?}");
        assert_eq!(sql.target.as_deref(), Some("postgresql/postgres"), "{sql:?}");
    }

    let error = page.items.iter().find(|t| t.endpoint == "GET /error").unwrap();
    assert_eq!(error.status, Status::Error, "{error:?}");
    let trace: Trace = s.get(&format!("/api/v1/traces/{}", error.trace_id)).await;
    assert_eq!(trace.transactions.len(), 1, "{trace:#?}");
    let thrown = trace.steps.iter().find_map(|st| st.error.as_ref().filter(|e| e.kind.as_deref() == Some("Error")));
    let thrown = thrown.unwrap_or_else(|| panic!("the thrown exception is on a step: {trace:#?}"));
    assert_eq!(thrown.message.as_deref(), Some("the /error endpoint always fails"));
    assert!(!trace.steps.iter().any(|st| st.kind == StepKind::Sql), "{trace:#?}");

    // The slow trace: the SQL text and its time.
    let slow = page.items.iter().find(|t| t.endpoint == "GET /slow").unwrap();
    assert_eq!(slow.status, Status::Ok);
    let trace: Trace = s.get(&format!("/api/v1/traces/{}", slow.trace_id)).await;
    assert_eq!(trace.transactions.len(), 1, "{trace:#?}");
    let sql = query_step(&trace);
    assert_eq!(sql.text.as_deref(), Some("SELECT pg_sleep($1)"), "{sql:?}");
    assert_eq!(sql.target.as_deref(), Some("postgresql/postgres"), "{sql:?}");
    assert!(sql.duration_ms >= SLOW_SECONDS * 1000.0, "the SQL step lasts the sleep: {sql:?}");
    assert!(slow.duration_ms >= sql.duration_ms, "{slow:?} vs {sql:?}");
    let critical = trace.slowest_step.map(|i| &trace.steps[i]);
    assert_eq!(critical.map(|st| st.span_id.as_str()), Some(sql.span_id.as_str()), "the SQL step is the slowest: {trace:#?}");

    // The database side: the session that ran it, tied by the sqlcommenter `traceparent` comment to this
    // trace and to this very SQL step.
    let path = format!("/api/v1/db/traces/{}", slow.trace_id);
    let db: DbTraceSessions = s
        .wait_for(10, "the slow statement's session in the samples", || async {
            let d: DbTraceSessions = s.get(&path).await;
            (!d.matches.is_empty()).then_some(d)
        })
        .await;
    let comment = format!("traceparent='00-{}-{}-01'", slow.trace_id, sql.span_id);
    for m in &db.matches {
        assert_eq!(m.matched_by, DbMatchKind::Traceparent, "{m:#?}");
        assert_eq!(m.span_id.as_deref(), Some(sql.span_id.as_str()), "{m:#?}");
        assert_eq!(m.instance, s.instance);
        let q = m.session.query.as_deref().unwrap_or_default();
        assert!(q.starts_with("SELECT pg_sleep($1)") && q.contains(&comment), "{q}");
        assert_eq!(m.session.user.as_deref(), Some("app"));
        assert_eq!(m.session.wait_event.as_deref(), Some("PgSleep"), "{m:#?}");
    }
    let pids: Vec<i32> = db.matches.iter().map(|m| m.session.pid).collect();
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "one session ran the statement: {pids:?}");
    // None of the fast traces' statements, sampled or not, is tied to the slow one.
    assert!(db.matches.iter().all(|m| m.session.trace_id.as_deref() == Some(slow.trace_id.as_str())));
}
