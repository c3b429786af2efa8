//! OTLP trace ingest: decode, turn spans into transactions and steps, store durably, then answer. The
//! envelopes are [`http`] (`POST /v1/traces`) and [`grpc`] (`TraceService/Export`); both end in
//! [`accept_protobuf`] with the same limits.
//!
//! # In-flight work
//! A span whose `end_time_unix_nano` is 0 is a snapshot of a transaction or step still running. It feeds
//! the active-transactions view (`GET /api/v1/active`) and the trace view, and is replaced when the
//! finished span (same trace id and span id) arrives. A snapshot not refreshed for
//! [`crate::store::ACTIVE_STALE_MS`] is considered abandoned and no longer shown as active. A service
//! reports in-flight work by exporting such snapshots periodically (see docs/API.md).
//!
//! # What is accepted
//! Spans are validated one by one: a span with a trace id that is not 16 bytes (or all zero), a span id that
//! is not 8 bytes (or all zero), a parent id of the wrong length, a zero start time or an end before its start
//! is rejected and counted in the response's `partial_success`; the rest of the request is stored. Resources
//! without `service.name` get `unknown_service`, as the OpenTelemetry SDKs default it. Attribute values
//! Sightline keeps are truncated (see [`MAX_TEXT`]) so a 10 MB attribute costs nothing downstream.

mod convert;
mod decode;
pub mod grpc;
pub mod http;

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest};
use prost::Message;

use crate::blocking;
use crate::error::AppError;
use crate::state::AppState;

pub use convert::{convert, truncate, Converted, MAX_ATTRIBUTES, MAX_ATTRIBUTE_VALUE, MAX_NAME, MAX_TEXT};

/// What one export request achieved (maps to OTLP's `ExportTraceServiceResponse.partial_success`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted_spans: u64,
    pub rejected_spans: u64,
    /// The rejected spans by reason (they add up to `rejected_spans`).
    pub rejected_by: RejectCounts,
    /// Why spans were rejected, for the partial-success message.
    pub message: Option<String>,
}

/// How an export request reached Sightline: the `protocol` label of the ingest metrics
/// ([`crate::own_metrics`]). Every caller of [`accept_protobuf`] / [`accept_json`] says which it is; the
/// ingest counters are kept there, so a transport only has to report the requests it refuses before
/// decoding (wrong content type, too large, bad token) with [`rejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP, `POST /v1/traces`.
    Http,
    /// OTLP/gRPC, `TraceService/Export`.
    Grpc,
    /// The `--demo` workload, which calls ingest in-process.
    Demo,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Http, Protocol::Grpc, Protocol::Demo];

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Demo => "demo",
        }
    }
}

/// Why one span was rejected (the rest of its request is stored): the `reason` label of
/// `sightline_ingest_spans_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanReject {
    TraceId,
    SpanId,
    ParentSpanId,
    StartTime,
    EndBeforeStart,
}

impl SpanReject {
    pub const ALL: [SpanReject; 5] =
        [SpanReject::TraceId, SpanReject::SpanId, SpanReject::ParentSpanId, SpanReject::StartTime, SpanReject::EndBeforeStart];

    pub fn label(self) -> &'static str {
        match self {
            SpanReject::TraceId => "invalid_trace_id",
            SpanReject::SpanId => "invalid_span_id",
            SpanReject::ParentSpanId => "invalid_parent_span_id",
            SpanReject::StartTime => "missing_start_time",
            SpanReject::EndBeforeStart => "end_before_start",
        }
    }
}

/// Rejected spans counted per [`SpanReject`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; SpanReject::ALL.len()]);

impl RejectCounts {
    fn add(&mut self, reason: SpanReject) {
        self.0[reason as usize] += 1;
    }

    /// `(reason, count)` for every reason, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (SpanReject, u64)> + '_ {
        SpanReject::ALL.into_iter().map(|r| (r, self.0[r as usize]))
    }
}

impl IngestOutcome {
    /// The response's `partial_success`: only when spans were rejected (OTLP: "unset" means all accepted).
    pub fn partial_success(&self) -> Option<ExportTracePartialSuccess> {
        (self.rejected_spans > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: self.rejected_spans as i64,
            error_message: self.message.clone().unwrap_or_default(),
        })
    }
}

