//! `GET /api/v1/db/…`: monitored PostgreSQL instances, their live and past sessions, lock trees, metric
//! series, top statements and sample times. The collectors in `crate::collect::postgres` do the work.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sightline_model::{DbInstanceList, DbLocks, DbMetrics, DbSamples, DbStatements, DbTraceSessions};

use crate::api::window::{At, Window, WindowParams, Within};
use crate::collect::postgres::trace_match::SqlStep;
use crate::collect::postgres::Instance;
use crate::error::{ApiResult, AppError, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Most statements one answer lists.
pub const MAX_STATEMENTS: usize = 500;

/// Most rows of a window's sessions.
pub const MAX_WINDOW_SESSIONS: usize = 500;

/// Query of `statements` besides the window.
#[derive(Debug, Deserialize)]
pub struct StatementsParams {
    /// How many (default 50, at most [`MAX_STATEMENTS`]).
    pub limit: Option<usize>,
}

fn instance(state: &AppState, id: &str) -> Result<Arc<Instance>, AppError> {
    state.db.instance(id).cloned().ok_or_else(|| AppError::NotFound(format!("no monitored database instance {id:?}")))
}

/// Most matches `GET /api/v1/db/traces/{trace_id}` returns.
pub const MAX_TRACE_MATCHES: usize = 500;

/// The sessions that ran statements of a trace, sample by sample: by their `traceparent` comment, or
/// heuristically against the trace's stored SQL steps (service = application name, time, statement text).
pub async fn trace_sessions(State(state): State<AppState>, Path(trace_id): Path<String>) -> ApiResult<DbTraceSessions> {
    let id = crate::api::traces::parse_trace_id(&trace_id)?;
    let db = state.db.clone();
    // Without monitored instances there is nothing to match: skip reading the trace.
    let steps = match db.instances().is_empty() {
        true => Vec::new(),
        false => state.store.trace(id, now_ms()).await?.as_ref().map(SqlStep::of_trace).unwrap_or_default(),
    };
    // Scanning every instance's history blocks: on the blocking pool.
    let found = crate::blocking::run("matching a trace's database sessions", move || {
        Ok::<_, AppError>(db.trace_sessions(&trace_id, &steps, MAX_TRACE_MATCHES))
    })
    .await?;
    Ok(Json(found))
}

/// Every monitored instance with its health.
pub async fn instances(State(state): State<AppState>) -> ApiResult<DbInstanceList> {
    Ok(Json(DbInstanceList { instances: state.db.list() }))
}

/// Sessions now, or at the stored sample nearest `at`; with `from` and `to`, every session the samples of that
/// window saw (`DbWindowSessions`): the drag selection on the database page's graphs. One path for both so
/// "sessions" stays one resource.
pub async fn sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    At(at): At,
    Query(w): Query<WindowParams>,
) -> Result<Response, AppError> {
    let inst = instance(&state, &id)?;
    match (w.from, w.to) {
        (None, None) => Ok(Json(inst.sessions(at)).into_response()),
        (Some(from), Some(to)) if at.is_none() => {
            let w = Window::new(from, to)?;
            Ok(Json(inst.window_sessions(w.from(), w.to(), MAX_WINDOW_SESSIONS)).into_response())
        }
        _ => Err(AppError::BadRequest("sessions takes either at, or both from and to".into())),
    }
}

/// Lock tree now, or at the stored sample nearest `at`.
pub async fn locks(State(state): State<AppState>, Path(id): Path<String>, At(at): At) -> ApiResult<DbLocks> {
    Ok(Json(instance(&state, &id)?.locks(at)))
}

/// Metric series over the window (default: the last 15 minutes).
pub async fn metrics(State(state): State<AppState>, Path(id): Path<String>, Within(w): Within) -> ApiResult<DbMetrics> {
    Ok(Json(instance(&state, &id)?.metrics(w.from(), w.to())))
}

/// Top statements by total time over the window (default: the last 15 minutes).
pub async fn statements(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Within(w): Within,
    Query(p): Query<StatementsParams>,
) -> ApiResult<DbStatements> {
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_STATEMENTS {
        return Err(AppError::BadRequest(format!("limit must be 1..={MAX_STATEMENTS}, not {limit}")));
    }
    Ok(Json(instance(&state, &id)?.statements(w.from(), w.to(), limit)))
}

/// Stored sample times over the window (default: the last 15 minutes).
pub async fn samples(State(state): State<AppState>, Path(id): Path<String>, Within(w): Within) -> ApiResult<DbSamples> {
    Ok(Json(instance(&state, &id)?.samples(w.from(), w.to())))
}
