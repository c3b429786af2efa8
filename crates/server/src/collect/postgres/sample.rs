//! One monitoring connection and what it reads each sample. Every query is a read of the statistics views
//! that `pg_monitor` may read; the session is set read-only with a statement timeout so a sick server
//! cannot pile up our queries.
//!
//! Every statement the collector sends starts with the comment [`MARK`] (written with [`marked!`]), and the
//! top statements leave out those that carry it: monitoring never shows up as the database's load. Why the
//! text and not the role: `pg_stat_statements` has no `application_name` (the sessions view's filter), and
//! the monitoring role may be shared with an application (`postgres` monitoring itself), whose statements
//! must stay. The comment survives `pg_stat_statements`' normalisation (only constants become `$n`), and the
//! `queryid` ignores comments, so an application running the very same statement without it — a separate
//! entry under its own role — is still listed. Limit: an entry first recorded by a Sightline without the
//! comment keeps its unmarked text until `pg_stat_statements` evicts or resets it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use sightline_model::{DbDatabaseSize, DbLockWait, DbMetricPoint, DbSession, CPU_CLASS};
use tokio_postgres::{Client, Row};

use super::history::{LockEntry, Sample, StatementDelta};
use crate::blocking;
use crate::error::AppError;

/// Prefixes a literal statement with [`MARK`].
macro_rules! marked {
    ($sql:literal) => {
        concat!("/* sightline monitoring */ ", $sql)
    };
}

/// The comment that leads every statement of the collector (see the module documentation).
pub const MARK: &str = "/* sightline monitoring */";

/// Whether a `pg_stat_statements` text is one of Sightline's own monitoring statements (this collector's or
/// another Sightline's). `contains`, not `starts_with`: where a statement's text starts in a multi-statement
/// string (after a `;`) is PostgreSQL's choice.
pub fn is_own_statement(query: &str) -> bool {
    query.contains(MARK)
}

/// Longest query text kept per session or statement (bytes, cut on a character boundary).
pub const MAX_QUERY_BYTES: usize = 4096;

/// How often database sizes are refreshed: `pg_database_size` walks the data directory.
const SIZES_EVERY_MS: i64 = 30_000;

/// Cumulative `pg_stat_database` counters (summed over databases) at one sample.
#[derive(Debug, Clone, Copy)]
struct Counters {
    t: i64,
    commits: i64,
    rollbacks: i64,
    blks_read: i64,
    blks_hit: i64,
    tup_read: i64,
    tup_written: i64,
    temp_bytes: i64,
    deadlocks: i64,
}

/// What `pg_stat_statements` looks like on this instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Statements {
    /// Readable; the quoted schema of the extension.
    Available(String),
    /// Not readable; how to fix it.
    Missing(String),
}

type StatementKey = (i64, i64, i64);

