//! Alerting: rules on the metric catalogue (or on the lock tree / a silent service), the state of each
//! alert instance, silences, notification channels and the history of state changes.
//!
//! One rule yields one *alert instance* per group (its `group_by` labels' values). Instances move
//! ok → pending → firing → resolved; `no_data` is a state of its own. A channel's URL is a secret: it goes
//! to the server in [`ChannelInput`] and never comes back ([`Channel::url_masked`] only).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the export format ([`AlertsExport::format_version`]).
pub const ALERTS_FORMAT_VERSION: u32 = 1;
/// Default evaluation interval of a rule, in seconds.
pub const DEFAULT_EVAL_INTERVAL_S: u32 = 15;

/// How loud an alert is; shown in the message and the top bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleSource {
    /// A metric of `GET /api/v1/metrics` (`transactions.*`, `cube.*`, `db.*`, `host.*`, `process.*`),
    /// aggregated over the last `window_s` seconds at each evaluation: one value per group.
    Metric {
        metric: String,
        /// Dimension → value, as the metric query's `filter`.
        #[serde(default)]
        filter: BTreeMap<String, String>,
        /// One alert instance per combination of these dimensions' values; empty = one instance.
        #[serde(default)]
        group_by: Vec<String>,
        /// Aggregation window, seconds (e.g. p95 over the last 60 s).
        window_s: u32,
    },
    /// A database session has blocked at least `min_blocked` other sessions (lock tree); one instance per
    /// database instance. `for_s` of the rule is "for more than T".
    BlockingSession {
        /// Database instance id (as on the DB page); `None` = every configured instance.
        #[serde(default)]
        instance: Option<String>,
        min_blocked: u32,
    },
    /// A service that sent transactions stopped: no transaction for `window_s` seconds. One instance per
    /// service (or only `service`).
    ServiceSilent {
        #[serde(default)]
        service: Option<String>,
        window_s: u32,
    },
}

/// When an instance's value is bad. `no_data` states are separate ([`AlertState::NoData`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    Above { threshold: f64 },
    Below { threshold: f64 },
    /// Bad when the value is below `low` or above `high`.
    Outside { low: f64, high: f64 },
    /// Bad when a group that had data has none (for `metric` sources); the other sources ignore it.
    NoData,
}

/// A rule as stored and as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// Chosen by the server on create (lowercase letters, digits, `-`); kept on import.
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub source: RuleSource,
    pub condition: Condition,
    /// The condition must hold this long (seconds) before pending becomes firing; 0 fires at once.
    #[serde(default)]
    pub for_s: u32,
    /// Seconds between evaluations; [`DEFAULT_EVAL_INTERVAL_S`] when absent.
    #[serde(default = "default_interval")]
    pub interval_s: u32,
    #[serde(default)]
    pub severity: Severity,
    /// Added to every instance's labels and to messages; silences match on them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free text shown in every message ("what to do").
    #[serde(default)]
    pub runbook: String,
    /// Channel ids to notify.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Optimistic concurrency, as for boards: a save must name the version it edited (409 otherwise).
    #[serde(default)]
    pub version: u64,
}

fn default_interval() -> u32 {
    DEFAULT_EVAL_INTERVAL_S
}

fn default_true() -> bool {
    true
}

/// State of one alert instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    #[default]
    Ok,
    /// The condition holds, not yet for `for_s`.
    Pending,
    Firing,
    /// Was firing, the condition no longer holds (until it next goes pending).
    Resolved,
    /// The group had data and now has none (or the source cannot be read: see `error`).
    NoData,
}

/// One alert instance: a rule × a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertInstance {
    pub rule_id: String,
    /// The group's labels (`group_by` values) merged with the rule's labels.
    pub labels: BTreeMap<String, String>,
    pub state: AlertState,
    /// When the instance entered `state`.
    pub since_ms: i64,
    /// The last evaluated value (`None` for no data).
    #[serde(default)]
    pub value: Option<f64>,
    pub evaluated_ms: i64,
    /// Id of the silence muting it, if any.
    #[serde(default)]
    pub silenced_by: Option<String>,
    /// Why the last evaluation could not read its source (e.g. the database is unreachable).
    #[serde(default)]
    pub error: Option<String>,
}

/// A rule with its instances, as the alerts page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    pub rule: AlertRule,
    /// Worst state among the instances (firing > pending > no_data > resolved > ok).
    pub state: AlertState,
    pub instances: Vec<AlertInstance>,
}

/// Answer of `GET /api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsOverview {
    pub rules: Vec<RuleStatus>,
}

