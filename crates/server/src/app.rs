//! The HTTP surface, in one place:
//!
//! - `GET  /api/v1/health`                      → liveness and version
//! - `POST /v1/traces`                          → OTLP/HTTP trace ingest (protobuf or JSON)
//! - everything else under `/api/`              → JSON 404
//! - any other path                             → the built app (SPA history fallback to `index.html`)

use std::path::Path;

use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::error::AppError;
use crate::state::AppState;

/// Builds the whole router; separate from `main` so tests can call it without a socket.
pub fn router(state: AppState, dist: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/health", get(api::health::show))
        .fallback(api_not_found);
    let app = Router::new()
        .nest("/api/v1", api)
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
