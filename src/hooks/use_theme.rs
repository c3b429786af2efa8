//! Dark or light: the user's choice, remembered in local storage, else the system's preference; applied as
//! `data-theme` on `<html>`, which the style sheets key on.
//!
//! Written here rather than taken from leptos-use's `use_color_mode`: that one also brings cookies, a date
//! parser, a broadcast channel and custom modes (~85 KB of wasm) for what is a stored word and an attribute.

use leptos::prelude::*;

/// Where the choice is kept (the key and the words `dark` / `light` are those `use_color_mode` wrote, so a
/// choice made before stays). `index.html` reads it the same way before the app runs, against a flash of the
/// other theme on load; keep the two in step.
const STORAGE_KEY: &str = "sightline-theme";

/// The two themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Dark,
    Light,
}

impl Theme {
    fn as_str(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }
}

/// What [`use_theme`] gives back.
#[derive(Clone, Copy)]
pub struct UseThemeReturn {
    /// The theme shown.
    pub theme: Signal<Theme>,
    /// Shows and remembers a theme.
    pub set_theme: Callback<Theme>,
}

/// The theme of the page: read once (storage, else `prefers-color-scheme`), applied to `<html>` now and on
/// every change.
pub fn use_theme() -> UseThemeReturn {
    let storage = window().local_storage().ok().flatten();
    let stored = storage.as_ref().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    let initial = match stored.as_deref() {
        Some("dark") => Theme::Dark,
        Some("light") => Theme::Light,
        _ => match window().match_media("(prefers-color-scheme: dark)") {
            Ok(Some(q)) if q.matches() => Theme::Dark,
            _ => Theme::Light,
        },
    };
    let theme = RwSignal::new(initial);
    Effect::new(move |_| {
        if let Some(html) = document().document_element() {
            // Cannot fail for a valid attribute name.
            let _ = html.set_attribute("data-theme", theme.get().as_str());
        }
    });
    let set_theme = Callback::new(move |t: Theme| {
        theme.set(t);
        // Without storage (private mode, full quota) the choice holds until the page closes.
        if let Some(s) = &storage {
            let _ = s.set_item(STORAGE_KEY, t.as_str());
        }
    });
    UseThemeReturn { theme: theme.into(), set_theme }
}
