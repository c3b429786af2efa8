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
    // Viewers see the list and nothing that changes it (the server refuses those anyway).
    let session = use_session();
    let reload = RwSignal::new(0u32);
    let boards = LocalResource::new(move || {
        reload.track();
        api::boards()
    });
    let outcome = RwSignal::new(None::<Outcome>);
    let confirm_delete = RwSignal::new(None::<BoardSummary>);
    let ListActions { create, duplicate, rename, delete, import } = list_actions(outcome, reload, confirm_delete);

    view! {
        <section class="boards-page" data-testid="page-boards">
            <div class="board-toolbar">
                <h1>"Boards"</h1>
                <span class="spacer"></span>
                <Show when=move || session.can_edit()>
                    <button class="primary" data-testid="new-board" on:click=move |_| create.run(blank_board())>"New board"</button>
                </Show>
            </div>
            {move || outcome.get().map(|o| view! { <OutcomeView outcome=o /> })}
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
                        <TemplatesPanel create=create />
                        <ImportPanel on_import=import />
                    </Show>
                </aside>
            </div>
            {move || confirm_delete.get().map(|s| view! {
                <ConfirmDelete board=s on_yes=delete on_no=Callback::new(move |_| confirm_delete.set(None)) />
            })}
        </section>
    }
}

/// What the list's buttons do; each says how it went in `outcome`.
#[derive(Clone, Copy)]
struct ListActions {
    /// Creates the board and opens it in edit mode.
    create: Callback<Board>,
    duplicate: Callback<String>,
    rename: Callback<(String, String)>,
    delete: Callback<BoardSummary>,
    /// Imports JSON text and opens the new board.
    import: Callback<String>,
}

fn list_actions(outcome: RwSignal<Option<Outcome>>, reload: RwSignal<u32>, confirm_delete: RwSignal<Option<BoardSummary>>) -> ListActions {
    let navigate = use_navigate();
    // Runs an action on the list: says how it went, then shows the list as it is now.
    let act = move |what: &'static str, fut: LocalFuture<String>| {
        spawn_local(async move {
            outcome.set(Some(match fut.await {
                Ok(m) => Outcome::Done(m),
                Err(e) => Outcome::Failed(format!("Could not {what}: {e}")),
            }));
            confirm_delete.set(None);
            reload.update(|n| *n += 1);
        });
    };

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
    let duplicate = Callback::new(move |id: String| {
        act("duplicate", Box::pin(async move {
            let mut b = api::board(id).await?;
            b.title = format!("{} (copy)", b.title);
            b.id = String::new();
            Ok(format!("Created {:?}.", api::create_board(b).await?.title))
        }))
    });
    let rename = Callback::new(move |(id, title): (String, String)| {
        act("rename", Box::pin(async move {
            let mut b = api::board(id).await?;
            b.title = title;
            Ok(format!("Renamed to {:?}.", api::save_board(b).await?.title))
        }))
    });
    let delete = Callback::new(move |s: BoardSummary| {
        act("delete", Box::pin(async move {
            api::delete_board(s.id.clone(), s.version).await?;
            Ok(format!("Deleted {:?}.", s.title))
        }))
    });
    let import = {
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
    ListActions { create, duplicate, rename, delete, import }
}

/// A list action's work: its message when done, or why not.
type LocalFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SaveError>>>>;

fn blank_board() -> Board {
    Board {
        format_version: BOARD_FORMAT_VERSION,
        id: String::new(),
        title: "New board".into(),
        version: 0,
        updated_ms: 0,
        author: None,
        time: BoardTime::default(),
        variables: vec![],
        widgets: vec![],
    }
}

/// What the last action did; an import refused lists every problem.
#[component]
fn OutcomeView(outcome: Outcome) -> impl IntoView {
    match outcome {
        Outcome::Done(m) => view! { <p class="notice ok" data-testid="notice">{m}</p> }.into_any(),
        Outcome::Failed(m) => view! { <p class="notice error-text" role="alert" data-testid="notice">{m}</p> }.into_any(),
        Outcome::Invalid(p) => view! {
            <div class="error-box" role="alert" data-testid="import-problems">
                <strong>"Not imported: the board is not valid. Nothing was changed."</strong>
                <ul>{p.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any(),
    }
}

/// The templates a new board can start from.
#[component]
fn TemplatesPanel(create: Callback<Board>) -> impl IntoView {
    let templates = LocalResource::new(api::board_templates);
    view! {
        <div class="panel">
            <h2>"Start from a template"</h2>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                <Transition fallback=|| ()>
                    <ul class="templates">
                        {move || Suspend::new(async move {
                            templates.await.map(|ts| {
                                ts.into_iter().map(|t| view! { <TemplateItem template=t create=create /> }).collect_view()
                            })
                        })}
                    </ul>
                </Transition>
            </ErrorBoundary>
        </div>
    }
}

/// One template: its title and size; a click makes a new board from it.
#[component]
fn TemplateItem(template: Board, create: Callback<Board>) -> impl IntoView {
    let testid = format!("template-{}", template.id);
    let title = template.title.clone();
    let about = format!("{} widgets", template.widgets.len());
    view! {
        <li>
            <button data-testid=testid on:click=move |_| {
                let mut b = template.clone();
                b.id = String::new();
                create.run(b)
            }>
                <strong>{title}</strong><span class="muted small">{about}</span>
            </button>
        </li>
    }
}

/// Deleting a board asks first: it takes its whole history with it.
#[component]
fn ConfirmDelete(board: BoardSummary, on_yes: Callback<BoardSummary>, on_no: Callback<()>) -> impl IntoView {
    let title = board.title.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| on_no.run(())>
            <div class="modal" role="alertdialog" data-testid="confirm-delete" on:click=|e| e.stop_propagation()>
                <h2>{format!("Delete {title:?}?")}</h2>
                <p>"The board and its whole history are deleted for everyone. This cannot be undone; export it first to keep a copy."</p>
                <div class="modal-actions">
                    <button class="danger" data-testid="confirm-delete-yes" on:click=move |_| on_yes.run(board.clone())>"Delete"</button>
                    <button data-testid="confirm-delete-no" on:click=move |_| on_no.run(())>"Cancel"</button>
                </div>
            </div>
        </div>
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
                    move || {
                        let preload = || crate::app::preload_page("/boards/");
                        view! {
                            <a
                                href=href.clone()
                                data-testid="board-link"
                                on:pointerenter=move |_| preload()
                                on:focus=move |_| preload()
                            >
                                {move || title.get()}
                            </a>
                        }
                    }
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
    let unreadable = RwSignal::new(None::<String>);
    let pick_file = move |e: leptos::ev::Event| {
        let Some(input) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            match JsFuture::from(file.text()).await.map(|v| v.as_string()) {
                Ok(Some(t)) => {
                    unreadable.set(None);
                    text.set(t);
                }
                _ => unreadable.set(Some(format!("Could not read {:?} as text.", file.name()))),
            }
        });
    };
    view! {
        <div class="panel import-panel">
            <h2>"Import"</h2>
            <p class="muted small">"A board exported as JSON. It is checked first: nothing is created if anything is wrong."</p>
            <input type="file" accept="application/json,.json" data-testid="import-file" on:change=pick_file />
            {move || unreadable.get().map(|m| view! { <p class="error-text" role="alert">{m}</p> })}
            <textarea class="json" rows="6" placeholder="…or paste the JSON here" data-testid="import-json"
                prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))></textarea>
            <button class="primary" data-testid="import" disabled=move || text.with(|t| t.trim().is_empty())
                on:click=move |_| on_import.run(text.get_untracked())>"Import"</button>
        </div>
    }
}
