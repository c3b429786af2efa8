//! The errors view (`GET /api/v1/errors`): per service and endpoint with at least one failed transaction in
//! the range, its error count and rate, a sparkline, its top kinds of failure (exception type × message
//! fingerprint) and which of them are new since the service's latest deploy.
//!
//! Composed from four cube queries run together, so it answers for any range the cube keeps, long after
//! the raw transactions are gone: the transactions per endpoint, the failures per endpoint over time, the
//! failures per kind, and the first sighting of each kind over the cube's whole retention (a kind is new
//! when that is after the deploy, whatever the asked range).

use std::collections::{BTreeMap, HashMap};

use sightline_model::{CubeAnswer, CubeDim, CubeMeasure, Deploy, EndpointErrors, ErrorGroup, ErrorsAnswer};

use crate::cube::{CubeQuery, MAX_LIMIT};
use crate::deploys::DeployLog;
use crate::store::{QueryError, TraceStore};

const MINUTE_MS: i64 = 60_000;
/// About this many sparkline points over the range (fewer when the cube rounds the step up).
pub const SPARK_STEPS: i64 = 60;
/// Kinds of failure listed per endpoint.
pub const TOP_GROUPS: usize = 5;

/// How the endpoints are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorsSort {
    /// Most errors first (the default).
    Errors,
    /// Highest error rate first.
    ErrorRate,
    /// Most recent failure first.
    LastSeen,
    /// Most recently started failing first.
    FirstSeen,
    /// By service, then endpoint.
    Endpoint,
}

impl ErrorsSort {
    pub const ALL: [ErrorsSort; 5] =
        [ErrorsSort::Errors, ErrorsSort::ErrorRate, ErrorsSort::LastSeen, ErrorsSort::FirstSeen, ErrorsSort::Endpoint];

    pub fn name(self) -> &'static str {
        match self {
            ErrorsSort::Errors => "errors",
            ErrorsSort::ErrorRate => "error_rate",
            ErrorsSort::LastSeen => "last_seen",
            ErrorsSort::FirstSeen => "first_seen",
            ErrorsSort::Endpoint => "endpoint",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorsSort> {
        ErrorsSort::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// A checked errors request (see `sightline_model::ErrorsParams`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorsQuery {
    /// `[from, to)`, `from < to`, within the cube's retention.
    pub from: i64,
    pub to: i64,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub error_type: Option<String>,
    pub sort: ErrorsSort,
}

/// `(service, endpoint)`.
type Endpoint = (String, String);

/// The errors view of `q`. `retention_ms` is the cube's: how far back a kind of failure's first sighting
/// is looked for.
pub async fn errors(
    store: &dyn TraceStore,
    deploys: &DeployLog,
    q: &ErrorsQuery,
    now_ms: i64,
    retention_ms: i64,
) -> Result<ErrorsAnswer, QueryError> {
    let [txs, failing, kinds, history] = queries(q, now_ms, retention_ms);
    let answers = futures::try_join!(store.cube(txs), store.cube(failing), store.cube(kinds), store.cube(history))?;
    Ok(compose(&mut Deploys { log: deploys, latest: HashMap::new() }, q.sort, answers))
}

/// The answers of the four [`queries`] put together.
fn compose(deploys: &mut Deploys<'_>, by: ErrorsSort, (txs, failing, kinds, history): (CubeAnswer, CubeAnswer, CubeAnswer, CubeAnswer)) -> ErrorsAnswer {
    let transactions: HashMap<Endpoint, u64> = txs.rows.iter().map(|r| (endpoint_key(&r.key), r.measures.count)).collect();
    let mut groups = groups_by_endpoint(&kinds, &history, deploys);
    let mut endpoints = Vec::new();
    for r in failing.rows.iter().filter(|r| r.measures.count > 0) {
        let key = endpoint_key(&r.key);
        let deploy = deploys.latest(&key.0);
        let total = transactions.get(&key).copied().unwrap_or(0).max(r.measures.count);
        let g = groups.remove(&key).unwrap_or_default();
        endpoints.push(endpoint_errors(key, r, total, g, deploy, &failing));
    }
    sort(&mut endpoints, by);
    ErrorsAnswer {
        from: failing.from,
        to: failing.to,
        step_ms: failing.step_ms,
        timestamps: failing.timestamps,
        endpoints,
        raw_since_ms: txs.raw_since_ms,
    }
}

/// Every kind of failure of the range, per endpoint, flagged when first seen (over the whole retention,
/// `history`) after its service's latest deploy.
fn groups_by_endpoint(kinds: &CubeAnswer, history: &CubeAnswer, deploys: &mut Deploys<'_>) -> HashMap<Endpoint, Vec<ErrorGroup>> {
    let first_ever: HashMap<(&str, &str, &str), i64> = history
        .rows
        .iter()
        .filter_map(|r| Some(((r.key.first()?.as_str(), r.key.get(1)?.as_str(), r.key.get(2)?.as_str()), r.measures.first_seen_ms?)))
        .collect();
    let mut groups: HashMap<Endpoint, Vec<ErrorGroup>> = HashMap::new();
    for r in kinds.rows.iter().filter(|r| r.measures.count > 0 && r.key.len() == 4) {
        let (service, endpoint, error_type, message) = (&r.key[0], &r.key[1], &r.key[2], &r.key[3]);
        let first = first_ever.get(&(service.as_str(), error_type.as_str(), message.as_str())).copied();
        groups.entry((service.clone(), endpoint.clone())).or_default().push(ErrorGroup {
            error_type: error_type.clone(),
            message: message.clone(),
            count: r.measures.count,
            first_seen_ms: r.measures.first_seen_ms.unwrap_or(kinds.from),
            last_seen_ms: r.measures.last_seen_ms.unwrap_or(kinds.to),
            new_since_deploy: new_since(first, deploys.latest(service).as_ref()),
        });
    }
    groups
}

/// The deploy log, asked once per service.
struct Deploys<'a> {
    log: &'a DeployLog,
    latest: HashMap<String, Option<Deploy>>,
}

impl Deploys<'_> {
    fn latest(&mut self, service: &str) -> Option<Deploy> {
        if let Some(d) = self.latest.get(service) {
            return d.clone();
        }
        let d = latest_deploy(self.log, service);
        self.latest.insert(service.to_string(), d.clone());
        d
    }
}

