//! The embedded store: fjall for durability, columns in memory for the hitmap.
//!
//! Keyspaces (see `record` for key layouts):
//! - `blocks`: a request's finished spans, one compressed block per request, by `end_ms ‖ request_id`;
//! - `requests`: one record per request, under the same key: its new transactions with their steps
//!   (the start-up rebuild reads them, newest first) and the traces it stored spans of (the trace index is
//!   rebuilt from them);
//! - `inflight`: the latest in-flight snapshot per span, deleted when the span finishes;
//! - `meta`: where retention cut last;
//! - `cube*`: the cube's rollup (see [`super::cube`]);
//! - `spans` (a chunk per trace and request, by `trace_id ‖ request_id`), `tx_ids` (a key per
//!   transaction), `tx` and `minutes`: what stores written before span blocks kept per trace and per
//!   transaction; read (rebuild, lists, traces) and expired as before, never written.
//!
//! Why two keys per request and none per trace or transaction: each key costs the LSM tree a journal
//! entry, a memtable insert, a flush and compactions, whatever its size (~2.4 µs of CPU for a span chunk,
//! ~1.6 µs for a transaction's id, BENCHMARKS.md issue 16). What those keys gave is in memory instead: a
//! trace's requests in the trace index ([`traces`]), and the retry check in the columns, which hold every
//! stored transaction's ids anyway (`Columns::contains`); docs/STORE.md.
//!
//! Writes go through one committer thread that takes every request queued at that moment, writes them in
//! one batch and fsyncs the journal once (group commit): an acknowledged request has been fsynced, and
//! concurrent requests share the fsync instead of queueing behind one each.
//!
//! After a start the columns are filled in the background, newest first, while the store already serves
//! and ingests ([`load`]); [`EmbeddedStore::open`] waits for that, [`EmbeddedStore::start`] does not.
//!
//! `open` reads fjall and asserts it is not on an async worker ([`crate::blocking`]): callers go through
//! `blocking::run`. The [`TraceStore`] methods do that themselves: `transactions`, `trace`,
//! `enforce_retention` and `flush` (fjall) and `hitmap`, `services` and `tx_series` (scans of the in-memory
//! columns) run on the blocking pool inside their futures; `append` only prepares the batch and queues it
//! for the committer thread; `active` copies a small in-memory list.

mod load;
mod memory;
mod traces;

pub use memory::MemoryBudget;

use std::path::Path;
use std::sync::mpsc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};
use futures::future::BoxFuture;
use prost::Message;
use rustc_hash::{FxHashMap, FxHashSet};
use sightline_model::{ActiveList, Grid, HistoryLoading, Hitmap, LivePoint, ServiceList, Trace, TransactionPage};
use tokio::sync::oneshot;

use crate::blocking;
use crate::cube::facts::Statements;
use crate::cube::rollup::IdFact;
use crate::cube::OwnedFact;
use crate::sync;

use super::active::Active;
use super::cube::{CubeOptions, CubeStore};
use super::columns::spill::SpillDir;
use super::columns::{Columns, SortKey, TxRow};
use super::record::{
    block_key, block_trace, chunk_key, kind, minute_key, pack_block, pack_request, request_key, request_key_id, request_traces, tx_key,
    tx_key_end_ms, unpack_chunk, Lineage, SpanRecord, SpanRef, SpanTimes,
};
use super::{
    assemble, now_ms, CommitObserver, CommitReport, LiveBatch, QueryError, RetentionReport, SeriesQuery, StoreFuture, StoreStats,
    TraceStore, HitmapFilter, TxQuery, TxSeries,
};

/// Retention limits.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Transactions ending longer ago than this are dropped (with their traces).
    pub max_age_ms: i64,
    /// When the store's files exceed this, the oldest tenth of the time range is dropped per pass.
    pub max_bytes: u64,
}

/// fjall's journal is capped at this (its minimum; default 512 MiB): when it is full, memtables are
/// flushed to tables. What is in the journal is replayed before the store opens (~40 MB/s on this machine)
/// and held in memtables meanwhile, so the cap bounds both the time to health after a kill -9 and the
/// memtables' share of memory (docs/STORE.md, "Restart").
const MAX_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;
/// fjall's background threads (memtable flushes, compactions). One: with two (its default on two cores),
/// the first worker hands every compaction request back to the queue while the second is busy and picks it
/// up again at once (fjall 3.1 `worker_pool::worker_tick`), a busy loop that took ~10 % of the ingest
/// benchmark's CPU (BENCHMARKS.md, issue 16).
const FJALL_WORKERS: usize = 1;
/// Most requests merged into one group commit; bounds the latency one slow group adds to the next.
const MAX_GROUP: usize = 256;
/// Deletions are committed in chunks of this many keys, so retention never builds a huge batch.
const DELETE_CHUNK: usize = 10_000;
const MINUTE_MS: i64 = 60_000;
/// Where evicted column blocks go, inside the store's directory (fjall ignores it).
const SPILL_DIR: &str = "columns-evicted";
/// The committer closes due cube buckets after each commit, and this often when no request comes.
const MAINTENANCE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Key in `meta` of where retention cut last (`end_ms`, 8 bytes BE).
const RETAINED_FROM: &[u8] = b"retained_from_ms";

/// One request, prepared on the caller's thread so the single committer only writes.
#[derive(Default)]
struct Job {
    /// The request's finished spans as one value ([`pack_block`]): a compressed chunk per trace; empty if
    /// none.
    block: Vec<u8>,
    /// The traces of those spans, each once.
    traces: Vec<[u8; 16]>,
    /// Ids of the finished spans (to retire their in-flight snapshots).
    finished: Vec<[u8; 24]>,
    /// Finished transactions, each with its range in `tx_bytes`.
    txs: Vec<(SpanRecord, std::ops::Range<usize>)>,
    /// The transactions with their steps, encoded one after the other as [`pack_request`] takes them.
    tx_bytes: Vec<u8>,
    /// The request's record ([`pack_request`]) as it is when every transaction is new (the committer
    /// packs it again in the rare other case, a retry); empty when the request stores no finished span.
    record: Vec<u8>,
    /// The latest end of the finished spans: the record's key.
    end_ms: i64,
    /// In-flight snapshots, encoded for the `inflight` keyspace.
    running: Vec<(SpanRecord, Vec<u8>)>,
    /// What the request contributes to the cube.
    facts: JobFacts,
    /// Each of [`Job::txs`] as a live point (made here, not by the single committer).
    live: Vec<LivePoint>,
    /// Spans in the request (for [`CommitReport`]).
    spans: usize,
    done: Option<oneshot::Sender<Answer>>,
}

/// The committer's answer to a job, with what is left of the job: the request's records are freed by the
/// task that waits for the answer, not by the single committer (freeing the requests' spans was ~8 % of
/// the committer's time).
struct Answer {
    result: Result<LiveBatch, QueryError>,
    _spent: Job,
}

/// Sends `result` to whoever waits for `job` (nobody, for a caller that went away), with the job.
fn answer(mut job: Job, result: Result<LiveBatch, QueryError>) {
    if let Some(done) = job.done.take() {
        let _ = done.send(Answer { result, _spent: job });
    }
}

/// The cube facts of a request, interned on the caller's thread and handed to the committer by value
/// (moved, not copied, into the batch).
#[derive(Default)]
struct JobFacts {
    /// The facts of each of [`Job::txs`] (same order).
    tx: Vec<Vec<IdFact>>,
    /// Finished SQL steps that contribute facts, by `tx_key`, deduplicated like transactions.
    steps: Vec<([u8; 32], Vec<IdFact>)>,
    /// Facts given directly ([`EmbeddedStore::append_cube_facts`]): counted as they are.
    direct: Vec<IdFact>,
}

