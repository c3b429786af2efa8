//! Flex boards: user-built dashboards, as stored by the server and edited by the app.
//!
//! A board is a grid of widgets on [`GRID_COLUMNS`] columns that share one time range. The layout functions
//! ([`move_widget`], [`resize_widget`], [`place_widget`], [`compact`]) are pure and live here so the app's
//! drag-and-drop and the server's validation apply exactly the same rules: widgets stay inside the grid and
//! never overlap; a widget dropped on others pushes them down, and the board floats up to close gaps.
//! The JSON format is documented in `docs/BOARDS.md`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::range::TimeRange;

/// The board JSON format this build writes and reads. Bumped on incompatible changes, so an exported board
/// from a newer server is refused with a clear message instead of being half understood.
pub const BOARD_FORMAT_VERSION: u32 = 1;
/// Width of the board grid in columns.
pub const GRID_COLUMNS: u32 = 24;
/// Tallest widget, in rows: bigger than any screen, small enough that a typo (`h: 4000`) is caught.
pub const MAX_WIDGET_HEIGHT: u32 = 48;
/// Lowest row a widget may start on; bounds a board's height so a bad import cannot make it endless.
pub const MAX_GRID_ROW: u32 = 2_000;
/// Most widgets on one board: overlap checks are quadratic and a board should fit in one look.
pub const MAX_WIDGETS: usize = 100;
/// Longest id of a board or widget (ids travel in URLs).
pub const MAX_ID_LEN: usize = 64;
/// Longest title.
pub const MAX_TITLE_LEN: usize = 200;

/// A dashboard: what the user arranged, with the time range and variables its widgets share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// Format of this JSON ([`BOARD_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Stable identifier, used in URLs: `[A-Za-z0-9_-]`, at most [`MAX_ID_LEN`] characters.
    pub id: String,
    pub title: String,
    /// Revision of this board on the server: 1 when created, +1 on every save. A save carries the revision
    /// it was based on, so a stale write is refused instead of silently overwriting someone else's.
    #[serde(default)]
    pub version: u64,
    /// When this revision was saved (ms since the epoch); set by the server.
    #[serde(default)]
    pub updated_ms: i64,
    /// Who saved this revision (a user's name, `token:<name>` or `demo`); set by the server. `None` on
    /// revisions saved before sign-in existed, and on the default board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The time range every widget shows, unless the viewer overrides it in the URL.
    #[serde(default)]
    pub time: BoardTime,
    /// Values widgets' queries refer to as `$name` (e.g. `$service`).
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub widgets: Vec<Widget>,
}

/// The board's shared time range: relative or absolute, and whether it follows the clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardTime {
    pub range: TimeRange,
    /// Keep moving with the clock (only meaningful for a relative range).
    #[serde(default)]
    pub live: bool,
}

impl Default for BoardTime {
    fn default() -> Self {
        BoardTime { range: TimeRange::Relative { ms: 60 * 60_000 }, live: true }
    }
}

/// A board variable, e.g. `service`: one picker at the top of the board feeding every widget's filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// Referred to as `$name` in widget filters: `[A-Za-z0-9_]`.
    pub name: String,
    /// Shown next to the picker; the name if empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// The selected value; `None` means "all".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One tile of the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    /// Unique within the board: `[A-Za-z0-9_-]`.
    pub id: String,
    pub kind: WidgetKind,
    #[serde(default)]
    pub title: String,
    /// Column of the left edge, `0..GRID_COLUMNS`.
    pub x: u32,
    /// Row of the top edge; rows are unbounded downwards (up to [`MAX_GRID_ROW`]).
    pub y: u32,
    /// Width in columns, `1..=GRID_COLUMNS - x`.
    pub w: u32,
    /// Height in rows, `1..=MAX_WIDGET_HEIGHT`.
    pub h: u32,
    /// What the widget shows; required for the chart kinds (see [`WidgetKind::needs_query`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<WidgetQuery>,
    #[serde(default, skip_serializing_if = "WidgetOptions::is_empty")]
    pub options: WidgetOptions,
}

