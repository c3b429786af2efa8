//! The edits the board editor makes to a draft, as plain functions on [`Board`] (each goes through
//! `UseBoardDraftReturn::edit`, so it can be undone).

use sightline_model::{free_slot, new_widget_id, place_widget, Board, Variable, Widget, WidgetKind, WidgetOptions, WidgetQuery};

use crate::components::widget_editor::default_size;

/// The widget "+ Add widget" starts from: a time series of the throughput, which every Sightline has (the
/// editor's catalogue then offers the rest).
pub fn new_widget(board: &Board) -> Widget {
    let kind = WidgetKind::Timeseries;
    let (w, h) = default_size(&kind);
    Widget {
        id: new_widget_id(&board.widgets, "widget"),
        kind,
        title: "Time series".into(),
        x: 0,
        y: 0,
        w,
        h,
        query: Some(WidgetQuery { metric: "transactions.tps".into(), ..Default::default() }),
        options: WidgetOptions::default(),
    }
}

/// Puts the widget from the editor on the board: a new one in the first free slot at its kind's default
/// size, a configured one where it was, at the size it had.
pub fn put_widget(b: &mut Board, w: &Widget, adding: bool) {
    // A filter on `$name` needs the board variable `name`: add it rather than refuse the save.
    let wanted = w.query.iter().flat_map(|q| q.filter.values()).filter_map(|v| v.strip_prefix('$'));
    for name in wanted {
        if !b.variables.iter().any(|v| v.name == name) {
            b.variables.push(Variable { name: name.to_string(), label: String::new(), value: None });
        }
    }
    if adding {
        let (w0, h0) = default_size(&w.kind);
        let (x, y) = free_slot(&b.widgets, w0, h0);
        place_widget(&mut b.widgets, Widget { x, y, w: w0, h: h0, ..w.clone() });
    } else if let Some(slot) = b.widgets.iter_mut().find(|o| o.id == w.id) {
        *slot = Widget { x: slot.x, y: slot.y, w: slot.w, h: slot.h, ..w.clone() };
    }
}

/// A copy of widget `id` in the first free slot of its size.
pub fn duplicate_widget(b: &mut Board, id: &str) {
    if let Some(src) = b.widgets.iter().find(|w| w.id == id).cloned() {
        let (x, y) = free_slot(&b.widgets, src.w, src.h);
        let copy = Widget { id: new_widget_id(&b.widgets, &src.id), x, y, ..src };
        place_widget(&mut b.widgets, copy);
    }
}
