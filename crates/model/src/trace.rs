//! Transactions, their traces and what is running now: what the user opens after dragging on the hitmap.

use serde::{Deserialize, Serialize};

/// Outcome of a transaction or step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Ok,
    Error,
}

/// Which transactions a list shows first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Slowest,
    Newest,
}

/// One finished transaction (a root or SERVER-kind span) as listed under a drag-selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// Lower-case hex, 32 characters.
    pub trace_id: String,
    /// Lower-case hex, 16 characters.
    pub span_id: String,
    pub service: String,
    /// The endpoint (span name, e.g. `POST /api/pay`).
    pub endpoint: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration_ms: f64,
    pub status: Status,
    /// Exception type or status message when the transaction failed.
    pub error: Option<String>,
    pub thread: Option<String>,
}

/// Answer of `GET /api/v1/transactions`: one page of the selection, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionPage {
    pub items: Vec<TransactionSummary>,
    /// Every transaction matching the filter (the "M" of "N of M").
    pub total: u64,
    /// Opaque; pass back as `cursor=` for the next page. `None` on the last page.
    pub next_cursor: Option<String>,
    /// Set when the window reaches history the server has not read yet: `total` may grow
    /// (see [`crate::HistoryLoading`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<crate::HistoryLoading>,
}

/// What a step of a trace did, so the waterfall can show the right detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The transaction's own span (root or SERVER kind).
    Transaction,
    /// A database call (`db.system` present).
    Sql,
    /// An outbound HTTP call (CLIENT kind with `http.request.method` / `url.full`).
    Http,
    /// Any other span: internal work, methods, messaging.
    Method,
}

/// An exception or error recorded on a span (OTLP `exception` event or error status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepError {
    pub kind: Option<String>,
    pub message: Option<String>,
    pub stacktrace: Option<String>,
}

/// One span of a trace, flattened in depth-first order for the waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// Nesting depth in the waterfall (0 = a root).
    pub depth: u32,
    pub kind: StepKind,
    pub service: String,
    pub name: String,
    /// Start relative to the trace's first span.
    pub offset_ms: f64,
    pub duration_ms: f64,
    /// Time not spent in child steps (ms): the step's duration minus the union of its children's
    /// intervals, computed by the server.
    #[serde(default)]
    pub self_ms: f64,
    pub status: Status,
    /// SQL text for `Sql`, full URL for `Http`.
    pub text: Option<String>,
    /// `db.system`/`db.name` for SQL, `server.address` for HTTP.
    pub target: Option<String>,
    pub thread: Option<String>,
    pub error: Option<StepError>,
    /// Its time is not covered by a child's: this is where the trace's time went.
    pub critical: bool,
}

/// Answer of `GET /api/v1/traces/{trace_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub trace_id: String,
    pub start_ms: i64,
    pub duration_ms: f64,
    pub transactions: Vec<TransactionSummary>,
    /// Depth-first, children after their parent, siblings by start time.
    pub steps: Vec<Step>,
    /// Index into `steps` of the step with the largest self time.
    pub slowest_step: Option<usize>,
}

/// A transaction still running, for the active-transactions panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveTransaction {
    pub trace_id: String,
    pub span_id: String,
    pub service: String,
    pub endpoint: String,
    pub start_ms: i64,
    pub elapsed_ms: f64,
    pub thread: Option<String>,
    /// Name of the innermost step in flight, when known ("where it is stuck now").
    pub current_step: Option<String>,
}

/// Answer of `GET /api/v1/active?service=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveList {
    /// When the server took the snapshot.
    pub now_ms: i64,
    /// Longest-running first.
    pub items: Vec<ActiveTransaction>,
}
