//! The OTLP/gRPC envelope around [`crate::ingest`]: `opentelemetry.proto.collector.trace.v1.TraceService/
//! Export` on `--otlp-grpc-addr` (default `127.0.0.1:4317`), served by tonic's HTTP/2 server beside the
//! HTTP one, with the same ingest token, limits, conversion and durability as `POST /v1/traces`.
//!
//! # Why not tonic's generated `TraceServiceServer`
//! The generated server (and tonic's `Grpc` with any codec) reads the message, gunzips it and decodes it
//! inside the request's async task. Here those steps are the ones OTLP/HTTP takes:
//! - the message is decoded and converted by [`crate::ingest::accept_protobuf`] on the blocking pool (with
//!   the prost codec, a 16 MiB request is tens of milliseconds of decoding on an async worker); a custom
//!   `Bytes` codec would fix that, but not the two points below;
//! - `grpc-encoding: gzip` is undone by [`crate::ingest::gunzip`] on the blocking pool, bounded by the same
//!   limit as HTTP (tonic inflates on the async worker);
//! - a message over the limit is `RESOURCE_EXHAUSTED`, as gRPC specifies and the OTLP exporters expect
//!   (tonic answers a plain oversize message `OUT_OF_RANGE`, which OTLP exporters retry for ever).
//!
//! So this is a small tower service that handles the one unary message itself: check the token, wait for an
//! ingest permit, read the length-prefixed message (at most `SIGHTLINE_INGEST_MAX_BYTES`), gunzip if
//! flagged, [`crate::ingest::accept_protobuf`], answer. What gRPC framing needs is little: a 5-byte prefix
//! (compressed flag, big-endian length) before the message, `grpc-status` in the trailers. tonic still
//! provides HTTP/2, graceful shutdown, the client's `grpc-timeout` and [`tonic::Status`].
//!
//! # Answers
//! `OK` with an `ExportTraceServiceResponse` (with `partial_success` when spans were rejected) once the
//! accepted spans are durable; errors are [`AppError`]s mapped to gRPC codes in one place
//! (`From<AppError> for tonic::Status` in `crate::error`): undecodable → `INVALID_ARGUMENT`, too big →
//! `RESOURCE_EXHAUSTED`, no free ingest permit within [`OVERLOAD_WAIT`] → `RESOURCE_EXHAUSTED` with
//! `RetryInfo`, store failure → `UNAVAILABLE`, missing or wrong token → `UNAUTHENTICATED`.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::http::{header, HeaderMap, HeaderValue, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tokio::net::TcpListener;
use tonic::body::Body;
use tokio::sync::SemaphorePermit;
use tonic::{Code, Status};

use crate::auth::Rule;
use crate::error::AppError;
use crate::ingest::{self, IngestOutcome, Protocol};
use crate::own_metrics::RequestReject;
use crate::state::AppState;

/// The one method served.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Longest wait for an ingest permit (shared with OTLP/HTTP, `MAX_CONCURRENT_REQUESTS`) before the export
/// is refused as overloaded; at most half the client's own `grpc-timeout`, so the refusal reaches it
/// before its deadline does (the OTLP SDKs default to 10 s, the Collector to 5 s).
pub const OVERLOAD_WAIT: Duration = Duration::from_secs(2);

/// The delay an overloaded answer asks the exporter to wait (`google.rpc.RetryInfo`).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// gRPC's message prefix: compressed flag (1 byte), length (4 bytes, big-endian).
const PREFIX: usize = 5;

/// Serves [`TraceIngest`] on `listener` (TLS with `tls`, which must offer ALPN `h2`) until `shutdown`
/// completes, then lets the exports in flight finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let service = TraceIngest { state };
    let server = tonic::transport::Server::builder();
    match tls {
        None => {
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            server.serve_with_incoming_shutdown(service, incoming, shutdown).await
        }
        Some(config) => {
            let incoming = crate::auth::tls::TlsListener::new(listener, config)?.into_stream();
            server.serve_with_incoming_shutdown(service, incoming, shutdown).await
        }
    }
    .context("the OTLP/gRPC server stopped")
}

/// The OTLP/gRPC trace service; see the module docs.
#[derive(Clone)]
pub struct TraceIngest {
    state: AppState,
}

impl TraceIngest {
    pub fn new(state: AppState) -> Self {
        TraceIngest { state }
    }
}

impl tonic::server::NamedService for TraceIngest {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tower::Service<Request<Body>> for TraceIngest {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            Ok(export(&state, req).await.unwrap_or_else(|status| {
                let mut resp = status.into_http::<Body>();
                resp.headers_mut().insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
                resp
            }))
        })
    }
}

/// One `Export` call, in the order of OTLP/HTTP's handler: who (before reading anything), a permit, the
/// message, the work. A refusal before decoding is counted in Sightline's own metrics here; what
/// [`ingest::accept_protobuf`] refuses, there.
async fn export(state: &AppState, req: Request<Body>) -> Result<Response<Body>, Status> {
    if req.uri().path() != EXPORT_PATH {
        return Err(Status::unimplemented(format!(
            "{} is not served here: this port takes OTLP traces ({EXPORT_PATH}) only",
            req.uri().path()
        )));
    }
    let gzip_response = accepts_gzip(req.headers());
    // Held until the answer is built, as over HTTP.
    let (_permit, message) = admit(state, req).await.inspect_err(|status| {
        state.own_metrics.ingest_rejected_as(Protocol::Grpc, reject_reason(status));
    })?;
    let outcome = ingest::accept_protobuf(state, Protocol::Grpc, message).await?;
    Ok(answer(&outcome, gzip_response))
}

