//! The cube outlives the raw transactions: after raw retention dropped them, cube queries over their range
//! still answer the same figures, and `raw_since_ms` says where the raw data (drill-down) begins; the
//! cube's own retention drops whole days once they are older than it.

#[path = "cube_ref/mod.rs"]
mod cube_ref;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sightline_model::{CubeDim, CubeMeasure};
use sightline_server::cube::CubeQuery;
use sightline_server::store::cube::CubeOptions;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::TraceStore;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// A UTC midnight.
const D: i64 = 1_772_323_200_000;

fn tx(i: u64, end_ms: i64) -> SpanRecord {
    let end_ns = end_ms as u64 * 1_000_000;
    let mut trace_id = vec![3u8; 16];
    trace_id[8..].copy_from_slice(&i.to_be_bytes());
    SpanRecord {
        trace_id,
        span_id: (i | 1 << 60).to_be_bytes().to_vec(),
        service: "checkout".into(),
        name: ["GET /a", "POST /pay"][i as usize % 2].into(),
        span_kind: 2,
        start_ns: end_ns - (i % 97 + 1) * 1_000_000,
        end_ns,
        error: i.is_multiple_of(5),
        step_kind: kind::TRANSACTION,
        is_transaction: true,
        ..Default::default()
    }
}

fn by_endpoint(from: i64, to: i64) -> CubeQuery {
    CubeQuery {
        from,
        to,
        group_by: vec![CubeDim::Endpoint],
        filter: BTreeMap::new(),
        sort: CubeMeasure::P95,
        desc: true,
        limit: 50,
        step_ms: None,
    }
}

#[test]
fn cube_answers_after_raw_retention_and_drops_whole_days_after_its_own() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Three hours of data across midnight: D+22h .. D+25h; "now" is its end.
    let now = D + 25 * HOUR;
    let clock = Arc::new(AtomicI64::new(now));
    let c = clock.clone();
    let cube = CubeOptions { max_age_ms: DAY, clock: Arc::new(move || c.load(Ordering::SeqCst)), ..Default::default() };
    let raw = Retention { max_age_ms: HOUR, max_bytes: u64::MAX };
    let store = EmbeddedStore::open_with(dir.path(), raw, cube, None).unwrap();
    let data: Vec<SpanRecord> = (1..=360u64).map(|i| tx(i, D + 22 * HOUR + i as i64 * 30_000 - 7)).collect();
    rt.block_on(store.append(data.clone())).unwrap();
    let facts = cube_ref::facts_of(&data);
    let whole = by_endpoint(D + 21 * HOUR, now + MINUTE);
    let before = rt.block_on(store.cube(whole.clone())).unwrap();
    cube_ref::assert_answer(&before, &facts, &whole);
    assert_eq!(before.raw_since_ms, Some(D + 22 * HOUR));

    // Raw retention (one hour) drops two thirds of the transactions; the cube keeps all of them.
    let report = rt.block_on(store.enforce_retention(now)).unwrap();
    assert_eq!(report.cutoff_ms, Some(now - HOUR));
    assert!(report.transactions_removed >= 230, "{report:?}");
    let after = rt.block_on(store.cube(whole.clone())).unwrap();
    assert_eq!(after.raw_since_ms, Some(now - HOUR), "figures before this come from the rollup alone");
    let figures = |a: &sightline_model::CubeAnswer| sightline_model::CubeAnswer { raw_since_ms: None, ..a.clone() };
    assert_eq!(figures(&after), figures(&before));
    // A range entirely before the raw data: answered by the rollup only.
    let old = by_endpoint(D + 22 * HOUR, D + 23 * HOUR + 17 * MINUTE);
    let a = rt.block_on(store.cube(old.clone())).unwrap();
    cube_ref::assert_answer(&a, &facts, &old);
    assert!(a.total.count > 100 && a.raw_since_ms.unwrap() >= old.to);
    // Closed by then: the same after a reopen.
    drop(store);
    let store = EmbeddedStore::open_with(dir.path(), raw, CubeOptions { max_age_ms: DAY, clock: Arc::new(move || clock.load(Ordering::SeqCst)), ..Default::default() }, None).unwrap();
    assert_eq!(rt.block_on(store.cube(old.clone())).unwrap(), a);

    // The cube's retention (one day) reached D+1: day D (22h–24h) goes in every tier, day D+1 stays.
    rt.block_on(store.enforce_retention(D + 2 * DAY + HOUR)).unwrap();
    let kept: Vec<_> = facts.iter().filter(|f| f.end_ms >= D + DAY).cloned().collect();
    assert!(!kept.is_empty() && kept.len() < facts.len());
    for q in [whole, by_endpoint(D + 23 * HOUR + 30 * MINUTE, D + DAY + 10 * MINUTE), by_endpoint(D, D + 3 * DAY)] {
        let a = rt.block_on(store.cube(q.clone())).unwrap();
        cube_ref::assert_answer(&a, &kept, &q);
        assert_eq!(a.raw_since_ms, None, "no raw transaction is left");
    }
}
