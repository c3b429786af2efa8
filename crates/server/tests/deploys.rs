//! The deploy check end to end: a real server (in-process) is sent OTLP spans of a service at one
//! version, then at a new one; the check's verdict appears in `GET /api/v1/deploys`, survives a reopening
//! of the data directory, and feeds the `deploys.suspect` metric an alert rule fires on. The deploy lies two
//! seconds in the future, so every span is stored well before the span after it ends; every wait polls
//! with a deadline.

mod common;

use axum::http::StatusCode;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::json;
use sightline_model::alert::{AlertEventPage, AlertRule, AlertState};
use sightline_model::{Deploy, DeployList};
use sightline_server::deploys::check::{self, CheckSettings};
use sightline_server::deploys::DeployLog;

/// The deploy check compares this many seconds after a deploy with as many before.
const AFTER_S: f64 = 2.0;

/// A request of `service` at `version`.
fn versioned(service: &str, version: &str, spans: Vec<opentelemetry_proto::tonic::trace::v1::Span>) -> ExportTraceServiceRequest {
    let mut req = request(service, spans);
    req.resource_spans[0].resource.as_mut().unwrap().attributes.push(kv("service.version", version));
    req
}

/// `n` transactions of about `dur_ms` each ending evenly spread in `[from, to)`, starting at or after
/// `starts_after` (the first one exactly then when `starts_after` is `Some`).
fn transactions(first_id: u64, n: u64, dur_ms: f64, (from, to): (i64, i64), starts_at: Option<i64>) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let first_end = starts_at.map_or(from, |s| s + dur_ms as i64);
    let gap = (to - first_end) / n as i64;
    (0..n)
        .map(|i| {
            let id = first_id + i;
            // The first keeps its exact duration (so it starts at `starts_at`); others jitter by a few ms.
            let d = if i == 0 { dur_ms } else { dur_ms + (i % 5) as f64 };
            server_span(id, id, "POST /api/pay", first_end + i as i64 * gap + if i == 0 { 0 } else { (i % 5) as i64 }, d)
        })
        .collect()
}

/// Sends `service` at 1.0 (100 ms) before `deploy_at`, then at 1.1 (`after_ms` each) from `deploy_at`;
/// `n` transactions on each side.
async fn deploy(app: &TestApp, service: &str, first_id: u64, deploy_at: i64, n: u64, after_ms: f64) {
    let span = (AFTER_S * 1000.0) as i64;
    let before = transactions(first_id, n, 100.0, (deploy_at - span, deploy_at - 150), None);
    let after = transactions(first_id + 1000, n, after_ms, (deploy_at, deploy_at + span - 50), Some(deploy_at));
    for req in [versioned(service, "1.0", before), versioned(service, "1.1", after)] {
        let (s, body) = app.post_proto(&req).await;
        assert!(s.is_success(), "ingest: {s} {}", String::from_utf8_lossy(&body));
    }
}

/// The deploy check running on `app` with the flags a `--deploy-check-after 2` server would have.
fn start_check(app: &TestApp) -> tokio::sync::watch::Sender<bool> {
    let mut args = sightline_server::config::ServeArgs::for_tests(app.dir.path());
    args.deploy_check_after = AFTER_S;
    let (tx, rx) = tokio::sync::watch::channel(false);
    check::spawn(app.state.store.clone(), app.state.deploys.clone(), args.deploy_check(), rx);
    tx
}

