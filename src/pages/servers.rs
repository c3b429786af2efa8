//! Per-process CPU and memory history. Routed now so links and navigation are stable.

use leptos::prelude::*;

#[component]
pub fn ServersPage() -> impl IntoView {
    view! {
        <section class="empty-state" data-testid="page-servers">
            <h1>"Servers"</h1>
            <p>"Per-process CPU and memory history is not available in this version yet."</p>
        </section>
    }
}
