//! The embedded store's cube: where the rollup's buckets live and how they stay exact across crashes,
//! retries and late data (docs/STORE.md, "Cube").
//!
//! Keyspaces:
//! - `cube`: one blob per closed bucket, by `tier ‖ kind ‖ start` ([`blob_key`]);
//! - `cube_wal`: the facts of still-open minute buckets, one row per `(minute, commit)`, written in the same
//!   batch as the spans they come from, replayed at open, deleted with the batch that stores the minute;
//! - `cube_dims`: the interned dimension values, by id;
//! - `cube_meta`: how far each tier is closed;
//! - `cube_steps`: SQL steps already counted that came without their transaction (transactions, and the
//!   steps that came with them, are deduplicated by the columns' retry check).
//!
//! Every write happens on the committer thread (facts in the commit's batch, closing and rolling up after
//! it), so there is one writer (the request threads only intern values in memory, [`CubeStore::intern`]); queries read a fjall snapshot taken under the same lock as the open
//! buckets and the `closed_until` marks, so a bucket is counted either from memory or from its blob, never
//! both or neither.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch as WriteBatch, Readable};
use sightline_model::CubeAnswer;

use crate::cube::blob::{decode_bucket, encode_bucket};
use crate::cube::query::{self, Piece, Source};
use crate::cube::rollup::{
    bucket_of, decode_facts, encode_facts, kind_code, merge_bucket, Bucket, IdFact, Interner, GRACE_MS, KINDS, TIERS,
};
use crate::cube::{CubeQuery, Fact};
use crate::cube::rollup::NDIMS;
use crate::store::QueryError;
use crate::sync;

/// A wall clock in epoch ms; tests move it by hand to close buckets.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the cube is kept.
#[derive(Clone)]
pub struct CubeOptions {
    /// Off: no facts are computed or stored (the ingest benchmark's baseline); queries answer empty.
    pub enabled: bool,
    /// Data older than this is dropped, by whole UTC days (a day goes once all of it is this old).
    pub max_age_ms: i64,
    pub clock: Clock,
}

pub const DEFAULT_RETENTION_DAYS: u64 = 30;

impl Default for CubeOptions {
    fn default() -> Self {
        CubeOptions {
            enabled: true,
            max_age_ms: DEFAULT_RETENTION_DAYS as i64 * TIERS[3],
            clock: Arc::new(super::now_ms),
        }
    }
}

impl std::fmt::Debug for CubeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CubeOptions").field("enabled", &self.enabled).field("max_age_ms", &self.max_age_ms).finish()
    }
}

/// Facts being interned on a request's thread ([`CubeStore::interning`]).
pub(super) struct Interning<'c> {
    cube: &'c CubeStore,
    st: Option<std::sync::RwLockReadGuard<'c, State>>,
    out: Vec<IdFact>,
    /// `(fact, dimension, value)` not interned yet: added under the write lock by [`Interning::finish`],
    /// in the order met, as [`CubeStore::intern`] adds them.
    missing: Vec<(usize, usize, String)>,
    /// Per dimension, the last value found and its id: a request's facts mostly repeat the one before
    /// (its service, instance, status, endpoint), and comparing is cheaper than hashing (the lookups were
    /// ~3 % of ingest's instructions).
    last: [(String, u32); NDIMS],
}

impl Interning<'_> {
    pub(super) fn push(&mut self, f: &Fact<'_>) {
        let Interning { st, out, missing, last, .. } = self;
        let st = st.as_ref().expect("held until finish");
        let mut dims = [0u32; NDIMS];
        for (d, ((slot, s), (last, last_id))) in dims.iter_mut().zip(&f.dims).zip(last.iter_mut()).enumerate() {
            if s.is_empty() {
                continue;
            }
            if *last_id != u32::MAX && last.as_str() == s.as_ref() {
                *slot = *last_id;
                continue;
            }
            *slot = match st.interner.get(s) {
                Some(id) => {
                    last.clear();
                    last.push_str(s);
                    *last_id = id;
                    id
                }
                None => {
                    missing.push((out.len(), d, s.to_string()));
                    u32::MAX
                }
            };
        }
        out.push(IdFact { kind: f.kind, dims, end_ms: f.end_ms, duration_ms: f.duration_ms, error: f.error });
    }

    /// The facts pushed, in order, with ids for every value.
    pub(super) fn finish(mut self) -> Vec<IdFact> {
        self.st = None;
        if !self.missing.is_empty() {
            let mut st = sync::write(&self.cube.state);
            for (i, d, s) in &self.missing {
                self.out[*i].dims[*d] = st.interner.intern(s);
            }
        }
        self.out
    }
}

