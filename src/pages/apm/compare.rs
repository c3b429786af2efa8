//! "What's different" (issue 14): beside a drag-selection on the hitmap, what sets the selected transactions
//! apart from a baseline — the candidate causes (every dimension's values but the outcomes) ranked by how
//! over-represented they are in the selection, how the selected transactions ended (status, HTTP status,
//! exception type) apart from them, and the steps by the extra time they take. The server counts every transaction of both sets
//! (no sampling), and the panel says so.
//!
//! A ranked value is one hover from the hitmap (the page highlights the cells where it occurs) and one click
//! from a filter (`tag=` in the URL, which narrows the hitmap and the list).
//!
//! URL: `base` (`yesterday`, `before_deploy` or `region`; absent = the rest of the visible window),
//! `bsel=from,to,min_ms,max_ms` (the baseline region, dragged on the hitmap), `only` (a filter that narrows
//! the selection alone, set by the errors page), and the page's own `tag` and `service`, which narrow both.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use sightline_model::{BaselineKind, CompareAnswer, CompareDim, CompareParams, CompareSet, RankedValue, StepDelta, StepKind, TagFilter};

use super::{format_selection, parse_selection};
use crate::api::{self, Selection};
use crate::components::error_view::ErrorList;
use crate::components::hitmap_chart::thousands;
use crate::format::{clock, duration};
use crate::hooks::{use_set_query, UseTimeRangeReturn};

/// Ranked values shown before "show all".
const VALUES_SHOWN: usize = 10;
/// Steps shown before "show all".
const STEPS_SHOWN: usize = 8;

/// The baseline the URL's `base` names; anything else is the default, the rest of the window.
pub fn parse_baseline(s: Option<&str>) -> BaselineKind {
    match s {
        Some("yesterday") => BaselineKind::Yesterday,
        Some("before_deploy") => BaselineKind::BeforeDeploy,
        Some("region") => BaselineKind::Region,
        _ => BaselineKind::Rest,
    }
}

/// The URL's (and the server's) name of a baseline; `None` for the default.
pub fn baseline_param(k: BaselineKind) -> Option<&'static str> {
    match k {
        BaselineKind::Rest => None,
        BaselineKind::Yesterday => Some("yesterday"),
        BaselineKind::BeforeDeploy => Some("before_deploy"),
        BaselineKind::Region => Some("region"),
    }
}

/// What the page's filters and chosen baseline ask the server; `None` while a region baseline has no
/// region yet (the user is about to drag it).
pub struct CompareInput<'a> {
    pub selection: &'a Selection,
    pub baseline: BaselineKind,
    pub region: Option<&'a Selection>,
    /// The hitmap's visible window (the `rest` baseline is the rest of it).
    pub window: (i64, i64),
    pub service: Option<String>,
    pub tag: Option<String>,
    pub only: Option<String>,
}

pub fn compare_params(i: CompareInput<'_>) -> Option<CompareParams> {
    let s = i.selection;
    let mut p = CompareParams {
        from: Some(s.from),
        to: Some(s.to),
        min_ms: Some(s.min_ms),
        max_ms: s.max_ms,
        service: i.service,
        tag: i.tag,
        only: i.only,
        baseline: Some(i.baseline),
        ..Default::default()
    };
    match i.baseline {
        BaselineKind::Rest => {
            // The selection may reach past a window that has moved on since (live): the window covers both.
            p.window_from = Some(i.window.0.min(s.from));
            p.window_to = Some(i.window.1.max(s.to));
        }
        BaselineKind::Region => {
            let r = i.region?;
            p.base_from = Some(r.from);
            p.base_to = Some(r.to);
            p.base_min_ms = Some(r.min_ms);
            p.base_max_ms = r.max_ms;
        }
        BaselineKind::Yesterday | BaselineKind::BeforeDeploy => {}
    }
    Some(p)
}

/// A share for people: `94 %`, `3 %`, `0.4 %`, `0 %`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p <= 0.0 {
        "0 %".into()
    } else if p < 1.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// `+1.20 s`, `−40 ms`: the time a step adds per selected transaction.
pub fn extra(ms: f64) -> String {
    if ms < 0.0 {
        format!("−{}", duration(-ms))
    } else {
        format!("+{}", duration(ms))
    }
}

