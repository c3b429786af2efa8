//! Events drawn over a time axis: a dashed line at each moment with a short flag, so a regression can be
//! read against the release that brought it (deploys) or the alert it raised (alert state changes). Shared
//! by the board charts and the hitmap.

use leptos::prelude::*;
use sightline_model::{AlertEvent, AlertState, Deploy};

use crate::components::metric_chart::format_value;
use crate::format::clock;

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

/// A version change (a service's first version seen is not a deploy).
fn deploy_mark(d: &Deploy) -> Option<Mark> {
    let previous = d.previous.clone()?;
    Some(Mark {
        at_ms: d.at_ms,
        flag: d.version.clone(),
        title: format!("{} {} (was {previous}) at {}", d.service, d.version, clock(d.at_ms)),
        class: "chart-deploy",
        testid: "deploy-marker",
        state: None,
    })
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

/// One marker per deploy and per alert state change inside the plot.
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
        let mut marks: Vec<Mark> = markers.with(|m| m.iter().filter_map(deploy_mark).collect());
        alerts.with(|a| marks.extend(a.iter().filter_map(alert_mark)));
        Some(
            marks
                .into_iter()
                .filter(|m| (p.from..=p.to).contains(&(m.at_ms as f64)))
                .map(|m| {
                    let x = p.x_of(m.at_ms as f64);
                    view! {
                        // Near the right edge the flag opens to the left.
                        <div class=m.class class:flip={x > p.x + p.w - 48.0} data-testid=m.testid data-state=m.state title=m.title
                            style=format!("left:{x:.1}px;top:{:.1}px;height:{:.1}px", p.y, p.h)>
                            <span class=format!("{}-flag", m.class)>{m.flag}</span>
                        </div>
                    }
                })
                .collect_view(),
        )
    }
}
