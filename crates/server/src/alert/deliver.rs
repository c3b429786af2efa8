//! Delivery: one task per channel takes what the evaluator queued in the outbox ([`super::store`]), waits
//! the group window so alerts that change together travel in one message, sends it (Slack Block Kit or
//! the webhook payload), and removes it from the outbox only after a 2xx. A failure or a timeout is
//! retried with exponential backoff (1 s, 2 s, 4 s … capped), the same group again (same `message_id`),
//! while other channels go on: a hanging receiver holds up only its own channel, and never the evaluation,
//! which only writes to the outbox. What is queued survives a restart (the tasks start from the outbox).
//!
//! URLs are secrets: errors are rendered without them (`reqwest::Error::without_url`, then [`scrub`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sightline_model::alert::{ChannelKind, ChannelTestResult, Severity, WebhookAlert};
use tokio::sync::{watch, Notify};

use super::store::{AlertStore, OutboxItem, StoredChannel};
use super::webhook::{payload, scrub};
use super::slack;
use crate::blocking;
use crate::store::now_ms;
use crate::sync;

/// Alerts in one message at most (Slack: 50 blocks, three per alert).
pub const MAX_ALERTS_PER_MESSAGE: usize = 15;
/// First retry delay; doubles per failure up to the configured cap.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// How much of a receiver's answer is kept for the channel's `last_error` and the test button.
const BODY_START: usize = 300;

/// Delivery settings (`--alert-group-wait`, `--alert-retry-max`, `--alert-send-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    pub group_wait: Duration,
    pub retry_max: Duration,
    pub send_timeout: Duration,
}

/// Counters for Sightline's own metrics.
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// The channel tasks and what they last saw.
pub struct Deliverer {
    store: Arc<AlertStore>,
    client: reqwest::Client,
    settings: DeliverySettings,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    last_error: Mutex<HashMap<String, String>>,
    stop: Mutex<Option<watch::Receiver<bool>>>,
    pub counts: DeliveryCounts,
}

impl Deliverer {
    pub fn new(store: Arc<AlertStore>, settings: DeliverySettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.send_timeout)
            .connect_timeout(settings.send_timeout)
            .user_agent(concat!("sightline/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with a timeout");
        Deliverer {
            store,
            client,
            settings,
            wakers: Mutex::default(),
            last_error: Mutex::default(),
            stop: Mutex::new(None),
            counts: DeliveryCounts::default(),
        }
    }

    /// Starts a task for every channel with something queued (after a restart); later ones start on
    /// their first [`Deliverer::wake`].
    pub fn start(self: &Arc<Self>, stop: watch::Receiver<bool>) {
        *sync::lock(&self.stop) = Some(stop);
        // Tasks of an earlier `stop` (a leader's previous term, `super::leader`) end by themselves; the
        // channels get new ones.
        sync::lock(&self.wakers).clear();
        for c in self.store.channels_with_pending() {
            self.wake(&c);
        }
    }

    /// Something was queued for `channel_id` (or the channel changed): its task looks again.
    pub fn wake(self: &Arc<Self>, channel_id: &str) {
        let Some(stop) = sync::lock(&self.stop).clone() else { return };
        let mut wakers = sync::lock(&self.wakers);
        match wakers.get(channel_id) {
            Some(n) => n.notify_one(),
            None => {
                let n = Arc::new(Notify::new());
                wakers.insert(channel_id.to_string(), n.clone());
                let me = self.clone();
                let id = channel_id.to_string();
                tokio::spawn(async move {
                    me.run_channel(&id, n.clone(), stop).await;
                    // Only its own entry: a later term may have started another task for the channel.
                    let mut wakers = sync::lock(&me.wakers);
                    if wakers.get(&id).is_some_and(|w| Arc::ptr_eq(w, &n)) {
                        wakers.remove(&id);
                    }
                });
            }
        }
    }

    /// Why the last attempt of a channel failed (`None` after a success).
    pub fn last_error(&self, channel_id: &str) -> Option<String> {
        sync::lock(&self.last_error).get(channel_id).cloned()
    }

    fn set_error(&self, channel_id: &str, e: Option<String>) {
        let mut m = sync::lock(&self.last_error);
        match e {
            Some(e) => m.insert(channel_id.to_string(), e),
            None => m.remove(channel_id),
        };
    }

