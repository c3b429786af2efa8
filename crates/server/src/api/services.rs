//! `GET /api/v1/services`: every known service with throughput, p95 and error rate over a window.

use axum::extract::State;
use axum::Json;
use sightline_model::ServiceList;

use crate::api::window::Within;
use crate::error::ApiResult;
use crate::state::AppState;

/// Services sorted by name over the window (default: the last 15 minutes); ones without transactions in
/// it are listed with zeros.
pub async fn list(State(state): State<AppState>, Within(w): Within) -> ApiResult<ServiceList> {
    Ok(Json(state.store.services(w.from(), w.to()).await?))
}
