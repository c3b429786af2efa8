//! The pivot table of a cube answer: one column per dimension grouped by and per measure shown, the kept
//! groups, the rest merged as "other", and the totals. A measure header sorts by it; a value adds it as a
//! filter; a figure leads to its transactions on the APM page while they are still kept.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use sightline_model::{CubeAnswer, CubeDim, CubeMeasure, CubeMeasures, CubeRow, InstanceUsage};

use super::{filter_string, CubeView};
use crate::components::hitmap_chart::thousands;
use crate::components::metric_chart::{format_value, palette_css};
use crate::components::rollup_note::RollupNote;
use crate::format::duration;
use crate::hooks::use_set_query;
use crate::pages::apm::transactions_href;

/// A measure's value as the table shows it.
pub(super) fn format_measure(m: CubeMeasure, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else { return "—".into() };
    match m {
        CubeMeasure::Count | CubeMeasure::Errors => thousands(v.round() as u64),
        CubeMeasure::ErrorRate => format!("{:.1} %", v * 100.0),
        CubeMeasure::Rate => format!("{v:.2}/s"),
        CubeMeasure::SumMs | CubeMeasure::AvgMs | CubeMeasure::P50 | CubeMeasure::P95 | CubeMeasure::P99 => duration(v),
    }
}

/// The transaction list's parameter for a dimension, when the list can filter by it.
fn list_param(d: CubeDim) -> Option<&'static str> {
    match d {
        CubeDim::Service => Some("service"),
        CubeDim::Endpoint => Some("endpoint"),
        CubeDim::Status => Some("status"),
        CubeDim::ErrorType => Some("error_type"),
        _ => None,
    }
}

const ROLLUP_ONLY: &str = "Only the rollup is left for this range: its transactions are no longer kept, so they cannot be listed.";

/// Where a figure of the group `key` (over the view's filters) leads: the APM list of its transactions, or
/// why it cannot — the list has no such filter, or only the rollup is left for the range.
pub fn drill_href(
    view: &CubeView,
    key: &[(CubeDim, String)],
    (from, to, raw_since): (i64, i64, Option<i64>),
    current: &ParamsMap,
) -> Result<String, String> {
    let mut f = view.filters();
    f.extend(key.iter().cloned());
    let mut filters = Vec::new();
    for (d, v) in f {
        let Some(p) = list_param(d) else {
            return Err(format!("The transaction list cannot filter by {}: group or filter by service, endpoint, status or error type to list transactions.", d.label().to_lowercase()));
        };
        // An empty error type is a success (or a failure without one): the status says which.
        if !(d == CubeDim::ErrorType && v.is_empty()) {
            filters.push((p, v));
        }
    }
    match raw_since {
        Some(r) if r < to => Ok(transactions_href(current, from.max(r), to, &filters)),
        _ => Err(ROLLUP_ONLY.into()),
    }
}

