//! The HTTP surface, in one place:
//!
//! - `GET  /api/v1/health`                      → liveness and version
//! - `GET  /api/v1/hitmap`, `/api/v1/hitmap/live` → binned counts, live stream of new transactions (SSE)
//! - `GET  /api/v1/transactions`                → the transactions in a drag-selected rectangle
//! - `GET  /api/v1/traces/{trace_id}`           → one assembled trace
//! - `GET  /api/v1/active`, `/api/v1/services`  → running transactions, per-service summary
//! - `GET  /api/v1/deploys`                     → service versions first seen in a window (deploy markers)
//! - `GET/POST /api/v1/boards`, `GET/PUT/DELETE /api/v1/boards/{id}` → flex boards (409 on a stale save)
//! - `GET  /api/v1/boards/{id}/versions[/{n}]`, `POST …/versions/{n}/restore`, `GET /api/v1/boards/templates`
//! - `GET  /api/v1/db/instances`              → monitored PostgreSQL instances and their health
//! - `GET  /api/v1/db/traces/{trace_id}`       → database sessions that ran statements of a trace (`traceparent` comment)
//! - `GET  /api/v1/db/instances/{id}/…`        → `sessions`, `locks` (`?at=`), `metrics`, `statements`, `samples` (`?from=&to=`)
//! - `GET  /api/v1/metrics`, `/api/v1/metrics/query` → metric catalogue, series aggregated on the server
//! - `GET  /api/v1/host/processes` (`?at=`), `/api/v1/host/processes/{pid}/history` → this machine's busiest processes
//! - `POST /v1/traces`                          → OTLP/HTTP trace ingest (protobuf or JSON)
//! - everything else under `/api/`              → JSON 404
//! - any other path                             → the built app (SPA history fallback to `index.html`)
//!
//! Layers: compression and request tracing on everything. A request timeout
//! ([`AppState::request_timeout`], 30 s by default) on the API routes that answer one JSON document: past
//! it the request is answered 503 in the usual error shape ([`AppError::TimedOut`]), so neither a slow
//! query nor a client that never finishes its body keeps a connection waiting forever (work already
//! handed to the blocking pool still finishes; only its answer is dropped). Not on `/api/v1/hitmap/live`,
//! a stream meant to stay open. Not on `POST /v1/traces`: its time is the exporter's upload, the queue for
//! an ingest permit and the fsync, each bounded on its own (body limit, permits), and exporters time out
//! and retry by themselves, so cutting an export whose spans may already be durable would only make it be
//! sent again. Not on the built app's static files.

use std::path::Path;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::error::AppError;
use crate::state::AppState;

/// Builds the whole router; separate from `main` so tests can call it without a socket.
pub fn router(state: AppState, dist: Option<&Path>) -> Router {
    let limit = state.request_timeout;
    // Routes added after `.layer(…)` are outside it: the live stream and the JSON 404.
    let api = Router::new()
        .route("/health", get(api::health::show))
        .route("/hitmap", get(api::hitmap::show))
        .route("/transactions", get(api::transactions::list))
        .route("/traces/{trace_id}", get(api::traces::show))
        .route("/active", get(api::active::list))
        .route("/services", get(api::services::list))
        .route("/deploys", get(api::deploys::list))
        .route("/metrics", get(api::metrics::catalog))
        .route("/metrics/query", get(api::metrics::query))
        .route("/boards", get(api::boards::list).post(api::boards::create))
        .route("/boards/templates", get(api::boards::templates))
        .route("/boards/{id}", get(api::boards::show).put(api::boards::update).delete(api::boards::delete))
        .route("/boards/{id}/versions", get(api::boards::versions))
        .route("/boards/{id}/versions/{n}", get(api::boards::version))
        .route("/boards/{id}/versions/{n}/restore", post(api::boards::restore))
        .route("/db/instances", get(api::db::instances))
        .route("/db/instances/{id}/sessions", get(api::db::sessions))
        .route("/db/instances/{id}/locks", get(api::db::locks))
        .route("/db/instances/{id}/metrics", get(api::db::metrics))
        .route("/db/instances/{id}/statements", get(api::db::statements))
        .route("/db/instances/{id}/samples", get(api::db::samples))
        .route("/db/traces/{trace_id}", get(api::db::trace_sessions))
        .route("/host/processes", get(api::host::processes))
        .route("/host/processes/{pid}/history", get(api::host::history))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |_: BoxError| async move { AppError::TimedOut(limit) }))
                .timeout(limit),
        )
        .route("/hitmap/live", get(api::hitmap::live))
        .fallback(api_not_found);
    // The OTLP handler enforces its own (configurable, decompressed) limit while reading the body.
    let otlp = Router::new()
        .route("/v1/traces", post(api::otlp::export))
        .layer(DefaultBodyLimit::disable());
    let app = Router::new()
        .nest("/api/v1", api)
        .merge(otlp)
        .route("/api", get(api_not_found))
        .route("/api/{*rest}", get(api_not_found));
    let app = match dist {
        Some(dist) => app.fallback_service(
            ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html"))),
        ),
        None => app.fallback(no_app),
    };
    app.layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no API route {}", uri.path()))
}

async fn no_app() -> AppError {
    AppError::NotFound("the app is not built: run `cargo xtask run` from the repository".into())
}
