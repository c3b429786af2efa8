//! Adding or configuring a widget: pick its kind from the catalogue, its metric, filters, grouping and
//! aggregation from what the server collects, and see it drawn with the board's range while choosing.

use leptos::prelude::*;
use sightline_model::{MetricCatalog, MetricInfo, SeriesStyle, Threshold, Widget, WidgetKind, WidgetQuery};

use crate::api;
use crate::components::board_widget::{BoardContext, WidgetBody};
use crate::components::error_view::FetchError;
use crate::hooks::{use_polled_resource, UsePolledResourceReturn};

/// Label and one-line description of each kind, for the catalogue.
pub fn kind_label(k: &WidgetKind) -> (&'static str, &'static str) {
    match k {
        WidgetKind::Timeseries => ("Time series", "Lines or areas over time, one per group, with a legend"),
        WidgetKind::Bar => ("Bars", "Bars over time, optionally stacked"),
        WidgetKind::SingleNumber => ("Single number", "The latest value, big, with a sparkline and thresholds"),
        WidgetKind::TopN => ("Top N", "The groups with the highest values: slowest endpoints, most errors"),
        WidgetKind::Hitmap => ("Hitmap", "Response time of every transaction; drag to list them"),
        WidgetKind::DbActiveSessions => ("DB sessions", "Live sessions of a monitored PostgreSQL"),
        WidgetKind::ProcessCpuMem => ("Process CPU / memory", "Per-process CPU and memory of a host"),
        WidgetKind::Text => ("Text note", "Markdown: runbooks, on-call, links"),
        WidgetKind::Unknown(_) => ("Unknown", ""),
    }
}

/// A ready-made widget in the catalogue: `(test id, label, description, kind, metrics, group by)`; it uses
/// the first metric of `metrics` the server offers.
type Preset = (&'static str, &'static str, &'static str, WidgetKind, &'static [&'static str], &'static [&'static str]);

const PRESETS: &[Preset] = &[(
    "errors-by-endpoint",
    "Errors by endpoint",
    "The endpoints with the most failed transactions (the errors page's ranking, from the cube)",
    WidgetKind::TopN,
    &["cube.errors", "transactions.errors"],
    &["endpoint"],
)];

/// The widget a preset makes, with the first of its metrics in `catalog` (the last one when none is known).
fn preset_widget(mut w: Widget, p: &Preset, catalog: &[MetricInfo]) -> Widget {
    let (_, _, _, kind, metrics, group_by) = p;
    let metric = metrics
        .iter()
        .find(|m| catalog.iter().any(|i| i.name == **m && i.available))
        .or(metrics.last())
        .map_or_else(String::new, |m| m.to_string());
    let filter = w.query.take().map(|q| q.filter).unwrap_or_default();
    w.kind = kind.clone();
    w.query = Some(WidgetQuery { metric, filter, group_by: group_by.iter().map(|g| g.to_string()).collect() });
    w
}

/// Size a new widget of this kind gets, in cells.
pub fn default_size(k: &WidgetKind) -> (u32, u32) {
    match k {
        WidgetKind::SingleNumber => (6, 4),
        WidgetKind::Text => (8, 4),
        WidgetKind::Hitmap => (12, 9),
        WidgetKind::TopN | WidgetKind::DbActiveSessions => (12, 7),
        _ => (12, 7),
    }
}

/// A title saying what a widget shows: `p95 response time by service`, or the kind for the others.
pub fn auto_title(w: &Widget) -> String {
    match &w.query {
        Some(q) if w.kind.needs_query() && !q.metric.is_empty() => {
            let (family, agg) = split_aggregation(&q.metric);
            let name = family.rsplit('.').next().unwrap_or(family).replace('_', " ");
            let mut t = if agg.is_empty() { name } else { format!("{agg} {name}") };
            if !q.group_by.is_empty() {
                t = format!("{t} by {}", q.group_by.join(", "));
            }
            t
        }
        _ => kind_label(&w.kind).0.to_string(),
    }
}

/// Statistics that are variants of one metric (`….p95`, `….avg`): offered as the aggregation picker.
const AGGREGATIONS: &[&str] = &["avg", "p50", "p95", "p99"];

/// `transactions.response_time.p95` → (`transactions.response_time`, `p95`); metrics without variants → (name, "").
pub fn split_aggregation(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((family, agg)) if AGGREGATIONS.contains(&agg) => (family, agg),
        _ => (name, ""),
    }
}

/// `500:warn, 2000:bad` ⇄ thresholds.
pub fn parse_thresholds(s: &str) -> Result<Vec<Threshold>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (v, c) = part.split_once(':').ok_or_else(|| format!("{part:?}: write value:colour, e.g. 500:warn"))?;
        let value = v.trim().parse::<f64>().map_err(|_| format!("{:?} is not a number", v.trim()))?;
        out.push(Threshold { value, color: c.trim().to_string() });
    }
    crate::sort::sort_by(&mut out, |a, b| a.value.total_cmp(&b.value));
    Ok(out)
}

