//! What the store keeps per span and per transaction, and the byte layout of its keys.
//!
//! Records are prost messages (derived, not hand-encoded) so old data stays readable when fields are added:
//! protobuf skips unknown tags and defaults missing ones. Keys are big-endian so that lexicographic order in
//! the LSM tree is time order (transactions) or trace order (spans).

use sightline_model::{Status, StepError, StepKind, TransactionSummary};

mod lineage;
mod span_ref;
pub use lineage::Lineage;
pub use span_ref::{span_refs, with_valid_ids, SpanRef};

/// `StepKind` as stored (protobuf has no Rust enums without codegen; these numbers are on disk: never reuse).
pub mod kind {
    pub const TRANSACTION: u32 = 0;
    pub const SQL: u32 = 1;
    pub const HTTP: u32 = 2;
    pub const METHOD: u32 = 3;
}

/// An exception event (or error status) of a span, as kept on disk.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorRecord {
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub message: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub stacktrace: Option<String>,
}

/// One span reduced to what the trace view shows. Smaller than the OTLP span (only the attributes Sightline
/// interprets, each truncated), which keeps ingest cheap and traces fast to read back.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanRecord {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// Empty for a root span.
    #[prost(bytes = "vec", tag = "3")]
    pub parent_span_id: Vec<u8>,
    #[prost(string, tag = "4")]
    pub service: String,
    #[prost(string, tag = "5")]
    pub name: String,
    /// OTLP `SpanKind` number (2 = SERVER, 3 = CLIENT).
    #[prost(int32, tag = "6")]
    pub span_kind: i32,
    #[prost(fixed64, tag = "7")]
    pub start_ns: u64,
    /// 0 while the span is still running (the in-flight convention, see `crate::ingest`).
    #[prost(fixed64, tag = "8")]
    pub end_ns: u64,
    #[prost(bool, tag = "9")]
    pub error: bool,
    /// One of [`kind`].
    #[prost(uint32, tag = "10")]
    pub step_kind: u32,
    /// SQL text or URL.
    #[prost(string, optional, tag = "11")]
    pub text: Option<String>,
    /// Database (system/name) or HTTP peer.
    #[prost(string, optional, tag = "12")]
    pub target: Option<String>,
    #[prost(string, optional, tag = "13")]
    pub thread: Option<String>,
    #[prost(message, optional, tag = "14")]
    pub failure: Option<ErrorRecord>,
    /// A root or SERVER-kind span: counted on the hitmap.
    #[prost(bool, tag = "15")]
    pub is_transaction: bool,
    /// The reporting resource's `service.instance.id`, else its `host.name`: the cube's instance.
    #[prost(string, optional, tag = "16")]
    pub instance: Option<String>,
    /// A transaction's `http.request.method`, else `http.method`.
    #[prost(string, optional, tag = "17")]
    pub http_method: Option<String>,
    /// A transaction's `http.response.status_code`, else `http.status_code`.
    #[prost(uint32, optional, tag = "18")]
    pub http_status: Option<u32>,
    /// A transaction's `service.version` (of its resource): "what changed" ranks it.
    #[prost(string, optional, tag = "19")]
    pub version: Option<String>,
    /// A transaction's attributes that Sightline does not interpret itself (bounded, see
    /// `crate::ingest::MAX_ATTRIBUTES`): "what changed" ranks their values.
    #[prost(message, repeated, tag = "20")]
    pub attributes: Vec<AttrRecord>,
    /// A stored transaction's steps from the same request, one per distinct step with its summed self time
    /// (only on the copy in its request's record, see `crate::compare::profile`).
    #[prost(message, repeated, tag = "21")]
    pub steps: Vec<StepRecord>,
}

/// One span attribute, its value as text.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct AttrRecord {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A distinct step of a transaction (SQL statement fingerprint, HTTP peer, method name) and the self time its
/// executions took in it.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct StepRecord {
    /// One of [`kind`] (never `TRANSACTION`).
    #[prost(uint32, tag = "1")]
    pub kind: u32,
    #[prost(string, tag = "2")]
    pub name: String,
    /// Summed self time (duration minus that of its children in the request), ns.
    #[prost(uint64, tag = "3")]
    pub self_ns: u64,
    /// Executions.
    #[prost(uint32, tag = "4")]
    pub count: u32,
}

