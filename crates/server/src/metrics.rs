//! The metric catalogue and series queries behind board widgets.
//!
//! Transaction metrics are aggregated on the server from the trace store's columns
//! ([`crate::store::TraceStore::tx_series`]); the step widens with the range so a series never carries more
//! points than a chart has pixels. Database metrics come from the PostgreSQL collectors' sample history
//! ([`db`]), available once an instance is configured; host and process metrics from the host collector's
//! samples ([`host`]), available while it runs. Cube metrics (`cube.*`) come from the cube's rollups
//! ([`crate::store::TraceStore::cube`]): any slice by any cube dimension ("p95 of `POST /api/pay` on
//! instance X", "errors by endpoint"), for as long as the cube keeps it, long after the transactions.
//! `deploys.suspect` counts the deploy check's suspect verdicts ([`deploys`]).

mod db;
mod deploys;
mod host;

use std::collections::BTreeMap;
use std::sync::Arc;

use sightline_model::{CubeDim, CubeMeasure, CubeMeasures, MetricCatalog, MetricInfo, MetricQueryResult, MetricSeries};

use crate::api::window::Window;
use crate::blocking;
use crate::collect::host::HostHub;
use crate::collect::postgres::DbHub;
use crate::cube::CubeQuery;
use crate::deploys::DeployLog;
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

/// `(name, unit, description, measure)` of every cube metric; their dimensions are every [`CubeDim`].
/// Filtering or grouping by `statement` makes them measure SQL steps instead of transactions.
const CUBE_METRICS: &[(&str, &str, &str, CubeMeasure)] = &[
    ("cube.count", "count", "Transactions per step, from the cube (any dimension, kept long after the transactions)", CubeMeasure::Count),
    ("cube.rate", "1/s", "Transactions per second, from the cube", CubeMeasure::Rate),
    ("cube.errors", "count", "Failed transactions per step, from the cube; grouped by endpoint: errors by endpoint", CubeMeasure::Errors),
    ("cube.error_rate", "ratio", "Failed / all transactions (0..1), from the cube", CubeMeasure::ErrorRate),
    ("cube.response_time.avg", "ms", "Mean response time, from the cube", CubeMeasure::AvgMs),
    ("cube.response_time.p50", "ms", "Median response time, from the cube's duration sketches", CubeMeasure::P50),
    ("cube.response_time.p95", "ms", "95th percentile response time, from the cube's duration sketches", CubeMeasure::P95),
    ("cube.response_time.p99", "ms", "99th percentile response time, from the cube's duration sketches", CubeMeasure::P99),
];

/// Finest step of a cube metric: the cube rolls up per minute.
const CUBE_MIN_STEP_MS: i64 = 60_000;

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
    metrics.extend(CUBE_METRICS.iter().map(|(name, unit, description, _)| MetricInfo {
        name: name.to_string(),
        unit: unit.to_string(),
        description: description.to_string(),
        dimensions: CubeDim::ALL.iter().map(|d| d.name().to_string()).collect(),
        available: true,
        unavailable_reason: None,
    }));
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
    metrics.push(deploys::info());
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

/// A transaction series' labels: the group's service and endpoint, where it is grouped by them.
fn tx_labels(service: Option<String>, endpoint: Option<String>) -> BTreeMap<String, String> {
    let service = service.map(|s| ("service".to_string(), s));
    let endpoint = endpoint.map(|e| ("endpoint".to_string(), e));
    service.into_iter().chain(endpoint).collect()
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

/// Answers a series request from the trace store, `cube.*` metrics from the cube (which keeps
/// `cube_retention_ms`), for `db.*` metrics from the PostgreSQL history, for `host.*` and `process.*` from
/// the host samples, `deploys.suspect` from the deploy log. The sample histories are aggregated on the blocking pool
/// (a long window holds many samples); transaction series are aggregated by the store itself, and what is
/// left here (at most `store::columns::MAX_SERIES_CELLS` buckets turned into values) is light.
pub async fn query(
    store: &dyn TraceStore,
    dbs: Arc<DbHub>,
    hosts: Arc<HostHub>,
    deploy_log: &DeployLog,
    r: MetricRequest,
    cube_retention_ms: i64,
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
    if r.metric == deploys::NAME {
        return deploys::query(deploy_log, &r);
    }
    if let Some(&(name, unit, _, measure)) = CUBE_METRICS.iter().find(|m| m.0 == r.metric) {
        let q = cube_query(name, &r, crate::store::now_ms(), cube_retention_ms)?;
        let step = q.step_ms.unwrap_or(CUBE_MIN_STEP_MS);
        let group_by = q.group_by.clone();
        let answer = store.cube(q).await?;
        return Ok(cube_result(name, unit, measure, &group_by, answer, step));
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
            MetricSeries { labels: tx_labels(g.service, g.endpoint), values: g.buckets.iter().map(|b| value(stat, b, step_s)).collect() }
        })
        .collect();
    Ok(result(name, unit, (from, to, step), series, truncated))
}

