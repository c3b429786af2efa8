//! Users (admin): `GET/POST /api/v1/users`, `PUT/DELETE /api/v1/users/{name}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sightline_model::{CreatedUser, NewUser, UserInfo, UserList, UserUpdate};

use crate::auth::Principal;
use crate::blocking;
use crate::error::{ApiResult, AppError, JsonBody, Path};
use crate::state::AppState;
use crate::store::now_ms;

/// Every user and their role, by name (never a password hash).
pub async fn list(State(state): State<AppState>) -> Json<UserList> {
    Json(UserList { users: state.auth.list_users() })
}

/// Adds a user: 201. Without `password` one is generated and answered this once.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<CreatedUser>), AppError> {
    let auth = state.auth.clone();
    let created = blocking::run("creating a user", move || auth.create_user(&principal.author(), body, now_ms())).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes a user's role and/or password (a new password signs them out everywhere).
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UserUpdate>,
) -> ApiResult<UserInfo> {
    let auth = state.auth.clone();
    Ok(Json(blocking::run("updating a user", move || auth.update_user(&principal.author(), &name, body, now_ms())).await?))
}

/// Removes a user and ends their sessions: 204 (409 for the last admin).
pub async fn delete(State(state): State<AppState>, principal: Principal, Path(name): Path<String>) -> Result<StatusCode, AppError> {
    let auth = state.auth.clone();
    blocking::run("removing a user", move || auth.delete_user(&principal.author(), &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
