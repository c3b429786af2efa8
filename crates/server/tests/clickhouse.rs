//! Sightline on ClickHouse beyond one node: two real ClickHouse servers as the two shards of a cluster
//! (`Distributed` tables over them), two Sightline nodes sharing them; and what happens when a shard goes
//! down in the middle of ingest. Every answer asserted here goes through the real router (`TestApp`).
//! The per-query answers themselves are the conformance suite's (`tests/store_conformance.rs`).

mod common;
#[path = "ch/mod.rs"]
mod ch;
#[path = "pg/mod.rs"]
mod pg;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{db_span, proto, request, server_span, wait_for, TestApp};
use sightline_model::{Hitmap, Trace, TransactionPage};
use sightline_server::store::clickhouse::Target;

const CLUSTER: &str = "sightline";

/// Two ClickHouse servers that know each other as the shards of [`CLUSTER`].
fn two_shards() -> (ch::ClickHouse, ch::ClickHouse) {
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (ch::free_port(), ch::free_port())).collect();
    let shards: String = ports
        .iter()
        .map(|(_, tcp)| format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>"))
        .collect();
    let config = format!("<remote_servers><{CLUSTER}>{shards}</{CLUSTER}></remote_servers>");
    let a = ch::ClickHouse::start_on(ports[0].0, ports[0].1, &config);
    let b = ch::ClickHouse::start_on(ports[1].0, ports[1].1, &config);
    (a, b)
}

/// A Sightline node on the cluster's database `db`, with its boards, deploys and alerts in `config_db`.
async fn node(shards: &[&ch::ClickHouse], db: &str, config_db: Option<&str>) -> TestApp {
    let targets: Vec<Target> = shards.iter().map(|s| Target::parse(&s.url(db)).unwrap()).collect();
    TestApp::with(|a| {
        a.clickhouse = targets;
        a.clickhouse_cluster = Some(CLUSTER.into());
        a.config_db = config_db.map(|u| sightline_server::collect::postgres::PgUrl(u.to_string()));
    })
    .await
}

/// A PostgreSQL cluster for the nodes' shared configuration (boards, deploys, alerts).
fn config_db() -> (pg::Cluster, String) {
    let cluster = pg::Cluster::new();
    cluster.psql("CREATE ROLE sightline LOGIN PASSWORD 'cfg'");
    cluster.psql("CREATE DATABASE sightline OWNER sightline");
    let url = format!("postgres://sightline:cfg@127.0.0.1:{}/sightline?sslmode=disable", cluster.port);
    (cluster, url)
}

/// `n` traces from trace number `first`: a checkout transaction with one SQL step each, ending around now.
fn traces(first: u64, n: u64) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let now = common::now_ms();
    let spans = (first..first + n)
        .flat_map(|t| {
            let end = now - 1_000 + (t % 500) as i64;
            let root = server_span(t, 1, "POST /pay", end, 40.0);
            let start = root.start_time_unix_nano;
            [root, db_span(t, 2, 1, start + 5_000_000, start + 25_000_000, "SELECT balance FROM accounts WHERE id = $1")]
        })
        .collect();
    request("checkout", spans)
}

fn window() -> String {
    let now = common::now_ms();
    format!("from={}&to={}", now - 10 * 60_000, now + 60_000)
}

async fn post(app: &TestApp, req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest) -> (StatusCode, Option<String>, String) {
    let r = Request::post("/v1/traces").header("content-type", "application/x-protobuf").body(Body::from(proto(req))).unwrap();
    let (status, headers, body) = app.send(r).await;
    let retry = headers.get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, retry, String::from_utf8_lossy(&body).into_owned())
}

/// Why the server refuses to start with `args` (`what`: the start that must not happen, for the panic).
async fn refused_start(args: &sightline_server::config::ServeArgs, what: &str) -> String {
    match sightline_server::state::AppState::open(args).await {
        Ok(_) => panic!("{what}"),
        Err(e) => format!("{e:#}"),
    }
}

