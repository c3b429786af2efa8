//! The lock tree (head blockers at the roots, their waiters under them) of the chosen moment or live, and a
//! slider over the stored samples to replay it: jumping to those with lock waits is the point.

use leptos::ev;
use leptos::prelude::*;
use sightline_model::DbLockNode;

use super::{loading, polled, short, WINDOW_MS};
use crate::api;
use crate::components::error_view::FetchError;
use crate::format::{clock, duration};
use crate::hooks::{now_ms, use_polled_resource_with_options, use_set_query};

/// The replay slider and the tree of the chosen sample (`at`, the newest without it).
#[component]
pub(super) fn LockReplay(id: String, at: Memo<Option<i64>>) -> impl IntoView {
    let set_query = use_set_query();
    let samples = {
        let id = id.clone();
        use_polled_resource_with_options(
            move || {
                let now = now_ms();
                api::db_samples(id.clone(), now - WINDOW_MS, now + 1)
            },
            polled(),
        )
    };
    let tree = use_polled_resource_with_options(move || api::db_locks(id.clone(), at.get()), polled());
    let times = Memo::new(move |_| samples.data.with(|s| s.as_ref().map(|s| s.times.clone()).unwrap_or_default()));
    let with_locks = move || samples.data.with(|s| s.as_ref().map_or(0, |s| s.lock_times.len()));
    let index = move || {
        times.with(|t| match at.get() {
            Some(a) => t.partition_point(|x| *x < a).min(t.len().saturating_sub(1)),
            None => t.len().saturating_sub(1),
        })
    };
    let on_slide = move |e: ev::Event| {
        let i: usize = event_target_value(&e).parse().unwrap_or(0);
        if let Some(t) = times.with_untracked(|t| t.get(i).copied()) {
            set_query(vec![("at", Some(t.to_string())), ("sel", None)]);
        }
    };
    view! {
        <div class="db-replay">
            <input type="range" data-testid="lock-slider" min="0" prop:max=move || times.with(|t| t.len().saturating_sub(1)).to_string()
                prop:value=move || index().to_string() on:input=on_slide />
            <span class="muted small">{move || format!("{} samples, {} with lock waits", times.with(Vec::len), with_locks())}</span>
        </div>
        <FetchError error=samples.error what="the stored samples" />
        <FetchError error=tree.error what="the lock tree" />
        {move || tree.data.with(|t| match t {
            None if tree.loading.get() => loading(),
            None => ().into_any(),
            Some(t) if t.roots.is_empty() => view! {
                <p class="muted" data-testid="locks-empty">{format!("No lock waits{}.", t.at.map(|a| format!(" at {}", clock(a))).unwrap_or_default())}</p>
            }.into_any(),
            Some(t) => {
                let at = t.at.unwrap_or_else(now_ms);
                view! { <ul class="db-lock-tree">{t.roots.iter().map(|r| lock_node(r, at)).collect_view()}</ul> }.into_any()
            }
        })}
    }
}

/// A session in the tree, with what it waits for and the sessions waiting for it.
fn lock_node(n: &DbLockNode, at: i64) -> AnyView {
    let xact = n.xact_start.map(|x| format!("transaction {}", duration((at - x).max(0) as f64))).unwrap_or_default();
    let waiting = n.waiting.as_ref().map(|w| {
        format!("waits {} for {} on {}", duration(w.waiting_ms), w.mode, w.relation.clone().unwrap_or_else(|| w.locktype.clone()))
    });
    let role = if n.waiting.is_none() { "head blocker" } else { "waiter" };
    view! {
        <li data-testid="lock-node" data-pid=n.pid.to_string() data-role=role>
            <div class="db-lock-line">
                <strong class="mono">{n.pid}</strong> " " {n.user.clone().unwrap_or_default()} " "
                <span class="muted">{n.application_name.clone().unwrap_or_default()} " · " {n.state.clone().unwrap_or_default()} " · " {xact}</span>
                {waiting.map(|w| view! { <div class="db-wait small" data-testid="lock-wait">{w}</div> })}
                <div class="mono small db-query">{n.query.clone().map(|q| short(&q)).unwrap_or_default()}</div>
            </div>
            {(!n.waiters.is_empty()).then(|| view! { <ul>{n.waiters.iter().map(|w| lock_node(w, at)).collect_view()}</ul> })}
        </li>
    }
    .into_any()
}
