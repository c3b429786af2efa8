//! The cube and the errors view: statistics rolled up per minute at ingest and kept far longer than the raw
//! transactions, so a range can be re-sliced by any dimension after retention dropped the transactions.
//!
//! One query shape (`GET /api/v1/cube`) answers the pivot table, its chart over time, the errors page's
//! figures, and cube metrics on boards and alert rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a cube row can be grouped and filtered by. The query-string name is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CubeDim {
    Service,
    Endpoint,
    /// `service.instance.id`, else `host.name` of the reporting resource; empty when neither was sent.
    Instance,
    /// `ok` or `error`.
    Status,
    /// The exception type (`exception.type`) of a failed span; empty for successes.
    ErrorType,
    /// The exception message with numbers, ids, hex and quoted literals masked: a fingerprint that groups
    /// "order 123 not found" with "order 456 not found".
    ErrorMessage,
    HttpMethod,
    /// The HTTP response status code as text (`"500"`); empty when the span has none.
    HttpStatus,
    /// A SQL step's normalized statement. Grouping or filtering by it makes the rows SQL *steps*
    /// (executions of the statement, with their own durations), not transactions.
    Statement,
}

impl CubeDim {
    pub const ALL: [CubeDim; 9] = [
        CubeDim::Service,
        CubeDim::Endpoint,
        CubeDim::Instance,
        CubeDim::Status,
        CubeDim::ErrorType,
        CubeDim::ErrorMessage,
        CubeDim::HttpMethod,
        CubeDim::HttpStatus,
        CubeDim::Statement,
    ];

    /// The query-string name.
    pub fn name(self) -> &'static str {
        match self {
            CubeDim::Service => "service",
            CubeDim::Endpoint => "endpoint",
            CubeDim::Instance => "instance",
            CubeDim::Status => "status",
            CubeDim::ErrorType => "error_type",
            CubeDim::ErrorMessage => "error_message",
            CubeDim::HttpMethod => "http_method",
            CubeDim::HttpStatus => "http_status",
            CubeDim::Statement => "statement",
        }
    }

    pub fn parse(s: &str) -> Option<CubeDim> {
        CubeDim::ALL.into_iter().find(|d| d.name() == s)
    }

    /// A header for the user.
    pub fn label(self) -> &'static str {
        match self {
            CubeDim::Service => "Service",
            CubeDim::Endpoint => "Endpoint",
            CubeDim::Instance => "Instance",
            CubeDim::Status => "Status",
            CubeDim::ErrorType => "Error type",
            CubeDim::ErrorMessage => "Error message",
            CubeDim::HttpMethod => "HTTP method",
            CubeDim::HttpStatus => "HTTP status",
            CubeDim::Statement => "SQL statement",
        }
    }
}

/// What a cube row measures; every answer carries all of them, the page shows the chosen ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CubeMeasure {
    Count,
    Errors,
    ErrorRate,
    /// Per second over the queried range.
    Rate,
    SumMs,
    AvgMs,
    P50,
    P95,
    P99,
}

