//! Rules and channels as JSON, so a team keeps them in version control: download the export, import a
//! file or pasted text. The server checks an import whole and lists every problem; nothing is applied
//! when there is one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::Problems;
use crate::api;
use crate::hooks::use_session;
use crate::pages::board::download_text;

#[component]
pub fn ExportImport() -> impl IntoView {
    let session = use_session();
    let open = RwSignal::new(false);
    let export_error = RwSignal::new(None::<String>);
    let download = move |_| {
        spawn_local(async move {
            match api::alerts_export().await {
                Ok(x) => {
                    export_error.set(None);
                    download_text("sightline-alerts.json", &serde_json::to_string_pretty(&x).unwrap_or_default());
                }
                Err(e) => export_error.set(Some(format!("Export failed: {e}"))),
            }
        });
    };
    view! {
        <Show when=move || session.can_edit()>
            <button data-testid="alerts-export" on:click=download>"Export JSON"</button>
        </Show>
        <Show when=move || session.is_admin()>
            <button data-testid="alerts-import-open" on:click=move |_| open.update(|o| *o = !*o)>"Import JSON"</button>
        </Show>
        {move || export_error.get().map(|m| view! { <span class="fetch-chip" role="alert" data-testid="export-error">{m}</span> })}
        <Show when=move || open.get()>
            <ImportDialog on_close=Callback::new(move |()| open.set(false)) />
        </Show>
    }
}

#[component]
fn ImportDialog(on_close: Callback<()>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<String>::new());
    let done = RwSignal::new(false);
    let pick_file = move |e: leptos::ev::Event| {
        let Some(input) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            match JsFuture::from(file.text()).await.map(|v| v.as_string()) {
                Ok(Some(t)) => text.set(t),
                _ => problems.set(vec![format!("Could not read {:?} as text.", file.name())]),
            }
        });
    };
    let import = move |_| {
        let json = text.get_untracked();
        spawn_local(async move {
            match api::alerts_import(json).await {
                Ok(_) => {
                    problems.set(Vec::new());
                    done.set(true);
                }
                Err(e) => {
                    done.set(false);
                    problems.set(e.problems());
                }
            }
        });
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal" role="dialog" aria-label="Import alerts" data-testid="alerts-import" on:click=|e| e.stop_propagation()>
                <h2>"Import rules and channels"</h2>
                <p class="muted small">"JSON exported from any Sightline. It is checked first: nothing changes if anything is wrong. Channel URLs are never exported: a new channel needs its URL set here afterwards."</p>
                <input type="file" accept="application/json,.json" data-testid="alerts-import-file" on:change=pick_file />
                <textarea class="json" rows="10" placeholder="…or paste the JSON here" data-testid="alerts-import-json"
                    prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))></textarea>
                <Problems problems=problems title="Not imported. Nothing was changed." testid="import-problems" />
                <Show when=move || done.get()>
                    <p class="ok-text" data-testid="import-done">"Imported."</p>
                </Show>
                <div class="modal-actions">
                    <button on:click=move |_| on_close.run(())>"Close"</button>
                    <button class="primary" data-testid="alerts-import-send" disabled=move || text.with(|t| t.trim().is_empty()) on:click=import>"Import"</button>
                </div>
            </div>
        </div>
    }
}