/// `targets` as the replicas of [`CLUSTER`] (`--clickhouse-replicated`).
fn replicated(args: &mut sightline_server::config::ServeArgs, targets: Vec<Target>) {
    args.clickhouse = targets;
    args.clickhouse_cluster = Some(CLUSTER.into());
    args.clickhouse_replicated = true;
}

/// Waits until reads answer again after a replica died (they move to another one).
async fn reads_answer(app: &TestApp, w: &str, what: &str) {
    wait_for(30, &format!("reads to move to {what}"), String::new, || async {
        (app.get(&format!("/api/v1/transactions?{w}&limit=1")).await.0 == StatusCode::OK).then_some(())
    })
    .await;
}

/// Every one of `total` acknowledged transactions is in the list and the hitmap, none failed, and a trace
/// is whole, read through `what`.
async fn all_readable(app: &TestApp, w: &str, total: u64, what: &str) {
    let page: TransactionPage = app.get_ok(&format!("/api/v1/transactions?{w}&limit=10")).await;
    assert_eq!(page.total, total, "every acknowledged transaction, read through {what}");
    let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{w}")).await;
    assert_eq!((h.total, h.total_err), (total, 0));
    let t: Trace = app.get_ok(&format!("/api/v1/traces/{}", page.items[0].trace_id)).await;
    assert_eq!(t.steps.len(), 2);
}

