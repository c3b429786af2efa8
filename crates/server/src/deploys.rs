//! Which version of each service ran from when: learnt from the `service.version` resource attribute of
//! ingested spans, kept in `<data_dir>/deploys.json` (a handful of entries per service, rewritten only when
//! a new version appears), answered by `GET /api/v1/deploys`.
//!
//! Noting a version ([`DeployLog::note`]) only changes memory, so ingest can do it on the runtime; the file
//! is written by [`DeployLog::save`] on the blocking pool. Ingest saves before it answers a request that
//! taught the log something, so what a client was told is stored is in `deploys.json` too: like the spans, a
//! version acknowledged before a `kill -9` is there after the restart. The file is handed to the OS but not
//! fsynced (as before the log was split in two steps): a power cut may lose the newest versions, which costs
//! a deploy marker, not data, and is not worth an fsync on the ingest path.
//!
//! The verdicts of the deploy check ([`check`]) live beside it in `<data_dir>/deploy_checks.json`, written
//! once per verdict, so a deploy is checked once, across restarts, and `deploys.json` keeps its format.
//!
//! With `--config-db` the log lives in the shared PostgreSQL database instead ([`shared`]): memory is then
//! a copy that [`DeployLog::persist`] writes to and [`DeployLog::refresh`] reads back from (what the other
//! nodes noted), so every reader keeps its synchronous, in-memory [`DeployLog::list`].

pub mod check;
pub mod shared;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use sightline_model::{Deploy, DeployCheck};

use crate::blocking::assert_off_runtime;

/// Versions kept per service: enough for months of daily releases; the oldest go first.
const MAX_VERSIONS_PER_SERVICE: usize = 500;
/// Services tracked: a flood of made-up service names cannot grow the file without bound.
const MAX_SERVICES: usize = 2_000;

/// service → version → first seen (ms).
type Seen = BTreeMap<String, BTreeMap<String, i64>>;
/// service → version → the deploy check's verdict.
type Checks = BTreeMap<String, BTreeMap<String, DeployCheck>>;

/// First-seen time of every version of every service.
pub struct DeployLog {
    seen: Mutex<Seen>,
    /// Bumped (under `seen`'s lock) by every change in memory.
    changes: AtomicU64,
    checks: Mutex<Checks>,
    /// Where the log is kept: files in the data directory, or the shared configuration database.
    backing: Backing,
}

enum Backing {
    Files(Files),
    Shared(shared::SharedDeploys),
}

/// `deploys.json` and `deploy_checks.json` in the data directory.
struct Files {
    path: PathBuf,
    /// The value of `changes` the file holds.
    saved: AtomicU64,
    /// One writer of the file at a time (they share its temporary file).
    writer: Mutex<()>,
    /// `deploy_checks.json`.
    checks_path: PathBuf,
    /// One writer of `deploy_checks.json` at a time.
    checks_writer: Mutex<()>,
}