/// A connected collector and the previous values its deltas are computed from.
pub struct Conn {
    client: Client,
    pub version: String,
    version_num: i32,
    pub max_connections: u32,
    database: String,
    prev: Option<Counters>,
    prev_statements: Option<HashMap<StatementKey, (i64, f64, i64)>>,
    query_texts: HashMap<i64, Arc<str>>,
    /// True when the last `statements()` call produced deltas against a previous snapshot.
    statements_deltas: bool,
    pub statements: Statements,
    /// The instance runs on this machine (loopback or unix socket): backends can be read from `/proc`.
    pub local: bool,
    /// Per pid: backend start, CPU ticks and sample time at the previous sample, for CPU deltas.
    proc_prev: HashMap<i32, (Option<i64>, u64, i64)>,
    sizes_at: i64,
    pub databases: Vec<DbDatabaseSize>,
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub fn truncate_utf8(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Conn {
    /// Prepares a fresh connection: read-only, short statement timeout, and the server facts that do not change.
    pub async fn new(client: Client) -> Result<Self, tokio_postgres::Error> {
        client
            .batch_execute(concat!(
                marked!("SET default_transaction_read_only = on; "),
                marked!("SET statement_timeout = '5s'; "),
                marked!("SET lock_timeout = '1s'")
            ))
            .await?;
        let row = client
            .query_one(
                marked!(
                    "SELECT current_setting('server_version'), current_setting('server_version_num')::int4, \
                     current_setting('max_connections')::int4, current_database()::text"
                ),
                &[],
            )
            .await?;
        Ok(Conn {
            client,
            version: row.get(0),
            version_num: row.get(1),
            max_connections: row.get::<_, i32>(2).max(0) as u32,
            database: row.get(3),
            prev: None,
            prev_statements: None,
            query_texts: HashMap::new(),
            statements_deltas: false,
            statements: Statements::Missing(String::new()),
            local: false,
            proc_prev: HashMap::new(),
            sizes_at: i64::MIN,
            databases: Vec::new(),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Reads one sample. Errors of the core views fail the sample (the caller reconnects); the optional
    /// parts (sizes, statements) degrade on their own.
    pub async fn sample(&mut self, t: i64) -> Result<Sample, tokio_postgres::Error> {
        let activity = self.client.query(ACTIVITY, &[]).await?;
        let locks_sql = if self.version_num >= 140_000 { LOCKS_14 } else { LOCKS_OLD };
        let locks = lock_entries(&self.client.query(locks_sql, &[]).await?);
        let db = self.client.query_one(DATABASE, &[]).await?;

        let (mut sessions, connections) = sessions(&activity, &locks);
        if self.local {
            self.add_local_procs(&mut sessions, t).await;
        }
        let mut metrics = self.metric_point(t, &db, &sessions, connections, locks.len() as u32);
        if t.saturating_sub(self.sizes_at) >= SIZES_EVERY_MS {
            self.sizes_at = t;
            match self.client.query(SIZES, &[]).await {
                Ok(rows) => {
                    self.databases = rows.iter().map(|r| DbDatabaseSize { name: r.get(0), bytes: r.get(1) }).collect()
                }
                Err(e) => tracing::debug!(error = %super::describe(&e), "database sizes unavailable"),
            }
        }
        let statements = self.statements().await?;
        if matches!(self.statements, Statements::Available(_)) && self.prev_statements_complete() {
            metrics.statement_time_ms = Some(statements.iter().map(|s| s.total_ms).sum());
        }
        Ok(Sample { t, sessions, locks, metrics, statements })
    }

    /// Each session's resident memory, and its CPU since the previous sample when that one saw the same
    /// session (same pid and backend start), from `/proc` of this machine.
    async fn add_local_procs(&mut self, sessions: &mut [DbSession], t: i64) {
        let procs = local_procs(sessions.iter().map(|s| s.pid).collect()).await;
        let mut seen = HashMap::new();
        for (s, proc) in sessions.iter_mut().zip(procs) {
            let Some((ticks, rss)) = proc else { continue };
            s.host_rss_bytes = Some(rss);
            if let Some(&(start, prev, pt)) = self.proc_prev.get(&s.pid) {
                if start == s.backend_start && t > pt && ticks >= prev {
                    s.host_cpu_percent = Some((ticks - prev) as f64 / USER_HZ / ((t - pt) as f64 / 1000.0) * 100.0);
                }
            }
            seen.insert(s.pid, (s.backend_start, ticks, t));
        }
        self.proc_prev = seen;
    }

    /// The metric point at `t`: active sessions by wait class, and rates from the `pg_stat_database`
    /// counters (`db`) against the previous sample's.
    fn metric_point(&mut self, t: i64, db: &Row, sessions: &[DbSession], connections: u32, lock_waits: u32) -> DbMetricPoint {
        let mut active_by_class = BTreeMap::new();
        let mut total_runtime_ms = 0.0;
        for s in sessions.iter().filter(|s| s.state.as_deref() == Some("active")) {
            *active_by_class.entry(s.wait_class.clone()).or_insert(0u32) += 1;
            total_runtime_ms += s.elapsed_ms;
        }
        let now = Counters {
            t,
            commits: db.get(0),
            rollbacks: db.get(1),
            blks_read: db.get(2),
            blks_hit: db.get(3),
            tup_read: db.get(4),
            tup_written: db.get(5),
            temp_bytes: db.get(6),
            deadlocks: db.get(7),
        };
        let mut metrics = DbMetricPoint::new(t, total_runtime_ms, active_by_class, connections, self.max_connections, lock_waits);
        // Deltas only when the counters moved forward (a stats reset makes them go back).
        if let Some(p) = self.prev.filter(|p| now.t > p.t && now.commits >= p.commits && now.blks_hit >= p.blks_hit) {
            let secs = (now.t - p.t) as f64 / 1000.0;
            let rate = |a: i64, b: i64| Some((a - b).max(0) as f64 / secs);
            metrics.commits_per_s = rate(now.commits, p.commits);
            metrics.rollbacks_per_s = rate(now.rollbacks, p.rollbacks);
            metrics.tps = rate(now.commits + now.rollbacks, p.commits + p.rollbacks);
            let (hit, read) = (now.blks_hit - p.blks_hit, now.blks_read - p.blks_read);
            metrics.buffer_hit_ratio = (hit + read > 0).then(|| hit as f64 / (hit + read) as f64);
            metrics.tuples_read_per_s = rate(now.tup_read, p.tup_read);
            metrics.tuples_written_per_s = rate(now.tup_written, p.tup_written);
            metrics.temp_bytes_per_s = rate(now.temp_bytes, p.temp_bytes);
            metrics.deadlocks = Some((now.deadlocks - p.deadlocks).max(0));
        }
        self.prev = Some(now);
        metrics
    }

    /// Whether the statement deltas of this sample cover a whole interval (not the first snapshot).
    fn prev_statements_complete(&self) -> bool {
        self.statements_deltas
    }

    /// `pg_stat_statements` deltas since the previous sample, or an empty list with `self.statements` saying
    /// why they are missing. Fails only when the connection itself is gone.
    async fn statements(&mut self) -> Result<Vec<StatementDelta>, tokio_postgres::Error> {
        self.statements_deltas = false;
        let schema = match &self.statements {
            Statements::Available(s) => s.clone(),
            Statements::Missing(_) => match self.client.query_opt(EXTENSION, &[]).await? {
                Some(r) => r.get(0),
                None => {
                    self.statements = Statements::Missing(format!(
                        "pg_stat_statements is not installed in database {:?}: add it to shared_preload_libraries \
                         (shared_preload_libraries = 'pg_stat_statements' in postgresql.conf), restart PostgreSQL, \
                         then run CREATE EXTENSION pg_stat_statements; in that database",
                        self.database
                    ));
                    return Ok(Vec::new());
                }
            },
        };
        let total = if self.version_num >= 130_000 { "total_exec_time" } else { "total_time" };
        let sql = format!(
            "{MARK} SELECT userid::int8, dbid::int8, queryid, calls, {total}, rows FROM {schema}.pg_stat_statements(false) \
             WHERE queryid IS NOT NULL"
        );
        let rows = match self.client.query(&sql, &[]).await {
            Ok(r) => r,
            Err(e) if !self.client.is_closed() => {
                self.statements = Statements::Missing(format!(
                    "pg_stat_statements cannot be read ({}): it must be in shared_preload_libraries \
                     (then restart PostgreSQL)",
                    super::describe(&e)
                ));
                self.prev_statements = None;
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        self.statements = Statements::Available(schema.clone());
        let now: HashMap<StatementKey, (i64, f64, i64)> =
            rows.iter().map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4), r.get(5)))).collect();
        let Some(prev) = self.prev_statements.replace(now) else { return Ok(Vec::new()) };
        self.statements_deltas = true;
        let now = self.prev_statements.as_ref().expect("just set");
        let mut deltas: Vec<(i64, i64, f64, i64)> = Vec::new();
        for (k, &(calls, total, rows)) in now {
            let d = match prev.get(k) {
                // A statement evicted and re-added, or a reset: count what it has now.
                Some(&(pc, pt, pr)) if pc <= calls => (calls - pc, total - pt, rows - pr),
                _ => (calls, total, rows),
            };
            if d.0 > 0 {
                deltas.push((k.2, d.0, d.1.max(0.0), d.2.max(0)));
            }
        }
        self.fetch_missing_texts(&schema, deltas.iter().map(|d| d.0).collect()).await?;
        Ok(deltas
            .into_iter()
            .map(|(queryid, calls, total_ms, rows)| StatementDelta {
                queryid,
                query: self.query_texts.get(&queryid).cloned().unwrap_or_else(|| Arc::from("")),
                calls,
                total_ms,
                rows,
            })
            .filter(|d| !is_own_statement(&d.query))
            .collect())
    }
}

impl Conn {
    /// Reads the texts of the `queryids` not cached yet: a statement's text is read once, not every sample.
    async fn fetch_missing_texts(&mut self, schema: &str, queryids: Vec<i64>) -> Result<(), tokio_postgres::Error> {
        let mut missing: Vec<i64> = queryids.into_iter().filter(|q| !self.query_texts.contains_key(q)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "{MARK} SELECT DISTINCT ON (queryid) queryid, left(query, {MAX_QUERY_BYTES}) \
             FROM {schema}.pg_stat_statements(true) WHERE queryid = ANY($1)"
        );
        for r in self.client.query(&sql, &[&missing]).await? {
            let text: Option<String> = r.get(1);
            let text = truncate_utf8(text.unwrap_or_default(), MAX_QUERY_BYTES);
            self.query_texts.insert(r.get(0), Arc::from(text));
        }
        // Bound the text cache: texts of statements not seen in the current snapshot go first.
        if self.query_texts.len() > 20_000 {
            let live: HashSet<i64> = self.prev_statements.iter().flat_map(|now| now.keys().map(|k| k.2)).collect();
            self.query_texts.retain(|q, _| live.contains(q));
        }
        Ok(())
    }
}

/// The lock waits of the `LOCKS_*` rows.
fn lock_entries(rows: &[Row]) -> Vec<LockEntry> {
    rows.iter()
        .map(|r| LockEntry {
            pid: r.get(0),
            wait: DbLockWait {
                locktype: r.get(1),
                mode: r.get(2),
                relation: r.get(3),
                waiting_ms: r.get::<_, Option<f64>>(4).unwrap_or(0.0).max(0.0),
                blocked_by: r.get::<_, Option<Vec<i32>>>(5).unwrap_or_default(),
            },
        })
        // A lock that nobody holds any more (granted between the two reads) is not a wait worth showing.
        .filter(|l| !l.wait.blocked_by.is_empty())
        .collect()
}

/// The sessions worth keeping of the `ACTIVITY` rows — not idle, or blocking a waiter in `locks` — longest
/// running first, and the client connections (ours included).
fn sessions(activity: &[Row], locks: &[LockEntry]) -> (Vec<DbSession>, u32) {
    let blockers: HashSet<i32> = locks.iter().flat_map(|l| l.wait.blocked_by.iter().copied()).collect();
    let mut connections = 1u32; // this monitoring session
    let mut sessions = Vec::new();
    for r in activity {
        let s = session(r);
        if s.backend_type.as_deref() == Some("client backend") {
            connections += 1;
        }
        let busy = s.state.as_deref().is_some_and(|st| st != "idle");
        if busy || blockers.contains(&s.pid) {
            sessions.push(s);
        }
    }
    sessions.sort_by(|a, b| b.elapsed_ms.total_cmp(&a.elapsed_ms).then(a.pid.cmp(&b.pid)));
    (sessions, connections)
}

fn session(r: &Row) -> DbSession {
    let state: Option<String> = r.get(5);
    let wait_event_type: Option<String> = r.get(6);
    let active = state.as_deref() == Some("active");
    let wait_class = match &wait_event_type {
        Some(w) => w.clone(),
        None if active => CPU_CLASS.to_string(),
        None => state.clone().unwrap_or_else(|| "unknown".into()),
    };
    let query: Option<String> =
        r.get::<_, Option<String>>(13).filter(|q| !q.is_empty()).map(|q| truncate_utf8(q, MAX_QUERY_BYTES));
    let (trace_id, span_id) = query.as_deref().and_then(traceparent).unzip();
    DbSession {
        pid: r.get(0),
        user: r.get(1),
        database: r.get(2),
        application_name: r.get::<_, Option<String>>(3).filter(|a| !a.is_empty()),
        client_addr: r.get(4),
        state,
        wait_event_type,
        wait_event: r.get(7),
        wait_class,
        backend_type: r.get(8),
        backend_start: r.get(9),
        xact_start: r.get(10),
        query_start: r.get(11),
        elapsed_ms: if active { r.get::<_, Option<f64>>(12).unwrap_or(0.0).max(0.0) } else { 0.0 },
        query,
        blocked_by: r.get::<_, Option<Vec<i32>>>(14).unwrap_or_default(),
        trace_id,
        span_id,
        host_cpu_percent: None,
        host_rss_bytes: None,
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux architecture we run on).
const USER_HZ: f64 = 100.0;

/// [`local_proc`] of each pid, in order, read on the blocking pool; all `None` if that fails.
async fn local_procs(pids: Vec<i32>) -> Vec<Option<(u64, u64)>> {
    let n = pids.len();
    let read = move || Ok::<_, AppError>(pids.into_iter().map(local_proc).collect());
    match blocking::run("reading the backends' /proc entries", read).await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "backend CPU and memory unavailable");
            vec![None; n]
        }
    }
}

/// CPU ticks (utime + stime) and resident bytes of a local PostgreSQL backend, or `None` when the pid is
/// not a `postgres` process here (the instance is elsewhere, e.g. behind a forwarded port or in a container).
fn local_proc(pid: i32) -> Option<(u64, u64)> {
    blocking::assert_off_runtime();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    if &stat[open + 1..close] != "postgres" {
        return None;
    }
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks, kb * 1024))
}

