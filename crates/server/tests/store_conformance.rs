//! The `TraceStore` contract: what the API relies on, asserted through the trait alone, so every
//! implementation runs the same suite and must give the same answers for the same data.
//!
//! Each test of [`suite`] takes a [`Backend`] (a way to make fresh, empty storage with some retention, and to
//! open a store on it as often as it likes: a reopen is how durability is checked), writes known data with
//! `append`, and compares the store's answers with a reference computed here from that data: hitmap cells
//! with the model's own `Hitmap::add`, list order and totals with a plain sort and filter, series and
//! service summaries with nearest-rank percentiles. Data is spread over the last minutes (not a fixed date),
//! so a store that expires rows by the wall clock keeps it.
//!
//! Adding a store is a function like `embedded` below and one line: `conformance!(clickhouse);`.
//!
//! What stays elsewhere: HTTP parameters and 400s (`tests/api.rs`), the embedded store's size budget and
//! shutdown (unit tests in `store/embedded.rs`), the columns' parallel binning (`store/columns.rs`), trace
//! assembly edge cases (`store/assemble.rs`), `kill -9` durability of the real binary (`tests/process.rs`).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use sightline_model::{CubeDim, CubeMeasure, Grid, Hitmap, Order, Scale, ServiceSummary, Status, StepKind, TransactionSummary};
use sightline_server::store::record::SpanTimes;
use sightline_server::cube::CubeQuery;
use sightline_server::store::embedded::{EmbeddedStore, MemoryBudget, Retention};
use sightline_server::store::record::{kind, ErrorRecord, SpanRecord};
use sightline_server::store::{
    CellRange, HitmapFilter, QueryError, RetentionReport, SeriesQuery, TraceStore, TxBucket, TxFilter, TxQuery, TxSeries,
    ACTIVE_STALE_MS,
};

const MINUTE: i64 = 60_000;

/// Retention a fresh storage is made with.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Data ending longer ago than this goes at the next `enforce_retention`.
    pub max_age_ms: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_age_ms: i64::MAX / 4 }
    }
}

/// Where one test's data lives (a temporary directory, a database on a test server). A store opened on it
/// and dropped can be opened again and must find everything it acknowledged.
pub struct Storage {
    open: Box<dyn Fn() -> BoxFuture<'static, Arc<dyn TraceStore>> + Send + Sync>,
    /// Whatever must outlive the stores (removed when the test ends).
    _keep: Box<dyn Any + Send + Sync>,
}

impl Storage {
    pub async fn open(&self) -> Arc<dyn TraceStore> {
        (self.open)().await
    }

    /// Drops `store` (the only handle to it) and opens the storage again.
    pub async fn reopen(&self, store: Arc<dyn TraceStore>) -> Arc<dyn TraceStore> {
        assert_eq!(Arc::strong_count(&store), 1, "the test holds the only handle to the store it reopens");
        drop(store);
        self.open().await
    }
}

/// Makes fresh, empty storage.
pub type Backend = fn(Options) -> Storage;

/// The embedded store (fjall + in-memory columns) in a temporary directory.
fn embedded(options: Options) -> Storage {
    embedded_opened_by(options, EmbeddedStore::open)
}

/// The embedded store with a memory budget of nothing: every minute's columns but the newest one's are
/// evicted to disk (at each open by the history loader, twice a second while it runs) and read back by the
/// queries that reach them. The answers must not change.
fn embedded_evicted(options: Options) -> Storage {
    embedded_opened_by(options, |path, retention| EmbeddedStore::open_budgeted(path, retention, MemoryBudget { total: 0 }))
}

/// An embedded store in a temporary directory, opened (and reopened) by `open`.
fn embedded_opened_by(options: Options, open: fn(&std::path::Path, Retention) -> anyhow::Result<EmbeddedStore>) -> Storage {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let retention = Retention { max_age_ms: options.max_age_ms, max_bytes: u64::MAX };
    Storage {
        open: Box::new(move || {
            let path = path.clone();
            Box::pin(async move {
                // Opening replays fjall and rebuilds the columns: disk work, on the blocking pool.
                let store = sightline_server::blocking::run("opening the store", move || open(&path, retention)).await.unwrap();
                Arc::new(store) as Arc<dyn TraceStore>
            })
        }),
        _keep: Box::new(dir),
    }
}

/// ClickHouse (Debian's 18.16, started by the test from its binary): a fresh database on the test binary's
/// shared server. A reopen is a new store (a new node id, nothing in memory) on the same database.
fn clickhouse(options: Options) -> Storage {
    let server = ch::shared();
    let url = server.url(&ch::fresh_database());
    Storage {
        open: Box::new(move || {
            let target = sightline_server::store::clickhouse::Target::parse(&url).unwrap();
            Box::pin(async move {
                let options = sightline_server::store::clickhouse::Options { max_age_ms: options.max_age_ms, ..Default::default() };
                let store = sightline_server::store::clickhouse::ClickHouseStore::open(vec![target], options).await.unwrap();
                Arc::new(store) as Arc<dyn TraceStore>
            })
        }),
        _keep: Box::new(()),
    }
}

#[path = "ch/mod.rs"]
mod ch;

