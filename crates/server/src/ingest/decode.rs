//! One-pass decoding of an OTLP protobuf `ExportTraceServiceRequest` straight into spans to store.
//!
//! Why: prost builds the whole message tree first — a `String` for every attribute key and value, a `Vec`
//! per attribute list — and [`super::convert`] then throws most of it away. Here each span is read as a
//! borrowed [`SpanView`] whose strings and ids point into the request's bytes, handed to the same
//! [`Builder`] the prost path uses, and forgotten; what it builds (`SpanRef`) borrows from the same bytes,
//! so a span allocates only for what has to be made (a cut string, a joined target, an exception).
//!
//! What it accepts is exactly what prost accepts (tests compare the two on generated, corrupted and fuzzed
//! inputs): every field Sightline skips is still checked as prost checks it — wire types of known fields,
//! lengths, UTF-8 of every string, nesting deeper than prost's recursion limit, groups — and repeated
//! singular fields follow protobuf's rules (the last scalar wins, messages merge). On any error the caller
//! ([`super::decode_protobuf_records`]) decodes the request again with prost, so a rejected request gets
//! prost's own error message; malformed requests are rare, and they only pay twice.

use prost::encoding::{check_wire_type, WireType};

use super::convert::{Attr, Builder, Converted, SpanStatus, SpanView, Value};

/// prost's limit on nested messages (`prost::RECURSION_LIMIT`, not exported): a request nested deeper is
/// refused by prost, so here too.
const RECURSION_LIMIT: u32 = 100;

/// Why a request is not a well-formed `ExportTraceServiceRequest`; the caller reports prost's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed OTLP protobuf: {0}")]
pub struct Malformed(&'static str);

impl From<prost::DecodeError> for Malformed {
    fn from(_: prost::DecodeError) -> Self {
        Malformed("invalid varint, key or wire type")
    }
}

type Result<T> = std::result::Result<T, Malformed>;

/// Decodes `body` and converts its spans, as `convert(ExportTraceServiceRequest::decode(body)?)` does.
pub fn decode(body: &[u8]) -> Result<Converted<'_>> {
    let mut d = Decoder::default();
    let mut buf = body;
    while !buf.is_empty() {
        let (tag, wire_type) = read_key(&mut buf)?;
        match tag {
            1 => {
                let rs = nested(wire_type, &mut buf, 0)?;
                d.resource_spans(rs)?;
            }
            _ => skip(wire_type, tag, &mut buf, 0)?,
        }
    }
    Ok(d.builder.finish())
}

/// The request's records so far, and buffers reused from one resource or span to the next (everything
/// borrowed points into the request's bytes, `'a`).
#[derive(Default)]
struct Decoder<'a> {
    builder: Builder<'a>,
    /// Where the current `ResourceSpans`' resources and scopes are.
    resources: Vec<&'a [u8]>,
    scopes: Vec<&'a [u8]>,
    resource_attrs: Vec<Attr<'a>>,
    span: SpanBuf<'a>,
}

/// The body of a length-delimited field of a message at `depth` (0 = the request): a nested message one
/// level down, as prost's `message::merge` reads it (wire type, recursion limit, length).
#[inline]
fn nested<'a>(wire_type: WireType, buf: &mut &'a [u8], depth: u32) -> Result<&'a [u8]> {
    check_wire_type(WireType::LengthDelimited, wire_type)?;
    if depth >= RECURSION_LIMIT {
        return Err(Malformed("recursion limit reached"));
    }
    delimited(buf)
}

/// A varint, as prost's `decode_varint` reads it. Inlined for the one- and two-byte values nearly every
/// length, tag and enum is (a call per field, saving registers for prost's error path, was ~13 % of
/// decoding's instructions); longer ones, and every error, go to prost.
#[inline(always)]
fn read_varint(buf: &mut &[u8]) -> Result<u64> {
    let bytes: &[u8] = buf;
    match *bytes {
        [b0, ref rest @ ..] if b0 < 0x80 => {
            *buf = rest;
            Ok(u64::from(b0))
        }
        [b0, b1, ref rest @ ..] if b1 < 0x80 => {
            *buf = rest;
            Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
        }
        _ => long_varint(buf),
    }
}

#[cold]
#[inline(never)]
fn long_varint(buf: &mut &[u8]) -> Result<u64> {
    Ok(prost::encoding::decode_varint(buf)?)
}

/// A field's key, as prost's `decode_key` reads it; inlined for the one-byte keys of tags 1–15 with a
/// valid wire type, the rest (and every error) from prost.
#[inline(always)]
fn read_key(buf: &mut &[u8]) -> Result<(u32, WireType)> {
    let bytes: &[u8] = buf;
    if let [key @ 0x08..=0x7f, ref rest @ ..] = *bytes {
        if let Ok(wire_type) = WireType::try_from(u64::from(key & 7)) {
            *buf = rest;
            return Ok((u32::from(key >> 3), wire_type));
        }
    }
    long_key(buf)
}

