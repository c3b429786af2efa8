//! `GET /api/v1/health`.

use axum::extract::State;
use axum::Json;
use sightline_model::Health;

use crate::state::AppState;

/// Always `ok` while the process serves requests; the app polls it to tell "server unreachable". After a
/// start it also says how far the stored history is read (the server answers before that is done), and
/// from when on older minutes are read from disk under the memory budget.
pub async fn show(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        history: state.store.history(),
        evicted_until_ms: state.store.evicted_until(),
    })
}
