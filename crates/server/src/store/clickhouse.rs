//! The ClickHouse store: spans, transactions and in-flight snapshots in a ClickHouse database, queried over
//! its HTTP interface, so several Sightline nodes can share one cluster and a node's memory does not grow
//! with the history it serves.
//!
//! Answers are the embedded store's, exactly (`tests/store_conformance.rs` runs the same suite on both):
//! grouping is pushed down (the hitmap, series and summaries come back as one row per cell or bucket, the
//! list as one page), and what the model computes with floating point (cell edges, nearest-rank
//! percentiles) is turned into integer bounds or identical IEEE arithmetic in SQL ([`bins`]).
//!
//! Writes go through one committer per node, which groups concurrent requests into one `INSERT` per table,
//! acknowledges only after ClickHouse accepted them, and numbers each group (`seq`) so that a hitmap counts
//! exactly the groups its `seq` says (see [`ClickHouseStore::hitmap`]).

pub mod bins;
pub mod compare;
pub mod cube;
mod replicas;
pub mod schema;

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use clickhouse::{Client, Row};
use futures::future::BoxFuture;
use prost::Message;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use sightline_model::{ActiveList, Grid, Hitmap, LivePoint, Order, ServiceList, ServiceSummary, Status, Trace, TransactionPage};
use tokio::sync::{mpsc, oneshot};

use self::replicas::Shard;
use super::active::Active;
use super::record::{SpanRecord, SpanRef, SpanTimes};
use super::{
    assemble, HitmapFilter, LiveBatch, QueryError, RetentionReport, SeriesQuery, ReplicaState, ReplicaStatus, StoreFuture, StoreStats, TraceStore, TxBucket,
    TxFilter, TxQuery, TxSeries, ACTIVE_STALE_MS,
};

const MINUTE_MS: i64 = 60_000;
/// Ids per lookup query (ClickHouse parses at most `max_query_size`, 256 KiB by default, of SQL).
const IDS_PER_QUERY: usize = 2_000;
/// How long `/metrics` may report the same store figures (see [`Inner::stats`]).
const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(15);
/// How long one group's inserts may take before its requests are answered 503.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Requests stored by one `INSERT` at most (the rest wait for the next group).
const MAX_GROUP: usize = 64;

/// Where the store is: `http://host:8123/?database=sightline` (user and password may be in the URL).
#[derive(Clone)]
pub struct Target {
    /// `scheme://host:port`, no credentials: safe to log and to show.
    pub endpoint: String,
    pub database: String,
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/?database={}", self.endpoint, self.database)
    }
}

impl Target {
    /// Parses `--clickhouse`. The password never appears in an error.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let u = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--clickhouse is not a URL ({e}): give http://host:8123/?database=sightline"))?;
        anyhow::ensure!(matches!(u.scheme(), "http" | "https"), "--clickhouse must be an http:// or https:// URL (ClickHouse's HTTP interface)");
        let host = u.host_str().ok_or_else(|| anyhow::anyhow!("--clickhouse has no host"))?;
        let port = u.port_or_known_default().unwrap_or(8123);
        let database = u.query_pairs().find(|(k, _)| k == "database").map(|(_, v)| v.into_owned()).unwrap_or_else(|| "sightline".into());
        anyhow::ensure!(schema::valid_name(&database), "--clickhouse: the database name must be letters, digits and _");
        let user = (!u.username().is_empty()).then(|| u.username().to_string());
        let password = u.password().map(str::to_string);
        Ok(Target { endpoint: format!("{}://{host}:{port}", u.scheme()), database, user, password })
    }

    fn client(&self) -> Client {
        let mut c = Client::default().with_url(&self.endpoint).with_validation(false);
        if let Some(u) = &self.user {
            c = c.with_user(u);
        }
        if let Some(p) = &self.password {
            c = c.with_password(p);
        }
        c
    }
}

/// A ClickHouse failure as the caller should see it: unreachable or refusing → 503 (retry later), naming
/// ClickHouse; anything else → 500 with the details in the log.
pub fn ch_error(e: clickhouse::error::Error) -> QueryError {
    use clickhouse::error::Error as E;
    match e {
        E::Network(e) => QueryError::Unavailable(format!("ClickHouse is unreachable: {e}")),
        E::TimedOut => QueryError::Unavailable("ClickHouse did not answer in time".into()),
        E::BadResponse(m) if is_outage(&m) => QueryError::Unavailable(format!("ClickHouse cannot answer: {}", first_line(&m))),
        e => QueryError::Storage(anyhow::anyhow!("ClickHouse: {e}")),
    }
}

/// Error codes of a server that is up but cannot reach a shard or replica (or is shutting down).
fn is_outage(message: &str) -> bool {
    ["Code: 210", "Code: 279", "Code: 209", "Code: 159", "Code: 242", "Code: 999", "Connection refused", "NETWORK_ERROR", "ALL_CONNECTION_TRIES_FAILED"]
        .iter()
        .any(|c| message.contains(c))
}

/// A failure on one shard: which one, so the operator knows where to look.
fn shard_error(i: usize, n: usize, e: QueryError) -> QueryError {
    match (e, n) {
        (e, 1) => e,
        (QueryError::Unavailable(m), _) => QueryError::Unavailable(format!("shard {} of {n}: {m}", i + 1)),
        (e, _) => QueryError::Storage(anyhow::anyhow!("shard {} of {n}: {e}", i + 1)),
    }
}

fn first_line(m: &str) -> &str {
    m.lines().next().unwrap_or(m)
}

#[derive(Row, Serialize, Deserialize)]
struct TxRow {
    end_ms: i64,
    duration_ns: u64,
    service: String,
    endpoint: String,
    error: u8,
    error_type: String,
    /// "What changed": see [`compare`].
    tags: Vec<String>,
    step_kinds: Vec<u8>,
    step_names: Vec<String>,
    step_ms: Vec<f32>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    node: u64,
    seq: u64,
    inserted_ms: i64,
    #[serde(with = "serde_bytes")]
    record: Vec<u8>,
}

#[derive(Row, Serialize, Deserialize)]
struct SpanRow {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    start_ms: i64,
    #[serde(with = "serde_bytes")]
    record: Vec<u8>,
}

#[derive(Row, Serialize, Deserialize)]
struct InflightRow {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    service: String,
    ver: i64,
    seen_ms: i64,
    live: u8,
    #[serde(with = "serde_bytes")]
    record: Vec<u8>,
}

