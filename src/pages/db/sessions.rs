//! Beside the graphs: the sessions of the window dragged on them (`?sel=`), else of the moment clicked
//! (`?at=`), else live. Sortable by elapsed time; a click on a row shows its full statement.

use leptos::prelude::*;
use sightline_model::{DbSession, DbWindowSession};

use super::{loading, polled, short, LONG_RUNNING_MS};
use crate::api;
use crate::components::error_view::FetchError;
use crate::format::{clock, duration};
use crate::hooks::{use_polled_resource, use_polled_resource_with_options, use_set_query};

/// The window's sessions when a window is chosen, else the moment's (or live ones).
#[component]
pub(super) fn SessionsPanel(id: String, at: Memo<Option<i64>>, sel: Memo<Option<(i64, i64)>>) -> impl IntoView {
    let set_query = use_set_query();
    move || match sel.get() {
        Some((from, to)) => view! { <WindowSessions id=id.clone() from=from to=to /> }.into_any(),
        None => {
            let live = {
                let set_query = set_query.clone();
                move |_| set_query(vec![("at", None)])
            };
            view! {
                <div class="panel" data-testid="db-sessions">
                    <div class="panel-head">
                        <h2>{move || match at.get() { Some(t) => format!("Sessions at {}", clock(t)), None => "Live sessions".to_string() }}</h2>
                        <span class="spacer"></span>
                        {move || at.get().is_some().then(|| view! { <button data-testid="db-live" on:click=live.clone()>"Back to live"</button> })}
                    </div>
                    <SessionsTable id=id.clone() at=at />
                </div>
            }
            .into_any()
        }
    }
}

/// The "Elapsed" column heading that flips the order.
fn elapsed_heading(testid: &'static str, longest_first: RwSignal<bool>) -> impl IntoView {
    view! {
        <th class="num clickable" data-testid=testid on:click=move |_| longest_first.update(|v| *v = !*v)>
            {move || if longest_first.get() { "Elapsed ▼" } else { "Elapsed ▲" }}
        </th>
    }
}

