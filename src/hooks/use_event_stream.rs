//! Server-sent events delivered to a callback, one call per message.
//!
//! leptos-use's `use_event_source` exposes the *latest* message as a signal; the hitmap must apply
//! every batch of points (a skipped batch is an undercount), so it gets each message in a callback.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent};

/// What [`use_event_stream`] reports.
#[derive(Clone, Copy)]
pub struct UseEventStreamReturn {
    /// `true` while the stream is open.
    pub connected: Signal<bool>,
}

/// Opens an `EventSource` on `url` whenever it is `Some`, re-opening when it changes, closing on
/// cleanup. `on_message(event_name, id, data)` gets every message (`id` is the SSE `id:` field, empty
/// when the server sent none). `on_open(reopened)` is called each time the stream opens: the server sends
/// only what happens after that, so the caller can refetch what it may have missed; the browser reconnects
/// by itself after errors, and `reopened` is true then.
pub fn use_event_stream(
    url: Signal<Option<String>>,
    on_message: impl Fn(&str, &str, String) + 'static,
    on_open: impl Fn(bool) + 'static,
    named_events: &'static [&'static str],
) -> UseEventStreamReturn {
    let connected = RwSignal::new(false);
    let on_message = std::rc::Rc::new(on_message);
    let on_open = std::rc::Rc::new(on_open);
    let current = StoredValue::new_local(None::<(EventSource, Vec<Closure<dyn FnMut(web_sys::Event)>>)>);
    let close = move || {
        current.update_value(|c| {
            if let Some((es, _closures)) = c.take() {
                es.close();
            }
        });
        connected.set(false);
    };
    Effect::new(move |_| {
        close();
        let Some(url) = url.get() else { return };
        let Ok(es) = EventSource::new(&url) else { return };
        let mut closures = Vec::new();
        let mut listen = |name: &str, f: Closure<dyn FnMut(web_sys::Event)>| {
            let _ = es.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
            closures.push(f);
        };
        let was_open = std::rc::Rc::new(std::cell::Cell::new(false));
        {
            let was_open = was_open.clone();
            let on_open = on_open.clone();
            listen(
                "open",
                Closure::new(move |_| {
                    connected.set(true);
                    on_open(was_open.replace(true));
                }),
            );
        }
        listen("error", Closure::new(move |_| connected.set(false)));
        for name in std::iter::once(&"message").chain(named_events) {
            let on_message = on_message.clone();
            let event = name.to_string();
            listen(
                name,
                Closure::new(move |e: web_sys::Event| {
                    if let Some(m) = e.dyn_ref::<MessageEvent>() {
                        if let Some(data) = m.data().as_string() {
                            on_message(&event, &m.last_event_id(), data);
                        }
                    }
                }),
            );
        }
        current.set_value(Some((es, closures)));
    });
    let close = SendWrapper::new(close);
    #[allow(clippy::redundant_closure)] // SendWrapper derefs to the closure but is not one itself
    on_cleanup(move || close());
    UseEventStreamReturn { connected: connected.into() }
}
