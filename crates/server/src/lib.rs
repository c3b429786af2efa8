//! Sightline's backend. Data flows one way:
//! `ingest` (OTLP/HTTP) → `store` → `api` → the browser app; `collect` (PostgreSQL, host) keeps its own
//! sample histories (never through `store`) → `api`.
//! `demo` generates a realistic workload through the same ingest path as real traffic.

pub mod api;
pub mod app;
pub mod blocking;
pub mod boards;
pub mod collect;
pub mod config;
pub mod demo;
pub mod deploys;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;

use std::net::SocketAddr;

use anyhow::Context;
use config::{Cli, Command, ServeArgs};
use tokio::net::TcpListener;

/// Runs the command line: today only `serve`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
    }
}

/// Opens the store, starts the demo if asked, and serves the app and the API until Ctrl-C / SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let dist = args.resolve_dist();
    let state = state::AppState::open(&args).await?;
    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr: SocketAddr = listener.local_addr()?;
    match &dist {
        Some(d) => tracing::info!(dist = %d.display(), "serving the app"),
        None => tracing::warn!("no built app found (run `cargo xtask run`); serving the API only"),
    }
    if args.demo {
        demo::spawn(state.clone());
    }
    state.db.spawn();
    state.host.spawn();
    // Printed, not logged: this is the line a user looks for.
    println!("Sightline is running at http://{addr}/  (Ctrl-C to stop)");
    let router = app::router(state.clone(), dist.as_deref());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    state.shutdown().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
