//! Any path the router does not know.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn NotFound() -> impl IntoView {
    let path = use_location().pathname;
    view! {
        <section class="empty-state" data-testid="page-not-found">
            <h1>"Nothing here"</h1>
            <p>"There is no page at " <code>{move || path.get()}</code> "."</p>
            <p><a href="/apm">"Go to the APM hitmap"</a></p>
        </section>
    }
}
