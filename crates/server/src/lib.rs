//! Sightline's backend. Data flows one way:
//! `ingest` (OTLP/HTTP) → `store` → `api` → the browser app; `collect` (PostgreSQL, host) keeps its own
//! sample histories (never through `store`) → `api`.
//! `demo` generates a realistic workload through the same ingest path as real traffic.

pub mod api;
pub mod app;
pub mod auth;
pub mod blocking;
pub mod boards;
pub mod collect;
pub mod config;
pub mod demo;
pub mod deploys;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod own_metrics;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;

use std::net::SocketAddr;

use anyhow::Context;
use config::{Cli, Command, ServeArgs};
use tokio::net::TcpListener;

/// Runs the command line: `serve`, or `user …` (managing users with the server stopped).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::User(args) => auth::cli::run(args).await,
    }
}

/// Opens the store, starts the demo if asked, and serves the app and the API until Ctrl-C / SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let dist = args.resolve_dist();
    // Read before anything starts, so a wrong path fails at once.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(auth::tls::server_config(cert, key)?),
        _ => None,
    };
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("Sightline is running at {scheme}://{addr}/  (Ctrl-C to stop)");
    // The client's address reaches handlers as `ConnectInfo` (per-address sign-in limits).
    let router = app::router(state.clone(), dist.as_deref());
    match tls {
        None => {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await?
        }
        Some(config) => {
            // `tap_io` (doing nothing) gives the listener axum's `ConnectInfo<SocketAddr>` support.
            let listener = axum::serve::ListenerExt::tap_io(auth::tls::TlsListener::new(listener, config)?, |_| {});
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await?
        }
    }
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
