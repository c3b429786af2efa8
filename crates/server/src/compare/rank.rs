//! Ranking: a value ranks by how much more common it is in the selection than in the baseline, as the
//! difference of its shares (`94 % of selected − 3 % of baseline`): a value present equally in both scores
//! 0 whatever its count, and the score reads as "this many more of every hundred selected transactions".
//! Ties go to the more specific dimension (a statement before its endpoint before its service), so the
//! cause comes before what merely contains it. Steps rank by the extra self time per transaction.

use std::collections::HashMap;

use sightline_model::{CompareDim, RankedValue, StepDelta, StepKind, TagFilter};

use super::{Side, Tally, ValueCount};
use crate::store::record::kind;

/// Attribute keys ranked: the most frequent ones over both sets (a service may send dozens).
pub const MAX_ATTRIBUTE_KEYS: usize = 20;
/// Scores closer than this are a tie.
const TIE: f64 = 1e-9;

/// Lower first among equal scores: the more specific dimensions.
fn specificity(d: CompareDim) -> u8 {
    match d {
        CompareDim::Statement | CompareDim::HttpTarget | CompareDim::WaitEvent => 0,
        CompareDim::ErrorType | CompareDim::Version | CompareDim::Instance => 1,
        CompareDim::Attribute | CompareDim::Thread => 2,
        CompareDim::HttpStatus | CompareDim::HttpMethod | CompareDim::Status => 3,
        CompareDim::Endpoint => 4,
        CompareDim::Service => 5,
    }
}

fn share(n: u64, side: &Side) -> f64 {
    if side.count == 0 {
        0.0
    } else {
        n as f64 / side.count as f64
    }
}

/// The values over-represented in the selection, best first, at most `limit`.
pub fn values(t: &Tally, limit: usize) -> Vec<RankedValue> {
    let mut key_totals: HashMap<&str, u64> = HashMap::new();
    for v in t.values.iter().filter(|v| v.dim == CompareDim::Attribute) {
        *key_totals.entry(v.key.as_deref().unwrap_or_default()).or_default() += v.selected + v.baseline;
    }
    let mut keys: Vec<(&str, u64)> = key_totals.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    keys.truncate(MAX_ATTRIBUTE_KEYS);
    let kept = |v: &ValueCount| v.dim != CompareDim::Attribute || keys.iter().any(|(k, _)| Some(*k) == v.key.as_deref());
    let mut out: Vec<RankedValue> = t
        .values
        .iter()
        .filter(|v| kept(v))
        .map(|v| {
            let (s, b) = (share(v.selected, &t.selection), share(v.baseline, &t.baseline));
            RankedValue {
                dim: v.dim,
                key: v.key.clone(),
                value: v.value.clone(),
                selected: v.selected,
                baseline: v.baseline,
                selected_share: s,
                baseline_share: b,
                score: s - b,
                filter: TagFilter { dim: v.dim, key: v.key.clone(), value: v.value.clone() }.to_param(),
            }
        })
        .filter(|v| v.score > TIE)
        .collect();
    out.sort_by(|a, b| {
        if (a.score - b.score).abs() > TIE {
            b.score.total_cmp(&a.score)
        } else {
            specificity(a.dim).cmp(&specificity(b.dim)).then(b.selected.cmp(&a.selected)).then(a.value.cmp(&b.value))
        }
    });
    out.truncate(limit);
    out
}

/// The steps that take more self time per selected transaction than per baseline one, most first.
pub fn steps(t: &Tally, limit: usize) -> Vec<StepDelta> {
    let per = |ms: f64, side: &Side| if side.count == 0 { 0.0 } else { ms / side.count as f64 };
    let mut out: Vec<StepDelta> = t
        .steps
        .iter()
        .map(|s| {
            let (sel, base) = (per(s.selected_ms, &t.selection), per(s.baseline_ms, &t.baseline));
            let (kind, dim) = match s.kind {
                kind::SQL => (StepKind::Sql, Some(CompareDim::Statement)),
                kind::HTTP => (StepKind::Http, Some(CompareDim::HttpTarget)),
                _ => (StepKind::Method, None),
            };
            StepDelta {
                kind,
                name: s.name.clone(),
                selected_ms: sel,
                baseline_ms: base,
                selected_tx: s.selected_tx,
                baseline_tx: s.baseline_tx,
                extra_ms: sel - base,
                filter: dim.map(|dim| TagFilter { dim, key: None, value: s.name.clone() }.to_param()),
            }
        })
        .filter(|s| s.extra_ms > TIE)
        .collect();
    out.sort_by(|a, b| b.extra_ms.total_cmp(&a.extra_ms).then(a.name.cmp(&b.name)));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(dim: CompareDim, value: &str, selected: u64, baseline: u64) -> ValueCount {
        ValueCount { dim, key: None, value: value.into(), selected, baseline }
    }

    #[test]
    fn shares_decide_and_ties_go_to_the_specific_dimension() {
        let t = Tally {
            selection: Side { count: 100, ..Default::default() },
            baseline: Side { count: 1000, ..Default::default() },
            values: vec![
                v(CompareDim::Service, "balance", 100, 100),
                v(CompareDim::Endpoint, "GET /balance", 100, 100),
                v(CompareDim::Statement, "select * from ledger", 100, 100),
                v(CompareDim::Instance, "b-1", 50, 500),
                v(CompareDim::Instance, "b-2", 10, 5),
            ],
            ..Default::default()
        };
        let r = values(&t, 10);
        let got: Vec<_> = r.iter().map(|r| (r.dim, r.value.as_str())).collect();
        assert_eq!(
            got,
            [
                (CompareDim::Statement, "select * from ledger"),
                (CompareDim::Endpoint, "GET /balance"),
                (CompareDim::Service, "balance"),
                (CompareDim::Instance, "b-2"),
            ],
            "equal shares (b-1: 50 % in both) are not listed"
        );
        assert!((r[0].score - 0.9).abs() < 1e-12);
        assert_eq!(r[0].filter, "statement=select * from ledger");
        assert!((r[3].baseline_share - 0.005).abs() < 1e-12);
    }

    #[test]
    fn only_the_most_frequent_attribute_keys_rank() {
        let mut values = Vec::new();
        for k in 0..(MAX_ATTRIBUTE_KEYS + 5) {
            values.push(ValueCount { dim: CompareDim::Attribute, key: Some(format!("k{k:02}")), value: "x".into(), selected: 1, baseline: 100 - k as u64 });
        }
        let t = Tally { selection: Side { count: 1, ..Default::default() }, baseline: Side { count: 1000, ..Default::default() }, values, ..Default::default() };
        let r = super::values(&t, 100);
        assert_eq!(r.len(), MAX_ATTRIBUTE_KEYS);
        assert!(r.iter().all(|v| v.key.as_deref() < Some("k20")));
    }
}