#[cold]
#[inline(never)]
fn long_key(buf: &mut &[u8]) -> Result<(u32, WireType)> {
    Ok(prost::encoding::decode_key(buf)?)
}

/// A length prefix and the bytes it covers.
#[inline(always)]
fn delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = read_varint(buf)?;
    if len > buf.len() as u64 {
        return Err(Malformed("buffer underflow"));
    }
    let (body, rest) = buf.split_at(len as usize);
    *buf = rest;
    Ok(body)
}

#[inline]
fn bytes<'a>(wire_type: WireType, buf: &mut &'a [u8]) -> Result<&'a [u8]> {
    check_wire_type(WireType::LengthDelimited, wire_type)?;
    delimited(buf)
}

#[inline]
fn string<'a>(wire_type: WireType, buf: &mut &'a [u8]) -> Result<&'a str> {
    utf8(bytes(wire_type, buf)?)
}

/// `bytes` as a `str`, checked as prost checks it. OTLP's strings are nearly all ASCII and short (keys,
/// routes, names: 5–40 bytes), where `str::from_utf8` goes byte by byte: a tenth of ingest's instructions.
/// An ASCII check a word at a time first, the full check only for the rest. Not std's `<[u8]>::is_ascii`:
/// on a span's strings (16 of 3–130 bytes, callgrind, Rust 1.95) it took 50 instructions a string against
/// 19 here and 97 for `from_utf8`.
#[inline(always)]
fn utf8(bytes: &[u8]) -> Result<&str> {
    if is_ascii(bytes) {
        // SAFETY: every byte is below 0x80, and a sequence of ASCII bytes is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| Malformed("invalid string value: data is not UTF-8 encoded"))
}

/// Whether every byte is below 0x80, eight bytes at a time (the last word overlapping the one before it).
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = bytes.len();
    if n >= 8 {
        let (words, _) = bytes.as_chunks::<8>();
        let last = bytes[n - 8..].first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w));
        words.iter().fold(last, |acc, w| acc | u64::from_le_bytes(*w)) & HIGH == 0
    } else if n >= 4 {
        let word = |w: Option<&[u8; 4]>| w.map_or(0, |w| u32::from_le_bytes(*w));
        (word(bytes.first_chunk::<4>()) | word(bytes.last_chunk::<4>())) & 0x8080_8080 == 0
    } else {
        bytes.iter().all(|b| *b < 0x80)
    }
}

#[inline]
fn varint(wire_type: WireType, buf: &mut &[u8]) -> Result<u64> {
    check_wire_type(WireType::Varint, wire_type)?;
    read_varint(buf)
}

#[inline]
fn fixed64(wire_type: WireType, buf: &mut &[u8]) -> Result<u64> {
    check_wire_type(WireType::SixtyFourBit, wire_type)?;
    let (v, rest) = buf.split_first_chunk::<8>().ok_or(Malformed("buffer underflow"))?;
    *buf = rest;
    Ok(u64::from_le_bytes(*v))
}

#[inline]
fn fixed32(wire_type: WireType, buf: &mut &[u8]) -> Result<u32> {
    check_wire_type(WireType::ThirtyTwoBit, wire_type)?;
    let (v, rest) = buf.split_first_chunk::<4>().ok_or(Malformed("buffer underflow"))?;
    *buf = rest;
    Ok(u32::from_le_bytes(*v))
}

/// Skips an unknown field of a message at `depth`, as prost's `skip_field` does (groups included, each
/// level of a group counting towards the recursion limit).
fn skip(wire_type: WireType, tag: u32, buf: &mut &[u8], depth: u32) -> Result<()> {
    if depth >= RECURSION_LIMIT {
        return Err(Malformed("recursion limit reached"));
    }
    match wire_type {
        WireType::Varint => {
            read_varint(buf)?;
        }
        WireType::ThirtyTwoBit => {
            fixed32(wire_type, buf)?;
        }
        WireType::SixtyFourBit => {
            fixed64(wire_type, buf)?;
        }
        WireType::LengthDelimited => {
            delimited(buf)?;
        }
        WireType::StartGroup => loop {
            let (inner_tag, inner_wire_type) = read_key(buf)?;
            match inner_wire_type {
                WireType::EndGroup if inner_tag == tag => break,
                WireType::EndGroup => return Err(Malformed("unexpected end group tag")),
                _ => skip(inner_wire_type, inner_tag, buf, depth + 1)?,
            }
        },
        WireType::EndGroup => return Err(Malformed("unexpected end group tag")),
    }
    Ok(())
}

/// Calls `field(tag, wire_type, buf)` for each field of a message body.
fn fields<'a>(mut buf: &'a [u8], mut field: impl FnMut(u32, WireType, &mut &'a [u8]) -> Result<()>) -> Result<()> {
    while !buf.is_empty() {
        let (tag, wire_type) = read_key(&mut buf)?;
        field(tag, wire_type, &mut buf)?;
    }
    Ok(())
}

