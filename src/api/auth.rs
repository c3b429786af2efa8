//! Sign-in, users, API tokens, board share links, settings and the audit log (docs/AUTH.md). Every call
//! goes through the parent module's [`send`](super::send), like the rest of the API.

use gloo_net::http::Request;
use sightline_model::{
    AuditLog, AuthSettings, CreatedShare, CreatedToken, CreatedUser, Me, NewShare, NewToken, NewUser,
    PasswordChange, ShareList, SignIn, TokenList, UserInfo, UserList, UserUpdate,
};

use super::{decode, fetch_json, get_json, send, send_json, success_text, to_body, with_query, ApiError, PendingGuard, SIGN_IN};

/// Why signing in did not work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignInError {
    /// Too many failed attempts for this name or from this address: the server's `Retry-After`.
    #[error("Too many attempts: try again in {0} s.")]
    TooManyAttempts(u64),
    /// Wrong name or password (the server does not say which).
    #[error("Wrong name or password.")]
    WrongCredentials,
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Who the app is talking as (a session, a token, a share link, the demo admin, or nobody). Public: never
/// 401. Not counted by the loading indicator: asked at start and after every 401.
pub async fn me() -> Result<Me, ApiError> {
    fetch_json("/api/v1/auth/me").await
}

/// Signs in; the server sets the session cookie and answers who is now signed in.
pub async fn sign_in(name: String, password: String) -> Result<Me, SignInError> {
    let _pending = PendingGuard::start();
    let body = to_body(&SignIn { name, password })?;
    let resp = send(SIGN_IN, Request::post(SIGN_IN), Some(body)).await?;
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    match success_text(resp).await {
        Ok(text) => Ok(decode(&text)?),
        Err((ApiError::Server { status: 429, message }, _)) => match retry_after {
            Some(secs) => Err(SignInError::TooManyAttempts(secs)),
            None => Err(ApiError::Server { status: 429, message }.into()),
        },
        Err((ApiError::Server { status: 401, .. }, _)) => Err(SignInError::WrongCredentials),
        Err((e, _)) => Err(e.into()),
    }
}

/// Ends this browser's session.
pub async fn sign_out() -> Result<(), ApiError> {
    send_json("POST", "/api/v1/auth/sign-out", None).await
}

/// Ends every session of the signed-in user, on every browser and device.
pub async fn sign_out_everywhere() -> Result<(), ApiError> {
    send_json("POST", "/api/v1/auth/sign-out-everywhere", None).await
}

/// Changes the signed-in user's own password (the current one is required); their other sessions end.
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    send_json("POST", "/api/v1/auth/password", Some(to_body(&PasswordChange { current, new })?)).await
}

fn user_path(name: &str) -> String {
    format!("/api/v1/users/{}", js_sys::encode_uri_component(name))
}

pub async fn users() -> Result<UserList, ApiError> {
    get_json("/api/v1/users").await
}

/// Adds a user; without a password the server makes one and answers it this once.
pub async fn create_user(user: NewUser) -> Result<CreatedUser, ApiError> {
    send_json("POST", "/api/v1/users", Some(to_body(&user)?)).await
}

/// Changes a user's role and/or password (a new password ends their sessions).
pub async fn update_user(name: String, update: UserUpdate) -> Result<UserInfo, ApiError> {
    send_json("PUT", &user_path(&name), Some(to_body(&update)?)).await
}

pub async fn delete_user(name: String) -> Result<(), ApiError> {
    send_json("DELETE", &user_path(&name), None).await
}

pub async fn tokens() -> Result<TokenList, ApiError> {
    get_json("/api/v1/tokens").await
}

/// Creates an API token; its secret is in this answer only.
pub async fn create_token(token: NewToken) -> Result<CreatedToken, ApiError> {
    send_json("POST", "/api/v1/tokens", Some(to_body(&token)?)).await
}

pub async fn revoke_token(id: String) -> Result<(), ApiError> {
    send_json("DELETE", &format!("/api/v1/tokens/{}", js_sys::encode_uri_component(&id)), None).await
}

pub async fn settings() -> Result<AuthSettings, ApiError> {
    get_json("/api/v1/settings").await
}

pub async fn save_settings(settings: AuthSettings) -> Result<AuthSettings, ApiError> {
    send_json("PUT", "/api/v1/settings", Some(to_body(&settings)?)).await
}

/// Audit entries older than `before` (ms; the newest when `None`), newest first.
pub async fn audit(before: Option<i64>, limit: u32) -> Result<AuditLog, ApiError> {
    let params = [("before", before.map(|b| b.to_string())), ("limit", Some(limit.to_string()))];
    get_json(&with_query("/api/v1/audit", &params)).await
}

fn board_share_path(board_id: &str, what: &str) -> String {
    format!("/api/v1/boards/{}/{what}", js_sys::encode_uri_component(board_id))
}

/// Makes a read-only link to one board, working for `expires_in_secs`; its token is in this answer only.
pub async fn create_share(board_id: String, expires_in_secs: u64) -> Result<CreatedShare, ApiError> {
    let body = to_body(&NewShare { expires_in_secs: Some(expires_in_secs) })?;
    send_json("POST", &board_share_path(&board_id, "share"), Some(body)).await
}

/// The board's links, newest first (never their tokens).
pub async fn board_shares(board_id: String) -> Result<ShareList, ApiError> {
    get_json(&board_share_path(&board_id, "shares")).await
}

pub async fn revoke_share(id: String) -> Result<(), ApiError> {
    send_json("DELETE", &format!("/api/v1/shares/{}", js_sys::encode_uri_component(&id)), None).await
}
