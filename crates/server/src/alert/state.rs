//! The state machine of one alert instance, apart from any I/O so the evaluator and the preview share it:
//! ok → pending (the condition holds) → firing (it held for `for_s`; at once when `for_s` is 0) →
//! resolved (it stopped); pending → ok when it stops before `for_s`; any state → no_data when the group
//! has no value (or the source cannot be read).

use sightline_model::alert::{AlertState, Condition};

/// What one evaluation saw for an instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen {
    /// The condition holds.
    Bad,
    /// It does not.
    Good,
    /// No value (and that is not what the rule looks for), or the source could not be read.
    Missing,
}

/// How a value (or its absence) reads under a condition.
pub fn judge(condition: &Condition, value: Option<f64>) -> Seen {
    match (condition, value) {
        (Condition::NoData, None) => Seen::Bad,
        (Condition::NoData, Some(_)) => Seen::Good,
        (_, None) => Seen::Missing,
        (Condition::Above { threshold }, Some(v)) => bad_if(v > *threshold),
        (Condition::Below { threshold }, Some(v)) => bad_if(v < *threshold),
        (Condition::Outside { low, high }, Some(v)) => bad_if(v < *low || v > *high),
    }
}

fn bad_if(b: bool) -> Seen {
    if b {
        Seen::Bad
    } else {
        Seen::Good
    }
}

/// The next state of an instance that is in `state` since `since_ms`, seeing `seen` at `now_ms`.
pub fn next(state: AlertState, since_ms: i64, seen: Seen, for_ms: i64, now_ms: i64) -> AlertState {
    use AlertState::*;
    match (seen, state) {
        (Seen::Bad, Firing) => Firing,
        (Seen::Bad, Pending) if now_ms - since_ms >= for_ms => Firing,
        (Seen::Bad, Pending) => Pending,
        (Seen::Bad, _) if for_ms <= 0 => Firing,
        (Seen::Bad, _) => Pending,
        (Seen::Good, Pending | NoData) => Ok,
        (Seen::Good, Firing) => Resolved,
        (Seen::Good, s) => s,
        (Seen::Missing, _) => NoData,
    }
}

/// When an instance with these values (`(t, value)`, in time order) would have been firing: `(from, to)`
/// pairs, the last one ending at `end` if it was still firing.
pub fn firing_intervals(points: &[(i64, Option<f64>)], condition: &Condition, for_ms: i64, end: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let (mut state, mut since) = (AlertState::Ok, i64::MIN);
    let mut started = None;
    for &(t, v) in points {
        let n = next(state, since, judge(condition, v), for_ms, t);
        if n != state {
            if n == AlertState::Firing {
                started = Some(t);
            } else if let Some(s) = started.take() {
                out.push((s, t));
            }
            state = n;
            since = t;
        }
    }
    if let Some(s) = started {
        out.push((s, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertState::*;

    #[test]
    fn pending_then_firing_after_for() {
        let above = Condition::Above { threshold: 10.0 };
        assert_eq!(next(Ok, 0, judge(&above, Some(11.0)), 60_000, 1_000), Pending);
        assert_eq!(next(Pending, 1_000, Seen::Bad, 60_000, 60_999), Pending);
        assert_eq!(next(Pending, 1_000, Seen::Bad, 60_000, 61_000), Firing);
        assert_eq!(next(Pending, 1_000, Seen::Good, 60_000, 30_000), Ok);
        assert_eq!(next(Firing, 1_000, Seen::Good, 60_000, 90_000), Resolved);
        assert_eq!(next(Resolved, 1_000, Seen::Good, 60_000, 90_000), Resolved);
        assert_eq!(next(Ok, 0, Seen::Bad, 0, 5), Firing, "for 0 fires at once");
        assert_eq!(next(Firing, 0, Seen::Missing, 0, 5), NoData);
        assert_eq!(judge(&Condition::NoData, None), Seen::Bad);
        assert_eq!(judge(&Condition::Outside { low: 1.0, high: 2.0 }, Some(1.5)), Seen::Good);
        assert_eq!(judge(&above, None), Seen::Missing);
    }

    #[test]
    fn preview_honours_for() {
        let above = Condition::Above { threshold: 10.0 };
        let pts: Vec<(i64, Option<f64>)> =
            [1.0, 20.0, 20.0, 20.0, 1.0, 20.0, 1.0, 20.0, 20.0].iter().enumerate().map(|(i, v)| (i as i64 * 10, Some(*v))).collect();
        // Firing after 20 (two steps) of holding: from t=30 to the drop at 40, and from 80 to the end.
        assert_eq!(firing_intervals(&pts, &above, 20, 90), vec![(30, 40)]);
        assert_eq!(firing_intervals(&pts, &above, 10, 90), vec![(20, 40), (80, 90)]);
    }
}
