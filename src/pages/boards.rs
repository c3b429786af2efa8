//! The board list (`/boards`): open, create (blank or from a template), rename, duplicate, delete (after
//! confirming), and import a board from JSON with every problem listed when it is not valid.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use sightline_model::{Board, BoardSummary, BoardTime, BOARD_FORMAT_VERSION};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, SaveError};
use crate::components::error_view::ErrorList;
use crate::format::datetime_local;
use crate::hooks::use_session;

/// What happened to the last action on the list.
#[derive(Clone, PartialEq)]
enum Outcome {
    Done(String),
    Failed(String),
    /// An import refused by the server, with every problem.
    Invalid(Vec<String>),
}

#[component]
pub fn BoardsPage() -> impl IntoView {
    let navigate = use_navigate();
    // Viewers see the list and nothing that changes it (the server refuses those anyway).
    let session = use_session();
    let reload = RwSignal::new(0u32);
    let boards = LocalResource::new(move || {
        reload.track();
        api::boards()
    });
    let templates = LocalResource::new(api::board_templates);
    let outcome = RwSignal::new(None::<Outcome>);
    let confirm_delete = RwSignal::new(None::<BoardSummary>);

    // Creating opens the new board in edit mode.
    let create = {
        let navigate = navigate.clone();
        Callback::new(move |b: Board| {
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::create_board(b).await {
                    Ok(b) => navigate(&format!("/boards/{}?edit=1", b.id), Default::default()),
                    Err(e) => outcome.set(Some(Outcome::Failed(format!("Could not create the board: {e}")))),
                }
            });
        })
    };
    let blank = move |_| {
        create.run(Board {
            format_version: BOARD_FORMAT_VERSION,
            id: String::new(),
            title: "New board".into(),
            version: 0,
            updated_ms: 0,
            author: None,
            time: BoardTime::default(),
            variables: vec![],
            widgets: vec![],
        })
    };
    let duplicate = Callback::new(move |id: String| {
        spawn_local(async move {
            let copy = async {
                let mut b = api::board(id).await?;
                b.title = format!("{} (copy)", b.title);
                b.id = String::new();
                api::create_board(b).await
            };
            match copy.await {
                Ok(b) => {
                    outcome.set(Some(Outcome::Done(format!("Created {:?}.", b.title))));
                    reload.update(|n| *n += 1);
                }
                Err(e) => outcome.set(Some(Outcome::Failed(format!("Could not duplicate: {e}")))),
            }
        });
    });
    let rename = Callback::new(move |(id, title): (String, String)| {
        spawn_local(async move {
            let r = async {
                let mut b = api::board(id).await?;
                b.title = title;
                api::save_board(b).await
            };
            match r.await {
                Ok(b) => outcome.set(Some(Outcome::Done(format!("Renamed to {:?}.", b.title)))),
                Err(e) => outcome.set(Some(Outcome::Failed(format!("Could not rename: {e}")))),
            }
            reload.update(|n| *n += 1);
        });
    });
    let delete = move |s: BoardSummary| {
        spawn_local(async move {
            match api::delete_board(s.id.clone(), s.version).await {
                Ok(()) => outcome.set(Some(Outcome::Done(format!("Deleted {:?}.", s.title)))),
                Err(e) => outcome.set(Some(Outcome::Failed(format!("Could not delete: {e}")))),
            }
            confirm_delete.set(None);
            reload.update(|n| *n += 1);
        });
    };
    let on_import = {
        let navigate = navigate.clone();
        Callback::new(move |text: String| {
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::import_board(text).await {
                    Ok(b) => navigate(&format!("/boards/{}", b.id), Default::default()),
                    Err(SaveError::Invalid(problems)) => outcome.set(Some(Outcome::Invalid(problems))),
                    Err(e) => outcome.set(Some(Outcome::Failed(format!("Not imported: {e}")))),
                }
            });
        })
    };

    view! {
        <section class="boards-page" data-testid="page-boards">
            <div class="board-toolbar">
                <h1>"Boards"</h1>
                <span class="spacer"></span>
                <Show when=move || session.can_edit()>
                    <button class="primary" data-testid="new-board" on:click=blank>"New board"</button>
                </Show>
            </div>
            {move || outcome.get().map(|o| match o {
                Outcome::Done(m) => view! { <p class="notice ok" data-testid="notice">{m}</p> }.into_any(),
                Outcome::Failed(m) => view! { <p class="notice error-text" role="alert" data-testid="notice">{m}</p> }.into_any(),
                Outcome::Invalid(p) => view! {
                    <div class="error-box" role="alert" data-testid="import-problems">
                        <strong>"Not imported: the board is not valid. Nothing was changed."</strong>
                        <ul>{p.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                    </div>
                }.into_any(),
            })}
            <div class="boards-layout">
                <div class="panel">
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                            <table class="boards-table" data-testid="boards-table">
                                <thead><tr><th>"Board"</th><th class="num">"Widgets"</th><th>"Saved"</th><th></th></tr></thead>
                                <tbody>
                                    {move || Suspend::new(async move {
                                        boards.await.map(|list| list.boards.into_iter().map(|s| view! {
                                            <BoardRow summary=s rename=rename duplicate=duplicate
                                                delete=Callback::new(move |s| confirm_delete.set(Some(s))) />
                                        }).collect_view())
                                    })}
                                </tbody>
                            </table>
                        </Transition>
                    </ErrorBoundary>
                </div>
                <aside class="boards-side">
                  <Show when=move || session.can_edit()>
                    <div class="panel">
                        <h2>"Start from a template"</h2>
                        <Transition fallback=|| ()>
                            <ul class="templates">
                                {move || Suspend::new(async move {
                                    templates.await.map(|ts| ts.into_iter().map(|t| {
                                        let testid = format!("template-{}", t.id);
                                        let title = t.title.clone();
                                        let about = format!("{} widgets", t.widgets.len());
                                        view! {
                                            <li>
                                                <button data-testid=testid on:click=move |_| {
                                                    let mut b = t.clone();
                                                    b.id = String::new();
                                                    create.run(b)
                                                }>
                                                    <strong>{title}</strong><span class="muted small">{about}</span>
                                                </button>
                                            </li>
                                        }
                                    }).collect_view())
                                })}
                            </ul>
                        </Transition>
                    </div>
                    <ImportPanel on_import=on_import />
                  </Show>
                </aside>
            </div>
            {move || confirm_delete.get().map(|s| {
                let title = s.title.clone();
                view! {
                    <div class="modal-backdrop" on:click=move |_| confirm_delete.set(None)>
                        <div class="modal" role="alertdialog" data-testid="confirm-delete" on:click=|e| e.stop_propagation()>
                            <h2>{format!("Delete {title:?}?")}</h2>
                            <p>"The board and its whole history are deleted for everyone. This cannot be undone; export it first to keep a copy."</p>
                            <div class="modal-actions">
                                <button class="danger" data-testid="confirm-delete-yes" on:click=move |_| delete(s.clone())>"Delete"</button>
                                <button data-testid="confirm-delete-no" on:click=move |_| confirm_delete.set(None)>"Cancel"</button>
                            </div>
                        </div>
                    </div>
                }
            })}
        </section>
    }
}

