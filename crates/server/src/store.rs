//! Durable storage of spans and transactions. `TraceStore` is the seam where a distributed backend
//! (ClickHouse) can replace the embedded one: the API layer only sees this trait and the model types. The
//! trait is async and fallible (a remote store waits on the network and can be down); its contract is
//! checked for every implementation by `tests/store_conformance.rs`.
//!
//! The embedded implementation ([`embedded::EmbeddedStore`]) keeps spans in fjall (an LSM tree with a
//! write-ahead journal, fsynced once per group of concurrent requests) and the hitmap's columns in memory
//! ([`columns`]), read back from fjall in the background after a start. docs/STORE.md explains the layout and the choice.

pub mod active;
pub mod assemble;
pub mod clickhouse;
pub mod columns;
pub mod cube;
pub mod embedded;
pub mod record;

use std::sync::Arc;

use futures::future::BoxFuture;
use rustc_hash::FxHashSet;
use sightline_model::{ActiveList, Grid, Hitmap, LivePoint, Order, ServiceList, Status, TagFilter, Trace, TransactionPage};

use crate::config::ServeArgs;
use record::{SpanRecord, SpanRef};

/// A snapshot of in-flight work not refreshed for this long is abandoned: no longer listed as active.
/// Two minutes: twice the slowest refresh the docs ask of reporters, so a process that died mid-request
/// (or a server restarted under it) leaves no ghosts for long.
pub const ACTIVE_STALE_MS: i64 = 2 * 60_000;

/// A rectangle of hitmap cells, inclusive on both ends: `rows.1 == grid.rows` is the "≥ max" band.
///
/// Selecting by cells rather than by millisecond bounds uses the very functions that binned the hitmap
/// (`Grid::col_of`, `Grid::row_of`), so the list holds exactly the transactions counted in those cells;
/// bounds recomputed from a cell index (`col_start`, `row_low_ms`) can differ from the binning by a
/// millisecond or a rounding step at cell edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellRange {
    pub grid: Grid,
    pub cols: (u32, u32),
    pub rows: (u32, u32),
}

/// Which transactions a hitmap or a list counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TxFilter {
    /// End time window `[from, to)`, ms since the epoch.
    pub from: i64,
    pub to: i64,
    /// Duration window `[min_ms, max_ms)`; `max_ms: None` is open-ended (the "≥ max" band).
    pub min_ms: f64,
    pub max_ms: Option<f64>,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub status: Option<Status>,
    /// Only failed transactions with this exception type (exact match).
    pub error_type: Option<String>,
    /// Additionally, only transactions binned into these cells.
    pub cells: Option<CellRange>,
    /// Only transactions with this value of a dimension ("what changed" → click).
    pub tag: Option<TagFilter>,
    /// For a wait-event `tag`: the traces whose database sessions were seen in it (worked out by the API
    /// from the PostgreSQL samples; the store does not see those).
    pub traces: Option<Arc<FxHashSet<[u8; 16]>>>,
}

/// What [`TraceStore::hitmap`] counts: every transaction, or those of one service and/or one tag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HitmapFilter {
    pub service: Option<String>,
    pub tag: Option<TagFilter>,
    /// As [`TxFilter::traces`].
    pub traces: Option<Arc<FxHashSet<[u8; 16]>>>,
}

impl HitmapFilter {
    pub fn service(name: impl Into<String>) -> Self {
        HitmapFilter { service: Some(name.into()), ..Default::default() }
    }
}

/// A page request for [`TraceStore::transactions`].
#[derive(Debug, Clone, PartialEq)]
pub struct TxQuery {
    pub filter: TxFilter,
    pub order: Order,
    pub limit: usize,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Why a store call could not be answered. Every method of [`TraceStore`] fails with this, so a handler's
/// `?` turns it into the right answer: the caller's fault (400), the backend out of reach for now (503, the
/// client may retry), or something unexpected (500, details in the log).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Bad input: a cursor from another query, a window that is not whole steps, too many series.
    #[error("{0}")]
    Invalid(String),
    /// The backend cannot answer now: a write that could not be made durable, a remote store that is
    /// unreachable or refusing. The message says which part; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Unexpected: a record that does not decode, a failed read, a panic on the blocking pool.
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl From<QueryError> for crate::error::AppError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Invalid(m) => crate::error::AppError::BadRequest(m),
            QueryError::Unavailable(m) => crate::error::AppError::Unavailable(m),
            QueryError::Storage(e) => crate::error::AppError::Internal(e),
        }
    }
}

