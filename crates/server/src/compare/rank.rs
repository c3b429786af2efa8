//! Ranking: a value ranks by how much more common it is in the selection than in the baseline, as the
//! difference of its shares (`94 % of selected − 3 % of baseline`): a value present equally in both scores
//! 0 whatever its count, and the score reads as "this many more of every hundred selected transactions".
//!
//! Two corrections make the cause come first, learnt on the demo's incidents:
//! - A trace holds several transactions (the gateway's and the service's it called), so a value of the
//!   called service (its statement, its peer) is in half the selection while one they share (`GET`) is in
//!   all of it. The difference is weighted by how directly a dimension can name a cause ([`weight`]).
//! - A slow transaction runs its slow statement *and* its fast ones, equally often. A statement or HTTP peer
//!   gains up to [`TIME_BONUS`] for the share of the selection's extra mean duration its extra self time
//!   explains.
//!
//! Outcomes (status, HTTP status, exception type) are ranked apart: they describe what the selection *is*.
//! Ties go to the more specific dimension (a statement before its endpoint before its service). Steps rank
//! by the extra self time per transaction.

use std::collections::HashMap;

use sightline_model::{CompareDim, RankedValue, StepDelta, StepKind, TagFilter};

use super::{Side, Tally, ValueCount};
use crate::store::record::kind;

/// Attribute keys ranked: the most frequent ones over both sets (a service may send dozens).
pub const MAX_ATTRIBUTE_KEYS: usize = 20;
/// Scores closer than this are a tie.
const TIE: f64 = 1e-9;
/// Most a statement or HTTP peer gains for explaining the selection's extra duration.
pub const TIME_BONUS: f64 = 0.25;

/// How directly a dimension can name a cause.
pub fn weight(d: CompareDim) -> f64 {
    match d {
        CompareDim::Statement | CompareDim::HttpTarget | CompareDim::WaitEvent | CompareDim::Version | CompareDim::Instance => 1.0,
        CompareDim::Endpoint | CompareDim::Thread | CompareDim::Attribute => 0.8,
        CompareDim::Service => 0.6,
        CompareDim::HttpMethod => 0.5,
        CompareDim::Status | CompareDim::HttpStatus | CompareDim::ErrorType => 1.0,
    }
}

/// An outcome value: an outcome dimension, or an attribute that reports the error.
fn is_outcome(v: &ValueCount) -> bool {
    v.dim.is_outcome()
        || (v.dim == CompareDim::Attribute
            && v.key.as_deref().is_some_and(|k| k == "error.type" || k.starts_with("exception.") || k.starts_with("otel.status")))
}

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

/// The values over-represented in the selection, best first, at most `limit` each: `(causes, outcomes)`.
pub fn values(t: &Tally, limit: usize) -> (Vec<RankedValue>, Vec<RankedValue>) {
    let mut key_totals: HashMap<&str, u64> = HashMap::new();
    for v in t.values.iter().filter(|v| v.dim == CompareDim::Attribute) {
        *key_totals.entry(v.key.as_deref().unwrap_or_default()).or_default() += v.selected + v.baseline;
    }
    let mut keys: Vec<(&str, u64)> = key_totals.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    keys.truncate(MAX_ATTRIBUTE_KEYS);
    let kept = |v: &ValueCount| v.dim != CompareDim::Attribute || keys.iter().any(|(k, _)| Some(*k) == v.key.as_deref());
    let bonus = time_bonus(t);
    let scored: Vec<(RankedValue, bool)> = t
        .values
        .iter()
        .filter(|v| kept(v))
        .map(|v| {
            let (s, b) = (share(v.selected, &t.selection), share(v.baseline, &t.baseline));
            let outcome = is_outcome(v);
            let score = if outcome {
                s - b
            } else {
                let extra = match v.dim {
                    CompareDim::Statement => bonus.get(&(kind::SQL, v.value.as_str())).copied().unwrap_or(0.0),
                    CompareDim::HttpTarget => bonus.get(&(kind::HTTP, v.value.as_str())).copied().unwrap_or(0.0),
                    _ => 0.0,
                };
                (s - b) * weight(v.dim) + extra
            };
            let v = RankedValue {
                dim: v.dim,
                key: v.key.clone(),
                value: v.value.clone(),
                selected: v.selected,
                baseline: v.baseline,
                selected_share: s,
                baseline_share: b,
                score,
                filter: TagFilter { dim: v.dim, key: v.key.clone(), value: v.value.clone() }.to_param(),
            };
            (v, outcome)
        })
        .filter(|(v, _)| v.score > TIE && v.selected_share > v.baseline_share)
        .collect();
    let (causes, outcomes): (Vec<_>, Vec<_>) = scored.into_iter().partition(|(_, outcome)| !outcome);
    let mut causes: Vec<RankedValue> = causes.into_iter().map(|(v, _)| v).collect();
    let mut outcomes: Vec<RankedValue> = outcomes.into_iter().map(|(v, _)| v).collect();
    for list in [&mut causes, &mut outcomes] {
        list.sort_by(|a, b| {
            if (a.score - b.score).abs() > TIE {
                b.score.total_cmp(&a.score)
            } else {
                specificity(a.dim).cmp(&specificity(b.dim)).then(b.selected.cmp(&a.selected)).then(a.value.cmp(&b.value))
            }
        });
        list.truncate(limit);
    }
    (causes, outcomes)
}

