//! Events drawn over a time axis: a dashed line at each moment with a short flag, so a regression can be
//! read against the release that brought it (deploys) or the alert it raised (alert state changes). Shared
//! by the board charts and the hitmap. A deploy the server's deploy check found suspect is drawn in the
//! error colour with "⚠ suspect" on its flag, and its hover text says what got worse.

use leptos::prelude::*;
use sightline_model::{AlertEvent, AlertState, Deploy, DeployCheck};

use crate::components::metric_chart::format_value;
use crate::format::{clock, duration};

/// Where a time plot is: its rectangle in CSS px within its positioned parent, and the times at its edges.
/// What a chart's pointer read-out and anything drawn over the plot (these markers) position against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotSpan {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub from: f64,
    pub to: f64,
}

impl PlotSpan {
    /// The time under a CSS px x.
    pub fn time_at(&self, px: f64) -> f64 {
        self.from + (px - self.x) / self.w.max(1.0) * (self.to - self.from)
    }

    /// The CSS px x of a time.
    pub fn x_of(&self, t: f64) -> f64 {
        self.x + (t - self.from) / (self.to - self.from).max(1.0) * self.w
    }
}

/// One marker: when, the flag's text, the hover text, and its look (`class`, `data-testid`).
struct Mark {
    at_ms: i64,
    flag: String,
    title: String,
    class: &'static str,
    testid: &'static str,
    state: Option<&'static str>,
}

/// A version change (a service's first version seen is not a deploy); a suspect one stands out.
fn deploy_mark(d: &Deploy) -> Option<Mark> {
    let previous = d.previous.clone()?;
    let title = format!("{} {} (was {previous}) at {}", d.service, d.version, clock(d.at_ms));
    let (flag, testid, state) = deploy_look(d);
    Some(Mark {
        at_ms: d.at_ms,
        flag,
        title: match &d.check {
            Some(c) => format!("{title} · {}", check_text(c)),
            None => title,
        },
        class: "chart-deploy",
        testid,
        state,
    })
}

/// A deploy marker's flag, `data-testid` and `data-state`: a suspect deploy's differ.
fn deploy_look(d: &Deploy) -> (String, &'static str, Option<&'static str>) {
    match d.check.as_ref().is_some_and(|c| c.suspect) {
        true => (format!("⚠ suspect {}", d.version), "deploy-suspect", Some("suspect")),
        false => (d.version.clone(), "deploy-marker", None),
    }
}

/// The deploy check's verdict in words, for the hover text.
fn check_text(c: &DeployCheck) -> String {
    let span = duration(c.window_ms as f64);
    if c.suspect {
        return format!("suspect deploy: {} ({span} after vs {span} before)", c.reasons.join("; "));
    }
    if !c.enough_traffic {
        return format!("deploy not judged: {}", c.reasons.join("; "));
    }
    let p95 = |p: Option<f64>| p.map_or_else(|| "–".to_string(), duration);
    format!(
        "deploy check passed: p95 {} → {}, errors {:.1} % → {:.1} % ({span} before vs after)",
        p95(c.before.p95_ms),
        p95(c.after.p95_ms),
        c.before.error_rate * 100.0,
        c.after.error_rate * 100.0
    )
}

/// An alert that started or stopped firing (pending, no-data and back-to-ok steps are history, not marks).
fn alert_mark(e: &AlertEvent) -> Option<Mark> {
    let (flag, state) = match e.to {
        AlertState::Firing => ("▲ firing", "firing"),
        AlertState::Resolved => ("▼ resolved", "resolved"),
        _ => return None,
    };
    let labels = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    let value = e.value.map_or_else(|| "no data".to_string(), |v| format_value(v, ""));
    Some(Mark {
        at_ms: e.at_ms,
        flag: flag.to_string(),
        title: format!("{} {state} at {} · value {value} · {}{}", e.rule_name, clock(e.at_ms), e.condition,
            if labels.is_empty() { String::new() } else { format!(" · {labels}") }),
        class: "chart-alert",
        testid: "alert-marker",
        state: Some(state),
    })
}

/// Flag rows a plot stacks before it lets flags overlap (a busy range: many deploys close together). A row
/// is 15 px (`--flag-row` in charts.css / alerts.css: the flag's 14 px line and a gap).
const MAX_FLAG_ROWS: usize = 3;

/// A flag's width in CSS px, estimated from its text (10 px font, 4 px padding each side): the layout runs
/// before anything is drawn, and erring wide only costs a row.
fn flag_width(flag: &str) -> f64 {
    flag.chars().count() as f64 * 6.5 + 10.0
}

/// Where each flag goes, for marks at CSS px `xs` (in any order) with flags of widths `widths`, in a plot
/// whose right edge is at `right`: `(flip, row)` per mark. A flag opens to the right of its line, or to the
/// left when it would cross the plot's right edge; it takes the lowest row where it clears the flags already
/// placed there (left to right), so flags of marks close together stack instead of covering each other.
/// Beyond [`MAX_FLAG_ROWS`] a flag goes where it overlaps least (the row whose last flag ends first).
fn flag_layout(xs: &[f64], widths: &[f64], right: f64) -> Vec<(bool, usize)> {
    const GAP: f64 = 3.0;
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut row_ends: Vec<f64> = Vec::new();
    let mut out = vec![(false, 0); xs.len()];
    for i in order {
        let (x, w) = (xs[i], widths[i]);
        let flip = x + 2.0 + w > right;
        let (left, end) = if flip { (x - 2.0 - w, x - 2.0) } else { (x + 2.0, x + 2.0 + w) };
        let row = match row_ends.iter().position(|&e| e + GAP <= left) {
            Some(r) => r,
            None if row_ends.len() < MAX_FLAG_ROWS => {
                row_ends.push(f64::NEG_INFINITY);
                row_ends.len() - 1
            }
            None => (0..row_ends.len()).min_by(|&a, &b| row_ends[a].total_cmp(&row_ends[b])).unwrap_or(0),
        };
        row_ends[row] = row_ends[row].max(end);
        out[i] = (flip, row);
    }
    out
}

