//! Which process each reporting instance is: its `host.name` and `process.pid`, learnt from the resources of
//! ingested spans (OpenTelemetry SDKs' host and process detectors send both). The cube joins this with the
//! host collector's per-process history to show an instance's CPU and memory beside its transactions —
//! "where known": only for processes on the machine Sightline samples.
//!
//! Kept in memory only: a running instance names itself again with its next export, so after a restart
//! the join comes back as soon as the services report; a process that stopped before the restart has no
//! host samples worth joining for long either (the host history is short).

use std::collections::HashMap;
use std::sync::Mutex;

use sightline_model::{CubeAnswer, CubeDim, InstanceUsage};

use crate::collect::host::HostHub;
use crate::sync;

/// Most instances remembered: a bound against a client that invents a new `service.instance.id` per
/// request. Past it, new instances are not learnt (the known ones keep their join).
pub const MAX_INSTANCES: usize = 10_000;

/// The process behind an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub host: String,
    pub pid: u32,
}

/// Instance → process, as last reported.
#[derive(Debug, Default)]
pub struct Instances {
    known: Mutex<HashMap<String, Process>>,
}

impl Instances {
    /// Notes that `instance` runs as `pid` on `host` (a later report wins: a restarted process keeps its
    /// instance id only with SDKs that derive it from something stable).
    pub fn note(&self, instance: &str, host: &str, pid: u32) {
        let mut known = sync::lock(&self.known);
        if let Some(p) = known.get_mut(instance) {
            if p.pid != pid || p.host != host {
                *p = Process { host: host.to_string(), pid };
            }
            return;
        }
        if known.len() < MAX_INSTANCES {
            known.insert(instance.to_string(), Process { host: host.to_string(), pid });
        }
    }

    pub fn process_of(&self, instance: &str) -> Option<Process> {
        sync::lock(&self.known).get(instance).cloned()
    }

    /// Adds to `answer` the CPU and memory of its rows' instances that run on the sampled machine, over the
    /// answer's range. Scans the host history once per such instance: run it off the async runtime.
    pub fn annotate(&self, answer: &mut CubeAnswer, hosts: &HostHub) {
        let Some(col) = answer.group_by.iter().position(|d| *d == CubeDim::Instance) else { return };
        if !hosts.enabled() {
            return;
        }
        let (from, to) = (answer.from, answer.to);
        let mut usage = Vec::new();
        for row in &answer.rows {
            let Some(instance) = row.key.get(col) else { continue };
            if usage.iter().any(|u: &InstanceUsage| &u.instance == instance) {
                continue;
            }
            let Some(p) = self.process_of(instance).filter(|p| p.host == hosts.host()) else { continue };
            let Some(points) = hosts.process_history(p.pid, from, to).filter(|v| !v.is_empty()) else { continue };
            let n = points.len();
            usage.push(InstanceUsage {
                instance: instance.clone(),
                host: p.host,
                pid: p.pid,
                cpu_percent: points.iter().map(|x| x.cpu_percent).sum::<f64>() / n as f64,
                rss_bytes: (points.iter().map(|x| x.rss_bytes as u128).sum::<u128>() / n as u128) as u64,
                samples: n,
            });
        }
        answer.usage = usage;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_report_wins_and_the_map_is_bounded() {
        let i = Instances::default();
        i.note("a", "h1", 10);
        i.note("a", "h1", 11);
        assert_eq!(i.process_of("a"), Some(Process { host: "h1".into(), pid: 11 }));
        for n in 0..MAX_INSTANCES + 5 {
            i.note(&format!("x{n}"), "h", n as u32);
        }
        assert_eq!(sync::lock(&i.known).len(), MAX_INSTANCES);
        assert!(i.process_of("a").is_some(), "known instances keep their join");
    }
}
