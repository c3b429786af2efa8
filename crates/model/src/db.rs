//! Wire types of the database pages (`/api/v1/db/…`): monitored PostgreSQL instances, their sessions,
//! lock trees, metric series and top statements.
//!
//! An instance is only ever named by its id and a redacted URL (`user@host:port/db`): connection
//! passwords stay in the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Reachability of a monitored instance, so the page can tell "no activity" from "cannot see it".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbStatus {
    /// No connection attempt has finished yet (first seconds after start).
    Connecting,
    /// Connected and sampling.
    Up,
    /// Unreachable, refused or failing: see `last_error`; the collector keeps retrying with backoff.
    Down,
}

/// Size of one database of an instance (refreshed every ~30 s, not every sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbDatabaseSize {
    pub name: String,
    pub bytes: i64,
}

/// One monitored instance with its health at a glance. Answer item of `GET /api/v1/db/instances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbInstance {
    /// Stable, URL-safe id (`127.0.0.1-5432-postgres`), used in the instance routes.
    pub id: String,
    /// `user@host:port/db`: the connection URL without its password.
    pub name: String,
    pub status: DbStatus,
    /// When `status` last changed (ms).
    pub since: i64,
    /// Why the instance is (or last was) down; passwords are stripped. Kept after recovery until the next failure.
    pub last_error: Option<String>,
    /// `server_version`, once connected.
    pub version: Option<String>,
    /// Client connections at the last sample.
    pub connections: Option<u32>,
    pub max_connections: Option<u32>,
    /// Time of the newest sample (ms).
    pub last_sample: Option<i64>,
    /// Whether `pg_stat_statements` could be read at the last sample.
    pub statements_available: bool,
    pub databases: Vec<DbDatabaseSize>,
}

/// Answer of `GET /api/v1/db/instances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbInstanceList {
    pub instances: Vec<DbInstance>,
}

/// One backend as `pg_stat_activity` showed it at a sample. `(pid, backend_start)` identifies a session:
/// PostgreSQL reuses pids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbSession {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application_name: Option<String>,
    /// Client address (`host(client_addr)`), `None` for unix sockets and background processes.
    pub client_addr: Option<String>,
    /// `active`, `idle in transaction`, … (`None` for background processes).
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// What the session is doing for the charts: the wait event type (`Lock`, `IO`, `LWLock`, …) or
    /// [`CPU_CLASS`] when active without a wait event.
    pub wait_class: String,
    pub backend_type: Option<String>,
    pub backend_start: Option<i64>,
    pub xact_start: Option<i64>,
    pub query_start: Option<i64>,
    /// Time since `query_start` at the sample when active, else 0 (ms).
    pub elapsed_ms: f64,
    /// Current or last statement, cut at 4 KiB on a character boundary.
    pub query: Option<String>,
    /// Pids this session waits for (`pg_blocking_pids`), empty when not blocked.
    pub blocked_by: Vec<i32>,
    /// Trace and span of the statement when its text carries a W3C `traceparent` comment (sqlcommenter
    /// style, `/*traceparent='00-…-…-01'*/`): the link from this session to the APM trace that ran it.
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub span_id: Option<String>,
    /// CPU of the backend process since the previous sample (% of one core), when the instance runs on
    /// Sightline's own machine (read from `/proc`); `None` elsewhere or on the first sample of a session.
    #[serde(default)]
    pub host_cpu_percent: Option<f64>,
    /// Resident memory of the backend process (bytes), local instances only.
    #[serde(default)]
    pub host_rss_bytes: Option<u64>,
}

/// The wait class of an active session that waits for nothing: it is on CPU (or about to be).
pub const CPU_CLASS: &str = "CPU / not waiting";

/// Answer of `GET /api/v1/db/instances/{id}/sessions?at=`: the newest sample, or the stored one nearest `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbSessions {
    pub instance: String,
    /// Time of the sample shown; `None` when there is none yet (instance never reached).
    pub at: Option<i64>,
    /// Non-idle sessions (and blockers), longest-running first.
    pub sessions: Vec<DbSession>,
}

/// One session running one statement during a window: the stored samples that saw it, merged. Rows are keyed
/// by `(pid, backend_start, query)`, so a session that ran several statements has one row per statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbWindowSession {
    pub pid: i32,
    pub backend_start: Option<i64>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application_name: Option<String>,
    pub client_addr: Option<String>,
    pub backend_type: Option<String>,
    pub query: Option<String>,
    /// State at the last sample that saw it.
    pub state: Option<String>,
    /// First and last sample time that saw it (ms).
    pub first_seen: i64,
    pub last_seen: i64,
    /// How many samples saw it: about its time in the window, in sampling intervals.
    pub samples: u32,
    /// Longest elapsed time seen (ms).
    pub max_elapsed_ms: f64,
    /// Wait events seen, `Type: event` (or the wait class when it waited for nothing), most frequent first,
    /// with how many samples saw each.
    pub waits: Vec<(String, u32)>,
    /// Every pid it was seen waiting for.
    pub blocked_by: Vec<i32>,
    /// From the statement's `traceparent` comment, when it has one.
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// Answer of `GET /api/v1/db/instances/{id}/sessions?from=&to=`: the sessions the stored samples in the window
/// saw, merged per session and statement, longest elapsed first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbWindowSessions {
    pub instance: String,
    pub from: i64,
    pub to: i64,
    /// Stored samples in the window.
    pub samples: u32,
    /// At most 500 rows; `truncated` says how many more there were.
    pub sessions: Vec<DbWindowSession>,
    #[serde(default)]
    pub truncated: usize,
}

