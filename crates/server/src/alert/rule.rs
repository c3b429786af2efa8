//! What makes a rule valid, and how a rule is put into words and links: its id, the condition text of
//! messages (`p95 > 800 ms for 60 s`) and the page and moment that shows an instance.

use std::collections::BTreeMap;

use sightline_model::alert::{AlertRule, Condition, RuleSource};
use sightline_model::MetricCatalog;

/// Longest evaluation interval, window and "for" duration: a day, 7 days, 30 days.
const MAX_INTERVAL_S: u32 = 86_400;
const MAX_WINDOW_S: u32 = 7 * 86_400;
const MAX_FOR_S: u32 = 30 * 86_400;
/// Longest name and runbook note.
const MAX_NAME: usize = 200;
const MAX_RUNBOOK: usize = 10_000;

/// Every problem of `rule`, in words; empty when it is fine. `channels` are the channel ids that exist.
pub fn problems(rule: &AlertRule, catalog: &MetricCatalog, channels: &[String]) -> Vec<String> {
    let mut p = Vec::new();
    let who = if rule.name.trim().is_empty() { format!("rule {:?}", rule.id) } else { format!("rule {:?}", rule.name) };
    if rule.name.trim().is_empty() {
        p.push(format!("{who}: the name is empty"));
    }
    if rule.name.chars().count() > MAX_NAME {
        p.push(format!("{who}: the name is longer than {MAX_NAME} characters"));
    }
    if !rule.id.is_empty() && !valid_id(&rule.id) {
        p.push(format!("{who}: the id {:?} may only hold lowercase letters, digits and '-' (at most 64)", rule.id));
    }
    if rule.interval_s == 0 || rule.interval_s > MAX_INTERVAL_S {
        p.push(format!("{who}: interval_s must be 1..={MAX_INTERVAL_S} seconds, not {}", rule.interval_s));
    }
    if rule.for_s > MAX_FOR_S {
        p.push(format!("{who}: for_s must be at most {MAX_FOR_S} seconds, not {}", rule.for_s));
    }
    if rule.runbook.len() > MAX_RUNBOOK {
        p.push(format!("{who}: the runbook note is longer than {MAX_RUNBOOK} bytes"));
    }
    for k in rule.labels.keys() {
        if k.trim().is_empty() {
            p.push(format!("{who}: a label has an empty name"));
        }
    }
    let window_ok = |p: &mut Vec<String>, w: u32| {
        if w == 0 || w > MAX_WINDOW_S {
            p.push(format!("{who}: window_s must be 1..={MAX_WINDOW_S} seconds, not {w}"));
        }
    };
    match &rule.source {
        RuleSource::Metric { metric, filter, group_by, window_s } => {
            window_ok(&mut p, *window_s);
            match catalog.metrics.iter().find(|m| m.name == *metric) {
                None => p.push(format!("{who}: unknown metric {metric:?} (GET /api/v1/metrics lists them)")),
                // `db.*` / `host.*` / `process.*` may be unavailable here and now (no database configured, the host
                // collector off) and still be a valid rule, e.g. an import from another server.
                Some(m) if !(m.available || metric.starts_with("db.") || metric.starts_with("host.") || metric.starts_with("process.")) => {
                    p.push(format!(
                        "{who}: metric {metric:?} cannot be alerted on: {}",
                        m.unavailable_reason.as_deref().unwrap_or("it is not available")
                    ));
                }
                Some(m) => {
                    for d in filter.keys().chain(group_by) {
                        if !m.dimensions.contains(d) {
                            p.push(format!("{who}: metric {metric:?} has no dimension {d:?} (it has {})", m.dimensions.join(", ")));
                        }
                    }
                }
            }
            let mut seen = Vec::new();
            for g in group_by {
                if seen.contains(&g) {
                    p.push(format!("{who}: group_by names {g:?} twice"));
                }
                seen.push(g);
            }
        }
        RuleSource::BlockingSession { min_blocked, .. } => {
            if *min_blocked == 0 {
                p.push(format!("{who}: min_blocked must be at least 1"));
            }
        }
        RuleSource::ServiceSilent { window_s, .. } => window_ok(&mut p, *window_s),
    }
    match rule.condition {
        Condition::Above { threshold } | Condition::Below { threshold } if !threshold.is_finite() => {
            p.push(format!("{who}: the threshold must be a finite number"));
        }
        Condition::Outside { low, high } => {
            if !low.is_finite() || !high.is_finite() {
                p.push(format!("{who}: low and high must be finite numbers"));
            } else if low > high {
                p.push(format!("{who}: low ({low}) is above high ({high})"));
            }
        }
        _ => {}
    }
    for c in &rule.channels {
        if !channels.contains(c) {
            p.push(format!("{who}: unknown channel {c:?}"));
        }
    }
    p
}

