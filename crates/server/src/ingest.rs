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

pub mod grpc;
pub mod http;

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;

use crate::blocking;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::record::{kind, AttrRecord, ErrorRecord, SpanRecord};

/// Longest SQL text, URL or stack trace kept, in bytes. Longer values are cut at a character boundary and
/// marked with `…`: the waterfall needs the start of a statement, not megabytes of it.
pub const MAX_TEXT: usize = 16 * 1024;
/// Longest span name, service, thread or exception type kept, in bytes.
pub const MAX_NAME: usize = 512;
/// Longest HTTP method kept (the standard ones are at most 7 bytes; anything else is a client's invention).
const MAX_METHOD: usize = 32;

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
    accept(state, protocol, "decoding an OTLP protobuf request", move || decode_protobuf(body)).await
}

/// Ingests one OTLP/JSON `ExportTraceServiceRequest` (already decompressed); see [`accept_protobuf`].
pub async fn accept_json(state: &AppState, protocol: Protocol, body: Bytes) -> Result<IngestOutcome, AppError> {
    accept(state, protocol, "decoding an OTLP/JSON request", move || decode_json(&body)).await
}

/// The decoding of [`accept_protobuf`] (400 when the body is not an `ExportTraceServiceRequest`); public for
/// the fuzz targets (fuzz/), which feed it and [`convert`] arbitrary bytes.
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

/// [`accept_inner`], counted in Sightline's own metrics.
async fn accept(
    state: &AppState,
    protocol: Protocol,
    what: &'static str,
    decode: impl FnOnce() -> Result<ExportTraceServiceRequest, AppError> + Send + 'static,
) -> Result<IngestOutcome, AppError> {
    let started = std::time::Instant::now();
    let result = accept_inner(state, what, decode).await;
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
    decode: impl FnOnce() -> Result<ExportTraceServiceRequest, AppError> + Send + 'static,
) -> Result<IngestOutcome, AppError> {
    let store = state.store.clone();
    let work = move || {
        let mut converted = decode().map(convert)?;
        let spans = std::mem::take(&mut converted.spans);
        let accepted = spans.len() as u64;
        let stored = (!spans.is_empty()).then(|| store.append(spans));
        Ok::<_, AppError>((converted, accepted, stored))
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

/// Spans ready to store, and what was refused.
#[derive(Debug, Default)]
pub struct Converted {
    pub spans: Vec<SpanRecord>,
    /// `(service, service.version, earliest span start in ms)` per resource that names its version: what
    /// the deploy log learns from.
    pub versions: Vec<(String, String, i64)>,
    /// `(instance, host.name, process.pid)` per resource that names all three: what `crate::instances`
    /// learns from, to join an instance's transactions with its process's CPU and memory.
    pub processes: Vec<(String, String, u32)>,
    pub rejected: u64,
    pub rejected_by: RejectCounts,
    pub message: Option<String>,
}

/// Turns an OTLP request into [`SpanRecord`]s, rejecting invalid spans one by one. CPU-heavy for a big
/// request: off the runtime (the detector in `crate::blocking` checks).
pub fn convert(request: ExportTraceServiceRequest) -> Converted {
    blocking::assert_off_runtime();
    let mut out = Converted::default();
    let mut first_reason: Option<String> = None;
    for rs in request.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| find_str(&r.attributes, &["service.name"]))
            .map(|s| truncate(s, MAX_NAME))
            .unwrap_or_else(|| "unknown_service".to_string());
        let resource_thread = rs.resource.as_ref().and_then(|r| SpanAttrs::scan(&r.attributes).thread());
        let version = rs.resource.as_ref().and_then(|r| find_str(&r.attributes, &["service.version"])).map(|v| truncate(v, MAX_NAME));
        let instance = rs
            .resource
            .as_ref()
            .and_then(|r| find_str(&r.attributes, &["service.instance.id", "host.name"]))
            .map(|i| truncate(i, MAX_NAME));
        let resource = ResourceInfo {
            service: &service,
            thread: resource_thread.as_deref(),
            instance: instance.as_deref(),
            version: version.as_deref(),
        };
        let first_of_resource = out.spans.len();
        for ss in rs.scope_spans {
            out.spans.reserve(ss.spans.len());
            for span in ss.spans {
                match convert_span(span, &resource) {
                    Ok(rec) => out.spans.push(rec),
                    Err((reason, why)) => {
                        out.rejected += 1;
                        out.rejected_by.add(reason);
                        first_reason.get_or_insert(why);
                    }
                }
            }
        }
        if let Some(process) = rs.resource.as_ref().and_then(|r| process_of(&r.attributes, instance.as_deref()?)) {
            out.processes.push(process);
        }
        if let (Some(version), Some(start_ns)) = (version, out.spans[first_of_resource..].iter().map(|s| s.start_ns).min()) {
            out.versions.push((service, version, (start_ns / 1_000_000) as i64));
        }
    }
    if out.rejected > 0 {
        out.message = Some(format!(
            "{} span(s) rejected; first reason: {}",
            out.rejected,
            first_reason.unwrap_or_default()
        ));
    }
    out
}

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// What every span of one resource shares, read once per resource.
struct ResourceInfo<'a> {
    service: &'a str,
    /// `thread.name` / `thread.id` of the resource, for spans that name none.
    thread: Option<&'a str>,
    /// `service.instance.id`, else `host.name`.
    instance: Option<&'a str>,
    /// `service.version`.
    version: Option<&'a str>,
}

