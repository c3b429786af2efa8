//! The PostgreSQL collector against a real PostgreSQL 15: throwaway clusters (initdb in a temp dir, free
//! port, `pg_stat_statements` preloaded), the real `sightline` binary monitoring them as a `pg_monitor`-only
//! role, pgbench load, real row-lock conflicts, a cluster stopped and started again, Sightline killed and
//! started again, TLS, and the `--demo` cluster.
//!
//! One concern per test, each on its own cluster and its own Sightline, so they run in parallel without
//! seeing each other's sessions, load or restarts. Every wait polls for what it waits for, with a deadline.
//!
//! Needs the PostgreSQL 15 server binaries (Debian's `postgresql` package, installed by `cargo xtask
//! setup`), found in `SIGHTLINE_PG_BIN` or `/usr/lib/postgresql/15/bin`. Without them the tests fail: they
//! never skip.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sightline_model::{
    DbInstance, DbInstanceList, DbLocks, DbMatchKind, DbMetrics, DbSamples, DbSessions, DbStatements, DbStatus, DbTraceSessions,
    DbWindowSessions, MetricCatalog, MetricQueryResult,
};
use sightline_server::collect::postgres::sample::{is_own_statement, MARK};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

mod common;
mod pg;
use pg::*;

const PASSWORD: &str = "Sekr3t-monitor-pw-4711";
const WRONG_PASSWORD: &str = "wr0ng-pw-0815";

/// A superuser connection over the unix socket (trust), for set-up and the workload.
async fn connect(cluster: &Cluster, app: &str) -> Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(cluster.socket_dir()).port(cluster.port).user("postgres").dbname("postgres").application_name(app);
    let (client, conn) = cfg.connect(NoTls).await.expect("connect to the test cluster as postgres");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The monitoring role's URL for `db` on the cluster listening on `port`.
fn monitor_url(port: u16, password: &str, db: &str) -> String {
    format!("postgres://monitor:{password}@127.0.0.1:{port}/{db}")
}

/// The real binary, its output (the log) going to a file we can search for passwords.
struct Sightline {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Sightline {
    fn start(data_dir: &Path, urls: &[String]) -> Self {
        Self::start_with(data_dir, urls, &[])
    }

    fn start_with(data_dir: &Path, urls: &[String], extra: &[&str]) -> Self {
        let port = free_port();
        let log = data_dir.join("sightline.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
        cmd.arg("serve").args(extra);
        for u in urls {
            cmd.arg("--postgres").arg(u);
        }
        cmd.args(["--pg-interval-ms", "500"])
            .env("SIGHTLINE_ADDR", format!("127.0.0.1:{port}"))
            // OTLP/gRPC off: the tests run many servers at once, and none of them ingests.
            .env("SIGHTLINE_OTLP_GRPC_ADDR", "")
            .env("SIGHTLINE_DATA_DIR", data_dir.join("store"))
            .env("SIGHTLINE_DIST", data_dir.join("no-dist"))
            .env("SIGHTLINE_LOG", "info,sightline_server=debug")
            // Requests without credentials act as an admin, as before sign-in existed.
            .env("SIGHTLINE_AUTO_SIGN_IN", "true")
            .env_remove("SIGHTLINE_POSTGRES")
            .env_remove("SIGHTLINE_DEMO")
            .env_remove("SIGHTLINE_DEMO_POSTGRES")
            // The log goes to stdout: keep both streams (appending: a restarted server adds to it).
            .stdout(fs::OpenOptions::new().create(true).append(true).open(&log).unwrap())
            .stderr(fs::OpenOptions::new().append(true).open(&log).unwrap());
        let child = cmd.spawn().expect("spawn sightline");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sightline did not start listening; log:\n{}", fs::read_to_string(&log).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        Sightline { child, base, log }
    }

    /// GETs `path` as JSON, failing on an error status or on a password anywhere in the body.
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status}: {body}");
        assert!(!body.contains(PASSWORD) && !body.contains(WRONG_PASSWORD), "{path} leaks a password: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// POSTs OTLP/JSON to `/v1/traces`, failing unless it is accepted.
    async fn send_otlp_json(&self, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/traces", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn status_of(&self, path: &str) -> reqwest::StatusCode {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap().status()
    }

    async fn instance(&self, id: &str) -> DbInstance {
        let l: DbInstanceList = self.get("/api/v1/db/instances").await;
        l.instances.into_iter().find(|i| i.id == id).unwrap_or_else(|| panic!("no instance {id}"))
    }

    fn log(&self) -> String {
        let mut log = String::new();
        let _ = fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut log));
        log
    }

    /// Polls `f` until it returns `Some`, failing with `what` and the logs after `secs`.
    async fn wait_for<T, F, Fut>(&self, secs: u64, what: &str, f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        common::wait_for(secs, what, || format!("sightline log:\n{}", self.log()), f).await
    }

    /// Waits until instance `id` is in `status`, with at least one sample when up.
    async fn wait_status(&self, secs: u64, id: &str, status: DbStatus) -> DbInstance {
        self.wait_for(secs, &format!("{id} to be {status:?}"), || async move {
            let i = self.instance(id).await;
            (i.status == status && (status != DbStatus::Up || i.last_sample.is_some())).then_some(i)
        })
        .await
    }

