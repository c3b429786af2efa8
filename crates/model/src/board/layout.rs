//! Grid layout: the pure functions the app's drag-and-drop and the server's validation share, so widgets
//! stay inside the grid and never overlap whoever moves them.

use std::collections::HashSet;

use super::{Widget, WidgetKind, WidgetOptions, GRID_COLUMNS, MAX_GRID_ROW, MAX_WIDGET_HEIGHT};

/// Whether two widgets share at least one cell.
pub fn overlaps(a: &Widget, b: &Widget) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

/// Clamps a widget's size and position into the grid (size first, then position), so every layout
/// function starts from something drawable whatever the input.
fn clamp_into_grid(w: &mut Widget) {
    w.w = w.w.clamp(1, GRID_COLUMNS);
    w.h = w.h.clamp(1, MAX_WIDGET_HEIGHT);
    w.x = w.x.min(GRID_COLUMNS - w.w);
    w.y = w.y.min(MAX_GRID_ROW);
}

/// Makes the layout valid with widget `fixed` kept where it is: every widget overlapping one already
/// settled is pushed down just below it, top to bottom, then the board floats up ([`compact`]).
fn settle(widgets: &mut [Widget], fixed: Option<usize>) {
    for w in widgets.iter_mut() {
        clamp_into_grid(w);
    }
    let mut order: Vec<usize> = (0..widgets.len()).filter(|i| Some(*i) != fixed).collect();
    order.sort_by_key(|&i| (widgets[i].y, widgets[i].x, i));
    let mut placed: Vec<usize> = fixed.into_iter().collect();
    for i in order {
        // Each pass moves the widget strictly down, below something it overlapped: terminates.
        while let Some(bottom) = placed.iter().filter(|&&p| overlaps(&widgets[p], &widgets[i])).map(|&p| widgets[p].y + widgets[p].h).max() {
            widgets[i].y = bottom;
        }
        placed.push(i);
    }
    compact(widgets);
}

/// Floats every widget up as far as it goes without overlapping the ones above it (top to bottom, then
/// left to right), closing gaps. Overlapping input is repaired by pushing widgets down; the result never
/// overlaps and stays inside the grid.
pub fn compact(widgets: &mut [Widget]) {
    for w in widgets.iter_mut() {
        clamp_into_grid(w);
    }
    let mut order: Vec<usize> = (0..widgets.len()).collect();
    order.sort_by_key(|&i| (widgets[i].y, widgets[i].x, i));
    let mut placed: Vec<usize> = Vec::with_capacity(widgets.len());
    for i in order {
        while let Some(bottom) = placed.iter().filter(|&&p| overlaps(&widgets[p], &widgets[i])).map(|&p| widgets[p].y + widgets[p].h).max() {
            widgets[i].y = bottom;
        }
        while widgets[i].y > 0 {
            widgets[i].y -= 1;
            if placed.iter().any(|&p| overlaps(&widgets[p], &widgets[i])) {
                widgets[i].y += 1;
                break;
            }
        }
        placed.push(i);
    }
}

/// Moves widget `id` to column `x`, row `y` (clamped into the grid); widgets in the way are pushed down and
/// the board is compacted. Returns `false` (and changes nothing) if there is no such widget.
pub fn move_widget(widgets: &mut [Widget], id: &str, x: u32, y: u32) -> bool {
    let Some(i) = widgets.iter().position(|w| w.id == id) else { return false };
    widgets[i].x = x;
    widgets[i].y = y;
    settle(widgets, Some(i));
    true
}

/// Resizes widget `id` to `w` × `h` (clamped: at least 1 × 1, at most to the grid's right edge and
/// [`MAX_WIDGET_HEIGHT`]); widgets in the way are pushed down and the board is compacted.
/// Returns `false` (and changes nothing) if there is no such widget.
pub fn resize_widget(widgets: &mut [Widget], id: &str, w: u32, h: u32) -> bool {
    let Some(i) = widgets.iter().position(|x| x.id == id) else { return false };
    let it = &mut widgets[i];
    it.w = w.clamp(1, GRID_COLUMNS - it.x.min(GRID_COLUMNS - 1));
    it.h = h.clamp(1, MAX_WIDGET_HEIGHT);
    settle(widgets, Some(i));
    true
}

/// Adds `widget` at its own `x`/`y` (clamped into the grid), pushing what is in the way down; the board is
/// compacted. Use [`free_slot`] first to add it where nothing has to move.
pub fn place_widget(widgets: &mut Vec<Widget>, widget: Widget) {
    widgets.push(widget);
    let i = widgets.len() - 1;
    settle(widgets, Some(i));
}

/// The first position, top to bottom then left to right, where a `w` × `h` widget fits without moving
/// anything: where the app drops a widget added from the catalogue.
pub fn free_slot(widgets: &[Widget], w: u32, h: u32) -> (u32, u32) {
    let w = w.clamp(1, GRID_COLUMNS);
    let h = h.clamp(1, MAX_WIDGET_HEIGHT);
    let bottom = widgets.iter().map(|x| x.y + x.h).max().unwrap_or(0);
    let mut probe = Widget {
        id: String::new(),
        kind: WidgetKind::Text,
        title: String::new(),
        x: 0,
        y: 0,
        w,
        h,
        query: None,
        options: WidgetOptions::default(),
    };
    for y in 0..bottom {
        for x in 0..=GRID_COLUMNS - w {
            probe.x = x;
            probe.y = y;
            if !widgets.iter().any(|o| overlaps(o, &probe)) {
                return (x, y);
            }
        }
    }
    (0, bottom)
}

/// A widget id not used on the board yet, `prefix-N`; for added and duplicated widgets.
pub fn new_widget_id(widgets: &[Widget], prefix: &str) -> String {
    let used: HashSet<&str> = widgets.iter().map(|w| w.id.as_str()).collect();
    (1..).map(|n| format!("{prefix}-{n}")).find(|id| !used.contains(id.as_str())).expect("unbounded range")
}
