//! Click a moment or drag a window on a time plot, with pointer events (mouse, pen and touch alike, the
//! pointer captured so a drag may leave the element). The plot's geometry ([`PlotSpan`]) turns pixels into
//! times; a press that starts or ends beside the plot (in an axis margin) is clamped to its edge.
//!
//! ```ignore
//! let brush = use_time_brush_with_options(
//!     plot_el,
//!     geometry,
//!     UseTimeBrushOptions::default()
//!         .on_click(Callback::new(move |t| pick(t)))
//!         .on_select(Callback::new(move |(a, b)| select(a, b))),
//! );
//! view! { {move || brush.window.get().map(|(a, b)| view! { <Band from=a to=b /> })} }
//! ```

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos_use::use_event_listener;

use crate::components::deploy_markers::PlotSpan;

/// Options of [`use_time_brush_with_options`].
#[derive(Clone, Copy)]
pub struct UseTimeBrushOptions {
    /// Pointer travel (CSS px) below which a press is a click, not a drag. Default: 4.
    pub min_drag_px: f64,
    /// Gets the time (epoch ms) under a click. Default: `None` (clicks do nothing).
    pub on_click: Option<Callback<f64>>,
    /// Gets a finished drag's window (epoch ms, `from < to`). Default: `None` (dragging only draws).
    pub on_select: Option<Callback<(f64, f64)>>,
    /// Whether a finished drag stays in [`UseTimeBrushReturn::window`] until [`UseTimeBrushReturn::cancel`]
    /// or the next press. Default: `false`. Set it when `on_select` commits the window somewhere slower
    /// (the URL) that is then drawn instead: the band does not blink in between.
    pub hold_after_release: bool,
    /// Whether Escape drops a drag in progress (or a held one). Default: `true`.
    pub escape_cancels: bool,
}

impl Default for UseTimeBrushOptions {
    fn default() -> Self {
        UseTimeBrushOptions { min_drag_px: 4.0, on_click: None, on_select: None, hold_after_release: false, escape_cancels: true }
    }
}

impl UseTimeBrushOptions {
    pub fn min_drag_px(mut self, px: f64) -> Self {
        self.min_drag_px = px;
        self
    }

    pub fn on_click(mut self, f: Callback<f64>) -> Self {
        self.on_click = Some(f);
        self
    }

    pub fn on_select(mut self, f: Callback<(f64, f64)>) -> Self {
        self.on_select = Some(f);
        self
    }

    pub fn hold_after_release(mut self, hold: bool) -> Self {
        self.hold_after_release = hold;
        self
    }

    pub fn escape_cancels(mut self, cancels: bool) -> Self {
        self.escape_cancels = cancels;
        self
    }
}

/// What [`use_time_brush`] gives back. Every field is `Copy`.
#[derive(Clone, Copy)]
pub struct UseTimeBrushReturn {
    /// The window being dragged (epoch ms, `from <= to`), `None` when there is none.
    pub window: Signal<Option<(f64, f64)>>,
    /// Whether the button is down on the plot right now.
    pub pressed: Signal<bool>,
    /// Drops the drag in progress (or the one held after release).
    pub cancel: Callback<()>,
}

/// Where the press started: the time under it and the pointer's client x.
#[derive(Clone, Copy)]
struct Anchor {
    t: f64,
    client_x: f64,
}

/// A brush on `target` that draws but commits nothing. See [`use_time_brush_with_options`].
pub fn use_time_brush(target: NodeRef<Div>, plot: impl Into<Signal<Option<PlotSpan>>>) -> UseTimeBrushReturn {
    use_time_brush_with_options(target, plot, UseTimeBrushOptions::default())
}

/// Tracks presses on `target` (the element the plot is drawn in; `plot` positions the plot inside it, in CSS
/// px from its top-left corner): a click reports its time, a drag its window. Only the primary button;
/// nothing happens while `plot` is `None` (nothing drawn).
pub fn use_time_brush_with_options(
    target: NodeRef<Div>,
    plot: impl Into<Signal<Option<PlotSpan>>>,
    options: UseTimeBrushOptions,
) -> UseTimeBrushReturn {
    let plot = plot.into();
    let anchor = RwSignal::new(None::<Anchor>);
    let window = RwSignal::new(None::<(f64, f64)>);
    // The time under the pointer, clamped to the plot.
    let time_at = move |e: &web_sys::PointerEvent| -> Option<f64> {
        let p = plot.get_untracked()?;
        let r = target.get_untracked()?.get_bounding_client_rect();
        let x = (e.client_x() as f64 - r.left()).clamp(p.x, p.x + p.w);
        Some(p.time_at(x))
    };
    let cancel = move || {
        anchor.set(None);
        window.set(None);
    };

    let _ = use_event_listener(target, ev::pointerdown, move |e| {
        if e.button() != 0 {
            return;
        }
        let Some(t) = time_at(&e) else { return };
        if let Some(el) = target.get_untracked() {
            let _ = el.set_pointer_capture(e.pointer_id());
        }
        // No text selection or native drag while brushing.
        e.prevent_default();
        anchor.set(Some(Anchor { t, client_x: e.client_x() as f64 }));
        window.set(None);
    });
    let _ = use_event_listener(target, ev::pointermove, move |e| {
        let Some(a) = anchor.get_untracked() else { return };
        if (e.client_x() as f64 - a.client_x).abs() < options.min_drag_px {
            return;
        }
        if let Some(t) = time_at(&e) {
            window.set(Some((a.t.min(t), a.t.max(t))));
        }
    });
    let _ = use_event_listener(target, ev::pointerup, move |e| {
        let Some(a) = anchor.get_untracked() else { return };
        anchor.set(None);
        let t = time_at(&e).unwrap_or(a.t);
        if (e.client_x() as f64 - a.client_x).abs() < options.min_drag_px || t == a.t {
            window.set(None);
            if let Some(f) = options.on_click {
                f.run(a.t);
            }
            return;
        }
        let w = (a.t.min(t), a.t.max(t));
        window.set(options.hold_after_release.then_some(w));
        if let Some(f) = options.on_select {
            f.run(w);
        }
    });
    let _ = use_event_listener(target, ev::pointercancel, move |_| cancel());
    if options.escape_cancels {
        let _ = use_event_listener(leptos::prelude::window(), ev::keydown, move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" {
                cancel();
            }
        });
    }
    UseTimeBrushReturn {
        window: window.into(),
        pressed: Signal::derive(move || anchor.with(Option::is_some)),
        cancel: Callback::new(move |()| cancel()),
    }
}
