//! Alerting's durable state, in its own fjall database `<data_dir>/alerts` (like the boards: a few small
//! documents, apart from the trace store's retention and budget). Keyspaces:
//!
//! - `rules`: id → [`AlertRule`] JSON;
//! - `channels`: id → [`StoredChannel`] JSON (the URL, a secret, lives only here and in memory);
//! - `silences`: id → [`Silence`] JSON (expired ones are dropped a day after they end);
//! - `instances`: `rule_id ‖ 0x00 ‖ group labels JSON` → [`StoredInstance`]: a restart keeps firing and
//!   pending states (and whether a message went out), so it neither re-sends nor forgets;
//! - `events`: seq (u64 BE) → [`AlertEvent`], the history, bounded ([`MAX_EVENTS`], [`EVENT_MAX_AGE_MS`]);
//! - `outbox`: `channel_id ‖ 0x00 ‖ seq (u64 BE)` → [`OutboxItem`], the delivery queue: written in the same
//!   batch as the state change that caused it, removed only after the receiver answered 2xx.
//!
//! Every write is one batch, fsynced before it returns, under one lock. Rules, channels, silences and
//! instances are mirrored in memory (read by every page's top-bar poll, and by each evaluation), so reads
//! never touch the disk; events and the outbox are read from disk: call those (and every write) through
//! [`crate::blocking::run`].
//!
//! With `--config-db` the same state lives in the shared PostgreSQL database instead ([`super::shared`]):
//! writes go there (from the blocking pool, waiting on the runtime's handle), memory is refreshed from it
//! (every node sees the rules, channels and silences saved on any node), and only the leader
//! ([`super::leader`]) evaluates, writes rounds and delivers.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};
use sightline_model::alert::{AlertEvent, AlertInstance, AlertRule, AlertState, ChannelKind, Silence, WebhookAlert};

use super::shared::{Loaded, SharedAlerts};
use crate::blocking;
use crate::config_db::DbError;
use crate::error::AppError;
use crate::sync;

/// History kept: at most this many events …
pub const MAX_EVENTS: u64 = 100_000;
/// … and none older than 30 days.
pub const EVENT_MAX_AGE_MS: i64 = 30 * 86_400_000;
/// Undelivered messages kept per channel; past it the oldest are dropped (counted and logged).
pub const MAX_OUTBOX_PER_CHANNEL: usize = 1000;
/// Expired silences are kept this long (the history still names them), then dropped.
const SILENCE_KEEP_MS: i64 = 86_400_000;

/// A channel as stored: with its URL (never sent to a client; see [`sightline_model::alert::Channel`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChannel {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// `None` for a channel created by an import until an admin sets it.
    #[serde(default)]
    pub url: Option<String>,
}

/// An alert instance with what the evaluator needs beyond what the API shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInstance {
    pub instance: AlertInstance,
    /// The group's own labels (`group_by` values): the instance's identity within its rule.
    pub group: BTreeMap<String, String>,
    /// A firing message was queued for the current firing: only then is its resolve sent.
    #[serde(default)]
    pub notified: bool,
    /// When the current (or last) firing started.
    #[serde(default)]
    pub firing_since: Option<i64>,
}

/// One queued message part: an alert's change for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub seq: u64,
    pub channel_id: String,
    pub queued_ms: i64,
    pub alert: WebhookAlert,
}

/// What one evaluation of a rule changed, written as one batch.
#[derive(Debug, Default)]
pub struct Round {
    pub rule_id: String,
    /// Instances to write (changed state, or new).
    pub upserts: Vec<StoredInstance>,
    /// Groups that no longer exist.
    pub removes: Vec<BTreeMap<String, String>>,
    /// State changes (their `seq` is assigned here).
    pub events: Vec<AlertEvent>,
    /// Messages to queue: `(channel id, alert)`.
    pub outbox: Vec<(String, WebhookAlert)>,
}

/// What a committed round queued, for the deliverer.
#[derive(Debug, Default)]
pub struct Committed {
    /// Channels that got something to send.
    pub channels: Vec<String>,
    /// Queued messages dropped because a channel's backlog was full.
    pub dropped: usize,
    pub events: Vec<AlertEvent>,
}

