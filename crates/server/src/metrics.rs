//! The metric catalogue and series queries behind board widgets.
//!
//! Transaction metrics are aggregated on the server from the trace store's columns
//! ([`crate::store::TraceStore::tx_series`]); the step widens with the range so a series never carries more
//! points than a chart has pixels. Database metrics come from the PostgreSQL collectors' sample history
//! ([`db`]), available once an instance is configured; host and process metrics from the host collector's
//! samples ([`host`]), available while it runs.

mod db;
mod host;

use std::collections::BTreeMap;
use std::sync::Arc;

use sightline_model::{MetricCatalog, MetricInfo, MetricQueryResult, MetricSeries};

use crate::api::window::Window;
use crate::blocking;
use crate::collect::host::HostHub;
use crate::collect::postgres::DbHub;
use crate::store::{QueryError, SeriesQuery, TraceStore, TxBucket};

/// Default and largest number of points per series.
pub const DEFAULT_MAX_POINTS: usize = 1000;
pub const MAX_MAX_POINTS: usize = 10_000;
/// Default and largest number of series in one answer (the busiest groups are kept).
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// Steps the server rounds to, so buckets line up across widgets and refreshes.
const NICE_STEPS_MS: &[i64] = &[
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];
const DAY_MS: i64 = 86_400_000;

/// How a transaction metric is computed from a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TxStat {
    Tps,
    Count,
    Errors,
    ErrorRate,
    Avg,
    Quantile(usize),
}

const TX_DIMENSIONS: &[&str] = &["service", "endpoint"];

/// Latest time a window may reach (year 2200): keeps step arithmetic far from overflow.
const MAX_TIME_MS: i64 = 7_258_118_400_000;

/// `(name, unit, description, stat)` of every transaction metric.
const TX_METRICS: &[(&str, &str, &str, TxStat)] = &[
    ("transactions.tps", "1/s", "Finished transactions per second", TxStat::Tps),
    ("transactions.count", "count", "Finished transactions per step", TxStat::Count),
    ("transactions.errors", "count", "Failed transactions per step", TxStat::Errors),
    ("transactions.error_rate", "ratio", "Failed / finished transactions (0..1)", TxStat::ErrorRate),
    ("transactions.response_time.avg", "ms", "Mean response time", TxStat::Avg),
    ("transactions.response_time.p50", "ms", "Median response time", TxStat::Quantile(0)),
    ("transactions.response_time.p95", "ms", "95th percentile response time", TxStat::Quantile(1)),
    ("transactions.response_time.p99", "ms", "99th percentile response time", TxStat::Quantile(2)),
];

/// `(name, unit, description, dimensions, why unavailable)` of metrics whose collectors are not wired in.
const PENDING_METRICS: &[(&str, &str, &str, &[&str], &str)] = &[
    ("transactions.active", "count", "Transactions in flight", &["service", "endpoint"], "in-flight counts are not sampled over time yet; see the APM page's active list"),
];

/// Every metric, queryable or not; database metrics are queryable when `db_instances > 0`, host metrics
/// when the host collector is on.
pub fn catalog(db_instances: usize, host_collector: bool) -> MetricCatalog {
    let mut metrics: Vec<MetricInfo> = TX_METRICS
        .iter()
        .map(|(name, unit, description, _)| MetricInfo {
            name: name.to_string(),
            unit: unit.to_string(),
            description: description.to_string(),
            dimensions: TX_DIMENSIONS.iter().map(|d| d.to_string()).collect(),
            available: true,
            unavailable_reason: None,
        })
        .collect();
    metrics.extend(db::DB_METRICS.iter().map(|m| MetricInfo {
        name: m.name.to_string(),
        unit: m.unit.to_string(),
        description: m.description.to_string(),
        dimensions: m.dimensions.iter().map(|d| d.to_string()).collect(),
        available: db_instances > 0,
        unavailable_reason: (db_instances == 0).then(|| db::NO_INSTANCE.to_string()),
    }));
    metrics.extend(host::HOST_METRICS.iter().map(|m| MetricInfo {
        name: m.name.to_string(),
        unit: m.unit.to_string(),
        description: m.description.to_string(),
        dimensions: m.dimensions.iter().map(|d| d.to_string()).collect(),
        available: host_collector,
        unavailable_reason: (!host_collector).then(|| host::OFF.to_string()),
    }));
    metrics.extend(PENDING_METRICS.iter().map(|(name, unit, description, dims, why)| MetricInfo {
        name: name.to_string(),
        unit: unit.to_string(),
        description: description.to_string(),
        dimensions: dims.iter().map(|d| d.to_string()).collect(),
        available: false,
        unavailable_reason: Some(why.to_string()),
    }));
    MetricCatalog { metrics }
}

