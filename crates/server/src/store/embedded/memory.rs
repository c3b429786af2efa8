//! The store's memory budget (`--memory-budget`): fixed shares for fjall's block cache and memtables, the
//! rest for the hitmap columns, whose oldest minutes are evicted to files beyond it (docs/STORE.md,
//! "Memory budget").
//!
//! Why evict whole minutes, oldest first: queries read the recent minutes most (the live hitmap, alerts,
//! the default windows), a minute is the unit the columns are kept in, and a minute read back from its file
//! gives the same rows, so every answer stays exact; a query reaching evicted minutes is slower by their
//! read (~30 ms per million rows from the page cache here). The columns are checked after each batch the
//! history loader pushes (so a start never holds more than the budget plus a batch) and twice a second
//! for what ingest adds (~140 KB/s at 10 k spans/s).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::store::columns::spill::SpillDir;
use crate::store::MemoryStats;
use crate::sync;

use super::Inner;

const MIB: u64 = 1024 * 1024;
/// How often the columns and memtables are checked against the budget while the store runs.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How `--memory-budget` bytes are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub total: u64,
}

impl MemoryBudget {
    /// The server's default: 10 M transactions' columns (~61 B each) with room to spare, on a machine
    /// that has a few GB.
    pub const DEFAULT: u64 = 1024 * MIB;

    /// fjall's block cache: an eighth, 1–256 MiB. Reads of traces and transaction pages go through it; more
    /// helps little once the recent tables' index and filter blocks fit.
    pub fn cache(&self) -> u64 {
        (self.total / 8).clamp(MIB, 256 * MIB)
    }

    /// All memtables together: an eighth, 2–64 MiB (the 64 MiB journal cap bounds them anyway). Smaller
    /// memtables mean more, smaller tables for compaction to merge, and a smaller saw-tooth in memory.
    pub fn memtables(&self) -> u64 {
        (self.total / 8).clamp(2 * MIB, 64 * MIB)
    }

    /// One keyspace's memtable is flushed past this (`blocks` and `requests` take nearly all writes).
    pub fn memtable(&self) -> u64 {
        (self.memtables() / 4).max(MIB)
    }

    /// The hitmap columns in memory and the trace index beside them (`super::traces`, never evicted:
    /// ~8 bytes per trace, a tenth of the columns): the rest.
    pub fn columns(&self) -> u64 {
        self.total.saturating_sub(self.cache() + self.memtables())
    }
}

/// The budget at work: the evicted blocks' directory and the thread that keeps the store within its shares.
pub(super) struct Memory {
    pub(super) budget: Option<MemoryBudget>,
    spill: Option<Arc<SpillDir>>,
    stop: Mutex<bool>,
    wake: Condvar,
    /// Memtable rotations asked for because all memtables together were over their share.
    rotations: AtomicU64,
}

impl Memory {
    pub(super) fn new(budget: Option<MemoryBudget>, spill: Option<Arc<SpillDir>>) -> Self {
        Memory { budget, spill, stop: Mutex::new(false), wake: Condvar::new(), rotations: AtomicU64::new(0) }
    }

    /// Asks [`run`] to end.
    pub(super) fn stop(&self) {
        *sync::lock(&self.stop) = true;
        self.wake.notify_all();
    }

    /// Evicts the oldest minutes until the columns and the trace index fit their share (nothing without a
    /// budget). A failed write leaves the minute in memory: over budget, but exact; logged, and tried
    /// again next pass.
    pub(super) fn enforce(&self, inner: &Inner) {
        let (Some(budget), Some(spill)) = (self.budget, self.spill.as_ref()) else { return };
        loop {
            let index = sync::read(&inner.traces).bytes();
            let next = {
                let cols = sync::read(&inner.columns);
                if cols.usage().resident_bytes + index <= budget.columns() {
                    return;
                }
                // The minute the history loader is in may exceed the share by up to an eighth of it.
                cols.next_eviction((budget.columns() / 8) as usize)
            };
            let Some((minute, bytes, rows)) = next else { return };
            // What an eviction frees (the minute's block and its encoded copy: ~10 MB a minute at 10 k
            // spans/s) goes back to the OS at once, not after mimalloc's purge delay: RSS spiked by that
            // much at every eviction (BENCHMARKS.md, "Issue 16, ninth session").
            let _prompt = crate::allocator::purge_promptly();
            let written = spill.write(minute, rows, &bytes);
            drop(bytes); // while the guard holds
            let seg = match written {
                Ok(seg) => seg,
                Err(e) => {
                    tracing::error!(error = ?e, "cannot evict a minute of columns: memory stays over its budget");
                    return;
                }
            };
            if !sync::write(&inner.columns).evict(minute, seg) {
                // Rows came in between: try again with the block as it is now.
                continue;
            }
        }
    }

    /// Asks fjall to flush every keyspace's memtable when all memtables together are over their share:
    /// keyspaces created before the budget keep the memtable size they were created with. Every keyspace,
    /// not only `blocks` and `requests`: since spans are stored compressed, the cube's keyspaces take a large
    /// part of the writes, and left alone their memtables grew to 4× the share.
    fn bound_memtables(&self, inner: &Inner) {
        let Some(budget) = self.budget else { return };
        if inner.db.write_buffer_size() <= budget.memtables() {
            return;
        }
        for name in inner.db.list_keyspace_names() {
            // Opening an existing keyspace hands out its handle; the options are for creating one.
            let ks = match inner.db.keyspace(&name, fjall::KeyspaceCreateOptions::default) {
                Ok(ks) => ks,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a keyspace to rotate its memtable");
                    continue;
                }
            };
            match ks.rotate_memtable() {
                Ok(true) => {
                    self.rotations.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot rotate a memtable"),
            }
        }
    }

    /// What the store's parts take, for `/metrics` and health.
    pub(super) fn stats(&self, inner: &Inner) -> MemoryStats {
        let usage = sync::read(&inner.columns).usage();
        MemoryStats {
            budget_bytes: self.budget.map(|b| b.total),
            columns_budget_bytes: self.budget.map(|b| b.columns()),
            columns_bytes: usage.resident_bytes,
            trace_index_bytes: sync::read(&inner.traces).bytes(),
            memtable_bytes: inner.db.write_buffer_size(),
            cache_bytes: inner.db.cache_size(),
            cache_capacity_bytes: inner.db.cache_capacity(),
            evicted_minutes: usage.evicted_minutes,
            evicted_transactions: usage.evicted_rows,
            evicted_disk_bytes: usage.evicted_bytes,
            evicted_reads: usage.evicted_reads,
            evicted_until_ms: usage.evicted_until_ms,
        }
    }
}

/// The `store-memory` thread: checks the columns and memtables every [`CHECK_EVERY`] until stopped.
pub(super) fn run(inner: &Inner) {
    let memory = &inner.memory;
    loop {
        memory.enforce(inner);
        memory.bound_memtables(inner);
        let stop = sync::lock(&memory.stop);
        let (stop, _) = memory.wake.wait_timeout(stop, CHECK_EVERY).unwrap_or_else(|p| p.into_inner());
        if *stop {
            return;
        }
    }
}
