//! `GET /api/v1/services`: every known service with throughput, p95 and error rate over a window.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::ServiceList;

use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Query of `GET /api/v1/services`; defaults to the last 15 minutes.
#[derive(Debug, Deserialize)]
pub struct ServiceParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Services sorted by name; ones without transactions in the window are listed with zeros.
pub async fn list(State(state): State<AppState>, Query(p): Query<ServiceParams>) -> ApiResult<ServiceList> {
    let to = p.to.unwrap_or_else(now_ms);
    let from = p.from.unwrap_or(to - 15 * 60_000);
    if from >= to {
        return Err(AppError::BadRequest(format!("from ({from}) must be before to ({to})")));
    }
    let store = state.store.clone();
    let list = tokio::task::spawn_blocking(move || store.services(from, to))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("services task failed: {e}")))?;
    Ok(Json(list))
}
