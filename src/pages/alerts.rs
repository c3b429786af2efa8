//! The alerts page (issue 12): the rules with their state and instances, the rule editor with its live
//! preview, the channels messages go to, the silences, and the history of every state change; rules and
//! channels export and import as JSON.
//!
//! URL: `tab` (`rules`, `channels`, `silences`, `history`; default rules), `edit` (a rule's id, or `new`:
//! the editor replaces the list), and the history's filters (see `history`).

mod channels;
mod history;
mod list;
mod rule_editor;
mod silences;
mod transfer;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use sightline_model::AlertState;

use crate::hooks::use_set_query;

/// The page's sections: (URL name, label).
const TABS: &[(&str, &str)] = &[("rules", "Rules"), ("channels", "Channels"), ("silences", "Silences"), ("history", "History")];

#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let tab = Memo::new(move |_| query.with(|q| q.get("tab").filter(|t| TABS.iter().any(|(n, _)| n == t)).unwrap_or_else(|| "rules".into())));
    let editing = Memo::new(move |_| query.with(|q| q.get("edit").filter(|e| !e.is_empty())));
    let tabs = TABS
        .iter()
        .map(|&(name, label)| {
            let set_query = set_query.clone();
            view! {
                <button role="tab" class="alerts-tab" data-testid=format!("alerts-tab-{name}")
                    class:selected=move || tab.get() == name aria-selected=move || (tab.get() == name).to_string()
                    on:click=move |_| set_query(vec![("tab", (name != "rules").then(|| name.to_string())), ("edit", None)])>
                    {label}
                </button>
            }
        })
        .collect_view();
    view! {
        <section class="alerts-page" data-testid="page-alerts">
            <div class="alerts-head">
                <h2>"Alerts"</h2>
                <div class="alerts-tabs" role="tablist">{tabs}</div>
                <span class="spacer"></span>
                <transfer::ExportImport />
            </div>
            {move || match (tab.get().as_str(), editing.get()) {
                ("rules", Some(id)) => view! { <rule_editor::RuleEditor id=(id != "new").then_some(id) /> }.into_any(),
                ("rules", None) => view! { <list::RulesList /> }.into_any(),
                ("channels", _) => view! { <channels::ChannelsTab /> }.into_any(),
                ("silences", _) => view! { <silences::SilencesTab /> }.into_any(),
                _ => view! { <history::HistoryTab /> }.into_any(),
            }}
        </section>
    }
}

/// An instance state as the URL, the API and the CSS classes name it.
pub fn state_name(s: AlertState) -> &'static str {
    match s {
        AlertState::Ok => "ok",
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
        AlertState::NoData => "no_data",
    }
}

/// A state as a coloured pill; `silenced` greys it and says so.
#[component]
pub fn StateBadge(state: AlertState, #[prop(optional)] silenced: bool) -> impl IntoView {
    let name = state_name(state);
    let text = if name == "no_data" { "no data" } else { name };
    view! {
        <span class=format!("state-badge state-{name}") class:silenced=silenced data-testid="state-badge" data-state=name>
            {text}
            {silenced.then_some(" · silenced")}
        </span>
    }
}

/// `k=v, k=v`, or `—` for none.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "—".into();
    }
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// `k=v` pairs as typed (comma or new line between them); a pair without `=` is a problem.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else { return Err(format!("“{pair}” is not key=value")) };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// What a write refused, every problem listed (a 400 lists them all), beside the form that sent it.
#[component]
pub fn Problems(#[prop(into)] problems: Signal<Vec<String>>, #[prop(into)] title: String, testid: &'static str) -> impl IntoView {
    move || {
        problems.with(|p| {
            (!p.is_empty()).then(|| {
                let items = p.iter().map(|m| view! { <li data-testid="problem">{m.clone()}</li> }).collect_view();
                view! {
                    <div class="error-box" role="alert" data-testid=testid>
                        <strong>{title.clone()}</strong>
                        <ul>{items}</ul>
                    </div>
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_typed() {
        let l = parse_labels("team=payments, env = prod\nx=").unwrap();
        assert_eq!(l.get("env").map(String::as_str), Some("prod"));
        assert_eq!(l.get("x").map(String::as_str), Some(""));
        assert_eq!(labels_text(&l), "env=prod, team=payments, x=");
        assert!(parse_labels("oops").is_err());
        assert!(parse_labels(" ").unwrap().is_empty());
    }
}