/// Which transactions a metric series aggregates, into which buckets, split how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesQuery {
    /// End time window `[from, to)`; `to - from` is a whole number of steps.
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    /// One series per service and/or endpoint; neither: one series for everything matched.
    pub by_service: bool,
    pub by_endpoint: bool,
    /// Compute p50/p95/p99 (costs keeping every duration of the window until its bucket is done).
    pub quantiles: bool,
}

/// The transactions of one time bucket of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TxBucket {
    pub count: u64,
    pub errors: u64,
    pub sum_ms: f64,
    /// p50, p95, p99 (nearest rank) when asked and `count > 0`.
    pub quantiles: Option<[f64; 3]>,
}

/// One group's buckets, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct TxSeries {
    /// Set when grouped by service / endpoint.
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub buckets: Vec<TxBucket>,
}

/// What retention removed in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub transactions_removed: u64,
    /// Traces whose spans were removed. The embedded store counts a trace once per request that stored
    /// spans of it (it deletes them request by request); ClickHouse counts distinct traces.
    pub traces_removed: u64,
    /// The oldest end time still kept, if anything was cut.
    pub cutoff_ms: Option<i64>,
}

/// What the store holds, for Sightline's own metrics (`GET /metrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// Size of the store's files on disk.
    pub disk_bytes: u64,
    /// Finished transactions retained.
    pub transactions: u64,
    /// Transactions reported in flight (not finished, maybe stale until the next retention pass).
    pub in_flight: u64,
    /// Set while the stored history is still being read after a start (`transactions` is then partial).
    pub history: Option<sightline_model::HistoryLoading>,
    /// The embedded store's memory parts and budget (`None` for ClickHouse).
    pub memory: Option<MemoryStats>,
    /// ClickHouse: every `--clickhouse` server and whether it is in use (empty for the embedded store).
    pub replicas: Vec<ReplicaStatus>,
    /// Why the figures above could not be read (then they are not figures): `/metrics` still answers, with
    /// `sightline_store_up` 0, so a scrape keeps Sightline's other metrics through a store outage.
    pub unreadable: Option<String>,
}

impl StoreStats {
    /// What a store that cannot be read reports: no figures, and why.
    pub fn unreadable(why: impl std::fmt::Display) -> Self {
        StoreStats { unreadable: Some(why.to_string()), ..StoreStats::default() }
    }
}

/// One `--clickhouse` server as the node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Its shard, from 1 in the cluster's order (1 without a cluster).
    pub shard: usize,
    /// `host:port`, without credentials.
    pub server: String,
    pub state: ReplicaState,
}

/// Whether the node reads from and writes to a `--clickhouse` server (see `store::clickhouse::replicas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Its tables are prepared: read from and written to (an outage is gone around, not a state change).
    InUse = 0,
    /// It has not answered since the node started; tried again every few seconds.
    Waiting = 1,
    /// It answers but is kept out: its `{shard}` macro disagrees with its place in `--clickhouse`, or its
    /// tables could not be prepared (the log says why).
    Refused = 2,
}

impl ReplicaState {
    pub const ALL: [ReplicaState; 3] = [ReplicaState::InUse, ReplicaState::Waiting, ReplicaState::Refused];

    /// The `state` label of `sightline_clickhouse_replica_state`.
    pub fn label(self) -> &'static str {
        match self {
            ReplicaState::InUse => "in_use",
            ReplicaState::Waiting => "waiting",
            ReplicaState::Refused => "refused",
        }
    }
}

/// What the embedded store's parts hold in memory against `--memory-budget` (docs/STORE.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// `None`: no budget (columns never evicted).
    pub budget_bytes: Option<u64>,
    pub columns_budget_bytes: Option<u64>,
    /// The hitmap columns' blocks in memory.
    pub columns_bytes: u64,
    /// The trace index (which requests hold a trace's spans), in memory beside the columns.
    pub trace_index_bytes: u64,
    /// fjall's memtables (active and sealed, not yet flushed).
    pub memtable_bytes: u64,
    /// fjall's block cache: in use and its capacity.
    pub cache_bytes: u64,
    pub cache_capacity_bytes: u64,
    /// Minutes with columns evicted to disk, their transactions and files' bytes.
    pub evicted_minutes: u64,
    pub evicted_transactions: u64,
    pub evicted_disk_bytes: u64,
    /// Evicted column segments read back by queries since the start.
    pub evicted_reads: u64,
    /// Windows starting before this (ms since the epoch) reach evicted minutes.
    pub evicted_until_ms: Option<i64>,
}

