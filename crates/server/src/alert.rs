//! Alerting: rules on the metric catalogue (or the lock tree, or a silent service) evaluated on the server,
//! each on its own interval; one alert instance per group moving ok → pending → firing → resolved (or
//! no_data); silences; and durable, at-least-once delivery to Slack and generic webhooks. docs/ALERTS.md
//! is the user's view.
//!
//! - [`store`]: the fjall database `<data_dir>/alerts` (rules, channels, silences, instances, history, outbox);
//! - [`rule`]: validation, ids, the condition in words, links to the app;
//! - [`source`]: reading a rule's values; [`state`]: the state machine; [`eval`]: one evaluation;
//! - [`deliver`]: the outbox → receivers, with grouping and retries; [`slack`], [`webhook`]: the messages;
//! - [`preview`]: how a rule would have behaved over a past window;
//! - with `--config-db`: [`shared`], the same state in the shared PostgreSQL database, and [`leader`], which
//!   node evaluates and delivers.
//!
//! [`Alerts`] ties them together for the handlers (`api::alerts`) and runs the tasks: one per enabled rule
//! (started by [`Alerts::spawn`], restarted when its rule changes) and one per channel with something queued.

pub mod deliver;
pub mod eval;
pub mod leader;
pub mod preview;
pub mod rule;
pub mod shared;
pub mod slack;
pub mod source;
pub mod state;
pub mod store;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sightline_model::alert::{
    AlertEvent, AlertEventPage, AlertRule, AlertState, AlertsExport, AlertsOverview, Channel, ChannelExport, ChannelInput,
    ChannelTestResult, FiringAlert, FiringSummary, RuleStatus, Silence, ALERTS_FORMAT_VERSION,
};
use sightline_model::MetricCatalog;
use tokio::sync::watch;

use crate::blocking;
use crate::error::AppError;
use crate::store::now_ms;
use crate::sync;
use deliver::{Deliverer, DeliverySettings};
use source::Sources;
use store::{AlertStore, StoredChannel};

/// Events in one page of the history, by default and at most.
pub const DEFAULT_EVENTS: usize = 100;
pub const MAX_EVENTS_PAGE: usize = 1000;
/// Firing alerts listed in the top bar's summary.
const FIRING_LISTED: usize = 10;
/// Longest channel URL accepted.
const MAX_URL: usize = 2048;

/// Counters for Sightline's own metrics.
#[derive(Debug, Default)]
pub struct EvalCounts {
    pub evaluations: AtomicU64,
    pub transitions: AtomicU64,
}

/// The alerting service; see the module docs.
pub struct Alerts {
    pub store: Arc<AlertStore>,
    sources: Sources,
    pub deliverer: Arc<Deliverer>,
    /// `--public-url` (set when the server knows its address), without a trailing `/`.
    public_url: RwLock<String>,
    /// Running rule tasks by rule id.
    tasks: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Set by [`Alerts::spawn`]: rules are evaluated only once the server runs.
    stop: Mutex<Option<watch::Receiver<bool>>>,
    pub counts: EvalCounts,
}

/// Query of `GET /api/v1/alerts/events`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EventQuery {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub rule: Option<String>,
    pub state: Option<String>,
    pub before_seq: Option<u64>,
    pub limit: Option<usize>,
}

impl Alerts {
    /// Opens `<data_dir>/alerts` (on the blocking pool: it reads the disk).
    pub fn open(dir: &std::path::Path, sources: Sources, settings: DeliverySettings) -> anyhow::Result<Self> {
        Ok(Self::over(Arc::new(AlertStore::open(dir)?), sources, settings))
    }

    /// The alerts in the shared configuration database (`--config-db`); see [`shared`] and [`leader`].
    pub async fn open_shared(db: Arc<crate::config_db::ConfigDb>, sources: Sources, settings: DeliverySettings) -> anyhow::Result<Self> {
        Ok(Self::over(Arc::new(AlertStore::open_shared(db).await?), sources, settings))
    }

    /// The alerts kept in `store`, wherever that is.
    fn over(store: Arc<AlertStore>, sources: Sources, settings: DeliverySettings) -> Self {
        Alerts {
            deliverer: Arc::new(Deliverer::new(store.clone(), settings)),
            store,
            sources,
            public_url: RwLock::new(String::new()),
            tasks: Mutex::default(),
            stop: Mutex::new(None),
            counts: EvalCounts::default(),
        }
    }

