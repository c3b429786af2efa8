//! The note under a cube figure that is older than the raw transactions (issue 13): the rollup still has
//! it, the transactions behind it are gone, so it cannot be listed.

use leptos::prelude::*;

use crate::format::date_time;

/// Says which figures of `[from, …)` come from the rollup only, given the oldest kept transaction
/// (`raw_since`, `None` when none is kept). Renders nothing when every figure can still be listed.
#[component]
pub fn RollupNote(from: i64, raw_since: Option<i64>) -> impl IntoView {
    let text = match raw_since {
        None => Some("No transactions of this range are kept any more: every figure comes from the rollup only, and none can be listed.".to_string()),
        Some(t) if t > from => Some(format!(
            "Figures before {} come from the rollup only: their transactions are no longer kept, so they cannot be listed.",
            date_time(t)
        )),
        Some(_) => None,
    };
    text.map(|t| view! { <p class="rollup-note" role="note" data-testid="rollup-note">{t}</p> })
}
