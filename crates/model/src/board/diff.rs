//! Differences between two revisions of a board.

use serde::{Deserialize, Serialize};

use super::Board;

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
