//! Sightline's backend. Data flows one way:
//! `ingest` (OTLP/HTTP, OTLP/gRPC) → `store` → `api` → the browser app; `collect` (PostgreSQL, host) keeps its own
//! sample histories (never through `store`) → `api`.
//! `demo` generates a realistic workload through the same ingest path as real traffic.

pub mod alert;
pub mod allocator;
pub mod api;
pub mod app;
pub mod auth;
pub mod blocking;
pub mod boards;
pub mod collect;
pub mod config;
pub mod config_db;
pub mod compare;
pub mod cube;
pub mod demo;
pub mod deploys;
pub mod errors;
pub mod error;
pub mod ingest;
pub mod instances;
pub mod metrics;
pub mod open_files;
pub mod own_metrics;
pub mod sql;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod wire;

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

/// Opens the store, starts the demo if asked, and serves the app and the API (and OTLP/gRPC on its own
/// port) until Ctrl-C / SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if let Some((from, to)) = open_files::raise() {
        tracing::info!(from = ?from, to = ?to, "open-files soft limit raised to the hard limit");
    }
    let dist = args.resolve_dist();
    // Read before anything starts, so a wrong path fails at once.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(auth::tls::server_config(cert, key)?),
        _ => None,
    };
    let state = state::AppState::open(&args).await?;
    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {} (--addr / SIGHTLINE_ADDR)", args.addr))?;
    let addr: SocketAddr = listener.local_addr()?;
    let grpc_listener = match args.otlp_grpc_addr.0 {
        Some(grpc) => Some(TcpListener::bind(grpc).await.with_context(|| {
            format!(
                "cannot listen on {grpc} for OTLP/gRPC (--otlp-grpc-addr / SIGHTLINE_OTLP_GRPC_ADDR; \
                 is another OTLP receiver using it? Choose another address, or an empty value to turn OTLP/gRPC off)"
            )
        })?),
        None => None,
    };
    match &dist {
        Some(d) => tracing::info!(dist = %d.display(), "serving the app"),
        None => tracing::warn!("no built app found (run `cargo xtask run`); serving the API only"),
    }
    if args.demo {
        demo::spawn(state.clone());
    }
    state.db.spawn();
    state.host.spawn();
    // Printed, not logged: these are the lines a user looks for.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("Sightline is running at {scheme}://{addr}/  (Ctrl-C to stop)");
    if let Some(l) = &grpc_listener {
        println!("OTLP/gRPC trace ingest on {}{}", l.local_addr()?, if tls.is_some() { " (TLS)" } else { "" });
    }
    // One signal stops both servers; each lets its requests in flight finish.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    // Alert rules are evaluated and messages delivered until the stop signal.
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    state.alerts.spawn(&public_url, stop_rx.clone());
    // Version changes are judged once the minutes after them have passed (suspect deploys).
    deploys::check::spawn(state.store.clone(), state.deploys.clone(), args.deploy_check(), stop_rx.clone());
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let grpc = async {
        match grpc_listener {
            Some(l) => ingest::grpc::serve(state.clone(), l, tls.as_deref().map(auth::tls::for_grpc), stopped()).await,
            None => Ok(()),
        }
    };
    // The client's address reaches handlers as `ConnectInfo` (per-address sign-in limits).
    let router = app::router(state.clone(), dist.as_deref());
    let http = async {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        match tls.clone() {
            None => axum::serve(listener, service).with_graceful_shutdown(stopped()).await,
            Some(config) => {
                // `tap_io` (doing nothing) gives the listener axum's `ConnectInfo<SocketAddr>` support.
                let listener = axum::serve::ListenerExt::tap_io(auth::tls::TlsListener::new(listener, config)?, |_| {});
                axum::serve(listener, service).with_graceful_shutdown(stopped()).await
            }
        }
        .context("the HTTP server stopped")
    };
    tokio::try_join!(http, grpc)?;
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
