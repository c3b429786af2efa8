//! A collector's sample history on disk: its own fjall database (`<data_dir>/postgres`, `<data_dir>/host`),
//! apart from the trace store, so a restart of Sightline keeps the history for replay and charts.
//!
//! One key per sample, `<series prefix><t as big-endian u64>`, so a series is one prefix in time order. The
//! host has one series (an empty prefix: the key is the bare time); the PostgreSQL log has one per instance
//! (`<instance id> 0x00`). Values are the JSON of a collector's stored form `T`. Samples are written to the OS
//! at every put without an fsync each: a killed process keeps them, a power cut may lose the last second of
//! monitoring data, which is fine; the journal syncs at its own pace and [`SampleLog::flush`] at shutdown.
//!
//! Every method touches the disk: call them off the async runtime (`crate::blocking`).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::blocking::assert_off_runtime;

/// Durable samples of type `T` (a collector's stored form), in one or more time-ordered series.
pub struct SampleLog<T> {
    db: Database,
    samples: Keyspace,
    /// What the log holds, for errors and logs ("PostgreSQL samples").
    what: &'static str,
    _stored: PhantomData<fn(T) -> T>,
}

/// Which samples of a log: the key prefix of one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series(Vec<u8>);

impl Series {
    /// The only series of a log: keys are the bare time (the host's).
    pub fn only() -> Self {
        Series(Vec::new())
    }

    /// One series among several, keys `<name> 0x00 <t>` (a PostgreSQL instance's, by its id).
    pub fn named(name: &str) -> Self {
        let mut k = name.as_bytes().to_vec();
        k.push(0);
        Series(k)
    }

    fn key(&self, t: i64) -> Vec<u8> {
        let mut k = self.0.clone();
        k.extend_from_slice(&(t.max(0) as u64).to_be_bytes());
        k
    }
}

impl<T: Serialize + DeserializeOwned> SampleLog<T> {
    /// Opens (or creates) the log in `dir`, with a block cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64, what: &'static str) -> anyhow::Result<Self> {
        // Small, steady writes.
        let db = crate::store::open_side_database(dir, cache_bytes, what)?;
        let samples = db.keyspace("samples", KeyspaceCreateOptions::default).context("keyspace samples")?;
        Ok(SampleLog { db, samples, what, _stored: PhantomData })
    }

    /// Stores the sample taken at `t` in `series`, and hands it to the OS (no fsync).
    pub fn put(&self, series: &Series, t: i64, sample: &T) -> anyhow::Result<()> {
        assert_off_runtime();
        self.samples.insert(series.key(t), serde_json::to_vec(sample)?)?;
        // Out of our buffers into the OS: a killed process keeps it; fsync is left to the journal's own pace.
        self.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    /// The samples of `series` taken at or after `since`, oldest first; unreadable ones are skipped (logged).
    pub fn load(&self, series: &Series, since: i64) -> anyhow::Result<Vec<T>> {
        assert_off_runtime();
        let mut out = Vec::new();
        for kv in self.samples.range(series.key(since)..=series.key(i64::MAX)) {
            let (_, v) = kv.into_inner()?;
            match serde_json::from_slice(&v) {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!(what = self.what, error = %e, "skipping an unreadable stored sample"),
            }
        }
        Ok(out)
    }

    /// Deletes the samples of `series` taken before `before`; returns how many.
    pub fn expire(&self, series: &Series, before: i64) -> anyhow::Result<usize> {
        assert_off_runtime();
        let mut n = 0;
        for kv in self.samples.range(series.key(0)..series.key(before)) {
            self.samples.remove(kv.key()?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Makes everything written durable (fsync), at shutdown.
    pub fn flush(&self) -> anyhow::Result<()> {
        assert_off_runtime();
        self.db.persist(PersistMode::SyncAll).with_context(|| format!("persisting the {}", self.what))
    }
}

/// Shares equal strings of reloaded samples through one `Arc`, as the collectors share them in memory (a
/// command line or statement text repeated in every sample is held once).
#[derive(Default)]
pub struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    pub fn intern(&mut self, s: String) -> Arc<str> {
        self.0.entry(s).or_insert_with_key(|k| Arc::from(k.as_str())).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Point {
        t: i64,
        v: f64,
    }

    #[test]
    fn series_are_kept_apart_in_time_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Series::named("a"), Series::named("ab"));
        {
            let log = SampleLog::<Point>::open(dir.path(), 1 << 20, "test samples").unwrap();
            for t in [3_000, 1_000, 2_000] {
                log.put(&a, t, &Point { t, v: 1.0 }).unwrap();
                log.put(&b, t, &Point { t, v: 2.0 }).unwrap();
            }
            assert_eq!(log.expire(&a, 1_500).unwrap(), 1);
            log.flush().unwrap();
        }
        let log = SampleLog::<Point>::open(dir.path(), 1 << 20, "test samples").unwrap();
        let ts = |s: &Series, since| log.load(s, since).unwrap().iter().map(|p| (p.t, p.v)).collect::<Vec<_>>();
        assert_eq!(ts(&a, 0), [(2_000, 1.0), (3_000, 1.0)], "a prefix of another series' name is its own series");
        assert_eq!(ts(&b, 0), [(1_000, 2.0), (2_000, 2.0), (3_000, 2.0)]);
        assert_eq!(ts(&b, 2_000), [(2_000, 2.0), (3_000, 2.0)]);
    }

    #[test]
    fn the_only_series_keys_are_the_bare_time() {
        // The host's keys before the logs were one type: existing data directories must still load.
        assert_eq!(Series::only().key(258), 258u64.to_be_bytes().to_vec());
        assert_eq!(Series::named("db").key(1), [b'd', b'b', 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let dir = tempfile::tempdir().unwrap();
        let log = SampleLog::<Point>::open(dir.path(), 1 << 20, "test samples").unwrap();
        log.put(&Series::only(), 5, &Point { t: 5, v: 0.5 }).unwrap();
        log.samples.insert(b"junk", b"{not json").unwrap();
        assert_eq!(log.load(&Series::only(), 0).unwrap(), [Point { t: 5, v: 0.5 }], "unreadable values are skipped");
    }
}
