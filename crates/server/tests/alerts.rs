//! Alerting end to end: a real server (in-process, or the `sightline` process for kill -9 and its log),
//! transactions ingested as OTLP to steer the values, and local HTTP receivers standing in for Slack and
//! webhooks, recording what they are sent. Every wait polls with a deadline.

mod common;
mod pg;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use sightline_model::alert::{
    AlertEventPage, AlertRule, AlertState, AlertsExport, AlertsOverview, Channel, ChannelTestResult, FiringSummary, RuleStatus,
    Silence, WebhookPayload,
};

/// A distinctive secret in every channel URL: it must never come back.
const SECRET: &str = "SECRETtoken7f3a9c";

// ---- a local receiver ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    Fail,
    Hang,
}

#[derive(Default)]
struct Recorded {
    mode: Option<Mode>,
    /// Bodies answered 2xx.
    got: Vec<Value>,
    attempts: usize,
}

#[derive(Clone)]
struct Receiver {
    rec: Arc<Mutex<Recorded>>,
    url: String,
}

impl Receiver {
    async fn start(mode: Mode) -> Receiver {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), mode).await
    }

    async fn start_on(listener: std::net::TcpListener, mode: Mode) -> Receiver {
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let rec = Arc::new(Mutex::new(Recorded { mode: Some(mode), ..Default::default() }));
        let r = rec.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let r = r.clone();
            async move {
                let mode = {
                    let mut g = r.lock().unwrap();
                    g.attempts += 1;
                    g.mode.unwrap()
                };
                match mode {
                    Mode::Ok => {
                        r.lock().unwrap().got.push(serde_json::from_slice(&body).unwrap());
                        (StatusCode::OK, "ok".to_string())
                    }
                    Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "boom: receiver broken".to_string()),
                    Mode::Hang => {
                        std::future::pending::<()>().await;
                        unreachable!()
                    }
                }
            }
        });
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { rec, url: format!("http://127.0.0.1:{port}/hooks/{SECRET}") }
    }

    fn set(&self, mode: Mode) {
        self.rec.lock().unwrap().mode = Some(mode);
    }

    fn got(&self) -> Vec<Value> {
        self.rec.lock().unwrap().got.clone()
    }

    fn attempts(&self) -> usize {
        self.rec.lock().unwrap().attempts
    }

    fn payloads(&self) -> Vec<WebhookPayload> {
        self.got().into_iter().map(|v| serde_json::from_value(v).unwrap()).collect()
    }
}

// ---- the server ----

/// An in-process server with its alert tasks running (links based at `http://sightline.test`).
async fn app_with(tweak: impl FnOnce(&mut sightline_server::config::ServeArgs)) -> (TestApp, tokio::sync::watch::Sender<bool>) {
    let app = TestApp::with(tweak).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    app.state.alerts.spawn("http://sightline.test", rx);
    (app, tx)
}

async fn ok<T: serde::de::DeserializeOwned>(app: &TestApp, method: &str, uri: &str, body: Option<Value>, want: StatusCode) -> T {
    let (s, v) = app.call(method, uri, body).await;
    assert_eq!(s, want, "{method} {uri}: {v}");
    serde_json::from_value(v).unwrap()
}

async fn channel(app: &TestApp, name: &str, url: &str) -> Channel {
    ok(app, "POST", "/api/v1/alerts/channels", Some(json!({"name": name, "kind": "webhook", "url": url})), StatusCode::CREATED).await
}

async fn rule(app: &TestApp, r: Value) -> AlertRule {
    ok(app, "POST", "/api/v1/alerts/rules", Some(r), StatusCode::CREATED).await
}

async fn status(app: &TestApp, id: &str) -> RuleStatus {
    ok(app, "GET", &format!("/api/v1/alerts/rules/{id}"), None, StatusCode::OK).await
}

/// The rule's one instance in `state`, waited for.
async fn wait_state(app: &TestApp, id: &str, state: AlertState, secs: u64) -> RuleStatus {
    wait_for(secs, &format!("rule {id} {state:?}"), String::new, || async {
        let s = status(app, id).await;
        s.instances.iter().any(|i| i.state == state).then_some(s)
    })
    .await
}