/// What the panel shares with the hitmap: the ranked value under the pointer (its `tag` filter, for the
/// highlight) and whether the next drag sets the baseline region instead of the selection.
#[derive(Clone, Copy)]
pub struct CompareLinks {
    pub hovered: RwSignal<Option<String>>,
    pub picking: RwSignal<bool>,
}

/// The "What's different" panel of one selection.
#[component]
pub fn ComparePanel(selection: Selection, tr: UseTimeRangeReturn, links: CompareLinks) -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &'static str| Memo::new(move |_| query.with(|q| q.get(name).filter(|v| !v.is_empty())));
    let (tag, only) = (param("tag"), param("only"));
    let baseline = Memo::new(move |_| query.with(|q| parse_baseline(q.get_str("base"))));
    let region = Memo::new(move |_| query.with(|q| q.get_str("bsel").and_then(parse_selection)));
    let sel = selection.clone();
    let params = Memo::new(move |_| {
        // The window is read when the comparison is asked for, not at every live tick: a new range, a new
        // baseline or filter asks again.
        tr.range.track();
        compare_params(CompareInput {
            selection: &sel,
            baseline: baseline.get(),
            region: region.get().as_ref(),
            window: tr.window.get_untracked(),
            service: tr.service.get(),
            tag: tag.get(),
            only: only.get(),
        })
    });
    let answer = LocalResource::new(move || {
        let p = params.get();
        async move {
            match p {
                Some(p) => api::compare(p).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let window = (selection.from, selection.to);
    view! {
        <div class="panel compare-panel" data-testid="compare-panel">
            <div class="panel-head">
                <h2>"What's different"</h2>
                <span class="muted">"hover a value to see it on the hitmap · click to filter by it"</span>
                <span class="spacer"></span>
                <BaselineChooser baseline=baseline region=region picking=links.picking />
            </div>
            <OnlyChip only=only />
            {move || {
                let waiting = baseline.get() == BaselineKind::Region && region.with(Option::is_none);
                (links.picking.get() || waiting).then(|| view! { <PickHint picking=links.picking /> })
            }}
            <Transition fallback=|| view! { <p class="muted" data-testid="compare-loading">"Comparing every transaction…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                    <div>
                        {move || Suspend::new(async move {
                            answer.await.map(|a| a.map(|a| view! { <CompareBody answer=a hovered=links.hovered window=window /> }))
                        })}
                    </div>
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// Rest of the window (default), same time yesterday, before the last deploy, or another dragged region.
#[component]
fn BaselineChooser(baseline: Memo<BaselineKind>, region: Memo<Option<Selection>>, picking: RwSignal<bool>) -> impl IntoView {
    let set_query = use_set_query();
    let options: [(BaselineKind, &str, &str); 4] = [
        (BaselineKind::Rest, "Rest of window", "Every other transaction of the visible window"),
        (BaselineKind::Yesterday, "Yesterday", "The same time span 24 hours earlier"),
        (BaselineKind::BeforeDeploy, "Before deploy", "As long a span, ending at the last deploy of the service"),
        (BaselineKind::Region, "Another region", "Drag a second rectangle on the hitmap"),
    ];
    let buttons = options
        .into_iter()
        .map(|(kind, label, title)| {
            let set_query = set_query.clone();
            let name = baseline_param(kind).unwrap_or("rest");
            view! {
                <button data-testid=format!("compare-baseline-{name}") title=title
                    class:selected=move || baseline.get() == kind
                    on:click=move |_| {
                        // "Another region" always starts a new drag; the others stop one.
                        picking.set(kind == BaselineKind::Region);
                        set_query(vec![("base", baseline_param(kind).map(str::to_string))]);
                    }>
                    {label}
                </button>
            }
        })
        .collect_view();
    let region_text = move || {
        (baseline.get() == BaselineKind::Region).then(|| region.get()).flatten().map(|r| {
            view! { <span class="muted small" data-testid="compare-region">{format!("baseline {}", describe(&r))}</span> }
        })
    };
    view! {
        <div class="segmented" role="group" aria-label="Baseline">{buttons}</div>
        {region_text}
    }
}

/// Asks for the baseline region's drag (and lets the user give up).
#[component]
fn PickHint(picking: RwSignal<bool>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <p class="compare-hint" data-testid="compare-pick-hint">
            {move || if picking.get() {
                "Drag the baseline region on the hitmap: the next rectangle you drag is what the selection is compared with."
            } else {
                "No baseline region yet: choose \u{201c}Another region\u{201d} and drag one on the hitmap."
            }}
            " "
            <button class="link-button" data-testid="compare-pick-cancel" on:click=move |_| {
                picking.set(false);
                set_query(vec![("base", None), ("bsel", None)]);
            }>"Use the rest of the window"</button>
        </p>
    }
}

/// The filter that narrows the selection only (from the errors page), removable.
#[component]
fn OnlyChip(only: Memo<Option<String>>) -> impl IntoView {
    let set_query = use_set_query();
    move || {
        let set_query = set_query.clone();
        only.get().map(|o| {
            let shown = TagFilter::parse(&o).map(|t| t.describe()).unwrap_or(o);
            view! {
                <div class="filter-chips">
                    <span class="filter-chip" data-testid="compare-only-chip" title="Only these selected transactions are compared with the baseline">
                        "selection: only "<strong>{shown}</strong>
                        <button class="link-button" title="Compare the whole selection" on:click=move |_| set_query(vec![("only", None)])>"✕"</button>
                    </span>
                </div>
            }
        })
    }
}

/// `14:02:00 – 14:05:00 · 800 ms – 1.50 s`
fn describe(s: &Selection) -> String {
    let band = match s.max_ms {
        Some(m) => format!("{} – {}", duration(s.min_ms), duration(m)),
        None if s.min_ms <= 0.0 => "any duration".to_string(),
        None => format!("≥ {}", duration(s.min_ms)),
    };
    format!("{} – {} · {}", clock(s.from), clock(s.to), band)
}

/// The two sets, the promise of exactness, then the ranked values and steps (or why there are none).
#[component]
fn CompareBody(answer: CompareAnswer, hovered: RwSignal<Option<String>>, window: (i64, i64)) -> impl IntoView {
    let a = answer;
    let empty_selection = a.selection.count == 0;
    let values = if empty_selection {
        view! { <p class="empty-note" data-testid="compare-empty">"The selection holds no transactions: nothing to compare."</p> }.into_any()
    } else if a.values.is_empty() {
        view! {
            <p class="empty-note" data-testid="compare-empty">
                "Nothing stands out: no value is more common among the selected transactions than in the baseline."
            </p>
        }
        .into_any()
    } else {
        view! { <ValuesTable values=a.values hovered=hovered window=window /> }.into_any()
    };
    let outcomes = (!empty_selection && !a.outcomes.is_empty()).then(|| view! { <Outcomes outcomes=a.outcomes hovered=hovered /> });
    let steps = (!empty_selection && !a.steps.is_empty()).then(|| view! { <StepsTable steps=a.steps hovered=hovered /> });
    view! {
        <div class="compare-sets">
            <SetCard role="selected" title="Selected" set=a.selection />
            <SetCard role="baseline" title="Baseline" set=a.baseline />
        </div>
        <p class="compare-exact" data-testid="compare-exact">
            {format!("Exact: every transaction counted, {} scanned. No sampling.", thousands(a.scanned))}
        </p>
        {a.note.map(|n| view! { <p class="compare-note" data-testid="compare-note">{n}</p> })}
        {outcomes}
        {values}
        {steps}
    }
}

/// One side: what it is, how many transactions, errors and their mean duration.
#[component]
fn SetCard(role: &'static str, title: &'static str, set: CompareSet) -> impl IntoView {
    let rate = if set.count == 0 { 0.0 } else { set.errors as f64 / set.count as f64 };
    view! {
        <div class=format!("compare-set {role}") data-testid=format!("compare-set-{role}") data-count=set.count.to_string()>
            <div class="set-title">{title}</div>
            <div class="set-label" title=set.label.clone()>{set.label.clone()}</div>
            <div class="set-span muted small" data-testid="compare-set-span">{describe(&Selection { from: set.from, to: set.to, min_ms: set.min_ms, max_ms: set.max_ms })}</div>
            <div class="set-figures">
                <strong data-testid="compare-count">{thousands(set.count)}</strong>" transactions · "
                <span class:err-text={set.errors > 0}>{format!("{} errors ({})", thousands(set.errors), percent(rate))}</span>
                {format!(" · mean {}", duration(set.mean_ms))}
            </div>
        </div>
    }
}

/// The dimension column: its label, or the attribute's key.
fn dim_label(v: &RankedValue) -> String {
    match (&v.key, v.dim) {
        (Some(k), CompareDim::Attribute) => k.clone(),
        _ => v.dim.label().to_string(),
    }
}

/// SQL statements and wait events have their page: the database's sessions of the same window.
fn db_link(dim: CompareDim, window: (i64, i64)) -> Option<String> {
    matches!(dim, CompareDim::Statement | CompareDim::WaitEvent).then(|| format!("/db?sel={}-{}", window.0, window.1))
}

/// The ranked values, most over-represented first; the first [`VALUES_SHOWN`] until "show all".
#[component]
fn ValuesTable(values: Vec<RankedValue>, hovered: RwSignal<Option<String>>, window: (i64, i64)) -> impl IntoView {
    let all = RwSignal::new(false);
    let total = values.len();
    let rows = move || {
        let n = if all.get() { total } else { total.min(VALUES_SHOWN) };
        values.iter().take(n).enumerate().map(|(i, v)| view! { <ValueRow rank=i + 1 v=v.clone() hovered=hovered window=window /> }).collect_view()
    };
    view! {
        <table class="grid-table compare-values" data-testid="compare-values">
            <thead><tr>
                <th class="num">"#"</th><th>"Dimension"</th><th>"Value"</th><th>"Selected vs baseline"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {(total > VALUES_SHOWN).then(|| view! {
            <button class="link-button" data-testid="compare-values-more" on:click=move |_| all.update(|a| *a = !*a)>
                {move || if all.get() { "Show fewer".to_string() } else { format!("Show all {total}") }}
            </button>
        })}
    }
}

/// How the selected transactions ended, against the baseline: always over-represented in a band of slow
/// or failed transactions, so shown apart from the causes, one chip each (hover and click as a value).
#[component]
fn Outcomes(outcomes: Vec<RankedValue>, hovered: RwSignal<Option<String>>) -> impl IntoView {
    let chips = outcomes
        .into_iter()
        .take(VALUES_SHOWN)
        .map(|v| {
            let (enter, leave, click) = hover_and_click(v.filter.clone(), hovered);
            let title = format!(
                "{} of the selected, {} of the baseline transactions ({} selected) · hover: where on the hitmap · click: filter by it",
                percent(v.selected_share),
                percent(v.baseline_share),
                thousands(v.selected)
            );
            view! {
                <button class="outcome-chip" data-testid="compare-outcome" data-dim=v.dim.name() data-filter=v.filter.clone()
                    data-selected=v.selected.to_string() title=title
                    on:mouseenter=move |_| enter() on:mouseleave=move |_| leave() on:click=move |_| click()>
                    <span class="muted">{dim_label(&v)}" "</span>
                    <strong class="outcome-value">{v.value.clone()}</strong>
                    <span class="outcome-share">{format!(" {} vs {}", percent(v.selected_share), percent(v.baseline_share))}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="compare-outcomes" data-testid="compare-outcomes">
            <span class="outcomes-title" title="What the selected transactions' outcome was, not why">"How they ended"</span>
            {chips}
        </div>
        <h3 class="compare-subhead">"What they have in common"</h3>
    }
}

/// Hover: highlight on the hitmap; click: filter the page by the value.
fn hover_and_click(filter: String, hovered: RwSignal<Option<String>>) -> (impl Fn() + Clone, impl Fn() + Clone, impl Fn() + Clone) {
    let set_query = use_set_query();
    let enter = {
        let f = filter.clone();
        move || hovered.set(Some(f.clone()))
    };
    let leave = move || hovered.set(None);
    let click = move || {
        hovered.set(None);
        set_query(vec![("tag", Some(filter.clone()))]);
    };
    (enter, leave, click)
}

#[component]
fn ValueRow(rank: usize, v: RankedValue, hovered: RwSignal<Option<String>>, window: (i64, i64)) -> impl IntoView {
    let (enter, leave, click) = hover_and_click(v.filter.clone(), hovered);
    let is_hovered = {
        let f = v.filter.clone();
        move || hovered.with(|h| h.as_deref() == Some(f.as_str()))
    };
    let db = db_link(v.dim, window).map(|href| {
        view! {
            <a class="compare-db-link" href=href data-testid="compare-db-link" title="The database's sessions over the selection's time span"
                on:click=|e| e.stop_propagation()>"DB page"</a>
        }
    });
    view! {
        <tr class="clickable compare-value" class:hovered=is_hovered data-testid="compare-value"
            data-rank=rank.to_string() data-dim=v.dim.name() data-filter=v.filter.clone() data-selected=v.selected.to_string()
            title="Hover: where it occurs on the hitmap · click: filter the hitmap and the list by it"
            on:mouseenter=move |_| enter() on:mouseleave=move |_| leave() on:click=move |_| click()>
            <td class="num muted">{rank}</td>
            <td class="dim">{dim_label(&v)}</td>
            <td class="value"><span class="value-text" data-testid="compare-value-text" title=v.value.clone()>{v.value.clone()}</span>{db}</td>
            <td class="shares"><ShareBars selected=v.selected_share baseline=v.baseline_share /></td>
        </tr>
    }
}

/// Two bars, selection over baseline, and the same in words.
#[component]
fn ShareBars(selected: f64, baseline: f64) -> impl IntoView {
    let width = |s: f64| format!("width:{:.1}%", (s * 100.0).clamp(0.0, 100.0));
    view! {
        <div class="share-bars" aria-hidden="true">
            <span class="share-bar sel" style=width(selected)></span>
            <span class="share-bar base" style=width(baseline)></span>
        </div>
        <div class="share-text" data-testid="compare-share">
            <span class="sel-text">{format!("{} of selected", percent(selected))}</span>
            " · "
            <span class="muted">{format!("{} of baseline", percent(baseline))}</span>
        </div>
    }
}

fn step_kind(k: StepKind) -> &'static str {
    match k {
        StepKind::Sql => "SQL",
        StepKind::Http => "HTTP",
        StepKind::Method => "method",
        StepKind::Transaction => "own time",
    }
}

/// Steps by the extra self time they take per selected transaction.
#[component]
fn StepsTable(steps: Vec<StepDelta>, hovered: RwSignal<Option<String>>) -> impl IntoView {
    let all = RwSignal::new(false);
    let total = steps.len();
    let rows = move || {
        let n = if all.get() { total } else { total.min(STEPS_SHOWN) };
        steps.iter().take(n).map(|s| view! { <StepRow s=s.clone() hovered=hovered /> }).collect_view()
    };
    view! {
        <h3 class="compare-subhead">"Where the time goes"</h3>
        <table class="grid-table compare-steps" data-testid="compare-steps">
            <thead><tr>
                <th>"Kind"</th><th>"Step"</th>
                <th class="num" title="Mean self time per selected transaction">"Selected /tx"</th>
                <th class="num" title="Mean self time per baseline transaction">"Baseline /tx"</th>
                <th class="num">"Extra"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {(total > STEPS_SHOWN).then(|| view! {
            <button class="link-button" data-testid="compare-steps-more" on:click=move |_| all.update(|a| *a = !*a)>
                {move || if all.get() { "Show fewer".to_string() } else { format!("Show all {total}") }}
            </button>
        })}
    }
}

#[component]
fn StepRow(s: StepDelta, hovered: RwSignal<Option<String>>) -> impl IntoView {
    let cells = view! {
        <td class="small">{step_kind(s.kind)}</td>
        <td class="step-name mono" title=s.name.clone()>{s.name.clone()}</td>
        <td class="num" title=format!("{} selected transactions have it", thousands(s.selected_tx))>{duration(s.selected_ms)}</td>
        <td class="num muted" title=format!("{} baseline transactions have it", thousands(s.baseline_tx))>{duration(s.baseline_ms)}</td>
        <td class="num" class:err-text={s.extra_ms > 0.0}>{extra(s.extra_ms)}</td>
    };
    match s.filter {
        Some(f) => {
            let (enter, leave, click) = hover_and_click(f.clone(), hovered);
            view! {
                <tr class="clickable" data-testid="compare-step" data-filter=f
                    title="Hover: where it occurs on the hitmap · click: filter the hitmap and the list by it"
                    on:mouseenter=move |_| enter() on:mouseleave=move |_| leave() on:click=move |_| click()>
                    {cells}
                </tr>
            }
            .into_any()
        }
        None => view! { <tr data-testid="compare-step">{cells}</tr> }.into_any(),
    }
}

/// The APM page comparing the failures of one kind (`only`, e.g. `error_type=…`) in `[from, to)` with
/// everything else of the service in the window: the errors page's "What's different".
pub fn compare_href(current: &leptos_router::params::ParamsMap, from: i64, to: i64, service: &str, only: &TagFilter) -> String {
    let mut q = leptos_router::params::ParamsMap::new();
    for k in crate::hooks::SHARED_PARAMS {
        if let Some(v) = current.get(k) {
            q.replace(*k, v);
        }
    }
    q.replace("service", service.to_string());
    q.replace("sel", format_selection(&Selection { from, to, min_ms: 0.0, max_ms: None }));
    q.replace("only", only.to_param());
    format!("/apm{}", q.to_query_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(from: i64, to: i64) -> Selection {
        Selection { from, to, min_ms: 800.0, max_ms: Some(1_500.0) }
    }

    fn input<'a>(s: &'a Selection, baseline: BaselineKind, region: Option<&'a Selection>) -> CompareInput<'a> {
        CompareInput { selection: s, baseline, region, window: (0, 900_000), service: None, tag: Some("instance=pay-2".into()), only: None }
    }

    #[test]
    fn the_baseline_decides_which_parameters_are_sent() {
        let s = sel(100_000, 200_000);
        let rest = compare_params(input(&s, BaselineKind::Rest, None)).unwrap();
        assert_eq!((rest.from, rest.to, rest.min_ms, rest.max_ms), (Some(100_000), Some(200_000), Some(800.0), Some(1_500.0)));
        assert_eq!((rest.window_from, rest.window_to), (Some(0), Some(900_000)));
        assert_eq!(rest.tag.as_deref(), Some("instance=pay-2"), "the page's filter narrows both sets");
        assert_eq!(rest.base_from, None);

        assert_eq!(compare_params(input(&s, BaselineKind::Region, None)), None, "no region dragged yet: nothing to ask");
        let r = Selection { from: 300_000, to: 400_000, min_ms: 0.0, max_ms: None };
        let region = compare_params(input(&s, BaselineKind::Region, Some(&r))).unwrap();
        assert_eq!((region.base_from, region.base_to, region.base_min_ms, region.base_max_ms), (Some(300_000), Some(400_000), Some(0.0), None));
        assert_eq!(region.window_from, None);

        let y = compare_params(input(&s, BaselineKind::Yesterday, None)).unwrap();
        assert_eq!((y.baseline, y.window_from, y.base_from), (Some(BaselineKind::Yesterday), None, None));

        // A live window that moved on past the selection still covers it.
        let old = sel(-50_000, 10_000);
        let p = compare_params(input(&old, BaselineKind::Rest, None)).unwrap();
        assert_eq!((p.window_from, p.window_to), (Some(-50_000), Some(900_000)));
    }

    #[test]
    fn baselines_round_trip_through_the_url() {
        for k in [BaselineKind::Rest, BaselineKind::Yesterday, BaselineKind::BeforeDeploy, BaselineKind::Region] {
            assert_eq!(parse_baseline(baseline_param(k)), k);
            // The URL names are the server's.
            if let Some(name) = baseline_param(k) {
                assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(name));
            }
        }
        assert_eq!(parse_baseline(Some("nonsense")), BaselineKind::Rest);
    }

    #[test]
    fn shares_and_extra_time_read_as_people_write_them() {
        assert_eq!(percent(0.94), "94 %");
        assert_eq!(percent(0.031), "3 %");
        assert_eq!(percent(0.004), "0.4 %");
        assert_eq!(percent(0.0), "0 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(extra(1_200.0), "+1.20 s");
        assert_eq!(extra(-40.0), "−40 ms");
    }

    #[test]
    fn only_statements_and_wait_events_link_to_the_database_page() {
        assert_eq!(db_link(CompareDim::Statement, (1, 2)).as_deref(), Some("/db?sel=1-2"));
        assert!(db_link(CompareDim::WaitEvent, (1, 2)).is_some());
        assert!(db_link(CompareDim::Endpoint, (1, 2)).is_none());
    }
}
