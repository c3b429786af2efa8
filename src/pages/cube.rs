//! The cube page (issue 13): the rolled-up statistics re-sliced at will — group by up to four dimensions,
//! filter on any, pick the measures, see the top N groups as a pivot table (totals, the rest as "other")
//! and the kept groups over time. A figure leads to its transactions while they are still kept.
//!
//! The whole query lives in the URL, so a link, a reload or the back button gives the same view:
//! `group_by=endpoint,status`, `filter=service:pay,status:error`, `sort=p95`, `desc=0`, `limit=20`,
//! `measures=count,errors,p95` (the columns shown), `chart=p95` (the measure drawn), and the shared range.
//! `controls` edits it, `pivot` shows the answer.

mod controls;
mod pivot;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use sightline_model::{
    parse_cube_filter, parse_dims, CubeAnswer, CubeDim, CubeMeasure, CubeParams, MetricQueryResult, MetricSeries,
};

use crate::api;
use crate::components::error_view::FetchError;
use crate::components::metric_chart::{ChartStyle, SeriesChart};
use crate::hooks::{use_polled_resource, UseTimeRangeReturn};
use controls::{ChartMeasure, CubeControls};
pub use pivot::drill_href;
use pivot::Pivot;

/// Shown when the URL names none.
const DEFAULT_GROUP_BY: &str = "endpoint";
pub const DEFAULT_MEASURES: [CubeMeasure; 5] =
    [CubeMeasure::Count, CubeMeasure::Errors, CubeMeasure::ErrorRate, CubeMeasure::AvgMs, CubeMeasure::P95];
pub const DEFAULT_LIMIT: usize = 20;
/// About this many steps in the chart over the range (the server rounds the step up to a rollup tier).
const CHART_STEPS: i64 = 60;

/// The view as the URL says it. `group_by`, `filter` and `sort` are kept as written and sent as they are,
/// so a name the page does not know reaches the server, which answers what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CubeView {
    pub group_by: String,
    pub filter: String,
    pub sort: String,
    pub desc: bool,
    pub limit: usize,
    /// The columns shown (every answer carries all measures).
    pub measures: Vec<CubeMeasure>,
    /// The measure drawn over time.
    pub chart: CubeMeasure,
}

impl CubeView {
    pub fn from_query(q: &ParamsMap) -> CubeView {
        let sort = q.get("sort").unwrap_or_else(|| CubeMeasure::Count.name().to_string());
        let mut measures: Vec<CubeMeasure> = match q.get_str("measures") {
            Some(m) => m.split(',').filter_map(|m| CubeMeasure::parse(m.trim())).collect(),
            None => DEFAULT_MEASURES.to_vec(),
        };
        crate::sort::sort(&mut measures);
        measures.dedup();
        let chart = q.get_str("chart").and_then(CubeMeasure::parse).or(CubeMeasure::parse(&sort)).unwrap_or(CubeMeasure::Count);
        CubeView {
            group_by: q.get("group_by").unwrap_or_else(|| DEFAULT_GROUP_BY.to_string()),
            filter: q.get("filter").unwrap_or_default(),
            sort,
            desc: q.get_str("desc") != Some("0"),
            limit: q.get_str("limit").and_then(|l| l.parse().ok()).unwrap_or(DEFAULT_LIMIT),
            measures,
            chart,
        }
    }

    /// The dimensions grouped by, those the page knows.
    pub fn dims(&self) -> Vec<CubeDim> {
        parse_dims(&self.group_by).unwrap_or_else(|_| self.group_by.split(',').filter_map(|d| CubeDim::parse(d.trim())).collect())
    }

    /// The filters, when they read (otherwise the server says why not).
    pub fn filters(&self) -> BTreeMap<CubeDim, String> {
        parse_cube_filter(&self.filter).unwrap_or_default()
    }

    pub fn sort_measure(&self) -> Option<CubeMeasure> {
        CubeMeasure::parse(&self.sort)
    }

    /// The server's query for `[from, to)`.
    pub fn params(&self, from: i64, to: i64) -> CubeParams {
        CubeParams {
            from,
            to,
            group_by: Some(self.group_by.clone()),
            filter: (!self.filter.is_empty()).then(|| self.filter.clone()),
            sort: Some(self.sort.clone()),
            desc: Some(self.desc),
            limit: Some(self.limit),
            step_ms: Some(chart_step(from, to)),
        }
    }
}