/// One `#[tokio::test]` per suite test for the backend made by the function `$name`, in a module `$name`.
macro_rules! conformance {
    ($name:ident) => {
        conformance!($name, {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_cube_counts_every_transaction_once_across_reopens_and_retries() {
                suite::cube_durable_and_exact(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn compare_counts_every_value_and_step_across_reopens_and_retries() {
                suite::compare_exact(BACKEND).await
            }
        });
    };
    ($name:ident, { $($more:tt)* }) => {
        mod $name {
            use super::suite;
            const BACKEND: super::Backend = super::$name;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appended_transactions_are_durable_and_counted_per_cell() {
                suite::durable_and_counted_per_cell(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_hitmap_counts_exactly_the_batches_up_to_its_seq() {
                suite::hitmap_seq_matches_live_batches(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retried_spans_are_stored_once() {
                suite::retries_are_idempotent(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn transactions_pages_filters_and_orders() {
                suite::transactions_pages_filters_and_orders(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_trace_is_assembled_from_spans_in_any_order() {
                suite::trace_assembly(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn active_snapshots_until_finished_or_stale() {
                suite::active_snapshots(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn services_throughput_p95_and_error_rate() {
                suite::services_summary(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tx_series_buckets_groups_and_quantiles() {
                suite::tx_series(BACKEND).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retention_removes_what_is_older_than_the_age() {
                suite::retention_by_age(BACKEND).await
            }
            $($more)*
        }
    };
}

conformance!(embedded);
conformance!(embedded_evicted);
conformance!(clickhouse);

#[path = "cube_ref/mod.rs"]
mod cube_ref;

/// Known data and what the API must answer for it.
pub mod suite {
    use super::*;

    // ----- data --------------------------------------------------------------------------------------

    /// A minute-aligned moment ten minutes ago: the fixture's window starts there.
    fn base() -> i64 {
        sightline_server::store::now_ms() / MINUTE * MINUTE - 10 * MINUTE
    }

    /// Trace id `n`, its high half scrambled so id order is not insertion order.
    fn trace_id(n: u64) -> [u8; 16] {
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        t[8..].copy_from_slice(&n.to_be_bytes());
        t
    }

    fn span_id(n: u64) -> Vec<u8> {
        (n | 1 << 60).to_be_bytes().to_vec()
    }

    /// A finished transaction (root SERVER span) of trace `n`: span id 1.
    fn tx(n: u64, service: &str, endpoint: &str, end_ms: i64, dur_ms: f64, error: bool) -> SpanRecord {
        let end_ns = end_ms as u64 * 1_000_000;
        SpanRecord {
            trace_id: trace_id(n).to_vec(),
            span_id: span_id(1),
            service: service.into(),
            name: endpoint.into(),
            span_kind: 2,
            start_ns: end_ns - (dur_ms * 1e6).round() as u64,
            end_ns,
            error,
            step_kind: kind::TRANSACTION,
            thread: Some(format!("exec-{}", n % 3)),
            failure: error.then(|| ErrorRecord { kind: Some("Boom".into()), message: Some("it broke".into()), stacktrace: None }),
            is_transaction: true,
            ..Default::default()
        }
    }

    /// A step of trace `n` under `parent`.
    fn step(n: u64, id: u64, parent: u64, step_kind: u32, name: &str, start_ns: u64, end_ns: u64) -> SpanRecord {
        SpanRecord {
            trace_id: trace_id(n).to_vec(),
            span_id: span_id(id),
            parent_span_id: span_id(parent),
            service: "checkout".into(),
            name: name.into(),
            span_kind: 3,
            start_ns,
            end_ns,
            step_kind,
            ..Default::default()
        }
    }

    fn in_flight(mut s: SpanRecord) -> SpanRecord {
        s.end_ns = 0;
        s
    }

    /// 240 transactions over one minute from `t0`, every 250 ms with pairs sharing an end (ties for the
    /// newest-first order), durations from a short list (ties for slowest-first) including 0 ms, a fraction
    /// of a ms, exactly the 1 000 ms y-range and beyond it; two services, three endpoints, every 7th failed.
    /// Plus transactions just outside the minute and one of a service with nothing inside it.
    fn fixture(t0: i64) -> Vec<SpanRecord> {
        const DURATIONS: [f64; 12] = [0.0, 0.4, 1.0, 5.0, 12.5, 40.0, 99.9, 250.0, 400.0, 999.9, 1000.0, 1500.0];
        const ENDPOINTS: [&str; 3] = ["GET /a", "GET /b", "POST /pay"];
        let mut v: Vec<SpanRecord> = (0..240u64)
            .map(|i| {
                let service = if i % 3 == 0 { "search" } else { "checkout" };
                let end = t0 + (i / 2) as i64 * 500 + if i % 2 == 0 { 0 } else { 250 * ((i / 2) % 2) as i64 };
                tx(i + 1, service, ENDPOINTS[(i % 5 % 3) as usize], end, DURATIONS[(i * 7 % 12) as usize], i % 7 == 3)
            })
            .collect();
        v.push(tx(1001, "checkout", "GET /a", t0 - 1, 10.0, false));
        v.push(tx(1002, "checkout", "GET /a", t0 + MINUTE, 10.0, false));
        v.push(tx(1003, "idle", "GET /idle", t0 - 5 * MINUTE, 10.0, false));
        v
    }

    /// Appends in three requests, the later ends first (spans arrive out of order).
    async fn seed(store: &dyn TraceStore, data: &[SpanRecord]) {
        let third = data.len() / 3;
        for chunk in [&data[2 * third..], &data[..third], &data[third..2 * third]] {
            store.append(chunk.to_vec()).await.unwrap();
        }
    }

    // ----- the reference ------------------------------------------------------------------------------

    fn ids(r: &SpanRecord) -> Vec<u8> {
        [r.trace_id.as_slice(), r.span_id.as_slice()].concat()
    }

    fn expected_hitmap(data: &[SpanRecord], grid: Grid, service: Option<&str>) -> Hitmap {
        let mut h = Hitmap::empty(grid);
        for r in data.iter().filter(|r| r.is_transaction && !r.in_flight() && service.is_none_or(|s| r.service == s)) {
            h.add(r.end_ms(), r.duration_ms(), r.error);
        }
        h
    }

    fn assert_same_counts(got: &Hitmap, want: &Hitmap, what: &str) {
        assert_eq!((got.grid, got.total, got.total_err), (want.grid, want.total, want.total_err), "{what}");
        assert_eq!(got.ok, want.ok, "{what}: ok per cell");
        assert_eq!(got.err, want.err, "{what}: errors per cell");
    }

    fn matches(f: &TxFilter, r: &SpanRecord) -> bool {
        let (end, d) = (r.end_ms(), r.duration_ms());
        end >= f.from
            && end < f.to
            && d >= f.min_ms
            && f.max_ms.is_none_or(|m| d < m)
            && f.service.as_ref().is_none_or(|s| &r.service == s)
            && f.endpoint.as_ref().is_none_or(|e| &r.name == e)
            && f.status.is_none_or(|s| r.status() == s)
            && f.cells.is_none_or(|c| {
                c.grid.col_of(end).is_some_and(|col| (c.cols.0..=c.cols.1).contains(&col))
                    && (c.rows.0..=c.rows.1).contains(&c.grid.row_of(d))
            })
    }

    /// Every match of `f`, in the list order the trait documents.
    fn expected_list(data: &[SpanRecord], f: &TxFilter, order: Order) -> Vec<TransactionSummary> {
        let mut v: Vec<&SpanRecord> = data.iter().filter(|r| r.is_transaction && !r.in_flight() && matches(f, r)).collect();
        match order {
            Order::Slowest => v.sort_by(|a, b| {
                b.duration_ms().total_cmp(&a.duration_ms()).then(b.end_ms().cmp(&a.end_ms())).then(ids(b).cmp(&ids(a)))
            }),
            Order::Newest => v.sort_by(|a, b| b.end_ms().cmp(&a.end_ms()).then(ids(b).cmp(&ids(a)))),
        }
        v.into_iter().map(SpanRecord::summary).collect()
    }

    /// Nearest rank, as the store documents.
    fn percentile(v: &[f64], q: f64) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    }

    /// A series' labels (service, endpoint) → its buckets' transactions.
    type Groups<'a> = std::collections::BTreeMap<(Option<String>, Option<String>), Vec<Vec<&'a SpanRecord>>>;

    fn expected_series(data: &[SpanRecord], q: &SeriesQuery) -> Vec<TxSeries> {
        let n = ((q.to - q.from) / q.step_ms) as usize;
        let mut groups = Groups::new();
        if !q.by_service && !q.by_endpoint {
            groups.insert((None, None), vec![Vec::new(); n]);
        }
        for r in data.iter().filter(|r| r.is_transaction && !r.in_flight()) {
            let end = r.end_ms();
            if end < q.from
                || end >= q.to
                || q.service.as_ref().is_some_and(|s| &r.service != s)
                || q.endpoint.as_ref().is_some_and(|e| &r.name != e)
            {
                continue;
            }
            let key = (q.by_service.then(|| r.service.clone()), q.by_endpoint.then(|| r.name.clone()));
            groups.entry(key).or_insert_with(|| vec![Vec::new(); n])[((end - q.from) / q.step_ms) as usize].push(r);
        }
        groups
            .into_iter()
            .map(|((service, endpoint), buckets)| TxSeries {
                service,
                endpoint,
                buckets: buckets
                    .into_iter()
                    .map(|rs| {
                        let d: Vec<f64> = rs.iter().map(|r| r.duration_ms()).collect();
                        TxBucket {
                            count: rs.len() as u64,
                            errors: rs.iter().filter(|r| r.error).count() as u64,
                            sum_ms: d.iter().sum(),
                            quantiles: (q.quantiles && !d.is_empty())
                                .then(|| [percentile(&d, 0.50), percentile(&d, 0.95), percentile(&d, 0.99)]),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    /// Series compared field by field, sums with a tolerance (a remote store may add in another order).
    fn assert_same_series(got: &[TxSeries], want: &[TxSeries], what: &str) {
        let labels = |s: &[TxSeries]| s.iter().map(|x| (x.service.clone(), x.endpoint.clone())).collect::<Vec<_>>();
        assert_eq!(labels(got), labels(want), "{what}: groups");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.buckets.len(), w.buckets.len(), "{what}");
            for (i, (a, b)) in g.buckets.iter().zip(&w.buckets).enumerate() {
                let at = format!("{what}, {:?}/{:?} bucket {i}", w.service, w.endpoint);
                assert_eq!((a.count, a.errors, a.quantiles), (b.count, b.errors, b.quantiles), "{at}");
                assert!((a.sum_ms - b.sum_ms).abs() < 1e-6, "{at}: sum {} vs {}", a.sum_ms, b.sum_ms);
            }
        }
    }

    async fn all_pages(store: &dyn TraceStore, filter: &TxFilter, order: Order, limit: usize) -> (Vec<TransactionSummary>, u64) {
        let mut cursor = None;
        let mut seen = Vec::new();
        let mut total = None;
        loop {
            let q = TxQuery { filter: filter.clone(), order, limit, cursor: cursor.take() };
            let page = store.transactions(q).await.unwrap();
            assert!(page.items.len() <= limit);
            assert!(total.is_none_or(|t| t == page.total), "the total is the same on every page");
            total = Some(page.total);
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        (seen, total.unwrap())
    }

    fn grid(t0: i64, scale: Scale) -> Grid {
        Grid { from: t0, to: t0 + MINUTE, cols: 24, rows: 10, ymax_ms: 1000.0, scale }
    }

    // ----- the tests ----------------------------------------------------------------------------------

    /// Appended transactions are counted into the same cells as the model's `Hitmap::add` (both scales, by
    /// service, an unknown service), new ones come back as live points, in-flight work is not counted, and
    /// all of it is still there after the store is reopened.
    pub async fn durable_and_counted_per_cell(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let data = fixture(t0);
        let empty = store.hitmap(grid(t0, Scale::Linear), HitmapFilter::default()).await.unwrap();
        assert_eq!(empty.total, 0);

        let batch = store.append(data.clone()).await.unwrap();
        assert!(batch.seq > empty.seq, "a commit has a newer seq than a snapshot before it");
        let mut points: Vec<(i64, u64, bool, String)> =
            batch.points.iter().map(|p| (p.end_ms, (p.duration_ms * 1e6) as u64, p.error, p.service.clone())).collect();
        let mut want: Vec<(i64, u64, bool, String)> =
            data.iter().map(|r| (r.end_ms(), (r.duration_ms() * 1e6) as u64, r.error, r.service.clone())).collect();
        points.sort();
        want.sort();
        assert_eq!(points, want, "one live point per new transaction");
        // Running work is not on the hitmap.
        let running = in_flight(tx(2000, "checkout", "GET /a", t0 + 30_000, 5.0, false));
        assert!(store.append(vec![running]).await.unwrap().points.is_empty());

        let check = |store: Arc<dyn TraceStore>| {
            let data = data.clone();
            async move {
                for scale in [Scale::Linear, Scale::Log] {
                    let g = grid(t0, scale);
                    let h = store.hitmap(g, HitmapFilter::default()).await.unwrap();
                    assert_same_counts(&h, &expected_hitmap(&data, g, None), scale.as_str());
                    assert_eq!(h.total, 240, "the minute holds 240; the ones just outside are not counted");
                    for service in ["search", "checkout"] {
                        let h = store.hitmap(g, HitmapFilter::service(service)).await.unwrap();
                        assert_same_counts(&h, &expected_hitmap(&data, g, Some(service)), service);
                    }
                    assert_eq!(store.hitmap(g, HitmapFilter::service("nobody")).await.unwrap().total, 0);
                    // The app's grid (240 × 100), a top above 2³² ns, and an odd one: cell edges wherever
                    // the model puts them.
                    for (cols, rows, ymax_ms) in [(240, 100, 5_000.0), (7, 37, 86_400_000.0), (333, 3, 0.75)] {
                        let g = Grid { cols, rows, ymax_ms, ..g };
                        let h = store.hitmap(g, HitmapFilter::default()).await.unwrap();
                        assert_same_counts(&h, &expected_hitmap(&data, g, None), &format!("{g:?}"));
                    }
                }
                let wide = Grid { from: t0 - 10 * MINUTE, to: t0 + 2 * MINUTE, ..grid(t0, Scale::Linear) };
                assert_eq!(store.hitmap(wide, HitmapFilter::default()).await.unwrap().total, data.len() as u64);
                store
            }
        };
        let store = check(store).await;
        let h = store.hitmap(grid(t0, Scale::Linear), HitmapFilter::default()).await.unwrap();
        assert!(h.seq >= batch.seq, "a snapshot after a commit includes it");
        let store = storage.reopen(store).await;
        let store = check(store).await;
        let all = TxFilter { from: t0 - 10 * MINUTE, to: t0 + 2 * MINUTE, ..Default::default() };
        let (list, total) = all_pages(&*store, &all, Order::Newest, 100).await;
        assert_eq!((list, total), (expected_list(&data, &all, Order::Newest), data.len() as u64), "after a reopen");
    }

    /// While requests are stored concurrently, every hitmap counts exactly the transactions of the batches
    /// whose `seq` is at most its own: what a live client relies on to apply the events its snapshot lacks.
    pub async fn hitmap_seq_matches_live_batches(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let g = grid(t0, Scale::Linear);
        let appends: Vec<_> = (0..24u64)
            .map(|b| {
                let store = store.clone();
                let spans: Vec<SpanRecord> =
                    (0..(b % 5 + 1)).map(|i| tx(b * 10 + i + 1, "checkout", "GET /a", t0 + (b * 10 + i) as i64 * 100, 3.0, false)).collect();
                tokio::spawn(async move { store.append(spans).await.unwrap() })
            })
            .collect();
        let mut snapshots = Vec::new();
        while snapshots.len() < 5 || !appends.iter().all(|a| a.is_finished()) {
            let h = store.hitmap(g, HitmapFilter::default()).await.unwrap();
            snapshots.push((h.seq, h.total));
            tokio::task::yield_now().await;
        }
        let mut batches = Vec::new();
        for a in appends {
            let b = a.await.unwrap();
            batches.push((b.seq, b.points.len() as u64));
        }
        let h = store.hitmap(g, HitmapFilter::default()).await.unwrap();
        snapshots.push((h.seq, h.total));
        assert_eq!(h.total, batches.iter().map(|b| b.1).sum::<u64>());
        for (seq, total) in snapshots {
            let included: u64 = batches.iter().filter(|b| b.0 <= seq).map(|b| b.1).sum();
            assert_eq!(total, included, "the snapshot at seq {seq} counts exactly the batches up to it");
        }
    }

    /// An exporter's retry re-sends spans already stored, alone or with new ones: each transaction is counted
    /// and listed once, each step shown once, and only the new ones are live points.
    pub async fn retries_are_idempotent(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let data = fixture(t0);
        let root = tx(3000, "checkout", "POST /pay", t0 + 20_000, 100.0, false);
        let sql = step(3000, 2, 1, kind::SQL, "SELECT", root.start_ns + 1_000_000, root.start_ns + 9_000_000);
        seed(&*store, &data).await;
        store.append(vec![root.clone(), sql.clone()]).await.unwrap();

        assert!(store.append(data[..50].to_vec()).await.unwrap().points.is_empty(), "a retry adds no point");
        let fresh = tx(3001, "search", "GET /b", t0 + 10_001, 7.0, true);
        let mixed = store.append([data[50..60].to_vec(), vec![fresh.clone(), sql.clone(), root.clone()]].concat()).await.unwrap();
        assert_eq!(mixed.points.len(), 1, "only the new transaction is live");
        assert_eq!((mixed.points[0].end_ms, mixed.points[0].service.as_str()), (fresh.end_ms(), "search"));

        let mut want = data.clone();
        want.extend([root, fresh]);
        let g = grid(t0, Scale::Log);
        let mut store = store;
        for reopened in [false, true] {
            if reopened {
                store = storage.reopen(store).await;
            }
            assert_same_counts(&store.hitmap(g, HitmapFilter::default()).await.unwrap(), &expected_hitmap(&want, g, None), "after retries");
            let f = TxFilter { from: t0, to: t0 + MINUTE, ..Default::default() };
            let (list, total) = all_pages(&*store, &f, Order::Slowest, 50).await;
            assert_eq!(total, 242);
            assert_eq!(list, expected_list(&want, &f, Order::Slowest));
            let t = store.trace(trace_id(3000), t0).await.unwrap().unwrap();
            assert_eq!(t.steps.len(), 2, "each span once");
            assert_eq!(t.transactions.len(), 1);
        }
    }

    /// Drag-select: every page has the exact total; paging with the cursor lists every match once in the
    /// documented order (both orders, ties included); filters by service, endpoint, status, duration band
    /// (from inclusive, to exclusive, open-ended) and hitmap cells; cursors from elsewhere are refused.
    pub async fn transactions_pages_filters_and_orders(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let data = fixture(t0);
        seed(&*store, &data).await;
        let window = TxFilter { from: t0, to: t0 + MINUTE, ..Default::default() };
        let linear = grid(t0, Scale::Linear);
        let filters = [
            window.clone(),
            TxFilter { service: Some("search".into()), ..window.clone() },
            TxFilter { endpoint: Some("POST /pay".into()), ..window.clone() },
            TxFilter { status: Some(Status::Error), ..window.clone() },
            TxFilter { status: Some(Status::Ok), service: Some("checkout".into()), ..window.clone() },
            TxFilter { min_ms: 0.0, max_ms: Some(0.5), ..window.clone() },
            TxFilter { min_ms: 12.5, max_ms: Some(400.0), ..window.clone() },
            TxFilter { min_ms: 1000.0, max_ms: None, ..window.clone() },
            TxFilter { from: t0 + 10_000, to: t0 + 20_000, ..window.clone() },
            TxFilter { service: Some("nobody".into()), ..window.clone() },
            TxFilter { endpoint: Some("GET /nothing".into()), ..window.clone() },
            TxFilter { cells: Some(CellRange { grid: linear, cols: (3, 9), rows: (2, 10) }), ..window.clone() },
            TxFilter { cells: Some(CellRange { grid: grid(t0, Scale::Log), cols: (0, 23), rows: (0, 0) }), ..window.clone() },
            TxFilter {
                cells: Some(CellRange { grid: linear, cols: (10, 10), rows: (10, 10) }),
                service: Some("checkout".into()),
                ..window.clone()
            },
        ];
        for (i, f) in filters.iter().enumerate() {
            for order in [Order::Slowest, Order::Newest] {
                let want = expected_list(&data, f, order);
                let (got, total) = all_pages(&*store, f, order, 7).await;
                assert_eq!(total, want.len() as u64, "filter {i} {order:?}: total");
                assert_eq!(got, want, "filter {i} {order:?}: every match once, in order");
            }
        }
        // The fixture has the cases the filters are about.
        assert!(expected_list(&data, &filters[5], Order::Slowest).len() >= 2, "0 ms and 0.4 ms");
        assert!(!expected_list(&data, &filters[7], Order::Slowest).is_empty(), "≥ 1000 ms");
        // Every cell of the hitmap lists exactly what it counted.
        let h = store.hitmap(linear, HitmapFilter::default()).await.unwrap();
        for col in (0..24).step_by(5) {
            for row in 0..=10 {
                let cells = Some(CellRange { grid: linear, cols: (col, col), rows: (row, row) });
                let q = TxQuery { filter: TxFilter { cells, ..window.clone() }, order: Order::Newest, limit: 1000, cursor: None };
                let i = linear.index(col, row);
                assert_eq!(store.transactions(q).await.unwrap().total, u64::from(h.ok[i] + h.err[i]), "cell ({col}, {row})");
            }
        }
        // A page's cursor continues only the order it came from; garbage is refused as the caller's fault.
        let first = store.transactions(TxQuery { filter: window.clone(), order: Order::Slowest, limit: 5, cursor: None }).await.unwrap();
        let cursor = first.next_cursor.expect("more than 5");
        for (order, cursor) in [(Order::Newest, cursor.clone()), (Order::Slowest, "zzz".into()), (Order::Slowest, format!("{cursor}00"))] {
            let e = store.transactions(TxQuery { filter: window.clone(), order, limit: 5, cursor: Some(cursor) }).await.unwrap_err();
            assert!(matches!(e, QueryError::Invalid(_)), "{e:?}");
        }
    }

    /// A trace is assembled from spans of several requests and services arriving in any order: steps
    /// depth-first with their kinds, SQL text, errors, self times and the slowest step; its transactions;
    /// `None` for a trace never stored.
    pub async fn trace_assembly(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let ms = |n: u64| (t0 as u64 + 10_000 + n) * 1_000_000;
        let root = tx(7, "checkout", "POST /pay", t0 + 10_100, 100.0, false);
        assert_eq!(root.start_ns, ms(0));
        let mut sql1 = step(7, 2, 1, kind::SQL, "SELECT accounts", ms(10), ms(40));
        sql1.text = Some("SELECT * FROM accounts WHERE id = $1".into());
        sql1.target = Some("postgresql bank".into());
        let mut sql2 = step(7, 3, 1, kind::SQL, "UPDATE accounts", ms(30), ms(60));
        sql2.text = Some("UPDATE accounts SET balance = $1".into());
        let mut call = step(7, 4, 1, kind::HTTP, "POST ledger", ms(65), ms(95));
        call.text = Some("http://ledger/entries".into());
        // The ledger's own transaction, in another service, under the HTTP call; it failed.
        let mut ledger = tx(7, "ledger", "POST /entries", t0 + 10_093, 25.0, true);
        ledger.span_id = span_id(5);
        ledger.parent_span_id = span_id(4);
        ledger.failure = Some(ErrorRecord { kind: Some("Conflict".into()), message: Some("duplicate entry".into()), stacktrace: Some("at ledger".into()) });

        // Children first, the root last, the other service in a request of its own.
        store.append(vec![sql2.clone()]).await.unwrap();
        store.append(vec![ledger.clone()]).await.unwrap();
        store.append(vec![call.clone(), sql1.clone()]).await.unwrap();
        let partial = store.trace(trace_id(7), t0).await.unwrap().unwrap();
        assert_eq!(partial.steps.len(), 4, "a partial trace is readable");
        store.append(vec![root.clone()]).await.unwrap();

        let t = store.trace(trace_id(7), t0).await.unwrap().unwrap();
        assert_eq!(t.trace_id, const_hex::encode(trace_id(7)));
        assert_eq!((t.start_ms, t.duration_ms), (root.start_ms(), 100.0));
        let hex = |n: u64| const_hex::encode(span_id(n));
        let shape: Vec<(String, u32, StepKind)> = t.steps.iter().map(|s| (s.span_id.clone(), s.depth, s.kind)).collect();
        assert_eq!(
            shape,
            [
                (hex(1), 0, StepKind::Transaction),
                (hex(2), 1, StepKind::Sql),
                (hex(3), 1, StepKind::Sql),
                (hex(4), 1, StepKind::Http),
                (hex(5), 2, StepKind::Transaction),
            ]
        );
        assert_eq!(t.steps[1].parent_span_id, Some(hex(1)));
        assert_eq!(t.steps[4].parent_span_id, Some(hex(4)));
        assert_eq!(t.steps[1].text, sql1.text);
        assert_eq!(t.steps[1].target, sql1.target);
        assert_eq!(t.steps[2].text, sql2.text);
        assert_eq!((t.steps[4].service.as_str(), t.steps[4].status), ("ledger", Status::Error));
        let e = t.steps[4].error.as_ref().expect("the ledger's exception");
        assert_eq!((e.kind.as_deref(), e.message.as_deref()), (Some("Conflict"), Some("duplicate entry")));
        let offsets: Vec<f64> = t.steps.iter().map(|s| s.offset_ms).collect();
        assert_eq!(offsets, [0.0, 10.0, 30.0, 65.0, 68.0]);
        // Self time: the duration minus the union of the children's intervals.
        let own: Vec<f64> = t.steps.iter().map(|s| s.self_ms).collect();
        assert_eq!(own, [100.0 - 50.0 - 30.0, 30.0, 30.0, 30.0 - 25.0, 25.0]);
        assert_eq!(t.slowest_step, Some(1), "the first of the 30 ms steps");
        let txs: Vec<(&str, Status)> = t.transactions.iter().map(|x| (x.service.as_str(), x.status)).collect();
        assert_eq!(txs, [("checkout", Status::Ok), ("ledger", Status::Error)]);
        assert_eq!(t.transactions[1].error.as_deref(), Some("Conflict"));

        assert!(store.trace(trace_id(8), t0).await.unwrap().is_none());
        let store = storage.reopen(store).await;
        assert_eq!(store.trace(trace_id(7), t0).await.unwrap().unwrap(), t, "the same after a reopen");
    }

    /// In-flight snapshots are listed (by service, with their current step) until the finished span
    /// arrives, a newer snapshot replaces an older one, a late snapshot cannot bring a finished one back,
    /// they survive a reopen, stop being listed once stale and are dropped by retention.
    pub async fn active_snapshots(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        // Snapshots are stamped with the wall clock when stored: ask relative to now.
        let now = sightline_server::store::now_ms();
        let running = |n: u64, service: &str, elapsed_ms: f64| in_flight(tx(n, service, "POST /recharge", now, elapsed_ms, false));
        let r1 = running(1, "recharge", 4000.0);
        let mut current = in_flight(step(1, 2, 1, kind::SQL, "SELECT pg_sleep", r1.start_ns + 1_000_000, 0));
        current.service = "recharge".into();
        store.append(vec![r1.clone(), current]).await.unwrap();
        store.append(vec![running(2, "gateway", 1000.0)]).await.unwrap();

        let list = store.active(None, now).await.unwrap();
        assert_eq!(list.now_ms, now);
        let names: Vec<(&str, Option<&str>)> = list.items.iter().map(|a| (a.service.as_str(), a.current_step.as_deref())).collect();
        assert_eq!(names, [("recharge", Some("SELECT pg_sleep")), ("gateway", None)], "longest-running first");
        assert!(list.items[0].elapsed_ms >= 4000.0);
        assert_eq!(list.items[0].trace_id, const_hex::encode(trace_id(1)));
        let only = store.active(Some("gateway".into()), now).await.unwrap();
        assert_eq!(only.items.len(), 1);
        assert!(store.active(Some("nobody".into()), now).await.unwrap().items.is_empty());
        // A running trace can be opened; running work is not on the hitmap.
        let t = store.trace(trace_id(1), now).await.unwrap().unwrap();
        assert_eq!(t.steps.len(), 2);
        let g = Grid { from: now - MINUTE, to: now + MINUTE, ..grid(now, Scale::Linear) };
        assert_eq!(store.hitmap(g, HitmapFilter::default()).await.unwrap().total, 0);

        // A newer snapshot of the same span replaces the older one.
        let mut again = r1.clone();
        again.thread = Some("exec-9".into());
        store.append(vec![again]).await.unwrap();
        let list = store.active(Some("recharge".into()), now).await.unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0].thread.as_deref(), Some("exec-9"));

        // Finished: gone, and a late snapshot does not bring it back.
        let mut done = tx(1, "recharge", "POST /recharge", now + 1, 4001.0, false);
        done.start_ns = r1.start_ns;
        store.append(vec![done]).await.unwrap();
        store.append(vec![r1.clone()]).await.unwrap();
        let list = store.active(None, now).await.unwrap();
        assert_eq!(list.items.iter().map(|a| a.service.as_str()).collect::<Vec<_>>(), ["gateway"]);
        assert_eq!(store.hitmap(g, HitmapFilter::default()).await.unwrap().total, 1, "the finished transaction is counted");

        // The open snapshot survives a reopen; stale ones are not listed, and retention drops them.
        let store = storage.reopen(store).await;
        assert_eq!(store.active(None, now).await.unwrap().items.len(), 1);
        // Stamped at most seconds after `now` (the reopen stamps again): a minute's margin.
        let later = now + ACTIVE_STALE_MS + MINUTE;
        assert!(store.active(None, later).await.unwrap().items.is_empty(), "stale snapshots are not listed");
        store.enforce_retention(later).await.unwrap();
        assert!(store.active(None, now).await.unwrap().items.is_empty(), "retention dropped the stale snapshot");
        let store = storage.reopen(store).await;
        assert!(store.active(None, now).await.unwrap().items.is_empty(), "for good");
    }

    /// Per service over a window: transactions, errors, throughput, p95 (nearest rank) and error rate,
    /// sorted by name; a service known to the store without transactions in the window is listed with zeros.
    pub async fn services_summary(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let data = fixture(t0);
        seed(&*store, &data).await;
        for (from, to) in [(t0, t0 + MINUTE), (t0 + 15_000, t0 + 45_000)] {
            let got = store.services(from, to).await.unwrap().services;
            let want: Vec<ServiceSummary> = ["checkout", "idle", "search"]
                .iter()
                .map(|name| {
                    let rs: Vec<&SpanRecord> = data.iter().filter(|r| r.service == *name && r.end_ms() >= from && r.end_ms() < to).collect();
                    let n = rs.len() as u64;
                    let errors = rs.iter().filter(|r| r.error).count() as u64;
                    let d: Vec<f64> = rs.iter().map(|r| r.duration_ms()).collect();
                    ServiceSummary {
                        name: name.to_string(),
                        transactions: n,
                        errors,
                        tps: n as f64 / ((to - from) as f64 / 1000.0),
                        p95_ms: if d.is_empty() { 0.0 } else { percentile(&d, 0.95) },
                        error_rate: if n == 0 { 0.0 } else { errors as f64 / n as f64 },
                    }
                })
                .collect();
            assert_eq!(got.len(), want.len(), "[{from}, {to})");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((&g.name, g.transactions, g.errors, g.p95_ms), (&w.name, w.transactions, w.errors, w.p95_ms));
                assert!((g.tps - w.tps).abs() < 1e-9 && (g.error_rate - w.error_rate).abs() < 1e-9, "{g:?} vs {w:?}");
            }
            assert!(want[0].transactions > 0 && want[0].errors > 0 && want[1].transactions == 0);
        }
    }

    /// Metric series: one series when not grouped (zeros where nothing matched, also for an unknown
    /// service), one per service and/or endpoint seen when grouped, counts, errors, sums and nearest-rank
    /// quantiles per bucket; a window that is not whole steps is the caller's fault.
    pub async fn tx_series(backend: Backend) {
        let storage = backend(Options::default());
        let store = storage.open().await;
        let t0 = base();
        let data = fixture(t0);
        seed(&*store, &data).await;
        let q = SeriesQuery { from: t0, to: t0 + MINUTE, step_ms: 10_000, quantiles: true, ..Default::default() };
        let cases = [
            q.clone(),
            SeriesQuery { quantiles: false, ..q.clone() },
            SeriesQuery { by_service: true, ..q.clone() },
            SeriesQuery { by_endpoint: true, service: Some("checkout".into()), ..q.clone() },
            SeriesQuery { by_service: true, by_endpoint: true, ..q.clone() },
            SeriesQuery { service: Some("search".into()), endpoint: Some("GET /b".into()), ..q.clone() },
            SeriesQuery { from: t0 - MINUTE, to: t0 + 2 * MINUTE, step_ms: MINUTE, by_service: true, ..q.clone() },
            SeriesQuery { from: t0 + 5 * MINUTE, to: t0 + 6 * MINUTE, ..q.clone() },
            SeriesQuery { service: Some("nobody".into()), ..q.clone() },
            SeriesQuery { service: Some("nobody".into()), by_service: true, ..q.clone() },
        ];
        for (i, c) in cases.iter().enumerate() {
            let want = expected_series(&data, c);
            assert_same_series(&store.tx_series(c.clone()).await.unwrap(), &want, &format!("case {i}"));
        }
        let ungrouped = store.tx_series(cases[8].clone()).await.unwrap();
        assert_eq!((ungrouped.len(), ungrouped[0].buckets.len()), (1, 6), "an unknown service: one series of zeros");
        assert!(store.tx_series(cases[9].clone()).await.unwrap().is_empty(), "grouped: no series");
        let e = store.tx_series(SeriesQuery { step_ms: 7_000, ..q }).await.unwrap_err();
        assert!(matches!(e, QueryError::Invalid(_)), "{e:?}");
    }

    /// Retention removes transactions ending before `now − age` (rounded down to a minute) and the traces
    /// that started then, from every query, and keeps the rest; a second pass has nothing to do.
    pub async fn retention_by_age(backend: Backend) {
        let storage = backend(Options { max_age_ms: 60 * MINUTE });
        let store = storage.open().await;
        let now = base() + 10 * MINUTE + 30_000;
        // One transaction (its own trace, with a step) every 10 minutes over the last three hours.
        let data: Vec<SpanRecord> =
            (0..18u64).map(|i| tx(i + 1, "checkout", "GET /a", now - 175 * MINUTE + i as i64 * 10 * MINUTE, 20.0, false)).collect();
        for (n, r) in (1..).zip(&data) {
            let work = step(n, 2, 1, kind::METHOD, "work", r.start_ns, r.end_ns);
            store.append(vec![r.clone(), work]).await.unwrap();
        }
        let cutoff = (now - 60 * MINUTE) / MINUTE * MINUTE;
        let (old, kept): (Vec<&SpanRecord>, Vec<&SpanRecord>) = data.iter().partition(|r| r.end_ms() < cutoff);
        assert_eq!((old.len(), kept.len()), (12, 6));

        let report = store.enforce_retention(now).await.unwrap();
        assert_eq!(
            report,
            RetentionReport { transactions_removed: 12, traces_removed: 12, cutoff_ms: Some(cutoff) }
        );
        let everything = TxFilter { from: now - 4 * 60 * MINUTE, to: now + MINUTE, ..Default::default() };
        let kept_data: Vec<SpanRecord> = kept.iter().map(|r| (*r).clone()).collect();
        let mut store = store;
        for reopened in [false, true] {
            if reopened {
                store = storage.reopen(store).await;
            }
            let (list, total) = all_pages(&*store, &everything, Order::Newest, 50).await;
            assert_eq!((list, total), (expected_list(&kept_data, &everything, Order::Newest), 6));
            let g = Grid { from: everything.from, to: everything.to, cols: 48, rows: 4, ymax_ms: 100.0, scale: Scale::Linear };
            assert_eq!(store.hitmap(g, HitmapFilter::default()).await.unwrap().total, 6);
            for r in &old {
                assert!(store.trace(r.trace_id.as_slice().try_into().unwrap(), now).await.unwrap().is_none(), "old traces are gone");
            }
            for r in &kept {
                assert_eq!(store.trace(r.trace_id.as_slice().try_into().unwrap(), now).await.unwrap().unwrap().steps.len(), 2);
            }
            let s = store.services(everything.from, everything.to).await.unwrap().services;
            assert_eq!(s[0].transactions, 6);
            let series = store
                .tx_series(SeriesQuery { from: now / MINUTE * MINUTE - 240 * MINUTE, to: now / MINUTE * MINUTE + MINUTE, step_ms: MINUTE, ..Default::default() })
                .await
                .unwrap();
            assert_eq!(series[0].buckets.iter().map(|b| b.count).sum::<u64>(), 6);
            assert_eq!(store.enforce_retention(now).await.unwrap(), RetentionReport::default(), "nothing left to do");
        }
    }

    /// The cube counts every acknowledged transaction exactly once: figures equal the reference computed
    /// from the raw facts, for data in closed minutes (stored blobs) and in the open minute (memory and
    /// write-ahead rows); the same after a reopen, and after an exporter re-sends what was stored.
    pub async fn cube_durable_and_exact(backend: Backend) {
        let storage = backend(Options::default());
        let mut store = storage.open().await;
        let t0 = base();
        let now = sightline_server::store::now_ms();
        let mut data = fixture(t0);
        // And a few in the current minute: still open when queried.
        data.extend((0..12u64).map(|i| tx(2000 + i, "checkout", "POST /pay", now - 1000 + i as i64, 3.0 * i as f64, i % 4 == 0)));
        seed(&*store, &data).await;
        let facts = cube_ref::facts_of(&data);
        let queries = [
            cube_query(t0 - 10 * MINUTE, now + MINUTE, &[CubeDim::Endpoint], &[], CubeMeasure::Count),
            cube_query(t0, t0 + MINUTE, &[CubeDim::Service, CubeDim::Status], &[], CubeMeasure::P95),
            cube_query(t0 - MINUTE, now + MINUTE, &[CubeDim::Endpoint], &[(CubeDim::Service, "checkout")], CubeMeasure::Errors),
            cube_query(now - MINUTE, now + MINUTE, &[], &[], CubeMeasure::Count),
            cube_query(t0 - 10 * MINUTE, now + MINUTE, &[CubeDim::Service], &[(CubeDim::Service, "nobody")], CubeMeasure::Count),
        ];
        let mut answers = Vec::new();
        for q in &queries {
            let a = store.cube(q.clone()).await.unwrap();
            cube_ref::assert_answer(&a, &facts, q);
            answers.push(a);
        }
        assert_eq!(answers[0].total.count, 243 + 12);
        store = storage.reopen(store).await;
        for (q, a) in queries.iter().zip(&answers) {
            assert_eq!(&store.cube(q.clone()).await.unwrap(), a, "after a reopen");
        }
        // An exporter's retry of stored spans (all of them, and a part): nothing more is counted.
        seed(&*store, &data).await;
        store.append(data[..40].to_vec()).await.unwrap();
        for (q, a) in queries.iter().zip(&answers) {
            assert_eq!(&store.cube(q.clone()).await.unwrap(), a, "after retries");
        }
        // A top-2 with the rest merged into `other`.
        let q = CubeQuery { limit: 2, ..queries[0].clone() };
        let a = store.cube(q.clone()).await.unwrap();
        cube_ref::assert_answer(&a, &facts, &q);
        assert!(a.other.is_some());
    }

    /// "What changed" counts every transaction of both sets per value and step: the tally equals one
    /// computed here from the raw spans, after a reopen (steps and tags come back from disk) and after an
    /// exporter re-sends everything; a tag filter narrows the hitmap and the list to the same transactions.
    pub async fn compare_exact(backend: Backend) {
        use sightline_model::{CompareDim, TagFilter};
        use sightline_server::compare::{CompareQuery, Side, StepCount, Tally, ValueCount};
        let storage = backend(Options::default());
        let mut store = storage.open().await;
        let t0 = base();
        let mut data = fixture(t0);
        // Every 4th transaction runs a statement (twice, 2 ms + 3 ms) under a method span (10 ms with them).
        let mut steps = Vec::new();
        for (i, t) in data.iter_mut().enumerate().filter(|(i, _)| i % 4 == 0) {
            t.instance = Some(format!("pod-{}", i % 3));
            t.version = Some("1.2".into());
            let n = u64::from_be_bytes(t.trace_id[8..].try_into().unwrap());
            let s0 = t.start_ns;
            steps.push(step(n, 2, 1, kind::METHOD, "Repo.find", s0, s0 + 10_000_000));
            for (id, ms) in [(3u64, 2u64), (4, 3)] {
                let mut q = step(n, id, 2, kind::SQL, "SELECT items", s0, s0 + ms * 1_000_000);
                q.text = Some(format!("SELECT * FROM items WHERE id = {id}"));
                steps.push(q);
            }
        }
        // Steps come with their transactions, in the same request.
        let mut all = data.clone();
        all.extend(steps);
        store.append(all.clone()).await.unwrap();
        let (sel, base_f) = (
            TxFilter { from: t0, to: t0 + MINUTE / 2, min_ms: 5.0, max_ms: None, ..Default::default() },
            TxFilter { from: t0 - 10 * MINUTE, to: t0 + 2 * MINUTE, min_ms: 0.0, max_ms: None, ..Default::default() },
        );
        let q = CompareQuery { selection: sel.clone(), only: None, baseline: base_f.clone(), exclude_selection: true, wait_events: Arc::default() };
        // The reference.
        let within = |f: &TxFilter, t: &SpanRecord| {
            t.end_ms() >= f.from && t.end_ms() < f.to && t.duration_ms() >= f.min_ms && f.max_ms.is_none_or(|m| t.duration_ms() < m)
        };
        let mut want = Tally::default();
        let mut values: BTreeMap<(CompareDim, String), (u64, u64)> = BTreeMap::new();
        let mut step_tally: BTreeMap<(u32, String), (u64, u64, f64, f64)> = BTreeMap::new();
        for t in &data {
            let in_sel = within(&sel, t);
            let in_base = within(&base_f, t) && !in_sel;
            for (yes, side) in [(in_sel, 0), (in_base, 1)] {
                if !yes {
                    continue;
                }
                let s: &mut Side = if side == 0 { &mut want.selection } else { &mut want.baseline };
                s.count += 1;
                s.errors += t.error as u64;
                s.sum_ms += t.duration_ms();
                let mut vs = vec![
                    (CompareDim::Service, t.service.clone()),
                    (CompareDim::Endpoint, t.name.clone()),
                    (CompareDim::Status, if t.error { "error" } else { "ok" }.to_string()),
                    (CompareDim::Thread, t.thread.clone().unwrap()),
                ];
                if t.error {
                    vs.push((CompareDim::ErrorType, "Boom".into()));
                }
                if let Some(i) = &t.instance {
                    vs.push((CompareDim::Instance, i.clone()));
                    vs.push((CompareDim::Version, "1.2".into()));
                    vs.push((CompareDim::Statement, "select*from items where id=?".into()));
                    for (k, name, ms) in [(kind::SQL, "select*from items where id=?", 5.0), (kind::METHOD, "Repo.find", 5.0)] {
                        let e = step_tally.entry((k, name.to_string())).or_default();
                        if side == 0 {
                            e.0 += 1;
                            e.2 += ms;
                        } else {
                            e.1 += 1;
                            e.3 += ms;
                        }
                    }
                }
                for v in vs {
                    let e = values.entry(v).or_default();
                    if side == 0 {
                        e.0 += 1
                    } else {
                        e.1 += 1
                    }
                }
            }
        }
        want.values = values.into_iter().map(|((dim, value), (s, b))| ValueCount { dim, key: None, value, selected: s, baseline: b }).collect();
        want.steps = step_tally
            .into_iter()
            .map(|((kind, name), (st, bt, sm, bm))| StepCount { kind, name, selected_tx: st, baseline_tx: bt, selected_ms: sm, baseline_ms: bm })
            .collect();
        want.canonicalize();
        let check = |mut got: Tally, what: &str| {
            assert!(got.scanned >= got.selection.count + got.baseline.count, "{what}");
            got.scanned = 0;
            for s in &mut got.steps {
                // f32 self times: equal to the µs.
                s.selected_ms = (s.selected_ms * 1000.0).round() / 1000.0;
                s.baseline_ms = (s.baseline_ms * 1000.0).round() / 1000.0;
            }
            got.selection.sum_ms = (got.selection.sum_ms * 1000.0).round() / 1000.0;
            got.baseline.sum_ms = (got.baseline.sum_ms * 1000.0).round() / 1000.0;
            let mut want = want.clone();
            want.selection.sum_ms = (want.selection.sum_ms * 1000.0).round() / 1000.0;
            want.baseline.sum_ms = (want.baseline.sum_ms * 1000.0).round() / 1000.0;
            assert_eq!(got, want, "{what}");
        };
        check(store.compare(q.clone()).await.unwrap(), "fresh");
        assert!(want.selection.count > 20 && want.baseline.count > 100);
        store = storage.reopen(store).await;
        check(store.compare(q.clone()).await.unwrap(), "after a reopen");
        store.append(all.clone()).await.unwrap();
        check(store.compare(q.clone()).await.unwrap(), "after a retry");
        // The tag filter: the list and the hitmap count exactly the transactions with the value.
        let tag = TagFilter::parse("statement=select*from items where id=?").unwrap();
        let n = data.iter().filter(|t| t.instance.is_some() && within(&base_f, t)).count() as u64;
        let f = TxFilter { tag: Some(tag.clone()), ..base_f.clone() };
        assert_eq!(all_pages(&*store, &f, Order::Newest, 50).await.1, n);
        let g = Grid { from: base_f.from, to: base_f.to, cols: 24, rows: 10, ymax_ms: 2000.0, scale: Scale::Linear };
        assert_eq!(store.hitmap(g, HitmapFilter { tag: Some(tag), ..Default::default() }).await.unwrap().total, n);
    }

    pub(crate) fn cube_query(from: i64, to: i64, group_by: &[CubeDim], filter: &[(CubeDim, &str)], sort: CubeMeasure) -> CubeQuery {
        CubeQuery {
            from,
            to,
            group_by: group_by.to_vec(),
            filter: filter.iter().map(|(d, v)| (*d, v.to_string())).collect::<BTreeMap<_, _>>(),
            sort,
            desc: true,
            limit: 1000,
            step_ms: None,
        }
    }
}
