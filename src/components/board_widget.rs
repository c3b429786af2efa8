//! What a board widget shows, per kind. Each widget fetches its own data, so it has its own loading and
//! error state: one failing query shows its message in its tile and the rest of the board carries on.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use sightline_model::{
    AlertEvent, DbSession, Deploy, MetricQueryResult, Scale, SeriesStyle, Widget, WidgetKind, WidgetQuery,
};

use crate::api::{self, ApiError, HitmapParams, Selection};
use crate::components::hitmap_chart::HitmapChart;
use crate::components::metric_chart::{ChartStyle, SeriesChart, SingleNumber, TopNTable};
use crate::format::duration;
use crate::hooks::{use_polled_resource, UsePolledResourceReturn};
use crate::pages::apm::format_selection;

/// What every widget of a board shares: the time window and the variables' current values (`None` = all).
#[derive(Clone, Copy)]
pub struct BoardContext {
    pub window: Signal<(i64, i64)>,
    pub vars: Signal<BTreeMap<String, Option<String>>>,
    /// Version changes in the window, fetched once for the whole board; charts mark those of the service
    /// they show (all of them when not filtered to one).
    pub deploys: Signal<Vec<Deploy>>,
    /// Alert state changes in the window, fetched once for the whole board; marked like deploys on the
    /// charts (those of the service a chart shows, when it is filtered to one).
    pub alerts: Signal<Vec<AlertEvent>>,
}

/// The query with board variables substituted: a filter value `$name` takes the variable's value, and
/// the filter is dropped when the variable is "all" (or unknown), so "all services" means no filter.
pub fn resolve_query(q: &WidgetQuery, vars: &BTreeMap<String, Option<String>>) -> WidgetQuery {
    let filter = q
        .filter
        .iter()
        .filter_map(|(k, v)| match v.strip_prefix('$') {
            Some(name) => vars.get(name).cloned().flatten().map(|val| (k.clone(), val)),
            None => Some((k.clone(), v.clone())),
        })
        .collect();
    WidgetQuery { metric: q.metric.clone(), filter, group_by: q.group_by.clone() }
}

/// The value a widget filters `dimension` by, board variables substituted (`None` = all).
fn resolved_filter(query: Option<WidgetQuery>, ctx: BoardContext, dimension: &'static str) -> Memo<Option<String>> {
    Memo::new(move |_| {
        let q = query.as_ref()?;
        ctx.vars.with(|v| resolve_query(q, v)).filter.remove(dimension)
    })
}

/// The alert state changes a chart of `service` marks: those of that service (by their `service` label)
/// and those not about one service; every one when the chart is not filtered to a service.
pub fn alerts_of_service(all: &[AlertEvent], service: Option<&str>) -> Vec<AlertEvent> {
    all.iter()
        .filter(|e| match (service, e.labels.get("service")) {
            (Some(s), Some(l)) => s == l,
            _ => true,
        })
        .cloned()
        .collect()
}

/// Hitmap cells of a widget: about half the APM page's resolution, enough for a tile.
const HITMAP_COLS: u32 = 120;
const HITMAP_ROWS: u32 = 50;
const HITMAP_YMAX_MS: f64 = 5_000.0;
/// Points asked per series: a full-width widget on a wide screen, one point per ~5 px. The server widens
/// the step so a series never has more.
const MAX_POINTS: u32 = 400;
/// Sessions listed in a database widget.
const DB_ROWS: usize = 6;

/// The body of one widget (everything under its title bar).
#[component]
pub fn WidgetBody(widget: Widget, ctx: BoardContext) -> impl IntoView {
    match widget.kind {
        WidgetKind::Timeseries | WidgetKind::Bar | WidgetKind::SingleNumber | WidgetKind::TopN => {
            view! { <MetricWidget widget=widget ctx=ctx /> }.into_any()
        }
        WidgetKind::Hitmap => view! { <HitmapWidget widget=widget ctx=ctx /> }.into_any(),
        WidgetKind::DbActiveSessions => view! { <DbSessionsWidget widget=widget ctx=ctx /> }.into_any(),
        WidgetKind::ProcessCpuMem => view! { <ProcessWidget widget=widget ctx=ctx /> }.into_any(),
        WidgetKind::Text => view! { <TextNote text=widget.options.text.unwrap_or_default() /> }.into_any(),
        WidgetKind::Unknown(kind) => view! {
            <p class="widget-msg widget-error" role="alert">{format!("This version cannot draw widgets of kind {kind:?}.")}</p>
        }
        .into_any(),
    }
}