/// A span's times as Sightline reads them, alike for a stored [`SpanRecord`] and ingest's [`SpanRef`].
pub trait SpanTimes {
    /// Start, ns since the epoch.
    fn start_ns(&self) -> u64;
    /// End, ns since the epoch; 0 while the span is still running.
    fn end_ns(&self) -> u64;

    /// Still running (reported with `end_time_unix_nano == 0`).
    fn in_flight(&self) -> bool {
        self.end_ns() == 0
    }

    fn start_ms(&self) -> i64 {
        (self.start_ns() / 1_000_000) as i64
    }

    fn end_ms(&self) -> i64 {
        (self.end_ns() / 1_000_000) as i64
    }

    fn duration_ms(&self) -> f64 {
        self.end_ns().saturating_sub(self.start_ns()) as f64 / 1e6
    }
}

impl SpanTimes for SpanRecord {
    fn start_ns(&self) -> u64 {
        self.start_ns
    }

    fn end_ns(&self) -> u64 {
        self.end_ns
    }
}

impl SpanRecord {
    pub fn step_kind(&self) -> StepKind {
        match self.step_kind {
            kind::TRANSACTION => StepKind::Transaction,
            kind::SQL => StepKind::Sql,
            kind::HTTP => StepKind::Http,
            _ => StepKind::Method,
        }
    }

    pub fn status(&self) -> Status {
        if self.error {
            Status::Error
        } else {
            Status::Ok
        }
    }

    /// The text shown in a list for a failed transaction: exception type, else its message.
    pub fn error_text(&self) -> Option<String> {
        if !self.error {
            return None;
        }
        let f = self.failure.as_ref()?;
        f.kind.clone().or_else(|| f.message.clone())
    }

    pub fn step_error(&self) -> Option<StepError> {
        self.failure.as_ref().map(|f| StepError {
            kind: f.kind.clone(),
            message: f.message.clone(),
            stacktrace: f.stacktrace.clone(),
        })
    }

    /// The list row of a transaction span.
    pub fn summary(&self) -> TransactionSummary {
        TransactionSummary {
            trace_id: const_hex::encode(&self.trace_id),
            span_id: const_hex::encode(&self.span_id),
            service: self.service.clone(),
            endpoint: self.name.clone(),
            start_ms: self.start_ms(),
            end_ms: self.end_ms(),
            duration_ms: self.duration_ms(),
            status: self.status(),
            error: self.error_text(),
            thread: self.thread.clone(),
        }
    }

    /// `trace_id ‖ span_id`, the identity of a span.
    pub fn ids(&self) -> [u8; 24] {
        span_ids(&self.trace_id, &self.span_id)
    }
}

/// `trace_id ‖ span_id`, the identity of a span (of either span type): ids of 16 and 8 bytes.
pub fn span_ids(trace_id: &[u8], span_id: &[u8]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(trace_id);
    k[16..].copy_from_slice(span_id);
    k
}

/// The finished spans of one trace that arrived in one request, stored together. Fewer, larger
/// entries make ingest several times cheaper for the LSM tree than one key per span (spans of a trace
/// usually arrive together). Stored compressed ([`pack_chunk`]), one per trace inside its request's block
/// ([`pack_block`]); stores written before have one under a key of its own ([`chunk_key`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanChunk {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<SpanRecord>,
}

/// A chunk as stored: a [`SpanChunk`] whose spans may be in `lz4` instead, the lz4 block of what field 1
/// would hold. Compressed, the journal, the memtable, the flush and the blob file all handle about a
/// third of the bytes (a trace's spans repeat its id, service, instance and statements). Chunks written
/// before, and those that do not compress, have their spans in field 1.
#[derive(Clone, PartialEq, prost::Message)]
struct StoredChunk {
    #[prost(message, repeated, tag = "1")]
    spans: Vec<SpanRecord>,
    /// lz4 block of the encoded spans (field 1's bytes); empty in an uncompressed chunk.
    #[prost(bytes = "vec", tag = "2")]
    lz4: Vec<u8>,
    /// The length of `lz4` decompressed.
    #[prost(uint32, tag = "3")]
    raw_len: u32,
}

