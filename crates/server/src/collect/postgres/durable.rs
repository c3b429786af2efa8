//! The PostgreSQL sample history on disk: its own fjall database in `<data_dir>/postgres`, apart from the
//! trace store, so a restart of Sightline keeps the active-session history and the lock trees for replay.
//!
//! One key per sample, `<instance id> 0x00 <t as big-endian u64>`, so an instance's samples are one prefix
//! in time order. Values are JSON of the sample. Samples are journaled without an fsync each (losing the last
//! second of history on a power cut is fine for monitoring data); the age bound is enforced on disk too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};
use sightline_model::{DbLockWait, DbMetricPoint, DbSession};

use super::history::{LockEntry, Sample, StatementDelta};

/// Durable samples of every monitored instance.
pub struct SampleStore {
    db: Database,
    samples: Keyspace,
}

/// A sample as stored (the in-memory one shares statement texts through `Arc`s).
#[derive(Serialize, Deserialize)]
struct Stored {
    t: i64,
    sessions: Vec<DbSession>,
    locks: Vec<(i32, DbLockWait)>,
    metrics: DbMetricPoint,
    /// (queryid, query, calls, total_ms, rows)
    statements: Vec<(i64, String, i64, f64, i64)>,
}

fn prefix(instance: &str) -> Vec<u8> {
    let mut k = instance.as_bytes().to_vec();
    k.push(0);
    k
}

fn key(instance: &str, t: i64) -> Vec<u8> {
    let mut k = prefix(instance);
    k.extend_from_slice(&(t.max(0) as u64).to_be_bytes());
    k
}

impl SampleStore {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Small, steady writes: one background worker and a small cache, apart from the trace store's budget.
        let db = Database::builder(dir)
            .worker_threads(1)
            .cache_size(8 * 1024 * 1024)
            .open()
            .with_context(|| format!("cannot open the PostgreSQL sample database in {}", dir.display()))?;
        let samples = db.keyspace("samples", KeyspaceCreateOptions::default).context("keyspace samples")?;
        Ok(SampleStore { db, samples })
    }

    /// Stores one sample of `instance`.
    pub fn put(&self, instance: &str, s: &Sample) -> anyhow::Result<()> {
        let stored = Stored {
            t: s.t,
            sessions: s.sessions.clone(),
            locks: s.locks.iter().map(|l| (l.pid, l.wait.clone())).collect(),
            metrics: s.metrics.clone(),
            statements: s.statements.iter().map(|d| (d.queryid, d.query.to_string(), d.calls, d.total_ms, d.rows)).collect(),
        };
        self.samples.insert(key(instance, s.t), serde_json::to_vec(&stored)?)?;
        // Out of our buffers into the OS: a killed process keeps it; fsync is left to the journal's own pace.
        self.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    /// Samples of `instance` at or after `since`, oldest first; unreadable ones are skipped (logged).
    pub fn load(&self, instance: &str, since: i64) -> anyhow::Result<Vec<Sample>> {
        let mut texts: HashMap<i64, Arc<str>> = HashMap::new();
        let mut out = Vec::new();
        for kv in self.samples.range(key(instance, since)..key(instance, i64::MAX)) {
            let (_, v) = kv.into_inner()?;
            let s: Stored = match serde_json::from_slice(&v) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(instance, error = %e, "skipping an unreadable stored PostgreSQL sample");
                    continue;
                }
            };
            let statements = s
                .statements
                .into_iter()
                .map(|(queryid, query, calls, total_ms, rows)| StatementDelta {
                    queryid,
                    query: texts.entry(queryid).or_insert_with(|| Arc::from(query)).clone(),
                    calls,
                    total_ms,
                    rows,
                })
                .collect();
            out.push(Sample {
                t: s.t,
                sessions: s.sessions,
                locks: s.locks.into_iter().map(|(pid, wait)| LockEntry { pid, wait }).collect(),
                metrics: s.metrics,
                statements,
            });
        }
        Ok(out)
    }

    /// Deletes the samples of `instance` older than `before`.
    pub fn expire(&self, instance: &str, before: i64) -> anyhow::Result<usize> {
        let mut n = 0;
        for kv in self.samples.range(prefix(instance)..key(instance, before)) {
            self.samples.remove(kv.key()?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Makes what was written durable (at shutdown).
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.persist(PersistMode::SyncAll).context("persisting the PostgreSQL samples")
    }
}
