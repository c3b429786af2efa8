//! From OTLP spans to the spans the store keeps ([`SpanRef`], borrowing from the request): validation, the
//! attributes Sightline interprets, and truncation. It reads a borrowed view of a span ([`SpanView`],
//! [`Attr`]), so both ways of getting there share it: the prost message tree ([`convert`]: OTLP/JSON, and
//! the reference for protobuf) and the one-pass protobuf decoder (`super::decode`), which builds views
//! straight from the request's bytes.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};

use std::borrow::Cow;

use super::{RejectCounts, SpanReject};
use crate::blocking;
use crate::store::record::{kind, AttrRecord, ErrorRecord, SpanRef};

/// Longest SQL text, URL or stack trace kept, in bytes. Longer values are cut at a character boundary and
/// marked with `…`: the waterfall needs the start of a statement, not megabytes of it.
pub const MAX_TEXT: usize = 16 * 1024;
/// Longest span name, service, thread or exception type kept, in bytes.
pub const MAX_NAME: usize = 512;
/// Longest HTTP method kept (the standard ones are at most 7 bytes; anything else is a client's invention).
const MAX_METHOD: usize = 32;

/// Attributes a transaction keeps for "what changed", at most this many…
pub const MAX_ATTRIBUTES: usize = 16;
/// …each value cut to this many bytes (a value is a dimension value, not a payload).
pub const MAX_ATTRIBUTE_VALUE: usize = 64;

/// Spans ready to store (borrowing from the request they were read from), and what was refused.
#[derive(Debug, Default, PartialEq)]
pub struct Converted<'a> {
    pub spans: Vec<SpanRef<'a>>,
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

/// An attribute's value as far as Sightline reads it: the scalar kinds, and `Other` for arrays, maps,
/// bytes and string-table references (present, but never interpreted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Double(f64),
    Other,
}

/// One OTLP `KeyValue`, borrowed. `value` is `None` when the pair has no value or an empty `AnyValue`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attr<'a> {
    pub key: &'a str,
    pub value: Option<Value<'a>>,
}

/// A span's `Status`, when it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanStatus<'a> {
    pub code: i32,
    pub message: &'a str,
}

/// What [`Builder::span`] reads of one OTLP span, borrowed from wherever it was decoded.
#[derive(Debug, Clone, Copy)]
pub struct SpanView<'a, 'b> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub name: &'a str,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: &'b [Attr<'a>],
    /// The attributes of the span's first event named `exception`, if any.
    pub exception: Option<&'b [Attr<'a>]>,
    pub status: Option<SpanStatus<'a>>,
}

impl Converted<'_> {
    /// The same, owning what it borrowed (for a request decoded by prost, which goes away first).
    pub fn into_static(self) -> Converted<'static> {
        Converted {
            spans: self.spans.into_iter().map(SpanRef::into_static).collect(),
            versions: self.versions,
            processes: self.processes,
            rejected: self.rejected,
            rejected_by: self.rejected_by,
            message: self.message,
        }
    }
}

/// What every span of one resource shares, read once per resource.
pub struct Resource<'a> {
    service: Cow<'a, str>,
    /// `thread.name` / `thread.id` of the resource, for spans that name none.
    thread: Option<Cow<'a, str>>,
    /// `service.instance.id`, else `host.name`.
    instance: Option<Cow<'a, str>>,
    /// `service.version`.
    version: Option<Cow<'a, str>>,
    /// `(instance, host.name, process.pid)`, when the resource names all three.
    process: Option<(String, String, u32)>,
    /// Index in [`Converted::spans`] of the resource's first span.
    first_span: usize,
}

/// Collects a request's records resource by resource: [`Builder::resource`], [`Builder::span`] for each of
/// its spans, [`Builder::end_resource`]; then [`Builder::finish`].
#[derive(Default)]
pub struct Builder<'a> {
    out: Converted<'a>,
    first_reason: Option<String>,
}

