//! The instance's graphs over the last 15 minutes, drawn by the board charts' [`SeriesChart`] (time axis,
//! value ticks, hover read-out, deploy markers): click a moment to see its sessions (`?at=`), drag a window
//! to see the window's (`?sel=from-to`), Esc clears the window. Every graph shows the chosen moment and window.
//!
//! The graphs are built from one `/db/.../metrics` answer: each sample is an instant (a `step_ms` of 0), so a
//! click picks a sample and the sessions shown are the ones it saw.

use leptos::ev;
use leptos::prelude::*;
use leptos_use::use_event_listener;
use sightline_model::{DbMetricPoint, DbMetrics, MetricQueryResult, MetricSeries};

use super::{loading, polled, WINDOW_MS};
use crate::api;
use crate::components::error_view::FetchError;
use crate::components::metric_chart::{ChartStyle, Rgb, SeriesChart, TimePick};
use crate::hooks::{now_ms, use_polled_resource_with_options, use_set_query};

/// The graphs of instance `id`, with the moment (`at`) and window (`sel`) chosen on them.
#[component]
pub(super) fn Graphs(id: String, at: Memo<Option<i64>>, sel: Memo<Option<(i64, i64)>>) -> impl IntoView {
    let metrics = use_polled_resource_with_options(
        move || {
            let now = now_ms();
            api::db_metrics(id.clone(), now - WINDOW_MS, now + 1)
        },
        polled(),
    );
    let deploys = use_polled_resource_with_options(
        || {
            let now = now_ms();
            api::deploys(now - WINDOW_MS, now + 1)
        },
        polled(),
    );
    let pick = url_pick(at, sel);
    let markers = Signal::derive(move || deploys.data.with(|d| d.as_ref().map(|d| d.deploys.clone()).unwrap_or_default()));
    let graph = move |metric: &'static str, unit: &'static str, value: fn(&DbMetricPoint) -> Option<f64>| {
        Signal::derive(move || metrics.data.with(|m| m.as_ref().map(|m| sampled(m, metric, unit, value)).unwrap_or_default()))
    };
    let classes = Memo::new(move |_| metrics.data.with(|m| m.as_ref().map(by_wait_class).unwrap_or_default()));
    let chart = move |testid: &'static str, data: Signal<MetricQueryResult>, style: ChartStyle| {
        view! {
            <div class="db-chart" data-testid=testid>
                <SeriesChart data=data style=style stacked=false markers=markers legend=false pick=pick />
            </div>
        }
    };

    view! {
        <div class="db-graphs" data-testid="db-graphs">
            <FetchError error=metrics.error what="DB metrics" />
            <FetchError error=deploys.error what="deploys" />
            <Show when=move || !metrics.loading.get() fallback=loading>
                <div class="panel">
                    <div class="panel-head">
                        <h2>"Total runtime"</h2>
                        <span class="muted">"summed elapsed time of active sessions · click a moment or drag a window to see its sessions"</span>
                    </div>
                    {chart("chart-total-runtime", graph("total runtime", "ms", |m| Some(m.total_runtime_ms)), ChartStyle::Area)}
                </div>
                <div class="panel">
                    <div class="panel-head"><h2>"Active sessions by wait class"</h2></div>
                    <div class="db-chart db-chart-legend" data-testid="chart-wait-classes">
                        <SeriesChart data=Signal::derive(move || classes.with(|c| c.0.clone())) style=ChartStyle::Area stacked=true
                            colors=Signal::derive(move || classes.with(|c| c.1.clone())) markers=markers pick=pick />
                    </div>
                </div>
                <div class="db-small-charts">
                    <div class="panel"><div class="panel-head"><h3>"Transactions / s"</h3></div>
                        {chart("chart-tps", graph("transactions", "1/s", |m| m.tps), ChartStyle::Line)}</div>
                    <div class="panel"><div class="panel-head"><h3>"Buffer hit ratio"</h3></div>
                        {chart("chart-hit", graph("buffer hit ratio", "ratio", |m| m.buffer_hit_ratio), ChartStyle::Line)}</div>
                    <div class="panel"><div class="panel-head"><h3>"Connections"</h3></div>
                        {chart("chart-connections", graph("connections", "count", |m| Some(m.connections as f64)), ChartStyle::Line)}</div>
                    <div class="panel"><div class="panel-head"><h3>"Lock waits"</h3></div>
                        {chart("chart-lock-waits", graph("lock waits", "count", |m| Some(m.lock_waits as f64)), ChartStyle::Line)}</div>
                </div>
            </Show>
        </div>
    }
}