/// Drops the last bucket when it ends after `to` (it is still filling: a rate or count there reads low and
/// a live chart would dip at its right edge, a single number would show a near-zero "last" value).
pub fn without_partial_tail(mut r: MetricQueryResult, to: i64) -> MetricQueryResult {
    let partial = r.timestamps.last().is_some_and(|t| t + r.step_ms > to);
    if partial && r.timestamps.len() > 1 {
        r.timestamps.pop();
        for s in &mut r.series {
            s.values.truncate(r.timestamps.len());
        }
        r.to = r.timestamps.last().map_or(r.to, |t| t + r.step_ms);
    }
    r
}

/// Loading and error chrome shared by the widgets that fetch: a thin progress bar while a request is in
/// flight (the last data stays visible) and the server's message when the last request failed.
#[component]
fn FetchState(#[prop(into)] inflight: Signal<u32>, #[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    view! {
        <div class="widget-progress" class:on={move || inflight.get() > 0} data-testid="widget-loading"></div>
        {move || error.get().map(|e| view! { <div class="widget-error" role="alert" data-testid="widget-error">{e.to_string()}</div> })}
    }
}

#[component]
fn MetricWidget(widget: Widget, ctx: BoardContext) -> impl IntoView {
    let Some(query) = widget.query.clone() else {
        return view! { <p class="widget-msg">"No metric chosen: edit the widget to pick one."</p> }.into_any();
    };
    let resolved = Memo::new(move |_| ctx.vars.with(|v| resolve_query(&query, v)));
    // Top-N rows; for a grouped chart, the busiest series the server keeps.
    let limit = widget.options.limit.map(|l| l.max(1)).or((widget.kind == WidgetKind::TopN).then_some(10));
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || {
        let q = resolved.get();
        let (from, to) = ctx.window.get();
        async move { api::metric_query(q, from, to, MAX_POINTS, limit).await.map(|r| without_partial_tail(r, to)) }
    });
    let d = Signal::derive(move || data.get().unwrap_or_default());
    let o = widget.options.clone();
    let kind = widget.kind.clone();
    let chart = move || match kind.clone() {
        WidgetKind::SingleNumber => view! {
            <SingleNumber data=d sparkline=o.sparkline thresholds=o.thresholds.clone() />
        }
        .into_any(),
        WidgetKind::TopN => view! { <TopNTable data=d limit=o.limit.unwrap_or(10) /> }.into_any(),
        kind => {
            let style = match (kind, o.style.unwrap_or_default()) {
                (WidgetKind::Bar, _) => ChartStyle::Bar,
                (_, SeriesStyle::Area) => ChartStyle::Area,
                _ => ChartStyle::Line,
            };
            let service = Memo::new(move |_| resolved.with(|q| q.filter.get("service").cloned()));
            let markers = Signal::derive(move || {
                let service = service.get();
                ctx.deploys.with(|all| all.iter().filter(|d| service.as_ref().is_none_or(|s| *s == d.service)).cloned().collect::<Vec<_>>())
            });
            let alerts = Signal::derive(move || service.with(|s| ctx.alerts.with(|a| alerts_of_service(a, s.as_deref()))));
            view! { <SeriesChart data=d style=style stacked=o.stacked markers=markers alerts=alerts /> }.into_any()
        }
    };
    view! {
        <div class="widget-fill">
            <FetchState inflight=inflight error=error />
            <Show when=move || data.with(Option::is_some) fallback=move || view! {
                <p class="widget-msg muted" class:hidden=move || error.with(Option::is_some)>"Loading…"</p>
            }>
                {chart.clone()}
            </Show>
        </div>
    }
    .into_any()
}

