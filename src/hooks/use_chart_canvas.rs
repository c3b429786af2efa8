//! The box a board chart draws in: its size in CSS px (it follows the widget as the user resizes it), the
//! device pixel ratio (the canvas backing store is CSS size × DPR, so lines and text are crisp on HiDPI
//! screens), and where the pointer is over it.

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos_use::{use_device_pixel_ratio, use_element_size, use_event_listener, UseElementSizeReturn};

/// What [`use_chart_canvas`] reports about the element.
#[derive(Clone, Copy)]
pub struct UseChartCanvasReturn {
    /// Size of the element in CSS px.
    pub width: Signal<f64>,
    pub height: Signal<f64>,
    /// Device pixels per CSS px (1 when unknown).
    pub dpr: Signal<f64>,
    /// Pointer position relative to the element's top left corner (CSS px); `None` when it is outside.
    pub hover: Signal<Option<(f64, f64)>>,
}

/// Tracks the size of `target` (the element the canvas fills), the device pixel ratio, and the pointer
/// (mouse, pen or touch) over it.
pub fn use_chart_canvas(target: NodeRef<Div>) -> UseChartCanvasReturn {
    let UseElementSizeReturn { width, height } = use_element_size(target);
    let dpr = use_device_pixel_ratio();
    let dpr = Signal::derive(move || {
        let d = dpr.get();
        if d.is_finite() && d > 0.0 {
            d
        } else {
            1.0
        }
    });
    let hover = RwSignal::new(None::<(f64, f64)>);
    let _ = use_event_listener(target, ev::pointermove, move |e| {
        let Some(el) = target.get_untracked() else { return };
        let r = el.get_bounding_client_rect();
        hover.set(Some((e.client_x() as f64 - r.left(), e.client_y() as f64 - r.top())));
    });
    let _ = use_event_listener(target, ev::pointerleave, move |_| hover.set(None));
    let _ = use_event_listener(target, ev::pointercancel, move |_| hover.set(None));
    UseChartCanvasReturn { width, height, dpr, hover: hover.into() }
}
