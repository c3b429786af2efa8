//! The one value every handler shares: cheap to clone, everything behind `Arc`s.

use std::sync::Arc;

use anyhow::Context;
use sightline_model::LivePoint;
use tokio::sync::broadcast;

use crate::config::ServeArgs;
use crate::store::{self, TraceStore};

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    /// Where transactions and spans live (embedded by default; a trait so a distributed backend can replace it).
    pub store: Arc<dyn TraceStore>,
    /// Newly stored transactions, fanned out to live hitmap streams.
    pub live: broadcast::Sender<Arc<Vec<LivePoint>>>,
    /// Required bearer token for OTLP ingest, if configured. Never logged or sent to the browser.
    pub ingest_token: Option<Arc<str>>,
}

impl AppState {
    /// Opens (or creates) the embedded store under `args.data_dir`.
    pub async fn open(args: &ServeArgs) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
        let store = store::open(args).with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
        let (live, _) = broadcast::channel(1024);
        Ok(AppState { store, live, ingest_token: args.ingest_token.as_deref().map(Arc::from) })
    }

    /// Flushes what must be flushed before the process exits.
    pub async fn shutdown(&self) {
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "flushing the store at shutdown failed");
        }
    }
}
