//! The sign-in page (`/sign-in?next=<path>`): name and password, the server's answer in words (wrong name
//! or password; too many attempts, with how long to wait), then back to the page the user came from.
//!
//! The form is sent by `fetch` as JSON (the browser adds its `Origin`, which the server checks); it is a
//! `method="post"` form so that even before the app has loaded, a password never ends up in a URL.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use sightline_model::SignedInVia;

use crate::api::{self, SignInError};
use crate::hooks::{use_session, SIGN_IN_PATH};

/// Where to go after signing in: `next` when it is a path on this server, else the start page. Only
/// same-origin relative paths are followed (`/boards/x?range=1h`); never `//host`, `/\host`, `https://…`
/// or a path with control characters (which browsers drop, turning `/\t/host` into `//host`), so a link to
/// the sign-in page cannot send the user to another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control)
                && !n.starts_with(SIGN_IN_PATH) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let came_from = Memo::new(move |_| query.with(|q| q.get("next")));

    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (n, p) = (name.get_untracked().trim().to_string(), password.get_untracked());
        if n.is_empty() || p.is_empty() {
            problem.set(Some("Enter your name and password.".into()));
            return;
        }
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::sign_in(n, p).await {
                Ok(me) => {
                    session.set_me.run(me);
                    let next = safe_next(came_from.get_untracked().as_deref());
                    navigate(&next, NavigateOptions { replace: true, ..Default::default() });
                }
                Err(e) => {
                    if e == SignInError::WrongCredentials {
                        password.set(String::new());
                    }
                    problem.set(Some(e.to_string()));
                }
            }
            busy.set(false);
        });
    };

    view! {
        <section class="sign-in-page" data-testid="page-sign-in">
            <form class="sign-in-card panel" method="post" on:submit=submit data-testid="sign-in-form">
                <div class="brand sign-in-brand">
                    <img src="/assets/favicon.svg" alt="" width="28" height="28" />
                    "Sightline"
                </div>
                <h1>"Sign in"</h1>
                <WhyHere came_from=came_from />
                <label class="field">
                    <span>"Name"</span>
                    <input type="text" name="username" autocomplete="username" autocapitalize="none" spellcheck="false"
                        autofocus data-testid="sign-in-name" bind:value=name />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" data-testid="sign-in-password"
                        bind:value=password />
                </label>
                {move || problem.get().map(|p| view! { <p class="field-error" role="alert" data-testid="sign-in-error">{p}</p> })}
                <button type="submit" class="primary" data-testid="sign-in-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p class="muted small sign-in-help">
                    "No account, or forgot your password? An admin can add you or set a new password on the Admin page (or with "
                    <code>"sightline user"</code>
                    " on the server). The first admin's password is printed once in the server's log at its first start."
                </p>
            </form>
        </section>
    }
}

/// Why the page shows: a page that needs a session sent the user here, or they are signed in already (a
/// bookmark of this page, or a second account) — then as whom.
#[component]
fn WhyHere(came_from: Memo<Option<String>>) -> impl IntoView {
    let session = use_session();
    let signed_in_as = move || {
        session.me.with(|m| match m {
            Some(m) if m.via == SignedInVia::Session => m.name.clone().map(|n| format!("You are signed in as {n}.")),
            Some(m) if m.via == SignedInVia::Demo => Some("Automatic sign-in (demo) is on: you are the demo admin.".into()),
            _ => None,
        })
    };
    view! {
        {move || came_from.get().is_some().then(|| view! {
            <p class="muted small" data-testid="sign-in-reason">
                "Your session has ended or you are not signed in. After signing in you go back to the page you were on."
            </p>
        })}
        {move || signed_in_as().map(|t| view! { <p class="muted small">{t}</p> })}
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_followed_only_to_a_path_of_this_server() {
        assert_eq!(safe_next(Some("/boards/x?range=1h&service=shop")), "/boards/x?range=1h&service=shop");
        assert_eq!(safe_next(Some("/admin")), "/admin");
        for bad in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)", "", "boards", "/sign-in?next=/x"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
