//! The charts board widgets and the DB page's graphs draw from a [`MetricQueryResult`]: a time series chart
//! (lines, areas or bars, stacked or not) drawn with plotters on a canvas, a single big number, and a top-N
//! table. Each fills its parent (the widget body) and follows it when the widget is resized.
//!
//! Browser tests find them by `data-testid`: `chart-canvas`, `chart-legend`, `chart-tooltip`, `chart-empty`,
//! `chart-selection`, `chart-at`, `single-number-value`, `top-n-row`; the series chart's wrapper says what
//! it drew in `data-series` (series drawn) and `data-points` (their non-null values).

mod draw;
mod math;

use leptos::html::{Canvas, Div};
use leptos::prelude::*;
use sightline_model::{AlertEvent, Deploy, MetricQueryResult, Threshold};

pub use draw::Rgb;
use draw::{css_color, series_rgb};
pub use math::format_value;
use math::{
    bucket_center, bucket_label, nearest_bucket, point_count, series_label, series_stats, sparkline_path, threshold_color,
    top_rows, x_domain,
};

use crate::components::deploy_markers::{DeployMarkers, PlotSpan};
use crate::hooks::{use_chart_canvas, use_time_brush_with_options, UseTimeBrushOptions};

/// How a series chart is drawn.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ChartStyle {
    Line,
    Area,
    Bar,
}

/// The CSS colour of series `i` in the default palette: for a table that lists what a chart draws.
pub fn palette_css(i: usize) -> String {
    css_color(series_rgb(i, &[]))
}

/// Most series listed in the hover read-out; the rest are counted.
const TOOLTIP_ROWS: usize = 12;

/// Click a moment or drag a window on a series chart (see `use_time_brush`), and what was chosen drawn over
/// the plot: the moment as a line, the window as a band. Several charts given the same signals show the same
/// choice.
#[derive(Clone, Copy)]
pub struct TimePick {
    /// The chosen moment (epoch ms).
    pub at: Signal<Option<i64>>,
    /// The chosen window (epoch ms, `from < to`).
    pub window: Signal<Option<(i64, i64)>>,
    /// A click: gets the start of the bucket under the pointer (the one the read-out shows).
    pub on_pick: Callback<i64>,
    /// A drag: gets the window dragged, whole milliseconds.
    pub on_select: Callback<(i64, i64)>,
}

