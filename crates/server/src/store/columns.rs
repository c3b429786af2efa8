//! The hitmap's working set: every stored transaction as a few columns in per-minute blocks.
//!
//! Why columns in memory: the hitmap must count *every* transaction in the window (no sampling), and a
//! million point reads from an LSM tree cannot be done in 30 ms, while a tight loop over a million
//! `(end, duration, status, service)` tuples can. A row costs ~50 bytes, so a million transactions are ~50 MB.
//! The durable copy is the fjall `requests` keyspace (each request's transactions in one record); these
//! blocks are rebuilt from it in the background after a start (newest first, see `embedded/load.rs`), and
//! [`Columns::history`] says how far that got.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use sightline_model::{Grid, Hitmap, HistoryLoading, Order, ServiceSummary, Status};

use super::record::SpanRecord;
use super::{CellRange, HitmapFilter, QueryError, SeriesQuery, TxBucket, TxFilter, TxSeries};

pub mod compare;
pub mod spill;
pub mod tags;

use spill::Segment;
use tags::{Profiles, TagMatch};

const MINUTE_MS: i64 = 60_000;
/// Most `series × buckets` one [`Columns::series`] call builds (~56 bytes each): bounds the memory a
/// `group_by=endpoint` over thousands of endpoints can take.
pub const MAX_SERIES_CELLS: usize = 500_000;

/// Interns strings (services, endpoints) to small ids so columns stay narrow and filters compare integers.
#[derive(Debug, Default)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One minute of transactions (by end time), column by column, in arrival order.
#[derive(Debug, Default)]
struct Block {
    end_ms: Vec<i64>,
    duration_ms: Vec<f64>,
    service: Vec<u32>,
    endpoint: Vec<u32>,
    error: Vec<bool>,
    /// The failed transaction's exception type, interned ([`NO_ERROR_TYPE`] for none): the error list's
    /// click-through filters on it.
    error_type: Vec<u32>,
    /// `trace_id ‖ span_id`: with `end_ms` this is the transaction's key in the durable store.
    ids: Vec<[u8; 24]>,
    /// Row `i`'s tag ids are `tags[tags_end[i-1]..tags_end[i]]` (see [`tags`]).
    tags_end: Vec<u32>,
    tags: Vec<u32>,
    /// Row `i`'s `(step id, self ms)` likewise.
    steps_end: Vec<u32>,
    steps: Vec<(u32, f32)>,
    /// A hash of each row's `ids`, for the store's retry check ([`Columns::contains`]): kept for the newest
    /// two minutes (which get nearly every retried transaction), built for an older one when a check
    /// reaches it (a backfill of old data) and dropped again when a new minute begins.
    seen: Option<IdSet>,
}

type IdSet = rustc_hash::FxHashSet<u64>;

/// What [`Block::seen`] keeps of a row's `ids`.
fn id_hash(ids: &[u8; 24]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(ids)
}

impl Block {
    fn len(&self) -> usize {
        self.end_ms.len()
    }

    /// Bytes its vectors hold (capacity, not length: what the allocator gave them).
    fn heap_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        cap(&self.end_ms)
            + cap(&self.duration_ms)
            + cap(&self.service)
            + cap(&self.endpoint)
            + cap(&self.error)
            + cap(&self.error_type)
            + cap(&self.ids)
            + cap(&self.tags_end)
            + cap(&self.tags)
            + cap(&self.steps_end)
            + cap(&self.steps)
            // A hashbrown table: a control byte beside each slot.
            + self.seen.as_ref().map_or(0, |s| s.capacity() * 9)
    }

    /// Gives back the growth slack of a minute that is (nearly) done: a `Vec` grown by doubling holds
    /// on average a third more than its rows. Copied into exact-size vectors rather than
    /// `shrink_to_fit`, which mimalloc does in place (keeping the memory) when the new size is more than
    /// half the old.
    fn compact(&mut self) {
        fn exact<T: Copy>(v: &mut Vec<T>) {
            if v.capacity() > v.len() {
                *v = v.as_slice().to_vec();
            }
        }
        exact(&mut self.end_ms);
        exact(&mut self.duration_ms);
        exact(&mut self.service);
        exact(&mut self.endpoint);
        exact(&mut self.error);
        exact(&mut self.error_type);
        exact(&mut self.ids);
        exact(&mut self.tags_end);
        exact(&mut self.tags);
        exact(&mut self.steps_end);
        exact(&mut self.steps);
    }
}

/// A transaction as the columns see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TxRow<'a> {
    pub end_ms: i64,
    pub duration_ms: f64,
    pub service: &'a str,
    pub endpoint: &'a str,
    pub error: bool,
    /// The exception type of a failed transaction.
    pub error_type: Option<&'a str>,
    pub ids: [u8; 24],
    /// The transaction's record, for its tags and steps ("what changed"); `None` keeps only the core columns.
    pub profile: Option<&'a SpanRecord>,
}

/// Where a selected transaction lives, in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    /// Primary key: the duration's bits (monotonic for non-negative floats) for slowest-first, else the end.
    pub primary: u64,
    pub end_ms: i64,
    pub ids: [u8; 24],
}

impl SortKey {
    fn of(order: Order, end_ms: i64, duration_ms: f64, ids: [u8; 24]) -> Self {
        let primary = match order {
            Order::Slowest => duration_ms.max(0.0).to_bits(),
            // Shifted so that negative end times (never valid, but never a panic) still order.
            Order::Newest => (end_ms as u64) ^ (1 << 63),
        };
        SortKey { primary, end_ms, ids }
    }

    /// `s`/`n`, then hex of the key: opaque to clients, checked on the way back in.
    pub fn to_cursor(&self, order: Order) -> String {
        let mut raw = [0u8; 40];
        raw[..8].copy_from_slice(&self.primary.to_be_bytes());
        raw[8..16].copy_from_slice(&self.end_ms.to_be_bytes());
        raw[16..].copy_from_slice(&self.ids);
        let tag = match order {
            Order::Slowest => 's',
            Order::Newest => 'n',
        };
        format!("{tag}{}", const_hex::encode(raw))
    }