/// A span's identity, as selected.
#[derive(Row, Deserialize)]
struct Ids {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

/// One request waiting for the committer.
struct Job {
    request: Prepared,
    done: oneshot::Sender<Result<LiveBatch, QueryError>>,
}

/// One request made ready for the committer where `append` is called (ingest calls it off the async
/// runtime): the CPU work — steps, tags, protobuf and row encoding, cube facts — is done there, in parallel
/// for concurrent requests, so the committer task only looks up what is stored and inserts.
#[derive(Default)]
struct Prepared {
    /// Finished spans, as rows, and their identities (a snapshot of one of them in the same group is late).
    spans: Vec<SpanRow>,
    finished: FxHashSet<[u8; 24]>,
    /// In-flight snapshots (`ver` and `seen_ms` are set when stored).
    running: Vec<([u8; 24], InflightRow)>,
    /// Transactions (their `node`, `seq` and `inserted_ms` are set when stored).
    txs: Vec<TxPrep>,
    facts: Vec<(cube::FactRow, cube::FactOwner)>,
}

/// A transaction of a request: what the retry lookup needs, its row, its live point.
struct TxPrep {
    ids: [u8; 24],
    service: String,
    end_ms: i64,
    row: TxRow,
    point: LivePoint,
}

impl Prepared {
    fn of(spans: &[SpanRef<'_>]) -> Prepared {
        let mut p = Prepared { facts: cube::prepare_facts(spans), ..Prepared::default() };
        let mut steps = crate::compare::profile::steps_of_transactions(spans);
        for (i, s) in spans.iter().map(SpanRef::to_record).enumerate() {
            let ids = s.ids();
            let (trace_id, span_id) = ids_of(&s.trace_id, &s.span_id);
            let record = s.encode_to_vec();
            if s.in_flight() {
                p.running.push((ids, InflightRow { trace_id, span_id, service: s.service.clone(), ver: 0, seen_ms: 0, live: 1, record }));
                continue;
            }
            p.finished.insert(ids);
            p.spans.push(SpanRow { trace_id, span_id, start_ms: s.start_ms(), record });
            if s.is_transaction {
                // The transaction's copy carries its steps (the span row has the span itself).
                let t = SpanRecord { steps: std::mem::take(&mut steps[i]), ..s };
                let (step_kinds, step_names, step_ms) = compare::steps_of(&t);
                let row = TxRow {
                    end_ms: t.end_ms(),
                    duration_ns: t.end_ns.saturating_sub(t.start_ns),
                    service: t.service.clone(),
                    endpoint: t.name.clone(),
                    error: t.error as u8,
                    error_type: t.failure.as_ref().and_then(|f| f.kind.clone()).unwrap_or_default(),
                    tags: compare::tags_of(&t),
                    step_kinds,
                    step_names,
                    step_ms,
                    trace_id,
                    span_id,
                    node: 0,
                    seq: 0,
                    inserted_ms: 0,
                    record: t.encode_to_vec(),
                };
                let point = LivePoint { end_ms: t.end_ms(), duration_ms: t.duration_ms(), error: t.error, service: t.service.clone() };
                p.txs.push(TxPrep { ids, service: t.service, end_ms: row.end_ms, row, point });
            }
        }
        p
    }
}

struct Inner {
    /// Reads go to one of these (every `--clickhouse` server; through the `Distributed` tables on a cluster).
    readers: Shard,
    /// Writes: each shard's replicas, in the cluster's order.
    shards: Vec<Shard>,
    layout: schema::Layout,
    target: Target,
    /// This process's id in the `node` column (random per start).
    node: u64,
    /// What a hitmap snapshot includes; changed only under `commit_lock`.
    visible: std::sync::Mutex<Visible>,
    /// Held from choosing a `seq` to publishing it (by the committer and the poller of other nodes' rows).
    commit_lock: tokio::sync::Mutex<()>,
    /// Data ending (transactions) or starting (traces) before this is hidden: the last retention cut-off.
    horizon: AtomicI64,
    max_age_ms: i64,
    /// The cube's retention (see [`cube`]).
    cube_max_age_ms: i64,
    /// The last [`StoreStats`] read, and when.
    stats: std::sync::Mutex<Option<(std::time::Instant, StoreStats)>>,
    /// Where the other nodes' new transactions are streamed (set once the server's live channel exists).
    live: std::sync::OnceLock<tokio::sync::broadcast::Sender<Arc<LiveBatch>>>,
}

/// The rows a hitmap counts: this node's up to `seq`, other nodes' inserted before `others_until`. Both
/// move together, so a snapshot holds exactly the live batches up to its `seq` (see [`poll_others`]).
#[derive(Debug, Clone, Copy)]
struct Visible {
    seq: u64,
    others_until: i64,
}

/// Options of [`ClickHouseStore::open`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Data older than this goes at the next retention pass.
    pub max_age_ms: i64,
    /// The cube's data older than this goes (whole days); `None`: `cube::DEFAULT_RETENTION_DAYS`.
    pub cube_max_age_ms: Option<i64>,
    pub layout: schema::Layout,
}

/// See the module docs.
pub struct ClickHouseStore {
    inner: Arc<Inner>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl ClickHouseStore {
    /// Connects, creates or migrates the schema on every server that answers, and reads the retention
    /// horizon. Fails with a clear message when a shard (every replica of it) cannot be reached or a server
    /// is misconfigured (the server does not start half-configured); a replica down while its shard has
    /// another is taken into use when it answers (`clickhouse/replicas.rs`).
    /// `targets`: one server, or the shards of `options.layout.cluster` in the cluster's order (with
    /// replication, each shard's replicas together).
    pub async fn open(targets: Vec<Target>, options: Options) -> anyhow::Result<Self> {
        let first = targets.first().ok_or_else(|| anyhow::anyhow!("no ClickHouse server given"))?.clone();
        anyhow::ensure!(
            targets.len() == 1 || options.layout.cluster.is_some(),
            "several --clickhouse servers are the shards of a cluster: name it with --clickhouse-cluster"
        );
        anyhow::ensure!(
            targets.iter().all(|t| t.database == first.database),
            "every --clickhouse server must name the same database"
        );
        let replicas::Servers { readers, shards } = replicas::open(&targets, &first.database, &options.layout).await?;
        let horizon: i64 = readers
            .run(|c| async move { c.query("SELECT max(cutoff_ms) FROM retention").fetch_one().await })
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the retention horizon from ClickHouse: {e}"))?;
        let inner = Arc::new(Inner {
            readers,
            shards,
            layout: options.layout,
            target: first,
            node: rand::random::<u64>() | 1,
            // Other nodes' rows stored so far are in every snapshot; later ones are polled.
            visible: std::sync::Mutex::new(Visible { seq: 0, others_until: super::now_ms() }),
            commit_lock: tokio::sync::Mutex::new(()),
            horizon: AtomicI64::new(horizon),
            max_age_ms: options.max_age_ms,
            cube_max_age_ms: options.cube_max_age_ms.unwrap_or(super::cube::DEFAULT_RETENTION_DAYS as i64 * 86_400_000),
            live: std::sync::OnceLock::new(),
            stats: std::sync::Mutex::new(None),
        });
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(commit_loop(inner.clone(), rx));
        tokio::spawn(poll_others(Arc::downgrade(&inner)));
        let replicas: usize = inner.shards.iter().map(Shard::replica_count).sum();
        // Named by database, not by a server: with replicas, the first one given may be one that is down.
        let waiting: Vec<String> = inner.replica_statuses().into_iter().filter(|r| r.state != ReplicaState::InUse).map(|r| r.server).collect();
        let in_use = replicas - waiting.len();
        let database = inner.target.database.as_str();
        match waiting.as_slice() {
            [] => tracing::info!(database, shards = inner.shards.len(), replicas, "ClickHouse store opened"),
            _ => tracing::warn!(
                database,
                shards = inner.shards.len(),
                replicas,
                in_use,
                waiting = %waiting.join(", "),
                "ClickHouse store opened without every replica: the others are taken into use when they answer"
            ),
        }
        Ok(ClickHouseStore { inner, jobs })
    }
}

/// How often a node looks for transactions other nodes stored, for its live stream.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Rows are streamed once their insert is this old: an insert stamped earlier but still running would
/// otherwise be skipped by the poll that passed its stamp.
const SETTLE_MS: i64 = 3_000;
/// Other nodes' transactions that ended this long before they were stored are not streamed live (they are
/// in the next full hitmap): keeps each poll a read of recent minutes, not of the whole table.
const LIVE_LATE_MS: i64 = 2 * MINUTE_MS;

/// Streams the transactions other nodes store (several Sightline nodes on one ClickHouse): every
/// [`POLL_EVERY`], the rows inserted since the last poll (up to [`SETTLE_MS`] ago) become one live batch
/// under this node's next `seq`, and hitmaps count them from that `seq` on. With no live client the rows
/// are not read at all, only the mark moves. Stops when the store is dropped.
async fn poll_others(inner: std::sync::Weak<Inner>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let polled = tokio::time::timeout(COMMIT_TIMEOUT, inner.poll_others())
            .await
            .unwrap_or_else(|_| Err(QueryError::Unavailable("ClickHouse did not answer the poll in time".into())));
        if let Err(e) = polled {
            tracing::warn!(error = %e, "reading other nodes' new transactions from ClickHouse failed; will retry");
        }
    }
}

/// Opens the ClickHouse store `--clickhouse` names (one server, or the shards of `--clickhouse-cluster`),
/// with the retention of `args`.
pub async fn open(args: &crate::config::ServeArgs) -> anyhow::Result<Arc<dyn TraceStore>> {
    let options = Options {
        max_age_ms: (args.retention_hours as i64).saturating_mul(3_600_000),
        cube_max_age_ms: Some(args.cube_retention_ms()),
        layout: schema::Layout { cluster: args.clickhouse_cluster.clone(), replicated: args.clickhouse_replicated },
    };
    Ok(Arc::new(ClickHouseStore::open(args.clickhouse.clone(), options).await?))
}

/// Stores queued requests a group at a time until the store is dropped.
async fn commit_loop(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let requests: Vec<Prepared> = group.iter_mut().map(|j| std::mem::take(&mut j.request)).collect();
        // A ClickHouse that accepts connections but never answers must not stall ingest: the group fails
        // (503, the exporters retry; whatever landed is deduplicated then).
        let stored = tokio::time::timeout(COMMIT_TIMEOUT, inner.commit(requests))
            .await
            .unwrap_or_else(|_| Err(QueryError::Unavailable(format!("ClickHouse did not accept the spans within {} s", COMMIT_TIMEOUT.as_secs()))));
        match stored {
            Ok((seq, points)) => {
                for (job, points) in group.into_iter().zip(points) {
                    let _ = job.done.send(Ok(LiveBatch { seq, points }));
                }
            }
            Err(e) => {
                // The error names the server(s) that failed; the first configured one may not be among them.
                tracing::error!(error = %e, database = inner.target.database.as_str(), "storing spans in ClickHouse failed");
                let message = match &e {
                    QueryError::Unavailable(m) => m.clone(),
                    e => format!("storing spans in ClickHouse failed: {e}"),
                };
                for job in group {
                    let _ = job.done.send(Err(QueryError::Unavailable(message.clone())));
                }
            }
        }
    }
}

