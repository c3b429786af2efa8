//! The byte layout of a stored bucket, read without copying.
//!
//! A query over a week reads a few dozen blobs of thousands of cells with hundreds of sketch bins each;
//! decoding them into structs (prost messages: three vectors per cell, then a map) cost more than the
//! merging itself. So a blob is a flat run of varints that a query walks in place ([`cells`]): a cell's
//! dimension ids and counters first, then its sketch as one length-prefixed run, skipped whole when the
//! cell is filtered out, merged straight from the bytes otherwise ([`CellView::merge_into`]).
//!
//! ```text
//! blob  := version(=1) ndims ncells cell*
//! cell  := dim{ndims} count errors sum_ns zigzag(first_ms) (last_ms − first_ms) zero nbins nbytes bin{nbins}
//! bin   := zigzag(key − previous key) count                      (all numbers LEB128 varints)
//! ```
//!
//! `ndims` lets a blob written before a dimension was added be read after (the new one reads as empty).

use anyhow::{bail, ensure, Context};

use super::rollup::{Bucket, Cell, DimIds, NDIMS};
use super::sketch::Sketch;

const VERSION: u8 = 1;

fn put(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// A reading position in a blob.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    fn varint(&mut self) -> anyhow::Result<u64> {
        let mut v = 0u64;
        for (i, b) in self.0.iter().enumerate().take(10) {
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(v);
            }
        }
        bail!("a cube blob ends inside a number")
    }

    fn bytes(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        ensure!(n <= self.0.len(), "a cube blob is cut short");
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
}

pub fn encode_bucket(b: &Bucket) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + b.len() * 32);
    out.push(VERSION);
    put(&mut out, NDIMS as u64);
    put(&mut out, b.len() as u64);
    let mut bins = Vec::new();
    for (dims, c) in b {
        for d in dims {
            put(&mut out, *d as u64);
        }
        put(&mut out, c.count);
        put(&mut out, c.errors);
        put(&mut out, c.sum_ns);
        put(&mut out, zigzag(c.first_ms));
        put(&mut out, c.last_ms.wrapping_sub(c.first_ms) as u64);
        put(&mut out, c.sketch.zero);
        put(&mut out, c.sketch.bins.len() as u64);
        bins.clear();
        let mut prev = 0i64;
        for (k, n) in &c.sketch.bins {
            put(&mut bins, zigzag(*k as i64 - prev));
            put(&mut bins, *n);
            prev = *k as i64;
        }
        put(&mut out, bins.len() as u64);
        out.extend_from_slice(&bins);
    }
    out
}

/// One cell of a blob, its sketch still in bytes.
pub struct CellView<'a> {
    pub dims: DimIds,
    pub count: u64,
    pub errors: u64,
    pub sum_ns: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    zero: u64,
    nbins: usize,
    bins: &'a [u8],
}

impl CellView<'_> {
    /// The sketch's `(key, count)` pairs, ascending.
    pub fn bins(&self) -> impl Iterator<Item = anyhow::Result<(i32, u64)>> + '_ {
        let mut r = Reader(self.bins);
        let mut key = 0i64;
        (0..self.nbins).map(move |_| {
            key += unzigzag(r.varint()?);
            let n = r.varint()?;
            Ok((i32::try_from(key).context("a cube sketch key out of range")?, n))
        })
    }

    /// Adds this cell to `into`.
    pub fn merge_into(&self, into: &mut Cell) -> anyhow::Result<()> {
        into.count += self.count;
        into.errors += self.errors;
        into.sum_ns = into.sum_ns.saturating_add(self.sum_ns);
        into.first_ms = into.first_ms.min(self.first_ms);
        into.last_ms = into.last_ms.max(self.last_ms);
        into.sketch.zero += self.zero;
        into.sketch.merge_sorted(self.bins(), self.nbins)
    }

    pub fn to_cell(&self) -> anyhow::Result<Cell> {
        let mut c = Cell::default();
        c.sketch.bins.reserve_exact(self.nbins);
        self.merge_into(&mut c)?;
        Ok(c)
    }
}

