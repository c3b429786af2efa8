//! The HTTP surface, in one place:
//!
//! - `GET  /api/v1/health`                      → liveness and version
//! - `GET  /api/v1/hitmap`, `/api/v1/hitmap/live` → binned counts, live stream of new transactions (SSE)
//! - `GET  /api/v1/transactions`                → the transactions in a drag-selected rectangle
//! - `GET  /api/v1/compare`                     → "what changed": a selection against a baseline, ranked
//! - `GET  /api/v1/traces/{trace_id}`           → one assembled trace
//! - `GET  /api/v1/active`, `/api/v1/services`  → running transactions, per-service summary
//! - `GET  /api/v1/deploys`                     → service versions first seen in a window (deploy markers)
//! - `GET  /api/v1/cube`, `/api/v1/errors`      → the rollup pivot, failures per endpoint (from the cube)
//! - `GET/POST /api/v1/boards`, `GET/PUT/DELETE /api/v1/boards/{id}` → flex boards (409 on a stale save)
//! - `GET  /api/v1/boards/{id}/versions[/{n}]`, `POST …/versions/{n}/restore`, `GET /api/v1/boards/templates`
//! - `POST /api/v1/notes/render`               → a board note's Markdown as safe HTML
//! - `GET  /api/v1/db/instances`              → monitored PostgreSQL instances and their health
//! - `GET  /api/v1/db/traces/{trace_id}`       → database sessions that ran statements of a trace (`traceparent` comment)
//! - `GET  /api/v1/db/instances/{id}/…`        → `sessions`, `locks` (`?at=`), `metrics`, `statements`, `samples` (`?from=&to=`)
//! - `GET  /api/v1/metrics`, `/api/v1/metrics/query` → metric catalogue, series aggregated on the server
//! - `GET  /api/v1/host/processes` (`?at=`), `/api/v1/host/processes/{pid}/history` → this machine's busiest processes
//! - `POST /api/v1/auth/sign-in`, `sign-out`, `sign-out-everywhere`, `password`; `GET /api/v1/auth/me`
//! - `GET/POST /api/v1/users`, `PUT/DELETE /api/v1/users/{name}`; `GET/POST /api/v1/tokens`,
//!   `DELETE /api/v1/tokens/{id}`; `GET/PUT /api/v1/settings`; `GET /api/v1/audit` → admin
//! - `POST /api/v1/boards/{id}/share`, `GET /api/v1/boards/{id}/shares`, `DELETE /api/v1/shares/{id}` → share links
//! - `GET  /api/v1/alerts`, `/alerts/firing`, `/alerts/events`; `POST /alerts/rules`, `GET/PUT/DELETE
//!   /alerts/rules/{id}`, `POST /alerts/preview`; silences, channels (`…/{id}/test`), `/alerts/export`,
//!   `POST /alerts/import` → alerting (docs/ALERTS.md)
//! - `POST /v1/traces`                          → OTLP/HTTP trace ingest (protobuf or JSON)
//! - `GET  /metrics`                            → Sightline's own metrics for Prometheus (text format)
//! - everything else under `/api/`              → JSON 404
//! - any other path                             → the built app (SPA history fallback to `index.html`;
//!   content-hashed files kept by browsers for a year, the page revalidated: [`cache_control`])
//!
//! Every route is added with its access rule (`auth::Routes`), enforced by `auth::gate`; docs/AUTH.md.
//!
//! Layers: compression, request tracing and counting (`sightline_http_requests_total` by matched route and
//! status, [`crate::own_metrics`]) on everything. A request timeout
//! ([`AppState::request_timeout`], 30 s by default) on the API routes that answer one JSON document: past
//! it the request is answered 503 in the usual error shape ([`AppError::TimedOut`]), so neither a slow
//! query nor a client that never finishes its body keeps a connection waiting forever (work already
//! handed to the blocking pool still finishes; only its answer is dropped). Not on `/api/v1/hitmap/live`,
//! a stream meant to stay open. Not on `POST /v1/traces`: its time is the exporter's upload, the queue for
//! an ingest permit and the fsync, each bounded on its own (body limit, permits), and exporters time out
//! and retry by themselves, so cutting an export whose spans may already be durable would only make it be
//! sent again. Not on `GET /metrics` (outside `/api/`; a scrape is bounded by Prometheus' own
//! `scrape_timeout`). Not on the built app's static files.

use std::path::Path;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tower::Layer;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::auth::{self, RouteRule, Routes, Rule};
use crate::error::AppError;
use crate::own_metrics::OwnMetrics;
use crate::state::AppState;

