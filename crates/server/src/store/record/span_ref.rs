//! A span on its way into the store: [`SpanRecord`]'s fields, borrowed from the request wherever they can be.
//!
//! Why: ingest used to build an owned `SpanRecord` per span — about eight allocations (ids, service, name,
//! statement, target, instance …) — only to encode it into its trace's chunk and free it. Most spans are
//! steps, whose every string is a slice of the request's bytes (a cut is the only exception, and rare), so
//! ingest builds these instead and the embedded store encodes them straight into the span block. Only a
//! transaction (and a running span) becomes an owned record, because the store keeps it.
//!
//! [`SpanRef::encode`] writes exactly the bytes `prost` writes for the equivalent `SpanRecord` (tested on
//! generated records), so what is stored is unchanged and is read back as `SpanRecord`s.

use std::borrow::Cow;

use prost::encoding::{encoded_len_varint, key_len, message, WireType};

use super::{AttrRecord, ErrorRecord, SpanRecord, SpanTimes};
use crate::wire::{put_delimited, put_fixed64_field, put_key, put_varint, put_varint_field};

/// [`SpanRecord`] without its steps (they are worked out in the store), each field borrowed or owned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRef<'a> {
    pub trace_id: Cow<'a, [u8]>,
    pub span_id: Cow<'a, [u8]>,
    /// Empty for a root span.
    pub parent_span_id: Cow<'a, [u8]>,
    pub service: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub span_kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub error: bool,
    pub step_kind: u32,
    pub text: Option<Cow<'a, str>>,
    pub target: Option<Cow<'a, str>>,
    pub thread: Option<Cow<'a, str>>,
    pub failure: Option<Cow<'a, ErrorRecord>>,
    pub is_transaction: bool,
    pub instance: Option<Cow<'a, str>>,
    pub http_method: Option<Cow<'a, str>>,
    pub http_status: Option<u32>,
    pub version: Option<Cow<'a, str>>,
    pub attributes: Cow<'a, [AttrRecord]>,
}

impl SpanRecord {
    /// This record's fields, borrowed (its steps left out).
    pub fn as_span_ref(&self) -> SpanRef<'_> {
        SpanRef {
            trace_id: Cow::Borrowed(&self.trace_id),
            span_id: Cow::Borrowed(&self.span_id),
            parent_span_id: Cow::Borrowed(&self.parent_span_id),
            service: Cow::Borrowed(&self.service),
            name: Cow::Borrowed(&self.name),
            span_kind: self.span_kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            error: self.error,
            step_kind: self.step_kind,
            text: self.text.as_deref().map(Cow::Borrowed),
            target: self.target.as_deref().map(Cow::Borrowed),
            thread: self.thread.as_deref().map(Cow::Borrowed),
            failure: self.failure.as_ref().map(Cow::Borrowed),
            is_transaction: self.is_transaction,
            instance: self.instance.as_deref().map(Cow::Borrowed),
            http_method: self.http_method.as_deref().map(Cow::Borrowed),
            http_status: self.http_status,
            version: self.version.as_deref().map(Cow::Borrowed),
            attributes: Cow::Borrowed(&self.attributes),
        }
    }
}

/// Owned records as the spans the store and the ingest-side functions take (borrowed, nothing copied).
pub fn span_refs(spans: &[SpanRecord]) -> Vec<SpanRef<'_>> {
    spans.iter().map(SpanRecord::as_span_ref).collect()
}

/// `Option<Cow<str>>` owned.
fn owned(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_deref().map(str::to_string)
}

/// `Option<Cow<str>>` made `'static`.
fn into_static(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    s.map(|s| Cow::Owned(s.into_owned()))
}

/// Length of a length-delimited field of `n` bytes, key included.
fn delimited_len(tag: u32, n: usize) -> usize {
    key_len(tag) + encoded_len_varint(n as u64) + n
}

/// A proto3 `bytes`/`string` field: left out when empty, as prost does.
#[inline(always)]
fn put_nonempty(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    if !bytes.is_empty() {
        put_delimited(tag, bytes, buf);
    }
}

fn nonempty_len(tag: u32, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        delimited_len(tag, n)
    }
}

/// An `optional string` field: present whenever it is `Some`, even empty.
#[inline(always)]
fn put_optional(tag: u32, s: &Option<Cow<'_, str>>, buf: &mut Vec<u8>) {
    if let Some(s) = s {
        put_delimited(tag, s.as_bytes(), buf);
    }
}

