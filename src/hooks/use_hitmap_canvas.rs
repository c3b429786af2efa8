//! Canvas behaviour of the hitmap: size (CSS px and device pixel ratio), the plot area inside the axes,
//! hover position, and drag-to-select with pointer events (mouse, pen and touch alike).

use leptos::ev;
use leptos::html::Canvas;
use leptos::prelude::*;
use leptos_use::{use_device_pixel_ratio, use_element_size, use_event_listener, UseElementSizeReturn};
use sightline_model::Grid;

/// Space around the plot for the axes, in CSS px.
const MARGIN_LEFT: f64 = 62.0;
const MARGIN_RIGHT: f64 = 12.0;
const MARGIN_TOP: f64 = 10.0;
const MARGIN_BOTTOM: f64 = 24.0;
/// A press that moves less than this is a click on one cell, not a drag.
const CLICK_SLOP_PX: f64 = 3.0;

/// Where the plot sits inside the canvas, and how pixels map to columns and rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotLayout {
    /// Canvas size in CSS px.
    pub width: f64,
    pub height: f64,
    pub dpr: f64,
    /// Plot rectangle in CSS px.
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl PlotLayout {
    pub fn new(width: f64, height: f64, dpr: f64) -> Self {
        PlotLayout {
            width,
            height,
            dpr: if dpr > 0.0 { dpr } else { 1.0 },
            x: MARGIN_LEFT,
            y: MARGIN_TOP,
            w: (width - MARGIN_LEFT - MARGIN_RIGHT).max(1.0),
            h: (height - MARGIN_TOP - MARGIN_BOTTOM).max(1.0),
        }
    }

    /// Height of one row, the "≥ max" band included.
    pub fn row_h(&self, grid: &Grid) -> f64 {
        self.h / grid.total_rows() as f64
    }

    pub fn col_w(&self, grid: &Grid) -> f64 {
        self.w / grid.cols as f64
    }

    /// Column under x (clamped to the plot).
    pub fn col_at(&self, grid: &Grid, px: f64) -> u32 {
        (((px - self.x) / self.col_w(grid)).floor().max(0.0) as u32).min(grid.cols - 1)
    }

    /// Row under y (clamped): 0 at the bottom, `grid.rows` is the "≥ max" band at the top.
    pub fn row_at(&self, grid: &Grid, py: f64) -> u32 {
        (((self.y + self.h - py) / self.row_h(grid)).floor().max(0.0) as u32).min(grid.rows)
    }

    /// Left edge of a column.
    pub fn col_x(&self, grid: &Grid, col: u32) -> f64 {
        self.x + col as f64 * self.col_w(grid)
    }

    /// Bottom edge of a row (the top edge of row `r` is the bottom edge of `r + 1`).
    pub fn row_bottom(&self, grid: &Grid, row: u32) -> f64 {
        self.y + self.h - row as f64 * self.row_h(grid)
    }

    /// x of a point in time (may lie outside the plot).
    pub fn time_x(&self, grid: &Grid, t: i64) -> f64 {
        self.x + (t - grid.from) as f64 / (grid.to - grid.from) as f64 * self.w
    }

    pub fn contains(&self, px: f64, py: f64) -> bool {
        px >= self.x && px <= self.x + self.w && py >= self.y && py <= self.y + self.h
    }

    /// The nearest point of the plot (the point itself when inside).
    pub fn clamp(&self, px: f64, py: f64) -> (f64, f64) {
        (px.clamp(self.x, self.x + self.w), py.clamp(self.y, self.y + self.h))
    }
}

/// Where a press started: `at` is inside the plot (clamped); `raw` is where the pointer was.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Press {
    at: (f64, f64),
    raw: (f64, f64),
}

impl Press {
    /// A press in the margin that did not move is a click on an axis label, not a selection.
    fn is_margin_click(&self, layout: &PlotLayout, end: (f64, f64)) -> bool {
        !layout.contains(self.raw.0, self.raw.1) && PixelRect::between(self.raw, end).is_click()
    }
}

