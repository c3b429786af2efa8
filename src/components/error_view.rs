//! How a failed request looks: the server's own message, in place of the part that failed.

use leptos::prelude::*;

/// Fallback for `<ErrorBoundary>`: lists every error under a short title.
#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="error-box" role="alert" data-testid="error">
            <strong>"Could not load this view"</strong>
            <ul>
                {move || {
                    errors.get().into_iter().map(|(_, e)| view! { <li>{e.to_string()}</li> }).collect_view()
                }}
            </ul>
        </div>
    }
}

/// A failed fetch, shown where its data would have been (beside the last good data, if any). Renders
/// nothing while `error` is `None`. `what` names the data in the title ("DB metrics", "services").
#[component]
pub fn FetchError(error: Signal<Option<crate::api::ApiError>>, #[prop(into)] what: String) -> impl IntoView {
    move || {
        error.get().map(|e| {
            let what = what.clone();
            view! {
                <div class="error-box" role="alert" data-testid="error">
                    <strong>"Could not load " {what}</strong>
                    <ul><li>{e.to_string()}</li></ul>
                </div>
            }
        })
    }
}
