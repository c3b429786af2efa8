//! Flex boards: user-built dashboards (issue 5). Routed now so links and navigation are stable.

use leptos::prelude::*;

#[component]
pub fn BoardsPage() -> impl IntoView {
    view! {
        <section class="empty-state" data-testid="page-boards">
            <h1>"Flex boards"</h1>
            <p>"Dashboards you build from a catalogue of widgets are not available in this version yet."</p>
        </section>
    }
}
