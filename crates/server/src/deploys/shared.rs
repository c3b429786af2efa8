//! The deploy log in the shared configuration database (`--config-db`): tables `deploys` (`service`,
//! `version`, `first_seen_ms`) and `deploy_checks` (`service`, `version`, `verdict`: the check's JSON),
//! created by [`crate::config_db`].
//!
//! Several nodes ingest the same services, so several may see a new version at once: a sighting is an
//! upsert (`INSERT … ON CONFLICT (service, version) DO UPDATE … WHERE` the new sighting is earlier), so the
//! row ends with the earliest time any node saw, whatever the order of their writes; a sighting that is not
//! earlier changes nothing (`DO NOTHING`'s effect, plus out-of-order spans moving a deploy back as the file
//! log does). A verdict is `INSERT … ON CONFLICT DO NOTHING`: two nodes may judge the same deploy, the first
//! verdict stored is the one every node shows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sightline_model::DeployCheck;

use crate::config_db::{ConfigDb, DbError};

/// What [`SharedDeploys::read_all`] answers: every sighting, every verdict.
pub type Everything = (Vec<(String, String, i64)>, Vec<(String, String, DeployCheck)>);

/// See the module docs.
pub struct SharedDeploys {
    db: Arc<ConfigDb>,
    /// Sightings noted in memory and not written yet: (service, version) → earliest time.
    pending: Mutex<BTreeMap<(String, String), i64>>,
    /// One writer at a time, so a caller that finds its sightings taken by another writer returns only
    /// after that writer finished (what ingest acknowledged is in the database).
    writer: tokio::sync::Mutex<()>,
    /// After a failed write, ingest stops trying until then (the periodic sync keeps trying), so an outage
    /// of the configuration database does not cost every ingest request a connection attempt.
    quiet_until: Mutex<Option<Instant>>,
}

/// How long ingest leaves the writing to the periodic sync after a failure.
const QUIET_AFTER_FAILURE: Duration = Duration::from_secs(5);

impl SharedDeploys {
    pub fn new(db: Arc<ConfigDb>) -> Self {
        SharedDeploys { db, pending: Mutex::default(), writer: tokio::sync::Mutex::new(()), quiet_until: Mutex::new(None) }
    }

    /// Queues a sighting for the next [`SharedDeploys::flush`].
    pub fn pending(&self, service: &str, version: &str, at_ms: i64) {
        let mut p = crate::sync::lock(&self.pending);
        let t = p.entry((service.to_string(), version.to_string())).or_insert(at_ms);
        *t = (*t).min(at_ms);
    }

    /// Whether sightings wait to be written and ingest should try now (not shortly after a failure).
    pub fn unsaved(&self) -> bool {
        let quiet = crate::sync::lock(&self.quiet_until).is_some_and(|t| Instant::now() < t);
        !quiet && !crate::sync::lock(&self.pending).is_empty()
    }

    /// Writes the queued sightings in one statement; on failure they stay queued.
    pub async fn flush(&self) -> Result<(), DbError> {
        let _writer = self.writer.lock().await;
        let batch = std::mem::take(&mut *crate::sync::lock(&self.pending));
        if batch.is_empty() {
            return Ok(());
        }
        let (mut services, mut versions, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for ((s, v), t) in &batch {
            services.push(s.clone());
            versions.push(v.clone());
            times.push(*t);
        }
        let written = self
            .db
            .with_conn("writing deploys", move |c| {
                Box::pin(async move {
                    c.execute(
                        "INSERT INTO deploys (service, version, first_seen_ms)
                         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
                         ON CONFLICT (service, version) DO UPDATE SET first_seen_ms = EXCLUDED.first_seen_ms
                         WHERE EXCLUDED.first_seen_ms < deploys.first_seen_ms",
                        &[&services, &versions, &times],
                    )
                    .await
                })
            })
            .await;
        if let Err(e) = written {
            let mut p = crate::sync::lock(&self.pending);
            for (k, t) in batch {
                let e = p.entry(k).or_insert(t);
                *e = (*e).min(t);
            }
            *crate::sync::lock(&self.quiet_until) = Some(Instant::now() + QUIET_AFTER_FAILURE);
            return Err(e);
        }
        *crate::sync::lock(&self.quiet_until) = None;
        Ok(())
    }

    /// Every sighting and verdict every node wrote.
    pub async fn read_all(&self) -> Result<Everything, DbError> {
        let (rows, checks) = self
            .db
            .with_conn("reading deploys", move |c| {
                Box::pin(async move {
                    let rows = c.query("SELECT service, version, first_seen_ms FROM deploys", &[]).await?;
                    let checks = c.query("SELECT service, version, verdict FROM deploy_checks", &[]).await?;
                    let rows: Vec<(String, String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
                    let checks: Vec<(String, String, String)> = checks.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
                    Ok((rows, checks))
                })
            })
            .await?;
        let checks = checks
            .into_iter()
            .map(|(s, v, json)| match serde_json::from_str(&json) {
                Ok(check) => Ok((s, v, check)),
                Err(e) => Err(DbError::Failed(format!("the deploy check of {s} {v} is not a verdict: {e}"))),
            })
            .collect::<Result<_, _>>()?;
        Ok((rows, checks))
    }

    /// Stores a verdict unless one is stored already; answers the verdict that is stored now.
    pub async fn record(&self, service: &str, version: &str, check: DeployCheck) -> Result<DeployCheck, DbError> {
        let json = serde_json::to_string(&check).map_err(|e| DbError::Failed(format!("encoding a deploy check: {e}")))?;
        let (s, v) = (service.to_string(), version.to_string());
        let kept: Option<String> = self
            .db
            .with_conn("recording a deploy check", move |c| {
                Box::pin(async move {
                    let n = c
                        .execute(
                            "INSERT INTO deploy_checks (service, version, verdict) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            &[&s, &v, &json],
                        )
                        .await?;
                    match n {
                        1 => Ok(None),
                        _ => Ok(c.query_opt("SELECT verdict FROM deploy_checks WHERE service = $1 AND version = $2", &[&s, &v]).await?.map(|r| r.get(0))),
                    }
                })
            })
            .await?;
        match kept {
            None => Ok(check),
            Some(json) => serde_json::from_str(&json).map_err(|e| DbError::Failed(format!("the stored deploy check is not a verdict: {e}"))),
        }
    }
}
