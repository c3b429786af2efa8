//! Alerting's state in the shared configuration database (`--config-db`), for several nodes: tables
//! `alert_rules`, `alert_channels` (with their secret URLs, as the fjall store keeps them), `alert_silences`,
//! `alert_instances`, `alert_events` and `alert_outbox` (created by [`crate::config_db`]). Documents are
//! the same JSON the fjall store keeps; event and outbox numbers come from `bigserial` columns.
//!
//! [`super::store::AlertStore`] keeps its memory mirror and calls these for every write (and for the
//! history and the outbox). Only the node holding the leader lock ([`super::leader`]) evaluates and
//! delivers, so rounds and deliveries have one writer; rule saves from any node are compare-and-set on the
//! rule's `version`.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use sightline_model::alert::{AlertEvent, AlertRule, Silence};
use tokio_postgres::Client;

use super::store::{group_key, OutboxItem, StoredChannel, StoredInstance, EVENT_MAX_AGE_MS, MAX_EVENTS, MAX_OUTBOX_PER_CHANNEL};
use crate::config_db::{ConfigDb, DbError};

/// Key of the advisory lock the leader holds on its own connection ("alerts").
const LEADER_LOCK: i64 = 0x616c_6572_7473;
/// Events read per query while paging through the history with a filter.
const EVENT_PAGE: i64 = 500;

/// Everything the memory mirror holds.
#[derive(Default)]
pub struct Loaded {
    pub rules: Vec<AlertRule>,
    pub channels: Vec<StoredChannel>,
    pub silences: Vec<Silence>,
    pub instances: Vec<StoredInstance>,
    /// (channel, seq) of every queued message.
    pub outbox: Vec<(String, u64)>,
}

/// What a committed round wrote: its events (numbered), the messages queued and the ones dropped.
pub struct RoundWritten {
    pub events: Vec<AlertEvent>,
    pub queued: Vec<(String, u64)>,
    pub dropped: Vec<(String, u64)>,
}

