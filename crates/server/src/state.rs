//! The one value every handler shares: cheap to clone, everything behind `Arc`s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::broadcast;

use crate::blocking;
use crate::boards::{BoardStore, Boards};
use crate::collect::host::HostHub;
use crate::collect::postgres::DbHub;
use crate::config::ServeArgs;
use crate::deploys::DeployLog;
use crate::own_metrics::OwnMetrics;
use crate::store::{self, LiveBatch, TraceStore};

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    /// Where transactions and spans live (embedded by default; a trait so a distributed backend can replace it).
    pub store: Arc<dyn TraceStore>,
    /// Newly stored transactions, fanned out to live hitmap streams.
    pub live: broadcast::Sender<Arc<LiveBatch>>,
    /// Users, sessions, API tokens, share links and access settings (`<data_dir>/auth`); see [`crate::auth`].
    pub auth: Arc<crate::auth::Auth>,
    /// Largest OTLP request accepted, after decompression (`SIGHTLINE_INGEST_MAX_BYTES`, default 16 MiB).
    pub ingest_max_bytes: usize,
    /// Bounds how many OTLP requests are read and decoded at once, so a burst of large exports queues
    /// instead of holding `n × ingest_max_bytes` (plus the decoded spans) in memory.
    pub ingest_permits: Arc<tokio::sync::Semaphore>,
    /// Monitored PostgreSQL instances and their sample history (collectors started by `serve`).
    pub db: Arc<DbHub>,
    /// This machine's CPU, memory and busiest processes (collector started by `serve`).
    pub host: Arc<HostHub>,
    /// First-seen time of each service version, for deploy markers (`<data_dir>/deploys.json`, or the
    /// `--config-db`).
    pub deploys: Arc<DeployLog>,
    /// The process behind each reporting instance (`host.name`, `process.pid`), for the cube's CPU and
    /// memory per instance; see [`crate::instances`].
    pub instances: Arc<crate::instances::Instances>,
    /// Saved flex boards and their revisions (`<data_dir>/boards`, or the `--config-db`).
    pub boards: Boards,
    /// The `--demo` PostgreSQL, when one was started: monitored like a `--postgres` instance, stopped at shutdown.
    pub demo_postgres: Option<Arc<crate::demo::postgres::DemoPostgres>>,
    /// Sightline's own metrics for Prometheus (`GET /metrics`): one registry per state, see
    /// [`crate::own_metrics`] (not [`crate::metrics`], the monitored system's metric catalogue).
    pub own_metrics: Arc<OwnMetrics>,
    /// How long an API request may take before it is answered 503 (`SIGHTLINE_REQUEST_TIMEOUT_MS`; which
    /// routes: see `app.rs`).
    pub request_timeout: Duration,
    /// How far back the cube keeps its rollups: cube queries and the errors view may not reach further.
    pub cube_retention_ms: i64,
    /// Alert rules, their instances, silences, channels and delivery (`<data_dir>/alerts`, or the
    /// `--config-db`); its tasks are started by `serve` ([`crate::alert::Alerts::spawn`]).
    pub alerts: Arc<crate::alert::Alerts>,
}