/// A time series chart: one line (area, bar) per series, a legend that switches series on and off, and a
/// read-out of the bucket under the pointer. Nulls are gaps; stacked, the series add up.
#[component]
pub fn SeriesChart(
    data: Signal<MetricQueryResult>,
    #[prop(into)] style: Signal<ChartStyle>,
    #[prop(into)] stacked: Signal<bool>,
    /// Deploys to mark with a dashed line (only version changes, not a service's first version).
    #[prop(optional, into)]
    markers: Signal<Vec<Deploy>>,
    /// Alert state changes (firing, resolved) to mark like deploys.
    #[prop(optional, into)]
    alerts: Signal<Vec<AlertEvent>>,
    /// Values drawn as dashed lines across the plot (an alert rule's thresholds).
    #[prop(optional, into)]
    thresholds: Signal<Vec<f64>>,
    /// Time windows shaded over the plot (when an alert rule would have fired), epoch ms.
    #[prop(optional, into)]
    shaded: Signal<Vec<(i64, i64)>>,
    /// Colour of each series by position (a class that keeps its colour as others come and go); the
    /// palette's for series past its end. Default: the palette.
    #[prop(optional, into)]
    colors: Signal<Vec<Rgb>>,
    /// Whether the legend is shown (a single-series chart titled by its panel needs none). Default: shown.
    #[prop(default = true)]
    legend: bool,
    /// Click a moment / drag a window, and the chosen ones drawn. Default: none (hover read-out only).
    #[prop(optional)]
    pick: Option<TimePick>,
) -> impl IntoView {
    let plot = NodeRef::<Div>::new();
    let canvas = NodeRef::<Canvas>::new();
    let c = use_chart_canvas(plot);
    // Labels of the series the user switched off in the legend (kept across refreshes of the data).
    let hidden = RwSignal::new(Vec::<String>::new());
    let labels =
        Memo::new(move |_| data.with(|d| d.series.iter().map(|s| series_label(&s.labels, &d.metric)).collect::<Vec<_>>()));
    let visible = Memo::new(move |_| hidden.with(|h| labels.with(|l| l.iter().map(|l| !h.contains(l)).collect::<Vec<_>>())));
    let empty = Memo::new(move |_| data.with(|d| point_count(d, None) == 0));
    let geometry = RwSignal::new(None::<PlotSpan>);

    Effect::new(move |_| {
        let size = (c.width.get(), c.height.get(), c.dpr.get());
        let (style, stacked, empty) = (style.get(), stacked.get(), empty.get());
        let Some(el) = canvas.get() else { return };
        if empty {
            draw::clear(&el, size.0, size.1, size.2);
            geometry.set(None);
            return;
        }
        let drawn = colors.with(|colors| {
            thresholds.with(|thresholds| {
                let look = draw::Look { style, stacked, colors, thresholds };
                visible.with(|v| data.with(|d| draw::series_chart(&el, size, d, v, look)))
            })
        });
        geometry.set(drawn);
    });

    let drawn_series = move || if empty.get() { 0 } else { visible.with(|v| v.iter().filter(|v| **v).count()) };
    let drawn_points = move || visible.with(|v| data.with(|d| point_count(d, Some(v))));
    let hovered = Memo::new(move |_| {
        let (px, _) = c.hover.get()?;
        let g = geometry.get()?;
        if px < g.x - 4.0 || px > g.x + g.w + 4.0 {
            return None;
        }
        data.with(|d| nearest_bucket(&d.timestamps, d.step_ms, g.time_at(px)))
    });
    let readout = Readout { data, colors, visible, stacked, hovered, geometry, hover: c.hover, width: c.width };
    let chosen = pick.map(|p| brush_overlay(p, data, plot, geometry));

    view! {
        <div class="metric-chart" data-testid="series-chart" data-series=drawn_series data-points=drawn_points>
            <div class="chart-plot" class:pickable=pick.is_some() node_ref=plot>
                <canvas node_ref=canvas class="chart-canvas" data-testid="chart-canvas"></canvas>
                {move || shaded_bands(shaded, geometry)}
                {chosen}
                <DeployMarkers markers=markers alerts=alerts plot=geometry />
                {move || readout.view()}
                <Show when=move || empty.get()>
                    <div class="chart-empty" data-testid="chart-empty">"No data in this range"</div>
                </Show>
            </div>
            <Show when=move || legend && !empty.get()>
                <div class="chart-legend" data-testid="chart-legend">
                    <Legend labels=labels hidden=hidden colors=colors />
                </div>
            </Show>
        </div>
    }
}

/// Wires a [`TimePick`] to the plot: a click picks the bucket under the pointer, a drag selects its window
/// (held on screen until the chosen window changes, so the band does not blink). Returns the view of what
/// is chosen: the window as a band (`chart-selection`), the moment as a line (`chart-at`).
fn brush_overlay(p: TimePick, data: Signal<MetricQueryResult>, plot: NodeRef<Div>, geometry: RwSignal<Option<PlotSpan>>) -> impl IntoView {
    let on_click = Callback::new(move |t: f64| {
        let bucket = data.with_untracked(|d| nearest_bucket(&d.timestamps, d.step_ms, t).and_then(|i| d.timestamps.get(i).copied()));
        if let Some(b) = bucket {
            p.on_pick.run(b);
        }
    });
    let on_select = Callback::new(move |(a, b): (f64, f64)| p.on_select.run((a.round() as i64, b.round() as i64)));
    let brush = use_time_brush_with_options(
        plot,
        geometry,
        UseTimeBrushOptions::default().on_click(on_click).on_select(on_select).hold_after_release(true),
    );
    // The committed window (or its clearing) replaces the drag that made it.
    Effect::new(move |_| {
        p.window.track();
        brush.cancel.run(());
    });
    let band = move || {
        let g = geometry.get()?;
        let (a, b) = brush.window.get().or_else(|| p.window.get().map(|(a, b)| (a as f64, b as f64)))?;
        let (x1, x2) = (g.x_of(a).clamp(g.x, g.x + g.w), g.x_of(b).clamp(g.x, g.x + g.w));
        Some(view! {
            <div class="chart-selection" data-testid="chart-selection"
                style=format!("left:{x1:.1}px;top:{:.1}px;width:{:.1}px;height:{:.1}px", g.y, (x2 - x1).max(1.0), g.h)></div>
        })
    };
    let line = move || {
        let g = geometry.get()?;
        let x = g.x_of(p.at.get()? as f64);
        (g.x..=g.x + g.w).contains(&x).then(|| view! {
            <div class="chart-at" data-testid="chart-at" style=format!("left:{x:.1}px;top:{:.1}px;height:{:.1}px", g.y, g.h)></div>
        })
    };
    view! { {band} {line} }
}