    /// Waits until the log shows `n` reconnection attempts of instance `id` that failed again: the
    /// observable proof that it is retried while down.
    async fn wait_for_retries(&self, secs: u64, id: &str, n: usize) {
        let needle = format!("{id} ");
        self.wait_for(secs, &format!("{n} failed retries of {id} in the log"), || async {
            let retries = self.log().lines().filter(|l| l.contains("PostgreSQL instance still down") && l.contains(&needle)).count();
            (retries >= n).then_some(())
        })
        .await
    }
}

impl Drop for Sightline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    sightline_server::store::now_ms()
}

/// Nanoseconds since the epoch as OTLP/JSON writes them (a string).
fn ns(ms: i64) -> String {
    (ms as u64 * 1_000_000).to_string()
}

/// OTLP/JSON: a transaction `name` of `service` (span `1111…`, over `tx` in ms) with one SQL step (span
/// `2222…`, over `step`, running `sql` on PostgreSQL), plus `more` spans of the same resource.
fn transaction_with_sql(
    service: &str,
    trace_id: &str,
    name: &str,
    tx: (i64, i64),
    step: (i64, i64),
    sql: &str,
    more: Vec<serde_json::Value>,
) -> serde_json::Value {
    let mut spans = vec![
        serde_json::json!({"traceId": trace_id, "spanId": "1111111111111111", "name": name, "kind": 2,
            "startTimeUnixNano": ns(tx.0), "endTimeUnixNano": ns(tx.1)}),
        serde_json::json!({"traceId": trace_id, "spanId": "2222222222222222", "parentSpanId": "1111111111111111",
            "name": sql.split_whitespace().next().unwrap_or("SQL"), "kind": 3,
            "startTimeUnixNano": ns(step.0), "endTimeUnixNano": ns(step.1),
            "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}},
                           {"key": "db.query.text", "value": {"stringValue": sql}}]}),
    ];
    spans.extend(more);
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
}

/// A fresh cluster with the monitoring role and `pg_stat_statements` (then `setup`, each statement as the
/// superuser), watched by a fresh Sightline through the monitoring role (plus `more` URLs built from the
/// port), once its instance is up and sampled.
struct Watched {
    cluster: Cluster,
    work: tempfile::TempDir,
    sl: Sightline,
    /// The instance of `monitor_url(port, PASSWORD, "postgres")`.
    id: String,
    urls: Vec<String>,
}

impl Watched {
    async fn start(setup: &[&str], more: impl FnOnce(u16) -> Vec<String>) -> Self {
        let cluster = Cluster::new();
        cluster.create_monitor(PASSWORD);
        for sql in setup {
            cluster.psql(sql);
        }
        let port = cluster.port;
        let mut urls = vec![monitor_url(port, PASSWORD, "postgres")];
        urls.extend(more(port));
        let work = tempfile::tempdir().unwrap();
        let sl = Sightline::start(work.path(), &urls);
        let id = format!("127.0.0.1-{port}-postgres");
        sl.wait_status(20, &id, DbStatus::Up).await;
        Watched { cluster, work, sl, id, urls }
    }
}

/// The table the lock conflicts are about.
const ACCOUNTS: &str = "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO accounts VALUES (1, 0), (2, 0)";

/// A real row-lock conflict: `holder` updated account 1 and stays idle in its transaction; the waiter's
/// update of the same row waits for it until the holder commits.
struct Conflict {
    holder: Client,
    holder_pid: i32,
    waiter_pid: i32,
    waiting: JoinHandle<Result<u64, tokio_postgres::Error>>,
}

