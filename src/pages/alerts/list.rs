//! The rules: name, severity, worst state and since when, the last value in the metric's unit, whether
//! enabled; a row opens to list its instances (one per group), silenced ones said so. Editors get new,
//! edit and delete.

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{AlertInstance, AlertRule, RuleSource, RuleStatus};

use super::{labels_text, state_name, StateBadge};
use crate::api;
use crate::components::error_view::FetchError;
use crate::components::firing_badge::severity_name;
use crate::components::metric_chart::format_value;
use crate::format::{date_time, duration};
use crate::hooks::{now_ms, use_polled_resource, use_polled_resource_with_options, use_session, use_set_query, UsePolledResourceOptions};

/// How often the list asks again: states change at every evaluation (15 s by default).
const LIST_POLL_MS: u64 = 5_000;

/// What a rule watches, in a few words.
pub fn source_text(s: &RuleSource) -> String {
    match s {
        RuleSource::Metric { metric, filter, group_by, window_s } => {
            let mut t = format!("{metric} over {window_s} s");
            if !filter.is_empty() {
                t += &format!(" where {}", labels_text(filter));
            }
            if !group_by.is_empty() {
                t += &format!(" per {}", group_by.join(", "));
            }
            t
        }
        RuleSource::BlockingSession { instance, min_blocked } => {
            format!("a session blocking ≥ {min_blocked} others on {}", instance.as_deref().unwrap_or("any database"))
        }
        RuleSource::ServiceSilent { service, window_s } => {
            format!("{} sends no transaction for {window_s} s", service.as_deref().unwrap_or("a service"))
        }
    }
}

/// The unit a rule's values are in: the metric's (from the catalogue), a count of sessions, or seconds.
pub fn unit_of(rule: &AlertRule, units: &BTreeMap<String, String>) -> String {
    match &rule.source {
        RuleSource::Metric { metric, .. } => units.get(metric).cloned().unwrap_or_default(),
        RuleSource::BlockingSession { .. } => "count".into(),
        RuleSource::ServiceSilent { .. } => String::new(),
    }
}

/// "3 min ago" style: how long a state has lasted.
fn ago(ms: i64) -> String {
    let d = (now_ms() - ms).max(0) as f64;
    if d < 60_000.0 {
        format!("{:.0} s ago", d / 1000.0)
    } else if d < 3_600_000.0 {
        format!("{:.0} min ago", d / 60_000.0)
    } else {
        format!("{} ago", duration(d))
    }
}

#[component]
pub fn RulesList() -> impl IntoView {
    let session = use_session();
    let set_query = use_set_query();
    let rules = use_polled_resource_with_options(api::alerts, UsePolledResourceOptions::default().interval_ms(LIST_POLL_MS));
    // The catalogue gives each metric's unit.
    let catalog = use_polled_resource(api::metric_catalog);
    let units = Memo::new(move |_| {
        catalog.data.with(|c| c.iter().flat_map(|c| &c.metrics).map(|m| (m.name.clone(), m.unit.clone())).collect::<BTreeMap<_, _>>())
    });
    let new_rule = move |_| set_query(vec![("edit", Some("new".into()))]);
    // Rules whose instances are shown: kept here, as the rows are rebuilt at every refresh.
    let open = RwSignal::new(BTreeSet::<String>::new());
    // The rule whose delete button asks for confirmation (a second click deletes).
    let confirming = RwSignal::new(None::<String>);
    view! {
        <div class="panel">
            <div class="panel-head">
                <h2>"Rules"</h2>
                <span class="muted">"evaluated on the server; one alert per group"</span>
                <span class="spacer"></span>
                <Show when=move || session.can_edit()>
                    <button class="primary" data-testid="new-rule" on:click=new_rule.clone()>"New rule"</button>
                </Show>
            </div>
            <FetchError error=rules.error what="the alert rules" />
            <FetchError error=catalog.error what="the metric units" inline=true testid="units-error" />
            {move || rules.data.get().map(|o| {
                if o.rules.is_empty() {
                    return view! { <p class="empty-note" data-testid="rules-empty">"No alert rules yet."</p> }.into_any();
                }
                let rows = o.rules.into_iter().map(|r| view! { <RuleRow status=r units=units refetch=rules.refetch open=open confirming=confirming /> }).collect_view();
                view! {
                    <div class="table-scroll">
                    <table class="grid-table alerts-table" data-testid="rules-table">
                        <thead><tr>
                            <th>"Rule"</th><th>"Severity"</th><th>"State"</th><th>"Since"</th>
                            <th class="num">"Last value"</th><th>"Instances"</th><th>"Enabled"</th><th></th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                    </div>
                }
                .into_any()
            })}
            {move || rules.loading.get().then(|| view! { <p class="muted">"Loading…"</p> })}
        </div>
    }
}

