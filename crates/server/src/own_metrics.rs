//! Sightline's own metrics — how Sightline itself is doing (ingest, store, collectors, HTTP) — served to
//! Prometheus at `GET /metrics` in its text format; docs/API.md lists every family.
//!
//! Not to be confused with [`crate::metrics`], the catalogue of the *monitored* system's metrics that boards
//! draw. These are the operator's view of the monitor.
//!
//! One [`prometheus::Registry`] per [`crate::state::AppState`], never the process-global default registry
//! (nor a global `metrics` recorder): the tests run several servers in one process, and each must count
//! only its own traffic. Counters and histograms are updated where things happen (through the small
//! recording methods here); gauges that are cheaper to read than to maintain (store size, retained
//! transactions, PostgreSQL status) are set from their sources at scrape time ([`OwnMetrics::render`]).

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, GaugeVec, Opts, Registry,
    TextEncoder,
};
use sightline_model::DbStatus;

use crate::collect::postgres::DbHub;
use crate::error::AppError;
use crate::ingest::{IngestOutcome, Protocol, SpanReject};
use crate::store::{CommitReport, ReplicaState, RetentionReport, StoreStats};

/// The `Content-Type` of [`OwnMetrics::render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Why a whole ingest request was refused: the `reason` label of `sightline_ingest_requests_rejected_total`.
/// Derived from the [`AppError`] the request was answered with ([`RequestReject::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestReject {
    /// Not OTLP: wrong `Content-Type` or `Content-Encoding` (HTTP 415).
    UnsupportedMediaType,
    /// Over the size limit, on the wire or decompressed (HTTP 413, gRPC `RESOURCE_EXHAUSTED`).
    TooLarge,
    /// Could not be read, gunzipped or decoded (HTTP 400, gRPC `INVALID_ARGUMENT`).
    Malformed,
    /// No or a wrong token (HTTP 401 / 403). For OTLP/HTTP the access gate answers these before ingest
    /// sees the request: they show in `sightline_http_requests_total{route="/v1/traces"}` instead.
    Unauthenticated,
    /// The store could not take the spans, or the server is shutting down (HTTP 503).
    Unavailable,
    /// Anything else (an internal error).
    Other,
}

impl RequestReject {
    pub const ALL: [RequestReject; 6] = [
        RequestReject::UnsupportedMediaType,
        RequestReject::TooLarge,
        RequestReject::Malformed,
        RequestReject::Unauthenticated,
        RequestReject::Unavailable,
        RequestReject::Other,
    ];

    pub fn of(e: &AppError) -> Self {
        match e {
            AppError::UnsupportedMediaType(_) => RequestReject::UnsupportedMediaType,
            AppError::PayloadTooLarge(_) => RequestReject::TooLarge,
            AppError::BadRequest(_) => RequestReject::Malformed,
            AppError::Unauthenticated(_) | AppError::Forbidden(_) => RequestReject::Unauthenticated,
            AppError::Unavailable(_) | AppError::TimedOut(_) | AppError::TooManyRequests { .. } | AppError::Overloaded { .. } => {
                RequestReject::Unavailable
            }
            _ => RequestReject::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestReject::UnsupportedMediaType => "unsupported_media_type",
            RequestReject::TooLarge => "too_large",
            RequestReject::Malformed => "malformed",
            RequestReject::Unauthenticated => "unauthenticated",
            RequestReject::Unavailable => "unavailable",
            RequestReject::Other => "other",
        }
    }
}

