//! One evaluation of one rule: read its source, move each instance through the state machine
//! ([`super::state`]), and write what changed — instances, history events and the messages to send — as
//! one durable round ([`super::store::AlertStore::commit_round`]). Sending is the deliverer's business:
//! an evaluation never waits on a receiver.

use std::collections::{BTreeMap, BTreeSet};

use sightline_model::alert::{AlertEvent, AlertInstance, AlertRule, AlertState, RuleSource, Silence, WebhookAlert};

use super::rule::{condition_text, link};
use super::source::{self, effective_condition, Group, Sources};
use super::state::{judge, next, Seen};
use super::store::{group_key, Round, StoredInstance};

/// An instance without data for this long (and nothing announced) is forgotten: groups come and go
/// (endpoints, instances), and a day of `no_data` has said what it had to say.
const FORGET_AFTER_MS: i64 = 24 * 3_600_000;

/// What an evaluation decided: the durable round, and the instances whose value changed only (kept in
/// memory, not written).
pub struct Outcome {
    pub round: Round,
    pub touched: Vec<StoredInstance>,
}

/// The unit of a rule's values (for the condition text).
pub fn unit(rule: &AlertRule, catalog: &sightline_model::MetricCatalog) -> String {
    match &rule.source {
        RuleSource::Metric { metric, .. } => catalog.metrics.iter().find(|m| m.name == *metric).map(|m| m.unit.clone()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The silence muting an instance with `labels` of `rule_id` at `now`, if any.
pub fn silenced_by(silences: &[Silence], rule_id: &str, labels: &BTreeMap<String, String>, now: i64) -> Option<String> {
    silences
        .iter()
        .filter(|s| s.until_ms > now && s.created_ms <= now)
        .filter(|s| s.rule_id.as_deref().is_none_or(|r| r == rule_id))
        .find(|s| s.matchers.iter().all(|(k, v)| labels.get(k) == Some(v)))
        .map(|s| s.id.clone())
}

/// Context of one evaluation.
pub struct Ctx<'a> {
    pub rule: &'a AlertRule,
    pub unit: &'a str,
    pub existing: BTreeMap<String, StoredInstance>,
    pub silences: &'a [Silence],
    /// `--public-url`, for the absolute links in messages.
    pub public_url: &'a str,
    pub now: i64,
}

/// Reads the rule's source and decides (no writes here).
pub async fn evaluate(src: &Sources, ctx: Ctx<'_>) -> Outcome {
    let read = source::read(src, ctx.rule, ctx.now).await;
    decide(ctx, read)
}

/// The decisions for a reading of the source (separate from the reading for tests and the bench).
pub fn decide(ctx: Ctx<'_>, read: Result<Vec<Group>, String>) -> Outcome {
    let Ctx { rule, unit, existing, silences, public_url, now } = ctx;
    let grouped = match &rule.source {
        RuleSource::Metric { group_by, .. } => !group_by.is_empty(),
        _ => true,
    };
    let mut readings: Vec<Group> = match read {
        Ok(groups) => groups,
        // The source as a whole failed: every instance (or, with none yet, one for the rule) has no data,
        // and says why.
        Err(e) => {
            let mut v: Vec<Group> =
                existing.values().map(|i| Group { labels: i.group.clone(), value: None, error: Some(e.clone()) }).collect();
            if v.is_empty() {
                v.push(Group { labels: BTreeMap::new(), value: None, error: Some(e) });
            }
            v
        }
    };
    let read_ok = readings.iter().all(|g| g.error.is_none());
    let seen_keys: BTreeSet<String> = readings.iter().map(|g| group_key(&g.labels)).collect();
    // Groups that existed and are not in the answer: no data.
    for i in existing.values() {
        if !seen_keys.contains(&group_key(&i.group)) {
            readings.push(Group { labels: i.group.clone(), value: None, error: None });
        }
    }
    let condition = effective_condition(rule);
    let cond_text = condition_text(rule, unit);
    let for_ms = rule.for_s as i64 * 1000;
    let mut round = Round { rule_id: rule.id.clone(), ..Default::default() };
    let mut touched = Vec::new();
    for g in readings {
        let key = group_key(&g.labels);
        let seen = if g.error.is_some() { Seen::Missing } else { judge(&condition, g.value) };
        let prev = existing.get(&key);
        // The rule-wide placeholder of a failed read goes once the source answers again.
        if grouped && g.labels.is_empty() && read_ok && prev.is_some_and(|p| p.instance.error.is_some()) {
            round.removes.push(g.labels);
            continue;
        }
        let mut labels = g.labels.clone();
        for (k, v) in &rule.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut inst = match prev {
            Some(p) => p.clone(),
            // A group seen for the first time without a value never had data: nothing to track (except the
            // one group of an ungrouped rule, and a failed read, which must show).
            None if seen == Seen::Missing && g.error.is_none() && grouped => continue,
            None => StoredInstance {
                instance: AlertInstance {
                    rule_id: rule.id.clone(),
                    labels: labels.clone(),
                    state: AlertState::Ok,
                    since_ms: now,
                    value: None,
                    evaluated_ms: now,
                    silenced_by: None,
                    error: None,
                },
                group: g.labels.clone(),
                notified: false,
                firing_since: None,
            },
        };
        let before = inst.instance.state;
        let after = next(before, inst.instance.since_ms, seen, for_ms, now);
        let silence = silenced_by(silences, &rule.id, &labels, now);
        let mut changed = prev.is_none() || inst.instance.silenced_by != silence || inst.instance.error != g.error;
        inst.instance.labels = labels.clone();
        inst.instance.value = g.value;
        inst.instance.evaluated_ms = now;
        inst.instance.error = g.error.clone();
        inst.instance.silenced_by = silence.clone();
        if after != before {
            changed = true;
            inst.instance.state = after;
            inst.instance.since_ms = now;
            if after == AlertState::Firing {
                inst.firing_since = Some(now);
            }
            round.events.push(AlertEvent {
                seq: 0,
                at_ms: now,
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                severity: rule.severity,
                labels: labels.clone(),
                from: before,
                to: after,
                value: g.value,
                condition: cond_text.clone(),
                link: link(rule, &labels, now),
                silenced_by: silence.clone(),
            });
        }
        // Messages: one when an (unsilenced) instance fires — or when a silence ends on a firing one — and
        // one when an announced firing ends.
        let message = |status: &str, since_ms: i64| WebhookAlert {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            status: status.into(),
            labels: labels.clone(),
            value: g.value,
            condition: cond_text.clone(),
            since_ms,
            runbook: rule.runbook.clone(),
            link: format!("{public_url}{}", link(rule, &labels, since_ms)),
        };
        if after == AlertState::Firing && !inst.notified && silence.is_none() && !rule.channels.is_empty() {
            let since = inst.firing_since.unwrap_or(now);
            for c in &rule.channels {
                round.outbox.push((c.clone(), message("firing", since)));
            }
            inst.notified = true;
            changed = true;
        } else if after != AlertState::Firing && inst.notified {
            for c in &rule.channels {
                round.outbox.push((c.clone(), message("resolved", now)));
            }
            inst.notified = false;
            changed = true;
        }
        if after == AlertState::NoData && g.error.is_none() && !inst.notified && now - inst.instance.since_ms > FORGET_AFTER_MS {
            round.removes.push(inst.group.clone());
            continue;
        }
        match changed {
            true => round.upserts.push(inst),
            false => touched.push(inst),
        }
    }
    Outcome { round, touched }
}
