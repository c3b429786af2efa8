//! Flex boards: `GET/POST /api/v1/boards`, `GET/PUT/DELETE /api/v1/boards/{id}`, the history
//! (`/versions`, `/versions/{n}`, `/versions/{n}/restore`) and `GET /api/v1/boards/templates`.
//! The rules (validation, version check, history) live in [`crate::boards`]; these only translate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sightline_model::{Board, BoardConflict, BoardHistory, BoardInvalid, BoardList};

use crate::auth::Principal;
use crate::boards::{templates, BoardError, BoardStore};
use crate::error::{AppError, JsonBody, Path, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// A board answer, or why not. A stale save answers 409 ([`AppError::Conflict`]'s status and message) with
/// the current board, and an invalid board 400 with every problem: both bodies extend the usual
/// `{"error", "status"}`, so a client that only knows that shape still shows the message.
pub enum BoardApiError {
    App(AppError),
    Stale(Box<Board>, String),
    Invalid(Vec<String>),
}

impl From<AppError> for BoardApiError {
    fn from(e: AppError) -> Self {
        BoardApiError::App(e)
    }
}

impl From<BoardError> for BoardApiError {
    fn from(e: BoardError) -> Self {
        let message = e.to_string();
        match e {
            BoardError::NotFound(_) => BoardApiError::App(AppError::NotFound(message)),
            BoardError::Stale { current, .. } => BoardApiError::Stale(current, message),
            BoardError::Invalid(problems) => BoardApiError::Invalid(problems),
            BoardError::Storage(e) => BoardApiError::App(AppError::Internal(e)),
        }
    }
}

impl IntoResponse for BoardApiError {
    fn into_response(self) -> Response {
        match self {
            BoardApiError::App(e) => e.into_response(),
            BoardApiError::Stale(current, message) => {
                let e = AppError::Conflict(message);
                let status = e.status();
                (status, Json(BoardConflict { error: e.to_string(), status: status.as_u16(), current: *current })).into_response()
            }
            BoardApiError::Invalid(problems) => {
                let status = StatusCode::BAD_REQUEST;
                let error = format!("the board is not valid: {}", problems.join("; "));
                (status, Json(BoardInvalid { error, status: status.as_u16(), problems })).into_response()
            }
        }
    }
}

type BoardResult<T> = Result<T, BoardApiError>;

/// Runs a store call on the blocking pool: every write fsyncs.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&BoardStore) -> Result<T, BoardError> + Send + 'static,
) -> BoardResult<T> {
    let boards = state.boards.clone();
    tokio::task::spawn_blocking(move || f(&boards))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("board task failed: {e}")))?
        .map_err(BoardApiError::from)
}

/// A JSON body read as a [`Board`]; a body that is JSON but not a board is an invalid board (400 with
/// `problems`), like any other import mistake.
fn parse(body: serde_json::Value) -> BoardResult<Board> {
    serde_json::from_value(body).map_err(|e| BoardApiError::Invalid(vec![format!("not a board: {e}")]))
}

/// Every board, by title.
pub async fn list(State(state): State<AppState>) -> BoardResult<Json<BoardList>> {
    Ok(Json(BoardList { boards: blocking(&state, |s| s.list()).await? }))
}

/// Create, import or duplicate: 201 with the stored board (its id may differ from the body's if that one
/// was empty or taken). Nothing is written when the board is invalid. The author is who asked.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> BoardResult<(StatusCode, Json<Board>)> {
    let board = parse(body)?;
    let b = blocking(&state, move |s| s.create(board, now_ms(), Some(&principal.author()))).await?;
    Ok((StatusCode::CREATED, Json(b)))
}

/// The current revision.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> BoardResult<Json<Board>> {
    Ok(Json(blocking(&state, move |s| s.get(&id)).await?))
}

/// Saves a new revision; the body's `version` is the revision it was based on (409 when stale).
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> BoardResult<Json<Board>> {
    let board = parse(body)?;
    Ok(Json(blocking(&state, move |s| s.update(&id, board, now_ms(), Some(&principal.author()))).await?))
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
) -> BoardResult<StatusCode> {
    let missing = format!("no board {id:?}");
    let board_id = id.clone();
    match blocking(&state, move |s| s.delete(&id, p.version)).await? {
        true => {
            let auth = state.auth.clone();
            crate::blocking::run("recording a board deletion", move || {
                auth.revoke_board_shares(&principal, &board_id)?;
                auth.record(&principal, "board.delete", &board_id, "")
            })
            .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        false => Err(AppError::NotFound(missing).into()),
    }
}

/// Kept revisions, newest first.
pub async fn versions(State(state): State<AppState>, Path(id): Path<String>) -> BoardResult<Json<BoardHistory>> {
    Ok(Json(BoardHistory { versions: blocking(&state, move |s| s.versions(&id)).await? }))
}

/// One kept revision, whole (the app diffs it against the current one).
pub async fn version(State(state): State<AppState>, Path((id, n)): Path<(String, u64)>) -> BoardResult<Json<Board>> {
    Ok(Json(blocking(&state, move |s| s.version(&id, n)).await?))
}

/// Makes revision `n` current again as a new revision (authored by who asked); answers the board now current.
pub async fn restore(State(state): State<AppState>, principal: Principal, Path((id, n)): Path<(String, u64)>) -> BoardResult<Json<Board>> {
    Ok(Json(blocking(&state, move |s| s.restore(&id, n, now_ms(), Some(&principal.author()))).await?))
}

/// Boards to start from; POST one to create a board from it.
pub async fn templates() -> Json<Vec<Board>> {
    Json(templates::all())
}
