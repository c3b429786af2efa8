//! "What changed" over 1.05 M stored transactions: a selection of 50 000 (one twenty-first of the window)
//! against the other 1 000 000 of the window, every transaction counted per dimension value and step,
//! through the real embedded store's async `TraceStore::compare` (its scan runs on tokio's blocking pool)
//! plus the ranking the API does.
//!
//! `cargo bench -p sightline-server --bench compare`. Each transaction carries what the demo's do: an
//! instance (of 8), a thread (of 200), a version (of 3), two attributes, and three steps (two SQL
//! statements of 40, one HTTP peer of 5), sent as real child spans so ingest works out the steps.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_server::compare::{rank, CompareQuery};
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, AttrRecord, SpanRecord};
use sightline_server::store::{TraceStore, TxFilter};
use tokio::runtime::Runtime;

const N: u64 = 1_050_000;
const WINDOW_MS: i64 = 21 * 600_000;
const T0: i64 = 1_750_000_000_000;
const BATCH: u64 = 2_000;

fn spans(rng: &mut StdRng, i: u64) -> [SpanRecord; 4] {
    let end_ms = T0 + (i as i64 * WINDOW_MS) / N as i64;
    let dur_ms = 5.0 + (rng.random::<f64>() * 6.0).exp();
    let mut trace_id = vec![0u8; 16];
    trace_id[..8].copy_from_slice(&rng.random::<u64>().to_be_bytes());
    trace_id[8..].copy_from_slice(&(i + 1).to_be_bytes());
    let start_ns = ((end_ms as f64 - dur_ms) * 1e6) as u64;
    let end_ns = end_ms as u64 * 1_000_000;
    let tx = SpanRecord {
        trace_id: trace_id.clone(),
        span_id: ((i + 1) << 8).to_be_bytes().to_vec(),
        service: ["gateway", "balance", "payment", "recharge", "ledger"][(i % 5) as usize].into(),
        name: format!("GET /api/e{}", rng.random_range(0..40)),
        span_kind: 2,
        start_ns,
        end_ns,
        error: rng.random_range(0..50) == 0,
        step_kind: kind::TRANSACTION,
        thread: Some(format!("exec-{}", i % 200)),
        instance: Some(format!("pod-{}", i % 8)),
        http_method: Some("GET".into()),
        http_status: Some(200),
        version: Some(format!("3.{}.0", i % 3)),
        attributes: vec![
            AttrRecord { key: "tenant".into(), value: format!("t{}", rng.random_range(0..50)) },
            AttrRecord { key: "plan".into(), value: ["free", "pro", "team"][rng.random_range(0..3)].into() },
        ],
        is_transaction: true,
        ..Default::default()
    };
    let child = |n: u64, k: u32, text: String, target: &str| SpanRecord {
        trace_id: trace_id.clone(),
        span_id: (((i + 1) << 8) | n).to_be_bytes().to_vec(),
        parent_span_id: ((i + 1) << 8).to_be_bytes().to_vec(),
        service: tx.service.clone(),
        name: "step".into(),
        span_kind: 3,
        start_ns: start_ns + n * 1000,
        end_ns: start_ns + n * 1000 + 500_000,
        step_kind: k,
        text: Some(text),
        target: Some(target.into()),
        ..Default::default()
    };
    let sql = |rng: &mut StdRng| format!("SELECT * FROM t{} WHERE id = 1", rng.random_range(0..40));
    [
        child(1, kind::SQL, sql(rng), "postgresql/bank"),
        child(2, kind::SQL, sql(rng), "postgresql/bank"),
        child(3, kind::HTTP, "GET https://x/".into(), ["a:443", "b:443", "c:443", "d:443", "e:443"][rng.random_range(0..5)]),
        tx,
    ]
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