/// See the module docs.
pub struct SharedAlerts {
    pub db: Arc<ConfigDb>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Failed(format!("{what}: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str, what: &str) -> Result<T, DbError> {
    serde_json::from_str(doc).map_err(|e| failed(&format!("decoding a stored {what}"), e))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).context("encoding alert data").map_err(|e| failed("alert data", e))
}

fn seq(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SharedAlerts {
    /// Reads everything mirrored in memory; `with_state`: also the instances and the outbox (a follower,
    /// or a node taking the lead; the leader's own memory is newer than the table between its writes).
    pub async fn load(&self, with_state: bool) -> Result<Loaded, DbError> {
        let docs = self
            .db
            .with_conn("reading the alerts", move |c| {
                Box::pin(async move {
                    let tx = c.build_transaction().read_only(true).isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await?;
                    let col = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>();
                    let rules = col(tx.query("SELECT doc FROM alert_rules", &[]).await?);
                    let channels = col(tx.query("SELECT doc FROM alert_channels", &[]).await?);
                    let silences = col(tx.query("SELECT doc FROM alert_silences", &[]).await?);
                    let (instances, outbox) = match with_state {
                        true => (
                            col(tx.query("SELECT doc FROM alert_instances", &[]).await?),
                            tx.query("SELECT channel_id, seq FROM alert_outbox ORDER BY seq", &[])
                                .await?
                                .iter()
                                .map(|r| (r.get::<_, String>(0), seq(r.get(1))))
                                .collect(),
                        ),
                        false => (Vec::new(), Vec::new()),
                    };
                    tx.commit().await?;
                    Ok((rules, channels, silences, instances, outbox))
                })
            })
            .await?;
        let (rules, channels, silences, instances, outbox) = docs;
        Ok(Loaded {
            rules: rules.iter().map(|d| decode(d, "rule")).collect::<Result<_, _>>()?,
            channels: channels.iter().map(|d| decode(d, "channel")).collect::<Result<_, _>>()?,
            silences: silences.iter().map(|d| decode(d, "silence")).collect::<Result<_, _>>()?,
            instances: instances.iter().map(|d| decode(d, "alert instance")).collect::<Result<_, _>>()?,
            outbox,
        })
    }

    /// Writes rules (each only over an older version: a save based on a version another node replaced
    /// meanwhile is refused) and channels in one transaction. `Ok(Err(id))`: rule `id` was stale, nothing
    /// written.
    pub async fn put(&self, rules: &[AlertRule], channels: &[StoredChannel]) -> Result<Result<(), String>, DbError> {
        let rules: Vec<(String, i64, String)> =
            rules.iter().map(|r| Ok((r.id.clone(), i64::try_from(r.version).unwrap_or(i64::MAX), encode(r)?))).collect::<Result<_, DbError>>()?;
        let channels: Vec<(String, String)> = channels.iter().map(|c| Ok((c.id.clone(), encode(c)?))).collect::<Result<_, DbError>>()?;
        self.db
            .with_conn("saving alert rules", move |c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    for (id, doc) in &channels {
                        tx.execute(
                            "INSERT INTO alert_channels (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
                            &[id, doc],
                        )
                        .await?;
                    }
                    for (id, version, doc) in &rules {
                        let n = tx
                            .execute(
                                "INSERT INTO alert_rules (id, version, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE
                                 SET version = EXCLUDED.version, doc = EXCLUDED.doc WHERE alert_rules.version < EXCLUDED.version",
                                &[id, version, doc],
                            )
                            .await?;
                        if n == 0 {
                            tx.rollback().await?;
                            return Ok(Err(id.clone()));
                        }
                    }
                    tx.commit().await?;
                    Ok(Ok(()))
                })
            })
            .await
    }

    /// Deletes a rule and its instances: whether there was one.
    pub async fn delete_rule(&self, id: &str) -> Result<bool, DbError> {
        let id = id.to_string();
        self.db
            .with_conn("deleting an alert rule", move |c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    let n = tx.execute("DELETE FROM alert_rules WHERE id = $1", &[&id]).await?;
                    tx.execute("DELETE FROM alert_instances WHERE rule_id = $1", &[&id]).await?;
                    tx.commit().await?;
                    Ok(n > 0)
                })
            })
            .await
    }

    /// Deletes a channel and its queue: whether there was one.
    pub async fn delete_channel(&self, id: &str) -> Result<bool, DbError> {
        let id = id.to_string();
        self.db
            .with_conn("deleting an alert channel", move |c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    let n = tx.execute("DELETE FROM alert_channels WHERE id = $1", &[&id]).await?;
                    tx.execute("DELETE FROM alert_outbox WHERE channel_id = $1", &[&id]).await?;
                    tx.commit().await?;
                    Ok(n > 0)
                })
            })
            .await
    }

    /// Stores a silence, dropping `expired` ones in the same transaction.
    pub async fn put_silence(&self, s: &Silence, expired: Vec<String>) -> Result<(), DbError> {
        let (id, doc) = (s.id.clone(), encode(s)?);
        self.db
            .with_conn("saving a silence", move |c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    tx.execute("DELETE FROM alert_silences WHERE id = ANY($1)", &[&expired]).await?;
                    tx.execute("INSERT INTO alert_silences (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", &[&id, &doc])
                        .await?;
                    tx.commit().await
                })
            })
            .await
    }

    pub async fn delete_silence(&self, id: &str) -> Result<bool, DbError> {
        let id = id.to_string();
        self.db
            .with_conn("deleting a silence", move |c| {
                Box::pin(async move { Ok(c.execute("DELETE FROM alert_silences WHERE id = $1", &[&id]).await? > 0) })
            })
            .await
    }

    /// One evaluation's changes in one transaction (see `AlertStore::commit_round`); `None` when the rule
    /// was deleted meanwhile (nothing written).
    pub async fn commit_round(
        &self,
        rule_id: &str,
        upserts: &[StoredInstance],
        removes: &[BTreeMap<String, String>],
        events: Vec<AlertEvent>,
        outbox: Vec<OutboxItem>,
        now_ms: i64,
    ) -> Result<Option<RoundWritten>, DbError> {
        let rule_id = rule_id.to_string();
        let upserts: Vec<(String, String)> = upserts.iter().map(|i| Ok((group_key(&i.group), encode(i)?))).collect::<Result<_, DbError>>()?;
        let removes: Vec<String> = removes.iter().map(group_key).collect();
        let event_docs: Vec<String> = events.iter().map(encode).collect::<Result<_, _>>()?;
        let outbox_docs: Vec<(String, String)> = outbox.iter().map(|o| Ok((o.channel_id.clone(), encode(o)?))).collect::<Result<_, DbError>>()?;
        let written = self
            .db
            .with_conn("recording alert changes", move |c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    if tx.query_opt("SELECT 1 FROM alert_rules WHERE id = $1", &[&rule_id]).await?.is_none() {
                        return Ok(None);
                    }
                    for (key, doc) in &upserts {
                        tx.execute(
                            "INSERT INTO alert_instances (rule_id, group_key, doc) VALUES ($1, $2, $3)
                             ON CONFLICT (rule_id, group_key) DO UPDATE SET doc = EXCLUDED.doc",
                            &[&rule_id, key, doc],
                        )
                        .await?;
                    }
                    tx.execute("DELETE FROM alert_instances WHERE rule_id = $1 AND group_key = ANY($2)", &[&rule_id, &removes]).await?;
                    let mut seqs = Vec::new();
                    for (doc, e) in event_docs.iter().zip(&events) {
                        let row = tx.query_one("INSERT INTO alert_events (at_ms, doc) VALUES ($1, $2) RETURNING seq", &[&e.at_ms, doc]).await?;
                        seqs.push(seq(row.get(0)));
                    }
                    if !seqs.is_empty() {
                        // Bounded history: by count and by age.
                        tx.execute(
                            "DELETE FROM alert_events WHERE seq <= (SELECT max(seq) FROM alert_events) - $1 OR at_ms < $2",
                            &[&(MAX_EVENTS as i64), &(now_ms - EVENT_MAX_AGE_MS)],
                        )
                        .await?;
                    }
                    let mut queued = Vec::new();
                    for (channel, doc) in &outbox_docs {
                        let row = tx.query_one("INSERT INTO alert_outbox (channel_id, doc) VALUES ($1, $2) RETURNING seq", &[channel, doc]).await?;
                        queued.push((channel.clone(), seq(row.get(0))));
                    }
                    // Over a channel's bound: its oldest go, in the same transaction.
                    let mut dropped = Vec::new();
                    let mut channels: Vec<&String> = outbox_docs.iter().map(|(c, _)| c).collect();
                    channels.sort();
                    channels.dedup();
                    for channel in channels {
                        let rows = tx
                            .query(
                                "DELETE FROM alert_outbox WHERE seq IN (SELECT seq FROM alert_outbox WHERE channel_id = $1 ORDER BY seq DESC OFFSET $2)
                                 RETURNING seq",
                                &[channel, &(MAX_OUTBOX_PER_CHANNEL as i64)],
                            )
                            .await?;
                        dropped.extend(rows.iter().map(|r| (channel.clone(), seq(r.get(0)))));
                    }
                    tx.commit().await?;
                    Ok(Some((seqs, queued, dropped, events)))
                })
            })
            .await?;
        Ok(written.map(|(seqs, queued, dropped, mut events)| {
            for (e, s) in events.iter_mut().zip(seqs) {
                e.seq = s;
            }
            RoundWritten { events, queued, dropped }
        }))
    }

    /// The oldest `limit` queued messages of a channel.
    pub async fn queued(&self, channel_id: &str, limit: usize) -> Result<Vec<OutboxItem>, DbError> {
        let id = channel_id.to_string();
        let rows: Vec<(i64, String)> = self
            .db
            .with_conn("reading the alert outbox", move |c| {
                Box::pin(async move {
                    let rows = c.query("SELECT seq, doc FROM alert_outbox WHERE channel_id = $1 ORDER BY seq LIMIT $2", &[&id, &(limit as i64)]).await?;
                    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            })
            .await?;
        rows.iter()
            .map(|(s, doc)| {
                let mut item: OutboxItem = decode(doc, "queued message")?;
                item.seq = seq(*s);
                Ok(item)
            })
            .collect()
    }

    pub async fn delivered(&self, channel_id: &str, seqs: &[u64]) -> Result<(), DbError> {
        let id = channel_id.to_string();
        let seqs: Vec<i64> = seqs.iter().map(|s| *s as i64).collect();
        self.db
            .with_conn("removing delivered alerts", move |c| {
                Box::pin(async move { c.execute("DELETE FROM alert_outbox WHERE channel_id = $1 AND seq = ANY($2)", &[&id, &seqs]).await.map(|_| ()) })
            })
            .await
    }

    /// Events with `seq < before`, newest first, one page.
    pub async fn events_before(&self, before: u64) -> Result<Vec<AlertEvent>, DbError> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = self
            .db
            .with_conn("reading the alert history", move |c| {
                Box::pin(async move {
                    let rows = c.query("SELECT seq, doc FROM alert_events WHERE seq < $1 ORDER BY seq DESC LIMIT $2", &[&before, &EVENT_PAGE]).await?;
                    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            })
            .await?;
        rows.iter()
            .map(|(s, doc)| {
                let mut e: AlertEvent = decode(doc, "event")?;
                e.seq = seq(*s);
                Ok(e)
            })
            .collect()
    }

    /// Tries to become the leader: a connection of its own holding the advisory lock (released by
    /// PostgreSQL when the connection ends, so another node takes over when this one dies).
    pub async fn try_lead(&self) -> Result<Option<Client>, DbError> {
        let client = self.db.dedicated().await?;
        let got = self.db.within("taking the alert leader lock", client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])).await?;
        Ok(got.get::<_, bool>(0).then_some(client))
    }

    /// Whether the leader's connection (and so its lock) is still there.
    pub async fn still_leading(&self, client: &Client) -> bool {
        !client.is_closed() && self.db.within("checking the alert leader lock", client.simple_query("SELECT 1")).await.is_ok()
    }
}