/// Every family, registered in [`OwnMetrics::new`]; see docs/API.md for their meaning.
pub struct OwnMetrics {
    registry: Registry,
    ingest_requests_accepted: IntCounterVec,
    ingest_requests_rejected: IntCounterVec,
    ingest_spans_accepted: IntCounterVec,
    ingest_spans_rejected: IntCounterVec,
    ingest_duration: HistogramVec,
    commit_requests: Histogram,
    commit_spans: Histogram,
    commit_duration: Histogram,
    store_up: IntGauge,
    store_disk_bytes: IntGauge,
    store_transactions: IntGauge,
    store_in_flight: IntGauge,
    store_history_percent: IntGauge,
    store_history_from: IntGauge,
    /// The memory budget and its parts (embedded store; see docs/STORE.md "Memory budget").
    memory_budget: IntGauge,
    memory_columns_budget: IntGauge,
    memory_bytes: IntGaugeVec,
    evicted_minutes: IntGauge,
    evicted_transactions: IntGauge,
    evicted_disk_bytes: IntGauge,
    evicted_reads: prometheus::IntCounter,
    retention_removed: IntCounterVec,
    postgres_up: IntGaugeVec,
    postgres_sample_duration: GaugeVec,
    clickhouse_replica_state: IntGaugeVec,
    sse_clients: IntGauge,
    http_requests: IntCounterVec,
    /// Alerting's counters (see [`ALERT_COUNTERS`]), caught up with [`crate::alert::Alerts`]' own at scrape
    /// time ([`OwnMetrics::alerts`]).
    alerts: Vec<prometheus::IntCounter>,
}

/// `(name, help)` of alerting's counters, in the order of [`crate::alert::Alerts::counters`].
pub const ALERT_COUNTERS: [(&str, &str); 5] = [
    ("sightline_alert_evaluations_total", "Alert rule evaluations."),
    ("sightline_alert_transitions_total", "Alert instance state changes recorded."),
    ("sightline_alert_messages_sent_total", "Alert messages a receiver accepted (2xx)."),
    ("sightline_alert_delivery_failures_total", "Alert message attempts that failed (non-2xx, refused, timed out); retried."),
    ("sightline_alert_messages_dropped_total", "Queued alerts dropped because a channel's backlog was full."),
];