/// The cells of a blob, in stored order.
pub fn cells(bytes: &[u8]) -> anyhow::Result<impl Iterator<Item = anyhow::Result<CellView<'_>>>> {
    let mut r = Reader(bytes);
    let version = r.bytes(1)?[0];
    ensure!(version == VERSION, "cube blob version {version} is not known (expected {VERSION})");
    let ndims = r.varint()? as usize;
    let n = r.varint()?;
    Ok((0..n).map(move |_| {
        let mut dims = [0u32; NDIMS];
        for i in 0..ndims {
            let v = u32::try_from(r.varint()?).context("a cube dimension id out of range")?;
            if let Some(d) = dims.get_mut(i) {
                *d = v;
            }
        }
        let (count, errors, sum_ns) = (r.varint()?, r.varint()?, r.varint()?);
        let first_ms = unzigzag(r.varint()?);
        let last_ms = first_ms.wrapping_add(r.varint()? as i64);
        let zero = r.varint()?;
        let nbins = r.varint()? as usize;
        let len = r.varint()? as usize;
        let bins = r.bytes(len)?;
        Ok(CellView { dims, count, errors, sum_ns, first_ms, last_ms, zero, nbins, bins })
    }))
}

pub fn decode_bucket(bytes: &[u8]) -> anyhow::Result<Bucket> {
    let mut out = Bucket::new();
    for c in cells(bytes)? {
        let c = c?;
        match out.get_mut(&c.dims) {
            Some(into) => c.merge_into(into)?,
            None => {
                out.insert(c.dims, c.to_cell()?);
            }
        }
    }
    Ok(out)
}

impl Sketch {
    /// Adds the ascending `(key, count)` pairs of `other` (`n` of them): in place when every key is
    /// already here (the usual case once a group has merged a few cells), one sorted merge otherwise.
    pub fn merge_sorted(&mut self, other: impl Iterator<Item = anyhow::Result<(i32, u64)>>, n: usize) -> anyhow::Result<()> {
        if self.bins.is_empty() {
            self.bins.reserve_exact(n);
            for kv in other {
                self.bins.push(kv?);
            }
            return Ok(());
        }
        let mut missing: Vec<(i32, u64)> = Vec::new();
        let mut i = 0;
        for kv in other {
            let (k, c) = kv?;
            while i < self.bins.len() && self.bins[i].0 < k {
                i += 1;
            }
            match self.bins.get_mut(i) {
                Some(b) if b.0 == k => b.1 += c,
                _ => {
                    if missing.capacity() == 0 {
                        missing.reserve(n);
                    }
                    missing.push((k, c));
                }
            }
        }
        if !missing.is_empty() {
            self.merge(&Sketch { zero: 0, bins: missing });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_reads_back_as_written_and_merges_in_place() {
        let mut b = Bucket::new();
        let mut dims = [0u32; NDIMS];
        dims[1] = 300;
        for (i, d) in [0.0, 0.5, 12.0, 3000.0, 12.1, 1e-3, 9e6].into_iter().enumerate() {
            b.entry(dims).or_default().add(1_700_000_000_000 + i as i64, d, i == 2);
        }
        b.entry([u32::MAX; NDIMS]).or_default().add(-5, 1.0, false);
        let bytes = encode_bucket(&b);
        assert_eq!(decode_bucket(&bytes).unwrap(), b);
        // Merged from the bytes into an existing cell: the same as merging the cells.
        let mut into = b[&dims].clone();
        for c in cells(&bytes).unwrap() {
            let c = c.unwrap();
            if c.dims == dims {
                c.merge_into(&mut into).unwrap();
            }
        }
        let mut want = b[&dims].clone();
        want.merge(&b[&dims]);
        assert_eq!(into, want);
        assert!(decode_bucket(&bytes[..bytes.len() - 1]).is_err(), "a torn blob is an error, not a panic");
        assert!(decode_bucket(&[9]).is_err());
    }
}
