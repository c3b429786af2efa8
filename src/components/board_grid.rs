//! The board's 24-column grid: widgets placed by their cells; in edit mode, a title bar to drag, a corner
//! to resize and buttons to configure, duplicate and delete.
//!
//! A widget's body is rebuilt only when what it shows changes (kind, title, query, options), never when it
//! is moved or resized, so dragging does not refetch anything.

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use sightline_model::Widget;

use crate::components::board_widget::{BoardContext, WidgetBody};
use crate::hooks::{dragged_layout, use_grid_drag, DragMode, UseGridDragReturn, GAP_PX, ROW_PX};

/// What the grid tells its owner.
#[derive(Clone, Copy)]
pub struct GridActions {
    /// A drag ended with a different layout.
    pub layout: Callback<Vec<Widget>>,
    pub configure: Callback<String>,
    pub duplicate: Callback<String>,
    pub delete: Callback<String>,
}

#[component]
pub fn BoardGrid(
    #[prop(into)] layout: Signal<Vec<Widget>>,
    #[prop(into)] editing: Signal<bool>,
    ctx: BoardContext,
    actions: GridActions,
) -> impl IntoView {
    let grid = NodeRef::<Div>::new();
    let drag = use_grid_drag(grid, layout, actions.layout);
    let shown = Memo::new(move |_| drag.preview.get().unwrap_or_else(|| layout.get()));
    let ids = Memo::new(move |_| shown.with(|l| l.iter().map(|w| w.id.clone()).collect::<Vec<_>>()));
    let rows = Memo::new(move |_| shown.with(|l| l.iter().map(|w| w.y + w.h).max().unwrap_or(0)));
    view! {
        <div
            class="board-grid"
            class:editing=move || editing.get()
            class:dragging=move || drag.active.with(Option::is_some)
            node_ref=grid
            data-testid="board-grid"
            style:grid-auto-rows=format!("{ROW_PX}px")
            style:gap=format!("{GAP_PX}px")
            // One spare row while editing, so a widget can be dragged below the last one.
            style:min-height=move || {
                let r = rows.get() + u32::from(editing.get()) * 2;
                format!("{}px", r as f64 * (ROW_PX + GAP_PX))
            }
        >
            <For each=move || ids.get() key=|id| id.clone() let:id>
                <WidgetFrame id=id shown=shown editing=editing drag=drag ctx=ctx actions=actions />
            </For>
        </div>
    }
}

#[component]
fn WidgetFrame(
    id: String,
    shown: Memo<Vec<Widget>>,
    editing: Signal<bool>,
    drag: UseGridDragReturn,
    ctx: BoardContext,
    actions: GridActions,
) -> impl IntoView {
    let geom = {
        let id = id.clone();
        Memo::new(move |_| shown.with(|l| l.iter().find(|w| w.id == id).map(|w| (w.x, w.y, w.w, w.h)).unwrap_or_default()))
    };
    // Everything but the position and size: the body depends on this alone.
    let spec = {
        let id = id.clone();
        Memo::new(move |_| {
            shown.with(|l| {
                l.iter().find(|w| w.id == id).map(|w| Widget { x: 0, y: 0, w: 0, h: 0, ..w.clone() })
            })
        })
    };
    let title = move || spec.with(|s| s.as_ref().map(|w| w.title.clone()).unwrap_or_default());
    let is_active = {
        let id = id.clone();
        move || drag.active.with(|a| a.as_deref() == Some(id.as_str()))
    };
    let (id_attr, id_move, id_resize) = (id.clone(), id.clone(), id.clone());
    let start = move |mode: DragMode, id: String| {
        move |e: ev::PointerEvent| {
            if editing.get_untracked() {
                drag.start.run((e, id.clone(), mode));
            }
        }
    };
    // Keyboard, for people who do not drag: arrows move the focused widget one cell, Shift+arrows resize it.
    let key_id = id.clone();
    let on_key = move |e: ev::KeyboardEvent| {
        if !editing.get_untracked() || e.target() != e.current_target() {
            return;
        }
        let Some((dx, dy)) = arrow_step(&e.key()) else { return };
        e.prevent_default();
        let mode = if e.shift_key() { DragMode::Resize } else { DragMode::Move };
        let next = shown.with_untracked(|l| dragged_layout(l, &key_id, mode, dx, dy));
        if shown.with_untracked(|l| *l != next) {
            actions.layout.run(next);
        }
    };
    view! {
        <section
            class="widget"
            class:active=is_active
            tabindex=move || if editing.get() { "0" } else { "-1" }
            aria-label=move || format!("{} (arrows move, Shift+arrows resize)", title())
            on:keydown=on_key
            data-testid="widget"
            data-widget-id=id_attr
            data-x=move || geom.get().0
            data-y=move || geom.get().1
            data-w=move || geom.get().2
            data-h=move || geom.get().3
            style:grid-column=move || { let (x, _, w, _) = geom.get(); format!("{} / span {}", x + 1, w) }
            style:grid-row=move || { let (_, y, _, h) = geom.get(); format!("{} / span {}", y + 1, h) }
        >
            <header class="widget-head" data-testid="widget-handle" on:pointerdown=start(DragMode::Move, id_move)>
                <h3 data-testid="widget-title">{title}</h3>
                <Show when=move || editing.get()>
                    <WidgetButtons id=id.clone() actions=actions />
                </Show>
            </header>
            <div class="widget-body">
                {move || spec.get().map(|w| view! { <WidgetBody widget=w ctx=ctx /> })}
            </div>
            <Show when=move || editing.get()>
                <div class="widget-resize" data-testid="widget-resize" title="Drag to resize"
                    on:pointerdown=start(DragMode::Resize, id_resize.clone())></div>
            </Show>
        </section>
    }
}

/// The cell step of an arrow key: (columns, rows).
fn arrow_step(key: &str) -> Option<(i64, i64)> {
    match key {
        "ArrowLeft" => Some((-1, 0)),
        "ArrowRight" => Some((1, 0)),
        "ArrowUp" => Some((0, -1)),
        "ArrowDown" => Some((0, 1)),
        _ => None,
    }
}

/// Configure, duplicate and delete, in the title bar while editing.
#[component]
fn WidgetButtons(id: String, actions: GridActions) -> impl IntoView {
    // Buttons in the title bar must not start a drag.
    let button = move |label: &'static str, icon: &'static str, testid: &'static str, cb: Callback<String>, id: String| {
        view! {
            <button class="icon-button" title=label aria-label=label data-testid=testid
                on:pointerdown=|e: ev::PointerEvent| e.stop_propagation()
                on:click=move |_| cb.run(id.clone())>
                {icon}
            </button>
        }
    };
    view! {
        <span class="widget-actions">
            {button("Configure", "✎", "widget-configure", actions.configure, id.clone())}
            {button("Duplicate", "⊞", "widget-duplicate", actions.duplicate, id.clone())}
            {button("Delete", "✕", "widget-delete", actions.delete, id)}
        </span>
    }
}
