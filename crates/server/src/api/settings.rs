//! Access settings and the audit log (admin): `GET/PUT /api/v1/settings`, `GET /api/v1/audit`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::{AuditLog, AuthSettings};

use crate::auth::Principal;
use crate::blocking;
use crate::error::{ApiResult, JsonBody, Query};
use crate::state::AppState;

/// The settings.
pub async fn show(State(state): State<AppState>) -> Json<AuthSettings> {
    Json(state.auth.settings())
}

/// Replaces the settings; answers them as stored.
pub async fn update(State(state): State<AppState>, principal: Principal, JsonBody(body): JsonBody<AuthSettings>) -> ApiResult<AuthSettings> {
    let auth = state.auth.clone();
    Ok(Json(blocking::run("saving the settings", move || auth.update_settings(&principal, body)).await?))
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditParams {
    /// Entries at or before this time (ms), for paging back; default now.
    pub before: Option<i64>,
    /// At most this many (default 200, at most 1000).
    pub limit: Option<usize>,
}

/// Changes to users, tokens, share links, settings and boards, newest first.
pub async fn audit(State(state): State<AppState>, Query(p): Query<AuditParams>) -> ApiResult<AuditLog> {
    let auth = state.auth.clone();
    let limit = p.limit.unwrap_or(200).clamp(1, 1000);
    let entries = blocking::run("reading the audit log", move || auth.audit(p.before, limit)).await?;
    Ok(Json(AuditLog { entries }))
}
