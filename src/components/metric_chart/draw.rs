//! Drawing a series chart with plotters onto a `<canvas>`, in device pixels: the backing store is the CSS
//! size × device pixel ratio, and fonts, line widths and margins are scaled by the ratio to match.
//!
//! The axes are our own [`Ranged`] coordinates, so their ticks are the round values of
//! [`nice_ticks`]/[`time_ticks`] and their labels come from [`format_value`]/[`time_label`].

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use sightline_model::MetricQueryResult;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::components::deploy_markers::PlotSpan;

use super::math::{bands, bucket_center, extent, format_value, nice_ticks, runs, time_label, time_step, time_ticks, x_domain};
use super::ChartStyle;

/// Series colours, chosen to read on both the dark and the light theme (mid lightness, distinct hues).
pub const PALETTE: [Rgb; 10] = [
    (56, 152, 236),  // blue
    (242, 142, 43),  // orange
    (46, 179, 128),  // green
    (225, 87, 89),   // red
    (156, 106, 222), // purple
    (204, 160, 20),  // mustard
    (227, 119, 194), // pink
    (23, 169, 184),  // teal
    (140, 154, 91),  // olive
    (170, 125, 95),  // brown
];

/// A series colour: red, green, blue.
pub type Rgb = (u8, u8, u8);

/// The colour of series `i`: the caller's for it when given (`colors`), else the palette's.
pub fn series_rgb(i: usize, colors: &[Rgb]) -> Rgb {
    colors.get(i).copied().unwrap_or(PALETTE[i % PALETTE.len()])
}