/// The span as stored, or why not (for the metrics, and in words for the partial-success message).
fn convert_span(span: Span, resource: &ResourceInfo<'_>) -> Result<SpanRecord, (SpanReject, String)> {
    if !valid_id(&span.trace_id, 16) {
        let why = format!("trace_id must be 16 bytes, not all zero (got {} bytes)", span.trace_id.len());
        return Err((SpanReject::TraceId, why));
    }
    if !valid_id(&span.span_id, 8) {
        return Err((SpanReject::SpanId, format!("span_id must be 8 bytes, not all zero (got {} bytes)", span.span_id.len())));
    }
    let parent = if span.parent_span_id.iter().all(|b| *b == 0) { Vec::new() } else { span.parent_span_id };
    if !parent.is_empty() && parent.len() != 8 {
        return Err((SpanReject::ParentSpanId, format!("parent_span_id must be empty or 8 bytes (got {} bytes)", parent.len())));
    }
    if span.start_time_unix_nano == 0 {
        return Err((SpanReject::StartTime, "start_time_unix_nano is 0".into()));
    }
    if span.end_time_unix_nano != 0 && span.end_time_unix_nano < span.start_time_unix_nano {
        return Err((SpanReject::EndBeforeStart, "end_time_unix_nano is before start_time_unix_nano".into()));
    }
    let a = SpanAttrs::scan(&span.attributes);
    let span_kind = span.kind;
    let is_transaction = parent.is_empty() || span_kind == SpanKind::Server as i32;

    let (step_kind, text, target) = classify(&a, is_transaction, span_kind);
    let status_error = span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32);
    let status_message = span
        .status
        .as_ref()
        .map(|s| s.message.as_str())
        .filter(|m| !m.is_empty())
        .map(|m| truncate(m, MAX_TEXT));
    let exception = span.events.iter().find(|e| e.name == "exception").map(|e| ErrorRecord {
        kind: find_str(&e.attributes, &["exception.type"]).map(|s| truncate(s, MAX_NAME)),
        message: find_str(&e.attributes, &["exception.message"]).map(|s| truncate(s, MAX_TEXT)),
        stacktrace: find_str(&e.attributes, &["exception.stacktrace"]).map(|s| truncate(s, MAX_TEXT)),
    });
    let failure = match exception {
        Some(mut e) => {
            if e.message.is_none() {
                e.message = status_message;
            }
            Some(e)
        }
        None if status_error => Some(ErrorRecord { kind: None, message: status_message, stacktrace: None }),
        None => None,
    };
    let thread = a.thread().or_else(|| resource.thread.map(str::to_string));

    Ok(SpanRecord {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: parent,
        service: resource.service.to_string(),
        name: if span.name.len() <= MAX_NAME { span.name } else { truncate(&span.name, MAX_NAME) },
        span_kind,
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        error: status_error,
        step_kind,
        text,
        target,
        thread,
        failure,
        is_transaction,
        instance: resource.instance.map(str::to_string),
        // The cube's dimensions of a transaction; a client span's method is already in its text.
        http_method: a.http_method().filter(|_| is_transaction).map(|m| truncate(m, MAX_METHOD)),
        http_status: a.http_status().filter(|_| is_transaction),
        version: resource.version.filter(|_| is_transaction).map(str::to_string),
        attributes: if is_transaction { other_attributes(&span.attributes) } else { Vec::new() },
        steps: Vec::new(),
    })
}

