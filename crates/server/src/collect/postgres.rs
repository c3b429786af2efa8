//! PostgreSQL collectors: one task per `--postgres` URL samples the statistics views every
//! `--pg-interval-ms` over one read-only connection (a role with only `pg_monitor` is enough), keeps the
//! samples as active-session history ([`history`]), and reports the instance down — with since-when and the
//! error, password stripped — when it cannot reach it, retrying with exponential backoff (capped at 30 s).
//!
//! The URL's password lives only in the parsed connection config: instances are shown by [`Instance::name`]
//! (`user@host:port/db`) and errors pass through [`Instance::scrub`] before they are logged or stored.
//!
//! Samples are also written to `<data_dir>/postgres` (a [`SampleLog`] with one series per instance) on the
//! blocking pool, and reloaded at start. Readers never scan a history while holding an instance's lock: they
//! take the shared samples they need (`Arc`s) and compute without it, so the collector is never kept waiting.

pub mod history;
pub mod sample;
pub mod tls;
pub mod trace_match;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::anyhow;
use sightline_model::{
    DbDatabaseSize, DbInstance, DbLocks, DbMatchKind, DbMetrics, DbSamples, DbSessions, DbStatements, DbStatus, DbTraceMatch,
    DbTraceSessions, DbWindowSessions,
};
use tokio_postgres::config::Host;
use tokio_postgres::Config;

use history::{History, Sample, StoredSample};
use sample::{Conn, Statements};

use super::durable::{Interner, SampleLog, Series};
use crate::blocking;
use crate::config::ServeArgs;
use crate::error::AppError;
use crate::store::now_ms;

/// Longest wait between reconnection attempts: an instance back after a restart is seen within this.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// First wait after a failure; doubles per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Per-instance history budget (approximate heap bytes), beside the age bound.
const HISTORY_MAX_BYTES: usize = 64 << 20;

/// Every monitored instance; shared by the collectors (writers) and the API (readers).
pub struct DbHub {
    instances: Vec<Arc<Instance>>,
    interval: Duration,
    /// `<data_dir>/postgres`, opened only when an instance is configured.
    store: Option<Arc<PgLog>>,
}

/// The durable history of every instance: one series per instance id.
type PgLog = SampleLog<StoredSample>;

/// One monitored instance: its connection settings (secret) and what the collector last saw.
pub struct Instance {
    /// URL-safe id, stable across restarts for the same URL.
    pub id: String,
    /// `user@host:port/db`, safe to show and log.
    pub name: String,
    config: Config,
    /// `sslmode` / `sslrootcert`, taken out of the URL (the driver knows neither verify-* nor root files).
    tls: tls::Settings,
    password: Option<String>,
    live: Mutex<Live>,
    /// Where samples are also written, so history survives a restart.
    store: Option<Arc<PgLog>>,
    max_age_ms: i64,
    recorded: AtomicU64,
    /// Loopback or unix socket: the backends are processes of this machine (verified per pid in `/proc`).
    local: bool,
}

/// Mutable view of an instance, updated by its collector.
struct Live {
    status: DbStatus,
    since: i64,
    last_error: Option<String>,
    version: Option<String>,
    max_connections: Option<u32>,
    databases: Vec<DbDatabaseSize>,
    statements: Statements,
    history: History,
    /// How long the latest sample took (the sampling queries' round trips), for Sightline's own metrics.
    sample_took: Option<Duration>,
}

/// A `--postgres` value. Its `Debug` hides the URL, so printing the options cannot leak a password; parsing
/// never fails here (clap would echo the value in its error) — [`DbHub::new`] validates it.
#[derive(Clone)]
pub struct PgUrl(pub String);

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Instance::parse(0, &self.0) {
            Ok(i) => write!(f, "PgUrl({})", i.name),
            Err(_) => f.write_str("PgUrl(<invalid>)"),
        }
    }
}

impl std::str::FromStr for PgUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(PgUrl(s.trim().to_string()))
    }
}

/// Where a parsed PostgreSQL URL points, with the driver's defaults filled in: `user@host:port/db` is how
/// an instance (or the configuration database) is named in the UI and in messages, never with its password.
pub struct Endpoint {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub db: String,
}

impl Endpoint {
    pub fn of(config: &Config) -> Endpoint {
        let user = config.get_user().unwrap_or("postgres").to_string();
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or(&user).to_string();
        Endpoint { user, host, port, db }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.db)
    }
}