/// A `KeyValue` at `depth`: its key and its value as far as Sightline reads it. A repeated `value` merges
/// into the first, as protobuf merges a singular message field (its oneof: the last member set wins).
fn key_value(buf: &[u8], depth: u32) -> Result<Attr<'_>> {
    if let Some(attr) = plain_key_value(buf, depth) {
        return Ok(attr);
    }
    let mut attr = Attr { key: "", value: None };
    fields(buf, |tag, wire_type, buf| {
        match tag {
            1 => attr.key = string(wire_type, buf)?,
            2 => any_value(nested(wire_type, buf, depth)?, depth + 1, &mut attr.value)?,
            3 => {
                varint(wire_type, buf)?;
            }
            _ => skip(wire_type, tag, buf, depth)?,
        }
        Ok(())
    })?;
    Ok(attr)
}

/// The `KeyValue` nearly every SDK writes — its key, then its value holding one string or integer, each
/// field once — read without the general field loop; `None` for anything else (another shape, or damage:
/// the general reading then finds the same value or the same error).
#[inline]
fn plain_key_value(buf: &[u8], depth: u32) -> Option<Attr<'_>> {
    const KEY: u8 = 1 << 3 | WireType::LengthDelimited as u8;
    const VALUE: u8 = 2 << 3 | WireType::LengthDelimited as u8;
    const STRING: u8 = 1 << 3 | WireType::LengthDelimited as u8;
    const INT: u8 = 3 << 3 | WireType::Varint as u8;
    if depth >= RECURSION_LIMIT {
        return None;
    }
    let mut rest = buf.strip_prefix(&[KEY])?;
    let key = delimited(&mut rest).ok()?;
    let mut rest = rest.strip_prefix(&[VALUE])?;
    let any = delimited(&mut rest).ok()?;
    let (&field, mut any) = any.split_first()?;
    let value = match field {
        STRING => Value::Str(utf8(delimited(&mut any).ok()?).ok()?),
        INT => Value::Int(read_varint(&mut any).ok()? as i64),
        _ => return None,
    };
    (rest.is_empty() && any.is_empty()).then_some(())?;
    Some(Attr { key: utf8(key).ok()?, value: Some(value) })
}

/// Merges an `AnyValue` at `depth` into `value`.
fn any_value<'a>(buf: &'a [u8], depth: u32, value: &mut Option<Value<'a>>) -> Result<()> {
    fields(buf, |tag, wire_type, buf| {
        match tag {
            1 => *value = Some(Value::Str(string(wire_type, buf)?)),
            2 => *value = Some(Value::Bool(varint(wire_type, buf)? != 0)),
            3 => *value = Some(Value::Int(varint(wire_type, buf)? as i64)),
            4 => *value = Some(Value::Double(f64::from_bits(fixed64(wire_type, buf)?))),
            // ArrayValue { repeated AnyValue values = 1 }
            5 => {
                let array = nested(wire_type, buf, depth)?;
                fields(array, |tag, wire_type, buf| match tag {
                    1 => any_value(nested(wire_type, buf, depth + 1)?, depth + 2, &mut None),
                    _ => skip(wire_type, tag, buf, depth + 1),
                })?;
                *value = Some(Value::Other);
            }
            // KeyValueList { repeated KeyValue values = 1 }
            6 => {
                let list = nested(wire_type, buf, depth)?;
                fields(list, |tag, wire_type, buf| match tag {
                    1 => key_value(nested(wire_type, buf, depth + 1)?, depth + 2).map(drop),
                    _ => skip(wire_type, tag, buf, depth + 1),
                })?;
                *value = Some(Value::Other);
            }
            7 => {
                bytes(wire_type, buf)?;
                *value = Some(Value::Other);
            }
            8 => {
                varint(wire_type, buf)?;
                *value = Some(Value::Other);
            }
            _ => skip(wire_type, tag, buf, depth)?,
        }
        Ok(())
    })
}

/// Checks a list of `KeyValue`s Sightline does not read (a scope's, a link's).
fn ignored_key_value(wire_type: WireType, buf: &mut &[u8], depth: u32) -> Result<()> {
    key_value(nested(wire_type, buf, depth)?, depth + 1).map(drop)
}