/// Ingests one protobuf-encoded `ExportTraceServiceRequest` (already decompressed). Returns after the
/// accepted spans are durable. The HTTP handler (`POST /v1/traces`) and the demo workload both come through
/// here, and so does OTLP/gRPC (`crate::ingest::grpc`); OTLP/JSON through [`accept_json`], which shares
/// everything after decoding. Counts the request in Sightline's own metrics under `protocol`, whatever the
/// outcome.
pub async fn accept_protobuf(state: &AppState, protocol: Protocol, body: Bytes) -> Result<IngestOutcome, AppError> {
    accept(state, protocol, "decoding an OTLP protobuf request", body, decode_protobuf_records).await
}

/// Ingests one OTLP/JSON `ExportTraceServiceRequest` (already decompressed); see [`accept_protobuf`].
pub async fn accept_json(state: &AppState, protocol: Protocol, body: Bytes) -> Result<IngestOutcome, AppError> {
    accept(state, protocol, "decoding an OTLP/JSON request", body, |body| decode_json(body).map(|r| convert(&r).into_static())).await
}

/// The decoding and conversion of [`accept_protobuf`], in one pass over the bytes (`decode`): what
/// `convert(decode_protobuf(body)?)` gives, without building prost's message tree. A body the one-pass
/// decoder refuses is decoded again by prost, whose error message the client gets (400). Public for the
/// fuzz targets (fuzz/) and the benchmarks. CPU-heavy: off the runtime.
pub fn decode_protobuf_records(body: &[u8]) -> Result<Converted<'_>, AppError> {
    blocking::assert_off_runtime();
    match decode::decode(body) {
        Ok(converted) => Ok(converted),
        Err(malformed) => {
            let reference = decode_protobuf(Bytes::copy_from_slice(body)).map(|r| convert(&r).into_static());
            if reference.is_ok() {
                // Not expected (tests and fuzzing compare the two): the request is still stored right.
                tracing::warn!(%malformed, "prost accepts an OTLP request the one-pass decoder refuses");
            }
            reference
        }
    }
}

/// Whether the one-pass decoder alone accepts `body`: for the tests and fuzz targets that check it accepts
/// exactly what prost accepts, and gives the same records.
#[doc(hidden)]
pub fn decode_protobuf_records_only(body: &[u8]) -> Result<Converted<'_>, String> {
    decode::decode(body).map_err(|e| e.to_string())
}

/// prost's decoding of an `ExportTraceServiceRequest` (400 when the body is not one): with [`convert`], the
/// reference [`decode_protobuf_records`] is tested against, and what it falls back to for the error message.
pub fn decode_protobuf(body: Bytes) -> Result<ExportTraceServiceRequest, AppError> {
    ExportTraceServiceRequest::decode(body)
        .map_err(|e| AppError::BadRequest(format!("cannot decode OTLP protobuf ExportTraceServiceRequest: {e}")))
}

/// The decoding of [`accept_json`]; see [`decode_protobuf`].
pub fn decode_json(body: &[u8]) -> Result<ExportTraceServiceRequest, AppError> {
    serde_json::from_slice::<ExportTraceServiceRequest>(body)
        .map_err(|e| AppError::BadRequest(format!("cannot decode OTLP/JSON ExportTraceServiceRequest: {e}")))
}

/// Undoes gzip (one or more members), stopping at `max` decompressed bytes so a gzip bomb costs at most
/// `max` of memory; shared by OTLP/HTTP (`Content-Encoding: gzip`) and OTLP/gRPC (`grpc-encoding: gzip`).
pub async fn gunzip(raw: Bytes, max: usize) -> Result<Bytes, AppError> {
    // On the blocking pool whatever the size: a small body can inflate to `max` (gzip reaches 1000:1).
    blocking::run("gunzipping an OTLP request", move || -> Result<Bytes, AppError> {
        let mut out = Vec::with_capacity((raw.len() * 4).min(max));
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| AppError::BadRequest(format!("cannot gunzip the request body: {e}")))?;
        if out.len() > max {
            return Err(AppError::PayloadTooLarge(format!("decompressed request is larger than {max} bytes")));
        }
        Ok(Bytes::from(out))
    })
    .await
}