/// Most bytes a compressed chunk may claim to expand to: a request's body is at most 16 MiB, and its
/// spans are smaller stored than sent. A larger claim is damage, not data.
const MAX_CHUNK_RAW: u32 = 64 * 1024 * 1024;

/// Appends the value stored for a chunk whose spans are encoded in `raw` (field 1 once per span, as
/// `prost::encoding::message::encode(1, span, raw)` writes them) to `out`: compressed when that is
/// smaller. `scratch` is reused from chunk to chunk.
pub fn pack_chunk(raw: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    use prost::encoding::{encode_key, encode_varint, WireType};
    scratch.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    let packed = match lz4_flex::block::compress_into(raw, scratch) {
        // The wrapper costs at most 12 bytes; compression must win by more than that.
        Ok(n) if n + 12 < raw.len() && raw.len() <= MAX_CHUNK_RAW as usize => Some(n),
        _ => None,
    };
    match packed {
        Some(n) => {
            encode_key(2, WireType::LengthDelimited, out);
            encode_varint(n as u64, out);
            out.extend_from_slice(&scratch[..n]);
            encode_key(3, WireType::Varint, out);
            encode_varint(raw.len() as u64, out);
        }
        None => out.extend_from_slice(raw),
    }
}

/// The spans of a stored chunk, compressed or not.
pub fn unpack_chunk(value: &[u8]) -> anyhow::Result<Vec<SpanRecord>> {
    use anyhow::Context;
    use prost::Message;
    let chunk = StoredChunk::decode(value).context("decoding a span chunk")?;
    unpacked(chunk.spans, &chunk.lz4, chunk.raw_len, "a span chunk")
}

/// The lz4 block `lz4`, which must decompress to exactly `raw_len` bytes (at most [`MAX_CHUNK_RAW`]).
fn decompress(lz4: &[u8], raw_len: u32, what: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    anyhow::ensure!(raw_len <= MAX_CHUNK_RAW, "{what} claims {raw_len} bytes");
    let raw = lz4_flex::block::decompress(lz4, raw_len as usize).with_context(|| format!("decompressing {what}"))?;
    anyhow::ensure!(raw.len() == raw_len as usize, "{what} decompressed to {} bytes, not {raw_len}", raw.len());
    Ok(raw)
}

/// `spans` followed by those in `lz4` (a compressed field 1, see [`pack_chunk`]), if any.
fn unpacked(mut spans: Vec<SpanRecord>, lz4: &[u8], raw_len: u32, what: &str) -> anyhow::Result<Vec<SpanRecord>> {
    use anyhow::Context;
    use prost::Message;
    if !lz4.is_empty() {
        let raw = decompress(lz4, raw_len, what)?;
        let inner = SpanChunk::decode(&raw[..]).with_context(|| format!("decoding {what}"))?;
        // Spans in field 1 beside a compressed block (not written today) come first, as on the wire.
        spans.extend(inner.spans);
    }
    Ok(spans)
}

/// What one request stored besides its span chunks, under one key ([`request_key`]): its new finished
/// transactions, each with its steps (what the columns are rebuilt from after a start), and the traces it
/// wrote a chunk for (what retention deletes with it). One record per request instead of one key per
/// transaction and one per trace and minute: the LSM tree's cost is per key (journal entry, memtable
/// insert, flush, compactions), and those keys were two thirds of what ingest wrote (BENCHMARKS.md,
/// issue 16, twelfth session). Fields 1–3 are laid out as in [`StoredChunk`], so [`pack_chunk`] writes them.
#[derive(Clone, PartialEq, prost::Message)]
struct StoredRequest {
    #[prost(message, repeated, tag = "1")]
    txs: Vec<SpanRecord>,
    #[prost(bytes = "vec", tag = "2")]
    lz4: Vec<u8>,
    #[prost(uint32, tag = "3")]
    raw_len: u32,
    /// The trace ids of the request's chunks, 16 bytes each.
    #[prost(bytes = "vec", tag = "4")]
    traces: Vec<u8>,
}

