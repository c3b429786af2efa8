//! The trace of one transaction: a waterfall of its steps (SQL, HTTP, methods, errors).

use leptos::prelude::*;

/// Shows the trace `trace_id`; `on_close` is called when the user closes the view.
#[component]
pub fn TraceView(#[prop(into)] trace_id: Signal<String>, on_close: Callback<()>) -> impl IntoView {
    view! {
        <aside class="trace-view" data-testid="trace-view">
            <button data-testid="trace-close" on:click=move |_| on_close.run(())>"Close"</button>
            <code data-testid="trace-id">{move || trace_id.get()}</code>
        </aside>
    }
}
