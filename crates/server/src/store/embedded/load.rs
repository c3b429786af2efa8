//! Reading the stored history into the columns after a start, in the background and newest first.
//!
//! Why in the background: the columns are a copy of the `tx` keyspace, and reading it back takes ~2.5 s
//! per million transactions on this machine; a server that listens only after that is down for minutes
//! at tens of millions. So the store serves and ingests at once, and this thread reads `tx` backwards
//! (keys are `end_ms ‖ ids`, so that is newest first: the live hitmap's recent minutes are complete
//! within the first batches). [`Columns::history`] says how far it got, under the same lock as the rows,
//! and answers whose window reaches older data carry it (docs/STORE.md, "Restart").
//!
//! Why nothing is counted twice or lost: the loader iterates a fjall snapshot taken in `open` before the
//! committer thread started. Every key in it is read by the loader only; every transaction committed
//! afterwards is a key outside the snapshot and reaches the columns through the commit's publish only
//! (a retry of an already stored transaction finds its key and is not published). Retention may delete
//! keys the snapshot still shows: `Columns::retained_from_ms` tells the loader where to stop.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::Context;
use prost::Message;
use sightline_model::HistoryLoading;

use crate::sync;

use super::{row_of, Inner};
use crate::store::record::SpanRecord;

/// Rows decoded per batch and pushed under one write lock: large enough that the lock is taken rarely,
/// small enough that a hitmap waits at most a few milliseconds behind it.
const BATCH: u64 = 4096;

/// The loader's progress and controls, shared by the loader thread and the store.
pub(super) struct Loader {
    state: Mutex<State>,
    changed: Condvar,
    /// End times of the oldest and newest stored transaction when the store opened (for the percentage).
    pub(super) span: Option<(i64, i64)>,
}

struct State {
    /// Rows the loader may still read; `u64::MAX` unless a test holds it back.
    budget: u64,
    stop: bool,
    /// `Some` once the loader ended: `Err` with the reason if it could not read everything.
    outcome: Option<Result<(), String>>,
}

impl Loader {
    pub(super) fn new(span: Option<(i64, i64)>, held: bool) -> Self {
        let outcome = span.is_none().then_some(Ok(()));
        Loader {
            state: Mutex::new(State { budget: if held { 0 } else { u64::MAX }, stop: false, outcome }),
            changed: Condvar::new(),
            span,
        }
    }

    /// The history that is not read yet, as answers report it, right after open.
    pub(super) fn initial(&self) -> Option<HistoryLoading> {
        self.span.map(|(_, newest)| HistoryLoading { loaded_from_ms: newest.saturating_add(1), percent: 0 })
    }

    /// Lets a held loader read `rows` more (tests).
    pub(super) fn allow(&self, rows: u64) {
        let mut s = sync::lock(&self.state);
        s.budget = s.budget.saturating_add(rows);
        self.changed.notify_all();
    }

    /// Asks the loader to end after its current batch (the store is being dropped).
    pub(super) fn stop(&self) {
        sync::lock(&self.state).stop = true;
        self.changed.notify_all();
    }

    /// Blocks until the loader ended; its error if it could not read everything.
    pub(super) fn wait(&self) -> anyhow::Result<()> {
        let mut s = sync::lock(&self.state);
        loop {
            if let Some(outcome) = &s.outcome {
                return outcome.clone().map_err(anyhow::Error::msg);
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits for budget, then takes up to [`BATCH`] rows of it; `None` when asked to stop.
    fn take(&self) -> Option<u64> {
        let mut s = sync::lock(&self.state);
        loop {
            if s.stop {
                return None;
            }
            if s.budget > 0 {
                let n = s.budget.min(BATCH);
                s.budget -= n;
                return Some(n);
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn finish(&self, outcome: Result<(), String>) {
        sync::lock(&self.state).outcome = Some(outcome);
        self.changed.notify_all();
    }

    /// How much of the stored time range lies at or after `end_ms`, 0–99 (100 is "done", said by `None`).
    fn percent(&self, end_ms: i64) -> u8 {
        let Some((oldest, newest)) = self.span else { return 99 };
        let whole = (newest - oldest).max(1) as f64;
        ((newest - end_ms) as f64 / whole * 100.0).clamp(0.0, 99.0) as u8
    }
}

/// The loader thread's body: reads `rows` (the `tx` snapshot, newest first) into the columns.
pub(super) fn run(inner: &Inner, rows: impl Iterator<Item = fjall::Guard>) {
    let started = Instant::now();
    let outcome = load(inner, rows);
    let loaded = sync::read(&inner.columns).len();
    match &outcome {
        Ok(()) => tracing::info!(transactions = loaded, took = ?started.elapsed(), "stored history loaded"),
        Err(e) => tracing::error!(error = %e, "reading the stored history failed: older data stays missing"),
    }
    inner.load.finish(outcome);
}

fn load(inner: &Inner, mut rows: impl Iterator<Item = fjall::Guard>) -> Result<(), String> {
    let mut undecodable = 0u64;
    loop {
        let Some(want) = inner.load.take() else { return Ok(()) };
        // Read and decode outside the lock; only the pushes hold it.
        let mut batch = Vec::with_capacity(want as usize);
        let mut read = 0;
        for kv in rows.by_ref().take(want as usize) {
            read += 1;
            let (_, v) = kv.into_inner().context("reading transactions").map_err(|e| format!("{e:#}"))?;
            match SpanRecord::decode(&*v) {
                Ok(s) => batch.push(s),
                // One damaged record must not hide all the history behind it.
                Err(e) => {
                    undecodable += 1;
                    tracing::warn!(error = %e, undecodable, "skipping a stored transaction that does not decode");
                }
            }
        }
        let mut cols = sync::write(&inner.columns);
        let floor = cols.retained_from_ms.unwrap_or(i64::MIN);
        let mut below = false;
        for s in &batch {
            if s.end_ms() < floor {
                below = true;
                break;
            }
            cols.push(row_of(s));
        }
        // Minutes the loader has finished with (those after the one this batch ended in) are done.
        let done_below = cols.history.map_or(i64::MAX, |h| h.loaded_from_ms);
        if read < want || below {
            cols.compact_between(i64::MIN, done_below.saturating_add(60_000));
            cols.history = None;
            drop(cols);
            inner.memory.enforce(inner);
            return Ok(());
        }
        if let Some(last) = batch.last() {
            cols.compact_between(last.end_ms().div_euclid(60_000).saturating_add(1).saturating_mul(60_000), done_below.saturating_add(60_000));
            // Rows ending at `last`'s millisecond may continue in the next batch.
            let end = last.end_ms();
            cols.history = Some(HistoryLoading { loaded_from_ms: end.saturating_add(1), percent: inner.load.percent(end) });
        }
        // Under a budget, the minutes just finished go to disk before the next batch is read.
        drop(cols);
        inner.memory.enforce(inner);
    }
}
