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

use super::acc::Acc;
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
        // Most numbers of a blob (key deltas, small counts) fit one byte.
        if let Some(&b) = self.0.first() {
            if b < 0x80 {
                self.0 = &self.0[1..];
                return Ok(b as u64);
            }
        }
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
    /// Adds this cell to `into`.
    pub fn merge_into(&self, into: &mut Cell) -> anyhow::Result<()> {
        into.count += self.count;
        into.errors += self.errors;
        into.sum_ns = into.sum_ns.saturating_add(self.sum_ns);
        into.first_ms = into.first_ms.min(self.first_ms);
        into.last_ms = into.last_ms.max(self.last_ms);
        into.sketch.zero += self.zero;
        into.sketch.merge_encoded(self.bins, self.nbins)
    }

    /// Adds this cell to a query's accumulator.
    pub fn add_to(&self, acc: &mut Acc, budget: &mut usize) -> anyhow::Result<()> {
        acc.add_counters(self.count, self.errors, self.sum_ns, self.first_ms, self.last_ms, self.zero);
        let mut r = Reader(self.bins);
        let mut key = 0i64;
        for _ in 0..self.nbins {
            key += unzigzag(r.varint()?);
            let n = r.varint()?;
            acc.add_bin(key_i32(key)?, n, budget);
        }
        Ok(())
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
    let mut out = Bucket::default();
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
    /// Adds the `n` encoded bins of a blob cell: in place when every key is already here (the usual case
    /// once a group has merged a few cells), with one sorted merge of the missing ones otherwise. The hot
    /// loop of a cube query.
    fn merge_encoded(&mut self, bytes: &[u8], n: usize) -> anyhow::Result<()> {
        let mut r = Reader(bytes);
        let mut key = 0i64;
        if self.bins.is_empty() {
            self.bins.reserve_exact(n);
            for _ in 0..n {
                key += unzigzag(r.varint()?);
                let c = r.varint()?;
                self.bins.push((key_i32(key)?, c));
            }
            return Ok(());
        }
        let mut missing: Vec<(i32, u64)> = Vec::new();
        let mut i = 0;
        for _ in 0..n {
            key += unzigzag(r.varint()?);
            let (k, c) = (key_i32(key)?, r.varint()?);
            i = seek(&self.bins, i, k);
            match self.bins.get_mut(i) {
                Some(b) if b.0 == k => b.1 += c,
                _ => missing.push((k, c)),
            }
        }
        if !missing.is_empty() {
            self.merge(&Sketch { zero: 0, bins: missing });
        }
        Ok(())
    }
}

/// The first index from `i` on whose key is ≥ `k`, galloping: a cell of a few bins merged into a group
/// of hundreds costs a few probes per bin, not a walk over the group.
#[inline]
fn seek(bins: &[(i32, u64)], i: usize, k: i32) -> usize {
    if bins.get(i).is_none_or(|b| b.0 >= k) {
        return i;
    }
    // bins[lo] < k; look for the end of the run below k by doubling steps.
    let (mut lo, mut step) = (i, 1);
    while lo + step < bins.len() && bins[lo + step].0 < k {
        lo += step;
        step *= 2;
    }
    // Then halve: the answer is in (lo, hi].
    let mut hi = (lo + step).min(bins.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if bins[mid].0 < k {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[inline]
fn key_i32(k: i64) -> anyhow::Result<i32> {
    i32::try_from(k).map_err(|_| anyhow::anyhow!("a cube sketch key out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_reads_back_as_written_and_merges_in_place() {
        let mut b = Bucket::default();
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

    #[test]
    fn seek_finds_the_first_key_not_below() {
        let bins: Vec<(i32, u64)> = (0..100).map(|k| (k * 3, 1)).collect();
        for start in [0, 1, 7, 50, 99, 100] {
            for k in -2..305 {
                let want = start + bins[start.min(100)..].iter().take_while(|b| b.0 < k).count();
                assert_eq!(seek(&bins, start, k), want, "from {start} to {k}");
            }
        }
    }
}