    pub fn from_cursor(order: Order, s: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::Invalid("bad cursor: pass back next_cursor unchanged, with the same order".into());
        let tag = match order {
            Order::Slowest => "s",
            Order::Newest => "n",
        };
        let hex = s.strip_prefix(tag).ok_or_else(bad)?;
        let raw = const_hex::decode(hex).map_err(|_| bad())?;
        if raw.len() != 40 {
            return Err(bad());
        }
        Ok(SortKey {
            primary: u64::from_be_bytes(raw[..8].try_into().map_err(|_| bad())?),
            end_ms: i64::from_be_bytes(raw[8..16].try_into().map_err(|_| bad())?),
            ids: raw[16..].try_into().map_err(|_| bad())?,
        })
    }
}

/// Result of a selection: the page's keys in list order, the exact total, and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub keys: Vec<SortKey>,
    pub total: u64,
    pub more: bool,
}

/// Every stored transaction, column-wise, in per-minute blocks keyed by end minute: in memory, or evicted
/// to files under a memory budget ([`spill`]) and read back by the queries that reach them.
#[derive(Debug, Default)]
pub struct Columns {
    /// Number of the last commit whose rows are in here (see `store::LiveBatch`).
    pub seq: u64,
    blocks: BTreeMap<i64, Block>,
    /// Evicted parts of minutes, by end minute. A minute may have rows in both (a late row after its
    /// eviction lands in memory): a query reads both, and each row is in exactly one.
    spilled: BTreeMap<i64, Vec<Segment>>,
    /// Rows and file bytes in `spilled`.
    spilled_rows: usize,
    spilled_bytes: u64,
    /// Evicted segments read back by queries (a counter for `/metrics`).
    spill_reads: AtomicU64,
    /// [`Block::seen`] of the evicted rows of minutes a retry check reached; dropped when a new minute
    /// begins, and a minute's when more of it is evicted.
    spilled_seen: BTreeMap<i64, IdSet>,
    pub services: Interner,
    pub endpoints: Interner,
    pub error_types: Interner,
    /// Interned tags and steps of the rows.
    pub profiles: Profiles,
    len: usize,
    /// Set while the stored history is still being read into these columns (newest first): rows ending
    /// before `loaded_from_ms` may be missing. Updated under the same lock as the rows it describes.
    pub history: Option<HistoryLoading>,
    /// Retention dropped every row ending before this; the history loader must not bring such rows back
    /// (it reads a snapshot taken before retention ran).
    pub retained_from_ms: Option<i64>,
}

/// Resolved filter: names turned into ids once, before the scan.
struct Compiled {
    from: i64,
    to: i64,
    min_ms: f64,
    max_ms: f64,
    service: Option<u32>,
    endpoint: Option<u32>,
    status: Option<bool>,
    error_type: Option<u32>,
    cells: Option<CellRange>,
    tag: Option<TagMatch>,
}

impl Compiled {
    #[inline]
    fn matches(&self, b: &Block, i: usize) -> bool {
        let end = b.end_ms[i];
        let d = b.duration_ms[i];
        end >= self.from
            && end < self.to
            && d >= self.min_ms
            && d < self.max_ms
            && self.service.is_none_or(|s| b.service[i] == s)
            && self.endpoint.is_none_or(|e| b.endpoint[i] == e)
            && self.status.is_none_or(|e| b.error[i] == e)
            && self.error_type.is_none_or(|t| b.error_type[i] == t)
            && self.cells.is_none_or(|c| {
                c.grid.col_of(end).is_some_and(|col| col >= c.cols.0 && col <= c.cols.1) && {
                    let row = c.grid.row_of(d);
                    row >= c.rows.0 && row <= c.rows.1
                }
            })
            && self.tag.as_ref().is_none_or(|t| t.matches(b, i))
    }
}

/// Where a scan finds some of a minute's rows.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Mem(&'a Block),
    Disk(&'a Segment),
}

impl Source<'_> {
    fn rows(&self) -> usize {
        match self {
            Source::Mem(b) => b.len(),
            Source::Disk(s) => s.rows,
        }
    }
}

/// A block being scanned: borrowed from memory, or read back from disk for this scan only.
enum Part<'a> {
    Mem(&'a Block),
    Disk(Box<Block>),
}

impl Deref for Part<'_> {
    type Target = Block;
    fn deref(&self) -> &Block {
        match self {
            Part::Mem(b) => b,
            Part::Disk(b) => b.as_ref(),
        }
    }
}

/// What the columns hold, for `/metrics` and the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnUsage {
    /// Bytes of the blocks in memory (their vectors' capacity).
    pub resident_bytes: u64,
    /// Minutes with rows evicted to disk, those rows, and their files' bytes.
    pub evicted_minutes: u64,
    pub evicted_rows: u64,
    pub evicted_bytes: u64,
    /// Evicted segments read back by queries since the start.
    pub evicted_reads: u64,
    /// Queries whose window starts before this (ms since the epoch) read evicted minutes from disk.
    pub evicted_until_ms: Option<i64>,
}

/// One series group being aggregated: its buckets, and each bucket's durations when quantiles are asked.
type SeriesAcc = (Vec<TxBucket>, Vec<Vec<f64>>);
/// The group key of a dimension that is not grouped by.
const ALL: u32 = u32::MAX;
/// The error type of a transaction that has none (succeeded, or failed without an exception type).
const NO_ERROR_TYPE: u32 = u32::MAX;

impl Columns {
    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `Some` when an answer over `[from, …)` may miss rows not read yet (see [`Columns::history`]).
    pub fn history_before(&self, from: i64) -> Option<HistoryLoading> {
        self.history.filter(|h| from < h.loaded_from_ms)
    }

