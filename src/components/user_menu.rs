//! The top bar's right end: who the app is talking as, and what they can do about it — a signed-in user's
//! menu (change password, sign out, sign out everywhere), the Admin link for admins, and a clear
//! "demo admin (automatic sign-in)" when the server signs every visitor in (`--demo` on loopback).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;
use sightline_model::{Me, SignedInVia};

use crate::api;
use crate::hooks::{use_session, SIGN_IN_PATH};

#[component]
pub fn UserMenu() -> impl IntoView {
    let session = use_session();
    view! {
        <div class="user-area" data-testid="user-area">
            <Show when=move || session.is_admin()>
                <nav class="main-nav">
                    <A
                        href="/admin"
                        attr:data-testid="nav-admin"
                        on:pointerenter=|_| crate::app::preload_page("/admin")
                        on:focus=|_| crate::app::preload_page("/admin")
                    >
                        "Admin"
                    </A>
                </nav>
            </Show>
            {move || match session.me.get() {
                Some(me) => who(me).into_any(),
                None => session.error.get().map(|e| view! {
                    <span class="chip warn" role="alert" data-testid="user-unknown">
                        {format!("Cannot tell who is signed in: {e}")}
                    </span>
                }).into_any(),
            }}
        </div>
    }
}

/// The part that depends on how the app is signed in.
fn who(me: Me) -> impl IntoView {
    let role = me.role.map(|r| r.to_string()).unwrap_or_default();
    match me.via {
        SignedInVia::Session => view! { <SessionMenu name=me.name.unwrap_or_default() role=role /> }.into_any(),
        SignedInVia::Demo => view! {
            <span class="chip warn user-demo" data-testid="user-demo"
                title="Started with --demo on this machine: every visitor is signed in as an admin. Never on a network address.">
                <strong>"demo admin"</strong>
                <span class="user-demo-how">" (automatic sign-in)"</span>
            </span>
        }
        .into_any(),
        SignedInVia::Token => view! {
            <span class="chip" data-testid="user-token">{format!("token {} · {role}", me.name.unwrap_or_default())}</span>
        }
        .into_any(),
        SignedInVia::Share => view! {
            <span class="chip" data-testid="user-share">"shared board · read-only"</span>
            <SignInLink />
        }
        .into_any(),
        SignedInVia::Anonymous => view! {
            {me.role.is_some().then(|| view! { <span class="chip" data-testid="user-anonymous">"anonymous viewer"</span> })}
            <SignInLink />
        }
        .into_any(),
    }
}

/// To the sign-in page, coming back to this page (without a share link's token) afterwards.
#[component]
fn SignInLink() -> impl IntoView {
    let path = use_location().pathname;
    let href = move || format!("{SIGN_IN_PATH}?next={}", js_sys::encode_uri_component(&path.get()));
    view! { <a class="sign-in-link" href=href data-testid="sign-in-link">"Sign in"</a> }
}

/// A signed-in user: name and role; the menu to change the password or sign out.
#[component]
fn SessionMenu(name: String, role: String) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let open = RwSignal::new(false);
    let password_open = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let sign_out = move |everywhere: bool| {
        let navigate = navigate.clone();
        spawn_local(async move {
            let done = if everywhere { api::sign_out_everywhere().await } else { api::sign_out().await };
            match done {
                Ok(()) => {
                    open.set(false);
                    navigate(SIGN_IN_PATH, NavigateOptions::default());
                    session.refetch.run(());
                }
                Err(e) => problem.set(Some(format!("Not signed out: {e}"))),
            }
        });
    };
    let sign_out_everywhere = sign_out.clone();
    view! {
        <div class="user-menu">
            <button class="user-button" data-testid="user-menu-button" aria-haspopup="menu"
                aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                <span data-testid="user-name">{name.clone()}</span>
                <span class="chip role-chip" data-testid="user-role">{role}</span>
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <div class="popover user-popover" role="menu" data-testid="user-menu">
                    <p class="muted small">{format!("Signed in as {name}")}</p>
                    <button role="menuitem" data-testid="change-password"
                        on:click=move |_| { open.set(false); password_open.set(true); }>"Change password…"</button>
                    <button role="menuitem" data-testid="sign-out" on:click={ let s = sign_out.clone(); move |_| s(false) }>"Sign out"</button>
                    <button role="menuitem" data-testid="sign-out-everywhere" title="Ends your sessions on every browser and device"
                        on:click={ let s = sign_out_everywhere.clone(); move |_| s(true) }>"Sign out everywhere"</button>
                    {move || problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                </div>
            </Show>
            <Show when=move || password_open.get()>
                <PasswordDialog on_close=Callback::new(move |_| password_open.set(false)) />
            </Show>
        </div>
    }
}

/// The user changes their own password: the current one, the new one twice.
#[component]
fn PasswordDialog(on_close: Callback<()>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let (c, n) = (current.get_untracked(), new.get_untracked());
        if n != repeat.get_untracked() {
            outcome.set(Some(Err("The new password and its repetition differ.".into())));
            return;
        }
        busy.set(true);
        spawn_local(async move {
            outcome.set(Some(match api::change_password(c, n).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    repeat.set(String::new());
                    Ok("Password changed. Your other sessions have ended; this one goes on.".into())
                }
                Err(e) => Err(format!("Not changed: {e}")),
            }));
            busy.set(false);
        });
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <form class="modal narrow" role="dialog" aria-label="Change password" data-testid="password-dialog" method="post"
                on:click=|e| e.stop_propagation() on:submit=submit>
                <h2>"Change your password"</h2>
                <label class="field"><span>"Current password"</span>
                    <input type="password" autocomplete="current-password" data-testid="password-current" bind:value=current /></label>
                <label class="field"><span>"New password (at least 8 characters)"</span>
                    <input type="password" autocomplete="new-password" data-testid="password-new" bind:value=new /></label>
                <label class="field"><span>"New password again"</span>
                    <input type="password" autocomplete="new-password" data-testid="password-repeat" bind:value=repeat /></label>
                {move || outcome.get().map(|o| match o {
                    Ok(m) => view! { <p class="notice ok" data-testid="password-outcome">{m}</p> }.into_any(),
                    Err(m) => view! { <p class="field-error" role="alert" data-testid="password-outcome">{m}</p> }.into_any(),
                })}
                <div class="modal-actions">
                    <button type="submit" class="primary" data-testid="password-save" disabled=move || busy.get()>"Change password"</button>
                    <button type="button" on:click=move |_| on_close.run(())>"Close"</button>
                </div>
            </form>
        </div>
    }
}