impl Conflict {
    async fn start(cluster: &Cluster) -> Self {
        let holder = connect(cluster, "holder").await;
        let holder_pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.unwrap();
        let waiter = connect(cluster, "waiter").await;
        let waiter_pid: i32 = waiter.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        let waiting = tokio::spawn(async move { waiter.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1", &[]).await });
        Conflict { holder, holder_pid, waiter_pid, waiting }
    }

    /// Waits for a live lock tree with the waiter (waiting a measurable time) under the holder.
    async fn wait_for_tree(&self, sl: &Sightline, id: &str) -> DbLocks {
        let (holder_pid, waiter_pid) = (self.holder_pid, self.waiter_pid);
        sl.wait_for(15, "the lock tree to show the waiter under its blocker", || async move {
            let l: DbLocks = sl.get(&format!("/api/v1/db/instances/{id}/locks")).await;
            let root = l.roots.iter().find(|r| r.pid == holder_pid)?;
            root.waiters.iter().any(|w| w.pid == waiter_pid && w.waiting.as_ref().is_some_and(|x| x.waiting_ms > 0.0)).then_some(l.clone())
        })
        .await
    }

    /// Commits the holder; the waiter's update then goes through.
    async fn end(self) {
        self.holder.batch_execute("COMMIT").await.unwrap();
        assert_eq!(self.waiting.await.unwrap().unwrap(), 1);
    }
}

/// Health at a glance: up with the server's facts, a wrong password down with the server's reason, a
/// database without `pg_stat_statements` flagged with a hint, bad requests answered as errors — and no
/// password in any answer (checked by every `get`) or in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_report_their_health_without_leaking_passwords() {
    let w = Watched::start(&["CREATE DATABASE nostats"], |port| {
        vec![monitor_url(port, WRONG_PASSWORD, "postgres"), monitor_url(port, PASSWORD, "nostats")]
    })
    .await;
    let (sl, id, port) = (&w.sl, w.id.as_str(), w.cluster.port);
    let (bad_id, nostats_id) = (format!("{id}-2"), format!("127.0.0.1-{port}-nostats"));
    let _admin = connect(&w.cluster, "test-admin").await;

    let inst = sl
        .wait_for(10, "a sample that counts the admin session", || async move {
            let i = sl.instance(id).await;
            i.connections.is_some_and(|c| c >= 2).then_some(i)
        })
        .await;
    assert_eq!(inst.name, format!("monitor@127.0.0.1:{port}/postgres"));
    assert!(inst.version.as_deref().unwrap_or("").starts_with("15"), "{inst:?}");
    assert_eq!(inst.max_connections, Some(50));
    assert!(inst.statements_available, "{inst:?}");

    let bad = sl.wait_status(20, &bad_id, DbStatus::Down).await;
    let err = bad.last_error.unwrap();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(bad.last_sample.is_none());
    let to = now_ms() + 1;
    let r: MetricQueryResult = sl.get(&format!("/api/v1/metrics/query?metric=db.tps&from={}&to={to}&group_by=instance", to - 60_000)).await;
    assert!(!r.series.iter().any(|s| s.labels.get("instance") == Some(&bad_id)), "the unreachable instance has no samples");

    let nostats = sl.wait_status(20, &nostats_id, DbStatus::Up).await;
    assert!(!nostats.statements_available);
    let none: DbStatements = sl.get(&format!("/api/v1/db/instances/{nostats_id}/statements")).await;
    assert!(!none.available && none.statements.is_empty());
    assert!(none.hint.as_deref().unwrap().contains("CREATE EXTENSION pg_stat_statements"), "{none:?}");

    // Unknown instances and bad windows are JSON errors.
    assert_eq!(sl.status_of("/api/v1/db/instances/nope/locks").await, 404);
    assert_eq!(sl.status_of(&format!("/api/v1/db/instances/{id}/metrics?from=10&to=5")).await, 400);
    assert_eq!(sl.status_of(&format!("/api/v1/db/instances/{id}/sessions?from=5")).await, 400, "from without to");

    // Nothing secret in the log, though it ran at debug level through failures.
    let log = sl.log();
    assert!(log.contains("PostgreSQL instance is down"), "transitions are logged:\n{log}");
    assert!(!log.contains(PASSWORD) && !log.contains(WRONG_PASSWORD), "the log leaks a password:\n{log}");
}

/// pgbench load shows in the metric points, in the board metrics of the same history, in a window's
/// sessions and in the top statements — which list the workload's statements and none of Sightline's own
/// (its reads of `pg_stat_activity`, `pg_locks`, `pg_stat_statements`, … every one of them marked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_shows_in_the_metrics_and_the_top_statements_without_sightlines_own() {
    let w = Watched::start(&[], |_| vec![]).await;
    let (sl, id) = (&w.sl, w.id.as_str());
    run(w.cluster.pgbench(&["-i", "-s", "1", "-q"]).stdout(Stdio::null()).stderr(Stdio::null()));
    let started = now_ms();
    let out = w.cluster.pgbench(&["-T", "4", "-c", "4", "-n"]).output().unwrap();
    assert!(out.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    let ended = now_ms();
    // A sample taken after the load holds the last of its statement counters.
    sl.wait_for(10, "a sample after the load", || async move { sl.instance(id).await.last_sample.filter(|t| *t > ended) }).await;
    let to = now_ms() + 1;

    let m: DbMetrics = sl.get(&format!("/api/v1/db/instances/{id}/metrics?from={started}&to={to}")).await;
    assert!(m.points.len() >= 6, "about two samples a second: {}", m.points.len());
    let max_tps = m.points.iter().filter_map(|p| p.tps).fold(0.0, f64::max);
    assert!(max_tps > 10.0, "pgbench's transactions per second: {max_tps}");
    assert!(m.points.iter().any(|p| p.buffer_hit_ratio.is_some_and(|r| r > 0.5 && r <= 1.0)));
    assert!(m.points.iter().any(|p| p.total_runtime_ms > 0.0));
    assert!(m.points.iter().any(|p| p.statement_time_ms.is_some_and(|t| t > 0.0)), "statement time from pg_stat_statements");
    assert!(m.points.iter().all(|p| p.max_connections == 50 && p.connections >= 1));
    assert!(m.points.iter().any(|p| p.connections >= 5), "4 pgbench clients + ours");

    // The same history feeds the board metric catalogue: one series per instance, buckets of samples.
    let c: MetricCatalog = sl.get("/api/v1/metrics").await;
    assert!(c.metrics.iter().filter(|m| m.name.starts_with("db.")).all(|m| m.available), "{c:?}");
    let r: MetricQueryResult =
        sl.get(&format!("/api/v1/metrics/query?metric=db.tps&from={started}&to={to}&step=1s&group_by=instance")).await;
    assert_eq!(r.unit, "1/s");
    let mine = r.series.iter().find(|s| s.labels.get("instance").map(String::as_str) == Some(id));
    let mine = mine.unwrap_or_else(|| panic!("a series for {id}: {r:?}"));
    assert_eq!(mine.values.len(), r.timestamps.len());
    assert!(mine.values.iter().flatten().any(|v| *v > 10.0), "pgbench's tps per bucket: {mine:?}");
    let r: MetricQueryResult = sl.get(&format!("/api/v1/metrics/query?metric=db.buffer_hit_ratio&from={started}&to={to}&filter=instance:{id}")).await;
    assert_eq!(r.series.len(), 1);
    assert!(r.series[0].values.iter().flatten().all(|v| (0.0..=1.0).contains(v)) && r.series[0].values.iter().any(Option::is_some));

    let win: DbWindowSessions = sl.get(&format!("/api/v1/db/instances/{id}/sessions?from={started}&to={to}")).await;
    assert!(win.sessions.iter().any(|r| r.query.as_deref().is_some_and(|q| q.contains("pgbench_"))), "pgbench's statements");

    let st: DbStatements = sl.get(&format!("/api/v1/db/instances/{id}/statements?from={started}&to={to}&limit=500")).await;
    assert!(st.available, "{st:?}");
    let upd = st.statements.iter().find(|s| s.query.contains("UPDATE pgbench_accounts"));
    let upd = upd.unwrap_or_else(|| panic!("pgbench's UPDATE is among the top statements: {:#?}", st.statements));
    assert!(upd.calls > 100, "{upd:?}");
    assert!(upd.total_ms > 0.0 && upd.mean_ms > 0.0 && upd.rows == upd.calls, "{upd:?}");
    assert!(st.statements.windows(2).all(|w| w[0].total_ms >= w[1].total_ms), "ordered by total time");
    let ours = ["pg_stat_activity", "pg_locks", "pg_stat_statements", "pg_stat_database", "pg_database_size", "current_setting"];
    let own: Vec<_> = st.statements.iter().filter(|s| is_own_statement(&s.query) || ours.iter().any(|v| s.query.contains(v))).collect();
    assert!(own.is_empty(), "Sightline's own statements are listed: {own:#?}");
    // What makes that robust: every statement the monitoring role ran carries the mark.
    let counts = w.cluster.psql(&format!(
        "SELECT count(*) FILTER (WHERE strpos(query, '{MARK}') = 0), count(*) FROM pg_stat_statements WHERE userid = 'monitor'::regrole"
    ));
    let (unmarked, all) = counts.split_once('|').unwrap();
    assert_eq!(unmarked, "0", "monitoring statements without the mark ({all} in all)");
    assert!(all.parse::<u32>().unwrap() >= 5, "the collector's statements are tracked: {all}");
}

/// The head blocker at the root, idle in its transaction; the waiter under it, waiting for a share lock on
/// the holder's transaction id, on `accounts`.
fn assert_live_tree(locks: &DbLocks, holder_pid: i32, waiter_pid: i32) {
    let root = locks.roots.iter().find(|r| r.pid == holder_pid).unwrap();
    assert!(root.waiting.is_none(), "the head blocker waits for nothing: {root:?}");
    assert_eq!(root.application_name.as_deref(), Some("holder"));
    assert_eq!(root.state.as_deref(), Some("idle in transaction"));
    assert!(root.query.as_deref().unwrap().contains("UPDATE accounts SET balance = balance + 1"), "{root:?}");
    let wn = root.waiters.iter().find(|w| w.pid == waiter_pid).unwrap();
    let lock = wn.waiting.as_ref().unwrap();
    assert_eq!(lock.mode, "ShareLock", "{lock:?}");
    assert_eq!(lock.locktype, "transactionid");
    assert_eq!(lock.relation.as_deref(), Some("accounts"), "{lock:?}");
    assert_eq!(lock.blocked_by, vec![holder_pid]);
    assert!(wn.query.as_deref().unwrap().contains("balance + 10"), "{wn:?}");
}

/// The live sessions: the waiter (waiting on the lock, blocked by the holder) and the holder, not
/// Sightline's own session, with the backends' memory and CPU from `/proc`.
async fn assert_live_sessions(sl: &Sightline, id: &str, holder_pid: i32, waiter_pid: i32) {
    let sessions: DbSessions = sl.get(&format!("/api/v1/db/instances/{id}/sessions")).await;
    let ws = sessions.sessions.iter().find(|s| s.pid == waiter_pid).expect("the waiting session is listed");
    assert_eq!(ws.state.as_deref(), Some("active"));
    assert_eq!(ws.wait_event_type.as_deref(), Some("Lock"));
    assert_eq!(ws.wait_class, "Lock");
    assert_eq!(ws.blocked_by, vec![holder_pid]);
    assert_eq!(ws.user.as_deref(), Some("postgres"));
    assert_eq!(ws.database.as_deref(), Some("postgres"));
    assert!(ws.elapsed_ms > 0.0 && ws.backend_start.is_some() && ws.query_start.is_some());
    let hs = sessions.sessions.iter().find(|s| s.pid == holder_pid).expect("the blocker is listed");
    assert!(hs.xact_start.is_some());
    assert!(sessions.sessions.iter().all(|s| s.application_name.as_deref() != Some("sightline")), "our own session is not shown");
    // The cluster runs on this machine: its backends' processes are read from /proc.
    assert!(ws.host_rss_bytes.is_some_and(|b| b > 1 << 20), "resident memory of the local backend: {ws:?}");
    let cpu = sl
        .wait_for(5, "the holder's CPU, once it was seen in two samples", || async move {
            let s: DbSessions = sl.get(&format!("/api/v1/db/instances/{id}/sessions")).await;
            s.sessions.iter().find(|x| x.pid == holder_pid)?.host_cpu_percent
        })
        .await;
    assert!((0.0..=200.0).contains(&cpu), "{cpu}");
}

/// A real lock conflict: live in the lock tree and the sessions (with the backends' CPU and memory read
/// from `/proc`), then, once it ended, replayed from history — the tree and sessions of a past sample, the
/// window's merged sessions, the sample times with lock waits, and the metrics' lock series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_conflict_shows_live_and_replays_from_history() {
    let w = Watched::start(&[ACCOUNTS], |_| vec![]).await;
    let (sl, id) = (&w.sl, w.id.as_str());
    let started = now_ms();
    let c = Conflict::start(&w.cluster).await;
    let (holder_pid, waiter_pid) = (c.holder_pid, c.waiter_pid);

