//! The hitmap itself: every finished transaction counted into a time × response-time grid, drawn on a
//! canvas from one image buffer (one pixel per cell, scaled up), errors in red over the blue counts.
//!
//! Over it: the selection, a baseline region (dashed), and a highlight — the cells of a second hitmap on
//! the same axes (the transactions with one value, hovered in "What's different") lit up while the rest is
//! dimmed.

use leptos::html::Canvas;
use leptos::prelude::*;
use sightline_model::{Grid, Hitmap, Scale};
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use crate::api::Selection;
use crate::components::deploy_markers::{DeployMarkers, PlotSpan};
use crate::format::{clock, duration};
use crate::hooks::{use_first_paint, use_hitmap_canvas, PixelRect, PlotLayout, UseHitmapCanvasReturn};

/// Draws `hitmap`, lets the user drag a rectangle, and reports it as a [`Selection`] snapped to cells.
#[component]
pub fn HitmapChart(
    #[prop(into)] hitmap: Signal<Option<Hitmap>>,
    #[prop(into)] selection: Signal<Option<Selection>>,
    on_select: Callback<Selection>,
    /// Deploys to mark over the plot (version changes only).
    #[prop(optional, into)]
    markers: Signal<Vec<sightline_model::Deploy>>,
    /// Alert state changes to mark like deploys.
    #[prop(optional, into)]
    alerts: Signal<Vec<sightline_model::AlertEvent>>,
    /// Cells to light up: a hitmap on the same axes (same rows, scale and maximum) whose non-empty cells are
    /// highlighted. Their number is the canvas' `data-highlighted-cells`.
    #[prop(optional, into)]
    highlight: Signal<Option<Hitmap>>,
    /// A second rectangle, drawn dashed: the baseline a selection is compared with.
    #[prop(optional, into)]
    baseline: Signal<Option<Selection>>,
    /// The next drag picks the baseline region (a different cursor says so).
    #[prop(optional, into)]
    picking: Signal<bool>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    // While the app starts, the shell's top bar waits for this chart's first answer to be drawn.
    let first_paint = use_first_paint();
    let select = move |r: PixelRect| {
        let grid = hitmap.with_untracked(|h| h.as_ref().map(|h| h.grid));
        if let (Some(grid), Some(layout)) = (grid, layout_untracked(canvas)) {
            on_select.run(selection_of(&grid, &layout, r));
        }
    };
    let c = use_hitmap_canvas(canvas, select);
    let offscreen = StoredValue::new_local(None::<HtmlCanvasElement>);
    let offscreen_hl = StoredValue::new_local(None::<HtmlCanvasElement>);

    Effect::new(move |_| {
        let layout = c.layout.get();
        let sel = selection.get();
        let base = baseline.get();
        let drag = c.drag.get();
        let Some(el) = canvas.get() else { return };
        hitmap.with(|h| {
            highlight.with(|hl| {
                let timing = DrawTiming::start();
                let overlays = Overlays { sel: sel.as_ref(), baseline: base.as_ref(), drag, highlight: hl.as_ref().map(|hl| (hl, &offscreen_hl)) };
                draw(&el, &offscreen, &layout, h.as_ref(), overlays);
                timing.end();
                if let Some(h) = h {
                    first_paint.painted();
                    if h.total > 0 {
                        mark_first_data();
                    }
                }
            })
        });
    });

    let plot_span = Signal::derive(move || {
        let l = c.layout.get();
        let (from, to) = hitmap.with(|h| h.as_ref().map(|h| (h.grid.from, h.grid.to)))?;
        Some(PlotSpan { x: l.x, y: l.y, w: l.w, h: l.h, from: from as f64, to: to as f64 })
    });

    let totals = move || {
        hitmap.with(|h| {
            h.as_ref().map(|h| format!("{} transactions · {} errors", thousands(h.total), thousands(h.total_err)))
        })
    };

    view! {
        <div class="hitmap-wrap">
            // The plot geometry and grid are exposed as attributes so automation (and the E2E tests)
            // can aim at a time and duration without reimplementing the layout.
            <canvas
                node_ref=canvas
                class="hitmap-canvas"
                class:picking=move || picking.get()
                data-testid="hitmap-canvas"
                data-highlighted-cells=move || highlight.with(|h| h.as_ref().map(|h| highlighted_cells(h).to_string()))
                data-plot=move || { let l = c.layout.get(); format!("{},{},{},{}", l.x, l.y, l.w, l.h) }
                data-grid=move || hitmap.with(|h| h.as_ref().map(|h| {
                    let g = h.grid;
                    format!("{},{},{},{},{}", g.from, g.to, g.cols, g.rows, g.ymax_ms)
                }))
            ></canvas>
            <DeployMarkers markers=markers alerts=alerts plot=plot_span />
            <HitmapTooltip hitmap=hitmap canvas=c />
        </div>
        <div class="hitmap-legend">
            <span class="ramp ok"></span><span class="muted">"fewer → more transactions"</span>
            <span class="ramp err"></span><span class="muted">"errors"</span>
            <span class="spacer"></span>
            <span data-testid="hitmap-totals">{totals}</span>
        </div>
    }
}

