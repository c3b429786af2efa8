//! Is the server reachable? Polled, so the shell can say so instead of showing stale data silently.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_use::use_interval_fn;

/// How often health is polled.
pub const HEALTH_POLL_MS: u64 = 3_000;

/// `None` until the first answer, then whether the last health check succeeded.
pub fn use_server_health() -> Signal<Option<bool>> {
    let ok = RwSignal::new(None::<bool>);
    let check = move || {
        spawn_local(async move {
            let reachable = crate::api::health().await.is_ok();
            if ok.get_untracked() != Some(reachable) {
                ok.set(Some(reachable));
            }
        })
    };
    check();
    use_interval_fn(check, HEALTH_POLL_MS);
    ok.into()
}
