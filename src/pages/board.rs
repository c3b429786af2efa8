//! One flex board (`/boards/{id}`): its widgets on the grid sharing the top bar's time range, and in edit
//! mode the catalogue, drag to move and resize, duplicate, delete, undo, save.
//!
//! The page keeps two copies: `saved` (the revision on the server) and `draft` (what the user sees and
//! edits). A save sends the draft with the revision it was based on; if someone saved in between, the
//! server refuses (409) and the page shows what they changed next to what the user changed, and lets the
//! user reload, save a copy or overwrite. `?readonly=1` (a link for signed-in people) and `?share=<token>` (a
//! share link, no sign-in) hide every editing control, and so does a role that may not edit (viewers).
//! `?edit=1` opens the board in edit mode (used right after creating one).

use std::collections::BTreeMap;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_use::{use_event_listener, use_window};
use sightline_model::{
    diff, format_duration_ms, free_slot, new_widget_id, place_widget, Board, BoardTime,
    MetricInfo, TimeRange, Variable, Widget, WidgetKind, WidgetOptions, WidgetQuery,
};

use crate::api::{self, SaveError};
use crate::components::board_grid::{BoardGrid, GridActions};
use crate::components::board_widget::BoardContext;
use crate::components::error_view::ErrorList;
use crate::components::copy_button::CopyButton;
use crate::components::share_links::ShareLinks;
use crate::components::widget_editor::{default_size, WidgetEditor};
use crate::format::{clock, datetime_local};
use crate::hooks::{use_copy_to_clipboard, use_session, use_set_query, CopyState, UseTimeRangeReturn};

/// Changes kept for undo.
const UNDO_DEPTH: usize = 50;

#[component]
pub fn BoardPage(tr: UseTimeRangeReturn) -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let board = LocalResource::new(move || api::board(id.get()));
    view! {
        <section class="board-page" data-testid="page-board">
            <ErrorBoundary fallback=|errors| view! {
                <ErrorList errors=errors />
                <p><a href="/boards">"All boards"</a></p>
            }>
                <Transition fallback=|| view! { <p class="muted">"Loading the board…"</p> }>
                    <div>
                        {move || Suspend::new(async move {
                            board.await.map(|b| view! { <BoardEditor board=b tr=tr /> })
                        })}
                    </div>
                </Transition>
            </ErrorBoundary>
        </section>
    }
}

/// URL parameters that show `time` (the ones [`crate::hooks::use_time_range`] reads).
fn range_params(time: &BoardTime) -> Vec<(&'static str, Option<String>)> {
    match time.range {
        TimeRange::Relative { ms } => vec![
            ("range", Some(format_duration_ms(ms))),
            ("from", None),
            ("to", None),
            ("live", (!time.live).then(|| "0".to_string())),
        ],
        TimeRange::Absolute { from, to } => {
            vec![("range", None), ("from", Some(from.to_string())), ("to", Some(to.to_string())), ("live", None)]
        }
    }
}

/// What a dialog over the board is showing.
#[derive(Clone, PartialEq)]
enum Dialog {
    None,
    /// Adding (`true`) or configuring a widget.
    Editor(Box<Widget>, bool),
    /// A stale save: the board as it is now on the server.
    Conflict(Box<Board>),
    Export,
    Share,
}

/// A status line under the toolbar: what the last action did, or why it failed.
#[derive(Clone, PartialEq)]
enum Notice {
    Ok(String),
    Err(String),
}