/// The widget catalogue. Unknown kinds (from a newer server, or a typo) deserialize to
/// [`WidgetKind::Unknown`] instead of failing the whole board, so validation can name them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum WidgetKind {
    /// Lines or areas over time, optionally stacked, one per series, with a legend.
    Timeseries,
    /// Bars over time (or per group).
    Bar,
    /// One big number, with an optional sparkline and colour thresholds.
    SingleNumber,
    /// A table of the top N groups (slowest endpoints, most errors).
    TopN,
    /// The APM hitmap, with drag-select into the trace view.
    Hitmap,
    /// Database sessions by state and wait.
    DbActiveSessions,
    /// CPU and memory per process.
    ProcessCpuMem,
    /// A note (Markdown in `options.text`).
    Text,
    /// A kind this build does not know; kept verbatim so nothing is lost, refused by [`validate`].
    Unknown(String),
}

impl WidgetKind {
    /// Every kind this build can draw, in catalogue order.
    pub const ALL: [WidgetKind; 8] = [
        WidgetKind::Timeseries,
        WidgetKind::Bar,
        WidgetKind::SingleNumber,
        WidgetKind::TopN,
        WidgetKind::Hitmap,
        WidgetKind::DbActiveSessions,
        WidgetKind::ProcessCpuMem,
        WidgetKind::Text,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            WidgetKind::Timeseries => "timeseries",
            WidgetKind::Bar => "bar",
            WidgetKind::SingleNumber => "single_number",
            WidgetKind::TopN => "top_n",
            WidgetKind::Hitmap => "hitmap",
            WidgetKind::DbActiveSessions => "db_active_sessions",
            WidgetKind::ProcessCpuMem => "process_cpu_mem",
            WidgetKind::Text => "text",
            WidgetKind::Unknown(s) => s,
        }
    }

    /// Chart kinds read a metric and are useless without a query.
    pub fn needs_query(&self) -> bool {
        matches!(self, WidgetKind::Timeseries | WidgetKind::Bar | WidgetKind::SingleNumber | WidgetKind::TopN)
    }
}

impl From<String> for WidgetKind {
    fn from(s: String) -> Self {
        WidgetKind::ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(WidgetKind::Unknown(s))
    }
}

impl From<WidgetKind> for String {
    fn from(k: WidgetKind) -> Self {
        k.as_str().to_string()
    }
}

/// What a chart widget asks `GET /api/v1/metrics/query` for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetQuery {
    /// A name from `GET /api/v1/metrics`, e.g. `transactions.response_time.p95`.
    pub metric: String,
    /// Dimension → value; a value `$name` is replaced by the board variable `name` (and dropped when the
    /// variable is "all").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, String>,
    /// Dimensions to split into one series each (e.g. `["service"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
}

/// Presentation options; each kind reads the ones that apply to it and ignores the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WidgetOptions {
    /// `timeseries`: line or area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<SeriesStyle>,
    /// `timeseries`, `bar`: stack the series.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stacked: bool,
    /// `single_number`: draw a sparkline under the number.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sparkline: bool,
    /// `single_number`: colour steps, ascending by value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
    /// `top_n`: rows shown; `timeseries`, `bar` grouped: the busiest series kept (the server's `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `text`: the note, in Markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl WidgetOptions {
    pub fn is_empty(&self) -> bool {
        *self == WidgetOptions::default()
    }
}

/// How a time series is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesStyle {
    #[default]
    Line,
    Area,
}

/// From `value` upwards the number is drawn in `color` (a CSS colour or a theme name: `ok`, `warn`, `bad`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub value: f64,
    pub color: String,
}

/// One line of `GET /api/v1/boards`: enough to list and pick boards without loading their widgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardSummary {
    pub id: String,
    pub title: String,
    pub version: u64,
    pub updated_ms: i64,
    pub widgets: usize,
    /// Who saved this revision ([`Board::author`]): the board history shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl From<&Board> for BoardSummary {
    fn from(b: &Board) -> Self {
        BoardSummary {
            id: b.id.clone(),
            title: b.title.clone(),
            version: b.version,
            updated_ms: b.updated_ms,
            widgets: b.widgets.len(),
            author: b.author.clone(),
        }
    }
}

/// Answer of `GET /api/v1/boards`, sorted by title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardList {
    pub boards: Vec<BoardSummary>,
}

/// Answer of `GET /api/v1/boards/{id}/versions`: every kept revision, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardHistory {
    pub versions: Vec<BoardSummary>,
}

