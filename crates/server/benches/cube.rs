//! The cube (issue 13): a query over 7 days of 1-minute rollups, and what the rollup adds to ingest.
//!
//! `cargo bench -p sightline-server --bench cube -- --warm-up-time 1 --measurement-time 4`
//!
//! - `cube_query/p95_by_endpoint_7d`: 200 endpoints × 10 instances, one transaction per endpoint, instance
//!   and minute for 7 days (20 M facts; every minute bucket holds 2 000 cells), grouped by endpoint, sorted
//!   by p95, over a range not aligned to days (so it reads day, hour, 10-minute and minute buckets).
//!   Target ≤ 100 ms. Seeding the rollup takes a while and is printed.
//! - `cube_ingest/{with,without}_cube`: the same OTLP payloads (decode, convert, durable append from 8
//!   tasks) into a store keeping the cube and one that does not, in the same run. Target: ≤ +15 %.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_model::{CubeDim, CubeMeasure};
use sightline_server::cube::{CubeQuery, FactKind, OwnedFact};
use sightline_server::store::cube::CubeOptions;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::TraceStore;
use tokio::runtime::Runtime;

#[path = "support/payload.rs"]
mod payload;
use payload::{payload, SPANS_PER_REQUEST};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// A UTC midnight.
const T0: i64 = 1_749_945_600_000;
const DAYS: i64 = 7;
const ENDPOINTS: usize = 200;
const INSTANCES: usize = 10;
const RETENTION: Retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };

/// One hour of facts: one per endpoint, instance and minute; durations log-normal-ish around 30 ms with
/// a slow tail, 1 % errors.
fn hour_of_facts(rng: &mut StdRng, hour: i64) -> Vec<OwnedFact> {
    let mut out = Vec::with_capacity(60 * ENDPOINTS * INSTANCES);
    for m in 0..60 {
        for e in 0..ENDPOINTS {
            for i in 0..INSTANCES {
                let mut dims: [String; CubeDim::ALL.len()] = Default::default();
                dims[CubeDim::Service as usize] = format!("svc-{}", e % 8);
                dims[CubeDim::Endpoint as usize] = format!("GET /api/e{e}");
                dims[CubeDim::Instance as usize] = format!("i-{i}");
                let error = rng.random_range(0..100) == 0;
                dims[CubeDim::Status as usize] = if error { "error" } else { "ok" }.into();
                let duration_ms = (rng.random::<f64>() * 4.0 + 1.5).exp() * if rng.random_range(0..50) == 0 { 20.0 } else { 1.0 };
                out.push(OwnedFact {
                    kind: FactKind::Transaction,
                    end_ms: hour + m * MINUTE + rng.random_range(0..MINUTE),
                    duration_ms: (duration_ms * 1e6).round() / 1e6,
                    error,
                    dims: dims.map(Into::into),
                });
            }
        }
    }
    out
}