pub fn format_thresholds(t: &[Threshold]) -> String {
    t.iter().map(|t| format!("{}:{}", t.value, t.color)).collect::<Vec<_>>().join(", ")
}

#[component]
pub fn WidgetEditor(
    initial: Widget,
    /// `true` when the widget is not on the board yet.
    adding: bool,
    ctx: BoardContext,
    on_apply: Callback<Widget>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    // Fetched each time the editor opens, so a database or collector added since shows up.
    let fetched = use_polled_resource(api::metric_catalog);
    let catalog = Signal::derive(move || fetched.data.with(|c| c.as_ref().map(|c| c.metrics.clone()).unwrap_or_default()));
    // A new widget's title follows what it shows until the user types one.
    let title_auto = RwSignal::new(adding);
    let draft = RwSignal::new(initial);
    Effect::new(move |_| {
        let w = draft.get();
        if !title_auto.get_untracked() {
            return;
        }
        let title = auto_title(&w);
        if title != w.title {
            draft.update(|d| d.title = title);
        }
    });
    let problem = RwSignal::new(None::<String>);
    let thresholds_text = RwSignal::new(format_thresholds(&draft.get_untracked().options.thresholds));
    let kind = Memo::new(move |_| draft.with(|w| w.kind.clone()));
    let set_kind = Callback::new(move |k: WidgetKind| {
        let first = catalog.with_untracked(|c| first_available(c));
        draft.update(|w| {
            if k.needs_query() && w.query.is_none() {
                w.query = Some(WidgetQuery { metric: first, ..Default::default() });
            }
            w.kind = k;
        })
    });
    let set_preset = Callback::new(move |i: usize| {
        let p = &PRESETS[i];
        title_auto.set(true);
        catalog.with_untracked(|c| draft.update(|w| *w = preset_widget(w.clone(), p, c)));
    });
    // Redrawn (and refetched) only when the widget really changed.
    let preview = Memo::new(move |_| draft.get());
    let apply = move |_| match finished(draft.get_untracked(), &thresholds_text.get_untracked()) {
        Ok(w) => on_apply.run(w),
        Err(p) => problem.set(Some(p)),
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_cancel.run(())>
            <div class="modal widget-editor" role="dialog" aria-label="Widget" data-testid="widget-editor" on:click=|e| e.stop_propagation()>
                <h2>{if adding { "Add a widget" } else { "Configure widget" }}</h2>
                <KindCatalogue kind=kind set_kind=set_kind set_preset=set_preset />
                <div class="editor-fields">
                    <label>"Title "
                        <input type="text" data-testid="editor-title" prop:value=move || draft.with(|w| w.title.clone())
                            on:input=move |e| { let v = event_target_value(&e); title_auto.set(false); draft.update(|w| w.title = v) } />
                    </label>
                    <QueryFields kind=kind draft=draft fetched=fetched catalog=catalog />
                    <OptionFields draft=draft kind=kind thresholds_text=thresholds_text problem=problem />
                </div>
                <div class="widget-preview" data-testid="widget-preview">
                    {move || { let w = preview.get(); view! { <WidgetBody widget=w ctx=ctx /> } }}
                </div>
                {move || problem.get().map(|p| view! { <p class="error-text" role="alert" data-testid="editor-problem">{p}</p> })}
                <div class="modal-actions">
                    <button class="primary" data-testid="editor-apply" on:click=apply>{if adding { "Add to board" } else { "Apply" }}</button>
                    <button data-testid="editor-cancel" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                </div>
            </div>
        </div>
    }
}