impl<'a> Decoder<'a> {
    /// One `ResourceSpans` (depth 1). Its resource may come after its spans on the wire (and may be
    /// repeated: the copies merge), so the fields are located first and the resource read before the spans.
    fn resource_spans(&mut self, buf: &'a [u8]) -> Result<()> {
        const DEPTH: u32 = 1;
        let (resources, scopes) = (&mut self.resources, &mut self.scopes);
        resources.clear();
        scopes.clear();
        fields(buf, |tag, wire_type, buf| {
            match tag {
                1 => resources.push(nested(wire_type, buf, DEPTH)?),
                2 => scopes.push(nested(wire_type, buf, DEPTH)?),
                3 => {
                    string(wire_type, buf)?;
                }
                _ => skip(wire_type, tag, buf, DEPTH)?,
            }
            Ok(())
        })?;
        self.resource_attrs.clear();
        for r in &self.resources {
            resource(r, DEPTH + 1, &mut self.resource_attrs)?;
        }
        let resource = self.builder.resource(&self.resource_attrs);
        // Room for the spans up front: growing a vector of hundreds of records step by step copied it
        // several times, each time into fresh memory (page faults) — a tenth of ingest's CPU. Bounded, so
        // a body of many tiny spans cannot make it reserve gigabytes.
        self.builder.reserve(self.scopes.iter().map(|s| count_spans(s)).sum::<usize>().min(MAX_RESERVED_SPANS));
        let (builder, span) = (&mut self.builder, &mut self.span);
        for s in &self.scopes {
            fields(s, |tag, wire_type, buf| {
                match tag {
                    1 => scope(nested(wire_type, buf, DEPTH + 1)?, DEPTH + 2)?,
                    2 => builder.span(&span.read(nested(wire_type, buf, DEPTH + 1)?, DEPTH + 2)?, &resource),
                    3 => {
                        string(wire_type, buf)?;
                    }
                    _ => skip(wire_type, tag, buf, DEPTH + 1)?,
                }
                Ok(())
            })?;
        }
        self.builder.end_resource(resource);
        Ok(())
    }
}

/// Most spans [`Decoder::resource_spans`] reserves room for at once (SDKs batch 512 by default).
const MAX_RESERVED_SPANS: usize = 8192;
/// The smallest valid span: a trace id (18 bytes with its key and length), a span id (10) and a start
/// time (9).
const MIN_SPAN_BYTES: usize = 37;

/// How many spans a `ScopeSpans` body holds that are long enough to be valid, by its field keys alone (a
/// malformed body: those before the damage; the real pass reports it).
fn count_spans(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while let Ok((tag, wire_type)) = read_key(&mut buf) {
        let before = buf.len();
        if skip(wire_type, tag, &mut buf, 0).is_err() {
            break;
        }
        n += usize::from(tag == 2 && wire_type == WireType::LengthDelimited && before - buf.len() > MIN_SPAN_BYTES);
    }
    n
}

/// A `Resource` at `depth`: its attributes appended to `attrs`.
fn resource<'a>(buf: &'a [u8], depth: u32, attrs: &mut Vec<Attr<'a>>) -> Result<()> {
    fields(buf, |tag, wire_type, buf| {
        match tag {
            1 => attrs.push(key_value(nested(wire_type, buf, depth)?, depth + 1)?),
            2 => {
                varint(wire_type, buf)?;
            }
            // EntityRef { string schema_url = 1; string type = 2; repeated string id_keys = 3, description_keys = 4 }
            3 => fields(nested(wire_type, buf, depth)?, |tag, wire_type, buf| match tag {
                1..=4 => string(wire_type, buf).map(drop),
                _ => skip(wire_type, tag, buf, depth + 1),
            })?,
            _ => skip(wire_type, tag, buf, depth)?,
        }
        Ok(())
    })
}

/// Checks an `InstrumentationScope` at `depth` (Sightline keeps nothing of it).
fn scope(buf: &[u8], depth: u32) -> Result<()> {
    fields(buf, |tag, wire_type, buf| match tag {
        1 | 2 => string(wire_type, buf).map(drop),
        3 => ignored_key_value(wire_type, buf, depth),
        4 => varint(wire_type, buf).map(drop),
        _ => skip(wire_type, tag, buf, depth),
    })
}

/// The attribute lists of the span being read, kept from span to span so their memory is reused.
#[derive(Default)]
struct SpanBuf<'a> {
    attrs: Vec<Attr<'a>>,
    /// The attributes of the span's first event named `exception`.
    exception: Vec<Attr<'a>>,
    /// The attributes of the event being read.
    event: Vec<Attr<'a>>,
}