/// Every route with its access rule (without the app's files and the layers [`router`] adds). Read the
/// rules as: what may a share link see (`ReadShared*`: what a board's widgets draw), what needs an editor
/// (changes to boards), what needs an admin (users, tokens, settings).
pub fn routes() -> Routes {
    use Rule::*;
    let api = Routes::new("/api/v1")
        .get("/health", api::health::show, Public)
        .post("/auth/sign-in", api::auth::sign_in, Public)
        .post("/auth/sign-out", api::auth::sign_out, Session)
        .post("/auth/sign-out-everywhere", api::auth::sign_out_everywhere, Session)
        .post("/auth/password", api::auth::password, Session)
        .get("/auth/me", api::auth::me, Public)
        .get("/users", api::users::list, Admin)
        .post("/users", api::users::create, Admin)
        .put("/users/{name}", api::users::update, Admin)
        .delete("/users/{name}", api::users::delete, Admin)
        .get("/tokens", api::tokens::list, Admin)
        .post("/tokens", api::tokens::create, Admin)
        .delete("/tokens/{id}", api::tokens::delete, Admin)
        .get("/settings", api::settings::show, Admin)
        .put("/settings", api::settings::update, Admin)
        .get("/audit", api::settings::audit, Admin)
        .get("/hitmap", api::hitmap::show, ReadShared)
        .get("/hitmap/live", api::hitmap::live, Read)
        .get("/transactions", api::transactions::list, Read)
        .get("/compare", api::compare::compare, Read)
        .get("/traces/{trace_id}", api::traces::show, Read)
        .get("/active", api::active::list, Read)
        .get("/services", api::services::list, ReadShared)
        .get("/deploys", api::deploys::list, ReadShared)
        .get("/cube", api::cube::query, Read)
        .get("/errors", api::errors::list, Read)
        .get("/metrics", api::metrics::catalog, ReadShared)
        .get("/metrics/query", api::metrics::query, ReadShared)
        .get("/boards", api::boards::list, Read)
        .post("/boards", api::boards::create, Edit)
        .get("/boards/templates", api::boards::templates, Read)
        .get("/boards/{id}", api::boards::show, ReadSharedBoard)
        .put("/boards/{id}", api::boards::update, Edit)
        .delete("/boards/{id}", api::boards::delete, Edit)
        .get("/boards/{id}/versions", api::boards::versions, Read)
        .get("/boards/{id}/versions/{n}", api::boards::version, Read)
        .post("/boards/{id}/versions/{n}/restore", api::boards::restore, Edit)
        .post("/boards/{id}/share", api::shares::create, Edit)
        .get("/boards/{id}/shares", api::shares::list, Edit)
        .delete("/shares/{id}", api::shares::delete, Edit)
        .post("/notes/render", api::notes::render_note, ReadShared)
        .get("/db/instances", api::db::instances, ReadShared)
        .get("/db/instances/{id}/sessions", api::db::sessions, ReadShared)
        .get("/db/instances/{id}/locks", api::db::locks, Read)
        .get("/db/instances/{id}/metrics", api::db::metrics, ReadShared)
        .get("/db/instances/{id}/statements", api::db::statements, Read)
        .get("/db/instances/{id}/samples", api::db::samples, Read)
        .get("/db/traces/{trace_id}", api::db::trace_sessions, Read)
        .get("/host/processes", api::host::processes, ReadShared)
        .get("/host/processes/{pid}/history", api::host::history, ReadShared)
        .get("/alerts", api::alerts::overview, Read)
        .get("/alerts/firing", api::alerts::firing, Read)
        .post("/alerts/rules", api::alerts::create_rule, Edit)
        .get("/alerts/rules/{id}", api::alerts::show_rule, Read)
        .put("/alerts/rules/{id}", api::alerts::update_rule, Edit)
        .delete("/alerts/rules/{id}", api::alerts::delete_rule, Edit)
        .post("/alerts/preview", api::alerts::preview, Read)
        .get("/alerts/events", api::alerts::events, Read)
        .get("/alerts/silences", api::alerts::silences, Read)
        .post("/alerts/silences", api::alerts::create_silence, Edit)
        .delete("/alerts/silences/{id}", api::alerts::delete_silence, Edit)
        .get("/alerts/channels", api::alerts::channels, Read)
        .post("/alerts/channels", api::alerts::create_channel, Admin)
        .put("/alerts/channels/{id}", api::alerts::update_channel, Admin)
        .delete("/alerts/channels/{id}", api::alerts::delete_channel, Admin)
        .post("/alerts/channels/{id}/test", api::alerts::test_channel, Admin)
        .get("/alerts/export", api::alerts::export, Edit)
        .post("/alerts/import", api::alerts::import, Admin)
        .map_router(|r| r.fallback(api_not_found));
    // The OTLP handler enforces its own (configurable, decompressed) limit while reading the body.
    let otlp = post(api::otlp::export).layer(DefaultBodyLimit::disable());
    Routes::new("")
        .nest(api)
        .route("/v1/traces", Method::POST, otlp, Ingest)
        // A Prometheus scraper: an API token with the viewer role, as `Authorization: Bearer` (docs/API.md).
        .get("/metrics", api::own_metrics::scrape, Read)
        .get("/api", api_not_found, Public)
        .get("/api/{*rest}", api_not_found, Public)
}