/// The moment and window chosen on the graphs, kept in the URL: a click sets `?at=` (and drops the window),
/// a drag `?sel=` (and drops the moment), Escape clears the window.
fn url_pick(at: Memo<Option<i64>>, sel: Memo<Option<(i64, i64)>>) -> TimePick {
    let set_query = use_set_query();
    {
        let set_query = set_query.clone();
        let _ = use_event_listener(window(), ev::keydown, move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" && sel.get_untracked().is_some() {
                set_query(vec![("sel", None)]);
            }
        });
    }
    let on_pick = {
        let set_query = set_query.clone();
        Callback::new(move |t: i64| set_query(vec![("at", Some(t.to_string())), ("sel", None)]))
    };
    let on_select = Callback::new(move |(a, b): (i64, i64)| set_query(vec![("sel", Some(format!("{a}-{b}"))), ("at", None)]));
    TimePick { at: at.into(), window: sel.into(), on_pick, on_select }
}

/// The span the graphs show: the asked window, but a young history (a fresh start) fills the width instead
/// of being a sliver at the right edge.
fn shown_window(m: &DbMetrics) -> (i64, i64) {
    let first = m.points.first().map_or(m.from, |p| p.t);
    (m.from.max(first - 1_000), m.to)
}

/// One graph's series from the samples: `value` of each sample (a gap where it has none) at the sample's
/// time.
fn sampled(m: &DbMetrics, metric: &str, unit: &str, value: fn(&DbMetricPoint) -> Option<f64>) -> MetricQueryResult {
    let (from, to) = shown_window(m);
    MetricQueryResult {
        metric: metric.into(),
        unit: unit.into(),
        from,
        to,
        step_ms: 0,
        timestamps: m.points.iter().map(|p| p.t).collect(),
        series: vec![MetricSeries { labels: Default::default(), values: m.points.iter().map(value).collect() }],
        truncated: 0,
    }
}

/// Active sessions per wait class, one series per class seen in the window (named like the board's
/// `db.sessions.active` by `wait_class`), each in its class's colour.
fn by_wait_class(m: &DbMetrics) -> (MetricQueryResult, Vec<Rgb>) {
    let mut classes: Vec<&String> = m.points.iter().flat_map(|p| p.active_by_class.keys()).collect();
    crate::sort::sort(&mut classes);
    classes.dedup();
    let series = classes
        .iter()
        .map(|&c| MetricSeries {
            labels: [("wait_class".to_string(), c.clone())].into(),
            values: m.points.iter().map(|p| Some(p.active_by_class.get(c).copied().unwrap_or(0) as f64)).collect(),
        })
        .collect();
    let colors = classes.iter().map(|c| class_color(c)).collect();
    let (from, to) = shown_window(m);
    let result = MetricQueryResult {
        metric: "active sessions".into(),
        unit: "count".into(),
        from,
        to,
        step_ms: 0,
        timestamps: m.points.iter().map(|p| p.t).collect(),
        series,
        truncated: 0,
    };
    (result, colors)
}

/// A fixed colour per wait class, so a class keeps its colour as others come and go.
fn class_color(class: &str) -> Rgb {
    match class {
        sightline_model::CPU_CLASS => (63, 185, 80),
        "Lock" => (248, 81, 73),
        "IO" => (88, 166, 255),
        "LWLock" => (210, 153, 34),
        "Client" => (163, 113, 247),
        "IPC" => (219, 97, 162),
        _ => (139, 148, 158),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn point(t: i64, classes: &[(&str, u32)], tps: Option<f64>) -> DbMetricPoint {
        let by: BTreeMap<String, u32> = classes.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        let mut p = DbMetricPoint::new(t, 10.0, by, 3, 100, 0);
        p.tps = tps;
        p
    }

    fn metrics(points: Vec<DbMetricPoint>) -> DbMetrics {
        DbMetrics { instance: "i".into(), from: 0, to: 900_000, points }
    }

    #[test]
    fn samples_are_instants_and_missing_values_are_gaps() {
        let m = metrics(vec![point(600_000, &[], None), point(602_000, &[], Some(4.5))]);
        let r = sampled(&m, "transactions", "1/s", |p| p.tps);
        assert_eq!(r.step_ms, 0);
        assert_eq!(r.timestamps, vec![600_000, 602_000]);
        assert_eq!(r.series[0].values, vec![None, Some(4.5)]);
        // A young history fills the width: it starts a second before the first sample.
        assert_eq!((r.from, r.to), (599_000, 900_000));
    }

    #[test]
    fn wait_classes_stack_with_zeros_and_keep_their_colours() {
        let m = metrics(vec![point(1_000, &[("Lock", 2)], None), point(3_000, &[("IO", 1), ("Lock", 1)], None)]);
        let (r, colors) = by_wait_class(&m);
        let names: Vec<&str> = r.series.iter().map(|s| s.labels["wait_class"].as_str()).collect();
        assert_eq!(names, ["IO", "Lock"]);
        assert_eq!(r.series[0].values, vec![Some(0.0), Some(1.0)]);
        assert_eq!(r.series[1].values, vec![Some(2.0), Some(1.0)]);
        assert_eq!(colors, vec![class_color("IO"), class_color("Lock")]);
        // The window starts at the asked one when the history is older.
        assert_eq!(r.from, 0);
    }
}