    async fn run_channel(self: &Arc<Self>, id: &str, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let Some(_) = self.store.channel(id) else { return };
            let items = match self.queued(id).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(channel = id, error = %e, "cannot read the alert outbox");
                    Vec::new()
                }
            };
            let Some(first) = items.first() else {
                tokio::select! {
                    _ = wake.notified() => continue,
                    _ = stop.changed() => return,
                }
            };
            // The group window: wait until the oldest queued alert is `group_wait` old, then take everything
            // queued by then (one message), fixed for its retries.
            let ready_at = first.queued_ms + self.settings.group_wait.as_millis() as i64;
            let wait = ready_at - now_ms();
            if wait > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
            let mut failures = 0u32;
            loop {
                let Some(channel) = self.store.channel(id) else { return };
                match self.send(&channel, &items).await {
                    Ok(()) => {
                        let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
                        let store = self.store.clone();
                        let cid = id.to_string();
                        if let Err(e) = blocking::run("removing delivered alerts", move || store.delivered(&cid, &seqs)).await {
                            tracing::error!(channel = id, error = %e, "cannot remove delivered alerts from the outbox");
                        }
                        self.counts.sent.fetch_add(1, Ordering::Relaxed);
                        self.set_error(id, None);
                        break;
                    }
                    Err(e) => {
                        self.counts.failed.fetch_add(1, Ordering::Relaxed);
                        let delay = backoff(failures, self.settings.retry_max);
                        failures = failures.saturating_add(1);
                        tracing::warn!(channel = id, error = %e, retry_in_s = delay.as_secs_f64(), alerts = items.len(), "alert delivery failed");
                        self.set_error(id, Some(e));
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            // A changed channel (a new URL) is tried at once.
                            _ = wake.notified() => {}
                            _ = stop.changed() => return,
                        }
                    }
                }
            }
        }
    }

    async fn queued(&self, id: &str) -> Result<Vec<OutboxItem>, crate::error::AppError> {
        let store = self.store.clone();
        let id = id.to_string();
        blocking::run("reading the alert outbox", move || store.queued(&id, MAX_ALERTS_PER_MESSAGE)).await
    }

    /// Sends one message with `items` to `channel`: `Err` with what went wrong, never the URL.
    async fn send(&self, channel: &StoredChannel, items: &[OutboxItem]) -> Result<(), String> {
        let first = items.first().map_or(0, |i| i.seq);
        let last = items.last().map_or(0, |i| i.seq);
        let message_id = format!("{}-{first}-{last}", channel.id);
        let p = payload(&message_id, items.iter().map(|i| i.alert.clone()).collect(), now_ms());
        let body = match channel.kind {
            ChannelKind::Slack => slack::message(&p),
            ChannelKind::Webhook => serde_json::to_value(&p).map_err(|e| e.to_string())?,
        };
        let (ok, status, message) = self.post(channel, &body).await;
        match ok {
            true => Ok(()),
            false => Err(match status {
                Some(s) => format!("the receiver answered HTTP {s}: {message}"),
                None => message,
            }),
        }
    }

    /// POSTs `body`: (2xx?, status, body start or why there was no answer), scrubbed of the URL.
    async fn post(&self, channel: &StoredChannel, body: &serde_json::Value) -> (bool, Option<u16>, String) {
        let Some(url) = channel.url.as_deref() else {
            return (false, None, "the channel has no URL yet (imported): an admin must set it".into());
        };
        match self.client.post(url).json(body).send().await {
            Ok(resp) => {
                let status = resp.status();
                let text = match tokio::time::timeout(self.settings.send_timeout, resp.text()).await {
                    Ok(Ok(t)) => t,
                    _ => String::new(),
                };
                let start: String = text.chars().take(BODY_START).collect();
                (status.is_success(), Some(status.as_u16()), scrub(start.trim(), url))
            }
            Err(e) => (false, None, scrub(&describe(e, self.settings.send_timeout), url)),
        }
    }

    /// Sends a test message to `channel` now and says what the receiver answered.
    pub async fn test(&self, channel: &StoredChannel, base_url: &str) -> ChannelTestResult {
        let alert = WebhookAlert {
            rule_id: "test".into(),
            rule_name: format!("Test message for channel {:?}", channel.name),
            severity: Severity::Info,
            status: "test".into(),
            labels: Default::default(),
            value: None,
            condition: "a test sent from Sightline's alert settings".into(),
            since_ms: now_ms(),
            runbook: "Nothing to do: this checks that messages arrive.".into(),
            link: format!("{base_url}/alerts"),
        };
        let mut p = payload(&format!("{}-test-{}", channel.id, now_ms()), vec![alert], now_ms());
        p.status = "test".into();
        let body = match channel.kind {
            ChannelKind::Slack => slack::message(&p),
            ChannelKind::Webhook => serde_json::to_value(&p).unwrap_or_default(),
        };
        let (ok, status, message) = self.post(channel, &body).await;
        if !ok {
            tracing::info!(channel = %channel.id, status, error = %message, "alert channel test failed");
        }
        ChannelTestResult { ok, status, message }
    }
}

/// A send error in words, without the URL (and with its causes: "error sending request" alone says nothing).
fn describe(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// The delay before retry number `failures + 1`: 1 s doubling, capped at `max`.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    FIRST_RETRY.saturating_mul(1u32.checked_shl(failures.min(20)).unwrap_or(u32::MAX)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(300);
        let d: Vec<u64> = (0..12).map(|f| backoff(f, cap).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, cap), cap);
    }
}
