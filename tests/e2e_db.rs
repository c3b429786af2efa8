//! The database page in real headless Chromium against the real server monitoring a real PostgreSQL 15
//! (throwaway cluster, see `crates/server/tests/pg`): the lock tree shows a blocked session under its
//! blocker, clicking the total-runtime graph lists the pgbench statements of that moment, dragging a window on
//! it lists the sessions and statements of that window, the slider replays
//! a lock tree after the conflict ended, and a stopped cluster shows as down, then up again.
#![cfg(not(target_arch = "wasm32"))]

mod support;
#[path = "../crates/server/tests/pg/mod.rs"]
mod pg;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use pg::{run, Cluster};
use support::{Browser, Server};

const PASSWORD: &str = "e2e-monitor-pw-93";

/// The tests of this file each run a PostgreSQL cluster, load and a browser: one at a time, so their
/// timing does not depend on each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A background psql, killed when dropped.
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The backend pid of the session with this application name, waiting until it exists.
fn pid_of(c: &Cluster, app: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = c.psql(&format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{app}'"));
        if let Ok(p) = out.parse() {
            return p;
        }
        assert!(Instant::now() < deadline, "no session {app}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The total-runtime graph's canvas, where the tests click and drag.
const GRAPH: &str = "[data-testid=chart-total-runtime] [data-testid=chart-canvas]";

/// The mouse to `(x_fraction × width, y)` CSS px from the top-left of the element matching `css`, and a real
/// click there when `click`.
async fn mouse_at(b: &Browser, css: &str, x_fraction: f64, y: f64, click: bool) {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let rect = b.js(&format!("const r = document.querySelector('{css}').getBoundingClientRect(); return [r.left, r.top, r.width];")).await;
    let (left, top, width) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap(), rect[2].as_f64().unwrap());
    let mut mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo { duration: None, x: (left + width * x_fraction).round(), y: (top + y).round() });
    if click {
        mouse = mouse.then(PointerAction::Down { button: MOUSE_BUTTON_LEFT }).then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    }
    b.client.perform_actions(mouse).await.expect("mouse");
    let _ = b.client.release_actions().await;
}

async fn click_at(b: &Browser, css: &str, x_fraction: f64, y: f64) {
    mouse_at(b, css, x_fraction, y, true).await;
}

/// Sends `spans` as running `version` of their service (`service.version`), as a deploy would.
async fn send_versioned(server: &Server, version: &str, spans: &[support::otlp::TestSpan]) {
    let mut body = support::otlp::export_json(spans);
    body["resourceSpans"][0]["resource"]["attributes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"key": "service.version", "value": {"stringValue": version}}));
    let r = reqwest::Client::new().post(server.url("/v1/traces")).json(&body).send().await.unwrap();
    assert!(r.status().is_success());
}

// One scenario over one cluster (starting PostgreSQL and its load is the slow part), hence the length.
#[tokio::test(flavor = "multi_thread")]
async fn db_page_shows_locks_sessions_of_a_clicked_moment_replay_and_outage() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::new();
    cluster.psql(&format!(
        "CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor; CREATE EXTENSION pg_stat_statements; \
         CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO accounts VALUES (1, 0), (2, 0);"
    ));
    run(cluster.pgbench(&["-i", "-s", "1", "-q"]).stdout(Stdio::null()).stderr(Stdio::null()));
    let url = format!("postgres://monitor:{PASSWORD}@127.0.0.1:{}/postgres", cluster.port);
    let server = Server::start_with(&["--postgres", &url, "--pg-interval-ms", "500"]).await;
    let id = format!("127.0.0.1-{}-postgres", cluster.port);

    // Load, and a session holding a row lock that another one waits for.
    let _bench = Bg(cluster.pgbench(&["-T", "30", "-c", "4", "-n"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    let holder = Bg(cluster
        .psql_cmd("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1; SELECT pg_sleep(60); COMMIT;")
        .env("PGAPPNAME", "holder")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let holder_pid = pid_of(&cluster, "holder");
    std::thread::sleep(Duration::from_millis(300));
    let _waiter = Bg(cluster
        .psql_cmd("UPDATE accounts SET balance = balance + 10 WHERE id = 1")
        .env("PGAPPNAME", "waiter")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let waiter_pid = pid_of(&cluster, "waiter");

    let b = Browser::start().await;
    // A direct link to the instance (`/db/{instance}`) opens it, chosen.
    b.client.goto(&server.url(&format!("/db/{id}"))).await.unwrap();
    b.find(&format!("[data-testid=db-instance][data-id='{id}'][data-status=up].selected")).await;

    // The lock tree: the waiter under its head blocker, with the lock it waits for.
    let waiter_css = format!("[data-testid=lock-node][data-pid='{holder_pid}'][data-role='head blocker'] [data-testid=lock-node][data-pid='{waiter_pid}']");
    b.find(&waiter_css).await;
    let conflict_seen = now_ms();
    let wait = b.wait_text(&format!("{waiter_css} [data-testid=lock-wait]"), |t| t.contains("ShareLock")).await;
    assert!(wait.contains("accounts"), "{wait}");

    // The graphs are the board charts: a read-out of the sample under the pointer (its time to the second,
    // the value in the graph's unit), and a deploy seen while the page is open marked on every graph.
    b.wait_js("+document.querySelector('[data-testid=chart-total-runtime] [data-testid=series-chart]').dataset.points > 1").await;
    mouse_at(&b, GRAPH, 0.6, 50.0, false).await;
    let readout = b.wait_text("[data-testid=chart-total-runtime] [data-testid=chart-tooltip]", |t| !t.is_empty()).await;
    let time = readout.lines().next().unwrap_or_default();
    assert!(time.len() == 8 && time.matches(':').count() == 2, "a sample's time: {readout}");
    let value = readout.split("total runtime").nth(1).unwrap_or_default().trim();
    assert!(value.ends_with(" ms") || value.ends_with(" s"), "the sample's total runtime, a duration: {readout}");
    let sent = now_ms() as f64;
    send_versioned(&server, "1.0", &[support::otlp::transaction("shop", 1, "GET /", sent - 600_000.0, 5.0, false)]).await;
    send_versioned(&server, "1.1", &[support::otlp::transaction("shop", 2, "GET /", sent, 5.0, false)]).await;
    b.wait_js("document.querySelectorAll('[data-testid=db-graphs] [data-testid=deploy-marker]').length === 6").await;

    // Click the newest moment of the total-runtime graph: the sessions of that sample are listed beside it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    click_at(&b, GRAPH, 0.995, 50.0).await;
    b.wait_js("location.search.includes('at=')").await;
    b.wait_text("[data-testid=db-sessions] h2", |t| t.starts_with("Sessions at")).await;
    // The chosen moment is drawn on every graph.
    b.wait_js("document.querySelectorAll('[data-testid=chart-at]').length === 6").await;
    let texts = b
        .js("return [...document.querySelectorAll('[data-testid=session-query]')].map(e => e.textContent)")
        .await;
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    assert!(texts.iter().any(|t| t.contains("pgbench_")), "pgbench statements at the clicked moment: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("balance + 10")), "the waiting UPDATE too: {texts:?}");
    // Top statements come from pg_stat_statements.
    b.wait_js("[...document.querySelectorAll('[data-testid=statement-row]')].some(r => r.textContent.includes('pgbench_'))").await;

    // Drag a window on the total-runtime graph: every graph highlights it, and the sessions and statements
    // its samples saw are listed beside the graphs, longest first; Esc clears the selection.
    let width = b.js(&format!("return document.querySelector('{GRAPH}').getBoundingClientRect().width")).await;
    let width = width.as_f64().unwrap();
    b.drag(GRAPH, (width * 0.5, 50.0), (width * 0.995, 50.0)).await;
    b.wait_js("location.search.includes('sel=') && !location.search.includes('at=')").await;
    b.find("[data-testid=db-window-sessions] [data-testid=window-row]").await;
    let highlighted = b.js("return document.querySelectorAll('[data-testid=chart-selection]').length").await;
    assert_eq!(highlighted.as_u64(), Some(6), "the window is highlighted on all six graphs");
    let texts = b.js("return [...document.querySelectorAll('[data-testid=window-query]')].map(e => e.textContent)").await;
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    assert!(texts.iter().any(|t| t.contains("pgbench_")), "pgbench statements in the window: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("balance + 10")), "the waiting UPDATE too: {texts:?}");
    // Longest first; the waiter has waited longer than any pgbench statement ran.
    assert!(texts[0].contains("balance + 10") || texts[0].contains("pg_sleep"), "longest first: {texts:?}");
    b.find("[data-testid=sort-window-elapsed]").await.click().await.unwrap();
    b.wait_text("[data-testid=sort-window-elapsed]", |t| t.contains('▲')).await;
    let waits = b.js("return [...document.querySelectorAll('[data-testid=window-row]')].map(e => e.textContent).join('|')").await;
    assert!(waits.as_str().unwrap().contains("Lock: transactionid"), "waits seen: {waits}");
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); return true;").await;
    b.wait_js("!location.search.includes('sel=')").await;
    b.wait_js("document.querySelectorAll('[data-testid=chart-selection]').length === 0").await;
    b.find("[data-testid=db-sessions]").await;
    click_at(&b, GRAPH, 0.995, 50.0).await;
    b.wait_js("location.search.includes('at=')").await;

    // End the conflict, go live: the tree empties. Then replay a stored sample that had the lock wait.
    // (Killing psql alone would not do: the backend notices only after its pg_sleep.)
    let conflict_until = now_ms();
    cluster.psql(&format!("SELECT pg_terminate_backend({holder_pid})"));
    drop(holder);
    b.find("[data-testid=db-live]").await.click().await.unwrap();
    b.find("[data-testid=locks-empty]").await;
    let samples: serde_json::Value =
        reqwest::get(server.url(&format!("/api/v1/db/instances/{id}/samples"))).await.unwrap().json().await.unwrap();
    let times: Vec<i64> = serde_json::from_value(samples["times"].clone()).unwrap();
    let lock_times: Vec<i64> = serde_json::from_value(samples["lock_times"].clone()).unwrap();
    // A sample taken while the holder still blocked the waiter (pgbench's own short lock waits make other
    // samples lock samples too, before and after).
    let during = *lock_times
        .iter()
        .find(|t| **t >= conflict_seen && **t <= conflict_until)
        .expect("a lock sample during the conflict");
    let idx = times.iter().position(|t| *t == during).unwrap();
    // The page refreshes its own list of samples every few seconds: wait until it has this one, or the
    // browser clamps the slider to an older end of the list.
    b.wait_js(&format!("+document.querySelector('[data-testid=lock-slider]').max >= {idx}")).await;
    b.js(&format!(
        "const s = document.querySelector('[data-testid=lock-slider]'); s.value = '{idx}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); return true;"
    ))
    .await;
    b.find(&waiter_css).await;

    // Stop the cluster: the card says down, with why; start it: up again.
    cluster.stop("fast");
    b.find(&format!("[data-testid=db-instance][data-id='{id}'][data-status=down]")).await;
    let err = b.find("[data-testid=db-instance-error]").await.text().await.unwrap();
    assert!(!err.is_empty() && !err.contains(PASSWORD), "{err}");
    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(40);
    while !b.exists(&format!("[data-testid=db-instance][data-id='{id}'][data-status=up]")).await {
        assert!(Instant::now() < deadline, "the instance never came back up on the page");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.close().await;
}

/// A request that fails is said where its data would be: a link to an instance the server does not monitor
/// shows the server's refusal in the graphs' and the replay's place, and when the server stops answering they
/// say it cannot be reached, beside what they showed before.
#[tokio::test(flavor = "multi_thread")]
async fn db_page_shows_failed_requests_where_their_data_would_be() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // A monitored instance nobody listens for: listed (down), no PostgreSQL needed.
    let port = support::free_port();
    let url = format!("postgres://monitor:{PASSWORD}@127.0.0.1:{port}/postgres");
    let mut server = Server::start_with(&["--postgres", &url]).await;
    let id = format!("127.0.0.1-{port}-postgres");
    let b = Browser::start().await;

    b.client.goto(&server.url("/db/no-such-instance")).await.unwrap();
    b.find(&format!("[data-testid=db-instance][data-id='{id}']")).await;
    let graphs = b.wait_text("[data-testid=db-graphs] [data-testid=error]", |t| t.contains("DB metrics")).await;
    assert!(graphs.contains("no monitored database instance \"no-such-instance\" (HTTP 404)"), "{graphs}");
    let replay = b.wait_text("[data-testid=db-locks] [data-testid=error]", |t| t.contains("stored samples")).await;
    assert!(replay.contains("(HTTP 404)"), "{replay}");

    b.client.goto(&server.url(&format!("/db/{id}"))).await.unwrap();
    b.find(&format!("[data-testid=db-instance][data-id='{id}'].selected")).await;
    b.find("[data-testid=chart-total-runtime] [data-testid=series-chart]").await;
    b.find("[data-testid=locks-empty]").await;
    assert!(!b.exists("[data-testid=error]").await, "nothing failed yet");
    server.kill();
    let graphs = b.wait_text("[data-testid=db-graphs] [data-testid=error]", |t| t.contains("DB metrics")).await;
    assert!(graphs.contains("cannot reach the Sightline server"), "{graphs}");
    let replay = b.wait_text("[data-testid=db-locks] [data-testid=error]", |t| t.contains("stored samples")).await;
    assert!(replay.contains("cannot reach the Sightline server"), "{replay}");
    // The last good answers stay beside the errors.
    b.find("[data-testid=chart-total-runtime] [data-testid=series-chart]").await;
    b.find("[data-testid=locks-empty]").await;
    b.close().await;
}

/// APM → DB: an SQL step of a trace shows the PostgreSQL session that ran it (matched by the statement's
/// `traceparent` comment), and links to that moment on the database page.
#[tokio::test(flavor = "multi_thread")]
async fn a_traced_sql_step_shows_its_database_session() {
    use support::otlp::{child, send, transaction};
    let _serial = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::new();
    cluster.psql(&format!("CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;"));
    let url = format!("postgres://monitor:{PASSWORD}@127.0.0.1:{}/postgres", cluster.port);
    let server = Server::start_with(&["--postgres", &url, "--pg-interval-ms", "300"]).await;
    let id = format!("127.0.0.1-{}-postgres", cluster.port);

    // The trace: a payment request whose SQL step is the statement below.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    let tx = transaction("payment", 0x5eed, "POST /pay", now + 2_600.0, 2_700.0, false);
    let sql = child(&tx, 1, "SELECT pg_sleep", 3, tx.start_ms + 50.0, 2_500.0, vec![
        ("db.system", "postgresql".into()),
        ("db.query.text", "SELECT pg_sleep(2.5)".into()),
    ]);
    // Long enough to be still running when the page looks; killed when the test ends.
    let statement = format!("/*traceparent='00-{}-{}-01'*/ SELECT pg_sleep(30)", tx.trace_id, sql.span_id);
    let _traced = Bg(cluster.psql_cmd(&statement).env("PGAPPNAME", "payment").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    let pid = pid_of(&cluster, "payment");
    send(&server.url(""), &[sql.clone(), tx.clone()]).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let t: serde_json::Value = reqwest::get(server.url(&format!("/api/v1/db/traces/{}", tx.trace_id))).await.unwrap().json().await.unwrap();
        if t["matches"].as_array().is_some_and(|m| !m.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "the traced statement was never sampled: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let b = Browser::start().await;
    b.client.goto(&server.url(&format!("/apm?trace={}", tx.trace_id))).await.unwrap();
    b.find("[data-testid=trace-row][data-step-kind=sql]").await.click().await.unwrap();
    b.wait_text("[data-testid=trace-db-wait]", |t| t.contains("PgSleep")).await;
    b.wait_text("[data-testid=trace-db-pid]", |t| t == format!("pid {pid}")).await;
    b.wait_text("[data-testid=trace-db-matched-by]", |t| t.contains("traceparent")).await;
    // From the step to that moment on the database page.
    b.find("[data-testid=trace-db-link]").await.click().await.unwrap();
    b.find(&format!("[data-testid=db-instance][data-id='{id}'].selected")).await;
    b.wait_js(&format!("location.pathname === '/db/{id}' && location.search.includes('at=')")).await;
    b.close().await;
}
