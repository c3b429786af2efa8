//! Host and process metrics, read from the host collector's sample history (the samples
//! `GET /api/v1/host/processes` shows), so a board widget and that list agree.
//!
//! A bucket is the **mean** of the samples in it; `null` where no sample was taken. A process metric first sums
//! the processes of one name within a sample (a `postgres` server is many processes), then takes the mean over
//! the samples of the bucket that kept that name: a process outside a sample's top lists is unknown there,
//! not zero.

use std::collections::BTreeMap;
use std::sync::Arc;

use sightline_model::MetricSeries;

use crate::collect::host::{HostSample, ProcSample};

#[derive(Clone, Copy)]
enum Extract {
    Host(fn(&HostSample) -> f64),
    Process(fn(&ProcSample) -> f64),
}

pub(super) struct HostMetric {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
    pub dimensions: &'static [&'static str],
    extract: Extract,
}

pub(super) const HOST_METRICS: &[HostMetric] = &[
    HostMetric { name: "host.cpu.usage", unit: "percent", description: "CPU busy, whole machine (0..100, mean per step)", dimensions: &["host"], extract: Extract::Host(|s| s.cpu_percent) },
    HostMetric { name: "host.memory.used", unit: "bytes", description: "Memory in use (mean per step)", dimensions: &["host"], extract: Extract::Host(|s| s.memory_used as f64) },
    HostMetric { name: "process.cpu.usage", unit: "percent", description: "CPU per process name, percent of one core (mean per step; the busiest processes only)", dimensions: &["host", "process"], extract: Extract::Process(|p| p.cpu_percent) },
    HostMetric { name: "process.memory.rss", unit: "bytes", description: "Resident memory per process name (mean per step; the busiest processes only)", dimensions: &["host", "process"], extract: Extract::Process(|p| p.rss as f64) },
];

/// Why the host metrics cannot be queried.
pub(super) const OFF: &str = "the host collector is off (--host-collector=false or SIGHTLINE_HOST_COLLECTOR=false)";

pub(super) fn find(name: &str) -> Option<&'static HostMetric> {
    HOST_METRICS.iter().find(|m| m.name == name)
}

/// The series of a host metric over aligned buckets `[from, to)` of `step`, before the limit is applied,
/// sorted by labels. `host` is this machine's name; `process` filters by process name.
pub(super) fn series(
    m: &HostMetric,
    host: &str,
    samples: &[Arc<HostSample>],
    (from, to, step): (i64, i64, i64),
    filter: &BTreeMap<String, String>,
    group_by: &[String],
) -> Vec<MetricSeries> {
    let nb = ((to - from) / step) as usize;
    let by_host = group_by.iter().any(|g| g == "host");
    let by_process = group_by.iter().any(|g| g == "process");
    let process = filter.get("process").map(String::as_str);
    let other_host = filter.get("host").is_some_and(|h| h != host);
    // Process name (when grouped by it) → per-bucket sum and count of per-sample values.
    let mut accs: BTreeMap<Option<&str>, (Vec<f64>, Vec<u32>)> = BTreeMap::new();
    for s in samples.iter().filter(|s| !other_host && s.t >= from && s.t < to) {
        let b = ((s.t - from) / step) as usize;
        let mut per_sample: BTreeMap<Option<&str>, f64> = BTreeMap::new();
        match m.extract {
            Extract::Host(f) => {
                per_sample.insert(None, f(s));
            }
            Extract::Process(f) => {
                for p in s.processes.iter().filter(|p| process.is_none_or(|n| *p.name == *n)) {
                    *per_sample.entry(by_process.then_some(&*p.name)).or_default() += f(p);
                }
            }
        }
        for (k, v) in per_sample {
            let a = accs.entry(k).or_insert_with(|| (vec![0.0; nb], vec![0; nb]));
            a.0[b] += v;
            a.1[b] += 1;
        }
    }
    let mut out: Vec<MetricSeries> = accs
        .into_iter()
        .map(|(k, (sum, n))| {
            let mut labels = BTreeMap::new();
            if by_host {
                labels.insert("host".to_string(), host.to_string());
            }
            if let Some(k) = k {
                labels.insert("process".to_string(), k.to_string());
            }
            MetricSeries { labels, values: (0..nb).map(|b| (n[b] > 0).then(|| sum[b] / n[b] as f64)).collect() }
        })
        .collect();
    if out.is_empty() && !by_host && !by_process {
        // Ungrouped: always one series, unknown everywhere when nothing was sampled.
        out.push(MetricSeries { labels: BTreeMap::new(), values: vec![None; nb] });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, cpu: f64, procs: &[(&str, f64)]) -> Arc<HostSample> {
        Arc::new(HostSample {
            t,
            cpu_percent: cpu,
            memory_used: 100,
            memory_total: 200,
            processes: procs
                .iter()
                .enumerate()
                .map(|(i, (name, cpu))| ProcSample { pid: i as u32, name: (*name).into(), command: "".into(), cpu_percent: *cpu, rss: 10, started_ms: 0 })
                .collect(),
        })
    }

    fn run(m: &str, filter: &[(&str, &str)], group_by: &[&str]) -> Vec<MetricSeries> {
        let samples = [
            sample(0, 10.0, &[("pg", 5.0), ("pg", 15.0), ("java", 50.0)]),
            sample(5, 30.0, &[("pg", 10.0)]),
            sample(12, 40.0, &[("java", 30.0)]),
        ];
        let filter = filter.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let group_by: Vec<String> = group_by.iter().map(|g| g.to_string()).collect();
        series(find(m).unwrap(), "box", &samples, (0, 30, 10), &filter, &group_by)
    }

    #[test]
    fn means_per_bucket_sums_per_name_and_unknown_gaps() {
        let cpu = run("host.cpu.usage", &[], &[]);
        assert_eq!(cpu.len(), 1);
        assert_eq!(cpu[0].values, [Some(20.0), Some(40.0), None]);
        let by_host = run("host.memory.used", &[], &["host"]);
        assert_eq!(by_host[0].labels["host"], "box");
        assert_eq!(by_host[0].values, [Some(100.0), Some(100.0), None]);
        let by = run("process.cpu.usage", &[], &["process"]);
        let pg = by.iter().find(|s| s.labels["process"] == "pg").unwrap();
        // 5 + 15 in the first sample, 10 in the second: mean 15; not kept in the third.
        assert_eq!(pg.values, [Some(15.0), None, None]);
        let java = by.iter().find(|s| s.labels["process"] == "java").unwrap();
        assert_eq!(java.values, [Some(50.0), Some(30.0), None]);
        let one = run("process.memory.rss", &[("process", "pg")], &[]);
        assert_eq!(one[0].values, [Some(15.0), None, None]);
        let elsewhere = run("host.cpu.usage", &[("host", "other")], &[]);
        assert_eq!(elsewhere[0].values, [None, None, None]);
        assert!(run("process.cpu.usage", &[("host", "other")], &["process"]).is_empty());
    }
}