/// The four cube queries: transactions per endpoint; failures per endpoint with a series; failures per
/// endpoint and kind; failures per service and kind over the whole retention.
fn queries(q: &ErrorsQuery, now_ms: i64, retention_ms: i64) -> [CubeQuery; 4] {
    let mut filter = BTreeMap::new();
    if let Some(s) = &q.service {
        filter.insert(CubeDim::Service, s.clone());
    }
    if let Some(e) = &q.endpoint {
        filter.insert(CubeDim::Endpoint, e.clone());
    }
    let mut failing = filter.clone();
    failing.insert(CubeDim::Status, "error".to_string());
    if let Some(t) = &q.error_type {
        failing.insert(CubeDim::ErrorType, t.clone());
    }
    let mut ever = failing.clone();
    ever.remove(&CubeDim::Endpoint);
    let base = CubeQuery {
        from: q.from,
        to: q.to,
        group_by: vec![CubeDim::Service, CubeDim::Endpoint],
        filter,
        sort: CubeMeasure::Count,
        desc: true,
        limit: MAX_LIMIT,
        step_ms: None,
    };
    let kinds = vec![CubeDim::Service, CubeDim::Endpoint, CubeDim::ErrorType, CubeDim::ErrorMessage];
    let oldest = (now_ms - retention_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
    [
        base.clone(),
        CubeQuery { filter: failing.clone(), step_ms: Some(spark_step(q.from, q.to)), ..base.clone() },
        CubeQuery { filter: failing, group_by: kinds, ..base.clone() },
        CubeQuery {
            from: oldest,
            to: (now_ms.div_euclid(MINUTE_MS) + 1) * MINUTE_MS,
            filter: ever,
            group_by: vec![CubeDim::Service, CubeDim::ErrorType, CubeDim::ErrorMessage],
            ..base
        },
    ]
}

/// A whole number of minutes giving about [`SPARK_STEPS`] steps over `[from, to)`.
pub fn spark_step(from: i64, to: i64) -> i64 {
    let minutes = (to - from).max(1) as f64 / MINUTE_MS as f64;
    ((minutes / SPARK_STEPS as f64).ceil() as i64).max(1) * MINUTE_MS
}

/// The service's latest version change Sightline saw (not its first version: that is no deploy).
fn latest_deploy(deploys: &DeployLog, service: &str) -> Option<Deploy> {
    deploys.list(i64::MIN, i64::MAX, Some(service)).into_iter().rev().find(|d| d.previous.is_some())
}

/// A kind first seen (over the whole retention) in or after the deploy's minute is new: the cube's
/// first-seen times are whole minutes.
fn new_since(first_seen_ms: Option<i64>, deploy: Option<&Deploy>) -> bool {
    match (first_seen_ms, deploy) {
        (Some(first), Some(d)) => first >= d.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS,
        _ => false,
    }
}

/// `(service, endpoint)` of a row grouped by service and endpoint.
fn endpoint_key(key: &[String]) -> Endpoint {
    (key.first().cloned().unwrap_or_default(), key.get(1).cloned().unwrap_or_default())
}

/// One endpoint's entry: `failing` is its row of failures (with the series), `transactions` all it ran.
fn endpoint_errors(
    (service, endpoint): Endpoint,
    failing: &sightline_model::CubeRow,
    transactions: u64,
    mut groups: Vec<ErrorGroup>,
    deploy: Option<Deploy>,
    answer: &CubeAnswer,
) -> EndpointErrors {
    let m = &failing.measures;
    let new_since_deploy = groups.iter().any(|g| g.new_since_deploy);
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.error_type, &a.message).cmp(&(&b.error_type, &b.message))));
    groups.truncate(TOP_GROUPS);
    EndpointErrors {
        service,
        endpoint,
        transactions,
        errors: m.count,
        error_rate: if transactions == 0 { 0.0 } else { m.count as f64 / transactions as f64 },
        first_seen_ms: m.first_seen_ms.unwrap_or(answer.from),
        last_seen_ms: m.last_seen_ms.unwrap_or(answer.to),
        sparkline: match failing.series.is_empty() {
            true => vec![0; answer.timestamps.len()],
            false => failing.series.iter().map(|s| s.count).collect(),
        },
        groups,
        new_since_deploy,
        deployed_version: deploy.map(|d| d.version),
    }
}

