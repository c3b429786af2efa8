//! The process' open-file limit, and the share of it the store's files may keep.
//!
//! Why: fjall keeps table and blob files open in a cache of up to 900 descriptors (its default), and a long
//! retention reaches that many files. Under the soft limit many service managers give (1024, systemd's
//! default), that leaves about a hundred descriptors for the listeners, every client connection, the
//! collectors and the evicted column files, and a busy server would start failing with "Too many open files".
//! So at start the soft limit is raised to the hard one (as Go's runtime and most databases do), and the
//! store's file cache gets at most half of what the soft limit then is.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// fjall's own default: enough for a long retention's tables without reopening them.
const MAX_CACHED_FILES: u64 = 900;
/// Below this the store reopens files all the time; a limit this low leaves no better choice.
const MIN_CACHED_FILES: u64 = 32;

/// The soft limit after [`raise`]ing it; `None` when unlimited.
pub fn soft_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Raises the soft limit on open files to the hard one; returns (before, after) when it changed. A refusal
/// is logged and the process goes on with the limit it has (the store then keeps fewer files open).
pub fn raise() -> Option<(Option<u64>, Option<u64>)> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return None;
    }
    let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Some((limit.current, limit.maximum)),
        Err(e) => {
            tracing::warn!(error = %e, soft = ?limit.current, hard = ?limit.maximum, "cannot raise the open-files limit");
            None
        }
    }
}

/// How many files the store may keep open under a soft limit of `soft` (`None`: unlimited): half of it,
/// at most fjall's default.
pub fn store_share(soft: Option<u64>) -> usize {
    soft.map_or(MAX_CACHED_FILES, |s| (s / 2).clamp(MIN_CACHED_FILES, MAX_CACHED_FILES)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_gets_half_of_the_limit_within_bounds() {
        assert_eq!(store_share(None), 900);
        assert_eq!(store_share(Some(1_048_576)), 900);
        assert_eq!(store_share(Some(1024)), 512);
        assert_eq!(store_share(Some(256)), 128);
        assert_eq!(store_share(Some(20)), 32);
    }
}
