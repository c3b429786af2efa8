//! `GET /api/v1/host/…`: the machine Sightline runs on — its busiest processes at a moment, and one
//! process's CPU and memory over time. The collector in `crate::collect::host` does the work.

use axum::extract::State;
use axum::Json;
use sightline_model::{HostProcessPoint, HostProcesses};

use crate::api::window::{At, WindowParams};
use crate::error::{ApiResult, AppError, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

fn collector_on(state: &AppState) -> Result<(), AppError> {
    match state.host.enabled() {
        true => Ok(()),
        false => Err(AppError::NotFound("the host collector is off (--host-collector=false)".into())),
    }
}

/// Whole-machine CPU and memory, and the busiest processes (CPU first), at the sample nearest `at`.
pub async fn processes(State(state): State<AppState>, At(at): At) -> ApiResult<HostProcesses> {
    collector_on(&state)?;
    state.host.processes(at).map(Json).ok_or_else(|| {
        AppError::NotFound(format!("no host sample yet: the first is taken {} ms after start", state.host.interval().as_millis()))
    })
}

/// CPU and memory of one process over the window (default: all kept history), where it was among the
/// kept (busiest) processes.
pub async fn history(
    State(state): State<AppState>,
    Path(pid): Path<u32>,
    Query(p): Query<WindowParams>,
) -> ApiResult<Vec<HostProcessPoint>> {
    collector_on(&state)?;
    let w = p.resolve(state.host.max_age_ms(), now_ms())?;
    state
        .host
        .process_history(pid, w.from(), w.to())
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("process {pid} is not in the kept host history (only the busiest processes are kept)")))
}
