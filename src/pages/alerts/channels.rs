//! Where messages go: Slack incoming webhooks and generic JSON webhooks. A URL is a secret: it is typed
//! into a password field that is never filled in (the server sends back only a masked form), and left
//! empty when editing keeps the stored one. "Send test message" shows what the receiver answered.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sightline_model::{Channel, ChannelInput, ChannelKind, ChannelTestResult};

use super::Problems;
use crate::api::{self, ApiError};
use crate::components::error_view::FetchError;
use crate::hooks::{use_polled_resource_with_options, use_session, UsePolledResourceOptions};

/// Pending messages and delivery errors change as the server retries.
const CHANNELS_POLL_MS: u64 = 10_000;

fn kind_name(k: ChannelKind) -> &'static str {
    match k {
        ChannelKind::Slack => "slack",
        ChannelKind::Webhook => "webhook",
    }
}

/// The form: `None` closed, `Some(None)` a new channel, `Some(Some(c))` editing `c`.
type Editing = Option<Option<Channel>>;

#[component]
pub fn ChannelsTab() -> impl IntoView {
    let session = use_session();
    let list = use_polled_resource_with_options(api::channels, UsePolledResourceOptions::default().interval_ms(CHANNELS_POLL_MS));
    let editing = RwSignal::new(None::<Option<Channel>> as Editing);
    view! {
        <div class="panel">
            <div class="panel-head">
                <h2>"Channels"</h2>
                <span class="muted">"where alert messages go · URLs are kept on the server, shown masked"</span>
                <span class="spacer"></span>
                <Show when=move || session.is_admin()>
                    <button class="primary" data-testid="new-channel" on:click=move |_| editing.set(Some(None))>"Add channel"</button>
                </Show>
            </div>
            {move || editing.get().map(|c| view! {
                <ChannelForm channel=c on_done=Callback::new(move |saved: bool| { editing.set(None); if saved { list.refetch.run(()); } }) />
            })}
            <FetchError error=list.error what="the channels" />
            {move || list.data.get().map(|cs| {
                if cs.is_empty() {
                    return view! { <p class="empty-note" data-testid="channels-empty">"No channels yet."</p> }.into_any();
                }
                let rows = cs.into_iter().map(|c| view! { <ChannelRow c=c editing=editing refetch=list.refetch /> }).collect_view();
                view! {
                    <table class="grid-table" data-testid="channels-table">
                        <thead><tr><th>"Name"</th><th>"Kind"</th><th>"URL"</th><th class="num">"Pending"</th><th>"Last error"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }
                .into_any()
            })}
        </div>
    }
}

#[component]
fn ChannelRow(c: Channel, editing: RwSignal<Editing>, refetch: Callback<()>) -> impl IntoView {
    let session = use_session();
    let tested = RwSignal::new(None::<Result<ChannelTestResult, ApiError>>);
    let testing = RwSignal::new(false);
    let confirm = RwSignal::new(false);
    let delete_error = RwSignal::new(None::<ApiError>);
    let test = {
        let id = c.id.clone();
        move |_| {
            let id = id.clone();
            testing.set(true);
            spawn_local(async move {
                let r = api::test_channel(id).await;
                testing.set(false);
                tested.set(Some(r));
            });
        }
    };
    let delete = {
        let id = c.id.clone();
        move |_| {
            if !confirm.get_untracked() {
                return confirm.set(true);
            }
            let id = id.clone();
            spawn_local(async move {
                match api::delete_channel(id).await {
                    Ok(()) => refetch.run(()),
                    Err(e) => delete_error.set(Some(e)),
                }
            });
        }
    };
    let edit = {
        let c = c.clone();
        move |_| editing.set(Some(Some(c.clone())))
    };
    view! {
        <tr data-testid="channel-row" data-channel=c.id.clone()>
            <td><strong>{c.name.clone()}</strong><div class="muted small mono">{c.id.clone()}</div></td>
            <td>{kind_name(c.kind)}</td>
            <td class="mono small" data-testid="channel-url">{c.url_masked.clone()}</td>
            <td class="num" data-testid="channel-pending">{c.pending}</td>
            <td class="small">{c.last_error.clone().map(|e| view! { <span class="error-text" data-testid="channel-last-error">{e}</span> })}</td>
            <td><div class="row-actions">
                <Show when=move || session.is_admin()>
                    <button data-testid="test-channel" disabled=move || testing.get() on:click=test.clone()>
                        {move || if testing.get() { "Sending…" } else { "Send test message" }}
                    </button>
                    <button data-testid="edit-channel" on:click=edit.clone()>"Edit"</button>
                    <button class="danger" data-testid="delete-channel" on:click=delete.clone()>
                        {move || if confirm.get() { "Confirm delete" } else { "Delete" }}
                    </button>
                </Show>
                {move || tested.get().map(|r| match r {
                    Ok(t) => view! {
                        <div class="test-result" class:ok=t.ok class:bad=!t.ok data-testid="test-result" data-ok=t.ok.to_string()>
                            {format!("{} · {}{}", if t.ok { "Delivered" } else { "Failed" },
                                t.status.map(|s| format!("HTTP {s} · ")).unwrap_or_default(), t.message)}
                        </div>
                    }.into_any(),
                    Err(e) => view! { <div class="test-result bad" role="alert" data-testid="test-result" data-ok="false">{e.to_string()}</div> }.into_any(),
                })}
                <FetchError error=delete_error what="(delete failed)" inline=true testid="delete-error" />
            </div></td>
        </tr>
    }
}

