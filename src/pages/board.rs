//! One flex board (`/boards/{id}`): its widgets on the grid sharing the top bar's time range, and in edit
//! mode the catalogue, drag to move and resize, duplicate, delete, undo, save.
//!
//! The page keeps two copies (`use_board_draft`): `saved` (the revision on the server) and `draft` (what the
//! user sees and edits). A save sends the draft with the revision it was based on; if someone saved in
//! between, the server refuses (409) and the page shows what they changed next to what the user changed,
//! and lets the user reload, save a copy or overwrite. `?readonly=1` (a link for signed-in people), `?share=<token>` (a share link, no
//! sign-in) and a role that may not edit (viewers) hide every editing
//! control. `?edit=1` opens the board in edit mode (used right after creating one).

mod conflict;
mod edits;
mod export;
mod history;
mod share;
mod toolbar;
mod variables;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use sightline_model::{format_duration_ms, Board, BoardTime, TimeRange, Widget};

use crate::api::{self, SaveError};
use crate::components::board_grid::{BoardGrid, GridActions};
use crate::components::board_widget::BoardContext;
use crate::components::error_view::{ErrorList, FetchError};
use crate::components::widget_editor::WidgetEditor;
use crate::hooks::{use_board_draft, use_polled_resource, use_session, use_set_query, UseBoardDraftReturn, UseTimeRangeReturn};

use conflict::ConflictDialog;
pub use export::download_text;
use export::ExportDialog;
use history::HistoryPanel;
use share::ShareDialog;
use toolbar::BoardToolbar;
use variables::{board_vars, VariablesBar};

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

/// The editor's state, shared by the toolbar, the grid's controls and the dialogs.
#[derive(Clone, Copy)]
struct Editor {
    board: UseBoardDraftReturn,
    editing: RwSignal<bool>,
    dialog: RwSignal<Dialog>,
    notice: RwSignal<Option<Notice>>,
    /// A save is on its way.
    busy: RwSignal<bool>,
    history_open: RwSignal<bool>,
    /// The share link or a wall screen: nothing to edit.
    readonly: Memo<bool>,
    /// A wall screen: not even sharing.
    kiosk: Memo<bool>,
}

impl Editor {
    fn close_dialog(self) {
        self.dialog.set(Dialog::None);
    }

    /// A revision from the server (saved, reloaded, restored) is now what the page shows, out of edit mode.
    fn adopt(self, b: Board, message: Option<String>) {
        if let Some(m) = message {
            self.notice.set(Some(Notice::Ok(m)));
        }
        self.board.adopt(b);
        self.editing.set(false);
    }

    /// Saves the draft as a new revision of the one it was based on (or of `based_on`: overwrite after a
    /// conflict); a conflict opens its dialog.
    fn save(self, based_on: Option<u64>) {
        self.busy.set(true);
        let mut b = self.board.draft.get_untracked();
        if let Some(v) = based_on {
            b.version = v;
        }
        spawn_local(async move {
            match api::save_board(b).await {
                Ok(b) => {
                    self.adopt(b.clone(), Some(format!("Saved as version {}.", b.version)));
                    self.close_dialog();
                }
                Err(SaveError::Conflict { current, .. }) => self.dialog.set(Dialog::Conflict(current)),
                Err(e) => self.notice.set(Some(Notice::Err(format!("Not saved: {e}")))),
            }
            self.busy.set(false);
        });
    }

    fn add_widget(self) {
        self.editing.set(true);
        let w = self.board.draft.with_untracked(edits::new_widget);
        self.dialog.set(Dialog::Editor(Box::new(w), true));
    }

    /// What the grid's drag handles and buttons do to the draft.
    fn grid_actions(self) -> GridActions {
        let board = self.board;
        GridActions {
            layout: Callback::new(move |widgets: Vec<Widget>| board.edit(|b| b.widgets = widgets)),
            configure: Callback::new(move |id: String| {
                if let Some(w) = board.draft.with_untracked(|b| b.widgets.iter().find(|w| w.id == id).cloned()) {
                    self.dialog.set(Dialog::Editor(Box::new(w), false));
                }
            }),
            duplicate: Callback::new(move |id: String| board.edit(|b| edits::duplicate_widget(b, &id))),
            delete: Callback::new(move |id: String| board.edit(|b| b.widgets.retain(|w| w.id != id))),
        }
    }
}

