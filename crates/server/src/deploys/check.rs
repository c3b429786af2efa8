//! The deploy check: once the minutes after a version change have passed, the service's transactions in
//! them are compared with the same span before the deploy; a worse error rate or p95 beyond the thresholds
//! makes the deploy *suspect*. The verdict is recorded with the deploy ([`DeployLog::record_check`]), shown
//! on its marker, and counted by the `deploys.suspect` metric (so an alert rule can watch it).
//!
//! Both sides are read with one [`TraceStore::tx_series`] query of two buckets (exact counts, errors and
//! nearest-rank p95 over every transaction, by end time). The span after a deploy ends early when the
//! service's next version came sooner (a hot-fix), so the check judges the release alone, and the span
//! before is always as long as the one after.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sightline_model::{DeployCheck, DeploySide};
use tokio::sync::watch;

use crate::deploys::DeployLog;
use crate::store::{QueryError, SeriesQuery, TraceStore, TxBucket};

/// When a deploy is judged, and how much worse counts as suspect (`--deploy-check-*` flags).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSettings {
    /// How long after (and before) the deploy is compared. Default 5 min.
    pub after: Duration,
    /// Transactions each side needs for a verdict. Default 20.
    pub min_transactions: u64,
    /// The error rate must rise by more than this many percentage points… Default 5.
    pub error_rate_points: f64,
    /// …and to more than this many times the rate before. Default 1.5.
    pub error_rate_factor: f64,
    /// The p95 must rise to more than this many times the p95 before… Default 1.5.
    pub p95_factor: f64,
    /// …and by more than this many milliseconds. Default 50.
    pub p95_ms: f64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            after: Duration::from_secs(300),
            min_transactions: 20,
            error_rate_points: 5.0,
            error_rate_factor: 1.5,
            p95_factor: 1.5,
            p95_ms: 50.0,
        }
    }
}

impl CheckSettings {
    fn after_ms(&self) -> i64 {
        (self.after.as_millis() as i64).max(1)
    }

    /// How long past the end of the span after a deploy the check waits for late spans (exporters send in
    /// batches): a tenth of the span, at most 30 s.
    pub fn settle_ms(&self) -> i64 {
        (self.after_ms() / 10).min(30_000)
    }

    /// How often deploys are looked at: a tenth of the span, between 1 s and 30 s.
    pub fn every(&self) -> Duration {
        (self.after / 10).clamp(Duration::from_secs(1), Duration::from_secs(30))
    }

    /// Length of each side of the check of a deploy at `at_ms`: `after`, or up to the next version.
    pub fn window_ms(&self, at_ms: i64, next_ms: Option<i64>) -> i64 {
        next_ms.map_or(self.after_ms(), |n| n.saturating_sub(at_ms).clamp(0, self.after_ms()))
    }
}

/// What the check concludes from the two sides: `(enough traffic, suspect, reasons)`.
pub fn verdict(before: &DeploySide, after: &DeploySide, s: &CheckSettings) -> (bool, bool, Vec<String>) {
    if before.count < s.min_transactions || after.count < s.min_transactions {
        let why = format!(
            "not enough traffic: {} transactions before, {} after ({} needed on each side)",
            before.count, after.count, s.min_transactions
        );
        return (false, false, vec![why]);
    }
    let mut reasons = Vec::new();
    let (e0, e1) = (before.error_rate, after.error_rate);
    if (e1 - e0) * 100.0 > s.error_rate_points && e1 > e0 * s.error_rate_factor {
        reasons.push(format!("error rate {} → {} (+{:.1} points)", percent(e0), percent(e1), (e1 - e0) * 100.0));
    }
    // A release that fixes failures is not suspect for its latency: failed requests often end fast (a
    // refused payment, an exception before the slow part), so fixing them raises the p95 (the demo's hot-fix).
    let fixes_errors = (e0 - e1) * 100.0 > s.error_rate_points && e0 > e1 * s.error_rate_factor;
    if let (Some(p0), Some(p1), false) = (before.p95_ms, after.p95_ms, fixes_errors) {
        if p1 > p0 * s.p95_factor && p1 - p0 > s.p95_ms {
            let times = if p0 > 0.0 { format!(" (×{:.1})", p1 / p0) } else { String::new() };
            reasons.push(format!("p95 {} → {}{times}", duration(p0), duration(p1)));
        }
    }
    (true, !reasons.is_empty(), reasons)
}

