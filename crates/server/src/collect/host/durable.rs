//! The host sample history on disk: its own fjall database in `<data_dir>/host`, so a restart keeps the
//! per-process CPU and memory history. One key per sample (`t` as big-endian u64, so keys are in time order),
//! JSON values; written to the OS at every sample and fsynced by the journal and at shutdown, like the
//! PostgreSQL samples (`collect::postgres::durable`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};

use super::{HostSample, ProcSample};

pub struct HostStore {
    db: Database,
    samples: Keyspace,
}

/// A sample as stored (the in-memory one shares strings through `Arc`s).
#[derive(Serialize, Deserialize)]
struct Stored {
    t: i64,
    cpu_percent: f64,
    memory_used: u64,
    memory_total: u64,
    /// (pid, name, command, cpu_percent, rss, started_ms)
    processes: Vec<(u32, String, String, f64, u64, i64)>,
}

fn key(t: i64) -> [u8; 8] {
    (t.max(0) as u64).to_be_bytes()
}

impl HostStore {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Small, steady writes: one background worker and a small cache, apart from the trace store's budget.
        let db = Database::builder(dir)
            .worker_threads(1)
            .cache_size(4 * 1024 * 1024)
            .open()
            .with_context(|| format!("cannot open the host sample database in {}", dir.display()))?;
        let samples = db.keyspace("samples", KeyspaceCreateOptions::default).context("keyspace samples")?;
        Ok(HostStore { db, samples })
    }

    pub fn put(&self, s: &HostSample) -> anyhow::Result<()> {
        let stored = Stored {
            t: s.t,
            cpu_percent: s.cpu_percent,
            memory_used: s.memory_used,
            memory_total: s.memory_total,
            processes: s
                .processes
                .iter()
                .map(|p| (p.pid, p.name.to_string(), p.command.to_string(), p.cpu_percent, p.rss, p.started_ms))
                .collect(),
        };
        self.samples.insert(key(s.t), serde_json::to_vec(&stored)?)?;
        // Out of our buffers into the OS: a killed process keeps it; fsync is left to the journal's own pace.
        self.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    /// Samples at or after `since`, oldest first; unreadable ones are skipped (logged).
    pub fn load(&self, since: i64) -> anyhow::Result<Vec<HostSample>> {
        let mut strings: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: String| strings.entry(s).or_insert_with_key(|k| Arc::from(k.as_str())).clone();
        let mut out = Vec::new();
        for kv in self.samples.range(key(since)..) {
            let (_, v) = kv.into_inner()?;
            let s: Stored = match serde_json::from_slice(&v) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable stored host sample");
                    continue;
                }
            };
            let processes = s
                .processes
                .into_iter()
                .map(|(pid, name, command, cpu_percent, rss, started_ms)| ProcSample {
                    pid,
                    name: intern(name),
                    command: intern(command),
                    cpu_percent,
                    rss,
                    started_ms,
                })
                .collect();
            out.push(HostSample { t: s.t, cpu_percent: s.cpu_percent, memory_used: s.memory_used, memory_total: s.memory_total, processes });
        }
        Ok(out)
    }

    /// Deletes the samples older than `before`.
    pub fn expire(&self, before: i64) -> anyhow::Result<usize> {
        let mut n = 0;
        for kv in self.samples.range(..key(before)) {
            self.samples.remove(kv.key()?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Makes what was written durable (at shutdown).
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.persist(PersistMode::SyncAll).context("persisting the host samples")
    }
}