/// Trace and span ids (lower-case hex) of a `traceparent='00-<32 hex>-<16 hex>-<2 hex>'` comment in a
/// statement, as sqlcommenter-style instrumentation adds it. All-zero ids are invalid and ignored.
pub fn traceparent(query: &str) -> Option<(String, String)> {
    let i = query.find("traceparent=")?;
    let rest = query[i + "traceparent=".len()..].trim_start_matches(['\'', '"']);
    // sqlcommenter URL-encodes values; a traceparent only has hex and '-', which it leaves alone.
    let v = rest.get(..55)?;
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.len() != 4 || !hex(parts[0], 2) || !hex(parts[1], 32) || !hex(parts[2], 16) || !hex(parts[3], 2) {
        return None;
    }
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if parts[0].eq_ignore_ascii_case("ff") || zero(parts[1]) || zero(parts[2]) {
        return None;
    }
    Some((parts[1].to_ascii_lowercase(), parts[2].to_ascii_lowercase()))
}

/// Every backend but Sightline's own: this collector's, and those of other collectors (another instance
/// URL on the same cluster, another Sightline server) that connect as `application_name = 'sightline'`, so
/// monitoring never shows up as load. `pg_blocking_pids` takes the lock manager's locks, so it is only
/// asked for sessions that wait for a lock.
const ACTIVITY: &str = marked!("SELECT pid, usename::text, datname::text, application_name, host(client_addr), state, \
    wait_event_type, wait_event, backend_type, \
    (extract(epoch FROM backend_start) * 1000)::int8, \
    (extract(epoch FROM xact_start) * 1000)::int8, \
    (extract(epoch FROM query_start) * 1000)::int8, \
    (extract(epoch FROM clock_timestamp() - query_start) * 1000)::float8, \
    left(query, 4096), \
    CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END \
    FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND application_name IS DISTINCT FROM 'sightline'");