/// One marker per deploy and per alert state change inside the plot. Deploy flags (at the top) and alert
/// flags (at the bottom) are laid out apart: they never meet.
#[component]
pub fn DeployMarkers(
    #[prop(into)] markers: Signal<Vec<Deploy>>,
    /// Alert state changes: firing and resolved are marked.
    #[prop(optional, into)]
    alerts: Signal<Vec<AlertEvent>>,
    #[prop(into)] plot: Signal<Option<PlotSpan>>,
) -> impl IntoView {
    move || {
        let p = plot.get()?;
        let inside = |m: &Mark| (p.from..=p.to).contains(&(m.at_ms as f64));
        let deploys: Vec<Mark> = markers.with(|m| m.iter().filter_map(deploy_mark).filter(inside).collect());
        let alert_marks: Vec<Mark> = alerts.with(|a| a.iter().filter_map(alert_mark).filter(inside).collect());
        let placed = |marks: Vec<Mark>| {
            let xs: Vec<f64> = marks.iter().map(|m| p.x_of(m.at_ms as f64)).collect();
            let widths: Vec<f64> = marks.iter().map(|m| flag_width(&m.flag)).collect();
            let layout = flag_layout(&xs, &widths, p.x + p.w);
            marks.into_iter().zip(xs).zip(layout).map(|((m, x), (flip, row))| {
                view! {
                    <div class=m.class class:flip=flip data-testid=m.testid data-state=m.state title=m.title
                        style=format!("left:{x:.1}px;top:{:.1}px;height:{:.1}px;--flag-row:{row}", p.y, p.h)>
                        <span class=format!("{}-flag", m.class)>{m.flag}</span>
                    </div>
                }
            })
            .collect_view()
        };
        Some((placed(deploys), placed(alert_marks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::DeploySide;

    fn deploy(check: Option<DeployCheck>) -> Deploy {
        Deploy { service: "payment".into(), version: "3.7.0".into(), at_ms: 0, previous: Some("3.6.1".into()), check }
    }

    fn check(suspect: bool, reasons: &[&str]) -> DeployCheck {
        let side = |p95| DeploySide { count: 100, error_rate: 0.01, p95_ms: Some(p95) };
        DeployCheck {
            before: side(412.0),
            after: side(if suspect { 1318.0 } else { 420.0 }),
            window_ms: 300_000,
            enough_traffic: true,
            suspect,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            checked_at_ms: 300_000,
        }
    }

    #[test]
    fn flags_of_marks_close_together_stack_instead_of_covering_each_other() {
        // Three deploys a few px apart, one far off, in a plot ending at 600 px; flags 50 px wide.
        let layout = flag_layout(&[100.0, 104.0, 300.0, 108.0], &[50.0; 4], 600.0);
        assert_eq!(layout, vec![(false, 0), (false, 1), (false, 0), (false, 2)]);
        // A fourth close one: no row is free, so it goes where it overlaps least (the row ending first).
        let layout = flag_layout(&[100.0, 104.0, 108.0, 112.0], &[50.0; 4], 600.0);
        assert_eq!(layout[3], (false, 0));
        // Near the right edge a flag opens to the left, and stacks against the flags left of it.
        let layout = flag_layout(&[520.0, 580.0], &[50.0; 2], 600.0);
        assert_eq!(layout, vec![(false, 0), (true, 1)]);
        // Flags that clear each other share the first row, in any input order.
        let layout = flag_layout(&[400.0, 100.0, 200.0], &[50.0; 3], 600.0);
        assert_eq!(layout, vec![(false, 0); 3]);
        // A wider flag (a suspect deploy's) flips earlier than a narrow one at the same place.
        assert_eq!(flag_layout(&[520.0], &[flag_width("⚠ suspect 3.21.0")], 600.0), vec![(true, 0)]);
        assert_eq!(flag_layout(&[520.0], &[flag_width("3.21.0")], 600.0), vec![(false, 0)]);
    }

    #[test]
    fn a_suspect_deploy_stands_out_and_says_why() {
        let d = deploy(Some(check(true, &["p95 412 ms → 1.3 s (×3.2)"])));
        assert_eq!(deploy_look(&d), ("⚠ suspect 3.7.0".to_string(), "deploy-suspect", Some("suspect")));
        let text = check_text(d.check.as_ref().unwrap());
        assert_eq!(text, "suspect deploy: p95 412 ms → 1.3 s (×3.2) (5 min 0 s after vs 5 min 0 s before)");
    }

    #[test]
    fn unchecked_and_passed_deploys_keep_the_plain_marker() {
        assert_eq!(deploy_look(&deploy(None)), ("3.7.0".to_string(), "deploy-marker", None));
        let passed = deploy(Some(check(false, &[])));
        assert_eq!(deploy_look(&passed), ("3.7.0".to_string(), "deploy-marker", None));
        let text = check_text(passed.check.as_ref().unwrap());
        assert!(text.starts_with("deploy check passed: p95 412 ms → 420 ms, errors 1.0 % → 1.0 %"), "{text}");
        let quiet = DeployCheck { enough_traffic: false, ..check(false, &["not enough traffic: 3 transactions before, 2 after"]) };
        assert_eq!(check_text(&quiet), "deploy not judged: not enough traffic: 3 transactions before, 2 after");
    }
}