impl<'a> Builder<'a> {
    /// Starts a resource with these attributes (empty when the resource is absent).
    pub fn resource(&self, attrs: &[Attr<'a>]) -> Resource<'a> {
        let service = find_str(attrs, &["service.name"]).map_or(Cow::Borrowed("unknown_service"), |s| truncate_cow(s, MAX_NAME));
        let instance = find_str(attrs, &["service.instance.id", "host.name"]).map(|i| truncate_cow(i, MAX_NAME));
        Resource {
            service,
            thread: SpanAttrs::scan(attrs).thread(),
            version: find_str(attrs, &["service.version"]).map(|v| truncate_cow(v, MAX_NAME)),
            process: instance.as_deref().and_then(|i| process_of(attrs, i)),
            instance,
            first_span: self.out.spans.len(),
        }
    }

    /// Adds one span of `resource`: its record, or the reason it is rejected.
    pub fn span(&mut self, span: &SpanView<'a, '_>, resource: &Resource<'a>) {
        match convert_span(span, resource) {
            Ok(rec) => self.out.spans.push(rec),
            Err((reason, why)) => {
                self.out.rejected += 1;
                self.out.rejected_by.add(reason);
                self.first_reason.get_or_insert(why);
            }
        }
    }

    /// Ends `resource`: what the instance list and the deploy log learn from it.
    pub fn end_resource(&mut self, resource: Resource<'a>) {
        if let Some(process) = resource.process {
            self.out.processes.push(process);
        }
        let first_start = self.out.spans[resource.first_span..].iter().map(|s| s.start_ns).min();
        if let (Some(version), Some(start_ns)) = (resource.version, first_start) {
            self.out.versions.push((resource.service.into_owned(), version.into_owned(), (start_ns / 1_000_000) as i64));
        }
    }

    /// Room for `n` more spans.
    pub fn reserve(&mut self, n: usize) {
        self.out.spans.reserve(n);
    }

    pub fn finish(mut self) -> Converted<'a> {
        if self.out.rejected > 0 {
            self.out.message = Some(format!(
                "{} span(s) rejected; first reason: {}",
                self.out.rejected,
                self.first_reason.unwrap_or_default()
            ));
        }
        self.out
    }
}

/// Turns a decoded OTLP request into spans to store, rejecting invalid spans one by one: the path of
/// OTLP/JSON, and the reference the one-pass protobuf decoder is tested against. CPU-heavy for a big
/// request: off the runtime (the detector in `crate::blocking` checks).
pub fn convert(request: &ExportTraceServiceRequest) -> Converted<'_> {
    blocking::assert_off_runtime();
    let mut b = Builder::default();
    let (mut attrs, mut exception) = (Vec::new(), Vec::new());
    for rs in &request.resource_spans {
        borrow_attrs(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]), &mut attrs);
        let resource = b.resource(&attrs);
        for ss in &rs.scope_spans {
            b.reserve(ss.spans.len());
            for span in &ss.spans {
                borrow_attrs(&span.attributes, &mut attrs);
                let event = span.events.iter().find(|e| e.name == "exception");
                if let Some(e) = event {
                    borrow_attrs(&e.attributes, &mut exception);
                }
                let view = SpanView {
                    trace_id: &span.trace_id,
                    span_id: &span.span_id,
                    parent_span_id: &span.parent_span_id,
                    name: &span.name,
                    kind: span.kind,
                    start_time_unix_nano: span.start_time_unix_nano,
                    end_time_unix_nano: span.end_time_unix_nano,
                    attributes: &attrs,
                    exception: event.map(|_| &exception[..]),
                    status: span.status.as_ref().map(|s| SpanStatus { code: s.code, message: &s.message }),
                };
                b.span(&view, &resource);
            }
        }
        b.end_resource(resource);
    }
    b.finish()
}

