//! A board being edited: the revision saved on the server, the draft the user sees and changes, and the
//! edits that can be undone. Every change goes through [`UseBoardDraftReturn::edit`], so each one can be
//! undone and "unsaved changes" is simply `draft != saved`.
//!
//! The hook also guards the draft: closing or reloading the tab with unsaved edits asks first (the
//! browser's own prompt), and Ctrl+Z (⌘Z) undoes while `undo_key` is true (editing, no dialog open).
//!
//! ```ignore
//! let b = use_board_draft(board, Signal::derive(move || editing.get()));
//! b.edit(|d| d.title = "Payments".into());
//! b.undo();
//! ```

use leptos::ev;
use leptos::prelude::*;
use leptos_use::{use_event_listener, use_window};
use sightline_model::Board;

/// Changes kept for undo.
pub const UNDO_DEPTH: usize = 50;

/// The draft's state, apart from the browser (tested on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct BoardDraft {
    saved: Board,
    draft: Board,
    /// Earlier drafts, oldest first, at most [`UNDO_DEPTH`].
    undo: Vec<Board>,
}

impl BoardDraft {
    pub fn new(board: Board) -> Self {
        BoardDraft { saved: board.clone(), draft: board, undo: Vec::new() }
    }

    /// The revision on the server this draft is based on.
    pub fn saved(&self) -> &Board {
        &self.saved
    }

    pub fn draft(&self) -> &Board {
        &self.draft
    }

    /// Whether the draft differs from the saved revision.
    pub fn dirty(&self) -> bool {
        self.draft != self.saved
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Changes the draft with `f`; the draft before is kept for undo, unless `f` changed nothing.
    /// Returns whether the draft changed.
    pub fn edit(&mut self, f: impl FnOnce(&mut Board)) -> bool {
        let mut after = self.draft.clone();
        f(&mut after);
        if after == self.draft {
            return false;
        }
        self.undo.push(std::mem::replace(&mut self.draft, after));
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        true
    }

    /// Takes back the last edit; returns false when there is none.
    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(prev) => {
                self.draft = prev;
                true
            }
            None => false,
        }
    }

    /// A revision from the server (just saved, reloaded after a conflict, restored) becomes both the saved
    /// board and the draft; earlier edits can no longer be undone.
    pub fn adopt(&mut self, board: Board) {
        self.saved = board.clone();
        self.draft = board;
        self.undo.clear();
    }

    /// Drops every edit: the draft is the saved revision again.
    pub fn discard(&mut self) {
        self.draft = self.saved.clone();
        self.undo.clear();
    }
}

/// What [`use_board_draft`] gives the board page: read-only signals and the ways to change the draft.
#[derive(Clone, Copy)]
pub struct UseBoardDraftReturn {
    /// The revision on the server the draft is based on.
    pub saved: Signal<Board>,
    /// What the user sees and edits.
    pub draft: Signal<Board>,
    /// The draft differs from the saved revision.
    pub dirty: Signal<bool>,
    /// There is an edit to undo.
    pub can_undo: Signal<bool>,
    state: RwSignal<BoardDraft>,
}

impl UseBoardDraftReturn {
    /// Changes the draft (undoably). See [`BoardDraft::edit`].
    pub fn edit(&self, f: impl FnOnce(&mut Board)) {
        self.state.maybe_update(|s| s.edit(f));
    }

    pub fn undo(&self) {
        self.state.maybe_update(BoardDraft::undo);
    }

    /// See [`BoardDraft::adopt`].
    pub fn adopt(&self, board: Board) {
        self.state.update(|s| s.adopt(board));
    }

    pub fn discard(&self) {
        self.state.update(BoardDraft::discard);
    }
}

/// Starts editing `board` (as loaded from the server). Ctrl+Z undoes while `undo_key` is true.
pub fn use_board_draft(board: Board, undo_key: impl Into<Signal<bool>>) -> UseBoardDraftReturn {
    let undo_key = undo_key.into();
    let state = RwSignal::new(BoardDraft::new(board));
    let saved = Memo::new(move |_| state.with(|s| s.saved().clone()));
    let draft = Memo::new(move |_| state.with(|s| s.draft().clone()));
    let dirty = Memo::new(move |_| state.with(BoardDraft::dirty));
    let can_undo = Memo::new(move |_| state.with(BoardDraft::can_undo));
    let ret = UseBoardDraftReturn { saved: saved.into(), draft: draft.into(), dirty: dirty.into(), can_undo: can_undo.into(), state };

    let _ = use_event_listener(use_window(), ev::keydown, move |e| {
        if undo_key.get_untracked() && (e.ctrl_key() || e.meta_key()) && e.key() == "z" {
            e.prevent_default();
            ret.undo();
        }
    });
    let _ = use_event_listener(use_window(), ev::beforeunload, move |e| {
        if dirty.get_untracked() {
            e.prevent_default();
            e.set_return_value("unsaved");
        }
    });
    ret
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Board {
        Board {
            format_version: sightline_model::BOARD_FORMAT_VERSION,
            id: "b".into(),
            title: "Board".into(),
            version: 1,
            updated_ms: 0,
            author: None,
            time: Default::default(),
            variables: vec![],
            widgets: vec![],
        }
    }

    #[test]
    fn edits_undo_in_order_and_a_no_op_is_not_recorded() {
        let mut d = BoardDraft::new(board());
        assert!(!d.dirty() && !d.can_undo());
        assert!(d.edit(|b| b.title = "One".into()));
        assert!(d.edit(|b| b.title = "Two".into()));
        assert!(!d.edit(|b| b.title = "Two".into()), "same draft: nothing to undo");
        assert!(d.dirty());
        assert!(d.undo());
        assert_eq!(d.draft().title, "One");
        assert!(d.undo());
        assert_eq!(d.draft(), d.saved());
        assert!(!d.dirty() && !d.undo());
    }

    #[test]
    fn undo_keeps_the_last_edits_only() {
        let mut d = BoardDraft::new(board());
        for i in 0..UNDO_DEPTH + 5 {
            d.edit(|b| b.title = format!("t{i}"));
        }
        let mut undone = 0;
        while d.undo() {
            undone += 1;
        }
        assert_eq!(undone, UNDO_DEPTH);
        assert_eq!(d.draft().title, "t4", "the oldest edits fell off");
    }

    #[test]
    fn adopting_a_revision_resets_saved_draft_and_undo() {
        let mut d = BoardDraft::new(board());
        d.edit(|b| b.title = "Mine".into());
        let theirs = Board { version: 2, title: "Theirs".into(), ..board() };
        d.adopt(theirs.clone());
        assert_eq!((d.saved(), d.draft()), (&theirs, &theirs));
        assert!(!d.can_undo() && !d.dirty());
        d.edit(|b| b.title = "Again".into());
        d.discard();
        assert_eq!(d.draft(), &theirs);
        assert!(!d.can_undo());
    }
}
