//! Alerting in real headless Chromium against the real server (issue 12). On the demo workload: create a
//! Slack channel pointing at a local receiver and a rule on payment's p95, both in the UI; watch the rule go
//! pending → firing in the list, the top bar's badge count it and a marker appear on the hitmap; then follow
//! the link of the Slack message the receiver got to the page and moment it names. Also: an invalid rule
//! is refused with every problem shown and nothing saved; a channel's URL never shows in the page.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use support::demo::{self, now_ms};
use support::receiver::Receiver;
use support::{Browser, Server};

/// The secret part of the channel's URL: must never be seen in the page once saved.
const SECRET_PATH: &str = "/services/T0DEMO/B0DEMO/s3cr3tT0kenNeverShown";

/// Where the test leaves pictures of what it saw (target/e2e-alerts/), to look at when something is off.
fn shot(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-alerts");
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("{name}.png"))
}

/// Rules' state in the list, as `data-state` of the rule named `name`.
fn rule_state(name: &str) -> String {
    format!("[...document.querySelectorAll('[data-testid=rule-row]')].find(r => r.querySelector('[data-testid=rule-name]').textContent === {name:?})?.dataset.state")
}

/// A threshold payment's p95 is above at every evaluation: half the lowest p95 of the last minutes.
async fn always_crossed_threshold(server: &Server) -> f64 {
    let to = now_ms();
    let q = demo::api(
        server,
        &format!("/api/v1/metrics/query?metric=transactions.response_time.p95&filter=service:payment&from={}&to={to}&max_points=20", to - 10 * 60_000),
    )
    .await;
    let lowest = q["series"][0]["values"].as_array().unwrap().iter().filter_map(|v| v.as_f64()).fold(f64::INFINITY, f64::min);
    assert!(lowest.is_finite() && lowest > 0.0, "payment has a p95: {q}");
    (lowest / 2.0).floor().max(1.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_made_in_the_ui_fires_shows_in_the_top_bar_and_on_a_chart_and_its_slack_link_lands_on_the_moment() {
    let server = demo::start().await;
    let slack = Receiver::start().await;
    let b = Browser::start().await;

    // A Slack channel, in the UI.
    b.client.goto(&server.url("/alerts?tab=channels")).await.unwrap();
    b.click("[data-testid=new-channel]").await;
    b.set_value("[data-testid=channel-name]", "ops slack").await;
    b.set_value("[data-testid=channel-kind]", "slack").await;
    b.set_value("[data-testid=channel-url-input]", &slack.url(SECRET_PATH)).await;
    b.click("[data-testid=save-channel]").await;
    b.find("[data-testid=channel-row]").await;
    let masked = b.wait_text("[data-testid=channel-url]", |t| !t.is_empty()).await;
    assert!(!masked.contains("s3cr3tT0ken"), "masked: {masked}");
    let html = b.js("return document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap().contains("s3cr3tT0ken"), "the URL is gone from the page once saved");
    // "Send test message": the receiver's answer, inline.
    b.click("[data-testid=test-channel]").await;
    b.wait_js("document.querySelector('[data-testid=test-result]')?.dataset.ok === 'true'").await;
    b.wait_text("[data-testid=test-result]", |t| t.contains("200")).await;
    slack.wait_for(Duration::from_secs(10), |_| true).await;
    b.screenshot(&shot("channels")).await;

    // A rule on payment's p95, in the UI, with a threshold the demo is always above.
    let threshold = always_crossed_threshold(&server).await;
    b.click("[data-testid=alerts-tab-rules]").await;
    b.click("[data-testid=new-rule]").await;
    b.set_value("[data-testid=rule-name-input]", "payment p95 (e2e)").await;
    b.set_value("[data-testid=rule-metric]", "transactions.response_time.p95").await;
    b.set_value("[data-testid=filter-service]", "payment").await;
    b.set_value("[data-testid=rule-window]", "60").await;
    b.set_value("[data-testid=rule-op]", "above").await;
    b.set_value("[data-testid=rule-threshold]", &threshold.to_string()).await;
    b.set_value("[data-testid=rule-for]", "20").await;
    b.set_value("[data-testid=rule-interval]", "5").await;
    b.set_value("[data-testid=rule-severity]", "critical").await;
    b.set_value("[data-testid=rule-runbook]", "Check the payment release.").await;
    b.click("[data-testid=rule-channels] input[type=checkbox]").await;
    // The live preview: the metric with its threshold, and that it would have fired.
    // (the preview of what was typed: its threshold, once typing paused)
    b.wait_js(&format!("document.querySelector('[data-testid=preview-chart]')?.dataset.thresholds === '{threshold}'")).await;
    b.wait_js("document.querySelector('[data-testid=rule-preview] [data-testid=series-chart]')?.dataset.points > 0").await;
    b.wait_js("document.querySelector('[data-testid=preview-fired]')?.dataset.count > 0").await;
    assert!(b.exists("[data-testid=rule-preview] [data-testid=chart-shaded]").await, "firing moments shaded");
    b.screenshot(&shot("editor")).await;
    b.click("[data-testid=save-rule]").await;

    // In the list: pending, then firing after its 20 s.
    let name = "payment p95 (e2e)";
    b.wait_js_within(&format!("{} === 'pending'", rule_state(name)), Duration::from_secs(60)).await;
    b.wait_js_within(&format!("{} === 'firing'", rule_state(name)), Duration::from_secs(60)).await;
    // The top bar counts it, coloured by its severity.
    b.wait_js_within("Number(document.querySelector('[data-testid=firing-badge]')?.dataset.count) >= 1", Duration::from_secs(30)).await;
    b.wait_js("document.querySelector('[data-testid=firing-badge]').dataset.severity === 'critical'").await;
    // Its instance, opened.
    b.click("[data-testid=rule-row] [data-testid=toggle-instances]").await;
    b.wait_js("document.querySelector('[data-testid=instance-row]')?.dataset.state === 'firing'").await;
    b.screenshot(&shot("rules")).await;

    // The firing message reached "Slack", with a link to the moment.
    let msg = slack.wait_for(Duration::from_secs(60), |b| b.contains("payment p95 (e2e)") && b.to_lowercase().contains("firing")).await;
    assert!(!msg.contains("s3cr3tT0ken"));
    let base = server.url("/");
    let start = msg.find(&base).unwrap_or_else(|| panic!("a link to {base} in {msg}"));
    let link: String = msg[start..].chars().take_while(|c| !matches!(c, '|' | '>' | '"' | ' ' | '\\')).collect();

    // A marker on a chart: the hitmap of payment, over the last 15 minutes.
    b.client.goto(&server.url("/apm?service=payment&range=15m")).await.unwrap();
    b.wait_js_within("document.querySelector('[data-testid=alert-marker][data-state=firing]')", Duration::from_secs(30)).await;
    let title = b.js("return document.querySelector('[data-testid=alert-marker][data-state=firing]').title").await;
    assert!(title.as_str().unwrap().contains(name) && title.as_str().unwrap().contains("firing"), "{title}");
    b.screenshot(&shot("hitmap-marker")).await;
    // …and on the charts of the default board (APM overview).
    let boards = demo::api(&server, "/api/v1/boards").await;
    let board = boards["boards"][0]["id"].as_str().unwrap_or_else(|| panic!("the default board: {boards}")).to_string();
    b.client.goto(&server.url(&format!("/boards/{board}?range=15m"))).await.unwrap();
    b.wait_js_within("document.querySelector('[data-testid=series-chart] [data-testid=alert-marker][data-state=firing]')", Duration::from_secs(30)).await;
    b.screenshot(&shot("board-marker")).await;

    // The history lists the changes, newest first, each linking to its moment.
    b.client.goto(&server.url("/alerts?tab=history")).await.unwrap();
    b.wait_js("[...document.querySelectorAll('[data-testid=event-row]')].some(r => r.dataset.to === 'firing')").await;
    b.screenshot(&shot("history")).await;

    // Follow the link: the page and time range it names.
    let url = url_parts(&link);
    b.client.goto(&link).await.unwrap();
    b.wait_js(&format!("location.pathname === {:?}", url.0)).await;
    let (from, to) = (url.1.expect("the link names a from"), url.2.expect("the link names a to"));
    b.wait_js(&format!(
        "(() => {{ const q = new URLSearchParams(location.search); return q.get('from') === '{from}' && q.get('to') === '{to}'; }})()"
    ))
    .await;
    assert!(from < to && to > now_ms() - 10 * 60_000, "a recent window: {link}");
    let page = match url.0.as_str() {
        "/apm" | "/" => "[data-testid=page-apm]",
        p if p.starts_with("/boards/") => "[data-testid=board-grid], [data-testid=board-empty]",
        p if p.starts_with("/db") => "[data-testid=page-db]",
        _ => "main.page",
    };
    b.find(page).await;
    // The shown range is the link's (absolute: the range label shows dates, live is off).
    b.wait_text("[data-testid=range-label]", |t| t.contains('→')).await;

    // A silence on the rule: its alert shows as silenced and the top bar stops counting it.
    b.client.goto(&server.url("/alerts?tab=silences")).await.unwrap();
    b.click("[data-testid=new-silence]").await;
    b.wait_js(&format!("[...document.querySelectorAll('[data-testid=silence-rule] option')].some(o => o.textContent === {name:?})")).await;
    let rule_id = b.js(&format!("return [...document.querySelectorAll('[data-testid=silence-rule] option')].find(o => o.textContent === {name:?}).value")).await;
    b.set_value("[data-testid=silence-rule]", rule_id.as_str().unwrap()).await;
    b.set_value("[data-testid=silence-for]", "1h").await;
    b.set_value("[data-testid=silence-reason]", "e2e: known incident").await;
    b.click("[data-testid=save-silence]").await;
    b.wait_text("[data-testid=silence-row]", |t| t.contains("e2e: known incident")).await;
    b.click("[data-testid=alerts-tab-rules]").await;
    b.click("[data-testid=rule-row] [data-testid=toggle-instances]").await;
    b.wait_js_within("document.querySelector('[data-testid=instance-row]')?.dataset.silenced === 'true'", Duration::from_secs(30)).await;
    b.wait_js_within("!document.querySelector('[data-testid=firing-badge]')", Duration::from_secs(30)).await;
    b.close().await;
}

/// Path, `from` and `to` of a link.
fn url_parts(link: &str) -> (String, Option<i64>, Option<i64>) {
    let rest = link.split_once("://").map_or(link, |(_, r)| r);
    let path_q = rest.find('/').map_or("/", |i| &rest[i..]);
    let (path, q) = path_q.split_once('?').unwrap_or((path_q, ""));
    let get = |k: &str| q.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}="))).and_then(|v| v.parse().ok());
    (path.to_string(), get("from"), get("to"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_rule_shows_every_problem_and_nothing_is_saved_and_a_channel_url_never_shows() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/alerts")).await.unwrap();
    b.click("[data-testid=new-rule]").await;
    b.find("[data-testid=rule-metric] option").await;
    // No name, an empty window, an inverted range, evaluated every 0 s.
    b.set_value("[data-testid=rule-name-input]", "").await;
    b.set_value("[data-testid=rule-window]", "0").await;
    b.set_value("[data-testid=rule-op]", "outside").await;
    b.set_value("[data-testid=rule-low]", "900").await;
    b.set_value("[data-testid=rule-high]", "100").await;
    b.set_value("[data-testid=rule-interval]", "0").await;
    b.click("[data-testid=save-rule]").await;
    b.find("[data-testid=rule-problems]").await;
    let problems = b.js("return [...document.querySelectorAll('[data-testid=rule-problems] [data-testid=problem]')].map(p => p.textContent)").await;
    let problems: Vec<String> = problems.as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_lowercase()).collect();
    assert!(problems.len() >= 4, "every problem listed: {problems:?}");
    for word in ["name", "window", "interval"] {
        assert!(problems.iter().any(|p| p.contains(word)), "a problem about the {word}: {problems:?}");
    }
    assert!(problems.iter().any(|p| p.contains("low") || p.contains("high")), "the range: {problems:?}");
    assert!(b.exists("[data-testid=rule-editor]").await, "the form stays open with what was typed");
    b.screenshot(&shot("invalid-rule")).await;
    let saved = demo::api(&server, "/api/v1/alerts").await;
    assert_eq!(saved["rules"].as_array().unwrap().len(), 0, "nothing saved: {saved}");

    // An import with bad rules: every problem listed, nothing imported.
    b.client.goto(&server.url("/alerts")).await.unwrap();
    b.click("[data-testid=alerts-import-open]").await;
    let bad = r#"{"format_version":1,"channels":[],"rules":[{"name":"","source":{"kind":"metric","metric":"no.such.metric","window_s":60},"condition":{"op":"above","threshold":1},"interval_s":0}]}"#;
    b.set_value("[data-testid=alerts-import-json]", bad).await;
    b.click("[data-testid=alerts-import-send]").await;
    b.find("[data-testid=import-problems]").await;
    let listed = b.js("return [...document.querySelectorAll('[data-testid=import-problems] [data-testid=problem]')].map(p => p.textContent)").await;
    let listed = listed.to_string();
    assert!(listed.contains("no.such.metric") && listed.contains("name") && listed.contains("interval"), "every problem: {listed}");
    let saved = demo::api(&server, "/api/v1/alerts").await;
    assert_eq!(saved["rules"].as_array().unwrap().len(), 0, "nothing imported: {saved}");
    b.client.goto(&server.url("/alerts")).await.unwrap();

    // Two people edit the same rule: the later save is refused (409) and says so; their version loads.
    let http = reqwest::Client::new();
    let rule = serde_json::json!({
        "name": "checkout slow", "severity": "warning", "for_s": 60, "interval_s": 15,
        "source": {"kind": "metric", "metric": "transactions.response_time.p95", "window_s": 60},
        "condition": {"op": "above", "threshold": 800.0},
    });
    let r = http.post(server.url("/api/v1/alerts/rules")).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    b.client.goto(&server.url(&format!("/alerts?edit={id}"))).await.unwrap();
    b.wait_js("document.querySelector('[data-testid=rule-name-input]')?.value === 'checkout slow'").await;
    let mut theirs = created.clone();
    theirs["name"] = "checkout slow (their edit)".into();
    let r = http.put(server.url(&format!("/api/v1/alerts/rules/{id}"))).json(&theirs).send().await.unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    b.set_value("[data-testid=rule-name-input]", "checkout slow (my edit)").await;
    b.click("[data-testid=save-rule]").await;
    b.find("[data-testid=rule-conflict]").await;
    b.click("[data-testid=reload-rule]").await;
    b.wait_js("document.querySelector('[data-testid=rule-name-input]')?.value === 'checkout slow (their edit)'").await;
    let now = demo::api(&server, &format!("/api/v1/alerts/rules/{id}")).await;
    assert_eq!(now["rule"]["name"], "checkout slow (their edit)", "mine did not overwrite theirs");

    // A webhook channel: its URL is never shown, not even in the edit form; empty on edit keeps it.
    let url = format!("https://hooks.example.com{SECRET_PATH}");
    b.client.goto(&server.url("/alerts?tab=channels")).await.unwrap();
    b.click("[data-testid=new-channel]").await;
    b.set_value("[data-testid=channel-name]", "ops webhook").await;
    b.set_value("[data-testid=channel-kind]", "webhook").await;
    b.set_value("[data-testid=channel-url-input]", &url).await;
    b.click("[data-testid=save-channel]").await;
    b.find("[data-testid=channel-row]").await;
    let no_secret = "!document.documentElement.outerHTML.includes('s3cr3tT0ken') && ![...document.querySelectorAll('input')].some(i => i.value.includes('s3cr3tT0ken'))";
    b.wait_js(no_secret).await;
    b.click("[data-testid=edit-channel]").await;
    b.find("[data-testid=channel-form]").await;
    let field = b.js("return document.querySelector('[data-testid=channel-url-input]').value").await;
    assert_eq!(field, "", "the URL field is never filled in");
    b.set_value("[data-testid=channel-name]", "ops webhook (renamed)").await;
    b.click("[data-testid=save-channel]").await;
    b.wait_text("[data-testid=channel-row]", |t| t.contains("renamed")).await;
    b.wait_js(no_secret).await;
    let channels = demo::api(&server, "/api/v1/alerts/channels").await;
    assert!(!channels.to_string().contains("s3cr3tT0ken"), "{channels}");
    let masked = channels[0]["url_masked"].as_str().unwrap();
    assert!(masked.ends_with(&SECRET_PATH[SECRET_PATH.len() - 4..]), "the stored URL was kept on edit: {masked}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_reads_the_alerts_and_is_offered_no_change() {
    use support::auth::ApiSession;
    let server = Server::start_signed_out(&[]).await;
    let admin = ApiSession::admin(&server).await;
    admin.add_user("vera", "viewer", "viewer-password-1234").await;
    let rule = serde_json::json!({
        "name": "errors up", "source": {"kind": "metric", "metric": "transactions.error_rate", "window_s": 60},
        "condition": {"op": "above", "threshold": 0.05},
    });
    admin.ok(reqwest::Method::POST, "/api/v1/alerts/rules", Some(rule)).await;
    let b = Browser::start().await;
    b.sign_in_at(&server, "/alerts", "vera", "viewer-password-1234").await;
    b.wait_text("[data-testid=rule-row] [data-testid=rule-name]", |t| t == "errors up").await;
    // The session is known once the user menu names her; then nothing to change is offered.
    b.wait_text("[data-testid=user-area]", |t| t.contains("vera")).await;
    for hidden in ["new-rule", "edit-rule", "delete-rule", "alerts-import-open", "alerts-export"] {
        assert!(!b.exists(&format!("[data-testid={hidden}]")).await, "{hidden} is not offered to a viewer");
    }
    b.click("[data-testid=alerts-tab-channels]").await;
    b.find("[data-testid=channels-empty]").await;
    assert!(!b.exists("[data-testid=new-channel]").await);
    b.click("[data-testid=alerts-tab-silences]").await;
    b.find("[data-testid=silences-empty]").await;
    assert!(!b.exists("[data-testid=new-silence]").await);
    b.close().await;
}