/// The URL's password, if it has one: what `scrub` removes from messages.
pub fn password_of(config: &Config) -> Option<String> {
    config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).filter(|p| !p.is_empty())
}

/// Renders a driver error with its server message (`FATAL: password authentication failed …`) or its
/// I/O cause (`connection refused`): the plain `Display` says only "db error".
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

impl DbHub {
    /// Parses the configured URLs and reloads their stored history; nothing connects until [`DbHub::spawn`].
    pub fn new(args: &ServeArgs) -> anyhow::Result<Self> {
        let urls: Vec<&PgUrl> = args.postgres.iter().filter(|u| !u.0.is_empty()).collect();
        let store = match urls.is_empty() {
            true => None,
            false => Some(Arc::new(PgLog::open(&args.data_dir.join("postgres"), 8 << 20, "PostgreSQL samples")?)),
        };
        let max_age_ms = args.pg_history_minutes as i64 * 60_000;
        let mut instances: Vec<Arc<Instance>> = Vec::new();
        for (i, url) in urls.into_iter().enumerate() {
            let mut inst = Instance::parse(max_age_ms, &url.0)?;
            inst.store = store.clone();
            let base = inst.id.clone();
            let mut n = 2;
            while instances.iter().any(|o| o.id == inst.id) {
                inst.id = format!("{base}-{n}");
                n += 1;
            }
            if let Some(st) = &store {
                let stored = st.load(&Series::named(&inst.id), now_ms() - max_age_ms)?;
                let mut texts = Interner::default();
                let mut l = inst.live();
                for s in stored {
                    l.history.push(s.into_sample(&mut texts));
                }
                if !l.history.is_empty() {
                    tracing::info!(instance = %inst.id, samples = l.history.len(), "reloaded stored PostgreSQL samples");
                }
            }
            tracing::info!(instance = %inst.id, name = %inst.name, n = i + 1, "monitoring PostgreSQL");
            instances.push(Arc::new(inst));
        }
        Ok(DbHub { instances, interval: Duration::from_millis(args.pg_interval_ms.max(100)), store })
    }

    /// Time between two samples of an instance: no chart bucket of database metrics is narrower (twice
    /// this, so sampling jitter never leaves every other bucket empty).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Makes the stored samples durable; called at shutdown.
    pub fn flush(&self) {
        if let Some(st) = &self.store {
            if let Err(e) = st.flush() {
                tracing::error!(error = ?e, "flushing the PostgreSQL samples failed");
            }
        }
    }

    /// Starts one collector task per instance; they run until the runtime stops.
    pub fn spawn(&self) {
        for inst in &self.instances {
            let (inst, interval) = (inst.clone(), self.interval);
            // A supervisor: a bug that panics a collector shows as "down" and the collector starts over.
            tokio::spawn(async move {
                loop {
                    match tokio::spawn(collect(inst.clone(), interval)).await {
                        Err(e) if e.is_panic() => {
                            tracing::error!(instance = %inst.id, "PostgreSQL collector panicked; restarting it");
                            inst.set_down("the collector failed (a bug; see the server log) and restarts");
                            tokio::time::sleep(BACKOFF_CAP).await;
                        }
                        _ => return,
                    }
                }
            });
        }
    }

    pub fn instance(&self, id: &str) -> Option<&Arc<Instance>> {
        self.instances.iter().find(|i| i.id == id)
    }

    /// Every configured instance, in `--postgres` order.
    pub fn instances(&self) -> &[Arc<Instance>] {
        &self.instances
    }

    pub fn list(&self) -> Vec<DbInstance> {
        self.instances.iter().map(|i| i.summary()).collect()
    }

    /// Every stored sample, on every instance, of a session running a statement of `trace_id` (oldest first
    /// per instance, at most `limit`): the database side of an APM trace. Sessions whose statement carries the
    /// trace's `traceparent` comment match for certain; others match one of `steps` heuristically (see
    /// [`trace_match`]). A session whose comment names another trace never matches heuristically.
    ///
    /// Scans whole histories: call it on the blocking pool. Each instance's lock is held only to take its
    /// samples (shared `Arc`s), not for the scan.
    pub fn trace_sessions(&self, trace_id: &str, steps: &[trace_match::SqlStep], limit: usize) -> DbTraceSessions {
        blocking::assert_off_runtime();
        let trace_id = trace_id.to_ascii_lowercase();
        let mut matches = Vec::new();
        for inst in &self.instances {
            for s in inst.samples_in(i64::MIN, i64::MAX) {
                for session in &s.sessions {
                    if matches.len() >= limit {
                        return DbTraceSessions { trace_id, matches };
                    }
                    let (span_id, matched_by) = match session.trace_id.as_deref() {
                        Some(t) if t == trace_id => (session.span_id.clone(), DbMatchKind::Traceparent),
                        Some(_) => continue,
                        None => match steps.iter().find(|st| st.matches(session, s.t)) {
                            Some(st) => (Some(st.span_id.clone()), DbMatchKind::Heuristic),
                            None => continue,
                        },
                    };
                    matches.push(DbTraceMatch {
                        instance: inst.id.clone(),
                        instance_name: inst.name.clone(),
                        at: s.t,
                        session: session.clone(),
                        span_id,
                        matched_by,
                    });
                }
            }
        }
        DbTraceSessions { trace_id, matches }
    }

