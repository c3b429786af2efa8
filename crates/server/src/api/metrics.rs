//! `GET /api/v1/metrics` (the catalogue) and `GET /api/v1/metrics/query` (series for a widget).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::{parse_duration_ms, MetricCatalog, MetricQueryResult};

use crate::api::window::{Within, ONE_HOUR};
use crate::error::{ApiResult, AppError, Query};
use crate::metrics::{self, MetricRequest, DEFAULT_LIMIT, DEFAULT_MAX_POINTS};
use crate::state::AppState;

/// Every metric with its unit and dimensions; unavailable ones say why.
pub async fn catalog(State(state): State<AppState>) -> Json<MetricCatalog> {
    Json(metrics::catalog(state.db.instances().len(), state.host.enabled()))
}

/// Query of `GET /api/v1/metrics/query` besides the window (default: the last hour). Defaults: step
/// chosen by the server, at most 1000 points and 50 series.
#[derive(Debug, Deserialize)]
pub struct QueryParams {
    pub metric: String,
    /// Milliseconds (`60000`) or a duration (`1m`): the smallest bucket wanted.
    pub step: Option<String>,
    pub max_points: Option<usize>,
    /// `dimension:value` pairs separated by commas.
    pub filter: Option<String>,
    /// Dimensions separated by commas.
    pub group_by: Option<String>,
    pub limit: Option<usize>,
}

/// Series of one metric over a window, aggregated on the server.
pub async fn query(
    State(state): State<AppState>,
    Within(window): Within<ONE_HOUR>,
    Query(p): Query<QueryParams>,
) -> ApiResult<MetricQueryResult> {
    let step_ms = match p.step.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|ms| *ms > 0).or_else(|| parse_duration_ms(s)).ok_or_else(|| {
            AppError::BadRequest(format!("step {s:?} is neither milliseconds nor a duration such as 30s, 5m, 1h"))
        })?),
    };
    let request = MetricRequest {
        metric: p.metric,
        window,
        step_ms,
        max_points: p.max_points.unwrap_or(DEFAULT_MAX_POINTS),
        filter: metrics::parse_filter(p.filter.as_deref().unwrap_or(""))?,
        group_by: metrics::parse_group_by(p.group_by.as_deref().unwrap_or("")),
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
    };
    Ok(Json(metrics::query(&*state.store, state.db.clone(), state.host.clone(), &state.deploys, request, state.cube_retention_ms).await?))
}