/// The APM hitmap in a tile; a drag-selection opens the APM page on those transactions, where a click
/// shows the trace.
#[component]
fn HitmapWidget(widget: Widget, ctx: BoardContext) -> impl IntoView {
    let service = resolved_filter(widget.query, ctx, "service");
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || {
        let (from, to) = ctx.window.get();
        api::hitmap(HitmapParams {
            from: Some(from),
            to: Some(to),
            service: service.get(),
            cols: Some(HITMAP_COLS),
            rows: Some(HITMAP_ROWS),
            ymax: Some(HITMAP_YMAX_MS),
            scale: Some(Scale::Linear),
            tag: None,
        })
    });
    let navigate = use_navigate();
    let on_select = Callback::new(move |s: Selection| {
        let (from, to) = ctx.window.get_untracked();
        let url = api::with_query(
            "/apm",
            &[
                ("from", Some(from.to_string())),
                ("to", Some(to.to_string())),
                ("service", service.get_untracked()),
                ("sel", Some(format_selection(&s))),
            ],
        );
        navigate(&url, Default::default());
    });
    view! {
        <div class="widget-fill widget-hitmap">
            <FetchState inflight=inflight error=error />
            <HitmapChart hitmap=data selection=Signal::derive(|| None::<Selection>) on_select=on_select />
        </div>
    }
}