#[cfg(test)]
mod fix_tests {
    use super::*;

    #[test]
    fn a_release_that_fixes_failures_is_not_suspect_for_its_slower_p95() {
        let side = |count, error_rate, p95| DeploySide { count, error_rate, p95_ms: Some(p95) };
        let s = CheckSettings::default();
        // The demo's hot-fix: 37 % fast failures before, none after; the p95 returns to normal.
        let (_, suspect, reasons) = verdict(&side(600, 0.37, 32.0), &side(600, 0.002, 110.0), &s);
        assert!(!suspect, "{reasons:?}");
        // The same p95 rise without the fix is suspect.
        assert!(verdict(&side(600, 0.002, 32.0), &side(600, 0.002, 110.0), &s).1);
    }
}

/// "0.4 %", "23 %".
fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p < 10.0 { format!("{p:.1} %") } else { format!("{p:.0} %") }
}

/// "412 ms", "1.3 s".
fn duration(ms: f64) -> String {
    if ms < 1000.0 { format!("{ms:.0} ms") } else { format!("{:.1} s", ms / 1000.0) }
}

fn side(b: &TxBucket) -> DeploySide {
    DeploySide {
        count: b.count,
        error_rate: if b.count > 0 { b.errors as f64 / b.count as f64 } else { 0.0 },
        p95_ms: b.quantiles.map(|q| q[1]),
    }
}

/// `service`'s transactions ending in the `window_ms` before and after `at_ms`.
pub async fn measure(store: &dyn TraceStore, service: &str, at_ms: i64, window_ms: i64) -> Result<(DeploySide, DeploySide), QueryError> {
    if window_ms <= 0 {
        return Ok((DeploySide::default(), DeploySide::default()));
    }
    let q = SeriesQuery {
        from: at_ms - window_ms,
        to: at_ms + window_ms,
        step_ms: window_ms,
        service: Some(service.to_string()),
        quantiles: true,
        ..Default::default()
    };
    let series = store.tx_series(q).await?;
    let buckets = series.first().map(|s| s.buckets.as_slice()).unwrap_or_default();
    let at = |i: usize| buckets.get(i).map(side).unwrap_or_default();
    Ok((at(0), at(1)))
}

/// Check passes over the deploy log, remembering when each deploy waiting for its verdict was first seen.
///
/// A deploy is judged once the span after it has passed **and** the check has known it for the settling
/// time ([`CheckSettings::settle_ms`]): a deploy learnt from old spans (a backfill, an exporter catching
/// up) is due at once by its timestamps, while the spans after it are still arriving.
pub struct Checker {
    settings: CheckSettings,
    /// `(service, version)` → when a pass first saw it unchecked (ms).
    known_since: HashMap<(String, String), i64>,
}

impl Checker {
    pub fn new(settings: CheckSettings) -> Self {
        Checker { settings, known_since: HashMap::new() }
    }

    /// Judges every deploy due at `now_ms` and records the verdicts; how many were judged. A store error
    /// ends the pass: the deploys not judged yet are judged by a later one.
    pub async fn pass(&mut self, store: &dyn TraceStore, log: &Arc<DeployLog>, now_ms: i64) -> anyhow::Result<usize> {
        let s = &self.settings;
        let mut checked = 0;
        // With `--config-db`, what other nodes noted and judged first (each is judged once, mostly).
        log.refresh().await?;
        for (deploy, next) in log.unchecked() {
            let key = (deploy.service.clone(), deploy.version.clone());
            let known_since = *self.known_since.entry(key.clone()).or_insert(now_ms);
            let window_ms = s.window_ms(deploy.at_ms, next);
            if now_ms < deploy.at_ms.saturating_add(window_ms).max(known_since).saturating_add(s.settle_ms()) {
                continue;
            }
            let (before, after) = measure(store, &deploy.service, deploy.at_ms, window_ms).await?;
            let (enough_traffic, suspect, reasons) = verdict(&before, &after, s);
            if suspect {
                tracing::warn!(service = %deploy.service, version = %deploy.version, reasons = %reasons.join("; "), "suspect deploy");
            }
            let check = DeployCheck { before, after, window_ms, enough_traffic, suspect, reasons, checked_at_ms: now_ms };
            log.record(&deploy.service, &deploy.version, check).await?;
            self.known_since.remove(&key);
            checked += 1;
        }
        Ok(checked)
    }
}