#[derive(Default)]
struct Mem {
    rules: BTreeMap<String, AlertRule>,
    channels: BTreeMap<String, StoredChannel>,
    silences: BTreeMap<String, Silence>,
    /// rule id → group key → instance.
    instances: HashMap<String, BTreeMap<String, StoredInstance>>,
    /// channel id → queued seqs, oldest first.
    outbox: HashMap<String, std::collections::VecDeque<u64>>,
}

/// See the module docs.
pub struct AlertStore {
    backing: Backing,
    write: Mutex<()>,
    mem: RwLock<Mem>,
    next_event: Mutex<u64>,
    next_outbox: Mutex<u64>,
    /// Bumped by every local write, so a refresh that read the database before a write does not put the
    /// older state back in memory ([`AlertStore::refresh`]).
    generation: AtomicU64,
    /// This node evaluates and delivers (with `--config-db`, the leader; otherwise always).
    leading: AtomicBool,
}

enum Backing {
    Fjall(Fjall),
    /// The shared configuration database (`--config-db`); see [`super::shared`].
    Shared(SharedAlerts),
}

/// `<data_dir>/alerts`.
struct Fjall {
    db: Database,
    rules: Keyspace,
    channels: Keyspace,
    silences: Keyspace,
    instances: Keyspace,
    events: Keyspace,
    outbox: Keyspace,
}

impl Fjall {
    fn persist(&self) -> anyhow::Result<()> {
        self.db.persist(PersistMode::SyncAll).context("persisting the alert database")
    }
}

/// Runs a configuration database call from the blocking pool (where every write of this store runs).
fn wait<T>(f: impl std::future::Future<Output = Result<T, DbError>>) -> anyhow::Result<T> {
    Ok(tokio::runtime::Handle::current().block_on(f)?)
}

/// The configuration database's error as the handlers answer it (503 when it cannot be reached).
fn app_error(e: DbError) -> AppError {
    e.into()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("decoding a stored {what}"))
}

fn encode<T: Serialize>(v: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(v).context("encoding alert data")
}

/// The key of a group within its rule: its labels as JSON (a `BTreeMap`, so always in the same order).
pub fn group_key(group: &BTreeMap<String, String>) -> String {
    serde_json::to_string(group).unwrap_or_default()
}

fn instance_key(rule_id: &str, group: &BTreeMap<String, String>) -> Vec<u8> {
    let mut k = rule_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(group_key(group).as_bytes());
    k
}

fn prefix(id: &str) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.push(0);
    k
}

