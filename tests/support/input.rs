//! Acting on the page as a user would: click, and set a form field (for tests that do not type).

use serde_json::json;

use super::Browser;

impl Browser {
    /// Waits for the element and clicks it.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Sets a `<select>` or an input as a user would: the value, then `input` and `change`.
    pub async fn set_value(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js(&format!(
            "const e = document.querySelector('{css}'); e.value = {}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}}));",
            json!(value)
        ))
        .await;
    }
}

impl Browser {
    /// Moves the (real) mouse pointer over the middle of the element matching `css`, as a user's hover.
    pub async fn hover(&self, css: &str) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let element = self.find(css).await;
        let mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element,
            duration: Some(std::time::Duration::from_millis(60)),
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(mouse).await.unwrap_or_else(|e| panic!("hover {css}: {e}"));
    }
}