/// A series request, as parsed from the query string.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRequest {
    pub metric: String,
    pub window: Window,
    /// Smallest bucket wanted; the server may choose a coarser one.
    pub step_ms: Option<i64>,
    pub max_points: usize,
    /// Dimension → value.
    pub filter: BTreeMap<String, String>,
    pub group_by: Vec<String>,
    pub limit: usize,
}

/// Parses `filter=service:checkout,endpoint:GET /a` (each pair split at its first `:`).
pub fn parse_filter(s: &str) -> Result<BTreeMap<String, String>, QueryError> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| QueryError::Invalid(format!("filter {pair:?} is not dimension:value")))?;
        if out.insert(k.trim().to_string(), v.trim().to_string()).is_some() {
            return Err(QueryError::Invalid(format!("filter names {:?} twice", k.trim())));
        }
    }
    Ok(out)
}

/// Parses `group_by=service,endpoint`.
pub fn parse_group_by(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

/// The bucket width for a window: at least `asked`, a nice step, coarse enough for `max_points` (≥ 2)
/// buckets once the window is widened to whole steps; past the nice steps, whole days.
pub fn choose_step(from: i64, to: i64, asked: Option<i64>, max_points: usize) -> i64 {
    let floor = asked.unwrap_or(1).max(1);
    let m = max_points.max(2) as i64;
    let fits = |step: i64| buckets(from, to, step) <= m;
    NICE_STEPS_MS.iter().copied().find(|&s| s >= floor && fits(s)).unwrap_or_else(|| {
        // A window of `range` cut into steps of at least range / (m - 1) touches at most m buckets.
        let range = to.saturating_sub(from).max(1);
        let least = floor.max(range.saturating_add(m - 2) / (m - 1));
        least.saturating_add(DAY_MS - 1) / DAY_MS * DAY_MS
    })
}

/// The window widened to whole steps: `(from, to)` aligned down and up.
fn aligned(from: i64, to: i64, step: i64) -> (i64, i64) {
    (from.div_euclid(step) * step, to.div_euclid(step) * step + if to.rem_euclid(step) == 0 { 0 } else { step })
}

fn buckets(from: i64, to: i64, step: i64) -> i64 {
    let (f, t) = aligned(from, to, step);
    (t - f) / step
}

/// Answers a series request from the trace store, for `db.*` metrics from the PostgreSQL history, for
/// `host.*` and `process.*` from the host samples. The sample histories are aggregated on the blocking pool
/// (a long window holds many samples); transaction series are aggregated by the store itself, and what is
/// left here (at most `store::columns::MAX_SERIES_CELLS` buckets turned into values) is light.
pub async fn query(
    store: &dyn TraceStore,
    dbs: Arc<DbHub>,
    hosts: Arc<HostHub>,
    r: MetricRequest,
) -> Result<MetricQueryResult, QueryError> {
    if r.window.from() < 0 || r.window.to() > MAX_TIME_MS {
        return Err(QueryError::Invalid(format!("the window must lie within 0..={MAX_TIME_MS} (epoch ms)")));
    }
    if !(2..=MAX_MAX_POINTS).contains(&r.max_points) {
        return Err(QueryError::Invalid(format!("max_points must be 2..={MAX_MAX_POINTS}, not {}", r.max_points)));
    }
    if !(1..=MAX_LIMIT).contains(&r.limit) {
        return Err(QueryError::Invalid(format!("limit must be 1..={MAX_LIMIT}, not {}", r.limit)));
    }
    if let Some(m) = db::find(&r.metric) {
        return blocking::spawn("database metrics", move || db_query(m, &dbs, &r)).await?;
    }
    if let Some(m) = host::find(&r.metric) {
        return blocking::spawn("host metrics", move || host_query(m, &hosts, &r)).await?;
    }
    let Some(&(name, unit, _, stat)) = TX_METRICS.iter().find(|m| m.0 == r.metric) else {
        return Err(match PENDING_METRICS.iter().find(|m| m.0 == r.metric) {
            Some(m) => QueryError::Invalid(format!("metric {:?} is not available: {}", r.metric, m.4)),
            None => QueryError::Invalid(format!("unknown metric {:?}; GET /api/v1/metrics lists them", r.metric)),
        });
    };
    check_dimensions(name, TX_DIMENSIONS, &r)?;
    let step = choose_step(r.window.from(), r.window.to(), r.step_ms, r.max_points);
    let (from, to) = aligned(r.window.from(), r.window.to(), step);
    let q = SeriesQuery {
        from,
        to,
        step_ms: step,
        service: r.filter.get("service").cloned(),
        endpoint: r.filter.get("endpoint").cloned(),
        by_service: r.group_by.iter().any(|g| g == "service"),
        by_endpoint: r.group_by.iter().any(|g| g == "endpoint"),
        quantiles: matches!(stat, TxStat::Quantile(_)),
    };
    let mut groups = store.tx_series(q).await?;
    // Keep the busiest groups, then present them by labels.
    let truncated = groups.len().saturating_sub(r.limit);
    if truncated > 0 {
        groups.sort_by_cached_key(|g| std::cmp::Reverse(g.buckets.iter().map(|b| b.count).sum::<u64>()));
        groups.truncate(r.limit);
        groups.sort_by(|a, b| (&a.service, &a.endpoint).cmp(&(&b.service, &b.endpoint)));
    }
    let step_s = step as f64 / 1000.0;
    let series = groups
        .into_iter()
        .map(|g| {
            let mut labels = BTreeMap::new();
            if let Some(s) = g.service {
                labels.insert("service".to_string(), s);
            }
            if let Some(e) = g.endpoint {
                labels.insert("endpoint".to_string(), e);
            }
            MetricSeries { labels, values: g.buckets.iter().map(|b| value(stat, b, step_s)).collect() }
        })
        .collect();
    Ok(result(name, unit, (from, to, step), series, truncated))
}

/// Refuses a filter or group-by on a dimension the metric does not have, naming the ones it has.
fn check_dimensions(name: &str, dimensions: &[&str], r: &MetricRequest) -> Result<(), QueryError> {
    match r.filter.keys().chain(&r.group_by).find(|d| !dimensions.contains(&d.as_str())) {
        Some(d) => Err(QueryError::Invalid(format!("{name} has no dimension {d:?} (it has {})", dimensions.join(", ")))),
        None => Ok(()),
    }
}

/// The answer's shape, one bucket start per step of the aligned window.
fn result(name: &str, unit: &str, (from, to, step): (i64, i64, i64), series: Vec<MetricSeries>, truncated: usize) -> MetricQueryResult {
    MetricQueryResult {
        metric: name.to_string(),
        unit: unit.to_string(),
        from,
        to,
        step_ms: step,
        timestamps: (0..(to - from) / step).map(|i| from + i * step).collect(),
        series,
        truncated,
    }
}

/// Checks the request's dimensions against a sampled metric's and picks its buckets: never narrower than twice
/// the collector's interval, or every other bucket would hold no sample (a chart of dots).
fn sampled_window(
    name: &str,
    dimensions: &[&str],
    r: &MetricRequest,
    interval: std::time::Duration,
) -> Result<(i64, i64, i64), QueryError> {
    check_dimensions(name, dimensions, r)?;
    let floor = 2 * interval.as_millis() as i64;
    let step = choose_step(r.window.from(), r.window.to(), Some(r.step_ms.unwrap_or(0).max(floor)), r.max_points);
    let (from, to) = aligned(r.window.from(), r.window.to(), step);
    Ok((from, to, step))
}

/// A database metric over the instances the filter leaves (all of them without an `instance` filter).
fn db_query(m: &db::DbMetric, dbs: &DbHub, r: &MetricRequest) -> Result<MetricQueryResult, QueryError> {
    if dbs.instances().is_empty() {
        return Err(QueryError::Invalid(format!("metric {:?} is not available: {}", r.metric, db::NO_INSTANCE)));
    }
    let (from, to, step) = sampled_window(m.name, m.dimensions, r, dbs.interval())?;
    let instances: Vec<_> = dbs
        .instances()
        .iter()
        .filter(|i| r.filter.get("instance").is_none_or(|f| *f == i.id))
        .cloned()
        .collect();
    let key_filter = m.dimensions.get(1).and_then(|d| r.filter.get(*d)).map(String::as_str);
    let by_instance = r.group_by.iter().any(|g| g == "instance");
    let by_key = m.dimensions.get(1).is_some_and(|d| r.group_by.iter().any(|g| g == d));
    let series =
        db::series(m, &instances, |i| i.samples_in(from, to), (from, to, step), key_filter, by_instance, by_key);
    Ok(sampled_result(m.name, m.unit, (from, to, step), series, r.limit))
}

/// A host or process metric of this machine.
fn host_query(m: &host::HostMetric, hosts: &HostHub, r: &MetricRequest) -> Result<MetricQueryResult, QueryError> {
    if !hosts.enabled() {
        return Err(QueryError::Invalid(format!("metric {:?} is not available: {}", r.metric, host::OFF)));
    }
    let (from, to, step) = sampled_window(m.name, m.dimensions, r, hosts.interval())?;
    let series = host::series(m, hosts.host(), &hosts.samples_in(from, to), (from, to, step), &r.filter, &r.group_by);
    Ok(sampled_result(m.name, m.unit, (from, to, step), series, r.limit))
}

/// The answer for a metric from sample history: the `limit` series with the largest sum are kept.
fn sampled_result(
    name: &str,
    unit: &str,
    (from, to, step): (i64, i64, i64),
    mut series: Vec<MetricSeries>,
    limit: usize,
) -> MetricQueryResult {
    let truncated = series.len().saturating_sub(limit);
    if truncated > 0 {
        let weight = |s: &MetricSeries| s.values.iter().flatten().sum::<f64>();
        series.sort_by(|a, b| weight(b).total_cmp(&weight(a)));
        series.truncate(limit);
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    result(name, unit, (from, to, step), series, truncated)
}

fn value(stat: TxStat, b: &TxBucket, step_s: f64) -> Option<f64> {
    match stat {
        TxStat::Tps => Some(b.count as f64 / step_s),
        TxStat::Count => Some(b.count as f64),
        TxStat::Errors => Some(b.errors as f64),
        TxStat::ErrorRate => (b.count > 0).then(|| b.errors as f64 / b.count as f64),
        TxStat::Avg => (b.count > 0).then(|| b.sum_ms / b.count as f64),
        TxStat::Quantile(i) => b.quantiles.map(|q| q[i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_adapt_to_the_range() {
        let h = 3_600_000;
        // 1 h at ≤ 1000 points: 5 s steps (720 points); asking 1 m gives 1 m.
        assert_eq!(choose_step(0, h, None, 1000), 5_000);
        assert_eq!(choose_step(0, h, Some(60_000), 1000), 60_000);
        // 6 h: 30 s (720); 7 days: 15 min (672); a year: 12 h (730), or whole days past the nice steps.
        assert_eq!(choose_step(0, 6 * h, None, 1000), 30_000);
        assert_eq!(choose_step(0, 7 * 24 * h, None, 1000), 900_000);
        assert_eq!(choose_step(0, 365 * 24 * h, None, 1000), 43_200_000);
        assert_eq!(choose_step(0, 365 * 24 * h, None, 100), 4 * DAY_MS);
        // Unaligned windows count the partial buckets at both ends.
        for (from, to, max) in [
            (1_234, 3_601_234, 1000),
            (7, 86_400_007, 50),
            (999, 1_001, 2),
            (0, 100 * DAY_MS, 3),
            (DAY_MS - 1, DAY_MS + 1, 2),
            (5, 7_000_000_000_000, 2),
            (123_456_789, 123_456_789 + 400 * DAY_MS, 7),
        ] {
            let s = choose_step(from, to, None, max);
            assert!(buckets(from, to, s) <= max as i64, "{from}..{to} at {s}");
        }
    }

    #[test]
    fn filters_parse_and_catalogue_is_complete() {
        let f = parse_filter("service:checkout, endpoint:GET /a:b").unwrap();
        assert_eq!(f.get("endpoint").map(String::as_str), Some("GET /a:b"));
        assert!(parse_filter("service").is_err());
        assert!(parse_filter("service:a,service:b").is_err());
        assert_eq!(parse_group_by("service, endpoint,"), ["service", "endpoint"]);
        let c = catalog(0, false);
        let names: Vec<&str> = c.metrics.iter().map(|m| m.name.as_str()).collect();
        for t in crate::boards::templates::all() {
            for w in t.widgets.iter().filter_map(|w| w.query.as_ref()) {
                assert!(names.contains(&w.metric.as_str()), "template {} uses {} which is not in the catalogue", t.title, w.metric);
            }
        }
    }
}
