//! The APM page's hitmap, kept exact while live: a snapshot from `GET /api/v1/hitmap`, then every batch of
//! new points from the live stream (`/api/v1/hitmap/live`, server-sent events) added to it.
//!
//! The two race, and neither may count a transaction twice or miss one. The server numbers its commits: a
//! snapshot carries the number of the last commit it includes (`Hitmap::seq`), and each stream event
//! carries its commit's number as its SSE `id`. So a batch is applied only to a snapshot that lacks it
//! (`id > seq`), and the last few batches are kept so a snapshot that arrives after them still gets the
//! ones it lacks. The stream sends only what is stored after it opened, so a snapshot answered before
//! that (the page's own early request, `api::prefetch`, or a fast server) may lack a few batches. When the
//! stream opens after the snapshot arrived, says it skipped batches (`lagged`), reconnects, or sends a
//! batch that cannot be read, the hook fetches a new snapshot (resync); a batch that cannot be read is
//! also reported, so the page can say why it reloaded.
//!
//! ```ignore
//! let live = use_live_hitmap(params, tr.live);
//! view! {
//!     <FetchError error=live.error what="the hitmap" />
//!     <HitmapChart hitmap=live.hitmap … />
//! }
//! ```

use std::collections::VecDeque;

use leptos::prelude::*;
use leptos_use::use_interval_fn;
use sightline_model::{Hitmap, LivePoint};

use crate::api::{self, ApiError, HitmapParams};
use crate::hooks::{live_now_ms, now_ms, use_event_stream, use_polled_resource};

/// Stream batches remembered for a snapshot still on its way (a few seconds of demo traffic).
const RECENT_BATCHES: usize = 512;
/// How often a live hitmap slides forward with the clock when no batch arrives.
const ADVANCE_MS: u64 = 1_000;

/// What [`use_live_hitmap`] gives the page.
#[derive(Clone, Copy)]
pub struct UseLiveHitmapReturn {
    /// The hitmap as it is now (`None` until the first snapshot).
    pub hitmap: Signal<Option<Hitmap>>,
    /// Why the last snapshot could not be fetched (the last good hitmap stays in `hitmap`).
    pub error: Signal<Option<ApiError>>,
    /// The last live batch that could not be read, and when (`None` while every batch was fine); the
    /// hitmap was refetched right after it, so it is exact again once `loading` is false.
    pub bad_batch: Signal<Option<BadBatch>>,
    /// True until the first snapshot (or its failure) has arrived.
    pub loading: Signal<bool>,
    /// `true` while the live stream is open.
    pub connected: Signal<bool>,
    /// Fetches the snapshot again (e.g. once the server has read more of its stored history).
    pub refetch: Callback<()>,
}

/// A live batch the app could not read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadBatch {
    /// When it arrived (epoch ms).
    pub at_ms: i64,
    /// What was wrong with it.
    pub reason: String,
}

