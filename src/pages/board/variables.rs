//! Board variables: their current values (the top bar's service picker for `service`, `?var-<name>=` or
//! the default for the others), and the bar of pickers above the grid.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use sightline_model::{Board, Variable};

use crate::api::{self, ApiError};
use crate::hooks::{use_polled_resource, use_set_query, UsePolledResourceReturn, UseTimeRangeReturn};

/// Each variable of `board` with its current value (`None` = all).
pub fn board_vars(board: Signal<Board>, tr: UseTimeRangeReturn) -> Memo<BTreeMap<String, Option<String>>> {
    let query = use_query_map();
    Memo::new(move |_| {
        let service = tr.service.get();
        board.with(|b| {
            b.variables
                .iter()
                .map(|v| {
                    let value = if v.name == "service" {
                        service.clone()
                    } else {
                        query.with(|q| q.get(&format!("var-{}", v.name))).filter(|s| !s.is_empty()).or_else(|| v.value.clone())
                    };
                    (v.name.clone(), value)
                })
                .collect()
        })
    })
}

/// The board's variables and their current values.
#[component]
pub fn VariablesBar(variables: Signal<Vec<Variable>>, vars: Memo<BTreeMap<String, Option<String>>>) -> impl IntoView {
    view! {
        <Show when=move || variables.with(|v| !v.is_empty())>
            <div class="board-variables" data-testid="board-variables">
                {move || variables.get().into_iter().map(|v| {
                    let label = if v.label.is_empty() { v.name.clone() } else { v.label.clone() };
                    if v.name == "service" {
                        view! {
                            <span class="chip" title="Pick the service in the top bar">
                                {format!("{label}: ")}<strong>{move || vars.with(|m| m.get("service").cloned().flatten()).unwrap_or_else(|| "all".into())}</strong>
                            </span>
                        }.into_any()
                    } else {
                        view! { <VariablePicker name=v.name label=label vars=vars /> }.into_any()
                    }
                }).collect_view()}
            </div>
        </Show>
    }
}

/// A picker of one variable's value among those Sightline knows; says so when they cannot be fetched.
#[component]
fn VariablePicker(name: String, label: String, vars: Memo<BTreeMap<String, Option<String>>>) -> impl IntoView {
    let set_query = use_set_query();
    let key: &'static str = Box::leak(format!("var-{name}").into_boxed_str());
    let choices = known_values(&name);
    let current = {
        let name = name.clone();
        move || vars.with(|m| m.get(&name).cloned().flatten())
    };
    let current2 = current.clone();
    let problem = move || choices.error.get().map(|e| format!("Could not load the values of {key}: {e}"));
    view! {
        <label class="chip" data-testid=format!("variable-{name}") class:failed=move || choices.error.with(Option::is_some)>
            {format!("{label} ")}
            <select prop:value=move || current().unwrap_or_default()
                on:change=move |e| { let v = event_target_value(&e); set_query(vec![(key, (!v.is_empty()).then_some(v))]) }>
                <option value="">"all"</option>
                {move || {
                    let mut values = choices.data.get().unwrap_or_default();
                    // A value from the link that is not known (yet) stays selectable.
                    if let Some(c) = current2().filter(|c| !values.contains(c)) {
                        values.push(c);
                    }
                    values.into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()
                }}
            </select>
            {move || problem().map(|p| view! {
                <span class="error-text" role="alert" data-testid="variable-error" title=p.clone()>" ⚠ values unavailable"</span>
            })}
        </label>
    }
}

/// Values a board variable can take, from what Sightline monitors: database instances for `instance`, the
/// host collector's machine for `host`; other names get none (the link's value, or "all").
fn known_values(name: &str) -> UsePolledResourceReturn<Vec<String>> {
    let name = name.to_string();
    use_polled_resource(move || {
        let name = name.clone();
        async move {
            Ok::<_, ApiError>(match name.as_str() {
                "instance" => api::db_instances().await?.instances.into_iter().map(|i| i.id).collect(),
                "host" => vec![api::host_processes(None).await?.host],
                _ => Vec::new(),
            })
        }
    })
}
