//! Flex boards: `GET/POST /api/v1/boards`, `GET/PUT/DELETE /api/v1/boards/{id}`, the history
//! (`/versions`, `/versions/{n}`, `/versions/{n}/restore`) and `GET /api/v1/boards/templates`.
//! The rules (validation, version check, history) live in [`crate::boards`] (either store: the data
//! directory's, or the shared `--config-db`); these only translate. A stale
//! save answers 409 with the current board, an invalid board 400 with every problem
//! ([`AppError::StaleBoard`], [`AppError::InvalidBoard`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use sightline_model::{Board, BoardHistory, BoardList};

use crate::blocking;
use crate::auth::Principal;
use crate::boards::templates;
use crate::error::{ApiResult, AppError, JsonBody, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// A JSON body read as a [`Board`]; a body that is JSON but not a board is an invalid board (400 with
/// `problems`), like any other import mistake. Public for the fuzz target (fuzz/).
pub fn parse(body: serde_json::Value) -> Result<Board, AppError> {
    serde_json::from_value(body).map_err(|e| AppError::InvalidBoard(vec![format!("not a board: {e}")]))
}

/// Every board, by title.
pub async fn list(State(state): State<AppState>) -> ApiResult<BoardList> {
    Ok(Json(BoardList { boards: state.boards.list().await? }))
}

/// Create, import or duplicate: 201 with the stored board (its id may differ from the body's if that one
/// was empty or taken). Nothing is written when the board is invalid. The author is who asked.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<Board>), AppError> {
    let board = parse(body)?;
    let b = state.boards.create(board, now_ms(), Some(principal.author())).await?;
    Ok((StatusCode::CREATED, Json(b)))
}

/// The current revision.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Board> {
    Ok(Json(state.boards.get(&id).await?))
}

/// Saves a new revision; the body's `version` is the revision it was based on (409 when stale).
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Board> {
    let board = parse(body)?;
    Ok(Json(state.boards.update(&id, board, now_ms(), Some(principal.author())).await?))
}

/// Query of `DELETE /api/v1/boards/{id}`.
#[derive(Debug, Deserialize)]
pub struct DeleteParams {
    /// The revision the user saw; a newer one answers 409 instead of deleting it.
    pub version: Option<u64>,
}

/// Deletes the board, its history and its share links: 204, or 404 if there was none. The audit log keeps
/// who deleted it (the history that named the authors is gone with it).
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<DeleteParams>,
) -> Result<StatusCode, AppError> {
    let missing = format!("no board {id:?}");
    let board_id = id.clone();
    match state.boards.delete(&id, p.version).await? {
        true => {
            let auth = state.auth.clone();
            blocking::run("recording a board deletion", move || {
                auth.revoke_board_shares(&principal, &board_id)?;
                auth.record(&principal, "board.delete", &board_id, "")
            })
            .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        false => Err(AppError::NotFound(missing)),
    }
}

/// Kept revisions, newest first.
pub async fn versions(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<BoardHistory> {
    Ok(Json(BoardHistory { versions: state.boards.versions(&id).await? }))
}

/// One kept revision, whole (the app diffs it against the current one).
pub async fn version(State(state): State<AppState>, Path((id, n)): Path<(String, u64)>) -> ApiResult<Board> {
    Ok(Json(state.boards.version(&id, n).await?))
}

/// Makes revision `n` current again as a new revision (authored by who asked); answers the board now current.
pub async fn restore(State(state): State<AppState>, principal: Principal, Path((id, n)): Path<(String, u64)>) -> ApiResult<Board> {
    Ok(Json(state.boards.restore(&id, n, now_ms(), Some(principal.author())).await?))
}

/// Boards to start from; POST one to create a board from it.
pub async fn templates() -> Json<Vec<Board>> {
    Json(templates::all())
}
