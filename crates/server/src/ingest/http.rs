//! The OTLP/HTTP envelope around [`crate::ingest`]: content type, content encoding, size limits and
//! the response in the request's own encoding, as the OTLP specification asks.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::error::AppError;
use crate::ingest::IngestOutcome;

/// Default limit on a decompressed export request. OTLP exporters batch 512 spans by default (well under
/// 1 MiB), so 16 MiB leaves room for huge attributes while bounding memory per request.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// OTLP requests read and decoded at the same time; more wait their turn (the exporters' timeouts and
/// retries handle a long wait). 16 × 16 MiB bodies bound ingest memory to a few hundred MiB.
pub const MAX_CONCURRENT_REQUESTS: usize = 16;

/// The two encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From `Content-Type` (parameters such as `; charset=utf-8` ignored); anything else is a 415.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, AppError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/x-protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            "" => Err(AppError::UnsupportedMediaType(
                "missing Content-Type: use application/x-protobuf or application/json".into(),
            )),
            other => Err(AppError::UnsupportedMediaType(format!(
                "Content-Type {other} is not OTLP: use application/x-protobuf or application/json"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Reads the body (at most `max` bytes on the wire) and undoes `Content-Encoding: gzip`, stopping at `max`
/// decompressed bytes so a gzip bomb costs at most `max` of memory.
pub async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, AppError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let gzip = match encoding.as_str() {
        "" | "identity" => false,
        "gzip" | "x-gzip" => true,
        other => {
            return Err(AppError::UnsupportedMediaType(format!(
                "Content-Encoding {other} is not supported: use gzip or none"
            )))
        }
    };
    let raw = axum::body::to_bytes(body, max).await.map_err(|e| too_large_or_bad(e, max))?;
    if !gzip {
        return Ok(raw);
    }
    crate::ingest::gunzip(raw, max).await
}

fn too_large_or_bad(e: axum::Error, max: usize) -> AppError {
    // `to_bytes` reports the limit as a `LengthLimitError` source; anything else is a broken upload.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge(format!("request body is larger than {max} bytes"));
        }
        source = s.source();
    }
    AppError::BadRequest(format!("cannot read the request body: {e}"))
}

/// `ExportTraceServiceResponse` in the request's encoding; `partial_success` only when spans were rejected.
pub fn response(encoding: Encoding, outcome: &IngestOutcome) -> Response {
    let partial = outcome.partial_success();
    let body = match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse { partial_success: partial }.encode_to_vec(),
        // Written out rather than derived: OTLP/JSON wants int64 as a string and lowerCamelCase names.
        Encoding::Json => match partial {
            Some(p) => serde_json::json!({
                "partialSuccess": { "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message }
            }),
            None => serde_json::json!({}),
        }
        .to_string()
        .into_bytes(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()))],
        body,
    )
        .into_response()
}