/// What [`latest`] reads: `metric` per `group_by` over the `window_ms` before `now`.
#[derive(Debug, Clone, Copy)]
pub struct Latest<'a> {
    pub metric: &'a str,
    pub filter: &'a BTreeMap<String, String>,
    pub group_by: &'a [String],
    pub window_ms: i64,
    pub now: i64,
}

/// One value per group of `metric` "now", for alert rules: `(group labels, value)`.
///
/// Transaction metrics (`transactions.*`) are computed over exactly `[now - window, now)` (the store takes
/// any window that is a whole number of steps, so one step of `window` is a sliding window). Every other
/// metric goes through [`query`] with a step of at least `window` (the catalogue's aligned, "nice" steps;
/// at least a minute for `cube.*`, twice the collector's interval for `db.*`, `host.*`, `process.*`) and
/// answers the value of the **last complete bucket** (one that ended at or before `now`): a bucket still
/// filling would make counts dip and percentiles jump at every step boundary. A group without a value
/// there is answered with `None` (no data).
pub async fn latest(
    store: &dyn TraceStore,
    dbs: Arc<DbHub>,
    hosts: Arc<HostHub>,
    deploy_log: &DeployLog,
    ask: &Latest<'_>,
    cube_retention_ms: i64,
) -> Result<Vec<(BTreeMap<String, String>, Option<f64>)>, QueryError> {
    let Latest { metric, filter, group_by, window_ms, now } = *ask;
    let window_ms = window_ms.max(1);
    if let Some(&(name, _, _, stat)) = TX_METRICS.iter().find(|m| m.0 == metric) {
        let r = MetricRequest {
            metric: metric.to_string(),
            window: Window::new(now - window_ms, now).map_err(|e| QueryError::Invalid(e.to_string()))?,
            step_ms: Some(window_ms),
            max_points: DEFAULT_MAX_POINTS,
            filter: filter.clone(),
            group_by: group_by.to_vec(),
            limit: MAX_LIMIT,
        };
        check_dimensions(name, TX_DIMENSIONS, &r)?;
        let q = SeriesQuery {
            from: now - window_ms,
            to: now,
            step_ms: window_ms,
            service: filter.get("service").cloned(),
            endpoint: filter.get("endpoint").cloned(),
            by_service: group_by.iter().any(|g| g == "service"),
            by_endpoint: group_by.iter().any(|g| g == "endpoint"),
            quantiles: matches!(stat, TxStat::Quantile(_)),
        };
        let step_s = window_ms as f64 / 1000.0;
        let groups = store.tx_series(q).await?;
        let grouped = !group_by.is_empty();
        let mut out: Vec<_> = groups
            .into_iter()
            .map(|g| {
                (tx_labels(g.service, g.endpoint), g.buckets.first().and_then(|b| value(stat, b, step_s)))
            })
            .collect();
        if !grouped && out.is_empty() {
            // Ungrouped and nothing at all: the one group, with what an empty bucket gives (0 for counts).
            out.push((BTreeMap::new(), value(stat, &TxBucket::default(), step_s)));
        }
        return Ok(out);
    }
    let span = 4 * window_ms.max(CUBE_MIN_STEP_MS);
    let r = MetricRequest {
        metric: metric.to_string(),
        window: Window::new(now - span, now).map_err(|e| QueryError::Invalid(e.to_string()))?,
        step_ms: Some(window_ms),
        max_points: DEFAULT_MAX_POINTS,
        filter: filter.clone(),
        group_by: group_by.to_vec(),
        limit: MAX_LIMIT,
    };
    let answer = query(store, dbs, hosts, deploy_log, r, cube_retention_ms).await?;
    let last = answer.timestamps.iter().rposition(|t| t + answer.step_ms <= now);
    Ok(answer
        .series
        .into_iter()
        .map(|s| (s.labels, last.and_then(|i| s.values.get(i).copied().flatten())))
        .collect())
}

