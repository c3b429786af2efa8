//! `GET /api/v1/active`: transactions reported in flight (see `crate::ingest` for the convention).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::ActiveList;

use crate::error::{ApiResult, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Query of `GET /api/v1/active`.
#[derive(Debug, Deserialize)]
pub struct ActiveParams {
    pub service: Option<String>,
}

/// Running transactions, longest-running first.
pub async fn list(State(state): State<AppState>, Query(p): Query<ActiveParams>) -> ApiResult<ActiveList> {
    let service = p.service.filter(|s| !s.is_empty());
    Ok(Json(state.store.active(service, now_ms()).await?))
}