impl<'a> SpanBuf<'a> {
    /// Reads a `Span` at `depth`.
    fn read(&mut self, buf: &'a [u8], depth: u32) -> Result<SpanView<'a, '_>> {
        let SpanBuf { attrs, exception, event } = self;
        attrs.clear();
        exception.clear();
        let mut has_exception = false;
        let mut v = SpanView {
            trace_id: &[],
            span_id: &[],
            parent_span_id: &[],
            name: "",
            kind: 0,
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            attributes: &[],
            exception: None,
            status: None,
        };
        fields(buf, |tag, wire_type, buf| {
            match tag {
                1 => v.trace_id = bytes(wire_type, buf)?,
                2 => v.span_id = bytes(wire_type, buf)?,
                3 => {
                    string(wire_type, buf)?;
                }
                4 => v.parent_span_id = bytes(wire_type, buf)?,
                5 => v.name = string(wire_type, buf)?,
                6 => v.kind = varint(wire_type, buf)? as i32,
                7 => v.start_time_unix_nano = fixed64(wire_type, buf)?,
                8 => v.end_time_unix_nano = fixed64(wire_type, buf)?,
                9 => attrs.push(key_value(nested(wire_type, buf, depth)?, depth + 1)?),
                10 | 12 | 14 => {
                    varint(wire_type, buf)?;
                }
                11 => {
                    event.clear();
                    let name = read_event(nested(wire_type, buf, depth)?, depth + 1, event)?;
                    // The first event named `exception` is the one kept.
                    if name == "exception" && !has_exception {
                        has_exception = true;
                        std::mem::swap(exception, event);
                    }
                }
                13 => link(nested(wire_type, buf, depth)?, depth + 1)?,
                15 => {
                    let status = v.status.get_or_insert(SpanStatus { code: 0, message: "" });
                    merge_status(nested(wire_type, buf, depth)?, depth + 1, status)?;
                }
                16 => {
                    fixed32(wire_type, buf)?;
                }
                _ => skip(wire_type, tag, buf, depth)?,
            }
            Ok(())
        })?;
        v.attributes = attrs;
        v.exception = has_exception.then_some(&exception[..]);
        Ok(v)
    }
}

/// Reads an `Event` at `depth`: its attributes into `attrs`; returns its name.
fn read_event<'a>(buf: &'a [u8], depth: u32, attrs: &mut Vec<Attr<'a>>) -> Result<&'a str> {
    let mut name = "";
    fields(buf, |tag, wire_type, buf| {
        match tag {
            1 => {
                fixed64(wire_type, buf)?;
            }
            2 => name = string(wire_type, buf)?,
            3 => attrs.push(key_value(nested(wire_type, buf, depth)?, depth + 1)?),
            4 => {
                varint(wire_type, buf)?;
            }
            _ => skip(wire_type, tag, buf, depth)?,
        }
        Ok(())
    })?;
    Ok(name)
}

/// Checks a `Link` at `depth` (Sightline keeps nothing of it).
fn link(buf: &[u8], depth: u32) -> Result<()> {
    fields(buf, |tag, wire_type, buf| match tag {
        1 | 2 => bytes(wire_type, buf).map(drop),
        3 => string(wire_type, buf).map(drop),
        4 => ignored_key_value(wire_type, buf, depth),
        5 => varint(wire_type, buf).map(drop),
        6 => fixed32(wire_type, buf).map(drop),
        _ => skip(wire_type, tag, buf, depth),
    })
}

/// Merges a `Status` at `depth` into `status`.
fn merge_status<'a>(buf: &'a [u8], depth: u32, status: &mut SpanStatus<'a>) -> Result<()> {
    fields(buf, |tag, wire_type, buf| {
        match tag {
            2 => status.message = string(wire_type, buf)?,
            3 => status.code = varint(wire_type, buf)? as i32,
            _ => skip(wire_type, tag, buf, depth)?,
        }
        Ok(())
    })
}

