//! Wire types shared by the app (wasm) and the server.
//!
//! Everything that crosses HTTP is defined here once, so the two sides cannot drift apart.
//! Times are milliseconds since the Unix epoch (`i64`), durations are milliseconds (`f64`).

pub mod alert;
pub mod auth;
pub mod board;
pub mod compare;
pub mod cube;
pub mod db;
pub mod deploy;
pub mod hitmap;
pub mod host;
pub mod metrics;
pub mod query;
pub mod range;
pub mod trace;

pub use alert::*;
pub use auth::*;
pub use board::*;
pub use compare::*;
pub use cube::*;
pub use db::*;
pub use deploy::*;
pub use hitmap::*;
pub use host::*;
pub use metrics::*;
pub use query::*;
pub use range::*;
pub use trace::*;

use serde::{Deserialize, Serialize};

/// Answer of `GET /api/v1/health`: lets the app (and load balancers) tell a live server from a dead one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// Set while the server is still reading its stored history after a start (it serves and ingests
    /// meanwhile); absent once everything stored is counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryLoading>,
    /// Set when the memory budget has evicted older minutes' hitmap columns to disk: windows starting
    /// before this (ms since the epoch) are answered exactly but read from disk, more slowly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evicted_until_ms: Option<i64>,
}

/// How far the server has read its stored history after a start: it reads newest first, so every
/// transaction ending at or after `loaded_from_ms` is counted and older ones may be missing. An answer
/// whose window reaches before `loaded_from_ms` carries this instead of passing off partial counts as
/// complete; the app shows "loading history: 43 %".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryLoading {
    /// Everything ending at or after this (ms since the epoch) is counted.
    pub loaded_from_ms: i64,
    /// Share of the stored time range read so far, 0–99.
    pub percent: u8,
}

/// Body of every non-2xx API answer, so clients can show the server's own words to the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Human-readable message, safe to show (never contains secrets).
    pub error: String,
    /// The HTTP status code, repeated for clients that only see the body.
    pub status: u16,
}

/// One monitored service with its headline numbers over the asked range; feeds the service selector
/// and the per-service summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    /// Finished transactions in the range.
    pub transactions: u64,
    pub errors: u64,
    /// Transactions per second over the range.
    pub tps: f64,
    pub p95_ms: f64,
    /// errors / transactions, 0..=1.
    pub error_rate: f64,
}

/// Answer of `GET /api/v1/services?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<ServiceSummary>,
    /// Set when the range reaches history the server has not read yet (see [`HistoryLoading`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryLoading>,
}