fn ids_of(trace_id: &[u8], span_id: &[u8]) -> ([u8; 16], [u8; 8]) {
    (trace_id[..16].try_into().expect("checked in append"), span_id[..8].try_into().expect("checked in append"))
}

impl Inner {
    /// Stores one group of requests; returns its `seq` and each request's new transactions.
    async fn commit(&self, mut requests: Vec<Prepared>) -> Result<(u64, Vec<Vec<LivePoint>>), QueryError> {
        let now = super::now_ms();
        // An exporter's retry re-sends what is stored: count each transaction once.
        let stored = self.stored_transactions(requests.iter().flat_map(|r| r.txs.iter()).map(|t| (t.service.as_str(), t.end_ms, t.ids)).collect()).await?;
        let mut seen: FxHashSet<[u8; 24]> = FxHashSet::default();
        let mut new: FxHashSet<(usize, [u8; 24])> = FxHashSet::default();
        let mut txs = Vec::new();
        let mut points = vec![Vec::new(); requests.len()];
        for (r, request) in requests.iter_mut().enumerate() {
            for t in std::mem::take(&mut request.txs) {
                if !stored.contains(&t.ids) && seen.insert(t.ids) {
                    new.insert((r, t.ids));
                    txs.push(t.row);
                    points[r].push(t.point);
                }
            }
        }
        // A late snapshot of a span already finished must not bring it back.
        let mut running: Vec<([u8; 24], InflightRow)> = requests.iter_mut().flat_map(|r| std::mem::take(&mut r.running)).collect();
        if !running.is_empty() {
            let done_here: FxHashSet<[u8; 24]> = requests.iter().flat_map(|r| r.finished.iter().copied()).collect();
            let done = self.finished_spans(running.iter().map(|(_, row)| row.trace_id)).await?;
            running.retain(|(ids, _)| !done_here.contains(ids) && !done.contains(ids));
        }
        let facts = self.cube_facts(requests.iter_mut().map(|r| std::mem::take(&mut r.facts)).enumerate().collect(), &new).await?;

        let _publishing = self.commit_lock.lock().await;
        let seq = self.visible().seq + 1;
        let stamped = super::now_ms();
        self.insert("spans", requests.into_iter().flat_map(|r| r.spans).collect(), |r| &r.trace_id).await?;
        let snapshots = running.into_iter().map(|(_, row)| InflightRow { ver: now, seen_ms: now, ..row }).collect();
        self.insert("inflight", snapshots, |r| &r.trace_id).await?;
        // The cube's facts before their transactions: a failure between the two is counted again on a retry
        // rather than never (see `cube`).
        self.insert("cube_facts", facts, |r| &r.trace_id).await?;
        // Transactions last: once a transaction is counted, its spans are there to open.
        let txs = txs.into_iter().map(|row| TxRow { node: self.node, seq, inserted_ms: stamped, ..row }).collect();
        self.insert("transactions", txs, |r| &r.trace_id).await?;
        crate::sync::lock(&self.visible).seq = seq;
        Ok((seq, points))
    }

