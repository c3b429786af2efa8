//! The Slack message (Block Kit, for an incoming webhook): a header with the worst severity and the status,
//! then per alert its name and labels, value vs condition, since when, the runbook note and a button to
//! the page and moment that shows it. Slack allows 50 blocks: a message carries at most
//! [`super::deliver::MAX_ALERTS_PER_MESSAGE`] alerts, three blocks each.

use serde_json::{json, Value};
use sightline_model::alert::{Severity, WebhookPayload};

use super::rule::number;

/// Slack's limit for a section's text.
const MAX_TEXT: usize = 2900;

/// The Block Kit body for `p` (the same alerts as the webhook payload).
pub fn message(p: &WebhookPayload) -> Value {
    let worst = p.alerts.iter().map(|a| a.severity).max().unwrap_or_default();
    let severity = match worst {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    };
    let icon = if p.status == "firing" { "🔥" } else { "✅" };
    let title = format!("{icon} [{severity}] {} {}", p.status.to_uppercase(), summary(p));
    let mut blocks = vec![json!({ "type": "header", "text": { "type": "plain_text", "text": cut(&title, 148), "emoji": true } })];
    for a in &p.alerts {
        let labels = match a.labels.is_empty() {
            true => String::new(),
            false => format!("{}\n", a.labels.iter().map(|(k, v)| format!("`{k}={v}`")).collect::<Vec<_>>().join(" ")),
        };
        let value = a.value.map(number).unwrap_or_else(|| "no data".into());
        let state = if a.status == "firing" { "Firing" } else { "Resolved" };
        let mut text = format!(
            "*{}* — {state}\n{labels}Value *{value}* (condition: {})\nSince <!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
            escape(&a.rule_name),
            escape(&a.condition),
            a.since_ms / 1000,
            a.since_ms
        );
        if !a.runbook.trim().is_empty() {
            text.push_str(&format!("\n>{}", escape(a.runbook.trim()).replace('\n', "\n>")));
        }
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": cut(&text, MAX_TEXT) },
        }));
        blocks.push(json!({
            "type": "actions",
            "elements": [{ "type": "button", "text": { "type": "plain_text", "text": "Open in Sightline" }, "url": a.link }],
        }));
    }
    // `text` is what notifications and clients without blocks show.
    json!({ "text": cut(&title, 300), "blocks": blocks })
}

/// `High p95 (+1 more)`.
fn summary(p: &WebhookPayload) -> String {
    match p.alerts.as_slice() {
        [] => String::new(),
        [one] => one.rule_name.clone(),
        [first, rest @ ..] => format!("{} (+{} more)", first.rule_name, rest.len()),
    }
}

/// Slack's mrkdwn escapes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
