//! The APM page: the live hitmap of every transaction, drag-select into the list of transactions,
//! click into a trace; per-service summary and what is running right now.
//!
//! Everything the user chose is in the URL: `scale`, `ymax`, `sel=from,to,min_ms,max_ms` (max empty =
//! the open "≥ max" band), `order`, `status`, `endpoint`, `error_type`, `trace`. The errors and cube pages
//! link here with [`transactions_href`]: a selection of every duration, filtered like the figure clicked.
//!
//! A selection is also compared with a baseline ("What's different", `compare`: `base`, `bsel`, `only`);
//! a value clicked there becomes `tag`, which narrows the hitmap and the list alike. A tag-filtered hitmap
//! is not live (the stream cannot filter by tag): it is fetched again every [`FILTERED_REFRESH_MS`].

mod compare;

pub use compare::compare_href;

use leptos::ev;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use leptos_use::{use_event_listener, use_interval_fn, use_window};
use sightline_model::{Order, Scale, Status, TagFilter, TransactionPage};

use crate::api::{self, HitmapParams, Selection, TxParams};
use crate::components::error_view::{ErrorList, FetchError};
use crate::components::board_widget::alerts_of_service;
use crate::components::hitmap_chart::{thousands, HitmapChart};
use crate::components::history_note::{EvictedNote, HistoryNote};
use crate::components::trace_view::TraceView;
use crate::format::{clock, duration};
use crate::hooks::{
    live_now_ms, use_debounced, use_end_first_paint, use_first_paint_done, use_live_hitmap, use_polled_resource, use_polled_resource_with_options, use_set_query, BadBatch,
    UsePolledResourceOptions, UseTimeRangeReturn, SHARED_PARAMS,
};
use compare::{CompareLinks, ComparePanel};

const COLS: u32 = 240;
const ROWS: u32 = 100;
const PAGE_SIZE: u32 = 50;
const YMAX_CHOICES: &[f64] = &[1_000.0, 3_000.0, 5_000.0, 10_000.0, 30_000.0, 60_000.0];
const DEFAULT_YMAX: f64 = 5_000.0;
/// Running longer than this is highlighted in the active list.
const LONG_RUNNING_MS: f64 = 3_000.0;
/// How often a tag-filtered hitmap of a live range is fetched again (it has no live stream).
const FILTERED_REFRESH_MS: u64 = 10_000;
/// A ranked value hovered this long is looked up for the highlight (not every row the pointer crosses).
const HOVER_DEBOUNCE_MS: u64 = 120;

/// `from,to,min_ms,max_ms` ⇄ [`Selection`]; an empty `max_ms` is the open-ended top band.
pub fn parse_selection(s: &str) -> Option<Selection> {
    let mut it = s.split(',');
    let from = it.next()?.parse().ok()?;
    let to = it.next()?.parse().ok()?;
    let min_ms = it.next()?.parse().ok()?;
    let max_ms = match it.next()? {
        "" => None,
        m => Some(m.parse().ok()?),
    };
    (from < to).then_some(Selection { from, to, min_ms, max_ms })
}

pub fn format_selection(s: &Selection) -> String {
    format!("{},{},{},{}", s.from, s.to, s.min_ms, s.max_ms.map(|m| m.to_string()).unwrap_or_default())
}

/// The filters of the transaction list other pages can set (besides the service of the top bar).
pub const LIST_FILTERS: &[&str] = &["service", "endpoint", "status", "error_type"];

