//! Every state change of every alert, newest first: filtered by rule, state and time range (in the URL:
//! `rule`, `state`, and `hfrom`/`hto` as local date-times, apart from the top bar's range so following an
//! event's link does not carry them), paged to older ones by `before_seq`. Each row links to the page and
//! moment that shows it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use sightline_model::AlertEvent;

use super::list::unit_of;
use super::{labels_text, state_name, StateBadge};
use crate::api::{self, AlertEventQuery};
use crate::components::error_view::FetchError;
use crate::components::firing_badge::severity_name;
use crate::components::metric_chart::format_value;
use crate::format::date_time;
use crate::hooks::{use_polled_resource, use_set_query};

const PAGE: u32 = 50;
const STATES: [&str; 5] = ["firing", "resolved", "pending", "no_data", "ok"];

#[component]
pub fn HistoryTab() -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let filters = Memo::new(move |_| {
        query.with(|q| AlertEventQuery {
            rule: q.get("rule").filter(|s| !s.is_empty()),
            state: q.get("state").filter(|s| !s.is_empty()),
            from: q.get_str("hfrom").and_then(crate::format::parse_datetime_local),
            to: q.get_str("hto").and_then(crate::format::parse_datetime_local),
            before_seq: None,
            limit: Some(PAGE),
        })
    });
    // Pages of older events, by `before_seq`: a stack, so "newer" goes back.
    let pages = RwSignal::new(Vec::<u64>::new());
    Effect::watch(move || filters.get(), move |_, _, _| pages.set(Vec::new()), false);
    let events = use_polled_resource(move || {
        let mut q = filters.get();
        q.before_seq = pages.with(|p| p.last().copied());
        api::alert_events(q)
    });
    let rules = use_polled_resource(api::alerts);
    // Values in their metric's unit: rule id → unit, from the rules and the catalogue.
    let catalog = use_polled_resource(api::metric_catalog);
    let units = Memo::new(move |_| {
        let metric_units: BTreeMap<String, String> =
            catalog.data.with(|c| c.iter().flat_map(|c| &c.metrics).map(|m| (m.name.clone(), m.unit.clone())).collect());
        rules.data.with(|r| r.iter().flat_map(|o| &o.rules).map(|s| (s.rule.id.clone(), unit_of(&s.rule, &metric_units))).collect::<BTreeMap<_, _>>())
    });
    let select = |param: &'static str| {
        let set_query = set_query.clone();
        move |e: leptos::ev::Event| {
            let v = event_target_value(&e);
            set_query(vec![(param, (!v.is_empty()).then_some(v))]);
        }
    };
    view! {
        <div class="panel">
            <div class="panel-head">
                <h2>"History"</h2>
                <span class="muted">"every state change, newest first"</span>
                <span class="spacer"></span>
                <select data-testid="history-rule" aria-label="Rule" prop:value=move || query.with(|q| q.get("rule").unwrap_or_default()) on:change=select("rule")>
                    <option value="">"All rules"</option>
                    {move || rules.data.get().map(|o| o.rules.into_iter().map(|r| view! { <option value=r.rule.id.clone()>{r.rule.name}</option> }).collect_view())}
                </select>
                <select data-testid="history-state" aria-label="State" prop:value=move || query.with(|q| q.get("state").unwrap_or_default()) on:change=select("state")>
                    <option value="">"All states"</option>
                    {STATES.iter().map(|s| view! { <option value=*s>{format!("to {s}")}</option> }).collect_view()}
                </select>
                <label class="small">"from "
                    <input type="datetime-local" data-testid="history-from" prop:value=move || query.with(|q| q.get("hfrom").unwrap_or_default()) on:change=select("hfrom") />
                </label>
                <label class="small">"to "
                    <input type="datetime-local" data-testid="history-to" prop:value=move || query.with(|q| q.get("hto").unwrap_or_default()) on:change=select("hto") />
                </label>
            </div>
            <FetchError error=events.error what="the alert history" />
            <FetchError error=rules.error what="the rule names" inline=true testid="rules-error" />
            {move || events.data.get().map(|page| {
                if page.events.is_empty() {
                    return view! { <p class="empty-note" data-testid="history-empty">"No state changes match."</p> }.into_any();
                }
                let next = page.next_before_seq;
                let rows = page.events.into_iter().map(|e| {
                    let unit = units.with(|u| u.get(&e.rule_id).cloned().unwrap_or_default());
                    view! { <EventRow e=e unit=unit /> }
                }).collect_view();
                view! {
                    <table class="grid-table" data-testid="history-table">
                        <thead><tr><th>"When"</th><th>"Rule"</th><th>"Group"</th><th>"Change"</th><th class="num">"Value"</th><th>"Condition"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                    <div class="pager">
                        <button data-testid="history-newer" disabled=move || pages.with(Vec::is_empty) on:click=move |_| pages.update(|p| { p.pop(); })>"← Newer"</button>
                        <button data-testid="history-older" disabled=next.is_none() on:click=move |_| if let Some(n) = next { pages.update(|p| p.push(n)) }>"Older →"</button>
                    </div>
                }
                .into_any()
            })}
        </div>
    }
}

#[component]
fn EventRow(e: AlertEvent, unit: String) -> impl IntoView {
    let sev = severity_name(e.severity);
    view! {
        <tr data-testid="event-row" data-to=state_name(e.to) data-seq=e.seq.to_string()>
            <td class="small mono">{date_time(e.at_ms)}</td>
            <td><strong>{e.rule_name.clone()}</strong> " " <span class=format!("sev sev-{sev}")>{sev}</span></td>
            <td class="mono small">{labels_text(&e.labels)}</td>
            <td><StateBadge state=e.from /> " → " <StateBadge state=e.to /></td>
            <td class="num">{e.value.map_or_else(|| "—".to_string(), |v| format_value(v, &unit))}</td>
            <td class="small">{e.condition.clone()}</td>
            <td><a href=e.link.clone() data-testid="event-link" title="The page and moment that show it">"Show"</a></td>
        </tr>
    }
}