/// What one group commit wrote (requests sharing one fsync), reported to the [`CommitObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReport {
    pub requests: usize,
    pub spans: usize,
    /// Writing the batch and the fsync.
    pub took: std::time::Duration,
}

/// Called by the committer after every successful group commit; keeps the store free of the metrics crate.
pub type CommitObserver = Arc<dyn Fn(&CommitReport) + Send + Sync>;

/// The new transactions of one stored request, for the live stream. `seq` numbers the commit that made
/// them visible: a hitmap carries the `seq` its counts include (both are read under the same lock), so a
/// live client applies exactly the batches its snapshot lacks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveBatch {
    pub seq: u64,
    pub points: Vec<LivePoint>,
}

/// What a store call returns: a boxed future (the trait is used as `Arc<dyn TraceStore>`) of a result.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, QueryError>>;

/// What the rest of the server needs from storage.
///
/// Async and fallible, so that a remote backend (ClickHouse over HTTP) fits as well as the embedded one:
/// every call may wait on the network and may fail, and the caller learns why ([`QueryError`]). The
/// embedded store answers from memory and local disk, but it too runs its scans and its fjall reads on the
/// blocking pool inside these futures, so callers never need `blocking::run` around a store call.
///
/// Plain functions returning [`BoxFuture`]s rather than `#[async_trait]`: no macro between the reader and
/// the signatures, and [`TraceStore::append_spans`] needs a future that is `'static` and has already queued
/// its work when it is returned (async-trait would defer all work to the first poll and borrow `self`).
/// Arguments are owned so an implementation can move them into a blocking task or a request body, except
/// the spans to store, which borrow from their request and are encoded or copied before `append_spans`
/// returns.
///
/// `tests/store_conformance.rs` holds what every implementation must answer alike (see docs/STORE.md).
pub trait TraceStore: Send + Sync + 'static {
    /// Stores spans; the future resolves once they are durable (fsynced, or accepted by the remote store),
    /// and yields the hitmap points of the transactions that were new, for the live stream. Transactions
    /// already stored (an exporter's retry) are not counted again. The work is queued when this is called.
    /// Ingest's spans borrow from the request's bytes ([`record::SpanRef`]): the embedded store encodes
    /// them without an owned copy. Spans whose ids are not 16 and 8 bytes are skipped.
    fn append_spans(&self, spans: &[SpanRef<'_>]) -> BoxFuture<'static, Result<LiveBatch, QueryError>>;

    /// [`TraceStore::append_spans`] for owned records (the demo, the tests, the tools).
    fn append(&self, spans: Vec<SpanRecord>) -> BoxFuture<'static, Result<LiveBatch, QueryError>> {
        self.append_spans(&record::span_refs(&spans))
    }

    /// Where to stream the new transactions that other Sightline nodes store (a store shared by several
    /// nodes); their batches take this node's next `seq`s, like its own commits. The embedded store has no
    /// other writer: nothing to do.
    fn stream_others(&self, _live: tokio::sync::broadcast::Sender<Arc<LiveBatch>>) {}

    /// Counts every stored transaction ending in the grid's window (optionally of one service and/or with
    /// one tag) into its cells; `Hitmap::seq` says which committed batches the counts include.
    fn hitmap(&self, grid: Grid, filter: HitmapFilter) -> StoreFuture<'_, Hitmap>;

    /// One page of the transactions matching `query`, with the exact total. Slowest first is by duration,
    /// then end, then `trace_id ‖ span_id`, all descending; newest first by end, then ids, descending.
    fn transactions(&self, query: TxQuery) -> StoreFuture<'_, TransactionPage>;

    /// The whole trace, assembled from all its stored spans (and in-flight snapshots); `None` if none is
    /// stored.
    fn trace(&self, trace_id: [u8; 16], now_ms: i64) -> StoreFuture<'_, Option<Trace>>;

    /// Transactions reported in flight and not finished or stale.
    fn active(&self, service: Option<String>, now_ms: i64) -> StoreFuture<'_, ActiveList>;

    /// Per-service throughput, p95 and error rate over `[from, to)`.
    fn services(&self, from: i64, to: i64) -> StoreFuture<'_, ServiceList>;

    /// Per-bucket counts, errors and response-time quantiles of finished transactions, for metric series.
    /// Not grouped: always exactly one series (zeros when nothing matched); grouped: one per group seen.
    fn tx_series(&self, query: SeriesQuery) -> StoreFuture<'_, Vec<TxSeries>>;

    /// Drops data older than the retention age or beyond the size budget, and stale in-flight snapshots.
    fn enforce_retention(&self, now_ms: i64) -> StoreFuture<'_, RetentionReport>;

    /// Makes everything acknowledged so far durable.
    fn flush(&self) -> StoreFuture<'_, ()>;

    /// Sizes for Sightline's own metrics (`GET /metrics`): what the store holds and its size on disk.
    /// A scrape calls it, so it must be cheap.
    fn stats(&self) -> StoreFuture<'_, StoreStats>;

    /// The cube's rows for `query`: per-minute rollups (and coarser tiers) kept beside the raw
    /// transactions, with their own retention; see `crate::cube`.
    fn cube(&self, query: crate::cube::CubeQuery) -> StoreFuture<'_, sightline_model::CubeAnswer>;

    /// "What changed": every transaction of the selection and of the baseline counted per dimension value
    /// and step; see `crate::compare`.
    fn compare(&self, query: crate::compare::CompareQuery) -> StoreFuture<'_, crate::compare::Tally>;

    /// Set while the store is still reading its stored history after a start (it serves meanwhile);
    /// `None` once complete, or for a store that has nothing to read. Cheap: health checks call it.
    fn history(&self) -> Option<sightline_model::HistoryLoading> {
        None
    }

    /// Windows starting before this (ms since the epoch) reach transactions whose hitmap columns were
    /// evicted from memory by the memory budget: answered exactly, read from disk (slower). Cheap: health
    /// checks call it.
    fn evicted_until(&self) -> Option<i64> {
        None
    }
}