#[component]
fn BoardRow(
    summary: BoardSummary,
    rename: Callback<(String, String)>,
    duplicate: Callback<String>,
    delete: Callback<BoardSummary>,
) -> impl IntoView {
    let session = use_session();
    let renaming = RwSignal::new(false);
    let title = RwSignal::new(summary.title.clone());
    let href = format!("/boards/{}", summary.id);
    let (id, id2) = (summary.id.clone(), summary.id.clone());
    let s = summary.clone();
    view! {
        <tr data-testid="board-row" data-board-id=summary.id.clone()>
            <td>
                <Show when=move || renaming.get() fallback={
                    let href = href.clone();
                    move || view! { <a href=href.clone() data-testid="board-link">{move || title.get()}</a> }
                }>
                    <form class="inline-form" on:submit={
                        let id = id.clone();
                        move |e: leptos::ev::SubmitEvent| {
                            e.prevent_default();
                            renaming.set(false);
                            rename.run((id.clone(), title.get_untracked()));
                        }
                    }>
                        <input type="text" data-testid="rename-input" prop:value=move || title.get()
                            on:input=move |e| title.set(event_target_value(&e)) />
                        <button type="submit" data-testid="rename-save">"Rename"</button>
                    </form>
                </Show>
            </td>
            <td class="num">{summary.widgets}</td>
            <td class="muted small">{format!("v{} · {}", summary.version, datetime_local(summary.updated_ms).replace('T', " "))}</td>
            <td>
                <Show when=move || session.can_edit()>
                    {let (id2, s) = (id2.clone(), s.clone()); view! {
                    <div class="row-actions">
                        <button data-testid="rename" on:click=move |_| renaming.set(true)>"Rename"</button>
                        <button data-testid="duplicate" on:click=move |_| duplicate.run(id2.clone())>"Duplicate"</button>
                        <button class="danger" data-testid="delete" on:click=move |_| delete.run(s.clone())>"Delete"</button>
                    </div>
                    }}
                </Show>
            </td>
        </tr>
    }
}

/// Paste JSON or pick a file exported from any Sightline.
#[component]
fn ImportPanel(on_import: Callback<String>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let pick_file = move |e: leptos::ev::Event| {
        let Some(input) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            if let Ok(v) = JsFuture::from(file.text()).await {
                text.set(v.as_string().unwrap_or_default());
            }
        });
    };
    view! {
        <div class="panel import-panel">
            <h2>"Import"</h2>
            <p class="muted small">"A board exported as JSON. It is checked first: nothing is created if anything is wrong."</p>
            <input type="file" accept="application/json,.json" data-testid="import-file" on:change=pick_file />
            <textarea class="json" rows="6" placeholder="…or paste the JSON here" data-testid="import-json"
                prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))></textarea>
            <button class="primary" data-testid="import" disabled=move || text.with(|t| t.trim().is_empty())
                on:click=move |_| on_import.run(text.get_untracked())>"Import"</button>
        </div>
    }
}
