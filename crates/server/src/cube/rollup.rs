//! The rollup's cells and tiers: what a bucket of the cube holds and how it is encoded.
//!
//! A cell is one combination of dimension values (interned to ids, see [`Interner`]) in one time bucket of
//! one tier, for one [`FactKind`], with its measures ([`Cell`]). Buckets of the 1-minute tier are built
//! at ingest; coarser tiers (10 min, 1 h, 1 day) are merges of the finer tier's buckets, made when those
//! are all closed. A closed bucket is stored as one blob (`cube::blob`): a long range reads a few coarse
//! blobs rather than millions of cells. docs/STORE.md ("Cube") describes the life of a bucket.

use std::sync::Arc;

use anyhow::Context;
use prost::Message;
use rustc_hash::FxHashMap;
use sightline_model::CubeDim;

use super::sketch::Sketch;
use super::FactKind;

pub const MINUTE_MS: i64 = 60_000;
/// Bucket sizes of the tiers, finest first; each divides the next.
pub const TIERS: [i64; 4] = [MINUTE_MS, 10 * MINUTE_MS, 60 * MINUTE_MS, 24 * 60 * MINUTE_MS];
/// A minute bucket closes this long after its end: a transaction ending in it usually arrives by then
/// (exporters batch for a few seconds); a later one is merged into the stored blob (rare, costs a rewrite).
pub const GRACE_MS: i64 = 2 * MINUTE_MS;
pub const NDIMS: usize = CubeDim::ALL.len();

/// Dimension value ids of a cell, indexed by `CubeDim as usize`; id 0 is the empty string.
pub type DimIds = [u32; NDIMS];
/// A bucket's cells.
pub type Bucket = FxHashMap<DimIds, Cell>;

pub fn kind_code(k: FactKind) -> u8 {
    match k {
        FactKind::Transaction => 0,
        FactKind::SqlStep => 1,
    }
}

pub const KINDS: [FactKind; 2] = [FactKind::Transaction, FactKind::SqlStep];

/// Start of the bucket of `tier` holding `t`.
pub fn bucket_of(tier: usize, t: i64) -> i64 {
    t.div_euclid(TIERS[tier]) * TIERS[tier]
}

/// The measures of one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub count: u64,
    pub errors: u64,
    /// Total duration in whole nanoseconds (durations arrive as whole ns): an integer, so a sum does not
    /// depend on the order cells were merged in, and a reopened store answers bit for bit the same.
    pub sum_ns: u64,
    /// Earliest and latest end time counted.
    pub first_ms: i64,
    pub last_ms: i64,
    pub sketch: Sketch,
}

impl Default for Cell {
    fn default() -> Self {
        Cell { count: 0, errors: 0, sum_ns: 0, first_ms: i64::MAX, last_ms: i64::MIN, sketch: Sketch::default() }
    }
}

impl Cell {
    pub fn add(&mut self, end_ms: i64, duration_ms: f64, error: bool) {
        self.count += 1;
        self.errors += error as u64;
        self.sum_ns = self.sum_ns.saturating_add((duration_ms.max(0.0) * 1e6).round() as u64);
        self.first_ms = self.first_ms.min(end_ms);
        self.last_ms = self.last_ms.max(end_ms);
        self.sketch.add(duration_ms);
    }

    pub fn merge(&mut self, o: &Cell) {
        self.count += o.count;
        self.errors += o.errors;
        self.sum_ns = self.sum_ns.saturating_add(o.sum_ns);
        self.first_ms = self.first_ms.min(o.first_ms);
        self.last_ms = self.last_ms.max(o.last_ms);
        self.sketch.merge(&o.sketch);
    }
}

/// Merges `from` into `into`, cell by cell.
pub fn merge_bucket(into: &mut Bucket, from: &Bucket) {
    for (k, c) in from {
        into.entry(*k).or_default().merge(c);
    }
}

/// Dimension values ↔ small ids, so a cell key is 36 bytes whatever the strings. Ids only grow (a value
/// seen once keeps its id for the life of the store); the store persists each new one with the batch that
/// first uses it.
#[derive(Debug)]
pub struct Interner {
    ids: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    /// Ids below this are on disk.
    pub persisted: usize,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner { ids: FxHashMap::default(), names: Vec::new(), persisted: 0 };
        i.intern("");
        i
    }
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(s);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The value of `id` (empty for an id this interner never gave, which only a corrupt blob holds).
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map(|s| &**s).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Restores id `id` read from disk (ids are stored densely, so they come back in order).
    pub fn restore(&mut self, id: u32, s: &str) -> anyhow::Result<()> {
        if id == 0 && s.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(id as usize == self.names.len(), "cube dimension id {id} out of order (expected {})", self.names.len());
        self.intern(s);
        self.persisted = self.names.len();
        Ok(())
    }

    /// Ids not yet on disk, with their values.
    pub fn unpersisted(&self) -> impl Iterator<Item = (u32, &str)> {
        self.names[self.persisted..].iter().enumerate().map(|(i, s)| ((self.persisted + i) as u32, &**s))
    }
}

/// A fact with its dimension values interned.
#[derive(Debug, Clone, PartialEq)]
pub struct IdFact {
    pub kind: FactKind,
    pub dims: DimIds,
    pub end_ms: i64,
    pub duration_ms: f64,
    pub error: bool,
}

// ----- the write-ahead rows (blobs: see `blob`) -------------------------------------------------------

