//! One error type for every handler: a clear message and the right status for the client, details to the log.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sightline_model::ApiErrorBody;

/// What can go wrong answering a request. The `String`s are shown to users: never put secrets in them.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// 401: sign in first (or the credentials sent are not valid). Never echoes a credential.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: signed in, but not allowed (role, share link scope, cross-site request).
    #[error("{0}")]
    Forbidden(String),
    /// 429 with `Retry-After`: too many failed sign-ins for this account or address.
    #[error("too many failed sign-ins: try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{0}")]
    Conflict(String),
    /// 405: the route exists, not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Unexpected: logged in full, answered with a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = match &self {
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = (status, Json(ApiErrorBody { error, status: status.as_u16() })).into_response();
        if let AppError::TooManyRequests { retry_after_secs } = self {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        }
        resp
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::BadRequest(format!("bad query parameters: {}", r.body_text()))
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::BadRequest(format!("bad path: {}", r.body_text()))
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                AppError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            other => AppError::BadRequest(format!("bad JSON body: {}", other.body_text())),
        }
    }
}

/// `Query` whose rejection is an [`AppError`], so bad parameters get the same JSON shape as every error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// `Path` whose rejection is an [`AppError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// `Json` body whose rejection is an [`AppError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct JsonBody<T>(pub T);

/// Handlers answer with this.
pub type ApiResult<T> = Result<Json<T>, AppError>;
