//! Share links of one board (editors and admins): make a signed, expiring, read-only link for people who
//! cannot sign in — shown once, to copy — and see and revoke the board's links. The board's share dialog
//! shows it under the plain links for people who can sign in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use sightline_model::ShareInfo;

use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::error_view::FetchError;
use crate::format::date_time;
use crate::hooks::{use_polled_resource, use_session};

/// How long a new link works: (label, seconds). The server allows up to 365 days.
const EXPIRIES: &[(&str, u64)] = &[
    ("1 day", 86_400),
    ("7 days", 7 * 86_400),
    ("30 days", 30 * 86_400),
    ("365 days", 365 * 86_400),
];

/// The links of the board of the page it is on (`/boards/{id}`). Renders nothing for viewers.
#[component]
pub fn ShareLinks() -> impl IntoView {
    let session = use_session();
    view! {
        <Show when=move || session.can_edit()>
            <ShareLinksPanel />
        </Show>
    }
}

#[component]
fn ShareLinksPanel() -> impl IntoView {
    let params = use_params_map();
    let board_id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let links = use_polled_resource(move || api::board_shares(board_id.get()));
    let expiry = RwSignal::new(7 * 86_400u64);
    let created = RwSignal::new(None::<(String, i64)>);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let create = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::create_share(board_id.get_untracked(), expiry.get_untracked()).await {
                Ok(c) => {
                    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
                    created.set(Some((format!("{origin}{}", c.path), c.share.expires_ms)));
                    problem.set(None);
                    links.refetch.run(());
                }
                Err(e) => problem.set(Some(format!("No link made: {e}"))),
            }
            busy.set(false);
        });
    };
    let revoke = Callback::new(move |id: String| {
        spawn_local(async move {
            match api::revoke_share(id).await {
                Ok(()) => problem.set(None),
                Err(e) => problem.set(Some(format!("Not revoked: {e}"))),
            }
            links.refetch.run(());
        });
    });

    view! {
        <div class="share-links" data-testid="share-links">
            <h3>"A link for people without an account"</h3>
            <p class="muted small">
                "Anyone with the link can read this board (and the data its widgets show) without signing in, until it expires or is revoked. Nothing else: no other board, no traces."
            </p>
            <div class="inline-form">
                <label>"Works for "
                    <select data-testid="share-expiry" on:change=move |e| {
                        if let Ok(secs) = event_target_value(&e).parse() { expiry.set(secs) }
                    }>
                        {EXPIRIES.iter().map(|&(label, secs)| view! {
                            <option value=secs.to_string() selected=secs == expiry.get_untracked()>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button class="primary" data-testid="share-create" disabled=move || busy.get() on:click=create>"Create link"</button>
            </div>
            {move || created.get().map(|(url, expires)| {
                let u = url.clone();
                view! {
                    <div class="secret-box" data-testid="share-created">
                        <p class="small"><strong>"Copy the link now: it is shown only this once."</strong>
                            {format!(" It works until {}.", date_time(expires))}</p>
                        <div class="inline-form">
                            <input class="share-link mono" readonly data-testid="share-created-link" prop:value=url />
                            <CopyButton text=u />
                        </div>
                    </div>
                }
            })}
            {move || problem.get().map(|p| view! { <p class="field-error" role="alert" data-testid="share-problem">{p}</p> })}
            <FetchError error=links.error what="the board's links" />
            {move || links.data.get().map(|l| view! { <LinkTable shares=l.shares revoke=revoke /> })}
        </div>
    }
}

#[component]
fn LinkTable(shares: Vec<ShareInfo>, revoke: Callback<String>) -> impl IntoView {
    if shares.is_empty() {
        return view! { <p class="muted small" data-testid="share-none">"This board has no share links."</p> }.into_any();
    }
    let now = js_sys::Date::now() as i64;
    view! {
        <table class="grid-table small" data-testid="share-list">
            <thead><tr><th>"Made by"</th><th>"Made"</th><th>"Expires"</th><th></th></tr></thead>
            <tbody>
                {shares.into_iter().map(|s| {
                    let id = s.id.clone();
                    let expired = s.expires_ms <= now;
                    view! {
                        <tr data-testid="share-row" data-share-id=s.id.clone()>
                            <td>{s.created_by}</td>
                            <td>{date_time(s.created_ms)}</td>
                            <td class:error-text=expired>
                                {date_time(s.expires_ms)}{expired.then_some(" (expired)")}
                            </td>
                            <td><button class="danger" data-testid="share-revoke" on:click=move |_| revoke.run(id.clone())>"Revoke"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
