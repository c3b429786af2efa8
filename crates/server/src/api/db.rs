//! `GET /api/v1/db/…`: monitored PostgreSQL instances, their live and past sessions, lock trees, metric
//! series, top statements and sample times. The collectors in `crate::collect::postgres` do the work.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use axum::response::{IntoResponse, Response};
use sightline_model::{DbInstanceList, DbLocks, DbMetrics, DbSamples, DbStatements, DbTraceSessions};

use crate::collect::postgres::trace_match::SqlStep;
use crate::collect::postgres::Instance;
use crate::error::{ApiResult, AppError, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Most statements one answer lists.
pub const MAX_STATEMENTS: usize = 500;

/// Query of the point-in-time endpoints: the sample nearest `at` (ms), or the newest one without it.
#[derive(Debug, Deserialize)]
pub struct AtParams {
    pub at: Option<i64>,
}

/// Query of `sessions`: a moment (`at`, or the newest sample), or with `from`/`to` a window whose samples are
/// merged (the drag selection on the database page's graphs).
#[derive(Debug, Deserialize)]
pub struct SessionsParams {
    pub at: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Most rows of a window's sessions.
pub const MAX_WINDOW_SESSIONS: usize = 500;

/// Query of the window endpoints; defaults to the last 15 minutes.
#[derive(Debug, Deserialize)]
pub struct WindowParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Statements only: how many (default 50, at most [`MAX_STATEMENTS`]).
    pub limit: Option<usize>,
}

impl WindowParams {
    /// `(from, to)`, or why it makes no sense.
    pub fn window(&self, now_ms: i64) -> Result<(i64, i64), AppError> {
        let to = self.to.unwrap_or(now_ms);
        let from = self.from.unwrap_or(to - 15 * 60_000);
        if from >= to {
            return Err(AppError::BadRequest(format!("from ({from}) must be before to ({to})")));
        }
        Ok((from, to))
    }
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
    let (store, db) = (state.store.clone(), state.db.clone());
    // Reading the trace and scanning every instance's history both block: one trip to the blocking pool.
    let found = crate::blocking::run("matching a trace's database sessions", move || {
        // Without monitored instances there is nothing to match: skip reading the trace.
        let steps = match db.instances().is_empty() {
            true => Vec::new(),
            false => store.trace(id, now_ms())?.as_ref().map(SqlStep::of_trace).unwrap_or_default(),
        };
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
/// window saw (`DbWindowSessions`). One path for both so "sessions" stays one resource.
pub async fn sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<SessionsParams>,
) -> Result<Response, AppError> {
    let inst = instance(&state, &id)?;
    match (p.from, p.to) {
        (None, None) => Ok(Json(inst.sessions(p.at)).into_response()),
        (Some(from), Some(to)) if p.at.is_none() => {
            let (from, to) = WindowParams { from: Some(from), to: Some(to), limit: None }.window(now_ms())?;
            Ok(Json(inst.window_sessions(from, to, MAX_WINDOW_SESSIONS)).into_response())
        }
        _ => Err(AppError::BadRequest("sessions takes either at, or both from and to".into())),
    }
}

/// Lock tree now, or at the stored sample nearest `at`.
pub async fn locks(State(state): State<AppState>, Path(id): Path<String>, Query(p): Query<AtParams>) -> ApiResult<DbLocks> {
    Ok(Json(instance(&state, &id)?.locks(p.at)))
}

/// Metric series over the window.
pub async fn metrics(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<WindowParams>,
) -> ApiResult<DbMetrics> {
    let (from, to) = p.window(now_ms())?;
    Ok(Json(instance(&state, &id)?.metrics(from, to)))
}

/// Top statements by total time over the window.
pub async fn statements(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<WindowParams>,
) -> ApiResult<DbStatements> {
    let (from, to) = p.window(now_ms())?;
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_STATEMENTS {
        return Err(AppError::BadRequest(format!("limit must be 1..={MAX_STATEMENTS}, not {limit}")));
    }
    Ok(Json(instance(&state, &id)?.statements(from, to, limit)))
}

/// Stored sample times over the window.
pub async fn samples(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<WindowParams>,
) -> ApiResult<DbSamples> {
    let (from, to) = p.window(now_ms())?;
    Ok(Json(instance(&state, &id)?.samples(from, to)))
}
