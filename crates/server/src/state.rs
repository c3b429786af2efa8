//! The one value every handler shares: cheap to clone, everything behind `Arc`s.

use std::sync::Arc;

use anyhow::Context;

use tokio::sync::broadcast;

use crate::config::ServeArgs;
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
    pub db: Arc<crate::collect::postgres::DbHub>,
    /// This machine's CPU, memory and busiest processes (collector started by `serve`).
    pub host: Arc<crate::collect::host::HostHub>,
    /// First-seen time of each service version, for deploy markers (`<data_dir>/deploys.json`).
    pub deploys: Arc<crate::deploys::DeployLog>,
    /// Saved flex boards and their revisions (`<data_dir>/boards`).
    pub boards: Arc<crate::boards::BoardStore>,
    /// The `--demo` PostgreSQL, when one was started: monitored like a `--postgres` instance, stopped at shutdown.
    pub demo_postgres: Option<Arc<crate::demo::postgres::DemoPostgres>>,
}

/// How often retention runs (age and size limits, stale in-flight snapshots).
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl AppState {
    /// Opens (or creates) the embedded store under `args.data_dir`.
    pub async fn open(args: &ServeArgs) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
        let store = store::open(args).with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
        let (live, _) = broadcast::channel(1024);
        let ingest_max_bytes = match std::env::var("SIGHTLINE_INGEST_MAX_BYTES") {
            Ok(v) => v.trim().parse().with_context(|| format!("SIGHTLINE_INGEST_MAX_BYTES={v:?} is not a byte count"))?,
            Err(_) => crate::ingest::http::DEFAULT_MAX_BODY,
        };
        spawn_retention(store.clone());
        let boards = crate::boards::BoardStore::open(&args.data_dir.join("boards"), store::now_ms())
            .with_context(|| format!("cannot open the boards in {}", args.data_dir.display()))?;
        let deploys = crate::deploys::DeployLog::open(&args.data_dir)?;
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
        let db = crate::collect::postgres::DbHub::new(&db_args).inspect_err(|_| {
            if let Some(pg) = &demo_postgres {
                pg.stop();
            }
        })?;
        let host = crate::collect::host::HostHub::new(args)
            .with_context(|| format!("cannot open the host samples in {}", args.data_dir.display()));
        let host = host.inspect_err(|_| {
            if let Some(pg) = &demo_postgres {
                pg.stop();
            }
        })?;
        Ok(AppState {
            store,
            live,
            auth,
            ingest_max_bytes,
            ingest_permits: Arc::new(tokio::sync::Semaphore::new(crate::ingest::http::MAX_CONCURRENT_REQUESTS)),
            db: Arc::new(db),
            host: Arc::new(host),
            boards: Arc::new(boards),
            deploys: Arc::new(deploys),
            demo_postgres,
        })
    }

    /// Flushes what must be flushed before the process exits.
    pub async fn shutdown(&self) {
        let auth = self.auth.clone();
        if let Err(e) = crate::blocking::run("saving the auth database", move || auth.flush()).await {
            tracing::error!(error = %e, "saving the auth database at shutdown failed");
        }
        self.db.flush();
        self.host.flush();
        if let Some(pg) = self.demo_postgres.clone() {
            let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
        }
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "flushing the store at shutdown failed");
        }
    }
}

/// Runs retention now and then every [`RETENTION_EVERY`] on the blocking pool; stops with the runtime.
fn spawn_retention(store: Arc<dyn TraceStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.enforce_retention(store::now_ms())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = ?e, "retention pass failed"),
                Err(e) => tracing::error!(error = %e, "retention task panicked"),
            }
        }
    });
}