/// `tier(1) ‖ kind(1) ‖ start(8, BE)`.
pub fn blob_key(tier: usize, kind: u8, start: i64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = tier as u8;
    k[1] = kind;
    k[2..].copy_from_slice(&(start.max(0) as u64).to_be_bytes());
    k
}

fn start_of_blob_key(k: &[u8]) -> Option<i64> {
    Some(u64::from_be_bytes(k.get(2..10)?.try_into().ok()?) as i64)
}

const CLOSED_KEY: &[u8] = b"closed_until";

/// What the memory holds: the interner, the open minute buckets, and how far each tier is closed.
struct State {
    interner: Interner,
    /// `(minute start, kind)` → cells; `Arc` so a query takes them without copying (the committer
    /// copies on write if a query still holds one).
    open: BTreeMap<(i64, u8), Arc<Bucket>>,
    /// Buckets of tier `t` starting before `closed_until[t]` are stored as blobs (or were empty).
    closed_until: [i64; 4],
}

pub(super) struct CubeStore {
    blobs: Keyspace,
    wal: Keyspace,
    dims: Keyspace,
    meta: Keyspace,
    pub(super) steps: Keyspace,
    state: RwLock<State>,
    next_wal: AtomicU64,
    pub(super) options: CubeOptions,
}

/// Facts of one commit, prepared in its batch, applied to memory once it is durable.
#[derive(Default)]
pub(super) struct Staged {
    open: Vec<IdFact>,
    interned: usize,
}