#[component]
fn BoardEditor(board: Board, tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    let session = use_session();
    let readonly = Memo::new(move |_| {
        query.with(|q| q.get_str("readonly") == Some("1") || q.get_str("kiosk") == Some("1") || q.get_str("share").is_some())
    });
    let kiosk = Memo::new(move |_| query.with(|q| q.get_str("kiosk") == Some("1")));
    if !query.with_untracked(|q| q.get_str("range").is_some() || q.get_str("from").is_some()) {
        // The board's own range, unless the link (a share link, a reload) already says which one.
        use_set_query()(range_params(&board.time));
    }
    let editing = RwSignal::new(!readonly.get_untracked() && query.with_untracked(|q| q.get_str("edit") == Some("1")));
    // Viewers and share links never edit, even with `?edit=1`.
    Effect::new(move |_| if session.read_only() { editing.set(false) });
    let dialog = RwSignal::new(Dialog::None);
    let undo_key = Signal::derive(move || editing.get() && dialog.with(|d| *d == Dialog::None));
    let ed = Editor {
        board: use_board_draft(board, undo_key),
        editing,
        dialog,
        notice: RwSignal::new(None),
        busy: RwSignal::new(false),
        history_open: RwSignal::new(false),
        readonly,
        kiosk,
    };
    let vars = board_vars(ed.board.draft, tr);
    // Version changes in the window, marked on the charts: one request for the whole board.
    let deploys = use_polled_resource(move || {
        let (from, to) = tr.window.get();
        api::deploys(from, to)
    });
    // Alert state changes in the window, marked like deploys.
    let alerts = use_polled_resource(move || {
        let (from, to) = tr.window.get();
        api::alert_markers(from, to)
    });
    let ctx = BoardContext {
        window: tr.window,
        vars: vars.into(),
        deploys: Signal::derive(move || deploys.data.with(|d| d.as_ref().map(|l| l.deploys.clone()).unwrap_or_default())),
        alerts: Signal::derive(move || alerts.data.get().unwrap_or_default()),
    };
    let layout = Signal::derive(move || ed.board.draft.with(|b| b.widgets.clone()));
    view! {
        <BoardToolbar ed=ed tr=tr />
        {move || ed.notice.get().map(|n| match n {
            Notice::Ok(m) => view! { <p class="notice ok" data-testid="notice">{m}</p> }.into_any(),
            Notice::Err(m) => view! { <p class="notice error-text" role="alert" data-testid="notice">{m}</p> }.into_any(),
        })}
        <FetchError error=deploys.error what="the deploy markers" inline=true testid="deploys-error" />
        <FetchError error=alerts.error what="the alert markers" inline=true testid="alert-markers-error" />
        <VariablesBar variables=Signal::derive(move || ed.board.draft.with(|b| b.variables.clone())) vars=vars />
        <div class="board-body" class:with-history=move || ed.history_open.get()>
            <div class="board-main">
                <Show when=move || ed.board.draft.with(|b| !b.widgets.is_empty()) fallback=move || view! {
                    <div class="empty-state" data-testid="board-empty">
                        <p>"This board has no widgets yet."</p>
                        {move || (!readonly.get() && session.can_edit()).then(|| view! {
                            <button class="primary" on:click=move |_| ed.add_widget()>"Add a widget"</button>
                        })}
                    </div>
                }>
                    <BoardGrid layout=layout editing=editing ctx=ctx actions=ed.grid_actions() />
                </Show>
            </div>
            <Show when=move || ed.history_open.get()>
                <HistoryPanel saved=ed.board.saved on_restored=Callback::new(move |b: Board| {
                    let message = format!("Restored: now version {}.", b.version);
                    ed.adopt(b, Some(message));
                }) />
            </Show>
        </div>
        <BoardDialog ed=ed ctx=ctx />
    }
}

/// Whichever dialog is open over the board.
#[component]
fn BoardDialog(ed: Editor, ctx: BoardContext) -> impl IntoView {
    let navigate = use_navigate();
    let close = Callback::new(move |_| ed.close_dialog());
    // After a conflict: keep the user's draft as a new board, and open it.
    let save_copy = Callback::new(move |_| {
        let mut b = ed.board.draft.get_untracked();
        b.title = format!("{} (copy)", b.title);
        b.id = String::new();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::create_board(b).await {
                Ok(b) => {
                    ed.close_dialog();
                    navigate(&format!("/boards/{}", b.id), Default::default());
                }
                Err(e) => ed.notice.set(Some(Notice::Err(format!("Not saved: {e}")))),
            }
        });
    });
    move || match ed.dialog.get() {
        Dialog::None => ().into_any(),
        Dialog::Editor(w, adding) => {
            let apply = Callback::new(move |w: Widget| {
                ed.board.edit(|b| edits::put_widget(b, &w, adding));
                ed.close_dialog();
            });
            view! { <WidgetEditor initial=*w adding=adding ctx=ctx on_apply=apply on_cancel=close /> }.into_any()
        }
        Dialog::Conflict(current) => {
            let current_version = current.version;
            let reload_to = (*current).clone();
            view! {
                <ConflictDialog base=ed.board.saved.get_untracked() current=*current mine=ed.board.draft.get_untracked()
                    on_reload=Callback::new(move |_| { ed.adopt(reload_to.clone(), None); ed.close_dialog(); })
                    on_copy=save_copy
                    on_overwrite=Callback::new(move |_| ed.save(Some(current_version))) />
            }
            .into_any()
        }
        Dialog::Export => view! { <ExportDialog board=ed.board.saved.get_untracked() on_close=close /> }.into_any(),
        Dialog::Share => view! { <ShareDialog on_close=close /> }.into_any(),
    }
}