/// The `shaded` windows as bands over the plot (`chart-shaded`), clipped to it.
fn shaded_bands(shaded: Signal<Vec<(i64, i64)>>, geometry: RwSignal<Option<PlotSpan>>) -> Option<impl IntoView> {
    let g = geometry.get()?;
    Some(shaded.with(|s| {
        s.iter()
            .filter_map(|&(a, b)| {
                let (x1, x2) = (g.x_of(a as f64).clamp(g.x, g.x + g.w), g.x_of(b as f64).clamp(g.x, g.x + g.w));
                (x2 > x1 || (x1 > g.x && x1 < g.x + g.w)).then(|| view! {
                    <div class="chart-shaded" data-testid="chart-shaded"
                        style=format!("left:{x1:.1}px;top:{:.1}px;width:{:.1}px;height:{:.1}px", g.y, (x2 - x1).max(2.0), g.h)></div>
                })
            })
            .collect_view()
    }))
}

/// What the hover read-out needs: the data, which series are shown in which colours, and where the pointer is.
#[derive(Clone, Copy)]
struct Readout {
    data: Signal<MetricQueryResult>,
    colors: Signal<Vec<Rgb>>,
    visible: Memo<Vec<bool>>,
    stacked: Signal<bool>,
    /// The bucket under the pointer.
    hovered: Memo<Option<usize>>,
    geometry: RwSignal<Option<PlotSpan>>,
    hover: Signal<Option<(f64, f64)>>,
    /// Width of the plot box, CSS px.
    width: Signal<f64>,
}

impl Readout {
    /// A guide line at the hovered bucket and, beside the pointer, its time and each shown series' value.
    fn view(self) -> Option<impl IntoView> {
        let i = self.hovered.get()?;
        let g = self.geometry.get()?;
        let (px, py) = self.hover.get()?;
        let width = self.width.get();
        self.data.with(|d| {
            let t = *d.timestamps.get(i)?;
            let (from, to) = x_domain(d);
            let heading = bucket_label(t, d.step_ms, to - from > 86_400_000.0, draw::tz_offset_ms(t as f64));
            let vis = self.visible.get();
            let shown: Vec<usize> = (0..d.series.len()).filter(|k| vis.get(*k).copied().unwrap_or(true)).collect();
            let colors = self.colors.get();
            let rows = shown
                .iter()
                .take(TOOLTIP_ROWS)
                .map(|&k| {
                    let s = &d.series[k];
                    let v = s.values.get(i).copied().flatten().map_or_else(|| "—".to_string(), |v| format_value(v, &d.unit));
                    view! {
                        <div class="chart-tooltip-row">
                            <span class="chart-swatch" style=format!("background:{}", css_color(series_rgb(k, &colors)))></span>
                            <span class="chart-tooltip-label">{series_label(&s.labels, &d.metric)}</span>
                            <span class="chart-tooltip-value">{v}</span>
                        </div>
                    }
                })
                .collect_view();
            let more = (shown.len() > TOOLTIP_ROWS).then(|| format!("+{} more", shown.len() - TOOLTIP_ROWS));
            let total = (self.stacked.get() && shown.len() > 1).then(|| {
                let sum: f64 = shown.iter().filter_map(|&k| d.series[k].values.get(i).copied().flatten()).sum();
                view! {
                    <div class="chart-tooltip-row chart-tooltip-total">
                        <span class="chart-tooltip-label">"total"</span>
                        <span class="chart-tooltip-value">{format_value(sum, &d.unit)}</span>
                    </div>
                }
            });
            let x = g.x_of(bucket_center(t, d.step_ms));
            // Beside the pointer, on the side with more room.
            let side = if px > width / 2.0 {
                format!("right:{:.0}px", (width - px + 14.0).max(0.0))
            } else {
                format!("left:{:.0}px", px + 14.0)
            };
            let top = (py - 10.0).clamp(0.0, (g.y + g.h - 40.0).max(0.0));
            Some(view! {
                <div class="chart-guide" style=format!("left:{x:.1}px;top:{:.1}px;height:{:.1}px", g.y, g.h)></div>
                <div class="chart-tooltip" data-testid="chart-tooltip" style=format!("{side};top:{top:.0}px")>
                    <div class="chart-tooltip-time">{heading}</div>
                    {rows}
                    {more.map(|m| view! { <div class="chart-tooltip-more muted">{m}</div> })}
                    {total}
                </div>
            })
        })
    }
}