/// `kvs` as [`Attr`]s, into `out` (cleared first; reused from span to span).
fn borrow_attrs<'a>(kvs: &'a [KeyValue], out: &mut Vec<Attr<'a>>) {
    out.clear();
    out.extend(kvs.iter().map(|kv| Attr {
        key: &kv.key,
        value: kv.value.as_ref().and_then(|v| v.value.as_ref()).map(|v| match v {
            any_value::Value::StringValue(s) => Value::Str(s),
            any_value::Value::IntValue(i) => Value::Int(*i),
            any_value::Value::BoolValue(b) => Value::Bool(*b),
            any_value::Value::DoubleValue(d) => Value::Double(*d),
            _ => Value::Other,
        }),
    }));
}

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// The span as stored, or why not (for the metrics, and in words for the partial-success message).
fn convert_span<'a>(span: &SpanView<'a, '_>, resource: &Resource<'a>) -> Result<SpanRef<'a>, (SpanReject, String)> {
    if !valid_id(span.trace_id, 16) {
        let why = format!("trace_id must be 16 bytes, not all zero (got {} bytes)", span.trace_id.len());
        return Err((SpanReject::TraceId, why));
    }
    if !valid_id(span.span_id, 8) {
        return Err((SpanReject::SpanId, format!("span_id must be 8 bytes, not all zero (got {} bytes)", span.span_id.len())));
    }
    let parent = if span.parent_span_id.iter().all(|b| *b == 0) { &[][..] } else { span.parent_span_id };
    if !parent.is_empty() && parent.len() != 8 {
        return Err((SpanReject::ParentSpanId, format!("parent_span_id must be empty or 8 bytes (got {} bytes)", parent.len())));
    }
    if span.start_time_unix_nano == 0 {
        return Err((SpanReject::StartTime, "start_time_unix_nano is 0".into()));
    }
    if span.end_time_unix_nano != 0 && span.end_time_unix_nano < span.start_time_unix_nano {
        return Err((SpanReject::EndBeforeStart, "end_time_unix_nano is before start_time_unix_nano".into()));
    }
    let a = SpanAttrs::scan(span.attributes);
    let span_kind = span.kind;
    let is_transaction = parent.is_empty() || span_kind == SpanKind::Server as i32;

    let (step_kind, text, target) = classify(&a, is_transaction, span_kind);
    let status_error = span.status.is_some_and(|s| s.code == StatusCode::Error as i32);
    let status_message = span.status.map(|s| s.message).filter(|m| !m.is_empty()).map(|m| truncate(m, MAX_TEXT));
    // Owned: only failed spans have one.
    let exception = span.exception.map(|attrs| ErrorRecord {
        kind: find_str(attrs, &["exception.type"]).map(|s| truncate(s, MAX_NAME)),
        message: find_str(attrs, &["exception.message"]).map(|s| truncate(s, MAX_TEXT)),
        stacktrace: find_str(attrs, &["exception.stacktrace"]).map(|s| truncate(s, MAX_TEXT)),
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
    let thread = a.thread().or_else(|| resource.thread.clone());

    Ok(SpanRef {
        trace_id: Cow::Borrowed(span.trace_id),
        span_id: Cow::Borrowed(span.span_id),
        parent_span_id: Cow::Borrowed(parent),
        service: resource.service.clone(),
        name: truncate_cow(span.name, MAX_NAME),
        span_kind,
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        error: status_error,
        step_kind,
        text,
        target,
        thread,
        failure: failure.map(Cow::Owned),
        is_transaction,
        instance: resource.instance.clone(),
        // The cube's dimensions of a transaction; a client span's method is already in its text.
        http_method: a.http_method().filter(|_| is_transaction).map(|m| truncate_cow(m, MAX_METHOD)),
        http_status: a.http_status().filter(|_| is_transaction),
        version: resource.version.as_ref().filter(|_| is_transaction).cloned(),
        attributes: if is_transaction { Cow::Owned(other_attributes(span.attributes)) } else { Cow::Borrowed(&[]) },
    })
}

/// The attributes of a transaction span that Sightline does not interpret itself — `tenant`, `feature.flag`,
/// `user_agent.original` — as text, the first [`MAX_ATTRIBUTES`] of them. Left out: what is already a
/// dimension (method, status, URL, route), and keys unique to nearly every request by construction (ports,
/// socket addresses, thread ids), which would only fill the tables.
fn other_attributes(attrs: &[Attr<'_>]) -> Vec<AttrRecord> {
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
        let value = match kv.value {
            Some(Value::Str(s)) if !s.is_empty() => truncate(s, MAX_ATTRIBUTE_VALUE),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Double(d)) => d.to_string(),
            _ => continue,
        };
        out.push(AttrRecord { key: kv.key.to_string(), value });
    }
    out
}

