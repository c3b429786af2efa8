//! "What changed": a selection of transactions (a dragged rectangle of the hitmap) compared with a
//! baseline, every dimension's values ranked by how over-represented they are in the selection, and the
//! steps ranked by the extra time they take. Counts are exact: every transaction of both sets is counted,
//! none is sampled.
//!
//! `GET /api/v1/compare?<CompareParams>` answers a [`CompareAnswer`]. A ranked value's [`RankedValue::filter`]
//! is the `tag` parameter that narrows the hitmap ([`crate::HitmapParams::tag`]) and the transaction list
//! ([`crate::TxParams::tag`]) to it.

use serde::{Deserialize, Serialize};

use crate::StepKind;

/// What a transaction is described by. A transaction has one value of each, except [`Statement`] and
/// [`HttpTarget`] (every distinct one among its steps), [`WaitEvent`] (every one its SQL sessions were
/// seen in) and [`Attribute`] (one per attribute key).
///
/// [`Statement`]: CompareDim::Statement
/// [`HttpTarget`]: CompareDim::HttpTarget
/// [`WaitEvent`]: CompareDim::WaitEvent
/// [`Attribute`]: CompareDim::Attribute
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareDim {
    Service,
    Endpoint,
    /// `service.instance.id`, else `host.name`.
    Instance,
    /// The transaction span's thread name.
    Thread,
    /// `ok` or `error`.
    Status,
    /// The exception type of a failed transaction.
    ErrorType,
    HttpMethod,
    /// The response status code as text (`"500"`).
    HttpStatus,
    /// `service.version` of the reporting resource.
    Version,
    /// The normalized text of a SQL statement among the transaction's steps (a fingerprint: literals
    /// masked, as on the cube and the DB page).
    Statement,
    /// The peer (`host:port`) of an outbound HTTP call among the transaction's steps.
    HttpTarget,
    /// A PostgreSQL wait event (`Lock/transactionid`) a session running one of the transaction's statements
    /// was sampled in (sessions matched by the `traceparent` comment of the statement).
    WaitEvent,
    /// A span attribute of the transaction span that Sightline does not interpret itself; the key is in
    /// [`TagFilter::key`] / [`RankedValue::key`].
    Attribute,
}

impl CompareDim {
    pub const ALL: [CompareDim; 13] = [
        CompareDim::Service,
        CompareDim::Endpoint,
        CompareDim::Instance,
        CompareDim::Thread,
        CompareDim::Status,
        CompareDim::ErrorType,
        CompareDim::HttpMethod,
        CompareDim::HttpStatus,
        CompareDim::Version,
        CompareDim::Statement,
        CompareDim::HttpTarget,
        CompareDim::WaitEvent,
        CompareDim::Attribute,
    ];

    /// The name in a `tag` parameter (`attr` for attributes: `attr.<key>=<value>`).
    pub fn name(self) -> &'static str {
        match self {
            CompareDim::Service => "service",
            CompareDim::Endpoint => "endpoint",
            CompareDim::Instance => "instance",
            CompareDim::Thread => "thread",
            CompareDim::Status => "status",
            CompareDim::ErrorType => "error_type",
            CompareDim::HttpMethod => "http_method",
            CompareDim::HttpStatus => "http_status",
            CompareDim::Version => "version",
            CompareDim::Statement => "statement",
            CompareDim::HttpTarget => "http_target",
            CompareDim::WaitEvent => "wait_event",
            CompareDim::Attribute => "attr",
        }
    }

    /// What the app shows for the dimension.
    pub fn label(self) -> &'static str {
        match self {
            CompareDim::Service => "service",
            CompareDim::Endpoint => "endpoint",
            CompareDim::Instance => "instance",
            CompareDim::Thread => "thread",
            CompareDim::Status => "status",
            CompareDim::ErrorType => "error type",
            CompareDim::HttpMethod => "HTTP method",
            CompareDim::HttpStatus => "HTTP status",
            CompareDim::Version => "version",
            CompareDim::Statement => "SQL",
            CompareDim::HttpTarget => "calls",
            CompareDim::WaitEvent => "DB wait",
            CompareDim::Attribute => "attribute",
        }
    }

    pub fn parse(s: &str) -> Option<CompareDim> {
        CompareDim::ALL.into_iter().find(|d| d.name() == s)
    }

    /// What a transaction's outcome was (status, HTTP status, exception type) rather than what it ran
    /// or where: always over-represented in a selection of slow or failed transactions, so listed apart
    /// ([`CompareAnswer::outcomes`]) instead of crowding out the causes.
    pub fn is_outcome(self) -> bool {
        matches!(self, CompareDim::Status | CompareDim::HttpStatus | CompareDim::ErrorType)
    }
}

