//! Which facts a batch of stored spans contributes to the cube: one per finished transaction, and one per
//! finished SQL step (`step_kind == kind::SQL`), each with every dimension filled from the span.
//!
//! Runs at ingest on every batch, so it stays a single pass: the parent index needed to find a SQL step's
//! transaction is only built when the batch has SQL steps, and error messages are fingerprinted only for
//! failed spans.

use std::borrow::Cow;
use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use sightline_model::CubeDim;

use super::fingerprint::fingerprint;
use super::{Fact, FactKind};
use crate::ingest::truncate;
use crate::sql::normalize_sql;
use crate::store::record::{kind, span_refs, Lineage, SpanRecord, SpanRef, SpanTimes};

/// Longest normalized statement kept as a dimension value, in bytes: enough to tell statements apart, and
/// a rollup key stays small.
pub const MAX_STATEMENT: usize = 1024;

/// `"100"` … `"599"`: a status code's dimension value without formatting one per transaction.
static HTTP_STATUS_TEXT: LazyLock<Vec<String>> = LazyLock::new(|| (100..600).map(|c: u32| c.to_string()).collect());

/// A status code as a dimension value (the cube's and "what changed"'s), without formatting one per transaction.
pub(crate) fn http_status_text(code: u32) -> Cow<'static, str> {
    match code.checked_sub(100).and_then(|i| HTTP_STATUS_TEXT.get(i as usize)) {
        Some(s) => Cow::Borrowed(s.as_str()),
        None => Cow::Owned(code.to_string()),
    }
}

/// The statement of each finished SQL step among a request's spans, as the cube and "what changed" name it
/// (normalized, cut to [`MAX_STATEMENT`]): worked out once per request for both, each distinct text
/// normalized once (a request repeats few statements many times).
#[derive(Debug, Default)]
pub struct Statements {
    /// Per span, its statement's index in `texts` (`u32::MAX`: none).
    of: Vec<u32>,
    texts: Vec<String>,
}

impl Statements {
    pub fn of(spans: &[SpanRef<'_>]) -> Self {
        let mut seen: FxHashMap<&str, u32> = FxHashMap::default();
        let mut texts = Vec::new();
        let of = spans
            .iter()
            .map(|s| match s.text.as_deref() {
                Some(t) if s.step_kind == kind::SQL && !s.is_transaction && !s.in_flight() => *seen.entry(t).or_insert_with(|| {
                    texts.push(truncate(&normalize_sql(t), MAX_STATEMENT));
                    texts.len() as u32 - 1
                }),
                _ => u32::MAX,
            })
            .collect();
        Statements { of, texts }
    }

    /// The statement of `spans[i]`, if it is a finished SQL step with a text.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.texts.get(*self.of.get(i)? as usize).map(String::as_str)
    }
}

/// The facts of the finished transactions and SQL steps among `spans`.
pub fn facts(spans: &[SpanRecord]) -> Vec<Fact<'static>> {
    let spans = span_refs(spans);
    let mut out = Vec::new();
    each_fact(&spans, None, None, |_, f, _| out.push(f.clone().into_owned()));
    out
}