/// The one-pass decoder against the reference (`convert(ExportTraceServiceRequest::decode(..))`): the same
/// accept/reject decision and the same records, on generated requests, on hand-made encodings that prost
/// reads in its own ways (fields out of order, repeated singular fields, unknown fields and groups, the
/// recursion limit), on corruptions of all of them, and on the fuzz corpus.
#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
    use prost::encoding::{encode_key, encode_varint, WireType};
    use prost::Message;

    use super::*;
    use crate::ingest::convert::convert;

    /// Same decision and, when accepted, the same records; the number of accepted inputs for the caller.
    fn check(body: &[u8]) -> bool {
        let reference = ExportTraceServiceRequest::decode(body).map(|r| convert(&r).into_static());
        let fast = decode(body);
        match (&reference, &fast) {
            (Ok(r), Ok(f)) => {
                assert_eq!(r, f, "records differ for {body:02x?}");
                true
            }
            (Err(_), Err(_)) => false,
            _ => panic!("prost says {:?}, the one-pass decoder {:?}, for {body:02x?}", reference.map(drop), fast.map(drop)),
        }
    }

    /// rand's seeded generator under the few names these tests use (variety, reproducible).
    struct Rng(rand::rngs::StdRng);

    impl Rng {
        fn seeded(seed: u64) -> Self {
            Rng(rand::SeedableRng::seed_from_u64(seed))
        }
        fn next(&mut self) -> u64 {
            rand::Rng::random(&mut self.0)
        }
        fn below(&mut self, n: u64) -> u64 {
            rand::Rng::random_range(&mut self.0, 0..n)
        }
        fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
            of[self.below(of.len() as u64) as usize]
        }
    }

    const KEYS: [&str; 30] = [
        "service.name", "service.version", "service.instance.id", "host.name", "process.pid", "thread.name", "thread.id",
        "db.system", "db.system.name", "db.statement", "db.query.text", "db.name", "db.namespace", "http.request.method",
        "http.method", "url.full", "http.url", "url.path", "http.target", "http.route", "server.address", "server.port",
        "net.peer.name", "net.peer.port", "http.response.status_code", "http.status_code", "tenant", "error.type",
        "exception.type", "",
    ];
    const TEXTS: [&str; 12] = ["", "GET", "POST", "postgresql", "SELECT 1", "http://x/y", "/pay", "8080", "404", "é…ü", "svc", "-3"];

    fn value(rng: &mut Rng, depth: u32) -> Option<AnyValue> {
        use any_value::Value as V;
        let v = match rng.below(if depth > 2 { 6 } else { 9 }) {
            0 => return None,
            1 => None,
            2 | 3 => Some(V::StringValue(rng.pick(&TEXTS).to_string())),
            4 => Some(V::IntValue([200, 503, 70_000, 5432, -1, 0][rng.below(6) as usize])),
            5 => Some(V::BoolValue(rng.below(2) == 0)),
            6 => Some(V::DoubleValue([1.5, -0.0, f64::NAN, 1e300][rng.below(4) as usize])),
            7 => Some(V::ArrayValue(ArrayValue { values: (0..rng.below(3)).filter_map(|_| value(rng, depth + 1)).collect() })),
            _ => Some(V::KvlistValue(KeyValueList { values: attrs(rng, 3, depth + 1) })),
        };
        Some(AnyValue { value: v })
    }

    fn attrs(rng: &mut Rng, max: u64, depth: u32) -> Vec<KeyValue> {
        (0..rng.below(max + 1)).map(|_| KeyValue { key: rng.pick(&KEYS).to_string(), value: value(rng, depth), ..Default::default() }).collect()
    }

    fn id(rng: &mut Rng, len: usize) -> Vec<u8> {
        match rng.below(12) {
            0 => Vec::new(),
            1 => vec![0; len],
            2 => vec![1; len + 1],
            _ => (0..len).map(|_| rng.next() as u8).collect(),
        }
    }

    fn random_span(rng: &mut Rng) -> Span {
        let start = [0, 1, 1_700_000_000_000_000_000][rng.below(3) as usize];
        Span {
            trace_id: id(rng, 16),
            span_id: id(rng, 8),
            parent_span_id: if rng.below(3) == 0 { Vec::new() } else { id(rng, 8) },
            trace_state: rng.pick(&TEXTS).to_string(),
            name: rng.pick(&["GET /x", "", "SELECT", "é"]).repeat(rng.below(3) as usize + 1),
            kind: rng.below(6) as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: [0, start, start + 5, start.saturating_sub(5)][rng.below(4) as usize],
            attributes: attrs(rng, 12, 0),
            events: (0..rng.below(3))
                .map(|_| span::Event {
                    name: rng.pick(&["exception", "log", ""]).to_string(),
                    attributes: attrs(rng, 4, 0),
                    ..Default::default()
                })
                .collect(),
            links: (0..rng.below(2)).map(|_| span::Link { trace_id: id(rng, 16), attributes: attrs(rng, 2, 0), ..Default::default() }).collect(),
            status: (rng.below(2) == 0).then(|| Status { code: rng.below(3) as i32, message: rng.pick(&TEXTS).to_string() }),
            flags: rng.below(2) as u32,
            ..Default::default()
        }
    }

    fn random_request(rng: &mut Rng) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: (0..rng.below(3) + 1)
                .map(|_| ResourceSpans {
                    resource: (rng.below(4) != 0).then(|| Resource { attributes: attrs(rng, 8, 0), ..Default::default() }),
                    scope_spans: (0..rng.below(3))
                        .map(|_| ScopeSpans {
                            scope: (rng.below(2) == 0).then(|| InstrumentationScope { name: "lib".into(), attributes: attrs(rng, 2, 0), ..Default::default() }),
                            spans: (0..rng.below(6)).map(|_| random_span(rng)).collect(),
                            schema_url: String::new(),
                        })
                        .collect(),
                    schema_url: rng.pick(&TEXTS).to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn generated_requests_and_their_corruptions_decode_as_prost_decodes_them() {
        let mut rng = Rng::seeded(0x5eed_1616);
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..400 {
            let body = random_request(&mut rng).encode_to_vec();
            assert!(check(&body));
            // Corruptions: a cut, a changed byte, an inserted byte.
            for _ in 0..20 {
                let mut bad = body.clone();
                match rng.below(3) {
                    0 if !bad.is_empty() => bad.truncate(rng.below(bad.len() as u64) as usize),
                    1 if !bad.is_empty() => {
                        let at = rng.below(bad.len() as u64) as usize;
                        bad[at] = rng.next() as u8;
                    }
                    _ => {
                        let at = rng.below(bad.len() as u64 + 1) as usize;
                        bad.insert(at, rng.next() as u8);
                    }
                }
                total += 1;
                accepted += usize::from(check(&bad));
            }
        }
        // Both outcomes must be exercised for the comparison to mean something.
        assert!(accepted > total / 20 && accepted < total * 19 / 20, "{accepted} of {total} corruptions accepted");
    }

    /// Raw protobuf writing for the encodings prost never produces itself.
    fn field(tag: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(tag, WireType::LengthDelimited, &mut out);
        encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    fn varint_field(tag: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(tag, WireType::Varint, &mut out);
        encode_varint(v, &mut out);
        out
    }

    fn fixed64_field(tag: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(tag, WireType::SixtyFourBit, &mut out);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    fn kv_str(k: &str, v: &str) -> Vec<u8> {
        [field(1, k.as_bytes()), field(2, &field(1, v.as_bytes()))].concat()
    }

    /// A valid span's fields: ids, times, a name.
    fn span_fields() -> Vec<u8> {
        [field(1, &[7; 16]), field(2, &[8; 8]), field(5, b"GET /x"), fixed64_field(7, 1_000), fixed64_field(8, 2_000)].concat()
    }

    /// `ExportTraceServiceRequest { resource_spans: [ResourceSpans { <rs> }] }`
    fn request_of(rs: &[u8]) -> Vec<u8> {
        field(1, rs)
    }

    fn spans_of(span: &[u8]) -> Vec<u8> {
        field(2, &field(2, span))
    }

    #[test]
    fn encodings_prost_reads_in_its_own_ways() {
        let resource = field(1, &[field(1, &kv_str("service.name", "pay")), field(1, &kv_str("service.version", "1.2"))].concat());
        let exception = field(11, &[field(3, &kv_str("exception.type", "Boom")), field(2, b"exception")].concat());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty request", Vec::new()),
            ("resource after the spans", request_of(&[spans_of(&span_fields()), resource.clone()].concat())),
            (
                "two resources merge",
                request_of(&[field(1, &field(1, &kv_str("host.name", "h"))), spans_of(&span_fields()), resource.clone()].concat()),
            ),
            ("fields of a span in any order", request_of(&spans_of(&[fixed64_field(8, 2_000), exception.clone(), span_fields()].concat()))),
            (
                "the last scalar wins",
                request_of(&spans_of(&[span_fields(), field(5, b"second"), fixed64_field(7, 1_500), varint_field(6, 2), varint_field(6, 3)].concat())),
            ),
            (
                "status messages merge",
                request_of(&spans_of(&[span_fields(), field(15, &varint_field(3, 2)), field(15, &field(2, b"why"))].concat())),
            ),
            (
                "a repeated value merges, the last oneof member wins",
                request_of(&spans_of(
                    &[span_fields(), field(4, &[1; 8]), field(9, &[field(1, b"db.system"), field(2, &varint_field(3, 4)), field(2, &field(1, b"pg")), field(2, b"")].concat())]
                        .concat(),
                )),
            ),
            (
                "a value before its key, and an int32 key index",
                request_of(&spans_of(&[span_fields(), field(9, &[field(2, &field(1, b"POST")), field(1, b"http.request.method"), varint_field(3, 5)].concat())].concat())),
            ),
            ("the second exception event is not the one", request_of(&spans_of(&[span_fields(), exception.clone(), field(11, &[field(2, b"exception"), field(3, &kv_str("exception.type", "Late"))].concat())].concat()))),
            ("an event renamed away from exception", request_of(&spans_of(&[span_fields(), field(11, &[field(2, b"exception"), field(2, b"log"), field(3, &kv_str("exception.type", "X"))].concat())].concat()))),
            ("unknown fields of every wire type", request_of(&spans_of(&[span_fields(), varint_field(99, 1), fixed64_field(98, 1), field(97, b"\xff\xfe"), vec![0xdd, 0x06, 1, 2, 3, 4]].concat()))),
            ("an unknown group", request_of(&spans_of(&[span_fields(), vec![0xab, 0x06, 0x08, 0x01, 0xab, 0x06, 0xac, 0x06, 0xac, 0x06]].concat()))),
            ("a group closed by another tag", request_of(&spans_of(&[span_fields(), vec![0xab, 0x06, 0xb4, 0x06]].concat()))),
            ("a stray end group", request_of(&spans_of(&[span_fields(), vec![0xac, 0x06]].concat()))),
            ("a known field with the wrong wire type", request_of(&spans_of(&[span_fields(), varint_field(5, 1)].concat()))),
            ("a fixed64 field as varint", request_of(&spans_of(&[span_fields(), varint_field(7, 1)].concat()))),
            ("tag 0", request_of(&spans_of(&[span_fields(), vec![0x00, 0x01]].concat()))),
            ("invalid UTF-8 in a skipped string", request_of(&spans_of(&[span_fields(), field(3, b"\xc3")].concat()))),
            ("invalid UTF-8 in a scope name", request_of(&field(2, &field(1, &field(1, b"\xff"))))),
            ("invalid UTF-8 in a schema url", request_of(&field(3, b"\xff"))),
            ("invalid UTF-8 in an entity ref", request_of(&field(1, &field(3, &field(3, b"\xff"))))),
            ("a length past the end", request_of(&spans_of(&[span_fields(), vec![0x2a, 0x10, b'x']].concat()))),
            ("a ten-byte varint that overflows", request_of(&spans_of(&[span_fields(), vec![0x30], vec![0xff; 9], vec![0x02]].concat()))),
            ("a truncated fixed32", request_of(&spans_of(&[span_fields(), vec![0x85, 0x01, 0x01]].concat()))),
        ];
        let mut accepted = 0;
        for (what, body) in &cases {
            let reference = ExportTraceServiceRequest::decode(&body[..]).map(|r| convert(&r).into_static());
            let fast = decode(body);
            match (&reference, &fast) {
                (Ok(r), Ok(f)) => {
                    assert_eq!(r, f, "{what}");
                    accepted += 1;
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{what}: prost {:?}, one-pass {:?}", reference.map(drop), fast.map(drop)),
            }
        }
        assert_eq!(accepted, 12, "the valid cases are the first twelve");
    }

    /// Arrays nested around the recursion limit, in a span attribute and in a skipped scope attribute, and
    /// groups nested around it in an unknown field.
    #[test]
    fn the_recursion_limit_is_prosts() {
        let mut outcomes = [Vec::new(), Vec::new(), Vec::new()];
        for depth in 40..55 {
            let mut any = field(1, b"leaf");
            for _ in 0..depth {
                any = field(5, &field(1, &any));
            }
            let kv = [field(1, b"deep"), field(2, &any)].concat();
            outcomes[0].push(check(&request_of(&spans_of(&[span_fields(), field(9, &kv)].concat()))));
            outcomes[1].push(check(&request_of(&field(2, &field(1, &field(3, &kv))))));
        }
        for depth in 90..100 {
            let mut group = vec![0x08, 0x01];
            for _ in 0..depth {
                group = [vec![0xab, 0x06], group, vec![0xac, 0x06]].concat();
            }
            outcomes[2].push(check(&request_of(&spans_of(&[span_fields(), group].concat()))));
        }
        for o in outcomes {
            assert!(o.contains(&true) && o.contains(&false), "the limit is inside the range tried: {o:?}");
        }
    }

    /// The inlined varints and keys against prost's, on every buffer of one and two bytes and those two
    /// followed by a third: the same value, the same bytes left, the same failures.
    #[test]
    fn varints_and_keys_are_read_as_prost_reads_them() {
        let mut bufs: Vec<Vec<u8>> = vec![vec![]];
        bufs.extend((0..=255u8).map(|a| vec![a]));
        bufs.extend((0..=255u8).flat_map(|a| (0..=255u8).flat_map(move |b| [vec![a, b], vec![a, b, 0x01], vec![a, b, 0x80]])));
        for buf in &bufs {
            let (mut ours, mut theirs) = (&buf[..], &buf[..]);
            let expected = prost::encoding::decode_varint(&mut theirs).ok();
            assert_eq!(read_varint(&mut ours).ok(), expected, "{buf:02x?}");
            if expected.is_some() {
                assert_eq!(ours.len(), theirs.len(), "{buf:02x?}");
            }
            let (mut ours, mut theirs) = (&buf[..], &buf[..]);
            let expected = prost::encoding::decode_key(&mut theirs).ok();
            assert_eq!(read_key(&mut ours).ok(), expected, "{buf:02x?}");
            if expected.is_some() {
                assert_eq!(ours.len(), theirs.len(), "{buf:02x?}");
            }
        }
    }

    /// The word-at-a-time ASCII check against std's, and `utf8` against `str::from_utf8`: every length up to
    /// five words, with a non-ASCII byte (valid and invalid UTF-8) at every position.
    #[test]
    fn strings_are_checked_as_from_utf8_checks_them() {
        for n in 0..=40 {
            let ascii: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(is_ascii(&ascii) && utf8(&ascii) == Ok(std::str::from_utf8(&ascii).unwrap()));
            for at in 0..n {
                for odd in [&[0x80][..], &[0xff], &[0xc3, 0xa9], &[0xe2, 0x80, 0xa6], &[0xc3], &[0xed, 0xa0, 0x80]] {
                    let mut s = ascii.clone();
                    s.splice(at..(at + odd.len()).min(n), odd.iter().copied());
                    assert_eq!(is_ascii(&s), s.is_ascii(), "{s:02x?}");
                    assert_eq!(utf8(&s).ok(), std::str::from_utf8(&s).ok(), "{s:02x?}");
                }
            }
        }
    }

    /// Every OTLP protobuf input the fuzzer kept (fuzz/corpus/otlp_protobuf), and its regressions.
    #[test]
    fn the_fuzz_corpus_decodes_as_prost_decodes_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut n = 0;
        for dir in ["corpus/otlp_protobuf", "regressions/otlp_protobuf"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
            for entry in entries {
                let body = std::fs::read(entry.unwrap().path()).unwrap();
                check(&body);
                n += 1;
            }
        }
        assert!(n > 100, "only {n} corpus inputs found");
    }
}
