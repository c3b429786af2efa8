//! The process allocator, and when it hands freed memory back to the operating system.
//!
//! mimalloc keeps freed pages for a while (its `purge_delay`, 1 s) before returning them, so that memory
//! freed and soon wanted again is not faulted in anew: ingest frees and reallocates its request buffers all
//! the time, and returning them at once (delay 0) cost it 20–30 % more CPU per span and 7× the page faults
//! at saturation (BENCHMARKS.md, "Issue 16: restart, memory, soak"). A start is different: fjall's journal
//! replay and the history loader allocate and free hundreds of megabytes of temporary buffers between the
//! columns they build, and with the delay ~20–30 MB of that stayed resident afterwards (a 1 M store with a
//! 64 MiB budget: 134–146 MB after a start, 115–118 MB with this). So while a store opens and loads its
//! history, freed memory is purged at once ([`purge_promptly`]), and afterwards the default applies again.
//!
//! `MIMALLOC_PURGE_DELAY` in the environment (mimalloc's own setting) overrides both: then nothing here
//! changes it.
//!
//! Transparent huge pages are turned off for the process at start ([`no_transparent_huge_pages`]):
//! mimalloc asks for them on its arenas, and with 2 MiB pages a few live blocks keep a whole huge page
//! resident and purging cannot give back part of one. A restart of a 1 M store with a 64 MiB budget took
//! 121–124 MB with them and 88 MB without; ingesting at saturation, 230–246 MB against 129–193 MB, with no
//! measurable CPU cost (BENCHMARKS.md, "Issue 16, ninth session"). `MIMALLOC_ALLOW_THP` in the environment
//! (mimalloc's own setting) overrides this.

use std::ffi::c_long;
use std::sync::atomic::{AtomicUsize, Ordering};

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// Declared here, once, so the binary, the tests and the benchmarks all measure the same allocator. Ingest
/// is allocation-bound (the LSM tree copies keys and values, requests are decoded into records), and
/// glibc's malloc spent about a third of the ingest benchmark's CPU time; mimalloc's thread-local free
/// lists cut that. The `system-allocator` feature leaves the system's malloc in place, for heap profilers
/// that intercept it (`heaptrack`; BENCHMARKS.md says how it was used).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (`mimalloc.h`, `mi_option_e`); the crate names only the options
/// it calls stable, so the index is checked against the option's default before it is changed.
const PURGE_DELAY: mi_option_t = 15;
/// mimalloc v3's default for [`PURGE_DELAY`], in milliseconds.
const DEFAULT_PURGE_DELAY_MS: c_long = 1000;

/// Phases in progress that asked for prompt purging (several stores may open at once in tests).
static PROMPT: AtomicUsize = AtomicUsize::new(0);

/// While a start's bulk work lasts: freed memory goes back to the OS at once. Dropping the last one
/// restores mimalloc's default.
#[must_use = "prompt purging lasts as long as the guard"]
pub struct PromptPurge(bool);

/// Starts a phase of prompt purging (see the module's docs), unless the environment sets mimalloc's
/// purge delay itself or this mimalloc's option table is not the one this was written for.
pub fn purge_promptly() -> PromptPurge {
    if !tunable() {
        return PromptPurge(false);
    }
    if PROMPT.fetch_add(1, Ordering::SeqCst) == 0 {
        // SAFETY: setting a mimalloc option is a plain store of a `long` in its option table.
        unsafe { mi_option_set(PURGE_DELAY, 0) };
    }
    PromptPurge(true)
}

impl Drop for PromptPurge {
    fn drop(&mut self) {
        if self.0 && PROMPT.fetch_sub(1, Ordering::SeqCst) == 1 {
            // SAFETY: as above.
            unsafe { mi_option_set(PURGE_DELAY, DEFAULT_PURGE_DELAY_MS) };
        }
    }
}

/// Turns transparent huge pages off for this process (and the processes it starts, e.g. the demo's
/// PostgreSQL), unless `MIMALLOC_ALLOW_THP` is set. Call first thing in `main`, before the runtime starts:
/// pages faulted in before stay as they are. A refusal (an old kernel) changes nothing else.
pub fn no_transparent_huge_pages() -> std::io::Result<()> {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return Ok(());
    }
    rustix::thread::disable_transparent_huge_pages(true).map_err(std::io::Error::from)
}

/// mimalloc's purge delay now, in milliseconds (0: at once; -1: never).
pub fn purge_delay_ms() -> c_long {
    // SAFETY: reading a mimalloc option.
    unsafe { mi_option_get(PURGE_DELAY) }
}

/// Whether the purge delay is ours to change: not set by the operator, and the option at [`PURGE_DELAY`]
/// holds the purge delay's default (checked once, before anything here changed it).
fn tunable() -> bool {
    static TUNABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TUNABLE.get_or_init(|| {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return false;
        }
        let found = purge_delay_ms();
        if found != DEFAULT_PURGE_DELAY_MS {
            tracing::warn!(found, "mimalloc's purge delay is not where expected (another mimalloc version?): left as it is");
        }
        found == DEFAULT_PURGE_DELAY_MS
    })
}
