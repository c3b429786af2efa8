//! Deploys: when a service started reporting a new version. Charts mark them, so a regression can be
//! read against the release that brought it.

use serde::{Deserialize, Serialize};

/// A service seen at a new version (`service.version` of the OpenTelemetry resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub service: String,
    pub version: String,
    /// Start of the earliest span seen at this version (ms since the epoch).
    pub at_ms: i64,
    /// The version seen before it; `None` for the first version Sightline saw (not a deploy it witnessed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Answer of `GET /api/v1/deploys`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployList {
    pub deploys: Vec<Deploy>,
}