/// How often retention runs (age and size limits, stale in-flight snapshots).
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl AppState {
    /// Opens (or creates) the embedded store under `args.data_dir`. Everything that reads the disk runs on
    /// the blocking pool ([`blocking::run`]).
    pub async fn open(args: &ServeArgs) -> anyhow::Result<Self> {
        let own_metrics = Arc::new(OwnMetrics::new());
        let a = args.clone();
        let on_commit: store::CommitObserver = {
            let m = own_metrics.clone();
            Arc::new(move |c: &store::CommitReport| m.commit(c))
        };
        // ClickHouse is opened over the network, before the local files; the embedded store otherwise.
        let remote = match args.clickhouse.is_empty() {
            false => Some(store::clickhouse::open(args).await?),
            true => None,
        };
        // The shared configuration database too, when there is one: boards, deploys and alerts live there.
        let config_db = match &args.config_db {
            Some(url) => Some(crate::config_db::ConfigDb::open(url).await?),
            None => None,
        };
        let embedded_config = config_db.is_none();
        let (store, local) =
            blocking::run("opening the data directory", move || open_stores(&a, remote, on_commit, embedded_config)).await?;
        let (boards, deploys) = match (local, config_db.clone()) {
            (Some((boards, deploys)), _) => (Boards::Embedded(Arc::new(boards)), deploys),
            (None, db) => {
                let db = db.context("no configuration database to keep the boards in")?;
                let boards = crate::boards::shared::SharedBoards::open(db.clone(), store::now_ms()).await?;
                (Boards::Shared(Arc::new(boards)), DeployLog::open_shared(db).await?)
            }
        };
        let deploys = Arc::new(deploys);
        crate::deploys::spawn_sync(deploys.clone());
        let ingest_max_bytes = match std::env::var("SIGHTLINE_INGEST_MAX_BYTES") {
            Ok(v) => v.trim().parse().with_context(|| format!("SIGHTLINE_INGEST_MAX_BYTES={v:?} is not a byte count"))?,
            Err(_) => crate::ingest::http::DEFAULT_MAX_BODY,
        };
        spawn_retention(store.clone(), own_metrics.clone());
        let auth = crate::auth::open_for_serve(args).await?;
        // The demo cluster is started before the collectors are configured, so it is monitored like any
        // `--postgres` instance (and its history is stored the same way).
        let demo_postgres = match args.demo && args.demo_postgres {
            true => crate::demo::postgres::start(&args.data_dir).await.map(Arc::new),
            false => None,
        };
        let mut db_args = args.clone();
        if let Some(pg) = &demo_postgres {
            db_args.postgres.push(crate::collect::postgres::PgUrl(pg.monitor_url()));
        }
        let hubs = blocking::run("opening the collectors' history", move || open_hubs(&db_args)).await;
        let (db, host) = hubs.inspect_err(|_| {
            if let Some(pg) = &demo_postgres {
                pg.stop();
            }
        })?;
        let (db, host) = (Arc::new(db), Arc::new(host));
        let sources = crate::alert::source::Sources {
            store: store.clone(),
            dbs: db.clone(),
            hosts: host.clone(),
            deploys: deploys.clone(),
            cube_retention_ms: args.cube_retention_ms(),
        };
        let (dir, delivery) = (args.data_dir.join("alerts"), args.alert_delivery());
        let alerts = match config_db {
            Some(db) => crate::alert::Alerts::open_shared(db, sources, delivery).await?,
            None => {
                blocking::run("opening the alerts", move || {
                    crate::alert::Alerts::open(&dir, sources, delivery).with_context(|| format!("cannot open the alerts in {}", dir.display()))
                })
                .await?
            }
        };
        let live = broadcast::channel(1024).0;
        store.stream_others(live.clone());
        Ok(AppState {
            store,
            live,
            auth,
            ingest_max_bytes,
            ingest_permits: Arc::new(tokio::sync::Semaphore::new(crate::ingest::http::MAX_CONCURRENT_REQUESTS)),
            db,
            host,
            boards,
            deploys,
            instances: Arc::default(),
            demo_postgres,
            own_metrics,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            cube_retention_ms: args.cube_retention_ms(),
            alerts: Arc::new(alerts),
        })
    }

    /// Flushes what must be flushed before the process exits.
    pub async fn shutdown(&self) {
        let auth = self.auth.clone();
        if let Err(e) = crate::blocking::run("saving the auth database", move || auth.flush()).await {
            tracing::error!(error = %e, "saving the auth database at shutdown failed");
        }
        let state = self.clone();
        let stopped = blocking::run("shutting down", move || {
            if let Err(e) = state.alerts.flush() {
                tracing::error!(error = %format!("{e:#}"), "saving the alerts at shutdown failed");
            }
            state.db.flush();
            state.host.flush();
            if let Some(pg) = &state.demo_postgres {
                pg.stop();
            }
            Ok::<_, crate::error::AppError>(())
        });
        if let Err(e) = stopped.await {
            tracing::error!(error = %e, "flushing the collectors at shutdown failed");
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %format!("{e:#}"), "flushing the store at shutdown failed");
        }
    }
}

/// Boards and deploys kept in the data directory (no `--config-db`).
type LocalConfig = (BoardStore, DeployLog);

/// The stores under the data directory: traces, and boards and deploys unless they are in the shared
/// configuration database (`with_config`: they are here).
/// `remote`: the trace store when it is not the embedded one (ClickHouse, opened already).
fn open_stores(
    args: &ServeArgs,
    remote: Option<Arc<dyn TraceStore>>,
    on_commit: store::CommitObserver,
    with_config: bool,
) -> anyhow::Result<(Arc<dyn TraceStore>, Option<LocalConfig>)> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let store = match remote {
        Some(store) => store,
        None => store::open(args, on_commit).with_context(|| format!("cannot open the store in {}", dir.display()))?,
    };
    if !with_config {
        return Ok((store, None));
    }
    let boards = BoardStore::open(&dir.join("boards"), store::now_ms())
        .with_context(|| format!("cannot open the boards in {}", dir.display()))?;
    Ok((store, Some((boards, DeployLog::open(dir)?))))
}

/// The collectors' hubs, with the history they stored before.
fn open_hubs(args: &ServeArgs) -> anyhow::Result<(DbHub, HostHub)> {
    let db = DbHub::new(args)?;
    let host = HostHub::new(args).with_context(|| format!("cannot open the host samples in {}", args.data_dir.display()))?;
    Ok((db, host))
}

/// Runs retention now and then every [`RETENTION_EVERY`] (the store does its disk work off the runtime),
/// counting what it removed; stops with the runtime.
fn spawn_retention(store: Arc<dyn TraceStore>, own_metrics: Arc<OwnMetrics>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            match store.enforce_retention(store::now_ms()).await {
                Ok(report) => own_metrics.retention(&report),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "retention pass failed"),
            }
        }
    });
}