/// The cube query of a cube metric: whole-minute steps (at least the asked one, at most `max_points` of
/// them), starting at the first whole step the cube's retention still holds; the busiest `limit` groups.
fn cube_query(name: &str, r: &MetricRequest, now_ms: i64, retention_ms: i64) -> Result<CubeQuery, QueryError> {
    let dims: Vec<&str> = CubeDim::ALL.iter().map(|d| d.name()).collect();
    check_dimensions(name, &dims, r)?;
    let oldest = now_ms - retention_ms;
    let from = r.window.from().max(oldest);
    if from >= r.window.to() {
        return Err(QueryError::Invalid(format!("the window ends before the cube's retention (from {oldest} on)")));
    }
    let step = choose_step(from, r.window.to(), Some(r.step_ms.unwrap_or(0).max(CUBE_MIN_STEP_MS)), r.max_points);
    let (mut from, to) = aligned(from, r.window.to(), step);
    if from < oldest {
        from += step;
    }
    let q = CubeQuery {
        from,
        to: to.max(from + step),
        group_by: r.group_by.iter().filter_map(|g| CubeDim::parse(g)).collect(),
        filter: r.filter.iter().filter_map(|(k, v)| Some((CubeDim::parse(k)?, v.clone()))).collect(),
        sort: CubeMeasure::Count,
        desc: true,
        limit: r.limit,
        step_ms: Some(step),
    };
    let problems = crate::api::cube::check(&q, now_ms, retention_ms);
    match problems.is_empty() {
        true => Ok(q),
        false => Err(QueryError::Invalid(format!("{name}: {}", problems.join("; ")))),
    }
}