    let locks = c.wait_for_tree(sl, id).await;
    assert_live_tree(&locks, holder_pid, waiter_pid);
    let lock_at = locks.at.unwrap();
    assert_live_sessions(sl, id, holder_pid, waiter_pid).await;

    // Half a second of waiting, seen by at least two samples, before the conflict ends.
    let window = |from: i64| format!("/api/v1/db/instances/{id}/sessions?from={from}&to={}", now_ms() + 1);
    let waiter_row = |win: &DbWindowSessions| {
        win.sessions.iter().find(|r| r.pid == waiter_pid && r.query.as_deref().is_some_and(|q| q.contains("balance + 10"))).cloned()
    };
    sl.wait_for(10, "the waiter waiting 500 ms in two samples", || async {
        let win: DbWindowSessions = sl.get(&window(started)).await;
        waiter_row(&win).filter(|r| r.samples >= 2 && r.max_elapsed_ms >= 500.0)
    })
    .await;
    c.end().await;
    sl.wait_for(10, "the live lock tree to empty", || async move {
        let l: DbLocks = sl.get(&format!("/api/v1/db/instances/{id}/locks")).await;
        (l.at.unwrap() > lock_at && !l.roots.iter().any(|r| r.pid == holder_pid)).then_some(())
    })
    .await;