/// One rule, and its instances when opened.
#[component]
fn RuleRow(status: RuleStatus, units: Memo<BTreeMap<String, String>>, refetch: Callback<()>, open: RwSignal<BTreeSet<String>>, confirming: RwSignal<Option<String>>) -> impl IntoView {
    let session = use_session();
    let set_query = use_set_query();
    let is_open = {
        let id = status.rule.id.clone();
        move || open.with(|o| o.contains(&id))
    };
    let toggle = {
        let id = status.rule.id.clone();
        move |_| {
            open.update(|o| {
                if !o.remove(&id) {
                    o.insert(id.clone());
                }
            })
        }
    };
    let confirm = {
        let id = status.rule.id.clone();
        Memo::new(move |_| confirming.with(|c| c.as_ref() == Some(&id)))
    };
    let delete_error = RwSignal::new(None::<api::ApiError>);
    let RuleStatus { rule, state, instances } = status;
    let unit = Memo::new({
        let rule = rule.clone();
        move |_| units.with(|u| unit_of(&rule, u))
    });
    // The instances in the rule's state: when the first entered it, the last value of the worst.
    let worst: Vec<&AlertInstance> = instances.iter().filter(|i| i.state == state).collect();
    let since = worst.iter().map(|i| i.since_ms).min();
    let value = worst.iter().find_map(|i| i.value).or_else(|| instances.iter().find_map(|i| i.value));
    let all_silenced = !worst.is_empty() && worst.iter().all(|i| i.silenced_by.is_some());
    let silenced = instances.iter().filter(|i| i.silenced_by.is_some()).count();
    let errors: Vec<String> = instances.iter().filter_map(|i| i.error.clone()).collect();
    let id = rule.id.clone();
    let edit = {
        let id = id.clone();
        move |_| set_query(vec![("edit", Some(id.clone()))])
    };
    let delete = {
        let id = id.clone();
        move |_| {
            if !confirm.get_untracked() {
                confirming.set(Some(id.clone()));
                return;
            }
            let id = id.clone();
            spawn_local(async move {
                match api::delete_alert_rule(id).await {
                    Ok(()) => refetch.run(()),
                    Err(e) => delete_error.set(Some(e)),
                }
            });
        }
    };
    let n = instances.len();
    let sev = severity_name(rule.severity);
    view! {
        <tr data-testid="rule-row" data-rule=id.clone() data-state=state_name(state) class:disabled=!rule.enabled>
            <td>
                <strong data-testid="rule-name">{rule.name.clone()}</strong>
                <div class="muted small">{source_text(&rule.source)}</div>
                {(!errors.is_empty()).then(|| view! { <div class="error-text small" data-testid="rule-error">{errors.join("; ")}</div> })}
            </td>
            <td><span class=format!("sev sev-{sev}")>{sev}</span></td>
            <td><StateBadge state=state silenced=all_silenced /></td>
            <td class="small" title=since.map(date_time)>{since.map(ago).unwrap_or_else(|| "—".into())}</td>
            <td class="num" data-testid="rule-value">{move || value.map_or_else(|| "—".to_string(), |v| format_value(v, &unit.get()))}</td>
            <td>
                <button class="link-button" data-testid="toggle-instances" aria-expanded={ let is_open = is_open.clone(); move || is_open().to_string() }
                    on:click=toggle disabled=n == 0>
                    {format!("{n} instance{}", if n == 1 { "" } else { "s" })}
                    {(silenced > 0).then(|| format!(" · {silenced} silenced"))}
                </button>
            </td>
            <td>{if rule.enabled { "yes" } else { "no" }}</td>
            <td><div class="row-actions">
                <Show when=move || session.can_edit()>
                    <button data-testid="edit-rule" on:click=edit.clone()>"Edit"</button>
                    <button class="danger" data-testid="delete-rule" on:click=delete.clone()>
                        {move || if confirm.get() { "Confirm delete" } else { "Delete" }}
                    </button>
                </Show>
                <FetchError error=delete_error what="(delete failed)" inline=true testid="delete-error" />
            </div></td>
        </tr>
        <Show when=is_open>
            <tr class="instances-row"><td colspan="8">
                <Instances instances=instances.clone() unit=unit />
            </td></tr>
        </Show>
    }
}

#[component]
fn Instances(instances: Vec<AlertInstance>, unit: Memo<String>) -> impl IntoView {
    let rows = instances
        .into_iter()
        .map(|i| {
            let silenced = i.silenced_by.clone();
            let is_silenced = silenced.is_some();
            view! {
                <tr data-testid="instance-row" data-state=state_name(i.state) data-silenced=is_silenced.to_string()>
                    <td class="mono small">{labels_text(&i.labels)}</td>
                    <td><StateBadge state=i.state silenced=is_silenced /></td>
                    <td class="small">{format!("{} ({})", ago(i.since_ms), date_time(i.since_ms))}</td>
                    <td class="num">{move || i.value.map_or_else(|| "—".to_string(), |v| format_value(v, &unit.get()))}</td>
                    <td class="small">
                        {silenced.map(|s| view! { <span class="muted" title="Silence id">{format!("silenced by {s}")}</span> })}
                        {i.error.map(|e| view! { <span class="error-text">{e}</span> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid-table instances-table" data-testid="instances-table">
            <thead><tr><th>"Group"</th><th>"State"</th><th>"Since"</th><th class="num">"Value"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