/// A node of a lock tree: a session, the lock it waits for (if it waits), and the sessions waiting for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbLockNode {
    pub pid: i32,
    pub user: Option<String>,
    pub application_name: Option<String>,
    pub state: Option<String>,
    pub query: Option<String>,
    pub xact_start: Option<i64>,
    /// The lock this session waits for; `None` at a root (the head blocker).
    pub waiting: Option<DbLockWait>,
    pub waiters: Vec<DbLockNode>,
}

/// An ungranted lock request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbLockWait {
    /// `relation`, `transactionid`, `tuple`, …
    pub locktype: String,
    /// `ShareLock`, `RowExclusiveLock`, …
    pub mode: String,
    /// Relation name when the lock is on a relation (or tuple) of the monitoring connection's database.
    pub relation: Option<String>,
    /// How long the request has waited at the sample (ms).
    pub waiting_ms: f64,
    /// The sessions it waits for.
    pub blocked_by: Vec<i32>,
}

/// Answer of `GET /api/v1/db/instances/{id}/locks?at=`: head blockers at the roots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbLocks {
    pub instance: String,
    pub at: Option<i64>,
    pub roots: Vec<DbLockNode>,
}

/// Instance-wide numbers of one sample. Rates are over the interval since the previous sample, so the
/// first sample after a (re)connect has `None` rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbMetricPoint {
    pub t: i64,
    /// Summed elapsed time of the active sessions at the sample (ms): the "how busy" line.
    pub total_runtime_ms: f64,
    /// Active sessions per wait class (`CPU / not waiting`, `Lock`, `IO`, …).
    pub active_by_class: BTreeMap<String, u32>,
    /// Commits + rollbacks per second, all databases.
    pub tps: Option<f64>,
    pub commits_per_s: Option<f64>,
    pub rollbacks_per_s: Option<f64>,
    /// blks_hit / (blks_hit + blks_read) over the interval, 0..=1; `None` without reads.
    pub buffer_hit_ratio: Option<f64>,
    /// Rows returned+fetched / inserted+updated+deleted per second.
    pub tuples_read_per_s: Option<f64>,
    pub tuples_written_per_s: Option<f64>,
    pub temp_bytes_per_s: Option<f64>,
    /// Deadlocks detected during the interval.
    pub deadlocks: Option<i64>,
    pub connections: u32,
    pub max_connections: u32,
    /// Sessions waiting for a lock held by another session.
    pub lock_waits: u32,
    /// Execution time `pg_stat_statements` recorded since the previous sample (ms), when it is readable:
    /// the finished-statement side of "how busy", where `total_runtime_ms` is the running side.
    #[serde(default)]
    pub statement_time_ms: Option<f64>,
}

impl DbMetricPoint {
    /// A point with what every sample knows; the interval rates (`tps`, hit ratio, …) start `None` and are
    /// filled in when there is a previous sample to compare with. One constructor so the collector and tests
    /// do not spell out every field.
    pub fn new(t: i64, total_runtime_ms: f64, active_by_class: BTreeMap<String, u32>, connections: u32, max_connections: u32, lock_waits: u32) -> Self {
        DbMetricPoint {
            t,
            total_runtime_ms,
            active_by_class,
            tps: None,
            commits_per_s: None,
            rollbacks_per_s: None,
            buffer_hit_ratio: None,
            tuples_read_per_s: None,
            tuples_written_per_s: None,
            temp_bytes_per_s: None,
            deadlocks: None,
            connections,
            max_connections,
            lock_waits,
            statement_time_ms: None,
        }
    }
}

/// Answer of `GET /api/v1/db/instances/{id}/metrics?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbMetrics {
    pub instance: String,
    pub from: i64,
    pub to: i64,
    pub points: Vec<DbMetricPoint>,
}

/// One statement's work inside a window (deltas of `pg_stat_statements`, summed over users and databases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbStatement {
    /// `queryid` as a decimal string: it is a 64-bit hash and JSON numbers lose precision past 2^53.
    pub queryid: String,
    pub query: String,
    pub calls: i64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: i64,
}

/// Answer of `GET /api/v1/db/instances/{id}/statements?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbStatements {
    pub instance: String,
    /// False when `pg_stat_statements` cannot be read; then `hint` says how to enable it.
    pub available: bool,
    pub hint: Option<String>,
    /// Top statements by total time in the window, at most `limit`.
    pub statements: Vec<DbStatement>,
}

/// How a session was tied to a trace's SQL step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbMatchKind {
    /// The statement carried the trace's W3C `traceparent` comment: certain.
    #[default]
    Traceparent,
    /// No comment: the session's `application_name` is the step's service, it was sampled while the step ran,
    /// and its statement is the step's (after normalising whitespace, comments and literals). Likely, not certain.
    Heuristic,
}

/// One sample in which a session was running a statement of the asked trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbTraceMatch {
    pub instance: String,
    /// The instance's shown name (`user@host:port/db`).
    pub instance_name: String,
    /// Sample time (ms).
    pub at: i64,
    pub session: DbSession,
    /// The SQL step (span id) the session ran: from the `traceparent` comment, or the step matched heuristically.
    #[serde(default)]
    pub span_id: Option<String>,
    #[serde(default)]
    pub matched_by: DbMatchKind,
}

/// Answer of `GET /api/v1/db/traces/{trace_id}`: the database side of a trace, sample by sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbTraceSessions {
    pub trace_id: String,
    /// Oldest first, at most 500.
    pub matches: Vec<DbTraceMatch>,
}

/// Answer of `GET /api/v1/db/instances/{id}/samples?from=&to=`: stored sample times, for a replay slider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbSamples {
    pub instance: String,
    pub times: Vec<i64>,
    /// Times of the samples that had at least one lock wait: where replaying the lock tree is worth it.
    pub lock_times: Vec<i64>,
}