    let past: DbLocks = sl.get(&format!("/api/v1/db/instances/{id}/locks?at={lock_at}")).await;
    assert_eq!(past.at, Some(lock_at));
    let proot = past.roots.iter().find(|r| r.pid == holder_pid).expect("the replayed tree has the blocker");
    assert_eq!(proot.waiters.iter().find(|w| w.pid == waiter_pid).unwrap().waiting.as_ref().unwrap().relation.as_deref(), Some("accounts"));
    let samples: DbSamples = sl.get(&format!("/api/v1/db/instances/{id}/samples?from={started}&to={}", now_ms() + 1)).await;
    assert!(samples.times.len() >= 3, "{samples:?}");
    assert!(samples.lock_times.contains(&lock_at), "{samples:?}");
    let past_sessions: DbSessions = sl.get(&format!("/api/v1/db/instances/{id}/sessions?at={}", lock_at + 100)).await;
    assert_eq!(past_sessions.at, Some(lock_at), "the nearest stored sample");
    assert!(past_sessions.sessions.iter().any(|s| s.pid == waiter_pid && s.wait_class == "Lock"));

    // A window's sessions (the drag selection): merged per session and statement, longest first.
    let win: DbWindowSessions = sl.get(&window(started)).await;
    assert!(win.samples >= 3, "{}", win.samples);
    let wrow = waiter_row(&win).expect("the waiter's row");
    assert!(wrow.samples >= 2 && wrow.max_elapsed_ms >= 500.0, "{wrow:?}");
    assert!(wrow.waits.iter().any(|(w, n)| w == "Lock: transactionid" && *n >= 1), "{wrow:?}");
    assert_eq!(wrow.blocked_by, vec![holder_pid]);
    assert!(win.sessions.windows(2).all(|w| w[0].max_elapsed_ms >= w[1].max_elapsed_ms), "longest first");

    let to = now_ms() + 1;
    let m: DbMetrics = sl.get(&format!("/api/v1/db/instances/{id}/metrics?from={started}&to={to}")).await;
    assert!(m.points.iter().any(|p| p.active_by_class.get("Lock").copied().unwrap_or(0) >= 1));
    assert!(m.points.iter().any(|p| p.lock_waits >= 1));
    let r: MetricQueryResult = sl
        .get(&format!("/api/v1/metrics/query?metric=db.sessions.active&from={started}&to={to}&filter=instance:{id}&group_by=wait_class"))
        .await;
    let lock = r.series.iter().find(|s| s.labels.get("wait_class").map(String::as_str) == Some("Lock")).expect("a Lock series");
    assert!(lock.values.iter().flatten().any(|v| *v > 0.0), "{lock:?}");
}

