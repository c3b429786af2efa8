//! Drag to move and drag-the-corner to resize the widgets of a board grid, snapped to its cells.
//!
//! While the pointer moves, `preview` holds the layout as it would be if the pointer were released now
//! (computed with the model's [`move_widget`] / [`resize_widget`], so widgets in the way are pushed down
//! exactly as the server would accept); on release the caller gets that layout once, as one undoable change.

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos_use::{use_event_listener, use_window};
use sightline_model::{move_widget, resize_widget, Widget, GRID_COLUMNS};

/// What the pointer is doing to a widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DragMode {
    Move,
    Resize,
}

/// Height of one grid row and the gap between cells, in CSS pixels (the grid's CSS uses the same numbers).
pub const ROW_PX: f64 = 32.0;
pub const GAP_PX: f64 = 8.0;

#[derive(Clone)]
struct Drag {
    id: String,
    mode: DragMode,
    start: (f64, f64),
    /// The layout when the drag started; every move recomputes from it, so snapping never drifts.
    original: Vec<Widget>,
    col_pitch: f64,
}

/// What [`use_grid_drag`] gives the grid.
#[derive(Clone, Copy)]
pub struct UseGridDragReturn {
    /// The layout under the pointer while dragging; `None` at rest.
    pub preview: Signal<Option<Vec<Widget>>>,
    /// The widget being dragged.
    pub active: Signal<Option<String>>,
    /// Call from a `pointerdown` on a widget's header (move) or corner handle (resize).
    pub start: Callback<(ev::PointerEvent, String, DragMode)>,
}

/// The cell offset a pointer delta amounts to: rounded to the nearest cell, so a widget snaps once the
/// pointer is past half a cell.
pub fn cells(delta_px: f64, pitch_px: f64) -> i64 {
    if pitch_px <= 0.0 {
        0
    } else {
        (delta_px / pitch_px).round() as i64
    }
}

/// `layout` with widget `id` moved or resized by `(dx, dy)` cells from where it is in `layout`.
pub fn dragged_layout(layout: &[Widget], id: &str, mode: DragMode, dx: i64, dy: i64) -> Vec<Widget> {
    let mut out = layout.to_vec();
    let Some(w) = layout.iter().find(|w| w.id == id) else { return out };
    let add = |v: u32, d: i64, min: i64| (v as i64 + d).max(min) as u32;
    match mode {
        DragMode::Move => {
            move_widget(&mut out, id, add(w.x, dx, 0).min(GRID_COLUMNS - w.w), add(w.y, dy, 0));
        }
        DragMode::Resize => {
            resize_widget(&mut out, id, add(w.w, dx, 1), add(w.h, dy, 1));
        }
    }
    out
}

/// Tracks a drag on the grid element `grid` over the layout `layout`; `on_drop` receives the new layout
/// when the pointer is released somewhere that changed it.
pub fn use_grid_drag(grid: NodeRef<Div>, layout: Signal<Vec<Widget>>, on_drop: Callback<Vec<Widget>>) -> UseGridDragReturn {
    let drag = StoredValue::new(None::<Drag>);
    let preview = RwSignal::new(None::<Vec<Widget>>);
    let active = RwSignal::new(None::<String>);

    let start = Callback::new(move |(e, id, mode): (ev::PointerEvent, String, DragMode)| {
        if e.button() != 0 {
            return;
        }
        let Some(el) = grid.get_untracked() else { return };
        e.prevent_default();
        let width = el.get_bounding_client_rect().width();
        let col_pitch = (width + GAP_PX) / GRID_COLUMNS as f64;
        drag.set_value(Some(Drag {
            id: id.clone(),
            mode,
            start: (e.client_x() as f64, e.client_y() as f64),
            original: layout.get_untracked(),
            col_pitch,
        }));
        active.set(Some(id));
    });

    let at = move |e: &ev::PointerEvent| -> Option<Vec<Widget>> {
        let d = drag.get_value()?;
        let dx = cells(e.client_x() as f64 - d.start.0, d.col_pitch);
        let dy = cells(e.client_y() as f64 - d.start.1, ROW_PX + GAP_PX);
        Some(dragged_layout(&d.original, &d.id, d.mode, dx, dy))
    };
    let _ = use_event_listener(use_window(), ev::pointermove, move |e| {
        if let Some(next) = at(&e) {
            if preview.with_untracked(|p| p.as_ref() != Some(&next)) {
                preview.set(Some(next));
            }
        }
    });
    let finish = move |e: Option<ev::PointerEvent>| {
        let next = e.as_ref().and_then(at);
        let original = drag.get_value().map(|d| d.original);
        drag.set_value(None);
        preview.set(None);
        active.set(None);
        if let (Some(next), Some(original)) = (next, original) {
            if next != original {
                on_drop.run(next);
            }
        }
    };
    let _ = use_event_listener(use_window(), ev::pointerup, move |e| finish(Some(e)));
    let _ = use_event_listener(use_window(), ev::pointercancel, move |_| finish(None));
    let _ = use_event_listener(use_window(), ev::keydown, move |e| {
        if e.key() == "Escape" && drag.with_value(Option::is_some) {
            finish(None);
        }
    });

    UseGridDragReturn { preview: preview.into(), active: active.into(), start }
}
