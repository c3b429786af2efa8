//! `GET /metrics`, Sightline's own metrics (not the product's metric catalogue, which is `tests/metrics.rs`):
//! scraped from the real router and parsed with a Prometheus text-format parser, as Prometheus would. Each
//! test has its own server (and registry) in this one process, so the counters it reads are its own: the
//! ingest counters move by exactly what the test sent.

mod common;
mod pg;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use prometheus_parse::{Sample, Scrape, Value};
use sightline_server::collect::postgres::PgUrl;

/// One scrape, parsed (and its text).
struct Metrics(Scrape, String);

impl Metrics {
    async fn scrape(app: &TestApp) -> Self {
        let (status, headers, body) = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
        let text = String::from_utf8(body).expect("the text format is UTF-8");
        assert_eq!(status, StatusCode::OK, "{text}");
        let ct = headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
        assert!(ct.starts_with("text/plain") && ct.contains("version=0.0.4"), "{ct}");
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses as the Prometheus text format");
        Metrics(scrape, text)
    }

    /// The value on the exposition line `series` (`name{label="…",…}`, labels in the encoder's sorted
    /// order). For label values holding `{` `}` (route templates): prometheus-parse's sample pattern ends
    /// the label set at the first `}` and skips such lines, though the format allows them (Prometheus
    /// reads them).
    fn line_value(&self, series: &str) -> Option<f64> {
        self.1.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
    }

    fn samples<'a>(&'a self, name: &'a str, labels: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0
            .samples
            .iter()
            .filter(move |s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
    }

    /// The value of the one counter or gauge sample of `name` with `labels` (others may be present).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.samples(name, labels).map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{name} is not a single value: {other:?}"),
        });
        let v = found.next();
        assert!(found.next().is_none(), "{name} {labels:?} matches several samples");
        v
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    /// `(count, sum)` of a histogram (from its `_count` and `_sum` lines).
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> (f64, f64) {
        let count = self.value(&format!("{name}_count"), labels).unwrap_or(0.0);
        let sum = self.value(&format!("{name}_sum"), labels).unwrap_or(0.0);
        (count, sum)
    }

    /// The kind of every sample of the family `name`, checked to be one kind.
    fn kind(&self, name: &str) -> &'static str {
        let kinds: std::collections::HashSet<&'static str> = self
            .samples(name, &[])
            .map(|s| match s.value {
                Value::Counter(_) => "counter",
                Value::Gauge(_) => "gauge",
                Value::Histogram(_) => "histogram",
                Value::Summary(_) => "summary",
                Value::Untyped(_) => "untyped",
            })
            .collect();
        assert_eq!(kinds.len(), 1, "{name}: {kinds:?}");
        kinds.into_iter().next().unwrap()
    }
}

const HTTP: (&str, &str) = ("protocol", "http");

/// `n` finished transactions of one service, with a database step under each.
fn valid_spans(first_trace: u64, transactions: u64) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let end = now_ms();
    let mut spans = Vec::new();
    for t in first_trace..first_trace + transactions {
        spans.push(server_span(t, 1, "GET /accounts", end, 20.0));
        let start_ns = (end as u64 - 15) * 1_000_000;
        spans.push(db_span(t, 2, 1, start_ns, start_ns + 5_000_000, "SELECT 1"));
    }
    spans
}