fn optional_len(tag: u32, s: &Option<Cow<'_, str>>) -> usize {
    s.as_ref().map_or(0, |s| delimited_len(tag, s.len()))
}

impl SpanTimes for SpanRef<'_> {
    fn start_ns(&self) -> u64 {
        self.start_ns
    }

    fn end_ns(&self) -> u64 {
        self.end_ns
    }
}

/// `spans` without those whose ids the store cannot key (not 16 and 8 bytes); borrowed when that is all
/// of them, as it is for everything ingest built.
pub fn with_valid_ids<'s, 'a>(spans: &'s [SpanRef<'a>]) -> Cow<'s, [SpanRef<'a>]> {
    if spans.iter().all(SpanRef::has_valid_ids) {
        Cow::Borrowed(spans)
    } else {
        Cow::Owned(spans.iter().filter(|s| s.has_valid_ids()).cloned().collect())
    }
}

impl SpanRef<'_> {
    /// The owned record (no steps).
    pub fn to_record(&self) -> SpanRecord {
        SpanRecord {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self.parent_span_id.to_vec(),
            service: self.service.to_string(),
            name: self.name.to_string(),
            span_kind: self.span_kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            error: self.error,
            step_kind: self.step_kind,
            text: owned(&self.text),
            target: owned(&self.target),
            thread: owned(&self.thread),
            failure: self.failure.as_deref().cloned(),
            is_transaction: self.is_transaction,
            instance: owned(&self.instance),
            http_method: owned(&self.http_method),
            http_status: self.http_status,
            version: owned(&self.version),
            attributes: self.attributes.to_vec(),
            steps: Vec::new(),
        }
    }

    /// The same span owning everything it borrowed.
    pub fn into_static(self) -> SpanRef<'static> {
        SpanRef {
            trace_id: Cow::Owned(self.trace_id.into_owned()),
            span_id: Cow::Owned(self.span_id.into_owned()),
            parent_span_id: Cow::Owned(self.parent_span_id.into_owned()),
            service: Cow::Owned(self.service.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            span_kind: self.span_kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            error: self.error,
            step_kind: self.step_kind,
            text: into_static(self.text),
            target: into_static(self.target),
            thread: into_static(self.thread),
            failure: self.failure.map(|f| Cow::Owned(f.into_owned())),
            is_transaction: self.is_transaction,
            instance: into_static(self.instance),
            http_method: into_static(self.http_method),
            http_status: self.http_status,
            version: into_static(self.version),
            attributes: Cow::Owned(self.attributes.into_owned()),
        }
    }

    /// `trace_id ‖ span_id`, the identity of a span (ids of 16 and 8 bytes: the store checks).
    pub fn ids(&self) -> [u8; 24] {
        super::span_ids(&self.trace_id, &self.span_id)
    }

    /// Whether the ids have the lengths the store keys spans by (ingest validates them; other callers may not).
    pub fn has_valid_ids(&self) -> bool {
        self.trace_id.len() == 16 && self.span_id.len() == 8
    }

    /// The length of the message's body, as `prost::Message::encoded_len` of the equivalent record.
    fn body_len(&self) -> usize {
        use prost::encoding::{bool, fixed64, int32, uint32};
        let mut n = nonempty_len(1, self.trace_id.len())
            + nonempty_len(2, self.span_id.len())
            + nonempty_len(3, self.parent_span_id.len())
            + nonempty_len(4, self.service.len())
            + nonempty_len(5, self.name.len());
        if self.span_kind != 0 {
            n += int32::encoded_len(6, &self.span_kind);
        }
        if self.start_ns != 0 {
            n += fixed64::encoded_len(7, &self.start_ns);
        }
        if self.end_ns != 0 {
            n += fixed64::encoded_len(8, &self.end_ns);
        }
        if self.error {
            n += bool::encoded_len(9, &self.error);
        }
        if self.step_kind != 0 {
            n += uint32::encoded_len(10, &self.step_kind);
        }
        n += optional_len(11, &self.text) + optional_len(12, &self.target) + optional_len(13, &self.thread);
        if let Some(f) = &self.failure {
            n += message::encoded_len(14, f.as_ref());
        }
        if self.is_transaction {
            n += bool::encoded_len(15, &self.is_transaction);
        }
        n += optional_len(16, &self.instance) + optional_len(17, &self.http_method);
        if let Some(s) = &self.http_status {
            n += uint32::encoded_len(18, s);
        }
        n + optional_len(19, &self.version) + message::encoded_len_repeated(20, &self.attributes)
    }

    /// Appends the span as field `tag` of a message (key, length, body), byte for byte what
    /// `prost::encoding::message::encode(tag, &record, buf)` writes for the equivalent [`SpanRecord`].
    pub fn encode(&self, tag: u32, buf: &mut Vec<u8>) {
        let len = self.body_len();
        buf.reserve(key_len(tag) + encoded_len_varint(len as u64) + len);
        put_key(tag, WireType::LengthDelimited, buf);
        put_varint(len as u64, buf);
        put_nonempty(1, &self.trace_id, buf);
        put_nonempty(2, &self.span_id, buf);
        put_nonempty(3, &self.parent_span_id, buf);
        put_nonempty(4, self.service.as_bytes(), buf);
        put_nonempty(5, self.name.as_bytes(), buf);
        if self.span_kind != 0 {
            // int32: a negative value is sign-extended to ten bytes, as prost writes it.
            put_varint_field(6, self.span_kind as i64 as u64, buf);
        }
        if self.start_ns != 0 {
            put_fixed64_field(7, self.start_ns, buf);
        }
        if self.end_ns != 0 {
            put_fixed64_field(8, self.end_ns, buf);
        }
        if self.error {
            put_varint_field(9, 1, buf);
        }
        if self.step_kind != 0 {
            put_varint_field(10, u64::from(self.step_kind), buf);
        }
        put_optional(11, &self.text, buf);
        put_optional(12, &self.target, buf);
        put_optional(13, &self.thread, buf);
        if let Some(f) = &self.failure {
            message::encode(14, f.as_ref(), buf);
        }
        if self.is_transaction {
            put_varint_field(15, 1, buf);
        }
        put_optional(16, &self.instance, buf);
        put_optional(17, &self.http_method, buf);
        if let Some(s) = self.http_status {
            put_varint_field(18, u64::from(s), buf);
        }
        put_optional(19, &self.version, buf);
        for a in self.attributes.iter() {
            // AttrRecord { string key = 1; string value = 2; }
            put_key(20, WireType::LengthDelimited, buf);
            put_varint((nonempty_len(1, a.key.len()) + nonempty_len(2, a.value.len())) as u64, buf);
            put_nonempty(1, a.key.as_bytes(), buf);
            put_nonempty(2, a.value.as_bytes(), buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-zé/ ]{1,40}", "x{200,300}"]
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), len)]
    }

    prop_compose! {
        fn record()(
            ids in (id(16), id(8), id(8)),
            strings in (text(), text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
            scalars in (any::<i32>(), any::<u64>(), any::<u64>(), any::<bool>(), 0u32..5, any::<bool>(), proptest::option::of(any::<u32>())),
            failure in proptest::option::of((opt_text(), opt_text(), opt_text())),
            attributes in proptest::collection::vec((text(), text()), 0..3),
            zeros in any::<[bool; 3]>(),
        ) -> SpanRecord {
            let (trace_id, span_id, parent_span_id) = ids;
            let (service, name, text, target, thread, instance, http_method, version) = strings;
            let (span_kind, start_ns, end_ns, error, step_kind, is_transaction, http_status) = scalars;
            SpanRecord {
                trace_id,
                span_id,
                parent_span_id,
                service,
                name,
                // Defaults are left out of the encoding: some of each.
                span_kind: if zeros[0] { 0 } else { span_kind },
                start_ns: if zeros[1] { 0 } else { start_ns },
                end_ns: if zeros[2] { 0 } else { end_ns },
                error,
                step_kind,
                text,
                target,
                thread,
                failure: failure.map(|(kind, message, stacktrace)| ErrorRecord { kind, message, stacktrace }),
                is_transaction,
                instance,
                http_method,
                http_status,
                version,
                attributes: attributes.into_iter().map(|(key, value)| AttrRecord { key, value }).collect(),
                steps: Vec::new(),
            }
        }
    }

    proptest! {
        /// The stored bytes are those of the record: a chunk written from references reads back as before.
        #[test]
        fn encodes_as_the_record_does(rec in record()) {
            let mut expected = Vec::new();
            message::encode(1, &rec, &mut expected);
            let mut got = Vec::new();
            rec.as_span_ref().encode(1, &mut got);
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(rec.as_span_ref().to_record(), rec.clone());
            prop_assert_eq!(rec.as_span_ref().into_static().to_record(), rec);
        }
    }
}