/// Live sessions of one monitored PostgreSQL instance (`filter.instance`, else the first one).
#[component]
fn DbSessionsWidget(widget: Widget, ctx: BoardContext) -> impl IntoView {
    let wanted = resolved_filter(widget.query, ctx, "instance");
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || {
        ctx.window.track();
        let wanted = wanted.get();
        async move {
            let list = api::db_instances().await?;
            let id = match wanted {
                Some(w) => list.instances.iter().find(|i| i.id == w).map(|i| i.id.clone()),
                None => list.instances.first().map(|i| i.id.clone()),
            };
            match id {
                Some(id) => api::db_sessions(id, None).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let body = move || {
        data.get().map(|d| match d {
            None => view! {
                <p class="widget-msg">"No database is monitored. Start Sightline with "<code>"--postgres postgres://…"</code>" to add one."</p>
            }
            .into_any(),
            Some(s) => {
                let active: Vec<&DbSession> = s.sessions.iter().filter(|x| x.state.as_deref() == Some("active")).collect();
                let mut classes = BTreeMap::<String, usize>::new();
                for x in &active {
                    *classes.entry(x.wait_class.clone()).or_default() += 1;
                }
                let rows: Vec<DbSession> = s.sessions.iter().take(DB_ROWS).cloned().collect();
                let db_link = format!("/db/{}", js_sys::encode_uri_component(&s.instance));
                view! {
                    <div class="db-widget">
                        <div class="db-widget-head">
                            <a href=db_link class="db-widget-count" data-testid="db-widget-active">{format!("{} active", active.len())}</a>
                            {classes.into_iter().map(|(c, n)| view! { <span class="chip">{format!("{c} {n}")}</span> }).collect_view()}
                        </div>
                        {active.is_empty().then(|| view! { <p class="widget-msg">"No session is running a query right now."</p> })}
                        <table class="db-widget-table">
                            <tbody>
                                {rows.into_iter().map(|x| view! {
                                    <tr class:long={x.elapsed_ms >= 3_000.0}>
                                        <td class="num">{x.pid}</td>
                                        <td class="num">{duration(x.elapsed_ms)}</td>
                                        <td>{x.wait_event.clone().unwrap_or_else(|| x.wait_class.clone())}</td>
                                        <td class="query" title=x.query.clone().unwrap_or_default()>{x.query.clone().unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }
        })
    };
    view! {
        <div class="widget-fill">
            <FetchState inflight=inflight error=error />
            {body}
        </div>
    }
}

/// Processes listed by a process widget unless `options.limit` says otherwise.
const PROCESS_ROWS: u32 = 8;
/// How often a process widget showing "now" asks for the newest host sample (the collector's default
/// interval).
const PROCESS_POLL_MS: u64 = 5_000;

/// The machine's CPU and memory now and its busiest processes; a click on a process draws its CPU and
/// memory over the board's range.
#[component]
fn ProcessWidget(widget: Widget, ctx: BoardContext) -> impl IntoView {
    let limit = widget.options.limit.unwrap_or(PROCESS_ROWS).max(1) as usize;
    // "Now" is a moving target even when the board's range is not live: poll the newest sample (only
    // then: a range in the past asks once, so the tick is read only while the range reaches now).
    let tick = RwSignal::new(0u32);
    leptos_use::use_interval_fn(move || tick.update(|t| *t += 1), PROCESS_POLL_MS);
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || {
        // The newest sample while the range reaches now; the one at its end otherwise.
        let (_, to) = ctx.window.get();
        let at = (to < crate::hooks::now_ms() - 60_000).then_some(to);
        if at.is_none() {
            tick.track();
        }
        api::host_processes(at)
    });
    let picked = RwSignal::new(None::<(u32, String)>);
    view! {
        <div class="widget-fill">
            <FetchState inflight=inflight error=error />
            {move || data.get().map(|h| view! { <ProcessTable h=h limit=limit picked=picked /> })}
            {move || picked.get().map(|(pid, name)| view! { <ProcessHistory pid=pid name=name ctx=ctx tick=tick /> })}
        </div>
    }
}

/// The host's headline numbers and its busiest processes; a click picks one (again: unpicks it).
#[component]
fn ProcessTable(h: sightline_model::HostProcesses, limit: usize, picked: RwSignal<Option<(u32, String)>>) -> impl IntoView {
    let max_cpu = h.processes.iter().map(|p| p.cpu_percent).fold(1.0, f64::max);
    let rows = h.processes.iter().take(limit).cloned().collect::<Vec<_>>();
    view! {
        <div class="process-widget">
            <div class="db-widget-head">
                <strong>{h.host.clone()}</strong>
                <span class="chip" data-testid="host-cpu">{format!("CPU {}", crate::components::metric_chart::format_value(h.cpu_percent, "percent"))}</span>
                <span class="chip">{format!(
                    "memory {} of {}",
                    crate::components::metric_chart::format_value(h.memory_used_bytes as f64, "bytes"),
                    crate::components::metric_chart::format_value(h.memory_total_bytes as f64, "bytes"),
                )}</span>
                <span class="muted small">{crate::format::clock(h.at)}</span>
            </div>
            <table class="db-widget-table">
                <tbody>
                    {rows.into_iter().map(|p| {
                        let key = (p.pid, p.name.clone());
                        let k2 = key.clone();
                        let width = format!("{:.0}%", p.cpu_percent / max_cpu * 100.0);
                        view! {
                            <tr data-testid="process-row" class="clickable" class:selected=move || picked.with(|x| x.as_ref() == Some(&k2))
                                on:click=move |_| picked.update(|x| *x = if x.as_ref() == Some(&key) { None } else { Some(key.clone()) })>
                                <td>{p.name.clone()}</td>
                                <td class="num muted">{p.pid}</td>
                                <td class="num">{crate::components::metric_chart::format_value(p.cpu_percent, "percent")}</td>
                                <td class="bar-cell"><span class="inline-bar" style:width=width></span></td>
                                <td class="num">{crate::components::metric_chart::format_value(p.rss_bytes as f64, "bytes")}</td>
                                <td class="query" title=p.command.clone()>{p.command.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// One process's CPU and resident memory over the board's range, as two one-series charts (their units
/// differ), up to the sample the list shows.
#[component]
fn ProcessHistory(pid: u32, name: String, ctx: BoardContext, tick: RwSignal<u32>) -> impl IntoView {
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || {
        let (from, to) = ctx.window.get();
        // The newest sample while the range reaches now.
        let now = crate::hooks::now_ms();
        let to = if to >= now - 60_000 {
            tick.track();
            now
        } else {
            to
        };
        api::host_process_history(pid, from, to)
    });
    let cpu = Signal::derive(move || data.with(|p| point_series(p.as_deref().unwrap_or_default(), "cpu", "percent", |p| p.cpu_percent)));
    let rss = Signal::derive(move || data.with(|p| point_series(p.as_deref().unwrap_or_default(), "rss", "bytes", |p| p.rss_bytes as f64)));
    view! {
        <div class="process-history" data-testid="process-history">
            <p class="muted small">{format!("{name} ({pid}) over the range: CPU and resident memory")}</p>
            <FetchState inflight=inflight error=error />
            <div class="process-charts">
                <SeriesChart data=cpu style=ChartStyle::Line stacked=false />
                <SeriesChart data=rss style=ChartStyle::Area stacked=false />
            </div>
        </div>
    }
}

/// A process's samples as one series on their own times (the step: the shortest gap between two).
fn point_series(
    points: &[sightline_model::HostProcessPoint],
    metric: &str,
    unit: &str,
    f: fn(&sightline_model::HostProcessPoint) -> f64,
) -> MetricQueryResult {
    let step = points.windows(2).map(|w| w[1].t - w[0].t).filter(|d| *d > 0).min().unwrap_or(1_000);
    MetricQueryResult {
        metric: metric.into(),
        unit: unit.into(),
        from: points.first().map_or(0, |p| p.t),
        to: points.last().map_or(0, |p| p.t + step),
        step_ms: step,
        timestamps: points.iter().map(|p| p.t).collect(),
        series: vec![sightline_model::MetricSeries { labels: BTreeMap::new(), values: points.iter().map(|p| Some(f(p))).collect() }],
        truncated: 0,
    }
}

/// A text note: its Markdown rendered by the server (`POST /api/v1/notes/render`, which escapes raw HTML
/// and neutralises links other than web, mail and relative ones), fetched like any widget's data, so the
/// app does not carry a Markdown parser. Fetched again only when the note changes (the widget editor's
/// preview re-renders on each committed edit of the text area, not on each key).
#[component]
fn TextNote(text: String) -> impl IntoView {
    let UsePolledResourceReturn { data, error, inflight, .. } = use_polled_resource(move || api::render_note(text.clone()));
    view! {
        <FetchState inflight=inflight error=error />
        <div class="widget-text" data-testid="widget-text" inner_html=move || data.get().unwrap_or_default()></div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_fill_filters_and_all_drops_them() {
        let q = WidgetQuery {
            metric: "transactions.tps".into(),
            filter: [("service".to_string(), "$service".to_string()), ("endpoint".to_string(), "GET /".to_string())].into(),
            group_by: vec![],
        };
        let mut vars = BTreeMap::new();
        vars.insert("service".to_string(), Some("checkout".to_string()));
        assert_eq!(resolve_query(&q, &vars).filter.get("service").map(String::as_str), Some("checkout"));
        vars.insert("service".to_string(), None);
        let r = resolve_query(&q, &vars);
        assert!(!r.filter.contains_key("service"));
        assert_eq!(r.filter.get("endpoint").map(String::as_str), Some("GET /"));
    }

    #[test]
    fn a_bucket_still_filling_is_not_shown() {
        let r = MetricQueryResult {
            metric: "m".into(),
            unit: "1/s".into(),
            from: 0,
            to: 300,
            step_ms: 100,
            timestamps: vec![0, 100, 200],
            series: vec![sightline_model::MetricSeries { labels: BTreeMap::new(), values: vec![Some(5.0), Some(5.0), Some(0.4)] }],
            truncated: 0,
        };
        let t = without_partial_tail(r.clone(), 250);
        assert_eq!(t.timestamps, vec![0, 100]);
        assert_eq!(t.series[0].values, vec![Some(5.0), Some(5.0)]);
        assert_eq!(t.to, 200);
        assert_eq!(without_partial_tail(r.clone(), 300), r, "complete buckets stay");
    }
}
