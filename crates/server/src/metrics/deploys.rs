//! `deploys.suspect`: how many deploys the deploy check found suspect per step, by the time of the verdict
//! (`checked_at_ms`, a few minutes after the deploy), so an alert rule "above 0" fires when one is found.
//! Read from the deploy log's verdicts ([`crate::deploys::DeployLog`]), not from the trace store.

use std::collections::BTreeMap;

use sightline_model::{MetricInfo, MetricQueryResult, MetricSeries};

use super::{aligned, check_dimensions, choose_step, result, MetricRequest};
use crate::deploys::DeployLog;
use crate::store::QueryError;

pub(super) const NAME: &str = "deploys.suspect";
const DIMENSIONS: &[&str] = &["service"];

pub(super) fn info() -> MetricInfo {
    MetricInfo {
        name: NAME.to_string(),
        unit: "count".to_string(),
        description: "Suspect deploys found per step (at the deploy check's verdict, `--deploy-check-after` after the deploy): \
                      the error rate or p95 got worse after a new service.version"
            .to_string(),
        dimensions: DIMENSIONS.iter().map(|d| d.to_string()).collect(),
        available: true,
        unavailable_reason: None,
    }
}

/// Suspect verdicts per step; grouped by service, one series per service with any checked deploy (zeros
/// where none was suspect, so a rule's group does not come and go); ungrouped, one series.
pub(super) fn query(log: &DeployLog, r: &MetricRequest) -> Result<MetricQueryResult, QueryError> {
    check_dimensions(NAME, DIMENSIONS, r)?;
    let step = choose_step(r.window.from(), r.window.to(), r.step_ms, r.max_points);
    let (from, to) = aligned(r.window.from(), r.window.to(), step);
    let n = ((to - from) / step) as usize;
    let grouped = r.group_by.iter().any(|g| g == "service");
    let only = r.filter.get("service").map(String::as_str);
    let mut groups: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    if !grouped {
        groups.insert(String::new(), vec![Some(0.0); n]);
    }
    for d in log.list(i64::MIN, i64::MAX, only) {
        let Some(check) = d.check else { continue };
        let values = groups.entry(if grouped { d.service } else { String::new() }).or_insert_with(|| vec![Some(0.0); n]);
        if check.suspect && (from..to).contains(&check.checked_at_ms) {
            let v = &mut values[((check.checked_at_ms - from) / step) as usize];
            *v = Some(v.unwrap_or(0.0) + 1.0);
        }
    }
    let truncated = groups.len().saturating_sub(r.limit);
    let series = groups
        .into_iter()
        .take(r.limit)
        .map(|(service, values)| MetricSeries {
            labels: if grouped { BTreeMap::from([("service".to_string(), service)]) } else { BTreeMap::new() },
            values,
        })
        .collect();
    Ok(result(NAME, "count", (from, to, step), series, truncated))
}