/// The cell under the pointer: its time span, duration band and counts (not while dragging).
#[component]
fn HitmapTooltip(hitmap: Signal<Option<Hitmap>>, canvas: UseHitmapCanvasReturn) -> impl IntoView {
    let c = canvas;
    move || {
        let (px, py) = c.hover.get()?;
        let layout = c.layout.get();
        if !layout.contains(px, py) || c.drag.get().is_some() {
            return None;
        }
        hitmap.with(|h| {
            let h = h.as_ref()?;
            let g = &h.grid;
            let (col, row) = (layout.col_at(g, px), layout.row_at(g, py));
            let i = g.index(col, row);
            let (ok, err) = (h.ok[i], h.err[i]);
            let t0 = g.col_start(col);
            let t1 = if col + 1 == g.cols { g.to } else { g.col_start(col + 1) };
            let band = match g.row_high_ms(row) {
                Some(hi) => format!("{} – {}", duration(g.row_low_ms(row)), duration(hi)),
                None => format!("≥ {}", duration(g.ymax_ms)),
            };
            let left = if px > layout.width - 220.0 { px - 210.0 } else { px + 14.0 };
            Some(view! {
                <div class="hitmap-tooltip" data-testid="hitmap-tooltip" style=format!("left:{left}px;top:{}px", py + 12.0)>
                    <div>{format!("{} – {}", clock(t0), clock(t1))}</div>
                    <div>{band}</div>
                    <div><span class="swatch ok"></span>{format!("{ok} ok")}
                        <span class="swatch err"></span>{format!("{err} errors")}</div>
                </div>
            })
        })
    }
}

/// User Timing of each draw, so the in-browser benchmark (tests/bench_client.rs) reads the browser's own
/// record (`performance.getEntriesByName(DRAW_MEASURE)`) instead of a global the app would fill for it.
pub const DRAW_MEASURE: &str = "sightline:hitmap-draw";
const DRAW_MARK: &str = "sightline:hitmap-draw-start";
/// Measures kept at most: a live wall screen draws twice a second for days, and the browser keeps every
/// entry until it is cleared.
const DRAW_MEASURES_KEPT: u32 = 10_000;

/// User Timing mark of the first draw that shows transactions, once per page load: the "first data paint"
/// of BENCHMARKS.md (its `startTime` counts from navigation start).
pub const FIRST_DATA_MARK: &str = "sightline:hitmap-first-data";

fn mark_first_data() {
    thread_local! {
        static MARKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !MARKED.replace(true) {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            // Best effort, as the draw timing: a browser without User Timing just draws.
            let _ = p.mark(FIRST_DATA_MARK);
        }
    }
}

/// One draw's mark, measured when it ends.
struct DrawTiming(Option<web_sys::Performance>);

