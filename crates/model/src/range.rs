//! The time range every page shares. It lives in the URL (`?range=15m&live=1` or `?from=…&to=…`), so a
//! link reproduces what the user saw.

use serde::{Deserialize, Serialize};

/// Relative ranges offered by the picker; anything else is a custom absolute range.
pub const PRESETS: &[(&str, i64)] = &[
    ("5m", 5 * 60_000),
    ("15m", 15 * 60_000),
    ("1h", 60 * 60_000),
    ("6h", 6 * 60 * 60_000),
];

/// A time range as the user chose it: relative to now (and usually live) or fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimeRange {
    /// The last `ms` milliseconds, re-evaluated against the clock.
    Relative { ms: i64 },
    /// A fixed window in epoch milliseconds.
    Absolute { from: i64, to: i64 },
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange::Relative { ms: 15 * 60_000 }
    }
}

impl TimeRange {
    /// Resolves the range against `now_ms` into `(from, to)`.
    pub fn resolve(&self, now_ms: i64) -> (i64, i64) {
        match *self {
            TimeRange::Relative { ms } => (now_ms - ms, now_ms),
            TimeRange::Absolute { from, to } => (from, to),
        }
    }

    /// The preset label (`"15m"`) if this is one of the picker's presets.
    pub fn preset(&self) -> Option<&'static str> {
        match *self {
            TimeRange::Relative { ms } => PRESETS.iter().find(|(_, m)| *m == ms).map(|(l, _)| *l),
            TimeRange::Absolute { .. } => None,
        }
    }

    /// Parses URL parameters: `range` (a duration such as `15m`, `2h`, `90s`) wins over `from`/`to`.
    pub fn from_params(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> Option<Self> {
        if let Some(r) = range {
            return parse_duration_ms(r).map(|ms| TimeRange::Relative { ms });
        }
        let from = from?.parse::<i64>().ok()?;
        let to = to?.parse::<i64>().ok()?;
        (from < to).then_some(TimeRange::Absolute { from, to })
    }
}

/// Parses `90s`, `15m`, `6h`, `2d` into milliseconds; `None` for anything else or for zero.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.len().checked_sub(1)?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(unit_ms)).flatten()
}

/// Formats milliseconds as the shortest of `Nd`, `Nh`, `Nm`, `Ns` that is exact.
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms % size == 0 {
            return format!("{}{}", ms / size, unit);
        }
    }
    format!("{}s", ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for s in ["90s", "15m", "6h", "2d"] {
            assert_eq!(format_duration_ms(parse_duration_ms(s).unwrap()), s);
        }
        assert_eq!(parse_duration_ms("0m"), None);
        assert_eq!(parse_duration_ms("m"), None);
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms(""), None);
    }

    #[test]
    fn params_prefer_range_and_reject_inverted_windows() {
        assert_eq!(
            TimeRange::from_params(Some("1h"), Some("1"), Some("2")),
            Some(TimeRange::Relative { ms: 3_600_000 })
        );
        assert_eq!(
            TimeRange::from_params(None, Some("10"), Some("20")),
            Some(TimeRange::Absolute { from: 10, to: 20 })
        );
        assert_eq!(TimeRange::from_params(None, Some("20"), Some("10")), None);
        assert_eq!(TimeRange::Relative { ms: 3_600_000 }.preset(), Some("1h"));
    }
}
