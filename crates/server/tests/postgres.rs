//! The PostgreSQL collector against a real PostgreSQL 15: a throwaway cluster (initdb in a temp dir, free
//! port, `pg_stat_statements` preloaded), the real `sightline` binary monitoring it as a `pg_monitor`-only
//! role, pgbench load, a real row-lock conflict, and the cluster stopped and started again.
//!
//! Needs the PostgreSQL 15 server binaries (Debian's `postgresql` package, installed by `cargo xtask
//! setup`), found in `SIGHTLINE_PG_BIN` or `/usr/lib/postgresql/15/bin`. Without them the test fails: it
//! never skips.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sightline_model::{
    DbInstance, DbInstanceList, DbLocks, DbMatchKind, DbMetrics, DbSamples, DbSessions, DbStatements, DbStatus, DbTraceSessions, DbWindowSessions, MetricCatalog,
    MetricQueryResult,
};
use tokio_postgres::{Client, NoTls};

mod common;
mod pg;
use pg::*;

const PASSWORD: &str = "Sekr3t-monitor-pw-4711";
const WRONG_PASSWORD: &str = "wr0ng-pw-0815";

/// A superuser connection over the unix socket (trust), for set-up and the lock conflict.
async fn connect(cluster: &Cluster, app: &str) -> Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(cluster.socket_dir()).port(cluster.port).user("postgres").dbname("postgres").application_name(app);
    let (client, conn) = cfg.connect(NoTls).await.expect("connect to the test cluster as postgres");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
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
            .env("SIGHTLINE_DATA_DIR", data_dir.join("store"))
            .env("SIGHTLINE_DIST", data_dir.join("no-dist"))
            .env("SIGHTLINE_LOG", "info,sightline_server=debug")
            // Requests without credentials act as an admin, as before sign-in existed.
            .env("SIGHTLINE_AUTO_SIGN_IN", "true")
            .env_remove("SIGHTLINE_POSTGRES")
            .env_remove("SIGHTLINE_DEMO")
            .env_remove("SIGHTLINE_DEMO_POSTGRES")
            // The log goes to stdout: keep both streams.
            .stdout(fs::File::create(&log).unwrap())
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

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status}: {body}");
        assert!(!body.contains(PASSWORD) && !body.contains(WRONG_PASSWORD), "{path} leaks a password: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    async fn instance(&self, id: &str) -> DbInstance {
        let l: DbInstanceList = self.get("/api/v1/db/instances").await;
        l.instances.into_iter().find(|i| i.id == id).unwrap_or_else(|| panic!("no instance {id}"))
    }

    /// Polls `f` every 200 ms until it returns `Some`, failing with `what` after `secs`.
    async fn wait_for<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            if Instant::now() > deadline {
                let mut log = String::new();
                let _ = fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut log));
                panic!("timed out after {secs} s waiting for {what}; sightline log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

/// The whole story on one cluster (starting PostgreSQL is the slow part): health and version, the
/// `pg_monitor`-only role, a wrong password reported without the password, pgbench load in the metrics and
/// in pg_stat_statements, a real lock conflict live and replayed from history, a database without the
/// extension flagged with a hint, and the cluster stopped (down, with a message) and started (up again).
/// The tests here each run PostgreSQL and load: one at a time, so their timing does not depend on each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_follows_a_real_postgres_through_load_locks_and_a_restart() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let cluster = Cluster::new();
    let port = cluster.port;
    let admin = connect(&cluster, "test-admin").await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;
             CREATE EXTENSION pg_stat_statements;
             CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
             INSERT INTO accounts VALUES (1, 0), (2, 0);"
        ))
        .await
        .unwrap();
    // Alone: CREATE DATABASE cannot run inside the implicit transaction of a multi-statement batch.
    admin.batch_execute("CREATE DATABASE nostats").await.unwrap();
    run(cluster.pgbench(&["-i", "-s", "1", "-q"]).stdout(Stdio::null()));

    let work = tempfile::tempdir().unwrap();
    let url = format!("postgres://monitor:{PASSWORD}@127.0.0.1:{port}/postgres");
    let bad = format!("postgres://monitor:{WRONG_PASSWORD}@127.0.0.1:{port}/postgres");
    let nostats = format!("postgres://monitor:{PASSWORD}@127.0.0.1:{port}/nostats");
    let urls = [url, bad, nostats];
    let sl = Sightline::start(work.path(), &urls);
    let id = format!("127.0.0.1-{port}-postgres");
    let bad_id = format!("{id}-2");
    let nostats_id = format!("127.0.0.1-{port}-nostats");
    let (s, idr, bad_idr) = (&sl, id.as_str(), bad_id.as_str());

    // Up, with the server's facts; shown without its password.
    let inst = sl
        .wait_for(20, "the instance to be up and sampled", || async move {
            let i = s.instance(idr).await;
            (i.status == DbStatus::Up && i.last_sample.is_some()).then_some(i)
        })
        .await;
    assert_eq!(inst.name, format!("monitor@127.0.0.1:{port}/postgres"));
    assert!(inst.version.as_deref().unwrap_or("").starts_with("15"), "{inst:?}");
    assert_eq!(inst.max_connections, Some(50));
    assert!(inst.connections.unwrap() >= 2, "at least the admin session and ours: {inst:?}");

    // A wrong password: down, with the server's reason and without the password.
    let badi = sl
        .wait_for(20, "the wrong-password instance to be down", || async move {
            let i = s.instance(bad_idr).await;
            (i.status == DbStatus::Down).then_some(i)
        })
        .await;
    let err = badi.last_error.unwrap();
    assert!(err.contains("password authentication failed"), "{err}");

    // Load and a lock conflict at the same time.
    let started = now_ms();
    let mut bench = cluster.pgbench(&["-T", "5", "-c", "4", "-n"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let holder = connect(&cluster, "holder").await;
    let holder_pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.unwrap();
    let waiter = connect(&cluster, "waiter").await;
    let waiter_pid: i32 = waiter.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let waiting = tokio::spawn(async move { waiter.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1", &[]).await });

    let locks = sl
        .wait_for(15, "the lock tree to show the waiter under its blocker", || async move {
            let l: DbLocks = s.get(&format!("/api/v1/db/instances/{idr}/locks")).await;
            let root = l.roots.iter().find(|r| r.pid == holder_pid)?;
            root.waiters.iter().any(|w| w.pid == waiter_pid && w.waiting.as_ref().is_some_and(|x| x.waiting_ms > 0.0)).then_some(l.clone())
        })
        .await;
    let root = locks.roots.iter().find(|r| r.pid == holder_pid).unwrap();
    assert!(root.waiting.is_none(), "the head blocker waits for nothing: {root:?}");
    assert_eq!(root.application_name.as_deref(), Some("holder"));
    assert_eq!(root.state.as_deref(), Some("idle in transaction"));
    assert!(root.query.as_deref().unwrap().contains("UPDATE accounts SET balance = balance + 1"), "{root:?}");
    let w = root.waiters.iter().find(|w| w.pid == waiter_pid).unwrap();
    let lock = w.waiting.as_ref().unwrap();
    assert_eq!(lock.mode, "ShareLock", "{lock:?}");
    assert_eq!(lock.locktype, "transactionid");
    assert_eq!(lock.relation.as_deref(), Some("accounts"), "{lock:?}");
    assert_eq!(lock.blocked_by, vec![holder_pid]);
    assert!(w.query.as_deref().unwrap().contains("balance + 10"), "{w:?}");
    let lock_at = locks.at.unwrap();

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
            let s: DbSessions = s.get(&format!("/api/v1/db/instances/{idr}/sessions")).await;
            s.sessions.iter().find(|x| x.pid == holder_pid)?.host_cpu_percent
        })
        .await;
    assert!((0.0..=200.0).contains(&cpu), "{cpu}");

    // End the conflict: the waiter finishes, the live tree empties, the past one is still there.
    tokio::time::sleep(Duration::from_millis(600)).await;
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), 1);
    sl.wait_for(10, "the live lock tree to empty", || async move {
        let l: DbLocks = s.get(&format!("/api/v1/db/instances/{idr}/locks")).await;
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
    let win: DbWindowSessions = sl.get(&format!("/api/v1/db/instances/{id}/sessions?from={started}&to={}", now_ms() + 1)).await;
    assert!(win.samples >= 3, "{}", win.samples);
    let wrow = win.sessions.iter().find(|r| r.pid == waiter_pid && r.query.as_deref().is_some_and(|q| q.contains("balance + 10"))).expect("the waiter's row");
    assert!(wrow.samples >= 2 && wrow.max_elapsed_ms >= 500.0, "{wrow:?}");
    assert!(wrow.waits.iter().any(|(w, n)| w == "Lock: transactionid" && *n >= 1), "{wrow:?}");
    assert_eq!(wrow.blocked_by, vec![holder_pid]);
    assert!(win.sessions.iter().any(|r| r.query.as_deref().is_some_and(|q| q.contains("pgbench_"))), "pgbench's statements");
    assert!(win.sessions.windows(2).all(|w| w[0].max_elapsed_ms >= w[1].max_elapsed_ms), "longest first");
    let r = reqwest::get(format!("{}/api/v1/db/instances/{id}/sessions?from=5", sl.base)).await.unwrap();
    assert_eq!(r.status(), 400, "from without to");

    // The load shows in the metrics and in pg_stat_statements.
    let out = bench.wait().unwrap();
    let mut bench_err = String::new();
    bench.stderr.take().unwrap().read_to_string(&mut bench_err).unwrap();
    assert!(out.success(), "pgbench failed: {bench_err}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let to = now_ms() + 1;
    let m: DbMetrics = sl.get(&format!("/api/v1/db/instances/{id}/metrics?from={started}&to={to}")).await;
    assert!(m.points.len() >= 8, "about two samples a second: {}", m.points.len());
    let max_tps = m.points.iter().filter_map(|p| p.tps).fold(0.0, f64::max);
    assert!(max_tps > 10.0, "pgbench's transactions per second: {max_tps}");
    assert!(m.points.iter().any(|p| p.buffer_hit_ratio.is_some_and(|r| r > 0.5 && r <= 1.0)));
    assert!(m.points.iter().any(|p| p.total_runtime_ms > 0.0));
    assert!(m.points.iter().any(|p| p.active_by_class.get("Lock").copied().unwrap_or(0) >= 1));
    assert!(m.points.iter().any(|p| p.lock_waits >= 1));
    assert!(m.points.iter().any(|p| p.statement_time_ms.is_some_and(|t| t > 0.0)), "statement time from pg_stat_statements");
    assert!(m.points.iter().all(|p| p.max_connections == 50 && p.connections >= 1));
    assert!(m.points.iter().any(|p| p.connections >= 6), "4 pgbench clients + admin + holder + waiter");

    // The same history feeds the board metric catalogue: one series per instance, buckets of samples.
    let c: MetricCatalog = sl.get("/api/v1/metrics").await;
    assert!(c.metrics.iter().filter(|m| m.name.starts_with("db.")).all(|m| m.available), "{c:?}");
    let r: MetricQueryResult =
        sl.get(&format!("/api/v1/metrics/query?metric=db.tps&from={started}&to={to}&step=1s&group_by=instance")).await;
    assert_eq!(r.unit, "1/s");
    let mine = r.series.iter().find(|s| s.labels.get("instance") == Some(&id)).unwrap_or_else(|| panic!("a series for {id}: {r:?}"));
    assert_eq!(mine.values.len(), r.timestamps.len());
    assert!(mine.values.iter().flatten().any(|v| *v > 10.0), "pgbench's tps per bucket: {mine:?}");
    assert!(!r.series.iter().any(|s| s.labels.get("instance") == Some(&bad_id)), "the unreachable instance has no samples");
    let r: MetricQueryResult = sl
        .get(&format!("/api/v1/metrics/query?metric=db.sessions.active&from={started}&to={to}&filter=instance:{id}&group_by=wait_class"))
        .await;
    let lock = r.series.iter().find(|s| s.labels.get("wait_class").map(String::as_str) == Some("Lock")).expect("a Lock series");
    assert!(lock.values.iter().flatten().any(|v| *v > 0.0), "{lock:?}");
    let r: MetricQueryResult = sl.get(&format!("/api/v1/metrics/query?metric=db.buffer_hit_ratio&from={started}&to={to}&filter=instance:{id}")).await;
    assert_eq!(r.series.len(), 1);
    assert!(r.series[0].values.iter().flatten().all(|v| (0.0..=1.0).contains(v)) && r.series[0].values.iter().any(Option::is_some));

    let st: DbStatements = sl.get(&format!("/api/v1/db/instances/{id}/statements?from={started}&to={to}")).await;
    assert!(st.available, "{st:?}");
    let upd = st
        .statements
        .iter()
        .find(|s| s.query.contains("UPDATE pgbench_accounts"))
        .unwrap_or_else(|| panic!("pgbench's UPDATE is among the top statements: {:#?}", st.statements));
    assert!(upd.calls > 100, "{upd:?}");
    assert!(upd.total_ms > 0.0 && upd.mean_ms > 0.0 && upd.rows == upd.calls, "{upd:?}");
    assert!(st.statements.windows(2).all(|w| w[0].total_ms >= w[1].total_ms), "ordered by total time");
    let none: DbStatements = sl.get(&format!("/api/v1/db/instances/{nostats_id}/statements")).await;
    assert!(!none.available && none.statements.is_empty());
    assert!(none.hint.as_deref().unwrap().contains("CREATE EXTENSION pg_stat_statements"), "{none:?}");

    // A statement carrying a sqlcommenter-style traceparent: found by its trace id, with its span.
    let traced = connect(&cluster, "payment-service").await;
    let traced_pid: i32 = traced.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let sql = "/*controller='pay',traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT pg_sleep(1.5)";
    let running = tokio::spawn(async move { traced.batch_execute(sql).await });
    let found = sl
        .wait_for(10, "the traced statement to be found by its trace id", || async move {
            let t: DbTraceSessions = s.get("/api/v1/db/traces/4BF92F3577B34DA6A3CE929D0E0E4736").await;
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

    // No traceparent comment: the service's session (application_name = service name) running the step's
    // statement while the step ran is matched heuristically; another application's identical statement is not.
    let svc = connect(&cluster, "billing-svc").await;
    let svc_pid: i32 = svc.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let other = connect(&cluster, "other-svc").await;
    let other_pid: i32 = other.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let step_start = now_ms();
    let a = tokio::spawn(async move { svc.batch_execute("SELECT  pg_sleep(1.2)").await });
    let b = tokio::spawn(async move { other.batch_execute("SELECT pg_sleep(1.2)").await });
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let step_end = now_ms();
    let trace_id = "7c5a4e1f0b2d4c6e8a9b1c2d3e4f5a6b";
    let ns = |ms: i64| (ms as u64 * 1_000_000).to_string();
    let otlp = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "billing-svc"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": trace_id, "spanId": "1111111111111111", "name": "POST /bill", "kind": 2,
             "startTimeUnixNano": ns(step_start - 20), "endTimeUnixNano": ns(step_end + 20)},
            {"traceId": trace_id, "spanId": "2222222222222222", "parentSpanId": "1111111111111111", "name": "SELECT", "kind": 3,
             "startTimeUnixNano": ns(step_start), "endTimeUnixNano": ns(step_end),
             "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}},
                            {"key": "db.query.text", "value": {"stringValue": "SELECT pg_sleep($1)"}}]}
        ]}]
    }]});
    let r = reqwest::Client::new()
        .post(format!("{}/v1/traces", sl.base))
        .header("content-type", "application/json")
        .body(otlp.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let h: DbTraceSessions = sl.get(&format!("/api/v1/db/traces/{trace_id}")).await;
    assert!(!h.matches.is_empty(), "the untagged statement is matched heuristically");
    assert!(h.matches.iter().all(|m| m.session.pid == svc_pid && m.matched_by == DbMatchKind::Heuristic), "{h:#?}");
    assert!(h.matches.iter().all(|m| m.span_id.as_deref() == Some("2222222222222222")));
    assert!(!h.matches.iter().any(|m| m.session.pid == other_pid), "another application's session is not matched");

    let none: DbTraceSessions = sl.get("/api/v1/db/traces/0af7651916cd43dd8448eb211c80319c").await;
    assert!(none.matches.is_empty());
    let r = reqwest::get(format!("{}/api/v1/db/traces/not-a-trace", sl.base)).await.unwrap();
    assert_eq!(r.status(), 400);

    // Stop the cluster: down, since when, why (no password); start it: up and sampling again.
    drop(holder);
    drop(admin);
    let stopped = now_ms();
    cluster.stop("fast");
    let down = sl
        .wait_for(15, "the instance to be reported down", || async move {
            let i = s.instance(idr).await;
            (i.status == DbStatus::Down).then_some(i)
        })
        .await;
    assert!(down.since >= stopped, "{down:?}");
    let msg = down.last_error.clone().unwrap();
    assert!(!msg.is_empty() && !msg.contains(PASSWORD), "{msg}");
    eprintln!("reported when the cluster stopped: {msg}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = sl.instance(&id).await;
    assert_eq!(still.status, DbStatus::Down);
    assert_eq!(still.since, down.since, "since stays at the first failure while retrying");

    let restarted = now_ms();
    cluster.start();
    let up = sl
        .wait_for(40, "the instance to come back up and sample", || async move {
            let i = s.instance(idr).await;
            (i.status == DbStatus::Up && i.last_sample.is_some_and(|t| t > restarted)).then_some(i)
        })
        .await;
    assert!(up.since >= restarted);
    assert!(up.last_error.is_some(), "the last failure stays visible after recovery");

    let bad_errors = sl.instance(&bad_id).await;
    assert_eq!(bad_errors.status, DbStatus::Down);

    // Unknown instances and bad windows are JSON errors.
    let r = reqwest::get(format!("{}/api/v1/db/instances/nope/locks", sl.base)).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::get(format!("{}/api/v1/db/instances/{id}/metrics?from=10&to=5", sl.base)).await.unwrap();
    assert_eq!(r.status(), 400);

    // Nothing secret in the log, though it ran at debug level through failures and recoveries.
    let log = fs::read_to_string(&sl.log).unwrap();
    assert!(log.contains("PostgreSQL instance is down"), "transitions are logged:\n{log}");
    assert!(!log.contains(PASSWORD) && !log.contains(WRONG_PASSWORD), "the log leaks a password:\n{log}");

    // The history survives a restart of Sightline (even a kill -9): the lock tree is still replayable.
    drop(sl);
    let sl = Sightline::start(work.path(), &urls);
    let past: DbLocks = sl.get(&format!("/api/v1/db/instances/{id}/locks?at={lock_at}")).await;
    assert_eq!(past.at, Some(lock_at), "the stored sample is back after the restart");
    assert!(past.roots.iter().any(|r| r.pid == holder_pid && r.waiters.iter().any(|w| w.pid == waiter_pid)), "{past:?}");
    let st: DbStatements = sl.get(&format!("/api/v1/db/instances/{id}/statements?from={started}&to={to}")).await;
    assert!(st.statements.iter().any(|s| s.query.contains("UPDATE pgbench_accounts")), "statement history too");
    eprintln!("postgres integration test took {:.1} s", t0.elapsed().as_secs_f64());
}

/// `serve --demo` starts its own PostgreSQL under the data directory, with a load, and monitors it: the
/// instance is up with live sessions of the demo's clients and pg_stat_statements; a SIGTERM stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_postgres_is_started_monitored_and_stopped() {
    let _serial = ONE_AT_A_TIME.lock().await;
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
    let _serial = ONE_AT_A_TIME.lock().await;
    let (ca_pem, cert_pem, key_pem) = common::test_certificates();
    let tls = Cluster::with_conf_and_files(
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        &[("server.crt", cert_pem.as_bytes()), ("server.key", key_pem.as_bytes())],
    );
    let plain = Cluster::new();
    for c in [&tls, &plain] {
        connect(c, "test-admin")
            .await
            .batch_execute(&format!("CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor"))
            .await
            .unwrap();
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
        let idr = id.as_str();
        let i = sl
            .wait_for(20, &format!("{id} to be up and sampled"), || async move {
                let i = s.instance(idr).await;
                (i.status == DbStatus::Up && i.last_sample.is_some()).then_some(i)
            })
            .await;
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
        let idr = id.as_str();
        let i = sl
            .wait_for(20, &format!("{id} to be down"), || async move {
                let i = s.instance(idr).await;
                (i.status == DbStatus::Down).then_some(i)
            })
            .await;
        let err = i.last_error.unwrap();
        assert!(err.starts_with(want), "{id}: {err}");
        assert!(i.last_sample.is_none());
        eprintln!("{id}: {err}");
    }
    // Retried with backoff: still down, since unchanged, nothing sampled.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let i = sl.instance(&no_ca).await;
    assert_eq!(i.status, DbStatus::Down);

    let log = fs::read_to_string(&sl.log).unwrap();
    assert!(log.contains("certificate verify failed"), "{log}");
    assert!(!log.contains(PASSWORD), "the log leaks a password:\n{log}");
}