/// Checks deploys every [`CheckSettings::every`] until `stop` turns true.
pub fn spawn(store: Arc<dyn TraceStore>, log: Arc<DeployLog>, settings: CheckSettings, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut checker = Checker::new(settings);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = checker.pass(&*store, &log, crate::store::now_ms()).await {
                tracing::error!(error = %format!("{e:#}"), "deploy check failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(count: u64, error_rate: f64, p95_ms: f64) -> DeploySide {
        DeploySide { count, error_rate, p95_ms: Some(p95_ms) }
    }

    #[test]
    fn slower_p95_beyond_both_thresholds_is_suspect() {
        let s = CheckSettings::default();
        let (enough, suspect, reasons) = verdict(&side(100, 0.01, 412.0), &side(100, 0.01, 1_318.0), &s);
        assert!(enough && suspect);
        assert_eq!(reasons, vec!["p95 412 ms → 1.3 s (×3.2)".to_string()]);
    }

    #[test]
    fn the_same_latency_or_small_changes_pass() {
        let s = CheckSettings::default();
        assert_eq!(verdict(&side(100, 0.01, 200.0), &side(100, 0.01, 205.0), &s), (true, false, vec![]));
        // ×2 but only +40 ms: fast endpoints jitter.
        assert!(!verdict(&side(100, 0.0, 40.0), &side(100, 0.0, 80.0), &s).1);
        // +60 ms but only ×1.2.
        assert!(!verdict(&side(100, 0.0, 300.0), &side(100, 0.0, 360.0), &s).1);
        // Faster and fewer errors: better, not suspect.
        assert!(!verdict(&side(100, 0.2, 900.0), &side(100, 0.0, 100.0), &s).1);
    }

    #[test]
    fn more_errors_beyond_both_thresholds_is_suspect() {
        let s = CheckSettings::default();
        let (_, suspect, reasons) = verdict(&side(200, 0.004, 100.0), &side(200, 0.23, 100.0), &s);
        assert!(suspect);
        assert_eq!(reasons, vec!["error rate 0.4 % → 23 % (+22.6 points)".to_string()]);
        // +6 points but only ×1.2 (a service that always fails a lot).
        assert!(!verdict(&side(200, 0.30, 100.0), &side(200, 0.36, 100.0), &s).1);
        // ×3 but only +3 points.
        assert!(!verdict(&side(200, 0.015, 100.0), &side(200, 0.045, 100.0), &s).1);
    }

    #[test]
    fn too_few_transactions_give_no_verdict() {
        let s = CheckSettings::default();
        let (enough, suspect, reasons) = verdict(&side(19, 0.0, 100.0), &side(500, 1.0, 9_000.0), &s);
        assert!(!enough && !suspect);
        assert!(reasons[0].starts_with("not enough traffic: 19 transactions before, 500 after"), "{reasons:?}");
    }

    #[test]
    fn the_span_ends_at_the_next_version() {
        let s = CheckSettings::default();
        assert_eq!(s.window_ms(1_000, None), 300_000);
        assert_eq!(s.window_ms(1_000, Some(61_000)), 60_000);
        assert_eq!(s.window_ms(1_000, Some(10_000_000)), 300_000);
        assert_eq!(s.settle_ms(), 30_000);
        assert_eq!(s.every(), Duration::from_secs(30));
        let short = CheckSettings { after: Duration::from_secs(2), ..Default::default() };
        assert_eq!((short.settle_ms(), short.every()), (200, Duration::from_secs(1)));
    }
}
