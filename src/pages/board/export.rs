//! The board as JSON, to copy or download and import elsewhere.

use leptos::prelude::*;
use sightline_model::Board;

use crate::hooks::use_copy_to_clipboard;

/// The board as JSON: to copy, or to download as a file.
#[component]
pub fn ExportDialog(board: Board, on_close: Callback<()>) -> impl IntoView {
    let json = serde_json::to_string_pretty(&board).unwrap_or_default();
    let file = format!("{}.json", board.id);
    let copy = use_copy_to_clipboard();
    let download = {
        let json = json.clone();
        move |_| download_text(&file, &json)
    };
    let j = json.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal" role="dialog" aria-label="Export" data-testid="export-dialog" on:click=|e| e.stop_propagation()>
                <h2>"Export board"</h2>
                <p class="muted small">"Import it on any Sightline from the boards list. Board variables and the time range are included."</p>
                <textarea class="json" readonly rows="16" data-testid="export-json" prop:value=json></textarea>
                <div class="modal-actions">
                    <button class="primary" data-testid="export-download" on:click=download>"Download"</button>
                    <button on:click=move |_| copy.copy.run(j.clone())>
                        {move || copy.state.get().label("Copy")}
                    </button>
                    <button on:click=move |_| on_close.run(())>"Close"</button>
                </div>
            </div>
        </div>
    }
}

/// Saves `text` as a file the browser downloads.
pub fn download_text(name: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/json");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let doc = web_sys::window().and_then(|w| w.document());
    if let Some(a) = doc.and_then(|d| d.create_element("a").ok()) {
        use wasm_bindgen::JsCast;
        let a: web_sys::HtmlAnchorElement = a.unchecked_into();
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

