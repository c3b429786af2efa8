//! The admin page (`/admin`, admins only): users, API tokens, settings and the audit log, one panel each
//! (`admin/*.rs`). Every change is answered in words beside the panel that made it, and the audit log
//! follows (each panel bumps `changed`).

mod audit;
mod tokens;
mod users;

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::AuthSettings;

use crate::api;
use crate::components::error_view::FetchError;
use crate::hooks::{use_polled_resource, use_session};

use audit::AuditPanel;
use tokens::TokensPanel;
use users::UsersPanel;

/// What the last action of a panel did (`Ok`) or why it failed (`Err`), in words.
type Outcome = Result<String, String>;

#[component]
pub fn AdminPage() -> impl IntoView {
    let session = use_session();
    let changed = RwSignal::new(0u32);
    view! {
        <section class="admin-page" data-testid="page-admin">
            <h1 class="page-title">"Admin"</h1>
            <Show when=move || session.is_admin() fallback=move || {
                session.me.with(|m| m.is_some()).then(|| view! {
                    <div class="error-box" role="alert" data-testid="admin-only">
                        "Only admins manage users, API tokens and settings. Ask an admin if you need a change."
                    </div>
                })
            }>
                <div class="admin-grid">
                    <UsersPanel changed=changed />
                    <TokensPanel changed=changed />
                </div>
                <SettingsPanel changed=changed />
                <AuditPanel changed=changed />
            </Show>
        </section>
    }
}

/// A panel's last outcome, under its form.
#[component]
fn OutcomeLine(outcome: RwSignal<Option<Outcome>>, #[prop(into)] testid: String) -> impl IntoView {
    move || {
        outcome.get().map(|o| match o {
            Ok(m) => view! { <p class="notice ok" data-testid=testid.clone()>{m}</p> }.into_any(),
            Err(m) => view! { <p class="notice error-text" role="alert" data-testid=testid.clone()>{m}</p> }.into_any(),
        })
    }
}

/// Asks before something that cannot be undone.
#[component]
fn Confirm(
    #[prop(into)] title: String,
    #[prop(into)] text: String,
    yes: &'static str,
    on_yes: Callback<()>,
    on_no: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="modal-backdrop" on:click=move |_| on_no.run(())>
            <div class="modal narrow" role="alertdialog" data-testid="confirm-dialog" on:click=|e| e.stop_propagation()>
                <h2>{title}</h2>
                <p>{text}</p>
                <div class="modal-actions">
                    <button class="danger" data-testid="confirm-yes" on:click=move |_| on_yes.run(())>{yes}</button>
                    <button data-testid="confirm-no" on:click=move |_| on_no.run(())>"Cancel"</button>
                </div>
            </div>
        </div>
    }
}

/// Anonymous viewers on or off: reading without signing in.
#[component]
fn SettingsPanel(changed: RwSignal<u32>) -> impl IntoView {
    let settings = use_polled_resource(api::settings);
    let outcome = RwSignal::new(None::<Outcome>);
    let set_anonymous = move |e: leptos::ev::Event| {
        let input = event_target::<web_sys::HtmlInputElement>(&e);
        let on = input.checked();
        spawn_local(async move {
            outcome.set(Some(match api::save_settings(AuthSettings { anonymous_viewers: on }).await {
                Ok(s) if s.anonymous_viewers => Ok("Anonymous viewers are on: anyone who can reach Sightline reads everything a viewer can.".into()),
                Ok(_) => Ok("Anonymous viewers are off: everyone signs in.".into()),
                Err(e) => {
                    // Back to what is stored (the box is patched in place, not redrawn).
                    input.set_checked(!on);
                    Err(format!("Not changed: {e}"))
                }
            }));
            settings.refetch.run(());
            changed.update(|n| *n += 1);
        });
    };
    view! {
        <div class="panel admin-panel" data-testid="admin-settings">
            <h2>"Settings"</h2>
            <FetchError error=settings.error what="the settings" />
            {move || settings.data.get().map(|s| view! {
                <label class="check">
                    <input type="checkbox" data-testid="anonymous-viewers" prop:checked=s.anonymous_viewers
                        on:change=set_anonymous />
                    <span>
                        <strong>"Anonymous viewers"</strong>
                        " — people who are not signed in can read everything a viewer can (traces with their SQL, database sessions, every board), and change nothing."
                    </span>
                </label>
            })}
            <OutcomeLine outcome=outcome testid="settings-outcome" />
        </div>
    }
}