impl CubeMeasure {
    pub const ALL: [CubeMeasure; 9] = [
        CubeMeasure::Count,
        CubeMeasure::Errors,
        CubeMeasure::ErrorRate,
        CubeMeasure::Rate,
        CubeMeasure::SumMs,
        CubeMeasure::AvgMs,
        CubeMeasure::P50,
        CubeMeasure::P95,
        CubeMeasure::P99,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CubeMeasure::Count => "count",
            CubeMeasure::Errors => "errors",
            CubeMeasure::ErrorRate => "error_rate",
            CubeMeasure::Rate => "rate",
            CubeMeasure::SumMs => "sum_ms",
            CubeMeasure::AvgMs => "avg_ms",
            CubeMeasure::P50 => "p50",
            CubeMeasure::P95 => "p95",
            CubeMeasure::P99 => "p99",
        }
    }

    pub fn parse(s: &str) -> Option<CubeMeasure> {
        CubeMeasure::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CubeMeasure::Count => "Count",
            CubeMeasure::Errors => "Errors",
            CubeMeasure::ErrorRate => "Error rate",
            CubeMeasure::Rate => "Per second",
            CubeMeasure::SumMs => "Total time (ms)",
            CubeMeasure::AvgMs => "Avg (ms)",
            CubeMeasure::P50 => "p50 (ms)",
            CubeMeasure::P95 => "p95 (ms)",
            CubeMeasure::P99 => "p99 (ms)",
        }
    }

    /// The value of this measure in `m`.
    pub fn of(self, m: &CubeMeasures) -> Option<f64> {
        match self {
            CubeMeasure::Count => Some(m.count as f64),
            CubeMeasure::Errors => Some(m.errors as f64),
            CubeMeasure::ErrorRate => m.error_rate,
            CubeMeasure::Rate => Some(m.rate),
            CubeMeasure::SumMs => Some(m.sum_ms),
            CubeMeasure::AvgMs => m.avg_ms,
            CubeMeasure::P50 => m.p50,
            CubeMeasure::P95 => m.p95,
            CubeMeasure::P99 => m.p99,
        }
    }
}

/// The query string of `GET /api/v1/cube`.
///
/// `from`, `to`: the range `[from, to)` in epoch ms (`from < to`, at most the cube's retention).
/// `group_by`: comma-separated [`CubeDim`] names (none: one row for everything; at most 4).
/// `filter`: `dim:value` pairs separated by `,` (value may be empty: "has none"), like the metric queries.
/// `sort`: a [`CubeMeasure`] name (default `count`), `desc` (default `true`).
/// `limit`: top N rows kept (default 50, at most 1000); the rest are merged into `other`.
/// `step_ms`: when set, each kept row also gets a series over time with this step (rounded up to a tier).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CubeParams {
    pub from: i64,
    pub to: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ms: Option<i64>,
}

/// Every measure of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CubeMeasures {
    pub count: u64,
    pub errors: u64,
    /// `errors / count`; `None` when `count == 0`.
    pub error_rate: Option<f64>,
    /// `count` per second of the queried range.
    pub rate: f64,
    pub sum_ms: f64,
    pub avg_ms: Option<f64>,
    /// Percentiles merged from the rows' duration sketches: within [`SKETCH_RELATIVE_ERROR`] of the exact
    /// nearest-rank value; `None` when `count == 0`.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// End time of the first and last transaction counted (to the minute).
    pub first_seen_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
}

/// The documented bound of the cube's percentiles: relative to the exact value.
pub const SKETCH_RELATIVE_ERROR: f64 = 0.01;

/// One row of the pivot table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CubeRow {
    /// The group's value for each `group_by` dimension, in the asked order.
    pub key: Vec<String>,
    pub measures: CubeMeasures,
    /// Per step (aligned with [`CubeAnswer::timestamps`]) when `step_ms` was asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<CubeMeasures>,
}

/// Answer of `GET /api/v1/cube`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CubeAnswer {
    /// The range answered: the asked one aligned out to whole minutes.
    pub from: i64,
    pub to: i64,
    pub group_by: Vec<CubeDim>,
    /// The kept rows, sorted as asked.
    pub rows: Vec<CubeRow>,
    /// Everything beyond `limit`, merged (key is `["other"]` padded to the group-by width); `None` when
    /// nothing was cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<CubeRow>,
    /// All groups together.
    pub total: CubeMeasures,
    /// Number of groups before `limit` kept the top ones.
    pub groups: usize,
    /// Set when a limit on the work was reached (too many groups to rank): the answer is partial, and says
    /// so in words for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
    /// Step of the series, and the start of each step.
    #[serde(default)]
    pub step_ms: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamps: Vec<i64>,
    /// The oldest end time for which raw transactions are still kept: figures before it come from the
    /// rollup alone (no drill-down into transactions). `None` when no raw transaction is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_since_ms: Option<i64>,
    /// CPU and memory over the range of the kept rows' instances, where known: when grouped by
    /// [`CubeDim::Instance`] and the instance is a process on the machine Sightline's host collector samples
    /// (its resource named this `host.name` and a `process.pid`, and the process was among the busiest kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<InstanceUsage>,
}

