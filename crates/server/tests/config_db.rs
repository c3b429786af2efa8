//! Several Sightline nodes sharing one configuration database (`--config-db`, a real PostgreSQL 15 started
//! by the test): boards and deploys written through one node are read through the other, a stale save on
//! one after a save on the other answers 409 with the current board, concurrent saves from both nodes leave
//! exactly one winner, an outage of the database answers 503 (never a hang) until it is back, a database
//! unreachable at start stops `serve` with a clear message, and its password is in no log and no answer;
//! TLS follows `sslmode`; alerts: one node (the leader) evaluates and delivers, another takes over when it
//! stops or is killed.
//!
//! Needs the PostgreSQL 15 server binaries, like tests/postgres.rs (`cargo xtask setup`); never skips.

mod common;
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pg::Cluster;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sightline_model::{Board, BoardConflict, BoardHistory, BoardList, DeployList};
use sightline_server::collect::postgres::PgUrl;

const PASSWORD: &str = "Cfg-db-s3cret-2718";

/// A cluster with a `sightline` role owning a `sightline` database: what an operator would set up.
fn config_cluster() -> (Cluster, String) {
    let cluster = Cluster::new();
    cluster.psql(&format!("CREATE ROLE sightline LOGIN PASSWORD '{PASSWORD}'"));
    cluster.psql("CREATE DATABASE sightline OWNER sightline");
    let url = format!("postgres://sightline:{PASSWORD}@127.0.0.1:{}/sightline?sslmode=disable", cluster.port);
    (cluster, url)
}