thread_local! {
    static DRAWS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl DrawTiming {
    fn start() -> Self {
        let perf = web_sys::window().and_then(|w| w.performance());
        // Timing is best effort: a browser without User Timing just draws.
        DrawTiming(perf.filter(|p| p.mark(DRAW_MARK).is_ok()))
    }

    fn end(self) {
        let Some(p) = self.0 else { return };
        let _ = p.measure_with_start_mark(DRAW_MEASURE, DRAW_MARK);
        p.clear_marks_with_mark_name(DRAW_MARK);
        // Counting entries costs as many as there are: look only every thousand draws.
        let n = DRAWS.with(|d| {
            d.set(d.get().wrapping_add(1));
            d.get()
        });
        if n.is_multiple_of(1_000) && p.get_entries_by_name(DRAW_MEASURE).length() >= DRAW_MEASURES_KEPT {
            p.clear_measures_with_measure_name(DRAW_MEASURE);
        }
    }
}

/// The layout from the canvas' current box; the drag handler is created before the hook's layout signal.
fn layout_untracked(canvas: NodeRef<Canvas>) -> Option<PlotLayout> {
    let el = canvas.get_untracked()?;
    let r = el.get_bounding_client_rect();
    Some(PlotLayout::new(r.width(), r.height(), 1.0))
}

/// Snaps a pixel rectangle to whole cells; the top band means "no upper bound", the bottom row
/// starts at 0 ms so instant transactions stay selectable.
pub fn selection_of(g: &Grid, layout: &PlotLayout, r: PixelRect) -> Selection {
    let (c0, c1) = (layout.col_at(g, r.x0), layout.col_at(g, r.x1));
    // y grows downwards: the rectangle's bottom edge is the lower duration.
    let (r0, r1) = (layout.row_at(g, r.y1), layout.row_at(g, r.y0));
    Selection {
        from: g.col_start(c0),
        to: if c1 + 1 >= g.cols { g.to } else { g.col_start(c1 + 1) },
        min_ms: g.row_low_ms(r0),
        max_ms: g.row_high_ms(r1),
    }
}

/// Cells of `h` that count at least one transaction: what a highlight lights up.
pub fn highlighted_cells(h: &Hitmap) -> usize {
    h.ok.iter().zip(&h.err).filter(|(o, e)| **o + **e > 0).count()
}

/// One pixel per highlighted cell (top image row = the "≥ max" band), transparent elsewhere.
pub fn highlight_pixels(h: &Hitmap, rgb: [f64; 3]) -> Vec<u8> {
    let g = &h.grid;
    let (cols, rows) = (g.cols as usize, g.total_rows() as usize);
    let mut px = vec![0u8; cols * rows * 4];
    let rgb = rgb.map(|c| c.round() as u8);
    for c in 0..cols {
        for r in 0..rows {
            let i = c * rows + r;
            if h.ok[i] + h.err[i] > 0 {
                let o = ((rows - 1 - r) * cols + c) * 4;
                px[o..o + 3].copy_from_slice(&rgb);
                px[o + 3] = 255;
            }
        }
    }
    px
}

/// "27,260"
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The hitmap's colours, from the theme's CSS variables (`--hitmap-*` in style/main.css), so the canvas,
/// the legend's ramps and the rest of the page switch themes together and each colour is written once.
struct Palette {
    ok_lo: [f64; 3],
    ok_hi: [f64; 3],
    err_lo: [f64; 3],
    err_hi: [f64; 3],
    axis: String,
    grid: String,
    text: String,
    band: String,
    highlight: [f64; 3],
    veil: String,
}

fn palette() -> Palette {
    let style = web_sys::window().and_then(|w| {
        let root = w.document()?.document_element()?;
        w.get_computed_style(&root).ok().flatten()
    });
    let var = |name: &str| {
        style
            .as_ref()
            .and_then(|s| s.get_property_value(name).ok())
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let rgb = |name: &str| hex_rgb(&var(name)).unwrap_or([128.0; 3]);
    Palette {
        ok_lo: rgb("--hitmap-ok-lo"),
        ok_hi: rgb("--hitmap-ok-hi"),
        err_lo: rgb("--hitmap-err-lo"),
        err_hi: rgb("--hitmap-err-hi"),
        axis: var("--hitmap-axis"),
        grid: var("--hitmap-grid"),
        text: var("--hitmap-text"),
        band: var("--hitmap-band"),
        highlight: hex_rgb(&var("--hitmap-highlight")).unwrap_or([250.0, 204.0, 21.0]),
        veil: Some(var("--hitmap-veil")).filter(|v| !v.is_empty()).unwrap_or_else(|| "rgba(0, 0, 0, 0.55)".into()),
    }
}

/// `#rrggbb` → its three channels.
fn hex_rgb(hex: &str) -> Option<[f64; 3]> {
    let h = hex.strip_prefix('#').filter(|h| h.len() == 6)?;
    let channel = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok().map(f64::from);
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn lerp(a: [f64; 3], b: [f64; 3], t: f64) -> [u8; 3] {
    [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * t).round() as u8)
}

/// Fills one RGBA pixel per cell (top image row = the "≥ max" band). Pure, so it is what the
/// in-browser benchmark measures along with the blit.
pub fn cell_pixels(h: &Hitmap, ok_lo: [f64; 3], ok_hi: [f64; 3], err_lo: [f64; 3], err_hi: [f64; 3]) -> Vec<u8> {
    let g = &h.grid;
    let (cols, rows) = (g.cols as usize, g.total_rows() as usize);
    let mut px = vec![0u8; cols * rows * 4];
    let max = h.max_cell().max(1) as f64;
    let scale = (1.0 + max).ln();
    for c in 0..cols {
        let base = c * rows;
        for r in 0..rows {
            let (ok, err) = (h.ok[base + r], h.err[base + r]);
            if ok == 0 && err == 0 {
                continue;
            }
            let rgb = if err > 0 {
                lerp(err_lo, err_hi, (0.35 + 0.65 * (1.0 + err as f64).ln() / scale).min(1.0))
            } else {
                lerp(ok_lo, ok_hi, (0.15 + 0.85 * (1.0 + ok as f64).ln() / scale).min(1.0))
            };
            let o = ((rows - 1 - r) * cols + c) * 4;
            px[o..o + 3].copy_from_slice(&rgb);
            px[o + 3] = 255;
        }
    }
    px
}

type Offscreen = StoredValue<Option<HtmlCanvasElement>, LocalStorage>;

/// What is drawn over the cells.
struct Overlays<'a> {
    sel: Option<&'a Selection>,
    baseline: Option<&'a Selection>,
    drag: Option<PixelRect>,
    /// The highlighted hitmap and the small canvas its pixels are put in.
    highlight: Option<(&'a Hitmap, &'a Offscreen)>,
}

/// The small canvas kept in `slot` (created once), sized `w` × `h`, with `pixels` in it.
fn blit_source(slot: &Offscreen, pixels: &[u8], w: u32, h: u32) -> Option<HtmlCanvasElement> {
    let off = slot.with_value(|o| o.clone()).or_else(|| {
        let c = web_sys::window()?.document()?.create_element("canvas").ok()?.dyn_into::<HtmlCanvasElement>().ok()?;
        slot.set_value(Some(c.clone()));
        Some(c)
    })?;
    off.set_width(w);
    off.set_height(h);
    let img = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), w, h).ok()?;
    let octx = off.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())?;
    octx.put_image_data(&img, 0.0, 0.0).ok()?;
    Some(off)
}

