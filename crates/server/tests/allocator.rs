//! The allocator's purge phases (crates/server/src/allocator.rs), in a process of their own: the option is
//! process-wide, and the library's other tests open stores, which start phases of their own.

mod common;

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

/// The server runs with transparent huge pages off (crates/server/src/allocator.rs says why), as the
/// kernel reports it for the process.
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path(), &[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let thp = status.lines().find_map(|l| l.strip_prefix("THP_enabled:")).map(str::trim);
    assert_eq!(thp, Some("0"), "THP_enabled of the server process");
    // Unless the operator asks for them through mimalloc's own setting.
    let with = common::Server::start(&dir.path().join("with"), &[("MIMALLOC_ALLOW_THP", "1")]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", with.child.id())).unwrap();
    let this = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = |s: &str| s.lines().find(|l| l.starts_with("THP_enabled:")).map(str::to_string);
    assert_eq!(line(&status), line(&this), "left as the environment has it");
}