/// One value of one dimension, as a filter: `instance=pay-2`, `statement=select*from t where id=?`,
/// `attr.tenant=acme`. The dimension name never contains `=`, so the value is everything after the first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagFilter {
    pub dim: CompareDim,
    /// The attribute key, for [`CompareDim::Attribute`] only.
    pub key: Option<String>,
    pub value: String,
}

impl TagFilter {
    pub fn parse(s: &str) -> Result<TagFilter, String> {
        let (name, value) = s.split_once('=').ok_or_else(|| format!("tag must be <dimension>=<value>, not {s:?}"))?;
        if let Some(key) = name.strip_prefix("attr.") {
            if key.is_empty() {
                return Err("tag attr.<key>=<value> needs a key".into());
            }
            return Ok(TagFilter { dim: CompareDim::Attribute, key: Some(key.to_string()), value: value.to_string() });
        }
        let dim = CompareDim::parse(name).filter(|d| *d != CompareDim::Attribute).ok_or_else(|| {
            let names: Vec<_> = CompareDim::ALL.iter().filter(|d| **d != CompareDim::Attribute).map(|d| d.name()).collect();
            format!("unknown tag dimension {name:?}: one of {}, or attr.<key>", names.join(", "))
        })?;
        Ok(TagFilter { dim, key: None, value: value.to_string() })
    }

    /// The `tag` parameter's value.
    pub fn to_param(&self) -> String {
        match &self.key {
            Some(k) => format!("attr.{k}={}", self.value),
            None => format!("{}={}", self.dim.name(), self.value),
        }
    }

    /// `endpoint = POST /pay`, for chips and headings.
    pub fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!("{k} = {}", self.value),
            None => format!("{} = {}", self.dim.label(), self.value),
        }
    }
}

/// What the selection is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// Every other transaction of the visible window (`window_from`..`window_to`), any duration.
    #[default]
    Rest,
    /// The selection's time span 24 h earlier, any duration.
    Yesterday,
    /// A span as long as the selection's, ending at the last deploy (new `service.version`) of the
    /// selection's service before the selection's end, any duration. The service is `service` when given,
    /// else the one with most transactions in the selection.
    BeforeDeploy,
    /// Another dragged rectangle: `base_from`, `base_to`, `base_min_ms`, `base_max_ms`.
    Region,
}

/// Query of `GET /api/v1/compare`. The selection is `from`..`to` × `min_ms`..`max_ms` (as for
/// `GET /api/v1/transactions`: `min_ms` inclusive, `max_ms` exclusive, absent = no upper bound); `service`
/// and `tag` narrow both sets alike (the hitmap's own filters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub service: Option<String>,
    /// A [`TagFilter`] in its `to_param` form.
    pub tag: Option<String>,
    /// A [`TagFilter`] that narrows the selection only (e.g. `error_type=…` or `status=error` from the
    /// errors page: "these failures against everything else in the window").
    pub only: Option<String>,
    pub baseline: Option<BaselineKind>,
    /// `rest`: the visible window the selection was dragged on (required for `rest`).
    pub window_from: Option<i64>,
    pub window_to: Option<i64>,
    /// `region`: the other rectangle (`base_from`, `base_to` required).
    pub base_from: Option<i64>,
    pub base_to: Option<i64>,
    pub base_min_ms: Option<f64>,
    pub base_max_ms: Option<f64>,
    /// Ranked values returned (default 30, at most 200); steps likewise.
    pub limit: Option<usize>,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSet {
    /// In words: `14:02–14:05, 800 ms – 1.5 s`, `the rest of 14:00–14:15`, `before payment 3.4.0 (14:02)`.
    pub label: String,
    pub from: i64,
    pub to: i64,
    pub min_ms: f64,
    pub max_ms: Option<f64>,
    /// For `rest`: the selection's rectangle, left out of this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<(i64, i64, f64, Option<f64>)>,
    /// Transactions in the set (exact).
    pub count: u64,
    pub errors: u64,
    /// Mean duration (ms); 0 for an empty set.
    pub mean_ms: f64,
}