impl DeployLog {
    /// Reads `<dir>/deploys.json` and `<dir>/deploy_checks.json`; a missing file is empty, an unreadable one
    /// an error (not silently dropped history).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        assert_off_runtime();
        let path = dir.join("deploys.json");
        let seen: Seen = read_json(&path, "a deploy log")?;
        let checks_path = dir.join("deploy_checks.json");
        let checks: Checks = read_json(&checks_path, "a list of deploy checks")?;
        Ok(DeployLog {
            seen: Mutex::new(seen),
            changes: AtomicU64::new(0),
            checks: Mutex::new(checks),
            backing: Backing::Files(Files {
                path,
                saved: AtomicU64::new(0),
                writer: Mutex::new(()),
                checks_path,
                checks_writer: Mutex::new(()),
            }),
        })
    }

    /// The log in the shared configuration database (`--config-db`), read once now; see [`shared`].
    pub async fn open_shared(db: std::sync::Arc<crate::config_db::ConfigDb>) -> anyhow::Result<Self> {
        let log = DeployLog {
            seen: Mutex::default(),
            changes: AtomicU64::new(0),
            checks: Mutex::default(),
            backing: Backing::Shared(shared::SharedDeploys::new(db)),
        };
        log.refresh().await.map_err(|e| anyhow::anyhow!("reading the deploys: {e}"))?;
        Ok(log)
    }

    /// Notes that `service` ran `version` at `at_ms`, in memory only (one map lookup when nothing is new).
    /// A version seen for the first time, or earlier than before (spans can arrive out of order), makes the
    /// log [`unsaved`](DeployLog::unsaved).
    pub fn note(&self, service: &str, version: &str, at_ms: i64) {
        let mut seen = crate::sync::lock(&self.seen);
        if merge(&mut seen, service, version, at_ms) {
            if let Backing::Shared(s) = &self.backing {
                s.pending(service, version, at_ms);
            }
            self.changes.fetch_add(1, Ordering::Release);
        }
    }

    /// Whether memory holds changes the file (or the configuration database) does not. Cheap: two atomic
    /// loads, or one uncontended lock.
    pub fn unsaved(&self) -> bool {
        match &self.backing {
            Backing::Files(f) => self.changes.load(Ordering::Acquire) != f.saved.load(Ordering::Acquire),
            Backing::Shared(s) => s.unsaved(),
        }
    }

    /// Writes what memory learnt: [`DeployLog::save`] on the blocking pool for the files, the new versions
    /// for the configuration database (where several nodes may note the same one: the earliest sighting
    /// wins). What cannot be written stays pending for the next call.
    pub async fn persist(self: &std::sync::Arc<Self>) -> anyhow::Result<()> {
        match &self.backing {
            Backing::Files(_) => {
                let me = self.clone();
                crate::blocking::spawn("saving the deploy log", move || me.save()).await?
            }
            Backing::Shared(s) => Ok(s.flush().await?),
        }
    }

    /// Takes in what other nodes wrote to the configuration database (nothing to do with the files, which
    /// only this node writes).
    pub async fn refresh(&self) -> Result<(), crate::config_db::DbError> {
        let Backing::Shared(s) = &self.backing else { return Ok(()) };
        let (rows, verdicts) = s.read_all().await?;
        {
            let mut seen = crate::sync::lock(&self.seen);
            for (service, version, at_ms) in rows {
                merge(&mut seen, &service, &version, at_ms);
            }
        }
        let mut checks = crate::sync::lock(&self.checks);
        for (service, version, check) in verdicts {
            checks.entry(service).or_default().insert(version, check);
        }
        Ok(())
    }

    /// Records the deploy check's verdict: [`DeployLog::record_check`] on the blocking pool, or in the
    /// configuration database, where the first verdict stored for a deploy stays (two nodes may judge it).
    pub async fn record(self: &std::sync::Arc<Self>, service: &str, version: &str, check: DeployCheck) -> anyhow::Result<()> {
        match &self.backing {
            Backing::Files(_) => {
                let (me, service, version) = (self.clone(), service.to_string(), version.to_string());
                crate::blocking::spawn("recording a deploy check", move || me.record_check(&service, &version, check)).await?
            }
            Backing::Shared(s) => {
                let kept = s.record(service, version, check).await?;
                crate::sync::lock(&self.checks).entry(service.to_string()).or_default().insert(version.to_string(), kept);
                Ok(())
            }
        }
    }

    /// Writes the log to `deploys.json` if it changed since the last write (write-then-rename, so a crash
    /// never leaves half a file). Concurrent callers are serialised; one that finds its change already
    /// written by another returns at once. Touches the disk: call it on the blocking pool.
    /// With the configuration database there is no file: nothing to do ([`DeployLog::persist`] writes).
    pub fn save(&self) -> anyhow::Result<()> {
        assert_off_runtime();
        let Backing::Files(f) = &self.backing else { return Ok(()) };
        let _writer = crate::sync::lock(&f.writer);
        let (changes, bytes) = {
            let seen = crate::sync::lock(&self.seen);
            let changes = self.changes.load(Ordering::Acquire);
            if changes == f.saved.load(Ordering::Acquire) {
                return Ok(());
            }
            (changes, serde_json::to_vec(&*seen)?)
        };
        replace_file(&f.path, &bytes)?;
        f.saved.store(changes, Ordering::Release);
        Ok(())
    }

    /// Records the deploy check's verdict on `service` at `version` and writes `deploy_checks.json` (rare:
    /// once per deploy). Touches the disk: call it on the blocking pool. Files only: with the
    /// configuration database, [`DeployLog::record`].
    pub fn record_check(&self, service: &str, version: &str, check: DeployCheck) -> anyhow::Result<()> {
        assert_off_runtime();
        let Backing::Files(f) = &self.backing else {
            anyhow::bail!("the deploy log is in the configuration database: record verdicts with DeployLog::record")
        };
        let _writer = crate::sync::lock(&f.checks_writer);
        let bytes = {
            let mut checks = crate::sync::lock(&self.checks);
            checks.entry(service.to_string()).or_default().insert(version.to_string(), check);
            serde_json::to_vec(&*checks)?
        };
        replace_file(&f.checks_path, &bytes)
    }

    /// Version changes not checked yet, oldest first, each with the time the service's next version was
    /// first seen (which ends the span the check may look at).
    pub fn unchecked(&self) -> Vec<(Deploy, Option<i64>)> {
        let mut out: Vec<(Deploy, Option<i64>)> = Vec::new();
        for deploys in self.per_service(i64::MIN, i64::MAX, None) {
            let nexts: Vec<Option<i64>> = deploys.iter().skip(1).map(|d| Some(d.at_ms)).chain([None]).collect();
            out.extend(deploys.into_iter().zip(nexts).filter(|(d, _)| d.previous.is_some() && d.check.is_none()));
        }
        out.sort_by(|a, b| a.0.at_ms.cmp(&b.0.at_ms).then_with(|| a.0.service.cmp(&b.0.service)));
        out
    }

    /// Version changes in `[from, to]`, oldest first, optionally of one service. A service's first version
    /// is listed with `previous: None`.
    /// A checked deploy carries its verdict.
    pub fn list(&self, from: i64, to: i64, service: Option<&str>) -> Vec<Deploy> {
        let mut out: Vec<Deploy> = self.per_service(from, to, service).into_iter().flatten().collect();
        out.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.service.cmp(&b.service)));
        out
    }

    /// The versions of each service first seen in `[from, to]`, oldest first per service.
    fn per_service(&self, from: i64, to: i64, service: Option<&str>) -> Vec<Vec<Deploy>> {
        let seen = crate::sync::lock(&self.seen);
        let checks = crate::sync::lock(&self.checks);
        let mut out = Vec::new();
        for (svc, versions) in seen.iter().filter(|(s, _)| service.is_none_or(|x| x == s.as_str())) {
            let mut ordered: Vec<(&String, &i64)> = versions.iter().collect();
            ordered.sort_by_key(|(v, t)| (**t, (*v).clone()));
            let mut previous: Option<&String> = None;
            let mut deploys = Vec::new();
            for (version, at) in ordered {
                if (from..=to).contains(at) {
                    deploys.push(Deploy {
                        service: svc.clone(),
                        version: version.clone(),
                        at_ms: *at,
                        previous: previous.cloned(),
                        check: checks.get(svc).and_then(|c| c.get(version)).cloned(),
                    });
                }
                previous = Some(version);
            }
            out.push(deploys);
        }
        out
    }
}

