//! The memory budget: with a budget of nothing, every minute's hitmap columns but the newest one's are
//! evicted to disk, and the hitmap, the transaction list (every page, both orders, cell selections), the
//! services, the metric series and traces over that old data answer exactly as a store without a budget
//! given the same data — after appends, after late rows into evicted minutes, and after a reopen (which
//! rebuilds and evicts again). The whole store conformance suite also runs on such a store
//! (`store_conformance.rs`, `embedded_evicted`).

use std::sync::Arc;

use sightline_model::{Grid, Order, Scale};
use sightline_server::blocking;
use sightline_server::store::embedded::{EmbeddedStore, MemoryBudget, Retention};
use sightline_server::store::record::{kind, ErrorRecord, SpanRecord};
use sightline_server::store::{CellRange, HitmapFilter, SeriesQuery, TraceStore, TxFilter, TxQuery};

const MINUTE: i64 = 60_000;
const FAR: Retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
const SERVICES: [&str; 3] = ["shop", "auth", "search"];

/// Transaction `n`: ending at `end_ms`, of a service, duration and status that vary with `n`, and a child
/// span, so its trace has two spans.
fn tx(n: u64, end_ms: i64) -> Vec<SpanRecord> {
    let end_ns = end_ms as u64 * 1_000_000;
    let dur_ns = (1 + n % 97) * 3_000_000;
    let mut trace_id = vec![9u8; 16];
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    let error = n.is_multiple_of(7);
    let root = SpanRecord {
        trace_id: trace_id.clone(),
        span_id: (n | 1 << 60).to_be_bytes().to_vec(),
        service: SERVICES[(n % 3) as usize].into(),
        name: format!("GET /{}", n % 5),
        span_kind: 2,
        start_ns: end_ns - dur_ns,
        end_ns,
        error,
        failure: error.then(|| ErrorRecord { kind: Some(["Timeout", "Boom"][(n % 2) as usize].into()), ..Default::default() }),
        step_kind: kind::TRANSACTION,
        is_transaction: true,
        http_status: Some(if error { 500 } else { 200 }),
        ..Default::default()
    };
    let child = SpanRecord {
        span_id: (n | 2 << 60).to_be_bytes().to_vec(),
        parent_span_id: root.span_id.clone(),
        name: "SELECT 1".into(),
        span_kind: 3,
        start_ns: end_ns - dur_ns / 2,
        end_ns: end_ns - 1,
        error: false,
        failure: None,
        step_kind: kind::SQL,
        is_transaction: false,
        text: Some("SELECT 1".into()),
        http_status: None,
        ..root.clone()
    };
    vec![root, child]
}

async fn open(dir: &std::path::Path, budget: Option<MemoryBudget>) -> Arc<EmbeddedStore> {
    let path = dir.to_path_buf();
    let store = blocking::run("opening the store", move || match budget {
        Some(b) => EmbeddedStore::open_budgeted(&path, FAR, b),
        None => EmbeddedStore::open(&path, FAR),
    })
    .await
    .unwrap();
    Arc::new(store)
}

async fn close(store: Arc<EmbeddedStore>) {
    blocking::run("closing the store", move || {
        drop(store);
        Ok::<_, anyhow::Error>(())
    })
    .await
    .unwrap();
}

async fn append_both(a: &EmbeddedStore, b: &EmbeddedStore, spans: Vec<SpanRecord>) {
    for chunk in spans.chunks(1_000) {
        a.append(chunk.to_vec()).await.unwrap();
        b.append(chunk.to_vec()).await.unwrap();
    }
}

/// Every page of the list of `filter` in `order`.
async fn all_pages(s: &EmbeddedStore, filter: &TxFilter, order: Order) -> (u64, Vec<String>) {
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let q = TxQuery { filter: filter.clone(), order, limit: 97, cursor: cursor.take() };
        let page = s.transactions(q).await.unwrap();
        ids.extend(page.items.iter().map(|t| format!("{}/{}/{}", t.trace_id, t.span_id, t.end_ms)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (page.total, ids),
        }
    }
}

