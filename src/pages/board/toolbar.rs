//! The board's toolbar: title (editable while editing), revision, and the actions the mode allows.

use leptos::prelude::*;
use sightline_model::BoardTime;

use super::{Dialog, Editor};
use crate::hooks::{use_session, UseTimeRangeReturn};

#[component]
pub fn BoardToolbar(ed: Editor, tr: UseTimeRangeReturn) -> impl IntoView {
    let (board, editing, readonly) = (ed.board, ed.editing, ed.readonly);
    // Viewers see no Edit or Share (the server refuses those anyway).
    let session = use_session();
    let title = move || board.draft.with(|b| b.title.clone());
    // "Keep this range": open the board with the range shown now.
    let keep_range = move |_| {
        let time = BoardTime { range: tr.range.get_untracked(), live: tr.live.get_untracked() };
        board.edit(|b| b.time = time);
    };
    view! {
        <div class="board-toolbar" data-testid="board-toolbar">
            <a class="muted" href="/boards" data-testid="all-boards">"Boards"</a>
            <span class="muted">"/"</span>
            <Show when=move || editing.get() fallback=move || view! { <h1 data-testid="board-title">{title}</h1> }>
                <input class="board-title-input" data-testid="board-title-input" aria-label="Board title"
                    prop:value=title
                    on:change=move |e| { let v = event_target_value(&e); board.edit(|b| b.title = v) } />
            </Show>
            <span class="muted small" data-testid="board-version">{move || board.saved.with(|b| format!("v{}", b.version))}</span>
            {move || readonly.get().then(|| view! { <span class="chip" data-testid="readonly-badge">"read-only"</span> })}
            {move || board.dirty.get().then(|| view! { <span class="chip warn" data-testid="unsaved">"unsaved changes"</span> })}
            <span class="spacer"></span>
            <Show when=move || editing.get()>
                <button data-testid="add-widget" on:click=move |_| ed.add_widget()>"+ Add widget"</button>
                <button data-testid="undo" disabled=move || !board.can_undo.get() on:click=move |_| board.undo() title="Undo (Ctrl+Z)">"Undo"</button>
                <button data-testid="range-default" on:click=keep_range title="Open this board with the range shown now">"Keep this range"</button>
                <button data-testid="discard" on:click=move |_| { board.discard(); editing.set(false); }>"Discard"</button>
                <button class="primary" data-testid="save" disabled=move || ed.busy.get() on:click=move |_| ed.save(None)>"Save"</button>
            </Show>
            <Show when=move || !editing.get() && !readonly.get() && session.can_edit()>
                <button data-testid="edit" on:click=move |_| editing.set(true)>"Edit"</button>
            </Show>
            <Show when=move || !readonly.get()>
                <button data-testid="history" class:selected=move || ed.history_open.get() on:click=move |_| ed.history_open.update(|o| *o = !*o)>"History"</button>
                <button data-testid="export" on:click=move |_| ed.dialog.set(Dialog::Export)>"Export"</button>
            </Show>
            <Show when=move || !ed.kiosk.get() && session.can_edit()>
                <button data-testid="share" on:click=move |_| ed.dialog.set(Dialog::Share)>"Share"</button>
            </Show>
        </div>
    }
}