/// Opens the embedded store configured by `args`; `on_commit` hears of every group commit.
pub fn open(args: &ServeArgs, on_commit: CommitObserver) -> anyhow::Result<Arc<dyn TraceStore>> {
    // `start`: the server listens while the stored history loads in the background (docs/STORE.md).
    let store = embedded::EmbeddedStore::start(
        &args.data_dir.join("store"),
        embedded::Retention {
            max_age_ms: (args.retention_hours as i64).saturating_mul(3_600_000),
            max_bytes: args.retention_mb.saturating_mul(1024 * 1024),
        },
        cube::CubeOptions {
            max_age_ms: args.cube_retention_ms(),
            ..Default::default()
        },
        args.memory_budget.0.map(|total| embedded::MemoryBudget { total }),
        Some(on_commit),
    )?;
    Ok(Arc::new(store))
}

/// Milliseconds since the Unix epoch, now.
/// Opens (or creates) one of the small fjall databases kept beside the trace store (boards, alerts, collector
/// samples): one background worker and a cache of `cache_bytes`, so they take nothing from the trace
/// store's budget. `what` names it in errors. Reads the disk: off the async runtime.
pub fn open_side_database(dir: &std::path::Path, cache_bytes: u64, what: &str) -> anyhow::Result<fjall::Database> {
    use anyhow::Context;
    crate::blocking::assert_off_runtime();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fjall::Database::builder(dir)
        .worker_threads(1)
        .cache_size(cache_bytes)
        .open()
        .with_context(|| format!("cannot open the {what} database in {}", dir.display()))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use axum::http::StatusCode;

    /// A handler's `?` on a store call answers the caller's fault with 400, an unreachable or failing
    /// backend with 503 and its message, anything else with 500.
    #[test]
    fn store_errors_become_the_right_answers() {
        let answer = |e: QueryError| {
            let e = AppError::from(e);
            (e.status(), e.to_string())
        };
        assert_eq!(answer(QueryError::Invalid("bad cursor".into())), (StatusCode::BAD_REQUEST, "bad cursor".into()));
        assert_eq!(
            answer(QueryError::Unavailable("storing spans failed: disk full".into())),
            (StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable: storing spans failed: disk full".into())
        );
        assert_eq!(answer(QueryError::Storage(anyhow::anyhow!("corrupt"))).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
