//! A transaction's steps, worked out at ingest from the request that brought it: every distinct SQL
//! statement (normalized, as on the cube), HTTP peer and method below it, with the self time they took.
//!
//! Why at ingest: "what changed" must count every transaction of a window of up to millions, which the
//! in-memory columns can do and per-trace reads from disk cannot; so each transaction's steps go into its
//! row (and its copy in its request's record, so a restart rebuilds them). A step belongs to its nearest
//! ancestor that is a transaction; only steps that arrive in the same request as their transaction are
//! counted (an SDK exports a request's spans together unless its batch fills or its timer fires between
//! them; docs/STORE.md says so), as for the cube's SQL steps.

use std::borrow::Cow;

use crate::cube::facts::Statements;
use crate::store::record::{kind, Lineage, SpanRef, SpanTimes, StepRecord};

/// Distinct steps kept per transaction; a transaction with more (an N+1 loop over distinct statements)
/// keeps its first ones.
pub const MAX_STEPS: usize = 64;

/// The steps of each transaction among `spans` (aligned with it; empty for other spans).
pub fn steps_of_transactions(spans: &[SpanRef<'_>]) -> Vec<Vec<StepRecord>> {
    if !has_steps(spans) {
        return vec![Vec::new(); spans.len()];
    }
    steps_with_lineage(spans, &Lineage::of(spans), &Statements::of(spans))
}

/// Whether any of `spans` can be a step of another: the request has transactions and other spans.
pub fn has_steps(spans: &[SpanRef<'_>]) -> bool {
    spans.iter().any(|s| s.is_transaction) && !spans.iter().all(|s| s.is_transaction)
}

/// [`steps_of_transactions`] with the request's [`Lineage`] and [`Statements`] already worked out (the
/// embedded store shares them with the cube's facts).
pub fn steps_with_lineage(spans: &[SpanRef<'_>], lineage: &Lineage, statements: &Statements) -> Vec<Vec<StepRecord>> {
    let mut out: Vec<Vec<StepRecord>> = vec![Vec::new(); spans.len()];
    // Time spent in children, per span: what its own duration is not "self" time for.
    let mut children_ns = vec![0u64; spans.len()];
    for (i, s) in spans.iter().enumerate().filter(|(_, s)| !s.in_flight()) {
        if let Some(p) = lineage.parent(i) {
            children_ns[p] = children_ns[p].saturating_add(s.end_ns.saturating_sub(s.start_ns));
        }
    }
    for (i, s) in spans.iter().enumerate() {
        if s.is_transaction || s.in_flight() {
            continue;
        }
        let Some(owner) = lineage.transaction(i).filter(|o| !spans[*o].in_flight()) else { continue };
        let name: Cow<'_, str> = match s.step_kind {
            kind::SQL => Cow::Borrowed(statements.get(i).unwrap_or_else(|| s.target.as_deref().unwrap_or(&s.name))),
            kind::HTTP => Cow::Borrowed(s.target.as_deref().unwrap_or(&s.name)),
            _ => Cow::Borrowed(&*s.name),
        };
        let self_ns = s.end_ns.saturating_sub(s.start_ns).saturating_sub(children_ns[i]);
        let steps = &mut out[owner];
        match steps.iter().position(|x| x.kind == s.step_kind && x.name == name) {
            Some(at) => {
                let x = &mut steps[at];
                x.self_ns = x.self_ns.saturating_add(self_ns);
                x.count += 1;
            }
            None if steps.len() < MAX_STEPS => {
                steps.push(StepRecord { kind: s.step_kind, name: name.into_owned(), self_ns, count: 1 })
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{span_refs, SpanRecord};

    fn steps_of(spans: &[SpanRecord]) -> Vec<Vec<StepRecord>> {
        steps_of_transactions(&span_refs(spans))
    }

    fn span(id: u8, parent: Option<u8>, kind: u32, start_ms: u64, end_ms: u64) -> SpanRecord {
        SpanRecord {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            service: "shop".into(),
            name: format!("span {id}"),
            start_ns: start_ms * 1_000_000,
            end_ns: end_ms * 1_000_000,
            step_kind: kind,
            is_transaction: kind == kind::TRANSACTION,
            ..Default::default()
        }
    }

    #[test]
    fn steps_get_self_time_and_are_merged_per_statement() {
        let tx = span(1, None, kind::TRANSACTION, 0, 100);
        let mut method = span(2, Some(1), kind::METHOD, 10, 90);
        method.name = "OrderRepo.find".into();
        let mut q1 = span(3, Some(2), kind::SQL, 20, 40);
        q1.text = Some("SELECT * FROM orders WHERE id = 1".into());
        let mut q2 = span(4, Some(2), kind::SQL, 50, 60);
        q2.text = Some("SELECT * FROM orders WHERE id = 2".into());
        let mut call = span(5, Some(1), kind::HTTP, 90, 95);
        call.target = Some("api.telco.example:443".into());
        let orphan = span(6, Some(99), kind::SQL, 0, 5);
        let spans = vec![q1, q2, method, tx, call, orphan];
        let steps = steps_of(&spans);
        assert!(steps[..3].iter().chain(&steps[4..]).all(Vec::is_empty));
        let got: Vec<_> = steps[3].iter().map(|s| (s.kind, s.name.as_str(), s.self_ns / 1_000_000, s.count)).collect();
        assert_eq!(
            got,
            [
                (kind::SQL, "select*from orders where id=?", 30, 2),
                (kind::METHOD, "OrderRepo.find", 50, 1),
                (kind::HTTP, "api.telco.example:443", 5, 1),
            ]
        );
    }

    #[test]
    fn a_nested_transaction_owns_its_own_steps() {
        let root = span(1, None, kind::TRANSACTION, 0, 100);
        let mut server = span(2, Some(1), kind::TRANSACTION, 10, 50);
        server.is_transaction = true;
        let inner = span(3, Some(2), kind::METHOD, 20, 30);
        let outer = span(4, Some(1), kind::METHOD, 60, 70);
        let steps = steps_of(&[root, server, inner, outer]);
        assert_eq!(steps[0].iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["span 4"]);
        assert_eq!(steps[1].iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["span 3"]);
    }
}
