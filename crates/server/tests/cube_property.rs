//! Property test of the cube: for random transaction sets over a few hours (crossing 10-minute, hour and
//! day boundaries), ingested in time order with a moving clock (so minutes close and roll up into the
//! coarse tiers as they would live) plus stragglers that arrive after their minute closed (late data), every
//! cube figure equals the brute-force one computed from the raw facts: count, errors, sum, first/last seen
//! exactly, p50/p95/p99 within the sketch's relative error of the exact nearest-rank value; for random
//! group-bys, filters, sorts, limits and ranges, with and without series; before the end (open minutes in
//! memory beside closed blobs) and after everything closed (ranges answered mostly from coarse tiers).

#[path = "cube_ref/mod.rs"]
mod cube_ref;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use sightline_model::{CubeDim, CubeMeasure};
use sightline_server::cube::{CubeQuery, Fact};
use sightline_server::store::cube::CubeOptions;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, ErrorRecord, SpanRecord};
use sightline_server::store::TraceStore;

const MINUTE: i64 = 60_000;
/// 2026-03-01 22:40 UTC: three hours from here cross midnight.
const T0: i64 = 1_772_404_800_000 - 80 * MINUTE;
const SPAN: i64 = 3 * 60 * MINUTE;

#[derive(Debug, Clone)]
struct Tx {
    service: usize,
    endpoint: usize,
    end: i64,
    dur_ns: u64,
    error: bool,
    /// Arrives this many chunks late (after its minute closed).
    late: usize,
}

const SERVICES: [&str; 3] = ["checkout", "search", "auth"];
const ENDPOINTS: [&str; 5] = ["GET /a", "GET /b", "POST /pay", "GET /c", "PUT /d"];
const ERRORS: [&str; 2] = ["Timeout", "NullPointer"];

fn tx_strategy() -> impl Strategy<Value = Tx> {
    (
        0..SERVICES.len(),
        0..ENDPOINTS.len(),
        0..SPAN,
        prop_oneof![Just(0u64), 1u64..1_000, 1_000u64..5_000_000_000],
        prop::bool::weighted(0.2),
        prop_oneof![8 => Just(0usize), 2 => 1usize..6],
    )
        .prop_map(|(service, endpoint, off, dur_ns, error, late)| Tx { service, endpoint, end: T0 + off, dur_ns, error, late })
}

