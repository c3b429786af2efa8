//! API tokens (admin): `GET/POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sightline_model::{CreatedToken, NewToken, TokenList};

use crate::auth::Principal;
use crate::blocking;
use crate::error::{AppError, JsonBody, Path};
use crate::state::AppState;
use crate::store::now_ms;

/// Every token with its scope and last use, newest first (never a secret or its hash).
pub async fn list(State(state): State<AppState>) -> Json<TokenList> {
    Json(TokenList { tokens: state.auth.list_tokens() })
}

/// Creates a token: 201 with its secret, shown this once.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    let auth = state.auth.clone();
    let created = blocking::run("creating a token", move || auth.create_token(&principal, body, now_ms())).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a token: 204; requests with it are refused from now on.
pub async fn delete(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let auth = state.auth.clone();
    blocking::run("revoking a token", move || auth.revoke_token(&principal, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
