//! Restart: the store serves and ingests while its stored history is read back in the background, newest
//! first; answers reaching older data say so until it is complete, then count exactly; appends, retries
//! and retention during the load count every transaction once (docs/STORE.md, "Restart").
//!
//! The loader is held and let go row by row (`EmbeddedStore::start_held`, `load_more`), so "before the
//! load ends" is a state the test sets, not a race it hopes to win.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{request, server_span, TestApp};
use sightline_model::{Grid, Health, Hitmap, Order, Scale, TransactionPage};
use sightline_server::store::record::SpanTimes;
use sightline_server::blocking;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::{HitmapFilter, TraceStore, TxFilter, TxQuery};

const MINUTE: i64 = 60_000;
const FAR: Retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };

/// Transaction `n` of service `svc`, ending at `end_ms` after 5 ms (ids unique per `n`).
fn tx(n: u64, end_ms: i64) -> SpanRecord {
    let end_ns = end_ms as u64 * 1_000_000;
    let mut trace_id = vec![7u8; 16];
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    SpanRecord {
        trace_id,
        span_id: (n | 1 << 60).to_be_bytes().to_vec(),
        service: "svc".into(),
        name: "GET /x".into(),
        span_kind: 2,
        start_ns: end_ns - 5_000_000,
        end_ns,
        step_kind: kind::TRANSACTION,
        is_transaction: true,
        ..Default::default()
    }
}

/// `n` transactions, evenly over the `minutes` minutes before `now`, newest last.
fn history(n: u64, minutes: i64, now: i64) -> Vec<SpanRecord> {
    (0..n).map(|i| tx(i, now - minutes * MINUTE + (i as i64 * minutes * MINUTE) / n as i64)).collect()
}

/// Stores `data` in a fresh store in `dir` and closes it.
async fn seed(dir: &std::path::Path, data: Vec<SpanRecord>) {
    let path = dir.to_path_buf();
    let store = blocking::run("opening the store", move || EmbeddedStore::open(&path, FAR)).await.unwrap();
    for chunk in data.chunks(2_000) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    blocking::run("closing the store", move || {
        drop(store);
        Ok::<_, anyhow::Error>(())
    })
    .await
    .unwrap();
}

async fn start_held(dir: &std::path::Path, retention: Retention) -> Arc<EmbeddedStore> {
    let path = dir.to_path_buf();
    Arc::new(blocking::run("opening the store", move || EmbeddedStore::start_held(&path, retention)).await.unwrap())
}

async fn wait_loaded(store: &Arc<EmbeddedStore>) {
    let s = store.clone();
    blocking::run("waiting for the history", move || s.wait_loaded()).await.unwrap();
}

fn grid(from: i64, to: i64) -> Grid {
    Grid { from, to, cols: 60, rows: 20, ymax_ms: 100.0, scale: Scale::Linear }
}

async fn total(store: &EmbeddedStore, from: i64, to: i64) -> TransactionPage {
    let filter = TxFilter { from, to, min_ms: 0.0, max_ms: None, ..Default::default() };
    store.transactions(TxQuery { filter, order: Order::Newest, limit: 5, cursor: None }).await.unwrap()
}