/// Ungranted locks with who blocks them. A row-lock wait is on the holder's transaction id (no relation):
/// the relation then comes from the tuple lock the waiter already holds.
const LOCKS_14: &str = marked!("SELECT l.pid, l.locktype, l.mode, \
    coalesce(l.relation, (SELECT t.relation FROM pg_locks t WHERE t.pid = l.pid AND t.locktype = 'tuple' LIMIT 1))::regclass::text, \
    (extract(epoch FROM clock_timestamp() - l.waitstart) * 1000)::float8, \
    pg_blocking_pids(l.pid) \
    FROM pg_locks l WHERE NOT l.granted AND l.pid IS NOT NULL");

/// Before 14 `pg_locks` has no `waitstart`: the waiting time is the statement's time so far.
const LOCKS_OLD: &str = marked!("SELECT l.pid, l.locktype, l.mode, \
    coalesce(l.relation, (SELECT t.relation FROM pg_locks t WHERE t.pid = l.pid AND t.locktype = 'tuple' LIMIT 1))::regclass::text, \
    (SELECT (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 FROM pg_stat_activity a WHERE a.pid = l.pid), \
    pg_blocking_pids(l.pid) \
    FROM pg_locks l WHERE NOT l.granted AND l.pid IS NOT NULL");

const DATABASE: &str = marked!("SELECT coalesce(sum(xact_commit), 0)::int8, coalesce(sum(xact_rollback), 0)::int8, \
    coalesce(sum(blks_read), 0)::int8, coalesce(sum(blks_hit), 0)::int8, \
    coalesce(sum(tup_returned + tup_fetched), 0)::int8, coalesce(sum(tup_inserted + tup_updated + tup_deleted), 0)::int8, \
    coalesce(sum(temp_bytes), 0)::int8, coalesce(sum(deadlocks), 0)::int8 FROM pg_stat_database");

