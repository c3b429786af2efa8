//! The API's query strings: one string read as the parameters of each endpoint that takes a free-form
//! query (hitmap, transactions, cube, errors, compare) exactly as axum's `Query` reads it
//! (`serde_urlencoded`), then the server's own checks of each, as the handlers run them before touching the
//! store, and for a checked cube query the store's plan of the buckets it would read. Errors (400s) are fine; a panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_model::{CompareParams, CubeParams, ErrorsParams, HitmapParams, TagFilter, TxParams};
use sightline_server::api::compare::TagScope;
use sightline_server::api::window::{WindowParams, FIFTEEN_MINUTES};
use sightline_server::api::{compare, cube, errors, hitmap, transactions};
use sightline_server::cube::query::{aligned, Plans};

/// A fixed "now" (2026-01-01), so a crash reproduces.
const NOW_MS: i64 = 1_767_225_600_000;
/// The default cube retention.
const RETENTION_MS: i64 = sightline_server::store::cube::DEFAULT_RETENTION_DAYS as i64 * 86_400_000;

fn scope(tag: Option<&str>) -> Option<TagScope> {
    match tag.filter(|t| !t.is_empty()) {
        None => Some(TagScope::default()),
        Some(t) => TagFilter::parse(t).ok().map(|tag| {
            let _ = (tag.to_param(), tag.describe());
            TagScope { tag: Some(tag), traces: None }
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let window = serde_urlencoded::from_str::<WindowParams>(query).ok().and_then(|w| w.resolve(FIFTEEN_MINUTES, NOW_MS).ok());
    if let (Some(window), Ok(p)) = (window, serde_urlencoded::from_str::<HitmapParams>(query)) {
        let _ = hitmap::grid(window, &p);
        let _ = scope(p.tag.as_deref());
    }
    if let (Some(window), Ok(p)) = (window, serde_urlencoded::from_str::<TxParams>(query)) {
        if let Some(scope) = scope(p.tag.as_deref()) {
            let _ = transactions::query(p, window, scope);
        }
    }
    if let Ok(p) = serde_urlencoded::from_str::<CubeParams>(query) {
        if let Ok(q) = cube::parse(&p, NOW_MS, RETENTION_MS) {
            // What the store plans for a checked query before it reads a bucket (bounded by the checks).
            let (from, to) = aligned(q.from, q.to);
            let closed_until = [NOW_MS - 60_000, NOW_MS - 3_600_000, NOW_MS - 86_400_000, NOW_MS - 7 * 86_400_000];
            let _ = Plans::new(from, to, q.step_ms, &closed_until);
        }
    }
    if let Ok(p) = serde_urlencoded::from_str::<ErrorsParams>(query) {
        let _ = errors::parse(p, NOW_MS, RETENTION_MS);
    }
    if let Ok(p) = serde_urlencoded::from_str::<CompareParams>(query) {
        let _ = compare::check(&p);
        let _ = scope(p.tag.as_deref());
    }
});
