//! Reading the stored history into the columns after a start, in the background and newest first.
//!
//! Why in the background: the columns are a copy of the transactions in the `requests` records (and in
//! an older store's `tx` keyspace), and reading them back takes ~2.5 s per million transactions on this
//! machine; a server that listens only after that is down for minutes at tens of millions. So the store
//! serves and ingests at once, and this thread reads both backwards (keys start with `end_ms`, so that is
//! newest first: the live hitmap's recent minutes are complete within the first batches), merged by that
//! time ([`History`]). [`Columns::history`] says how far it got, under the same lock as the rows, and
//! answers whose window reaches older data carry it (docs/STORE.md, "Restart").
//!
//! A record's key holds the latest end among its transactions, so once the loader has read the records
//! down to a key's time, every transaction ending after it is read: that time is where the columns are
//! complete from.
//!
//! The records' trace lists go into the trace index ([`super::traces`]) as their transactions go into the
//! columns, the index first: a row a query finds has its trace findable.
//!
//! Why nothing is counted twice or lost: the loader iterates fjall snapshots taken in `open` before the
//! committer thread started. Every record in them is read by the loader only; every transaction committed
//! afterwards is outside the snapshots and reaches the columns through the commit's publish only. The
//! retry check is the columns themselves (`Columns::contains`): a retried transaction older than what the
//! loader has read makes the committer wait until it has read that far ([`Loader::read_down_to`]), and so
//! do a retention pass and a trace lookup. [`Extent::floor`] says which transactions of a kept record an
//! earlier retention pass expired.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::Context;
use prost::Message;
use sightline_model::HistoryLoading;

use crate::sync;

use super::{row_of, Inner};
use crate::store::columns::Columns;
use crate::store::record::{request_contents, request_key_id, tx_key_end_ms, SpanRecord, SpanTimes};

/// Rows decoded per batch and pushed under one write lock: large enough that the lock is taken rarely,
/// small enough that a hitmap waits at most a few milliseconds behind it.
const BATCH: u64 = 4096;

/// The loader's progress and controls, shared by the loader thread and the store.
pub(super) struct Loader {
    state: Mutex<State>,
    changed: Condvar,
    /// What there is to read (`None`: nothing).
    pub(super) extent: Option<Extent>,
}

/// The stored history's time range when the store opened.
#[derive(Debug, Clone, Copy)]
pub(super) struct Extent {
    /// End times of the oldest and newest stored record (for the percentage).
    pub oldest: i64,
    pub newest: i64,
    /// Where retention cut last (`retained_from`): a record it kept for its newer transactions may still
    /// hold older ones, which must not come back. Stores written before that was kept: the first `tx_ids`
    /// key (the oldest transaction kept).
    pub floor: i64,
}

impl Extent {
    /// Read from the first and last keys of the keyspaces that hold the history; `retained_from`: where
    /// retention cut last, if it ever ran.
    pub(super) fn read(
        requests: &fjall::Keyspace,
        tx_ids: &fjall::Keyspace,
        legacy: &fjall::Keyspace,
        retained_from: Option<i64>,
    ) -> anyhow::Result<Option<Extent>> {
        let (Some(oldest), Some(newest)) = (first_end(&[requests, legacy])?, last_end(&[requests, legacy])?) else {
            return Ok(None);
        };
        let floor = match retained_from {
            Some(cut) => cut,
            None => first_end(&[tx_ids, legacy])?.unwrap_or(i64::MIN),
        };
        Ok(Some(Extent { oldest, newest, floor }))
    }
}

/// The smallest `end_ms` (the first 8 bytes of a key) over `keyspaces`' first keys.
pub(super) fn first_end(keyspaces: &[&fjall::Keyspace]) -> anyhow::Result<Option<i64>> {
    edge_end(keyspaces, fjall::Keyspace::first_key_value, i64::min)
}

/// The largest `end_ms` over `keyspaces`' last keys.
fn last_end(keyspaces: &[&fjall::Keyspace]) -> anyhow::Result<Option<i64>> {
    edge_end(keyspaces, fjall::Keyspace::last_key_value, i64::max)
}

/// `pick` of the `end_ms` of each keyspace's `edge` key.
fn edge_end(
    keyspaces: &[&fjall::Keyspace],
    edge: impl Fn(&fjall::Keyspace) -> Option<fjall::Guard>,
    pick: fn(i64, i64) -> i64,
) -> anyhow::Result<Option<i64>> {
    let mut found = None::<i64>;
    for ks in keyspaces {
        let key = edge(ks).map(|kv| kv.key()).transpose().context("reading the store")?;
        if let Some(end) = key.and_then(|k| tx_key_end_ms(&k)) {
            found = Some(found.map_or(end, |f| pick(f, end)));
        }
    }
    Ok(found)
}