/// Body of the 409 answering a stale save: the usual error fields plus the board as it is now on the
/// server, so the app can show what changed and offer reload / save as a copy / overwrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardConflict {
    pub error: String,
    pub status: u16,
    pub current: Board,
}

/// Body of the 400 answering an invalid board: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardInvalid {
    pub error: String,
    pub status: u16,
    pub problems: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Grid layout

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

// ---------------------------------------------------------------------------------------------------------
// Validation

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks everything a board must satisfy to be stored and drawn, and lists every problem in words a user
/// can act on ("widget \"cpu\": 30 columns wide, the grid has 24"), not just the first.
pub fn validate(board: &Board) -> Result<(), Vec<String>> {
    let mut p = Vec::new();
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
    let mut names = HashSet::new();
    for v in &board.variables {
        if v.name.is_empty() || !v.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            p.push(format!("variable {:?}: names are letters, digits and '_'", v.name));
        } else if !names.insert(v.name.as_str()) {
            p.push(format!("variable {:?} is defined twice", v.name));
        }
    }
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
                if !names.contains(v) {
                    p.push(format!("{name}: the filter uses ${v}, which is not a board variable"));
                }
            }
        }
    }
    // Overlaps, reported once per pair.
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

// ---------------------------------------------------------------------------------------------------------
// Differences between two revisions

/// What changed between two revisions of a board, widget by widget (matched by id): what the app shows when
/// a save conflicts or when the user browses the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardDiff {
    /// `(before, after)` when the title changed.
    pub title: Option<(String, String)>,
    pub time_changed: bool,
    pub variables_changed: bool,
    /// Widget ids, in the order of the revision they appear in.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub moved: Vec<String>,
    pub resized: Vec<String>,
    /// The query (metric, filter, group-by) changed.
    pub requeried: Vec<String>,
    /// Kind, title or options changed.
    pub restyled: Vec<String>,
}

impl BoardDiff {
    pub fn is_empty(&self) -> bool {
        *self == BoardDiff::default()
    }

    /// One line per change, in words, e.g. `moved "Throughput"`.
    pub fn summary(&self, before: &Board, after: &Board) -> Vec<String> {
        let name = |b: &Board, id: &str| match b.widgets.iter().find(|w| w.id == id) {
            Some(w) if !w.title.is_empty() => format!("{:?}", w.title),
            _ => format!("widget {id:?}"),
        };
        let mut out = Vec::new();
        if let Some((a, b)) = &self.title {
            out.push(format!("renamed {a:?} to {b:?}"));
        }
        if self.time_changed {
            out.push("changed the time range".into());
        }
        if self.variables_changed {
            out.push("changed the variables".into());
        }
        out.extend(self.added.iter().map(|id| format!("added {}", name(after, id))));
        out.extend(self.removed.iter().map(|id| format!("removed {}", name(before, id))));
        out.extend(self.moved.iter().map(|id| format!("moved {}", name(after, id))));
        out.extend(self.resized.iter().map(|id| format!("resized {}", name(after, id))));
        out.extend(self.requeried.iter().map(|id| format!("changed the query of {}", name(after, id))));
        out.extend(self.restyled.iter().map(|id| format!("changed {}", name(after, id))));
        out
    }
}

/// The changes that turn `before` into `after` (revision numbers and save times are not changes).
pub fn diff(before: &Board, after: &Board) -> BoardDiff {
    let mut d = BoardDiff {
        title: (before.title != after.title).then(|| (before.title.clone(), after.title.clone())),
        time_changed: before.time != after.time,
        variables_changed: before.variables != after.variables,
        ..Default::default()
    };
    for w in &after.widgets {
        let Some(old) = before.widgets.iter().find(|o| o.id == w.id) else {
            d.added.push(w.id.clone());
            continue;
        };
        if (old.x, old.y) != (w.x, w.y) {
            d.moved.push(w.id.clone());
        }
        if (old.w, old.h) != (w.w, w.h) {
            d.resized.push(w.id.clone());
        }
        if old.query != w.query {
            d.requeried.push(w.id.clone());
        }
        if (&old.kind, &old.title, &old.options) != (&w.kind, &w.title, &w.options) {
            d.restyled.push(w.id.clone());
        }
    }
    d.removed = before.widgets.iter().filter(|o| !after.widgets.iter().any(|w| w.id == o.id)).map(|o| o.id.clone()).collect();
    d
}

#[cfg(test)]
mod tests;
