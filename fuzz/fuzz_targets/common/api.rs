//! The server's checks of each endpoint's query parameters, as the handlers run them before touching the
//! store; shared by `api_query` (from a query string) and `api_params` (from typed values).

use sightline_model::{CompareParams, CubeParams, ErrorsParams, HitmapParams, TagFilter, TxParams};
use sightline_server::api::compare::TagScope;
use sightline_server::api::window::{WindowParams, FIFTEEN_MINUTES};
use sightline_server::api::{compare, cube, errors, hitmap, transactions};
use sightline_server::cube::query::{aligned, Plans};

/// A fixed "now" (2026-01-01), so a crash reproduces.
pub const NOW_MS: i64 = 1_767_225_600_000;
/// The default cube retention.
const RETENTION_MS: i64 = sightline_server::store::cube::DEFAULT_RETENTION_DAYS as i64 * 86_400_000;

/// Each endpoint's parameters; `None` where the query string did not read as them.
#[derive(Default)]
pub struct Params {
    pub window: Option<WindowParams>,
    pub hitmap: Option<HitmapParams>,
    pub tx: Option<TxParams>,
    pub cube: Option<CubeParams>,
    pub errors: Option<ErrorsParams>,
    pub compare: Option<CompareParams>,
}

fn scope(tag: Option<&str>) -> Option<TagScope> {
    match tag.filter(|t| !t.is_empty()) {
        None => Some(TagScope::default()),
        Some(t) => TagFilter::parse(t).ok().map(|tag| {
            let _ = (tag.to_param(), tag.describe());
            TagScope { tag: Some(tag), traces: None }
        }),
    }
}

pub fn check(p: Params) {
    let window = p.window.and_then(|w| w.resolve(FIFTEEN_MINUTES, NOW_MS).ok());
    if let (Some(window), Some(p)) = (window, p.hitmap) {
        let _ = hitmap::grid(window, &p);
        let _ = scope(p.tag.as_deref());
    }
    if let (Some(window), Some(p)) = (window, p.tx) {
        if let Some(scope) = scope(p.tag.as_deref()) {
            let _ = transactions::query(p, window, scope);
        }
    }
    if let Some(p) = p.cube {
        if let Ok(q) = cube::parse(&p, NOW_MS, RETENTION_MS) {
            // What the store plans for a checked query before it reads a bucket (bounded by the checks).
            let (from, to) = aligned(q.from, q.to);
            let closed_until = [NOW_MS - 60_000, NOW_MS - 3_600_000, NOW_MS - 86_400_000, NOW_MS - 7 * 86_400_000];
            let _ = Plans::new(from, to, q.step_ms, &closed_until);
        }
    }
    if let Some(p) = p.errors {
        let _ = errors::parse(p, NOW_MS, RETENTION_MS);
    }
    if let Some(p) = p.compare {
        let _ = compare::check(&p);
        let _ = scope(p.tag.as_deref());
    }
}
