//! Hitmap binning and drag-select over 1 M stored transactions, through the real embedded store.
//!
//! `cargo bench -p sightline-server --bench hitmap`. Besides criterion's numbers it prints the p95 of the
//! first-page latency over 200 random rectangles, which is what the target is about.
//!
//! Every call goes through the async `TraceStore` API, as a handler makes it: the store runs its scan on
//! tokio's blocking pool, so the numbers include that hop.

#[path = "support/mix.rs"]
mod mix;

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_model::{Grid, Order, Scale};
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::{HitmapFilter, TraceStore, TxFilter, TxQuery};

const N: u64 = 1_000_000;
const WINDOW_MS: i64 = 4 * 3_600_000;
const T0: i64 = 1_750_000_000_000;


fn seeded_store(rt: &Runtime, dir: &std::path::Path) -> EmbeddedStore {
    let retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
    let store = EmbeddedStore::open(dir, retention).unwrap();
    if store.transaction_count() as u64 >= N {
        return store;
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(42);
    let mut i = 0;
    while i < N {
        let batch: Vec<SpanRecord> = (i..(i + 20_000).min(N)).map(|j| mix::transaction(&mut rng, T0, WINDOW_MS, j)).collect();
        i += batch.len() as u64;
        rt.block_on(store.append(batch)).unwrap();
    }
    eprintln!("seeded {N} transactions in {:.1?}", started.elapsed());
    store
}

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 95).div_ceil(100) - 1]
}

fn benches(c: &mut Criterion) {
    // The server's runtime is multi-threaded; the store's work runs on its blocking pool either way.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let store = seeded_store(&rt, dir.path());
    eprintln!("store ready with {} transactions in {:.1?}", store.transaction_count(), started.elapsed());
    // Re-open, as at start-up: the columns are rebuilt from fjall.
    drop(store);
    let started = Instant::now();
    let store = EmbeddedStore::open(dir.path(), Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX }).unwrap();
    eprintln!("start-up rebuild of {} transactions: {:.1?}", store.transaction_count(), started.elapsed());
    binning(c, &rt, &store);
    drag_select(c, &rt, &store);
    trace(c, &rt, &store);
    random_drags(&rt, &store);
}

/// Binning a million transactions into a 240 × 100 grid.
fn binning(c: &mut Criterion, rt: &Runtime, store: &EmbeddedStore) {
    let hitmap = |grid, service: Option<&str>| rt.block_on(store.hitmap(grid, HitmapFilter { service: service.map(str::to_string), ..Default::default() })).unwrap();
    let mut g = c.benchmark_group("hitmap_1m");
    g.sample_size(30);
    for scale in [Scale::Linear, Scale::Log] {
        let grid = Grid { from: T0, to: T0 + WINDOW_MS, cols: 240, rows: 100, ymax_ms: 5000.0, scale };
        assert_eq!(hitmap(grid, None).total, N);
        g.bench_function(format!("bin_240x100_{}", scale.as_str()), |b| b.iter(|| hitmap(grid, None)));
    }
    let grid = Grid { from: T0, to: T0 + WINDOW_MS, cols: 240, rows: 100, ymax_ms: 5000.0, scale: Scale::Linear };
    g.bench_function("bin_240x100_one_service", |b| b.iter(|| hitmap(grid, Some("payment"))));
    g.finish();
}

/// The first page of a drag selection: a band, and everything.
fn drag_select(c: &mut Criterion, rt: &Runtime, store: &EmbeddedStore) {
    let page = |q: &TxQuery| rt.block_on(store.transactions(q.clone())).unwrap();
    let mut g = c.benchmark_group("drag_select_1m");
    g.sample_size(30);
    // The band at 3 s over the whole window: ~30 k transactions selected.
    let band = TxQuery {
        filter: TxFilter { from: T0, to: T0 + WINDOW_MS, min_ms: 2900.0, max_ms: Some(3100.0), ..Default::default() },
        order: Order::Slowest,
        limit: 50,
        cursor: None,
    };
    g.bench_function("band_3s_first_page_slowest", |b| b.iter(|| page(&band)));
    let newest = TxQuery { order: Order::Newest, ..band.clone() };
    g.bench_function("band_3s_first_page_newest", |b| b.iter(|| page(&newest)));
    let everything = TxQuery {
        filter: TxFilter { from: T0, to: T0 + WINDOW_MS, min_ms: 0.0, max_ms: None, ..Default::default() },
        ..band.clone()
    };
    g.bench_function("all_1m_first_page_slowest", |b| b.iter(|| page(&everything)));
    g.finish();
}