impl CubeStore {
    pub(super) fn open(db: &Database, options: CubeOptions) -> anyhow::Result<CubeStore> {
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default).with_context(|| format!("keyspace {name}"));
        // Blobs of busy buckets run to megabytes and are rewritten only by late data: kept in blob files,
        // so compaction moves their keys, not them.
        let blobs = db
            .keyspace("cube", || {
                KeyspaceCreateOptions::default()
                    .with_kv_separation(Some(fjall::KvSeparationOptions::default().separation_threshold(4096)))
            })
            .context("keyspace cube")?;
        let store = CubeStore {
            blobs,
            wal: ks("cube_wal")?,
            dims: ks("cube_dims")?,
            meta: ks("cube_meta")?,
            steps: ks("cube_steps")?,
            state: RwLock::new(State { interner: Interner::default(), open: BTreeMap::new(), closed_until: [0; 4] }),
            next_wal: AtomicU64::new(super::now_ms().max(0) as u64 * 1_000_000),
            options,
        };
        store.load()?;
        Ok(store)
    }

    /// Reads the interner and the marks, and replays the write-ahead rows into the open buckets.
    fn load(&self) -> anyhow::Result<()> {
        let mut st = sync::write(&self.state);
        for kv in self.dims.iter() {
            let (k, v) = kv.into_inner().context("reading cube dimensions")?;
            let id = u32::from_be_bytes(k[..].try_into().context("a cube dimension key")?);
            st.interner.restore(id, std::str::from_utf8(&v).context("a cube dimension value")?)?;
        }
        st.closed_until = match self.meta.get(CLOSED_KEY)? {
            Some(v) if v.len() == 32 => {
                std::array::from_fn(|t| i64::from_be_bytes(v[t * 8..t * 8 + 8].try_into().expect("8 bytes")))
            }
            // A new store: everything before now is closed (and empty).
            _ => initial_marks((self.options.clock)()),
        };
        let mut facts = 0usize;
        for kv in self.wal.iter() {
            let (_, v) = kv.into_inner().context("reading the cube's write-ahead rows")?;
            for f in decode_facts(&v)? {
                facts += 1;
                let key = (bucket_of(0, f.end_ms), kind_code(f.kind));
                Arc::make_mut(st.open.entry(key).or_default()).entry(f.dims).or_default().add(f.end_ms, f.duration_ms, f.error);
            }
        }
        tracing::info!(dims = st.interner.len(), open_minutes = st.open.len(), replayed_facts = facts, "cube opened");
        Ok(())
    }

    /// Interns the facts' values, on the caller's thread (the committer then only handles ids). Values seen
    /// before need only the read lock; new ones are added under the write lock and written to disk by the
    /// next commit's [`CubeStore::stage`], which is the commit of these facts or an earlier one.
    pub(super) fn intern<'f, 'a: 'f>(&self, facts: impl Iterator<Item = &'f Fact<'a>>) -> Vec<IdFact> {
        let facts: Vec<&Fact> = facts.collect();
        let mut out: Vec<IdFact> = Vec::with_capacity(facts.len());
        let mut missing = false;
        {
            let st = sync::read(&self.state);
            for f in &facts {
                let mut dims = [0u32; NDIMS];
                for (d, s) in dims.iter_mut().zip(&f.dims) {
                    if !s.is_empty() {
                        *d = st.interner.get(s).unwrap_or_else(|| {
                            missing = true;
                            u32::MAX
                        });
                    }
                }
                out.push(IdFact { kind: f.kind, dims, end_ms: f.end_ms, duration_ms: f.duration_ms, error: f.error });
            }
        }
        if missing {
            let mut st = sync::write(&self.state);
            for (id, f) in out.iter_mut().zip(&facts) {
                for (d, s) in id.dims.iter_mut().zip(&f.dims) {
                    if *d == u32::MAX {
                        *d = st.interner.intern(s);
                    }
                }
            }
        }
        out
    }

    /// Interns facts one at a time as the caller works them out ([`Interning::push`]), with the read lock
    /// held meanwhile: what [`CubeStore::intern`] does without the facts all being at hand at once.
    /// `capacity`: how many facts are expected (at most).
    pub(super) fn interning(&self, capacity: usize) -> Interning<'_> {
        Interning {
            cube: self,
            st: Some(sync::read(&self.state)),
            out: Vec::with_capacity(capacity),
            missing: Vec::new(),
            last: std::array::from_fn(|_| (String::new(), u32::MAX)),
        }
    }

    /// Adds the facts of a commit to its batch: open minutes as write-ahead rows, closed buckets merged
    /// into their blobs (late data, read-modify-write: the committer is the only writer).
    pub(super) fn stage(&self, batch: &mut WriteBatch, facts: Vec<IdFact>) -> anyhow::Result<Staged> {
        if facts.is_empty() {
            return Ok(Staged::default());
        }
        let now = (self.options.clock)();
        // What retention would drop at once is not stored (whole days, as in `enforce_retention`).
        let oldest = bucket_of(3, now.saturating_sub(self.options.max_age_ms));
        let (closed_until, interned) = {
            let st = sync::read(&self.state);
            for (id, name) in st.interner.unpersisted() {
                batch.insert(&self.dims, id.to_be_bytes().as_slice(), name.as_bytes());
            }
            (st.closed_until, st.interner.len())
        };
        // Sized up front: grown fact by fact, a group's thousands of facts were copied into fresh memory
        // several times per commit (~2 % of ingest's CPU).
        let (mut open, mut late) = (Vec::with_capacity(facts.len()), Vec::new());
        for f in facts.into_iter().filter(|f| f.end_ms >= oldest) {
            if f.end_ms >= closed_until[0] {
                open.push(f);
            } else {
                late.push(f);
            }
        }
        let mut by_minute: BTreeMap<i64, Vec<&IdFact>> = BTreeMap::new();
        for f in &open {
            by_minute.entry(bucket_of(0, f.end_ms)).or_default().push(f);
        }
        for (minute, fs) in by_minute {
            let seq = self.next_wal.fetch_add(1, Ordering::Relaxed);
            batch.insert(&self.wal, wal_key(minute, seq).as_slice(), encode_facts(fs.into_iter()));
        }
        self.merge_late(batch, &late, &closed_until)?;
        Ok(Staged { open, interned })
    }

    fn merge_late(&self, batch: &mut WriteBatch, late: &[IdFact], closed_until: &[i64; 4]) -> anyhow::Result<()> {
        let mut deltas: HashMap<(usize, u8, i64), Bucket> = HashMap::new();
        for f in late {
            for (tier, closed) in closed_until.iter().enumerate() {
                let start = bucket_of(tier, f.end_ms);
                if start < *closed {
                    let cell = deltas.entry((tier, kind_code(f.kind), start)).or_default().entry(f.dims).or_default();
                    cell.add(f.end_ms, f.duration_ms, f.error);
                }
            }
        }
        for ((tier, kind, start), delta) in deltas {
            let key = blob_key(tier, kind, start);
            let mut b = match self.blobs.get(key)? {
                Some(v) => decode_bucket(&v)?,
                None => Bucket::default(),
            };
            merge_bucket(&mut b, &delta);
            batch.insert(&self.blobs, key.as_slice(), encode_bucket(&b));
        }
        Ok(())
    }

    /// After the commit is durable: its open facts become visible.
    pub(super) fn apply(&self, staged: Staged) {
        let mut st = sync::write(&self.state);
        st.interner.persisted = st.interner.persisted.max(staged.interned);
        for f in staged.open {
            let key = (bucket_of(0, f.end_ms), kind_code(f.kind));
            Arc::make_mut(st.open.entry(key).or_default()).entry(f.dims).or_default().add(f.end_ms, f.duration_ms, f.error);
        }
    }

    /// Closes the minutes whose grace has passed (one blob each, their write-ahead rows deleted in the same
    /// batch) and rolls the finer tiers up into the coarser ones that became whole. On the committer
    /// thread, between commits.
    pub(super) fn maintain(&self, db: &Database) -> anyhow::Result<()> {
        let now = (self.options.clock)();
        let (old, next, due) = {
            let st = sync::read(&self.state);
            let target = initial_marks(now);
            if target[0] <= st.closed_until[0] {
                return Ok(());
            }
            // Not before the retention's cutoff: after a long stop, nothing older is rolled up.
            let mut next = target;
            let floor = bucket_of(3, now.saturating_sub(self.options.max_age_ms));
            let mut old = st.closed_until;
            for (t, o) in old.iter_mut().enumerate() {
                *o = (*o).max(bucket_of(t, floor)).min(next[t]);
            }
            for t in 1..4 {
                next[t] = next[t].min(bucket_of(t, next[t - 1]));
            }
            let due: Vec<((i64, u8), Arc<Bucket>)> =
                st.open.range(..(next[0], 0)).map(|(k, b)| (*k, b.clone())).collect();
            (old, next, due)
        };
        let mut batch = db.batch();
        // Blobs of this pass by key: the coarser tiers are merged from them before the batch is committed.
        let mut written: HashMap<[u8; 10], Bucket> = HashMap::new();
        for ((minute, kind), b) in &due {
            let key = blob_key(0, *kind, *minute);
            // No blob exists for an open minute (late data only goes to closed ones, and the marks move in
            // this same batch); merging with one anyway costs a lookup and cannot lose a count.
            let mut cells = match self.blobs.get(key)? {
                Some(v) => decode_bucket(&v)?,
                None => Bucket::default(),
            };
            merge_bucket(&mut cells, b);
            batch.insert(&self.blobs, key.as_slice(), encode_bucket(&cells));
            written.insert(key, cells);
        }
        for kv in self.wal.range(..wal_key(next[0], 0)) {
            batch.remove(&self.wal, kv.key().context("reading the cube's write-ahead rows")?);
        }
        self.roll_up_tiers(&mut batch, (&old, &next), &mut written)?;
        batch.insert(&self.meta, CLOSED_KEY, marks_bytes(&next).as_slice());
        batch.commit().context("closing cube buckets")?;
        let mut st = sync::write(&self.state);
        for (k, _) in &due {
            st.open.remove(k);
        }
        st.closed_until = next;
        Ok(())
    }

    /// Builds every coarse bucket that became whole between the `old` and `next` marks: merges of the finer
    /// tier's blobs, those of this pass taken from `written`.
    fn roll_up_tiers(
        &self,
        batch: &mut WriteBatch,
        (old, next): (&[i64; 4], &[i64; 4]),
        written: &mut HashMap<[u8; 10], Bucket>,
    ) -> anyhow::Result<()> {
        for tier in 1..4 {
            let mut start = old[tier];
            while start < next[tier] {
                for kind in KINDS.map(kind_code) {
                    let b = self.roll_up(tier, kind, start, written)?;
                    if !b.is_empty() {
                        let key = blob_key(tier, kind, start);
                        batch.insert(&self.blobs, key.as_slice(), encode_bucket(&b));
                        written.insert(key, b);
                    }
                }
                start += TIERS[tier];
            }
        }
        Ok(())
    }

    /// The bucket of `tier` at `start`: the merge of the finer tier's blobs in it (those written in this
    /// pass come from `written`, the rest from disk).
    fn roll_up(&self, tier: usize, kind: u8, start: i64, written: &HashMap<[u8; 10], Bucket>) -> anyhow::Result<Bucket> {
        let fine = tier - 1;
        let mut out = Bucket::default();
        let mut seen = std::collections::HashSet::new();
        for kv in self.blobs.range(blob_key(fine, kind, start)..blob_key(fine, kind, start + TIERS[tier])) {
            let (k, v) = kv.into_inner().context("reading cube blobs")?;
            let key: [u8; 10] = k[..].try_into().context("a cube blob key")?;
            seen.insert(key);
            match written.get(&key) {
                Some(b) => merge_bucket(&mut out, b),
                None => merge_bucket(&mut out, &decode_bucket(&v)?),
            }
        }
        for (k, b) in written.iter() {
            let s = start_of_blob_key(k).unwrap_or(i64::MIN);
            if k[0] as usize == fine && k[1] == kind && s >= start && s < start + TIERS[tier] && !seen.contains(k) {
                merge_bucket(&mut out, b);
            }
        }
        Ok(out)
    }

    /// How far each tier is closed (for tests that check which tiers a query could use).
    pub(super) fn closed_until(&self) -> [i64; 4] {
        sync::read(&self.state).closed_until
    }

    /// Drops the days that ended before the cube's retention, in every tier at once: whole days, so that
    /// a range is answered alike from any tier (a coarse bucket kept beside dropped minutes would make
    /// the figures depend on the range's alignment). Returns how many blobs went.
    pub(super) fn enforce_retention(&self, db: &Database, now: i64) -> anyhow::Result<u64> {
        let cutoff = bucket_of(3, now.saturating_sub(self.options.max_age_ms));
        let mut removed = 0;
        let mut batch = db.batch();
        for tier in 0..TIERS.len() {
            for kind in KINDS.map(kind_code) {
                for kv in self.blobs.range(blob_key(tier, kind, 0)..blob_key(tier, kind, cutoff.max(0))) {
                    batch.remove(&self.blobs, kv.key().context("reading cube blobs")?);
                    removed += 1;
                }
            }
        }
        batch.commit().context("dropping expired cube buckets")?;
        Ok(removed)
    }

    /// Answers `q`; `raw_since_ms` is the oldest raw transaction kept.
    pub(super) fn query(&self, db: &Database, q: &CubeQuery, raw_since_ms: Option<i64>) -> Result<CubeAnswer, QueryError> {
        let (from, to) = query::aligned(q.from, q.to);
        let kind = kind_code(q.kind());
        // Everything the scan needs is taken under the lock (cheap: `Arc`s and marks), then the lock is let
        // go so the committer is not held up by a long query; the snapshot is taken under the same lock so
        // a bucket is read from memory or from its blob, as the marks say.
        let (plans, open, snapshot, sel) = {
            let st = sync::read(&self.state);
            let plans = query::Plans::new(from, to, q.step_ms, &st.closed_until)?;
            let open: HashMap<i64, Arc<Bucket>> =
                st.open.iter().filter(|((_, k), _)| *k == kind).map(|((m, _), b)| (*m, b.clone())).collect();
            (plans, open, db.snapshot(), query::Selector::new(q, &st.interner))
        };
        let blobs = &self.blobs;
        let fetch = |p: &Piece| -> anyhow::Result<Option<Source>> {
            if p.open {
                return Ok(open.get(&p.start).cloned().map(Source::Open));
            }
            let v = snapshot.get(blobs, blob_key(p.tier, kind, p.start)).context("reading a cube blob")?;
            Ok(v.map(|v| Source::Blob(Box::new(v))))
        };
        let names = |ids: &[u32]| {
            let st = sync::read(&self.state);
            ids.iter().map(|id| st.interner.name(*id).to_string()).collect()
        };
        query::answer(q, (from, to), &plans, sel, (&fetch, &names), raw_since_ms)
    }
}

/// The marks of a store that has seen nothing before `now`: every bucket ending by `now − grace` closed.
fn initial_marks(now: i64) -> [i64; 4] {
    let m = bucket_of(0, now - GRACE_MS);
    let mut marks = [m; 4];
    for t in 1..4 {
        marks[t] = bucket_of(t, marks[t - 1]);
    }
    marks
}

fn marks_bytes(m: &[i64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (t, v) in m.iter().enumerate() {
        out[t * 8..t * 8 + 8].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// `minute(8, BE) ‖ seq(8, BE)`: closing a minute deletes a key range.
fn wal_key(minute: i64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(minute.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}