/// A value over-represented (or under-represented) in the selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedValue {
    pub dim: CompareDim,
    /// The attribute key, for [`CompareDim::Attribute`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
    /// Transactions of each set that have the value.
    pub selected: u64,
    pub baseline: u64,
    /// `selected / selection.count` and `baseline / baseline.count` (0 for an empty set).
    pub selected_share: f64,
    pub baseline_share: f64,
    /// The ranking score (highest first): `selected_share − baseline_share`, weighted by how directly the
    /// dimension can name a cause (1 for a statement, HTTP peer, wait event, version or instance; 0.8 for an
    /// endpoint, thread or attribute; 0.6 for a service; 0.5 for an HTTP method), plus, for a statement or
    /// HTTP peer, up to 0.25 for the share of the selection's extra mean duration its extra self time
    /// explains. Outcomes are not weighted.
    pub score: f64,
    /// The `tag` parameter that filters the hitmap and the list to this value.
    pub filter: String,
}

/// A step (SQL statement, HTTP call, method) and the self time it takes per transaction in each set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDelta {
    pub kind: StepKind,
    /// The normalized statement, the HTTP peer, or the method's span name.
    pub name: String,
    /// Mean self time per transaction of the set (ms; transactions without the step count as 0).
    pub selected_ms: f64,
    pub baseline_ms: f64,
    /// Transactions of each set with the step.
    pub selected_tx: u64,
    pub baseline_tx: u64,
    /// `selected_ms − baseline_ms`: the extra time per selected transaction the step accounts for
    /// (listed highest first).
    pub extra_ms: f64,
    /// The `tag` filter for the step's statement or HTTP peer (`None` for a method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Answer of `GET /api/v1/compare`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareAnswer {
    pub selection: CompareSet,
    pub baseline: CompareSet,
    /// The candidate causes: every dimension's values but the outcomes, highest score first, at most
    /// `limit`; values with a score ≤ 0 are left out.
    pub values: Vec<RankedValue>,
    /// What the selected transactions' outcome is, against the baseline's (status, HTTP status, exception
    /// type, and the `error.type` / `exception.*` attributes): over-represented ones, highest first.
    #[serde(default)]
    pub outcomes: Vec<RankedValue>,
    /// Steps by extra self time per transaction, highest first, at most `limit`.
    pub steps: Vec<StepDelta>,
    /// Transactions the store read to answer (both sets and what it skipped past in the window): every
    /// one, no sampling.
    pub scanned: u64,
    /// Something the user should know: no deploy before the selection, an empty baseline, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub const COMPARE_DEFAULT_LIMIT: usize = 30;
pub const COMPARE_MAX_LIMIT: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filters_round_trip() {
        for s in ["instance=pay-2", "statement=select*from t where a=?", "attr.tenant=acme=1", "status=error"] {
            assert_eq!(TagFilter::parse(s).unwrap().to_param(), s);
        }
        let t = TagFilter::parse("statement=a=b").unwrap();
        assert_eq!((t.dim, t.value.as_str()), (CompareDim::Statement, "a=b"));
        assert!(TagFilter::parse("nope").is_err());
        assert!(TagFilter::parse("color=red").unwrap_err().contains("unknown tag dimension"));
        assert!(TagFilter::parse("attr=x").is_err());
        assert!(TagFilter::parse("attr.=x").is_err());
    }
}
