//! The generic webhook's message ([`WebhookPayload`], documented field by field in docs/ALERTS.md), and
//! keeping channel URLs secret: [`mask`] for what clients see, [`scrub`] for any text that might quote one.

use sightline_model::alert::{WebhookAlert, WebhookPayload, ALERTS_FORMAT_VERSION};

/// One message carrying `alerts`: `firing` when any of them fires, else `resolved`.
pub fn payload(message_id: &str, alerts: Vec<WebhookAlert>, now_ms: i64) -> WebhookPayload {
    let status = if alerts.iter().any(|a| a.status == "firing") { "firing" } else { "resolved" };
    WebhookPayload { version: ALERTS_FORMAT_VERSION, message_id: message_id.to_string(), status: status.into(), alerts, sent_ms: now_ms }
}

/// `https://hooks.slack.com/…/••••Xy9z`: the scheme and host (without any `user:password@`), and the last 4
/// characters, enough to tell two channels apart and no more.
pub fn mask(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let tail: String = {
        let chars: Vec<char> = url.chars().collect();
        if chars.len() > 24 { chars[chars.len() - 4..].iter().collect() } else { String::new() }
    };
    match scheme.is_empty() {
        true => format!("…/••••{tail}"),
        false => format!("{scheme}://{host}/…/••••{tail}"),
    }
}

/// `msg` with `url`, and its path and query (the secret part of a Slack webhook), replaced by its mask.
pub fn scrub(msg: &str, url: &str) -> String {
    if url.is_empty() {
        return msg.to_string();
    }
    let mut out = msg.replace(url, &mask(url));
    if let Some((_, rest)) = url.split_once("://") {
        if let Some(i) = rest.find('/') {
            let path = &rest[i..];
            if path.len() > 8 {
                out = out.replace(path, "/…");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_and_scrubbed() {
        let url = "https://u:pw@hooks.slack.com/services/T000/B000/SECRETtokenXy9z";
        let m = mask(url);
        assert_eq!(m, "https://hooks.slack.com/…/••••Xy9z");
        let said = format!("error sending request for url ({url}): refused; path /services/T000/B000/SECRETtokenXy9z");
        let s = scrub(&said, url);
        assert!(!s.contains("SECRETtoken") && !s.contains("pw@"), "{s}");
    }
}