/// One stored transaction as the loader reads it: the time of the key it was under (no later than any
/// transaction still to come), and the transaction, or why it does not decode.
type Row = (i64, Result<SpanRecord, String>);

/// One request record as the loader reads it: its transactions, and its key and traces for the index.
struct Record {
    rows: Vec<Row>,
    /// `(end_ms, request id)` and the traces it stored spans of.
    traces: Option<(i64, u64, Vec<[u8; 16]>)>,
}

/// The stored transactions newest first: the `requests` records' and an older store's `tx` keyspace's,
/// merged by their keys' time.
pub(super) struct History {
    requests: std::iter::Peekable<Box<dyn Iterator<Item = Result<Record, String>> + Send>>,
    legacy: std::iter::Peekable<Box<dyn Iterator<Item = Result<Row, String>> + Send>>,
    /// The rest of the record being read.
    pending: std::vec::IntoIter<Row>,
    /// The traces of the records taken since the loader last asked ([`History::take_traces`]).
    traces: Vec<(i64, u64, Vec<[u8; 16]>)>,
}

impl History {
    /// `requests` and `legacy`: the two keyspaces' iterators, reversed.
    pub(super) fn new(
        requests: impl Iterator<Item = fjall::Guard> + Send + 'static,
        legacy: impl Iterator<Item = fjall::Guard> + Send + 'static,
    ) -> Self {
        let requests = requests.map(|kv| {
            let (k, v) = kv.into_inner().map_err(|e| format!("reading request records: {e}"))?;
            let end = tx_key_end_ms(&k).ok_or("a request record's key is too short")?;
            let id = request_key_id(&k).ok_or("a request record's key is too short")?;
            Ok(match request_contents(&v) {
                Ok((txs, traces)) => Record { rows: txs.into_iter().map(|s| (end, Ok(s))).collect(), traces: Some((end, id, traces)) },
                Err(e) => Record { rows: vec![(end, Err(format!("{e:#}")))], traces: None },
            })
        });
        let legacy = legacy.map(|kv| {
            let (k, v) = kv.into_inner().map_err(|e| format!("reading transactions: {e}"))?;
            let end = tx_key_end_ms(&k).ok_or("a transaction's key is too short")?;
            Ok((end, SpanRecord::decode(&*v).map_err(|e| e.to_string())))
        });
        let requests: Box<dyn Iterator<Item = Result<Record, String>> + Send> = Box::new(requests);
        let legacy: Box<dyn Iterator<Item = Result<Row, String>> + Send> = Box::new(legacy);
        History { requests: requests.peekable(), legacy: legacy.peekable(), pending: Vec::new().into_iter(), traces: Vec::new() }
    }

    /// The traces of the records read since the last call.
    fn take_traces(&mut self) -> Vec<(i64, u64, Vec<[u8; 16]>)> {
        std::mem::take(&mut self.traces)
    }
}

impl Iterator for History {
    type Item = Result<Row, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.pending.next() {
                return Some(Ok(row));
            }
            // The newer of the next record and the next older transaction; an error at once. A record
            // without transactions (it stored only spans) is taken at once and yields nothing.
            let record = match self.requests.peek() {
                Some(Ok(r)) => Some(r.rows.first().map_or(i64::MAX, |r| r.0)),
                Some(Err(_)) => return Some(Err(self.requests.next()?.err()?)),
                None => None,
            };
            let legacy = match self.legacy.peek() {
                Some(Ok(row)) => Some(row.0),
                Some(Err(_)) => return self.legacy.next(),
                None => None,
            };
            match (record, legacy) {
                (Some(r), Some(l)) if l > r => return self.legacy.next(),
                (Some(_), _) => {
                    let record = self.requests.next()?.ok()?;
                    self.traces.extend(record.traces);
                    self.pending = record.rows.into_iter();
                }
                (None, _) => return self.legacy.next(),
            }
        }
    }
}

struct State {
    /// Rows the loader may still read; `u64::MAX` unless a test holds it back.
    budget: u64,
    /// Someone waits for the history down to this time ([`Loader::read_down_to`]): read on, held or not.
    needed: bool,
    stop: bool,
    /// `Some` once the loader ended: `Err` with the reason if it could not read everything.
    outcome: Option<Result<(), String>>,
}

