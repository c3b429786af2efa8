//! Answers the page asked for before the app ran. On a cold load the wasm takes a few hundred ms to arrive,
//! compile and mount; `index.html` starts the APM page's first hitmap request meanwhile (a small inline
//! script, as `window.__sightline_prefetch = { at, requests: { url: promise } }`; the promise gives the body's
//! text for a successful answer, read by the page so the app need not wait a task for it, and the `Response`
//! for any other). The app adopts such an answer when its own first request is the very same URL, which is why a live window that is resolved
//! while such an answer waits ends at the moment the script chose ([`started_at`],
//! `crate::hooks::live_now_ms`).
//!
//! Each answer is taken once: a later request for the same URL (a refetch) goes to the server.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The global `index.html` fills.
const GLOBAL: &str = "__sightline_prefetch";

fn global() -> Option<JsValue> {
    let window: JsValue = web_sys::window()?.into();
    let p = Reflect::get(&window, &JsValue::from_str(GLOBAL)).ok()?;
    (!p.is_undefined() && !p.is_null()).then_some(p)
}

/// When the page chose the window of its own requests (epoch ms), while one of them is still to be taken.
pub fn started_at() -> Option<i64> {
    let global = global()?;
    let requests = Reflect::get(&global, &JsValue::from_str("requests")).ok()?;
    let waiting = js_sys::Object::keys(requests.dyn_ref::<js_sys::Object>()?).length() > 0;
    waiting.then(|| Reflect::get(&global, &JsValue::from_str("at")).ok()?.as_f64()).flatten().map(|t| t as i64)
}

/// The page's request for `path` (a promise of the body's text or of the `Response`), removed so it is used once.
pub fn take(path: &str) -> Option<JsFuture> {
    let requests = Reflect::get(&global()?, &JsValue::from_str("requests")).ok()?;
    let key = JsValue::from_str(path);
    let promise = Reflect::get(&requests, &key).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    // Only fails on a frozen object, which this is not.
    let _ = Reflect::delete_property(requests.unchecked_ref::<js_sys::Object>(), &key);
    Some(JsFuture::from(promise))
}