/// One fact as written to the cube's write-ahead rows.
#[derive(Clone, PartialEq, prost::Message)]
struct FactRecord {
    #[prost(uint32, tag = "1")]
    kind: u32,
    #[prost(uint32, repeated, tag = "2")]
    dims: Vec<u32>,
    #[prost(int64, tag = "3")]
    end_ms: i64,
    #[prost(double, tag = "4")]
    duration_ms: f64,
    #[prost(bool, tag = "5")]
    error: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FactsRecord {
    #[prost(message, repeated, tag = "1")]
    facts: Vec<FactRecord>,
}

/// The write-ahead row of `facts`: a [`FactsRecord`], written field by field (the same bytes as building
/// the message and encoding it with prost, which the tests check) so that the committer, which writes
/// every group's facts, does not allocate a `dims` vector per fact first; lengths from prost, the bytes by
/// [`crate::wire`] (prost's varint writer was most of this function's time).
pub fn encode_facts<'a>(facts: impl Iterator<Item = &'a IdFact>) -> Vec<u8> {
    use crate::wire::{put_fixed64_field, put_key, put_varint, put_varint_field};
    use prost::encoding::{self as pe, WireType};
    let mut out = Vec::new();
    for f in facts {
        let kind = kind_code(f.kind) as u32;
        let dims_len: usize = f.dims.iter().map(|d| pe::encoded_len_varint(u64::from(*d))).sum();
        // Proto3: a field at its default is not written, as the derived encoder does. Packed `dims`: one
        // length-delimited field holding every value (`NDIMS` is never 0, so it is always written).
        let len = if kind != 0 { pe::uint32::encoded_len(1, &kind) } else { 0 }
            + pe::key_len(2)
            + pe::encoded_len_varint(dims_len as u64)
            + dims_len
            + if f.end_ms != 0 { pe::int64::encoded_len(3, &f.end_ms) } else { 0 }
            + if f.duration_ms != 0.0 { pe::double::encoded_len(4, &f.duration_ms) } else { 0 }
            + if f.error { pe::bool::encoded_len(5, &f.error) } else { 0 };
        out.reserve(1 + pe::encoded_len_varint(len as u64) + len);
        put_key(1, WireType::LengthDelimited, &mut out);
        put_varint(len as u64, &mut out);
        if kind != 0 {
            put_varint_field(1, u64::from(kind), &mut out);
        }
        put_key(2, WireType::LengthDelimited, &mut out);
        put_varint(dims_len as u64, &mut out);
        for d in f.dims {
            put_varint(u64::from(d), &mut out);
        }
        if f.end_ms != 0 {
            put_varint_field(3, f.end_ms as u64, &mut out);
        }
        if f.duration_ms != 0.0 {
            put_fixed64_field(4, f.duration_ms.to_bits(), &mut out);
        }
        if f.error {
            put_varint_field(5, 1, &mut out);
        }
    }
    out
}

pub fn decode_facts(bytes: &[u8]) -> anyhow::Result<Vec<IdFact>> {
    let r = FactsRecord::decode(bytes).context("decoding cube facts")?;
    Ok(r.facts
        .into_iter()
        .map(|f| {
            let mut dims = [0u32; NDIMS];
            for (d, v) in dims.iter_mut().zip(f.dims) {
                *d = v;
            }
            let kind = if f.kind == 1 { FactKind::SqlStep } else { FactKind::Transaction };
            IdFact { kind, dims, end_ms: f.end_ms, duration_ms: f.duration_ms, error: f.error }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write-ahead row written field by field is the derived encoding of the same message, byte for
    /// byte, defaults (left out) included.
    #[test]
    fn facts_encode_as_the_message_does() {
        let mut dims = [0u32; NDIMS];
        dims[2] = 300;
        dims[NDIMS - 1] = u32::MAX;
        let facts = [
            IdFact { kind: FactKind::Transaction, dims: [0; NDIMS], end_ms: 0, duration_ms: 0.0, error: false },
            IdFact { kind: FactKind::SqlStep, dims, end_ms: 1_733_400_000_123, duration_ms: 12.5, error: true },
            IdFact { kind: FactKind::Transaction, dims, end_ms: -5, duration_ms: -0.25, error: false },
        ];
        let message = FactsRecord {
            facts: facts
                .iter()
                .map(|f| FactRecord {
                    kind: kind_code(f.kind) as u32,
                    dims: f.dims.to_vec(),
                    end_ms: f.end_ms,
                    duration_ms: f.duration_ms,
                    error: f.error,
                })
                .collect(),
        };
        assert_eq!(encode_facts(facts.iter()), message.encode_to_vec());
        assert_eq!(decode_facts(&encode_facts(facts.iter())).unwrap(), facts);
        assert!(encode_facts([].iter()).is_empty());
    }

    #[test]
    fn buckets_and_facts_round_trip() {
        let mut b = Bucket::default();
        let mut dims = [0u32; NDIMS];
        dims[1] = 7;
        for (i, d) in [0.0, 0.5, 12.0, 3000.0, 12.1].into_iter().enumerate() {
            b.entry(dims).or_default().add(1_000 + i as i64, d, i == 2);
        }
        b.entry([3; NDIMS]).or_default().add(5, 1.0, false);
        assert_eq!(super::super::blob::decode_bucket(&super::super::blob::encode_bucket(&b)).unwrap(), b);
        let f = IdFact { kind: FactKind::SqlStep, dims, end_ms: 9, duration_ms: 1.5, error: true };
        assert_eq!(decode_facts(&encode_facts([f.clone()].iter())).unwrap(), vec![f]);
    }
}
