//! Database metrics for the catalogue, read from the PostgreSQL collectors' sample history (the same
//! samples the database page draws), so a board widget and the page agree.
//!
//! A sample already carries rates over its interval (`tps`, hit ratio, tuples per second) and gauges
//! (sessions, connections, lock waits): a bucket is the **mean** of the samples in it. Per-interval amounts
//! (deadlocks, statement time) are **summed** per bucket. A bucket without a sample (instance down, before its
//! history) is `null`: nothing was measured, which is not the same as zero.

use std::collections::BTreeMap;
use std::sync::Arc;

use sightline_model::{DbMetricPoint, MetricSeries};

use crate::collect::postgres::history::Sample;
use crate::collect::postgres::Instance;

/// What a sample contributes to a metric.
#[derive(Clone, Copy)]
enum Extract {
    /// One value per sample (or none when undefined, e.g. the first rate after a connect).
    Scalar(fn(&DbMetricPoint) -> Option<f64>),
    /// Active sessions per wait class (`CPU / not waiting`, `Lock`, …): the `wait_class` dimension.
    ByClass,
    /// Active sessions per wait event (`transactionid`, `DataFileRead`, or the class when not waiting).
    ByWaitEvent,
}

/// How the samples of one instance in one bucket make a value.
#[derive(Clone, Copy, PartialEq)]
enum Agg {
    Mean,
    Sum,
}

pub(super) struct DbMetric {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
    pub dimensions: &'static [&'static str],
    extract: Extract,
    agg: Agg,
    /// Series not split by instance: summed over instances, except ratios (their mean).
    ratio: bool,
}

const INSTANCE: &[&str] = &["instance"];

pub(super) const DB_METRICS: &[DbMetric] = &[
    DbMetric { name: "db.sessions.active", unit: "count", description: "Database sessions running a query (mean per step), by wait class", dimensions: &["instance", "wait_class"], extract: Extract::ByClass, agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.wait_events", unit: "count", description: "Active database sessions per wait event (mean per step)", dimensions: &["instance", "wait_event"], extract: Extract::ByWaitEvent, agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.total_runtime", unit: "ms", description: "Summed elapsed time of the active database sessions (mean per step)", dimensions: INSTANCE, extract: Extract::Scalar(|m| Some(m.total_runtime_ms)), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.tps", unit: "1/s", description: "Database commits and rollbacks per second", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.tps), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.rollbacks", unit: "1/s", description: "Database rollbacks per second", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.rollbacks_per_s), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.buffer_hit_ratio", unit: "ratio", description: "Share of block reads served from shared buffers", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.buffer_hit_ratio), agg: Agg::Mean, ratio: true },
    DbMetric { name: "db.connections", unit: "count", description: "Client connections (mean per step)", dimensions: INSTANCE, extract: Extract::Scalar(|m| Some(m.connections as f64)), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.locks.waiting", unit: "count", description: "Sessions waiting on a lock (mean per step)", dimensions: INSTANCE, extract: Extract::Scalar(|m| Some(m.lock_waits as f64)), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.deadlocks", unit: "count", description: "Deadlocks detected per step", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.deadlocks.map(|d| d as f64)), agg: Agg::Sum, ratio: false },
    DbMetric { name: "db.statement_time", unit: "ms", description: "Statement execution time recorded by pg_stat_statements per step", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.statement_time_ms), agg: Agg::Sum, ratio: false },
    DbMetric { name: "db.tuples.read", unit: "1/s", description: "Rows returned and fetched per second", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.tuples_read_per_s), agg: Agg::Mean, ratio: false },
    DbMetric { name: "db.tuples.written", unit: "1/s", description: "Rows inserted, updated and deleted per second", dimensions: INSTANCE, extract: Extract::Scalar(|m| m.tuples_written_per_s), agg: Agg::Mean, ratio: false },
];

/// Why the database metrics cannot be queried: no instance to read them from.
pub(super) const NO_INSTANCE: &str = "no PostgreSQL instance is monitored: add one with --postgres (or SIGHTLINE_POSTGRES)";

pub(super) fn find(name: &str) -> Option<&'static DbMetric> {
    DB_METRICS.iter().find(|m| m.name == name)
}

/// `(label value of the metric's own dimension, value)` of one sample.
fn values(extract: Extract, s: &Sample) -> Vec<(Option<String>, f64)> {
    match extract {
        Extract::Scalar(f) => f(&s.metrics).map(|v| (None, v)).into_iter().collect(),
        Extract::ByClass => s.metrics.active_by_class.iter().map(|(c, n)| (Some(c.clone()), *n as f64)).collect(),
        Extract::ByWaitEvent => {
            let mut by: BTreeMap<String, f64> = BTreeMap::new();
            for x in s.sessions.iter().filter(|x| x.state.as_deref() == Some("active")) {
                *by.entry(x.wait_event.clone().unwrap_or_else(|| x.wait_class.clone())).or_default() += 1.0;
            }
            by.into_iter().map(|(k, v)| (Some(k), v)).collect()
        }
    }
}

/// Per-bucket sums and counts of one `(instance, key)`.
struct Acc {
    sum: Vec<f64>,
    n: Vec<u32>,
}