/// A p95 rule on service `service`, grouped by service, evaluated every second.
fn p95_rule(name: &str, service: &str, threshold: f64, for_s: u32, channels: &[&str]) -> Value {
    json!({
        "name": name,
        "source": {"kind": "metric", "metric": "transactions.response_time.p95", "filter": {"service": service},
                   "group_by": ["service"], "window_s": 2},
        "condition": {"op": "above", "threshold": threshold},
        "for_s": for_s, "interval_s": 1, "severity": "critical",
        "labels": {"team": "payments"}, "runbook": "Check the payment provider.", "channels": channels,
    })
}

/// Feeds transactions of `services` ending now, each with the duration its cell holds (0: none sent),
/// every 200 ms until dropped.
struct Feeder {
    durations: Vec<(String, Arc<AtomicU64>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Feeder {
    fn start(app: &TestApp, services: &[(&str, u64)]) -> Feeder {
        let durations: Vec<(String, Arc<AtomicU64>)> =
            services.iter().map(|(s, d)| (s.to_string(), Arc::new(AtomicU64::new(*d)))).collect();
        let router = app.router.clone();
        let cells = durations.clone();
        let task = tokio::spawn(async move {
            let mut n = 1_000_000u64;
            loop {
                for (service, d) in &cells {
                    let d = d.load(Ordering::Relaxed);
                    if d == 0 {
                        continue;
                    }
                    let now = now_ms();
                    let spans = (0..5)
                        .map(|i| {
                            n += 1;
                            server_span(n, n, "POST /api/pay", now - i, d as f64)
                        })
                        .collect();
                    let body = proto(&request(service, spans));
                    let req = Request::post("/v1/traces").header("content-type", "application/x-protobuf").body(Body::from(body)).unwrap();
                    let resp = tower::ServiceExt::oneshot(router.clone(), req).await.unwrap();
                    assert!(resp.status().is_success(), "ingest: {}", resp.status());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Feeder { durations, task }
    }

    fn set(&self, service: &str, d: u64) {
        self.durations.iter().find(|(s, _)| s == service).unwrap().1.store(d, Ordering::Relaxed);
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `rule`'s instances were evaluated `n` more times (by their `evaluated_ms`).
async fn evaluations(app: &TestApp, id: &str, n: i64) {
    let start = status(app, id).await.instances.iter().map(|i| i.evaluated_ms).max().unwrap_or(0);
    wait_for(30, "more evaluations", String::new, || async {
        let s = status(app, id).await;
        (s.instances.iter().map(|i| i.evaluated_ms).max().unwrap_or(0) >= start + n * 1000 - 100).then_some(())
    })
    .await;
}

// ---- the tests ----

/// Pending first, firing only after `for_s`; exactly one firing and one resolved message per incident
/// however many evaluations; two rules firing together share one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_after_for_once_per_incident_grouped() {
    let (app, _stop) = app_with(|a| a.alert_group_wait = 5.0).await;
    let r = Receiver::start(Mode::Ok).await;
    let ch = channel(&app, "On-call", &r.url).await;
    let feeder = Feeder::start(&app, &[("payment", 100)]);
    let a = rule(&app, p95_rule("Slow payment", "payment", 500.0, 3, &[&ch.id])).await;
    assert_eq!((a.id.as_str(), a.version), ("slow-payment", 1));
    let mut b = p95_rule("Slow payment avg", "payment", 500.0, 3, &[&ch.id]);
    b["source"]["metric"] = json!("transactions.response_time.avg");
    let b = rule(&app, b).await;
    // Healthy first: ok, with a value.
    let s = wait_state(&app, &a.id, AlertState::Ok, 30).await;
    assert!(s.instances[0].value.is_some_and(|v| v < 500.0), "{s:?}");
    assert_eq!(s.instances[0].labels, BTreeMap::from([("service".into(), "payment".into()), ("team".into(), "payments".into())]));

    feeder.set("payment", 900);
    let pending = wait_state(&app, &a.id, AlertState::Pending, 30).await;
    let pending_since = pending.instances[0].since_ms;
    let firing = wait_state(&app, &a.id, AlertState::Firing, 30).await;
    assert!(firing.instances[0].since_ms - pending_since >= 3000, "fired {} ms after pending", firing.instances[0].since_ms - pending_since);
    wait_state(&app, &b.id, AlertState::Firing, 30).await;
    let top: FiringSummary = ok(&app, "GET", "/api/v1/alerts/firing", None, StatusCode::OK).await;
    assert_eq!((top.firing, top.worst), (2, Some(sightline_model::alert::Severity::Critical)));

    let first = wait_for(30, "the firing message", || format!("{:?}", r.got()), || async { (!r.got().is_empty()).then(|| r.payloads()) }).await;
    let m = &first[0];
    assert_eq!(m.status, "firing");
    let mut rules: Vec<&str> = m.alerts.iter().map(|x| x.rule_id.as_str()).collect();
    rules.sort();
    assert_eq!(rules, [a.id.as_str(), b.id.as_str()], "both rules in one message: {m:?}");
    let alert = m.alerts.iter().find(|x| x.rule_id == a.id).unwrap();
    assert_eq!(alert.condition, "p95 > 500 ms for 3 s");
    assert!(alert.value.is_some_and(|v| v > 500.0));
    assert_eq!(alert.runbook, "Check the payment provider.");
    assert!(alert.link.starts_with("http://sightline.test/apm?service=payment&from="), "{}", alert.link);
    // Many evaluations later, still one message.
    evaluations(&app, &a.id, 4).await;
    assert_eq!(r.got().len(), 1, "{:?}", r.got());

    feeder.set("payment", 100);
    wait_state(&app, &a.id, AlertState::Resolved, 30).await;
    wait_state(&app, &b.id, AlertState::Resolved, 30).await;
    let all = wait_for(30, "the resolved message", || format!("{:?}", r.got()), || async { (r.got().len() >= 2).then(|| r.payloads()) }).await;
    assert_eq!(all[1].status, "resolved");
    assert_eq!(all[1].alerts.len(), 2);
    assert_ne!(all[0].message_id, all[1].message_id);
    evaluations(&app, &a.id, 4).await;
    assert_eq!(r.got().len(), 2, "one firing and one resolved message: {:?}", r.got());

    // The history, newest first: resolved, firing, pending, (ok: the instance's first appearance is no change).
    let h: AlertEventPage = ok(&app, "GET", &format!("/api/v1/alerts/events?rule={}", a.id), None, StatusCode::OK).await;
    let steps: Vec<(AlertState, AlertState)> = h.events.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(steps, [(AlertState::Firing, AlertState::Resolved), (AlertState::Pending, AlertState::Firing), (AlertState::Ok, AlertState::Pending)]);
    assert!(h.events[1].link.starts_with("/apm?service=payment&from="));
    let firing_only: AlertEventPage = ok(&app, "GET", "/api/v1/alerts/events?state=firing&limit=1", None, StatusCode::OK).await;
    assert_eq!(firing_only.events.len(), 1);
    assert!(firing_only.next_before_seq.is_some(), "two firing events: a next page");
    assert_eq!(app.call("GET", "/api/v1/alerts/events?state=burning", None).await.0, StatusCode::BAD_REQUEST);
}

/// A receiver answering 500 and one that hangs are retried — the first succeeds once it recovers — and
/// neither delays another channel or the evaluation of other rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_hanging_receivers_are_retried_without_delaying_others() {
    let (app, _stop) = app_with(|a| {
        a.alert_group_wait = 0.2;
        a.alert_retry_max = 1.0;
        a.alert_send_timeout = 2.0;
    })
    .await;
    let (broken, hanging, fine) = (Receiver::start(Mode::Fail).await, Receiver::start(Mode::Hang).await, Receiver::start(Mode::Ok).await);
    let c500 = channel(&app, "broken", &broken.url).await;
    let chang = channel(&app, "hanging", &hanging.url).await;
    let cok = channel(&app, "fine", &fine.url).await;
    // No transactions at all: a count below 1 holds at once.
    let silent = |name: &str, channels: &[&str]| {
        json!({"name": name, "source": {"kind": "metric", "metric": "transactions.count", "window_s": 2},
               "condition": {"op": "below", "threshold": 1}, "interval_s": 1, "channels": channels})
    };
    let x = rule(&app, silent("To the broken ones", &[&c500.id, &chang.id])).await;
    wait_for(30, "attempts at the broken and hanging receivers", String::new, || async {
        (broken.attempts() >= 1 && hanging.attempts() >= 1).then_some(())
    })
    .await;
    // The hanging receiver holds its request now; another rule fires and its channel gets it at once.
    let started = std::time::Instant::now();
    let y = rule(&app, silent("To the fine one", &[&cok.id])).await;
    wait_for(30, "the fine channel's message", String::new, || async { (!fine.got().is_empty()).then_some(()) }).await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(fine.payloads()[0].alerts[0].rule_id, y.id);
    // Both keep being tried, and rules keep being evaluated meanwhile.
    wait_for(30, "retries", || format!("broken {} hanging {}", broken.attempts(), hanging.attempts()), || async {
        (broken.attempts() >= 3 && hanging.attempts() >= 2).then_some(())
    })
    .await;
    evaluations(&app, &x.id, 2).await;
    let channels: Vec<Channel> = ok(&app, "GET", "/api/v1/alerts/channels", None, StatusCode::OK).await;
    let b = channels.iter().find(|c| c.id == c500.id).unwrap();
    assert_eq!(b.pending, 1);
    assert!(b.last_error.as_deref().is_some_and(|e| e.contains("500") && e.contains("boom")), "{b:?}");
    let h = channels.iter().find(|c| c.id == chang.id).unwrap();
    assert!(h.last_error.as_deref().is_some_and(|e| e.contains("no answer within")), "{h:?}");
    // Recovered: the queued message arrives, once.
    broken.set(Mode::Ok);
    wait_for(30, "delivery after recovery", String::new, || async { (!broken.got().is_empty()).then_some(()) }).await;
    let p = broken.payloads();
    assert_eq!((p.len(), p[0].alerts[0].rule_id.as_str(), p[0].status.as_str()), (1, x.id.as_str(), "firing"));
    wait_for(30, "the outbox emptied", String::new, || async {
        let channels: Vec<Channel> = ok(&app, "GET", "/api/v1/alerts/channels", None, StatusCode::OK).await;
        let b = channels.into_iter().find(|c| c.id == c500.id).unwrap();
        (b.pending == 0 && b.last_error.is_none()).then_some(())
    })
    .await;
    // The test button says what the receiver said, or that it did not answer.
    let t: ChannelTestResult = ok(&app, "POST", &format!("/api/v1/alerts/channels/{}/test", c500.id), None, StatusCode::OK).await;
    assert_eq!((t.ok, t.status), (true, Some(200)));
    broken.set(Mode::Fail);
    let t: ChannelTestResult = ok(&app, "POST", &format!("/api/v1/alerts/channels/{}/test", c500.id), None, StatusCode::OK).await;
    assert_eq!((t.ok, t.status, t.message.as_str()), (false, Some(500), "boom: receiver broken"));
    let t: ChannelTestResult = ok(&app, "POST", &format!("/api/v1/alerts/channels/{}/test", chang.id), None, StatusCode::OK).await;
    assert!(!t.ok && t.status.is_none() && t.message.contains("no answer"), "{t:?}");
}

/// A silenced alert changes state (shown as silenced) and sends nothing; when the silence is lifted while
/// it still fires, the firing is announced then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_alert_sends_nothing() {
    let (app, _stop) = app_with(|a| a.alert_group_wait = 0.2).await;
    let r = Receiver::start(Mode::Ok).await;
    let ch = channel(&app, "On-call", &r.url).await;
    let s: Silence = ok(
        &app,
        "POST",
        "/api/v1/alerts/silences",
        Some(json!({"matchers": {"team": "db"}, "until_ms": now_ms() + 3_600_000, "reason": "maintenance"})),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(s.created_by, "demo");
    let x = rule(
        &app,
        json!({"name": "Nothing happens", "source": {"kind": "metric", "metric": "transactions.count", "window_s": 2},
               "condition": {"op": "below", "threshold": 1}, "interval_s": 1, "labels": {"team": "db"}, "channels": [ch.id]}),
    )
    .await;
    let st = wait_state(&app, &x.id, AlertState::Firing, 30).await;
    assert_eq!(st.instances[0].silenced_by.as_deref(), Some(s.id.as_str()));
    evaluations(&app, &x.id, 3).await;
    assert!(r.got().is_empty(), "{:?}", r.got());
    let top: FiringSummary = ok(&app, "GET", "/api/v1/alerts/firing", None, StatusCode::OK).await;
    assert_eq!(top.firing, 0, "silenced alerts are not in the top bar");
    let h: AlertEventPage = ok(&app, "GET", "/api/v1/alerts/events", None, StatusCode::OK).await;
    assert_eq!(h.events[0].silenced_by.as_deref(), Some(s.id.as_str()));
    let list: Vec<Silence> = ok(&app, "GET", "/api/v1/alerts/silences", None, StatusCode::OK).await;
    assert_eq!(list.len(), 1);
    // Bad silences: every problem.
    let (st, v) = app.call("POST", "/api/v1/alerts/silences", Some(json!({"until_ms": 1, "reason": ""}))).await;
    assert_eq!((st, v["problems"].as_array().map(Vec::len)), (StatusCode::BAD_REQUEST, Some(3)), "{v}");
    assert_eq!(app.call("DELETE", &format!("/api/v1/alerts/silences/{}", s.id), None).await.0, StatusCode::NO_CONTENT);
    let got = wait_for(30, "the message once unsilenced", String::new, || async { (!r.got().is_empty()).then(|| r.payloads()) }).await;
    assert_eq!(got[0].status, "firing");
}

/// Bad rules and imports: 400 listing every problem, nothing saved; a stale save: 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rules_and_imports_are_refused_whole() {
    let (app, _stop) = app_with(|_| {}).await;
    let bad = json!({
        "name": "", "interval_s": 0, "channels": ["ghost"],
        "source": {"kind": "metric", "metric": "transactions.nope", "window_s": 0},
        "condition": {"op": "outside", "low": 5, "high": 1},
    });
    let (s, v) = app.call("POST", "/api/v1/alerts/rules", Some(bad.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let problems: Vec<String> = serde_json::from_value(v["problems"].clone()).unwrap();
    for want in ["name is empty", "interval_s", "window_s", "unknown metric", "low (5) is above high (1)", "unknown channel \"ghost\""] {
        assert!(problems.iter().any(|p| p.contains(want)), "{want}: {problems:#?}");
    }
    let mut dim = p95_rule("Dims", "payment", 1.0, 0, &[]);
    dim["source"]["group_by"] = json!(["colour"]);
    let (s, v) = app.call("POST", "/api/v1/alerts/rules", Some(dim)).await;
    assert!(s == StatusCode::BAD_REQUEST && v["problems"][0].as_str().unwrap().contains("no dimension \"colour\""), "{v}");
    // Negative "for" and malformed JSON: clear 400s.
    let mut neg = p95_rule("Neg", "payment", 1.0, 0, &[]);
    neg["for_s"] = json!(-5);
    let (s, v) = app.call("POST", "/api/v1/alerts/rules", Some(neg)).await;
    assert!(s == StatusCode::BAD_REQUEST && v["error"].as_str().unwrap().contains("for_s"), "{v}");
    let req = Request::post("/api/v1/alerts/import").header("content-type", "application/json").body(Body::from("{\"rules\": [")).unwrap();
    let (s, _, body) = app.send(req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    let overview: AlertsOverview = ok(&app, "GET", "/api/v1/alerts", None, StatusCode::OK).await;
    assert!(overview.rules.is_empty());

    // An import with one bad rule among good ones writes nothing.
    let good = serde_json::from_value::<AlertRule>(p95_rule("Good", "payment", 1.0, 0, &["pager"])).unwrap();
    let mut broken = good.clone();
    broken.id = "broken".into();
    broken.condition = sightline_model::alert::Condition::Above { threshold: f64::INFINITY };
    let x = AlertsExport {
        format_version: 1,
        rules: vec![good.clone(), broken],
        channels: vec![sightline_model::alert::ChannelExport { id: "pager".into(), name: "Pager".into(), kind: sightline_model::alert::ChannelKind::Slack }],
    };
    // (JSON has no infinity: serde_json writes null, which is not a number.)
    let (s, v) = app.call("POST", "/api/v1/alerts/import", Some(serde_json::to_value(&x).unwrap())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let mut x2 = x.clone();
    x2.format_version = 9;
    x2.rules[1].condition = sightline_model::alert::Condition::Outside { low: 2.0, high: 1.0 };
    x2.rules[1].interval_s = 0;
    let (s, v) = app.call("POST", "/api/v1/alerts/import", Some(serde_json::to_value(&x2).unwrap())).await;
    assert_eq!((s, v["problems"].as_array().map(Vec::len)), (StatusCode::BAD_REQUEST, Some(3)), "{v}");
    let overview: AlertsOverview = ok(&app, "GET", "/api/v1/alerts", None, StatusCode::OK).await;
    assert!(overview.rules.is_empty());
    assert!(ok::<Vec<Channel>>(&app, "GET", "/api/v1/alerts/channels", None, StatusCode::OK).await.is_empty());
    // The good part alone imports: the channel has no URL until an admin sets it.
    x2.format_version = 1;
    x2.rules.truncate(1);
    let overview: AlertsOverview = ok(&app, "POST", "/api/v1/alerts/import", Some(serde_json::to_value(&x2).unwrap()), StatusCode::OK).await;
    assert_eq!(overview.rules.len(), 1);
    let id = overview.rules[0].rule.id.clone();
    let channels: Vec<Channel> = ok(&app, "GET", "/api/v1/alerts/channels", None, StatusCode::OK).await;
    assert_eq!(channels[0].url_masked, "(no URL set)");

    // Stale save.
    let mut r = overview.rules[0].rule.clone();
    r.for_s = 30;
    let saved: AlertRule = ok(&app, "PUT", &format!("/api/v1/alerts/rules/{id}"), Some(json!(r)), StatusCode::OK).await;
    assert_eq!(saved.version, 2);
    let (s, v) = app.call("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(json!(r))).await;
    assert!(s == StatusCode::CONFLICT && v["error"].as_str().unwrap().contains("version 1, it is now at version 2"), "{v}");
    // An id that exists: 409 on create; unknown: 404.
    let mut dup = saved.clone();
    dup.version = 0;
    assert_eq!(app.call("POST", "/api/v1/alerts/rules", Some(json!(dup))).await.0, StatusCode::CONFLICT);
    assert_eq!(app.call("GET", "/api/v1/alerts/rules/nope", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call("DELETE", &format!("/api/v1/alerts/rules/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call("DELETE", &format!("/api/v1/alerts/rules/{id}"), None).await.0, StatusCode::NOT_FOUND);
}

/// A group that stops sending goes to no_data (not ok); a silent-service rule fires for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_stops_has_no_data_and_a_silent_service_fires() {
    let (app, _stop) = app_with(|_| {}).await;
    let feeder = Feeder::start(&app, &[("payment", 100), ("balance", 100)]);
    let mut by_service = p95_rule("p95 per service", "payment", 1e9, 0, &[]);
    by_service["source"]["filter"] = json!({});
    let r = rule(&app, by_service).await;
    let silent = rule(
        &app,
        json!({"name": "Service silent", "source": {"kind": "service_silent", "window_s": 2}, "condition": {"op": "no_data"}, "interval_s": 1}),
    )
    .await;
    wait_for(30, "both services ok", String::new, || async {
        let s = status(&app, &r.id).await;
        (s.instances.len() == 2 && s.instances.iter().all(|i| i.state == AlertState::Ok)).then_some(())
    })
    .await;
    feeder.set("balance", 0);
    let s = wait_state(&app, &r.id, AlertState::NoData, 30).await;
    let gone = s.instances.iter().find(|i| i.state == AlertState::NoData).unwrap();
    assert_eq!((gone.labels["service"].as_str(), gone.value), ("balance", None));
    assert!(s.instances.iter().any(|i| i.labels["service"] == "payment" && i.state == AlertState::Ok), "{s:?}");
    let s = wait_state(&app, &silent.id, AlertState::Firing, 30).await;
    let f = s.instances.iter().find(|i| i.state == AlertState::Firing).unwrap();
    assert_eq!((f.labels["service"].as_str(), f.value), ("balance", Some(0.0)));
    assert!(s.instances.iter().any(|i| i.labels["service"] == "payment" && i.state == AlertState::Ok), "{s:?}");
    // The preview of the p95 rule draws both services with the threshold.
    let p: sightline_model::alert::PreviewAnswer = ok(
        &app,
        "POST",
        "/api/v1/alerts/preview",
        Some(json!({"rule": r, "from": now_ms() - 60_000, "to": now_ms()})),
        StatusCode::OK,
    )
    .await;
    assert_eq!((p.series.len(), p.thresholds.as_slice(), p.unit.as_str()), (2, &[1e9][..], "ms"));
    drop(feeder);
}

/// kill -9 while a message is queued (its receiver down): after the restart it is sent, once. And the
/// channel URL (with its secret) is in no API answer and no log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_survive_kill_9_and_urls_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let log2 = dir.path().join("server2.log");
    let envs = [("SIGHTLINE_ALERT_GROUP_WAIT", "0.2"), ("SIGHTLINE_ALERT_RETRY_MAX", "1"), ("SIGHTLINE_LOG", "info")];
    // The receiver's port, not listening yet: deliveries are refused.
    let port_holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_holder.local_addr().unwrap().port();
    drop(port_holder);
    let url = format!("http://127.0.0.1:{port}/hooks/{SECRET}");
    let server = Server::start_logging(dir.path(), &envs, Some(&log));
    let base = server.base.clone();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let r = c.post(format!("{base}/api/v1/alerts/channels")).json(&json!({"name": "Slack", "kind": "slack", "url": url})).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let ch: Channel = r.json().await.unwrap();
    assert_eq!(ch.url_masked, format!("http://127.0.0.1:{port}/…/••••3a9c"));
    let rule = json!({"name": "Quiet", "source": {"kind": "metric", "metric": "transactions.count", "window_s": 2},
                      "condition": {"op": "below", "threshold": 1}, "interval_s": 1, "channels": [ch.id]});
    let r = c.post(format!("{base}/api/v1/alerts/rules")).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    // Queued and tried (refused) at least once.
    let get = |path: &str| {
        let (c, url) = (c.clone(), format!("{base}{path}"));
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    wait_for(30, "a failed attempt", String::new, || async {
        let list: Vec<Channel> = serde_json::from_str(&get("/api/v1/alerts/channels").await).unwrap();
        (list[0].pending == 1 && list[0].last_error.is_some()).then_some(())
    })
    .await;
    // The secret is in no answer: channels, export, overview, events, a channel test, errors.
    let test = c.post(format!("{base}/api/v1/alerts/channels/{}/test", ch.id)).send().await.unwrap().text().await.unwrap();
    let bad = c.post(format!("{base}/api/v1/alerts/channels")).json(&json!({"name": "", "kind": "webhook", "url": format!("ftp://x/{SECRET}")})).send().await.unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    let bad = bad.text().await.unwrap();
    let answers = [
        get("/api/v1/alerts/channels").await,
        get("/api/v1/alerts/export").await,
        get("/api/v1/alerts").await,
        get("/api/v1/alerts/events").await,
        get("/api/v1/alerts/firing").await,
        test.clone(),
        bad,
    ];
    for a in &answers {
        assert!(!a.contains(SECRET), "the secret leaked: {a}");
    }
    assert!(test.contains("\"ok\":false"), "{test}");
    server.kill9();

    // Restart with the receiver up: the queued message arrives, and only once (the firing state was kept).
    let receiver = Receiver::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), Mode::Ok).await;
    let server = Server::start_logging(dir.path(), &envs, Some(&log2));
    let base = server.base.clone();
    wait_for(30, "the message after the restart", String::new, || async { (!receiver.got().is_empty()).then_some(()) }).await;
    let got = receiver.got();
    assert_eq!(got[0]["blocks"][0]["type"], "header", "a Slack Block Kit message: {}", got[0]);
    assert!(got[0]["text"].as_str().unwrap().contains("FIRING Quiet"), "{}", got[0]);
    // The button opens the page and moment: the hitmap around the firing (based at the server that queued it).
    let button = got[0]["blocks"][2]["elements"][0]["url"].as_str().unwrap();
    assert!(button.starts_with("http://127.0.0.1:") && button.contains("/apm?from="), "{button}");
    assert!(got[0]["blocks"][1]["text"]["text"].as_str().unwrap().contains("condition: count &lt; 1"), "{}", got[0]);
    // Three evaluations later (and past the group window): still one.
    let (c2, t0) = (c.clone(), now_ms());
    wait_for(30, "evaluations after the restart", String::new, || async {
        let o: AlertsOverview = c2.get(format!("{base}/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
        (o.rules[0].instances[0].evaluated_ms > t0 + 3000 && o.rules[0].state == AlertState::Firing).then_some(())
    })
    .await;
    assert_eq!(receiver.got().len(), 1, "{:?}", receiver.got());
    server.stop();
    for l in [&log, &log2] {
        let text = std::fs::read_to_string(l).unwrap();
        assert!(text.contains("alert delivery failed") || l == &log2, "the failures are logged: {text}");
        assert!(!text.contains(SECRET), "the secret is in the log: {text}");
    }
}

/// A session blocking two others in a real PostgreSQL fires a blocking-session rule (per instance, with
/// the count), and resolves when the blocker commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_session_fires_and_resolves() {
    let cluster = pg::Cluster::new();
    cluster.create_monitor("monitor-pw-12");
    cluster.psql("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO accounts VALUES (1, 0)");
    let url = format!("postgres://monitor:monitor-pw-12@127.0.0.1:{}/postgres", cluster.port);
    let (app, _stop) = app_with(|a| {
        a.postgres = vec![sightline_server::collect::postgres::PgUrl(url)];
        a.pg_interval_ms = 500;
    })
    .await;
    app.state.db.spawn();
    let id = format!("127.0.0.1-{}-postgres", cluster.port);
    let r = rule(
        &app,
        json!({"name": "Blocker", "source": {"kind": "blocking_session", "min_blocked": 2}, "condition": {"op": "no_data"},
               "for_s": 1, "interval_s": 1}),
    )
    .await;
    let s = wait_state(&app, &r.id, AlertState::Ok, 30).await;
    assert_eq!((s.instances[0].labels["instance"].as_str(), s.instances[0].value), (id.as_str(), Some(0.0)));
    let connect = |name: &'static str| {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(cluster.socket_dir()).port(cluster.port).user("postgres").dbname("postgres").application_name(name);
        async move {
            let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        }
    };
    let holder = connect("holder").await;
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.unwrap();
    let mut waiting = Vec::new();
    for name in ["waiter-1", "waiter-2"] {
        let w = connect(name).await;
        waiting.push(tokio::spawn(async move { w.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1", &[]).await }));
    }
    let s = wait_state(&app, &r.id, AlertState::Firing, 30).await;
    assert!(s.instances[0].value.is_some_and(|v| v >= 2.0), "{s:?}");
    let h: AlertEventPage = ok(&app, "GET", &format!("/api/v1/alerts/events?rule={}", r.id), None, StatusCode::OK).await;
    assert_eq!(h.events[0].condition, "a session blocks ≥ 2 others for 1 s");
    assert!(h.events[0].link.starts_with(&format!("/db/{id}?at=")), "{}", h.events[0].link);
    holder.batch_execute("COMMIT").await.unwrap();
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap(), 1);
    }
    wait_state(&app, &r.id, AlertState::Resolved, 30).await;
}