/// The widget as it goes on the board, or why it cannot yet: it needs a metric, and its thresholds text
/// must read. Kinds without a query drop theirs (the hitmap and DB sessions keep their filter).
fn finished(mut w: Widget, thresholds: &str) -> Result<Widget, String> {
    if w.kind.needs_query() && w.query.as_ref().is_none_or(|q| q.metric.is_empty()) {
        return Err("Choose a metric.".into());
    }
    w.options.thresholds = parse_thresholds(thresholds).map_err(|e| format!("Thresholds: {e}"))?;
    if !w.kind.needs_query() && !matches!(w.kind, WidgetKind::Hitmap | WidgetKind::DbActiveSessions) {
        w.query = None;
    }
    Ok(w)
}

/// The first metric that can be drawn here (the throughput when the catalogue is not known).
fn first_available(c: &[MetricInfo]) -> String {
    c.iter().find(|i| i.available).map(|i| i.name.clone()).unwrap_or_else(|| "transactions.tps".into())
}

/// Families (metric without its aggregation) for the metric picker, in catalogue order: `(family,
/// available, why / description)`.
fn families(c: &[MetricInfo]) -> Vec<(String, bool, String)> {
    let mut out: Vec<(String, bool, String)> = Vec::new();
    for i in c {
        let (family, _) = split_aggregation(&i.name);
        if !out.iter().any(|(f, _, _)| f == family) {
            let why = i.unavailable_reason.clone().unwrap_or_else(|| i.description.clone());
            out.push((family.to_string(), i.available, why));
        }
    }
    out
}

/// The aggregations the catalogue offers for `metric`'s family.
fn aggregations(c: &[MetricInfo], metric: &str) -> Vec<String> {
    let (family, _) = split_aggregation(metric);
    c.iter()
        .filter_map(|i| {
            let (f, a) = split_aggregation(&i.name);
            (f == family && !a.is_empty()).then(|| a.to_string())
        })
        .collect()
}

/// The metric of `family` to switch to: the same aggregation as now if it has it, else p95, else its first.
fn metric_in_family(c: &[MetricInfo], family: &str, current: &str) -> String {
    let agg = split_aggregation(current).1;
    let names: Vec<&str> = c.iter().map(|i| i.name.as_str()).filter(|n| split_aggregation(n).0 == family).collect();
    names
        .iter()
        .find(|n| split_aggregation(n).1 == agg)
        .or(names.iter().find(|n| split_aggregation(n).1 == "p95"))
        .or(names.first())
        .map_or_else(|| family.to_string(), |n| n.to_string())
}

/// The widget kinds to pick from, with a line on what each shows, then the ready-made widgets.
#[component]
fn KindCatalogue(kind: Memo<WidgetKind>, set_kind: Callback<WidgetKind>, set_preset: Callback<usize>) -> impl IntoView {
    view! {
        <div class="catalogue" data-testid="catalogue">
            {WidgetKind::ALL.iter().cloned().map(|k| {
                let (label, about) = kind_label(&k);
                let this = k.clone();
                view! {
                    <button class="catalogue-item" class:selected=move || kind.get() == this
                        data-testid=format!("catalogue-{}", k.as_str()) title=about
                        on:click=move |_| set_kind.run(k.clone())>
                        <strong>{label}</strong>
                        <span class="muted small">{about}</span>
                    </button>
                }
            }).collect_view()}
            {PRESETS.iter().enumerate().map(|(i, (id, label, about, ..))| view! {
                <button class="catalogue-item catalogue-preset" data-testid=format!("catalogue-preset-{id}") title=*about
                    on:click=move |_| set_preset.run(i)>
                    <strong>{*label}</strong>
                    <span class="muted small">{*about}</span>
                </button>
            }).collect_view()}
        </div>
    }
}

