//! API tokens for scripts and trace exporters: create with a name and a scope (the secret is shown once,
//! to copy), list with their last use, revoke after confirming.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{NewToken, TokenInfo, TokenScope};

use super::{Confirm, Outcome, OutcomeLine};
use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::error_view::FetchError;
use crate::format::date_time;
use crate::hooks::use_polled_resource;

/// The scopes a token can have, with what each is for.
const SCOPES: &[(TokenScope, &str)] = &[
    (TokenScope::Ingest, "ingest — only sends traces (POST /v1/traces)"),
    (TokenScope::Viewer, "viewer — reads the API"),
    (TokenScope::Editor, "editor — reads, and changes boards"),
    (TokenScope::Admin, "admin — everything, users and tokens too"),
];

#[component]
pub fn TokensPanel(changed: RwSignal<u32>) -> impl IntoView {
    let tokens = use_polled_resource(api::tokens);
    let outcome = RwSignal::new(None::<Outcome>);
    let revoking = RwSignal::new(None::<TokenInfo>);
    let done = Callback::new(move |o: Outcome| {
        outcome.set(Some(o));
        tokens.refetch.run(());
        changed.update(|n| *n += 1);
    });
    let revoke = move |t: TokenInfo| {
        revoking.set(None);
        spawn_local(async move {
            done.run(match api::revoke_token(t.id).await {
                Ok(()) => Ok(format!("Revoked {:?}: it is refused from now on.", t.name)),
                Err(e) => Err(format!("{:?} not revoked: {e}", t.name)),
            });
        });
    };
    view! {
        <div class="panel admin-panel" data-testid="admin-tokens">
            <h2>"API tokens"</h2>
            <p class="muted small">
                "For scripts and OpenTelemetry exporters: send " <code>"Authorization: Bearer slt_…"</code> "."
            </p>
            <FetchError error=tokens.error what="the API tokens" />
            {move || tokens.data.get().map(|list| {
                if list.tokens.is_empty() {
                    return view! { <p class="muted" data-testid="tokens-none">"No API tokens yet."</p> }.into_any();
                }
                view! {
                    <table class="grid-table" data-testid="tokens-table">
                        <thead><tr><th>"Name"</th><th>"Scope"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                        <tbody>
                            {list.tokens.into_iter().map(|t| {
                                let r = t.clone();
                                view! {
                                    <tr data-testid="token-row" data-token=t.name.clone()>
                                        <td><strong>{t.name.clone()}</strong></td>
                                        <td>{t.scope.as_str()}</td>
                                        <td class="muted small">{format!("{} by {}", date_time(t.created_ms), t.created_by)}</td>
                                        <td class="muted small" data-testid="token-last-used">{t.last_used_ms.map(date_time).unwrap_or_else(|| "never".into())}</td>
                                        <td><button class="danger" data-testid="token-revoke" on:click=move |_| revoking.set(Some(r.clone()))>"Revoke"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            <OutcomeLine outcome=outcome testid="tokens-outcome" />
            <NewTokenForm done=done />
            {move || revoking.get().map(|t| {
                let title = format!("Revoke {:?}?", t.name);
                view! {
                    <Confirm title=title text="Whatever uses it is refused from its next request on. This cannot be undone."
                        yes="Revoke" on_yes=Callback::new(move |_| revoke(t.clone()))
                        on_no=Callback::new(move |_| revoking.set(None)) />
                }
            })}
        </div>
    }
}

/// Name and scope; the new token's secret is shown here, once.
#[component]
fn NewTokenForm(done: Callback<Outcome>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let scope = RwSignal::new(TokenScope::Ingest);
    let secret = RwSignal::new(None::<(String, String)>);
    let create = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let new = NewToken { name: name.get_untracked().trim().to_string(), scope: scope.get_untracked() };
        secret.set(None);
        spawn_local(async move {
            match api::create_token(new).await {
                Ok(c) => {
                    name.set(String::new());
                    secret.set(Some((c.token.name.clone(), c.secret)));
                    done.run(Ok(format!("Created {:?} ({}).", c.token.name, c.token.scope.as_str())));
                }
                Err(e) => done.run(Err(format!("Not created: {e}"))),
            }
        });
    };
    let pick_scope = move |e: leptos::ev::Event| {
        let v = event_target_value(&e);
        if let Some(&(s, _)) = SCOPES.iter().find(|(s, _)| s.as_str() == v) {
            scope.set(s);
        }
    };
    view! {
        <form class="admin-form" on:submit=create data-testid="token-form">
            <h3>"Create a token"</h3>
            <div class="inline-form">
                <input type="text" placeholder="name, e.g. ci" autocomplete="off" data-testid="token-name" bind:value=name />
                <select data-testid="token-scope" aria-label="Scope" on:change=pick_scope>
                    {SCOPES.iter().map(|&(s, label)| view! { <option value=s.as_str() selected=s == TokenScope::Ingest>{label}</option> }).collect_view()}
                </select>
                <button type="submit" class="primary" data-testid="token-create">"Create"</button>
            </div>
            {move || secret.get().map(|(who, s)| {
                let copy = s.clone();
                view! {
                    <div class="secret-box" data-testid="token-secret">
                        <p class="small">
                            <strong>{format!("The secret of {who:?}: copy it now. It is shown only this once")}</strong>
                            " — Sightline keeps only a hash of it, so it cannot be shown again. Lost it? Revoke the token and create a new one."
                        </p>
                        <div class="inline-form">
                            <input class="mono wide" readonly data-testid="token-secret-value" prop:value=s />
                            <CopyButton text=copy testid="token-secret-copy" />
                            <button type="button" data-testid="token-secret-done" on:click=move |_| secret.set(None)>"Done"</button>
                        </div>
                    </div>
                }
            })}
        </form>
    }
}
