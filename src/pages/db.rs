//! The database instance page (issue 6). Routed now so links and navigation are stable.

use leptos::prelude::*;

#[component]
pub fn DbPage() -> impl IntoView {
    view! {
        <section class="empty-state" data-testid="page-db">
            <h1>"Database"</h1>
            <p>"PostgreSQL monitoring is not available in this version yet. It will start with "
                <code>"sightline serve --postgres postgres://user@host/db"</code> "."</p>
        </section>
    }
}