/// Everything before decoding: the token, a free ingest slot, the message read and gunzipped.
async fn admit(state: &AppState, req: Request<Body>) -> Result<(SemaphorePermit<'_>, Bytes), Status> {
    let headers = req.headers();
    state.auth.authorize(Rule::Ingest, headers, None, crate::store::now_ms())?;
    let gzip_request = request_is_gzip(headers)?;
    let wait = grpc_timeout(headers).map_or(OVERLOAD_WAIT, |t| (t / 2).min(OVERLOAD_WAIT));
    let permit = match tokio::time::timeout(wait, state.ingest_permits.acquire()).await {
        Ok(permit) => permit.map_err(|e| AppError::Unavailable(format!("ingest is shutting down: {e}")))?,
        Err(_) => {
            return Err(AppError::Overloaded {
                message: format!(
                    "ingest is overloaded: no free slot within {} ms; retry after {} s",
                    wait.as_millis(),
                    RETRY_AFTER.as_secs()
                ),
                retry_after: RETRY_AFTER,
            }
            .into())
        }
    };
    let max = state.ingest_max_bytes;
    let (compressed, message) = read_message(req.into_body(), max).await?;
    let message = match (compressed, gzip_request) {
        (false, _) => message,
        (true, true) => ingest::gunzip(message, max).await?,
        // gRPC's compression spec: a compressed flag without `grpc-encoding` is INTERNAL.
        (true, false) => {
            return Err(Status::internal("protocol error: the message is flagged compressed but no grpc-encoding was sent"))
        }
    };
    Ok((permit, message))
}

/// The `reason` label of a request refused before decoding, from the gRPC status it is answered with.
fn reject_reason(status: &Status) -> RequestReject {
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => RequestReject::Unauthenticated,
        // Only an overload carries details (its RetryInfo); a message too large has none.
        Code::ResourceExhausted if !status.details().is_empty() => RequestReject::Unavailable,
        Code::ResourceExhausted => RequestReject::TooLarge,
        Code::InvalidArgument | Code::Internal => RequestReject::Malformed,
        Code::Unimplemented => RequestReject::UnsupportedMediaType,
        Code::Unavailable => RequestReject::Unavailable,
        _ => RequestReject::Other,
    }
}

/// `grpc-encoding`: none/`identity` or `gzip`; anything else is `UNIMPLEMENTED` (the answer lists what is
/// accepted in `grpc-accept-encoding`, as gRPC asks).
fn request_is_gzip(headers: &HeaderMap) -> Result<bool, Status> {
    match headers.get("grpc-encoding").map(|v| v.to_str().unwrap_or("?").trim()) {
        None | Some("identity") => Ok(false),
        Some("gzip") => Ok(true),
        Some(other) => Err(Status::unimplemented(format!("grpc-encoding {other} is not supported: use gzip or identity"))),
    }
}

/// Whether the client takes gzip answers (`grpc-accept-encoding: gzip, …`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all("grpc-accept-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.trim() == "gzip")
}

/// The client's deadline (`grpc-timeout`: up to 8 digits and a unit H, M, S, m, u, n).
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?.trim();
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Reads the request's one length-prefixed message: `(compressed, message)`. A length over `max` is refused
/// from the prefix, before the message is read; at most `PREFIX + max` bytes are ever held.
async fn read_message(mut body: Body, max: usize) -> Result<(bool, Bytes), Status> {
    let mut buf = BytesMut::new();
    let mut prefix: Option<(u8, usize)> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        buf.extend_from_slice(&data);
        if prefix.is_none() && buf.len() >= PREFIX {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > max {
                return Err(AppError::PayloadTooLarge(format!("the message is {len} bytes; the limit is {max} bytes")).into());
            }
            prefix = Some((buf[0], len));
        }
        if let Some((_, len)) = prefix {
            if buf.len() > PREFIX + len {
                return Err(Status::internal("protocol error: more than one message in a unary Export call"));
            }
        }
    }
    let Some((flag, len)) = prefix else {
        return Err(Status::internal("protocol error: the call carries no message"));
    };
    if buf.len() < PREFIX + len {
        return Err(Status::internal(format!(
            "protocol error: the message is cut short ({} of {len} bytes)",
            buf.len() - PREFIX
        )));
    }
    match flag {
        0 | 1 => Ok((flag == 1, buf.freeze().split_off(PREFIX))),
        f => Err(Status::internal(format!("protocol error: compressed flag {f} (valid flags are 0 and 1)"))),
    }
}

/// `OK` with one `ExportTraceServiceResponse` (gzip when the client takes it) and `grpc-status: 0`.
fn answer(outcome: &IngestOutcome, gzip: bool) -> Response<Body> {
    let message = ExportTraceServiceResponse { partial_success: outcome.partial_success() }.encode_to_vec();
    // A few bytes (the partial-success message is one short line): compressing on the worker is fine.
    let message = match gzip {
        true => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&message).and_then(|_| e.finish()).expect("gzip into memory cannot fail")
        }
        false => message,
    };
    let mut frame = BytesMut::with_capacity(PREFIX + message.len());
    frame.put_u8(gzip as u8);
    frame.put_u32(message.len() as u32);
    frame.put_slice(&message);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = [Ok::<_, Status>(Frame::data(frame.freeze())), Ok(Frame::trailers(trailers))];
    let mut resp = Response::new(Body::new(StreamBody::new(futures::stream::iter(frames))));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    if gzip {
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grpc_timeouts() {
        let t = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("grpc-timeout", HeaderValue::from_str(v).unwrap());
            grpc_timeout(&h)
        };
        assert_eq!(t("10S"), Some(Duration::from_secs(10)));
        assert_eq!(t("200m"), Some(Duration::from_millis(200)));
        assert_eq!(t("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(t("5x"), None);
        assert_eq!(t("S"), None);
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
