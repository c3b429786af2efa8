//! Links to this board: read-only with the range shown now, and a wall-screen (kiosk) variant.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::share_links::ShareLinks;

/// A link that opens this board read-only with the range shown now.
#[component]
pub fn ShareDialog(on_close: Callback<()>) -> impl IntoView {
    let query = use_query_map();
    let link = Memo::new(move |_| {
        let loc = web_sys::window().map(|w| w.location());
        let origin = loc.as_ref().and_then(|l| l.origin().ok()).unwrap_or_default();
        let path = loc.as_ref().and_then(|l| l.pathname().ok()).unwrap_or_default();
        let q = query.get();
        let mut params: Vec<(&str, Option<String>)> = ["range", "from", "to", "live", "service"].iter().map(|k| (*k, q.get(k))).collect();
        params.push(("readonly", Some("1".into())));
        format!("{origin}{}", api::with_query(&path, &params))
    });
    // For a wall screen: no menus, and a relative range keeps moving with the clock.
    let tv_link = Memo::new(move |_| {
        let l = link.get().replace("readonly=1", "kiosk=1");
        if l.contains("range=") { l.replace("&live=0", "") } else { l }
    });
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal" role="dialog" aria-label="Share" data-testid="share-dialog" on:click=|e| e.stop_propagation()>
                <h2>"Share this board"</h2>
                <p class="muted small">"For people who can sign in: the link opens the board read-only, with the time range and service shown now."</p>
                <div class="inline-form">
                    <input class="share-link" readonly data-testid="share-link" prop:value=move || link.get() />
                    <CopyButton text=link />
                </div>
                <p class="muted small">"For a wall screen (no menus, live):"</p>
                <div class="inline-form">
                    <input class="share-link" readonly data-testid="share-tv-link" prop:value=move || tv_link.get() />
                    <CopyButton text=tv_link />
                </div>
                <ShareLinks />
                <div class="modal-actions">
                    <button on:click=move |_| on_close.run(())>"Close"</button>
                </div>
            </div>
        </div>
    }
}