/// Per `(kind, name)` of each statement and HTTP peer: [`TIME_BONUS`] × the share of the selection's extra
/// mean duration (over the baseline's) that its extra self time per transaction explains, in `0..=1`.
fn time_bonus(t: &Tally) -> HashMap<(u32, &str), f64> {
    let mean = |s: &Side| if s.count == 0 { 0.0 } else { s.sum_ms / s.count as f64 };
    let extra_total = mean(&t.selection) - mean(&t.baseline);
    let mut out = HashMap::new();
    if extra_total <= 0.0 || t.selection.count == 0 {
        return out;
    }
    let per = |ms: f64, s: &Side| if s.count == 0 { 0.0 } else { ms / s.count as f64 };
    for s in t.steps.iter().filter(|s| s.kind == kind::SQL || s.kind == kind::HTTP) {
        let extra = per(s.selected_ms, &t.selection) - per(s.baseline_ms, &t.baseline);
        if extra > 0.0 {
            out.insert((s.kind, s.name.as_str()), TIME_BONUS * (extra / extra_total).min(1.0));
        }
    }
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
        let (r, outcomes) = values(&t, 10);
        assert!(outcomes.is_empty());
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
        assert!((r[0].score - 0.9).abs() < 1e-12, "no steps: no time bonus");
        assert!((r[1].score - 0.9 * 0.8).abs() < 1e-12, "an endpoint weighs 0.8");
        assert_eq!(r[0].filter, "statement=select * from ledger");
        assert!((r[3].baseline_share - 0.005).abs() < 1e-12);
    }

    #[test]
    fn the_statement_that_explains_the_extra_time_wins_and_outcomes_are_apart() {
        use super::super::StepCount;
        let step = |name: &str, sel_ms: f64| StepCount {
            kind: kind::SQL,
            name: name.into(),
            selected_tx: 100,
            baseline_tx: 100,
            selected_ms: sel_ms,
            baseline_ms: 1000.0,
        };
        let t = Tally {
            // Selection: 100 transactions, mean 1 s; baseline: 1000, mean 50 ms.
            selection: Side { count: 100, errors: 100, sum_ms: 100_000.0 },
            baseline: Side { count: 1000, errors: 10, sum_ms: 50_000.0 },
            values: vec![
                v(CompareDim::Statement, "fast", 100, 100),
                v(CompareDim::Statement, "slow", 100, 100),
                v(CompareDim::Status, "error", 100, 10),
                ValueCount { dim: CompareDim::Attribute, key: Some("error.type".into()), value: "Timeout".into(), selected: 100, baseline: 10 },
            ],
            // `slow` takes 900 ms more per selected transaction than per baseline one, of 950 ms extra.
            steps: vec![step("fast", 100.0), step("slow", 90_100.0)],
            ..Default::default()
        };
        let (causes, outcomes) = values(&t, 10);
        assert_eq!(causes.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["slow", "fast"]);
        assert!((causes[0].score - (0.9 + TIME_BONUS * 900.0 / 950.0)).abs() < 1e-9, "{}", causes[0].score);
        assert_eq!(outcomes.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["Timeout", "error"], "a tie: the more specific first");
    }

    #[test]
    fn only_the_most_frequent_attribute_keys_rank() {
        let mut values = Vec::new();
        for k in 0..(MAX_ATTRIBUTE_KEYS + 5) {
            values.push(ValueCount { dim: CompareDim::Attribute, key: Some(format!("k{k:02}")), value: "x".into(), selected: 1, baseline: 100 - k as u64 });
        }
        let t = Tally { selection: Side { count: 1, ..Default::default() }, baseline: Side { count: 1000, ..Default::default() }, values, ..Default::default() };
        let (r, _) = super::values(&t, 100);
        assert_eq!(r.len(), MAX_ATTRIBUTE_KEYS);
        assert!(r.iter().all(|v| v.key.as_deref() < Some("k20")));
    }
}
