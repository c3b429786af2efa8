//! The brute-force reference for cube answers: the same figures computed straight from the raw facts
//! (`cube::facts::facts` of the stored spans), with exact nearest-rank percentiles. Shared by
//! `store_conformance.rs`, `cube_property.rs` and the crash and retention tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sightline_model::{CubeAnswer, CubeMeasures, CubeRow, SKETCH_RELATIVE_ERROR};
use sightline_server::cube::{CubeQuery, Fact};
use sightline_server::store::record::SpanRecord;

/// A group's exact figures.
#[derive(Debug, Clone, Default)]
pub struct Exact {
    pub count: u64,
    pub errors: u64,
    pub sum_ms: f64,
    pub first: i64,
    pub last: i64,
    pub durations: Vec<f64>,
}

pub fn facts_of(spans: &[SpanRecord]) -> Vec<Fact<'_>> {
    // One span at a time, as the store calls it.
    spans.iter().flat_map(|s| sightline_server::cube::facts::facts(std::slice::from_ref(s))).collect()
}

/// The range a query answers: aligned out to whole minutes.
pub fn aligned(q: &CubeQuery) -> (i64, i64) {
    const M: i64 = 60_000;
    (q.from.div_euclid(M) * M, (q.to + M - 1).div_euclid(M) * M)
}

/// Group key → exact figures of the facts `q` counts.
pub fn expected(facts: &[Fact], q: &CubeQuery) -> BTreeMap<Vec<String>, Exact> {
    let (from, to) = aligned(q);
    let mut out: BTreeMap<Vec<String>, Exact> = BTreeMap::new();
    for f in facts {
        if f.kind != q.kind() || f.end_ms < from || f.end_ms >= to {
            continue;
        }
        if q.filter.iter().any(|(d, v)| &f.dims[*d as usize] != v) {
            continue;
        }
        let key: Vec<String> = q.group_by.iter().map(|d| f.dims[*d as usize].to_string()).collect();
        let e = out.entry(key).or_insert_with(|| Exact { first: i64::MAX, last: i64::MIN, ..Default::default() });
        e.count += 1;
        e.errors += f.error as u64;
        e.sum_ms += f.duration_ms;
        e.first = e.first.min(f.end_ms);
        e.last = e.last.max(f.end_ms);
        e.durations.push(f.duration_ms);
    }
    out
}

pub fn nearest_rank(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// `got` is the exact figures `want`, percentiles within the sketch's relative error.
pub fn assert_measures(got: &CubeMeasures, want: &Exact, what: &str) {
    assert_eq!((got.count, got.errors), (want.count, want.errors), "{what}: count, errors");
    assert!((got.sum_ms - want.sum_ms).abs() <= 1e-9 * want.sum_ms.abs().max(1.0), "{what}: sum {} vs {}", got.sum_ms, want.sum_ms);
    assert_eq!((got.first_seen_ms, got.last_seen_ms), (Some(want.first), Some(want.last)), "{what}: first/last seen");
    for (q, p) in [(0.5, got.p50), (0.95, got.p95), (0.99, got.p99)] {
        let exact = nearest_rank(&want.durations, q);
        let p = p.unwrap_or_else(|| panic!("{what}: no p{}", q * 100.0));
        assert!(
            (p - exact).abs() <= exact * SKETCH_RELATIVE_ERROR * (1.0 + 1e-9) + 1e-6,
            "{what}: p{} {p} vs exact {exact}",
            q * 100.0
        );
    }
}

/// Merges exact figures (for `other` and `total`).
pub fn merged<'a>(it: impl Iterator<Item = &'a Exact>) -> Exact {
    let mut m = Exact { first: i64::MAX, last: i64::MIN, ..Default::default() };
    for e in it {
        m.count += e.count;
        m.errors += e.errors;
        m.sum_ms += e.sum_ms;
        m.first = m.first.min(e.first);
        m.last = m.last.max(e.last);
        m.durations.extend_from_slice(&e.durations);
    }
    m
}

/// Every row, `other` and `total` of `a` match the reference for `q`; rows are the top `limit` by the
/// asked measure.
pub fn assert_answer(a: &CubeAnswer, facts: &[Fact], q: &CubeQuery) {
    let want = expected(facts, q);
    assert_eq!((a.from, a.to), aligned(q));
    assert_eq!(a.groups, want.len(), "groups");
    assert_eq!(a.rows.len(), want.len().min(q.limit), "rows kept");
    let mut seen = std::collections::BTreeSet::new();
    for r in &a.rows {
        let e = want.get(&r.key).unwrap_or_else(|| panic!("row {:?} is not in the reference", r.key));
        assert_measures(&r.measures, e, &format!("row {:?}", r.key));
        seen.insert(r.key.clone());
    }
    let rest: Vec<&Exact> = want.iter().filter(|(k, _)| !seen.contains(*k)).map(|(_, e)| e).collect();
    match &a.other {
        Some(CubeRow { measures, .. }) => assert_measures(measures, &merged(rest.into_iter()), "other"),
        None => assert!(rest.is_empty(), "rows left out without an `other`"),
    }
    if want.is_empty() {
        assert_eq!(a.total.count, 0);
    } else {
        assert_measures(&a.total, &merged(want.values()), "total");
    }
    // Sorted as asked (None last).
    let vals: Vec<Option<f64>> = a.rows.iter().map(|r| q.sort.of(&r.measures)).collect();
    for w in vals.windows(2) {
        match (w[0], w[1]) {
            (Some(x), Some(y)) => assert!(if q.desc { x >= y } else { x <= y }, "rows not sorted by {:?}: {vals:?}", q.sort),
            (None, Some(_)) => panic!("None before a value: {vals:?}"),
            _ => {}
        }
    }
}