/// Numbers that must be whole and not negative, checked on the JSON before it is read as a rule, so a
/// negative `for_s` is answered with its name (serde's own message would not say which field).
pub fn number_problems(v: &serde_json::Value) -> Vec<String> {
    let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("");
    let mut p = Vec::new();
    let mut check = |field: &str, x: Option<&serde_json::Value>| {
        if let Some(x) = x {
            if x.as_u64().is_none_or(|n| n > u32::MAX as u64) {
                p.push(format!("rule {name:?}: {field} must be a whole number, 0 or more, not {x}"));
            }
        }
    };
    check("for_s", v.get("for_s"));
    check("interval_s", v.get("interval_s"));
    check("window_s", v.get("source").and_then(|s| s.get("window_s")));
    check("min_blocked", v.get("source").and_then(|s| s.get("min_blocked")));
    p
}

/// Ids are URL path segments: lowercase letters, digits and `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A slug of `name` (`High p95 on payment` → `high-p95-on-payment`), made unique with `-2`, `-3`… by `taken`.
pub fn slug(name: &str, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s = s.split('-').filter(|x| !x.is_empty()).collect::<Vec<_>>().join("-");
    s.truncate(48);
    let base = match s.trim_end_matches('-') {
        "" => fallback.to_string(),
        b => b.to_string(),
    };
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|c| !taken(c)).expect("some suffix is free")
}

/// A number as people write it: `800`, `0.05`, `1.5`.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A value with its unit: `812 ms`, `0.05`, `3.2/s`.
pub fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "" | "ratio" | "count" => number(v),
        "1/s" => format!("{}/s", number(v)),
        u => format!("{} {u}", number(v)),
    }
}

/// The short name of a metric in messages: the last part (`transactions.response_time.p95` → `p95`).
fn short(metric: &str) -> &str {
    metric.rsplit('.').next().unwrap_or(metric)
}

/// The condition in words, e.g. `p95 > 800 ms for 60 s`; `unit` is the metric's.
pub fn condition_text(rule: &AlertRule, unit: &str) -> String {
    let for_part = if rule.for_s > 0 { format!(" for {} s", rule.for_s) } else { String::new() };
    match &rule.source {
        RuleSource::Metric { metric, window_s, .. } => {
            let m = short(metric);
            match rule.condition {
                Condition::Above { threshold } => format!("{m} > {}{for_part}", with_unit(threshold, unit)),
                Condition::Below { threshold } => format!("{m} < {}{for_part}", with_unit(threshold, unit)),
                Condition::Outside { low, high } => {
                    format!("{m} outside {}..{}{for_part}", number(low), with_unit(high, unit))
                }
                Condition::NoData => format!("{m}: no data over {window_s} s{for_part}"),
            }
        }
        RuleSource::BlockingSession { min_blocked, .. } => {
            format!("a session blocks ≥ {min_blocked} other{}{for_part}", if *min_blocked == 1 { "" } else { "s" })
        }
        RuleSource::ServiceSilent { window_s, .. } => format!("no transaction for {window_s} s{for_part}"),
    }
}

/// How much time a link shows before and after the moment it names.
const LINK_BEFORE_MS: i64 = 15 * 60_000;
const LINK_AFTER_MS: i64 = 5 * 60_000;

