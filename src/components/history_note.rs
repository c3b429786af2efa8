//! "loading history: 43 %" on a hitmap whose window reaches stored history the server is still reading
//! after a start (`Hitmap::history`, docs/STORE.md "Restart"): instead of passing off partial counts as the
//! whole picture. While shown it follows the server's progress (`GET /api/v1/health`) and fetches the
//! hitmap again once the server has read back to the window's start.
//!
//! [`EvictedNote`]: "older minutes read from disk" on a hitmap whose window starts before the minutes the
//! server's memory budget keeps in memory (`Health::evicted_until_ms`, docs/STORE.md "Memory budget"):
//! the counts are exact, but such windows are slower to answer, which the note explains.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_use::use_interval_fn;
use sightline_model::{HistoryLoading, Hitmap};

use crate::api::{self, ApiError};
use crate::components::error_view::FetchError;

/// How often the server's progress is asked while the note is shown.
const POLL_MS: u64 = 1_000;

/// Renders nothing while `hitmap` is complete. `refetch` fetches the hitmap again.
#[component]
pub fn HistoryNote(#[prop(into)] hitmap: Signal<Option<Hitmap>>, refetch: Callback<()>) -> impl IntoView {
    // The shown window's start and how far the server had read when it answered, while incomplete.
    let pending = Memo::new(move |_| hitmap.with(|h| h.as_ref().and_then(|h| h.history.map(|l| (h.grid.from, l)))));
    let latest = RwSignal::new(None::<HistoryLoading>);
    let error = RwSignal::new(None::<ApiError>);
    use_interval_fn(
        move || {
            let Some((from, _)) = pending.get_untracked() else { return };
            spawn_local(async move {
                match api::health().await {
                    Ok(h) => {
                        error.set(None);
                        latest.set(h.history);
                        if h.history.is_none_or(|l| l.loaded_from_ms <= from) {
                            refetch.run(());
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        },
        POLL_MS,
    );
    view! {
        {move || pending.get().map(|(_, shown)| {
            let percent = latest.get().map_or(shown.percent, |l| l.percent.max(shown.percent));
            view! {
                <p class="history-note muted" role="status" data-testid="history-loading"
                    title="The server was restarted and is still reading its stored transactions, newest first: older cells are not complete yet.">
                    {format!("loading history: {percent} %")}
                </p>
            }
        })}
        <FetchError error=error what="the server's progress reading its history" inline=true testid="history-error" />
    }
}

/// Renders nothing unless the window of `hitmap` starts before the minutes the server keeps in memory.
/// Asks the server (`GET /api/v1/health`) each time the window's start changes.
#[component]
pub fn EvictedNote(#[prop(into)] hitmap: Signal<Option<Hitmap>>) -> impl IntoView {
    let from = Memo::new(move |_| hitmap.with(|h| h.as_ref().map(|h| h.grid.from)));
    let health = LocalResource::new(move || {
        let from = from.get();
        async move { (from, api::health().await) }
    });
    let evicted = Signal::derive(move || match health.get() {
        Some((Some(from), Ok(h))) => h.evicted_until_ms.is_some_and(|until| from < until),
        _ => false,
    });
    let error = Signal::derive(move || health.get().and_then(|(_, r)| r.err()));
    view! {
        <Show when=move || evicted.get()>
            <p class="history-note muted" role="status" data-testid="history-evicted"
                title="The server's memory budget keeps only the newest minutes' columns in memory: this window reaches older ones, read from disk. Counts are exact; answers are slower.">
                "older minutes read from disk"
            </p>
        </Show>
        <FetchError error=error what="the server's memory status" inline=true testid="evicted-error" />
    }
}