/// Attributes a transaction keeps for "what changed", at most this many…
pub const MAX_ATTRIBUTES: usize = 16;
/// …each value cut to this many bytes (a value is a dimension value, not a payload).
pub const MAX_ATTRIBUTE_VALUE: usize = 64;

/// The attributes of a transaction span that Sightline does not interpret itself — `tenant`, `feature.flag`,
/// `user_agent.original` — as text, the first [`MAX_ATTRIBUTES`] of them. Left out: what is already a
/// dimension (method, status, URL, route), and keys unique to nearly every request by construction (ports,
/// socket addresses, thread ids), which would only fill the tables.
fn other_attributes(attrs: &[KeyValue]) -> Vec<AttrRecord> {
    const SKIP_PREFIXES: [&str; 8] = ["http.", "url.", "net.", "network.", "server.", "client.", "thread.", "db."];
    let mut out = Vec::new();
    for kv in attrs {
        if out.len() == MAX_ATTRIBUTES {
            break;
        }
        // `error.type` says what `exception.type` says (the exception type dimension already has it).
        let duplicate = kv.key == "error.type" || kv.key.starts_with("exception.");
        if duplicate || kv.key.is_empty() || kv.key.len() > MAX_ATTRIBUTE_VALUE || SKIP_PREFIXES.iter().any(|p| kv.key.starts_with(p)) {
            continue;
        }
        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) if !s.is_empty() => truncate(s, MAX_ATTRIBUTE_VALUE),
            Some(any_value::Value::IntValue(i)) => i.to_string(),
            Some(any_value::Value::BoolValue(b)) => b.to_string(),
            Some(any_value::Value::DoubleValue(d)) => d.to_string(),
            _ => continue,
        };
        out.push(AttrRecord { key: kv.key.clone(), value });
    }
    out
}

/// What a span is as a step — transaction, SQL, outgoing HTTP or a plain method — with the text and target
/// Sightline shows for it: `(kind, text, target)`.
fn classify(a: &SpanAttrs, is_transaction: bool, span_kind: i32) -> (u32, Option<String>, Option<String>) {
    let url = a.url_full.or(a.http_url);
    if is_transaction {
        let text = url.or(a.url_path).or(a.http_target).or(a.http_route);
        (kind::TRANSACTION, text.map(|t| truncate(t, MAX_TEXT)), None)
    } else if let Some(system) = a.db_system.or(a.db_system_name) {
        let stmt = a.db_query_text.or(a.db_statement);
        let target = match a.db_namespace.or(a.db_name) {
            Some(db) => format!("{system}/{db}"),
            None => system.to_string(),
        };
        (kind::SQL, stmt.map(|s| truncate(s, MAX_TEXT)), Some(truncate(&target, MAX_NAME)))
    } else if span_kind == SpanKind::Client as i32 && (a.http_method().is_some() || url.is_some()) {
        let target = a.server_address.or(a.net_peer_name).map(|s| match a.server_port.or(a.net_peer_port) {
            Some(port) => truncate(&format!("{s}:{port}"), MAX_NAME),
            None => truncate(s, MAX_NAME),
        });
        let text = match (a.http_method(), url) {
            (Some(m), Some(u)) => Some(format!("{m} {u}")),
            (None, Some(u)) => Some(u.to_string()),
            (Some(m), None) => Some(m.to_string()),
            (None, None) => None,
        };
        (kind::HTTP, text.map(|t| truncate(&t, MAX_TEXT)), target)
    } else {
        (kind::METHOD, None, None)
    }
}

/// The span attributes Sightline interprets, found in one pass over the attribute list (a span has a
/// handful to dozens of attributes; looking each key up separately was measurable at ingest rates).
#[derive(Default)]
struct SpanAttrs<'a> {
    db_system: Option<&'a str>,
    db_system_name: Option<&'a str>,
    db_query_text: Option<&'a str>,
    db_statement: Option<&'a str>,
    db_namespace: Option<&'a str>,
    db_name: Option<&'a str>,
    http_request_method: Option<&'a str>,
    http_method: Option<&'a str>,
    url_full: Option<&'a str>,
    http_url: Option<&'a str>,
    url_path: Option<&'a str>,
    http_target: Option<&'a str>,
    http_route: Option<&'a str>,
    server_address: Option<&'a str>,
    net_peer_name: Option<&'a str>,
    server_port: Option<i64>,
    net_peer_port: Option<i64>,
    thread_name: Option<&'a str>,
    thread_id: Option<i64>,
    http_response_status_code: Option<i64>,
    http_status_code: Option<i64>,
}

