//! Signing in and out: `POST /api/v1/auth/sign-in`, `/sign-out`, `/sign-out-everywhere`, `/password`, and
//! `GET /api/v1/auth/me`. The rules live in [`crate::auth`]; these only translate.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sightline_model::{Me, PasswordChange, SignIn};

use crate::auth::{session, ClientAddr, Principal};
use crate::blocking;
use crate::error::{AppError, JsonBody};
use crate::state::AppState;
use crate::store::now_ms;

/// Checks the name and password and sets the session cookie; answers who is now signed in. Wrong
/// credentials: 401 (the same for an unknown name); too many failures: 429 with `Retry-After`.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, AppError> {
    let auth = state.auth.clone();
    let signed_in = blocking::run("signing in", move || auth.sign_in(&body.name, &body.password, addr, now_ms())).await?;
    let secure = state.auth.secure_cookies(&headers);
    let max_age = state.auth.config.lifetimes.max_ms / 1000;
    let cookie = session::set_cookie(&signed_in.id, max_age, secure);
    Ok(([(header::SET_COOKIE, cookie)], Json(state.auth.me(&signed_in.principal))).into_response())
}

/// Ends this session and clears the cookie: 204.
pub async fn sign_out(State(state): State<AppState>, principal: Principal, headers: HeaderMap) -> Result<Response, AppError> {
    if let Principal::User { session, .. } = principal {
        let auth = state.auth.clone();
        blocking::run("signing out", move || auth.sign_out(session)).await?;
    }
    Ok(cleared(&state, &headers))
}

/// Ends every session of the signed-in user (all browsers, all devices) and clears this cookie: 204.
pub async fn sign_out_everywhere(State(state): State<AppState>, principal: Principal, headers: HeaderMap) -> Result<Response, AppError> {
    if let Principal::User { name, .. } = &principal {
        let (auth, name, who) = (state.auth.clone(), name.clone(), principal.clone());
        blocking::run("signing out everywhere", move || auth.end_sessions(&who, &name, None, "signed out everywhere")).await?;
    }
    Ok(cleared(&state, &headers))
}

fn cleared(state: &AppState, headers: &HeaderMap) -> Response {
    let cookie = session::clear_cookie(state.auth.secure_cookies(headers));
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Who is asking and what they may do; the app asks at start (and after a 401).
pub async fn me(State(state): State<AppState>, principal: Principal) -> Json<Me> {
    Json(state.auth.me(&principal))
}

/// The signed-in user changes their own password (the current one is required); their other sessions end:
/// 204.
pub async fn password(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, AppError> {
    let auth = state.auth.clone();
    blocking::run("changing a password", move || auth.change_own_password(&principal, &body.current, &body.new, now_ms())).await?;
    Ok(StatusCode::NO_CONTENT)
}