    fn visible(&self) -> Visible {
        *crate::sync::lock(&self.visible)
    }

    /// Runs a read on the server reads go to, and on the next `--clickhouse` server while one is
    /// unavailable; the one that answered is used from then on. Every server has the `Distributed` tables,
    /// which reach each shard through any of its replicas, so any live server can answer any read.
    async fn read<T, F, Fut>(&self, op: F) -> Result<T, QueryError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, clickhouse::error::Error>>,
    {
        self.readers.run(op).await
    }

    /// Runs `op` once on every shard (on a replica that answers), in the cluster's order.
    async fn each_shard<T, F, Fut>(&self, op: F) -> Result<Vec<T>, QueryError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, clickhouse::error::Error>>,
    {
        let n = self.shards.len();
        let mut out = Vec::with_capacity(n);
        for (i, shard) in self.shards.iter().enumerate() {
            out.push(shard.run(&op).await.map_err(|e| shard_error(i, n, e))?);
        }
        Ok(out)
    }

    /// Writes `rows` into `table` (each row into its trace's shard); done when every shard accepted its rows.
    async fn insert<T: clickhouse::RowOwned + clickhouse::RowWrite + Send + Sync>(&self, table: &str, rows: Vec<T>, trace_of: impl Fn(&T) -> &[u8; 16]) -> Result<(), QueryError> {
        if rows.is_empty() {
            return Ok(());
        }
        let n = self.shards.len();
        let mut per_shard: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
        for r in rows {
            per_shard[schema::shard_of(trace_of(&r), n)].push(r);
        }
        let local = self.layout.local(table);
        let local = local.as_str();
        let writes = per_shard.iter().enumerate().filter(|(_, rows)| !rows.is_empty()).map(|(i, rows)| {
            let write = self.shards[i].run(move |client| async move {
                let mut ins = client.insert::<T>(local).await?;
                for r in rows {
                    ins.write(r).await?;
                }
                ins.end().await
            });
            async move { write.await.map_err(|e| shard_error(i, n, e)) }
        });
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    /// One poll of [`poll_others`].
    async fn poll_others(&self) -> Result<(), QueryError> {
        let until = super::now_ms() - SETTLE_MS;
        let from = self.visible().others_until;
        if until <= from {
            return Ok(());
        }
        let listening = self.live.get().filter(|l| l.receiver_count() > 0);
        let points: Vec<LivePoint> = match listening {
            None => Vec::new(),
            Some(_) => {
                #[derive(Row, Deserialize)]
                struct R {
                    end_ms: i64,
                    duration_ns: u64,
                    error: u8,
                    service: String,
                }
                let sql = format!(
                    "SELECT end_ms, duration_ns, error, service FROM transactions WHERE end_ms >= {} \
                     AND inserted_ms >= {from} AND inserted_ms < {until} AND node != {}",
                    (from - LIVE_LATE_MS).max(self.horizon()),
                    self.node
                );
                let rows: Vec<R> = self.read(|c| c.query(&sql).fetch_all()).await?;
                rows.into_iter()
                    .map(|r| LivePoint { end_ms: r.end_ms, duration_ms: r.duration_ns as f64 / 1e6, error: r.error == 1, service: r.service })
                    .collect()
            }
        };
        let _publishing = self.commit_lock.lock().await;
        let seq = {
            let mut v = crate::sync::lock(&self.visible);
            if v.others_until != from {
                return Ok(());
            }
            v.seq += 1;
            v.others_until = until;
            v.seq
        };
        if let (Some(live), false) = (listening, points.is_empty()) {
            let _ = live.send(Arc::new(LiveBatch { seq, points }));
        }
        Ok(())
    }

    /// Which of these transactions are stored already. Looked up where each one would be: per service, in
    /// the ranges of end times the batch covers (an exporter's batch covers seconds, so this reads a few
    /// granules of the table's order, not the table), a bounded number of ids per query.
    async fn stored_transactions(&self, candidates: Vec<(&str, i64, [u8; 24])>) -> Result<FxHashSet<[u8; 24]>, QueryError> {
        let mut stored = FxHashSet::default();
        for chunk in candidates.chunks(IDS_PER_QUERY) {
            let mut ends: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
            for (service, end_ms, _) in chunk {
                ends.entry(service).or_default().push(*end_ms);
            }
            let mut ranges = Vec::new();
            let mut binds = Vec::new();
            for (service, mut e) in ends {
                e.sort_unstable();
                let mut start = e[0];
                for w in e.windows(2) {
                    if w[1] - w[0] > MINUTE_MS {
                        ranges.push(format!("(service = ? AND end_ms >= {start} AND end_ms <= {})", w[0]));
                        binds.push(service);
                        start = w[1];
                    }
                }
                ranges.push(format!("(service = ? AND end_ms >= {start} AND end_ms <= {})", e[e.len() - 1]));
                binds.push(service);
            }
            let ids: Vec<String> = chunk.iter().map(|(_, _, ids)| format!("'{}'", const_hex::encode_upper(ids))).collect();
            let sql = format!(
                "SELECT trace_id, span_id FROM transactions WHERE ({}) AND concat(hex(trace_id), hex(span_id)) IN ({})",
                ranges.join(" OR "),
                ids.join(",")
            );
            let rows: Vec<Ids> = self
                .read(|c| {
                    let mut q = c.query(&sql);
                    for b in &binds {
                        q = q.bind(*b);
                    }
                    q.fetch_all()
                })
                .await?;
            stored.extend(rows.into_iter().map(|r| join_ids(&r.trace_id, &r.span_id)));
        }
        Ok(stored)
    }

    /// The finished spans of these traces, by identity (a primary-key lookup per trace).
    async fn finished_spans(&self, traces: impl Iterator<Item = [u8; 16]>) -> Result<FxHashSet<[u8; 24]>, QueryError> {
        let traces: Vec<[u8; 16]> = traces.collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let mut done = FxHashSet::default();
        for chunk in traces.chunks(IDS_PER_QUERY) {
            let sql = format!("SELECT trace_id, span_id FROM spans WHERE trace_id IN ({})", compare::trace_list(chunk.iter()));
            let rows: Vec<Ids> = self.read(|c| c.query(&sql).fetch_all()).await?;
            done.extend(rows.into_iter().map(|r| join_ids(&r.trace_id, &r.span_id)));
        }
        Ok(done)
    }

    /// Live in-flight snapshots (the newest row of each span says it is live), minus those finished since.
    async fn running(&self, trace: Option<[u8; 16]>) -> Result<Vec<(SpanRecord, i64)>, QueryError> {
        let only = trace.map(|t| format!("WHERE trace_id = unhex('{}')", const_hex::encode(t))).unwrap_or_default();
        let sql = format!(
            "SELECT argMax(seen_ms, ver) AS seen, argMax(record, ver) AS rec FROM inflight {only} \
             GROUP BY trace_id, span_id HAVING argMax(live, ver) = 1"
        );
        #[derive(Row, Deserialize)]
        struct R {
            seen: i64,
            #[serde(with = "serde_bytes")]
            rec: Vec<u8>,
        }
        let rows: Vec<R> = self.read(|c| c.query(&sql).fetch_all()).await?;
        let spans: Vec<(SpanRecord, i64)> = rows
            .into_iter()
            .map(|r| Ok((SpanRecord::decode(&*r.rec).map_err(|e| QueryError::Storage(anyhow::anyhow!("decoding an in-flight span: {e}")))?, r.seen)))
            .collect::<Result<_, QueryError>>()?;
        if spans.is_empty() {
            return Ok(spans);
        }
        let done = self.finished_spans(spans.iter().map(|(s, _)| ids_of(&s.trace_id, &s.span_id).0)).await?;
        Ok(spans.into_iter().filter(|(s, _)| !done.contains(&s.ids())).collect())
    }

    fn horizon(&self) -> i64 {
        self.horizon.load(Ordering::Acquire)
    }

    /// The `WHERE` of a transaction filter over `transactions`, or `None` when nothing can match.
    fn where_of(&self, f: &TxFilter) -> Result<Option<Where>, QueryError> {
        let mut w = Where::default();
        let mut from = f.from.max(self.horizon());
        let mut to = f.to;
        let mut dur = (bins::ns_at_least(f.min_ms), f.max_ms.map(bins::ns_at_least).unwrap_or(bins::NS_MAX));
        if let Some(c) = &f.cells {
            let ce = bins::col_edges(&c.grid);
            let re = bins::row_edges(&c.grid);
            let col = |k: u32| c.grid.from + ce[(k as usize).min(ce.len() - 1)];
            from = from.max(col(c.cols.0).max(c.grid.from));
            to = to.min(col(c.cols.1 + 1).min(c.grid.to));
            let row = |k: u32| re[(k as usize).min(re.len() - 1)];
            dur = (dur.0.max(row(c.rows.0)), dur.1.min(row(c.rows.1 + 1)));
        }
        if from >= to || dur.0 >= dur.1 {
            return Ok(None);
        }
        w.and(format!("end_ms >= {from} AND end_ms < {to}"));
        if dur.0 > 0 {
            w.and(format!("duration_ns >= {}", dur.0));
        }
        if dur.1 < bins::NS_MAX {
            w.and(format!("duration_ns < {}", dur.1));
        }
        if let Some(s) = &f.service {
            w.and_bound("service = ?", s);
        }
        if let Some(e) = &f.endpoint {
            w.and_bound("endpoint = ?", e);
        }
        match f.status {
            Some(Status::Error) => w.and("error = 1".into()),
            Some(Status::Ok) => w.and("error = 0".into()),
            None => {}
        }
        if let Some(t) = &f.error_type {
            w.and("error = 1".into());
            w.and_bound("error_type = ?", t);
        }
        if let Some(t) = &f.tag {
            let Some(c) = compare::tag_cond(t, f.traces.as_ref()) else { return Ok(None) };
            w.and_where(c);
        }
        Ok(Some(w))
    }

    async fn hitmap(&self, grid: Grid, filter: HitmapFilter) -> Result<Hitmap, QueryError> {
        // Rows this node wrote are counted up to the published `seq`, every node's (this one's included)
        // inserted before the poller's mark: both are read before the query, so a commit or poll finishing
        // during the scan is in the live stream after this snapshot, not in both or neither. (This node's
        // rows stamped before the mark are published: the mark moves under `commit_lock`, and a commit stamps
        // its rows after taking it.)
        let Visible { seq, others_until } = self.visible();
        let mut h = Hitmap::empty(grid);
        h.seq = seq;
        if grid.cols == 0 || grid.rows == 0 {
            return Ok(h);
        }
        let from = grid.from.max(self.horizon());
        if from >= grid.to {
            return Ok(h);
        }
        let mut w = Where::default();
        w.and(format!(
            "end_ms >= {from} AND end_ms < {} AND (inserted_ms < {others_until} OR (node = {node} AND seq <= {seq}))",
            grid.to,
            node = self.node
        ));
        if let Some(s) = &filter.service {
            w.and_bound("service = ?", s);
        }
        if let Some(t) = &filter.tag {
            let Some(c) = compare::tag_cond(t, filter.traces.as_ref()) else { return Ok(h) };
            w.and_where(c);
        }
        let sql = format!("SELECT k, count() FROM (SELECT {} FROM transactions WHERE {}) GROUP BY k", bins::cell_key_sql(&grid), w.sql);
        let cells: Vec<(u64, u64)> = self.read(|c| w.bind(c.query(&sql)).fetch_all()).await?;
        for (k, n) in cells {
            let (col, row, error) = bins::split_key(&grid, k);
            if col >= grid.cols || row > grid.rows {
                return Err(QueryError::Storage(anyhow::anyhow!("ClickHouse binned into a cell outside the grid ({col}, {row})")));
            }
            let i = grid.index(col, row);
            let n32 = n.min(u32::MAX as u64) as u32;
            if error {
                h.err[i] = h.err[i].saturating_add(n32);
                h.total_err += n;
            } else {
                h.ok[i] = h.ok[i].saturating_add(n32);
            }
            h.total += n;
        }
        Ok(h)
    }

    async fn transactions(&self, q: TxQuery) -> Result<TransactionPage, QueryError> {
        let after = q.cursor.as_deref().map(|c| Cursor::parse(q.order, c)).transpose()?;
        let Some(w) = self.where_of(&q.filter)? else {
            return Ok(TransactionPage { items: Vec::new(), total: 0, next_cursor: None, history: None });
        };
        let total: u64 = self.read(|c| w.bind(c.query(&format!("SELECT count() FROM transactions WHERE {}", w.sql))).fetch_one()).await?;
        let order = match q.order {
            Order::Slowest => "duration_ns DESC, end_ms DESC, trace_id DESC, span_id DESC",
            Order::Newest => "end_ms DESC, trace_id DESC, span_id DESC",
        };
        let mut page_where = w.clone();
        if let Some(c) = &after {
            page_where.and(c.before_sql());
        }
        let limit = q.limit.max(1);
        let sql = format!(
            "SELECT duration_ns, end_ms, trace_id, span_id, record FROM transactions WHERE {} ORDER BY {order} LIMIT {}",
            page_where.sql,
            limit + 1
        );
        #[derive(Row, Deserialize)]
        struct R {
            duration_ns: u64,
            end_ms: i64,
            trace_id: [u8; 16],
            span_id: [u8; 8],
            #[serde(with = "serde_bytes")]
            record: Vec<u8>,
        }
        let mut rows: Vec<R> = self.read(|c| page_where.bind(c.query(&sql)).fetch_all()).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| Cursor { order: q.order, duration_ns: r.duration_ns, end_ms: r.end_ms, ids: join_ids(&r.trace_id, &r.span_id) }.to_string())
        } else {
            None
        };
        let items = rows
            .iter()
            .map(|r| SpanRecord::decode(&*r.record).map(|s| s.summary()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueryError::Storage(anyhow::anyhow!("decoding a stored transaction: {e}")))?;
        Ok(TransactionPage { items, total, next_cursor, history: None })
    }

