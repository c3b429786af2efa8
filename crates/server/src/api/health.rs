//! `GET /api/v1/health`.

use axum::Json;
use sightline_model::Health;

/// Always `ok` while the process serves requests; the app polls it to tell "server unreachable".
pub async fn show() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}