fn outbox_key(channel_id: &str, seq: u64) -> Vec<u8> {
    let mut k = prefix(channel_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl Mem {
    fn from_loaded(l: Loaded) -> Mem {
        let mut mem = Mem {
            rules: l.rules.into_iter().map(|r| (r.id.clone(), r)).collect(),
            channels: l.channels.into_iter().map(|c| (c.id.clone(), c)).collect(),
            silences: l.silences.into_iter().map(|s| (s.id.clone(), s)).collect(),
            ..Mem::default()
        };
        for i in l.instances {
            mem.instances.entry(i.instance.rule_id.clone()).or_default().insert(group_key(&i.group), i);
        }
        for (c, seq) in l.outbox {
            mem.outbox.entry(c).or_default().push_back(seq);
        }
        mem
    }
}

impl AlertStore {
    fn with_backing(backing: Backing, mem: Mem) -> Self {
        AlertStore {
            backing,
            write: Mutex::new(()),
            mem: RwLock::new(mem),
            next_event: Mutex::new(1),
            next_outbox: Mutex::new(1),
            generation: AtomicU64::new(0),
            leading: AtomicBool::new(true),
        }
    }

    /// Opens (or creates) the store in `dir` and loads what is mirrored in memory.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let db = crate::store::open_side_database(dir, 4 * 1024 * 1024, "alert")?;
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default).with_context(|| format!("keyspace {name}"));
        let f = Fjall {
            rules: ks("rules")?,
            channels: ks("channels")?,
            silences: ks("silences")?,
            instances: ks("instances")?,
            events: ks("events")?,
            outbox: ks("outbox")?,
            db,
        };
        let mut mem = Mem::default();
        for kv in f.rules.iter() {
            let (_, v) = kv.into_inner()?;
            let r: AlertRule = decode(&v, "rule")?;
            mem.rules.insert(r.id.clone(), r);
        }
        for kv in f.channels.iter() {
            let (_, v) = kv.into_inner()?;
            let c: StoredChannel = decode(&v, "channel")?;
            mem.channels.insert(c.id.clone(), c);
        }
        for kv in f.silences.iter() {
            let (_, v) = kv.into_inner()?;
            let s: Silence = decode(&v, "silence")?;
            mem.silences.insert(s.id.clone(), s);
        }
        for kv in f.instances.iter() {
            let (_, v) = kv.into_inner()?;
            let i: StoredInstance = decode(&v, "alert instance")?;
            mem.instances.entry(i.instance.rule_id.clone()).or_default().insert(group_key(&i.group), i);
        }
        let mut next_outbox = 1;
        for kv in f.outbox.iter() {
            let (_, v) = kv.into_inner()?;
            let o: OutboxItem = decode(&v, "queued message")?;
            next_outbox = next_outbox.max(o.seq + 1);
            mem.outbox.entry(o.channel_id.clone()).or_default().push_back(o.seq);
        }
        for q in mem.outbox.values_mut() {
            q.make_contiguous().sort_unstable();
        }
        let next_event = match f.events.last_key_value() {
            Some(kv) => u64::from_be_bytes(kv.key()?.as_ref().try_into().context("an event key is not a seq")?) + 1,
            None => 1,
        };
        let store = Self::with_backing(Backing::Fjall(f), mem);
        *sync::lock(&store.next_event) = next_event;
        *sync::lock(&store.next_outbox) = next_outbox;
        Ok(store)
    }

    /// The store in the shared configuration database (`--config-db`), read now. It starts as a follower:
    /// [`super::leader`] makes it the leader when it holds the lock.
    pub async fn open_shared(db: std::sync::Arc<crate::config_db::ConfigDb>) -> anyhow::Result<Self> {
        let shared = SharedAlerts { db };
        let loaded = shared.load(true).await.map_err(|e| anyhow::anyhow!("reading the alerts: {e}"))?;
        let store = Self::with_backing(Backing::Shared(shared), Mem::from_loaded(loaded));
        store.leading.store(false, Ordering::Release);
        Ok(store)
    }

    /// The shared database's side, when there is one.
    pub fn shared(&self) -> Option<&SharedAlerts> {
        match &self.backing {
            Backing::Shared(s) => Some(s),
            Backing::Fjall(_) => None,
        }
    }

    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// With `--config-db`: takes in what other nodes wrote. Rules, channels and silences always; instances
    /// and the outbox only on a follower (`leading` false) or when `taking_over` (the leader's own memory is
    /// the newest state between its writes). Answers the rules before and after, so the leader can restart
    /// the evaluation of those that changed. Nothing to do for the fjall store.
    pub async fn refresh(&self, taking_over: bool) -> Result<Option<(Vec<AlertRule>, Vec<AlertRule>)>, DbError> {
        let Backing::Shared(s) = &self.backing else { return Ok(None) };
        let with_state = taking_over || !self.leading();
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = s.load(with_state).await?;
        // On the runtime: never wait for a writer (it may be waiting on the database); a write in progress
        // makes this read stale anyway, and the next refresh takes it in.
        let _w = match self.write.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        if self.generation.load(Ordering::Acquire) != generation {
            // A local write landed meanwhile: this read may predate it; the next refresh takes it in.
            return Ok(None);
        }
        let mut fresh = Mem::from_loaded(loaded);
        let mut mem = sync::write(&self.mem);
        if !with_state {
            fresh.instances = std::mem::take(&mut mem.instances);
            fresh.outbox = std::mem::take(&mut mem.outbox);
        }
        let before: Vec<AlertRule> = mem.rules.values().cloned().collect();
        let after: Vec<AlertRule> = fresh.rules.values().cloned().collect();
        *mem = fresh;
        if taking_over {
            self.leading.store(true, Ordering::Release);
        }
        Ok(Some((before, after)))
    }

    /// This node stops evaluating (it lost the leader lock): from now on its memory follows the database.
    pub fn follow(&self) {
        self.leading.store(false, Ordering::Release);
    }

    fn wrote(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    // ---- reads from memory (cheap, fine on the runtime) ----

    pub fn rules(&self) -> Vec<AlertRule> {
        sync::read(&self.mem).rules.values().cloned().collect()
    }

    pub fn rule(&self, id: &str) -> Option<AlertRule> {
        sync::read(&self.mem).rules.get(id).cloned()
    }

    pub fn channels(&self) -> Vec<StoredChannel> {
        sync::read(&self.mem).channels.values().cloned().collect()
    }

    pub fn channel(&self, id: &str) -> Option<StoredChannel> {
        sync::read(&self.mem).channels.get(id).cloned()
    }

    pub fn silences(&self) -> Vec<Silence> {
        sync::read(&self.mem).silences.values().cloned().collect()
    }

    /// A rule's instances, by group key.
    pub fn instances(&self, rule_id: &str) -> BTreeMap<String, StoredInstance> {
        sync::read(&self.mem).instances.get(rule_id).cloned().unwrap_or_default()
    }

    /// Every rule's instances (for the overview and the top bar).
    pub fn all_instances(&self) -> HashMap<String, Vec<AlertInstance>> {
        sync::read(&self.mem)
            .instances
            .iter()
            .map(|(r, m)| (r.clone(), m.values().map(|i| i.instance.clone()).collect()))
            .collect()
    }

    /// Queued messages per channel.
    pub fn pending(&self, channel_id: &str) -> usize {
        sync::read(&self.mem).outbox.get(channel_id).map_or(0, |q| q.len())
    }

    /// Channels with something queued.
    pub fn channels_with_pending(&self) -> Vec<String> {
        sync::read(&self.mem).outbox.iter().filter(|(_, q)| !q.is_empty()).map(|(c, _)| c.clone()).collect()
    }

    /// Updates the last value of instances without a state change (not written: a restart shows the value of
    /// the last change until the next evaluation).
    pub fn touch(&self, rule_id: &str, updates: Vec<StoredInstance>) {
        let mut mem = sync::write(&self.mem);
        if !mem.rules.contains_key(rule_id) {
            return;
        }
        let m = mem.instances.entry(rule_id.to_string()).or_default();
        for i in updates {
            m.insert(group_key(&i.group), i);
        }
    }

    // ---- writes ----

    /// Writes rules and channels (import) in one batch, for a caller holding [`AlertStore::locked`]: the
    /// caller checked them. With `--config-db`, a rule another node saved meanwhile (its stored version is
    /// not older) is a 409 and nothing is written.
    pub fn put_rules_unlocked(&self, rules: &[AlertRule], channels: &[StoredChannel]) -> Result<(), AppError> {
        blocking::assert_off_runtime();
        match &self.backing {
            Backing::Fjall(f) => {
                let mut batch = f.db.batch();
                for c in channels {
                    batch.insert(&f.channels, c.id.as_str(), encode(c)?);
                }
                for r in rules {
                    batch.insert(&f.rules, r.id.as_str(), encode(r)?);
                }
                batch.commit().map_err(anyhow::Error::from)?;
                f.persist()?;
            }
            Backing::Shared(s) => {
                if let Err(id) = tokio::runtime::Handle::current().block_on(s.put(rules, channels)).map_err(app_error)? {
                    return Err(AppError::Conflict(format!(
                        "rule {id:?} was changed by someone else (on another node) meanwhile; reload it and edit again"
                    )));
                }
                self.wrote();
            }
        }
        let mut mem = sync::write(&self.mem);
        for c in channels {
            mem.channels.insert(c.id.clone(), c.clone());
        }
        for r in rules {
            mem.rules.insert(r.id.clone(), r.clone());
        }
        Ok(())
    }

    /// Runs `f` under the write lock, so a check and the write it allows (a version check, a free id) cannot
    /// interleave with another write.
    pub fn locked<T>(&self, f: impl FnOnce() -> T) -> T {
        let _w = sync::lock(&self.write);
        f()
    }

    /// Writes one rule, for a caller holding [`AlertStore::locked`].
    pub fn put_rule_unlocked(&self, rule: &AlertRule) -> Result<(), AppError> {
        self.put_rules_unlocked(std::slice::from_ref(rule), &[])
    }

    /// Writes one channel, for a caller holding [`AlertStore::locked`].
    pub fn put_channel_unlocked(&self, c: &StoredChannel) -> Result<(), AppError> {
        self.put_rules_unlocked(&[], std::slice::from_ref(c))
    }

    /// Deletes a rule and its instances (its history stays). `false` if there was none.
    pub fn delete_rule(&self, id: &str) -> anyhow::Result<bool> {
        let forget = |mem: &mut Mem| {
            mem.rules.remove(id);
            mem.instances.remove(id);
        };
        match &self.backing {
            Backing::Fjall(f) => self.delete_with_children(f, &f.rules, &f.instances, id, forget),
            Backing::Shared(s) => self.delete_shared(wait(s.delete_rule(id))?, forget),
        }
    }

    /// Deletes a channel and its queue. `false` if there was none.
    pub fn delete_channel(&self, id: &str) -> anyhow::Result<bool> {
        let forget = |mem: &mut Mem| {
            mem.channels.remove(id);
            mem.outbox.remove(id);
        };
        match &self.backing {
            Backing::Fjall(f) => self.delete_with_children(f, &f.channels, &f.outbox, id, forget),
            Backing::Shared(s) => self.delete_shared(wait(s.delete_channel(id))?, forget),
        }
    }

    fn delete_shared(&self, existed: bool, forget: impl FnOnce(&mut Mem)) -> anyhow::Result<bool> {
        let _w = sync::lock(&self.write);
        self.wrote();
        forget(&mut sync::write(&self.mem));
        Ok(existed)
    }

    /// Removes `id` from `main` and every key under `id`'s prefix from `children` in one fsynced batch, then
    /// from memory (`forget`). `false` if `main` had no `id`.
    fn delete_with_children(
        &self,
        f: &Fjall,
        main: &Keyspace,
        children: &Keyspace,
        id: &str,
        forget: impl FnOnce(&mut Mem),
    ) -> anyhow::Result<bool> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        if !main.contains_key(id)? {
            return Ok(false);
        }
        let mut batch = f.db.batch();
        batch.remove(main, id);
        for kv in children.prefix(prefix(id)) {
            batch.remove(children, kv.key()?);
        }
        batch.commit()?;
        f.persist()?;
        forget(&mut sync::write(&self.mem));
        Ok(true)
    }

    /// Stores a silence; silences that ended more than a day before `now_ms` are dropped in the same batch.
    pub fn put_silence(&self, s: &Silence, now_ms: i64) -> anyhow::Result<()> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        let old: Vec<String> = sync::read(&self.mem)
            .silences
            .values()
            .filter(|o| o.until_ms < now_ms - SILENCE_KEEP_MS)
            .map(|o| o.id.clone())
            .collect();
        match &self.backing {
            Backing::Fjall(f) => {
                let mut batch = f.db.batch();
                for id in &old {
                    batch.remove(&f.silences, id.as_str());
                }
                batch.insert(&f.silences, s.id.as_str(), encode(s)?);
                batch.commit()?;
                f.persist()?;
            }
            Backing::Shared(shared) => {
                wait(shared.put_silence(s, old.clone()))?;
                self.wrote();
            }
        }
        let mut mem = sync::write(&self.mem);
        for id in &old {
            mem.silences.remove(id);
        }
        mem.silences.insert(s.id.clone(), s.clone());
        Ok(())
    }

    pub fn delete_silence(&self, id: &str) -> anyhow::Result<bool> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        match &self.backing {
            Backing::Fjall(f) => {
                if !f.silences.contains_key(id)? {
                    return Ok(false);
                }
                f.silences.remove(id)?;
                f.persist()?;
            }
            Backing::Shared(s) => {
                let existed = wait(s.delete_silence(id))?;
                self.wrote();
                sync::write(&self.mem).silences.remove(id);
                return Ok(existed);
            }
        }
        sync::write(&self.mem).silences.remove(id);
        Ok(true)
    }

    /// Writes one evaluation's changes: instances, events (numbered here) and queued messages, in one fsynced
    /// batch (or one transaction), so a message is durable before anyone tries to send it and a restart never
    /// sends it twice from a state it forgot. A round of a rule deleted meanwhile is dropped.
    pub fn commit_round(&self, round: Round, now_ms: i64) -> anyhow::Result<Committed> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        if !sync::read(&self.mem).rules.contains_key(&round.rule_id) {
            return Ok(Committed::default());
        }
        let (events, queued, dropped_keys) = match &self.backing {
            Backing::Fjall(f) => self.commit_round_fjall(f, &round, round.events.clone(), &round.outbox, now_ms)?,
            Backing::Shared(s) => {
                let outbox: Vec<OutboxItem> = round
                    .outbox
                    .iter()
                    .map(|(c, alert)| OutboxItem { seq: 0, channel_id: c.clone(), queued_ms: now_ms, alert: alert.clone() })
                    .collect();
                let written = wait(s.commit_round(&round.rule_id, &round.upserts, &round.removes, round.events.clone(), outbox, now_ms))?;
                self.wrote();
                match written {
                    Some(w) => (w.events, w.queued, w.dropped),
                    None => return Ok(Committed::default()),
                }
            }
        };
        let mut mem = sync::write(&self.mem);
        let m = mem.instances.entry(round.rule_id.clone()).or_default();
        for g in &round.removes {
            m.remove(&group_key(g));
        }
        for i in round.upserts {
            m.insert(group_key(&i.group), i);
        }
        let mut channels: Vec<String> = Vec::new();
        for (c, seq) in queued {
            mem.outbox.entry(c.clone()).or_default().push_back(seq);
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        for (c, seq) in &dropped_keys {
            if let Some(q) = mem.outbox.get_mut(c) {
                q.retain(|s| s != seq);
            }
        }
        Ok(Committed { channels, dropped: dropped_keys.len(), events })
    }

    /// [`AlertStore::commit_round`]'s batch in fjall: the numbered events, the queued and the dropped
    /// messages.
    #[allow(clippy::type_complexity)]
    fn commit_round_fjall(
        &self,
        f: &Fjall,
        round: &Round,
        mut events: Vec<AlertEvent>,
        outbox: &[(String, WebhookAlert)],
        now_ms: i64,
    ) -> anyhow::Result<(Vec<AlertEvent>, Vec<(String, u64)>, Vec<(String, u64)>)> {
        let mut batch = f.db.batch();
        for i in &round.upserts {
            batch.insert(&f.instances, instance_key(&round.rule_id, &i.group), encode(i)?);
        }
        for g in &round.removes {
            batch.remove(&f.instances, instance_key(&round.rule_id, g));
        }
        let mut next_event = sync::lock(&self.next_event);
        for e in &mut events {
            e.seq = *next_event;
            *next_event += 1;
            batch.insert(&f.events, e.seq.to_be_bytes(), encode(e)?);
        }
        // Bounded history: by count (keys are dense seqs) and by age (oldest first).
        if !events.is_empty() && *next_event > MAX_EVENTS + 1 {
            let keep_from = *next_event - MAX_EVENTS;
            for kv in f.events.range(..keep_from.to_be_bytes()).take(1000) {
                batch.remove(&f.events, kv.key()?);
            }
        }
        if !events.is_empty() {
            for kv in f.events.iter().take(100) {
                let (k, v) = kv.into_inner()?;
                let e: AlertEvent = decode(&v, "event")?;
                if e.at_ms >= now_ms - EVENT_MAX_AGE_MS {
                    break;
                }
                batch.remove(&f.events, k);
            }
        }
        let mut next_outbox = sync::lock(&self.next_outbox);
        let mut queued: Vec<(String, u64)> = Vec::new();
        for (channel_id, alert) in outbox {
            let seq = *next_outbox;
            *next_outbox += 1;
            let item = OutboxItem { seq, channel_id: channel_id.clone(), queued_ms: now_ms, alert: alert.clone() };
            batch.insert(&f.outbox, outbox_key(channel_id, seq), encode(&item)?);
            queued.push((channel_id.clone(), seq));
        }
        // Over the bound: drop the oldest of that channel in the same batch.
        let mut dropped_keys: Vec<(String, u64)> = Vec::new();
        {
            let mem = sync::read(&self.mem);
            let mut added: HashMap<&str, usize> = HashMap::new();
            for (c, _) in &queued {
                *added.entry(c.as_str()).or_default() += 1;
            }
            for (c, n) in added {
                let existing = mem.outbox.get(c);
                let total = existing.map_or(0, |q| q.len()) + n;
                let over = total.saturating_sub(MAX_OUTBOX_PER_CHANNEL);
                let mut candidates: Vec<u64> = existing.map(|q| q.iter().copied().collect()).unwrap_or_default();
                candidates.extend(queued.iter().filter(|(qc, _)| qc == c).map(|(_, s)| *s));
                for seq in candidates.into_iter().take(over) {
                    batch.remove(&f.outbox, outbox_key(c, seq));
                    dropped_keys.push((c.to_string(), seq));
                }
            }
        }
        batch.commit()?;
        f.persist()?;
        Ok((events, queued, dropped_keys))
    }

    /// The oldest `limit` queued messages of a channel.
    pub fn queued(&self, channel_id: &str, limit: usize) -> anyhow::Result<Vec<OutboxItem>> {
        blocking::assert_off_runtime();
        let f = match &self.backing {
            Backing::Fjall(f) => f,
            Backing::Shared(s) => return wait(s.queued(channel_id, limit)),
        };
        let mut out = Vec::new();
        for kv in f.outbox.prefix(prefix(channel_id)).take(limit) {
            let (_, v) = kv.into_inner()?;
            out.push(decode(&v, "queued message")?);
        }
        Ok(out)
    }

    /// Removes delivered messages.
    pub fn delivered(&self, channel_id: &str, seqs: &[u64]) -> anyhow::Result<()> {
        blocking::assert_off_runtime();
        let _w = sync::lock(&self.write);
        match &self.backing {
            Backing::Fjall(f) => {
                let mut batch = f.db.batch();
                for s in seqs {
                    batch.remove(&f.outbox, outbox_key(channel_id, *s));
                }
                batch.commit()?;
                f.persist()?;
            }
            Backing::Shared(s) => {
                wait(s.delivered(channel_id, seqs))?;
                self.wrote();
            }
        }
        if let Some(q) = sync::write(&self.mem).outbox.get_mut(channel_id) {
            q.retain(|s| !seqs.contains(s));
        }
        Ok(())
    }

    /// Events newest first, with `seq < before_seq`, passing `keep`, at most `limit`; and whether more
    /// (older) ones may follow.
    pub fn events(
        &self,
        before_seq: Option<u64>,
        limit: usize,
        keep: impl Fn(&AlertEvent) -> bool,
    ) -> anyhow::Result<(Vec<AlertEvent>, bool)> {
        blocking::assert_off_runtime();
        let upper = before_seq.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        match &self.backing {
            Backing::Fjall(f) => {
                for kv in f.events.range(..upper.to_be_bytes()).rev() {
                    let (_, v) = kv.into_inner()?;
                    let e: AlertEvent = decode(&v, "event")?;
                    if keep(&e) {
                        if out.len() == limit {
                            return Ok((out, true));
                        }
                        out.push(e);
                    }
                }
            }
            Backing::Shared(s) => {
                let mut before = upper;
                loop {
                    let page = wait(s.events_before(before))?;
                    let Some(last) = page.last() else { break };
                    before = last.seq;
                    for e in page {
                        if keep(&e) {
                            if out.len() == limit {
                                return Ok((out, true));
                            }
                            out.push(e);
                        }
                    }
                }
            }
        }
        Ok((out, false))
    }

    /// Makes everything durable (writes already are; for shutdown symmetry).
    pub fn flush(&self) -> anyhow::Result<()> {
        blocking::assert_off_runtime();
        match &self.backing {
            Backing::Fjall(f) => f.persist(),
            Backing::Shared(_) => Ok(()),
        }
    }
}

