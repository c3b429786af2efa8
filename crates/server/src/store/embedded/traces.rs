//! The trace index: which requests stored spans of a trace, in memory.
//!
//! Why in memory: a request stores its spans as one block ([`block_key`](crate::store::record::block_key)),
//! not one key per trace, because each key costs the LSM tree ~2.4 µs of CPU whatever its size
//! (BENCHMARKS.md, issue 16). The lookup a per-trace key gave (a prefix scan) is this index instead: per
//! minute of the requests' keys, each request's key and, sorted, one 8-byte entry per trace and request (40
//! bits of the trace id's hash, 24 bits of the request's slot in its minute): ~8 bytes per trace, against
//! the ~85 bytes per transaction the columns take. It is rebuilt at a start from the records' trace lists
//! (which they carry for retention anyway), beside the columns, and dropped with them by retention.
//!
//! A hash hit is a candidate, not an answer: callers read the request's block and keep the spans whose
//! trace id matches, so a collision costs one read and nothing else.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

const MINUTE_MS: i64 = 60_000;
/// Bits of an entry that hold the request's slot in its minute: 16 M requests per minute per part.
const SLOT_BITS: u32 = 24;
const SLOTS: usize = 1 << SLOT_BITS;

/// The requests of one minute (by the end time in their key) and their traces' entries.
#[derive(Default)]
struct Part {
    /// `(end_ms, request id)`: the key of each request's block and record.
    requests: Vec<(i64, u64)>,
    /// `hash(trace) << 24 | slot`, sorted up to `sorted`, the rest appended since.
    entries: Vec<u64>,
    sorted: usize,
}

impl Part {
    fn bytes(&self) -> usize {
        self.requests.capacity() * 16 + self.entries.capacity() * 8
    }

    /// Sorts the entries once enough were appended that a lookup's linear scan of them would cost more
    /// than a sort amortised over them.
    fn settle(&mut self) {
        let unsorted = self.entries.len() - self.sorted;
        if unsorted > 4096.max(self.sorted / 4) {
            self.entries.sort_unstable();
            self.sorted = self.entries.len();
        }
    }

    fn find(&self, tag: u64, out: &mut Vec<(i64, u64)>) {
        let sorted = &self.entries[..self.sorted];
        let from = sorted.partition_point(|e| e >> SLOT_BITS < tag);
        let hits = sorted[from..].iter().take_while(|e| *e >> SLOT_BITS == tag);
        let tail = self.entries[self.sorted..].iter().filter(|e| *e >> SLOT_BITS == tag);
        out.extend(hits.chain(tail).map(|e| self.requests[(e & (SLOTS as u64 - 1)) as usize]));
    }
}

/// See the module docs.
#[derive(Default)]
pub(super) struct TraceIndex {
    /// By minute of the requests' end times; a minute with more than [`SLOTS`] requests has several parts.
    minutes: BTreeMap<i64, Vec<Part>>,
}

/// 40 bits of the trace id's hash, the high ones (where FxHash mixes best).
fn tag(trace: &[u8; 16]) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(trace) >> SLOT_BITS
}

impl TraceIndex {
    /// Records that the request keyed `(end_ms, id)` stored spans of `traces`.
    pub(super) fn insert(&mut self, end_ms: i64, id: u64, traces: &[[u8; 16]]) {
        let parts = self.minutes.entry(end_ms.div_euclid(MINUTE_MS)).or_default();
        if parts.last().is_none_or(|p| p.requests.len() == SLOTS) {
            parts.push(Part::default());
        }
        let part = parts.last_mut().expect("pushed above");
        let slot = part.requests.len() as u64;
        part.requests.push((end_ms, id));
        part.entries.extend(traces.iter().map(|t| tag(t) << SLOT_BITS | slot));
        part.settle();
    }

    /// The requests that may hold spans of `trace`, among those whose key's end time is at or after
    /// `from_ms` (a span's request ends no earlier than the span starts): `(end_ms, id)`, oldest request
    /// first, so a later copy of a span (an OTLP retry) is read after an earlier one.
    pub(super) fn requests_of(&self, trace: &[u8; 16], from_ms: i64) -> Vec<(i64, u64)> {
        let tag = tag(trace);
        let mut out = Vec::new();
        for parts in self.minutes.range(from_ms.div_euclid(MINUTE_MS)..).map(|(_, p)| p) {
            for part in parts {
                part.find(tag, &mut out);
            }
        }
        out.sort_unstable_by_key(|(_, id)| *id);
        out.dedup();
        out
    }

    /// Forgets the requests of minutes before `cutoff_ms`'s (retention deleted them).
    pub(super) fn drop_before(&mut self, cutoff_ms: i64) {
        self.minutes = self.minutes.split_off(&cutoff_ms.div_euclid(MINUTE_MS));
    }

    /// Bytes its vectors hold (capacity).
    pub(super) fn bytes(&self) -> u64 {
        self.minutes.values().flatten().map(Part::bytes).sum::<usize>() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(n: u64) -> [u8; 16] {
        let mut t = [0u8; 16];
        t[8..].copy_from_slice(&n.to_be_bytes());
        t
    }

    /// Every request is found for its traces, in the minutes asked for, sorted or still appended, and
    /// retention forgets whole minutes.
    #[test]
    fn finds_every_request_of_a_trace() {
        let mut ix = TraceIndex::default();
        let base = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS;
        // 3 minutes, 2 000 requests each of 8 traces; trace 7 in a request of every minute.
        for m in 0..3 {
            for r in 0..2_000u64 {
                let id = m as u64 * 10_000 + r;
                let traces: Vec<_> = (0..8).map(|i| trace(id * 8 + i + 100)).chain((r == 5).then(|| trace(7))).collect();
                ix.insert(base + m * MINUTE_MS + r as i64, id, &traces);
            }
        }
        assert_eq!(ix.requests_of(&trace(7), base), vec![(base + 5, 5), (base + MINUTE_MS + 5, 10_005), (base + 2 * MINUTE_MS + 5, 20_005)]);
        assert_eq!(ix.requests_of(&trace(7), base + MINUTE_MS).len(), 2, "from the second minute on");
        assert_eq!(ix.requests_of(&trace(10_001 * 8 + 3 + 100), base), vec![(base + MINUTE_MS + 1, 10_001)]);
        assert!(ix.requests_of(&trace(3), base).is_empty());
        assert!(ix.bytes() >= 3 * (2_000 * 16 + 16_001 * 8), "{}", ix.bytes());
        ix.drop_before(base + MINUTE_MS);
        assert_eq!(ix.requests_of(&trace(7), 0).len(), 2);
        assert!(ix.requests_of(&trace(5 * 8 + 100), 0).is_empty());
    }
}
