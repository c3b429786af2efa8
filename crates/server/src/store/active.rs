//! Work reported in flight (spans with `end_time_unix_nano == 0`), for the active-transactions panel.
//!
//! Kept in memory, keyed by span identity: a newer snapshot replaces an older one, the finished span removes
//! it, and a snapshot not refreshed for [`super::ACTIVE_STALE_MS`] is treated as abandoned. The snapshots are
//! also written to the durable `inflight` keyspace, so the panel survives a restart.

use std::collections::HashMap;

use sightline_model::{ActiveList, ActiveTransaction};

use super::record::{SpanRecord, SpanTimes};
use super::ACTIVE_STALE_MS;

/// One in-flight span and when it was last reported.
#[derive(Debug, Clone)]
struct Entry {
    span: SpanRecord,
    seen_ms: i64,
}

/// In-flight spans by `trace_id ‖ span_id`, plus the in-flight steps of each trace.
#[derive(Debug, Default)]
pub struct Active {
    spans: HashMap<[u8; 24], Entry>,
}

impl Active {
    /// Records an in-flight snapshot reported at `seen_ms`.
    pub fn report(&mut self, span: SpanRecord, seen_ms: i64) {
        self.spans.insert(span.ids(), Entry { span, seen_ms });
    }

    /// The span finished: it is no longer active. Returns whether it was tracked.
    pub fn finish(&mut self, ids: &[u8; 24]) -> bool {
        self.spans.remove(ids).is_some()
    }

    /// Whether a snapshot of this span is tracked.
    pub fn contains(&self, ids: &[u8; 24]) -> bool {
        self.spans.contains_key(ids)
    }

    /// Forgets stale snapshots; returns their keys so the durable copies can go too.
    pub fn expire(&mut self, now_ms: i64) -> Vec<[u8; 24]> {
        let stale: Vec<[u8; 24]> = self
            .spans
            .iter()
            .filter(|(_, e)| now_ms - e.seen_ms > ACTIVE_STALE_MS)
            .map(|(k, _)| *k)
            .collect();
        for k in &stale {
            self.spans.remove(k);
        }
        stale
    }

    /// Active transactions (optionally of one service), longest-running first. The current step of each is
    /// its trace's in-flight non-transaction span that started last: the innermost work still running.
    pub fn list(&self, service: Option<&str>, now_ms: i64) -> ActiveList {
        let fresh = |e: &&Entry| now_ms - e.seen_ms <= ACTIVE_STALE_MS;
        let mut current: HashMap<&[u8], &SpanRecord> = HashMap::new();
        for e in self.spans.values().filter(fresh).filter(|e| !e.span.is_transaction) {
            let slot = current.entry(e.span.trace_id.as_slice()).or_insert(&e.span);
            if e.span.start_ns > slot.start_ns {
                *slot = &e.span;
            }
        }
        let mut items: Vec<ActiveTransaction> = self
            .spans
            .values()
            .filter(fresh)
            .filter(|e| e.span.is_transaction)
            .filter(|e| service.is_none_or(|s| e.span.service == s))
            .map(|e| {
                let s = &e.span;
                ActiveTransaction {
                    trace_id: const_hex::encode(&s.trace_id),
                    span_id: const_hex::encode(&s.span_id),
                    service: s.service.clone(),
                    endpoint: s.name.clone(),
                    start_ms: s.start_ms(),
                    elapsed_ms: (now_ms - s.start_ms()).max(0) as f64,
                    thread: s.thread.clone(),
                    current_step: current.get(s.trace_id.as_slice()).map(|c| c.name.clone()),
                }
            })
            .collect();
        items.sort_by(|a, b| b.elapsed_ms.total_cmp(&a.elapsed_ms).then_with(|| a.span_id.cmp(&b.span_id)));
        ActiveList { now_ms, items }
    }

    /// In-flight spans of one trace (for assembling a trace that is still running).
    pub fn of_trace(&self, trace_id: &[u8]) -> Vec<SpanRecord> {
        self.spans.values().filter(|e| e.span.trace_id == trace_id).map(|e| e.span.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}
