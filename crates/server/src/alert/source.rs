//! Reading what a rule watches: one value per group "now" ([`read`]), and the condition that value is
//! judged by ([`effective_condition`]: the lock-tree and silent-service sources carry their own).

use std::collections::BTreeMap;
use std::sync::Arc;

use sightline_model::alert::{AlertRule, Condition, RuleSource};
use sightline_model::DbLockNode;

use crate::collect::host::HostHub;
use crate::collect::postgres::DbHub;
use crate::metrics::{self, Latest};
use crate::store::{SeriesQuery, TraceStore};

/// What a silent-service rule looks back over to know which services exist.
pub const SERVICES_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// One group's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub labels: BTreeMap<String, String>,
    pub value: Option<f64>,
    /// Why this group could not be read (e.g. its database is unreachable).
    pub error: Option<String>,
}

/// Where values come from: the parts of the server state a rule reads.
#[derive(Clone)]
pub struct Sources {
    pub store: Arc<dyn TraceStore>,
    pub dbs: Arc<DbHub>,
    pub hosts: Arc<HostHub>,
    /// The deploy check's verdicts (`deploys.suspect`).
    pub deploys: Arc<crate::deploys::DeployLog>,
    pub cube_retention_ms: i64,
}

/// The condition a value of `rule`'s source is judged by: the rule's own for metrics; "at least
/// `min_blocked`" for blocking sessions; "no transaction" (a count below one) for a silent service.
pub fn effective_condition(rule: &AlertRule) -> Condition {
    match &rule.source {
        RuleSource::Metric { .. } => rule.condition,
        RuleSource::BlockingSession { min_blocked, .. } => Condition::Above { threshold: *min_blocked as f64 - 0.5 },
        RuleSource::ServiceSilent { .. } => Condition::Below { threshold: 0.5 },
    }
}

/// The groups of `rule` at `now`; `Err` when the source as a whole cannot be read (the message says why,
/// without secrets).
pub async fn read(src: &Sources, rule: &AlertRule, now: i64) -> Result<Vec<Group>, String> {
    match &rule.source {
        RuleSource::Metric { metric, filter, group_by, window_s } => {
            let ask = Latest { metric, filter, group_by, window_ms: *window_s as i64 * 1000, now };
            let values = metrics::latest(&*src.store, src.dbs.clone(), src.hosts.clone(), &src.deploys, &ask, src.cube_retention_ms)
                .await
                .map_err(|e| e.to_string())?;
            Ok(values.into_iter().map(|(labels, value)| Group { labels, value, error: None }).collect())
        }
        RuleSource::BlockingSession { instance, .. } => Ok(blocking_sessions(&src.dbs, instance.as_deref(), now)),
        RuleSource::ServiceSilent { service, window_s } => silent(&*src.store, service.as_deref(), *window_s as i64 * 1000, now).await,
    }
}

/// Per database instance: the most sessions one blocker holds up (directly or down its chain of waiters),
/// from the newest lock tree; an instance without a recent sample has no value, with the collector's error.
fn blocking_sessions(dbs: &DbHub, only: Option<&str>, now: i64) -> Vec<Group> {
    // A sample older than this is not "now": the collector is failing or stopped.
    let fresh_ms = (dbs.interval().as_millis() as i64 * 3).max(10_000);
    dbs.instances()
        .iter()
        .filter(|i| only.is_none_or(|o| o == i.id))
        .map(|i| {
            let labels = BTreeMap::from([("instance".to_string(), i.id.clone())]);
            let locks = i.locks(None);
            match locks.at {
                Some(at) if now - at <= fresh_ms => {
                    let most = locks.roots.iter().map(blocked_under).max().unwrap_or(0);
                    Group { labels, value: Some(most as f64), error: None }
                }
                _ => {
                    let why = i.summary().last_error.unwrap_or_else(|| "no recent sample".to_string());
                    Group { labels, value: None, error: Some(format!("the lock tree of {} cannot be read: {why}", i.name)) }
                }
            }
        })
        .collect()
}

/// Sessions waiting on `node`, directly or through others.
fn blocked_under(node: &DbLockNode) -> usize {
    node.waiters.iter().map(|w| 1 + blocked_under(w)).sum()
}

/// Per service that finished transactions in the last [`SERVICES_LOOKBACK_MS`]: how many it finished in
/// the last `window_ms` (0 = silent).
async fn silent(store: &dyn TraceStore, service: Option<&str>, window_ms: i64, now: i64) -> Result<Vec<Group>, String> {
    let per_service = |from: i64| SeriesQuery {
        from,
        to: now,
        step_ms: now - from,
        service: service.map(str::to_string),
        by_service: true,
        ..Default::default()
    };
    let known = store.tx_series(per_service(now - SERVICES_LOOKBACK_MS.max(window_ms))).await.map_err(|e| e.to_string())?;
    let recent = store.tx_series(per_service(now - window_ms)).await.map_err(|e| e.to_string())?;
    let count = |name: &str| {
        recent.iter().find(|g| g.service.as_deref() == Some(name)).map_or(0, |g| g.buckets.iter().map(|b| b.count).sum::<u64>())
    };
    Ok(known
        .iter()
        .filter(|g| g.buckets.iter().any(|b| b.count > 0))
        .filter_map(|g| g.service.clone())
        .map(|name| Group {
            value: Some(count(&name) as f64),
            labels: BTreeMap::from([("service".to_string(), name)]),
            error: None,
        })
        .collect())
}
