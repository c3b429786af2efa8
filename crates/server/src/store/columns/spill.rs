//! Column blocks evicted from memory to files, and read back when a query reaches their minute.
//!
//! Why files of raw columns and not the `tx` records: reading a minute back must cost about what scanning
//! it in memory does, plus the read. Decoding `tx` records (protobuf, interning names) runs at ~0.4 M rows/s
//! here, a raw block at memory speed; and a separate file per segment is dropped by unlinking it, with no
//! write amplification or memtable in fjall. The files are a cache of the `requests` records, not a second
//! source of truth: they refer to interned ids of this process, so a start deletes them and the history
//! loader rebuilds (and evicts again) from `tx`. No fsync for the same reason.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;

use super::Block;

/// The directory evicted blocks go to (emptied when the store opens).
#[derive(Debug)]
pub struct SpillDir {
    dir: PathBuf,
    next: AtomicU64,
}

impl SpillDir {
    /// Creates `dir` empty: whatever an earlier process evicted refers to its interned ids.
    pub fn create(dir: &Path) -> anyhow::Result<Arc<Self>> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot empty {}", dir.display())),
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Arc::new(SpillDir { dir: dir.to_path_buf(), next: AtomicU64::new(0) }))
    }

    /// Writes `bytes` (an [`encode`]d block of `rows` rows of `minute`) to a new file.
    pub fn write(&self, minute: i64, rows: usize, bytes: &[u8]) -> anyhow::Result<Segment> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{minute}-{n}.col"));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Segment { rows, bytes: bytes.len() as u64, path })
    }
}

/// One evicted part of a minute's block: its rows are in the file, nowhere in memory. Dropping it (retention,
/// an eviction that lost a race) deletes the file.
#[derive(Debug)]
pub struct Segment {
    pub rows: usize,
    /// Size of the file.
    pub bytes: u64,
    path: PathBuf,
}

impl Segment {
    /// Reads the block back.
    pub(super) fn read(&self) -> anyhow::Result<Block> {
        let raw = std::fs::read(&self.path).with_context(|| format!("cannot read evicted columns {}", self.path.display()))?;
        decode(&raw).with_context(|| format!("evicted columns {} are damaged", self.path.display()))
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, path = %self.path.display(), "cannot delete evicted columns");
        }
    }
}

const MAGIC: &[u8; 8] = b"SLCOLS01";

/// A block as bytes: the magic, then each column as `u64` length and its values little-endian.
pub(super) fn encode(b: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + b.heap_bytes() + 11 * 8);
    out.extend_from_slice(MAGIC);
    fn col<T>(out: &mut Vec<u8>, v: &[T], each: impl Fn(&mut Vec<u8>, &T)) {
        out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        for x in v {
            each(out, x);
        }
    }
    col(&mut out, &b.end_ms, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.duration_ms, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.service, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.endpoint, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.error, |o, x| o.push(*x as u8));
    col(&mut out, &b.error_type, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.ids, |o, x| o.extend_from_slice(x));
    col(&mut out, &b.tags_end, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.tags, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.steps_end, |o, x| o.extend_from_slice(&x.to_le_bytes()));
    col(&mut out, &b.steps, |o, (id, ms)| {
        o.extend_from_slice(&id.to_le_bytes());
        o.extend_from_slice(&ms.to_le_bytes());
    });
    out
}

/// The block [`encode`] wrote; an error if the bytes are not one (or the columns disagree in length).
pub(super) fn decode(raw: &[u8]) -> anyhow::Result<Block> {
    let rest = raw.strip_prefix(MAGIC.as_slice()).context("not a column block")?;
    let mut r = Reader(rest);
    let b = Block {
        end_ms: r.col(8, |x| i64::from_le_bytes(x.try_into().expect("8 bytes")))?,
        duration_ms: r.col(8, |x| f64::from_le_bytes(x.try_into().expect("8 bytes")))?,
        service: r.col(4, u32_of)?,
        endpoint: r.col(4, u32_of)?,
        error: r.col(1, |x| x[0] != 0)?,
        error_type: r.col(4, u32_of)?,
        ids: r.col(24, |x| x.try_into().expect("24 bytes"))?,
        tags_end: r.col(4, u32_of)?,
        tags: r.col(4, u32_of)?,
        steps_end: r.col(4, u32_of)?,
        steps: r.col(8, |x| (u32_of(&x[..4]), f32::from_le_bytes(x[4..].try_into().expect("4 bytes"))))?,
        seen: None,
    };
    let n = b.end_ms.len();
    let same = [b.duration_ms.len(), b.service.len(), b.endpoint.len(), b.error.len(), b.error_type.len(), b.ids.len()]
        .iter()
        .chain(&[b.tags_end.len(), b.steps_end.len()])
        .all(|l| *l == n);
    let offsets_ok = b.tags_end.last().is_none_or(|e| *e as usize == b.tags.len())
        && b.steps_end.last().is_none_or(|e| *e as usize == b.steps.len())
        && b.tags_end.windows(2).all(|w| w[0] <= w[1])
        && b.steps_end.windows(2).all(|w| w[0] <= w[1]);
    anyhow::ensure!(same && offsets_ok && r.0.is_empty(), "columns of different lengths");
    Ok(b)
}

fn u32_of(x: &[u8]) -> u32 {
    u32::from_le_bytes(x.try_into().expect("4 bytes"))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn col<T>(&mut self, width: usize, each: impl Fn(&[u8]) -> T) -> anyhow::Result<Vec<T>> {
        let (len, rest) = self.0.split_first_chunk::<8>().context("truncated")?;
        let len = u64::from_le_bytes(*len) as usize;
        let bytes = len.checked_mul(width).filter(|b| *b <= rest.len()).context("truncated")?;
        let (data, rest) = rest.split_at(bytes);
        self.0 = rest;
        Ok(data.chunks_exact(width).map(each).collect())
    }
}