fn sort(endpoints: &mut [EndpointErrors], by: ErrorsSort) {
    let name = |e: &EndpointErrors| (e.service.clone(), e.endpoint.clone());
    match by {
        ErrorsSort::Errors => endpoints.sort_by(|a, b| b.errors.cmp(&a.errors).then_with(|| name(a).cmp(&name(b)))),
        ErrorsSort::ErrorRate => {
            endpoints.sort_by(|a, b| b.error_rate.total_cmp(&a.error_rate).then_with(|| b.errors.cmp(&a.errors)).then_with(|| name(a).cmp(&name(b))))
        }
        ErrorsSort::LastSeen => endpoints.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then_with(|| name(a).cmp(&name(b)))),
        ErrorsSort::FirstSeen => endpoints.sort_by(|a, b| b.first_seen_ms.cmp(&a.first_seen_ms).then_with(|| name(a).cmp(&name(b)))),
        ErrorsSort::Endpoint => endpoints.sort_by_key(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_steps_are_whole_minutes_about_sixty() {
        assert_eq!(spark_step(0, 15 * MINUTE_MS), MINUTE_MS);
        assert_eq!(spark_step(0, 60 * MINUTE_MS), MINUTE_MS);
        assert_eq!(spark_step(0, 61 * MINUTE_MS), 2 * MINUTE_MS);
        assert_eq!(spark_step(0, 24 * 60 * MINUTE_MS), 24 * MINUTE_MS);
        assert_eq!(spark_step(5, 6), MINUTE_MS);
    }

    #[test]
    fn new_means_first_seen_from_the_deploy_minute_on() {
        let d = Deploy { service: "s".into(), version: "2".into(), at_ms: 10 * MINUTE_MS + 30_000, previous: Some("1".into()) };
        assert!(new_since(Some(10 * MINUTE_MS), Some(&d)));
        assert!(new_since(Some(11 * MINUTE_MS), Some(&d)));
        assert!(!new_since(Some(9 * MINUTE_MS), Some(&d)));
        assert!(!new_since(None, Some(&d)));
        assert!(!new_since(Some(11 * MINUTE_MS), None), "no deploy known: nothing is new since one");
    }

    #[test]
    fn the_first_version_is_not_a_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let log = DeployLog::open(dir.path()).unwrap();
        log.note("pay", "1.0", 1_000);
        assert_eq!(latest_deploy(&log, "pay"), None);
        log.note("pay", "1.1", 5_000);
        log.note("pay", "1.2", 9_000);
        log.note("shop", "7", 20_000);
        assert_eq!(latest_deploy(&log, "pay").map(|d| (d.version, d.at_ms)), Some(("1.2".into(), 9_000)));
        assert_eq!(latest_deploy(&log, "shop"), None);
    }
}