#[tokio::test]
async fn every_family_is_there_with_its_type_and_help() {
    let app = TestApp::new().await;
    let (s, _) = app.post_proto(&request("shop", valid_spans(1, 1))).await;
    assert_eq!(s, StatusCode::OK);
    let m = Metrics::scrape(&app).await;
    for (name, kind) in [
        ("sightline_ingest_requests_accepted_total", "counter"),
        ("sightline_ingest_requests_rejected_total", "counter"),
        ("sightline_ingest_spans_accepted_total", "counter"),
        ("sightline_ingest_spans_rejected_total", "counter"),
        ("sightline_ingest_duration_seconds", "histogram"),
        ("sightline_store_commit_requests", "histogram"),
        ("sightline_store_commit_spans", "histogram"),
        ("sightline_store_commit_duration_seconds", "histogram"),
        ("sightline_store_up", "gauge"),
        ("sightline_store_disk_bytes", "gauge"),
        ("sightline_store_transactions", "gauge"),
        ("sightline_store_in_flight_transactions", "gauge"),
        ("sightline_store_memory_budget_bytes", "gauge"),
        ("sightline_store_memory_columns_budget_bytes", "gauge"),
        ("sightline_store_memory_bytes", "gauge"),
        ("sightline_store_evicted_minutes", "gauge"),
        ("sightline_store_evicted_transactions", "gauge"),
        ("sightline_store_evicted_disk_bytes", "gauge"),
        ("sightline_store_evicted_reads_total", "counter"),
        ("sightline_retention_removed_total", "counter"),
        ("sightline_sse_clients", "gauge"),
        ("sightline_http_requests_total", "counter"),
        ("sightline_alert_evaluations_total", "counter"),
        ("sightline_alert_transitions_total", "counter"),
        ("sightline_alert_messages_sent_total", "counter"),
        ("sightline_alert_delivery_failures_total", "counter"),
        ("sightline_alert_messages_dropped_total", "counter"),
    ] {
        assert_eq!(m.kind(name), kind, "{name}");
        assert!(m.0.docs.get(name).is_some_and(|d| !d.is_empty()), "{name} has no HELP");
    }
    // Labels known up front start at zero, for every protocol and reason.
    for protocol in ["http", "grpc", "demo"] {
        assert!(m.value("sightline_ingest_requests_rejected_total", &[("protocol", protocol), ("reason", "malformed")]).is_some());
        assert!(m.value("sightline_ingest_spans_rejected_total", &[("protocol", protocol), ("reason", "invalid_span_id")]).is_some());
    }
    assert_eq!(m.counter("sightline_retention_removed_total", &[("kind", "transactions")]), 0.0);
    assert_eq!(m.counter("sightline_store_up", &[]), 1.0);
    assert_eq!(m.counter("sightline_store_transactions", &[]), 1.0);
    assert!(m.counter("sightline_store_disk_bytes", &[]) > 0.0);
    // The default memory budget, its parts, and nothing evicted for one transaction.
    assert_eq!(m.counter("sightline_store_memory_budget_bytes", &[]), (1u64 << 30) as f64);
    assert!(m.counter("sightline_store_memory_bytes", &[("part", "columns")]) > 0.0);
    assert!(m.value("sightline_store_memory_bytes", &[("part", "memtables")]).is_some());
    assert_eq!(m.counter("sightline_store_evicted_transactions", &[]), 0.0);
    assert_eq!(m.counter("sightline_sse_clients", &[]), 0.0);
    // No PostgreSQL instance is configured: no per-instance series.
    assert!(m.samples("sightline_postgres_up", &[]).next().is_none());
}