/// `dim:value,…` of the URL's `filter`.
pub fn filter_string(f: &BTreeMap<CubeDim, String>) -> String {
    f.iter().map(|(d, v)| format!("{}:{v}", d.name())).collect::<Vec<_>>().join(",")
}

/// The unit the charts' formatter knows for a measure.
fn unit_of(m: CubeMeasure) -> &'static str {
    match m {
        CubeMeasure::Count | CubeMeasure::Errors => "count",
        CubeMeasure::ErrorRate => "ratio",
        CubeMeasure::Rate => "1/s",
        CubeMeasure::SumMs | CubeMeasure::AvgMs | CubeMeasure::P50 | CubeMeasure::P95 | CubeMeasure::P99 => "ms",
    }
}

/// The kept rows over time as the chart component's input: one series of `m` per row, named by its key.
fn chart_data(a: &CubeAnswer, m: CubeMeasure) -> MetricQueryResult {
    let series = a
        .rows
        .iter()
        .map(|r| MetricSeries {
            labels: a.group_by.iter().zip(&r.key).map(|(d, k)| (d.name().to_string(), k.clone())).collect(),
            values: r.series.iter().map(|s| m.of(s)).collect(),
        })
        .collect();
    MetricQueryResult {
        metric: m.label().to_string(),
        unit: unit_of(m).to_string(),
        from: a.from,
        to: a.to,
        step_ms: a.step_ms,
        timestamps: a.timestamps.clone(),
        series,
        truncated: a.other.as_ref().map_or(0, |_| a.groups.saturating_sub(a.rows.len())),
    }
}

#[component]
pub fn CubePage(tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    let view_state = Memo::new(move |_| query.with(CubeView::from_query));
    // Refetch when the window moves by whole minutes (the rollup's grain), not on every live tick.
    let minutes = Memo::new(move |_| {
        let (from, to) = tr.window.get();
        (from.div_euclid(60_000), (to + 59_999).div_euclid(60_000))
    });
    let params = Memo::new(move |_| {
        let (from, to) = minutes.get();
        view_state.with(|v| v.params(from * 60_000, to * 60_000))
    });
    let answer = use_polled_resource(move || api::cube(params.get()));
    let chart = Signal::derive(move || {
        let m = view_state.with(|v| v.chart);
        answer.data.with(|a| a.as_ref().map(|a| chart_data(a, m)).unwrap_or_default())
    });
    view! {
        <section class="analysis-page cube-page" data-testid="page-cube">
            <div class="panel">
                <CubeControls view=view_state />
            </div>
            <FetchError error=answer.error what="the cube" />
            {move || answer.loading.get().then(|| view! { <p class="muted">"Loading…"</p> })}
            <Show when=move || answer.data.with(Option::is_some)>
                <div class="panel">
                    <div class="panel-head">
                        <h2>"Over time"</h2>
                        <span class="muted">"the groups of the table"</span>
                        <span class="spacer"></span>
                        <ChartMeasure view=view_state />
                    </div>
                    <div class="cube-chart" data-testid="cube-chart">
                        <SeriesChart data=chart style=ChartStyle::Line stacked=false />
                    </div>
                </div>
            </Show>
            {move || answer.data.get().map(|a| view! { <Pivot answer=a view=view_state.get() /> })}
        </section>
    }
}

/// The chart's step for `[from, to)`: about [`CHART_STEPS`] steps, each a whole number of minutes (the cube's
/// resolution; the server refuses anything else).
pub fn chart_step(from: i64, to: i64) -> i64 {
    (((to - from) / CHART_STEPS + 59_999) / 60_000).max(1) * 60_000
}

#[cfg(test)]
mod tests {
    use super::chart_step;

    #[test]
    fn chart_steps_are_whole_minutes() {
        assert_eq!(chart_step(0, 10 * 60_000), 60_000);
        // 3 h 12 min / 60 = 3.2 min: rounded up to 4 min, not sent as 192 000 ms.
        assert_eq!(chart_step(0, 192 * 60_000), 4 * 60_000);
        assert_eq!(chart_step(0, 7 * 86_400_000), 168 * 60_000);
        for minutes in 1..2_000 {
            assert_eq!(chart_step(0, minutes * 60_000) % 60_000, 0);
        }
    }
}
