//! The allocator's purge phases (crates/server/src/allocator.rs), in a process of their own: the option is
//! process-wide, and the library's other tests open stores, which start phases of their own.

use sightline_server::allocator::{purge_delay_ms, purge_promptly};

/// Catches a mimalloc upgrade that renumbers its options (the index must hold the purge delay's default,
/// which no other option has), and checks that a phase sets the delay to 0 and the last guard restores it.
#[test]
fn a_phase_purges_at_once_and_the_default_comes_back() {
    assert!(std::env::var_os("MIMALLOC_PURGE_DELAY").is_none(), "run without MIMALLOC_PURGE_DELAY set");
    assert_eq!(purge_delay_ms(), 1000, "not mimalloc v3's purge delay (or not its default)");
    let outer = purge_promptly();
    let inner = purge_promptly();
    assert_eq!(purge_delay_ms(), 0);
    drop(outer);
    assert_eq!(purge_delay_ms(), 0, "another phase is still running");
    drop(inner);
    assert_eq!(purge_delay_ms(), 1000);
}