/// The series of a database metric over aligned buckets `[from, to)` of `step`, before the limit is applied:
/// `(labels, values)` sorted by labels. `instances` are already filtered by the `instance` filter.
pub(super) fn series(
    m: &DbMetric,
    instances: &[Arc<Instance>],
    samples: impl Fn(&Instance) -> Vec<Arc<Sample>>,
    (from, to, step): (i64, i64, i64),
    key_filter: Option<&str>,
    by_instance: bool,
    by_key: bool,
) -> Vec<MetricSeries> {
    let nb = ((to - from) / step) as usize;
    // (instance, key) → per-bucket value of that instance alone.
    let mut parts: Vec<(String, Option<String>, Vec<Option<f64>>)> = Vec::new();
    for inst in instances {
        let mut seen = vec![0u32; nb];
        let mut accs: BTreeMap<Option<String>, Acc> = BTreeMap::new();
        for s in samples(inst).iter().filter(|s| s.t >= from && s.t < to) {
            let b = ((s.t - from) / step) as usize;
            seen[b] += 1;
            for (key, v) in values(m.extract, s) {
                if key_filter.is_some_and(|f| key.as_deref() != Some(f)) {
                    continue;
                }
                let key = if by_key { key } else { None };
                let a = accs.entry(key).or_insert_with(|| Acc { sum: vec![0.0; nb], n: vec![0; nb] });
                a.sum[b] += v;
                a.n[b] += 1;
            }
        }
        // A keyed metric (sessions per class) with no session of a class in a sampled bucket is 0 there;
        // without any sample it is unknown. A keyed metric with no key at all in the window still has its
        // total: 0 where sampled.
        let keyed = !matches!(m.extract, Extract::Scalar(_));
        if keyed && accs.is_empty() && !by_key && seen.iter().any(|n| *n > 0) {
            accs.insert(None, Acc { sum: vec![0.0; nb], n: vec![0; nb] });
        }
        for (key, a) in accs {
            let vals = (0..nb)
                .map(|b| match (keyed, m.agg) {
                    // Per-key counts: divide by the instance's samples (a sample without the key counted 0).
                    (true, _) => (seen[b] > 0).then(|| a.sum[b] / seen[b] as f64),
                    (false, Agg::Mean) => (a.n[b] > 0).then(|| a.sum[b] / a.n[b] as f64),
                    (false, Agg::Sum) => (seen[b] > 0).then_some(a.sum[b]),
                })
                .collect();
            parts.push((inst.id.clone(), key, vals));
        }
    }
    // Combine the parts into the asked groups.
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<Vec<Option<f64>>>> = BTreeMap::new();
    for (inst, key, vals) in parts {
        let mut labels = BTreeMap::new();
        if by_instance {
            labels.insert("instance".to_string(), inst);
        }
        if let (true, Some(k), Some(dim)) = (by_key, key, m.dimensions.get(1)) {
            labels.insert(dim.to_string(), k);
        }
        groups.entry(labels).or_default().push(vals);
    }
    if groups.is_empty() && !by_instance && !by_key {
        // Ungrouped: always one series, unknown everywhere when nothing was sampled.
        groups.insert(BTreeMap::new(), vec![vec![None; nb]]);
    }
    groups
        .into_iter()
        .map(|(labels, parts)| {
            let values = (0..nb)
                .map(|b| {
                    let known: Vec<f64> = parts.iter().filter_map(|p| p[b]).collect();
                    match (known.is_empty(), m.ratio) {
                        (true, _) => None,
                        (false, true) => Some(known.iter().sum::<f64>() / known.len() as f64),
                        (false, false) => Some(known.iter().sum()),
                    }
                })
                .collect();
            MetricSeries { labels, values }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, classes: &[(&str, u32)], tps: Option<f64>) -> Arc<Sample> {
        let mut m = DbMetricPoint::new(t, 100.0, classes.iter().map(|(c, n)| (c.to_string(), *n)).collect(), 5, 100, 0);
        m.tps = tps;
        Arc::new(Sample { t, sessions: vec![], locks: vec![], metrics: m, statements: vec![] })
    }

    fn run(m: &str, samples: Vec<Arc<Sample>>, by_key: bool) -> Vec<MetricSeries> {
        // One fake instance: the sample source ignores it.
        let inst = Arc::new(Instance::for_tests("a"));
        series(find(m).unwrap(), &[inst], |_| samples.clone(), (0, 30, 10), None, false, by_key)
    }

    #[test]
    fn gauges_are_means_per_bucket_and_empty_buckets_unknown() {
        let s = vec![sample(0, &[("Lock", 2)], Some(10.0)), sample(5, &[("Lock", 1), ("IO", 1)], None), sample(12, &[], Some(4.0))];
        let tps = run("db.tps", s.clone(), false);
        assert_eq!(tps.len(), 1);
        assert_eq!(tps[0].values, [Some(10.0), Some(4.0), None]);
        let active = run("db.sessions.active", s.clone(), false);
        assert_eq!(active[0].values, [Some(2.0), Some(0.0), None]);
        let by = run("db.sessions.active", s, true);
        let lock = by.iter().find(|x| x.labels["wait_class"] == "Lock").unwrap();
        assert_eq!(lock.values, [Some(1.5), Some(0.0), None]);
        let io = by.iter().find(|x| x.labels["wait_class"] == "IO").unwrap();
        assert_eq!(io.values, [Some(0.5), Some(0.0), None]);
    }
}