/// The same questions to both stores over `[from, to)`, and the same answers.
async fn same_answers(a: &EmbeddedStore, b: &EmbeddedStore, from: i64, to: i64, traces: &[u64]) {
    let grid = |from, to| Grid { from, to, cols: 120, rows: 40, ymax_ms: 300.0, scale: Scale::Log };
    for (f, t) in [(from, to), (from, from + 10 * MINUTE), (from + 7 * MINUTE + 1234, to - 3 * MINUTE)] {
        for filter in [HitmapFilter::default(), HitmapFilter::service("auth")] {
            let (x, y) = (a.hitmap(grid(f, t), filter.clone()).await.unwrap(), b.hitmap(grid(f, t), filter).await.unwrap());
            assert_eq!((x.total, x.total_err, &x.ok, &x.err), (y.total, y.total_err, &y.ok, &y.err), "hitmap [{f}, {t})");
        }
        let list = TxFilter { from: f, to: t, min_ms: 0.0, max_ms: None, ..Default::default() };
        let cells = TxFilter { cells: Some(CellRange { grid: grid(f, t), cols: (10, 80), rows: (5, 30) }), ..list.clone() };
        let errors = TxFilter { status: Some(sightline_model::Status::Error), service: Some("shop".into()), ..list.clone() };
        for filter in [list, cells, errors] {
            for order in [Order::Newest, Order::Slowest] {
                let (x, y) = (all_pages(a, &filter, order).await, all_pages(b, &filter, order).await);
                assert!(x.0 > 0, "the window has transactions");
                assert_eq!(x, y, "list {filter:?} {order:?}");
            }
        }
        assert_eq!(a.services(f, t).await.unwrap().services, b.services(f, t).await.unwrap().services);
        let series = SeriesQuery { from: f - f.rem_euclid(MINUTE), to: t - t.rem_euclid(MINUTE) + MINUTE, step_ms: MINUTE, quantiles: true, by_service: true, ..Default::default() };
        assert_eq!(a.tx_series(series.clone()).await.unwrap(), b.tx_series(series).await.unwrap());
    }
    for n in traces {
        let mut id = [9u8; 16];
        id[8..].copy_from_slice(&n.to_be_bytes());
        let (x, y) = (a.trace(id, to).await.unwrap(), b.trace(id, to).await.unwrap());
        assert!(x.is_some(), "trace {n} is stored");
        assert_eq!(x, y, "trace {n}");
    }
}

/// One eviction pass now (the server runs it twice a second), off the async workers as there.
async fn evict(store: &Arc<EmbeddedStore>) {
    let store = store.clone();
    blocking::run("evicting", move || {
        store.enforce_memory_budget();
        Ok::<_, anyhow::Error>(())
    })
    .await
    .unwrap();
}

async fn evicted(s: &EmbeddedStore) -> sightline_server::store::MemoryStats {
    s.stats().await.unwrap().memory.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_budget_evicts_old_minutes_and_changes_no_answer() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let now = sightline_server::store::now_ms() / MINUTE * MINUTE;
    let from = now - 30 * MINUTE;
    let a = open(da.path(), None).await;
    let b = open(db.path(), Some(MemoryBudget { total: 0 })).await;
    const N: u64 = 6_000;
    let spans: Vec<SpanRecord> = (0..N).flat_map(|i| tx(i, from + (i as i64 * 30 * MINUTE) / N as i64)).collect();
    append_both(&a, &b, spans).await;
    evict(&b).await;
    let m = evicted(&b).await;
    assert!(m.evicted_minutes >= 28, "all but the newest minute are on disk: {m:?}");
    assert!(m.evicted_transactions >= N * 27 / 30, "{m:?}");
    assert_eq!(evicted(&a).await.evicted_minutes, 0, "no budget, no eviction");
    let old = [1, 17, 600, 2_999];
    same_answers(&a, &b, from, now, &old).await;
    assert!(evicted(&b).await.evicted_reads > m.evicted_reads, "the queries read evicted minutes back");

    // Late rows into evicted minutes: in memory beside the evicted part, counted once, evicted again.
    let late: Vec<SpanRecord> = (N..N + 300).flat_map(|i| tx(i, from + 5 * MINUTE + (i - N) as i64 * 100)).collect();
    append_both(&a, &b, late).await;
    same_answers(&a, &b, from, now, &[N + 3]).await;
    evict(&b).await;
    same_answers(&a, &b, from, now, &[N + 3]).await;

    // A reopen: the evicted files of the last run are deleted, the loader rebuilds and evicts again.
    close(b).await;
    let b = open(db.path(), Some(MemoryBudget { total: 0 })).await;
    let m = evicted(&b).await;
    assert!(m.evicted_minutes >= 27 && m.evicted_transactions >= (N + 300) * 27 / 30, "{m:?}");
    same_answers(&a, &b, from, now, &old).await;
    close(a).await;
    close(b).await;
}