#[component]
fn BoardEditor(board: Board, tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let navigate = use_navigate();
    let session = use_session();
    let readonly = Memo::new(move |_| query.with(|q| q.get_str("readonly") == Some("1") || q.get_str("kiosk") == Some("1") || q.get_str("share").is_some()));
    let kiosk = Memo::new(move |_| query.with(|q| q.get_str("kiosk") == Some("1")));
    let has_range = query.with_untracked(|q| q.get_str("range").is_some() || q.get_str("from").is_some());
    if !has_range {
        // The board's own range, unless the link (a share link, a reload) already says which one.
        set_query(range_params(&board.time));
    }
    let editing = RwSignal::new(!readonly.get_untracked() && query.with_untracked(|q| q.get_str("edit") == Some("1")));
    // Viewers and share links never edit, even with `?edit=1`.
    Effect::new(move |_| if session.read_only() { editing.set(false) });
    let saved = RwSignal::new(board.clone());
    let draft = RwSignal::new(board);
    let undo = RwSignal::new(Vec::<Board>::new());
    let dialog = RwSignal::new(Dialog::None);
    let notice = RwSignal::new(None::<Notice>);
    let history_open = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let dirty = Memo::new(move |_| draft.with(|d| saved.with(|s| d != s)));

    let catalog = RwSignal::new(Vec::<MetricInfo>::new());
    spawn_local(async move {
        if let Ok(c) = api::metric_catalog().await {
            catalog.set(c.metrics);
        }
    });

    // Variables: `service` is the top bar's service picker; others come from `?var-<name>=` or their default.
    let vars = Memo::new(move |_| {
        let service = tr.service.get();
        draft.with(|b| {
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
                .collect::<BTreeMap<_, _>>()
        })
    });
    let deploys = RwSignal::new(Vec::new());
    let fetched_deploys = LocalResource::new(move || {
        let (from, to) = tr.window.get();
        api::deploys(from, to)
    });
    Effect::new(move |_| {
        // Markers are an extra: when they cannot be fetched the charts simply have none.
        if let Some(Ok(list)) = fetched_deploys.get() {
            deploys.set(list.deploys);
        }
    });
    let ctx = BoardContext { window: tr.window, vars: vars.into(), deploys: deploys.into() };

    // Every edit goes through here, so it can be undone.
    let change = move |f: &dyn Fn(&mut Board)| {
        let before = draft.get_untracked();
        let mut after = before.clone();
        f(&mut after);
        if after != before {
            undo.update(|u| {
                u.push(before);
                if u.len() > UNDO_DEPTH {
                    u.remove(0);
                }
            });
            draft.set(after);
        }
    };
    let do_undo = move || {
        if let Some(prev) = undo.try_update(|u| u.pop()).flatten() {
            draft.set(prev);
        }
    };
    let _ = use_event_listener(use_window(), ev::keydown, move |e| {
        if editing.get_untracked() && (e.ctrl_key() || e.meta_key()) && e.key() == "z" && dialog.with_untracked(|d| *d == Dialog::None) {
            e.prevent_default();
            do_undo();
        }
    });

    // Closing or reloading the tab with unsaved edits asks first (the browser's own prompt).
    let _ = use_event_listener(use_window(), ev::beforeunload, move |e| {
        if dirty.get_untracked() {
            e.prevent_default();
            e.set_return_value("unsaved");
        }
    });

    let adopt = move |b: Board| {
        saved.set(b.clone());
        draft.set(b);
        undo.set(Vec::new());
    };
    let save = move |based_on: Option<u64>| {
        busy.set(true);
        let mut b = draft.get_untracked();
        if let Some(v) = based_on {
            b.version = v;
        }
        spawn_local(async move {
            match api::save_board(b).await {
                Ok(b) => {
                    notice.set(Some(Notice::Ok(format!("Saved as version {}.", b.version))));
                    adopt(b);
                    editing.set(false);
                    dialog.set(Dialog::None);
                }
                Err(SaveError::Conflict { current, .. }) => dialog.set(Dialog::Conflict(current)),
                Err(e) => notice.set(Some(Notice::Err(format!("Not saved: {e}")))),
            }
            busy.set(false);
        });
    };
    let save_copy = {
        let navigate = navigate.clone();
        move || {
            let mut b = draft.get_untracked();
            b.title = format!("{} (copy)", b.title);
            b.id = String::new();
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::create_board(b).await {
                    Ok(b) => {
                        dialog.set(Dialog::None);
                        navigate(&format!("/boards/{}", b.id), Default::default());
                    }
                    Err(e) => notice.set(Some(Notice::Err(format!("Not saved: {e}")))),
                }
            });
        }
    };

    let add_widget = move |_| {
        let widgets = draft.with_untracked(|b| b.widgets.clone());
        let kind = WidgetKind::Timeseries;
        let (w, h) = default_size(&kind);
        let metric = catalog
            .with_untracked(|c| c.iter().find(|i| i.available).map(|i| i.name.clone()))
            .unwrap_or_else(|| "transactions.tps".into());
        dialog.set(Dialog::Editor(
            Box::new(Widget {
                id: new_widget_id(&widgets, "widget"),
                kind,
                title: "Time series".into(),
                x: 0,
                y: 0,
                w,
                h,
                query: Some(WidgetQuery { metric, ..Default::default() }),
                options: WidgetOptions::default(),
            }),
            true,
        ));
    };
    let apply_widget = Callback::new(move |w: Widget| {
        let adding = matches!(dialog.get_untracked(), Dialog::Editor(_, true));
        change(&|b: &mut Board| {
            // A filter on `$name` needs the board variable `name`: add it rather than refuse the save.
            let wanted: Vec<String> = w.query.iter().flat_map(|q| q.filter.values()).filter_map(|v| v.strip_prefix('$')).map(str::to_string).collect();
            for name in wanted {
                if !b.variables.iter().any(|v| v.name == name) {
                    b.variables.push(Variable { name: name.clone(), label: String::new(), value: None });
                }
            }
            if adding {
                let (w0, h0) = default_size(&w.kind);
                let (x, y) = free_slot(&b.widgets, w0, h0);
                place_widget(&mut b.widgets, Widget { x, y, w: w0, h: h0, ..w.clone() });
            } else if let Some(slot) = b.widgets.iter_mut().find(|o| o.id == w.id) {
                *slot = Widget { x: slot.x, y: slot.y, w: slot.w, h: slot.h, ..w.clone() };
            }
        });
        dialog.set(Dialog::None);
    });
    let actions = GridActions {
        layout: Callback::new(move |widgets: Vec<Widget>| change(&|b: &mut Board| b.widgets = widgets.clone())),
        configure: Callback::new(move |id: String| {
            if let Some(w) = draft.with_untracked(|b| b.widgets.iter().find(|w| w.id == id).cloned()) {
                dialog.set(Dialog::Editor(Box::new(w), false));
            }
        }),
        duplicate: Callback::new(move |id: String| {
            change(&|b: &mut Board| {
                if let Some(src) = b.widgets.iter().find(|w| w.id == id).cloned() {
                    let (x, y) = free_slot(&b.widgets, src.w, src.h);
                    let copy = Widget { id: new_widget_id(&b.widgets, &src.id), x, y, ..src };
                    place_widget(&mut b.widgets, copy);
                }
            })
        }),
        delete: Callback::new(move |id: String| change(&|b: &mut Board| b.widgets.retain(|w| w.id != id))),
    };

    let set_range_default = move |_| {
        let time = BoardTime { range: tr.range.get_untracked(), live: tr.live.get_untracked() };
        change(&|b: &mut Board| b.time = time);
    };
    let layout = Signal::derive(move || draft.with(|b| b.widgets.clone()));

    view! {
        <div class="board-toolbar" data-testid="board-toolbar">
            <a class="muted" href="/boards" data-testid="all-boards">"Boards"</a>
            <span class="muted">"/"</span>
            <Show when=move || editing.get() fallback=move || view! {
                <h1 data-testid="board-title">{move || draft.with(|b| b.title.clone())}</h1>
            }>
                <input class="board-title-input" data-testid="board-title-input" aria-label="Board title"
                    prop:value=move || draft.with(|b| b.title.clone())
                    on:change=move |e| { let v = event_target_value(&e); change(&|b: &mut Board| b.title = v.clone()) } />
            </Show>
            <span class="muted small" data-testid="board-version">{move || saved.with(|b| format!("v{}", b.version))}</span>
            {move || readonly.get().then(|| view! { <span class="chip" data-testid="readonly-badge">"read-only"</span> })}
            {move || dirty.get().then(|| view! { <span class="chip warn" data-testid="unsaved">"unsaved changes"</span> })}
            <span class="spacer"></span>
            <Show when=move || editing.get()>
                <button data-testid="add-widget" on:click=add_widget>"+ Add widget"</button>
                <button data-testid="undo" disabled=move || undo.with(Vec::is_empty) on:click=move |_| do_undo() title="Undo (Ctrl+Z)">"Undo"</button>
                <button data-testid="range-default" on:click=set_range_default title="Open this board with the range shown now">"Keep this range"</button>
                <button data-testid="discard" on:click=move |_| { draft.set(saved.get_untracked()); undo.set(Vec::new()); editing.set(false); }>"Discard"</button>
                <button class="primary" data-testid="save" disabled=move || busy.get() on:click=move |_| save(None)>"Save"</button>
            </Show>
            <Show when=move || !editing.get() && !readonly.get() && session.can_edit()>
                <button data-testid="edit" on:click=move |_| editing.set(true)>"Edit"</button>
            </Show>
            <Show when=move || !readonly.get()>
                <button data-testid="history" class:selected=move || history_open.get() on:click=move |_| history_open.update(|o| *o = !*o)>"History"</button>
                <button data-testid="export" on:click=move |_| dialog.set(Dialog::Export)>"Export"</button>
            </Show>
            <Show when=move || !kiosk.get() && session.can_edit()>
                <button data-testid="share" on:click=move |_| dialog.set(Dialog::Share)>"Share"</button>
            </Show>
        </div>
        {move || notice.get().map(|n| match n {
            Notice::Ok(m) => view! { <p class="notice ok" data-testid="notice">{m}</p> }.into_any(),
            Notice::Err(m) => view! { <p class="notice error-text" role="alert" data-testid="notice">{m}</p> }.into_any(),
        })}
        <VariablesBar variables=Signal::derive(move || draft.with(|b| b.variables.clone())) vars=vars />
        <div class="board-body" class:with-history=move || history_open.get()>
            <div class="board-main">
                <Show when=move || draft.with(|b| !b.widgets.is_empty()) fallback=move || view! {
                    <div class="empty-state" data-testid="board-empty">
                        <p>"This board has no widgets yet."</p>
                        {move || (!readonly.get() && session.can_edit()).then(|| view! {
                            <button class="primary" on:click=move |e| { editing.set(true); add_widget(e) }>"Add a widget"</button>
                        })}
                    </div>
                }>
                    <BoardGrid layout=layout editing=editing ctx=ctx actions=actions />
                </Show>
            </div>
            <Show when=move || history_open.get()>
                <HistoryPanel saved=saved on_restored=Callback::new(move |b: Board| {
                    notice.set(Some(Notice::Ok(format!("Restored: now version {}.", b.version))));
                    adopt(b);
                    editing.set(false);
                }) />
            </Show>
        </div>
        {move || match dialog.get() {
            Dialog::None => ().into_any(),
            Dialog::Editor(w, adding) => view! {
                <WidgetEditor initial=*w adding=adding catalog=catalog ctx=ctx on_apply=apply_widget
                    on_cancel=Callback::new(move |_| dialog.set(Dialog::None)) />
            }.into_any(),
            Dialog::Conflict(current) => {
                let save_copy = save_copy.clone();
                let current_version = current.version;
                let reload_to = (*current).clone();
                view! {
                    <ConflictDialog base=saved.get_untracked() current=*current mine=draft.get_untracked()
                        on_reload=Callback::new(move |_| { adopt(reload_to.clone()); editing.set(false); dialog.set(Dialog::None); })
                        on_copy=Callback::new(move |_| save_copy())
                        on_overwrite=Callback::new(move |_| save(Some(current_version))) />
                }.into_any()
            }
            Dialog::Export => view! { <ExportDialog board=saved.get_untracked() on_close=Callback::new(move |_| dialog.set(Dialog::None)) /> }.into_any(),
            Dialog::Share => view! { <ShareDialog on_close=Callback::new(move |_| dialog.set(Dialog::None)) /> }.into_any(),
        }}
    }
}