/// `#rrggbb`, for the legend and tooltip.
pub fn css_color((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn series_color(i: usize, colors: &[Rgb]) -> RGBColor {
    let (r, g, b) = series_rgb(i, colors);
    RGBColor(r, g, b)
}

/// Axis text and lines: a grey that reads on both themes.
const AXIS: RGBColor = RGBColor(128, 143, 168);
const FONT: &str = "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif";

/// Sizes the canvas backing store to `css_w` × `css_h` CSS px at `dpr` and clears it. Returns the device
/// pixel size, `None` when there is nothing to draw on.
fn prepare(el: &HtmlCanvasElement, css_w: f64, css_h: f64, dpr: f64) -> Option<(u32, u32)> {
    let (pw, ph) = ((css_w * dpr).round().max(0.0) as u32, (css_h * dpr).round().max(0.0) as u32);
    if el.width() != pw {
        el.set_width(pw);
    }
    if el.height() != ph {
        el.set_height(ph);
    }
    let ctx = el.get_context("2d").ok().flatten()?.dyn_into::<CanvasRenderingContext2d>().ok()?;
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, pw as f64, ph as f64);
    ctx.set_line_join("round");
    ctx.set_line_cap("round");
    (pw > 0 && ph > 0).then_some((pw, ph))
}

/// Clears the canvas (empty chart).
pub fn clear(el: &HtmlCanvasElement, css_w: f64, css_h: f64, dpr: f64) {
    let _ = prepare(el, css_w, css_h, dpr);
}

/// Local time zone offset east of UTC at `t`, in ms.
pub fn tz_offset_ms(t: f64) -> i64 {
    -(js_sys::Date::new(&t.into()).get_timezone_offset() * 60_000.0) as i64
}

/// An axis with our own ticks and labels (round local times, round values in the metric's unit) instead of
/// plotters' defaults; `label` words a tick.
struct TickAxis<F: Fn(f64) -> String> {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    label: F,
}

impl<F: Fn(f64) -> String> Ranged for TickAxis<F> {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        map_linear(*v, self.lo, self.hi, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Only the labelled grid lines; no light lines between them.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl<F: Fn(f64) -> String> ValueFormatter<f64> for TickAxis<F> {
    fn format_ext(&self, v: &f64) -> String {
        (self.label)(*v)
    }
}

fn map_linear(v: f64, lo: f64, hi: f64, limit: (i32, i32)) -> i32 {
    let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
    let px = limit.0 as f64 + f * (limit.1 - limit.0) as f64;
    px.round().clamp(-1e6, 1e6) as i32
}

/// How a series chart looks: its style, whether it stacks, and the series' colours.
#[derive(Clone, Copy)]
pub struct Look<'a> {
    pub style: ChartStyle,
    pub stacked: bool,
    /// Colour of each series by position; the palette's past its end.
    pub colors: &'a [Rgb],
    /// Values to draw as dashed horizontal lines across the plot (an alert rule's thresholds); the value
    /// axis always reaches them.
    pub thresholds: &'a [f64],
}

/// Threshold lines: a red that reads on both themes.
const THRESHOLD: RGBColor = RGBColor(225, 87, 89);

/// A chart with its axes drawn, the device pixel ratio, and what the series are drawn against.
type Chart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<TickAxis<Box<dyn Fn(f64) -> String + 'a>>, TickAxis<Box<dyn Fn(f64) -> String + 'a>>>>;

/// Draws `d` onto `el`, sized `css_w` × `css_h` CSS px at `dpr`: series at `visible` positions only, as lines,
/// areas or bars, stacked or not. Returns the plot's geometry (CSS px) for the pointer read-out.
pub fn series_chart(
    el: &HtmlCanvasElement,
    (css_w, css_h, dpr): (f64, f64, f64),
    d: &MetricQueryResult,
    visible: &[bool],
    look: Look,
) -> Option<PlotSpan> {
    prepare(el, css_w, css_h, dpr)?;
    // What is drawn: the visible series, as bands (stacked or from 0).
    let shown: Vec<usize> = (0..d.series.len()).filter(|i| visible.get(*i).copied().unwrap_or(true)).collect();
    let values: Vec<&[Option<f64>]> = shown.iter().map(|&i| d.series[i].values.as_slice()).collect();
    let bands = bands(&values, look.stacked);
    let backend = CanvasBackend::with_canvas_object(el.clone())?;
    let root = backend.into_drawing_area();
    let (lo, hi) = look.thresholds.iter().fold(extent(&bands), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let mut chart = axes(&root, (css_w, css_h, dpr), d, (lo, hi))?;
    let series = Series { d, bands: &bands, shown: &shown, dpr, colors: look.colors };
    match look.style {
        ChartStyle::Bar => series.bars(&mut chart, look.stacked)?,
        ChartStyle::Line | ChartStyle::Area => series.lines(&mut chart, look.style == ChartStyle::Area || look.stacked, look.stacked)?,
    }
    thresholds(&mut chart, d, look.thresholds, dpr)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (from, to) = x_domain(d);
    Some(PlotSpan {
        x: xr.start as f64 / dpr,
        y: yr.start as f64 / dpr,
        w: (xr.end - xr.start) as f64 / dpr,
        h: (yr.end - yr.start) as f64 / dpr,
        from,
        to,
    })
}

/// Builds the chart on `root` and draws its axes: round local times below, round values in the metric's
/// unit on the left (as wide as their longest label), faint grid lines at the ticks.
fn axes<'a>(
    root: &'a DrawingArea<CanvasBackend, plotters::coord::Shift>,
    (css_w, css_h, dpr): (f64, f64, f64),
    d: &'a MetricQueryResult,
    (lo, hi): (f64, f64),
) -> Option<Chart<'a>> {
    let px = |css: f64| (css * dpr).round() as i32;
    let plot_h_css = (css_h - 8.0 - 22.0).max(10.0);
    let y = nice_ticks(lo, hi, ((plot_h_css / 32.0).floor() as usize).clamp(2, 8));
    let font = TextStyle::from((FONT, 11.0 * dpr).into_font()).color(&AXIS);
    let label_w = y
        .values
        .iter()
        .filter_map(|v| root.estimate_text_size(&format_value(*v, &d.unit), &font).ok())
        .map(|(w, _)| w as i32)
        .max()
        .unwrap_or(0);
    let y_area = label_w + px(10.0);

    let (from, to) = x_domain(d);
    let tz = tz_offset_ms((from + to) / 2.0);
    let plot_w_css = (css_w - y_area as f64 / dpr - 12.0).max(10.0);
    let step = time_step(to - from, plot_w_css, 80.0);
    // Labels are centred on their tick: drop ticks too close to the ends for theirs to fit.
    let edge = 18.0 / plot_w_css * (to - from);
    let x_ticks: Vec<f64> = time_ticks(from, to, step, tz)
        .into_iter()
        .map(|t| t as f64)
        .filter(|&t| t - from >= edge && to - t >= edge)
        .collect();
    let (n_x, n_y) = (x_ticks.len().max(1), y.values.len());
    let x_label: Box<dyn Fn(f64) -> String> = Box::new(move |t: f64| time_label(t as i64, step, tz));
    // A bare 0 at the origin reads better than `0 ms` under `1 s`.
    let y_label: Box<dyn Fn(f64) -> String + 'a> =
        Box::new(move |v: f64| if v == 0.0 { "0".to_string() } else { format_value(v, &d.unit) });

    let mut chart = ChartBuilder::on(root)
        .margin_top(px(8.0))
        .margin_right(px(12.0))
        .margin_left(px(2.0))
        .x_label_area_size(px(22.0))
        .y_label_area_size(y_area)
        .build_cartesian_2d(
            TickAxis { lo: from, hi: to, ticks: x_ticks, label: x_label },
            TickAxis { lo: y.lo, hi: y.hi, ticks: y.values, label: y_label },
        )
        .ok()?;
    chart
        .configure_mesh()
        .bold_line_style(AXIS.mix(0.16).stroke_width(dpr.round().max(1.0) as u32))
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS.mix(0.55).stroke_width(dpr.round().max(1.0) as u32))
        .x_labels(n_x)
        .y_labels(n_y)
        .label_style(font)
        .set_all_tick_mark_size(px(3.0))
        .draw()
        .ok()?;
    Some(chart)
}

