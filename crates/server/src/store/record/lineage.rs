//! Each span's parent and transaction among the spans of one request, worked out once per request: the cube
//! (a SQL step's endpoint) and "what changed" (a transaction's steps and their self times) both attribute
//! steps by them. Before, each followed parents through a hash map of `(trace id, span id)` slices on its
//! own, a lookup (and a byte comparison) per ancestor per span, twice.

use rustc_hash::FxHashMap;

use super::SpanRef;

/// No parent, or no transaction, among the request's spans.
const NONE: u32 = u32::MAX;
/// Not worked out yet (while building).
const UNKNOWN: u32 = u32::MAX - 1;
/// On the walk being made (while building): met again, the parents form a cycle (bad data).
const ON_THE_WAY: u32 = u32::MAX - 2;

/// Per span of a request (same order): the index of its parent and of its transaction among the spans.
#[derive(Debug, Clone)]
pub struct Lineage {
    parent: Vec<u32>,
    transaction: Vec<u32>,
}

/// A span's `trace id ‖ span id` as one fixed-size key; `None` for ids of other lengths (ingest drops
/// such spans; they link to nothing here). Hashed as bytes, which FxHash mixes well: as integers
/// (`(u128, u64)`), ids that differ only in their last bytes (sequential ids, big-endian) left the low bits
/// of the hash equal and every span in one bucket chain: a request took 40 % longer to store.
fn key(trace_id: &[u8], span_id: &[u8]) -> Option<[u8; 24]> {
    (trace_id.len() == 16 && span_id.len() == 8).then(|| super::span_ids(trace_id, span_id))
}

impl Lineage {
    /// One lookup per span finds its parent (a span id repeated in the request: the last copy is the
    /// parent); the transactions then follow the parents, each chain walked once.
    pub fn of(spans: &[SpanRef<'_>]) -> Lineage {
        let mut by_id: FxHashMap<[u8; 24], u32> = FxHashMap::with_capacity_and_hasher(spans.len(), Default::default());
        for (i, s) in spans.iter().enumerate() {
            if let Some(k) = key(&s.trace_id, &s.span_id) {
                by_id.insert(k, i as u32);
            }
        }
        let parent: Vec<u32> =
            spans.iter().map(|s| key(&s.trace_id, &s.parent_span_id).and_then(|k| by_id.get(&k).copied()).unwrap_or(NONE)).collect();
        drop(by_id);
        let mut transaction = vec![UNKNOWN; spans.len()];
        let mut path = Vec::new();
        for i in 0..spans.len() {
            if transaction[i] != UNKNOWN {
                continue;
            }
            path.clear();
            let mut at = i;
            let found = loop {
                path.push(at);
                transaction[at] = ON_THE_WAY;
                let p = parent[at];
                if p == NONE {
                    break NONE;
                }
                if spans[p as usize].is_transaction {
                    break p;
                }
                match transaction[p as usize] {
                    UNKNOWN => at = p as usize,
                    ON_THE_WAY => break NONE,
                    known => break known,
                }
            };
            // Every span on the way has the same nearest transaction above it.
            for &j in &path {
                transaction[j] = found;
            }
        }
        Lineage { parent, transaction }
    }

    /// The index of span `i`'s parent, if the parent came in the same request.
    pub fn parent(&self, i: usize) -> Option<usize> {
        Some(self.parent[i]).filter(|p| *p != NONE).map(|p| p as usize)
    }

    /// The index of the transaction span `i` runs in: its nearest ancestor in the request that is a
    /// transaction (for a transaction, the one it is nested in, if any); none for spans whose parents form
    /// a cycle. Any depth: each chain is walked once, so a deep one costs no more than a shallow one.
    pub fn transaction(&self, i: usize) -> Option<usize> {
        Some(self.transaction[i]).filter(|t| *t != NONE).map(|t| t as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{span_refs, SpanRecord};

    fn span(trace: u8, id: u8, parent: Option<u8>, is_transaction: bool) -> SpanRecord {
        SpanRecord {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            is_transaction,
            ..Default::default()
        }
    }

    /// The lineage a plain walk up the parents finds, span by span (what the store did before).
    fn walked(spans: &[SpanRecord]) -> Vec<(Option<usize>, Option<usize>)> {
        let find = |trace: &[u8], id: &[u8]| spans.iter().rposition(|s| s.trace_id == trace && s.span_id == id && id.len() == 8);
        spans
            .iter()
            .map(|s| {
                let parent = find(&s.trace_id, &s.parent_span_id);
                let mut at = parent;
                let mut tx = None;
                for _ in 0..spans.len() {
                    let Some(p) = at else { break };
                    if spans[p].is_transaction {
                        tx = Some(p);
                        break;
                    }
                    at = find(&spans[p].trace_id, &spans[p].parent_span_id);
                }
                (parent, tx)
            })
            .collect()
    }

    fn lineage(spans: &[SpanRecord]) -> Vec<(Option<usize>, Option<usize>)> {
        let l = Lineage::of(&span_refs(spans));
        (0..spans.len()).map(|i| (l.parent(i), l.transaction(i))).collect()
    }

    #[test]
    fn parents_and_transactions_within_the_request() {
        let spans = vec![
            span(1, 3, Some(2), false), // a query in a method, before its parents arrive
            span(1, 2, Some(1), false),
            span(1, 1, None, true),
            span(1, 4, Some(1), true), // a transaction nested in another
            span(1, 5, Some(4), false),
            span(2, 6, Some(9), false), // its parent is in another request
            span(2, 2, Some(1), false), // same span id, another trace: not the first trace's span 2
        ];
        let got = lineage(&spans);
        assert_eq!(got, walked(&spans));
        assert_eq!(got[0], (Some(1), Some(2)));
        assert_eq!(got[3], (Some(2), Some(2)));
        assert_eq!(got[4], (Some(3), Some(3)));
        assert_eq!(got[5], (None, None));
        assert_eq!(got[6], (None, None));
    }

    #[test]
    fn cycles_and_odd_ids_end_the_walk() {
        let mut spans = vec![span(1, 1, Some(2), false), span(1, 2, Some(1), false), span(1, 3, Some(3), false)];
        let mut odd = span(1, 4, Some(1), false);
        odd.span_id = vec![4; 5];
        spans.push(odd);
        spans.push(span(1, 7, Some(4), false));
        let got = lineage(&spans);
        assert_eq!(got, walked(&spans));
        assert!(got.iter().all(|(_, tx)| tx.is_none()));
        assert_eq!(got[3], (Some(0), None));
    }

    #[test]
    fn a_deep_chain_finds_its_transaction_whichever_span_comes_first() {
        // 0: the transaction; 1..=200: each the child of the one before.
        let mut spans = vec![span(1, 0, None, true)];
        for i in 1..=200u8 {
            spans.push(span(1, i, Some(i - 1), false));
        }
        let got = lineage(&spans);
        assert_eq!(got, walked(&spans));
        assert!(got[1..].iter().all(|(_, tx)| *tx == Some(0)));
        spans.reverse();
        let got = lineage(&spans);
        assert_eq!(got, walked(&spans));
        assert!(got[..200].iter().all(|(_, tx)| *tx == Some(200)));
    }
}
