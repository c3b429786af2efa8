//! One error type for every handler: a clear message and the right status for the client, details to the log.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sightline_model::{ApiErrorBody, Board, BoardConflict, BoardInvalid};

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
    /// A board save or delete based on an older revision: 409, and the body ([`BoardConflict`]) carries
    /// the current board so the client can show what changed (boxed: a board is large).
    #[error("{message}")]
    StaleBoard { message: String, current: Box<Board> },
    /// A board that breaks the format's rules: 400, and the body ([`BoardInvalid`]) lists every problem.
    #[error("the board is not valid: {}", .0.join("; "))]
    InvalidBoard(Vec<String>),
    /// Any other document that breaks its rules (an alert rule, an import): 400, and the body
    /// ([`BoardInvalid`]'s shape: `error`, `status`, `problems`) lists every problem.
    #[error("not valid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too much work in flight (OTLP/gRPC ingest waiting for a permit): 503 with `Retry-After`, or gRPC
    /// `RESOURCE_EXHAUSTED` with `RetryInfo`, so exporters retry after that delay.
    #[error("{message}")]
    Overloaded { message: String, retry_after: std::time::Duration },
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The request was abandoned after the server's request timeout (see `app.rs`).
    #[error("no answer within {} s: the request was abandoned; try a shorter time range", .0.as_secs_f64())]
    TimedOut(std::time::Duration),
    /// Unexpected: logged in full, answered with a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a 503 for an unavailable store tells clients to wait before retrying.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

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
            AppError::StaleBoard { .. } => StatusCode::CONFLICT,
            AppError::InvalidBoard(_) | AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) | AppError::TimedOut(_) | AppError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Every body extends `{"error", "status"}` ([`ApiErrorBody`]), so a client that only knows that shape
/// still shows the message; the board cases add what the board editor needs to answer them.
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
        let status_code = status.as_u16();
        match self {
            AppError::StaleBoard { current, .. } => {
                (status, Json(BoardConflict { error, status: status_code, current: *current })).into_response()
            }
            AppError::InvalidBoard(problems) | AppError::Invalid(problems) => {
                (status, Json(BoardInvalid { error, status: status_code, problems })).into_response()
            }
            AppError::TooManyRequests { retry_after_secs } => {
                let mut resp = (status, Json(ApiErrorBody { error, status: status_code })).into_response();
                resp.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
                resp
            }
            AppError::Overloaded { retry_after, .. } => {
                let mut resp = (status, Json(ApiErrorBody { error, status: status_code })).into_response();
                resp.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after.as_secs().max(1).into());
                resp
            }
            AppError::Unavailable(_) => {
                // The store (a remote ClickHouse, a full disk) may be back soon: exporters and the app retry.
                let mut resp = (status, Json(ApiErrorBody { error, status: status_code })).into_response();
                resp.headers_mut().insert(axum::http::header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS.into());
                resp
            }
            _ => (status, Json(ApiErrorBody { error, status: status_code })).into_response(),
        }
    }
}

/// The gRPC answer of the same errors (OTLP/gRPC ingest, `crate::ingest::grpc`), with the codes the OTLP
/// specification gives meaning to: `INVALID_ARGUMENT` (do not retry), `UNAUTHENTICATED`,
/// `PERMISSION_DENIED`, `RESOURCE_EXHAUSTED` (retried only with `RetryInfo`), `UNAVAILABLE` (retry).
impl From<AppError> for tonic::Status {
    fn from(e: AppError) -> Self {
        use tonic::Code;
        let code = match &e {
            AppError::BadRequest(_) | AppError::InvalidBoard(_) | AppError::Invalid(_) | AppError::UnsupportedMediaType(_) => {
                Code::InvalidArgument
            }
            AppError::NotFound(_) => Code::NotFound,
            AppError::Unauthenticated(_) => Code::Unauthenticated,
            AppError::Forbidden(_) => Code::PermissionDenied,
            AppError::Conflict(_) | AppError::StaleBoard { .. } => Code::FailedPrecondition,
            AppError::MethodNotAllowed(_) => Code::Unimplemented,
            AppError::PayloadTooLarge(_) | AppError::TooManyRequests { .. } | AppError::Overloaded { .. } => {
                Code::ResourceExhausted
            }
            AppError::Unavailable(_) | AppError::TimedOut(_) => Code::Unavailable,
            AppError::Internal(_) => Code::Internal,
        };
        let retry_after = match &e {
            AppError::Overloaded { retry_after, .. } => Some(*retry_after),
            AppError::TooManyRequests { retry_after_secs } => Some(std::time::Duration::from_secs(*retry_after_secs)),
            _ => None,
        };
        let message = match e {
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        match retry_after {
            Some(delay) => {
                use tonic_types::{ErrorDetails, StatusExt};
                tonic::Status::with_error_details(code, message, ErrorDetails::with_retry_info(Some(delay)))
            }
            None => tonic::Status::new(code, message),
        }
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