/// The database side of an APM trace: a statement carrying a sqlcommenter `traceparent` is found by its
/// trace id; without one, the service's session (application name = service name) running the step's
/// statement while the step ran matches heuristically, another application's identical statement does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_sessions_match_by_traceparent_and_heuristically() {
    let w = Watched::start(&[], |_| vec![]).await;
    let (sl, id) = (&w.sl, w.id.as_str());

    let traced = connect(&w.cluster, "payment-service").await;
    let traced_pid: i32 = traced.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let sql = "/*controller='pay',traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT pg_sleep(1.5)";
    let running = tokio::spawn(async move { traced.batch_execute(sql).await });
    let found = sl
        .wait_for(10, "the traced statement to be found by its trace id", || async move {
            let t: DbTraceSessions = sl.get("/api/v1/db/traces/4BF92F3577B34DA6A3CE929D0E0E4736").await;
            (!t.matches.is_empty()).then_some(t)
        })
        .await;
    let m = &found.matches[0];
    assert_eq!(found.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(m.instance, id);
    assert_eq!(m.session.pid, traced_pid);
    assert_eq!(m.session.span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(m.session.application_name.as_deref(), Some("payment-service"));
    assert_eq!(m.session.wait_event.as_deref(), Some("PgSleep"));
    running.await.unwrap().unwrap();
    assert!(found.matches.iter().all(|m| m.matched_by == DbMatchKind::Traceparent && m.span_id.as_deref() == Some("00f067aa0ba902b7")));

    let svc = connect(&w.cluster, "billing-svc").await;
    let svc_pid: i32 = svc.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let other = connect(&w.cluster, "other-svc").await;
    let other_pid: i32 = other.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let step_start = now_ms();
    // The statements are the workload: long enough for samples at 500 ms to see them.
    let a = tokio::spawn(async move { svc.batch_execute("SELECT  pg_sleep(1.2)").await });
    let b = tokio::spawn(async move { other.batch_execute("SELECT pg_sleep(1.2)").await });
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let step_end = now_ms();
    let trace_id = "7c5a4e1f0b2d4c6e8a9b1c2d3e4f5a6b";
    let tx = (step_start - 20, step_end + 20);
    sl.send_otlp_json(transaction_with_sql("billing-svc", trace_id, "POST /bill", tx, (step_start, step_end), "SELECT pg_sleep($1)", vec![])).await;
    let h: DbTraceSessions = sl.get(&format!("/api/v1/db/traces/{trace_id}")).await;
    assert!(!h.matches.is_empty(), "the untagged statement is matched heuristically");
    assert!(h.matches.iter().all(|m| m.session.pid == svc_pid && m.matched_by == DbMatchKind::Heuristic), "{h:#?}");
    assert!(h.matches.iter().all(|m| m.span_id.as_deref() == Some("2222222222222222")));
    assert!(!h.matches.iter().any(|m| m.session.pid == other_pid), "another application's session is not matched");

    let none: DbTraceSessions = sl.get("/api/v1/db/traces/0af7651916cd43dd8448eb211c80319c").await;
    assert!(none.matches.is_empty());
    assert_eq!(sl.status_of("/api/v1/db/traces/not-a-trace").await, 400);
}

/// "What changed" sees the database side: a transaction whose statement (tagged with its `traceparent`)
/// waited for a row lock has the wait event and its blocker's statement as values, which an unrelated fast
/// transaction of the same window does not; the `tag` filter on the wait event finds exactly it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_counts_the_wait_events_of_traced_statements() {
    let w = Watched::start(&[ACCOUNTS], |_| vec![]).await;
    let sl = &w.sl;
    let holder = connect(&w.cluster, "holder").await;
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.unwrap();
    let waiter = connect(&w.cluster, "payment-service").await;
    let trace_id = "5a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let sql = format!("/*traceparent='00-{trace_id}-2222222222222222-01'*/ UPDATE accounts SET balance = balance + 10 WHERE id = 1");
    let start = now_ms();
    let waiting = tokio::spawn(async move { waiter.batch_execute(&sql).await });
    sl.wait_for(15, "a sample of the traced statement waiting for the lock", || async move {
        let t: DbTraceSessions = sl.get(&format!("/api/v1/db/traces/{trace_id}")).await;
        t.matches.iter().any(|m| m.session.wait_event_type.as_deref() == Some("Lock")).then_some(())
    })
    .await;
    holder.batch_execute("COMMIT").await.unwrap();
    waiting.await.unwrap().unwrap();
    let end = now_ms();
    let fast = serde_json::json!({"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "3333333333333333", "name": "GET /health",
        "kind": 2, "startTimeUnixNano": ns(end - 10), "endTimeUnixNano": ns(end)});
    let sql = "UPDATE accounts SET balance = balance + $1 WHERE id = $2";
    sl.send_otlp_json(transaction_with_sql("payment-service", trace_id, "POST /pay", (start - 5, end + 5), (start, end), sql, vec![fast])).await;
    let slow = ((end - start) / 2).max(1);
    let window = format!("window_from={}&window_to={}", start - 60_000, end + 60_000);
    let a: sightline_model::CompareAnswer =
        sl.get(&format!("/api/v1/compare?from={}&to={}&min_ms={slow}&{window}&limit=200", start - 60_000, end + 60_000)).await;
    assert_eq!((a.selection.count, a.baseline.count), (1, 1), "{a:#?}");
    let wait = |v: &str| a.values.iter().find(|x| x.dim == sightline_model::CompareDim::WaitEvent && x.value.starts_with(v)).cloned();
    let lock = wait("Lock/transactionid").unwrap_or_else(|| panic!("{:#?}", a.values));
    assert_eq!((lock.selected, lock.baseline), (1, 0));
    let blocker = wait("blocked by: ").filter(|b| b.value.contains("update accounts set balance=balance+")).unwrap_or_else(|| panic!("{:#?}", a.values));
    assert_eq!((blocker.selected, blocker.baseline), (1, 0));
    let p: sightline_model::TransactionPage = sl
        .get(&format!("/api/v1/transactions?from={}&to={}&tag=wait_event%3DLock%2Ftransactionid", start - 60_000, end + 60_000))
        .await;
    assert_eq!(p.total, 1);
    assert_eq!(p.items[0].trace_id, trace_id);
}