/// The board's variables and their current values.
#[component]
fn VariablesBar(variables: Signal<Vec<Variable>>, vars: Memo<BTreeMap<String, Option<String>>>) -> impl IntoView {
    let set_query = use_set_query();
    let set_query = Callback::new(move |u: Vec<(&'static str, Option<String>)>| set_query(u));
    view! {
        <Show when=move || variables.with(|v| !v.is_empty())>
            <div class="board-variables" data-testid="board-variables">
                {move || variables.get().into_iter().map(|v| {
                    let label = if v.label.is_empty() { v.name.clone() } else { v.label.clone() };
                    let name = v.name.clone();
                    let current = { let name = name.clone(); move || vars.with(|m| m.get(&name).cloned().flatten()) };
                    if v.name == "service" {
                        view! {
                            <span class="chip" title="Pick the service in the top bar">
                                {format!("{label}: ")}<strong>{move || current().unwrap_or_else(|| "all".into())}</strong>
                            </span>
                        }.into_any()
                    } else {
                        let key: &'static str = Box::leak(format!("var-{name}").into_boxed_str());
                        let choices = known_values(&name);
                        let current2 = current.clone();
                        view! {
                            <label class="chip" data-testid=format!("variable-{name}")>{format!("{label} ")}
                                <select prop:value=move || current().unwrap_or_default()
                                    on:change=move |e| { let v = event_target_value(&e); set_query.run(vec![(key, (!v.is_empty()).then_some(v))]) }>
                                    <option value="">"all"</option>
                                    {move || {
                                        let mut values = choices.get().unwrap_or_default();
                                        // A value from the link that is not known (yet) stays selectable.
                                        if let Some(c) = current2().filter(|c| !values.contains(c)) {
                                            values.push(c);
                                        }
                                        values.into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()
                                    }}
                                </select>
                            </label>
                        }.into_any()
                    }
                }).collect_view()}
            </div>
        </Show>
    }
}

/// Values a board variable can take, from what Sightline monitors: database instances for `instance`, the
/// host collector's machine for `host`; other names get none (the link's value, or "all").
fn known_values(name: &str) -> LocalResource<Vec<String>> {
    let name = name.to_string();
    LocalResource::new(move || {
        let name = name.clone();
        async move {
            match name.as_str() {
                "instance" => api::db_instances().await.map(|l| l.instances.into_iter().map(|i| i.id).collect()).unwrap_or_default(),
                "host" => api::host_processes(None).await.map(|h| vec![h.host]).unwrap_or_default(),
                _ => Vec::new(),
            }
        }
    })
}

/// A save refused because someone else saved first: what they changed, what the user changed, and the three
/// ways out.
#[component]
fn ConflictDialog(
    base: Board,
    current: Board,
    mine: Board,
    on_reload: Callback<()>,
    on_copy: Callback<()>,
    on_overwrite: Callback<()>,
) -> impl IntoView {
    let theirs = diff(&base, &current).summary(&base, &current);
    let ours = diff(&base, &mine).summary(&base, &mine);
    let when = clock(current.updated_ms);
    view! {
        <div class="modal-backdrop">
            <div class="modal conflict" role="alertdialog" aria-label="Save conflict" data-testid="conflict">
                <h2>"Someone else saved this board"</h2>
                <p>{format!(
                    "You started from version {}; version {} was saved at {when}. Saving now would overwrite their changes.",
                    base.version, current.version
                )}</p>
                <div class="diff-columns">
                    <div>
                        <h3>"Their changes"</h3>
                        <ul data-testid="conflict-theirs">
                            {if theirs.is_empty() { vec!["nothing you can see (same layout and queries)".to_string()] } else { theirs }
                                .into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                        </ul>
                    </div>
                    <div>
                        <h3>"Your changes"</h3>
                        <ul data-testid="conflict-mine">
                            {ours.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                        </ul>
                    </div>
                </div>
                <div class="modal-actions">
                    <button data-testid="conflict-reload" on:click=move |_| on_reload.run(())>"Reload theirs (drop mine)"</button>
                    <button data-testid="conflict-copy" on:click=move |_| on_copy.run(())>"Save mine as a copy"</button>
                    <button class="danger" data-testid="conflict-overwrite" on:click=move |_| on_overwrite.run(())>"Overwrite theirs"</button>
                </div>
            </div>
        </div>
    }
}

/// Every kept revision; pick one to see what restoring it would change, then restore it.
#[component]
fn HistoryPanel(saved: RwSignal<Board>, on_restored: Callback<Board>) -> impl IntoView {
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
            {move || picked.get().map(|old| {
                let now = saved.get();
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
                        {use_session().can_edit().then(|| view! {
                            <button class="primary" data-testid="history-restore" disabled=is_current on:click=move |_| restore(n)>
                                {format!("Restore version {n}")}
                            </button>
                        })}
                    </div>
                }
            })}
        </aside>
    }
}

/// The board as JSON: to copy, or to download as a file.
#[component]
fn ExportDialog(board: Board, on_close: Callback<()>) -> impl IntoView {
    let json = serde_json::to_string_pretty(&board).unwrap_or_default();
    let file = format!("{}.json", board.id);
    let copy = use_copy_to_clipboard();
    let download = {
        let json = json.clone();
        move |_| download_text(&file, &json)
    };
    let j = json.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal" role="dialog" aria-label="Export" data-testid="export-dialog" on:click=|e| e.stop_propagation()>
                <h2>"Export board"</h2>
                <p class="muted small">"Import it on any Sightline from the boards list. Board variables and the time range are included."</p>
                <textarea class="json" readonly rows="16" data-testid="export-json" prop:value=json></textarea>
                <div class="modal-actions">
                    <button class="primary" data-testid="export-download" on:click=download>"Download"</button>
                    <button on:click=move |_| copy.copy.run(j.clone())>
                        {move || match copy.state.get() { CopyState::Copied => "Copied", CopyState::Failed => "Copy failed", CopyState::Idle => "Copy" }}
                    </button>
                    <button on:click=move |_| on_close.run(())>"Close"</button>
                </div>
            </div>
        </div>
    }
}

/// Saves `text` as a file the browser downloads.
fn download_text(name: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/json");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let doc = web_sys::window().and_then(|w| w.document());
    if let Some(a) = doc.and_then(|d| d.create_element("a").ok()) {
        use wasm_bindgen::JsCast;
        let a: web_sys::HtmlAnchorElement = a.unchecked_into();
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// A link that opens this board read-only with the range shown now.
#[component]
fn ShareDialog(on_close: Callback<()>) -> impl IntoView {
    let query = use_query_map();
    let link = Memo::new(move |_| {
        let loc = web_sys::window().map(|w| w.location());
        let origin = loc.as_ref().and_then(|l| l.origin().ok()).unwrap_or_default();
        let path = loc.as_ref().and_then(|l| l.pathname().ok()).unwrap_or_default();
        let q = query.get();
        let mut params: Vec<(&str, Option<String>)> = ["range", "from", "to", "live", "service"].iter().map(|k| (*k, q.get(k))).collect();
        params.push(("readonly", Some("1".into())));
        format!("{origin}{}", api::with_query(&path, &params))
    });
    // For a wall screen: no menus, and a relative range keeps moving with the clock.
    let tv_link = Memo::new(move |_| {
        let l = link.get().replace("readonly=1", "kiosk=1");
        if l.contains("range=") { l.replace("&live=0", "") } else { l }
    });
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal" role="dialog" aria-label="Share" data-testid="share-dialog" on:click=|e| e.stop_propagation()>
                <h2>"Share this board"</h2>
                <p class="muted small">"For people who can sign in: the link opens the board read-only, with the time range and service shown now."</p>
                <div class="inline-form">
                    <input class="share-link" readonly data-testid="share-link" prop:value=move || link.get() />
                    <CopyButton text=link />
                </div>
                <p class="muted small">"For a wall screen (no menus, live):"</p>
                <div class="inline-form">
                    <input class="share-link" readonly data-testid="share-tv-link" prop:value=move || tv_link.get() />
                    <CopyButton text=tv_link />
                </div>
                <ShareLinks />
                <div class="modal-actions">
                    <button on:click=move |_| on_close.run(())>"Close"</button>
                </div>
            </div>
        </div>
    }
}
