//! The rule editor's preview: the rule's values over a past window, one series per group, with the
//! threshold lines and the intervals it would have been firing (the state machine of [`super::state`] run
//! over the buckets, so `for_s` counts as it would have live).

use std::collections::BTreeMap;

use sightline_model::alert::{AlertRule, Condition, PreviewAnswer, PreviewFiring, RuleSource};

use super::source::{effective_condition, Sources};
use super::state::firing_intervals;
use crate::api::window::Window;
use crate::error::AppError;
use crate::metrics::{self, MetricRequest, DEFAULT_MAX_POINTS};

/// Groups drawn at most.
const MAX_SERIES: usize = 50;

/// The preview of `rule` over `[from, to)`.
pub async fn preview(src: &Sources, rule: &AlertRule, from: i64, to: i64) -> Result<PreviewAnswer, AppError> {
    let window = Window::new(from, to)?;
    let (metric, filter, group_by, window_s) = match &rule.source {
        RuleSource::Metric { metric, filter, group_by, window_s } => (metric.clone(), filter.clone(), group_by.clone(), *window_s),
        // A silent service is a count per service that drops to zero.
        RuleSource::ServiceSilent { service, window_s } => (
            "transactions.count".to_string(),
            service.iter().map(|s| ("service".to_string(), s.clone())).collect::<BTreeMap<_, _>>(),
            vec!["service".to_string()],
            *window_s,
        ),
        RuleSource::BlockingSession { .. } => {
            return Err(AppError::BadRequest(
                "blocking-session rules have no preview: the database page replays the lock tree".into(),
            ))
        }
    };
    let r = MetricRequest {
        metric,
        window,
        step_ms: Some(window_s.max(1) as i64 * 1000),
        max_points: DEFAULT_MAX_POINTS,
        filter,
        group_by,
        limit: MAX_SERIES,
    };
    let answer = metrics::query(&*src.store, src.dbs.clone(), src.hosts.clone(), &src.deploys, r, src.cube_retention_ms).await?;
    let condition = effective_condition(rule);
    let thresholds = match condition {
        Condition::Above { threshold } | Condition::Below { threshold } => vec![threshold],
        Condition::Outside { low, high } => vec![low, high],
        Condition::NoData => vec![],
    };
    // A bucket is judged at its end, as an evaluation then would have.
    let firing = answer
        .series
        .iter()
        .flat_map(|s| {
            let points: Vec<(i64, Option<f64>)> =
                answer.timestamps.iter().zip(&s.values).map(|(t, v)| (t + answer.step_ms, *v)).collect();
            firing_intervals(&points, &condition, rule.for_s as i64 * 1000, answer.to)
                .into_iter()
                .map(|(from_ms, to_ms)| PreviewFiring { labels: s.labels.clone(), from_ms, to_ms })
        })
        .collect();
    Ok(PreviewAnswer {
        unit: answer.unit,
        step_ms: answer.step_ms,
        timestamps: answer.timestamps,
        series: answer.series,
        thresholds,
        firing,
    })
}