fn draw(el: &HtmlCanvasElement, offscreen: &Offscreen, l: &PlotLayout, h: Option<&Hitmap>, o: Overlays<'_>) {
    let (pw, ph) = ((l.width * l.dpr).round() as u32, (l.height * l.dpr).round() as u32);
    if pw == 0 || ph == 0 {
        return;
    }
    if el.width() != pw {
        el.set_width(pw);
    }
    if el.height() != ph {
        el.set_height(ph);
    }
    let Some(ctx) = el
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let _ = ctx.set_transform(l.dpr, 0.0, 0.0, l.dpr, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, l.width, l.height);
    let p = palette();
    let Some(h) = h else {
        ctx.set_fill_style_str(&p.axis);
        ctx.set_font("13px system-ui, sans-serif");
        let _ = ctx.fill_text("Loading…", l.x + 8.0, l.y + 20.0);
        return;
    };
    let g = &h.grid;

    // Background of the "≥ max" band, so it reads as a separate, selectable strip.
    ctx.set_fill_style_str(&p.band);
    ctx.fill_rect(l.x, l.y, l.w, l.row_h(g));

    // Cells: one pixel each into a small canvas, then scaled up without smoothing.
    let pixels = cell_pixels(h, p.ok_lo, p.ok_hi, p.err_lo, p.err_hi);
    if let Some(off) = blit_source(offscreen, &pixels, g.cols, g.total_rows()) {
        ctx.set_image_smoothing_enabled(false);
        let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&off, l.x, l.y, l.w, l.h);
    }
    if let Some((hl, slot)) = o.highlight {
        draw_highlight(&ctx, slot, l, g, hl, &p);
    }

    draw_axes(&ctx, l, g, &p);

    if let Some(b) = o.baseline {
        draw_region(&ctx, l, g, b, Region::BASELINE);
    }
    if let Some(s) = o.sel {
        draw_region(&ctx, l, g, s, Region::SELECTION);
    }
    if let Some(d) = o.drag {
        ctx.set_fill_style_str("rgba(56, 189, 248, 0.15)");
        ctx.fill_rect(d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0);
        ctx.set_stroke_style_str("#38bdf8");
        ctx.set_line_width(1.0);
        ctx.stroke_rect(d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0);
    }
}