/// Spans sent to node A are in node B's hitmap, list, trace and live stream; they are spread over both
/// shards, a trace's rows on one. A board saved on A is on B, and B's stale save is a 409 (the nodes share
/// their configuration through `--config-db`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_two_shard_cluster() {
    let (s1, s2) = two_shards();
    let (_pg, config) = config_db();
    let db = ch::fresh_database();
    let a = node(&[&s1, &s2], &db, Some(&config)).await;
    let b = node(&[&s1, &s2], &db, Some(&config)).await;
    let mut live_on_b = b.state.live.subscribe();

    let (status, _, body) = post(&a, &traces(1, 200)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let w = window();
    let h: Hitmap = wait_for(30, "B's hitmap to count A's 200 transactions", String::new, || async {
        let h: Hitmap = b.get_ok(&format!("/api/v1/hitmap?{w}")).await;
        (h.total == 200).then_some(h)
    })
    .await;
    assert_eq!(h.total_err, 0);
    let page: TransactionPage = b.get_ok(&format!("/api/v1/transactions?{w}&limit=50")).await;
    assert_eq!((page.total, page.items.len()), (200, 50));
    assert!(page.next_cursor.is_some());
    let id = &page.items[0].trace_id;
    let t: Trace = b.get_ok(&format!("/api/v1/traces/{id}")).await;
    assert_eq!(t.steps.len(), 2, "the transaction and its SQL step, read on the other node");
    assert!(t.steps[1].text.as_deref().unwrap().starts_with("SELECT balance"));

    // B's live stream carried A's transactions (polled from ClickHouse), once each.
    let mut streamed = 0;
    while streamed < 200 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(30), live_on_b.recv())
            .await
            .expect("B streams A's transactions within 30 s")
            .unwrap();
        assert!(batch.seq > 0);
        streamed += batch.points.len();
    }
    assert_eq!(streamed, 200);

    // Sharded by trace id: both shards hold some, and each trace's spans and transaction are on one.
    let on = |s: &ch::ClickHouse, table: &str| s.sql(&format!("SELECT count() FROM {db}.{table}_local")).parse::<u64>().unwrap();
    let (t1, t2) = (on(&s1, "transactions"), on(&s2, "transactions"));
    assert_eq!(t1 + t2, 200);
    assert!(t1 > 40 && t2 > 40, "spread over both shards: {t1} / {t2}");
    assert_eq!(on(&s1, "spans"), 2 * t1);
    assert_eq!(on(&s2, "spans"), 2 * t2);
    // Sightline's choice of shard is the Distributed tables' key (so rows inserted through them land alike).
    let key = sightline_server::store::clickhouse::schema::SHARDING_KEY;
    for (i, s) in [&s1, &s2].iter().enumerate() {
        let misplaced = s.sql(&format!("SELECT count() FROM {db}.spans_local WHERE {key} % 2 != {i}"));
        assert_eq!(misplaced, "0", "shard {i}");
    }
    let split = s1.sql(&format!(
        "SELECT count() FROM {db}.spans_local WHERE trace_id IN (SELECT trace_id FROM {db}.transactions_local)"
    ));
    assert_eq!(split.parse::<u64>().unwrap(), 2 * t1);

    // A board saved on A is B's too; B's save of the version it read before A's is refused with A's board.
    let (s, templates) = a.call("GET", "/api/v1/boards/templates", None).await;
    assert_eq!(s, StatusCode::OK);
    let mut board = templates[0].clone();
    board["id"] = "".into();
    let (s, created) = a.call("POST", "/api/v1/boards", Some(board)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let uri = format!("/api/v1/boards/{}", created["id"].as_str().unwrap());
    let (s, on_b) = b.call("GET", &uri, None).await;
    assert_eq!((s, &on_b), (StatusCode::OK, &created));
    let mut edit = created.clone();
    edit["title"] = "Saved on A".into();
    let (s, saved) = a.call("PUT", &uri, Some(edit)).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    let mut stale = created.clone();
    stale["title"] = "Saved on B".into();
    let (s, conflict) = b.call("PUT", &uri, Some(stale)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(conflict["current"], saved, "the 409 carries A's board, for the diff");
}

/// One shard killed in the middle of ingest: the node answers 503 with Retry-After (ingest and reads, the
/// message naming ClickHouse), keeps running, and once the shard is back — without restarting the node —
/// every acknowledged transaction is there exactly once, also after the exporter's retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_down_is_503_and_loses_nothing_acknowledged() {
    let (s1, mut s2) = two_shards();
    let db = ch::fresh_database();
    let a = node(&[&s1, &s2], &db, None).await;
    let w = window();

    // An exporter re-sends the very request it was refused (same spans, same times).
    let requests: Vec<_> = (0..20u64).map(|batch| traces(1 + batch * 25, 25)).collect();
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let mut refused = Vec::new();
    for batch in 0..20u64 {
        if batch == 8 {
            s2.kill();
        }
        let first = 1 + batch * 25;
        let (status, retry, body) = post(&a, &requests[batch as usize]).await;
        match status {
            StatusCode::OK => acknowledged.extend(first..first + 25),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry.is_some(), "503 carries Retry-After");
                assert!(body.contains("ClickHouse"), "the answer says what is down: {body}");
                refused.push(first);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(acknowledged.len() >= 8 * 25, "the first batches were stored");
    assert!(!refused.is_empty(), "with a shard down, ingest refuses (503) rather than acknowledging");
    // Reads that need the missing shard say so instead of answering with partial counts.
    let (status, v) = a.get(&format!("/api/v1/hitmap?{w}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v["error"].as_str().unwrap().contains("ClickHouse"), "{v}");

    s2.restart();
    // The exporter retries what was refused, and (as exporters do after a timeout) re-sends some acknowledged
    // batches too; the node needed no restart.
    for first in refused.iter().copied().chain([1, 26]) {
        let (status, _, body) = wait_for(30, "the node to accept spans again", String::new, || async {
            let r = post(&a, &requests[(first / 25) as usize]).await;
            (r.0 == StatusCode::OK).then_some(r)
        })
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        acknowledged.extend(first..first + 25);
    }
    let h: Hitmap = a.get_ok(&format!("/api/v1/hitmap?{w}")).await;
    assert_eq!(h.total, acknowledged.len() as u64, "every acknowledged transaction, once");
    let page: TransactionPage = a.get_ok(&format!("/api/v1/transactions?{w}&limit=1")).await;
    assert_eq!(page.total, acknowledged.len() as u64);
}

/// A ClickHouse that cannot be reached at start: the server refuses to start, saying which and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_clickhouse_at_start_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    let port = ch::free_port();
    args.clickhouse = vec![Target::parse(&format!("http://default:hunter2@127.0.0.1:{port}/?database=x")).unwrap()];
    let e = refused_start(&args, "opened a store on a port nobody listens on").await;
    assert!(e.contains("ClickHouse") && e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(!e.contains("hunter2"), "the password is never shown: {e}");
}

/// Two ClickHouse servers as two replicas of one shard (`ReplicatedMergeTree` through a real ZooKeeper),
/// each with its `{shard}`/`{replica}` macros, in a cluster that lists both.
fn two_replicas(zk: &ch::zookeeper::ZooKeeper) -> Vec<ch::ClickHouse> {
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (ch::free_port(), ch::free_port())).collect();
    let tcp: Vec<u16> = ports.iter().map(|p| p.1).collect();
    ports
        .iter()
        .zip(["a", "b"])
        .map(|(&(http, tcp_port), name)| {
            let mut replica = ch::ClickHouse::start_on(http, tcp_port, &replica_config(zk, &tcp, "01", name));
            replica.wait_for_zookeeper();
            replica
        })
        .collect()
}

/// The config of replica `name` with `{shard}` macro `shard`, in a [`CLUSTER`] of one shard whose replicas
/// listen on `tcp_ports`.
fn replica_config(zk: &ch::zookeeper::ZooKeeper, tcp_ports: &[u16], shard: &str, name: &str) -> String {
    let replicas: String = tcp_ports.iter().map(|tcp| format!("<replica><host>127.0.0.1</host><port>{tcp}</port></replica>")).collect();
    format!(
        "<remote_servers><{CLUSTER}><shard><internal_replication>true</internal_replication>{replicas}</shard></{CLUSTER}></remote_servers>\
         {zk}<macros><shard>{shard}</shard><replica>{name}</replica></macros>\
         <interserver_http_port>{interserver}</interserver_http_port><interserver_http_host>127.0.0.1</interserver_http_host>",
        zk = zk.clickhouse_config(),
        interserver = ch::free_port()
    )
}

/// Replication when the operator configures it (`--clickhouse-replicated`): what one node stores reaches
/// both replicas; with the replica it read from and wrote to killed, ingest is still acknowledged (written to
/// the other replica) and reads move to the other server — nothing refused, nothing missing; the killed
/// replica, back, catches up from the other through ZooKeeper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_shard_keeps_going_with_one_replica_down() {
    let zk = ch::zookeeper::ZooKeeper::start();
    let mut replicas = two_replicas(&zk);
    let db = ch::fresh_database();
    let targets: Vec<Target> = replicas.iter().map(|s| Target::parse(&s.url(&db)).unwrap()).collect();
    let app = TestApp::with(|a| replicated(a, targets)).await;
    let engine = replicas[1].sql(&format!("SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'transactions_local'"));
    assert_eq!(engine, "ReplicatedReplacingMergeTree");

    let (status, _, body) = post(&app, &traces(1, 100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let on = |s: &ch::ClickHouse| s.sql(&format!("SELECT count() FROM {db}.transactions_local")).parse::<u64>().unwrap();
    for (i, r) in replicas.iter().enumerate() {
        wait_for(30, &format!("replica {} to hold the 100 transactions", i + 1), || r.log(), || async { (on(r) == 100).then_some(()) }).await;
    }

    // The first server is the one reads and writes went to; it dies.
    replicas[0].kill();
    for batch in 0..4u64 {
        let (status, _, body) = post(&app, &traces(101 + batch * 25, 25)).await;
        assert_eq!(status, StatusCode::OK, "a write with one replica down goes to the other: {body}");
    }
    let w = window();
    reads_answer(&app, &w, "the other replica").await;
    all_readable(&app, &w, 200, "the other replica").await;
    assert_eq!(on(&replicas[1]), 200);

    // Back, the first replica fetches what it missed.
    replicas[0].restart();
    let first = &replicas[0];
    wait_for(60, "the restarted replica to catch up", || first.log(), || async { (on(first) == 200).then_some(()) }).await;
    let (status, _, body) = post(&app, &traces(201, 25)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let h: Hitmap = wait_for(30, "the hitmap to count all 225", String::new, || async {
        let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{w}")).await;
        (h.total == 225).then_some(h)
    })
    .await;
    assert_eq!(h.total_err, 0);
}

/// A node (re)started while one replica of its shard is down (`--clickhouse-replicated`) starts: ingest is
/// acknowledged and readable through the other replica. The replica, back, is taken into use without a
/// restart — it gets the tables and, through ZooKeeper, the rows — and carries the writes once the other
/// dies. Naming fewer servers than the cluster has replicas is refused at start, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_node_starts_with_a_replica_down_and_takes_it_into_use_when_back() {
    let zk = ch::zookeeper::ZooKeeper::start();
    let mut replicas = two_replicas(&zk);
    let db = ch::fresh_database();
    let targets: Vec<Target> = replicas.iter().map(|s| Target::parse(&s.url(&db)).unwrap()).collect();

    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    replicated(&mut args, vec![targets[1].clone()]);
    let e = refused_start(&args, "started with one of the cluster's two replicas named").await;
    assert!(e.contains("2 servers in all") && e.contains("--clickhouse names 1"), "{e}");

    // The first replica is down when the node starts.
    replicas[0].kill();
    let app = TestApp::with(|a| replicated(a, targets.clone())).await;
    let (status, _, body) = post(&app, &traces(1, 100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let w = window();
    all_readable(&app, &w, 100, "the live replica").await;
    let counts = |s: &ch::ClickHouse| {
        s.try_sql(&format!(
            "SELECT (SELECT count() FROM {db}.transactions_local), (SELECT count() FROM {db}.spans_local), \
             (SELECT max(version) FROM {db}.schema_migrations)"
        ))
    };
    assert_eq!(counts(&replicas[1]).unwrap(), "100\t200\t1");

    // Back, it is taken into use: its tables are created and it fetches the rows it missed.
    replicas[0].restart();
    let first = &replicas[0];
    wait_for(60, "the returned replica to get the tables and the rows", || first.log(), || async {
        (counts(first).as_deref() == Ok("100\t200\t1")).then_some(())
    })
    .await;

    // The other dies: the writes go to the returned replica, and reads too.
    replicas[1].kill();
    for batch in 0..2u64 {
        let (status, _, body) = post(&app, &traces(101 + batch * 25, 25)).await;
        assert_eq!(status, StatusCode::OK, "a write with the other replica down goes to the returned one: {body}");
    }
    reads_answer(&app, &w, "the returned replica").await;
    all_readable(&app, &w, 150, "the returned replica").await;
    assert_eq!(counts(&replicas[0]).unwrap(), "150\t300\t1");

    // With every replica of the shard down, a node does not start: it says which servers and why.
    replicas[0].kill();
    args.clickhouse = targets;
    let e = refused_start(&args, "started with every replica of the only shard down").await;
    assert!(e.contains("no --clickhouse server answers") && e.contains(&format!("127.0.0.1:{}", replicas[0].http_port)), "{e}");
}

/// A replica that was down at start and comes back with another shard's `{shard}` macro is kept out of use
/// (it would otherwise take the shard's rows into the wrong shard): `/metrics` says so per server, its tables
/// are not created, and with the shard's other replica gone the node refuses writes (503) instead of sending
/// them there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_node_keeps_a_returning_replica_with_another_shards_macro_out_of_use() {
    let zk = ch::zookeeper::ZooKeeper::start();
    let mut replicas = two_replicas(&zk);
    let db = ch::fresh_database();
    let targets: Vec<Target> = replicas.iter().map(|s| Target::parse(&s.url(&db)).unwrap()).collect();
    replicas[0].kill();
    let app = TestApp::with(|a| replicated(a, targets.clone())).await;
    let server = |r: &ch::ClickHouse| format!("http://127.0.0.1:{}", r.http_port);
    let (down, up) = (server(&replicas[0]), server(&replicas[1]));
    replica_state_is(&app, &down, "waiting").await;
    replica_state_is(&app, &up, "in_use").await;

    // Back on its ports, but configured as the replica of another shard.
    let tcp: Vec<u16> = replicas.iter().map(|r| r.tcp_port).collect();
    let config = replica_config(&zk, &tcp, "02", "a");
    let (http, tcp) = (replicas[0].http_port, replicas[0].tcp_port);
    drop(replicas.remove(0));
    let misconfigured = ch::ClickHouse::start_on(http, tcp, &config);
    replica_state_is(&app, &down, "refused").await;
    replica_state_is(&app, &up, "in_use").await;
    assert_eq!(misconfigured.sql(&format!("SELECT count() FROM system.tables WHERE database = '{db}'")).trim(), "0", "a refused replica gets no tables");

    // The shard's one replica in use dies: writes are refused, not sent to the misconfigured server.
    replicas[0].kill();
    let (status, _, body) = post(&app, &traces(1, 10)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(misconfigured.sql(&format!("SELECT count() FROM system.tables WHERE database = '{db}'")).trim(), "0");

    // /metrics goes on answering with ClickHouse unreadable: the store is down, the replicas are still listed.
    wait_for(60, "sightline_store_up 0 in /metrics", String::new, || async {
        metrics_text(&app).await.lines().any(|l| l == "sightline_store_up 0").then_some(())
    })
    .await;
    replica_state_is(&app, &up, "in_use").await;
    replica_state_is(&app, &down, "refused").await;
}

/// `GET /metrics`, which must answer 200 (also with ClickHouse down).
async fn metrics_text(app: &TestApp) -> String {
    let (status, _, body) = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls `GET /metrics` until `sightline_clickhouse_replica_state` says `server` is in `state` (and in no other).
async fn replica_state_is(app: &TestApp, server: &str, state: &str) {
    wait_for(60, &format!("{server} to be {state} in /metrics"), String::new, || async {
        let body = metrics_text(app).await;
        let states: Vec<(String, String)> = body
            .lines()
            .filter(|l| l.starts_with("sightline_clickhouse_replica_state{") && l.contains(&format!("server=\"{server}\"")))
            .filter_map(|l| {
                let (labels, value) = l.rsplit_once(' ')?;
                let state = labels.split("state=\"").nth(1)?.split('"').next()?;
                Some((state.to_string(), value.to_string()))
            })
            .collect();
        assert_eq!(states.len(), 3, "one series per state for {server}: {body}");
        states.iter().all(|(s, v)| (s == state) == (v == "1")).then_some(())
    })
    .await;
}

/// With `--clickhouse-replicated`, servers answering at start must agree with their place in `--clickhouse`
/// through their `{shard}` macro: two replicas of one shard (by the cluster's layout) whose macros differ
/// stop the start, naming both (no ZooKeeper needed: nothing is created).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_start_refuses_replicas_whose_shard_macros_disagree() {
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (ch::free_port(), ch::free_port())).collect();
    let replicas: String = ports.iter().map(|(_, tcp)| format!("<replica><host>127.0.0.1</host><port>{tcp}</port></replica>")).collect();
    let cluster = format!("<remote_servers><{CLUSTER}><shard><internal_replication>true</internal_replication>{replicas}</shard></{CLUSTER}></remote_servers>");
    let servers: Vec<ch::ClickHouse> = ports
        .iter()
        .zip(["01", "02"])
        .map(|(&(http, tcp), shard)| ch::ClickHouse::start_on(http, tcp, &format!("{cluster}<macros><shard>{shard}</shard><replica>r{shard}</replica></macros>")))
        .collect();
    let db = ch::fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    replicated(&mut args, servers.iter().map(|s| Target::parse(&s.url(&db)).unwrap()).collect());
    let e = refused_start(&args, "started with the replicas of one shard naming two shards").await;
    assert!(e.contains("macros differ ('01', '02')"), "{e}");
    for s in &servers {
        assert!(e.contains(&format!("127.0.0.1:{}", s.http_port)), "{e}");
    }
}
