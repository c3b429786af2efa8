//! The statements that took the most time over the last 15 minutes (deltas of `pg_stat_statements`), or the
//! hint to enable it.

use leptos::prelude::*;

use super::{loading, polled, short, WINDOW_MS};
use crate::api;
use crate::components::error_view::FetchError;
use crate::format::duration;
use crate::hooks::{now_ms, use_polled_resource_with_options};

/// Most statements listed.
const SHOWN: usize = 25;

#[component]
pub(super) fn StatementsTable(id: String) -> impl IntoView {
    let top = use_polled_resource_with_options(
        move || {
            let now = now_ms();
            api::db_statements(id.clone(), now - WINDOW_MS, now + 1)
        },
        polled(),
    );
    view! {
        <FetchError error=top.error what="top statements" />
        {move || top.data.with(|d| match d {
            None if top.loading.get() => loading(),
            None => ().into_any(),
            Some(d) if !d.available => view! {
                <p class="muted" data-testid="statements-hint">{d.hint.clone().unwrap_or_default()}</p>
            }.into_any(),
            Some(d) if d.statements.is_empty() => view! { <p class="muted">"No statements ran in the window."</p> }.into_any(),
            Some(d) => view! {
                <table class="grid-table db-table">
                    <thead><tr><th>"Statement"</th><th class="num">"Calls"</th><th class="num">"Total"</th><th class="num">"Mean"</th><th class="num">"Rows"</th></tr></thead>
                    <tbody>
                        {d.statements.iter().take(SHOWN).map(|s| view! {
                            <tr data-testid="statement-row" title=s.query.clone()>
                                <td class="mono small db-query">{short(&s.query)}</td>
                                <td class="num">{s.calls}</td>
                                <td class="num">{duration(s.total_ms)}</td>
                                <td class="num">{duration(s.mean_ms)}</td>
                                <td class="num">{s.rows}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        })}
    }
}
