//! Ties sampled sessions to a trace's SQL steps when the statement carries no `traceparent` comment (most
//! drivers add none): the session's `application_name` is the step's service, the sample was taken while the
//! step ran, and the statement is the step's once whitespace, comments, literals and `$n` parameters are
//! normalised away. That is likely, not certain (two requests of one service running the same statement at the
//! same time look alike), so such matches are marked [`DbMatchKind::Heuristic`].
//!
//! Client addresses are not compared: ingest does not keep a span's `client.address` / `host.name`.

use sightline_model::{DbSession, StepKind, Trace};

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

/// Lower-cases SQL and drops what differs between runs of the same statement: comments (sqlcommenter tags
/// among them), whitespace (kept only between two words), string and number literals and `$n` parameters
/// (each becomes `?`), a trailing `;`.
pub fn normalize_sql(sql: &str) -> String {
    let c: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let word = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '?' || ch == '"';
    let mut pending_space = false;
    let mut i = 0;
    let push = |out: &mut String, s: &str, pending_space: &mut bool| {
        if *pending_space && out.chars().last().is_some_and(word) && s.chars().next().is_some_and(word) {
            out.push(' ');
        }
        *pending_space = false;
        out.push_str(s);
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            pending_space = true;
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            pending_space = true;
        } else if ch.is_whitespace() {
            pending_space = true;
            i += 1;
        } else if ch == '\'' {
            // A string literal, '' being an escaped quote inside it.
            i += 1;
            while i < c.len() {
                if c[i] == '\'' {
                    if c.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            push(&mut out, "?", &mut pending_space);
        } else if ch == '$' && c.get(i + 1).is_some_and(char::is_ascii_digit) {
            i += 1;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            push(&mut out, "?", &mut pending_space);
        } else if ch.is_ascii_digit() && (pending_space || !out.chars().last().is_some_and(|p| p.is_alphanumeric() || p == '_')) {
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            push(&mut out, "?", &mut pending_space);
        } else {
            let mut buf = [0u8; 4];
            let lower: String = ch.to_lowercase().collect();
            push(&mut out, if lower.len() == ch.len_utf8() { &lower } else { ch.encode_utf8(&mut buf) }, &mut pending_space);
            i += 1;
        }
    }
    while out.ends_with(';') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_keeps_the_statement_and_drops_what_varies() {
        let a = normalize_sql("/*controller='pay'*/ SELECT  pg_sleep( 1.5 )\n  FROM t WHERE name = 'it''s' AND id=$1;");
        let b = normalize_sql("select pg_sleep(2) from t where name='x' and id = 42 -- done");
        assert_eq!(a, "select pg_sleep(?)from t where name=? and id=?");
        assert_eq!(a, b);
        assert_eq!(normalize_sql("SELECT * FROM pgbench_accounts2"), "select*from pgbench_accounts2");
        assert_ne!(normalize_sql("UPDATE a SET x = 1"), normalize_sql("UPDATE b SET x = 1"));
    }
}
