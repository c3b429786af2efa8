//! The database page: monitored PostgreSQL instances at a glance, and for the chosen one (`?instance=`)
//! its metric graphs over the last 15 minutes, the sessions of the moment clicked on a graph (`?at=`, live
//! without it) or of a window dragged on any graph (`?sel=from-to`, Esc clears), the lock tree with a
//! replay slider over stored samples, and the top statements.
//!
//! Everything polls every 2 s; a failed request is said where its data would be (beside the last good
//! data). The chosen instance, moment and window live in the URL so a link reproduces the view.
//!
//! This file holds the page and the instance cards; one file per panel: `graphs`, `sessions`, `locks`,
//! `statements`.

mod graphs;
mod locks;
mod sessions;
mod statements;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use sightline_model::{DbInstance, DbStatus};

use crate::api;
use crate::components::error_view::FetchError;
use crate::format::clock;
use crate::hooks::{use_polled_resource_with_options, use_set_query, UsePolledResourceOptions};
use graphs::Graphs;
use locks::LockReplay;
use sessions::SessionsPanel;
use statements::StatementsTable;

/// The window the graphs, the replay and the statements cover.
const WINDOW_MS: i64 = 15 * 60_000;
/// Sessions running longer than this are highlighted.
const LONG_RUNNING_MS: f64 = 5_000.0;
/// Query text shown before a row is expanded.
const SHORT_QUERY: usize = 140;
const REFRESH_MS: u64 = 2_000;

/// How every panel of the page fetches: again every [`REFRESH_MS`].
fn polled() -> UsePolledResourceOptions {
    UsePolledResourceOptions::default().interval_ms(REFRESH_MS)
}

#[component]
pub fn DbPage() -> impl IntoView {
    let query = use_query_map();
    let list = use_polled_resource_with_options(api::db_instances, polled());
    // `/db/{instance}` links straight to an instance; a card click (`?instance=`) switches within the page.
    let params = use_params_map();
    let chosen = Memo::new(move |_| {
        query
            .with(|q| q.get("instance"))
            .or_else(|| params.with(|p| p.get("instance")))
            .or_else(|| list.data.with(|l| l.as_ref().and_then(|l| l.instances.first().map(|i| i.id.clone()))))
    });
    let at = Memo::new(move |_| query.with(|q| q.get_str("at").and_then(|v| v.parse::<i64>().ok())));
    let sel = Memo::new(move |_| query.with(|q| q.get_str("sel").and_then(parse_sel)));

    view! {
        <section class="db-page" data-testid="page-db">
            <FetchError error=list.error what="the monitored instances" />
            {move || list.data.with(|l| match l {
                None if list.loading.get() => view! { <p class="muted">"Loading…"</p> }.into_any(),
                None => ().into_any(),
                Some(l) if l.instances.is_empty() => view! { <HowToAdd /> }.into_any(),
                Some(l) => view! { <InstanceCards instances=l.instances.clone() chosen=chosen /> }.into_any(),
            })}
            {move || chosen.get().map(|id| view! { <InstanceView id=id at=at sel=sel /> })}
        </section>
    }
}

/// Shown when no instance is configured: how to add one.
#[component]
fn HowToAdd() -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="db-empty">
            <h1>"Database"</h1>
            <p>"No PostgreSQL instance is monitored. Start Sightline with one (or several):"</p>
            <pre class="mono">"sightline serve --postgres postgres://monitor:PASSWORD@db-host:5432/postgres"</pre>
            <p class="muted">"or SIGHTLINE_POSTGRES=url1,url2. A role with only pg_monitor is enough: "
                <code>"CREATE ROLE monitor LOGIN PASSWORD '…' IN ROLE pg_monitor;"</code></p>
            <p class="muted">"To try it: "<code>"sightline serve --demo"</code>" starts a demo PostgreSQL with some load when PostgreSQL's server binaries are installed ("
                <code>"apt-get install postgresql"</code>")."</p>
        </div>
    }
}

