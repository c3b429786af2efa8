//! The database page in real headless Chromium against the real server monitoring a real PostgreSQL 15
//! (throwaway cluster, see `crates/server/tests/pg`): the lock tree shows a blocked session under its
//! blocker, clicking the total-runtime graph lists the pgbench statements of that moment, the slider replays
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

/// A real mouse click at `(x, y)` CSS px from the top-left of the element matching `css`.
async fn click_at(b: &Browser, css: &str, x_fraction: f64, y: f64) {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let rect = b.js(&format!("const r = document.querySelector('{css}').getBoundingClientRect(); return [r.left, r.top, r.width];")).await;
    let (left, top, width) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap(), rect[2].as_f64().unwrap());
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo { duration: None, x: (left + width * x_fraction).round(), y: (top + y).round() })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    b.client.perform_actions(mouse).await.expect("click");
    let _ = b.client.release_actions().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn db_page_shows_locks_sessions_of_a_clicked_moment_replay_and_outage() {
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
    let wait = b.wait_text(&format!("{waiter_css} [data-testid=lock-wait]"), |t| t.contains("ShareLock")).await;
    assert!(wait.contains("accounts"), "{wait}");

    // Click the newest moment of the total-runtime graph: the sessions of that sample are listed beside it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    click_at(&b, "[data-testid=chart-total-runtime] svg", 0.995, 50.0).await;
    b.wait_js("location.search.includes('at=')").await;
    b.wait_text("[data-testid=db-sessions] h2", |t| t.starts_with("Sessions at")).await;
    let texts = b
        .js("return [...document.querySelectorAll('[data-testid=session-query]')].map(e => e.textContent)")
        .await;
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    assert!(texts.iter().any(|t| t.contains("pgbench_")), "pgbench statements at the clicked moment: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("balance + 10")), "the waiting UPDATE too: {texts:?}");
    // Top statements come from pg_stat_statements.
    b.wait_js("[...document.querySelectorAll('[data-testid=statement-row]')].some(r => r.textContent.includes('pgbench_'))").await;

    // End the conflict, go live: the tree empties. Then replay a stored sample that had the lock wait.
    // (Killing psql alone would not do: the backend notices only after its pg_sleep.)
    cluster.psql(&format!("SELECT pg_terminate_backend({holder_pid})"));
    drop(holder);
    b.find("[data-testid=db-live]").await.click().await.unwrap();
    b.find("[data-testid=locks-empty]").await;
    let samples: serde_json::Value =
        reqwest::get(server.url(&format!("/api/v1/db/instances/{id}/samples"))).await.unwrap().json().await.unwrap();
    let times: Vec<i64> = serde_json::from_value(samples["times"].clone()).unwrap();
    let lock_times: Vec<i64> = serde_json::from_value(samples["lock_times"].clone()).unwrap();
    let idx = times.iter().position(|t| *t == lock_times[lock_times.len() / 2]).unwrap();
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