/// Appends a request's record to `out`: `txs` are its transactions encoded as [`pack_chunk`] takes spans,
/// `traces` the trace ids it stored chunks under.
pub fn pack_request(txs: &[u8], traces: &[[u8; 16]], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    use prost::encoding::{encode_key, encode_varint, WireType};
    pack_chunk(txs, scratch, out);
    if !traces.is_empty() {
        encode_key(4, WireType::LengthDelimited, out);
        encode_varint(traces.len() as u64 * 16, out);
        for t in traces {
            out.extend_from_slice(t);
        }
    }
}

/// The transactions and the traces of a request's record, over one decode (the start-up rebuild fills the
/// columns with the first and the trace index with the second).
pub fn request_contents(value: &[u8]) -> anyhow::Result<(Vec<SpanRecord>, Vec<[u8; 16]>)> {
    let r = decode_request(value)?;
    let traces = trace_ids(&r.traces)?;
    Ok((unpacked(r.txs, &r.lz4, r.raw_len, "a request record")?, traces))
}

/// The traces of a request's record (retention needs no more): its transactions stay compressed.
pub fn request_traces(value: &[u8]) -> anyhow::Result<Vec<[u8; 16]>> {
    trace_ids(&decode_request(value)?.traces)
}

fn decode_request(value: &[u8]) -> anyhow::Result<StoredRequest> {
    use anyhow::Context;
    use prost::Message;
    StoredRequest::decode(value).context("decoding a request record")
}

fn trace_ids(bytes: &[u8]) -> anyhow::Result<Vec<[u8; 16]>> {
    Ok(trace_list(bytes, "a request record")?.map(|c| c.try_into().expect("16 bytes")).collect())
}

/// A stored list of trace ids (16 bytes each, back to back) as its ids, borrowed; `what` holds it.
fn trace_list<'a>(bytes: &'a [u8], what: &str) -> anyhow::Result<std::slice::ChunksExact<'a, u8>> {
    anyhow::ensure!(bytes.len().is_multiple_of(16), "{what}'s trace list has {} bytes", bytes.len());
    Ok(bytes.chunks_exact(16))
}

/// Key of a request's record: `end_ms(8, BE) ‖ request_id(8, BE)`, `end_ms` the latest end of its
/// finished spans: time order, for retention and the start-up rebuild (newest first), like [`tx_key`].
pub fn request_key(end_ms: i64, request_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(end_ms.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&request_id.to_be_bytes());
    k
}

/// The request id of a [`request_key`].
pub fn request_key_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(8..16)?.try_into().ok()?))
}

/// A request's span block as stored ([`pack_block`]): the finished spans it brought, trace by trace, under
/// one key, lz4-compressed in frames of whole traces of up to [`FRAME_RAW`] bytes. A read of one trace (a
/// page row, a trace view) decompresses only the frame holding it and decodes only its spans.
/// A frame per trace (the fourteenth session's layout, in `chunks`, still read) meant an lz4 call per trace,
/// 5–9 % of ingest; one frame per request would make a page row of a 20 000-span request decompress
/// megabytes (BENCHMARKS.md, issue 16, fifteenth session).
// The layout's definition: written by hand (`pack_block`) and read by hand (`BlockView`) to spare copies;
// decoded as a whole only by tests.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, PartialEq, prost::Message)]
struct StoredBlock {
    /// The traces, 16 bytes each, in the order of their spans.
    #[prost(bytes = "vec", tag = "1")]
    traces: Vec<u8>,
    /// Where each trace's spans end: in the frames decompressed one after the other, or in `chunks` when
    /// there are no frames.
    #[prost(uint32, repeated, tag = "2")]
    ends: Vec<u32>,
    /// A chunk per trace ([`pack_chunk`]'s value): blocks written before frames.
    #[prost(bytes = "vec", tag = "3")]
    chunks: Vec<u8>,
    /// lz4 blocks of the traces' spans (field 1 of a [`SpanChunk`] once per span), a frame holding whole
    /// traces.
    #[prost(bytes = "vec", repeated, tag = "4")]
    frames: Vec<Vec<u8>>,
    /// Where each frame ends, decompressed, in the traces' spans (the offsets of `ends`).
    #[prost(uint32, repeated, tag = "5")]
    frame_ends: Vec<u32>,
}

