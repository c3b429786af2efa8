//! The arithmetic of the board charts, free of the browser so it runs in host unit tests: values formatted
//! by unit, round axis ticks, time ticks and their labels, pointer x → bucket, stacking, gaps, per-series
//! statistics and threshold colours.

use std::collections::BTreeMap;
use std::ops::Range;

use sightline_model::{MetricQueryResult, Threshold};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

// ---------------------------------------------------------------------------------------------------------
// Values

/// A value as people read it, by the metric's unit (`MetricInfo::unit`): `1.2 s`, `340 ms`, `12.5/s`,
/// `97.3 %` (a `ratio` is shown as a percentage), `1.4 GB`, `1.2k`. Three significant digits at most;
/// a unit nobody told us about is appended as is.
pub fn format_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    match unit {
        "ms" => duration_ms(v),
        "s" => duration_ms(v * 1000.0),
        "us" | "µs" => duration_ms(v / 1000.0),
        "1/s" | "/s" => format!("{}/s", si(v)),
        "ratio" => format!("{} %", num(v * 100.0)),
        "percent" | "%" => format!("{} %", num(v)),
        "bytes" | "B" => bytes(v),
        "" | "count" => si(v),
        other => format!("{} {other}", si(v)),
    }
}

/// `v` rounded to `digits` significant digits.
fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Three significant digits, no trailing zeros, never an exponent: `97.3`, `0.25`, `1200`.
fn num(v: f64) -> String {
    let r = round_sig(v, 3);
    let a = r.abs();
    if a < 1e-9 {
        return "0".into();
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{r:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `1.2k`, `34M`: thousands and up get a suffix.
fn si(v: f64) -> String {
    scaled(v, &[(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")], "")
}

fn bytes(v: f64) -> String {
    scaled(v, &[(1e12, " TB"), (1e9, " GB"), (1e6, " MB"), (1e3, " kB")], " B")
}

/// Divides by the largest step the (rounded) value reaches, so `999.7` reads `1k`, not `1000`.
fn scaled(v: f64, steps: &[(f64, &str)], base_suffix: &str) -> String {
    let r = round_sig(v, 3).abs();
    for &(step, suffix) in steps {
        if r >= step {
            return format!("{}{suffix}", num(v / step));
        }
    }
    format!("{}{base_suffix}", num(v))
}

/// `0.25 ms`, `340 ms`, `1.2 s`, `2.5 min`, `1.5 h`, `3 d`.
fn duration_ms(v: f64) -> String {
    let r = round_sig(v, 3).abs();
    let (div, unit) = if r < 1000.0 {
        (1.0, "ms")
    } else if r < 60_000.0 {
        (1000.0, "s")
    } else if r < HOUR as f64 {
        (MINUTE as f64, "min")
    } else if r < DAY as f64 {
        (HOUR as f64, "h")
    } else {
        (DAY as f64, "d")
    };
    format!("{} {unit}", num(v / div))
}

// ---------------------------------------------------------------------------------------------------------
// Axes

/// Round ticks of a value axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// The axis range: the data's range widened to whole steps.
    pub lo: f64,
    pub hi: f64,
    pub step: f64,
    /// `lo`, `lo + step`, …, `hi`.
    pub values: Vec<f64>,
}

/// Ticks for values in `min..=max`: steps of 1, 2 or 5 × 10ⁿ, at most `max_ticks` of them (at least 2).
/// An empty or flat range gets an axis anyway (`0..=1`, or around the value).
pub fn nice_ticks(min: f64, max: f64, max_ticks: usize) -> Ticks {
    let (mut a, mut b) = if min.is_finite() && max.is_finite() { (min.min(max), min.max(max)) } else { (0.0, 1.0) };
    if b - a <= f64::EPSILON * a.abs().max(b.abs()).max(1.0) {
        if a == 0.0 {
            b = 1.0;
        } else if a > 0.0 {
            a = 0.0;
        } else {
            b = 0.0;
        }
    }
    let intervals = max_ticks.max(2) as f64 - 1.0;
    let mut mag = 10f64.powf(((b - a) / intervals).log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0] {
            let step = m * mag;
            let (lo_i, hi_i) = ((a / step).floor(), (b / step).ceil());
            if hi_i - lo_i <= intervals {
                let values = (0..=(hi_i - lo_i) as i64).map(|i| clean((lo_i + i as f64) * step, step)).collect();
                return Ticks { lo: clean(lo_i * step, step), hi: clean(hi_i * step, step), step, values };
            }
        }
        mag *= 10.0;
    }
}

/// Removes float noise (`0.30000000000000004`) from a multiple of `step`.
fn clean(v: f64, step: f64) -> f64 {
    let digits = (-step.log10().floor()).max(0.0) as i32 + 1;
    let f = 10f64.powi(digits);
    let r = (v * f).round() / f;
    if r == 0.0 {
        0.0 // no "-0"
    } else {
        r
    }
}

/// Round time steps, smallest first.
const TIME_STEPS: &[i64] = &[
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE,
    30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY,
];

/// The smallest round step that keeps time labels at least `min_gap_px` apart on a `width_px` wide axis.
pub fn time_step(span_ms: f64, width_px: f64, min_gap_px: f64) -> i64 {
    let max_labels = (width_px / min_gap_px.max(1.0)).floor().max(1.0);
    TIME_STEPS.iter().copied().find(|s| span_ms / *s as f64 <= max_labels).unwrap_or(28 * DAY)
}

/// Tick times in `from..=to` on multiples of `step` in local time (`tz_offset_ms` east of UTC), so hours
/// and days start where the operator's clock says.
pub fn time_ticks(from: f64, to: f64, step: i64, tz_offset_ms: i64) -> Vec<i64> {
    if to.partial_cmp(&from) != Some(std::cmp::Ordering::Greater) || step <= 0 {
        return Vec::new();
    }
    let first = ((from as i64 + tz_offset_ms) as f64 / step as f64).ceil() as i64 * step - tz_offset_ms;
    (0..).map(|i| first + i * step).take_while(|&t| t as f64 <= to).take(1000).collect()
}

/// Label of a time tick: the date (`Nov 25`) at local midnight, else `HH:MM` (`HH:MM:SS` below a minute).
pub fn time_label(t: i64, step: i64, tz_offset_ms: i64) -> String {
    let local = t + tz_offset_ms;
    if local.rem_euclid(DAY) == 0 {
        date_label(local)
    } else if step < MINUTE {
        hms(local)
    } else {
        hms(local)[..5].to_string()
    }
}

/// The tooltip's heading for the bucket starting at `t`: `14:05 – 14:06`, with seconds for buckets under a
/// minute, and the date first when the chart spans more than a day. A step of 0 is an instant (a sample, as
/// on the DB page's graphs): `14:05:12`.
pub fn bucket_label(t: i64, step_ms: i64, multi_day: bool, tz_offset_ms: i64) -> String {
    let (a, b) = (t + tz_offset_ms, t + step_ms.max(0) + tz_offset_ms);
    let clock = |l: i64| if step_ms < MINUTE { hms(l) } else { hms(l)[..5].to_string() };
    let range = if step_ms > 0 { format!("{} – {}", clock(a), clock(b)) } else { clock(a) };
    if multi_day {
        format!("{} {range}", date_label(a))
    } else {
        range
    }
}

fn hms(local: i64) -> String {
    let s = local.rem_euclid(DAY) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `Nov 25` for a local time in ms since the epoch.
fn date_label(local: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (_, m, d) = civil_from_days(local.div_euclid(DAY));
    format!("{} {d}", MONTHS[(m - 1) as usize])
}

/// (year, month 1..=12, day 1..=31) of a day number since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

// ---------------------------------------------------------------------------------------------------------
// Data

/// The time span the x axis shows: the query window, widened to cover every bucket.
pub fn x_domain(d: &MetricQueryResult) -> (f64, f64) {
    let step = d.step_ms.max(0);
    let mut from = d.from.min(d.timestamps.first().copied().unwrap_or(d.from));
    let mut to = d.to.max(d.timestamps.last().map(|t| t + step).unwrap_or(d.to));
    if to <= from {
        from -= step.max(1000) / 2;
        to = from + step.max(1000);
    }
    (from as f64, to as f64)
}

/// Where a bucket is drawn: its middle.
pub fn bucket_center(t: i64, step_ms: i64) -> f64 {
    t as f64 + step_ms.max(0) as f64 / 2.0
}

/// The bucket whose middle is nearest to time `t` (buckets sorted by start).
pub fn nearest_bucket(timestamps: &[i64], step_ms: i64, t: f64) -> Option<usize> {
    if timestamps.is_empty() || !t.is_finite() {
        return None;
    }
    let i = timestamps.partition_point(|&ts| bucket_center(ts, step_ms) < t);
    let dist = |j: usize| (bucket_center(timestamps[j], step_ms) - t).abs();
    Some(match i {
        0 => 0,
        i if i == timestamps.len() => i - 1,
        i if dist(i - 1) <= dist(i) => i - 1,
        i => i,
    })
}

/// The index ranges of uninterrupted non-null values: each is drawn as its own line, so nulls are gaps.
pub fn runs<T>(values: &[Option<T>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, v) in values.iter().enumerate() {
        match (v.is_some(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..values.len());
    }
    out
}

/// What each series occupies per bucket, as `(base, top)`, `None` where its value is null. Stacked, a series
/// starts where the ones before it ended (a null adds nothing to the stack); otherwise every band starts at 0.
pub fn bands(series: &[&[Option<f64>]], stacked: bool) -> Vec<Vec<Option<(f64, f64)>>> {
    let len = series.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut base = vec![0.0; len];
    series
        .iter()
        .map(|values| {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let v = v.filter(|v| v.is_finite())?;
                    if stacked {
                        let b = base[i];
                        base[i] += v;
                        Some((b, b + v))
                    } else {
                        Some((0.0, v))
                    }
                })
                .collect()
        })
        .collect()
}

/// The smallest and largest value the bands reach, 0 included (bars and areas grow from it).
pub fn extent(bands: &[Vec<Option<(f64, f64)>>]) -> (f64, f64) {
    bands.iter().flatten().flatten().fold((0.0f64, 0.0f64), |(lo, hi), &(b, t)| (lo.min(b).min(t), hi.max(b).max(t)))
}

/// A series' name in the legend: its group labels (`service=checkout, endpoint=/pay`), or the metric's name.
pub fn series_label(labels: &BTreeMap<String, String>, metric: &str) -> String {
    if labels.is_empty() {
        metric.to_string()
    } else {
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

/// A series' name where its dimensions are already said (a column heading): the label values only
/// (`checkout, /pay`), or the metric's name.
pub fn series_values(labels: &BTreeMap<String, String>, metric: &str) -> String {
    if labels.is_empty() {
        metric.to_string()
    } else {
        labels.values().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Non-null values of the series at `visible` positions (all when `None`): what the chart draws.
pub fn point_count(d: &MetricQueryResult, visible: Option<&[bool]>) -> usize {
    d.series
        .iter()
        .enumerate()
        .filter(|(i, _)| visible.is_none_or(|v| v.get(*i).copied().unwrap_or(true)))
        .map(|(_, s)| s.values.iter().filter(|v| v.is_some_and(f64::is_finite)).count())
        .sum()
}

/// Summary of one series over the range; nulls are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeriesStats {
    pub mean: Option<f64>,
    pub max: Option<f64>,
    /// The latest non-null value, with its bucket index.
    pub last: Option<(usize, f64)>,
}

pub fn series_stats(values: &[Option<f64>]) -> SeriesStats {
    let (mut sum, mut n, mut max) = (0.0, 0usize, None::<f64>);
    let mut last = None;
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            sum += v;
            n += 1;
            max = Some(max.map_or(v, |m| m.max(v)));
            last = Some((i, v));
        }
    }
    SeriesStats { mean: (n > 0).then(|| sum / n as f64), max, last }
}

/// One line of the top-N table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopRow {
    /// `service=checkout`
    pub label: String,
    /// `checkout`
    pub name: String,
    pub mean: Option<f64>,
    pub max: Option<f64>,
    /// Bar length, `0..=1`: the mean relative to the largest mean shown.
    pub share: f64,
}

/// The `limit` series with the highest mean, highest first (series without values last), and how many were
/// left out: here, and by the server (`truncated`).
pub fn top_rows(d: &MetricQueryResult, limit: usize) -> (Vec<TopRow>, usize) {
    let mut rows: Vec<TopRow> = d
        .series
        .iter()
        .map(|s| {
            let st = series_stats(&s.values);
            TopRow { label: series_label(&s.labels, &d.metric), name: series_values(&s.labels, &d.metric), mean: st.mean, max: st.max, share: 0.0 }
        })
        .collect();
    crate::sort::sort_by(&mut rows, |a, b| {
        b.mean.unwrap_or(f64::NEG_INFINITY).total_cmp(&a.mean.unwrap_or(f64::NEG_INFINITY)).then_with(|| a.label.cmp(&b.label))
    });
    let more = rows.len().saturating_sub(limit) + d.truncated;
    rows.truncate(limit);
    let top = rows.iter().filter_map(|r| r.mean).fold(0.0f64, |m, v| m.max(v.abs()));
    for r in &mut rows {
        r.share = match r.mean {
            Some(m) if top > 0.0 => (m.abs() / top).clamp(0.0, 1.0),
            _ => 0.0,
        };
    }
    (rows, more)
}

/// The colour of a single number: that of the highest threshold at or below it (thresholds in any order).
/// `ok`, `warn` and `bad` are the theme's colours; anything else is taken as a CSS colour if it looks like one.
pub fn threshold_color(v: f64, thresholds: &[Threshold]) -> Option<String> {
    let t = thresholds.iter().filter(|t| t.value <= v).max_by(|a, b| a.value.total_cmp(&b.value))?;
    let c = t.color.trim();
    Some(match c {
        "ok" => "var(--ok)".into(),
        "warn" => "var(--warn)".into(),
        "bad" | "err" | "error" => "var(--err)".into(),
        c if !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "#(),.% -".contains(ch)) => c.into(),
        _ => return None,
    })
}

/// An SVG path (`M x y L …`) of the values in a `w` × `h` box, y up; nulls break the line, a lone value is a
/// short dash so it shows. The box spans the values' range, or from 0 when `from_zero` (counts, where a
/// flat line of 3 must not look like a flat line of 300).
pub fn sparkline_path(values: &[Option<f64>], w: f64, h: f64, from_zero: bool) -> String {
    let finite: Vec<f64> = values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let start = if from_zero { (0.0, f64::NEG_INFINITY) } else { (f64::INFINITY, f64::NEG_INFINITY) };
    let (lo, hi) = finite.iter().fold(start, |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if finite.is_empty() {
        return String::new();
    }
    let n = values.len().max(2) - 1;
    let x = |i: usize| i as f64 / n as f64 * w;
    let y = |v: f64| if hi > lo { h - (v - lo) / (hi - lo) * h } else { h / 2.0 };
    let mut d = String::new();
    for r in runs(values) {
        for i in r.clone() {
            let v = values[i].unwrap_or(lo);
            let cmd = if i == r.start { 'M' } else { 'L' };
            d.push_str(&format!("{cmd}{:.2} {:.2}", x(i), y(v)));
        }
        if r.len() == 1 {
            d.push_str(&format!("h{:.2}", (w / n as f64 / 2.0).max(0.5)));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::MetricSeries;

    #[test]
    fn values_are_formatted_by_unit() {
        assert_eq!(format_value(1200.0, "ms"), "1.2 s");
        assert_eq!(format_value(340.0, "ms"), "340 ms");
        assert_eq!(format_value(0.25, "ms"), "0.25 ms");
        assert_eq!(format_value(999.7, "ms"), "1 s");
        assert_eq!(format_value(90_000.0, "ms"), "1.5 min");
        assert_eq!(format_value(0.0, "ms"), "0 ms");
        assert_eq!(format_value(12.5, "1/s"), "12.5/s");
        assert_eq!(format_value(1234.0, "1/s"), "1.23k/s");
        assert_eq!(format_value(0.973, "ratio"), "97.3 %");
        assert_eq!(format_value(97.3, "percent"), "97.3 %");
        assert_eq!(format_value(1.4e9, "bytes"), "1.4 GB");
        assert_eq!(format_value(512.0, "bytes"), "512 B");
        assert_eq!(format_value(1200.0, "count"), "1.2k");
        assert_eq!(format_value(999_999.0, "count"), "1M");
        assert_eq!(format_value(7.0, ""), "7");
        assert_eq!(format_value(-1500.0, "count"), "-1.5k");
        assert_eq!(format_value(3.0, "widgets"), "3 widgets");
        assert_eq!(format_value(f64::NAN, "ms"), "—");
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        let t = nice_ticks(0.0, 97.0, 6);
        assert_eq!((t.lo, t.hi, t.step), (0.0, 100.0, 20.0));
        assert_eq!(t.values, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);

        let t = nice_ticks(0.0, 0.3, 5);
        assert_eq!(t.values, vec![0.0, 0.1, 0.2, 0.3]);

        let t = nice_ticks(-12.0, 40.0, 6);
        assert!(t.lo <= -12.0 && t.hi >= 40.0 && t.values.len() <= 6, "{t:?}");

        // Flat or empty data still gets an axis.
        assert_eq!(nice_ticks(0.0, 0.0, 5).values, vec![0.0, 0.5, 1.0]);
        assert_eq!(nice_ticks(5.0, 5.0, 6).hi, 5.0);
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5).lo, 0.0);
        assert!(nice_ticks(0.0, 1e-12, 1).values.len() >= 2);
    }

    #[test]
    fn tick_labels_never_repeat() {
        for unit in ["ms", "1/s", "ratio", "bytes", "count"] {
            for max in [0.004, 0.7, 3.0, 13.0, 97.0, 1234.0, 61_000.0, 3.3e6, 2.2e9] {
                for n in 2..=9 {
                    let t = nice_ticks(0.0, max, n);
                    let labels: Vec<String> = t.values.iter().map(|v| format_value(*v, unit)).collect();
                    let mut dedup = labels.clone();
                    dedup.dedup();
                    assert_eq!(labels, dedup, "{unit} 0..{max} in {n}");
                }
            }
        }
    }

    #[test]
    fn time_ticks_fall_on_local_round_times() {
        // 10:07 → 11:07 UTC, two hours east of UTC, 600 px: 10-minute steps on the local clock.
        let (from, to) = (10 * HOUR + 7 * MINUTE, 11 * HOUR + 7 * MINUTE);
        let step = time_step((to - from) as f64, 600.0, 80.0);
        assert_eq!(step, 10 * MINUTE);
        let ticks = time_ticks(from as f64, to as f64, step, 2 * HOUR);
        assert_eq!(ticks.first(), Some(&(10 * HOUR + 10 * MINUTE)));
        assert_eq!(time_label(ticks[0], step, 2 * HOUR), "12:10");
        // Days start at local midnight and are labelled with the date.
        let off = -5 * HOUR;
        let ticks = time_ticks(0.0, (3 * DAY) as f64, DAY, off);
        assert_eq!(ticks[0], 5 * HOUR);
        assert_eq!(time_label(ticks[0], DAY, off), "Jan 1");
        assert_eq!(time_label(ticks[1], DAY, off), "Jan 2");
        assert_eq!(time_label(30_000, 10_000, 0), "00:00:30");
        assert!(time_ticks(5.0, 5.0, MINUTE, 0).is_empty());
    }

    #[test]
    fn dates_and_bucket_labels() {
        assert_eq!(date_label(1_767_323_045_000), "Jan 2"); // 2026-01-02
        assert_eq!(date_label(1_709_164_800_000), "Feb 29"); // 2024-02-29
        assert_eq!(bucket_label(10 * HOUR + 5 * MINUTE, MINUTE, false, 0), "10:05 – 10:06");
        assert_eq!(bucket_label(10 * HOUR + 5 * MINUTE, 10_000, false, HOUR), "11:05:00 – 11:05:10");
        assert_eq!(bucket_label(DAY + 5 * MINUTE, HOUR, true, 0), "Jan 2 00:05 – 01:05");
        assert_eq!(bucket_label(10 * HOUR + 5 * MINUTE + 12_000, 0, false, 0), "10:05:12");
    }

    #[test]
    fn the_pointer_picks_the_nearest_bucket() {
        let ts = [0, 60_000, 120_000];
        assert_eq!(nearest_bucket(&ts, 60_000, -10_000.0), Some(0));
        assert_eq!(nearest_bucket(&ts, 60_000, 30_000.0), Some(0));
        assert_eq!(nearest_bucket(&ts, 60_000, 59_000.0), Some(0));
        assert_eq!(nearest_bucket(&ts, 60_000, 61_000.0), Some(1));
        assert_eq!(nearest_bucket(&ts, 60_000, 100_000.0), Some(1));
        assert_eq!(nearest_bucket(&ts, 60_000, 1e9), Some(2));
        assert_eq!(nearest_bucket(&[], 60_000, 0.0), None);
    }

    #[test]
    fn nulls_split_lines_into_runs() {
        let v = [Some(1.0), Some(2.0), None, None, Some(3.0), None, Some(4.0), Some(5.0)];
        assert_eq!(runs(&v), vec![0..2, 4..5, 6..8]);
        assert!(runs::<f64>(&[None, None]).is_empty());
    }

    #[test]
    fn stacking_adds_series_and_skips_nulls() {
        let a = [Some(1.0), Some(2.0), None];
        let b = [Some(10.0), None, Some(5.0)];
        let stacked = bands(&[&a, &b], true);
        assert_eq!(stacked[0], vec![Some((0.0, 1.0)), Some((0.0, 2.0)), None]);
        assert_eq!(stacked[1], vec![Some((1.0, 11.0)), None, Some((0.0, 5.0))]);
        assert_eq!(extent(&stacked), (0.0, 11.0));
        let plain = bands(&[&a, &b], false);
        assert_eq!(plain[1], vec![Some((0.0, 10.0)), None, Some((0.0, 5.0))]);
        assert_eq!(extent(&plain), (0.0, 10.0));
        assert_eq!(extent(&bands(&[&[Some(-3.0)]], false)), (-3.0, 0.0));
    }

    fn result(series: Vec<(&str, Vec<Option<f64>>)>, truncated: usize) -> MetricQueryResult {
        MetricQueryResult {
            metric: "transactions.count".into(),
            unit: "count".into(),
            from: 0,
            to: 180_000,
            step_ms: 60_000,
            timestamps: vec![0, 60_000, 120_000],
            series: series
                .into_iter()
                .map(|(svc, values)| MetricSeries {
                    labels: if svc.is_empty() { BTreeMap::new() } else { [("service".to_string(), svc.to_string())].into() },
                    values,
                })
                .collect(),
            truncated,
        }
    }

    #[test]
    fn series_are_named_by_their_labels() {
        let d = result(vec![("checkout", vec![]), ("", vec![])], 0);
        assert_eq!(series_label(&d.series[0].labels, &d.metric), "service=checkout");
        assert_eq!(series_label(&d.series[1].labels, &d.metric), "transactions.count");
        let two: BTreeMap<String, String> = [("service".into(), "a".into()), ("endpoint".into(), "/pay".into())].into();
        assert_eq!(series_label(&two, "m"), "endpoint=/pay, service=a");
        assert_eq!(series_values(&two, "m"), "/pay, a");
        assert_eq!(series_values(&BTreeMap::new(), "m"), "m");
    }

    #[test]
    fn stats_and_points_ignore_nulls() {
        let s = series_stats(&[Some(2.0), None, Some(4.0), None]);
        assert_eq!(s, SeriesStats { mean: Some(3.0), max: Some(4.0), last: Some((2, 4.0)) });
        assert_eq!(series_stats(&[None, None]), SeriesStats::default());
        let d = result(vec![("a", vec![Some(1.0), None, Some(3.0)]), ("b", vec![None, Some(2.0), None])], 0);
        assert_eq!(point_count(&d, None), 3);
        assert_eq!(point_count(&d, Some(&[false, true])), 1);
        assert_eq!(x_domain(&d), (0.0, 180_000.0));
    }

    #[test]
    fn top_n_sorts_by_mean_and_counts_the_rest() {
        let d = result(
            vec![
                ("a", vec![Some(1.0), None, Some(3.0)]),   // mean 2
                ("b", vec![Some(10.0), Some(20.0), None]), // mean 15
                ("c", vec![None, None, None]),
                ("d", vec![Some(5.0), Some(5.0), Some(5.0)]),
            ],
            7,
        );
        let (rows, more) = top_rows(&d, 2);
        assert_eq!(rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["service=b", "service=d"]);
        assert_eq!((rows[0].mean, rows[0].max, rows[0].share), (Some(15.0), Some(20.0), 1.0));
        assert!((rows[1].share - 5.0 / 15.0).abs() < 1e-9);
        assert_eq!(more, 2 + 7);
        let (rows, more) = top_rows(&d, 10);
        assert_eq!(rows.last().map(|r| (r.label.as_str(), r.mean)), Some(("service=c", None)));
        assert_eq!(more, 7);
    }

    #[test]
    fn thresholds_pick_the_highest_step_reached() {
        let th = |v: f64, c: &str| Threshold { value: v, color: c.into() };
        let steps = vec![th(500.0, "warn"), th(0.0, "ok"), th(1000.0, "bad")];
        assert_eq!(threshold_color(-1.0, &steps), None);
        assert_eq!(threshold_color(0.0, &steps).as_deref(), Some("var(--ok)"));
        assert_eq!(threshold_color(700.0, &steps).as_deref(), Some("var(--warn)"));
        assert_eq!(threshold_color(1000.0, &steps).as_deref(), Some("var(--err)"));
        assert_eq!(threshold_color(1.0, &[th(0.0, "#ff8800")]).as_deref(), Some("#ff8800"));
        assert_eq!(threshold_color(1.0, &[th(0.0, "rgb(1, 2, 3)")]).as_deref(), Some("rgb(1, 2, 3)"));
        assert_eq!(threshold_color(1.0, &[th(0.0, "red;background:url(x)")]), None);
    }

    #[test]
    fn sparkline_breaks_at_nulls() {
        let d = sparkline_path(&[Some(0.0), Some(10.0), None, Some(5.0)], 30.0, 10.0, false);
        assert_eq!(d, "M0.00 10.00L10.00 0.00M30.00 5.00h5.00");
        assert_eq!(sparkline_path(&[None, None], 30.0, 10.0, false), "");
        assert_eq!(sparkline_path(&[Some(2.0), Some(2.0)], 10.0, 10.0, false), "M0.00 5.00L10.00 5.00");
        // From zero, a flat line of 2 sits at the top of a 0..2 box.
        assert_eq!(sparkline_path(&[Some(2.0), Some(2.0)], 10.0, 10.0, true), "M0.00 0.00L10.00 0.00");
    }
}