/// The fact of each of `spans` (aligned with it; `None` for a span that contributes none: running, or
/// neither a transaction nor a SQL step), so the store can count a fact only when its span is new; and, for
/// each SQL step whose transaction came in the same batch, that transaction's index in `spans`: such a step
/// is new exactly when its transaction is (an exporter's retry re-sends the same request), so the store
/// counts it with the transaction instead of keeping a dedup key per step. Call it with a whole batch: a
/// SQL step's endpoint is found among the spans of the same call.
pub fn facts_and_owners(spans: &[SpanRef<'_>]) -> Vec<(Option<Fact<'static>>, Option<usize>)> {
    let mut out: Vec<(Option<Fact<'static>>, Option<usize>)> = vec![(None, None); spans.len()];
    each_fact(spans, None, None, |i, f, owner| out[i] = (Some(f.clone().into_owned()), owner));
    out
}

/// Calls `visit(index in spans, fact, owner)` for each fact of [`facts_and_owners`], in the order of
/// `spans`, without collecting them: the embedded store interns each fact as it comes, so a request's
/// facts (nine strings each) never exist all at once. `lineage`: the request's [`Lineage`] if the caller
/// worked it out (worked out here when a SQL step needs it otherwise). A fact borrows its statement for the
/// call only.
pub fn each_fact(
    spans: &[SpanRef<'_>],
    lineage: Option<&Lineage>,
    statements: Option<&Statements>,
    mut visit: impl FnMut(usize, &Fact<'_>, Option<usize>),
) {
    let has_sql = spans.iter().any(|s| !s.in_flight() && !s.is_transaction && s.step_kind == kind::SQL);
    let own;
    let lineage = match lineage {
        Some(lineage) => Some(lineage),
        None if has_sql => {
            own = Lineage::of(spans);
            Some(&own)
        }
        None => None,
    };
    let own_statements;
    let statements = match statements {
        Some(statements) => statements,
        None => {
            own_statements = Statements::of(spans);
            &own_statements
        }
    };
    for (i, s) in spans.iter().enumerate() {
        if s.in_flight() {
            continue;
        }
        if s.is_transaction {
            visit(i, &transaction(s), None);
        } else if s.step_kind == kind::SQL {
            let owner = lineage.and_then(|l| l.transaction(i));
            let statement = statements.get(i).map(Cow::Borrowed);
            visit(i, &sql_step(s, owner.map(|o| &*spans[o].name), statement), owner);
        }
    }
}

/// A transaction's fact: every dimension but the statement.
fn transaction<'a>(s: &'a SpanRef<'_>) -> Fact<'a> {
    let mut f = common(s, FactKind::Transaction);
    f.dims[CubeDim::Endpoint as usize] = Cow::Borrowed(&*s.name);
    if let Some(m) = &s.http_method {
        f.dims[CubeDim::HttpMethod as usize] = Cow::Borrowed(&**m);
    }
    if let Some(code) = s.http_status {
        f.dims[CubeDim::HttpStatus as usize] = http_status_text(code);
    }
    f
}

/// A SQL step's fact: its statement, its own service and instance, the endpoint of its transaction when
/// that is known (`""` otherwise).
fn sql_step<'a>(s: &'a SpanRef<'_>, endpoint: Option<&'a str>, statement: Option<Cow<'a, str>>) -> Fact<'a> {
    let mut f = common(s, FactKind::SqlStep);
    f.dims[CubeDim::Endpoint as usize] = Cow::Borrowed(endpoint.unwrap_or_default());
    f.dims[CubeDim::Statement as usize] = statement.unwrap_or_default();
    f
}

/// The dimensions transactions and SQL steps fill alike: service, instance, status, error type and message.
fn common<'a>(s: &'a SpanRef<'_>, kind: FactKind) -> Fact<'a> {
    let mut dims: [Cow<'_, str>; CubeDim::ALL.len()] = Default::default();
    dims[CubeDim::Service as usize] = Cow::Borrowed(&*s.service);
    dims[CubeDim::Instance as usize] = Cow::Borrowed(s.instance.as_deref().unwrap_or_default());
    dims[CubeDim::Status as usize] = Cow::Borrowed(if s.error { "error" } else { "ok" });
    if let Some(f) = s.failure.as_ref().filter(|_| s.error) {
        dims[CubeDim::ErrorType as usize] = Cow::Borrowed(f.kind.as_deref().unwrap_or_default());
        dims[CubeDim::ErrorMessage as usize] = f.message.as_deref().map(fingerprint).map(Cow::Owned).unwrap_or_default();
    }
    Fact { kind, end_ms: s.end_ms(), duration_ms: s.duration_ms(), error: s.error, dims }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::ErrorRecord;

    fn span(id: u8, parent: Option<u8>, name: &str) -> SpanRecord {
        SpanRecord {
            trace_id: vec![9; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            service: "shop".into(),
            name: name.into(),
            start_ns: 60_000_000_000,
            end_ns: 60_250_000_000,
            instance: Some("shop-1".into()),
            ..Default::default()
        }
    }

    fn tx(id: u8, name: &str) -> SpanRecord {
        SpanRecord { is_transaction: true, step_kind: kind::TRANSACTION, http_method: Some("POST".into()), http_status: Some(500), ..span(id, None, name) }
    }

    fn sql(id: u8, parent: u8, text: &str) -> SpanRecord {
        SpanRecord { step_kind: kind::SQL, text: Some(text.into()), ..span(id, Some(parent), "SELECT orders") }
    }

    fn fail(mut s: SpanRecord, kind: &str, message: &str) -> SpanRecord {
        s.error = true;
        s.failure = Some(ErrorRecord { kind: Some(kind.into()), message: Some(message.into()), stacktrace: None });
        s
    }

    fn dim<'a>(f: &'a Fact<'_>, d: CubeDim) -> &'a str {
        &f.dims[d as usize]
    }

    /// Each finished SQL step's statement, normalized once per distinct text; nothing for other spans.
    #[test]
    fn statements_are_normalized_once_per_text() {
        let mut running = sql(6, 1, "SELECT 3");
        running.end_ns = 0;
        let http = SpanRecord { step_kind: kind::HTTP, text: Some("GET /x".into()), ..span(5, Some(1), "GET") };
        let batch = [tx(1, "POST /api/pay"), sql(2, 1, "SELECT * FROM t WHERE id = 1"), sql(3, 1, "SELECT * FROM t WHERE id = 2"), sql(4, 1, "SELECT * FROM t WHERE id = 1"), http, running];
        let spans = span_refs(&batch);
        let statements = Statements::of(&spans);
        let expected = normalize_sql("SELECT * FROM t WHERE id = 1");
        assert_eq!(expected, normalize_sql("SELECT * FROM t WHERE id = 2"), "literals normalize away");
        let got: Vec<_> = (0..spans.len() + 1).map(|i| statements.get(i)).collect();
        assert_eq!(got, [None, Some(&*expected), Some(&*expected), Some(&*expected), None, None, None]);
        assert_eq!(statements.texts.len(), 2, "one normalization per distinct text");
    }

    #[test]
    fn transactions_carry_every_dimension() {
        let failed = fail(tx(1, "POST /api/pay"), "PaymentDeclined", "card 4242 declined for order 991");
        let batch = [failed];
        let f = facts(&batch);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!((f.kind, f.end_ms, f.duration_ms, f.error), (FactKind::Transaction, 60_250, 250.0, true));
        assert_eq!(dim(f, CubeDim::Service), "shop");
        assert_eq!(dim(f, CubeDim::Endpoint), "POST /api/pay");
        assert_eq!(dim(f, CubeDim::Instance), "shop-1");
        assert_eq!(dim(f, CubeDim::Status), "error");
        assert_eq!(dim(f, CubeDim::ErrorType), "PaymentDeclined");
        assert_eq!(dim(f, CubeDim::ErrorMessage), "card <n> declined for order <n>");
        assert_eq!(dim(f, CubeDim::HttpMethod), "POST");
        assert_eq!(dim(f, CubeDim::HttpStatus), "500");
        assert_eq!(dim(f, CubeDim::Statement), "");
        // A success has no error dimensions, whatever exception event it recorded.
        let mut ok = tx(2, "GET /");
        ok.failure = Some(ErrorRecord { kind: Some("Handled".into()), ..Default::default() });
        let batch = [ok];
        let f = &facts(&batch)[0];
        assert_eq!((dim(f, CubeDim::Status), dim(f, CubeDim::ErrorType), dim(f, CubeDim::ErrorMessage)), ("ok", "", ""));
    }

    #[test]
    fn sql_steps_get_their_statement_and_transaction() {
        let t = tx(1, "GET /orders");
        let method = SpanRecord { step_kind: kind::METHOD, ..span(2, Some(1), "OrderRepo.find") };
        let deep = sql(3, 2, "SELECT * FROM orders WHERE id = 42");
        let direct = fail(sql(4, 1, "UPDATE orders SET paid = true WHERE id = $1"), "PSQLException", "deadlock on 77");
        let orphan = sql(5, 99, "SELECT 1");
        let mut running = sql(6, 1, "SELECT 2");
        running.end_ns = 0;
        let batch = [deep, t, method, direct, orphan, running];
        let f = facts(&batch);
        assert_eq!(f.iter().filter(|f| f.kind == FactKind::Transaction).count(), 1);
        let steps: Vec<_> = f.iter().filter(|f| f.kind == FactKind::SqlStep).collect();
        assert_eq!(steps.len(), 3, "the running step is not counted");
        let got: Vec<_> = steps.iter().map(|f| (dim(f, CubeDim::Endpoint), dim(f, CubeDim::Statement), dim(f, CubeDim::Status))).collect();
        assert_eq!(
            got,
            [
                ("GET /orders", "select*from orders where id=?", "ok"),
                ("GET /orders", "update orders set paid=true where id=?", "error"),
                ("", "select ?", "ok"),
            ]
        );
        assert_eq!((dim(steps[1], CubeDim::ErrorType), dim(steps[1], CubeDim::ErrorMessage)), ("PSQLException", "deadlock on <n>"));
        assert!(steps.iter().all(|f| dim(f, CubeDim::Service) == "shop" && dim(f, CubeDim::Instance) == "shop-1"));
        assert!(steps.iter().all(|f| dim(f, CubeDim::HttpMethod).is_empty()));
    }

    #[test]
    fn one_fact_per_span_aligned_with_the_batch() {
        let t = tx(1, "GET /orders");
        let method = SpanRecord { step_kind: kind::METHOD, ..span(2, Some(1), "OrderRepo.find") };
        let batch = [sql(3, 2, "SELECT 1"), method, t];
        let per = facts_and_owners(&span_refs(&batch));
        let kinds: Vec<_> = per.iter().map(|(f, _)| f.as_ref().map(|f| (f.kind, dim(f, CubeDim::Endpoint).to_string()))).collect();
        assert_eq!(kinds, [Some((FactKind::SqlStep, "GET /orders".into())), None, Some((FactKind::Transaction, "GET /orders".into()))]);
        let owners: Vec<_> = per.iter().map(|(_, o)| *o).collect();
        assert_eq!(owners, [Some(2), None, None], "the step belongs to the transaction at index 2");
    }

    #[test]
    fn long_statements_are_bounded_and_cycles_end() {
        let long = format!("SELECT {} FROM t", "col, ".repeat(2000));
        let batch = [sql(1, 1, &long)];
        let f = facts(&batch);
        assert!(f[0].dims[CubeDim::Statement as usize].len() <= MAX_STATEMENT);
        assert_eq!(dim(&f[0], CubeDim::Endpoint), "", "a span that is its own parent has no transaction");
    }
}
