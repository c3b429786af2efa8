//! The audit log: who changed users, tokens, share links, settings and boards, and when; newest first,
//! older pages on demand. Refreshed after every change made on this page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::AuditEntry;

use crate::api;
use crate::components::error_view::FetchError;
use crate::format::date_time;
use crate::hooks::use_polled_resource;

/// Entries per page.
const PAGE: u32 = 100;

#[component]
pub fn AuditPanel(changed: RwSignal<u32>) -> impl IntoView {
    let newest = use_polled_resource(move || {
        changed.track();
        api::audit(None, PAGE)
    });
    // Pages fetched with "Show older", after `newest`; dropped when `newest` is fetched again.
    let older = RwSignal::new(Vec::<AuditEntry>::new());
    let more = RwSignal::new(true);
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let n = newest.data.with(|d| d.as_ref().map_or(0, |l| l.entries.len()));
        older.set(Vec::new());
        more.set(n as u32 >= PAGE);
    });
    // `before` is inclusive: ask again from the oldest time shown, and skip the entries of that very
    // millisecond already on screen (same order), so nothing is shown twice or left out.
    let load_older = move |_| {
        let mut shown: Vec<i64> = newest.data.with_untracked(|d| d.iter().flat_map(|l| &l.entries).map(|e| e.at_ms).collect());
        older.with_untracked(|o| shown.extend(o.iter().map(|e| e.at_ms)));
        let Some(&last) = shown.last() else { return };
        let repeat = shown.iter().rev().take_while(|&&t| t == last).count();
        spawn_local(async move {
            match api::audit(Some(last), PAGE + repeat as u32).await {
                Ok(log) => {
                    more.set(log.entries.len() as u32 >= PAGE + repeat as u32);
                    older.update(|o| o.extend(log.entries.into_iter().skip(repeat)));
                    problem.set(None);
                }
                Err(e) => problem.set(Some(format!("Could not load older entries: {e}"))),
            }
        });
    };
    view! {
        <div class="panel admin-panel" data-testid="admin-audit">
            <h2>"Audit log"</h2>
            <FetchError error=newest.error what="the audit log" />
            {move || newest.data.get().map(|log| {
                if log.entries.is_empty() {
                    return view! { <p class="muted">"Nothing recorded yet."</p> }.into_any();
                }
                view! {
                    <table class="grid-table audit-table" data-testid="audit-table">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"On"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {log.entries.into_iter().map(entry_row).collect_view()}
                            {move || older.get().into_iter().map(entry_row).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            {move || problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
            <Show when=move || more.get()>
                <button data-testid="audit-older" on:click=load_older>"Show older"</button>
            </Show>
        </div>
    }
}

fn entry_row(e: AuditEntry) -> impl IntoView {
    view! {
        <tr data-testid="audit-row">
            <td class="muted small">{date_time(e.at_ms)}</td>
            <td data-testid="audit-who">{e.who}</td>
            <td data-testid="audit-action"><code>{e.action}</code></td>
            <td>{e.target}</td>
            <td class="muted small audit-detail">{e.detail}</td>
        </tr>
    }
}