/// The options of the kind chosen: style, stacking, sparkline and thresholds, rows, text.
#[component]
fn OptionFields(
    draft: RwSignal<Widget>,
    kind: Memo<WidgetKind>,
    thresholds_text: RwSignal<String>,
    problem: RwSignal<Option<String>>,
) -> impl IntoView {
    move || {
        let k = kind.get();
        view! {
            {matches!(k, WidgetKind::Timeseries).then(|| view! {
                <label>"Style "
                    <select data-testid="editor-style"
                        prop:value=move || if draft.with(|w| w.options.style == Some(SeriesStyle::Area)) { "area" } else { "line" }
                        on:change=move |e| {
                            let v = event_target_value(&e);
                            draft.update(|w| w.options.style = Some(if v == "area" { SeriesStyle::Area } else { SeriesStyle::Line }));
                        }>
                        <option value="line">"Line"</option>
                        <option value="area">"Area"</option>
                    </select>
                </label>
            })}
            {matches!(k, WidgetKind::Timeseries | WidgetKind::Bar).then(|| view! {
                <label><input type="checkbox" data-testid="editor-stacked" prop:checked=move || draft.with(|w| w.options.stacked)
                    on:change=move |e| { let c = event_target_checked(&e); draft.update(|w| w.options.stacked = c) } />" Stacked"</label>
            })}
            {matches!(k, WidgetKind::SingleNumber).then(|| view! {
                <label><input type="checkbox" prop:checked=move || draft.with(|w| w.options.sparkline)
                    on:change=move |e| { let c = event_target_checked(&e); draft.update(|w| w.options.sparkline = c) } />" Sparkline"</label>
                <label>"Thresholds "
                    <input type="text" placeholder="500:warn, 2000:bad" data-testid="editor-thresholds"
                        prop:value=move || thresholds_text.get()
                        on:change=move |e| {
                            let v = event_target_value(&e);
                            thresholds_text.set(v.clone());
                            match parse_thresholds(&v) {
                                Ok(t) => { problem.set(None); draft.update(|w| w.options.thresholds = t) }
                                Err(e) => problem.set(Some(format!("Thresholds: {e}"))),
                            }
                        } />
                </label>
            })}
            {matches!(k, WidgetKind::TopN).then(|| view! {
                <label>"Rows "
                    <input type="number" min="1" max="50" prop:value=move || draft.with(|w| w.options.limit.unwrap_or(10)).to_string()
                        on:change=move |e| { let v = event_target_value(&e).parse::<u32>().ok().filter(|v| (1..=50).contains(v)); draft.update(|w| w.options.limit = v) } />
                </label>
            })}
            {matches!(k, WidgetKind::Text).then(|| view! {
                <label class="wide">"Text (Markdown)"
                    <textarea rows="5" data-testid="editor-text" prop:value=move || draft.with(|w| w.options.text.clone().unwrap_or_default())
                        on:change=move |e| { let v = event_target_value(&e); draft.update(|w| w.options.text = Some(v)) }></textarea>
                </label>
            })}
        }
    }
}

/// What the widget shows, by kind: a metric query (once the catalogue is there), a service or instance
/// filter, or nothing.
#[component]
fn QueryFields(
    kind: Memo<WidgetKind>,
    draft: RwSignal<Widget>,
    fetched: UsePolledResourceReturn<MetricCatalog>,
    catalog: Signal<Vec<MetricInfo>>,
) -> impl IntoView {
    move || {
        let k = kind.get();
        if k.needs_query() && fetched.data.with(Option::is_none) {
            view! { <CatalogueState fetched=fetched /> }.into_any()
        } else if k.needs_query() {
            view! { <MetricFields draft=draft catalog=catalog /> }.into_any()
        } else if k == WidgetKind::Hitmap {
            view! { <FilterField draft=draft dim="service".to_string() /> }.into_any()
        } else if k == WidgetKind::DbActiveSessions {
            view! { <FilterField draft=draft dim="instance".to_string() /> }.into_any()
        } else {
            ().into_any()
        }
    }
}