fn status_label(s: DbStatus) -> &'static str {
    match s {
        DbStatus::Up => "up",
        DbStatus::Down => "down",
        DbStatus::Connecting => "connecting",
    }
}

/// Health at a glance; clicking a card opens that instance.
#[component]
fn InstanceCards(instances: Vec<DbInstance>, chosen: Memo<Option<String>>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <div class="db-instances" data-testid="db-instances">
            {instances.into_iter().map(|i| {
                let set_query = set_query.clone();
                let id = i.id.clone();
                let is_chosen = { let id = i.id.clone(); move || chosen.get().as_deref() == Some(id.as_str()) };
                let conn = match (i.connections, i.max_connections) {
                    (Some(c), Some(m)) => format!("{c} / {m} connections"),
                    _ => String::new(),
                };
                view! {
                    <button class="panel db-card" class:selected=is_chosen data-testid="db-instance" data-id=i.id.clone()
                        data-status=status_label(i.status)
                        on:click=move |_| set_query(vec![("instance", Some(id.clone())), ("at", None), ("sel", None)])>
                        <div class="db-card-head">
                            <span class=format!("db-status db-{}", status_label(i.status))>{status_label(i.status)}</span>
                            <strong class="mono">{i.name.clone()}</strong>
                        </div>
                        <div class="db-card-sub small" data-testid="db-instance-sub">"since " {clock(i.since)} " · " {i.version.clone().unwrap_or_default()} " · " {conn}</div>
                        {i.last_error.clone().filter(|_| i.status == DbStatus::Down).map(|e| view! {
                            <div class="db-error small" data-testid="db-instance-error">{e}</div>
                        })}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

/// `?sel=from-to` (epoch ms) of a dragged window.
fn parse_sel(v: &str) -> Option<(i64, i64)> {
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}

/// One instance: graphs, sessions of the chosen moment or window, lock tree with replay, top statements.
#[component]
fn InstanceView(id: String, at: Memo<Option<i64>>, sel: Memo<Option<(i64, i64)>>) -> impl IntoView {
    view! {
        <div class="db-detail">
            <Graphs id=id.clone() at=at sel=sel />
            <aside class="db-side">
                <SessionsPanel id=id.clone() at=at sel=sel />
            </aside>
            <div class="panel db-locks" data-testid="db-locks">
                <div class="panel-head"><h2>"Lock tree"</h2><span class="muted">"blockers first · slide to replay stored samples"</span></div>
                <LockReplay id=id.clone() at=at />
            </div>
            <div class="panel db-statements" data-testid="db-statements">
                <div class="panel-head"><h2>"Top statements"</h2><span class="muted">"by total time, last 15 minutes (pg_stat_statements)"</span></div>
                <StatementsTable id=id />
            </div>
        </div>
    }
}

/// A statement cut to [`SHORT_QUERY`] characters, for rows not expanded.
fn short(q: &str) -> String {
    match q.char_indices().nth(SHORT_QUERY) {
        Some((i, _)) => format!("{}…", &q[..i]),
        None => q.to_string(),
    }
}

/// What a panel shows before its first answer.
fn loading() -> AnyView {
    view! { <p class="muted">"Loading…"</p> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_in_the_url_is_two_ordered_times() {
        assert_eq!(parse_sel("1000-2000"), Some((1000, 2000)));
        assert_eq!(parse_sel("2000-1000"), None);
        assert_eq!(parse_sel("1000"), None);
        assert_eq!(parse_sel("a-b"), None);
    }

    #[test]
    fn long_statements_are_cut_on_a_character() {
        assert_eq!(short("SELECT 1"), "SELECT 1");
        let long = "é".repeat(SHORT_QUERY + 5);
        assert_eq!(short(&long).chars().count(), SHORT_QUERY + 1);
        assert!(short(&long).ends_with('…'));
    }
}
