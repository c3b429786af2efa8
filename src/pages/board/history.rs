//! The board's kept revisions, beside the board: pick one to see what restoring it would change.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{diff, Board};

use crate::api;
use crate::components::error_view::ErrorList;
use crate::format::datetime_local;

/// Every kept revision; pick one to see what restoring it would change, then restore it.
#[component]
pub fn HistoryPanel(saved: Signal<Board>, on_restored: Callback<Board>) -> impl IntoView {
    let id = saved.get_untracked().id;
    let version = Memo::new(move |_| saved.with(|b| b.version));
    let versions = {
        let id = id.clone();
        LocalResource::new(move || {
            version.track();
            api::board_versions(id.clone())
        })
    };
    let picked = RwSignal::new(None::<Board>);
    let problem = RwSignal::new(None::<String>);
    let pick = {
        let id = id.clone();
        move |n: u64| {
            let id = id.clone();
            spawn_local(async move {
                match api::board_version(id, n).await {
                    Ok(b) => {
                        problem.set(None);
                        picked.set(Some(b));
                    }
                    Err(e) => problem.set(Some(e.to_string())),
                }
            });
        }
    };
    let restore = move |n: u64| {
        let id = saved.get_untracked().id;
        spawn_local(async move {
            match api::restore_board_version(id, n).await {
                Ok(b) => {
                    picked.set(None);
                    on_restored.run(b);
                }
                Err(e) => problem.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <aside class="history-panel panel" data-testid="history-panel">
            <h2>"History"</h2>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    <ul class="history-list">
                        {move || Suspend::new({
                            let pick = pick.clone();
                            async move {
                                versions.await.map(|h| h.versions.into_iter().map(|v| {
                                    let pick = pick.clone();
                                    let current = v.version == version.get_untracked();
                                    let n = v.version;
                                    view! {
                                        <li>
                                            <button class="history-row" data-testid="history-row" data-version=n
                                                class:selected=move || picked.with(|p| p.as_ref().map(|b| b.version) == Some(n))
                                                on:click=move |_| pick(n)>
                                                <strong>{format!("v{n}")}</strong>
                                                <span class="muted small">{datetime_local(v.updated_ms).replace('T', " ")}</span>
                                                <span class="muted small">{format!("{} widgets", v.widgets)}</span>
                                                {v.author.map(|a| view! { <span class="small history-author">"by " <strong data-testid="history-author">{a}</strong></span> })}
                                                {current.then(|| view! { <span class="chip">"current"</span> })}
                                            </button>
                                        </li>
                                    }
                                }).collect_view())
                            }
                        })}
                    </ul>
                </Transition>
            </ErrorBoundary>
            {move || problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
            {move || picked.get().map(|old| view! { <VersionDiff now=saved.get() old=old restore=Callback::new(restore) /> })}
        </aside>
    }
}


/// What restoring revision `old` would change on the board as it is `now`, and the button that does it.
#[component]
fn VersionDiff(now: Board, old: Board, restore: Callback<u64>) -> impl IntoView {
    let lines = diff(&now, &old).summary(&now, &old);
    let n = old.version;
    let is_current = n == now.version;
    view! {
        <div class="history-diff" data-testid="history-diff">
            <h3>{format!("Version {n}")}</h3>
            {if is_current {
                view! { <p class="muted">"This is the current version."</p> }.into_any()
            } else if lines.is_empty() {
                view! { <p class="muted">"Same widgets, layout and queries as now."</p> }.into_any()
            } else {
                view! {
                    <p class="muted small">"Restoring it would:"</p>
                    <ul>{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                }.into_any()
            }}
            {crate::hooks::use_session().can_edit().then(|| view! {
                <button class="primary" data-testid="history-restore" disabled=is_current on:click=move |_| restore.run(n)>
                    {format!("Restore version {n}")}
                </button>
            })}
        </div>
    }
}
