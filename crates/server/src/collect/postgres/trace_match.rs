//! Ties sampled sessions to a trace's SQL steps when the statement carries no `traceparent` comment (most
//! drivers add none): the session's `application_name` is the step's service, the sample was taken while the
//! step ran, and the statement is the step's once whitespace, comments, literals and `$n` parameters are
//! normalised away. That is likely, not certain (two requests of one service running the same statement at the
//! same time look alike), so such matches are marked [`DbMatchKind::Heuristic`].
//!
//! Client addresses are not compared: ingest does not keep a span's `client.address` / `host.name`.

use sightline_model::{DbSession, StepKind, Trace};

use crate::sql::normalize_sql;

/// An SQL step of a trace, ready for matching.
#[derive(Debug, Clone)]
pub struct SqlStep {
    pub span_id: String,
    pub service: String,
    pub start_ms: i64,
    pub end_ms: i64,
    normalized: String,
}

/// Shorter normalised texts must match whole: a prefix that short says little.
const MIN_PREFIX: usize = 32;

impl SqlStep {
    /// The SQL steps (with a statement text) of a trace.
    pub fn of_trace(trace: &Trace) -> Vec<SqlStep> {
        trace
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Sql)
            .filter_map(|s| {
                let normalized = normalize_sql(s.text.as_deref()?);
                let start_ms = trace.start_ms + s.offset_ms.floor() as i64;
                (!normalized.is_empty()).then(|| SqlStep {
                    span_id: s.span_id.clone(),
                    service: s.service.clone(),
                    start_ms,
                    end_ms: trace.start_ms + (s.offset_ms + s.duration_ms).ceil() as i64,
                    normalized,
                })
            })
            .collect()
    }

    /// Whether `session`, sampled at `t`, looks like it was running this step.
    pub fn matches(&self, session: &DbSession, t: i64) -> bool {
        let app_ok = session.application_name.as_deref().is_some_and(|a| !a.is_empty() && a.eq_ignore_ascii_case(&self.service));
        if !app_ok || t < self.start_ms || t > self.end_ms {
            return false;
        }
        let Some(q) = session.query.as_deref() else { return false };
        let q = normalize_sql(q);
        // The session's text is cut at 4 KiB, a span's may be cut too: a long common prefix is enough.
        q == self.normalized
            || (q.len().min(self.normalized.len()) >= MIN_PREFIX
                && (q.starts_with(&self.normalized) || self.normalized.starts_with(&q)))
    }
}
