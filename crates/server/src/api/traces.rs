//! `GET /api/v1/traces/{trace_id}`: a whole trace, assembled from every stored span.

use axum::extract::State;
use axum::Json;
use sightline_model::Trace;

use crate::error::{ApiResult, AppError, Path};
use crate::state::AppState;
use crate::store::now_ms;

/// Parses a trace id as the API shows it: 32 hex characters (either case).
pub fn parse_trace_id(s: &str) -> Result<[u8; 16], AppError> {
    let bad = || AppError::BadRequest(format!("trace id must be 32 hex characters, not {s:?}"));
    let raw = const_hex::decode(s).map_err(|_| bad())?;
    raw.try_into().map_err(|_| bad())
}

/// The trace's steps depth-first with offsets, self times, critical path and slowest step; 404 if nothing
/// is stored.
pub async fn show(State(state): State<AppState>, Path(trace_id): Path<String>) -> ApiResult<Trace> {
    let id = parse_trace_id(&trace_id)?;
    let trace = state.store.trace(id, now_ms()).await?;
    trace.map(Json).ok_or_else(|| AppError::NotFound(format!("no trace {}", trace_id.to_ascii_lowercase())))
}
