//! Board share links (editor): `POST /api/v1/boards/{id}/share`, `GET /api/v1/boards/{id}/shares`,
//! `DELETE /api/v1/shares/{id}`. What a link may read: docs/AUTH.md.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sightline_model::{CreatedShare, NewShare, ShareList};

use crate::auth::Principal;
use crate::blocking;
use crate::error::{AppError, Path};
use crate::state::AppState;
use crate::store::now_ms;

/// 404 unless the board exists.
async fn board_exists(state: &AppState, id: &str) -> Result<(), AppError> {
    state.boards.get(id).await.map(|_| ()).map_err(AppError::from)
}

/// A new signed, expiring link to the board: 201 with its token (shown this once) and the app's path.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedShare>), AppError> {
    // The body is optional: none means the default lifetime.
    let options: NewShare = match body.is_empty() {
        true => NewShare::default(),
        false => serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("bad JSON body: {e}")))?,
    };
    board_exists(&state, &id).await?;
    let secs = options.expires_in_secs;
    let auth = state.auth.clone();
    let created = blocking::run("creating a share link", move || auth.create_share(&principal, &id, secs, now_ms())).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The board's links, newest first (without their tokens).
pub async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ShareList>, AppError> {
    board_exists(&state, &id).await?;
    Ok(Json(ShareList { shares: state.auth.list_shares(&id) }))
}

/// Revokes a link: 204; the link stops working at once.
pub async fn delete(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let auth = state.auth.clone();
    blocking::run("revoking a share link", move || auth.revoke_share(&principal, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