/// Notes `service` ran `version` at `at_ms` in `seen`: whether that changed anything (a new version, or
/// one seen earlier than before). Bounded per service and in services.
fn merge(seen: &mut Seen, service: &str, version: &str, at_ms: i64) -> bool {
    if !seen.contains_key(service) && seen.len() >= MAX_SERVICES {
        return false;
    }
    let versions = seen.entry(service.to_string()).or_default();
    match versions.get_mut(version) {
        Some(t) if *t <= at_ms => return false,
        Some(t) => *t = at_ms,
        None => {
            versions.insert(version.to_string(), at_ms);
            if versions.len() > MAX_VERSIONS_PER_SERVICE {
                let oldest = versions.iter().min_by_key(|(_, t)| **t).map(|(v, _)| v.clone());
                if let Some(v) = oldest {
                    versions.remove(&v);
                }
            }
        }
    }
    true
}

/// How often a node writes what it noted and takes in what the others wrote, with `--config-db`.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// With `--config-db`: every [`SYNC_EVERY`], writes the sightings still pending (after a failure) and reads
/// the other nodes' sightings and verdicts, so every reader (charts, errors, metrics, alerts) sees them;
/// `GET /api/v1/deploys` also reads them itself. Nothing to do with the files. Stops with the runtime.
pub fn spawn_sync(log: std::sync::Arc<DeployLog>) {
    if !matches!(log.backing, Backing::Shared(_)) {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            let Backing::Shared(s) = &log.backing else { return };
            let synced = match s.flush().await {
                Ok(()) => log.refresh().await,
                Err(e) => Err(e),
            };
            // One line per outage, not one per tick.
            match (synced, failing) {
                (Ok(()), true) => {
                    tracing::info!("the deploys are in sync with the configuration database again");
                    failing = false;
                }
                (Err(e), false) => {
                    tracing::warn!(error = %e, "cannot sync the deploys with the configuration database; retrying");
                    failing = true;
                }
                _ => {}
            }
        }
    });
}