/// A rectangle in CSS px, normalised so `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelRect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl PixelRect {
    fn between(a: (f64, f64), b: (f64, f64)) -> Self {
        PixelRect { x0: a.0.min(b.0), y0: a.1.min(b.1), x1: a.0.max(b.0), y1: a.1.max(b.1) }
    }

    /// Whether this was a click rather than a drag.
    pub fn is_click(&self) -> bool {
        self.x1 - self.x0 < CLICK_SLOP_PX && self.y1 - self.y0 < CLICK_SLOP_PX
    }
}

/// What [`use_hitmap_canvas`] gives the chart.
#[derive(Clone, Copy)]
pub struct UseHitmapCanvasReturn {
    pub layout: Signal<PlotLayout>,
    /// Pointer position over the canvas (CSS px), `None` when outside.
    pub hover: Signal<Option<(f64, f64)>>,
    /// The rectangle being dragged right now.
    pub drag: Signal<Option<PixelRect>>,
}

/// Tracks size, hover and drags on `canvas`; `on_select` gets the finished rectangle (or click). Both ends
/// of a drag are clamped to the plot, so a drag may start or end in the axis margin (where the edge cells
/// are easy to miss by a pixel).
pub fn use_hitmap_canvas(canvas: NodeRef<Canvas>, on_select: impl Fn(PixelRect) + Clone + 'static) -> UseHitmapCanvasReturn {
    let UseElementSizeReturn { width, height } = use_element_size(canvas);
    let dpr = use_device_pixel_ratio();
    let layout = Memo::new(move |_| PlotLayout::new(width.get(), height.get(), dpr.get()));
    let hover = RwSignal::new(None::<(f64, f64)>);
    let start = RwSignal::new(None::<Press>);
    let drag = RwSignal::new(None::<PixelRect>);

    let pos = |e: &web_sys::PointerEvent| (e.offset_x() as f64, e.offset_y() as f64);
    let _ = use_event_listener(canvas, ev::pointerdown, move |e| {
        if e.button() != 0 {
            return;
        }
        let raw = pos(&e);
        let at = layout.get_untracked().clamp(raw.0, raw.1);
        e.prevent_default();
        if let Some(el) = canvas.get_untracked() {
            let _ = el.set_pointer_capture(e.pointer_id());
        }
        start.set(Some(Press { at, raw }));
        drag.set(Some(PixelRect::between(at, at)));
    });
    let _ = use_event_listener(canvas, ev::pointermove, move |e| {
        let p = pos(&e);
        hover.set(Some(p));
        if let Some(s) = start.get_untracked() {
            let end = layout.get_untracked().clamp(p.0, p.1);
            drag.set(Some(PixelRect::between(s.at, end)));
        }
    });
    let finish = move |e: web_sys::PointerEvent, on_select: &dyn Fn(PixelRect)| {
        if let Some(s) = start.get_untracked() {
            start.set(None);
            drag.set(None);
            let l = layout.get_untracked();
            let p = pos(&e);
            if !s.is_margin_click(&l, p) {
                on_select(PixelRect::between(s.at, l.clamp(p.0, p.1)));
            }
        }
    };
    let _ = use_event_listener(canvas, ev::pointerup, move |e| finish(e, &on_select));
    let _ = use_event_listener(canvas, ev::pointercancel, move |_| {
        start.set(None);
        drag.set(None);
    });
    let _ = use_event_listener(canvas, ev::pointerleave, move |_| hover.set(None));

    UseHitmapCanvasReturn { layout: layout.into(), hover: hover.into(), drag: drag.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_press_in_the_margin_starts_at_the_plot_edge_and_a_still_one_is_no_selection() {
        let l = PlotLayout::new(800.0, 400.0, 1.0);
        assert_eq!(l.clamp(10.0, 395.0), (l.x, l.y + l.h), "bottom-left margin → the plot's bottom-left corner");
        assert_eq!(l.clamp(100.0, 100.0), (100.0, 100.0), "inside: unchanged");
        let margin = Press { at: l.clamp(10.0, 395.0), raw: (10.0, 395.0) };
        assert!(margin.is_margin_click(&l, (11.0, 395.0)));
        assert!(!margin.is_margin_click(&l, (300.0, 200.0)), "a drag out of the margin selects");
        let inside = Press { at: (100.0, 100.0), raw: (100.0, 100.0) };
        assert!(!inside.is_margin_click(&l, (100.0, 100.0)), "a click in the plot selects one cell");
    }
}