/// Add or edit a channel. The URL field starts empty, always.
#[component]
fn ChannelForm(channel: Option<Channel>, on_done: Callback<bool>) -> impl IntoView {
    let id = channel.as_ref().map(|c| c.id.clone());
    let editing = id.is_some();
    let name = RwSignal::new(channel.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let kind = RwSignal::new(channel.as_ref().map_or(ChannelKind::Slack, |c| c.kind));
    let url = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<String>::new());
    let saving = RwSignal::new(false);
    let masked = channel.as_ref().map(|c| c.url_masked.clone());
    let save = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let u = url.get_untracked();
        let input = ChannelInput { name: name.get_untracked().trim().to_string(), kind: kind.get_untracked(), url: (!u.trim().is_empty()).then(|| u.trim().to_string()) };
        let id = id.clone();
        saving.set(true);
        spawn_local(async move {
            let r = api::save_channel(id, input).await;
            saving.set(false);
            match r {
                Ok(_) => {
                    // The secret leaves the page as soon as the server has it.
                    url.set(String::new());
                    on_done.run(true);
                }
                Err(e) => problems.set(e.problems()),
            }
        });
    };
    view! {
        <form class="alert-form" data-testid="channel-form" on:submit=save autocomplete="off">
            <h3>{if editing { "Edit channel" } else { "Add channel" }}</h3>
            <Problems problems=problems title="Not saved:" testid="channel-problems" />
            <div class="form-grid">
                <label class="field"><span>"Name"</span>
                    <input type="text" data-testid="channel-name" prop:value=move || name.get() on:input=move |e| name.set(event_target_value(&e)) />
                </label>
                <label class="field"><span>"Kind"</span>
                    <select data-testid="channel-kind" prop:value=move || kind_name(kind.get())
                        on:change=move |e| kind.set(if event_target_value(&e) == "webhook" { ChannelKind::Webhook } else { ChannelKind::Slack })>
                        <option value="slack">"Slack incoming webhook"</option>
                        <option value="webhook">"Generic JSON webhook"</option>
                    </select>
                </label>
                <label class="field wide"><span>{if editing { "Webhook URL (empty: keep the stored one)" } else { "Webhook URL" }}</span>
                    <input type="password" autocomplete="new-password" spellcheck="false" data-testid="channel-url-input"
                        placeholder=masked.unwrap_or_else(|| "https://hooks.slack.com/services/…".into())
                        prop:value=move || url.get() on:input=move |e| url.set(event_target_value(&e)) />
                </label>
            </div>
            <div class="modal-actions">
                <button type="button" on:click=move |_| on_done.run(false)>"Cancel"</button>
                <button type="submit" class="primary" data-testid="save-channel" disabled=move || saving.get()>"Save"</button>
            </div>
        </form>
    }
}
