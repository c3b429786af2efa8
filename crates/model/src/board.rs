//! Flex boards: user-built dashboards, as stored by the server and edited by the app.
//!
//! A board is a grid of widgets on [`GRID_COLUMNS`] columns that share one time range. This file holds the
//! types (the JSON format, documented in `docs/BOARDS.md`); the rules live beside it and are re-exported
//! here, so `sightline_model::validate` and friends keep their paths:
//!
//! - `layout`: [`move_widget`], [`resize_widget`], [`place_widget`], [`compact`], pure, so the app's
//!   drag-and-drop and the server's validation apply exactly the same rules: widgets stay inside the grid
//!   and never overlap; a widget dropped on others pushes them down, and the board floats up to close gaps;
//! - `validate`: [`validate`], every problem of a board in words;
//! - `diff`: [`diff`], what changed between two revisions.

use std::collections::BTreeMap;

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

/// Body of `POST /api/v1/notes/render`: a note's Markdown (`WidgetOptions::text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteMarkdown {
    pub text: String,
}

/// The answer: the note as HTML, safe to put into the page (raw HTML escaped, only web, mail and relative
/// links).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteHtml {
    pub html: String,
}

mod diff;
mod layout;
mod validate;

pub use diff::{diff, BoardDiff};
pub use layout::{compact, free_slot, move_widget, new_widget_id, overlaps, place_widget, resize_widget};
pub use validate::validate;

#[cfg(test)]
mod tests;
