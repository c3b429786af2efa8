//! The metric catalogue and query results that board widgets draw: one shape for every metric, whatever
//! collected it, so a widget needs no per-source code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One metric a widget can ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// What `GET /api/v1/metrics/query?metric=` takes, e.g. `transactions.response_time.p95`.
    pub name: String,
    /// `1/s`, `ms`, `count`, `ratio` (0..=1), `bytes`, `percent`: how the app formats values.
    pub unit: String,
    pub description: String,
    /// What `filter` and `group_by` accept, e.g. `["service", "endpoint"]`.
    pub dimensions: Vec<String>,
    /// `false` while nothing collects it yet: listed so the catalogue is complete, but not queryable.
    pub available: bool,
    /// Why it is unavailable, in words for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
}

/// Answer of `GET /api/v1/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricCatalog {
    pub metrics: Vec<MetricInfo>,
}

/// One line of a chart: a group's values, aligned with [`MetricQueryResult::timestamps`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    /// The `group_by` dimensions' values for this series; empty when not grouped.
    pub labels: BTreeMap<String, String>,
    /// One value per bucket; `null` where the metric is undefined (a percentile of no transactions).
    pub values: Vec<Option<f64>>,
}

/// Answer of `GET /api/v1/metrics/query`; the default is an empty answer (nothing to draw yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricQueryResult {
    pub metric: String,
    pub unit: String,
    /// The window actually aggregated: the asked one widened to whole steps.
    pub from: i64,
    pub to: i64,
    /// Bucket width chosen by the server (at least the asked `step`, coarse enough for `max_points`).
    pub step_ms: i64,
    /// Start of each bucket.
    pub timestamps: Vec<i64>,
    /// Sorted by labels; at most the asked `limit` groups (the busiest), see `truncated`.
    pub series: Vec<MetricSeries>,
    /// Groups left out because of `limit`.
    #[serde(default)]
    pub truncated: usize,
}
