//! Copies text with `navigator.clipboard` and says whether it worked, so a "copy" button next to an ID can
//! answer "copied" (or admit it could not: the browser may refuse outside a secure context or without
//! focus), then return to rest after a moment.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

/// Where a copy stands, for the button's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    Idle,
    Copied,
    Failed,
}

impl CopyState {
    /// A copy button's label: `idle` at rest, then what happened.
    pub fn label(self, idle: &'static str) -> &'static str {
        match self {
            CopyState::Idle => idle,
            CopyState::Copied => "Copied",
            CopyState::Failed => "Copy failed",
        }
    }
}

/// Options of [`use_copy_to_clipboard_with_options`].
#[derive(Debug, Clone, Copy)]
pub struct UseCopyToClipboardOptions {
    /// How long `Copied`/`Failed` stays before going back to `Idle`, ms. Default 1500.
    pub reset_after_ms: u64,
}

impl Default for UseCopyToClipboardOptions {
    fn default() -> Self {
        Self { reset_after_ms: 1500 }
    }
}

/// What [`use_copy_to_clipboard`] gives a component.
#[derive(Clone, Copy)]
pub struct UseCopyToClipboardReturn {
    pub state: Signal<CopyState>,
    /// Copies the text; `state` follows.
    pub copy: Callback<String>,
}

/// [`use_copy_to_clipboard_with_options`] with default options.
pub fn use_copy_to_clipboard() -> UseCopyToClipboardReturn {
    use_copy_to_clipboard_with_options(UseCopyToClipboardOptions::default())
}

/// Copies through the async Clipboard API (no hidden `<textarea>` tricks): it works wherever the app runs
/// (localhost or HTTPS) and says so when it does not.
pub fn use_copy_to_clipboard_with_options(options: UseCopyToClipboardOptions) -> UseCopyToClipboardReturn {
    let state = RwSignal::new(CopyState::Idle);
    // Each copy bumps the generation, so an older reset timer does not clear a newer "copied".
    let generation = RwSignal::new(0u64);
    let reset_after = Duration::from_millis(options.reset_after_ms);
    let copy = Callback::new(move |text: String| {
        let Some(gen) = generation.try_update(|g| {
            *g += 1;
            *g
        }) else {
            return;
        };
        spawn_local(async move {
            let promise = window().navigator().clipboard().write_text(&text);
            let outcome = match JsFuture::from(promise).await {
                Ok(_) => CopyState::Copied,
                Err(_) => CopyState::Failed,
            };
            if generation.try_get_untracked() != Some(gen) {
                return;
            }
            state.try_set(outcome);
            set_timeout(
                move || {
                    if generation.try_get_untracked() == Some(gen) {
                        state.try_set(CopyState::Idle);
                    }
                },
                reset_after,
            );
        });
    });
    UseCopyToClipboardReturn { state: state.into(), copy }
}