const SIZES: &str = marked!("SELECT datname::text, pg_database_size(oid) FROM pg_database WHERE datallowconn ORDER BY 2 DESC");

const EXTENSION: &str = marked!(
    "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
     WHERE e.extname = 'pg_stat_statements'"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_monitoring_statement_carries_the_mark() {
        for sql in [ACTIVITY, LOCKS_14, LOCKS_OLD, DATABASE, SIZES, EXTENSION] {
            assert!(sql.starts_with(MARK) && is_own_statement(sql), "{sql}");
        }
        assert!(marked!("SELECT 1").starts_with(MARK));
        // An application's statement, even one reading the same views, is not ours.
        assert!(!is_own_statement("SELECT * FROM pg_stat_activity /* sightline */"));
        assert!(is_own_statement("/* sightline monitoring */ SET statement_timeout = $1"));
    }

    #[test]
    fn traceparent_comments_are_recognised() {
        let q = "SELECT 1 /*controller='pay',traceparent='00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'*/";
        assert_eq!(
            traceparent(q),
            Some(("4bf92f3577b34da6a3ce929d0e0e4736".into(), "00f067aa0ba902b7".into()))
        );
        assert_eq!(traceparent("SELECT 1"), None);
        assert_eq!(traceparent("/*traceparent='00-00000000000000000000000000000000-00f067aa0ba902b7-01'*/"), None);
        assert_eq!(traceparent("/*traceparent='00-4bf92f35-00f067aa0ba902b7-01'*/"), None);
        assert_eq!(traceparent("/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), None);
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_utf8("abc".into(), 10), "abc");
        assert_eq!(truncate_utf8("abcdef".into(), 3), "abc");
        // "é" is two bytes: cutting at 2 would split it.
        assert_eq!(truncate_utf8("aé".into(), 2), "a");
        assert_eq!(truncate_utf8("日本語".into(), 7), "日本");
    }
}