#[tokio::test]
async fn ingest_counters_move_by_exactly_what_was_sent() {
    let app = TestApp::new().await;
    let before = Metrics::scrape(&app).await;

    // 3 transactions with a step each: 6 spans, all accepted.
    let (s, _) = app.post_proto(&request("shop", valid_spans(10, 3))).await;
    assert_eq!(s, StatusCode::OK);
    // 2 good spans and 3 bad ones (two trace ids of the wrong length, one ending before it starts): a
    // partial success, as OTLP JSON this time.
    let mut mixed = valid_spans(20, 1);
    for id in [3, 4] {
        let mut bad = server_span(21, id, "GET /bad", now_ms(), 5.0);
        bad.trace_id = vec![1; 3];
        mixed.push(bad);
    }
    let mut backwards = server_span(22, 5, "GET /backwards", now_ms(), 5.0);
    std::mem::swap(&mut backwards.start_time_unix_nano, &mut backwards.end_time_unix_nano);
    mixed.push(backwards);
    let json = serde_json::to_vec(&request("shop", mixed)).unwrap();
    let (s, body) = app.post("application/json", None, json).await;
    assert_eq!(s, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "3", "{answer}");
    // Refused as a whole: garbage, a content type that is not OTLP, a gzip header on plain bytes.
    assert_eq!(app.post("application/x-protobuf", None, b"\xff\xff\xff not protobuf".to_vec()).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.post("text/plain", None, b"hello".to_vec()).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.post("application/x-protobuf", Some("gzip"), b"not gzip".to_vec()).await.0, StatusCode::BAD_REQUEST);

    let after = Metrics::scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| after.counter(name, labels) - before.counter(name, labels);
    assert_eq!(moved("sightline_ingest_requests_accepted_total", &[HTTP]), 2.0);
    assert_eq!(moved("sightline_ingest_spans_accepted_total", &[HTTP]), 8.0);
    assert_eq!(moved("sightline_ingest_spans_rejected_total", &[HTTP, ("reason", "invalid_trace_id")]), 2.0);
    assert_eq!(moved("sightline_ingest_spans_rejected_total", &[HTTP, ("reason", "end_before_start")]), 1.0);
    assert_eq!(moved("sightline_ingest_spans_rejected_total", &[HTTP, ("reason", "invalid_span_id")]), 0.0);
    assert_eq!(moved("sightline_ingest_requests_rejected_total", &[HTTP, ("reason", "malformed")]), 2.0);
    assert_eq!(moved("sightline_ingest_requests_rejected_total", &[HTTP, ("reason", "unsupported_media_type")]), 1.0);
    assert_eq!(moved("sightline_ingest_requests_rejected_total", &[HTTP, ("reason", "too_large")]), 0.0);
    for p in ["grpc", "demo"] {
        assert_eq!(after.counter("sightline_ingest_spans_accepted_total", &[("protocol", p)]), 0.0, "{p}");
    }
    // One latency observation per accepted request.
    let (count, sum) = after.histogram("sightline_ingest_duration_seconds", &[HTTP]);
    assert_eq!(count, 2.0);
    assert!(sum > 0.0);
    // The two requests came one after the other: two group commits, of 6 and 2 spans.
    let commits = after.histogram("sightline_store_commit_requests", &[]);
    assert_eq!(commits, (2.0, 2.0));
    assert_eq!(after.histogram("sightline_store_commit_spans", &[]), (2.0, 8.0));
    assert_eq!(after.histogram("sightline_store_commit_duration_seconds", &[]).0, 2.0);
    // 4 transactions retained (the backwards one was refused).
    assert_eq!(after.counter("sightline_store_transactions", &[]), 4.0);
    // The POSTs were counted by route too, with their statuses.
    let posts = |status: &str| after.value("sightline_http_requests_total", &[("method", "POST"), ("route", "/v1/traces"), ("status", status)]);
    assert_eq!(posts("200"), Some(2.0));
    assert_eq!(posts("400"), Some(2.0));
    assert_eq!(posts("415"), Some(1.0));
}

#[tokio::test]
async fn http_requests_are_counted_by_route_template_and_status() {
    let app = TestApp::new().await;
    let get = |uri: &'static str| {
        let app = &app;
        async move { app.send(Request::get(uri).body(Body::empty()).unwrap()).await.0 }
    };
    assert_eq!(get("/api/v1/health").await, StatusCode::OK);
    assert_eq!(get("/api/v1/boards/no-such-board").await, StatusCode::NOT_FOUND);
    assert_eq!(get("/api/v1/boards/another-one").await, StatusCode::NOT_FOUND);
    assert_eq!(get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND);
    assert_eq!(get("/some/app/page").await, StatusCode::NOT_FOUND, "no app is built in tests");
    let m = Metrics::scrape(&app).await;
    let count = |route: &str, status: &str| m.value("sightline_http_requests_total", &[("method", "GET"), ("route", route), ("status", status)]);
    assert_eq!(count("/api/v1/health", "200"), Some(1.0));
    assert_eq!(count("unmatched", "404"), Some(1.0));
    // Templates with parameters, read from the text (see `line_value`).
    let line = |route: &str| m.line_value(&format!("sightline_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"404\"}}"));
    assert_eq!(line("/api/v1/boards/{id}"), Some(2.0), "the template, not the path:\n{}", m.1);
    assert_eq!(line("/api/{*rest}"), Some(1.0), "{}", m.1);
    assert!(!m.1.contains("no-such-board") && !m.1.contains("nothing-here"), "raw paths never become labels:\n{}", m.1);

    // The next scrape counts this one.
    let again = Metrics::scrape(&app).await;
    assert_eq!(again.value("sightline_http_requests_total", &[("route", "/metrics"), ("status", "200")]), Some(1.0));
}