/// A cube answer as metric series: one per kept row, labelled by the group-by dimensions; ungrouped, always
/// one series (empty steps where nothing was counted).
fn cube_result(
    name: &str,
    unit: &str,
    measure: CubeMeasure,
    group_by: &[CubeDim],
    answer: sightline_model::CubeAnswer,
    asked_step: i64,
) -> MetricQueryResult {
    let step = if answer.step_ms > 0 { answer.step_ms } else { asked_step };
    let steps = answer.timestamps.len();
    let value = |m: &CubeMeasures| match measure {
        // Per second of the step, whatever the cube's notion of the range.
        CubeMeasure::Rate => Some(m.count as f64 * 1000.0 / step as f64),
        other => other.of(m),
    };
    let mut series: Vec<MetricSeries> = answer
        .rows
        .iter()
        .map(|row| MetricSeries {
            labels: group_by.iter().map(|d| d.name().to_string()).zip(row.key.iter().cloned()).collect(),
            values: (0..steps).map(|i| value(row.series.get(i).unwrap_or(&CubeMeasures::default()))).collect(),
        })
        .collect();
    if group_by.is_empty() && series.is_empty() {
        series.push(MetricSeries { labels: BTreeMap::new(), values: vec![value(&CubeMeasures::default()); steps] });
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    MetricQueryResult {
        metric: name.to_string(),
        unit: unit.to_string(),
        from: answer.from,
        to: answer.to,
        step_ms: step,
        timestamps: answer.timestamps,
        series,
        truncated: answer.groups.saturating_sub(answer.rows.len()),
    }
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

    fn cube_request(metric: &str, from: i64, to: i64, group_by: &str, filter: &str) -> MetricRequest {
        MetricRequest {
            metric: metric.into(),
            window: Window::new(from, to).unwrap(),
            step_ms: None,
            max_points: DEFAULT_MAX_POINTS,
            filter: parse_filter(filter).unwrap(),
            group_by: parse_group_by(group_by),
            limit: DEFAULT_LIMIT,
        }
    }

    #[test]
    fn cube_metrics_ask_whole_minutes_within_the_retention() {
        let now = 1_800_000_000_000;
        let h = 3_600_000;
        let r = cube_request("cube.response_time.p95", now - h, now, "endpoint", "instance:pay-1,http_method:POST");
        let q = cube_query("cube.response_time.p95", &r, now, 30 * 24 * h).unwrap();
        assert_eq!(q.step_ms, Some(60_000), "an hour at ≤ 1000 points: the cube's minutes");
        assert_eq!((q.from % 60_000, q.to % 60_000), (0, 0));
        assert_eq!(q.group_by, [CubeDim::Endpoint]);
        assert_eq!((q.filter[&CubeDim::Instance].as_str(), q.filter[&CubeDim::HttpMethod].as_str()), ("pay-1", "POST"));
        // A window reaching before the retention starts at the first whole step inside it.
        let r = cube_request("cube.errors", now - 40 * 24 * h, now, "", "");
        let q = cube_query("cube.errors", &r, now, 30 * 24 * h).unwrap();
        assert!(q.from >= now - 30 * 24 * h && q.from % q.step_ms.unwrap() == 0, "{q:?}");
        let old = cube_request("cube.errors", now - 40 * 24 * h, now - 35 * 24 * h, "", "");
        assert!(cube_query("cube.errors", &old, now, 30 * 24 * h).unwrap_err().to_string().contains("retention"));
        // Unknown dimensions, too wide a group-by, too many cells: refused with the reason.
        let bad = cube_request("cube.count", now - h, now, "colour", "");
        assert!(cube_query("cube.count", &bad, now, 30 * 24 * h).unwrap_err().to_string().contains("no dimension \"colour\""));
        let wide = cube_request("cube.count", now - h, now, "service,endpoint,instance,status,http_status", "");
        assert!(cube_query("cube.count", &wide, now, 30 * 24 * h).unwrap_err().to_string().contains("at most 4"));
        let many = MetricRequest { limit: 1000, ..cube_request("cube.count", now - 24 * h, now, "endpoint", "") };
        assert!(cube_query("cube.count", &many, now, 30 * 24 * h).unwrap_err().to_string().contains("cells"));
    }

    #[test]
    fn cube_answers_become_labelled_series() {
        let m = |count: u64, p95: Option<f64>| CubeMeasures { count, p95, ..Default::default() };
        let answer = sightline_model::CubeAnswer {
            from: 0,
            to: 120_000,
            group_by: vec![CubeDim::Endpoint, CubeDim::HttpStatus],
            rows: vec![sightline_model::CubeRow { key: vec!["POST /pay".into(), "500".into()], measures: m(3, Some(9.0)), series: vec![m(1, Some(5.0)), m(2, Some(9.0))] }],
            groups: 3,
            step_ms: 60_000,
            timestamps: vec![0, 60_000],
            ..Default::default()
        };
        let group_by = [CubeDim::Endpoint, CubeDim::HttpStatus];
        let r = cube_result("cube.response_time.p95", "ms", CubeMeasure::P95, &group_by, answer.clone(), 60_000);
        assert_eq!(r.series.len(), 1);
        assert_eq!(r.series[0].labels["endpoint"], "POST /pay");
        assert_eq!(r.series[0].labels["http_status"], "500");
        assert_eq!(r.series[0].values, [Some(5.0), Some(9.0)]);
        assert_eq!((r.truncated, r.timestamps.len()), (2, 2));
        let rate = cube_result("cube.rate", "1/s", CubeMeasure::Rate, &group_by, answer.clone(), 60_000);
        assert_eq!(rate.series[0].values, [Some(1.0 / 60.0), Some(2.0 / 60.0)]);
        // Ungrouped and nothing counted: one series all the same.
        let empty = sightline_model::CubeAnswer { rows: vec![], group_by: vec![], groups: 0, ..answer };
        let r = cube_result("cube.count", "count", CubeMeasure::Count, &[], empty.clone(), 60_000);
        assert_eq!((r.series.len(), r.series[0].values.clone()), (1, vec![Some(0.0), Some(0.0)]));
        assert_eq!(cube_result("cube.response_time.p99", "ms", CubeMeasure::P99, &[], empty, 60_000).series[0].values, [None, None]);
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
        let errors = c.metrics.iter().find(|m| m.name == "cube.errors").expect("cube.errors is listed");
        assert!(errors.available && errors.dimensions.iter().any(|d| d == "endpoint") && errors.dimensions.len() == CubeDim::ALL.len());
        for t in crate::boards::templates::all() {
            for w in t.widgets.iter().filter_map(|w| w.query.as_ref()) {
                assert!(names.contains(&w.metric.as_str()), "template {} uses {} which is not in the catalogue", t.title, w.metric);
            }
        }
    }
}