/// Newest first: after the first batch the recent minutes are exact and say nothing; windows reaching
/// further say they are incomplete. Appends (new, and retries of stored transactions both read and not yet
/// read) and a retention pass during the load; at the end every transaction is counted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_loads_newest_first_and_counts_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = sightline_server::store::now_ms() / MINUTE * MINUTE;
    const N: u64 = 20_000;
    let data = history(N, 100, now);
    seed(dir.path(), data.clone()).await;

    // Retention of 95 minutes: the oldest 5 minutes expire at the pass below, while the load is held.
    let store = start_held(dir.path(), Retention { max_age_ms: 95 * MINUTE, max_bytes: u64::MAX }).await;
    let (from, to) = (now - 100 * MINUTE, now + MINUTE);
    let h = store.hitmap(grid(from, to), HitmapFilter::default()).await.unwrap();
    let loading = h.history.expect("nothing is read yet: the hitmap says so");
    assert_eq!((h.total, loading.percent), (0, 0));
    assert_eq!(store.history(), Some(loading));

    // One batch (fewer rows than the loader reads at once): the newest rows, then it waits again.
    store.load_more(3_000);
    let progress = common::wait_for(30, "the first batch", String::new, || async { store.history().filter(|h| h.percent > 0) }).await;
    let read_from = progress.loaded_from_ms;
    assert!(read_from > from && read_from < to, "{progress:?}");
    let recent = store.hitmap(grid(read_from, to), HitmapFilter::default()).await.unwrap();
    let expected_recent = data.iter().filter(|s| s.end_ms() >= read_from).count() as u64;
    assert_eq!((recent.history, recent.total), (None, expected_recent), "the recent window is complete");
    let whole = store.hitmap(grid(from, to), HitmapFilter::default()).await.unwrap();
    assert_eq!(whole.history.map(|h| h.loaded_from_ms), Some(read_from), "the whole window is not");
    assert_eq!(whole.total, 3_000, "what was read, including the batch's last millisecond");
    let page = total(&store, from, to).await;
    assert!(page.history.is_some(), "the list says so too");
    let services = store.services(from, to).await.unwrap();
    assert!(services.history.is_some());
    assert!(store.services(read_from, to).await.unwrap().history.is_none());

    // During the load: retries of a read and of an unread transaction, and new ones, old and recent.
    let retries = [data[(N - 1) as usize].clone(), data[100].clone(), data[9_000].clone()];
    let new: [SpanRecord; 3] = [tx(N + 1, now - 50 * MINUTE), tx(N + 2, now - 2 * MINUTE), tx(N + 3, now - 99 * MINUTE)];
    let live = store.append(retries.iter().chain(&new).cloned().collect()).await.unwrap();
    assert_eq!(live.points.len(), 3, "only the new transactions are new: {:?}", live.points);

    // Retention while loading: the keys go, and the loader must not bring them back from its snapshot.
    let report = store.enforce_retention(now).await.unwrap();
    let cutoff = now - 95 * MINUTE;
    assert_eq!(report.cutoff_ms, Some(cutoff));
    let expired = data.iter().chain(&new).filter(|s| s.end_ms() < cutoff).count() as u64;
    assert_eq!(report.transactions_removed, expired, "counted from the keys, read or not");

    store.load_more(u64::MAX);
    wait_loaded(&store).await;
    let kept = data.iter().chain(&new).filter(|s| s.end_ms() >= cutoff).count() as u64;
    let h = store.hitmap(grid(from, to), HitmapFilter::default()).await.unwrap();
    assert_eq!((h.history, h.total), (None, kept));
    let page = total(&store, from, to).await;
    assert_eq!((page.history, page.total), (None, kept));
    assert_eq!(store.transaction_count() as u64, kept);
    assert_eq!(store.history(), None);
    assert_eq!(store.stats().await.unwrap().history, None);

    // And a plain reopen agrees.
    let path = dir.path().to_path_buf();
    let again = blocking::run("reopening", move || {
        drop(store);
        EmbeddedStore::open(&path, FAR)
    })
    .await
    .unwrap();
    assert_eq!(again.hitmap(grid(from, to), HitmapFilter::default()).await.unwrap().total, kept);
}

/// The server answers health, ingest, the hitmap and `/metrics` while the history is still unread, says
/// how far it got, and counts exactly once it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_while_loading_and_says_so() {
    let seeded = tempfile::tempdir().unwrap();
    let now = sightline_server::store::now_ms();
    const N: u64 = 5_000;
    seed(seeded.path(), history(N, 30, now - 1_000)).await;
    let mut app = TestApp::new().await;
    let store = start_held(seeded.path(), FAR).await;
    app.state.store = store.clone() as Arc<dyn TraceStore>;
    app.router = sightline_server::app::router(app.state.clone(), None);

    let health: Health = app.get_ok("/api/v1/health").await;
    assert_eq!((health.status.as_str(), health.history.map(|h| h.percent)), ("ok", Some(0)));
    let q = format!("from={}&to={}&cols=30&rows=10&ymax=100", now - 60 * MINUTE, now + MINUTE);
    let (status, hitmap) = app.get(&format!("/api/v1/hitmap?{q}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hitmap["history"]["percent"], 0, "{}", hitmap["history"]);
    assert_eq!(app.post_proto(&request("fresh", vec![server_span(1, 1, "GET /new", now, 3.0)])).await.0, StatusCode::OK);
    let metrics = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.2;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("sightline_store_history_loaded_percent 0"), "{metrics}");

    store.load_more(u64::MAX);
    common::wait_for(30, "the history to load", String::new, || async {
        let h: Health = app.get_ok("/api/v1/health").await;
        h.history.is_none().then_some(())
    })
    .await;
    let hitmap: Hitmap = app.get_ok(&format!("/api/v1/hitmap?{q}")).await;
    assert_eq!((hitmap.history, hitmap.total), (None, N + 1));
    let metrics = app.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.2;
    assert!(String::from_utf8(metrics).unwrap().contains("sightline_store_history_loaded_percent 100"));
    let health = app.send(Request::get("/api/v1/health").body(Body::empty()).unwrap()).await.2;
    assert!(!String::from_utf8(health).unwrap().contains("history"), "absent once complete");
}
