//! `GET /api/v1/deploys?from=&to=&service=`: version changes the charts mark.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::DeployList;

use crate::error::{ApiResult, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Query of `GET /api/v1/deploys`; defaults to the last hour, every service.
#[derive(Debug, Deserialize)]
pub struct DeployParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub service: Option<String>,
}

/// Versions first seen in the window, oldest first.
pub async fn list(State(state): State<AppState>, Query(p): Query<DeployParams>) -> ApiResult<DeployList> {
    let to = p.to.unwrap_or_else(now_ms);
    let from = p.from.unwrap_or(to - 3_600_000);
    let service = p.service.filter(|s| !s.is_empty());
    Ok(Json(DeployList { deploys: state.deploys.list(from, to, service.as_deref()) }))
}