/// In place of the metric pickers while the catalogue is not there: loading, or why it could not be
/// fetched, with a way to try again.
#[component]
fn CatalogueState(fetched: UsePolledResourceReturn<MetricCatalog>) -> impl IntoView {
    view! {
        <div class="wide" data-testid="catalogue-state">
            <Show when=move || fetched.error.with(Option::is_some) fallback=|| view! { <p class="muted">"Loading the metric catalogue…"</p> }>
                <FetchError error=fetched.error what="the metric catalogue" testid="catalogue-error" />
                <button data-testid="catalogue-retry" disabled=move || { fetched.inflight.get() > 0 }
                    on:click=move |_| fetched.refetch.run(())>"Try again"</button>
            </Show>
        </div>
    }
}

/// Metric, aggregation, one filter per dimension and the group-by checkboxes.
#[component]
fn MetricFields(draft: RwSignal<Widget>, catalog: Signal<Vec<MetricInfo>>) -> impl IntoView {
    let metric = Memo::new(move |_| draft.with(|w| w.query.as_ref().map(|q| q.metric.clone()).unwrap_or_default()));
    let info = Memo::new(move |_| metric.with(|m| catalog.with(|c| c.iter().find(|i| i.name == *m).cloned())));
    let families = Memo::new(move |_| catalog.with(|c| families(c)));
    let aggregations = Memo::new(move |_| metric.with(|m| catalog.with(|c| aggregations(c, m))));
    let set_metric = move |name: String| {
        // Keep only the filters and groupings the new metric understands.
        let dims: Vec<String> = catalog.with_untracked(|c| c.iter().find(|i| i.name == name).map(|i| i.dimensions.clone())).unwrap_or_default();
        draft.update(|w| {
            let q = w.query.get_or_insert_with(WidgetQuery::default);
            q.metric = name;
            q.filter.retain(|k, _| dims.contains(k));
            q.group_by.retain(|g| dims.contains(g));
        })
    };
    let pick_family = move |family: String| set_metric(catalog.with_untracked(|c| metric_in_family(c, &family, &metric.get_untracked())));
    let dims = move || info.with(|i| i.as_ref().map(|i| i.dimensions.clone()).unwrap_or_default());
    view! {
        <label>"Metric "
            <select data-testid="editor-metric" prop:value=move || split_aggregation(&metric.get()).0.to_string()
                on:change=move |e| pick_family(event_target_value(&e))>
                {move || families.get().into_iter().map(|(f, available, why)| view! {
                    <option value=f.clone() disabled=!available title=why>{if available { f.clone() } else { format!("{f} (not collected)") }}</option>
                }).collect_view()}
            </select>
        </label>
        <Show when=move || !aggregations.with(Vec::is_empty)>
            <label>"Aggregation "
                <select data-testid="editor-aggregation" prop:value=move || split_aggregation(&metric.get()).1.to_string()
                    on:change=move |e| {
                        let m = metric.get_untracked();
                        set_metric(format!("{}.{}", split_aggregation(&m).0, event_target_value(&e)));
                    }>
                    {move || aggregations.get().into_iter().map(|a| view! { <option value=a.clone()>{a.clone()}</option> }).collect_view()}
                </select>
            </label>
        </Show>
        {move || info.get().map(|i| view! { <p class="muted small wide">{i.description.clone()}{format!(" ({})", i.unit)}</p> })}
        {move || dims().into_iter().map(|d| view! { <FilterField draft=draft dim=d /> }).collect_view()}
        <GroupBy draft=draft dims=Signal::derive(dims) />
    }
}