/// The seeded store; with `SIGHTLINE_BENCH_CUBE_DIR` set, kept there and reused by the next run (seeding
/// takes a minute or two).
fn seeded(rt: &Runtime, dir: &std::path::Path) -> EmbeddedStore {
    // The clock stands two days after the data: every bucket of it is closed, as a week-old range is.
    let now = T0 + (DAYS + 2) * DAY;
    let cube = CubeOptions { clock: Arc::new(move || now), ..Default::default() };
    let store = EmbeddedStore::open_with(dir, RETENTION, cube, None).unwrap();
    let marker = dir.join("seeded");
    if marker.exists() {
        return store;
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(13);
    for h in 0..DAYS * 24 {
        rt.block_on(store.append_cube_facts(hour_of_facts(&mut rng, T0 + h * HOUR))).unwrap();
    }
    rt.block_on(store.flush()).unwrap();
    std::fs::write(&marker, b"").unwrap();
    eprintln!(
        "seeded {} facts in {:.1} s; store {:.0} MiB",
        DAYS * 24 * 60 * (ENDPOINTS * INSTANCES) as i64,
        started.elapsed().as_secs_f64(),
        rt.block_on(store.stats()).unwrap().disk_bytes as f64 / 1048576.0
    );
    store
}

fn query_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("SIGHTLINE_BENCH_CUBE_DIR").map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    // Seeded on first use, so a run filtered to the ingest benches does not pay for it.
    let store = std::cell::OnceCell::new();
    let store = || store.get_or_init(|| seeded(&rt, &dir));
    // 6 days 21 h 52 min, starting 7 min 13 s after a midnight: days, hours, 10 minutes and minutes.
    let from = T0 + 7 * MINUTE + 13_000;
    let q = CubeQuery {
        from,
        to: from + DAYS * DAY - 2 * HOUR - 8 * MINUTE,
        group_by: vec![CubeDim::Endpoint],
        filter: Default::default(),
        sort: CubeMeasure::P95,
        desc: true,
        limit: 1000,
        step_ms: None,
    };
    let mut g = c.benchmark_group("cube_query");
    g.sample_size(10);
    g.bench_function("p95_by_endpoint_7d", |b| {
        let a = rt.block_on(store().cube(q.clone())).unwrap();
        assert_eq!((a.rows.len(), a.groups), (ENDPOINTS, ENDPOINTS));
        eprintln!("answer: {} rows, total {} transactions, top p95 {:?} ms", a.rows.len(), a.total.count, a.rows[0].measures.p95);
        b.iter(|| rt.block_on(store().cube(q.clone())).unwrap())
    });
    // With a series per endpoint (hourly steps), as the cube page's chart asks.
    let with_series = CubeQuery { step_ms: Some(HOUR), limit: 20, ..q.clone() };
    g.bench_function("p95_by_endpoint_7d_top20_hourly_series", |b| b.iter(|| rt.block_on(store().cube(with_series.clone())).unwrap()));
    g.finish();
}

const REQUESTS: usize = 64;
const CONCURRENCY: usize = 8;

fn ingest_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (with_dir, without_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with = Arc::new(EmbeddedStore::open_with(with_dir.path(), RETENTION, CubeOptions::default(), None).unwrap());
    let without = Arc::new(
        EmbeddedStore::open_with(without_dir.path(), RETENTION, CubeOptions { enabled: false, ..Default::default() }, None).unwrap(),
    );
    let mut seed = 0u64;
    let mut g = c.benchmark_group("cube_ingest");
    g.throughput(Throughput::Elements((REQUESTS * SPANS_PER_REQUEST) as u64));
    g.sample_size(10);
    // `SIGHTLINE_BENCH_CUBE_WITHOUT_FIRST=1` swaps the order, to see what the order does on a busy machine.
    let mut pair = [("with_cube", with.clone()), ("without_cube", without.clone())];
    if std::env::var_os("SIGHTLINE_BENCH_CUBE_WITHOUT_FIRST").is_some() {
        pair.reverse();
    }
    for (name, store) in pair {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    seed += 1;
                    let payloads: Arc<Vec<bytes::Bytes>> =
                        Arc::new((0..REQUESTS).map(|i| bytes::Bytes::from(payload(seed * 1000 + i as u64))).collect());
                    total += append_all(&rt, &store, payloads);
                }
                total
            })
        });
    }
    g.finish();
}

/// Decode, convert and durably append `payloads` from [`CONCURRENCY`] tasks; the time it took.
fn append_all(rt: &Runtime, store: &Arc<EmbeddedStore>, payloads: Arc<Vec<bytes::Bytes>>) -> Duration {
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|w| {
                let (store, payloads) = (store.clone(), payloads.clone());
                tokio::spawn(async move {
                    for p in payloads.iter().skip(w).step_by(CONCURRENCY) {
                        let request = ExportTraceServiceRequest::decode(p.clone()).unwrap();
                        let spans = sightline_server::ingest::convert(&request).spans;
                        assert_eq!(spans.len(), SPANS_PER_REQUEST);
                        store.append_spans(&spans).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    started.elapsed()
}

criterion_group!(cube, query_bench, ingest_bench);
criterion_main!(cube);
