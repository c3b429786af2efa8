//! A signal that follows another once it has stopped changing for a while: a live preview asks the
//! server once the user pauses typing, not at every keystroke.

use std::time::Duration;

use leptos::leptos_dom::helpers::{set_timeout_with_handle, TimeoutHandle};
use leptos::prelude::*;

/// `source`'s value, `ms` after its last change (its first value at once). The pending timer is
/// cancelled when the calling scope goes away.
pub fn use_debounced<T>(source: impl Into<Signal<T>>, ms: u64) -> Signal<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let source = source.into();
    let out = RwSignal::new(source.get_untracked());
    let timer = StoredValue::new(None::<TimeoutHandle>);
    Effect::watch(
        move || source.get(),
        move |v, _, _| {
            if let Some(t) = timer.get_value() {
                t.clear();
            }
            let v = v.clone();
            let handle = set_timeout_with_handle(
                move || {
                    if out.with_untracked(|o| *o != v) {
                        out.set(v);
                    }
                },
                Duration::from_millis(ms),
            )
            .ok();
            timer.set_value(handle);
        },
        false,
    );
    on_cleanup(move || {
        if let Some(t) = timer.try_get_value().flatten() {
            t.clear();
        }
    });
    out.into()
}
