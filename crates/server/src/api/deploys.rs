//! `GET /api/v1/deploys?from=&to=&service=`: version changes the charts mark.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::DeployList;

use crate::api::window::{Within, ONE_HOUR};
use crate::error::{ApiResult, Query};
use crate::state::AppState;

/// Query of `GET /api/v1/deploys` besides the window; default: every service.
#[derive(Debug, Deserialize)]
pub struct DeployParams {
    pub service: Option<String>,
}

/// Versions first seen in the window (default: the last hour), oldest first.
pub async fn list(
    State(state): State<AppState>,
    Within(w): Within<ONE_HOUR>,
    Query(p): Query<DeployParams>,
) -> ApiResult<DeployList> {
    let service = p.service.filter(|s| !s.is_empty());
    // With `--config-db`, what the other nodes noted too (503 while the database cannot be reached).
    state.deploys.refresh().await?;
    Ok(Json(DeployList { deploys: state.deploys.list(w.from(), w.to(), service.as_deref()) }))
}