/// The access table of the router [`router`] builds: every `(method, path)` and its rule. The access test
/// walks it.
pub fn route_table() -> Vec<RouteRule> {
    routes().table().to_vec()
}

/// Builds the whole router; separate from `main` so tests can call it without a socket.
pub fn router(state: AppState, dist: Option<&Path>) -> Router {
    let (app, table) = routes().into_parts();
    let app = match dist {
        // The build wrote `.br` and `.gz` beside each file at the best quality (`cargo xtask build`): sent
        // as they are to a browser that accepts them; the compression layer leaves encoded bodies alone.
        // Each answer says how long a browser may keep it ([`cache_control`]).
        Some(dist) => app.fallback_service(
            axum::middleware::from_fn(cache_control).layer(
                ServeDir::new(dist)
                    .precompressed_br()
                    .precompressed_gzip()
                    .fallback(ServeFile::new(dist.join("index.html")).precompressed_br().precompressed_gzip()),
            ),
        ),
        None => app.fallback(no_app),
    };
    let gate = auth::Gate::new(state.auth.clone(), &table);
    // After routing: the gate sees the matched route (and its rule) of every request.
    let limit = state.request_timeout;
    let own_metrics = state.own_metrics.clone();
    app.layer(axum::middleware::from_fn_with_state(gate, auth::gate))
        .layer(axum::middleware::from_fn_with_state(limit, request_timeout))
        // Outside the gate and the timeout, so their 401s, 403s and 503s are counted too.
        .layer(axum::middleware::from_fn_with_state(own_metrics, count_requests))
        .layer(CompressionLayer::new())
        // Spans name the path, never the query: a share link's token travels in `?share=` on app URLs.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// The app build names the files after their content (`sightline-app-2dab10ed58276a53_bg.wasm`, and the
/// split app's directory `app-2dab10ed58276a53/`, whose chunks come from that one build): such a file never
/// changes, so a browser keeps it for a year without asking again. The page (`index.html`, for every app
/// route) names the current ones, so it and everything else (`/assets/`) is checked with the server on each
/// load (`no-cache`: a 304 when unchanged).
async fn cache_control(req: Request, next: Next) -> Response {
    let hashed = content_hashed(req.uri().path());
    let mut answer = next.run(req).await;
    let html = answer.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    // Not the page sent for an unknown path that merely looks hashed.
    let value = if hashed && !html { "public, max-age=31536000, immutable" } else { "no-cache" };
    answer.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    answer
}

/// Whether a file carries the build's content hash: `name-<hex>.ext`, `name-<hex>_bg.wasm`, or any file in a
/// top-level `app-<hex>/` directory.
pub fn content_hashed(path: &str) -> bool {
    let hashed = |stem: &str| stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut parts = path.trim_start_matches('/').split('/');
    let (first, name) = (parts.next().unwrap_or_default(), parts.next_back());
    if name.is_some() && first.starts_with("app-") && hashed(first) {
        return true;
    }
    let name = name.unwrap_or(first);
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    hashed(stem.strip_suffix("_bg").unwrap_or(stem))
}

/// Answers [`AppError::TimedOut`] when a request on a route that has a timeout (see the header) takes
/// longer than `limit`, reading its body included.
async fn request_timeout(State(limit): State<std::time::Duration>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let timed = path.starts_with("/api/") && path != "/api/v1/hitmap/live";
    if !timed {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(answer) => answer,
        Err(_) => AppError::TimedOut(limit).into_response(),
    }
}

/// Counts every answered request by method, matched route template (axum's `MatchedPath`, so
/// `/api/v1/boards/{id}` and never the raw path: the label keeps a fixed set of values) and status.
async fn count_requests(State(m): State<Arc<OwnMetrics>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let answer = next.run(req).await;
    m.http_request(method.as_str(), route.as_deref().unwrap_or("unmatched"), answer.status().as_u16());
    answer
}

async fn api_not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no API route {}", uri.path()))
}

async fn no_app() -> AppError {
    AppError::NotFound("the app is not built: run `cargo xtask run` from the repository".into())
}