/// The cluster stopped: down, since when, why (no password), still down with `since` unchanged while it is
/// retried; started again: up and sampling, the last failure still shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_is_down_while_retried_then_up_again() {
    let w = Watched::start(&[], |_| vec![]).await;
    let (sl, id) = (&w.sl, w.id.as_str());
    let stopped = now_ms();
    w.cluster.stop("fast");
    let down = sl.wait_status(15, id, DbStatus::Down).await;
    assert!(down.since >= stopped, "{down:?}");
    let msg = down.last_error.clone().unwrap();
    assert!(!msg.is_empty() && !msg.contains(PASSWORD), "{msg}");
    eprintln!("reported when the cluster stopped: {msg}");
    sl.wait_for_retries(15, id, 2).await;
    let still = sl.instance(id).await;
    assert_eq!(still.status, DbStatus::Down);
    assert_eq!(still.since, down.since, "since stays at the first failure while retrying");

    let restarted = now_ms();
    w.cluster.start();
    let up = sl
        .wait_for(40, "the instance to come back up and sample", || async move {
            let i = sl.instance(id).await;
            (i.status == DbStatus::Up && i.last_sample.is_some_and(|t| t > restarted)).then_some(i)
        })
        .await;
    assert!(up.since >= restarted);
    assert!(up.last_error.is_some(), "the last failure stays visible after recovery");
    let log = sl.log();
    assert!(log.contains("PostgreSQL instance is down") && log.contains("PostgreSQL instance is up"), "transitions are logged:\n{log}");
    assert!(!log.contains(PASSWORD), "the log leaks a password:\n{log}");
}

/// The history survives a kill -9 of Sightline: after the restart, a past lock tree is replayable and the
/// statements of that time are still listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_kill_9_of_sightline() {
    let w = Watched::start(&[ACCOUNTS], |_| vec![]).await;
    let id = w.id.clone();
    let id = id.as_str();
    let started = now_ms();
    let c = Conflict::start(&w.cluster).await;
    let (holder_pid, waiter_pid) = (c.holder_pid, c.waiter_pid);
    let lock_at = c.wait_for_tree(&w.sl, id).await.at.unwrap();
    c.end().await;
    let sl = &w.sl;
    let statement = sl
        .wait_for(10, "the conflict's UPDATE among the statements", || async move {
            let st: DbStatements = sl.get(&format!("/api/v1/db/instances/{id}/statements?from={started}&to={}", now_ms() + 1)).await;
            st.statements.into_iter().find(|s| s.query.contains("UPDATE accounts"))
        })
        .await;
    let to = now_ms() + 1;

    let Watched { sl, work, urls, cluster: _cluster, .. } = w;
    drop(sl); // SIGKILL: no shutdown flush
    let sl = Sightline::start(work.path(), &urls);
    let past: DbLocks = sl.get(&format!("/api/v1/db/instances/{id}/locks?at={lock_at}")).await;
    assert_eq!(past.at, Some(lock_at), "the stored sample is back after the restart");
    assert!(past.roots.iter().any(|r| r.pid == holder_pid && r.waiters.iter().any(|w| w.pid == waiter_pid)), "{past:?}");
    let st: DbStatements = sl.get(&format!("/api/v1/db/instances/{id}/statements?from={started}&to={to}")).await;
    let again = st.statements.iter().find(|s| s.query == statement.query).expect("statement history too");
    assert_eq!(again.calls, statement.calls);
}

/// `serve --demo` starts its own PostgreSQL under the data directory, with a load, and monitors it: the
/// instance is up with live sessions of the demo's clients and top statements that are the demo's, not
/// Sightline's; a SIGTERM stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_postgres_is_started_monitored_and_stopped() {
    pg_bin(); // fail, not skip, without the binaries
    let work = tempfile::tempdir().unwrap();
    let mut sl = Sightline::start_with(work.path(), &[], &["--demo"]);
    let s = &sl;
    let inst = sl
        .wait_for(30, "the demo instance to be up and sampled", || async move {
            let l: DbInstanceList = s.get("/api/v1/db/instances").await;
            l.instances.into_iter().find(|i| i.status == DbStatus::Up && i.last_sample.is_some())
        })
        .await;
    assert!(inst.name.starts_with("monitor@127.0.0.1:"), "a pg_monitor role on loopback: {inst:?}");
    assert!(inst.statements_available, "{inst:?}");
    let id = inst.id.clone();
    let idr = id.as_str();
    let from = now_ms();
    let apps = sl
        .wait_for(30, "the demo clients' sessions", || async move {
            let w: DbWindowSessions = s.get(&format!("/api/v1/db/instances/{idr}/sessions?from={from}&to={}", now_ms() + 1)).await;
            let apps: Vec<String> = w.sessions.iter().filter_map(|x| x.application_name.clone()).collect();
            (apps.iter().any(|a| a == "reports") && apps.iter().any(|a| a == "shop-api")).then_some(apps)
        })
        .await;
    assert!(!apps.iter().any(|a| a == "sightline"), "{apps:?}");
    let st = sl
        .wait_for(30, "the demo's statements", || async move {
            let st: DbStatements = s.get(&format!("/api/v1/db/instances/{idr}/statements?from={from}&to={}&limit=500", now_ms() + 1)).await;
            st.statements.iter().any(|x| x.query.contains("INSERT INTO payments")).then_some(st)
        })
        .await;
    let own = |q: &str| is_own_statement(q) || ["pg_stat_activity", "pg_locks", "pg_stat_database"].iter().any(|v| q.contains(v));
    assert!(!st.statements.iter().any(|x| own(&x.query)), "Sightline's own statements are listed: {:#?}", st.statements);
    let pid_file = work.path().join("store/demo-postgres/data/postmaster.pid");
    assert!(pid_file.exists(), "the cluster lives under the data directory");

    // SIGTERM: the server stops its PostgreSQL before it exits.
    run(Command::new("kill").args(["-TERM", &sl.child.id().to_string()]));
    let status = sl.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!pid_file.exists(), "the demo PostgreSQL was stopped");
}

