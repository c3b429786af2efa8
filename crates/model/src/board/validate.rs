//! Validation: every rule a board must satisfy to be stored and drawn, each problem in words.

use std::collections::HashSet;

use super::layout::overlaps;
use super::{
    Board, Widget, WidgetKind, BOARD_FORMAT_VERSION, GRID_COLUMNS, MAX_GRID_ROW, MAX_ID_LEN, MAX_TITLE_LEN, MAX_WIDGETS,
    MAX_WIDGET_HEIGHT,
};
use crate::range::TimeRange;

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks everything a board must satisfy to be stored and drawn, and lists every problem in words a user
/// can act on ("widget \"cpu\": 30 columns wide, the grid has 24"), not just the first.
pub fn validate(board: &Board) -> Result<(), Vec<String>> {
    let mut p = Vec::new();
    check_header(board, &mut p);
    let names = check_variables(board, &mut p);
    if board.widgets.len() > MAX_WIDGETS {
        p.push(format!("{} widgets: a board holds at most {MAX_WIDGETS}", board.widgets.len()));
    }
    let mut ids = HashSet::new();
    for (n, w) in board.widgets.iter().enumerate() {
        let name = if w.id.is_empty() { format!("widget #{}", n + 1) } else { format!("widget {:?}", w.id) };
        if !valid_id(&w.id) {
            p.push(format!("{name}: the id must be 1 to {MAX_ID_LEN} letters, digits, '-' or '_'"));
        } else if !ids.insert(w.id.as_str()) {
            p.push(format!("{name}: the id is used by more than one widget"));
        }
        check_widget(&name, w, &names, &mut p);
    }
    // Overlaps, reported once per pair (quadratic: only for a board within the widget limit).
    if board.widgets.len() <= MAX_WIDGETS {
        for (i, a) in board.widgets.iter().enumerate() {
            for b in &board.widgets[i + 1..] {
                if a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0 && overlaps(a, b) {
                    p.push(format!("widgets {:?} and {:?} overlap", a.id, b.id));
                }
            }
        }
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(p)
    }
}

/// Format version, id, title and time range.
fn check_header(board: &Board, p: &mut Vec<String>) {
    if board.format_version != BOARD_FORMAT_VERSION {
        p.push(format!(
            "format_version {} is not supported (this server reads version {BOARD_FORMAT_VERSION})",
            board.format_version
        ));
    }
    if !valid_id(&board.id) {
        p.push(format!(
            "board id {:?} must be 1 to {MAX_ID_LEN} letters, digits, '-' or '_'",
            board.id
        ));
    }
    if board.title.trim().is_empty() {
        p.push("the board needs a title".into());
    } else if board.title.chars().count() > MAX_TITLE_LEN {
        p.push(format!("the title is longer than {MAX_TITLE_LEN} characters"));
    }
    match board.time.range {
        TimeRange::Relative { ms } if ms <= 0 => p.push(format!("time range: a relative range must be positive, not {ms} ms")),
        TimeRange::Absolute { from, to } if from >= to => {
            p.push(format!("time range: from ({from}) must be before to ({to})"))
        }
        _ => {}
    }
}

/// Variable names; answers the valid ones, which widget filters may refer to as `$name`.
fn check_variables<'b>(board: &'b Board, p: &mut Vec<String>) -> HashSet<&'b str> {
    let mut names = HashSet::new();
    for v in &board.variables {
        if v.name.is_empty() || !v.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            p.push(format!("variable {:?}: names are letters, digits and '_'", v.name));
        } else if !names.insert(v.name.as_str()) {
            p.push(format!("variable {:?} is defined twice", v.name));
        }
    }
    names
}

/// One widget on its own: kind, size and position in the grid, query and the variables it uses.
fn check_widget(name: &str, w: &Widget, variables: &HashSet<&str>, p: &mut Vec<String>) {
    if let WidgetKind::Unknown(k) = &w.kind {
        let known: Vec<&str> = WidgetKind::ALL.iter().map(|k| k.as_str()).collect();
        p.push(format!("{name}: unknown kind {k:?} (known: {})", known.join(", ")));
    }
    if w.w == 0 || w.h == 0 {
        p.push(format!("{name}: size {}×{} is empty", w.w, w.h));
    }
    if w.w > GRID_COLUMNS {
        p.push(format!("{name}: {} columns wide, the grid has {GRID_COLUMNS}", w.w));
    } else if w.x.saturating_add(w.w) > GRID_COLUMNS {
        p.push(format!("{name}: at column {} and {} wide it ends past column {GRID_COLUMNS}, outside the grid", w.x, w.w));
    }
    if w.h > MAX_WIDGET_HEIGHT {
        p.push(format!("{name}: {} rows high, at most {MAX_WIDGET_HEIGHT}", w.h));
    }
    if w.y > MAX_GRID_ROW {
        p.push(format!("{name}: row {} is below the last row ({MAX_GRID_ROW})", w.y));
    }
    match &w.query {
        Some(q) if q.metric.trim().is_empty() => p.push(format!("{name}: the query has no metric")),
        None if w.kind.needs_query() => p.push(format!("{name}: a {} widget needs a query", w.kind.as_str())),
        _ => {}
    }
    if let Some(q) = &w.query {
        for v in q.filter.values().filter_map(|v| v.strip_prefix('$')) {
            if !variables.contains(v) {
                p.push(format!("{name}: the filter uses ${v}, which is not a board variable"));
            }
        }
    }
}
