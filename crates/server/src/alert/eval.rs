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
    // The labels a group has under the rule as it is now: an instance grouped otherwise (the rule's
    // group_by was edited) is left to go to no_data — which resolves it if it was firing — and then dropped.
    let dims: BTreeSet<&str> = match &rule.source {
        RuleSource::Metric { group_by, .. } => group_by.iter().map(String::as_str).collect(),
        RuleSource::BlockingSession { .. } => BTreeSet::from(["instance"]),
        RuleSource::ServiceSilent { .. } => BTreeSet::from(["service"]),
    };
    let grouped = !dims.is_empty();
    let stale = |group: &BTreeMap<String, String>| !group.is_empty() && !group.keys().map(String::as_str).eq(dims.iter().copied());
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
        let forgotten = after == AlertState::NoData && g.error.is_none() && now - inst.instance.since_ms > FORGET_AFTER_MS;
        // (Only a group the source no longer answers can be stale: whatever it answers is current.)
        if !inst.notified && (forgotten || (!seen_keys.contains(&key) && stale(&inst.group))) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::alert::{Condition, Severity};

    fn rule(group_by: &[&str]) -> AlertRule {
        AlertRule {
            id: "r".into(),
            name: "R".into(),
            source: RuleSource::Metric {
                metric: "transactions.response_time.p95".into(),
                filter: BTreeMap::new(),
                group_by: group_by.iter().map(|s| s.to_string()).collect(),
                window_s: 60,
            },
            condition: Condition::Above { threshold: 10.0 },
            for_s: 0,
            interval_s: 15,
            severity: Severity::Critical,
            labels: BTreeMap::from([("team".to_string(), "pay".to_string())]),
            runbook: String::new(),
            channels: vec!["c".into()],
            enabled: true,
            version: 1,
        }
    }

    fn group(k: &str, v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(k.to_string(), v.to_string())])
    }

    fn run(rule: &AlertRule, existing: BTreeMap<String, StoredInstance>, read: Result<Vec<Group>, String>, now: i64) -> Outcome {
        decide(Ctx { rule, unit: "ms", existing, silences: &[], public_url: "http://s", now }, read)
    }

    fn by_key(out: &Outcome) -> BTreeMap<String, StoredInstance> {
        out.round.upserts.iter().chain(&out.touched).map(|i| (group_key(&i.group), i.clone())).collect()
    }

    #[test]
    fn one_message_per_firing_and_regrouped_instances_resolve_and_go() {
        let r = rule(&["service"]);
        let bad = |v: f64| Ok(vec![Group { labels: group("service", "pay"), value: Some(v), error: None }]);
        let out = run(&r, BTreeMap::new(), bad(50.0), 1000);
        assert_eq!((out.round.events.len(), out.round.outbox.len()), (1, 1), "for 0: fires and queues at once");
        assert_eq!(out.round.outbox[0].1.link, "http://s/apm?service=pay&from=-899000&to=301000");
        assert_eq!(out.round.outbox[0].1.labels["team"], "pay");
        let out = run(&r, by_key(&out), bad(60.0), 2000);
        assert!(out.round.events.is_empty() && out.round.outbox.is_empty() && out.round.upserts.is_empty(), "no change, nothing written");
        // The rule is regrouped by endpoint: the old instance resolves (its firing was announced) and goes.
        let r2 = rule(&["endpoint"]);
        let read = Ok(vec![Group { labels: group("endpoint", "POST /pay"), value: Some(1.0), error: None }]);
        let out = run(&r2, by_key(&out), read, 3000);
        assert_eq!(out.round.outbox.iter().map(|(_, a)| a.status.as_str()).collect::<Vec<_>>(), ["resolved"]);
        assert_eq!(out.round.removes, vec![group("service", "pay")]);
        assert_eq!(by_key(&out).len(), 1, "only the new group is kept");
        // A failed read: every instance no data, with the reason; none is dropped.
        let kept = by_key(&out);
        let out = run(&r2, kept, Err("the store is unavailable".into()), 4000);
        let i = &out.round.upserts[0];
        assert_eq!((i.instance.state, i.instance.error.as_deref()), (AlertState::NoData, Some("the store is unavailable")));
        assert!(out.round.removes.is_empty());
    }
}