impl Job {
    /// The cube facts of each span, and for each finished transaction the facts of the SQL steps that came
    /// with it in this request: those are counted when the transaction is new (a retry re-sends the same
    /// request), so they need no dedup key of their own; the other steps keep theirs (`cube_steps`).
    /// Worked out here, on the caller's thread, one span at a time so the committer knows which span each
    /// fact came from and counts it only if the span is new; each fact is interned as it is made.
    #[allow(clippy::type_complexity)]
    fn cube_facts(
        spans: &[SpanRef<'_>],
        lineage: Option<&Lineage>,
        statements: Option<&Statements>,
        cube: &CubeStore,
    ) -> (Vec<Option<IdFact>>, Vec<Vec<IdFact>>) {
        let mut interning = cube.interning(spans.len());
        // Per fact: its span, and the transaction it is counted with.
        let mut placed: Vec<(usize, Option<usize>)> = Vec::with_capacity(spans.len());
        crate::cube::facts::each_fact(spans, lineage, statements, |i, fact, owner| {
            interning.push(fact);
            placed.push((i, owner.filter(|o| !spans[*o].in_flight())));
        });
        let ids = interning.finish();
        let mut per_span = vec![None; spans.len()];
        let mut with_tx: Vec<Vec<IdFact>> = vec![Vec::new(); spans.len()];
        for ((i, owner), id) in placed.into_iter().zip(ids) {
            match owner {
                Some(o) => with_tx[o].push(id),
                None => per_span[i] = Some(id),
            }
        }
        (per_span, with_tx)
    }

    /// `cube`: the cube to work out facts for (`None` when it is off). The finished spans are encoded
    /// trace by trace into one block, compressed in frames of whole traces ([`pack_block`]), straight from
    /// the request's bytes ([`SpanRef`]); only transactions and running spans become owned records (the
    /// committer still needs them); the request's record is packed here too, so the single committer only
    /// writes.
    fn prepare(spans: &[SpanRef<'_>], cube: Option<&CubeStore>) -> Job {
        // Sized up front: growing these one push at a time was ~1 % of ingest's instructions (copies).
        let txs = spans.iter().filter(|s| s.is_transaction && !s.in_flight()).count();
        let mut job = Job {
            spans: spans.len(),
            finished: Vec::with_capacity(spans.len()),
            txs: Vec::with_capacity(txs),
            live: Vec::with_capacity(txs),
            // A transaction's record with its steps is ~300–600 bytes.
            tx_bytes: Vec::with_capacity(txs * 512),
            facts: JobFacts { tx: Vec::with_capacity(if cube.is_some() { txs } else { 0 }), ..JobFacts::default() },
            ..Job::default()
        };
        // One lineage and one normalization of each distinct statement, for the cube's SQL steps and the
        // transactions' steps alike.
        let needs_lineage = crate::compare::profile::has_steps(spans)
            || (cube.is_some() && spans.iter().any(|s| !s.is_transaction && s.step_kind == kind::SQL));
        let shared = needs_lineage.then(|| (Lineage::of(spans), Statements::of(spans)));
        let (mut per_span, mut with_tx) = match cube {
            Some(cube) => Self::cube_facts(spans, shared.as_ref().map(|s| &s.0), shared.as_ref().map(|s| &s.1), cube),
            None => Default::default(),
        };
        let mut steps = match &shared {
            Some((lineage, statements)) => crate::compare::profile::steps_with_lineage(spans, lineage, statements),
            None => vec![Vec::new(); spans.len()],
        };
        drop(shared);
        // Per trace: how many finished spans it has here; per span, its trace's group (`u32::MAX`: in
        // flight).
        let mut groups: Vec<([u8; 16], u32)> = Vec::with_capacity(spans.len() / 4 + 1);
        let mut index: FxHashMap<[u8; 16], u32> = FxHashMap::with_capacity_and_hasher(spans.len() / 4 + 1, Default::default());
        let mut group_of: Vec<u32> = Vec::with_capacity(spans.len());
        for s in spans {
            if s.in_flight() {
                group_of.push(u32::MAX);
                continue;
            }
            let trace: [u8; 16] = s.trace_id[..16].try_into().expect("validated at ingest");
            let g = *index.entry(trace).or_insert_with(|| {
                groups.push((trace, 0));
                groups.len() as u32 - 1
            });
            groups[g as usize].1 += 1;
            group_of.push(g);
        }
        // The spans in trace order (arrival order within a trace): a counting sort by group.
        let mut next: Vec<u32> = Vec::with_capacity(groups.len());
        let mut at = 0;
        for (_, n) in &groups {
            next.push(at);
            at += n;
        }
        let mut order = vec![0u32; at as usize];
        for (i, g) in group_of.iter().enumerate().filter(|(_, g)| **g != u32::MAX) {
            order[next[*g as usize] as usize] = i as u32;
            next[*g as usize] += 1;
        }
        // Each trace's spans encoded (the `SpanChunk`'s field 1 once per span), trace after trace, and
        // compressed in frames of whole traces (`pack_block`): lz4 clears a table per call, and a request
        // brings dozens of traces.
        // A span encodes to ~150–300 bytes; reserving that spares the copies of growing.
        let mut raw = Vec::with_capacity(spans.len() * 256);
        let mut ends = Vec::with_capacity(groups.len());
        job.traces.reserve_exact(groups.len());
        let mut from = 0;
        for (trace, n) in &groups {
            for &i in &order[from..from + *n as usize] {
                spans[i as usize].encode(1, &mut raw);
            }
            from += *n as usize;
            ends.push(raw.len() as u32);
            job.traces.push(*trace);
        }
        if !groups.is_empty() {
            with_scratch(|scratch| pack_block(&job.traces, &ends, &raw, scratch, &mut job.block));
        }
        drop(raw);
        for (i, s) in spans.iter().enumerate() {
            if s.in_flight() {
                let s = s.to_record();
                let b = s.encode_to_vec();
                job.running.push((s, b));
                continue;
            }
            job.finished.push(s.ids());
            if cube.is_some() {
                let facts: Vec<_> = per_span.get_mut(i).and_then(Option::take).into_iter().collect();
                if s.is_transaction {
                    let mut facts = facts;
                    facts.append(&mut with_tx[i]);
                    job.facts.tx.push(facts);
                } else if !facts.is_empty() {
                    job.facts.steps.push((tx_key(s.end_ms(), &s.ids()), facts));
                }
            }
            job.end_ms = job.end_ms.max(s.end_ms());
            if s.is_transaction {
                // The record's copy carries the transaction's steps (the trace's chunk has the spans themselves).
                let mut s = s.to_record();
                s.steps = std::mem::take(&mut steps[i]);
                let start = job.tx_bytes.len();
                prost::encoding::message::encode(1, &s, &mut job.tx_bytes);
                job.live.push(LivePoint { end_ms: s.end_ms(), duration_ms: s.duration_ms(), error: s.error, service: s.service.clone() });
                job.txs.push((s, start..job.tx_bytes.len()));
            }
        }
        if !job.block.is_empty() {
            with_scratch(|scratch| pack_request(&job.tx_bytes, &job.traces, scratch, &mut job.record));
        }
        job
    }

    /// The request's record with only the transactions at `new` (indexes into `txs`): when some were
    /// stored before (a retry), the record must not bring them back a second time at the next start.
    fn repacked(&self, new: &[usize]) -> Vec<u8> {
        let mut raw = Vec::new();
        for &i in new {
            raw.extend_from_slice(&self.tx_bytes[self.txs[i].1.clone()]);
        }
        let mut out = Vec::new();
        pack_request(&raw, &self.traces, &mut Vec::new(), &mut out);
        out
    }
}

thread_local! {
    /// lz4's output buffer, kept by each thread that prepares requests: made fresh per request, it was
    /// zero-filled to lz4's worst case (~64 KiB) every time, ~1 % of ingest's instructions.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest [`SCRATCH`] a thread keeps between requests (a huge trace needs a larger one once).
const SCRATCH_KEPT: usize = 256 * 1024;

/// Calls `f` with this thread's [`SCRATCH`].
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with_borrow_mut(|scratch| {
        let out = f(scratch);
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
        out
    })
}

struct Inner {
    db: Database,
    blocks: Keyspace,
    requests: Keyspace,
    meta: Keyspace,
    /// Written before span blocks: a chunk per trace and request (read, never written).
    spans: Keyspace,
    /// Written before span blocks: a key per transaction (read, never written).
    tx_ids: Keyspace,
    /// Written before request records: one record per transaction (read, never written).
    legacy_txs: Keyspace,
    /// Written before request records: the traces by start minute (read, never written).
    legacy_minutes: Keyspace,
    inflight: Keyspace,
    columns: RwLock<Columns>,
    /// Which requests stored spans of a trace ([`traces`]).
    traces: RwLock<traces::TraceIndex>,
    active: Mutex<Active>,
    retention: Retention,
    /// Next request id (its chunks' id): starts at the wall clock in ns at open, so ids keep increasing
    /// across restarts.
    next_request: AtomicU64,
    on_commit: Option<CommitObserver>,
    cube: CubeStore,
    /// Reading the stored history into `columns` after open ([`load`]).
    load: load::Loader,
    /// The memory budget and what enforces it ([`memory`]).
    memory: memory::Memory,
}

/// Durable trace store on fjall; see the module docs.
pub struct EmbeddedStore {
    inner: Arc<Inner>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    loader: Mutex<Option<JoinHandle<()>>>,
    /// The `store-memory` thread, under a budget.
    watcher: Mutex<Option<JoinHandle<()>>>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`, replays fjall's journal, and rebuilds the in-memory columns
    /// and the in-flight list from disk; returns once all of the stored history is in the columns.
    pub fn open(dir: &Path, retention: Retention) -> anyhow::Result<Self> {
        Self::open_observed(dir, retention, None)
    }

    /// [`EmbeddedStore::open`], telling `on_commit` about every group commit (on the committer thread).
    pub fn open_observed(dir: &Path, retention: Retention, on_commit: Option<CommitObserver>) -> anyhow::Result<Self> {
        Self::open_with(dir, retention, CubeOptions::default(), on_commit)
    }

    /// [`EmbeddedStore::open_observed`] with the cube kept as `cube` says.
    pub fn open_with(
        dir: &Path,
        retention: Retention,
        cube: CubeOptions,
        on_commit: Option<CommitObserver>,
    ) -> anyhow::Result<Self> {
        let store = Self::start_inner(dir, retention, cube, None, on_commit, false)?;
        store.wait_loaded()?;
        Ok(store)
    }

    /// [`EmbeddedStore::open`] within a memory budget: columns beyond its share are evicted to disk.
    pub fn open_budgeted(dir: &Path, retention: Retention, memory: MemoryBudget) -> anyhow::Result<Self> {
        let store = Self::start_inner(dir, retention, CubeOptions::default(), Some(memory), None, false)?;
        store.wait_loaded()?;
        Ok(store)
    }

    /// [`EmbeddedStore::open_with`] without waiting for the stored history: the store serves and ingests
    /// at once while a thread reads the history into the columns, newest first; answers reaching older
    /// data say so ([`HistoryLoading`]). What the server uses; `memory`: the budget it keeps to (`None`:
    /// fjall's defaults and every column in memory).
    pub fn start(
        dir: &Path,
        retention: Retention,
        cube: CubeOptions,
        memory: Option<MemoryBudget>,
        on_commit: Option<CommitObserver>,
    ) -> anyhow::Result<Self> {
        Self::start_inner(dir, retention, cube, memory, on_commit, false)
    }

    /// [`EmbeddedStore::start`] with the history loader held until [`EmbeddedStore::load_more`] lets it
    /// read: for tests of what the store answers while loading.
    #[doc(hidden)]
    pub fn start_held(dir: &Path, retention: Retention) -> anyhow::Result<Self> {
        Self::start_inner(dir, retention, CubeOptions::default(), None, None, true)
    }

    /// [`EmbeddedStore::start_held`] within a memory budget (tests).
    #[doc(hidden)]
    pub fn start_held_budgeted(dir: &Path, retention: Retention, memory: MemoryBudget) -> anyhow::Result<Self> {
        Self::start_inner(dir, retention, CubeOptions::default(), Some(memory), None, true)
    }

    /// Evicts columns beyond the budget now instead of at the next check (tests).
    #[doc(hidden)]
    pub fn enforce_memory_budget(&self) {
        self.inner.memory.enforce(&self.inner);
    }

    /// Lets a held history loader read `rows` more stored transactions (tests).
    #[doc(hidden)]
    pub fn load_more(&self, rows: u64) {
        self.inner.load.allow(rows);
    }

    /// Blocks until the stored history is all in the columns (at once after [`EmbeddedStore::open`]);
    /// the error if it could not be read. Off the async runtime.
    pub fn wait_loaded(&self) -> anyhow::Result<()> {
        blocking::assert_off_runtime();
        self.inner.load.wait()
    }

    fn start_inner(
        dir: &Path,
        retention: Retention,
        cube: CubeOptions,
        budget: Option<MemoryBudget>,
        on_commit: Option<CommitObserver>,
        held: bool,
    ) -> anyhow::Result<Self> {
        blocking::assert_off_runtime();
        // The journal replay and the history load free most of what they allocate: returned at once, it
        // does not stay resident after the start (crate::allocator). Held by the loader until it is done.
        let start_phase = crate::allocator::purge_promptly();
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut builder = Database::builder(dir)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            .worker_threads(FJALL_WORKERS)
            .max_cached_files(Some(crate::open_files::store_share(crate::open_files::soft_limit())));
        if let Some(b) = budget {
            builder = builder.cache_size(b.cache());
        }
        let db = builder.open().with_context(|| format!("cannot open the fjall database in {}", dir.display()))?;
        // A keyspace keeps the memtable size it was created with; older ones are bounded by `memory`.
        let options = move || match budget {
            Some(b) => KeyspaceCreateOptions::default().max_memtable_size(b.memtable()),
            None => KeyspaceCreateOptions::default(),
        };
        let ks = |name: &str| db.keyspace(name, options).with_context(|| format!("keyspace {name}"));
        // Span blocks are large (a request's spans) and never updated in place: keeping them in blob files
        // and only their keys in the LSM tree spares compaction from rewriting them level after level.
        // They come compressed ([`pack_chunk`]), so the blob files do not compress them again.
        let blobs = || KvSeparationOptions::default().separation_threshold(512).compression(fjall::CompressionType::None);
        // Blocks and records are read by range (time) or by a key the trace index names, never to learn
        // whether a key exists: bloom filters, which fjall builds at every flush and compaction, would
        // serve nothing. The request records are large and written once, like blocks: in blob files too
        // (measured in BENCHMARKS.md, issue 16, twelfth session).
        let unfiltered = || options().filter_policy(fjall::config::FilterPolicy::disabled()).with_kv_separation(Some(blobs()));
        let blocks = db.keyspace("blocks", unfiltered).context("keyspace blocks")?;
        let spans = db.keyspace("spans", unfiltered).context("keyspace spans")?;
        // Evicted columns: a cache of the records for this process (see `columns::spill`), beside fjall's files.
        let spill = match budget {
            Some(_) => Some(SpillDir::create(&dir.join(SPILL_DIR))?),
            None => None,
        };
        let cube = CubeStore::open(&db, cube)?;
        let requests = db.keyspace("requests", unfiltered).context("keyspace requests")?;
        let (tx_ids, legacy_txs, meta) = (ks("tx_ids")?, ks("tx")?, ks("meta")?);
        // The history to load: the request records and the older stores' transactions, read through
        // snapshots taken before any commit (see `load`'s docs for why that counts everything once).
        let history = load::History::new(requests.iter().rev(), legacy_txs.iter().rev());
        let retained_from = meta.get(RETAINED_FROM).context("reading where retention cut")?.as_deref().and_then(tx_key_end_ms);
        let load = load::Loader::new(load::Extent::read(&requests, &tx_ids, &legacy_txs, retained_from)?, held);
        let mut columns = Columns::default();
        columns.history = load.initial();
        let inner = Inner {
            cube,
            blocks,
            spans,
            requests,
            meta,
            tx_ids,
            legacy_txs,
            legacy_minutes: ks("minutes")?,
            inflight: ks("inflight")?,
            db,
            columns: RwLock::new(columns),
            traces: RwLock::new(traces::TraceIndex::default()),
            active: Mutex::new(Active::default()),
            retention,
            next_request: AtomicU64::new(now_ms().max(0) as u64 * 1_000_000),
            on_commit,
            load,
            memory: memory::Memory::new(budget, spill),
        };
        inner.rebuild_active()?;
        let inner = Arc::new(inner);
        let loader = if inner.load.extent.is_some() {
            let worker = inner.clone();
            let handle = std::thread::Builder::new()
                .name("store-load".into())
                .spawn(move || {
                    load::run(&worker, history);
                    drop(start_phase);
                })
                .context("cannot start the history loader")?;
            Some(handle)
        } else {
            None
        };
        let watcher = if budget.is_some() {
            let worker = inner.clone();
            let handle = std::thread::Builder::new()
                .name("store-memory".into())
                .spawn(move || memory::run(&worker))
                .context("cannot start the memory budget's thread")?;
            Some(handle)
        } else {
            None
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let worker = inner.clone();
        let committer = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || worker.commit_loop(rx))
            .context("cannot start the committer thread")?;
        Ok(EmbeddedStore {
            inner,
            jobs: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
            loader: Mutex::new(loader),
            watcher: Mutex::new(watcher),
        })
    }

    /// How far each cube tier (1 min, 10 min, 1 h, 1 day) is closed: buckets starting before the mark are
    /// stored blobs. For tests.
    pub fn cube_closed_until(&self) -> [i64; 4] {
        self.inner.cube.closed_until()
    }

    /// Adds facts to the cube as if they came with spans, durably (the future resolves after the fsync),
    /// without deduplication. For benchmarks and tests that need dimensions spans do not carry yet, or
    /// months of rollups without storing the spans.
    #[doc(hidden)]
    pub fn append_cube_facts(&self, facts: Vec<OwnedFact>) -> BoxFuture<'static, Result<LiveBatch, QueryError>> {
        let direct = self.inner.cube.intern(facts.iter());
        self.queue(Job { facts: JobFacts { direct, ..JobFacts::default() }, ..Job::default() })
    }

    /// Hands `job` to the committer; the future resolves when it is durable.
    fn queue(&self, mut job: Job) -> BoxFuture<'static, Result<LiveBatch, QueryError>> {
        let (done, rx) = oneshot::channel();
        job.done = Some(done);
        let sent = match sync::lock(&self.jobs).as_ref() {
            Some(jobs) => jobs.send(job).map_err(|_| "the store is shutting down"),
            None => Err("the store is shut down"),
        };
        Box::pin(async move {
            sent.map_err(|m| QueryError::Unavailable(m.into()))?;
            rx.await.map_err(|_| QueryError::Unavailable("the store's committer stopped".into()))?.result
        })
    }

    /// Number of transactions in the hitmap columns.
    pub fn transaction_count(&self) -> usize {
        sync::read(&self.inner.columns).len()
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the channel ends the committer after it drained what was queued.
        sync::lock(&self.jobs).take();
        if let Some(h) = sync::lock(&self.committer).take() {
            let _ = h.join();
        }
        self.inner.load.stop();
        if let Some(h) = sync::lock(&self.loader).take() {
            let _ = h.join();
        }
        self.inner.memory.stop();
        if let Some(h) = sync::lock(&self.watcher).take() {
            let _ = h.join();
        }
        let _ = self.inner.db.persist(PersistMode::SyncAll);
    }
}

impl Inner {
    /// Reads the in-flight snapshots back (a short list; the transactions are read by [`load`]).
    fn rebuild_active(&self) -> anyhow::Result<()> {
        let now = now_ms();
        let mut active = sync::lock(&self.active);
        for kv in self.inflight.iter() {
            let (_, v) = kv.into_inner().context("reading in-flight spans")?;
            active.report(SpanRecord::decode(&*v).context("decoding an in-flight span")?, now);
        }
        tracing::info!(in_flight = active.len(), history = ?self.load.extent, "store opened");
        Ok(())
    }

    fn commit_loop(&self, rx: mpsc::Receiver<Job>) {
        loop {
            let first = match rx.recv_timeout(MAINTENANCE_EVERY) {
                Ok(j) => j,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.maintain_cube();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => group.push(j),
                    Err(_) => break,
                }
            }
            let started = std::time::Instant::now();
            let facts = group.iter_mut().map(|j| std::mem::take(&mut j.facts)).collect();
            match self.commit(&group, facts) {
                Ok((seq, is_new)) => {
                    if let Some(observe) = &self.on_commit {
                        let spans = group.iter().map(|j| j.spans).sum();
                        observe(&CommitReport { requests: group.len(), spans, took: started.elapsed() });
                    }
                    for (mut job, is_new) in group.into_iter().zip(is_new) {
                        // The new transactions' points, moved out of the job (a retry's old ones left out).
                        let mut live = std::mem::take(&mut job.live);
                        let mut new = is_new.iter();
                        live.retain(|_| new.next().copied().unwrap_or(false));
                        answer(job, Ok(LiveBatch { seq, points: live }));
                    }
                }
                Err(e) => {
                    tracing::error!(error = ?e, "storing spans failed");
                    for job in group {
                        // 503: the client may retry; fjall poisons itself after a failed fsync, so in
                        // practice the process needs a restart (docs/STORE.md).
                        answer(job, Err(QueryError::Unavailable(format!("storing spans failed: {e:#}"))));
                    }
                }
            }
            self.maintain_cube();
        }
    }

    /// Closes the cube's due buckets; a failure is logged and retried at the next pass (nothing is lost:
    /// the open buckets and their write-ahead rows stay).
    fn maintain_cube(&self) {
        if let Err(e) = self.cube.maintain(&self.db) {
            tracing::error!(error = ?e, "closing cube buckets failed");
        }
    }

    /// Whether a finished copy of this span is stored. The trace index must hold every request from the
    /// span's start on (the caller waits for the loader).
    fn finished_stored(&self, s: &SpanRecord) -> anyhow::Result<bool> {
        let trace: [u8; 16] = s.trace_id[..].try_into().context("a span's trace id is not 16 bytes")?;
        Ok(self.stored_spans(&trace, s.start_ms())?.iter().any(|x| x.span_id == s.span_id))
    }

    /// The stored finished spans of `trace` whose request ended at or after `from_ms`, older copies first
    /// (an OTLP retry's come after): an older store's chunks, then the blocks the trace index names.
    fn stored_spans(&self, trace: &[u8; 16], from_ms: i64) -> anyhow::Result<Vec<SpanRecord>> {
        let mut spans = Vec::new();
        for kv in self.spans.prefix(trace) {
            let (_, v) = kv.into_inner().context("reading spans")?;
            spans.extend(unpack_chunk(&v)?);
        }
        let requests = sync::read(&self.traces).requests_of(trace, from_ms);
        for (end_ms, id) in requests {
            // Absent: a request written before span blocks (its chunks are in `spans`, read above), or
            // one retention has just deleted.
            if let Some(block) = self.blocks.get(block_key(end_ms, id)).context("reading spans")? {
                spans.extend(block_trace(&block, trace)?);
            }
        }
        Ok(spans)
    }

    /// Writes a group of requests in one batch, fsyncs once, then publishes them to the columns and the
    /// in-flight list. Returns the group's `seq`, and which of each request's transactions are new.
    /// `facts[i]` are the cube facts of `group[i]`.
    fn commit(&self, group: &[Job], mut facts: Vec<JobFacts>) -> anyhow::Result<(u64, Vec<Vec<bool>>)> {
        // The retry check reads the columns and the trace index: right after a start, wait until the
        // loader has read the history as far back as this group reaches (nearly always: not at all, the
        // group ends now and the loader starts from the newest).
        let reaches = group.iter().flat_map(|j| j.txs.iter().map(|(s, _)| s.end_ms()).chain(j.running.iter().map(|(s, _)| s.start_ms()))).min();
        if let Some(oldest) = reaches {
            if !self.load.read_down_to(oldest, &self.columns) {
                tracing::warn!(oldest, "the stored history could not be read this far: retries reaching it are stored again");
            }
        }
        let mut batch = self.db.batch();
        let mut seen_tx: FxHashSet<[u8; 32]> = FxHashSet::default();
        let mut new_tx: Vec<Vec<&SpanRecord>> = Vec::with_capacity(group.len());
        let mut finished: Vec<[u8; 24]> = Vec::new();
        let mut running: Vec<&SpanRecord> = Vec::new();
        let mut new_facts: Vec<IdFact> =
            Vec::with_capacity(facts.iter().map(|f| f.tx.iter().map(Vec::len).sum::<usize>() + f.direct.len() + f.steps.iter().map(|s| s.1.len()).sum::<usize>()).sum());
        let mut stored: Vec<(i64, u64, &[[u8; 16]])> = Vec::with_capacity(group.len());
        // The retry check, under one write lock (it may build a minute's hash set): per job, which of its
        // transactions are new. An OTLP retry re-sends spans already stored: count each transaction once.
        let is_new: Vec<Vec<bool>> = {
            let mut cols = sync::write(&self.columns);
            let mut check = |s: &SpanRecord| -> Result<bool, QueryError> {
                let ids = s.ids();
                Ok(seen_tx.insert(tx_key(s.end_ms(), &ids)) && !cols.contains(s.end_ms(), &ids)?)
            };
            group.iter().map(|job| job.txs.iter().map(|(s, _)| check(s)).collect::<Result<_, _>>()).collect::<Result<_, _>>()?
        };
        {
            let active = sync::lock(&self.active);
            for ((job, facts), is_new) in group.iter().zip(facts.iter_mut()).zip(&is_new) {
                let id = self.next_request.fetch_add(1, Ordering::Relaxed);
                if !job.block.is_empty() {
                    batch.insert(&self.blocks, &block_key(job.end_ms, id)[..], &job.block[..]);
                    stored.push((job.end_ms, id, &job.traces));
                }
                if !active.is_empty() {
                    for ids in &job.finished {
                        if active.contains(ids) {
                            batch.remove(&self.inflight, &ids[..]);
                            finished.push(*ids);
                        }
                    }
                }
                let mut txs = Vec::new();
                let mut repeated = false;
                for (i, new) in is_new.iter().enumerate() {
                    if *new {
                        txs.push(i);
                        new_facts.append(facts.tx.get_mut(i).unwrap_or(&mut Vec::new()));
                    } else {
                        repeated = true;
                    }
                }
                if !job.record.is_empty() {
                    let key = request_key(job.end_ms, id);
                    if repeated {
                        batch.insert(&self.requests, &key[..], job.repacked(&txs));
                    } else {
                        batch.insert(&self.requests, &key[..], &job.record[..]);
                    }
                }
                let txs: Vec<&SpanRecord> = txs.into_iter().map(|i| &job.txs[i].0).collect();
                new_facts.append(&mut facts.direct);
                for (key, f) in facts.steps.iter_mut() {
                    if seen_tx.insert(*key) && !self.cube.steps.contains_key(*key)? {
                        batch.insert(&self.cube.steps, &key[..], b"".as_slice());
                        new_facts.append(f);
                    }
                }
                new_tx.push(txs);
                for (s, bytes) in &job.running {
                    // A late snapshot arriving after the finished span must not resurrect it.
                    if !self.finished_stored(s)? {
                        batch.insert(&self.inflight, &s.ids()[..], &bytes[..]);
                        running.push(s);
                    }
                }
            }
        }
        let staged = self.cube.stage(&mut batch, new_facts)?;
        batch.commit().context("writing the batch")?;
        self.db.persist(PersistMode::SyncData).context("fsync of the journal")?;
        self.cube.apply(staged);
        Ok((self.publish(&stored, new_tx, &finished, running), is_new))
    }

    /// After the fsync: makes a committed group visible (trace index, columns, in-flight list) under a
    /// new `seq`, which it returns. `stored`: each request's block key and traces.
    fn publish(
        &self,
        stored: &[(i64, u64, &[[u8; 16]])],
        new_tx: Vec<Vec<&SpanRecord>>,
        finished: &[[u8; 24]],
        running: Vec<&SpanRecord>,
    ) -> u64 {
        // The index first: a row a query finds has its trace findable.
        {
            let mut index = sync::write(&self.traces);
            for (end_ms, id, traces) in stored {
                index.insert(*end_ms, *id, traces);
            }
        }
        let seq = {
            let mut cols = sync::write(&self.columns);
            for s in new_tx.iter().flatten() {
                cols.push(row_of(s));
            }
            cols.seq += 1;
            cols.seq
        };
        {
            let now = now_ms();
            let mut active = sync::lock(&self.active);
            for ids in finished {
                active.finish(ids);
            }
            for s in running {
                active.report(s.clone(), now);
            }
        }
        seq
    }

    /// Removes everything that ended (transactions, requests) or started (an older store's traces) before
    /// `cutoff_ms`, a minute boundary. The history must be loaded (the count is the columns').
    fn remove_before(&self, cutoff_ms: i64) -> anyhow::Result<RetentionReport> {
        let dropped = sync::write(&self.columns).drop_before(cutoff_ms);
        sync::write(&self.traces).drop_before(cutoff_ms);
        let mut report = RetentionReport { transactions_removed: dropped, traces_removed: 0, cutoff_ms: Some(cutoff_ms) };
        // Where retention cut, first: a record kept for its newer transactions still holds older ones, and
        // the next start must not bring them back.
        self.meta.insert(RETAINED_FROM, (cutoff_ms.max(0) as u64).to_be_bytes()).context("writing where retention cut")?;
        // Span blocks, older stores' transactions, and the SQL steps the cube has counted: key ranges.
        let end = tx_key(cutoff_ms, &[0; 24]);
        self.delete_keys(&self.blocks, self.blocks.range(..block_key(cutoff_ms, 0)))?;
        self.delete_keys(&self.tx_ids, self.tx_ids.range(..end))?;
        self.delete_keys(&self.legacy_txs, self.legacy_txs.range(..end))?;
        self.delete_keys(&self.cube.steps, self.cube.steps.range(..end))?;
        let mut batch = self.db.batch();
        let flush = |batch: &mut fjall::OwnedWriteBatch| -> anyhow::Result<()> {
            if batch.len() >= DELETE_CHUNK {
                std::mem::replace(batch, self.db.batch()).commit()?;
            }
            Ok(())
        };
        // Requests whose latest span ended before the cutoff; a store written before span blocks has a
        // chunk per trace of each in `spans`.
        let chunks = self.spans.first_key_value().is_some();
        for kv in self.requests.range(..request_key(cutoff_ms, 0)) {
            let (key, value) = kv.into_inner().context("reading request records")?;
            let id = request_key_id(&key).context("a request record's key is too short")?;
            match request_traces(&value) {
                Ok(traces) => {
                    report.traces_removed += traces.len() as u64;
                    for trace in traces.iter().filter(|_| chunks) {
                        batch.remove(&self.spans, &chunk_key(trace, id)[..]);
                    }
                }
                // Its chunks stay (nothing names them any more); the record must not stop retention.
                Err(e) => tracing::warn!(error = %e, "removing a request record that does not decode"),
            }
            batch.remove(&self.requests, key);
            flush(&mut batch)?;
        }
        // Older stores: every span of each trace that started in an expired minute.
        for kv in self.legacy_minutes.range(..minute_key(cutoff_ms / MINUTE_MS, &[0; 16])) {
            let key = kv.key().context("reading the minute index")?;
            let trace_id = &key[8..24];
            for s in self.spans.prefix(trace_id) {
                batch.remove(&self.spans, s.key().context("reading spans")?);
            }
            batch.remove(&self.legacy_minutes, key);
            report.traces_removed += 1;
            flush(&mut batch)?;
        }
        batch.commit()?;
        Ok(report)
    }

    /// Deletes the keys of `iter`; returns how many.
    fn delete_keys(&self, ks: &Keyspace, iter: fjall::Iter) -> anyhow::Result<u64> {
        let mut batch = self.db.batch();
        let mut n = 0;
        for kv in iter {
            n += 1;
            batch.remove(ks, kv.key()?);
            if batch.len() >= DELETE_CHUNK {
                std::mem::replace(&mut batch, self.db.batch()).commit()?;
            }
        }
        batch.commit()?;
        Ok(n)
    }
}

fn row_of(s: &SpanRecord) -> TxRow<'_> {
    TxRow {
        end_ms: s.end_ms(),
        duration_ms: s.duration_ms(),
        service: &s.service,
        endpoint: &s.name,
        error: s.error,
        error_type: s.failure.as_ref().and_then(|f| f.kind.as_deref()),
        ids: s.ids(),
        profile: Some(s),
    }
}

impl EmbeddedStore {
    /// Runs `f` over the store on tokio's blocking pool: every read below touches fjall or scans the
    /// columns (millions of rows), which must not hold an async worker.
    fn off_runtime<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Inner) -> Result<T, QueryError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let inner = self.inner.clone();
        Box::pin(async move { blocking::spawn(what, move || f(&inner)).await? })
    }
}

impl TraceStore for EmbeddedStore {
    fn append_spans(&self, spans: &[SpanRef<'_>]) -> BoxFuture<'static, Result<LiveBatch, QueryError>> {
        // Prepared here, on the caller's thread, so concurrent requests encode in parallel and the single
        // committer only writes.
        // `ingest::convert` validates ids; a caller bypassing it must not be able to panic the store.
        let spans = super::record::with_valid_ids(spans);
        let cube = &self.inner.cube;
        self.queue(Job::prepare(&spans, cube.options.enabled.then_some(cube)))
    }

    fn hitmap(&self, grid: Grid, filter: HitmapFilter) -> StoreFuture<'_, Hitmap> {
        self.off_runtime("hitmap", move |inner| {
            // `seq` is read under the same lock as the counts: the hitmap holds exactly the batches up to it.
            let cols = sync::read(&inner.columns);
            let mut h = cols.hitmap(grid, &filter)?;
            h.seq = cols.seq;
            h.history = cols.history_before(grid.from);
            Ok(h)
        })
    }
    fn transactions(&self, query: TxQuery) -> StoreFuture<'_, TransactionPage> {
        self.off_runtime("transactions", move |inner| inner.transactions(&query))
    }

    fn trace(&self, trace_id: [u8; 16], now_ms: i64) -> StoreFuture<'_, Option<Trace>> {
        self.off_runtime("trace", move |inner| Ok(inner.trace(trace_id, now_ms)?))
    }

    fn active(&self, service: Option<String>, now_ms: i64) -> StoreFuture<'_, ActiveList> {
        // In-flight work is a small map in memory (what is running right now): no trip to the pool.
        let list = sync::lock(&self.inner.active).list(service.as_deref(), now_ms);
        Box::pin(std::future::ready(Ok(list)))
    }

    fn services(&self, from: i64, to: i64) -> StoreFuture<'_, ServiceList> {
        self.off_runtime("services", move |inner| {
            let cols = sync::read(&inner.columns);
            Ok(ServiceList { services: cols.services(from, to)?, history: cols.history_before(from) })
        })
    }

    fn tx_series(&self, query: SeriesQuery) -> StoreFuture<'_, Vec<TxSeries>> {
        self.off_runtime("metric series", move |inner| sync::read(&inner.columns).series(&query))
    }

    fn enforce_retention(&self, now_ms: i64) -> StoreFuture<'_, RetentionReport> {
        self.off_runtime("retention", move |inner| Ok(inner.enforce_retention(now_ms)?))
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        self.off_runtime("flushing the store", |inner| {
            blocking::assert_off_runtime();
            inner.db.persist(PersistMode::SyncAll).context("persisting the store")?;
            Ok(inner.flush_memtables()?)
        })
    }

    fn cube(&self, query: crate::cube::CubeQuery) -> StoreFuture<'_, sightline_model::CubeAnswer> {
        self.off_runtime("cube query", move |inner| {
            blocking::assert_off_runtime();
            let raw_since = inner.oldest_ms(&sync::read(&inner.columns))?;
            inner.cube.query(&inner.db, &query, raw_since)
        })
    }

    fn compare(&self, query: crate::compare::CompareQuery) -> StoreFuture<'_, crate::compare::Tally> {
        self.off_runtime("comparing transactions", move |inner| sync::read(&inner.columns).compare(&query))
    }

    fn history(&self) -> Option<HistoryLoading> {
        self.inner.history()
    }

    fn evicted_until(&self) -> Option<i64> {
        sync::read(&self.inner.columns).evicted_until_ms()
    }

    fn stats(&self) -> StoreFuture<'_, StoreStats> {
        // On the pool: fjall adds up the sizes of its journals and table files, which may stat them.
        self.off_runtime("reading the store's size", |inner| {
            Ok(StoreStats {
                disk_bytes: inner.db.disk_space().unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the store's size");
                    0
                }),
                transactions: sync::read(&inner.columns).len() as u64,
                in_flight: sync::lock(&inner.active).len() as u64,
                history: inner.history(),
                memory: Some(inner.memory.stats(inner)),
                replicas: Vec::new(),
                unreadable: None,
            })
        })
    }
}

impl Inner {
    /// Writes every memtable to a table, so the journal is empty and the next start has nothing to replay
    /// (a replay runs before the store opens, at ~40 MB/s here). Called at shutdown through `flush`.
    /// Not from `Drop`: waiting for fjall's flush workers there hung a test whose store was dropped as its
    /// runtime shut down (not investigated further).
    fn flush_memtables(&self) -> anyhow::Result<()> {
        for name in self.db.list_keyspace_names() {
            let ks = self.db.keyspace(&name, KeyspaceCreateOptions::default).with_context(|| format!("keyspace {name}"))?;
            ks.rotate_memtable_and_wait().with_context(|| format!("flushing keyspace {name}"))?;
        }
        Ok(())
    }

    /// How far the stored history is read, while it is being read.
    fn history(&self) -> Option<HistoryLoading> {
        sync::read(&self.columns).history
    }

    /// End time of the oldest transaction stored, read or not: the columns' oldest once the history is
    /// read; before, the first request record's (its latest span's end: a request's spans end within a
    /// second or so of each other) or an older store's first transaction, no earlier than where
    /// retention cut.
    fn oldest_ms(&self, cols: &Columns) -> anyhow::Result<Option<i64>> {
        if cols.history.is_none() {
            return Ok(cols.oldest_ms());
        }
        let floor = self.load.extent.map_or(i64::MIN, |e| e.floor);
        let first = load::first_end(&[&self.requests, &self.tx_ids, &self.legacy_txs])?;
        Ok(first.map(|e| e.max(floor).div_euclid(MINUTE_MS) * MINUTE_MS))
    }

    fn transactions(&self, query: &TxQuery) -> Result<TransactionPage, QueryError> {
        blocking::assert_off_runtime();
        let after = query.cursor.as_deref().map(|c| SortKey::from_cursor(query.order, c)).transpose()?;
        let f = &query.filter;
        let (sel, history) = {
            let cols = sync::read(&self.columns);
            let from = f.cells.map_or(f.from, |c| f.from.max(c.grid.from));
            (cols.select(f, query.order, query.limit, after)?, cols.history_before(from))
        };
        let mut items = Vec::with_capacity(sel.keys.len());
        for k in &sel.keys {
            // Gone only if retention removed it between the scan and here.
            if let Some(s) = self.stored_transaction(k.end_ms, &k.ids)? {
                items.push(s.summary());
            }
        }
        let next_cursor = if sel.more { sel.keys.last().map(|k| k.to_cursor(query.order)) } else { None };
        Ok(TransactionPage { items, total: sel.total, next_cursor, history })
    }

    /// A stored transaction: from its request's block, which the trace index names (its request ended no
    /// earlier than it did), or in older stores from its trace's chunks in `spans` ([`Inner::stored_spans`]); else
    /// (older still) its record in `tx`.
    fn stored_transaction(&self, end_ms: i64, ids: &[u8; 24]) -> anyhow::Result<Option<SpanRecord>> {
        let trace: [u8; 16] = ids[..16].try_into().expect("16 bytes");
        // Every copy of a span (a retry's) is the same: the first will do.
        if let Some(s) = self.stored_spans(&trace, end_ms)?.into_iter().find(|s| s.ids() == *ids) {
            return Ok(Some(s));
        }
        let key = tx_key(end_ms, ids);
        match self.legacy_txs.get(key).context("reading a transaction")? {
            Some(v) => Ok(Some(SpanRecord::decode(&*v).context("decoding a transaction")?)),
            None => Ok(None),
        }
    }

    fn trace(&self, trace_id: [u8; 16], now_ms: i64) -> anyhow::Result<Option<Trace>> {
        blocking::assert_off_runtime();
        // Right after a start, the trace index is complete once the history is read (seconds).
        if !self.load.read_down_to(i64::MIN, &self.columns) {
            tracing::warn!("the stored history could not be read: a trace may miss spans");
        }
        let mut spans = self.stored_spans(&trace_id, i64::MIN)?;
        spans.extend(sync::lock(&self.active).of_trace(&trace_id));
        Ok(assemble::assemble(&trace_id, spans, now_ms))
    }

    fn enforce_retention(&self, now_ms: i64) -> anyhow::Result<RetentionReport> {
        blocking::assert_off_runtime();
        // What retention removes is counted in, and dropped from, the columns: right after a start it
        // waits for the history to be read (seconds; the loader must not bring back what it removed).
        if !self.load.read_down_to(i64::MIN, &self.columns) {
            anyhow::bail!("the stored history could not be read: retention waits for a restart");
        }
        let cube_removed = self.cube.enforce_retention(&self.db, now_ms)?;
        if cube_removed > 0 {
            tracing::info!(buckets = cube_removed, "cube retention pass");
        }
        let stale = sync::lock(&self.active).expire(now_ms);
        if !stale.is_empty() {
            let mut batch = self.db.batch();
            for ids in &stale {
                batch.remove(&self.inflight, &ids[..]);
            }
            batch.commit()?;
        }
        let mut cutoff = now_ms.saturating_sub(self.retention.max_age_ms);
        let size = self.db.disk_space()?;
        let (oldest, newest) = {
            let cols = sync::read(&self.columns);
            (self.oldest_ms(&cols)?, cols.newest_ms())
        };
        if size > self.retention.max_bytes {
            if let (Some(old), Some(new)) = (oldest, newest) {
                let tenth = ((new - old) / 10).max(MINUTE_MS);
                tracing::warn!(size, limit = self.retention.max_bytes, "store over its size budget: dropping the oldest data");
                cutoff = cutoff.max(old + tenth);
            }
        }
        let cutoff = cutoff.div_euclid(MINUTE_MS) * MINUTE_MS;
        let oldest_minute = load::first_end(&[&self.legacy_minutes])?.map(|m| m * MINUTE_MS);
        let oldest_request = load::first_end(&[&self.requests])?;
        let oldest_trace = oldest_minute.into_iter().chain(oldest_request).min();
        let due = oldest.is_some_and(|o| o < cutoff) || oldest_trace.is_some_and(|o| o < cutoff);
        if !due {
            return Ok(RetentionReport::default());
        }
        let report = self.remove_before(cutoff)?;
        tracing::info!(?report, "retention pass");
        Ok(report)
    }
}

/// What every store must do (durability across a reopen, retries, retention by age, in-flight snapshots) is
/// checked for this one by `tests/store_conformance.rs`; here only what is the embedded store's own.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{kind, pack_chunk};

    fn tx(i: u64, end_ms: i64, dur_ms: i64) -> SpanRecord {
        let mut trace_id = vec![0u8; 16];
        trace_id[8..].copy_from_slice(&(i + 1).to_be_bytes());
        SpanRecord {
            trace_id,
            span_id: (i + 1).to_be_bytes().to_vec(),
            service: "svc".into(),
            name: "GET /x".into(),
            span_kind: 2,
            start_ns: ((end_ms - dur_ms) * 1_000_000) as u64,
            end_ns: (end_ms * 1_000_000) as u64,
            step_kind: kind::TRANSACTION,
            is_transaction: true,
            ..Default::default()
        }
    }

    /// The store's futures need a runtime (they hop to its blocking pool); `open` runs on the test thread.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    const FAR: Retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };

    #[test]
    fn size_budget_drops_the_oldest_tenth_per_pass() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS;
        // One transaction per minute over 100 minutes, and a budget of 1 byte: always over.
        let store = EmbeddedStore::open(dir.path(), Retention { max_age_ms: i64::MAX / 4, max_bytes: 1 }).unwrap();
        let spans = (0..100).map(|i| tx(i, now - 100 * MINUTE_MS + i as i64 * MINUTE_MS + 1, 5)).collect();
        rt.block_on(store.append(spans)).unwrap();
        let r = rt.block_on(store.enforce_retention(now)).unwrap();
        assert_eq!(r.transactions_removed, 10);
        assert_eq!(store.transaction_count(), 90);
        let r = rt.block_on(store.enforce_retention(now)).unwrap();
        assert_eq!(r.transactions_removed, 9);
        // Age limit far away and within budget: nothing happens.
        drop(store);
        let store = EmbeddedStore::open(dir.path(), FAR).unwrap();
        assert_eq!(store.transaction_count(), 81);
        assert_eq!(rt.block_on(store.enforce_retention(now)).unwrap(), RetentionReport::default());
    }

    /// `Job::prepare` writes a trace's chunk span by span (the bytes of the `SpanChunk` message) and packs
    /// it; both a packed chunk and an unpacked one (as written before, or too small to gain) read back.
    #[test]
    fn chunks_written_span_by_span_read_back_packed_or_not() {
        let spans: Vec<_> = (0..8).map(|i| tx(i, 1_700_000_000_000 + i as i64, 5)).collect();
        let mut raw = Vec::new();
        for s in &spans {
            prost::encoding::message::encode(1, s, &mut raw);
        }
        assert_eq!(raw, super::super::record::SpanChunk { spans: spans.clone() }.encode_to_vec());
        let (mut scratch, mut packed) = (Vec::new(), Vec::new());
        pack_chunk(&raw, &mut scratch, &mut packed);
        assert!(packed.len() < raw.len() / 2, "{} bytes packed from {}", packed.len(), raw.len());
        assert_eq!(unpack_chunk(&packed).unwrap(), spans);
        assert_eq!(unpack_chunk(&raw).unwrap(), spans);
        // A lone small span does not gain from compression: stored as it is.
        let mut one = Vec::new();
        prost::encoding::message::encode(1, &SpanRecord { trace_id: vec![1; 16], span_id: vec![2; 8], ..Default::default() }, &mut one);
        let mut stored = Vec::new();
        pack_chunk(&one, &mut scratch, &mut stored);
        assert_eq!(stored, one);
        // Damage is an error, not a panic or a huge allocation.
        let mut claims_too_much = packed.clone();
        claims_too_much.truncate(packed.len() - 1 - prost::encoding::encoded_len_varint(raw.len() as u64));
        prost::encoding::encode_key(3, prost::encoding::WireType::Varint, &mut claims_too_much);
        prost::encoding::encode_varint(u64::from(u32::MAX), &mut claims_too_much);
        assert!(unpack_chunk(&claims_too_much).is_err());
        assert!(unpack_chunk(&packed[..packed.len() / 2]).is_err());
    }

    /// A request's block holds every trace's spans, compressed in frames of whole traces: each trace reads
    /// back alone (in a request of one frame, of several, and with a trace larger than a frame), an absent
    /// one is empty, a damaged block is an error, not a panic, and blocks in the layout before (a chunk per
    /// trace) read too.
    #[test]
    fn a_block_reads_back_trace_by_trace() {
        use prost::encoding::{encode_key, encode_varint, WireType};
        let block_trace = super::super::record::block_trace;
        let check = |spans: &[SpanRecord]| -> Job {
            let job = Job::prepare(&super::super::record::span_refs(spans), None);
            let raw: usize = spans.iter().map(|s| prost::Message::encoded_len(s) + 3).sum();
            assert!(job.block.len() < raw, "the block is compressed: {} bytes for {raw}", job.block.len());
            for t in &job.traces {
                let expected: Vec<_> = spans.iter().filter(|s| s.trace_id == t).cloned().collect();
                assert_eq!(block_trace(&job.block, t).unwrap(), expected);
            }
            assert!(block_trace(&job.block, &[7; 16]).unwrap().is_empty());
            assert!(block_trace(&job.block[..job.block.len() / 2], &job.traces[0]).is_err());
            job
        };
        let span = |trace: u64, i: u64| SpanRecord { span_id: (100 + i).to_be_bytes().to_vec(), ..tx(trace, 1_700_000_000_000, 5) };
        // Three traces of two spans each, interleaved as they arrive: one frame.
        let job = check(&(0..6u64).map(|i| span(i % 3, i)).collect::<Vec<_>>());
        assert_eq!(job.traces.len(), 3);
        assert_eq!(super::super::record::block_frames(&job.block), 1);
        // 300 traces of 8 spans, then one trace of 2 000 spans (larger than a frame alone), then 50 more:
        // several frames.
        let many: Vec<_> = (0..2400u64).map(|i| span(1000 + i % 300, i)).chain((0..2000).map(|i| span(5, 10_000 + i))).chain((0..50).map(|i| span(2000 + i, 20_000 + i))).collect();
        let job = check(&many);
        assert_eq!(job.traces.len(), 351);
        let frames = super::super::record::block_frames(&job.block);
        assert!(frames >= 5, "{frames} frames");

        // Damaged: frame ends past the frames, and a frame that claims more than any request holds.
        let lz4_of_zeros = lz4_flex::block::compress(&[0; 600]);
        let damaged = |frame_ends: &[u32]| {
            let mut b = Vec::new();
            prost::encoding::bytes::encode(1, &job.traces[..3].concat(), &mut b);
            prost::encoding::uint32::encode_packed(2, &[100, 200, 10_000], &mut b);
            prost::encoding::bytes::encode(4, &lz4_of_zeros, &mut b);
            prost::encoding::uint32::encode_packed(5, frame_ends, &mut b);
            b
        };
        assert!(block_trace(&damaged(&[600]), &job.traces[2]).is_err());
        assert!(block_trace(&damaged(&[u32::MAX]), &job.traces[2]).is_err());
        assert!(block_trace(&damaged(&[600]), &job.traces[0]).is_err(), "600 zero bytes are no spans");

        // The layout before: a packed chunk per trace in field 3, `ends` into it.
        let (mut chunks, mut ends, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        let traces: Vec<[u8; 16]> = job.traces[..3].to_vec();
        for t in &traces {
            let mut raw = Vec::new();
            for s in many.iter().filter(|s| s.trace_id == t) {
                prost::encoding::message::encode(1, s, &mut raw);
            }
            pack_chunk(&raw, &mut scratch, &mut chunks);
            ends.push(chunks.len() as u32);
        }
        let mut before = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut before);
        encode_varint(48, &mut before);
        traces.iter().for_each(|t| before.extend_from_slice(t));
        prost::encoding::uint32::encode_packed(2, &ends, &mut before);
        prost::encoding::bytes::encode(3, &chunks, &mut before);
        for t in &traces {
            let expected: Vec<_> = many.iter().filter(|s| s.trace_id == t).cloned().collect();
            assert_eq!(block_trace(&before, t).unwrap(), expected);
        }
    }

    /// A store written before request records (a record per transaction in `tx`, the traces by minute in
    /// `minutes`, a chunk id per trace) still reads after the upgrade: its transactions are rebuilt beside
    /// new ones, listed and traced, a retry of one is not counted again, and retention expires them.
    #[test]
    fn a_store_written_before_request_records_reads_retries_and_expires() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS;
        let (old, recent, new) = (tx(1, now - 100 * MINUTE_MS, 5), tx(2, now - 10 * MINUTE_MS, 5), tx(3, now - 5 * MINUTE_MS, 5));
        let mid = tx(4, now - 7 * MINUTE_MS, 5);
        let step_of = |t: &SpanRecord| SpanRecord {
            span_id: vec![9; 8],
            parent_span_id: t.span_id.clone(),
            step_kind: kind::METHOD,
            is_transaction: false,
            name: "work".into(),
            ..t.clone()
        };
        {
            let store = EmbeddedStore::open(dir.path(), FAR).unwrap();
            let inner = &store.inner;
            let mut batch = inner.db.batch();
            for (chunk_id, t) in [(11u64, &old), (12, &recent)] {
                let mut raw = Vec::new();
                for s in [t.clone(), step_of(t)] {
                    prost::encoding::message::encode(1, &s, &mut raw);
                }
                let (mut scratch, mut packed) = (Vec::new(), Vec::new());
                pack_chunk(&raw, &mut scratch, &mut packed);
                let trace: [u8; 16] = t.trace_id[..].try_into().unwrap();
                batch.insert(&inner.spans, &chunk_key(&trace, chunk_id)[..], packed);
                batch.insert(&inner.legacy_txs, &tx_key(t.end_ms(), &t.ids())[..], t.encode_to_vec());
                batch.insert(&inner.legacy_minutes, &minute_key(t.start_ms() / MINUTE_MS, &t.trace_id)[..], b"".as_slice());
            }
            // Between the two (request records, but a chunk per trace and a `tx_ids` key per transaction).
            let mut raw = Vec::new();
            for s in [mid.clone(), step_of(&mid)] {
                prost::encoding::message::encode(1, &s, &mut raw);
            }
            let (mut scratch, mut packed) = (Vec::new(), Vec::new());
            pack_chunk(&raw, &mut scratch, &mut packed);
            let trace: [u8; 16] = mid.trace_id[..].try_into().unwrap();
            batch.insert(&inner.spans, &chunk_key(&trace, 13)[..], packed);
            batch.insert(&inner.tx_ids, &tx_key(mid.end_ms(), &mid.ids())[..], &13u64.to_be_bytes()[..]);
            let (mut record, mut tx_bytes) = (Vec::new(), Vec::new());
            prost::encoding::message::encode(1, &mid, &mut tx_bytes);
            pack_request(&tx_bytes, &[trace], &mut scratch, &mut record);
            batch.insert(&inner.requests, &request_key(mid.end_ms(), 13)[..], record);
            batch.commit().unwrap();
            rt.block_on(store.append(vec![new.clone()])).unwrap();
        }
        let store = EmbeddedStore::open(dir.path(), Retention { max_age_ms: 60 * MINUTE_MS, max_bytes: u64::MAX }).unwrap();
        assert_eq!(store.transaction_count(), 4, "old layouts and new, rebuilt together");
        let query = TxQuery {
            filter: crate::store::TxFilter { from: now - 200 * MINUTE_MS, to: now, ..Default::default() },
            order: sightline_model::Order::Newest,
            limit: 10,
            cursor: None,
        };
        let listed = |store: &EmbeddedStore| -> Vec<String> {
            store.inner.transactions(&query).unwrap().items.into_iter().map(|t| t.span_id).collect()
        };
        let ids = |ts: &[&SpanRecord]| -> Vec<String> { ts.iter().map(|t| const_hex::encode(&t.span_id)).collect() };
        assert_eq!(listed(&store), ids(&[&new, &mid, &recent, &old]));
        let trace = store.inner.trace(old.trace_id[..].try_into().unwrap(), now).unwrap().expect("the old trace");
        assert_eq!(trace.steps.len(), 2, "{trace:?}");
        let trace = store.inner.trace(mid.trace_id[..].try_into().unwrap(), now).unwrap().expect("the chunked trace");
        assert_eq!(trace.steps.len(), 2, "{trace:?}");
        // A retry of a transaction stored by an old layout is no new transaction.
        let live = rt.block_on(store.append(vec![recent.clone(), step_of(&recent), mid.clone()])).unwrap();
        assert!(live.points.is_empty(), "{:?}", live.points);
        assert_eq!(store.transaction_count(), 4);
        // Retention expires the old layout's transaction and its trace.
        let report = rt.block_on(store.enforce_retention(now)).unwrap();
        assert_eq!((report.transactions_removed, report.traces_removed), (1, 1), "{report:?}");
        assert!(store.inner.trace(old.trace_id[..].try_into().unwrap(), now).unwrap().is_none());
        assert_eq!(listed(&store), ids(&[&new, &mid, &recent]));
        drop(store);
        let store = EmbeddedStore::open(dir.path(), FAR).unwrap();
        assert_eq!(listed(&store), ids(&[&new, &mid, &recent]), "after another start");
        assert_eq!(store.inner.trace(recent.trace_id[..].try_into().unwrap(), now).unwrap().map(|t| t.steps.len()), Some(2));
    }

    /// A retry's record holds only the transactions that were new, so a start does not count the others
    /// twice; a request of only a trace's other spans still has a record (the trace index is rebuilt from
    /// it, so the trace is found after a start), and retention takes its block.
    #[test]
    fn request_records_hold_new_transactions_and_every_chunk() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS;
        let (a, b) = (tx(1, now - 90 * MINUTE_MS, 5), tx(2, now - 90 * MINUTE_MS + 1, 5));
        let orphan = SpanRecord { span_id: vec![9; 8], parent_span_id: vec![8; 8], is_transaction: false, step_kind: kind::SQL, ..tx(3, now - 80 * MINUTE_MS, 2) };
        {
            let store = EmbeddedStore::open(dir.path(), FAR).unwrap();
            rt.block_on(store.append(vec![a.clone()])).unwrap();
            let live = rt.block_on(store.append(vec![a.clone(), b.clone()])).unwrap();
            assert_eq!(live.points.len(), 1, "only b is new");
            rt.block_on(store.append(vec![orphan.clone()])).unwrap();
            assert_eq!(store.inner.requests.len().unwrap(), 3);
        }
        let store = EmbeddedStore::open(dir.path(), Retention { max_age_ms: 60 * MINUTE_MS, max_bytes: u64::MAX }).unwrap();
        assert_eq!(store.transaction_count(), 2, "a once, b once");
        let orphan_trace: [u8; 16] = orphan.trace_id[..].try_into().unwrap();
        assert!(store.inner.trace(orphan_trace, now).unwrap().is_some());
        let report = rt.block_on(store.enforce_retention(now)).unwrap();
        // Chunks, one per trace and request: a's twice (the retry stored its spans again), b's, the orphan's.
        assert_eq!((report.transactions_removed, report.traces_removed), (2, 4), "{report:?}");
        assert!(store.inner.trace(orphan_trace, now).unwrap().is_none());
        assert_eq!((store.inner.requests.len().unwrap(), store.inner.blocks.len().unwrap()), (0, 0));
    }

    /// A store shut down under a caller answers 503-style, not with a panic.
    #[test]
    fn append_after_shutdown_is_unavailable() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), FAR).unwrap();
        sync::lock(&store.jobs).take();
        let e = rt.block_on(store.append(vec![tx(1, 1_700_000_000_000, 5)])).unwrap_err();
        assert!(matches!(&e, QueryError::Unavailable(m) if m.contains("shut down")), "{e:?}");
    }
}
