//! The machine Sightline runs on: CPU and memory over time, the busiest processes now, and per-process
//! CPU and memory history. It is the *Servers* board template shown read-only, so it draws with the same
//! widgets a user's board does; *Make it a board* copies it into an editable board.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use sightline_model::Board;

use crate::api;
use crate::components::board_grid::{BoardGrid, GridActions};
use crate::components::board_widget::BoardContext;
use crate::components::error_view::ErrorList;
use crate::hooks::UseTimeRangeReturn;

/// Id of the template this page shows.
const TEMPLATE: &str = "servers";

#[component]
pub fn ServersPage(tr: UseTimeRangeReturn) -> impl IntoView {
    let navigate = use_navigate();
    let templates = LocalResource::new(api::board_templates);
    let ctx = BoardContext {
        window: tr.window,
        vars: Signal::derive(|| BTreeMap::from([("host".to_string(), None)])),
        deploys: Signal::derive(Vec::new),
        alerts: Signal::derive(Vec::new),
    };
    // Nothing on this page is editable.
    let ignore = Callback::new(|_: String| {});
    let actions = GridActions { layout: Callback::new(|_| {}), configure: ignore, duplicate: ignore, delete: ignore };
    let problem = RwSignal::new(None::<String>);
    let copy = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match template_as_board().await {
                Ok(b) => navigate(&format!("/boards/{}?edit=1", b.id), Default::default()),
                Err(e) => problem.set(Some(format!("Could not make a board of it: {e}"))),
            }
        });
    };
    view! {
        <section class="servers-page" data-testid="page-servers">
            <div class="board-toolbar">
                <h1>"Servers"</h1>
                <span class="muted small">"the machine Sightline runs on"</span>
                <span class="spacer"></span>
                <button data-testid="servers-to-board" on:click=copy>"Make it a board"</button>
            </div>
            {move || problem.get().map(|p| view! { <p class="notice error-text" role="alert" data-testid="notice">{p}</p> })}
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    <div>
                        {move || Suspend::new(async move {
                            templates.await.map(|ts| match ts.into_iter().find(|b| b.id == TEMPLATE) {
                                Some(b) => view! {
                                    <BoardGrid layout=Signal::derive(move || b.widgets.clone()) editing=false ctx=ctx actions=actions />
                                }.into_any(),
                                None => view! { <p class="error-text" role="alert" data-testid="error">{missing_template()}</p> }.into_any(),
                            })
                        })}
                    </div>
                </Transition>
            </ErrorBoundary>
        </section>
    }
}

fn missing_template() -> String {
    format!("This server has no {TEMPLATE:?} board template to show.")
}

/// A new board made of the template, as the server saved it; the server's own message when it refuses.
async fn template_as_board() -> Result<Board, String> {
    let templates = api::board_templates().await.map_err(|e| e.to_string())?;
    let mut b = templates.into_iter().find(|b| b.id == TEMPLATE).ok_or_else(missing_template)?;
    b.id = String::new();
    api::create_board(b).await.map_err(|e| e.to_string())
}