/// SQL in the `sightline` database, as the superuser.
fn psql(cluster: &Cluster, sql: &str) -> String {
    let out = cluster.psql_cmd(sql).args(["-d", "sightline"]).output().expect("run psql");
    assert!(out.status.success(), "psql failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real `sightline serve` on its own data directory, logging at `info` to a file.
struct Node {
    server: Server,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(url: &str) -> Self {
        Self::start_with(url, &[])
    }

    fn start_with(url: &str, envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sightline.log");
        let mut all = vec![("SIGHTLINE_CONFIG_DB", url), ("SIGHTLINE_LOG", "info")];
        all.extend_from_slice(envs);
        let server = Server::start_logging(&dir.path().join("data"), &all, Some(&log));
        Node { server, log, _dir: dir }
    }

    /// `sightline_alert_evaluations_total` from `GET /metrics`.
    async fn evaluations(&self) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.server.base)).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("sightline_alert_evaluations_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no sightline_alert_evaluations_total in:\n{text}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `method path` with an optional JSON body: the status and the answer (`Null` when empty).
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let mut r = c.request(method.parse().unwrap(), format!("{}{path}", self.server.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, v)
    }

    async fn ok<T: serde::de::DeserializeOwned>(&self, method: &str, path: &str, body: Option<Value>, want: StatusCode) -> T {
        let (s, v) = self.call(method, path, body).await;
        assert_eq!(s, want, "{method} {path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    /// One transaction of `service` at `version`, starting at `at_ms` (when a deploy is dated).
    async fn ingest(&self, service: &str, version: &str, at_ms: i64, trace: u64) {
        let mut req = request(service, vec![server_span(trace, trace, "GET /pay", at_ms + 20, 20.0)]);
        req.resource_spans[0].resource.as_mut().unwrap().attributes.push(kv("service.version", version));
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{}/v1/traces", self.server.base))
            .header("content-type", "application/x-protobuf")
            .body(proto(&req))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_boards_and_deploys_and_survive_an_outage() {
    let (cluster, url) = config_cluster();
    // Started together: the schema is created once, the default board seeded once.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Node::start(&url));
        let b = s.spawn(|| Node::start(&url));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(psql(&cluster, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"), "1,2");

    // The default board exists once, on both.
    let on_a: BoardList = a.ok("GET", "/api/v1/boards", None, StatusCode::OK).await;
    let on_b: BoardList = b.ok("GET", "/api/v1/boards", None, StatusCode::OK).await;
    assert_eq!(on_a.boards.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["overview"]);
    assert_eq!(on_a, on_b);

    // Created on A: listed and readable on B.
    let mut t: Vec<Board> = a.ok("GET", "/api/v1/boards/templates", None, StatusCode::OK).await;
    let mut t = t.remove(1);
    t.id = String::new();
    let created: Board = a.ok("POST", "/api/v1/boards", Some(json!(t)), StatusCode::CREATED).await;
    let uri = format!("/api/v1/boards/{}", created.id);
    let read: Board = b.ok("GET", &uri, None, StatusCode::OK).await;
    assert_eq!(read, created);
    let listed: BoardList = b.ok("GET", "/api/v1/boards", None, StatusCode::OK).await;
    assert!(listed.boards.iter().any(|s| s.id == created.id), "{listed:?}");

    // Saved on A; B's edit of version 1 is stale: 409 with the board as A left it.
    let mut edit = created.clone();
    edit.title = "Saved on A".into();
    let saved: Board = a.ok("PUT", &uri, Some(json!(edit)), StatusCode::OK).await;
    assert_eq!(saved.version, 2);
    let mut stale = created.clone();
    stale.title = "Saved on B".into();
    let (s, v) = b.call("PUT", &uri, Some(json!(stale))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let conflict: BoardConflict = serde_json::from_value(v).unwrap();
    assert_eq!(conflict.status, 409);
    assert!(conflict.error.contains("you edited version 1, it is now at version 2"), "{}", conflict.error);
    assert_eq!(conflict.current, saved, "the conflict carries the board as A saved it");
    // Rebased (the user chose to overwrite), B's save goes through.
    stale.version = 2;
    let over: Board = b.ok("PUT", &uri, Some(json!(stale)), StatusCode::OK).await;
    assert_eq!((over.version, over.title.as_str()), (3, "Saved on B"));

    // The same history on both; a restore on A is current on B.
    let ha: BoardHistory = a.ok("GET", &format!("{uri}/versions"), None, StatusCode::OK).await;
    let hb: BoardHistory = b.ok("GET", &format!("{uri}/versions"), None, StatusCode::OK).await;
    assert_eq!(ha, hb);
    assert_eq!(ha.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 2, 1]);
    let v1: Board = b.ok("GET", &format!("{uri}/versions/1"), None, StatusCode::OK).await;
    assert_eq!(v1.title, created.title);
    let (s, _) = b.call("GET", &format!("{uri}/versions/9"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let restored: Board = a.ok("POST", &format!("{uri}/versions/1/restore"), None, StatusCode::OK).await;
    assert_eq!((restored.version, restored.title.as_str()), (4, created.title.as_str()));
    let now_b: Board = b.ok("GET", &uri, None, StatusCode::OK).await;
    assert_eq!(now_b, restored);

    // Deleting from a stale screen on B is refused; from the current version it goes, for both.
    let (s, v) = b.call("DELETE", &format!("{uri}?version=3"), None).await;
    assert_eq!((s, v["current"]["version"].as_u64()), (StatusCode::CONFLICT, Some(4)), "{v}");
    let (s, _) = b.call("DELETE", &format!("{uri}?version=4"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = a.call("GET", &uri, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = a.call("GET", &format!("{uri}/versions"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the history went with the board");
    assert_eq!(psql(&cluster, &format!("SELECT count(*) FROM board_versions WHERE id = '{}'", created.id)), "0");

    // A version first seen through A is a deploy on B; the next version, seen through B, is on A.
    let t0 = now_ms() - 60_000;
    a.ingest("payment", "3.0.1", t0, 1).await;
    let deploys: DeployList = b.ok("GET", "/api/v1/deploys?service=payment", None, StatusCode::OK).await;
    assert_eq!(deploys.deploys.len(), 1, "{deploys:?}");
    assert_eq!((deploys.deploys[0].version.as_str(), deploys.deploys[0].at_ms), ("3.0.1", t0));
    b.ingest("payment", "3.1.0", t0 + 30_000, 2).await;
    // Both nodes see 3.1.0; the earliest sighting wins, whichever node wrote last.
    a.ingest("payment", "3.1.0", t0 + 20_000, 3).await;
    b.ingest("payment", "3.1.0", t0 + 25_000, 4).await;
    let deploys: DeployList = a.ok("GET", "/api/v1/deploys?service=payment", None, StatusCode::OK).await;
    let got: Vec<(&str, i64, Option<&str>)> =
        deploys.deploys.iter().map(|d| (d.version.as_str(), d.at_ms, d.previous.as_deref())).collect();
    assert_eq!(got, [("3.0.1", t0, None), ("3.1.0", t0 + 20_000, Some("3.0.1"))]);
    let on_b: DeployList = b.ok("GET", "/api/v1/deploys?service=payment", None, StatusCode::OK).await;
    assert_eq!(on_b, deploys);

    // The database goes away: the board and deploy APIs answer 503 at once, with a message.
    cluster.stop("fast");
    let started = Instant::now();
    let mut answers = Vec::new();
    for (method, path, body) in [
        ("GET", "/api/v1/boards".to_string(), None),
        ("GET", "/api/v1/boards/overview".to_string(), None),
        ("PUT", "/api/v1/boards/overview".to_string(), Some(json!(saved))),
        ("GET", "/api/v1/deploys".to_string(), None),
        ("GET", "/api/v1/alerts".to_string(), None),
    ] {
        let (s, v) = b.call(method, &path, body).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}: {v}");
        let msg = v["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains("configuration database sightline@127.0.0.1"), "{msg}");
        answers.push(msg);
    }
    assert!(started.elapsed() < Duration::from_secs(20), "503s took {:?}", started.elapsed());
    // Ingest goes on (deploy markers wait in memory).
    a.ingest("payment", "3.2.0", now_ms() - 1_000, 5).await;

    // Back: the nodes recover by themselves, and what was noted meanwhile is written.
    cluster.start();
    let listed: BoardList = wait_for(30, "the boards to answer again", || format!("{}\n{}", a.log(), b.log()), || async {
        let (s, v) = b.call("GET", "/api/v1/boards", None).await;
        (s == StatusCode::OK).then(|| serde_json::from_value(v).unwrap())
    })
    .await;
    assert_eq!(listed.boards.len(), 1);
    let mut ov: Board = a.ok("GET", "/api/v1/boards/overview", None, StatusCode::OK).await;
    ov.title = "After the outage".into();
    let _: Board = a.ok("PUT", "/api/v1/boards/overview", Some(json!(ov)), StatusCode::OK).await;
    wait_for(30, "3.2.0 noted during the outage to reach B", || a.log(), || async {
        let d: DeployList = b.ok("GET", "/api/v1/deploys?service=payment", None, StatusCode::OK).await;
        d.deploys.iter().any(|d| d.version == "3.2.0").then_some(())
    })
    .await;

    // The password is in no answer and no log line (the logs do name the database).
    for m in &answers {
        assert!(!m.contains(PASSWORD), "{m}");
    }
    let (la, lb) = (a.log(), b.log());
    assert!(la.contains("sightline@127.0.0.1"), "the log names the database:\n{la}");
    assert!(!la.contains(PASSWORD) && !lb.contains(PASSWORD), "the password leaked into a log:\n{la}\n{lb}");
    a.server.stop();
    b.server.stop();
}

/// Saves of the same revision racing from two nodes: exactly one wins, every other one gets the 409 with
/// the winner's board, and the history holds one new revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_saves_from_two_nodes_have_one_winner() {
    let (_cluster, url) = config_cluster();
    let a = TestApp::with(|args| args.config_db = Some(PgUrl(url.clone()))).await;
    let b = TestApp::with(|args| args.config_db = Some(PgUrl(url.clone()))).await;
    let (s, v) = a.call("GET", "/api/v1/boards/overview", None).await;
    assert_eq!(s, axum::http::StatusCode::OK, "{v}");
    let base: Board = serde_json::from_value(v).unwrap();
    let saves = (0..10).map(|i| {
        let mut edit = base.clone();
        edit.title = format!("Edit {i}");
        let node = if i % 2 == 0 { &a } else { &b };
        async move { node.call("PUT", "/api/v1/boards/overview", Some(json!(edit))).await }
    });
    let answers = futures::future::join_all(saves).await;
    let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == axum::http::StatusCode::OK).map(|(_, v)| v).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let winner: Board = serde_json::from_value(winners[0].clone()).unwrap();
    assert_eq!(winner.version, 2);
    for (s, v) in answers.iter().filter(|(s, _)| *s != axum::http::StatusCode::OK) {
        assert_eq!(*s, axum::http::StatusCode::CONFLICT, "{v}");
        let c: BoardConflict = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(c.current, winner);
    }
    let (_, h) = b.call("GET", "/api/v1/boards/overview/versions", None).await;
    let h: BoardHistory = serde_json::from_value(h).unwrap();
    assert_eq!(h.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    // Creating boards with the same id from both nodes: each gets its own board.
    let mut t = base.clone();
    t.id = "same-id".into();
    let (ra, rb) = tokio::join!(a.call("POST", "/api/v1/boards", Some(json!(t))), b.call("POST", "/api/v1/boards", Some(json!(t))));
    assert_eq!((ra.0, rb.0), (axum::http::StatusCode::CREATED, axum::http::StatusCode::CREATED));
    let mut ids = [ra.1["id"].as_str().unwrap().to_string(), rb.1["id"].as_str().unwrap().to_string()];
    ids.sort();
    assert_ne!(ids[0], ids[1]);
    assert!(ids.contains(&"same-id".to_string()), "{ids:?}");
}

/// A configuration database that cannot be reached at start: `serve` stops with a message naming it,
/// without its password; in-process, `AppState::open` fails the same way.
#[tokio::test]
async fn an_unreachable_config_db_stops_the_start_with_a_clear_message() {
    let port = free_port();
    let url = format!("postgres://sightline:{PASSWORD}@127.0.0.1:{port}/sightline?sslmode=disable");
    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    args.config_db = Some(PgUrl(url.clone()));
    let err = match sightline_server::state::AppState::open(&args).await {
        Ok(_) => panic!("opened with an unreachable configuration database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(&format!("cannot reach the configuration database sightline@127.0.0.1:{port}/sightline")), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");

    let out = serve_until_exit(dir.path(), &url);
    assert!(!out.0, "serve started without its configuration database");
    assert!(out.1.contains("cannot reach the configuration database"), "{}", out.1);
    assert!(!out.1.contains(PASSWORD), "{}", out.1);
    // A URL that is not one: said so, without echoing it.
    let out = serve_until_exit(dir.path(), &format!("postgres://sightline:{PASSWORD}@127.0.0.1:notaport/x"));
    assert!(!out.0 && out.1.contains("is not a valid PostgreSQL URL"), "{}", out.1);
    assert!(!out.1.contains(PASSWORD), "{}", out.1);
}

/// Runs `sightline serve` with `--config-db` `url` until it exits (deadline 60 s): whether it succeeded,
/// and everything it printed.
fn serve_until_exit(data_dir: &Path, url: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("serve")
        .env("SIGHTLINE_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("SIGHTLINE_DATA_DIR", data_dir.join("serve"))
        .env("SIGHTLINE_DIST", data_dir.join("no-dist"))
        .env("SIGHTLINE_OTLP_GRPC_ADDR", "")
        .env("SIGHTLINE_LOG", "debug")
        .env("SIGHTLINE_CONFIG_DB", url)
        .env_remove("SIGHTLINE_DEMO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sightline");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sightline kept running without its configuration database");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

// ---- alerts ----

/// A local webhook receiver recording the bodies it is sent.
async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let g = g.clone();
        async move {
            g.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap());
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The `status` of every alert in every message received, in order.
fn statuses(got: &std::sync::Mutex<Vec<Value>>) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .flat_map(|m| m["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| a["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Transactions of `payment` lasting `ms` (shared, changeable) into both nodes every 200 ms.
fn feed(nodes: [&TestApp; 2], ms: std::sync::Arc<std::sync::atomic::AtomicU64>) -> tokio::task::JoinHandle<()> {
    let routers = nodes.map(|n| n.router.clone());
    tokio::spawn(async move {
        let mut n = 1_000u64;
        loop {
            let d = ms.load(std::sync::atomic::Ordering::Relaxed) as f64;
            for r in &routers {
                let spans = (0..5)
                    .map(|i| {
                        n += 1;
                        server_span(n, n, "POST /api/pay", now_ms() - i, d)
                    })
                    .collect();
                let req = axum::http::Request::post("/v1/traces")
                    .header("content-type", "application/x-protobuf")
                    .body(axum::body::Body::from(proto(&request("payment", spans))))
                    .unwrap();
                let resp = tower::ServiceExt::oneshot(r.clone(), req).await.unwrap();
                assert!(resp.status().is_success(), "ingest: {}", resp.status());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Two nodes with their alert tasks running on one configuration database: a rule and a channel created
/// on either are on both, exactly one node (the leader) evaluates and delivers, so an incident is one
/// firing message, not one per node; when the leader stops, the other takes over from the stored state
/// and sends the resolve, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_evaluates_and_delivers_alerts_and_another_takes_over() {
    use axum::http::StatusCode as S;
    let (cluster, url) = config_cluster();
    let a = TestApp::with(|args| args.config_db = Some(PgUrl(url.clone()))).await;
    let b = TestApp::with(|args| args.config_db = Some(PgUrl(url.clone()))).await;
    let (stop_a, rx) = tokio::sync::watch::channel(false);
    a.state.alerts.spawn("http://sightline.test", rx);
    let (_stop_b, rx) = tokio::sync::watch::channel(false);
    b.state.alerts.spawn("http://sightline.test", rx);
    assert_eq!(psql(&cluster, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"), "1,2");

    let (hook, got) = receiver().await;
    let (s, ch) = b.call("POST", "/api/v1/alerts/channels", Some(json!({"name": "On-call", "kind": "webhook", "url": hook}))).await;
    assert_eq!(s, S::CREATED, "{ch}");
    let rule = json!({
        "name": "Slow payment",
        "source": {"kind": "metric", "metric": "transactions.response_time.p95", "filter": {"service": "payment"},
                   "group_by": ["service"], "window_s": 2},
        "condition": {"op": "above", "threshold": 50.0},
        "for_s": 0, "interval_s": 1, "severity": "critical", "channels": [ch["id"]],
    });
    let (s, created) = a.call("POST", "/api/v1/alerts/rules", Some(rule)).await;
    assert_eq!(s, S::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (s, on_b) = b.call("GET", &format!("/api/v1/alerts/rules/{id}"), None).await;
    assert_eq!((s, &on_b["rule"]), (S::OK, &created), "the rule created on A is on B");
    let (_, channels) = a.call("GET", "/api/v1/alerts/channels", None).await;
    assert_eq!(channels[0]["id"], ch["id"], "the channel created on B is on A");
    assert!(!channels.to_string().contains("/hook"), "a channel's URL never comes back: {channels}");
    // The same version of the rule saved on both nodes: one wins, the other is stale.
    let mut edit = created.clone();
    edit["runbook"] = json!("Saved on A");
    let (sa, _) = a.call("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(edit.clone())).await;
    edit["runbook"] = json!("Saved on B");
    let (sb, vb) = b.call("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(edit)).await;
    assert_eq!((sa, sb), (S::OK, S::CONFLICT), "{vb}");
    let (_, now) = b.call("GET", &format!("/api/v1/alerts/rules/{id}"), None).await;
    assert_eq!((now["rule"]["runbook"].as_str(), now["rule"]["version"].as_u64()), (Some("Saved on A"), Some(2)));

    // Exactly one leader.
    let leader = wait_for(20, "a leader", String::new, || async {
        match (a.state.alerts.store.leading(), b.state.alerts.store.leading()) {
            (true, false) => Some('a'),
            (false, true) => Some('b'),
            _ => None,
        }
    })
    .await;

    let ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(100));
    let feeder = feed([&a, &b], ms.clone());
    wait_for(30, "the firing message", String::new, || async { (!statuses(&got).is_empty()).then_some(()) }).await;
    // Both nodes show it firing (the follower reads the leader's state).
    for node in [&a, &b] {
        wait_for(10, "firing on both nodes", String::new, || async {
            let (_, st) = node.call("GET", &format!("/api/v1/alerts/rules/{id}"), None).await;
            (st["state"] == "firing").then_some(())
        })
        .await;
    }
    // Several more evaluations: still one message (one evaluating node, one incident).
    let evaluated = |n: &TestApp| n.state.alerts.counters()[0];
    let before = evaluated(&a) + evaluated(&b);
    wait_for(30, "more evaluations", String::new, || async { (evaluated(&a) + evaluated(&b) >= before + 4).then_some(()) }).await;
    assert_eq!(statuses(&got), ["firing"]);
    let follower_evals = if leader == 'a' { evaluated(&b) } else { evaluated(&a) };
    assert_eq!(follower_evals, 0, "the follower never evaluates");

    // The leader goes away (here: its alert tasks stop, its lock connection closes): the other takes over
    // and, from the stored state, resolves once without firing again.
    let (old, new) = if leader == 'a' { (&a, &b) } else { (&b, &a) };
    if leader == 'a' {
        stop_a.send(true).unwrap();
    } else {
        _stop_b.send(true).unwrap();
    }
    wait_for(20, "the other node to lead", String::new, || async { (new.state.alerts.store.leading() && !old.state.alerts.store.leading()).then_some(()) })
        .await;
    ms.store(10, std::sync::atomic::Ordering::Relaxed);
    wait_for(30, "the resolved message", String::new, || async { (statuses(&got).len() >= 2).then_some(()) }).await;
    let before = evaluated(new);
    wait_for(30, "more evaluations", String::new, || async { (evaluated(new) >= before + 3).then_some(()) }).await;
    assert_eq!(statuses(&got), ["firing", "resolved"]);
    feeder.abort();
}

/// Two real nodes: the alert leader is killed (`kill -9`), PostgreSQL releases its lock with its
/// connection, and the other node takes over from the stored state: the incident the dead node announced is
/// resolved once by the survivor, never announced again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_alert_leader_is_replaced_by_the_other_node() {
    let (_cluster, url) = config_cluster();
    let envs = [("SIGHTLINE_ALERT_GROUP_WAIT", "1")];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Node::start_with(&url, &envs));
        let b = s.spawn(|| Node::start_with(&url, &envs));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (hook, got) = receiver().await;
    let ch: Value = a.ok("POST", "/api/v1/alerts/channels", Some(json!({"name": "On-call", "kind": "webhook", "url": hook})), StatusCode::CREATED).await;
    let rule = json!({
        "name": "Slow payment",
        "source": {"kind": "metric", "metric": "transactions.response_time.p95", "filter": {"service": "payment"},
                   "group_by": ["service"], "window_s": 2},
        "condition": {"op": "above", "threshold": 50.0},
        "for_s": 0, "interval_s": 1, "severity": "critical", "channels": [ch["id"]],
    });
    let _: Value = b.ok("POST", "/api/v1/alerts/rules", Some(rule), StatusCode::CREATED).await;

    // Transactions into both nodes (each has its own trace store here); errors from a killed node ignored.
    let ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(100));
    let bases = [a.server.base.clone(), b.server.base.clone()];
    let d = ms.clone();
    let feeder = tokio::spawn(async move {
        let c = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let mut n = 1_000u64;
        loop {
            let dur = d.load(std::sync::atomic::Ordering::Relaxed) as f64;
            for base in &bases {
                let spans = (0..5)
                    .map(|i| {
                        n += 1;
                        server_span(n, n, "POST /api/pay", now_ms() - i, dur)
                    })
                    .collect();
                let body = proto(&request("payment", spans));
                let _ = c.post(format!("{base}/v1/traces")).header("content-type", "application/x-protobuf").body(body).send().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let logs = || format!("{}\n{}", a.log(), b.log());
    wait_for(40, "the firing message", logs, || async { (!statuses(&got).is_empty()).then_some(()) }).await;
    let (ea, eb) = (a.evaluations().await, b.evaluations().await);
    assert!((ea > 0.0) != (eb > 0.0), "exactly one node evaluates: {ea} {eb}");
    let (leader, survivor) = if ea > 0.0 { (a, b) } else { (b, a) };
    leader.server.kill9();

    ms.store(10, std::sync::atomic::Ordering::Relaxed);
    wait_for(40, "the resolved message from the other node", || survivor.log(), || async { (statuses(&got).len() >= 2).then_some(()) }).await;
    let evaluated = survivor.evaluations().await;
    wait_for(20, "more evaluations", || survivor.log(), || async { (survivor.evaluations().await >= evaluated + 3.0).then_some(()) }).await;
    assert_eq!(statuses(&got), ["firing", "resolved"]);
    assert!(survivor.log().contains("this node evaluates the rules and delivers"), "{}", survivor.log());
    feeder.abort();
}

/// The configuration database over TLS, with libpq's `sslmode` as for `--postgres`: `verify-full` with the
/// CA connects (encrypted, seen in `pg_stat_ssl`); without the CA the start fails saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_db_speaks_tls_as_sslmode_says() {
    let (ca_pem, cert_pem, key_pem) = test_certificates();
    let cluster = Cluster::with_conf_and_files(
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        &[("server.crt", cert_pem.as_bytes()), ("server.key", key_pem.as_bytes())],
    );
    cluster.psql(&format!("CREATE ROLE sightline LOGIN PASSWORD '{PASSWORD}'"));
    cluster.psql("CREATE DATABASE sightline OWNER sightline");
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    let base = format!("postgres://sightline:{PASSWORD}@localhost:{}/sightline?sslmode=verify-full", cluster.port);

    let url = format!("{base}&sslrootcert={}", ca.display());
    let app = TestApp::with(|args| args.config_db = Some(PgUrl(url.clone()))).await;
    let (s, v) = app.call("GET", "/api/v1/boards", None).await;
    assert_eq!(s, axum::http::StatusCode::OK, "{v}");
    let ssl = psql(
        &cluster,
        "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'sightline-config'",
    );
    assert_eq!(ssl, "t", "the configuration database connections are encrypted");

    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    args.config_db = Some(PgUrl(base));
    let err = match sightline_server::state::AppState::open(&args).await {
        Ok(_) => panic!("verify-full without the CA connected"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("TLS: certificate verify failed (sslmode=verify-full)"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}