/// The APM page listing the transactions that ended in `[from, to)` (every duration) and match `filters`
/// (`(name, value)` of [`LIST_FILTERS`]), keeping the time range of `current` (the linking page's query).
/// `status=error` also makes an opened trace start at its exception.
pub fn transactions_href(current: &ParamsMap, from: i64, to: i64, filters: &[(&'static str, String)]) -> String {
    let mut q = ParamsMap::new();
    for k in SHARED_PARAMS {
        if let Some(v) = current.get(k) {
            q.replace(*k, v);
        }
    }
    for (k, v) in filters {
        debug_assert!(LIST_FILTERS.contains(k), "the list cannot filter by {k}");
        q.replace(*k, v.clone());
    }
    q.replace("sel", format_selection(&Selection { from, to, min_ms: 0.0, max_ms: None }));
    format!("/apm{}", q.to_query_string())
}

#[component]
pub fn ApmPage(tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let scale = Memo::new(move |_| query.with(|q| if q.get_str("scale") == Some("log") { Scale::Log } else { Scale::Linear }));
    let ymax = Memo::new(move |_| {
        query.with(|q| q.get_str("ymax").and_then(|v| v.parse::<f64>().ok()).filter(|v| *v >= 1.0)).unwrap_or(DEFAULT_YMAX)
    });
    let selection = Memo::new(move |_| query.with(|q| q.get_str("sel").and_then(parse_selection)));
    let open_trace = Memo::new(move |_| query.with(|q| q.get("trace")));
    // Listing failures (from the errors page, or the status filter): an opened trace starts at the exception,
    // of this type when one is chosen.
    let focus_error = Memo::new(move |_| {
        query.with(|q| (q.get_str("status") == Some("error")).then(|| q.get("error_type").unwrap_or_default()))
    });

    // A value of the "What's different" panel clicked: it narrows the hitmap and the list.
    let tag = Memo::new(move |_| query.with(|q| q.get("tag").filter(|t| !t.is_empty())));
    // The live stream cannot filter by tag: a filtered live hitmap is fetched again on an interval instead.
    let streamed = Signal::derive(move || tr.live.get() && tag.with(Option::is_none));
    let filtered_live = Signal::derive(move || tr.live.get() && tag.with(Option::is_some));
    let refresh = RwSignal::new(0u32);
    use_interval_fn(
        move || {
            if filtered_live.get_untracked() {
                refresh.update(|n| *n = n.wrapping_add(1));
            }
        },
        FILTERED_REFRESH_MS,
    );

    // Fetch the grid when what it shows changes; while live, the stream and the ticker keep it
    // current, so the fetch deliberately does not depend on the clock (a filtered one does, every
    // FILTERED_REFRESH_MS).
    let params = Memo::new(move |_| {
        if filtered_live.get() {
            refresh.track();
        }
        let (from, to) = if tr.live.get() { tr.range.get().resolve(live_now_ms()) } else { tr.window.get() };
        HitmapParams { from: Some(from), to: Some(to), service: tr.service.get(), cols: Some(COLS), rows: Some(ROWS), ymax: Some(ymax.get()), scale: Some(scale.get()), tag: tag.get() }
    });
    let live = use_live_hitmap(params, streamed);

    // "What's different": the value under the pointer is looked up on the same grid and highlighted.
    let links = CompareLinks { hovered: RwSignal::new(None), picking: RwSignal::new(false) };
    let hover_tag = use_debounced(links.hovered, HOVER_DEBOUNCE_MS);
    let highlight_fetch = use_polled_resource(move || {
        let tag = hover_tag.get();
        let p = params.get();
        // The grid as shown now (a live one has moved on since `params`).
        let shown = live.hitmap.with_untracked(|h| h.as_ref().map(|h| (h.grid.from, h.grid.to)));
        async move {
            let Some(tag) = tag else { return Ok(None) };
            let (from, to) = shown.map(|(f, t)| (Some(f), Some(t))).unwrap_or((p.from, p.to));
            api::hitmap(HitmapParams { from, to, tag: Some(tag), ..p }).await.map(Some)
        }
    });
    let highlight = Memo::new(move |_| highlight_fetch.data.get().flatten());
    let baseline_region = Memo::new(move |_| {
        query.with(|q| (q.get_str("base") == Some("region")).then(|| q.get_str("bsel").and_then(parse_selection)).flatten())
    });

    // Deploys in the shown window (of the chosen service), marked over the hitmap.
    let fetched_deploys = use_polled_resource(move || {
        let (from, to) = tr.window.get();
        api::deploys(from, to)
    });
    let deploys = Signal::derive(move || {
        let service = tr.service.get();
        fetched_deploys.data.with(|list| {
            list.iter().flat_map(|l| &l.deploys).filter(|d| service.as_ref().is_none_or(|s| *s == d.service)).cloned().collect()
        })
    });
    // Alert state changes in the window (of the chosen service), marked like deploys.
    let fetched_alerts = use_polled_resource(move || {
        let (from, to) = tr.window.get();
        api::alert_markers(from, to)
    });
    let alerts = Signal::derive(move || {
        let service = tr.service.get();
        fetched_alerts.data.with(|a| a.as_deref().map(|a| alerts_of_service(a, service.as_deref())).unwrap_or_default())
    });
    let on_select = {
        let set_query = set_query.clone();
        Callback::new(move |s: Selection| {
            // Picking the baseline region: this drag is the baseline, the selection stays.
            if links.picking.get_untracked() {
                links.picking.set(false);
                set_query(vec![("bsel", Some(format_selection(&s))), ("base", Some("region".into()))]);
            } else {
                set_query(vec![("sel", Some(format_selection(&s)))]);
            }
        })
    };
    let close_trace = {
        let set_query = set_query.clone();
        Callback::new(move |_| set_query(vec![("trace", None)]))
    };
    {
        let set_query = set_query.clone();
        let _ = use_event_listener(use_window(), ev::keydown, move |e| {
            if e.key() != "Escape" || open_trace.get_untracked().is_some() {
                return;
            }
            if links.picking.get_untracked() {
                links.picking.set(false);
            } else if selection.get_untracked().is_some() {
                set_query(vec![("sel", None)]);
            }
        });
    }

    let side_panels = use_first_paint_done();
    // A failed hitmap is drawn as its message: nothing to wait for (the other panels show theirs at once).
    let end_first_paint = use_end_first_paint();
    Effect::new(move |_| {
        if live.error.with(Option::is_some) {
            end_first_paint();
        }
    });

    view! {
        {move || open_trace.get().map(|id| view! { <TraceView trace_id=id on_close=close_trace focus_error=focus_error.get_untracked() /> })}
        <section class="apm" data-testid="page-apm">
            <div class="apm-main">
                <div class="panel">
                    <HitmapHead ymax=ymax live=streamed connected=live.connected />
                    <FetchError error=live.error what="the hitmap" />
                    <LiveBatchNotice bad=live.bad_batch />
                    <HistoryNote hitmap=live.hitmap refetch=live.refetch />
                    <EvictedNote hitmap=live.hitmap />
                    <TagChip tag=tag filtered_live=filtered_live />
                    <FetchError error=highlight_fetch.error what="where the value occurs" inline=true testid="highlight-error" />
                    <HitmapChart hitmap=live.hitmap selection=selection on_select=on_select markers=deploys alerts=alerts
                        highlight=highlight baseline=baseline_region picking=links.picking />
                    <FetchError error=fetched_deploys.error what="the deploy markers" inline=true testid="deploys-error" />
                    <FetchError error=fetched_alerts.error what="the alert markers" inline=true testid="alert-markers-error" />
                </div>
                {move || selection.get().map(|sel| view! {
                    <ComparePanel selection=sel.clone() tr=tr links=links />
                    <SelectionPanel selection=sel tr=tr />
                })}
            </div>
            // Built after the hitmap's first paint, as the top bar is (`crate::hooks::use_first_paint`).
            <aside class="apm-side">
                <Show when=move || side_panels.get()>
                    <ServiceSummary tr=tr />
                    <ActivePanel tr=tr />
                </Show>
            </aside>
        </section>
    }
}

/// The hitmap panel's title and controls: stream state, scale, y-axis maximum.
#[component]
fn HitmapHead(ymax: Memo<f64>, live: Signal<bool>, connected: Signal<bool>) -> impl IntoView {
    let set_query = use_set_query();
    view! {
        <div class="panel-head">
            <h2>"Response time"</h2>
            <span class="muted">"every finished transaction · drag to select"</span>
            <span class="spacer"></span>
            <span class="live-state" data-testid="stream-state" class:on=move || connected.get()>
                {move || if !live.get() { "" } else if connected.get() { "streaming" } else { "connecting…" }}
            </span>
            <ParamToggle param="scale" options=&[("Linear", "scale-linear", None), ("Log", "scale-log", Some("log"))] />
            <select data-testid="ymax" aria-label="Y axis maximum"
                prop:value=move || ymax.get().to_string()
                on:change=move |e| set_query(vec![("ymax", Some(event_target_value(&e)))])>
                {YMAX_CHOICES.iter().map(|&v| view! {
                    <option value=v.to_string()>{format!("max {} s", v / 1000.0)}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

/// The page's `tag` filter (a value clicked in "What's different"), removable; a filtered live hitmap
/// says that it refreshes on an interval instead of streaming.
#[component]
fn TagChip(tag: Memo<Option<String>>, filtered_live: Signal<bool>) -> impl IntoView {
    let set_query = use_set_query();
    move || {
        let set_query = set_query.clone();
        tag.get().map(|t| {
            let shown = TagFilter::parse(&t).map(|f| f.describe()).unwrap_or_else(|_| t.clone());
            view! {
                <div class="filter-chips tag-filter" data-testid="tag-filter">
                    <span class="filter-chip tag-chip" data-testid="tag-chip" data-tag=t.clone()
                        title=format!("The hitmap and the list show only the transactions with {shown}")>
                        <strong>{shown.clone()}</strong>
                        <button class="link-button" data-testid="tag-chip-remove" title="Remove this filter"
                            on:click=move |_| set_query(vec![("tag", None)])>"✕"</button>
                    </span>
                    <span class="muted small" data-testid="tag-refresh">
                        {move || if filtered_live.get() {
                            format!("filtered · not streamed, refreshes every {} s", FILTERED_REFRESH_MS / 1000)
                        } else {
                            "filtered".to_string()
                        }}
                    </span>
                </div>
            }
        })
    }
}

/// Says that a live update could not be read and that the hitmap was reloaded from the server instead, so
/// a jump in the counts is explained.
#[component]
fn LiveBatchNotice(bad: Signal<Option<BadBatch>>) -> impl IntoView {
    move || {
        bad.get().map(|b| {
            view! {
                <p class="fetch-error-line" role="alert" data-testid="live-batch-error">
                    {format!(
                        "At {} a live update could not be read ({}); the hitmap was reloaded from the server.",
                        clock(b.at_ms),
                        b.reason,
                    )}
                </p>
            }
        })
    }
}

/// A segmented control over one URL parameter: option `(label, test id, value)`; the first option, with
/// value `None`, is chosen whenever the parameter holds none of the others' values.
#[component]
fn ParamToggle(param: &'static str, options: &'static [(&'static str, &'static str, Option<&'static str>)]) -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let chosen = Memo::new(move |_| {
        query.with(|q| options.iter().position(|o| o.2.is_some() && o.2 == q.get_str(param)).unwrap_or(0))
    });
    view! {
        <div class="segmented">
            {options
                .iter()
                .enumerate()
                .map(|(i, &(label, testid, value))| {
                    let set_query = set_query.clone();
                    view! {
                        <button data-testid=testid class:selected=move || chosen.get() == i
                            on:click=move |_| set_query(vec![(param, value.map(str::to_string))])>
                            {label}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The transactions inside the dragged rectangle: "N of M", paged, slowest or newest first.
#[component]
fn SelectionPanel(selection: Selection, tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let order = Memo::new(move |_| query.with(|q| if q.get_str("order") == Some("newest") { Order::Newest } else { Order::Slowest }));
    let status = Memo::new(move |_| {
        query.with(|q| match q.get_str("status") {
            Some("error") => Some(Status::Error),
            Some("ok") => Some(Status::Ok),
            _ => None,
        })
    });
    let endpoint = Memo::new(move |_| query.with(|q| q.get("endpoint").filter(|e| !e.is_empty())));
    let error_type = Memo::new(move |_| query.with(|q| q.get("error_type")));
    let tag = Memo::new(move |_| query.with(|q| q.get("tag").filter(|t| !t.is_empty())));
    // Cursors of the pages before the current one, for "previous".
    let cursors = RwSignal::new(Vec::<Option<String>>::new());
    let cursor = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        order.track();
        status.track();
        tr.service.track();
        endpoint.track();
        error_type.track();
        tag.track();
        cursors.set(Vec::new());
        cursor.set(None);
    });
    let sel = selection.clone();
    let page = LocalResource::new(move || {
        api::transactions(TxParams {
            service: tr.service.get(),
            endpoint: endpoint.get(),
            error_type: error_type.get(),
            status: status.get(),
            order: Some(order.get()),
            limit: Some(PAGE_SIZE as usize),
            cursor: cursor.get(),
            tag: tag.get(),
            ..sel.tx_params()
        })
    });
    let band = match selection.max_ms {
        Some(m) => format!("{} – {}", duration(selection.min_ms), duration(m)),
        None if selection.min_ms <= 0.0 => "any duration".to_string(),
        None => format!("≥ {}", duration(selection.min_ms)),
    };
    let header = format!("{} – {} · {}", clock(selection.from), clock(selection.to), band);
    let set_status = set_query.clone();
    let clear = set_query.clone();
    view! {
        <div class="panel selection-panel" data-testid="selection-panel">
            <div class="panel-head">
                <h2>"Selected transactions"</h2>
                <span class="muted" data-testid="selection-range">{header}</span>
                <span class="spacer"></span>
                <select data-testid="status-filter" aria-label="Status"
                    prop:value=move || match status.get() { Some(Status::Error) => "error", Some(Status::Ok) => "ok", None => "" }
                    on:change=move |e| { let v = event_target_value(&e); set_status(vec![("status", (!v.is_empty()).then_some(v))]) }>
                    <option value="">"All"</option>
                    <option value="error">"Errors"</option>
                    <option value="ok">"OK"</option>
                </select>
                <ParamToggle param="order" options=&[("Slowest first", "order-slowest", None), ("Newest first", "order-newest", Some("newest"))] />
                <button data-testid="selection-clear" title="Clear the selection (Esc)" on:click=move |_| clear(vec![("sel", None)])>"✕"</button>
            </div>
            <ListFilters endpoint=endpoint error_type=error_type />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                    <div>
                        {move || Suspend::new(async move {
                            page.await.map(|p| view! { <TxPage page=p cursors=cursors cursor=cursor /> })
                        })}
                    </div>
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// The list's filters set by a link (errors page, cube): each one shown, and removable.
#[component]
fn ListFilters(endpoint: Memo<Option<String>>, error_type: Memo<Option<String>>) -> impl IntoView {
    let set_query = use_set_query();
    let chip = move |param: &'static str, label: &'static str, value: Option<String>| {
        let set_query = set_query.clone();
        value.map(|v| {
            let shown = if v.is_empty() { "none".to_string() } else { v };
            view! {
                <span class="filter-chip" data-testid=format!("list-filter-{param}")>
                    {label}": "<strong>{shown}</strong>
                    <button class="link-button" title="Remove this filter" on:click=move |_| set_query(vec![(param, None)])>"✕"</button>
                </span>
            }
        })
    };
    move || {
        let (e, t) = (endpoint.get(), error_type.get());
        (e.is_some() || t.is_some()).then(|| {
            view! {
                <div class="filter-chips" data-testid="list-filters">
                    {chip("endpoint", "Endpoint", e)}
                    {chip("error_type", "Error type", t)}
                </div>
            }
        })
    }
}

/// One page of the selected transactions (a click opens one's trace) and the pager.
#[component]
fn TxPage(page: TransactionPage, cursors: RwSignal<Vec<Option<String>>>, cursor: RwSignal<Option<String>>) -> impl IntoView {
    let open = use_set_query();
    let p = page;
    // Rows before this page: one full page per remembered cursor.
    let first = cursors.with_untracked(|c| c.len()) as u64 * PAGE_SIZE as u64;
    let count = if p.items.is_empty() {
        format!("0 of {}", thousands(p.total))
    } else {
        format!("{}–{} of {}", first + 1, first + p.items.len() as u64, thousands(p.total))
    };
    let next = p.next_cursor.clone();
    view! {
        <table class="grid-table tx-table">
            <thead><tr>
                <th class="sortable" on:click={ let s = open.clone(); move |_| s(vec![("order", Some("newest".into()))]) }>"End"</th>
                <th>"Service"</th><th>"Endpoint"</th>
                <th class="num sortable" on:click={ let s = open.clone(); move |_| s(vec![("order", None)]) }>"Duration"</th>
                <th>"Status"</th><th>"Thread"</th>
            </tr></thead>
            <tbody>
                {p.items.into_iter().map(|t| {
                    let open = open.clone();
                    let id = t.trace_id.clone();
                    view! {
                        <tr class="clickable" data-testid="tx-row" data-trace-id=t.trace_id.clone()
                            on:click=move |_| open(vec![("trace", Some(id.clone()))])>
                            <td class="mono">{clock(t.end_ms)}</td>
                            <td>{t.service}</td>
                            <td class="endpoint">{t.endpoint}</td>
                            <td class="num" data-testid="tx-duration">{duration(t.duration_ms)}</td>
                            <td>{match t.status {
                                Status::Ok => view! { <span class="status ok">"OK"</span> }.into_any(),
                                Status::Error => view! { <span class="status err" title=t.error.clone().unwrap_or_default()>
                                    {t.error.clone().map(|e| short_error(&e)).unwrap_or_else(|| "Error".into())}</span> }.into_any(),
                            }}</td>
                            <td class="mono muted">{t.thread.unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <div class="pager">
            <span data-testid="tx-count">{count}</span>
            <span class="spacer"></span>
            <button data-testid="tx-prev" disabled=move || cursors.with(|c| c.is_empty())
                on:click=move |_| { let prev = cursors.try_update(|c| c.pop()).flatten().flatten(); cursor.set(prev); }>"← Previous"</button>
            <button data-testid="tx-next" disabled=next.is_none()
                on:click=move |_| { cursors.update(|c| c.push(cursor.get_untracked())); cursor.set(next.clone()); }>"Next →"</button>
        </div>
    }
}

/// `java.net.SocketTimeoutException` → `SocketTimeoutException`: the list has little room.
fn short_error(e: &str) -> String {
    e.rsplit(['.', '$']).next().unwrap_or(e).to_string()
}

/// Per-service headline numbers; clicking one filters the page by it.
#[component]
fn ServiceSummary(tr: UseTimeRangeReturn) -> impl IntoView {
    let set_query = use_set_query();
    // Refresh when the window moves by whole minutes, not on every live tick.
    let minute = Memo::new(move |_| {
        let (from, to) = tr.window.get();
        (from / 60_000, to / 60_000 + 1)
    });
    let services = use_polled_resource(move || {
        let (from, to) = minute.get();
        api::services(from * 60_000, to * 60_000)
    });
    view! {
        <div class="panel">
            <div class="panel-head"><h2>"Services"</h2></div>
            <FetchError error=services.error what="the services" />
            {move || {
                let set_query = set_query.clone();
                services.data.get().map(|list| view! {
                    <table class="grid-table" data-testid="service-summary">
                        <thead><tr><th>"Service"</th><th class="num">"TPS"</th><th class="num">"p95"</th><th class="num">"Errors"</th></tr></thead>
                        <tbody>
                            {list.services.into_iter().map(|s| {
                                let set_query = set_query.clone();
                                let name = s.name.clone();
                                let selected = { let n = s.name.clone(); move || tr.service.get().as_deref() == Some(n.as_str()) };
                                view! {
                                    <tr class="clickable" class:selected=selected data-testid="service-row"
                                        on:click=move |_| set_query(vec![("service", Some(name.clone()))])>
                                        <td>{s.name}</td>
                                        <td class="num">{format!("{:.1}", s.tps)}</td>
                                        <td class="num">{duration(s.p95_ms)}</td>
                                        <td class="num" class:bad={s.error_rate >= 0.05}>{format!("{:.1} %", s.error_rate * 100.0)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })
            }}
            <Loading state=services.loading />
        </div>
    }
}

/// "Loading…" until a polled panel's first answer (good or bad) arrives.
#[component]
fn Loading(state: Signal<bool>) -> impl IntoView {
    move || state.get().then(|| view! { <p class="muted">"Loading…"</p> })
}

/// Transactions running now, longest first: the first place a total outage shows.
#[component]
fn ActivePanel(tr: UseTimeRangeReturn) -> impl IntoView {
    let set_query = use_set_query();
    let active = use_polled_resource_with_options(
        move || api::active(tr.service.get()),
        UsePolledResourceOptions::default().interval_ms(2_000),
    );
    view! {
        <div class="panel" data-testid="active-panel">
            <div class="panel-head"><h2>"Active transactions"</h2></div>
            <FetchError error=active.error what="the active transactions" />
            {move || {
                let set_query = set_query.clone();
                active.data.get().map(|list| {
                    if list.items.is_empty() {
                        return view! { <p class="muted" data-testid="active-empty">"Nothing running longer than a moment."</p> }.into_any();
                    }
                    view! {
                        <table class="grid-table active-table">
                            <thead><tr><th>"Endpoint"</th><th class="num">"Elapsed"</th><th>"Now in"</th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|a| {
                                    let set_query = set_query.clone();
                                    let id = a.trace_id.clone();
                                    let title = format!("{} · {}", a.service, a.thread.clone().unwrap_or_default());
                                    view! {
                                        <tr class="clickable" class:long={a.elapsed_ms >= LONG_RUNNING_MS} data-testid="active-row"
                                            title=title
                                            on:click=move |_| set_query(vec![("trace", Some(id.clone()))])>
                                            <td><div>{a.endpoint}</div><div class="muted small">{a.service}" · "{a.thread.unwrap_or_default()}</div></td>
                                            <td class="num">{duration(a.elapsed_ms)}</td>
                                            <td class="small">{a.current_step.unwrap_or_default()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })
            }}
            <Loading state=active.loading />
        </div>
    }
}