/// libpq's `sslmode` against a cluster with TLS (a certificate from a CA made here) and one without:
/// `require` encrypts (checked on the server, in `pg_stat_ssl`), `verify-full` with the CA connects to the name
/// in the certificate and refuses another (127.0.0.1), `verify-ca` accepts it; without the CA the certificate is
/// refused (down, with why); `require` against a server without TLS is down with a clear message, `prefer`
/// falls back to plain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_speaks_tls_as_libpq_sslmode_says() {
    let (ca_pem, cert_pem, key_pem) = common::test_certificates();
    let tls = Cluster::with_conf_and_files(
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        &[("server.crt", cert_pem.as_bytes()), ("server.key", key_pem.as_bytes())],
    );
    let plain = Cluster::new();
    for c in [&tls, &plain] {
        c.psql(&format!("CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor"));
    }
    let work = tempfile::tempdir().unwrap();
    let ca_path = work.path().join("test ca.pem");
    fs::write(&ca_path, &ca_pem).unwrap();
    let ca_arg: String = ca_path.display().to_string().replace('%', "%25").replace(' ', "%20");
    let (tp, pp) = (tls.port, plain.port);
    let urls = [
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{tp}/postgres?sslmode=require"),
        format!("postgres://monitor:{PASSWORD}@localhost:{tp}/postgres?sslmode=verify-full&sslrootcert={ca_arg}"),
        format!("postgres://monitor:{PASSWORD}@localhost:{tp}/postgres?sslmode=verify-full"),
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{tp}/postgres?sslmode=verify-full&sslrootcert={ca_arg}"),
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{tp}/postgres?sslmode=verify-ca&sslrootcert={ca_arg}"),
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{pp}/postgres?sslmode=require"),
        format!("postgres://monitor:{PASSWORD}@127.0.0.1:{pp}/postgres?sslmode=prefer"),
    ];
    let sl = Sightline::start(work.path(), &urls);
    let s = &sl;
    let (require, full, no_ca) = (format!("127.0.0.1-{tp}-postgres"), format!("localhost-{tp}-postgres"), format!("localhost-{tp}-postgres-2"));
    let (wrong_name, ca_only) = (format!("127.0.0.1-{tp}-postgres-2"), format!("127.0.0.1-{tp}-postgres-3"));
    let (plain_require, plain_prefer) = (format!("127.0.0.1-{pp}-postgres"), format!("127.0.0.1-{pp}-postgres-2"));

    for id in [&require, &full, &ca_only, &plain_prefer] {
        let i = sl.wait_status(20, id, DbStatus::Up).await;
        let host = if *id == full { "localhost" } else { "127.0.0.1" };
        assert_eq!(i.name, format!("monitor@{host}:{}/postgres", if *id == plain_prefer { pp } else { tp }));
    }
    // Sampling works over TLS: the sessions of the TLS cluster are read (a long statement shows).
    let busy = connect(&tls, "busy-over-socket").await;
    let running = tokio::spawn(async move { busy.batch_execute("SELECT pg_sleep(1.5)").await });
    let rq = require.as_str();
    sl.wait_for(10, "a session of the TLS cluster", || async move {
        let x: DbSessions = s.get(&format!("/api/v1/db/instances/{rq}/sessions")).await;
        x.sessions.iter().any(|x| x.application_name.as_deref() == Some("busy-over-socket")).then_some(())
    })
    .await;
    running.await.unwrap().unwrap();

    // On the server side, the monitoring connections are encrypted; over the plain cluster, not.
    let check = "SELECT count(*), bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'sightline'";
    let row = connect(&tls, "test-check").await.query_one(check, &[]).await.unwrap();
    let (n, all_ssl): (i64, Option<bool>) = (row.get(0), row.get(1));
    assert_eq!((n, all_ssl), (3, Some(true)), "require, verify-full and verify-ca connect over TLS");
    let row = connect(&plain, "test-check").await.query_one(check, &[]).await.unwrap();
    let (n, all_ssl): (i64, Option<bool>) = (row.get(0), row.get(1));
    assert_eq!((n, all_ssl), (1, Some(false)), "prefer falls back to plain without TLS on the server");

    // verify-full without the CA (the webpki roots do not know it), or to a name the certificate does not
    // carry: down, with the certificate error; require without TLS on the server: down, saying so.
    for (id, want) in [
        (&no_ca, "TLS: certificate verify failed (sslmode=verify-full): invalid peer certificate: UnknownIssuer"),
        (&wrong_name, "TLS: certificate verify failed (sslmode=verify-full): invalid peer certificate: certificate not valid for name"),
        (&plain_require, "TLS: the server does not accept TLS"),
    ] {
        let i = sl.wait_status(20, id, DbStatus::Down).await;
        let err = i.last_error.unwrap();
        assert!(err.starts_with(want), "{id}: {err}");
        assert!(i.last_sample.is_none());
        eprintln!("{id}: {err}");
    }
    // Retried with backoff: still down, since unchanged, nothing sampled.
    let first = sl.instance(&no_ca).await;
    sl.wait_for_retries(15, &no_ca, 2).await;
    let i = sl.instance(&no_ca).await;
    assert_eq!((i.status, i.since, i.last_sample), (DbStatus::Down, first.since, None));

    let log = sl.log();
    assert!(log.contains("certificate verify failed"), "{log}");
    assert!(!log.contains(PASSWORD), "the log leaks a password:\n{log}");
}
