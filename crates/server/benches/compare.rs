//! "What changed" over 1.05 M stored transactions: a selection of 50 000 (one twenty-first of the window)
//! against the other 1 000 000 of the window, every transaction counted per dimension value and step,
//! through the real embedded store's async `TraceStore::compare` (its scan runs on tokio's blocking pool)
//! plus the ranking the API does.
//!
//! `cargo bench -p sightline-server --bench compare`. Each transaction carries what the demo's do: an
//! instance (of 8), a thread (of 200), a version (of 3), two attributes, and three steps (two SQL
//! statements of 40, one HTTP peer of 5), sent as real child spans so ingest works out the steps.

#[path = "support/compare_data.rs"]
mod compare_data;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sightline_server::compare::{rank, CompareQuery};
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::SpanRecord;
use sightline_server::store::{TraceStore, TxFilter};
use tokio::runtime::Runtime;

const N: u64 = 1_050_000;
const WINDOW_MS: i64 = 21 * 600_000;
const T0: i64 = 1_750_000_000_000;
const BATCH: u64 = 2_000;

fn spans(rng: &mut StdRng, i: u64) -> [SpanRecord; 4] {
    compare_data::transaction(rng, T0, WINDOW_MS, N, i)
}

fn seeded_store(rt: &Runtime, dir: &std::path::Path) -> EmbeddedStore {
    let retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
    let store = EmbeddedStore::open(dir, retention).unwrap();
    let mut rng = StdRng::seed_from_u64(14);
    let started = std::time::Instant::now();
    for b in 0..N / BATCH {
        let batch: Vec<SpanRecord> = (b * BATCH..(b + 1) * BATCH).flat_map(|i| spans(&mut rng, i)).collect();
        rt.block_on(store.append(batch)).unwrap();
    }
    eprintln!("seeded {} transactions ({} spans) in {:.1?}", store.transaction_count(), N * 4, started.elapsed());
    store
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&rt, dir.path());
    // The selection: the tenth twenty-first of the window (50 000 transactions); the baseline: the rest.
    let window = TxFilter { from: T0, to: T0 + WINDOW_MS, min_ms: 0.0, max_ms: None, ..Default::default() };
    let selection = TxFilter { from: T0 + 10 * WINDOW_MS / 21, to: T0 + 11 * WINDOW_MS / 21, ..window.clone() };
    let query = CompareQuery { selection, only: None, baseline: window, exclude_selection: true, wait_events: Arc::default() };
    let t = rt.block_on(store.compare(query.clone())).unwrap();
    eprintln!(
        "selection {} vs baseline {} transactions, {} scanned, {} values, {} steps",
        t.selection.count,
        t.baseline.count,
        t.scanned,
        t.values.len(),
        t.steps.len()
    );
    assert_eq!((t.selection.count, t.baseline.count), (50_000, 1_000_000));
    c.bench_function("compare 50k selection vs 1M baseline (store scan + ranking)", |b| {
        b.iter(|| {
            let t = rt.block_on(store.compare(query.clone())).unwrap();
            black_box((rank::values(&t, 30), rank::steps(&t, 30)))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