/// Latency buckets in seconds: 1 ms … 10 s (an acknowledged export includes an fsync).
const SECONDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl OwnMetrics {
    /// A fresh registry with every family. Labelled counters whose label values are known up front start
    /// at 0, so a scrape shows them (and `rate()` works) before the first event.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
            registry.register(Box::new(c.clone())).expect("registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric name");
            registry.register(Box::new(g.clone())).expect("registered once");
            g
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())).expect("valid metric name");
            registry.register(Box::new(h.clone())).expect("registered once");
            h
        };
        let ingest_duration = HistogramVec::new(
            HistogramOpts::new(
                "sightline_ingest_duration_seconds",
                "Time from a decompressed export request to its answer (decode, convert, durable group commit), accepted requests only.",
            )
            .buckets(SECONDS.to_vec()),
            &["protocol"],
        )
        .expect("valid metric name");
        registry.register(Box::new(ingest_duration.clone())).expect("registered once");
        let postgres_up = IntGaugeVec::new(
            Opts::new("sightline_postgres_up", "1 when the PostgreSQL collector is connected and sampling the instance, 0 when it is down or still connecting."),
            &["id", "name"],
        )
        .expect("valid metric name");
        registry.register(Box::new(postgres_up.clone())).expect("registered once");
        let postgres_sample_duration = GaugeVec::new(
            Opts::new("sightline_postgres_sample_duration_seconds", "How long the latest sample of the instance's statistics views took."),
            &["id", "name"],
        )
        .expect("valid metric name");
        registry.register(Box::new(postgres_sample_duration.clone())).expect("registered once");
        let clickhouse_replica_state = IntGaugeVec::new(
            Opts::new(
                "sightline_clickhouse_replica_state",
                "Each --clickhouse server's state, 1 for the one it is in: in_use (read from and written to), waiting (has not \
                 answered since the start; retried) or refused (answers but kept out: wrong {shard} macro or tables not prepared).",
            ),
            &["shard", "server", "state"],
        )
        .expect("valid metric name");
        registry.register(Box::new(clickhouse_replica_state.clone())).expect("registered once");
        let memory_bytes = IntGaugeVec::new(
            Opts::new(
                "sightline_store_memory_bytes",
                "What the embedded store holds in memory, by part: columns (hitmap columns in memory), trace_index (which requests hold a trace's spans), memtables (fjall's, not yet flushed), block_cache (fjall's, in use).",
            ),
            &["part"],
        )
        .expect("valid metric name");
        registry.register(Box::new(memory_bytes.clone())).expect("registered once");
        let evicted_reads = prometheus::IntCounter::new(
            "sightline_store_evicted_reads_total",
            "Evicted column segments read back from disk by queries reaching older minutes.",
        )
        .expect("valid metric name");
        registry.register(Box::new(evicted_reads.clone())).expect("registered once");

        let m = OwnMetrics {
            ingest_requests_accepted: counter(
                "sightline_ingest_requests_accepted_total",
                "Trace export requests answered with success (possibly with some spans rejected), by protocol.",
                &["protocol"],
            ),
            ingest_requests_rejected: counter(
                "sightline_ingest_requests_rejected_total",
                "Trace export requests refused as a whole, by protocol and reason.",
                &["protocol", "reason"],
            ),
            ingest_spans_accepted: counter("sightline_ingest_spans_accepted_total", "Spans stored, by protocol.", &["protocol"]),
            ingest_spans_rejected: counter(
                "sightline_ingest_spans_rejected_total",
                "Spans refused one by one inside accepted requests (OTLP partial success), by protocol and reason.",
                &["protocol", "reason"],
            ),
            ingest_duration,
            commit_requests: histogram(
                "sightline_store_commit_requests",
                "Export requests written together by one group commit (one fsync).",
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            ),
            commit_spans: histogram(
                "sightline_store_commit_spans",
                "Spans written by one group commit.",
                &[1.0, 10.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0],
            ),
            commit_duration: histogram(
                "sightline_store_commit_duration_seconds",
                "Time one group commit took to write its batch and fsync the journal.",
                &SECONDS,
            ),
            store_up: gauge(
                "sightline_store_up",
                "1 when the trace store answered this scrape's read of its figures; 0 when it could not (ClickHouse unreachable): the store's gauges then keep their last values.",
            ),
            store_disk_bytes: gauge("sightline_store_disk_bytes", "Size of the trace store's files on disk."),
            store_transactions: gauge("sightline_store_transactions", "Finished transactions retained in the store."),
            store_in_flight: gauge("sightline_store_in_flight_transactions", "Transactions reported in flight and not yet finished or stale."),
            store_history_percent: gauge(
                "sightline_store_history_loaded_percent",
                "How much of the stored history (by time range) is read back after a start, 0-100; answers reaching older data say they are incomplete until 100.",
            ),
            store_history_from: gauge(
                "sightline_store_history_loaded_from_seconds",
                "While the stored history is read back after a start: everything ending at or after this time (Unix seconds) is counted; 0 once complete.",
            ),
            memory_budget: gauge(
                "sightline_store_memory_budget_bytes",
                "The embedded store's memory budget (--memory-budget); 0 without one.",
            ),
            memory_columns_budget: gauge(
                "sightline_store_memory_columns_budget_bytes",
                "The hitmap columns' share of the memory budget: beyond it the oldest minutes are evicted to disk.",
            ),
            memory_bytes,
            evicted_minutes: gauge("sightline_store_evicted_minutes", "Minutes whose hitmap columns are (partly) evicted to disk by the memory budget."),
            evicted_transactions: gauge("sightline_store_evicted_transactions", "Transactions whose hitmap columns are evicted to disk by the memory budget."),
            evicted_disk_bytes: gauge("sightline_store_evicted_disk_bytes", "Size of the evicted column files."),
            evicted_reads,
            retention_removed: counter(
                "sightline_retention_removed_total",
                "What retention removed (age and size limits), by kind: transactions or traces.",
                &["kind"],
            ),
            postgres_up,
            postgres_sample_duration,
            clickhouse_replica_state,
            sse_clients: gauge("sightline_sse_clients", "Open live hitmap streams (GET /api/v1/hitmap/live)."),
            http_requests: counter(
                "sightline_http_requests_total",
                "HTTP requests answered, by method, matched route template (\"unmatched\" for the app's files and unknown paths) and status code.",
                &["method", "route", "status"],
            ),
            alerts: ALERT_COUNTERS
                .iter()
                .map(|(name, help)| {
                    let c = prometheus::IntCounter::new(*name, *help).expect("valid metric name");
                    registry.register(Box::new(c.clone())).expect("registered once");
                    c
                })
                .collect(),
            registry,
        };
        for p in Protocol::ALL {
            m.ingest_requests_accepted.with_label_values(&[p.label()]);
            m.ingest_spans_accepted.with_label_values(&[p.label()]);
            for r in RequestReject::ALL {
                m.ingest_requests_rejected.with_label_values(&[p.label(), r.label()]);
            }
            for r in SpanReject::ALL {
                m.ingest_spans_rejected.with_label_values(&[p.label(), r.label()]);
            }
        }
        for kind in ["transactions", "traces"] {
            m.retention_removed.with_label_values(&[kind]);
        }
        m
    }

    /// An export request answered with success after `took`: its accepted and rejected spans.
    pub fn ingest_accepted(&self, protocol: Protocol, outcome: &IngestOutcome, took: Duration) {
        let p = protocol.label();
        self.ingest_requests_accepted.with_label_values(&[p]).inc();
        self.ingest_spans_accepted.with_label_values(&[p]).inc_by(outcome.accepted_spans);
        for (reason, n) in outcome.rejected_by.iter() {
            self.ingest_spans_rejected.with_label_values(&[p, reason.label()]).inc_by(n);
        }
        self.ingest_duration.with_label_values(&[p]).observe(took.as_secs_f64());
    }

    /// An export request refused as a whole, answered with `error`.
    pub fn ingest_rejected(&self, protocol: Protocol, error: &AppError) {
        self.ingest_rejected_as(protocol, RequestReject::of(error));
    }

    /// An ingest request refused for `reason` (a transport that answers in its own terms, e.g. gRPC status).
    pub fn ingest_rejected_as(&self, protocol: Protocol, reason: RequestReject) {
        self.ingest_requests_rejected.with_label_values(&[protocol.label(), reason.label()]).inc();
    }

    /// One group commit of the store (called on the committer thread).
    pub fn commit(&self, c: &CommitReport) {
        self.commit_requests.observe(c.requests as f64);
        self.commit_spans.observe(c.spans as f64);
        self.commit_duration.observe(c.took.as_secs_f64());
    }

    /// One retention pass.
    pub fn retention(&self, r: &RetentionReport) {
        self.retention_removed.with_label_values(&["transactions"]).inc_by(r.transactions_removed);
        self.retention_removed.with_label_values(&["traces"]).inc_by(r.traces_removed);
    }

    /// One answered HTTP request; `route` is the matched route template (`/api/v1/boards/{id}`), never the
    /// raw path, so the label's values stay a short fixed list.
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        // A client may send any method name: only the standard ones become label values.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" => method,
            _ => "other",
        };
        self.http_requests.with_label_values(&[method, route, status.to_string().as_str()]).inc();
    }

    /// Counts a live stream as open until the returned guard is dropped (the client went away).
    pub fn sse_client(&self) -> SseClient {
        self.sse_clients.inc();
        SseClient(self.sse_clients.clone())
    }

    /// Catches alerting's counters up with `totals` (in [`ALERT_COUNTERS`]' order).
    pub fn alerts(&self, totals: [u64; 5]) {
        for (c, t) in self.alerts.iter().zip(totals) {
            c.inc_by(t.saturating_sub(c.get()));
        }
    }

    /// Sets the scrape-time gauges from the store and the collectors, then renders every family in the
    /// Prometheus text format. `store` is read by the caller (it may touch the disk).
    pub fn render(&self, store: &StoreStats, db: &DbHub) -> Result<String, AppError> {
        self.store_up.set(i64::from(store.unreadable.is_none()));
        if store.unreadable.is_none() {
            self.store_disk_bytes.set(clamp(store.disk_bytes));
            self.store_transactions.set(clamp(store.transactions));
            self.store_in_flight.set(clamp(store.in_flight));
            self.store_history_percent.set(store.history.map_or(100, |h| h.percent.into()));
            self.store_history_from.set(store.history.map_or(0, |h| h.loaded_from_ms.div_euclid(1000)));
        }
        if let Some(m) = &store.memory {
            self.memory_budget.set(clamp(m.budget_bytes.unwrap_or(0)));
            self.memory_columns_budget.set(clamp(m.columns_budget_bytes.unwrap_or(0)));
            self.memory_bytes.with_label_values(&["columns"]).set(clamp(m.columns_bytes));
            self.memory_bytes.with_label_values(&["trace_index"]).set(clamp(m.trace_index_bytes));
            self.memory_bytes.with_label_values(&["memtables"]).set(clamp(m.memtable_bytes));
            self.memory_bytes.with_label_values(&["block_cache"]).set(clamp(m.cache_bytes));
            self.evicted_minutes.set(clamp(m.evicted_minutes));
            self.evicted_transactions.set(clamp(m.evicted_transactions));
            self.evicted_disk_bytes.set(clamp(m.evicted_disk_bytes));
            self.evicted_reads.inc_by(m.evicted_reads.saturating_sub(self.evicted_reads.get()));
        }
        for r in &store.replicas {
            let shard = r.shard.to_string();
            for state in ReplicaState::ALL {
                self.clickhouse_replica_state.with_label_values(&[shard.as_str(), r.server.as_str(), state.label()]).set(i64::from(r.state == state));
            }
        }
        for inst in db.instances() {
            let (status, sample) = inst.own_metrics();
            let labels = [inst.id.as_str(), inst.name.as_str()];
            self.postgres_up.with_label_values(&labels).set(i64::from(status == DbStatus::Up));
            if let Some(took) = sample {
                self.postgres_sample_duration.with_label_values(&labels).set(took.as_secs_f64());
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot encode the metrics: {e}")))?;
        String::from_utf8(out).map_err(|e| AppError::Internal(anyhow::anyhow!("metrics are not UTF-8: {e}")))
    }
}

impl Default for OwnMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// An open live stream, counted in `sightline_sse_clients` until dropped.
pub struct SseClient(IntGauge);

impl Drop for SseClient {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(start))
    }

    /// The text, without a store or monitored instances (no URL: nothing is opened on disk).
    fn render(m: &OwnMetrics) -> String {
        let db = DbHub::new(&crate::config::ServeArgs::for_tests(std::path::Path::new("unused"))).unwrap();
        m.render(&StoreStats::default(), &db).unwrap()
    }

    #[test]
    fn retention_commits_and_live_streams_are_counted() {
        let m = OwnMetrics::new();
        m.retention(&RetentionReport { transactions_removed: 30, traces_removed: 12, cutoff_ms: Some(0) });
        m.retention(&RetentionReport::default());
        m.commit(&CommitReport { requests: 3, spans: 700, took: Duration::from_millis(4) });
        let a = m.sse_client();
        let b = m.sse_client();
        let text = render(&m);
        assert_eq!(line(&text, "sightline_retention_removed_total{kind=\"transactions\"}"), Some("sightline_retention_removed_total{kind=\"transactions\"} 30"));
        assert_eq!(line(&text, "sightline_retention_removed_total{kind=\"traces\"}"), Some("sightline_retention_removed_total{kind=\"traces\"} 12"));
        assert_eq!(line(&text, "sightline_store_commit_spans_sum"), Some("sightline_store_commit_spans_sum 700"));
        assert_eq!(line(&text, "sightline_store_commit_requests_bucket{le=\"4\"}"), Some("sightline_store_commit_requests_bucket{le=\"4\"} 1"));
        assert_eq!(line(&text, "sightline_sse_clients"), Some("sightline_sse_clients 2"));
        drop((a, b));
        assert_eq!(line(&render(&m), "sightline_sse_clients"), Some("sightline_sse_clients 0"));
        m.http_request("BREW", "unmatched", 405);
        let want = "sightline_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 1";
        assert_eq!(line(&render(&m), want), Some(want));
    }

    #[test]
    fn request_refusals_have_a_reason_of_their_error() {
        assert_eq!(RequestReject::of(&AppError::PayloadTooLarge("x".into())), RequestReject::TooLarge);
        assert_eq!(RequestReject::of(&AppError::BadRequest("x".into())), RequestReject::Malformed);
        assert_eq!(RequestReject::of(&AppError::Unauthenticated("x".into())), RequestReject::Unauthenticated);
        assert_eq!(RequestReject::of(&AppError::Unavailable("x".into())), RequestReject::Unavailable);
        assert_eq!(RequestReject::of(&AppError::Internal(anyhow::anyhow!("x"))), RequestReject::Other);
        let m = OwnMetrics::new();
        m.ingest_rejected(Protocol::Grpc, &AppError::PayloadTooLarge("x".into()));
        let want = "sightline_ingest_requests_rejected_total{protocol=\"grpc\",reason=\"too_large\"} 1";
        assert_eq!(line(&render(&m), want), Some(want));
    }
}