    /// Adds one finished transaction.
    pub fn push(&mut self, row: TxRow<'_>) {
        let svc = self.services.intern(row.service);
        let ep = self.endpoints.intern(row.endpoint);
        let minute = row.end_ms.div_euclid(MINUTE_MS);
        if !self.blocks.contains_key(&minute) {
            self.open_block(minute);
        }
        let b = self.blocks.get_mut(&minute).expect("opened above");
        if let Some(seen) = &mut b.seen {
            seen.insert(id_hash(&row.ids));
        }
        b.end_ms.push(row.end_ms);
        b.duration_ms.push(row.duration_ms);
        b.service.push(svc);
        b.endpoint.push(ep);
        b.error.push(row.error);
        b.error_type.push(match row.error_type {
            Some(t) if row.error => self.error_types.intern(t),
            _ => NO_ERROR_TYPE,
        });
        b.ids.push(row.ids);
        self.profiles.push_row(b, row.profile);
        self.len += 1;
    }

    /// Adds the block of `minute`. Its rows' hashes are kept ([`Block::seen`]) if it is one of the newest
    /// two minutes, counted up to the wall clock's (one transaction from a client whose clock runs ahead must
    /// not make today's minutes old); a new newest minute drops them from those before.
    fn open_block(&mut self, minute: i64) {
        let now = super::now_ms().div_euclid(MINUTE_MS);
        let newest = self.blocks.keys().next_back().copied();
        let recent = newest.map_or(minute, |n| n.max(minute)).min(now);
        if newest.is_none_or(|m| m < minute) {
            for (_, b) in self.blocks.range_mut(..recent - 1) {
                b.seen = None;
            }
            self.spilled_seen.clear();
            // The one two before gets few late rows any more (while loading, the loader compacts).
            if self.history.is_none() {
                if let Some(b) = self.blocks.get_mut(&(minute - 2)) {
                    b.compact();
                }
            }
        }
        let hot = minute >= recent - 1;
        self.blocks.insert(minute, Block { seen: hot.then(Default::default), ..Block::default() });
    }

    /// Whether the transaction `ids` ending at `end_ms` is held (in memory or evicted): the embedded store's
    /// retry check, which every stored transaction passes through. A hash lookup in the minute's
    /// [`Block::seen`] (built first if the minute had none: one pass over its ids, and its evicted
    /// segments read back once), a hit confirmed by the ids themselves.
    pub fn contains(&mut self, end_ms: i64, ids: &[u8; 24]) -> Result<bool, QueryError> {
        let minute = end_ms.div_euclid(MINUTE_MS);
        let hash = id_hash(ids);
        if let Some(b) = self.blocks.get_mut(&minute) {
            if b.seen.is_none() {
                b.seen = Some(b.ids.iter().map(id_hash).collect());
            }
            if b.seen.as_ref().is_some_and(|seen| seen.contains(&hash)) && b.ids.contains(ids) {
                return Ok(true);
            }
        }
        let Some(segs) = self.spilled.get(&minute) else { return Ok(false) };
        if !self.spilled_seen.contains_key(&minute) {
            let mut seen = IdSet::default();
            for seg in segs {
                seen.extend(self.load(Source::Disk(seg))?.ids.iter().map(id_hash));
            }
            self.spilled_seen.insert(minute, seen);
        }
        if !self.spilled_seen.get(&minute).is_some_and(|seen| seen.contains(&hash)) {
            return Ok(false);
        }
        for seg in segs {
            if self.load(Source::Disk(seg))?.ids.contains(ids) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The minutes (`lo..=hi`) that may hold end times in `[from, to)`; `None` for an empty window.
    fn minutes_of(from: i64, to: i64) -> Option<(i64, i64)> {
        let lo = from.div_euclid(MINUTE_MS);
        let hi = to.saturating_sub(1).div_euclid(MINUTE_MS).max(lo);
        (from < to).then_some((lo, hi))
    }

    /// What holds the rows of minutes `lo..=hi`: blocks in memory and evicted segments.
    fn sources(&self, lo: i64, hi: i64) -> impl Iterator<Item = Source<'_>> {
        let mem = self.blocks.range(lo..=hi).map(|(_, b)| Source::Mem(b));
        mem.chain(self.spilled.range(lo..=hi).flat_map(|(_, segs)| segs.iter().map(Source::Disk)))
    }

    /// The blocks that may hold end times in `[from, to)`, evicted ones read back as the scan reaches them
    /// (so a scan holds one at a time).
    fn parts_in(&self, from: i64, to: i64) -> impl Iterator<Item = Result<Part<'_>, QueryError>> {
        let (lo, hi) = Self::minutes_of(from, to).unwrap_or((1, 0));
        self.sources(lo, hi).map(|s| self.load(s))
    }

    /// `s`'s rows: borrowed from memory, or read from its file.
    fn load<'a>(&'a self, s: Source<'a>) -> Result<Part<'a>, QueryError> {
        match s {
            Source::Mem(b) => Ok(Part::Mem(b)),
            Source::Disk(seg) => {
                self.spill_reads.fetch_add(1, Ordering::Relaxed);
                Ok(Part::Disk(Box::new(seg.read()?)))
            }
        }
    }

