//! The machine Sightline runs on, as the host collector samples it: whole-machine CPU and memory, and the
//! busiest processes (by CPU and by resident memory) of each sample.

use serde::{Deserialize, Serialize};

/// One process in a host sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostProcess {
    pub pid: u32,
    /// The executable's short name (`postgres`, `java`): what `process.*` metrics group by.
    pub name: String,
    /// Command line, at most 512 characters, with secret-looking arguments shown as `***`.
    pub command: String,
    /// CPU since the previous sample, percent of one core (above 100 for a multi-threaded process);
    /// 0 in the first sample that sees the process.
    pub cpu_percent: f64,
    /// Resident memory.
    pub rss_bytes: u64,
    pub started_ms: i64,
}

/// Answer of `GET /api/v1/host/processes?at=`: one sample, processes sorted by CPU (busiest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostProcesses {
    pub host: String,
    /// When the sample was taken.
    pub at: i64,
    /// Whole machine, 0..=100.
    pub cpu_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// Only the busiest: the top 30 by CPU and the top 30 by resident memory.
    pub processes: Vec<HostProcess>,
}

/// One point of `GET /api/v1/host/processes/{pid}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostProcessPoint {
    pub t: i64,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}