/// One checkbox per dimension of the metric: a series per value of the ticked ones.
#[component]
fn GroupBy(draft: RwSignal<Widget>, dims: Signal<Vec<String>>) -> impl IntoView {
    view! {
        <fieldset class="group-by">
            <legend>"Group by"</legend>
            {move || dims.get().into_iter().map(|d| {
                let d2 = d.clone();
                let d3 = d.clone();
                view! {
                    <label><input type="checkbox" data-testid=format!("editor-group-{d}")
                        prop:checked=move || draft.with(|w| w.query.as_ref().is_some_and(|q| q.group_by.contains(&d2)))
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            let d = d3.clone();
                            draft.update(|w| if let Some(q) = w.query.as_mut() {
                                q.group_by.retain(|g| *g != d);
                                if on { q.group_by.push(d) }
                            })
                        } />{format!(" {d}")}</label>
                }
            }).collect_view()}
        </fieldset>
    }
}

/// A filter on one dimension; empty means all, `$name` follows the board variable `name`.
#[component]
fn FilterField(draft: RwSignal<Widget>, dim: String) -> impl IntoView {
    let d = dim.clone();
    let d2 = dim.clone();
    view! {
        <label>{format!("{dim} ")}
            <input type="text" placeholder="all" data-testid=format!("editor-filter-{dim}")
                title="Empty for all; $service follows the board's service picker"
                prop:value=move || draft.with(|w| w.query.as_ref().and_then(|q| q.filter.get(&d).cloned()).unwrap_or_default())
                on:change=move |e| {
                    let v = event_target_value(&e).trim().to_string();
                    let d = d2.clone();
                    draft.update(|w| {
                        let q = w.query.get_or_insert_with(WidgetQuery::default);
                        if v.is_empty() { q.filter.remove(&d); } else { q.filter.insert(d, v); }
                    })
                } />
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_follow_the_query() {
        let w = Widget {
            id: "a".into(),
            kind: WidgetKind::Timeseries,
            title: String::new(),
            x: 0,
            y: 0,
            w: 1,
            h: 1,
            query: Some(WidgetQuery { metric: "transactions.response_time.p95".into(), group_by: vec!["service".into()], ..Default::default() }),
            options: Default::default(),
        };
        assert_eq!(auto_title(&w), "p95 response time by service");
        assert_eq!(auto_title(&Widget { kind: WidgetKind::Text, ..w }), "Text note");
    }

    #[test]
    fn the_errors_preset_takes_the_cube_metric_when_there_is_one() {
        let info = |name: &str| MetricInfo {
            name: name.into(),
            unit: "count".into(),
            description: String::new(),
            dimensions: vec!["endpoint".into()],
            available: true,
            unavailable_reason: None,
        };
        let w = Widget { id: "a".into(), kind: WidgetKind::Text, title: String::new(), x: 0, y: 0, w: 1, h: 1, query: None, options: Default::default() };
        let made = preset_widget(w.clone(), &PRESETS[0], &[info("transactions.errors"), info("cube.errors")]);
        assert_eq!(made.kind, WidgetKind::TopN);
        let q = made.query.clone().unwrap();
        assert_eq!((q.metric.as_str(), q.group_by.clone()), ("cube.errors", vec!["endpoint".to_string()]));
        assert_eq!(auto_title(&made), "errors by endpoint");
        let older = preset_widget(w, &PRESETS[0], &[info("transactions.errors")]);
        assert_eq!(older.query.unwrap().metric, "transactions.errors");
    }

    #[test]
    fn aggregations_split_off_the_metric_name() {
        assert_eq!(split_aggregation("transactions.response_time.p95"), ("transactions.response_time", "p95"));
        assert_eq!(split_aggregation("transactions.tps"), ("transactions.tps", ""));
    }

    #[test]
    fn thresholds_parse_sorted_and_refuse_nonsense() {
        let t = parse_thresholds("2000:bad, 500:warn").unwrap();
        assert_eq!(t.iter().map(|t| t.value).collect::<Vec<_>>(), vec![500.0, 2000.0]);
        assert_eq!(format_thresholds(&t), "500:warn, 2000:bad");
        assert!(parse_thresholds("fast:red").is_err());
        assert!(parse_thresholds("500").is_err());
        assert!(parse_thresholds("").unwrap().is_empty());
    }
}
