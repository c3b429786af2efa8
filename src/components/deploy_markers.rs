//! Deploys drawn over a time axis: a dashed line at each version change with the version on a flag, so a
//! regression can be read against the release that brought it. Shared by the board charts and the hitmap.

use leptos::prelude::*;
use sightline_model::Deploy;

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

/// One marker per version change inside the plot (a service's first version seen is not a deploy).
#[component]
pub fn DeployMarkers(#[prop(into)] markers: Signal<Vec<Deploy>>, #[prop(into)] plot: Signal<Option<PlotSpan>>) -> impl IntoView {
    move || {
        let p = plot.get()?;
        Some(markers.with(|m| {
            m.iter()
                .filter(|d| d.previous.is_some() && (p.from..=p.to).contains(&(d.at_ms as f64)))
                .map(|d| {
                    let x = p.x_of(d.at_ms as f64);
                    let what = format!("{} {} (was {}) at {}", d.service, d.version, d.previous.clone().unwrap_or_default(), clock(d.at_ms));
                    view! {
                        // Near the right edge the flag opens to the left.
                        <div class="chart-deploy" class:flip={x > p.x + p.w - 48.0} data-testid="deploy-marker" title=what
                            style=format!("left:{x:.1}px;top:{:.1}px;height:{:.1}px", p.y, p.h)>
                            <span class="chart-deploy-flag">{d.version.clone()}</span>
                        </div>
                    }
                })
                .collect_view()
        }))
    }
}