/// Sessions of the chosen moment (or live), longest first.
#[component]
fn SessionsTable(id: String, at: Memo<Option<i64>>) -> impl IntoView {
    let sessions = use_polled_resource_with_options(move || api::db_sessions(id.clone(), at.get()), polled());
    let longest_first = RwSignal::new(true);
    let expanded = RwSignal::new(None::<(i32, Option<i64>)>);
    view! {
        <FetchError error=sessions.error what="sessions" />
        {move || {
            let Some(mut rows) = sessions.data.get().map(|s| s.sessions) else {
                return if sessions.loading.get() { loading() } else { ().into_any() };
            };
            if rows.is_empty() {
                return view! { <p class="muted" data-testid="db-sessions-empty">"No active sessions."</p> }.into_any();
            }
            if !longest_first.get() {
                rows.reverse();
            }
            view! {
                <table class="grid-table db-table">
                    <thead><tr>
                        <th>"Session"</th><th>"State / wait"</th>
                        {elapsed_heading("sort-elapsed", longest_first)}
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|s| session_row(s, expanded)).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
    }
}

/// One session of the moment: who, what it runs (cut until clicked), its state or wait, its backend
/// process on this machine, and the trace its statement came from.
fn session_row(s: DbSession, expanded: RwSignal<Option<(i32, Option<i64>)>>) -> impl IntoView {
    let key = (s.pid, s.backend_start);
    let full = s.query.clone().unwrap_or_default();
    let open = move || expanded.get() == Some(key);
    let wait = match (&s.wait_event_type, &s.wait_event) {
        (Some(t), Some(e)) => format!("{t}: {e}"),
        _ => s.wait_class.clone(),
    };
    let blocked = (!s.blocked_by.is_empty()).then(|| format!(" · blocked by {}", pids(&s.blocked_by)));
    view! {
        <tr class="clickable" class:long={s.elapsed_ms >= LONG_RUNNING_MS} data-testid="session-row" data-pid=s.pid.to_string()
            on:click=move |_| expanded.update(|e| *e = if *e == Some(key) { None } else { Some(key) })>
            <td>
                {who(s.pid, &s.user, &s.database, [&s.application_name, &s.client_addr, &s.backend_type])}
                {query_text("session-query", full, open)}
            </td>
            <td class="small">{s.state.clone().unwrap_or_default()}<div class="muted">{wait}{blocked}</div>
                {s.host_rss_bytes.map(|rss| view! {
                    <div class="muted" data-testid="session-host" title="the backend process on this machine">
                        {s.host_cpu_percent.map(|c| format!("CPU {c:.0} % · ")).unwrap_or_default()}
                        {format!("RSS {:.0} MB", rss as f64 / 1048576.0)}
                    </div>
                })}
                {s.trace_id.clone().map(|t| view! {
                    // The APM page opens a trace from `?trace=`: the session's statement came from it.
                    <a data-testid="session-trace" href=format!("/apm?trace={t}") on:click=|e| e.stop_propagation()>"trace"</a>
                })}
            </td>
            <td class="num">{duration(s.elapsed_ms)}</td>
        </tr>
    }
}

/// Who a session is: `pid user@database`, and under it what else is known (application, client, …).
fn who(pid: i32, user: &Option<String>, database: &Option<String>, more: [&Option<String>; 3]) -> impl IntoView {
    let more = more.iter().map(|m| m.as_deref().unwrap_or_default()).collect::<Vec<_>>().join(" ");
    view! {
        <div class="mono">{pid} " " {user.clone().unwrap_or_default()} "@" {database.clone().unwrap_or_default()}</div>
        <div class="muted small">{more}</div>
    }
}

/// A statement, cut until its row is `open`.
fn query_text(testid: &'static str, full: String, open: impl Fn() -> bool + Send + Sync + 'static) -> impl IntoView {
    view! { <div class="mono small db-query" data-testid=testid>{move || if open() { full.clone() } else { short(&full) }}</div> }
}

fn pids(pids: &[i32]) -> String {
    pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}

/// The sessions and statements a dragged window saw, merged over its samples.
#[component]
fn WindowSessions(id: String, from: i64, to: i64) -> impl IntoView {
    let set_query = use_set_query();
    let window = use_polled_resource(move || api::db_window_sessions(id.clone(), from, to));
    let longest_first = RwSignal::new(true);
    let expanded = RwSignal::new(None::<usize>);
    let clear = move |_| set_query(vec![("sel", None)]);
    view! {
        <div class="panel" data-testid="db-window-sessions">
            <div class="panel-head">
                <h2>{format!("Sessions {} – {}", clock(from), clock(to))}</h2>
                <span class="spacer"></span>
                <button data-testid="db-window-clear" title="Esc" on:click=clear>"Clear"</button>
            </div>
            <FetchError error=window.error what="the window's sessions" />
            {move || match window.data.get() {
                None if window.loading.get() => loading(),
                None => ().into_any(),
                Some(w) => {
                    let summary = format!("{} samples · {} sessions and statements{}", w.samples, w.sessions.len() + w.truncated,
                        if w.truncated > 0 { format!(" (longest {} shown)", w.sessions.len()) } else { String::new() });
                    view! {
                        <p class="muted small" data-testid="db-window-summary">{summary}</p>
                        {window_table(w.sessions, longest_first, expanded)}
                    }.into_any()
                }
            }}
        </div>
    }
}

fn window_table(rows: Vec<DbWindowSession>, longest_first: RwSignal<bool>, expanded: RwSignal<Option<usize>>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid="db-window-empty">"No session was seen in this window."</p> }.into_any();
    }
    view! {
        <table class="grid-table db-table db-window-table">
            <thead><tr>
                <th>"Session / statement"</th><th>"Waits"</th><th class="num">"Samples"</th>
                {elapsed_heading("sort-window-elapsed", longest_first)}
            </tr></thead>
            <tbody>
                {move || {
                    let mut order: Vec<usize> = (0..rows.len()).collect();
                    if !longest_first.get() {
                        order.reverse();
                    }
                    order.into_iter().map(|i| window_row(&rows[i], i, expanded)).collect_view()
                }}
            </tbody>
        </table>
    }
    .into_any()
}

/// One session or statement of the window: who, what (cut until clicked), the waits seen, in how many
/// samples, and the longest it ran.
fn window_row(s: &DbWindowSession, i: usize, expanded: RwSignal<Option<usize>>) -> impl IntoView {
    let full = s.query.clone().unwrap_or_default();
    let waits = s.waits.iter().map(|(w, n)| format!("{w} ×{n}")).collect::<Vec<_>>().join(", ");
    let blocked = (!s.blocked_by.is_empty()).then(|| format!("blocked by {}", pids(&s.blocked_by)));
    view! {
        <tr class="clickable" class:long={s.max_elapsed_ms >= LONG_RUNNING_MS} data-testid="window-row" data-pid=s.pid.to_string()
            on:click=move |_| expanded.update(|e| *e = if *e == Some(i) { None } else { Some(i) })>
            <td>
                {who(s.pid, &s.user, &s.database, [&s.application_name, &s.client_addr, &s.state])}
                {query_text("window-query", full, move || expanded.get() == Some(i))}
            </td>
            <td class="small">{waits}{blocked.map(|b| view! { <div class="muted">{b}</div> })}</td>
            <td class="num">{s.samples}</td>
            <td class="num">{duration(s.max_elapsed_ms)}</td>
        </tr>
    }
}