/// Counts an export request that a transport refused before handing it to [`accept_protobuf`] /
/// [`accept_json`] (content type, size, gzip, token), answered with `error`.
pub fn rejected(state: &AppState, protocol: Protocol, error: &AppError) {
    state.own_metrics.ingest_rejected(protocol, error);
}

/// How a request body becomes spans: they borrow from the body, which [`accept_inner`] keeps until the
/// store has them.
type Decode = for<'a> fn(&'a [u8]) -> Result<Converted<'a>, AppError>;

/// [`accept_inner`], counted in Sightline's own metrics.
async fn accept(
    state: &AppState,
    protocol: Protocol,
    what: &'static str,
    body: Bytes,
    decode: Decode,
) -> Result<IngestOutcome, AppError> {
    let started = std::time::Instant::now();
    let result = accept_inner(state, what, body, decode).await;
    match &result {
        Ok(outcome) => state.own_metrics.ingest_accepted(protocol, outcome, started.elapsed()),
        Err(e) => state.own_metrics.ingest_rejected(protocol, e),
    }
    result
}

/// The one path of every request. One CPU-heavy call decodes, [`convert`]s and hands the spans to the store
/// (`TraceStore::append` prepares its batch — for the embedded store, encoding every span — when called, and
/// queues it), through [`blocking::in_place`]: off the async runtime (the worker's other tasks move to
/// another thread first) but on this thread, so the many small allocations of a decoded request are encoded
/// where they were made. Moving them to a blocking-pool thread cost 15–25 % of ingest throughput
/// (BENCHMARKS.md, issue 17). Then: note the versions in memory, write the deploy log if that taught it
/// something (blocking pool), wait until the spans are durable, and announce new transactions live. A
/// 16 MiB body costs tens of milliseconds of CPU; every body takes this path, so there is no size threshold.
async fn accept_inner(
    state: &AppState,
    what: &'static str,
    body: Bytes,
    decode: Decode,
) -> Result<IngestOutcome, AppError> {
    let store = state.store.clone();
    let work = move || {
        let mut converted = decode(&body)?;
        // The spans borrow from `body`: the store encodes or copies them before `append_spans` returns.
        let spans = std::mem::take(&mut converted.spans);
        let accepted = spans.len() as u64;
        let stored = (!spans.is_empty()).then(|| store.append_spans(&spans));
        Ok::<_, AppError>((converted.into_static(), accepted, stored))
    };
    let (converted, accepted, stored) = blocking::in_place(what, work).await?;
    for (service, version, at_ms) in &converted.versions {
        state.deploys.note(service, version, *at_ms);
    }
    for (instance, host, pid) in &converted.processes {
        state.instances.note(instance, host, *pid);
    }
    if state.deploys.unsaved() {
        // Before the answer, so an acknowledged version survives a kill -9 (see `crate::deploys`). A failed
        // write costs deploy markers, not spans: logged, and retried by the next request.
        if let Err(e) = state.deploys.persist().await {
            tracing::warn!(error = %format!("{e:#}"), "cannot save the deploy log");
        }
    }
    if let Some(stored) = stored {
        // A store that cannot make the spans durable answers 503, so the exporter retries.
        let batch = stored.await?;
        if !batch.points.is_empty() {
            // No receiver is fine: nobody is watching live.
            let _ = state.live.send(Arc::new(batch));
        }
    }
    Ok(IngestOutcome {
        accepted_spans: accepted,
        rejected_spans: converted.rejected,
        rejected_by: converted.rejected_by,
        message: converted.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::kind;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status};

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }), ..Default::default() }
    }

    fn request(spans: Vec<Span>, service: Option<&str>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: service.map(|s| vec![kv("service.name", s)]).unwrap_or_default(),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn span(span_id: u8, parent: Option<u8>) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![span_id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: format!("s{span_id}"),
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_500_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn classifies_steps_and_rejects_bad_ids() {
        let mut db = span(2, Some(1));
        db.attributes = vec![kv("db.system", "postgresql"), kv("db.statement", "SELECT 1"), kv("db.name", "bank")];
        let mut http = span(3, Some(1));
        http.kind = SpanKind::Client as i32;
        http.attributes = vec![kv("http.request.method", "GET"), kv("url.full", "http://x/y"), kv("server.address", "x")];
        let mut bad = span(4, Some(1));
        bad.trace_id = vec![1; 3];
        let mut failing = span(5, Some(1));
        failing.status = Some(Status { code: StatusCode::Error as i32, message: "boom".into() });
        let req = request(vec![span(1, None), db, http, bad, failing], None);
        let out = convert(&req);
        assert_eq!(out.rejected, 1);
        assert_eq!(out.rejected_by.iter().find(|(_, n)| *n > 0), Some((SpanReject::TraceId, 1)));
        assert!(out.message.unwrap().contains("trace_id"));
        let s = &out.spans;
        assert_eq!(s.len(), 4);
        assert!(s[0].is_transaction);
        assert_eq!(s[0].service, "unknown_service");
        assert_eq!((s[1].step_kind, s[1].text.as_deref(), s[1].target.as_deref()), (kind::SQL, Some("SELECT 1"), Some("postgresql/bank")));
        assert_eq!((s[2].step_kind, s[2].text.as_deref(), s[2].target.as_deref()), (kind::HTTP, Some("GET http://x/y"), Some("x")));
        assert!(s[3].error);
        assert_eq!(s[3].failure.as_ref().unwrap().message.as_deref(), Some("boom"));
    }

    fn kv_int(k: &str, v: i64) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }), ..Default::default() }
    }

    #[test]
    fn instance_method_and_status_with_their_fallbacks() {
        let mut new_style = span(1, None);
        new_style.attributes = vec![kv("http.request.method", "POST"), kv_int("http.response.status_code", 503), kv("http.method", "GET")];
        let mut old_style = span(2, None);
        old_style.attributes = vec![kv("http.method", "GET"), kv("http.status_code", "404")];
        let mut implausible = span(3, None);
        implausible.attributes = vec![kv_int("http.status_code", 70_000)];
        let mut req = request(vec![new_style, old_style, implausible], Some("pay"));
        // A second resource of the same request: its own instance (host.name when no service.instance.id).
        let mut other = req.resource_spans[0].clone();
        other.scope_spans[0].spans.truncate(1);
        other.resource.as_mut().unwrap().attributes.push(kv("host.name", "box-2"));
        let first = req.resource_spans[0].resource.as_mut().unwrap();
        first.attributes.extend([kv("host.name", "box-1"), kv("service.instance.id", "pay-7f9c")]);
        req.resource_spans.push(other);
        let s = convert(&req).spans;
        assert_eq!(s.len(), 4);
        let got: Vec<_> = s.iter().map(|r| (r.instance.as_deref(), r.http_method.as_deref(), r.http_status)).collect();
        assert_eq!(
            got,
            [
                (Some("pay-7f9c"), Some("POST"), Some(503)),
                (Some("pay-7f9c"), Some("GET"), Some(404)),
                (Some("pay-7f9c"), None, None),
                (Some("box-2"), Some("POST"), Some(503)),
            ]
        );
        // Neither attribute: no instance. A client call's method and status stay in its text.
        assert_eq!(convert(&request(vec![span(1, None)], Some("pay"))).spans[0].instance, None);
        let mut call = span(2, Some(1));
        call.kind = SpanKind::Client as i32;
        call.attributes = vec![kv("http.request.method", "GET"), kv("url.full", "http://x/y"), kv_int("http.response.status_code", 200)];
        let req = request(vec![call], Some("pay"));
        let call = &convert(&req).spans[0];
        assert_eq!((call.step_kind, call.http_method.as_deref(), call.http_status), (kind::HTTP, None, None));
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        let s = "é".repeat(10_000);
        let t = truncate(&s, 101);
        assert!(t.len() <= 101 && t.ends_with('…'));
        assert_eq!(truncate("short", 10), "short");
    }
}