/// The series to draw, as bands (see [`bands`]), with the positions in `d.series` they stand for.
struct Series<'a> {
    d: &'a MetricQueryResult,
    bands: &'a [Vec<Option<(f64, f64)>>],
    shown: &'a [usize],
    dpr: f64,
    colors: &'a [Rgb],
}

impl Series<'_> {
    /// One group of bars per bucket, 80 % of its width: side by side, or one stacked bar.
    fn bars(&self, chart: &mut Chart, stacked: bool) -> Option<()> {
        let (d, step_ms) = (self.d, self.d.step_ms.max(0));
        let (from, to) = x_domain(d);
        let n = if stacked { 1 } else { self.shown.len().max(1) };
        let group = step_ms as f64 * 0.8;
        let sub = group / n as f64;
        let gap = if n > 1 { sub * 0.1 } else { 0.0 };
        let plot_px = chart.plotting_area().get_pixel_range().0.len() as f64;
        let sub_px = sub / (to - from).max(1.0) * plot_px;
        if n > 1 && sub_px < 3.0 * self.dpr {
            // Too many buckets for side-by-side bars to be seen: each bucket's bars overlap, the tallest
            // behind, so every series still shows.
            let rects = (0..d.timestamps.len()).flat_map(|i| {
                let x0 = d.timestamps[i] as f64 + step_ms as f64 * 0.1;
                let mut here: Vec<(f64, f64, usize)> =
                    self.bands.iter().zip(self.shown).filter_map(|(b, &si)| b.get(i).copied().flatten().map(|(b, t)| (b, t, si))).collect();
                crate::sort::sort_by(&mut here, |a, b| (b.1 - b.0).abs().total_cmp(&(a.1 - a.0).abs()));
                here.into_iter().map(move |(base, top, si)| {
                    Rectangle::new([(x0, top), (x0 + group, base)], series_color(si, self.colors).mix(0.9).filled())
                })
            });
            chart.draw_series(rects).ok()?;
            return Some(());
        }
        for (k, (series_bands, &si)) in self.bands.iter().zip(self.shown).enumerate() {
            let color = series_color(si, self.colors);
            let slot = if stacked { 0 } else { k };
            let rects = series_bands.iter().enumerate().filter_map(|(i, b)| {
                let (base, top) = (*b)?;
                let x0 = *d.timestamps.get(i)? as f64 + step_ms as f64 * 0.1 + slot as f64 * sub;
                Some(Rectangle::new([(x0, top), (x0 + sub - gap, base)], color.mix(0.85).filled()))
            });
            chart.draw_series(rects).ok()?;
        }
        Some(())
    }

    /// A line through each run of values (nulls are gaps), filled down to its base when `fill`.
    fn lines(&self, chart: &mut Chart, fill: bool, stacked: bool) -> Option<()> {
        let d = self.d;
        let cx = |i: usize| d.timestamps.get(i).map_or(f64::NAN, |&t| bucket_center(t, d.step_ms.max(0)));
        let line_w = ((1.5 * self.dpr).round() as u32).max(1);
        let alpha = if stacked { 0.45 } else { 0.2 };
        for (series_bands, &si) in self.bands.iter().zip(self.shown) {
            let color = series_color(si, self.colors);
            for r in runs(series_bands) {
                let top: Vec<(f64, f64)> = r.clone().filter_map(|i| series_bands[i].map(|(_, t)| (cx(i), t))).collect();
                if fill {
                    let mut poly = top.clone();
                    poly.extend(r.clone().rev().filter_map(|i| series_bands[i].map(|(b, _)| (cx(i), b))));
                    chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(alpha).filled()))).ok()?;
                }
                if top.len() == 1 {
                    // A lone value between gaps: a dot, or it would not show at all.
                    let dot = ((2.5 * self.dpr).round() as i32).max(1);
                    chart.draw_series(std::iter::once(Circle::new(top[0], dot, color.filled()))).ok()?;
                } else {
                    chart.draw_series(std::iter::once(PathElement::new(top, color.stroke_width(line_w)))).ok()?;
                }
            }
        }
        Some(())
    }
}

/// A dashed line across the plot at each threshold.
fn thresholds(chart: &mut Chart, d: &MetricQueryResult, values: &[f64], dpr: f64) -> Option<()> {
    let (from, to) = x_domain(d);
    let dash = (to - from) / 120.0;
    let width = ((1.5 * dpr).round() as u32).max(1);
    for &v in values {
        let dashes = (0..120).step_by(2).map(|k| {
            let x = from + k as f64 * dash;
            PathElement::new(vec![(x, v), ((x + dash).min(to), v)], THRESHOLD.stroke_width(width))
        });
        chart.draw_series(dashes).ok()?;
    }
    Some(())
}