/// The rest of the plot dimmed, and the cells of `hl` lit up. `hl` may cover a slightly different time
/// span (fetched before a live hitmap moved on): it is placed by time; other axes are not drawn at all.
fn draw_highlight(ctx: &CanvasRenderingContext2d, slot: &Offscreen, l: &PlotLayout, g: &Grid, hl: &Hitmap, p: &Palette) {
    let hg = &hl.grid;
    if hg.total_rows() != g.total_rows() || hg.scale != g.scale || hg.ymax_ms != g.ymax_ms || hg.to <= hg.from {
        return;
    }
    ctx.set_fill_style_str(&p.veil);
    ctx.fill_rect(l.x, l.y, l.w, l.h);
    let pixels = highlight_pixels(hl, p.highlight);
    let Some(off) = blit_source(slot, &pixels, hg.cols, hg.total_rows()) else { return };
    let (x0, x1) = (l.time_x(g, hg.from), l.time_x(g, hg.to));
    ctx.save();
    ctx.begin_path();
    ctx.rect(l.x, l.y, l.w, l.h);
    ctx.clip();
    ctx.set_image_smoothing_enabled(false);
    let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&off, x0, l.y, x1 - x0, l.h);
    ctx.restore();
}

/// How a rectangle over the cells looks.
struct Region {
    fill: &'static str,
    stroke: &'static str,
    dashed: bool,
}

impl Region {
    const SELECTION: Region = Region { fill: "rgba(250, 204, 21, 0.12)", stroke: "#facc15", dashed: false };
    const BASELINE: Region = Region { fill: "rgba(167, 139, 250, 0.10)", stroke: "#a78bfa", dashed: true };
}

/// A selection (or baseline region), snapped to its cells.
fn draw_region(ctx: &CanvasRenderingContext2d, l: &PlotLayout, g: &Grid, s: &Selection, style: Region) {
    let x0 = l.time_x(g, s.from).clamp(l.x, l.x + l.w);
    let x1 = l.time_x(g, s.to).clamp(l.x, l.x + l.w);
    let y_bottom = l.row_bottom(g, g.row_of(s.min_ms));
    let y_top = match s.max_ms {
        None => l.y,
        Some(m) => l.row_bottom(g, g.row_of(m)),
    };
    if x1 > x0 {
        ctx.set_fill_style_str(style.fill);
        ctx.fill_rect(x0, y_top, x1 - x0, y_bottom - y_top);
        ctx.set_stroke_style_str(style.stroke);
        ctx.set_line_width(1.5);
        if style.dashed {
            let _ = ctx.set_line_dash(&js_sys::Array::of2(&5.into(), &4.into()));
        }
        ctx.stroke_rect(x0, y_top, x1 - x0, y_bottom - y_top);
        if style.dashed {
            let _ = ctx.set_line_dash(&js_sys::Array::new());
        }
    }
}