/// A JSON file's value; a missing file is the empty value, an unreadable one an error (not silently dropped
/// history).
fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path, what: &str) -> anyhow::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} is not {what}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves half a file.
fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_become_deploys_in_order_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = DeployLog::open(dir.path()).unwrap();
        assert!(!log.unsaved());
        log.note("payment", "3.0.1", 1_000);
        log.note("payment", "3.0.1", 1_500);
        log.note("payment", "3.1.0", 5_000);
        // Out of order: an earlier span of 3.1.0 moves its deploy back.
        log.note("payment", "3.1.0", 4_000);
        log.note("gateway", "1.2.0", 2_000);
        let all = log.list(0, 10_000, None);
        assert_eq!(all.len(), 3);
        assert_eq!((all[2].service.as_str(), all[2].version.as_str(), all[2].at_ms), ("payment", "3.1.0", 4_000));
        assert_eq!(all[2].previous.as_deref(), Some("3.0.1"));
        assert_eq!(all[0].previous, None, "the first version seen is not a deploy Sightline witnessed");
        assert_eq!(log.list(3_000, 10_000, Some("payment")).len(), 1);
        assert!(log.unsaved() && !dir.path().join("deploys.json").exists(), "noting writes nothing");
        log.save().unwrap();
        assert!(!log.unsaved());
        // Nothing new: no change, nothing to write.
        log.note("payment", "3.1.0", 4_500);
        assert!(!log.unsaved());
        drop(log);
        let again = DeployLog::open(dir.path()).unwrap();
        assert_eq!(again.list(0, 10_000, None), all);
    }

    #[test]
    fn concurrent_saves_leave_the_newest_log_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(DeployLog::open(dir.path()).unwrap());
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for v in 0..20 {
                        log.note(&format!("svc-{i}"), &format!("1.{v}"), v);
                        log.save().unwrap();
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        assert!(!log.unsaved());
        let again = DeployLog::open(dir.path()).unwrap();
        assert_eq!(again.list(0, 100, None).len(), 8 * 20);
    }

    #[test]
    fn unchecked_deploys_know_the_next_version_and_verdicts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = DeployLog::open(dir.path()).unwrap();
        log.note("payment", "3.0.1", 1_000);
        log.note("payment", "3.1.0", 5_000);
        log.note("payment", "3.1.1", 65_000);
        log.note("gateway", "1.2.0", 2_000);
        let pending: Vec<(String, Option<i64>)> = log.unchecked().into_iter().map(|(d, next)| (d.version, next)).collect();
        assert_eq!(pending, vec![("3.1.0".to_string(), Some(65_000)), ("3.1.1".to_string(), None)], "first versions are not deploys");
        let check = DeployCheck {
            before: Default::default(),
            after: Default::default(),
            window_ms: 60_000,
            enough_traffic: true,
            suspect: true,
            reasons: vec!["error rate 0.2 % → 38 % (+37.6 points)".into()],
            checked_at_ms: 95_000,
        };
        log.record_check("payment", "3.1.0", check.clone()).unwrap();
        assert_eq!(log.unchecked().len(), 1);
        log.save().unwrap();
        drop(log);
        let again = DeployLog::open(dir.path()).unwrap();
        let listed = again.list(0, 100_000, Some("payment"));
        assert_eq!(listed.iter().find(|d| d.version == "3.1.0").unwrap().check, Some(check));
        assert!(listed.iter().all(|d| d.version == "3.1.0" || d.check.is_none()));
        std::fs::write(dir.path().join("deploy_checks.json"), b"[").unwrap();
        assert!(DeployLog::open(dir.path()).is_err(), "lost verdicts would be checked again, wrongly");
    }

    #[test]
    fn a_corrupt_log_is_an_error_not_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deploys.json"), b"{not json").unwrap();
        assert!(DeployLog::open(dir.path()).is_err());
    }
}