    async fn trace(&self, trace_id: [u8; 16], now_ms: i64) -> Result<Option<Trace>, QueryError> {
        let sql = format!("SELECT start_ms, record FROM spans WHERE trace_id = unhex('{}')", const_hex::encode(trace_id));
        #[derive(Row, Deserialize)]
        struct R {
            start_ms: i64,
            #[serde(with = "serde_bytes")]
            record: Vec<u8>,
        }
        let rows: Vec<R> = self.read(|c| c.query(&sql).fetch_all()).await?;
        // A trace that started before the retention cut-off is gone as a whole (its parts go a day at a time).
        let horizon = self.horizon();
        if rows.iter().any(|r| r.start_ms < horizon) {
            return Ok(None);
        }
        let mut spans = rows
            .iter()
            .map(|r| SpanRecord::decode(&*r.record))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueryError::Storage(anyhow::anyhow!("decoding a stored span: {e}")))?;
        spans.extend(self.running(Some(trace_id)).await?.into_iter().map(|(s, _)| s));
        Ok(assemble::assemble(&trace_id, spans, now_ms))
    }

    async fn active(&self, service: Option<String>, now_ms: i64) -> Result<ActiveList, QueryError> {
        let mut active = Active::default();
        for (s, seen) in self.running(None).await? {
            active.report(s, seen);
        }
        Ok(active.list(service.as_deref(), now_ms))
    }

    async fn services(&self, from: i64, to: i64) -> Result<ServiceList, QueryError> {
        let horizon = self.horizon();
        let names: Vec<String> =
            self.read(|c| c.query(&format!("SELECT DISTINCT service FROM transactions WHERE end_ms >= {horizon}")).fetch_all()).await?;
        let lo = from.max(horizon);
        let stats: Vec<(String, u64, u64, u64)> = if lo < to {
            let sql = format!(
                "SELECT service, count() AS n, sum(error), {} FROM transactions WHERE end_ms >= {lo} AND end_ms < {to} GROUP BY service",
                nearest_rank_sql(95)
            );
            self.read(|c| c.query(&sql).fetch_all()).await?
        } else {
            Vec::new()
        };
        let secs = ((to - from) as f64 / 1000.0).max(1e-3);
        let mut services: Vec<ServiceSummary> = names
            .into_iter()
            .map(|name| {
                let (n, errors, p95) = stats.iter().find(|s| s.0 == name).map(|s| (s.1, s.2, s.3)).unwrap_or_default();
                ServiceSummary {
                    name,
                    transactions: n,
                    errors,
                    tps: n as f64 / secs,
                    p95_ms: if n == 0 { 0.0 } else { p95 as f64 / 1e6 },
                    error_rate: if n == 0 { 0.0 } else { errors as f64 / n as f64 },
                }
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ServiceList { services, history: None })
    }

    async fn tx_series(&self, q: SeriesQuery) -> Result<Vec<TxSeries>, QueryError> {
        if q.step_ms <= 0 || q.from >= q.to || (q.to - q.from) % q.step_ms != 0 {
            return Err(QueryError::Invalid(format!("the window [{}, {}) is not a whole number of {} ms steps", q.from, q.to, q.step_ms)));
        }
        let n = ((q.to - q.from) / q.step_ms) as usize;
        let grouped = q.by_service || q.by_endpoint;
        let mut w = Where::default();
        w.and(format!("end_ms >= {} AND end_ms < {}", q.from.max(self.horizon()), q.to));
        if let Some(s) = &q.service {
            w.and_bound("service = ?", s);
        }
        if let Some(e) = &q.endpoint {
            w.and_bound("endpoint = ?", e);
        }
        let (quantiles, zero) = if q.quantiles {
            (format!("{}, {}, {}", nearest_rank_sql(50), nearest_rank_sql(95), nearest_rank_sql(99)), "")
        } else {
            (String::new(), "toUInt64(0), toUInt64(0), toUInt64(0)")
        };
        let sql = format!(
            "SELECT {s}, {e}, toUInt64(intDiv(end_ms - {from}, {step})) AS k, count() AS n, sum(error), sum(duration_ns), {quantiles}{zero} \
             FROM transactions WHERE {w} GROUP BY {s}, {e}, k",
            s = if q.by_service { "service" } else { "''" },
            e = if q.by_endpoint { "endpoint" } else { "''" },
            from = q.from,
            step = q.step_ms,
            w = w.sql,
        );
        #[derive(Row, Deserialize)]
        struct R {
            service: String,
            endpoint: String,
            k: u64,
            n: u64,
            errors: u64,
            sum_ns: u64,
            p50: u64,
            p95: u64,
            p99: u64,
        }
        let rows: Vec<R> = self.read(|c| w.bind(c.query(&sql)).fetch_all()).await?;
        let mut groups: std::collections::BTreeMap<(Option<String>, Option<String>), Vec<TxBucket>> = Default::default();
        if !grouped {
            groups.insert((None, None), vec![TxBucket::default(); n]);
        }
        for r in rows {
            let key = (q.by_service.then_some(r.service), q.by_endpoint.then_some(r.endpoint));
            let len = groups.len();
            let buckets = match groups.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    if (len + 1).saturating_mul(n) > super::columns::MAX_SERIES_CELLS {
                        return Err(QueryError::Invalid(format!(
                            "more than {len} series of {n} points each: narrow the filter or ask for fewer points"
                        )));
                    }
                    e.insert(vec![TxBucket::default(); n])
                }
            };
            let b = buckets.get_mut(r.k as usize).ok_or_else(|| QueryError::Storage(anyhow::anyhow!("bucket {} out of range", r.k)))?;
            *b = TxBucket {
                count: r.n,
                errors: r.errors,
                sum_ms: r.sum_ns as f64 / 1e6,
                quantiles: (q.quantiles && r.n > 0).then(|| [r.p50 as f64 / 1e6, r.p95 as f64 / 1e6, r.p99 as f64 / 1e6]),
            };
        }
        Ok(groups.into_iter().map(|((service, endpoint), buckets)| TxSeries { service, endpoint, buckets }).collect())
    }

    async fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport, QueryError> {
        // Stale snapshots: a newer row per span that says it is no longer live.
        #[derive(Row, Deserialize)]
        struct Stale {
            trace_id: [u8; 16],
            span_id: [u8; 8],
            service: String,
            ver: i64,
        }
        let stale: Vec<Stale> = self.read(|c| c.query(&format!(
                "SELECT trace_id, span_id, any(service), max(ver) FROM inflight GROUP BY trace_id, span_id \
                 HAVING argMax(live, ver) = 1 AND argMax(seen_ms, ver) < {}",
                now_ms - ACTIVE_STALE_MS
            )).fetch_all()).await?;
        if !stale.is_empty() {
            let wall = super::now_ms();
            let rows: Vec<InflightRow> = stale
                .into_iter()
                .map(|Stale { trace_id, span_id, service, ver }| InflightRow { trace_id, span_id, service, ver: wall.max(ver + 1), seen_ms: 0, live: 0, record: Vec::new() })
                .collect();
            self.insert("inflight", rows, |r| &r.trace_id).await?;
        }
        self.cube_retention(now_ms).await?;
        // Another node may have cut already.
        let stored: i64 = self.read(|c| c.query("SELECT max(cutoff_ms) FROM retention").fetch_one()).await?;
        self.horizon.fetch_max(stored, Ordering::AcqRel);
        let cutoff = now_ms.saturating_sub(self.max_age_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
        let old = self.horizon();
        if cutoff <= old {
            return Ok(RetentionReport::default());
        }
        let transactions_removed: u64 = self.read(|c| c.query(&format!("SELECT count() FROM transactions WHERE end_ms >= {old} AND end_ms < {cutoff}")).fetch_one()).await?;
        let traces_removed: u64 = self.read(|c| c.query(&format!("SELECT uniqExact(trace_id) FROM spans WHERE start_ms >= {old} AND start_ms < {cutoff}")).fetch_one()).await?;
        if transactions_removed == 0 && traces_removed == 0 {
            return Ok(RetentionReport::default());
        }
        let sql = format!("INSERT INTO {} (cutoff_ms, at_ms) VALUES (?, ?)", self.layout.local("retention"));
        self.each_shard(|c| c.query(&sql).bind(cutoff).bind(super::now_ms()).execute()).await?;
        self.horizon.fetch_max(cutoff, Ordering::AcqRel);
        self.drop_days_before(cutoff).await?;
        let report = RetentionReport { transactions_removed, traces_removed, cutoff_ms: Some(cutoff) };
        tracing::info!(?report, "retention pass");
        Ok(report)
    }

    /// Frees the disk of the days wholly before `cutoff` on every shard (the horizon already hides them).
    async fn drop_days_before(&self, cutoff: i64) -> Result<(), QueryError> {
        let tables: Vec<String> = ["transactions", "spans", "inflight"].iter().map(|t| format!("'{}'", self.layout.local(t))).collect();
        #[derive(Row, Deserialize)]
        struct Part {
            table: String,
            partition: String,
        }
        let sql = format!("SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active AND table IN ({})", tables.join(","));
        let database = self.target.database.as_str();
        // On a replicated shard the drop on one replica is replicated to the others.
        self.each_shard(|c| {
            let sql = sql.as_str();
            async move {
                let parts: Vec<Part> = c.query(sql).bind(database).fetch_all().await?;
                for Part { table, partition } in parts {
                    if day_end_ms(&partition).is_some_and(|end| end <= cutoff) {
                        c.query(&format!("ALTER TABLE {table} DROP PARTITION {partition}")).execute().await?;
                    }
                }
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    /// What `/metrics` reports, read from ClickHouse at most every [`STATS_EVERY`]: the counts are range
    /// scans of the tables (tens of ms at 10 M transactions), too much for every scrape of every node.
    /// The replicas' states are the node's own, always current, and reported even when ClickHouse cannot be
    /// read (`unreadable`), which is when an operator most wants them.
    async fn stats(&self) -> Result<StoreStats, QueryError> {
        let cached = crate::sync::lock(&self.stats).as_ref().filter(|(at, _)| at.elapsed() < STATS_EVERY).map(|(_, s)| s.clone());
        let mut stats = match cached {
            Some(stats) => stats,
            None => match self.read_stats().await {
                Ok(stats) => {
                    *crate::sync::lock(&self.stats) = Some((std::time::Instant::now(), stats.clone()));
                    stats
                }
                Err(e) => StoreStats::unreadable(e),
            },
        };
        stats.replicas = self.replica_statuses();
        Ok(stats)
    }

    /// Every `--clickhouse` server's state, shards numbered from 1 (the start's log line and `/metrics`).
    fn replica_statuses(&self) -> Vec<ReplicaStatus> {
        self.shards.iter().enumerate().flat_map(|(k, shard)| shard.statuses(k + 1)).collect()
    }

    async fn read_stats(&self) -> Result<StoreStats, QueryError> {
        let transactions: u64 = self.read(|c| c.query(&format!("SELECT count() FROM transactions WHERE end_ms >= {}", self.horizon())).fetch_one()).await?;
        // One replica's bytes per shard: the data stored, not its copies.
        let database = self.target.database.as_str();
        let disk_bytes: u64 = self
            .each_shard(|c| async move {
                c.query("SELECT toUInt64(sum(bytes)) FROM system.parts WHERE database = ? AND active").bind(database).fetch_one::<u64>().await
            })
            .await?
            .into_iter()
            .sum();
        let in_flight: u64 = self.read(|c| c.query("SELECT count() FROM (SELECT argMax(live, ver) AS l FROM inflight GROUP BY trace_id, span_id) WHERE l = 1").fetch_one()).await?;
        Ok(StoreStats { disk_bytes, transactions, in_flight, ..StoreStats::default() })
    }
}

/// The nearest-rank `pct` percentile of `duration_ns`, as the embedded store computes it: the value at rank
/// `ceil(q·n)` (1-based) of the sorted durations, `q` being the same double (`pct/100` is correctly rounded
/// in both) and the product the same IEEE multiplication.
fn nearest_rank_sql(pct: u32) -> String {
    let rank = format!("greatest(toUInt64(1), least(count(), toUInt64(ceil(({pct} / 100) * count()))))");
    format!("arrayElement(arraySort(groupArray(duration_ns)), {rank})")
}

/// A day partition's id (days since the epoch, UTC) → the end of that day in ms; `None` if it is not one.
fn day_end_ms(partition: &str) -> Option<i64> {
    let day: i64 = partition.trim_matches('\'').parse().ok()?;
    day.checked_add(1)?.checked_mul(86_400_000)
}

fn join_ids(t: &[u8; 16], s: &[u8; 8]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(t);
    k[16..].copy_from_slice(s);
    k
}

/// A SQL condition with `?` placeholders and the strings bound to them, in order.
#[derive(Debug, Clone, Default)]
struct Where {
    sql: String,
    binds: Vec<String>,
}

impl Where {
    fn and(&mut self, cond: String) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(&cond);
    }

    fn and_bound(&mut self, cond: &str, value: &str) {
        self.and(cond.to_string());
        self.binds.push(value.to_string());
    }

    fn bind(&self, q: clickhouse::query::Query) -> clickhouse::query::Query {
        let mut q = self.sized(q);
        for b in &self.binds {
            q = q.bind(b.as_str());
        }
        q
    }
}

/// Where a page ended, for the next one. Opaque to clients; tied to its order.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    order: Order,
    duration_ns: u64,
    end_ms: i64,
    ids: [u8; 24],
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.order {
            Order::Slowest => write!(f, "s{}.{}.{}", self.duration_ns, self.end_ms, const_hex::encode(self.ids)),
            Order::Newest => write!(f, "n{}.{}", self.end_ms, const_hex::encode(self.ids)),
        }
    }
}

impl Cursor {
    fn parse(order: Order, s: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::Invalid("bad cursor: pass back next_cursor unchanged, with the same order".into());
        let (tag, rest) = s.split_at_checked(1).ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let (duration_ns, end_ms, hex) = match (order, tag, parts.as_slice()) {
            (Order::Slowest, "s", [d, e, h]) => (d.parse().map_err(|_| bad())?, e.parse().map_err(|_| bad())?, *h),
            (Order::Newest, "n", [e, h]) => (0, e.parse().map_err(|_| bad())?, *h),
            _ => return Err(bad()),
        };
        let ids: [u8; 24] = const_hex::decode(hex).ok().and_then(|v| v.try_into().ok()).ok_or_else(bad)?;
        Ok(Cursor { order, duration_ns, end_ms, ids })
    }

    /// Rows strictly after this one in its order (every key descending).
    fn before_sql(&self) -> String {
        let t = const_hex::encode(&self.ids[..16]);
        let s = const_hex::encode(&self.ids[16..]);
        let ids = format!("(trace_id < unhex('{t}') OR (trace_id = unhex('{t}') AND span_id < unhex('{s}')))");
        let by_end = format!("(end_ms < {e} OR (end_ms = {e} AND {ids}))", e = self.end_ms);
        match self.order {
            Order::Newest => by_end,
            Order::Slowest => format!("(duration_ns < {d} OR (duration_ns = {d} AND {by_end}))", d = self.duration_ns),
        }
    }
}

impl TraceStore for ClickHouseStore {
    fn append_spans(&self, spans: &[SpanRef<'_>]) -> BoxFuture<'static, Result<LiveBatch, QueryError>> {
        let spans = super::record::with_valid_ids(spans);
        let (done, rx) = oneshot::channel();
        let queued = self.jobs.send(Job { request: Prepared::of(&spans), done });
        Box::pin(async move {
            queued.map_err(|_| QueryError::Unavailable("the store is shutting down".into()))?;
            rx.await.map_err(|_| QueryError::Unavailable("the store is shutting down".into()))?
        })
    }

    fn stream_others(&self, live: tokio::sync::broadcast::Sender<Arc<LiveBatch>>) {
        let _ = self.inner.live.set(live);
    }

    fn hitmap(&self, grid: Grid, filter: HitmapFilter) -> StoreFuture<'_, Hitmap> {
        Box::pin(self.inner.hitmap(grid, filter))
    }

    fn transactions(&self, query: TxQuery) -> StoreFuture<'_, TransactionPage> {
        Box::pin(self.inner.transactions(query))
    }

    fn trace(&self, trace_id: [u8; 16], now_ms: i64) -> StoreFuture<'_, Option<Trace>> {
        Box::pin(self.inner.trace(trace_id, now_ms))
    }

    fn active(&self, service: Option<String>, now_ms: i64) -> StoreFuture<'_, ActiveList> {
        Box::pin(self.inner.active(service, now_ms))
    }

    fn services(&self, from: i64, to: i64) -> StoreFuture<'_, ServiceList> {
        Box::pin(self.inner.services(from, to))
    }

    fn tx_series(&self, query: SeriesQuery) -> StoreFuture<'_, Vec<TxSeries>> {
        Box::pin(self.inner.tx_series(query))
    }

    fn enforce_retention(&self, now_ms: i64) -> StoreFuture<'_, RetentionReport> {
        Box::pin(self.inner.enforce_retention(now_ms))
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        // An acknowledged insert is in ClickHouse already.
        Box::pin(std::future::ready(Ok(())))
    }

    fn stats(&self) -> StoreFuture<'_, StoreStats> {
        Box::pin(self.inner.stats())
    }

    fn cube(&self, query: crate::cube::CubeQuery) -> StoreFuture<'_, sightline_model::CubeAnswer> {
        Box::pin(self.inner.cube(query))
    }

    fn compare(&self, query: crate::compare::CompareQuery) -> StoreFuture<'_, crate::compare::Tally> {
        Box::pin(self.inner.compare(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_hide_the_password() {
        let t = Target::parse("http://reader:s3cret@ch.example:8123/?database=traces").unwrap();
        assert_eq!((t.endpoint.as_str(), t.database.as_str()), ("http://ch.example:8123", "traces"));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(Target::parse("http://ch:8123").unwrap().database, "sightline");
        for bad in ["ch:8123", "ftp://ch/", "http://ch:8123/?database=a;drop"] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--clickhouse"), "{bad}: {e}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_the_other_order() {
        let c = Cursor { order: Order::Slowest, duration_ns: 5, end_ms: 7, ids: [3; 24] };
        assert_eq!(Cursor::parse(Order::Slowest, &c.to_string()).unwrap(), c);
        assert!(Cursor::parse(Order::Newest, &c.to_string()).is_err());
        assert!(Cursor::parse(Order::Slowest, &format!("{c}00")).is_err());
        assert!(Cursor::parse(Order::Slowest, "").is_err());
    }

    #[test]
    fn day_partitions_end_at_midnight_utc() {
        assert_eq!(day_end_ms("0"), Some(86_400_000));
        assert_eq!(day_end_ms("20425"), Some(20_426 * 86_400_000));
        assert_eq!(day_end_ms("tuple()"), None);
    }
}
