//! Router and app shell.
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    view! { <h1>"Sightline"</h1> }
}