/// One button per series, in its colour, that switches it off and on (`hidden` holds the labels switched off).
#[component]
fn Legend(labels: Memo<Vec<String>>, hidden: RwSignal<Vec<String>>, colors: Signal<Vec<Rgb>>) -> impl IntoView {
    move || {
        let colors = colors.get();
        labels.with(|l| {
            l.iter()
                .enumerate()
                .map(|(k, label)| {
                    let key = label.clone();
                    let off = {
                        let key = key.clone();
                        move || hidden.with(|h| h.contains(&key))
                    };
                    let toggle = move |_| {
                        hidden.update(|h| {
                            if let Some(p) = h.iter().position(|x| *x == key) {
                                h.remove(p);
                            } else {
                                h.push(key.clone());
                            }
                        })
                    };
                    view! {
                        <button
                            class="chart-legend-item"
                            class:off=off.clone()
                            data-testid="chart-legend-item"
                            aria-pressed=move || (!off()).to_string()
                            title="Show or hide this series"
                            on:click=toggle
                        >
                            <span class="chart-swatch" style=format!("background:{}", css_color(series_rgb(k, &colors)))></span>
                            <span class="chart-legend-label">{label.clone()}</span>
                        </button>
                    }
                })
                .collect_view()
        })
    }
}

/// One big number: the latest value of the first series, coloured by the thresholds it reached, with an
/// optional sparkline of the range under it.
#[component]
pub fn SingleNumber(
    data: Signal<MetricQueryResult>,
    #[prop(into)] sparkline: Signal<bool>,
    #[prop(into)] thresholds: Signal<Vec<Threshold>>,
) -> impl IntoView {
    // (bucket start, value) of the latest non-null value.
    let last = Memo::new(move |_| {
        data.with(|d| {
            let (i, v) = series_stats(&d.series.first()?.values).last?;
            Some((d.timestamps.get(i).copied(), v))
        })
    });
    let text = move || match last.get() {
        Some((_, v)) => data.with(|d| format_value(v, &d.unit)),
        None => "—".to_string(),
    };
    let color = move || {
        let (_, v) = last.get()?;
        thresholds.with(|t| threshold_color(v, t)).map(|c| format!("color:{c}"))
    };
    let caption = move || {
        data.with(|d| match last.get() {
            Some((Some(t), _)) => format!("last · {} · {}", d.metric, crate::format::clock(t)[..5].to_owned()),
            _ => format!("last · {}", d.metric),
        })
    };
    let values = Signal::derive(move || data.with(|d| d.series.first().map(|s| s.values.clone()).unwrap_or_default()));

    view! {
        <div class="single-number" data-testid="single-number">
            <div class="single-number-value" data-testid="single-number-value" style=color>{text}</div>
            <Show when=move || sparkline.get()>
                <Sparkline values=values class="single-number-sparkline" testid="single-number-sparkline" />
            </Show>
            <div class="single-number-caption">{caption}</div>
        </div>
    }
}

