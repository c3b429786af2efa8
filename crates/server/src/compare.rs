//! "What changed": what is different about a selection of transactions (a dragged rectangle of the
//! hitmap) compared with a baseline (the rest of the window, the same time yesterday, before the last
//! deploy, another rectangle).
//!
//! The store counts every transaction of both sets per dimension value and per step into a [`Tally`]
//! (exact, no sampling: `TraceStore::compare`); [`rank`] turns it into the ranked answer the app shows.
//! The transactions' steps are worked out at ingest ([`profile`]); the API handler resolves the baseline
//! and the database wait events (`api::compare`).

pub mod profile;
pub mod rank;

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sightline_model::{CompareDim, TagFilter};

use crate::store::TxFilter;

/// What the store counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareQuery {
    pub selection: TxFilter,
    /// Narrows the selection only (e.g. one error type, from the errors page).
    pub only: Option<TagFilter>,
    pub baseline: TxFilter,
    /// The baseline leaves out the selection's transactions (the "rest of the window" baseline).
    pub exclude_selection: bool,
    /// The database wait events each trace's sessions were sampled in (for [`CompareDim::WaitEvent`]).
    pub wait_events: Arc<FxHashMap<[u8; 16], Vec<String>>>,
}

/// A set's size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Side {
    pub count: u64,
    pub errors: u64,
    pub sum_ms: f64,
}

/// How many transactions of each set have one value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValueCount {
    pub dim: CompareDim,
    pub key: Option<String>,
    pub value: String,
    pub selected: u64,
    pub baseline: u64,
}

/// How many transactions of each set ran a step, and its summed self time in each.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCount {
    /// `store::record::kind`.
    pub kind: u32,
    pub name: String,
    pub selected_tx: u64,
    pub baseline_tx: u64,
    pub selected_ms: f64,
    pub baseline_ms: f64,
}

/// Both sets counted: every value of every dimension seen in either set, every step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub selection: Side,
    pub baseline: Side,
    /// Sorted by dimension, key, value.
    pub values: Vec<ValueCount>,
    /// Sorted by kind, name.
    pub steps: Vec<StepCount>,
    /// Transactions read.
    pub scanned: u64,
    /// Tag or step values the store could not record (its tables were full).
    pub dropped: u64,
}

impl Tally {
    /// One order for everything, so two tallies of the same data compare equal.
    pub fn canonicalize(&mut self) {
        self.values.sort();
        self.steps.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    }
}