impl Loader {
    pub(super) fn new(extent: Option<Extent>, held: bool) -> Self {
        let outcome = extent.is_none().then_some(Ok(()));
        Loader {
            state: Mutex::new(State { budget: if held { 0 } else { u64::MAX }, needed: false, stop: false, outcome }),
            changed: Condvar::new(),
            extent,
        }
    }

    /// The history that is not read yet, as answers report it, right after open.
    pub(super) fn initial(&self) -> Option<HistoryLoading> {
        self.extent.map(|e| HistoryLoading { loaded_from_ms: e.newest.saturating_add(1), percent: 0 })
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

    /// Blocks until the columns hold every stored transaction ending at or after `end_ms` (`i64::MIN`: all
    /// of them), reading on even if a test holds the loader. What the retry check, retention and a trace
    /// lookup need before they can trust the columns and the trace index. `false` if the loader ended
    /// without getting there (it failed, or the store is shutting down).
    pub(super) fn read_down_to(&self, end_ms: i64, columns: &std::sync::RwLock<Columns>) -> bool {
        loop {
            if sync::read(columns).history.is_none_or(|h| h.loaded_from_ms <= end_ms) {
                return true;
            }
            let mut s = sync::lock(&self.state);
            if s.outcome.is_some() || s.stop {
                return false;
            }
            s.needed = true;
            self.changed.notify_all();
            // The loader notifies after each batch; the timeout covers a batch that ended between the
            // check above and this wait.
            let (mut s, _) = self.changed.wait_timeout(s, std::time::Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner());
            s.needed = false;
        }
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
            if s.needed {
                return Some(BATCH);
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
        let Some(Extent { oldest, newest, .. }) = self.extent else { return 99 };
        let whole = (newest - oldest).max(1) as f64;
        ((newest - end_ms) as f64 / whole * 100.0).clamp(0.0, 99.0) as u8
    }
}

/// The loader thread's body: reads `rows` (the snapshots, newest first) into the columns.
pub(super) fn run(inner: &Inner, rows: History) {
    let started = Instant::now();
    let outcome = load(inner, rows);
    let loaded = sync::read(&inner.columns).len();
    match &outcome {
        Ok(()) => tracing::info!(transactions = loaded, took = ?started.elapsed(), "stored history loaded"),
        Err(e) => tracing::error!(error = %e, "reading the stored history failed: older data stays missing"),
    }
    inner.load.finish(outcome);
}

fn load(inner: &Inner, mut rows: History) -> Result<(), String> {
    let mut undecodable = 0u64;
    let kept_from = inner.load.extent.map_or(i64::MIN, |e| e.floor);
    loop {
        let Some(want) = inner.load.take() else { return Ok(()) };
        // Read and decode outside the lock; only the pushes hold it.
        let mut batch = Vec::with_capacity(want as usize);
        let mut read = 0;
        // The time of the last key read: every transaction ending after it is read.
        let mut last = None;
        for row in rows.by_ref().take(want as usize) {
            read += 1;
            let (end, decoded) = row?;
            last = Some(end);
            match decoded {
                Ok(s) => batch.push(s),
                // One damaged record must not hide all the history behind it.
                Err(e) => {
                    undecodable += 1;
                    tracing::warn!(error = %e, undecodable, "skipping a stored transaction that does not decode");
                }
            }
        }
        // The index first: a row found in the columns has its trace findable.
        let retained = sync::read(&inner.columns).retained_from_ms.unwrap_or(i64::MIN).max(kept_from);
        {
            let mut index = sync::write(&inner.traces);
            for (end, id, traces) in rows.take_traces().iter().filter(|(end, ..)| *end >= retained) {
                index.insert(*end, *id, traces);
            }
        }
        let mut cols = sync::write(&inner.columns);
        let floor = cols.retained_from_ms.unwrap_or(i64::MIN).max(kept_from);
        let below = last.is_some_and(|end| end < floor);
        for s in batch.iter().filter(|s| s.end_ms() >= floor) {
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
        if let Some(end) = last {
            cols.compact_between(end.div_euclid(60_000).saturating_add(1).saturating_mul(60_000), done_below.saturating_add(60_000));
            // Rows ending at `end`'s millisecond may continue in the next batch.
            cols.history = Some(HistoryLoading { loaded_from_ms: end.saturating_add(1), percent: inner.load.percent(end) });
        }
        // Under a budget, the minutes just finished go to disk before the next batch is read.
        drop(cols);
        inner.load.changed.notify_all();
        inner.memory.enforce(inner);
    }
}
