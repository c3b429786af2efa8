//! The shared time range, read from and written to the URL so links and reloads reproduce a view.
//!
//! URL form: `?range=15m` (relative; live unless `live=0`) or `?from=<ms>&to=<ms>` (absolute, never live).

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use leptos_use::use_interval_fn;
use sightline_model::TimeRange;

/// How often a live range moves forward.
const LIVE_TICK_MS: u64 = 5_000;

/// What [`use_time_range`] gives a page.
#[derive(Clone, Copy)]
pub struct UseTimeRangeReturn {
    /// The range as chosen.
    pub range: Signal<TimeRange>,
    /// Whether the range follows the clock.
    pub live: Signal<bool>,
    /// The resolved `(from, to)` window; moves every few seconds while live, frozen otherwise.
    pub window: Signal<(i64, i64)>,
    /// The service chosen in the top bar (`?service=`), `None` = all.
    pub service: Signal<Option<String>>,
}

/// Reads the range from the URL; ticks while live.
pub fn use_time_range() -> UseTimeRangeReturn {
    let query = use_query_map();
    let range = Memo::new(move |_| {
        query.with(|q| TimeRange::from_params(q.get_str("range"), q.get_str("from"), q.get_str("to")))
            .unwrap_or_default()
    });
    let live = Memo::new(move |_| {
        matches!(range.get(), TimeRange::Relative { .. })
            && query.with(|q| q.get_str("live") != Some("0"))
    });
    let now = RwSignal::new(live_now_ms());
    // The moment the range was chosen: switching 1h → 5m anchors the new window then, in the same
    // update (re-anchoring in an effect afterwards made every range change two windows, two fetches).
    let chosen_at = Memo::new(move |_| {
        range.track();
        live_now_ms()
    });
    use_interval_fn(
        move || {
            if live.get_untracked() {
                now.set(now_ms());
            }
        },
        LIVE_TICK_MS,
    );
    let window = Memo::new(move |_| range.get().resolve(now.get().max(chosen_at.get())));
    let service = Memo::new(move |_| query.with(|q| q.get("service").filter(|s| !s.is_empty())));
    UseTimeRangeReturn {
        range: range.into(),
        live: live.into(),
        window: window.into(),
        service: service.into(),
    }
}

/// Returns a function that replaces some query parameters (None = remove) and navigates there,
/// keeping the path and every other parameter.
pub fn use_set_query() -> impl Fn(Vec<(&'static str, Option<String>)>) + Clone + 'static {
    let navigate = use_navigate();
    let location = use_location();
    let query = use_query_map();
    move |updates| {
        let mut q = query.get_untracked();
        for (k, v) in updates {
            match v {
                Some(v) => q.replace(k, v),
                None => {
                    q.remove(k);
                }
            }
        }
        let path = location.pathname.get_untracked();
        navigate(&format!("{path}{}", q.to_query_string()), NavigateOptions::default());
    }
}

/// The query parameters that every page shares and navigation carries along.
pub const SHARED_PARAMS: &[&str] = &["range", "from", "to", "live", "service"];

/// Current wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// How long after the page chose its first window a live window resolved by the app may still end there.
const FIRST_WINDOW_MS: i64 = 3_000;

/// The end of a live window resolved now: the clock, except while the page is starting and a request it
/// made itself waits to be adopted (`api::prefetch`): then the moment the page chose for it, so the app's
/// first request is that same one. A live view moves on from there with the clock.
pub fn live_now_ms() -> i64 {
    let now = now_ms();
    match crate::api::prefetch::started_at() {
        Some(at) if (0..FIRST_WINDOW_MS).contains(&(now - at)) => at,
        _ => now,
    }
}
