//! Deploys: when a service started reporting a new version. Charts mark them, so a regression can be
//! read against the release that brought it; the deploy check says whether the release made things worse.

use serde::{Deserialize, Serialize};

/// A service seen at a new version (`service.version` of the OpenTelemetry resource).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub service: String,
    pub version: String,
    /// Start of the earliest span seen at this version (ms since the epoch).
    pub at_ms: i64,
    /// The version seen before it; `None` for the first version Sightline saw (not a deploy it witnessed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The deploy check's verdict, once the minutes after the deploy have passed (only for version changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<DeployCheck>,
}

/// The service's transactions in the minutes after a deploy compared with the same span before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployCheck {
    /// Transactions ending in `[at_ms − window_ms, at_ms)`.
    pub before: DeploySide,
    /// Transactions ending in `[at_ms, at_ms + window_ms)`.
    pub after: DeploySide,
    /// Length of each side: the server's `--deploy-check-after`, or less when the next version came sooner.
    pub window_ms: i64,
    /// Both sides had the minimum number of transactions; when not, the deploy is never suspect.
    pub enough_traffic: bool,
    /// The error rate or the p95 got worse beyond the server's thresholds.
    pub suspect: bool,
    /// In words, what got worse ("p95 412 ms → 1.3 s (×3.2)"), or why no verdict ("not enough traffic …");
    /// empty for a deploy that passed.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// When the check was made (ms since the epoch): what the `deploys.suspect` metric counts.
    pub checked_at_ms: i64,
}

/// One side of a deploy check.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DeploySide {
    /// Finished transactions.
    pub count: u64,
    /// Failed / finished (0..1; 0 without transactions).
    pub error_rate: f64,
    /// 95th percentile response time (nearest rank), `None` without transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
}

/// Answer of `GET /api/v1/deploys`, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployList {
    pub deploys: Vec<Deploy>,
}