/// The app page and time range that show an instance at `at_ms`: the APM page (hitmap) for transaction
/// and cube metrics and silent services, the database page at that moment for `db.*` and blocking
/// sessions, the servers page for `host.*` / `process.*`.
pub fn link(rule: &AlertRule, labels: &BTreeMap<String, String>, at_ms: i64) -> String {
    let (from, to) = (at_ms - LINK_BEFORE_MS, at_ms + LINK_AFTER_MS);
    let label = |k: &str| -> Option<String> {
        labels.get(k).cloned().or_else(|| match &rule.source {
            RuleSource::Metric { filter, .. } => filter.get(k).cloned(),
            RuleSource::BlockingSession { instance, .. } if k == "instance" => instance.clone(),
            RuleSource::ServiceSilent { service, .. } if k == "service" => service.clone(),
            _ => None,
        })
    };
    let apm = || {
        let mut q = String::new();
        for k in ["service", "endpoint"] {
            if let Some(v) = label(k) {
                q.push_str(&format!("{k}={}&", encode(&v)));
            }
        }
        format!("/apm?{q}from={from}&to={to}")
    };
    let db = || match label("instance") {
        Some(i) => format!("/db/{}?at={at_ms}", encode(&i)),
        None => format!("/db?at={at_ms}"),
    };
    match &rule.source {
        RuleSource::Metric { metric, .. } if metric.starts_with("db.") => db(),
        RuleSource::Metric { metric, .. } if metric.starts_with("host.") || metric.starts_with("process.") => {
            format!("/servers?from={from}&to={to}")
        }
        RuleSource::Metric { .. } | RuleSource::ServiceSilent { .. } => apm(),
        RuleSource::BlockingSession { .. } => db(),
    }
}

/// Percent-encodes a query value or path segment (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::alert::Severity;

    pub fn rule(source: RuleSource, condition: Condition) -> AlertRule {
        AlertRule {
            id: String::new(),
            name: "High p95".into(),
            source,
            condition,
            for_s: 60,
            interval_s: 15,
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            runbook: String::new(),
            channels: vec![],
            enabled: true,
            version: 0,
        }
    }

    fn p95() -> RuleSource {
        RuleSource::Metric {
            metric: "transactions.response_time.p95".into(),
            filter: BTreeMap::new(),
            group_by: vec!["service".into()],
            window_s: 60,
        }
    }

    #[test]
    fn every_problem_is_listed() {
        let catalog = crate::metrics::catalog(0, false);
        let mut r = rule(
            RuleSource::Metric { metric: "nope".into(), filter: BTreeMap::new(), group_by: vec![], window_s: 0 },
            Condition::Outside { low: 5.0, high: 1.0 },
        );
        r.name = " ".into();
        r.interval_s = 0;
        r.channels = vec!["ghost".into()];
        let p = problems(&r, &catalog, &[]);
        assert_eq!(p.len(), 6, "{p:#?}");
        let mut r = rule(p95(), Condition::Above { threshold: f64::NAN });
        if let RuleSource::Metric { group_by, .. } = &mut r.source {
            group_by.push("colour".into());
        }
        let p = problems(&r, &catalog, &[]);
        assert!(p.iter().any(|p| p.contains("finite")) && p.iter().any(|p| p.contains("\"colour\"")), "{p:#?}");
        assert!(problems(&rule(p95(), Condition::Above { threshold: 800.0 }), &catalog, &[]).is_empty());
    }

    #[test]
    fn words_and_links() {
        let r = rule(p95(), Condition::Above { threshold: 800.0 });
        assert_eq!(condition_text(&r, "ms"), "p95 > 800 ms for 60 s");
        let labels = BTreeMap::from([("service".to_string(), "pay ment".to_string())]);
        assert_eq!(link(&r, &labels, 1_000_000_000), "/apm?service=pay%20ment&from=999100000&to=1000300000");
        let b = rule(RuleSource::BlockingSession { instance: None, min_blocked: 3 }, Condition::NoData);
        let labels = BTreeMap::from([("instance".to_string(), "pg-1".to_string())]);
        assert_eq!(link(&b, &labels, 5), "/db/pg-1?at=5");
        assert_eq!(condition_text(&b, ""), "a session blocks ≥ 3 others for 60 s");
        assert_eq!(slug("High p95 on payment!", "rule", |s| s == "high-p95-on-payment"), "high-p95-on-payment-2");
        assert_eq!(slug("!!!", "rule", |_| false), "rule");
        assert_eq!(number(0.05), "0.05");
    }
}