/// What a span is as a step — transaction, SQL, outgoing HTTP or a plain method — with the text and target
/// Sightline shows for it: `(kind, text, target)`.
fn classify<'a>(a: &SpanAttrs<'a>, is_transaction: bool, span_kind: i32) -> (u32, Option<Cow<'a, str>>, Option<Cow<'a, str>>) {
    let url = a.url_full.or(a.http_url);
    if is_transaction {
        let text = url.or(a.url_path).or(a.http_target).or(a.http_route);
        (kind::TRANSACTION, text.map(|t| truncate_cow(t, MAX_TEXT)), None)
    } else if let Some(system) = a.db_system.or(a.db_system_name) {
        let stmt = a.db_query_text.or(a.db_statement);
        let target = match a.db_namespace.or(a.db_name) {
            Some(db) => Cow::Owned(joined(&[system, "/", db], MAX_NAME)),
            None => truncate_cow(system, MAX_NAME),
        };
        (kind::SQL, stmt.map(|s| truncate_cow(s, MAX_TEXT)), Some(target))
    } else if span_kind == SpanKind::Client as i32 && (a.http_method().is_some() || url.is_some()) {
        let target = a.server_address.or(a.net_peer_name).map(|s| match a.server_port.or(a.net_peer_port) {
            Some(port) => {
                let mut t = joined(&[s, ":"], usize::MAX);
                // Into the string itself: no `format!` and its copy per span.
                let _ = std::fmt::Write::write_fmt(&mut t, format_args!("{port}"));
                Cow::Owned(truncate_owned(t, MAX_NAME))
            }
            None => truncate_cow(s, MAX_NAME),
        });
        let text = match (a.http_method(), url) {
            (Some(m), Some(u)) => Some(Cow::Owned(joined(&[m, " ", u], MAX_TEXT))),
            (None, Some(u)) => Some(truncate_cow(u, MAX_TEXT)),
            (Some(m), None) => Some(truncate_cow(m, MAX_TEXT)),
            (None, None) => None,
        };
        (kind::HTTP, text, target)
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
    fn scan(attrs: &[Attr<'a>]) -> Self {
        let mut a = SpanAttrs::default();
        for kv in attrs {
            let Some(v) = kv.value else { continue };
            let s = match v {
                Value::Str(s) if !s.is_empty() => Some(s),
                _ => None,
            };
            let slot = match kv.key {
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
    fn thread(&self) -> Option<Cow<'a, str>> {
        match (self.thread_name, self.thread_id) {
            (Some(name), _) => Some(truncate_cow(name, MAX_NAME)),
            (None, Some(id)) => Some(Cow::Owned(format!("thread {id}"))),
            (None, None) => None,
        }
    }
}

/// An integer attribute; a numeric string counts too (some SDKs send ports and ids as strings).
fn int_of(v: Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => Some(i),
        Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

/// `(instance, host.name, process.pid)` of a resource that names a host and a plausible pid.
fn process_of(attrs: &[Attr<'_>], instance: &str) -> Option<(String, String, u32)> {
    let host = find_str(attrs, &["host.name"])?;
    let pid = attrs.iter().find(|kv| kv.key == "process.pid")?.value.and_then(int_of)?;
    let pid = u32::try_from(pid).ok().filter(|p| *p > 0)?;
    Some((instance.to_string(), truncate(host, MAX_NAME), pid))
}

/// The first string value among `keys` (in that order of preference): the first attribute with the key
/// decides, as with a lookup.
fn find_str<'a>(attrs: &[Attr<'a>], keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| {
        attrs.iter().find(|kv| kv.key == *k).and_then(|kv| match kv.value {
            Some(Value::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        })
    })
}

/// `parts` concatenated and [`truncate`]d to `max`, in one allocation (these run for most spans; `format!`
/// and a truncated copy of its result were a tenth of the conversion's time).
fn joined(parts: &[&str], max: usize) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>().min(max.saturating_add(3)));
    for p in parts {
        out.push_str(p);
    }
    truncate_owned(out, max)
}

/// [`truncate`] of a string already owned: cut in place, no copy.
fn truncate_owned(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    truncate_cow(s, max).into_owned()
}

/// [`truncate`], borrowing `s` when it is short enough (nearly always).
fn truncate_cow(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 3);
    out.push_str(&s[..end]);
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `joined` and `truncate_owned` give what `truncate(&format!(…))` gave, cut at the same boundary.
    #[test]
    fn joined_is_format_then_truncate() {
        for (parts, max) in [
            (&["postgresql", "/", "bank"][..], MAX_NAME),
            (&["GET", " ", "http://x/y"][..], 12),
            (&["é".repeat(300).as_str(), ":", "8080"][..], MAX_NAME),
            (&["", "/", ""][..], 1),
            (&["abcdef", "ü"][..], 7),
        ] {
            assert_eq!(joined(parts, max), truncate(&parts.concat(), max), "{parts:?} {max}");
        }
        assert_eq!(truncate_owned("x".repeat(20), 10), truncate(&"x".repeat(20), 10));
    }
}
