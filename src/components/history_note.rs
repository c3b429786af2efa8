//! "loading history: 43 %" on a hitmap whose window reaches stored history the server is still reading
//! after a start (`Hitmap::history`, docs/STORE.md "Restart"): instead of passing off partial counts as the
//! whole picture. While shown it follows the server's progress (`GET /api/v1/health`) and fetches the
//! hitmap again once the server has read back to the window's start.

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