/// The chart in its most compact form: one line of values stretched over its box (a table cell, under a
/// single number), no axes and no read-out. `from_zero` draws counts from a zero baseline.
#[component]
pub fn Sparkline(
    #[prop(into)] values: Signal<Vec<Option<f64>>>,
    /// CSS class of the `<svg>` (it sets the size); `sparkline` is always added.
    #[prop(optional)]
    class: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(optional)] from_zero: bool,
    /// Hover text (what the line shows).
    #[prop(optional, into)]
    title: Option<String>,
) -> impl IntoView {
    let path = move || values.with(|v| sparkline_path(v, 100.0, 30.0, from_zero));
    let (role, hidden) = if title.is_some() { (Some("img"), None) } else { (None, Some("true")) };
    let label = title.clone();
    view! {
        <svg
            class=format!("sparkline {class}")
            data-testid=testid.unwrap_or("sparkline")
            viewBox="0 -2 100 34"
            preserveAspectRatio="none"
            role=role
            aria-label=label
            aria-hidden=hidden
        >
            {title.map(|t| view! { <title>{t}</title> })}
            <path d=path vector-effect="non-scaling-stroke"></path>
        </svg>
    }
}

/// The groups with the highest mean over the range, highest first: label, mean, max, and a bar for the mean.
#[component]
pub fn TopNTable(data: Signal<MetricQueryResult>, #[prop(into)] limit: Signal<u32>) -> impl IntoView {
    let top = Memo::new(move |_| data.with(|d| top_rows(d, limit.get() as usize)));
    let unit = Memo::new(move |_| data.with(|d| d.unit.clone()));
    // The grouping dimensions name the first column (`service`), when every series has the same ones.
    // Then the rows name their groups by value only (`checkout`, not `service=checkout`).
    let heading = Memo::new(move |_| {
        data.with(|d| {
            let keys = |s: &sightline_model::MetricSeries| s.labels.keys().cloned().collect::<Vec<_>>().join(", ");
            match d.series.first().map(keys) {
                Some(k) if !k.is_empty() && d.series.iter().all(|s| keys(s) == k) => Some(k),
                _ => None,
            }
        })
    });

    view! {
        <div class="top-n" data-testid="top-n">
            {move || {
                top.with(|(rows, more)| {
                    if rows.is_empty() {
                        return view! { <div class="chart-empty" data-testid="chart-empty">"No data in this range"</div> }
                            .into_any();
                    }
                    let unit = unit.get();
                    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format_value(v, &unit));
                    let by_value = heading.with(Option::is_some);
                    let body = rows
                        .iter()
                        .map(|r| {
                            let name = if by_value { r.name.clone() } else { r.label.clone() };
                            view! {
                                <tr data-testid="top-n-row">
                                    <td class="top-n-label" title=r.label.clone()>{name}</td>
                                    <td class="num">{fmt(r.mean)}</td>
                                    <td class="num">{fmt(r.max)}</td>
                                    <td class="top-n-bar">
                                        <span style=format!("width:{:.1}%", r.share * 100.0)></span>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view();
                    let more = (*more > 0).then(|| {
                        view! {
                            <tr class="top-n-more" data-testid="top-n-more">
                                <td colspan="4">{format!("+{more} more")}</td>
                            </tr>
                        }
                    });
                    view! {
                        <table class="top-n-table">
                            <thead>
                                <tr>
                                    <th>{heading.get().unwrap_or_else(|| "series".into())}</th>
                                    <th class="num">"mean"</th>
                                    <th class="num">"max"</th>
                                    <th class="top-n-bar-head"></th>
                                </tr>
                            </thead>
                            <tbody>{body} {more}</tbody>
                        </table>
                    }
                    .into_any()
                })
            }}
        </div>
    }
}