    /// The wait events (and "blocked by <statement>") each trace's sessions were sampled in, on every
    /// instance, in the `[from, to]` windows (overlapping ones are read once): the database side of "what
    /// changed". Only sessions whose statement carries the trace's `traceparent` comment count (a heuristic
    /// match is good enough to show a session beside a trace, not to be counted as fact). Scans the windows'
    /// samples: call it on the blocking pool.
    pub fn wait_events_by_trace(&self, windows: &[(i64, i64)]) -> rustc_hash::FxHashMap<[u8; 16], Vec<String>> {
        blocking::assert_off_runtime();
        let mut merged: Vec<(i64, i64)> = windows.to_vec();
        merged.sort_unstable();
        merged.dedup_by(|next, prev| {
            let overlaps = next.0 <= prev.1;
            if overlaps {
                prev.1 = prev.1.max(next.1);
            }
            overlaps
        });
        let mut out: rustc_hash::FxHashMap<[u8; 16], Vec<String>> = rustc_hash::FxHashMap::default();
        for inst in &self.instances {
            for s in merged.iter().flat_map(|(from, to)| inst.samples_in(*from, *to)) {
                for session in &s.sessions {
                    let Some(trace) = session.trace_id.as_deref().and_then(|t| const_hex::decode_to_array::<_, 16>(t).ok()) else {
                        continue;
                    };
                    let mut events = Vec::new();
                    if let (Some(kind), Some(event)) = (&session.wait_event_type, &session.wait_event) {
                        events.push(format!("{kind}/{event}"));
                    }
                    for pid in &session.blocked_by {
                        let blocker = s.sessions.iter().find(|x| x.pid == *pid).and_then(|x| x.query.as_deref());
                        events.push(match blocker {
                            Some(q) => format!("blocked by: {}", crate::ingest::truncate(&crate::sql::normalize_sql(q), 200)),
                            None => "blocked by another session".to_string(),
                        });
                    }
                    if !events.is_empty() {
                        let seen = out.entry(trace).or_default();
                        for e in events {
                            if !seen.contains(&e) {
                                seen.push(e);
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

impl Instance {
    /// Parses a `postgres://` URL (or key=value string) and derives the shown name and the id.
    fn parse(max_age_ms: i64, url: &str) -> anyhow::Result<Self> {
        // The parser's message can quote the input: say which option is wrong without it.
        let (url, tls) = tls::split(url)?;
        let mut config: Config = url
            .parse()
            .map_err(|_| anyhow!("a --postgres / SIGHTLINE_POSTGRES value is not a valid PostgreSQL URL (postgres://user@host:port/db)"))?;
        config.ssl_mode(tls.mode.driver());
        let endpoint = Endpoint::of(&config);
        let name = endpoint.to_string();
        let Endpoint { host, port, db, .. } = endpoint;
        let id: String = format!("{host}-{port}-{db}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c.to_ascii_lowercase() } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        let password = password_of(&config);
        Ok(Instance {
            id,
            name,
            config,
            tls,
            password,
            live: Mutex::new(Live {
                status: DbStatus::Connecting,
                since: now_ms(),
                last_error: None,
                version: None,
                max_connections: None,
                databases: Vec::new(),
                statements: Statements::Missing("not connected yet".into()),
                history: History::new(max_age_ms, HISTORY_MAX_BYTES),
                sample_took: None,
            }),
            store: None,
            max_age_ms,
            recorded: AtomicU64::new(0),
            local: host.starts_with('/') || matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1"),
        })
    }

    /// An instance that is never connected, for unit tests elsewhere in the crate.
    #[cfg(test)]
    pub(crate) fn for_tests(id: &str) -> Self {
        let mut i = Self::parse(60_000, "postgres://monitor@127.0.0.1:5432/postgres").expect("literal URL");
        i.id = id.to_string();
        i
    }

    /// Removes the password from a message, however the server or driver quoted it.
    pub fn scrub(&self, msg: &str) -> String {
        match &self.password {
            Some(p) => msg.replace(p.as_str(), "***"),
            None => msg.to_string(),
        }
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        crate::sync::lock(&self.live)
    }

    /// Health at a glance, for the instance list.
    pub fn summary(&self) -> DbInstance {
        let l = self.live();
        let latest = l.history.latest();
        DbInstance {
            id: self.id.clone(),
            name: self.name.clone(),
            status: l.status,
            since: l.since,
            last_error: l.last_error.clone(),
            version: l.version.clone(),
            connections: latest.as_ref().map(|s| s.metrics.connections),
            max_connections: l.max_connections,
            last_sample: latest.as_ref().map(|s| s.t),
            statements_available: matches!(l.statements, Statements::Available(_)),
            databases: l.databases.clone(),
        }
    }

    /// Status and the latest sample's duration, for `GET /metrics` ([`crate::own_metrics`]).
    pub fn own_metrics(&self) -> (DbStatus, Option<Duration>) {
        let l = self.live();
        (l.status, l.sample_took)
    }

    fn nearest(&self, at: Option<i64>) -> Option<Arc<Sample>> {
        self.live().history.nearest(at)
    }

    /// Sessions of the newest sample, or of the stored one nearest `at`.
    pub fn sessions(&self, at: Option<i64>) -> DbSessions {
        let s = self.nearest(at);
        DbSessions {
            instance: self.id.clone(),
            at: s.as_ref().map(|s| s.t),
            sessions: s.map(|s| s.sessions.clone()).unwrap_or_default(),
        }
    }

    /// The sessions the samples in `[from, to]` saw, merged per session and statement.
    pub fn window_sessions(&self, from: i64, to: i64, limit: usize) -> DbWindowSessions {
        let samples = self.samples_in(from, to);
        let (sessions, truncated) = history::window_sessions(samples.iter(), limit);
        DbWindowSessions { instance: self.id.clone(), from, to, samples: samples.len() as u32, sessions, truncated }
    }

    /// Lock tree of the newest sample, or of the stored one nearest `at`.
    pub fn locks(&self, at: Option<i64>) -> DbLocks {
        let s = self.nearest(at);
        DbLocks {
            instance: self.id.clone(),
            at: s.as_ref().map(|s| s.t),
            roots: s.map(|s| history::lock_tree(&s)).unwrap_or_default(),
        }
    }

    /// The stored samples with `from <= t <= to`, oldest first (shared, cheap to clone): the lock is held
    /// only while collecting the handles.
    pub fn samples_in(&self, from: i64, to: i64) -> Vec<Arc<Sample>> {
        self.live().history.range(from, to).cloned().collect()
    }

    /// Metric points of the samples in `[from, to]`.
    pub fn metrics(&self, from: i64, to: i64) -> DbMetrics {
        let points = self.samples_in(from, to).iter().map(|s| s.metrics.clone()).collect();
        DbMetrics { instance: self.id.clone(), from, to, points }
    }

    /// Top statements by total time in `[from, to]`, or why there are none. Sightline's own monitoring
    /// statements are never among them: the collector leaves them out (see [`sample::is_own_statement`]).
    pub fn statements(&self, from: i64, to: i64, limit: usize) -> DbStatements {
        let (available, hint) = match &self.live().statements {
            Statements::Available(_) => (true, None),
            Statements::Missing(h) => (false, Some(h.clone())),
        };
        let samples = self.samples_in(from, to);
        DbStatements { instance: self.id.clone(), available, hint, statements: history::top_statements(samples.iter(), limit) }
    }

    /// Sample times in `[from, to]` (and those with lock waits), for a replay slider.
    pub fn samples(&self, from: i64, to: i64) -> DbSamples {
        let mut times = Vec::new();
        let mut lock_times = Vec::new();
        for s in self.samples_in(from, to) {
            times.push(s.t);
            if !s.locks.is_empty() {
                lock_times.push(s.t);
            }
        }
        DbSamples { instance: self.id.clone(), times, lock_times }
    }

    fn set_up(&self, conn: &Conn) {
        let mut l = self.live();
        if l.status != DbStatus::Up {
            tracing::info!(instance = %self.id, name = %self.name, version = %conn.version, "PostgreSQL instance is up");
            l.status = DbStatus::Up;
            l.since = now_ms();
        }
        l.version = Some(conn.version.clone());
        l.max_connections = Some(conn.max_connections);
    }

    fn set_down(&self, error: &str) {
        let error = self.scrub(error);
        let mut l = self.live();
        if l.status != DbStatus::Down {
            tracing::warn!(instance = %self.id, name = %self.name, error = %error, "PostgreSQL instance is down");
            l.status = DbStatus::Down;
            l.since = now_ms();
        } else {
            tracing::debug!(instance = %self.id, error = %error, "PostgreSQL instance still down");
        }
        l.last_error = Some(error);
    }

    /// Stores a sample, then adds it to the in-memory history (disk first, as the collector always did).
    ///
    /// The write (fjall insert + persist to the OS, and every 300th time the range delete of what fell out of
    /// the age bound) runs on the blocking pool through [`blocking::run`], not on a writer thread of its own:
    /// there is one sample per instance per interval and the collector awaits its write before the next tick,
    /// so writes never queue, a slow disk slows only this instance's sampling, and nothing sits unwritten in a
    /// channel when the process stops (a writer thread would need that shutdown hand-off for no gain).
    async fn record(self: &Arc<Self>, sample: Sample, took: Duration, conn: &Conn) {
        let sample = Arc::new(sample);
        if self.store.is_some() {
            let (inst, s) = (self.clone(), sample.clone());
            let stored = blocking::run("storing a PostgreSQL sample", move || {
                inst.write_sample(&s);
                Ok::<_, AppError>(())
            })
            .await;
            if let Err(e) = stored {
                tracing::warn!(instance = %self.id, error = %e, "storing a PostgreSQL sample failed");
            }
        }
        let mut l = self.live();
        l.sample_took = Some(took);
        l.statements = conn.statements.clone();
        l.databases = conn.databases.clone();
        l.history.push(sample);
    }

    /// The disk half of [`Instance::record`]; failures are logged (the sample still reaches memory).
    fn write_sample(&self, sample: &Sample) {
        blocking::assert_off_runtime();
        let Some(st) = &self.store else { return };
        let series = Series::named(&self.id);
        if let Err(e) = st.put(&series, sample.t, &StoredSample::of(sample)) {
            tracing::warn!(instance = %self.id, error = ?e, "storing a PostgreSQL sample failed");
        }
        // The age bound on disk, now and then (a range delete of what fell out of the window).
        if self.recorded.fetch_add(1, Ordering::Relaxed).is_multiple_of(300) {
            if let Err(e) = st.expire(&series, sample.t - self.max_age_ms) {
                tracing::warn!(instance = %self.id, error = ?e, "expiring stored PostgreSQL samples failed");
            }
        }
    }

    /// Connects and prepares the session. The second value receives why the connection ended, which says
    /// more (`FATAL: terminating connection due to administrator command`) than the failed query.
    async fn connect(&self) -> Result<(Conn, Arc<Mutex<Option<String>>>), String> {
        let mut cfg = self.config.clone();
        cfg.application_name("sightline").connect_timeout(Duration::from_secs(5));
        let connector = self.tls.connector()?;
        let (client, connection) = cfg.connect(connector).await.map_err(|e| tls::explain(describe(&e), self.tls.mode))?;
        let ended = Arc::new(Mutex::new(None));
        let (id, reason) = (self.id.clone(), ended.clone());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                let msg = describe(&e);
                tracing::debug!(instance = %id, error = %msg, "monitoring connection ended");
                *crate::sync::lock(&reason) = Some(msg);
            }
        });
        let mut conn = Conn::new(client).await.map_err(|e| describe(&e))?;
        conn.local = self.local;
        Ok((conn, ended))
    }
}

/// Exponential backoff after `failures` consecutive failures (1-based), with up to 20 % jitter.
pub fn backoff(failures: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let d = exp.min(BACKOFF_CAP);
    d + d.mul_f64(rand::random::<f64>() * 0.2)
}

/// The collector of one instance: connect, sample every `interval` until something fails, report, back off,
/// reconnect — forever.
async fn collect(inst: Arc<Instance>, interval: Duration) {
    let mut failures = 0u32;
    loop {
        match inst.connect().await {
            Ok((mut conn, ended)) => {
                inst.set_up(&conn);
                failures = 0;
                let err = sample_until_error(&inst, &mut conn, interval).await;
                // Give the connection task a moment to report the server's reason, if it sent one.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let reason = crate::sync::lock(&ended).take();
                inst.set_down(&reason.unwrap_or(err));
            }
            Err(e) => inst.set_down(&e),
        }
        failures += 1;
        tokio::time::sleep(backoff(failures)).await;
    }
}

/// Samples on a fixed tick (late ticks are skipped, not bunched) and returns why it stopped.
async fn sample_until_error(inst: &Arc<Instance>, conn: &mut Conn, interval: Duration) -> String {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let limit = (interval * 3).max(Duration::from_secs(10));
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match tokio::time::timeout(limit, conn.sample(now_ms())).await {
            Ok(Ok(s)) => inst.record(s, started.elapsed(), conn).await,
            Ok(Err(e)) => return describe(&e),
            Err(_) => return format!("no answer to the sampling queries within {} s", limit.as_secs()),
        }
        if conn.is_closed() {
            return "the connection was closed".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_id_hide_the_password() {
        let i = Instance::parse(60_000, "postgres://monitor:s3cr%40t@db.example:6543/bank").unwrap();
        assert_eq!(i.name, "monitor@db.example:6543/bank");
        assert_eq!(i.id, "db.example-6543-bank");
        assert_eq!(i.password.as_deref(), Some("s3cr@t"));
        assert_eq!(i.scrub("FATAL: bad password s3cr@t"), "FATAL: bad password ***");
        assert_eq!(format!("{:?}", PgUrl("postgres://monitor:s3cr%40t@db.example:6543/bank".into())), "PgUrl(monitor@db.example:6543/bank)");
        let e = Instance::parse(0, "postgres://u:pw@host:notaport/db").err().unwrap().to_string();
        assert!(!e.contains("pw"), "{e}");
        // The TLS parameters are taken out before the driver parses the rest; the name stays the same.
        let i = Instance::parse(60_000, "postgres://monitor:s3cr%40t@db.example:6543/bank?sslmode=verify-full&sslrootcert=/ca.pem").unwrap();
        assert_eq!((i.name.as_str(), i.id.as_str()), ("monitor@db.example:6543/bank", "db.example-6543-bank"));
        assert_eq!((i.tls.mode, i.config.get_ssl_mode()), (tls::Mode::VerifyFull, tokio_postgres::config::SslMode::Require));
        assert_eq!(Instance::parse(0, "postgres://m@db/x").unwrap().config.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
        let e = Instance::parse(0, "postgres://u:pw@host/db?sslmode=verify").err().unwrap().to_string();
        assert!(!e.contains("pw@"), "{e}");
    }

    fn sample(t: i64, query: &str) -> Sample {
        let statement = history::StatementDelta { queryid: 7, query: Arc::from(query), calls: 2, total_ms: 3.0, rows: 2 };
        Sample {
            t,
            sessions: vec![],
            locks: vec![],
            metrics: sightline_model::DbMetricPoint::new(t, 0.0, Default::default(), 1, 100, 0),
            statements: vec![statement],
        }
    }

    #[test]
    fn stored_samples_come_back_per_instance_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ServeArgs::for_tests(dir.path());
        args.postgres = vec![PgUrl("postgres://m@db-a/x".into()), PgUrl("postgres://m@db-b/x".into())];
        let now = now_ms();
        {
            let hub = DbHub::new(&args).unwrap();
            // The collector's blocking step, on this plain thread.
            for t in [now - 2_000, now - 1_000] {
                hub.instances[0].write_sample(&sample(t, "SELECT a"));
            }
            hub.instances[1].write_sample(&sample(now - 500, "SELECT b"));
            hub.flush();
        }
        let hub = DbHub::new(&args).unwrap();
        let a = hub.instances[0].samples_in(i64::MIN, i64::MAX);
        assert_eq!(a.iter().map(|s| s.t).collect::<Vec<_>>(), [now - 2_000, now - 1_000]);
        assert!(Arc::ptr_eq(&a[0].statements[0].query, &a[1].statements[0].query), "texts are shared again");
        let b = hub.instances[1].samples_in(i64::MIN, i64::MAX);
        assert_eq!((b.len(), &*b[0].statements[0].query), (1, "SELECT b"));
        assert_eq!(hub.instances[0].summary().last_sample, Some(now - 1_000));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert!(backoff(1) >= Duration::from_millis(500) && backoff(1) <= Duration::from_millis(600));
        assert!(backoff(3) >= Duration::from_secs(2) && backoff(3) <= Duration::from_millis(2400));
        assert!(backoff(40) >= BACKOFF_CAP && backoff(40) <= BACKOFF_CAP.mul_f64(1.2));
    }
}