/// Fetches the hitmap `params` describe and, while `live`, keeps it current from the live stream of the
/// same service.
pub fn use_live_hitmap(params: impl Into<Signal<HitmapParams>>, live: impl Into<Signal<bool>>) -> UseLiveHitmapReturn {
    let (params, live) = (params.into(), live.into());
    // A live snapshot (a resync too) ends now: points that end after its window are in no later batch.
    let snapshot = use_polled_resource(move || {
        let p = params.get();
        api::hitmap(if live.get_untracked() { ending_now(p) } else { p })
    });
    let hitmap = RwSignal::new(None::<Hitmap>);
    let bad_batch = RwSignal::new(None::<BadBatch>);
    let reconciler = StoredValue::new_local(LiveReconciler::default());
    // Every snapshot (first, changed parameters, or resync) replaces the hitmap, with the batches it lacks.
    Effect::new(move |_| {
        if let Some(h) = snapshot.data.get() {
            hitmap.set(Some(reconciler.with_value(|r| r.complete(h))));
        }
    });
    let stream_url = Memo::new(move |_| {
        live.get().then(|| api::with_query("/api/v1/hitmap/live", &[("service", params.with(|p| p.service.clone()))]))
    });
    let resync = snapshot.refetch;
    let stream = use_event_stream(
        stream_url.into(),
        move |event, id, data| {
            if event == "lagged" {
                resync.run(());
                return;
            }
            let result = reconciler.try_update_value(|r| hitmap.try_update(|h| r.apply(h.as_mut(), id, &data, now_ms())));
            if let Some(Some(Err(reason))) = result {
                bad_batch.set(Some(BadBatch { at_ms: now_ms(), reason }));
                resync.run(());
            }
        },
        move |reopened| {
            let answered = snapshot.inflight.get_untracked() == 0 && hitmap.with_untracked(Option::is_some);
            if reopened || answered {
                resync.run(());
            }
        },
        &["lagged"],
    );
    use_interval_fn(
        move || {
            if live.get_untracked() {
                hitmap.update(|h| {
                    if let Some(h) = h {
                        h.advance(now_ms());
                    }
                });
            }
        },
        ADVANCE_MS,
    );
    // A report of a bad batch belongs to the view it happened in.
    Effect::new(move |prev: Option<()>| {
        params.track();
        if prev.is_some() {
            bad_batch.set(None);
        }
    });
    UseLiveHitmapReturn {
        hitmap: hitmap.into(),
        error: snapshot.error,
        bad_batch: bad_batch.into(),
        loading: snapshot.loading,
        connected: stream.connected,
        refetch: resync,
    }
}

/// `p`'s window moved to end now (`live_now_ms`), when it ends earlier: a resync of a live view that has
/// been open for a while must not ask for the window of when the view was opened.
fn ending_now(p: HitmapParams) -> HitmapParams {
    match (p.from, p.to) {
        (Some(from), Some(to)) => {
            let end = live_now_ms().max(to);
            HitmapParams { from: Some(from + end - to), to: Some(end), ..p }
        }
        _ => p,
    }
}

/// The reconciliation of snapshots and stream batches, apart from the browser (tested on its own): the
/// batches seen lately, and the rule for applying each.
#[derive(Debug, Default)]
pub struct LiveReconciler {
    recent: VecDeque<(u64, Vec<LivePoint>)>,
}

impl LiveReconciler {
    /// `snapshot` with the remembered batches it lacks (those numbered after its `seq`) added.
    pub fn complete(&self, mut snapshot: Hitmap) -> Hitmap {
        let seq = snapshot.seq;
        for (_, points) in self.recent.iter().filter(|(n, _)| *n > seq) {
            add_points(&mut snapshot, points);
        }
        snapshot
    }

    /// Reads one stream event (`id` = its commit number, `data` = the JSON list of points), remembers it,
    /// and adds it to `current` unless that snapshot already includes it; `current` first slides to `now`.
    /// An event that cannot be read changes nothing and says why: the caller must resync, as the points
    /// it carried are missing.
    pub fn apply(&mut self, current: Option<&mut Hitmap>, id: &str, data: &str, now: i64) -> Result<(), String> {
        let (seq, points) = decode_batch(id, data)?;
        if let Some(h) = current.filter(|h| seq > h.seq) {
            h.advance(now);
            add_points(h, &points);
        }
        self.recent.push_back((seq, points));
        if self.recent.len() > RECENT_BATCHES {
            self.recent.pop_front();
        }
        Ok(())
    }
}

/// One live event: its commit number (the SSE `id`) and its points (the `data`, a JSON list).
pub fn decode_batch(id: &str, data: &str) -> Result<(u64, Vec<LivePoint>), String> {
    let seq = id.parse::<u64>().map_err(|_| format!("its number {id:?} is not a commit number"))?;
    let points = serde_json::from_str::<Vec<LivePoint>>(data).map_err(|e| format!("batch {seq}: {e}"))?;
    Ok((seq, points))
}

fn add_points(h: &mut Hitmap, points: &[LivePoint]) {
    for p in points {
        h.add(p.end_ms, p.duration_ms, p.error);
    }
}
