//! The errors view (`GET /api/v1/errors`): per service and endpoint with at least one failed transaction in
//! the range, its error count and rate, a sparkline, its top kinds of failure (exception type × message
//! fingerprint) and which of them are new since the service's latest deploy.
//!
//! Composed from cube queries, so it answers for any range the cube keeps, long after the raw transactions
//! are gone: three run together (transactions per endpoint, failures per endpoint over time, failures per
//! endpoint and kind), then one per service with a deploy: the kinds of failure it had from the start of
//! the cube's retention up to the deploy. A kind of the range not among them was first seen after the
//! deploy: new, whatever the asked range. Asking "what was there before" rather than "when was each kind
//! first seen" keeps the answer right for rare kinds (a new kind is rare by nature) when there are more
//! kinds than a cube answer keeps: the before-answer is complete, or its gaps count as "not new".

use std::collections::{BTreeMap, HashMap, HashSet};

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

/// The errors view of `q`. `retention_ms` is the cube's: how far back "before the deploy" reaches.
pub async fn errors(
    store: &dyn TraceStore,
    deploys: &DeployLog,
    q: &ErrorsQuery,
    now_ms: i64,
    retention_ms: i64,
) -> Result<ErrorsAnswer, QueryError> {
    let [txs, failing, kinds] = queries(q);
    let (txs, failing, kinds) = futures::try_join!(store.cube(txs), store.cube(failing), store.cube(kinds))?;
    let mut deploys = Deploys { log: deploys, latest: HashMap::new() };
    let oldest = (now_ms - retention_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
    let before = kinds_before_deploys(store, &mut deploys, q, &kinds, oldest).await?;
    Ok(compose(&mut deploys, q.sort, &before, (txs, failing, kinds)))
}

/// The answers put together.
fn compose(
    deploys: &mut Deploys<'_>,
    by: ErrorsSort,
    before: &HashMap<String, Before>,
    (txs, failing, kinds): (CubeAnswer, CubeAnswer, CubeAnswer),
) -> ErrorsAnswer {
    let transactions: HashMap<Endpoint, u64> = txs.rows.iter().map(|r| (endpoint_key(&r.key), r.measures.count)).collect();
    let mut groups = groups_by_endpoint(&kinds, before);
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

/// Every kind of failure of the range, per endpoint, flagged when its service had no such failure before
/// its latest deploy.
fn groups_by_endpoint(kinds: &CubeAnswer, before: &HashMap<String, Before>) -> HashMap<Endpoint, Vec<ErrorGroup>> {
    let mut groups: HashMap<Endpoint, Vec<ErrorGroup>> = HashMap::new();
    for r in kinds.rows.iter().filter(|r| r.measures.count > 0 && r.key.len() == 4) {
        let (service, endpoint, error_type, message) = (&r.key[0], &r.key[1], &r.key[2], &r.key[3]);
        groups.entry((service.clone(), endpoint.clone())).or_default().push(ErrorGroup {
            error_type: error_type.clone(),
            message: message.clone(),
            count: r.measures.count,
            first_seen_ms: r.measures.first_seen_ms.unwrap_or(kinds.from),
            last_seen_ms: r.measures.last_seen_ms.unwrap_or(kinds.to),
            new_since_deploy: before.get(service).is_some_and(|b| b.is_new(error_type, message)),
        });
    }
    groups
}

/// The kinds of failure a service had before its latest deploy (from the start of the cube's retention).
#[derive(Debug, Default)]
struct Before {
    kinds: HashSet<(String, String)>,
    /// Every kind is listed (the answer was not limited): a kind not listed was not there.
    complete: bool,
}

impl Before {
    fn is_new(&self, error_type: &str, message: &str) -> bool {
        self.complete && !self.kinds.contains(&(error_type.to_string(), message.to_string()))
    }
}

/// Services asked about their failures before a deploy, at most: a range with failures in more services
/// than this flags nothing new in the rest.
const MAX_DEPLOY_LOOKUPS: usize = 100;

/// For each service of `kinds` whose latest deploy lies inside the cube's retention (from `oldest`), the
/// kinds of failure it had before the deploy's minute; the queries run together.
async fn kinds_before_deploys(
    store: &dyn TraceStore,
    deploys: &mut Deploys<'_>,
    q: &ErrorsQuery,
    kinds: &CubeAnswer,
    oldest: i64,
) -> Result<HashMap<String, Before>, QueryError> {
    let services: HashSet<&String> = kinds.rows.iter().filter_map(|r| r.key.first()).collect();
    let mut asked = Vec::new();
    for service in services {
        let Some(d) = deploys.latest(service) else { continue };
        let until = d.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        if until > oldest && asked.len() < MAX_DEPLOY_LOOKUPS {
            asked.push((service.clone(), before_query(q, service, oldest, until)));
        }
    }
    let answers = futures::future::try_join_all(asked.iter().map(|(_, cq)| store.cube(cq.clone()))).await?;
    Ok(asked
        .into_iter()
        .zip(answers)
        .map(|((service, _), a)| {
            let complete = a.cut.is_none() && a.groups <= a.rows.len();
            let kinds = a.rows.into_iter().filter_map(|r| <[String; 2]>::try_from(r.key).ok()).map(|[t, m]| (t, m)).collect();
            (service, Before { kinds, complete })
        })
        .collect())
}

/// The failures of `service` by kind in `[oldest, until)` (with the request's error-type filter).
fn before_query(q: &ErrorsQuery, service: &str, oldest: i64, until: i64) -> CubeQuery {
    let mut filter = BTreeMap::from([(CubeDim::Service, service.to_string()), (CubeDim::Status, "error".to_string())]);
    if let Some(t) = &q.error_type {
        filter.insert(CubeDim::ErrorType, t.clone());
    }
    CubeQuery {
        from: oldest,
        to: until,
        group_by: vec![CubeDim::ErrorType, CubeDim::ErrorMessage],
        filter,
        sort: CubeMeasure::Count,
        desc: true,
        limit: MAX_LIMIT,
        step_ms: None,
    }
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

/// The three queries of the range: transactions per endpoint; failures per endpoint with a series;
/// failures per endpoint and kind.
fn queries(q: &ErrorsQuery) -> [CubeQuery; 3] {
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
    [
        base.clone(),
        CubeQuery { filter: failing.clone(), step_ms: Some(spark_step(q.from, q.to)), ..base.clone() },
        CubeQuery { filter: failing, group_by: kinds, ..base },
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
    fn new_means_absent_before_the_deploy_and_only_when_that_is_known() {
        let kinds = HashSet::from([("Timeout".to_string(), "after <n>ms".to_string())]);
        let complete = Before { kinds: kinds.clone(), complete: true };
        assert!(!complete.is_new("Timeout", "after <n>ms"));
        assert!(complete.is_new("NullPointer", ""));
        assert!(complete.is_new("Timeout", "other message"), "the kind is type and message");
        let partial = Before { kinds, complete: false };
        assert!(!partial.is_new("NullPointer", ""), "a limited answer cannot tell what was not there");
        let q = ErrorsQuery { from: 0, to: 1, service: None, endpoint: Some("GET /".into()), error_type: Some("Timeout".into()), sort: ErrorsSort::Errors };
        let b = before_query(&q, "pay", 60_000, 600_000);
        assert_eq!((b.from, b.to, b.group_by.as_slice()), (60_000, 600_000, [CubeDim::ErrorType, CubeDim::ErrorMessage].as_slice()));
        assert_eq!(b.filter.len(), 3, "service, status and error type; not the endpoint: {:?}", b.filter);
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
