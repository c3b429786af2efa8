//! `POST /v1/traces`: OTLP/HTTP trace export. Who may send is the access gate's to decide (`crate::auth`,
//! rule `Ingest`); the envelope (encodings, limits) is in `crate::ingest::http`, the work in `crate::ingest`.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::error::AppError;
use crate::ingest::{self, http, Protocol};
use crate::state::AppState;

/// Accepts one `ExportTraceServiceRequest` (protobuf or JSON, optionally gzip) and answers once the
/// accepted spans are durable.
pub async fn export(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    // Refusals of the envelope are counted here; everything after, by `ingest` itself.
    let refused = |e: &AppError| ingest::rejected(&state, Protocol::Http, e);
    let encoding = http::Encoding::from_headers(&headers).inspect_err(refused)?;
    // Never closed, so acquiring cannot fail; the permit is held until the answer is built.
    let _permit = state
        .ingest_permits
        .acquire()
        .await
        .map_err(|e| AppError::Unavailable(format!("ingest is shutting down: {e}")))?;
    let bytes = http::read_body(&headers, body, state.ingest_max_bytes).await.inspect_err(refused)?;
    let outcome = match encoding {
        http::Encoding::Protobuf => ingest::accept_protobuf(&state, Protocol::Http, bytes).await?,
        http::Encoding::Json => ingest::accept_json(&state, Protocol::Http, bytes).await?,
    };
    Ok(http::response(encoding, &outcome))
}
