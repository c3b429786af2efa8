//! `GET /api/v1/host/…`: the machine Sightline runs on — its busiest processes at a moment, and one
//! process's CPU and memory over time. The collector in `crate::collect::host` does the work.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::{HostProcessPoint, HostProcesses};

use crate::error::{ApiResult, AppError, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// Query of `processes`: the sample nearest `at` (ms), or the newest one without it.
#[derive(Debug, Deserialize)]
pub struct AtParams {
    pub at: Option<i64>,
}

/// Query of a process's history; defaults to all kept history (`to` = now).
#[derive(Debug, Deserialize)]
pub struct WindowParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

fn collector_on(state: &AppState) -> Result<(), AppError> {
    match state.host.enabled() {
        true => Ok(()),
        false => Err(AppError::NotFound("the host collector is off (--host-collector=false)".into())),
    }
}

/// Whole-machine CPU and memory, and the busiest processes (CPU first), at the sample nearest `at`.
pub async fn processes(State(state): State<AppState>, Query(p): Query<AtParams>) -> ApiResult<HostProcesses> {
    collector_on(&state)?;
    state.host.processes(p.at).map(Json).ok_or_else(|| {
        AppError::NotFound(format!("no host sample yet: the first is taken {} ms after start", state.host.interval().as_millis()))
    })
}

/// CPU and memory of one process over the window, where it was among the kept (busiest) processes.
pub async fn history(
    State(state): State<AppState>,
    Path(pid): Path<u32>,
    Query(p): Query<WindowParams>,
) -> ApiResult<Vec<HostProcessPoint>> {
    collector_on(&state)?;
    let to = p.to.unwrap_or_else(now_ms);
    let from = p.from.unwrap_or(to - state.host.max_age_ms());
    if from >= to {
        return Err(AppError::BadRequest(format!("from ({from}) must be before to ({to})")));
    }
    state
        .host
        .process_history(pid, from, to)
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("process {pid} is not in the kept host history (only the busiest processes are kept)")))
}