fn draw_axes(ctx: &CanvasRenderingContext2d, l: &PlotLayout, g: &Grid, p: &Palette) {
    ctx.set_font("11px system-ui, sans-serif");
    ctx.set_line_width(1.0);
    // Y: duration ticks, and the "≥ max" band label.
    ctx.set_text_align("right");
    ctx.set_text_baseline("middle");
    for ms in duration_ticks(g) {
        let row_f = match g.scale {
            Scale::Linear => ms / g.ymax_ms * g.rows as f64,
            Scale::Log => ms.max(1.0).ln() / g.ymax_ms.ln() * g.rows as f64,
        };
        let y = l.y + l.h - row_f * l.row_h(g);
        ctx.set_stroke_style_str(&p.grid);
        ctx.begin_path();
        ctx.move_to(l.x, y.round() + 0.5);
        ctx.line_to(l.x + l.w, y.round() + 0.5);
        ctx.stroke();
        ctx.set_fill_style_str(&p.axis);
        let _ = ctx.fill_text(&axis_duration(ms), l.x - 6.0, y);
    }
    let band_mid = l.y + l.row_h(g) / 2.0;
    ctx.set_fill_style_str(&p.text);
    let _ = ctx.fill_text(&format!("≥ {}", axis_duration(g.ymax_ms)), l.x - 6.0, band_mid.max(l.y + 5.0));
    ctx.set_stroke_style_str(&p.axis);
    let _ = ctx.set_line_dash(&js_sys::Array::of2(&3.into(), &3.into()));
    ctx.begin_path();
    let yb = (l.y + l.row_h(g)).round() + 0.5;
    ctx.move_to(l.x, yb);
    ctx.line_to(l.x + l.w, yb);
    ctx.stroke();
    let _ = ctx.set_line_dash(&js_sys::Array::new());

    // X: clock times.
    ctx.set_text_align("center");
    ctx.set_text_baseline("top");
    let span = (g.to - g.from).max(1);
    let step = time_step(span, l.w);
    let mut t = (g.from / step + 1) * step;
    while t < g.to {
        let x = l.time_x(g, t);
        ctx.set_stroke_style_str(&p.grid);
        ctx.begin_path();
        ctx.move_to(x.round() + 0.5, l.y);
        ctx.line_to(x.round() + 0.5, l.y + l.h);
        ctx.stroke();
        ctx.set_fill_style_str(&p.axis);
        let label = if step < 60_000 { clock(t) } else { clock(t)[..5].to_string() };
        let _ = ctx.fill_text(&label, x, l.y + l.h + 6.0);
        t += step;
    }
    ctx.set_stroke_style_str(&p.axis);
    ctx.stroke_rect(l.x + 0.5, l.y + 0.5, l.w - 1.0, l.h - 1.0);
}

/// Round durations to label the y axis with.
fn duration_ticks(g: &Grid) -> Vec<f64> {
    match g.scale {
        Scale::Log => (0..10).map(|e| 10f64.powi(e)).filter(|&v| v < g.ymax_ms).collect(),
        Scale::Linear => {
            let raw = g.ymax_ms / 5.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(raw);
            (0..).map(|i| i as f64 * step).take_while(|&v| v < g.ymax_ms - 1e-9).collect()
        }
    }
}

fn axis_duration(ms: f64) -> String {
    if ms == 0.0 {
        "0".into()
    } else if ms < 1000.0 {
        format!("{ms} ms")
    } else {
        format!("{} s", ms / 1000.0)
    }
}

/// The smallest round time step that keeps labels ~90 px apart.
fn time_step(span_ms: i64, width_px: f64) -> i64 {
    const STEPS: &[i64] = &[
        1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
        3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
    ];
    let max_labels = (width_px / 90.0).max(1.0);
    STEPS.iter().copied().find(|s| (span_ms as f64 / *s as f64) <= max_labels).unwrap_or(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_highlight_lights_exactly_the_cells_that_count_a_transaction() {
        let grid = Grid { from: 0, to: 10_000, cols: 10, rows: 4, ymax_ms: 1_000.0, scale: Scale::Linear };
        let mut h = Hitmap::empty(grid);
        assert_eq!(highlighted_cells(&h), 0);
        h.add(500, 10.0, false); // column 0, bottom row
        h.add(600, 20.0, true); // the same cell, an error
        h.add(9_500, 5_000.0, false); // last column, the "≥ max" band
        assert_eq!(highlighted_cells(&h), 2);
        let px = highlight_pixels(&h, [250.0, 204.0, 21.0]);
        let lit: Vec<usize> = (0..px.len() / 4).filter(|i| px[i * 4 + 3] == 255).collect();
        // Image rows top-down: the "≥ max" band is row 0, the bottom duration row is the last (4).
        assert_eq!(lit, vec![9, 4 * 10]);
        assert_eq!(&px[9 * 4..9 * 4 + 3], &[250, 204, 21]);
    }
}