    /// Starts evaluating every enabled rule and delivering what is queued (what a crash left in the
    /// outbox included), until `stop` turns true. `public_url` prefixes the links in messages. With
    /// `--config-db`, only while this node is the leader ([`leader`]).
    pub fn spawn(self: &Arc<Self>, public_url: &str, stop: watch::Receiver<bool>) {
        *sync::write(&self.public_url) = public_url.trim_end_matches('/').to_string();
        match self.store.shared() {
            Some(_) => leader::spawn(self.clone(), stop),
            None => self.lead(stop),
        }
    }

    /// Evaluates and delivers until `stop` turns true.
    fn lead(self: &Arc<Self>, stop: watch::Receiver<bool>) {
        *sync::lock(&self.stop) = Some(stop.clone());
        self.deliverer.start(stop.clone());
        for r in self.store.rules() {
            self.schedule(&r);
        }
        if self.store.shared().is_some() {
            // The leader's term ends through `leader`, which stops the evaluations itself.
            return;
        }
        let me = self.clone();
        let mut stop = stop;
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            me.stop_leading();
        });
    }

    /// Stops every evaluation (the deliverer's tasks end with the `stop` given to [`Alerts::lead`]).
    fn stop_leading(&self) {
        *sync::lock(&self.stop) = None;
        for (_, t) in sync::lock(&self.tasks).drain() {
            t.abort();
        }
    }

    /// With `--config-db`: takes in what other nodes saved (a 503 while the database cannot be reached),
    /// and on the leader restarts the evaluation of the rules that changed. Nothing to do otherwise.
    pub async fn refresh(self: &Arc<Self>) -> Result<(), AppError> {
        if let Some((before, after)) = self.store.refresh(false).await? {
            for r in &after {
                if !before.iter().any(|b| b == r) {
                    self.schedule(r);
                }
            }
            for b in &before {
                if !after.iter().any(|r| r.id == b.id) {
                    self.unschedule(&b.id);
                }
            }
        }
        Ok(())
    }

    /// Totals for Sightline's own metrics, in `own_metrics::ALERT_COUNTERS`' order.
    pub fn counters(&self) -> [u64; 5] {
        let d = &self.deliverer.counts;
        [
            self.counts.evaluations.load(Ordering::Relaxed),
            self.counts.transitions.load(Ordering::Relaxed),
            d.sent.load(Ordering::Relaxed),
            d.failed.load(Ordering::Relaxed),
            d.dropped.load(Ordering::Relaxed),
        ]
    }

    /// The absolute base of links in messages.
    pub fn public_url(&self) -> String {
        sync::read(&self.public_url).clone()
    }

    /// The metric catalogue as the server has it now (which `db.*` / `host.*` metrics are available).
    pub fn catalog(&self) -> MetricCatalog {
        crate::metrics::catalog(self.sources.dbs.instances().len(), self.sources.hosts.enabled())
    }

    /// (Re)starts the evaluation task of `rule` (none for a disabled one).
    fn schedule(self: &Arc<Self>, rule: &AlertRule) {
        let running = sync::lock(&self.stop).is_some();
        let mut tasks = sync::lock(&self.tasks);
        if let Some(t) = tasks.remove(&rule.id) {
            t.abort();
        }
        if !running || !rule.enabled {
            return;
        }
        let me = self.clone();
        let id = rule.id.clone();
        let interval = Duration::from_secs(rule.interval_s.max(1) as u64);
        let handle = tokio::spawn(async move {
            // Spread the rules' evaluations over the first second instead of all at once.
            let jitter = rand::random::<u64>() % interval.as_millis().min(1000) as u64;
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(rule) = me.store.rule(&id) else { return };
                me.evaluate_once(&rule).await;
            }
        });
        tasks.insert(rule.id.clone(), handle.abort_handle());
    }

    fn unschedule(&self, id: &str) {
        if let Some(t) = sync::lock(&self.tasks).remove(id) {
            t.abort();
        }
    }

    /// Evaluates `rule` once now: reads its source, writes what changed (durably, with the messages to
    /// send) and wakes the channels that got something. Never waits on a receiver.
    pub async fn evaluate_once(&self, rule: &AlertRule) {
        // Messages go to channels that exist (a deleted one stays named by its rules until they are edited).
        let mut rule = rule.clone();
        rule.channels.retain(|c| self.store.channel(c).is_some());
        let rule = &rule;
        let catalog = self.catalog();
        let unit = eval::unit(rule, &catalog);
        let silences = self.store.silences();
        let public_url = self.public_url();
        let ctx = eval::Ctx {
            rule,
            unit: &unit,
            existing: self.store.instances(&rule.id),
            silences: &silences,
            public_url: &public_url,
            now: now_ms(),
        };
        let out = eval::evaluate(&self.sources, ctx).await;
        self.counts.evaluations.fetch_add(1, Ordering::Relaxed);
        self.store.touch(&rule.id, out.touched);
        let round = out.round;
        if round.upserts.is_empty() && round.removes.is_empty() && round.events.is_empty() && round.outbox.is_empty() {
            return;
        }
        let store = self.store.clone();
        let now = now_ms();
        match blocking::run("recording alert changes", move || store.commit_round(round, now)).await {
            Ok(c) => {
                self.counts.transitions.fetch_add(c.events.len() as u64, Ordering::Relaxed);
                for e in &c.events {
                    tracing::info!(rule = %e.rule_id, labels = ?e.labels, from = ?e.from, to = ?e.to, value = ?e.value, "alert state changed");
                }
                if c.dropped > 0 {
                    self.deliverer.counts.dropped.fetch_add(c.dropped as u64, Ordering::Relaxed);
                    tracing::warn!(dropped = c.dropped, "alert outbox full: the oldest undelivered messages were dropped");
                }
                for ch in &c.channels {
                    self.deliverer.wake(ch);
                }
            }
            Err(e) => tracing::error!(rule = %rule.id, error = %e, "cannot record alert changes"),
        }
    }

    // ---- rules ----

    fn status_of(&self, rule: AlertRule, instances: Option<&Vec<sightline_model::alert::AlertInstance>>) -> RuleStatus {
        let mut instances = instances.cloned().unwrap_or_default();
        instances.sort_by(|a, b| a.labels.cmp(&b.labels));
        RuleStatus { state: store::worst(instances.iter().map(|i| i.state)), rule, instances }
    }

    /// Every rule with its instances, by name.
    pub fn overview(&self) -> AlertsOverview {
        let all = self.store.all_instances();
        let mut rules = self.store.rules();
        rules.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
        AlertsOverview { rules: rules.into_iter().map(|r| { let i = all.get(&r.id); self.status_of(r, i) }).collect() }
    }

    /// One rule with its instances.
    pub fn rule_status(&self, id: &str) -> Result<RuleStatus, AppError> {
        let rule = self.store.rule(id).ok_or_else(|| not_found("rule", id))?;
        let instances: Vec<_> = self.store.instances(id).into_values().map(|i| i.instance).collect();
        Ok(self.status_of(rule, Some(&instances)))
    }

    /// What the top bar shows: firing, unsilenced instances, worst first.
    pub fn firing(&self) -> FiringSummary {
        let rules: HashMap<String, AlertRule> = self.store.rules().into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut alerts: Vec<FiringAlert> = self
            .store
            .all_instances()
            .into_iter()
            .flat_map(|(rule_id, instances)| instances.into_iter().map(move |i| (rule_id.clone(), i)))
            .filter(|(_, i)| i.state == AlertState::Firing && i.silenced_by.is_none())
            .filter_map(|(rule_id, i)| {
                // A disabled rule's instances keep their last state, not evaluated: not "firing now".
                let r = rules.get(&rule_id).filter(|r| r.enabled)?;
                Some(FiringAlert { rule_id, rule_name: r.name.clone(), severity: r.severity, labels: i.labels, since_ms: i.since_ms, value: i.value })
            })
            .collect();
        alerts.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.since_ms.cmp(&b.since_ms)));
        let firing = alerts.len();
        let worst = alerts.first().map(|a| a.severity);
        alerts.truncate(FIRING_LISTED);
        FiringSummary { firing, worst, alerts }
    }

    fn channel_ids(&self) -> Vec<String> {
        self.store.channels().into_iter().map(|c| c.id).collect()
    }

    /// Creates a rule: 400 with every problem, 409 if its id is taken; the id is made from the name when
    /// absent. Runs on the blocking pool (it writes).
    pub fn create_rule(self: &Arc<Self>, mut rule: AlertRule) -> Result<AlertRule, AppError> {
        blocking::assert_off_runtime();
        let problems = rule::problems(&rule, &self.catalog(), &self.channel_ids());
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let rule = self.store.locked(|| {
            if rule.id.is_empty() {
                rule.id = rule::slug(&rule.name, "rule", |c| self.store.rule(c).is_some());
            } else if self.store.rule(&rule.id).is_some() {
                return Err(AppError::Conflict(format!(
                    "a rule {:?} exists already: PUT /api/v1/alerts/rules/{} changes it",
                    rule.id, rule.id
                )));
            }
            rule.version = 1;
            self.store.put_rule_unlocked(&rule)?;
            Ok(rule)
        })?;
        self.schedule(&rule);
        Ok(rule)
    }

    /// Saves a new version of rule `id`; `rule.version` must be the stored one (409 otherwise).
    pub fn update_rule(self: &Arc<Self>, id: &str, mut rule: AlertRule) -> Result<AlertRule, AppError> {
        blocking::assert_off_runtime();
        if rule.id.is_empty() {
            rule.id = id.to_string();
        }
        if rule.id != id {
            return Err(AppError::Invalid(vec![format!(
                "the body is rule {:?} but the URL is rule {id:?}; to copy a rule, POST it to /api/v1/alerts/rules",
                rule.id
            )]));
        }
        let catalog = self.catalog();
        let channels = self.channel_ids();
        let rule = self.store.locked(|| {
            let current = self.store.rule(id).ok_or_else(|| not_found("rule", id))?;
            if rule.version != current.version {
                return Err(AppError::Conflict(format!(
                    "rule {id:?} was changed by someone else: you edited version {}, it is now at version {}; reload it and edit again",
                    rule.version, current.version
                )));
            }
            let problems = rule::problems(&rule, &catalog, &channels);
            if !problems.is_empty() {
                return Err(AppError::Invalid(problems));
            }
            rule.version = current.version + 1;
            self.store.put_rule_unlocked(&rule)?;
            Ok(rule)
        })?;
        self.schedule(&rule);
        Ok(rule)
    }

    /// Deletes a rule and its instances (the history stays).
    pub fn delete_rule(&self, id: &str) -> Result<(), AppError> {
        blocking::assert_off_runtime();
        self.unschedule(id);
        match self.store.delete_rule(id)? {
            true => Ok(()),
            false => Err(not_found("rule", id)),
        }
    }

    // ---- history ----

    /// A page of the history, newest first.
    pub fn events(&self, q: EventQuery) -> Result<AlertEventPage, AppError> {
        blocking::assert_off_runtime();
        let state: Option<AlertState> = match q.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| {
                AppError::BadRequest(format!("state {s:?} is not one of ok, pending, firing, resolved, no_data"))
            })?),
        };
        let limit = q.limit.unwrap_or(DEFAULT_EVENTS);
        if !(1..=MAX_EVENTS_PAGE).contains(&limit) {
            return Err(AppError::BadRequest(format!("limit must be 1..={MAX_EVENTS_PAGE}, not {limit}")));
        }
        let keep = |e: &AlertEvent| {
            q.from.is_none_or(|f| e.at_ms >= f)
                && q.to.is_none_or(|t| e.at_ms < t)
                && q.rule.as_deref().filter(|r| !r.is_empty()).is_none_or(|r| e.rule_id == r)
                && state.is_none_or(|s| e.to == s)
        };
        let (events, more) = self.store.events(q.before_seq, limit, keep)?;
        let next_before_seq = if more { events.last().map(|e| e.seq) } else { None };
        Ok(AlertEventPage { events, next_before_seq })
    }

    // ---- silences ----

    pub fn silences(&self, all: bool) -> Vec<Silence> {
        let now = now_ms();
        let mut s: Vec<Silence> = self.store.silences().into_iter().filter(|s| all || s.until_ms > now).collect();
        s.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
        s
    }

    /// Stores a new silence (it takes effect at the next evaluation of the rules it matches).
    pub fn create_silence(&self, mut s: Silence, author: &str) -> Result<Silence, AppError> {
        blocking::assert_off_runtime();
        let now = now_ms();
        let mut problems = Vec::new();
        if s.reason.trim().is_empty() {
            problems.push("the reason is empty: say why it is muted".to_string());
        }
        if s.until_ms <= now {
            problems.push(format!("until_ms ({}) is not in the future", s.until_ms));
        }
        if let Some(r) = &s.rule_id {
            if self.store.rule(r).is_none() {
                problems.push(format!("unknown rule {r:?}"));
            }
        } else if s.matchers.is_empty() {
            problems.push("a silence needs a rule_id or at least one label matcher (it would mute everything)".into());
        }
        if s.matchers.keys().any(|k| k.trim().is_empty()) {
            problems.push("a matcher has an empty label name".into());
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        s.id = format!("silence-{:08x}", rand::random::<u32>());
        s.created_by = author.to_string();
        s.created_ms = now;
        self.store.put_silence(&s, now)?;
        Ok(s)
    }

    pub fn delete_silence(&self, id: &str) -> Result<(), AppError> {
        blocking::assert_off_runtime();
        match self.store.delete_silence(id)? {
            true => Ok(()),
            false => Err(not_found("silence", id)),
        }
    }

    // ---- channels ----

    /// What clients see of a channel: never its URL.
    pub fn channel_view(&self, c: &StoredChannel) -> Channel {
        Channel {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: c.kind,
            url_masked: c.url.as_deref().map(webhook::mask).unwrap_or_else(|| "(no URL set)".into()),
            pending: self.store.pending(&c.id),
            last_error: self.deliverer.last_error(&c.id),
        }
    }

    pub fn channels(&self) -> Vec<Channel> {
        self.store.channels().iter().map(|c| self.channel_view(c)).collect()
    }

    fn channel_problems(input: &ChannelInput, create: bool) -> Vec<String> {
        let mut p = Vec::new();
        if input.name.trim().is_empty() {
            p.push("the channel name is empty".to_string());
        }
        match input.url.as_deref() {
            None if create => p.push("a new channel needs its url".into()),
            None => {}
            // The URL itself is never quoted back: it is a secret.
            Some(u) => {
                let u = u.trim();
                if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() < 10 {
                    p.push("the url must be an http:// or https:// address".into());
                }
                if u.len() > MAX_URL || u.chars().any(char::is_whitespace) {
                    p.push(format!("the url must be one address without spaces, at most {MAX_URL} characters"));
                }
            }
        }
        p
    }

    pub fn create_channel(&self, input: ChannelInput) -> Result<Channel, AppError> {
        blocking::assert_off_runtime();
        let p = Self::channel_problems(&input, true);
        if !p.is_empty() {
            return Err(AppError::Invalid(p));
        }
        let c = self.store.locked(|| {
            let id = rule::slug(&input.name, "channel", |c| self.store.channel(c).is_some());
            let c = StoredChannel { id, name: input.name.trim().into(), kind: input.kind, url: input.url.map(|u| u.trim().to_string()) };
            self.store.put_channel_unlocked(&c)?;
            Ok::<_, AppError>(c)
        })?;
        Ok(self.channel_view(&c))
    }

    pub fn update_channel(self: &Arc<Self>, id: &str, input: ChannelInput) -> Result<Channel, AppError> {
        blocking::assert_off_runtime();
        let p = Self::channel_problems(&input, false);
        if !p.is_empty() {
            return Err(AppError::Invalid(p));
        }
        let c = self.store.locked(|| {
            let mut c = self.store.channel(id).ok_or_else(|| not_found("channel", id))?;
            c.name = input.name.trim().into();
            c.kind = input.kind;
            if let Some(u) = input.url {
                c.url = Some(u.trim().to_string());
            }
            self.store.put_channel_unlocked(&c)?;
            Ok::<_, AppError>(c)
        })?;
        // A new URL is tried at once by a channel that was retrying.
        self.deliverer.wake(&c.id);
        Ok(self.channel_view(&c))
    }

    /// Deletes a channel and what was queued for it; rules keep naming it until edited (their messages to
    /// it are skipped).
    pub fn delete_channel(&self, id: &str) -> Result<(), AppError> {
        blocking::assert_off_runtime();
        match self.store.delete_channel(id)? {
            true => Ok(()),
            false => Err(not_found("channel", id)),
        }
    }

    pub async fn test_channel(&self, id: &str) -> Result<ChannelTestResult, AppError> {
        let c = self.store.channel(id).ok_or_else(|| not_found("channel", id))?;
        Ok(self.deliverer.test(&c, &self.public_url()).await)
    }

    // ---- export / import ----

    pub fn export(&self) -> AlertsExport {
        AlertsExport {
            format_version: ALERTS_FORMAT_VERSION,
            rules: self.store.rules(),
            channels: self.store.channels().into_iter().map(|c| ChannelExport { id: c.id, name: c.name, kind: c.kind }).collect(),
        }
    }

    /// Imports rules and channels: everything is checked first (400 listing every problem, nothing written),
    /// then written in one batch. Rules and channels are matched by id: an existing one is replaced (a rule
    /// gets the next version), others are added; nothing is deleted. A channel keeps its stored URL; a new one
    /// has none until an admin sets it.
    pub fn import(self: &Arc<Self>, x: AlertsExport) -> Result<AlertsOverview, AppError> {
        blocking::assert_off_runtime();
        let catalog = self.catalog();
        let imported = self.store.locked(|| {
            let mut problems = Vec::new();
            if x.format_version != ALERTS_FORMAT_VERSION {
                problems.push(format!("format_version {} is not {ALERTS_FORMAT_VERSION}, the one this server reads", x.format_version));
            }
            let mut channel_ids: Vec<String> = self.channel_ids();
            let mut seen = Vec::new();
            for c in &x.channels {
                if !rule::valid_id(&c.id) {
                    problems.push(format!("channel {:?}: the id may only hold lowercase letters, digits and '-'", c.id));
                }
                if c.name.trim().is_empty() {
                    problems.push(format!("channel {:?}: the name is empty", c.id));
                }
                if seen.contains(&c.id) {
                    problems.push(format!("channel {:?} is listed twice", c.id));
                }
                seen.push(c.id.clone());
                channel_ids.push(c.id.clone());
            }
            let mut rule_ids = Vec::new();
            for r in &x.rules {
                if !r.id.is_empty() {
                    if rule_ids.contains(&r.id) {
                        problems.push(format!("rule {:?} is listed twice", r.id));
                    }
                    rule_ids.push(r.id.clone());
                }
                problems.extend(rule::problems(r, &catalog, &channel_ids));
            }
            if !problems.is_empty() {
                return Err(AppError::Invalid(problems));
            }
            let channels: Vec<StoredChannel> = x
                .channels
                .iter()
                .map(|c| StoredChannel {
                    id: c.id.clone(),
                    name: c.name.trim().into(),
                    kind: c.kind,
                    url: self.store.channel(&c.id).and_then(|s| s.url),
                })
                .collect();
            let mut taken: Vec<String> = rule_ids.clone();
            let mut rules = Vec::new();
            for mut r in x.rules {
                if r.id.is_empty() {
                    r.id = rule::slug(&r.name, "rule", |c| taken.iter().any(|t| t == c) || self.store.rule(c).is_some());
                    taken.push(r.id.clone());
                }
                r.version = self.store.rule(&r.id).map_or(1, |c| c.version + 1);
                rules.push(r);
            }
            self.store.put_rules_unlocked(&rules, &channels)?;
            Ok(rules)
        })?;
        for r in &imported {
            self.schedule(r);
        }
        Ok(self.overview())
    }

    /// Makes everything durable (shutdown).
    pub fn flush(&self) -> anyhow::Result<()> {
        self.store.flush()
    }

    /// The problems of `rule` (for the preview, which checks before it reads).
    pub fn problems(&self, rule: &AlertRule) -> Vec<String> {
        rule::problems(rule, &self.catalog(), &self.channel_ids())
    }

    /// See [`preview::preview`].
    pub async fn preview(&self, rule: &AlertRule, from: i64, to: i64) -> Result<sightline_model::alert::PreviewAnswer, AppError> {
        preview::preview(&self.sources, rule, from, to).await
    }
}

fn not_found(what: &str, id: &str) -> AppError {
    AppError::NotFound(format!("no {what} {id:?}"))
}