/// Polls the gauge until it reads `want`, failing after a deadline.
async fn wait_for_sse_clients(app: &TestApp, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = Metrics::scrape(app).await.counter("sightline_sse_clients", &[]);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "sightline_sse_clients stayed {got}, want {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Real clients over a real socket: two live streams open show as 2; each one that disconnects goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_clients_show_while_connected() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let open = || async {
        let r = client.get(format!("{base}/api/v1/hitmap/live")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/event-stream");
        r
    };
    wait_for_sse_clients(&app, 0.0).await;
    let first = open().await;
    let mut second = open().await;
    wait_for_sse_clients(&app, 2.0).await;
    // A transaction stored reaches the stream (it is live, not just counted).
    let (s, _) = app.post_proto(&request("shop", valid_spans(1, 1))).await;
    assert_eq!(s, StatusCode::OK);
    let chunk = tokio::time::timeout(Duration::from_secs(10), second.chunk()).await.expect("an event within 10 s").unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("data:"), "{chunk:?}");
    drop(first);
    wait_for_sse_clients(&app, 1.0).await;
    drop(second);
    wait_for_sse_clients(&app, 0.0).await;
    server.abort();
}

/// A real PostgreSQL monitored by the in-process server, beside an address where nothing listens: the
/// first is up with a sample duration, the second down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_collectors_report_up_and_down_per_instance() {
    const PASSWORD: &str = "metrics-monitor-pw";
    let cluster = pg::Cluster::new();
    cluster.create_monitor(PASSWORD);
    let nobody = pg::free_port();
    let urls = [
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{}/postgres", cluster.port),
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{nobody}/postgres"),
    ];
    let app = TestApp::with(|a| {
        a.postgres = urls.iter().map(|u| PgUrl(u.clone())).collect();
        a.pg_interval_ms = 200;
    })
    .await;
    app.state.db.spawn();
    let (up_id, down_id) = (format!("127.0.0.1-{}-postgres", cluster.port), format!("127.0.0.1-{nobody}-postgres"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let m = loop {
        // The API says when the unreachable one has been tried and found down.
        let (_, list) = app.get("/api/v1/db/instances").await;
        let down_seen = list["instances"].as_array().unwrap().iter().any(|i| i["id"] == down_id.as_str() && i["status"] == "down");
        let m = Metrics::scrape(&app).await;
        let up = m.value("sightline_postgres_up", &[("id", &up_id)]);
        let sampled = m.value("sightline_postgres_sample_duration_seconds", &[("id", &up_id)]);
        if down_seen && up == Some(1.0) && sampled.is_some() {
            break m;
        }
        assert!(Instant::now() < deadline, "instances not up/down in time: up={up:?} sampled={sampled:?} down_seen={down_seen}: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(m.value("sightline_postgres_up", &[("id", &down_id)]), Some(0.0));
    let name = format!("monitor@127.0.0.1:{}/postgres", cluster.port);
    assert_eq!(m.value("sightline_postgres_up", &[("id", &up_id), ("name", &name)]), Some(1.0));
    let took = m.counter("sightline_postgres_sample_duration_seconds", &[("id", &up_id)]);
    assert!(took > 0.0 && took < 10.0, "{took}");
    assert!(m.value("sightline_postgres_sample_duration_seconds", &[("id", &down_id)]).is_none(), "never sampled");
    assert_eq!(m.kind("sightline_postgres_up"), "gauge");
    assert_eq!(m.kind("sightline_postgres_sample_duration_seconds"), "gauge");
}