/// Most bytes of spans a frame holds, unless one trace alone has more: large enough that lz4 finds the
/// repetition across traces (services, statements) and a 512-span request takes two or three calls, small
/// enough that a page row's read decompresses little, and under 64 KiB, where lz4's table is half the size.
const FRAME_RAW: usize = 60 * 1024;

/// Appends a request's block to `out`: `raw` holds the spans of each of `traces` (field 1 of a
/// [`SpanChunk`] once per span), those of `traces[i]` ending at `ends[i]`. `scratch` is reused from frame to
/// frame (lz4 needs its worst case allocated).
pub fn pack_block(traces: &[[u8; 16]], ends: &[u32], raw: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    use prost::encoding::{encode_key, encode_varint, WireType};
    encode_key(1, WireType::LengthDelimited, out);
    encode_varint(traces.len() as u64 * 16, out);
    for t in traces {
        out.extend_from_slice(t);
    }
    prost::encoding::uint32::encode_packed(2, ends, out);
    let mut frame_ends = Vec::new();
    let mut from = 0usize;
    for (i, &end) in ends.iter().enumerate() {
        // A frame closes at a trace's end when the next trace would take it past `FRAME_RAW`.
        let next = ends.get(i + 1).map_or(usize::MAX, |&e| e as usize);
        if next - from > FRAME_RAW || i + 1 == ends.len() {
            let frame = &raw[from..end as usize];
            scratch.resize(lz4_flex::block::get_maximum_output_size(frame.len()), 0);
            let n = lz4_flex::block::compress_into(frame, scratch).expect("the output has the worst case's size");
            encode_key(4, WireType::LengthDelimited, out);
            encode_varint(n as u64, out);
            out.extend_from_slice(&scratch[..n]);
            frame_ends.push(end);
            from = end as usize;
        }
    }
    prost::encoding::uint32::encode_packed(5, &frame_ends, out);
}

/// The spans of `trace` in a stored block (none if it has no spans there); an error if the block is
/// damaged.
pub fn block_trace(value: &[u8], trace: &[u8; 16]) -> anyhow::Result<Vec<SpanRecord>> {
    use anyhow::Context;
    use prost::Message;
    let b = BlockView::parse(value).context("decoding a span block")?;
    let mut traces = trace_list(b.traces, "a span block")?;
    let n = traces.len();
    anyhow::ensure!(n == b.ends.len(), "a span block names {n} traces and {} ends", b.ends.len());
    let Some(i) = traces.position(|t| t == trace) else { return Ok(Vec::new()) };
    let start = if i == 0 { 0 } else { b.ends[i - 1] as usize };
    let end = b.ends[i] as usize;
    if b.frames.is_empty() {
        let chunk = b.chunks.get(start..end).context("a span block's chunk lies outside it")?;
        return unpack_chunk(chunk);
    }
    anyhow::ensure!(b.frames.len() == b.frame_ends.len(), "a span block has {} frames and {} ends", b.frames.len(), b.frame_ends.len());
    // The frame holding the trace: the first that ends at or after the trace's end.
    let f = b.frame_ends.partition_point(|&e| (e as usize) < end);
    let frame = b.frames.get(f).context("a trace's spans lie outside their block")?;
    let frame_start = if f == 0 { 0 } else { b.frame_ends[f - 1] as usize };
    let frame_len = b.frame_ends[f].checked_sub(frame_start as u32).filter(|_| start >= frame_start);
    let raw = decompress(frame, frame_len.context("a span block's frames are out of order")?, "a span block's frame")?;
    let spans = raw.get(start - frame_start..end - frame_start).context("a trace's spans lie outside their frame")?;
    Ok(SpanChunk::decode(spans).context("decoding a trace's spans in a span block")?.spans)
}

/// A stored block's fields ([`StoredBlock`]) as slices of the value: a page row reads one trace of a block
/// that may hold 20 000 (megabytes), and decoding the whole into a `StoredBlock` copied all of it, ~1 ms
/// per row (BENCHMARKS.md, issue 16, fifteenth session).
#[derive(Default)]
struct BlockView<'a> {
    traces: &'a [u8],
    ends: Vec<u32>,
    chunks: &'a [u8],
    frames: Vec<&'a [u8]>,
    frame_ends: Vec<u32>,
}