/// The resources one instance (process) used over a cube query's range, from the host collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceUsage {
    /// The instance, as in the rows' keys.
    pub instance: String,
    pub host: String,
    pub pid: u32,
    /// Mean over the samples in the range (100 = one core).
    pub cpu_percent: f64,
    /// Mean resident memory over the samples in the range.
    pub rss_bytes: u64,
    /// Samples the means are over.
    pub samples: usize,
}

/// The query string of `GET /api/v1/errors`: `from`, `to` as for the cube; optional `service`, `endpoint`,
/// `error_type` filters; `sort` one of `errors` (default), `error_rate`, `last_seen`, `first_seen`,
/// `endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorsParams {
    pub from: i64,
    pub to: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

/// One kind of failure on an endpoint: an exception type and message fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    /// Empty when the span carried no exception type.
    pub error_type: String,
    /// The masked message (see [`CubeDim::ErrorMessage`]).
    pub message: String,
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// First seen after the service's latest deploy (`service.version` change): a new kind of failure.
    pub new_since_deploy: bool,
}

/// The errors of one endpoint over the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointErrors {
    pub service: String,
    pub endpoint: String,
    pub transactions: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Errors per step (aligned with [`ErrorsAnswer::timestamps`]).
    pub sparkline: Vec<u64>,
    /// Top failure kinds, most frequent first (at most 5).
    pub groups: Vec<ErrorGroup>,
    /// Some group is new since the service's latest deploy.
    pub new_since_deploy: bool,
    /// The version the service runs since its latest deploy, when a deploy is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_version: Option<String>,
}

/// Answer of `GET /api/v1/errors`: the endpoints with at least one error in the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorsAnswer {
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    pub timestamps: Vec<i64>,
    pub endpoints: Vec<EndpointErrors>,
    /// As in [`CubeAnswer::raw_since_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_since_ms: Option<i64>,
}

/// Parses `group_by=endpoint,status` into dimensions, naming the unknown one.
pub fn parse_dims(s: &str) -> Result<Vec<CubeDim>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| CubeDim::parse(p).ok_or_else(|| format!("unknown dimension {p:?} (known: {})", dim_names())))
        .collect()
}

/// Parses `filter=service:checkout,status:error` (each pair split at its first `:`).
pub fn parse_cube_filter(s: &str) -> Result<BTreeMap<CubeDim, String>, String> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(':').ok_or_else(|| format!("filter {pair:?} is not dimension:value"))?;
        let d = CubeDim::parse(k.trim())
            .ok_or_else(|| format!("unknown dimension {:?} in filter (known: {})", k.trim(), dim_names()))?;
        if out.insert(d, v.trim().to_string()).is_some() {
            return Err(format!("filter names {:?} twice", d.name()));
        }
    }
    Ok(out)
}

fn dim_names() -> String {
    CubeDim::ALL.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknowns_are_named() {
        for d in CubeDim::ALL {
            assert_eq!(CubeDim::parse(d.name()), Some(d));
        }
        for m in CubeMeasure::ALL {
            assert_eq!(CubeMeasure::parse(m.name()), Some(m));
        }
        assert_eq!(parse_dims("endpoint, status").unwrap(), vec![CubeDim::Endpoint, CubeDim::Status]);
        assert!(parse_dims("endpoint,colour").unwrap_err().contains("\"colour\""));
        let f = parse_cube_filter("service:pay,status:error,http_status:").unwrap();
        assert_eq!(f[&CubeDim::HttpStatus], "");
        assert!(parse_cube_filter("service:a,service:b").unwrap_err().contains("twice"));
    }
}