/// The deploys of `services` once each has a verdict.
async fn checked(app: &TestApp, around: i64, services: &[&str]) -> Vec<Deploy> {
    let uri = format!("/api/v1/deploys?from={}&to={}", around - 60_000, around + 60_000);
    wait_for(30, "deploy verdicts", String::new, || async {
        let list: DeployList = app.get_ok(&uri).await;
        let done: Vec<Deploy> = list.deploys.into_iter().filter(|d| d.previous.is_some() && d.check.is_some()).collect();
        services.iter().all(|s| done.iter().any(|d| d.service == *s)).then_some(done)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_version_is_suspect_the_same_latency_is_not() {
    let app = TestApp::new().await;
    let _stop = start_check(&app);
    let at = now_ms() + 2_000;
    deploy(&app, "pay-slow", 1, at, 40, 400.0).await;
    deploy(&app, "pay-same", 10_001, at, 40, 100.0).await;
    deploy(&app, "pay-quiet", 20_001, at, 5, 400.0).await;

    let deploys = checked(&app, at, &["pay-slow", "pay-same", "pay-quiet"]).await;
    let of = |s: &str| deploys.iter().find(|d| d.service == s).unwrap().clone();
    let slow = of("pay-slow");
    assert_eq!((slow.version.as_str(), slow.previous.as_deref(), slow.at_ms), ("1.1", Some("1.0"), at));
    let c = slow.check.unwrap();
    assert!(c.enough_traffic && c.suspect, "{c:?}");
    assert_eq!((c.before.count, c.after.count, c.window_ms), (40, 40, 2_000));
    assert_eq!(c.before.error_rate, 0.0);
    assert!(c.reasons.len() == 1 && c.reasons[0].starts_with("p95 10") && c.reasons[0].contains("→ 40"), "{:?}", c.reasons);
    assert!(c.checked_at_ms >= at + 2_000, "judged only after the span after the deploy: {c:?}");

    let same = of("pay-same").check.unwrap();
    assert!(same.enough_traffic && !same.suspect && same.reasons.is_empty(), "{same:?}");
    assert_eq!((same.before.count, same.after.count), (40, 40));

    let quiet = of("pay-quiet").check.unwrap();
    assert!(!quiet.enough_traffic && !quiet.suspect, "{quiet:?}");
    assert!(quiet.reasons[0].starts_with("not enough traffic: 5 transactions before, 5 after"), "{:?}", quiet.reasons);

    // The first version seen is not a deploy Sightline witnessed: never checked.
    let all: DeployList = app.get_ok(&format!("/api/v1/deploys?from={}&to={}&service=pay-slow", at - 60_000, at + 60_000)).await;
    assert!(all.deploys.iter().any(|d| d.version == "1.0" && d.check.is_none()));

    // Checked once: a later pass finds nothing to do; the verdicts are on disk for the next start.
    let settings = CheckSettings { after: std::time::Duration::from_secs_f64(AFTER_S), ..Default::default() };
    let mut checker = check::Checker::new(settings);
    assert_eq!(checker.pass(&*app.state.store, &app.state.deploys, now_ms()).await.unwrap(), 0);
    assert_eq!(checker.pass(&*app.state.store, &app.state.deploys, now_ms() + 60_000).await.unwrap(), 0);
    let dir = app.dir.path().to_path_buf();
    let reopened = sightline_server::blocking::run("reopening the deploy log", move || DeployLog::open(&dir)).await.unwrap();
    let again = reopened.list(at - 60_000, at + 60_000, Some("pay-slow"));
    assert_eq!(again.iter().find(|d| d.version == "1.1").unwrap().check, Some(c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_rule_on_deploys_suspect_fires() {
    let app = TestApp::new().await;
    let (_alerts_stop, rx) = tokio::sync::watch::channel(false);
    app.state.alerts.spawn("http://sightline.test", rx);
    let rule = json!({
        "name": "Suspect deploy",
        "source": {"kind": "metric", "metric": "deploys.suspect", "group_by": ["service"], "window_s": 5},
        "condition": {"op": "above", "threshold": 0},
        "for_s": 0, "interval_s": 1, "severity": "warning", "channels": [],
    });
    let (s, v) = app.call("POST", "/api/v1/alerts/rules", Some(rule)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rule: AlertRule = serde_json::from_value(v).unwrap();

    let _stop = start_check(&app);
    let at = now_ms() + 2_000;
    deploy(&app, "pay-slow", 1, at, 40, 400.0).await;
    deploy(&app, "pay-same", 10_001, at, 40, 100.0).await;
    checked(&app, at, &["pay-slow", "pay-same"]).await;

    let uri = format!("/api/v1/alerts/events?rule={}", rule.id);
    let events = wait_for(30, "the suspect deploy's alert", String::new, || async {
        let page: AlertEventPage = app.get_ok(&uri).await;
        page.events.iter().any(|e| e.to == AlertState::Firing).then_some(page.events)
    })
    .await;
    let firing: Vec<_> = events.iter().filter(|e| e.to == AlertState::Firing).collect();
    assert!(firing.iter().all(|e| e.labels.get("service").map(String::as_str) == Some("pay-slow")), "{firing:?}");
    assert_eq!(firing[0].value, Some(1.0));
}

/// The demo's bad payment release (3.<cycle>.0, hot-fixed a minute later) is suspect by its error rate,
/// judged over the minute it ran, with the default thresholds. Two minutes of the demo's history around
/// one such deploy are sent as the demo's backfill sends them; the check, seeing the deploy for the first
/// time, waits its settling time before judging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bad_payment_deploy_is_suspect() {
    use rand::SeedableRng;
    use sightline_server::demo::export::Backfill;
    use sightline_server::demo::incidents::{CYCLE_SECS, INCIDENT_SECS, PAYMENT_DEPLOY_AT};

    let app = TestApp::new().await;
    let cycle = (now_ms() as u64 / 1000) / CYCLE_SECS - 2;
    let deploy_s = cycle * CYCLE_SECS + PAYMENT_DEPLOY_AT;
    let ns = |s: u64| s * 1_000_000_000;
    let mut backfill = Backfill::new(rand::rngs::StdRng::seed_from_u64(14), ns(deploy_s - 70), ns(deploy_s + 70), 25.0);
    while let Some(req) = backfill.next_request() {
        let (s, body) = app.post_proto(&req).await;
        assert!(s.is_success(), "ingest: {s} {}", String::from_utf8_lossy(&body));
    }
    let mut checker = check::Checker::new(CheckSettings::default());
    let now = now_ms();
    assert_eq!(checker.pass(&*app.state.store, &app.state.deploys, now).await.unwrap(), 0, "a deploy just learnt waits");
    let settle = CheckSettings::default().settle_ms();
    assert!(checker.pass(&*app.state.store, &app.state.deploys, now + settle).await.unwrap() >= 1);
    let deploys = app.state.deploys.list(ns(deploy_s - 70) as i64 / 1_000_000, ns(deploy_s + 70) as i64 / 1_000_000, Some("payment"));
    let bad = deploys.iter().find(|d| d.version == format!("3.{}.0", cycle % 100)).unwrap_or_else(|| panic!("{deploys:?}"));
    let c = bad.check.as_ref().unwrap();
    assert!(c.suspect, "{c:?}");
    // The versions' first spans start within a second of the schedule's instants.
    let minute = INCIDENT_SECS as i64 * 1000;
    assert!((minute - 1_000..=minute + 1_000).contains(&c.window_ms), "judged over the minute before the hot-fix: {c:?}");
    assert!(c.reasons.iter().any(|r| r.starts_with("error rate")), "{:?}", c.reasons);
    // The hot-fix brings the error rate back down: not suspect.
    let fix = deploys.iter().find(|d| d.version == format!("3.{}.1", cycle % 100)).unwrap();
    assert!(!fix.check.as_ref().unwrap().suspect, "{fix:?}");
}