impl<'a> BlockView<'a> {
    /// Reads the fields as prost would (a repeated number packed or not, the last copy of a single field),
    /// skipping unknown ones.
    fn parse(mut buf: &'a [u8]) -> anyhow::Result<Self> {
        use prost::encoding::{decode_key, decode_varint, WireType};
        let mut v = BlockView::default();
        let number = |x: u64| u32::try_from(x).map_err(|_| anyhow::anyhow!("a span block's offset {x} is out of range"));
        while !buf.is_empty() {
            let (tag, wire) = decode_key(&mut buf)?;
            match wire {
                WireType::LengthDelimited => {
                    let len = usize::try_from(decode_varint(&mut buf)?)?;
                    anyhow::ensure!(len <= buf.len(), "a span block's field {tag} runs past its end");
                    let (field, rest) = buf.split_at(len);
                    buf = rest;
                    match tag {
                        1 => v.traces = field,
                        2 | 5 => {
                            let out = if tag == 2 { &mut v.ends } else { &mut v.frame_ends };
                            let mut packed = field;
                            while !packed.is_empty() {
                                out.push(number(decode_varint(&mut packed)?)?);
                            }
                        }
                        3 => v.chunks = field,
                        4 => v.frames.push(field),
                        _ => {}
                    }
                }
                WireType::Varint => {
                    let x = decode_varint(&mut buf)?;
                    match tag {
                        2 => v.ends.push(number(x)?),
                        5 => v.frame_ends.push(number(x)?),
                        _ => {}
                    }
                }
                WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                    let len = if wire == WireType::SixtyFourBit { 8 } else { 4 };
                    anyhow::ensure!(len <= buf.len(), "a span block's field {tag} runs past its end");
                    buf = &buf[len..];
                }
                WireType::StartGroup | WireType::EndGroup => anyhow::bail!("a span block has a group (field {tag})"),
            }
        }
        Ok(v)
    }
}

/// How many frames a stored block has (tests).
#[cfg(test)]
pub fn block_frames(value: &[u8]) -> usize {
    use prost::Message;
    StoredBlock::decode(value).map_or(0, |b| b.frames.len())
}

/// Key of a request's span block ([`pack_block`]): the key of its record ([`request_key`]), in a keyspace
/// of its own. One key per request instead of one per trace:
/// a key costs the LSM tree ~2.4 µs of CPU whatever its size (BENCHMARKS.md, issue 16, thirteenth
/// session); a trace is found through the in-memory trace index instead of a prefix scan.
pub fn block_key(end_ms: i64, request_id: u64) -> [u8; 16] {
    request_key(end_ms, request_id)
}

/// Key of a span chunk (stores written before span blocks): `trace_id(16) ‖ chunk_id(8, BE)`. Chunk ids increase, so a later copy of a span
/// (an OTLP retry) is read after, and wins over, an earlier one. Today the chunk id is the request's id (a
/// request stores one chunk per trace), so its record ([`request_key`]) names each chunk it wrote.
pub fn chunk_key(trace_id: &[u8; 16], chunk_id: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(trace_id);
    k[16..].copy_from_slice(&chunk_id.to_be_bytes());
    k
}

/// Key of a transaction: `end_ms(8, BE) ‖ trace_id(16) ‖ span_id(8)`: time order for retention and
/// start-up rebuild, and the same span stored twice (an OTLP retry) lands on the same key.
pub fn tx_key(end_ms: i64, ids: &[u8; 24]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&(end_ms.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(ids);
    k
}

/// Key of the trace-by-minute index retention used before request records (stores written before them
/// still have it): `minute(8, BE) ‖ trace_id(16)`.
pub fn minute_key(minute: i64, trace_id: &[u8]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&(minute.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&trace_id[..16]);
    k
}

/// Reads the `end_ms` back out of a [`tx_key`].
pub fn tx_key_end_ms(key: &[u8]) -> Option<i64> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?) as i64)
}