/// The worst of some states: firing > pending > no_data > resolved > ok.
pub fn worst(states: impl IntoIterator<Item = AlertState>) -> AlertState {
    let rank = |s: AlertState| match s {
        AlertState::Ok => 0,
        AlertState::Resolved => 1,
        AlertState::NoData => 2,
        AlertState::Pending => 3,
        AlertState::Firing => 4,
    };
    states.into_iter().max_by_key(|s| rank(*s)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::alert::{Condition, RuleSource, Severity};

    fn rule(id: &str) -> AlertRule {
        AlertRule {
            id: id.into(),
            name: id.into(),
            source: RuleSource::ServiceSilent { service: None, window_s: 60 },
            condition: Condition::NoData,
            for_s: 0,
            interval_s: 15,
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            runbook: String::new(),
            channels: vec!["c".into()],
            enabled: true,
            version: 1,
        }
    }

    fn alert(n: usize) -> WebhookAlert {
        WebhookAlert {
            rule_id: "r".into(),
            rule_name: "r".into(),
            severity: Severity::Warning,
            status: "firing".into(),
            labels: BTreeMap::from([("n".to_string(), n.to_string())]),
            value: Some(n as f64),
            condition: String::new(),
            since_ms: 0,
            runbook: String::new(),
            link: String::new(),
        }
    }

    #[test]
    fn the_outbox_is_bounded_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = AlertStore::open(dir.path()).unwrap();
        store.put_channel_unlocked(&StoredChannel { id: "c".into(), name: "c".into(), kind: ChannelKind::Webhook, url: None }).unwrap();
        store.put_rule_unlocked(&rule("r")).unwrap();
        let outbox: Vec<(String, WebhookAlert)> = (0..MAX_OUTBOX_PER_CHANNEL + 5).map(|n| ("c".to_string(), alert(n))).collect();
        let event = AlertEvent {
            seq: 0,
            at_ms: 10,
            rule_id: "r".into(),
            rule_name: "r".into(),
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            from: AlertState::Ok,
            to: AlertState::Firing,
            value: None,
            condition: String::new(),
            link: String::new(),
            silenced_by: None,
        };
        let c = store.commit_round(Round { rule_id: "r".into(), outbox, events: vec![event.clone()], ..Default::default() }, 10).unwrap();
        assert_eq!((c.dropped, c.channels.as_slice(), c.events[0].seq), (5, &["c".to_string()][..], 1));
        assert_eq!(store.pending("c"), MAX_OUTBOX_PER_CHANNEL);
        // The oldest went: the first queued is alert 5.
        assert_eq!(store.queued("c", 1).unwrap()[0].alert.value, Some(5.0));
        // A round of a deleted rule is dropped.
        assert!(store.commit_round(Round { rule_id: "gone".into(), ..Default::default() }, 10).unwrap().channels.is_empty());
        drop(store);
        let store = AlertStore::open(dir.path()).unwrap();
        assert_eq!(store.pending("c"), MAX_OUTBOX_PER_CHANNEL);
        let q = store.queued("c", 3).unwrap();
        store.delivered("c", &q.iter().map(|i| i.seq).collect::<Vec<_>>()).unwrap();
        assert_eq!(store.pending("c"), MAX_OUTBOX_PER_CHANNEL - 3);
        let c = store.commit_round(Round { rule_id: "r".into(), events: vec![event], ..Default::default() }, 11).unwrap();
        assert_eq!(c.events[0].seq, 2, "event numbers go on after a reopen");
        let (events, more) = store.events(None, 1, |_| true).unwrap();
        assert_eq!((events[0].seq, more), (2, true));
        assert!(store.delete_channel("c").unwrap());
        assert_eq!(store.pending("c"), 0);
    }
}
