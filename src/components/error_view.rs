//! How a failed request looks: the server's own message, in place of the part that failed.

use leptos::prelude::*;

use crate::api::ApiError;

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
///
/// `inline` makes it one line, for a place with little room (a toolbar, under a chart); `testid` is its
/// `data-testid` (default `error`).
#[component]
pub fn FetchError(
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(into)] what: String,
    #[prop(optional)] inline: bool,
    #[prop(optional, into)] testid: Option<&'static str>,
) -> impl IntoView {
    let testid = testid.unwrap_or("error");
    move || {
        error.get().map(|e| {
            let what = what.clone();
            if inline {
                view! {
                    <p class="fetch-error-line" role="alert" data-testid=testid>
                        {format!("Could not load {what}: {e}")}
                    </p>
                }
                .into_any()
            } else {
                view! {
                    <div class="error-box" role="alert" data-testid=testid>
                        <strong>"Could not load " {what}</strong>
                        <ul><li>{e.to_string()}</li></ul>
                    </div>
                }
                .into_any()
            }
        })
    }
}