impl<'a> SpanAttrs<'a> {
    fn scan(attrs: &'a [KeyValue]) -> Self {
        let mut a = SpanAttrs::default();
        for kv in attrs {
            let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else { continue };
            let s = match v {
                any_value::Value::StringValue(s) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            };
            let slot = match kv.key.as_str() {
                "db.system" => &mut a.db_system,
                "db.system.name" => &mut a.db_system_name,
                "db.query.text" => &mut a.db_query_text,
                "db.statement" => &mut a.db_statement,
                "db.namespace" => &mut a.db_namespace,
                "db.name" => &mut a.db_name,
                "http.request.method" => &mut a.http_request_method,
                "http.method" => &mut a.http_method,
                "url.full" => &mut a.url_full,
                "http.url" => &mut a.http_url,
                "url.path" => &mut a.url_path,
                "http.target" => &mut a.http_target,
                "http.route" => &mut a.http_route,
                "server.address" => &mut a.server_address,
                "net.peer.name" => &mut a.net_peer_name,
                "thread.name" => &mut a.thread_name,
                "server.port" => {
                    a.server_port = a.server_port.or(int_of(v));
                    continue;
                }
                "net.peer.port" => {
                    a.net_peer_port = a.net_peer_port.or(int_of(v));
                    continue;
                }
                "thread.id" => {
                    a.thread_id = a.thread_id.or(int_of(v));
                    continue;
                }
                "http.response.status_code" => {
                    a.http_response_status_code = a.http_response_status_code.or(int_of(v));
                    continue;
                }
                "http.status_code" => {
                    a.http_status_code = a.http_status_code.or(int_of(v));
                    continue;
                }
                _ => continue,
            };
            // The first occurrence wins, as with a lookup.
            if slot.is_none() {
                *slot = s;
            }
        }
        a
    }

    fn http_method(&self) -> Option<&'a str> {
        self.http_request_method.or(self.http_method)
    }

    /// `http.response.status_code`, else `http.status_code`; only a plausible status (100..=999).
    fn http_status(&self) -> Option<u32> {
        let plausible = |c: i64| (100..=999).contains(&c).then_some(c as u32);
        self.http_response_status_code.and_then(plausible).or_else(|| self.http_status_code.and_then(plausible))
    }

    /// `thread.name`, else `thread.id` as text.
    fn thread(&self) -> Option<String> {
        match (self.thread_name, self.thread_id) {
            (Some(name), _) => Some(truncate(name, MAX_NAME)),
            (None, Some(id)) => Some(format!("thread {id}")),
            (None, None) => None,
        }
    }
}

/// An integer attribute; a numeric string counts too (some SDKs send ports and ids as strings).
fn int_of(v: &any_value::Value) -> Option<i64> {
    match v {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// `(instance, host.name, process.pid)` of a resource that names a host and a plausible pid.
fn process_of(attrs: &[KeyValue], instance: &str) -> Option<(String, String, u32)> {
    let host = find_str(attrs, &["host.name"])?;
    let pid = attrs.iter().find(|kv| kv.key == "process.pid")?.value.as_ref()?.value.as_ref().and_then(int_of)?;
    let pid = u32::try_from(pid).ok().filter(|p| *p > 0)?;
    Some((instance.to_string(), truncate(host, MAX_NAME), pid))
}

/// The first string value among `keys` (in that order of preference).
fn find_str<'a>(attrs: &'a [KeyValue], keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| {
        attrs.iter().find(|kv| kv.key == *k).and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })
    })
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 3);
    out.push_str(&s[..end]);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

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
        let out = convert(request(vec![span(1, None), db, http, bad, failing], None));
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
        let s = convert(req).spans;
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
        assert_eq!(convert(request(vec![span(1, None)], Some("pay"))).spans[0].instance, None);
        let mut call = span(2, Some(1));
        call.kind = SpanKind::Client as i32;
        call.attributes = vec![kv("http.request.method", "GET"), kv("url.full", "http://x/y"), kv_int("http.response.status_code", 200)];
        let call = &convert(request(vec![call], Some("pay"))).spans[0];
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