/// One trace of 10 000 spans (a root, 99 methods of 100 steps each), assembled from the store.
fn trace(c: &mut Criterion, rt: &Runtime, store: &EmbeddedStore) {
    let trace_id = [0x7au8; 16];
    let spans: Vec<SpanRecord> = (0..10_000u64)
        .map(|i| {
            let parent = match i {
                0 => None,
                1..=99 => Some(0),
                _ => Some(1 + (i - 100) / 100),
            };
            SpanRecord {
                trace_id: trace_id.to_vec(),
                span_id: (i + 1).to_be_bytes().to_vec(),
                parent_span_id: parent.map(|p: u64| (p + 1).to_be_bytes().to_vec()).unwrap_or_default(),
                service: "payment".into(),
                name: if i >= 100 { "SELECT balance".into() } else { format!("step {i}") },
                span_kind: if i == 0 { 2 } else { 1 },
                start_ns: (T0 as u64 + i) * 1_000_000,
                end_ns: (T0 as u64 + 20_000 - i) * 1_000_000,
                step_kind: if i == 0 { kind::TRANSACTION } else if i >= 100 { kind::SQL } else { kind::METHOD },
                text: (i >= 100).then(|| "SELECT balance FROM accounts WHERE id = $1".to_string()),
                is_transaction: i == 0,
                ..Default::default()
            }
        })
        .collect();
    rt.block_on(store.append(spans)).unwrap();
    let read = || rt.block_on(store.trace(trace_id, T0)).unwrap().unwrap();
    let mut g = c.benchmark_group("trace");
    g.sample_size(20);
    g.bench_function("assemble_10k_spans", |b| {
        b.iter(|| assert_eq!(read().steps.len(), 10_000))
    });
    g.bench_function("assemble_10k_spans_and_serialize_json", |b| {
        b.iter(|| serde_json::to_vec(&read()).unwrap().len())
    });
    g.finish();
}

/// p95 of the first page over random rectangles (random window, band, order), as a user drags.
fn random_drags(rt: &Runtime, store: &EmbeddedStore) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut times = Vec::new();
    let mut selected = 0u64;
    for _ in 0..200 {
        let a = T0 + rng.random_range(0..WINDOW_MS);
        let b = T0 + rng.random_range(0..WINDOW_MS);
        let lo: f64 = rng.random_range(0.0..4000.0);
        let q = TxQuery {
            filter: TxFilter {
                from: a.min(b),
                to: a.max(b) + 1,
                min_ms: lo,
                max_ms: if rng.random_bool(0.2) { None } else { Some(lo + rng.random_range(1.0..2000.0)) },
                ..Default::default()
            },
            order: if rng.random_bool(0.5) { Order::Slowest } else { Order::Newest },
            limit: 50,
            cursor: None,
        };
        let t = Instant::now();
        let page = rt.block_on(store.transactions(q)).unwrap();
        times.push(t.elapsed());
        selected += page.total;
    }
    eprintln!(
        "drag-select first page over 200 random rectangles (1 M stored, {} selected on average): p50 {:.2?}, p95 {:.2?}, max {:.2?}",
        selected / 200,
        {
            let mut s = times.clone();
            s.sort();
            s[s.len() / 2]
        },
        p95(times.clone()),
        times.iter().max().unwrap()
    );
}

criterion_group!(hitmap, benches);
criterion_main!(hitmap);
