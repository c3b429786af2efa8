//! Only the rows of a long list that are in view (plus a margin) are rendered: the trace waterfall keeps
//! 10 000 steps responsive this way.
//!
//! Rows have one fixed height, so a row's position is arithmetic and nothing has to be measured. The caller
//! puts a spacer of [`UseVirtualListReturn::total_height`] inside the scrolling `container` (so the
//! scrollbar and the mouse wheel behave as for the full list) and draws the rows of `range` at
//! `offset_top`.

use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos_use::{
    use_element_size, use_event_listener_with_options, UseElementSizeReturn, UseEventListenerOptions,
};

/// Viewport height assumed until the container has been measured, so the first render already shows a
/// screenful of rows instead of only the overscan.
const UNMEASURED_VIEWPORT_PX: f64 = 1200.0;

/// Options of [`use_virtual_list_with_options`].
#[derive(Debug, Clone, Copy)]
pub struct UseVirtualListOptions {
    /// Height of every row in CSS px; must match the stylesheet. Default 24.
    pub row_height: f64,
    /// Rows rendered above and below the viewport, so fast scrolling does not show blank space before the
    /// next render. Default 12.
    pub overscan: usize,
    /// Item the first render is centred on, for a list that opens scrolled to a given item (call
    /// `scroll_to` with it once mounted): the first render then already has the rows that will show,
    /// instead of the top rows followed by a second render. Default `None` (the top).
    pub initial_index: Option<usize>,
}

impl Default for UseVirtualListOptions {
    fn default() -> Self {
        Self { row_height: 24.0, overscan: 12, initial_index: None }
    }
}

impl UseVirtualListOptions {
    /// See [`UseVirtualListOptions::row_height`].
    pub fn row_height(mut self, px: f64) -> Self {
        self.row_height = px;
        self
    }

    /// See [`UseVirtualListOptions::overscan`].
    pub fn overscan(mut self, rows: usize) -> Self {
        self.overscan = rows;
        self
    }

    /// See [`UseVirtualListOptions::initial_index`].
    pub fn initial_index(mut self, index: Option<usize>) -> Self {
        self.initial_index = index;
        self
    }
}

/// What [`use_virtual_list`] gives the list component.
#[derive(Clone, Copy)]
pub struct UseVirtualListReturn {
    /// Half-open range of item positions to render; changes only when a row enters or leaves it.
    pub range: Signal<(usize, usize)>,
    /// Height of the spacer standing for the whole list, px.
    pub total_height: Signal<f64>,
    /// Distance from the top of the spacer to the first rendered row, px.
    pub offset_top: Signal<f64>,
    /// Scrolls so that the item at this position sits in the middle of the viewport.
    pub scroll_to: Callback<usize>,
    /// Scrolls as little as possible to bring the item at this position into view (keyboard navigation).
    pub reveal: Callback<usize>,
}

/// [`use_virtual_list_with_options`] with default options.
pub fn use_virtual_list(container: NodeRef<Div>, len: impl Into<Signal<usize>>) -> UseVirtualListReturn {
    use_virtual_list_with_options(container, len, UseVirtualListOptions::default())
}

/// Tracks the scroll position and size of `container` and derives which of `len` rows to render.
pub fn use_virtual_list_with_options(
    container: NodeRef<Div>,
    len: impl Into<Signal<usize>>,
    options: UseVirtualListOptions,
) -> UseVirtualListReturn {
    let len = len.into();
    let UseVirtualListOptions { row_height, overscan, initial_index } = options;
    let initial_top = initial_index.map_or(0.0, |i| (i as f64 * row_height - UNMEASURED_VIEWPORT_PX / 2.0).max(0.0));
    let scroll_top = RwSignal::new(initial_top);
    let UseElementSizeReturn { height, .. } = use_element_size(container);
    let _ = use_event_listener_with_options(
        container,
        ev::scroll,
        move |_| {
            if let Some(el) = container.get_untracked() {
                scroll_top.set(f64::from(el.scroll_top()));
            }
        },
        UseEventListenerOptions::default().passive(true),
    );
    let viewport = move || {
        let h = height.get();
        if h > 0.0 {
            h
        } else {
            UNMEASURED_VIEWPORT_PX
        }
    };
    let range = Memo::new(move |_| {
        visible_range(len.get(), scroll_top.get(), viewport(), row_height, overscan)
    });
    let total_height = Signal::derive(move || len.get() as f64 * row_height);
    let offset_top = Signal::derive(move || range.get().0 as f64 * row_height);

    let set_top = move |el: &web_sys::HtmlDivElement, top: f64| {
        el.set_scroll_top(top.max(0.0).round() as i32);
        // The scroll event comes a frame later; render the new rows now.
        scroll_top.set(f64::from(el.scroll_top()));
    };
    // These read the viewport from the element itself: right after mounting, the size observer may not
    // have reported yet.
    let scroll_to = Callback::new(move |i: usize| {
        if let Some(el) = container.get_untracked() {
            let target = el.clone();
            when_laid_out(el.into(), move || {
                let h = viewport_of(&target);
                set_top(&target, i as f64 * row_height - (h - row_height) / 2.0);
            });
        }
    });
    let reveal = Callback::new(move |i: usize| {
        if let Some(el) = container.get_untracked() {
            let h = viewport_of(&el);
            let top = f64::from(el.scroll_top());
            let (row_top, row_bottom) = (i as f64 * row_height, (i + 1) as f64 * row_height);
            if row_top < top {
                set_top(&el, row_top);
            } else if row_bottom > top + h {
                set_top(&el, row_bottom - h);
            }
        }
    });
    UseVirtualListReturn { range: range.into(), total_height, offset_top, scroll_to, reveal }
}

/// Longest wait in [`when_laid_out`], in animation frames (about a second).
const MAX_LAYOUT_WAIT_FRAMES: u32 = 60;

/// Runs `f` once `el` is in the document and has a height: a view built inside `<Suspense>` or
/// `<Transition>` exists before it is mounted, and scrolling a detached element does nothing.
pub fn when_laid_out(el: web_sys::HtmlElement, f: impl FnOnce() + 'static) {
    fn attempt(el: web_sys::HtmlElement, f: Box<dyn FnOnce()>, frames_left: u32) {
        if el.is_connected() && el.client_height() > 0 {
            f();
        } else if frames_left > 0 {
            request_animation_frame(move || attempt(el, f, frames_left - 1));
        }
    }
    attempt(el, Box::new(f), MAX_LAYOUT_WAIT_FRAMES);
}

fn viewport_of(el: &web_sys::HtmlDivElement) -> f64 {
    let h = f64::from(el.client_height());
    if h > 0.0 {
        h
    } else {
        UNMEASURED_VIEWPORT_PX
    }
}

/// Rows `[first, last)` to render for a viewport of `viewport` px scrolled to `top`, with `overscan` extra
/// rows on each side, clamped to `len`.
pub fn visible_range(len: usize, top: f64, viewport: f64, row_height: f64, overscan: usize) -> (usize, usize) {
    if len == 0 || row_height <= 0.0 {
        return (0, 0);
    }
    let top = top.max(0.0);
    let first = ((top / row_height).floor() as usize).min(len);
    let last = (((top + viewport.max(0.0)) / row_height).ceil() as usize).min(len);
    (first.saturating_sub(overscan), (last + overscan).min(len))
}
