//! The top bar's firing-alerts badge, on every page: how many alerts fire now, coloured by the worst
//! severity, linking to `/alerts`. Asked at once and then every [`FIRING_POLL_MS`]; when the server cannot
//! be asked, a small warning says so instead of a count that would look like "all quiet".

use leptos::prelude::*;
use sightline_model::{FiringSummary, Severity};

use crate::api;
use crate::components::metric_chart::format_value;
use crate::hooks::{use_polled_resource_with_options, UsePolledResourceOptions};

/// How often the badge asks for the firing alerts.
pub const FIRING_POLL_MS: u64 = 15_000;

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// The hover text: each firing alert (up to ten) with its labels and value.
fn summary_title(s: &FiringSummary) -> String {
    let mut lines = vec![format!("{} firing alert{}", s.firing, if s.firing == 1 { "" } else { "s" })];
    lines.extend(s.alerts.iter().map(|a| {
        let labels = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        let value = a.value.map(|v| format!(" = {}", format_value(v, ""))).unwrap_or_default();
        format!("{} ({}) {labels}{value}", a.rule_name, severity_name(a.severity))
    }));
    lines.join("\n")
}

/// Sits inside the top bar's "Alerts" link (so a click on it goes to `/alerts`): the count of firing
/// alerts in the worst severity's colour, nothing while none fire, a warning sign when it cannot tell.
#[component]
pub fn FiringBadge() -> impl IntoView {
    let firing = use_polled_resource_with_options(api::alerts_firing, UsePolledResourceOptions::default().interval_ms(FIRING_POLL_MS));
    let count = move || firing.data.with(|d| d.as_ref().map_or(0, |s| s.firing));
    let worst = move || firing.data.with(|d| d.as_ref().and_then(|s| s.worst).map_or("none", severity_name));
    let title = move || firing.data.with(|d| d.as_ref().map(summary_title).unwrap_or_default());
    view! {
        {move || firing.error.get().map(|e| view! {
            <span class="firing-error" role="alert" data-testid="firing-error"
                title=format!("Could not ask for the firing alerts: {e}")>"⚠"</span>
        })}
        <Show when=move || { firing.error.with(Option::is_none) && count() > 0 }>
            <span class=move || format!("firing-badge sev-{}", worst()) role="status"
                data-testid="firing-badge" data-count=move || count().to_string()
                data-severity=worst title=title aria-label=move || format!("{} firing", count())>
                {move || count().to_string()}
            </span>
        </Show>
    }
}