/// Answer of `GET /api/v1/alerts/firing`: what the top bar shows on every page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FiringSummary {
    /// Firing, unsilenced instances.
    pub firing: usize,
    /// Highest severity among them.
    #[serde(default)]
    pub worst: Option<Severity>,
    /// Up to 10 of them, worst first.
    pub alerts: Vec<FiringAlert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringAlert {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub since_ms: i64,
    pub value: Option<f64>,
}

/// One state change of an instance (the history, and the markers on charts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Increasing; the history is paged by it.
    pub seq: u64,
    pub at_ms: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub from: AlertState,
    pub to: AlertState,
    pub value: Option<f64>,
    /// The condition in words, e.g. `p95 > 800 ms for 60 s`.
    pub condition: String,
    /// Where the app shows it: a path with its time range, e.g. `/apm?service=payment&from=…&to=…`.
    pub link: String,
    /// Id of the silence that muted it (the change was recorded, no message was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
}

/// Answer of `GET /api/v1/alerts/events?from=&to=&rule=&state=&before_seq=&limit=`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEventPage {
    pub events: Vec<AlertEvent>,
    /// Pass as `before_seq` for the next (older) page.
    #[serde(default)]
    pub next_before_seq: Option<u64>,
}

/// Mutes matching instances until `until_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Chosen by the server.
    #[serde(default)]
    pub id: String,
    /// Only this rule's instances; `None` = any rule.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// Every pair must equal the instance's label; empty (with a rule) = all the rule's instances.
    #[serde(default)]
    pub matchers: BTreeMap<String, String>,
    pub until_ms: i64,
    pub reason: String,
    /// Set by the server: who created it, when.
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub created_ms: i64,
}

/// Where messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A Slack incoming webhook: Block Kit messages.
    Slack,
    /// Any URL: the documented JSON payload ([`WebhookPayload`]).
    Webhook,
}

/// A channel as every API answer shows it: never the full URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// E.g. `https://hooks.slack.com/…/••••Xy9z`: scheme, host, the last 4 characters.
    pub url_masked: String,
    /// Messages queued and not yet delivered.
    #[serde(default)]
    pub pending: usize,
    /// The last delivery's failure, if the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Body of `POST /api/v1/alerts/channels` and `PUT /api/v1/alerts/channels/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    /// Required on create; `None` on update keeps the stored URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// Answer of `POST /api/v1/alerts/channels/{id}/test`: what the receiver said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelTestResult {
    pub ok: bool,
    /// HTTP status of the receiver's answer, if it answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// The start of its body, or why there was no answer (timeout, refused); never the URL.
    pub message: String,
}

/// `GET /api/v1/alerts/export` and the body of `POST /api/v1/alerts/import`. Channel URLs are not
/// exported (secrets): an imported channel keeps the URL of the stored channel with its id, and a new one
/// is created without URL and says so until an admin sets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsExport {
    pub format_version: u32,
    pub rules: Vec<AlertRule>,
    pub channels: Vec<ChannelExport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelExport {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
}

/// Body of `POST /api/v1/alerts/preview`: how a rule would have behaved over the last hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRequest {
    pub rule: AlertRule,
    pub from: i64,
    pub to: i64,
}

/// Answer of the preview: the rule's value per group over time and the moments it would have fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewAnswer {
    pub unit: String,
    pub step_ms: i64,
    pub timestamps: Vec<i64>,
    /// One per group (labels as `group_by` values), as a metric query's series.
    pub series: Vec<crate::MetricSeries>,
    /// Threshold lines to draw (one for above/below, two for outside).
    pub thresholds: Vec<f64>,
    /// `(group labels, from_ms, to_ms)`: when the rule would have been firing (honouring `for_s`).
    pub firing: Vec<PreviewFiring>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewFiring {
    pub labels: BTreeMap<String, String>,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The generic webhook's JSON body (documented in docs/ALERTS.md). One message carries every alert of a
/// group that changed together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// [`ALERTS_FORMAT_VERSION`].
    pub version: u32,
    /// Unique per message; a receiver deduplicates retries (delivery is at-least-once) by it.
    pub message_id: String,
    /// `firing` when any alert in it fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<WebhookAlert>,
    pub sent_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAlert {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub value: Option<f64>,
    /// The condition in words, e.g. `p95 > 800 ms for 60 s`.
    pub condition: String,
    /// When it started firing (or resolved).
    pub since_ms: i64,
    pub runbook: String,
    /// Absolute URL of the page and time range that shows it.
    pub link: String,
}