    /// Bins every transaction of the grid's window (optionally one service) with the model's shared
    /// [`Grid::col_of`] / [`Grid::row_of`], so the app's live updates land in the same cells.
    pub fn hitmap(&self, grid: Grid, filter: &HitmapFilter) -> Result<Hitmap, QueryError> {
        let svc = match filter.service.as_deref() {
            Some(name) => match self.services.get(name) {
                Some(id) => Some(id),
                None => return Ok(Hitmap::empty(grid)),
            },
            None => None,
        };
        let tag = match &filter.tag {
            Some(t) => match self.compile_tag(t, filter.traces.as_ref()) {
                Some(m) => Some(m),
                None => return Ok(Hitmap::empty(grid)),
            },
            None => None,
        };
        let keep = |b: &Block, i: usize| svc.is_none_or(|s| b.service[i] == s) && tag.as_ref().is_none_or(|t| t.matches(b, i));
        let sources: Vec<Source<'_>> = match Self::minutes_of(grid.from, grid.to) {
            Some((lo, hi)) => self.sources(lo, hi).collect(),
            None => Vec::new(),
        };
        let rows: usize = sources.iter().map(Source::rows).sum();
        if rows < PARALLEL_BINNING_ROWS {
            return self.bin(grid, &keep, &sources);
        }
        // Two halves on two threads (the machine has two cores); the counts simply add up.
        let mut acc = 0;
        let split = sources
            .iter()
            .position(|b| {
                acc += b.rows();
                acc >= rows / 2
            })
            .map_or(sources.len(), |i| i + 1);
        let (left, right) = sources.split_at(split);
        let (h, other) = std::thread::scope(|s| {
            let t = s.spawn(|| self.bin(grid, &keep, right));
            let h = self.bin(grid, &keep, left);
            (h, t.join().expect("binning thread"))
        });
        let (mut h, other) = (h?, other?);
        for (a, b) in h.ok.iter_mut().zip(&other.ok) {
            *a += b;
        }
        for (a, b) in h.err.iter_mut().zip(&other.err) {
            *a += b;
        }
        h.total += other.total;
        h.total_err += other.total_err;
        Ok(h)
    }

    /// Counts the transactions of `sources` that `keep` into a fresh hitmap of `grid`.
    fn bin(&self, grid: Grid, keep: &(impl Fn(&Block, usize) -> bool + Sync), sources: &[Source<'_>]) -> Result<Hitmap, QueryError> {
        let mut h = Hitmap::empty(grid);
        let (mut total, mut total_err) = (0u64, 0u64);
        for s in sources {
            let b = self.load(*s)?;
            for i in 0..b.len() {
                if !keep(&b, i) {
                    continue;
                }
                let Some(col) = grid.col_of(b.end_ms[i]) else { continue };
                let idx = grid.index(col, grid.row_of(b.duration_ms[i]));
                if b.error[i] {
                    h.err[idx] += 1;
                    total_err += 1;
                } else {
                    h.ok[idx] += 1;
                }
                total += 1;
            }
        }
        h.total = total;
        h.total_err = total_err;
        Ok(h)
    }

    fn compile(&self, f: &TxFilter) -> Option<Compiled> {
        let (service, endpoint) = self.filter_ids(f.service.as_deref(), f.endpoint.as_deref())?;
        let error_type = match f.error_type.as_deref() {
            Some(t) => Some(self.error_types.get(t)?),
            None => None,
        };
        let (from, to) = match &f.cells {
            Some(c) => (f.from.max(c.grid.from), f.to.min(c.grid.to)),
            None => (f.from, f.to),
        };
        let tag = match &f.tag {
            Some(t) => Some(self.compile_tag(t, f.traces.as_ref())?),
            None => None,
        };
        Some(Compiled {
            tag,
            from,
            to,
            min_ms: f.min_ms,
            max_ms: f.max_ms.unwrap_or(f64::INFINITY),
            service,
            endpoint,
            status: f.status.map(|s| s == Status::Error),
            error_type,
            cells: f.cells,
        })
    }

    /// The first `limit` transactions of `filter` in `order` that come after `after` (a previous page's last
    /// key), and the exact number matching the filter. One pass over the window's blocks with a bounded heap.
    pub fn select(&self, filter: &TxFilter, order: Order, limit: usize, after: Option<SortKey>) -> Result<Selection, QueryError> {
        let Some(c) = self.compile(filter) else {
            return Ok(Selection { keys: Vec::new(), total: 0, more: false });
        };
        let want = limit + 1;
        // Min-heap of the best `want` keys seen (list order is descending keys).
        let mut heap: BinaryHeap<Reverse<SortKey>> = BinaryHeap::with_capacity(want + 1);
        let mut total = 0u64;
        for b in self.parts_in(c.from, c.to) {
            let b = b?;
            for i in 0..b.len() {
                if !c.matches(&b, i) {
                    continue;
                }
                total += 1;
                let key = SortKey::of(order, b.end_ms[i], b.duration_ms[i], b.ids[i]);
                if after.is_some_and(|a| key >= a) {
                    continue;
                }
                if heap.len() < want {
                    heap.push(Reverse(key));
                } else if heap.peek().is_some_and(|Reverse(min)| key > *min) {
                    heap.pop();
                    heap.push(Reverse(key));
                }
            }
        }
        let mut keys: Vec<SortKey> = heap.into_iter().map(|Reverse(k)| k).collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(Selection { keys, total, more })
    }

    /// Per-service counts, p95 and error rate over `[from, to)`. Services with no transaction in the window
    /// are listed with zeros, so the selector still offers them.
    pub fn services(&self, from: i64, to: i64) -> Result<Vec<ServiceSummary>, QueryError> {
        let n = self.services.len();
        let mut durations: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut errors = vec![0u64; n];
        for b in self.parts_in(from, to) {
            let b = b?;
            for i in 0..b.len() {
                let end = b.end_ms[i];
                if end < from || end >= to {
                    continue;
                }
                let s = b.service[i] as usize;
                durations[s].push(b.duration_ms[i]);
                errors[s] += b.error[i] as u64;
            }
        }
        let secs = ((to - from) as f64 / 1000.0).max(1e-3);
        let mut out: Vec<ServiceSummary> = durations
            .into_iter()
            .enumerate()
            .map(|(s, mut d)| {
                let count = d.len() as u64;
                let p95 = percentile(&mut d, 0.95);
                ServiceSummary {
                    name: self.services.name(s as u32).to_string(),
                    transactions: count,
                    errors: errors[s],
                    tps: count as f64 / secs,
                    p95_ms: p95,
                    error_rate: if count == 0 { 0.0 } else { errors[s] as f64 / count as f64 },
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Aggregates the transactions of `q`'s window into `q.step_ms` buckets per group, in one pass over the
    /// window's blocks. Quantiles are nearest-rank over every duration of the bucket (no sketch: exact, and
    /// a window holds at most what is in memory anyway).
    pub fn series(&self, q: &SeriesQuery) -> Result<Vec<TxSeries>, QueryError> {
        if q.step_ms <= 0 || q.from >= q.to || (q.to - q.from) % q.step_ms != 0 {
            return Err(QueryError::Invalid(format!(
                "the window [{}, {}) is not a whole number of {} ms steps",
                q.from, q.to, q.step_ms
            )));
        }
        let n = ((q.to - q.from) / q.step_ms) as usize;
        let grouped = q.by_service || q.by_endpoint;
        let Some((service, endpoint)) = self.filter_ids(q.service.as_deref(), q.endpoint.as_deref()) else {
            // A service or endpoint never seen: nothing matches.
            let empty = TxSeries { service: None, endpoint: None, buckets: vec![TxBucket::default(); n] };
            return Ok(if grouped { Vec::new() } else { vec![empty] });
        };
        let mut groups: HashMap<(u32, u32), SeriesAcc> = HashMap::new();
        let new_acc = || -> SeriesAcc { (vec![TxBucket::default(); n], if q.quantiles { vec![Vec::new(); n] } else { Vec::new() }) };
        if !grouped {
            groups.insert((ALL, ALL), new_acc());
        }
        for b in self.parts_in(q.from, q.to) {
            let b = b?;
            for i in 0..b.len() {
                let end = b.end_ms[i];
                if end < q.from
                    || end >= q.to
                    || service.is_some_and(|s| b.service[i] != s)
                    || endpoint.is_some_and(|e| b.endpoint[i] != e)
                {
                    continue;
                }
                let key = (
                    if q.by_service { b.service[i] } else { ALL },
                    if q.by_endpoint { b.endpoint[i] } else { ALL },
                );
                let len = groups.len();
                let (buckets, durations) = match groups.entry(key) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        if (len + 1).saturating_mul(n) > MAX_SERIES_CELLS {
                            return Err(QueryError::Invalid(format!(
                                "more than {len} series of {n} points each: narrow the filter or ask for fewer points"
                            )));
                        }
                        e.insert(new_acc())
                    }
                };
                let k = ((end - q.from) / q.step_ms) as usize;
                let d = b.duration_ms[i];
                let bucket = &mut buckets[k];
                bucket.count += 1;
                bucket.errors += b.error[i] as u64;
                bucket.sum_ms += d;
                if q.quantiles {
                    durations[k].push(d);
                }
            }
        }
        Ok(self.finish_series(groups))
    }

    /// The interned ids of a service and an endpoint filter (`None` inside: no such filter), or `None` when
    /// a filter names something never seen, so nothing can match.
    fn filter_ids(&self, service: Option<&str>, endpoint: Option<&str>) -> Option<(Option<u32>, Option<u32>)> {
        let service = match service {
            Some(s) => Some(self.services.get(s)?),
            None => None,
        };
        let endpoint = match endpoint {
            Some(e) => Some(self.endpoints.get(e)?),
            None => None,
        };
        Some((service, endpoint))
    }

    /// The accumulated groups as series, with their quantiles, sorted by service then endpoint.
    fn finish_series(&self, groups: HashMap<(u32, u32), SeriesAcc>) -> Vec<TxSeries> {
        let mut out: Vec<TxSeries> = groups
            .into_iter()
            .map(|((s, e), (mut buckets, mut durations))| {
                for (bucket, d) in buckets.iter_mut().zip(durations.iter_mut()) {
                    if !d.is_empty() {
                        bucket.quantiles = Some([percentile(d, 0.50), percentile(d, 0.95), percentile(d, 0.99)]);
                    }
                }
                TxSeries {
                    service: (s != ALL).then(|| self.services.name(s).to_string()),
                    endpoint: (e != ALL).then(|| self.endpoints.name(e).to_string()),
                    buckets,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.service, &a.endpoint).cmp(&(&b.service, &b.endpoint)));
        out
    }

    /// Drops whole minutes ending before `cutoff_ms` (deleting their evicted files); returns how many
    /// transactions went.
    pub fn drop_before(&mut self, cutoff_ms: i64) -> u64 {
        self.retained_from_ms = Some(self.retained_from_ms.map_or(cutoff_ms, |r| r.max(cutoff_ms)));
        let minute = cutoff_ms.div_euclid(MINUTE_MS);
        let keep = self.blocks.split_off(&minute);
        let mut dropped: usize = self.blocks.values().map(Block::len).sum();
        self.blocks = keep;
        let keep = self.spilled.split_off(&minute);
        for seg in self.spilled.values().flatten() {
            dropped += seg.rows;
            self.spilled_rows -= seg.rows;
            self.spilled_bytes -= seg.bytes;
        }
        self.spilled = keep;
        self.len -= dropped;
        dropped as u64
    }

    /// Bytes of the blocks in memory, and what is evicted.
    pub fn usage(&self) -> ColumnUsage {
        ColumnUsage {
            resident_bytes: self.blocks.values().map(|b| b.heap_bytes() as u64).sum(),
            evicted_minutes: self.spilled.len() as u64,
            evicted_rows: self.spilled_rows as u64,
            evicted_bytes: self.spilled_bytes,
            evicted_reads: self.spill_reads.load(Ordering::Relaxed),
            evicted_until_ms: self.spilled.keys().next_back().map(|m| (m + 1) * MINUTE_MS),
        }
    }

    /// Windows starting before this reach evicted minutes (cheap: health calls it).
    pub fn evicted_until_ms(&self) -> Option<i64> {
        self.spilled.keys().next_back().map(|m| (m + 1) * MINUTE_MS)
    }

    /// The block to evict next: the oldest minute in memory, unless it is the newest (which gets nearly all
    /// rows; the one before still gets a few late ones, which then start a new block in memory beside the
    /// evicted part). Its minute, encoded rows ([`spill::encode`]) and row count; encoding is done here,
    /// under the caller's read lock, so the file is written without any lock.
    ///
    /// While the history loader still reads a minute (the oldest in memory: it reads newest first), that
    /// minute is held back until it holds more than `hold_bytes`: evicted at once, it would be written
    /// again as one more small segment after every loader batch (~20 files per minute after a start),
    /// instead of once when the loader moves on. The columns may exceed their share by that much meanwhile.
    pub fn next_eviction(&self, hold_bytes: usize) -> Option<(i64, Vec<u8>, usize)> {
        let newest = self.blocks.keys().next_back().copied()?.max(self.spilled.keys().next_back().copied().unwrap_or(i64::MIN));
        let loading = self.history.map(|h| h.loaded_from_ms.saturating_sub(1).div_euclid(MINUTE_MS));
        let held = |minute: i64, b: &Block| loading == Some(minute) && b.heap_bytes() <= hold_bytes;
        // The next oldest when the loader's minute is held: the one it has just finished.
        let (minute, b) = self.blocks.iter().find(|(m, b)| !held(**m, b))?;
        (*minute < newest && b.len() > 0).then(|| (*minute, spill::encode(b), b.len()))
    }

    /// Replaces `minute`'s block in memory by `seg`, which holds its rows, if the block still has exactly
    /// those rows (a late row or retention may have come between the encoding and now: then `seg` is
    /// dropped, its file deleted, and the minute evicted on a later pass). Whether it was replaced.
    pub fn evict(&mut self, minute: i64, seg: Segment) -> bool {
        if self.blocks.get(&minute).is_none_or(|b| b.len() != seg.rows) {
            return false;
        }
        self.blocks.remove(&minute);
        self.spilled_seen.remove(&minute);
        self.spilled_rows += seg.rows;
        self.spilled_bytes += seg.bytes;
        self.spilled.entry(minute).or_default().push(seg);
        true
    }

    /// Compacts the blocks of the minutes ending in `[from_ms, to_ms)`, but not the newest two minutes'
    /// (they still get rows): the history loader calls it for the minutes it has finished reading.
    pub fn compact_between(&mut self, from_ms: i64, to_ms: i64) {
        let newest = self.blocks.keys().next_back().copied().unwrap_or(i64::MIN);
        let hi = to_ms.div_euclid(MINUTE_MS).min(newest.saturating_sub(1));
        let lo = from_ms.div_euclid(MINUTE_MS);
        if lo < hi {
            for (_, b) in self.blocks.range_mut(lo..hi) {
                b.compact();
            }
        }
    }

    /// End time of the oldest minute held (in memory or evicted).
    pub fn oldest_ms(&self) -> Option<i64> {
        let m = match (self.blocks.keys().next().copied(), self.spilled.keys().next().copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        m.map(|m| m * MINUTE_MS)
    }

    /// End time of the newest minute held (in memory or evicted).
    pub fn newest_ms(&self) -> Option<i64> {
        let m = match (self.blocks.keys().next_back().copied(), self.spilled.keys().next_back().copied()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        m.map(|m| (m + 1) * MINUTE_MS)
    }
}

/// From this many transactions in the window on, binning is split over two threads.
const PARALLEL_BINNING_ROWS: usize = 200_000;

/// The `q` quantile (nearest rank) of `v`, reordering it; 0 for an empty slice.
fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    let (_, x, _) = v.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
    *x
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::Scale;

    fn ids(n: u32) -> [u8; 24] {
        let mut k = [1u8; 24];
        k[20..].copy_from_slice(&n.to_be_bytes());
        k
    }

    fn sample() -> Columns {
        let mut c = Columns::default();
        for i in 0..1000u32 {
            c.push(TxRow {
                end_ms: 1_000_000 + i as i64 * 100,
                duration_ms: (i % 50) as f64 * 10.0,
                service: if i % 2 == 0 { "a" } else { "b" },
                endpoint: "GET /",
                error: i % 10 == 0,
                error_type: (i % 20 == 0).then_some("Timeout").or(Some("Boom")),
                ids: ids(i),
                profile: None,
            });
        }
        c
    }

    #[test]
    fn hitmap_counts_everything_once() {
        let c = sample();
        let g = Grid { from: 1_000_000, to: 1_100_000, cols: 240, rows: 100, ymax_ms: 100.0, scale: Scale::Log };
        let h = c.hitmap(g, &HitmapFilter::default()).unwrap();
        assert_eq!(h.total, 1000);
        assert_eq!(h.total_err, 100);
        assert_eq!(h.ok.iter().chain(&h.err).map(|x| *x as u64).sum::<u64>(), 1000);
        assert_eq!(c.hitmap(g, &HitmapFilter::service("a")).unwrap().total, 500);
        assert_eq!(c.hitmap(g, &HitmapFilter::service("nope")).unwrap().total, 0);
    }

    #[test]
    fn parallel_binning_equals_one_pass() {
        let mut c = Columns::default();
        let n = PARALLEL_BINNING_ROWS as u32 + 12_345;
        for i in 0..n {
            c.push(TxRow {
                end_ms: 7_000_000 + (i as i64 * 7919) % 3_600_000,
                duration_ms: ((i * 31) % 9000) as f64 * 0.77,
                service: ["a", "b", "c"][(i % 3) as usize],
                endpoint: "GET /",
                error: i % 13 == 0,
                error_type: None,
                ids: ids(i),
                profile: None,
            });
        }
        for scale in [Scale::Linear, Scale::Log] {
            let g = Grid { from: 7_000_000, to: 10_600_000, cols: 240, rows: 100, ymax_ms: 5000.0, scale };
            let all: Vec<Source<'_>> = c.sources(i64::MIN, i64::MAX).collect();
            let h = c.hitmap(g, &HitmapFilter::default()).unwrap();
            assert_eq!(h, c.bin(g, &|_: &Block, _| true, &all).unwrap());
            assert_eq!(h.total, n as u64);
            let b = c.services.get("b");
            assert_eq!(c.hitmap(g, &HitmapFilter::service("b")).unwrap(), c.bin(g, &|x: &Block, i| Some(x.service[i]) == b, &all).unwrap());
        }
    }

    #[test]
    fn select_pages_are_disjoint_ordered_and_complete() {
        let c = sample();
        let f = TxFilter { from: 0, to: i64::MAX, min_ms: 0.0, max_ms: None, ..Default::default() };
        for order in [Order::Slowest, Order::Newest] {
            let mut after = None;
            let mut seen = Vec::new();
            loop {
                let s = c.select(&f, order, 64, after).unwrap();
                assert_eq!(s.total, 1000);
                seen.extend(s.keys.iter().copied());
                if !s.more {
                    break;
                }
                let last = *s.keys.last().unwrap();
                after = Some(SortKey::from_cursor(order, &last.to_cursor(order)).unwrap());
            }
            assert_eq!(seen.len(), 1000);
            assert!(seen.windows(2).all(|w| w[0] > w[1]));
        }
        // Band [100, 200) and the open-ended band.
        let band = TxFilter { min_ms: 100.0, max_ms: Some(200.0), ..f.clone() };
        assert_eq!(c.select(&band, Order::Slowest, 10, None).unwrap().total, 200);
        let top = TxFilter { min_ms: 490.0, max_ms: None, ..f.clone() };
        assert_eq!(c.select(&top, Order::Slowest, 10, None).unwrap().total, 20);
        let zero = TxFilter { min_ms: 0.0, max_ms: Some(0.5), ..f.clone() };
        assert_eq!(c.select(&zero, Order::Slowest, 10, None).unwrap().total, 20);
        // Error types: only failed rows carry one (every 10th fails; every 20th with "Timeout").
        let typed = |t: &str| c.select(&TxFilter { error_type: Some(t.into()), ..f.clone() }, Order::Newest, 10, None).unwrap().total;
        assert_eq!((typed("Timeout"), typed("Boom"), typed("Unknown")), (50, 50, 0));
        let typed_a = TxFilter { error_type: Some("Boom".into()), service: Some("a".into()), ..f };
        assert_eq!(c.select(&typed_a, Order::Newest, 10, None).unwrap().total, 50, "all rows failing with Boom are even");
    }

    #[test]
    fn series_buckets_groups_and_quantiles() {
        let c = sample();
        // 1000 transactions every 100 ms from 1_000_000: ten 10 s buckets of 100.
        let q = SeriesQuery { from: 1_000_000, to: 1_100_000, step_ms: 10_000, quantiles: true, ..Default::default() };
        let all = c.series(&q).unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].buckets.iter().all(|b| b.count == 100 && b.errors == 10));
        // Durations cycle 0..490 in steps of 10, twice per bucket: p50 = 240, p95 = 470, p99 = 490.
        assert_eq!(all[0].buckets[0].quantiles, Some([240.0, 470.0, 490.0]));
        let by = c.series(&SeriesQuery { by_service: true, ..q.clone() }).unwrap();
        assert_eq!(by.iter().map(|s| s.service.as_deref().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(by[0].buckets.iter().map(|b| b.count).sum::<u64>(), 500);
        assert_eq!(by[0].buckets.iter().map(|b| b.errors).sum::<u64>(), 100, "every 10th is an error, all even");
        let one = c.series(&SeriesQuery { service: Some("b".into()), by_endpoint: true, ..q.clone() }).unwrap();
        assert_eq!((one.len(), one[0].endpoint.as_deref(), one[0].service.as_deref()), (1, Some("GET /"), None));
        // Unknown service: one empty series ungrouped, none grouped. Beyond the data: zeros.
        let none = c.series(&SeriesQuery { service: Some("zzz".into()), ..q.clone() }).unwrap();
        assert_eq!((none.len(), none[0].buckets.len(), none[0].buckets[0].count), (1, 10, 0));
        assert!(c.series(&SeriesQuery { service: Some("zzz".into()), by_service: true, ..q.clone() }).unwrap().is_empty());
        let later = c.series(&SeriesQuery { from: 2_000_000, to: 2_100_000, ..q.clone() }).unwrap();
        assert!(later[0].buckets.iter().all(|b| b.count == 0 && b.quantiles.is_none()));
        assert!(c.series(&SeriesQuery { step_ms: 7_000, ..q.clone() }).is_err(), "not whole steps");
        // 2 series of 300 000 one-second buckets are over the cell budget: refused, not allocated.
        let huge = SeriesQuery { from: 1_000_000, to: 301_000_000, step_ms: 1_000, by_service: true, ..q };
        assert!(matches!(c.series(&huge), Err(QueryError::Invalid(m)) if m.contains("narrow the filter")));
        assert_eq!(c.series(&SeriesQuery { by_service: false, ..huge }).unwrap()[0].buckets.len(), 300_000);
    }

    /// Compacting finished minutes gives back capacity and changes no answer.
    #[test]
    fn compacting_changes_nothing_but_capacity() {
        let mut c = sample();
        let g = Grid { from: 1_000_000, to: 1_100_000, cols: 240, rows: 100, ymax_ms: 100.0, scale: Scale::Log };
        let f = TxFilter { from: 0, to: i64::MAX, min_ms: 0.0, max_ms: None, ..Default::default() };
        let before = (c.hitmap(g, &HitmapFilter::default()).unwrap(), c.select(&f, Order::Slowest, 20, None).unwrap());
        c.compact_between(i64::MIN, i64::MAX);
        assert_eq!((c.hitmap(g, &HitmapFilter::default()).unwrap(), c.select(&f, Order::Slowest, 20, None).unwrap()), before);
        let newest = *c.blocks.keys().next_back().unwrap();
        for (m, b) in &c.blocks {
            assert_eq!(b.end_ms.capacity() == b.len(), *m < newest - 1, "minute {m}: all but the newest two");
        }
    }

    #[test]
    fn services_and_retention() {
        let mut c = sample();
        let s = c.services(0, i64::MAX / 2).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].transactions, 500);
        assert!((s[0].error_rate - 0.2).abs() < 1e-9);
        // 25 distinct durations 20 times each: the 475th of 500 is 460 ms.
        assert_eq!(s[0].p95_ms, 460.0);
        let before = c.len();
        let dropped = c.drop_before(1_060_000);
        assert_eq!(c.len() as u64 + dropped, before as u64);
        assert!(c.oldest_ms().unwrap() >= 1_020_000);
    }

    /// An evicted minute answers like the block it was; late rows beside it count once; retention deletes
    /// its file.
    #[test]
    fn evicted_minutes_answer_alike_and_go_with_retention() {
        let dir = tempfile::tempdir().unwrap();
        let spill = spill::SpillDir::create(&dir.path().join("evicted")).unwrap();
        let mut c = sample();
        let g = Grid { from: 1_000_000, to: 1_100_000, cols: 240, rows: 100, ymax_ms: 100.0, scale: Scale::Log };
        let f = TxFilter { from: 0, to: i64::MAX, min_ms: 0.0, max_ms: None, ..Default::default() };
        let answers = |c: &Columns| {
            (c.hitmap(g, &HitmapFilter::default()).unwrap(), c.select(&f, Order::Slowest, 1000, None).unwrap(), c.services(0, i64::MAX / 2).unwrap())
        };
        let before = answers(&c);
        let evicted = evict_all(&mut c, &spill, 0);
        let u = c.usage();
        assert_eq!((u.evicted_rows as usize, u.evicted_minutes), (evicted, 2), "all but the newest of three minutes");
        assert_eq!(answers(&c), before);
        assert_eq!(c.len(), 1000);
        // A stale eviction (the block changed since it was encoded) is refused and its file deleted.
        let (minute, bytes, rows) = (16, spill::encode(&Block::default()), 0);
        let seg = spill.write(minute, rows, &bytes).unwrap();
        assert!(!c.evict(minute, seg));
        // A late row into the evicted minute.
        c.push(TxRow { end_ms: 1_000_001, duration_ms: 1.0, service: "a", endpoint: "GET /", error: false, error_type: None, ids: ids(5000), profile: None });
        assert_eq!(c.hitmap(g, &HitmapFilter::default()).unwrap().total, 1001);
        assert_eq!(c.oldest_ms(), Some(960_000));
        assert_eq!(std::fs::read_dir(dir.path().join("evicted")).unwrap().count(), 2);
        c.drop_before(1_080_000);
        assert_eq!(std::fs::read_dir(dir.path().join("evicted")).unwrap().count(), 0, "retention deletes evicted files");
        assert_eq!(c.usage().evicted_rows, 0);
        assert_eq!(c.hitmap(g, &HitmapFilter::default()).unwrap().total, c.len() as u64);
    }

    /// Evicts what [`Columns::next_eviction`] offers until it offers nothing, as the memory budget's
    /// enforcement does; the rows evicted.
    fn evict_all(c: &mut Columns, spill: &spill::SpillDir, hold_bytes: usize) -> usize {
        let mut evicted = 0;
        while let Some((minute, bytes, rows)) = c.next_eviction(hold_bytes) {
            let seg = spill.write(minute, rows, &bytes).unwrap();
            assert!(c.evict(minute, seg));
            evicted += rows;
        }
        evicted
    }

    /// While the history loader reads a minute, eviction leaves it alone (up to `hold_bytes`) and takes the
    /// minute the loader has just finished: each minute is written once, as one segment, not once per
    /// loader batch.
    #[test]
    fn the_minute_being_loaded_is_evicted_once_the_loader_leaves_it() {
        let segments_per_minute = |hold_bytes: usize| {
            let dir = tempfile::tempdir().unwrap();
            let spill = spill::SpillDir::create(&dir.path().join("evicted")).unwrap();
            let mut c = Columns::default();
            let row = |end_ms: i64, n: u32| TxRow { end_ms, duration_ms: 1.0, service: "a", endpoint: "GET /", error: false, error_type: None, ids: ids(n), profile: None };
            // Live rows in the newest minute (20), then the loader reads minutes 19 down to 15, newest
            // first, in five batches of 100 rows each; a budget of nothing is enforced after each batch.
            for i in 0..10 {
                c.push(row(20 * MINUTE_MS + i, i as u32));
            }
            let mut n = 100;
            for minute in (15..20).rev() {
                for batch in 0..5 {
                    let mut end = 0;
                    for i in 0..100 {
                        end = minute * MINUTE_MS + 59_999 - (batch * 100 + i) * 10;
                        c.push(row(end, n));
                        n += 1;
                    }
                    c.history = Some(HistoryLoading { loaded_from_ms: end + 1, percent: 0 });
                    evict_all(&mut c, &spill, hold_bytes);
                    assert!(c.blocks.len() <= 2, "at most the loader's minute and the newest stay in memory");
                }
            }
            c.history = None;
            evict_all(&mut c, &spill, hold_bytes);
            assert_eq!((c.usage().evicted_rows, c.len()), (2500, 2510));
            assert_eq!(c.spilled.len(), 5);
            c.spilled.values().map(Vec::len).collect::<Vec<_>>()
        };
        assert_eq!(segments_per_minute(1 << 20), vec![1; 5]);
        // Without the hold (or past it), every batch of the loader's minute became a segment of its own.
        assert_eq!(segments_per_minute(0), vec![5; 5]);
    }

    #[test]
    fn a_damaged_evicted_block_is_an_error_not_a_panic() {
        let b = {
            let mut c = sample();
            c.blocks.pop_first().unwrap().1
        };
        let raw = spill::encode(&b);
        assert_eq!(spill::decode(&raw).unwrap().end_ms, b.end_ms);
        for cut in [0, 7, 8, 20, raw.len() - 1] {
            assert!(spill::decode(&raw[..cut]).is_err(), "cut at {cut}");
        }
    }
}