fn record(i: usize, t: &Tx) -> SpanRecord {
    let end_ns = t.end as u64 * 1_000_000 + (i as u64 % 1000);
    let mut trace_id = vec![7u8; 16];
    trace_id[8..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    SpanRecord {
        trace_id,
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        service: SERVICES[t.service].into(),
        name: ENDPOINTS[t.endpoint].into(),
        span_kind: 2,
        start_ns: end_ns - t.dur_ns.min(end_ns),
        end_ns,
        error: t.error,
        step_kind: kind::TRANSACTION,
        failure: t.error.then(|| ErrorRecord {
            kind: Some(ERRORS[i % 2].into()),
            message: Some(format!("order {i} failed")),
            stacktrace: None,
        }),
        is_transaction: true,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
struct Q {
    from: i64,
    len: i64,
    group_by: Vec<CubeDim>,
    filter: Option<(CubeDim, usize)>,
    sort: CubeMeasure,
    desc: bool,
    limit: usize,
    /// Series step in 10-minute units (0: none).
    step: i64,
}

const DIMS: [CubeDim; 5] = [CubeDim::Service, CubeDim::Endpoint, CubeDim::Status, CubeDim::ErrorType, CubeDim::Instance];

fn q_strategy() -> impl Strategy<Value = Q> {
    (
        -30 * MINUTE..SPAN,
        1..SPAN + 30 * MINUTE,
        prop::sample::subsequence(DIMS.to_vec(), 0..=3),
        prop::option::of((prop::sample::select(DIMS.to_vec()), 0usize..6)),
        prop::sample::select(CubeMeasure::ALL.to_vec()),
        any::<bool>(),
        prop_oneof![Just(1000usize), 1usize..4],
        prop_oneof![Just(0i64), 1i64..7],
    )
        .prop_map(|(from, len, group_by, filter, sort, desc, limit, step)| Q {
            from: T0 + from,
            len,
            group_by,
            filter,
            sort,
            desc,
            limit,
            step,
        })
}

/// A filter value: one that occurs for the dimension (or "" / an unknown one).
fn filter_value(d: CubeDim, i: usize) -> String {
    let values: Vec<&str> = match d {
        CubeDim::Service => SERVICES.to_vec(),
        CubeDim::Endpoint => ENDPOINTS.to_vec(),
        CubeDim::Status => vec!["ok", "error"],
        CubeDim::ErrorType => vec!["", "Timeout", "NullPointer"],
        _ => vec![""],
    };
    values.get(i).map(|s| s.to_string()).unwrap_or_else(|| "never-seen".into())
}

fn query_of(q: &Q) -> CubeQuery {
    CubeQuery {
        from: q.from,
        to: q.from + q.len,
        group_by: q.group_by.clone(),
        filter: q.filter.iter().map(|(d, i)| (*d, filter_value(*d, *i))).collect::<BTreeMap<_, _>>(),
        sort: q.sort,
        desc: q.desc,
        limit: q.limit,
        step_ms: (q.step > 0).then_some(q.step * 10 * MINUTE),
    }
}

/// Each row's series, step by step, equals the reference over that step's range.
fn assert_series(a: &sightline_model::CubeAnswer, facts: &[Fact], q: &CubeQuery) {
    let Some(step) = q.step_ms else { return };
    let (from, to) = cube_ref::aligned(q);
    assert_eq!(a.timestamps, (0..).map(|i| from + i * step).take_while(|t| *t < to).collect::<Vec<_>>());
    for r in &a.rows {
        assert_eq!(r.series.len(), a.timestamps.len());
        for (t, m) in a.timestamps.iter().zip(&r.series) {
            let sub = CubeQuery { from: *t, to: (*t + step).min(to), ..q.clone() };
            match cube_ref::expected(facts, &sub).get(&r.key) {
                Some(e) => cube_ref::assert_measures(m, e, &format!("series of {:?} at {t}", r.key)),
                None => assert_eq!(m.count, 0, "series of {:?} at {t}", r.key),
            }
        }
    }
}

fn check(store: &EmbeddedStore, rt: &tokio::runtime::Runtime, spans: &[SpanRecord], queries: &[Q]) {
    let facts = cube_ref::facts_of(spans);
    for q in queries {
        let cq = query_of(q);
        let a = rt.block_on(store.cube(cq.clone())).unwrap();
        cube_ref::assert_answer(&a, &facts, &cq);
        assert_series(&a, &facts, &cq);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn cube_figures_equal_the_raw_facts(txs in prop::collection::vec(tx_strategy(), 1..400),
                                        queries in prop::collection::vec(q_strategy(), 6)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(AtomicI64::new(T0));
        let c = clock.clone();
        let options = CubeOptions { clock: Arc::new(move || c.load(Ordering::SeqCst)), ..Default::default() };
        let store = EmbeddedStore::open_with(dir.path(), Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX }, options, None).unwrap();
        let mut order: Vec<(usize, &Tx)> = txs.iter().enumerate().collect();
        order.sort_by_key(|(_, t)| t.end);
        // Chunks of ten minutes of data, in time order; a straggler comes `late` chunks after its own.
        let chunks = (SPAN / (10 * MINUTE)) as usize + 8;
        let mut sent: Vec<SpanRecord> = Vec::new();
        for chunk in 0..chunks {
            let batch: Vec<SpanRecord> = order
                .iter()
                .filter(|(_, t)| ((t.end - T0) / (10 * MINUTE)) as usize + t.late == chunk)
                .map(|(i, t)| record(*i, t))
                .collect();
            clock.store(T0 + (chunk as i64 + 1) * 10 * MINUTE, Ordering::SeqCst);
            rt.block_on(store.append(batch.clone())).unwrap();
            sent.extend(batch);
            if chunk == chunks / 2 {
                check(&store, &rt, &sent, &queries);
            }
        }
        // A day later every tier has closed: ranges are answered from the coarse tiers where they fit.
        clock.store(T0 + SPAN + 26 * 60 * MINUTE, Ordering::SeqCst);
        rt.block_on(store.append(Vec::new())).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.cube_closed_until()[3] < T0 + SPAN {
            assert!(std::time::Instant::now() < deadline, "the day tier never closed: {:?}", store.cube_closed_until());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        prop_assert_eq!(sent.len(), txs.len());
        check(&store, &rt, &sent, &queries);
    }
}