#[component]
pub(super) fn Pivot(answer: CubeAnswer, view: CubeView) -> impl IntoView {
    let note = RwSignal::new(None::<String>);
    let groups = answer.groups;
    let shown = answer.rows.len();
    let summary = if answer.other.is_some() {
        format!("top {shown} of {} groups · the rest as “other”", thousands(groups as u64))
    } else {
        format!("{} groups", thousands(groups as u64))
    };
    // Grouped by instance: its process's CPU and memory, where the server knows them.
    let instance_col = answer.group_by.iter().position(|d| *d == CubeDim::Instance);
    let ctx = RowCtx {
        dims: answer.group_by.clone(),
        measures: view.measures.clone(),
        range: (answer.from, answer.to, answer.raw_since_ms),
        view: view.clone(),
        note,
        usage: instance_col.map(|c| (c, answer.usage.clone())),
    };
    let rows = answer.rows.iter().enumerate().map(|(i, r)| row_view(&ctx, r, RowKind::Group(i))).collect_view();
    let other = answer.other.as_ref().map(|r| row_view(&ctx, r, RowKind::Other));
    // Named in the first column only ("Total", and "other" as the server pads it with empty values).
    let mut key = vec![String::new(); answer.group_by.len()];
    if let Some(first) = key.first_mut() {
        *first = "Total".into();
    }
    let total = CubeRow { key, measures: answer.total.clone(), series: vec![] };
    let total = row_view(&ctx, &total, RowKind::Total);
    let empty = answer.rows.is_empty() && answer.other.is_none();
    view! {
        <div class="panel">
            <div class="panel-head">
                <h2>"Pivot"</h2>
                <span class="muted" data-testid="cube-summary">{summary}</span>
                <span class="spacer"></span>
                <span class="muted small">"click a figure to list its transactions, a value to filter by it"</span>
            </div>
            {answer.cut.map(|c| view! { <p class="cut-note" role="note" data-testid="cube-cut">{c}</p> })}
            <RollupNote from=answer.from raw_since=answer.raw_since_ms />
            {move || note.get().map(|n| view! { <p class="rollup-note" role="alert" data-testid="cube-drill-note">{n}</p> })}
            {if empty {
                view! { <p class="empty-note" data-testid="cube-empty">"No transactions in this range."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                    <table class="grid-table cube-table" data-testid="cube-table">
                        <thead><tr>
                            {answer.group_by.iter().map(|d| view! { <th>{d.label()}</th> }).collect_view()}
                            {view.measures.iter().map(|&m| view! { <MeasureHeader m=m view=view.clone() /> }).collect_view()}
                            {instance_col.map(|_| view! {
                                <th class="num" title="Mean CPU of the instance's process over the range (100 % = one core), where Sightline samples its host">"CPU"</th>
                                <th class="num" title="Mean resident memory of the instance's process over the range, where Sightline samples its host">"Memory"</th>
                            })}
                        </tr></thead>
                        <tbody>{rows}{other}{total}</tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </div>
    }
}

/// A measure's column header: sorts by it, a second click turns the order round.
#[component]
fn MeasureHeader(m: CubeMeasure, view: CubeView) -> impl IntoView {
    let set_query = use_set_query();
    let current = view.sort_measure() == Some(m);
    let desc = view.desc;
    let click = move |_| {
        let desc = if current { !desc } else { true };
        set_query(vec![("sort", Some(m.name().to_string())), ("desc", (!desc).then(|| "0".to_string()))]);
    };
    let arrow = match (current, desc) {
        (true, true) => " ▼",
        (true, false) => " ▲",
        _ => "",
    };
    view! {
        <th class="num sortable" data-testid=format!("cube-sort-{}", m.name())
            aria-sort=if current { if desc { "descending" } else { "ascending" } } else { "none" }
            on:click=click>
            {m.label()}{arrow}
        </th>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum RowKind {
    /// The i-th kept group: the chart's i-th series.
    Group(usize),
    Other,
    Total,
}

/// What every row needs: the columns, the answered range, the view (its filters), and where to say why a
/// figure cannot be listed.
struct RowCtx {
    dims: Vec<CubeDim>,
    measures: Vec<CubeMeasure>,
    range: (i64, i64, Option<i64>),
    view: CubeView,
    note: RwSignal<Option<String>>,
    /// The instance column and the usage of the instances the server could join, when grouped by instance.
    usage: Option<(usize, Vec<InstanceUsage>)>,
}

/// One row: its key (values filter by themselves) and figures (lead to the transactions). "Other" has no
/// key to list by; the totals list everything the filters keep.
fn row_view(ctx: &RowCtx, r: &CubeRow, kind: RowKind) -> AnyView {
    let key: Vec<(CubeDim, String)> = match kind {
        RowKind::Group(_) => ctx.dims.iter().copied().zip(r.key.iter().cloned()).collect(),
        _ => vec![],
    };
    let drill = (kind != RowKind::Other).then(|| {
        let current = use_query_map().get_untracked();
        match (r.measures.last_seen_ms, ctx.range.2) {
            // Seen last (to the minute) before the oldest kept transaction: this row is rollup only.
            (Some(last), Some(raw)) if last + 60_000 <= raw => Err(ROLLUP_ONLY.to_string()),
            _ => drill_href(&ctx.view, &key, ctx.range, &current),
        }
    });
    let keys = r.key.iter().enumerate().map(|(i, k)| key_cell(ctx, kind, i, k)).collect_view();
    let cells = ctx.measures.iter().map(|&m| figure_cell(m, &r.measures, drill.clone(), ctx.note)).collect_view();
    let usage = ctx.usage.as_ref().map(|(col, usage)| {
        let u = matches!(kind, RowKind::Group(_)).then(|| r.key.get(*col)).flatten().and_then(|i| usage.iter().find(|u| &u.instance == i));
        let title = u.map(|u| format!("pid {} on {}, {} samples", u.pid, u.host, u.samples)).unwrap_or_else(|| "not known: the instance is not a process on the machine Sightline samples".into());
        view! {
            <td class="num" data-testid="cube-cpu" title=title.clone()>{u.map_or("—".into(), |u| format_value(u.cpu_percent, "percent"))}</td>
            <td class="num" data-testid="cube-memory" title=title>{u.map_or("—".into(), |u| format_value(u.rss_bytes as f64, "bytes"))}</td>
        }
    });
    let (class, testid) = match kind {
        RowKind::Group(_) => ("", "cube-row"),
        RowKind::Other => ("other-row", "cube-other"),
        RowKind::Total => ("total-row", "cube-total"),
    };
    view! { <tr class=class data-testid=testid data-key=r.key.join(" · ")>{keys}{cells}{usage}</tr> }.into_any()
}

/// A value of the row's key; in a group row, a click filters the view by it.
fn key_cell(ctx: &RowCtx, kind: RowKind, i: usize, k: &str) -> AnyView {
    let (Some(&d), RowKind::Group(series)) = (ctx.dims.get(i), kind) else {
        return view! { <td class="key-cell">{k.to_string()}</td> }.into_any();
    };
    let shown = if k.is_empty() { "(none)".to_string() } else { k.to_string() };
    // The first value carries the colour of the row's line in the chart.
    let swatch = (i == 0).then(|| view! { <span class="chart-swatch" style=format!("background:{}", palette_css(series))></span> });
    let set_query = use_set_query();
    let mut f = ctx.view.filters();
    f.insert(d, k.to_string());
    let filter = filter_string(&f);
    view! {
        <td class="key-cell">
            {swatch}
            <button class="link-button plain" data-testid="cube-key" title=format!("Filter by {} = {shown}", d.label())
                on:click=move |_| set_query(vec![("filter", Some(filter.clone()))])>{shown.clone()}</button>
        </td>
    }
    .into_any()
}

/// A figure; a click lists its transactions, or says why it cannot.
fn figure_cell(m: CubeMeasure, measures: &CubeMeasures, drill: Option<Result<String, String>>, note: RwSignal<Option<String>>) -> AnyView {
    let text = format_measure(m, m.of(measures));
    let Some(drill) = drill else {
        return view! { <td class="num">{text}</td> }.into_any();
    };
    let navigate = use_navigate();
    let title = match &drill {
        Ok(_) => "List these transactions".to_string(),
        Err(why) => why.clone(),
    };
    let click = move |_| match &drill {
        Ok(href) => navigate(href, Default::default()),
        Err(why) => note.set(Some(why.clone())),
    };
    view! {
        <td class="num">
            <button class="link-button plain" data-testid="cube-cell" data-measure=m.name() title=title on:click=click>{text}</button>
        </td>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_read_in_their_units() {
        assert_eq!(format_measure(CubeMeasure::Count, Some(12_345.0)), "12,345");
        assert_eq!(format_measure(CubeMeasure::ErrorRate, Some(0.0512)), "5.1 %");
        assert_eq!(format_measure(CubeMeasure::P95, Some(3_020.0)), "3.02 s");
        assert_eq!(format_measure(CubeMeasure::P95, None), "—");
    }
}
