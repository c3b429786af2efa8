//! A button that copies a text and says whether it worked ("Copied", "Copy failed"), for secrets shown once.

use leptos::prelude::*;

use crate::hooks::use_copy_to_clipboard;

#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(optional, into)] testid: Option<String>) -> impl IntoView {
    let copy = use_copy_to_clipboard();
    view! {
        <button type="button" data-testid=testid on:click=move |_| copy.copy.run(text.get_untracked())>
            {move || copy.state.get().label("Copy")}
        </button>
    }
}
