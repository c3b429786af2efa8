//! What the cube page shows, chosen: the dimensions grouped by (in order), the filters, the measures shown,
//! how many groups are kept, and the measure drawn. Every choice is written to the URL.

use leptos::prelude::*;
use sightline_model::{CubeDim, CubeMeasure};

use super::{filter_string, CubeView};
use crate::hooks::use_set_query;

/// At most this many dimensions (the server's limit).
const MAX_DIMS: usize = 4;
const LIMITS: [usize; 5] = [5, 10, 20, 50, 100];

#[component]
pub(super) fn CubeControls(view: Memo<CubeView>) -> impl IntoView {
    view! {
        <div class="cube-controls" data-testid="cube-controls">
            <div class="control-row">
                <span class="control-label">"Group by"</span>
                <GroupBy view=view />
            </div>
            <div class="control-row">
                <span class="control-label">"Filters"</span>
                <Filters view=view />
            </div>
            <div class="control-row">
                <span class="control-label">"Measures"</span>
                <Measures view=view />
                <span class="spacer"></span>
                <TopN view=view />
            </div>
        </div>
    }
}

/// The chosen dimensions as removable chips, in order, and a picker that adds one.
#[component]
fn GroupBy(view: Memo<CubeView>) -> impl IntoView {
    let set_query = use_set_query();
    let write = move |dims: Vec<CubeDim>| {
        let s = dims.iter().map(|d| d.name()).collect::<Vec<_>>().join(",");
        set_query(vec![("group_by", Some(s))]);
    };
    let chips = {
        let write = write.clone();
        move || {
            let dims = view.with(|v| v.dims());
            dims.iter()
                .map(|&d| {
                    let write = write.clone();
                    let rest: Vec<CubeDim> = dims.iter().copied().filter(|x| *x != d).collect();
                    view! {
                        <span class="filter-chip" data-testid=format!("cube-dim-{}", d.name())>
                            {d.label()}
                            <button class="link-button" title="Stop grouping by this" on:click=move |_| write(rest.clone())>"✕"</button>
                        </span>
                    }
                })
                .collect_view()
        }
    };
    let add = move |e: leptos::ev::Event| {
        let Some(d) = CubeDim::parse(&event_target_value(&e)) else { return };
        let mut dims = view.with_untracked(|v| v.dims());
        if !dims.contains(&d) && dims.len() < MAX_DIMS {
            dims.push(d);
            write(dims);
        }
    };
    view! {
        {chips}
        {move || view.with(|v| v.dims().is_empty()).then(|| view! { <span class="muted small">"everything as one row"</span> })}
        <select data-testid="cube-add-dim" aria-label="Add a dimension" prop:value="" on:change=add
            disabled=move || view.with(|v| v.dims().len() >= MAX_DIMS)>
            <option value="">"+ dimension"</option>
            {move || {
                let dims = view.with(|v| v.dims());
                CubeDim::ALL.into_iter().filter(|d| !dims.contains(d))
                    .map(|d| view! { <option value=d.name()>{d.label()}</option> }).collect_view()
            }}
        </select>
    }
}

/// The filters as removable chips, and a dimension + value to add one.
#[component]
fn Filters(view: Memo<CubeView>) -> impl IntoView {
    let set_query = use_set_query();
    let write = move |f: std::collections::BTreeMap<CubeDim, String>| {
        let s = filter_string(&f);
        set_query(vec![("filter", (!s.is_empty()).then_some(s))]);
    };
    let dim = RwSignal::new(CubeDim::Service);
    let value = RwSignal::new(String::new());
    let chips = {
        let write = write.clone();
        move || {
            let f = view.with(|v| v.filters());
            f.iter()
                .map(|(d, v)| {
                    let write = write.clone();
                    let mut rest = f.clone();
                    rest.remove(d);
                    let shown = if v.is_empty() { "(none)".to_string() } else { v.clone() };
                    view! {
                        <span class="filter-chip" data-testid=format!("cube-filter-{}", d.name())>
                            {d.label()}" = "<strong>{shown}</strong>
                            <button class="link-button" title="Remove this filter" on:click=move |_| write(rest.clone())>"✕"</button>
                        </span>
                    }
                })
                .collect_view()
        }
    };
    let add = Callback::new(move |()| {
        let mut f = view.with_untracked(|v| v.filters());
        f.insert(dim.get_untracked(), value.get_untracked().trim().to_string());
        value.set(String::new());
        write(f);
    });
    view! {
        {chips}
        <select data-testid="cube-filter-dim" aria-label="Filter dimension"
            prop:value=move || dim.get().name()
            on:change=move |e| if let Some(d) = CubeDim::parse(&event_target_value(&e)) { dim.set(d) }>
            {CubeDim::ALL.into_iter().map(|d| view! { <option value=d.name()>{d.label()}</option> }).collect_view()}
        </select>
        <input type="text" class="filter-input" data-testid="cube-filter-value" placeholder="value (empty: has none)"
            aria-label="Filter value" bind:value=value
            on:keydown=move |e| if e.key() == "Enter" { add.run(()) } />
        <button data-testid="cube-filter-add" on:click=move |_| add.run(())>"Add filter"</button>
    }
}

/// One checkbox per measure: the columns of the table.
#[component]
fn Measures(view: Memo<CubeView>) -> impl IntoView {
    let set_query = use_set_query();
    CubeMeasure::ALL
        .into_iter()
        .map(|m| {
            let set_query = set_query.clone();
            let toggle = move |e: leptos::ev::Event| {
                let on = event_target_checked(&e);
                let mut ms = view.with_untracked(|v| v.measures.clone());
                ms.retain(|x| *x != m);
                if on {
                    ms.push(m);
                }
                crate::sort::sort(&mut ms);
                let s = ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(",");
                set_query(vec![("measures", Some(s))]);
            };
            view! {
                <label class="check">
                    <input type="checkbox" data-testid=format!("cube-measure-{}", m.name())
                        prop:checked=move || view.with(|v| v.measures.contains(&m)) on:change=toggle />
                    {m.label()}
                </label>
            }
        })
        .collect_view()
}

/// How many groups are kept; the rest are merged into "other".
#[component]
fn TopN(view: Memo<CubeView>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <label class="check">"Top "
            <select data-testid="cube-limit" prop:value=move || view.with(|v| v.limit.to_string())
                on:change=move |e| set_query(vec![("limit", Some(event_target_value(&e)))])>
                {move || {
                    let mut l = LIMITS.to_vec();
                    let cur = view.with(|v| v.limit);
                    if !l.contains(&cur) {
                        l.push(cur);
                        crate::sort::sort(&mut l);
                    }
                    l.into_iter().map(|n| view! { <option value=n.to_string()>{n.to_string()}</option> }).collect_view()
                }}
            </select>
        </label>
    }
}

/// The measure drawn over time.
#[component]
pub(super) fn ChartMeasure(view: Memo<CubeView>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <select data-testid="cube-chart-measure" aria-label="Measure drawn"
            prop:value=move || view.with(|v| v.chart.name())
            on:change=move |e| set_query(vec![("chart", Some(event_target_value(&e)))])>
            {CubeMeasure::ALL.into_iter().map(|m| view! { <option value=m.name()>{m.label()}</option> }).collect_view()}
        </select>
    }
}
