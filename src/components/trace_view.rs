//! The trace of one transaction, as an operator reads it to find where the thread was stuck: a drawer over
//! the page with a summary, a waterfall of the steps (SQL, HTTP, methods, errors) and the chosen step's
//! detail (full SQL, URL, thread, exception).
//!
//! Only the rows in view are in the DOM (fixed row height, see `use_virtual_list`), so a trace of 10 000
//! steps opens and scrolls like one of ten. Keyboard: Esc closes, ↑/↓ move the selection, ←/→ collapse and
//! expand.

use std::collections::HashSet;
use std::sync::Arc;

use leptos::error::Errors;
use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos_use::{use_event_listener, use_event_listener_with_options, UseEventListenerOptions};
use sightline_model::{Status, Step, StepKind, Trace};

use crate::api;
use crate::components::error_view::ErrorList;
use crate::format::{clock, datetime_local, duration};

use crate::hooks::{
    use_copy_to_clipboard, use_virtual_list_with_options, when_laid_out, CopyState, UseCopyToClipboardReturn,
    UseVirtualListOptions, UseVirtualListReturn,
};

/// Height of one waterfall row in px: must equal `.wf-row { height }` in style/trace.css.
const ROW_HEIGHT_PX: f64 = 26.0;
/// Indentation per nesting level, px.
const INDENT_PX: u32 = 14;
/// User Timing marks read by the E2E benchmark: the trace decoded, and its first rows laid out.
const LOADED_MARK: &str = "sightline:trace-loaded";
const ROWS_MARK: &str = "sightline:trace-rows";

fn mark(name: &str) {
    if let Some(perf) = window().performance() {
        let _ = perf.mark(name);
    }
}

/// Shows the trace `trace_id`; `on_close` is called when the user closes the view (Close, Esc, or a click
/// beside the drawer).
#[component]
pub fn TraceView(#[prop(into)] trace_id: Signal<String>, on_close: Callback<()>) -> impl IntoView {
    let trace = LocalResource::new(move || api::trace(trace_id.get()));
    // Capture phase and stop: while the trace is open, Esc is the trace's, not the page's (which would
    // otherwise also clear its hitmap selection).
    let _ = use_event_listener_with_options(
        window(),
        ev::keydown,
        move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" {
                e.stop_propagation();
                e.prevent_default();
                on_close.run(());
            }
        },
        UseEventListenerOptions::default().capture(true),
    );
    let UseCopyToClipboardReturn { state: copy_state, copy } = use_copy_to_clipboard();
    let panel = NodeRef::<leptos::html::Aside>::new();
    // Focus the drawer so the keyboard works in it right away, and give focus back to what had it (the
    // transaction the user opened) when the drawer goes.
    let opener = send_wrapper::SendWrapper::new(document().active_element());
    on_cleanup(move || {
        if let Some(el) = opener.take().and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
            if el.is_connected() {
                let _ = el.focus();
            }
        }
    });
    Effect::new(move |_| {
        if let Some(p) = panel.get() {
            let _ = p.focus();
        }
    });

    view! {
        <div class="trace-backdrop" on:click=move |_| on_close.run(())></div>
        <aside class="trace-view" data-testid="trace-view" role="dialog" aria-label="Trace" tabindex="-1" node_ref=panel>
            <div class="trace-bar">
                <span class="trace-bar-title">"Trace"</span>
                <code class="trace-id" data-testid="trace-id">{move || trace_id.get()}</code>
                <button
                    class="trace-copy"
                    data-testid="trace-copy"
                    title="Copy the trace ID"
                    on:click=move |_| copy.run(trace_id.get_untracked())
                >
                    {move || match copy_state.get() {
                        CopyState::Idle => "Copy ID",
                        CopyState::Copied => "copied",
                        CopyState::Failed => "copy failed",
                    }}
                </button>
                <span class="spacer"></span>
                <span class="trace-keys muted">"↑↓ select · ←→ collapse · Esc close"</span>
                <button data-testid="trace-close" on:click=move |_| on_close.run(())>"Close"</button>
            </div>
            <div class="trace-body">
                <Transition fallback=|| view! { <p class="muted trace-loading">"Loading trace…"</p> }>
                    // The error is rendered here, not thrown to an <ErrorBoundary>: leptos 0.8.23's Suspend
                    // keeps its boundary in a thread-local across the await, so when other panels of the
                    // page load at the same time the error lands in *their* boundary (seen in the E2E).
                    {move || Suspend::new(async move {
                        match trace.await {
                            Ok(t) => view! { <TraceBody trace=t /> }.into_any(),
                            Err(e) => {
                                let mut errors = Errors::default();
                                errors.insert_with_default_key(e);
                                view! { <ErrorList errors=ArcRwSignal::new(errors) /> }.into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </aside>
    }
}

/// A loaded trace plus what the waterfall derives from its depth-first step list once, so scrolling and
/// collapsing never walk the whole trace again.
struct Prepared {
    trace: Trace,
    /// Parent step of each step (the nearest earlier step one level up), `None` for roots.
    parent: Vec<Option<usize>>,
    /// Steps `i + 1 .. subtree_end[i]` are the descendants of step `i`.
    subtree_end: Vec<usize>,
}

impl Prepared {
    fn new(trace: Trace) -> Self {
        let n = trace.steps.len();
        let mut parent = vec![None; n];
        let mut subtree_end = vec![n; n];
        let mut open: Vec<usize> = Vec::new();
        for (i, step) in trace.steps.iter().enumerate() {
            while let Some(&top) = open.last() {
                if trace.steps[top].depth >= step.depth {
                    subtree_end[top] = i;
                    open.pop();
                } else {
                    break;
                }
            }
            parent[i] = open.last().copied();
            open.push(i);
        }
        Prepared { trace, parent, subtree_end }
    }

    fn step(&self, i: usize) -> &Step {
        &self.trace.steps[i]
    }

    fn has_children(&self, i: usize) -> bool {
        self.subtree_end[i] > i + 1
    }

    /// Positions of the steps not hidden under a collapsed ancestor, in order.
    fn visible(&self, collapsed: &HashSet<usize>) -> Vec<usize> {
        let n = self.trace.steps.len();
        let mut out = Vec::with_capacity(if collapsed.is_empty() { n } else { n.min(1024) });
        let mut i = 0;
        while i < n {
            out.push(i);
            i = if collapsed.contains(&i) { self.subtree_end[i] } else { i + 1 };
        }
        out
    }

    /// The step's thread, or the nearest ancestor's in the same service (a span without `thread.*` runs
    /// on its caller's thread in the agents we know) with that ancestor's name.
    fn thread_of(&self, i: usize) -> Option<(String, Option<String>)> {
        let step = self.step(i);
        if let Some(t) = &step.thread {
            return Some((t.clone(), None));
        }
        let mut p = self.parent[i];
        while let Some(a) = p {
            let anc = self.step(a);
            if anc.service != step.service {
                return None;
            }
            if let Some(t) = &anc.thread {
                return Some((t.clone(), Some(anc.name.clone())));
            }
            p = self.parent[a];
        }
        None
    }

    /// Time of the step not covered by any of its children: where its own thread spent the time. Walks
    /// the step's subtree once, so it is computed for the summary and the selected step only.
    fn self_time_ms(&self, i: usize) -> f64 {
        let s = self.step(i);
        let (start, end) = (s.offset_ms, s.offset_ms + s.duration_ms);
        let mut covered = 0.0;
        let mut current: Option<(f64, f64)> = None;
        // Children are in start order, so one pass merges their intervals.
        for c in (i + 1..self.subtree_end[i]).filter(|&j| self.parent[j] == Some(i)) {
            let c = self.step(c);
            let (a, b) = (c.offset_ms.max(start), (c.offset_ms + c.duration_ms).min(end));
            if b <= a {
                continue;
            }
            current = match current {
                Some((x, y)) if a <= y => Some((x, y.max(b))),
                Some((x, y)) => {
                    covered += y - x;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((x, y)) = current {
            covered += y - x;
        }
        (s.duration_ms - covered).max(0.0)
    }

    fn is_error(&self, i: usize) -> bool {
        let s = self.step(i);
        s.status == Status::Error || s.error.is_some()
    }
}

fn kind_attr(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Transaction => "transaction",
        StepKind::Sql => "sql",
        StepKind::Http => "http",
        StepKind::Method => "method",
    }
}

fn kind_label(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Transaction => "TXN",
        StepKind::Sql => "SQL",
        StepKind::Http => "HTTP",
        StepKind::Method => "method",
    }
}

/// Share of the trace's duration, in percent, clamped to the track.
fn pct(ms: f64, total_ms: f64) -> f64 {
    if total_ms <= 0.0 {
        0.0
    } else {
        (ms / total_ms * 100.0).clamp(0.0, 100.0)
    }
}

/// Summary, waterfall and detail of a loaded trace.
#[component]
fn TraceBody(trace: Trace) -> impl IntoView {
    mark(LOADED_MARK);
    let data = Arc::new(Prepared::new(trace));
    let n = data.trace.steps.len();
    let slowest = data.trace.slowest_step.filter(|&i| i < n);
    let collapsed = RwSignal::new(HashSet::<usize>::new());
    let visible = {
        let data = data.clone();
        Memo::new(move |_| collapsed.with(|c| data.visible(c)))
    };
    let selected = RwSignal::new(slowest.or(if n > 0 { Some(0) } else { None }));

    let scroller = NodeRef::<Div>::new();
    let UseVirtualListReturn { range, total_height, offset_top, scroll_to, reveal } = use_virtual_list_with_options(
        scroller,
        Signal::derive(move || visible.with(Vec::len)),
        UseVirtualListOptions::default().row_height(ROW_HEIGHT_PX).overscan(12).initial_index(slowest),
    );
    let position_of = move |step: usize| visible.with_untracked(|v| v.binary_search(&step).ok());

    // Once the rows are in the document: bring the slowest step into view, mark the time for the benchmark.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(el) = scroller.get() else { return false };
        if let Some(pos) = slowest.and_then(position_of) {
            scroll_to.run(pos);
        }
        when_laid_out(el.into(), || mark(ROWS_MARK));
        true
    });

    // Collapsing a step that hides the selection selects the step, so the keyboard keeps a place.
    let toggle = {
        let data = data.clone();
        Callback::new(move |i: usize| {
            let collapsing = collapsed.try_update(|c| !c.remove(&i) && c.insert(i)).unwrap_or(false);
            let hidden = selected.get_untracked().is_some_and(|s| s > i && s < data.subtree_end[i]);
            if collapsing && hidden {
                selected.set(Some(i));
            }
        })
    };

    // Keyboard: ↑/↓ move the selection over the visible rows, ← collapses (or goes to the parent), →
    // expands.
    {
        let data = data.clone();
        let _ = use_event_listener(window(), ev::keydown, move |e: web_sys::KeyboardEvent| {
            if e.ctrl_key() || e.meta_key() || e.alt_key() {
                return;
            }
            let key = e.key();
            if !matches!(key.as_str(), "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight") || in_text_field(&e) {
                return;
            }
            e.prevent_default();
            let Some(cur) = selected.get_untracked() else { return };
            let pos = position_of(cur);
            let next = match (key.as_str(), pos) {
                ("ArrowDown", Some(p)) => visible.with_untracked(|v| v.get(p + 1).copied()).or(Some(cur)),
                ("ArrowUp", Some(p)) => visible.with_untracked(|v| v.get(p.saturating_sub(1)).copied()),
                ("ArrowLeft", _) => {
                    if data.has_children(cur) && !collapsed.with_untracked(|c| c.contains(&cur)) {
                        toggle.run(cur);
                        Some(cur)
                    } else {
                        data.parent[cur].or(Some(cur))
                    }
                }
                ("ArrowRight", _) => {
                    if collapsed.with_untracked(|c| c.contains(&cur)) {
                        toggle.run(cur);
                    }
                    Some(cur)
                }
                _ => None,
            };
            if let Some(next) = next {
                selected.set(Some(next));
                if let Some(p) = position_of(next) {
                    reveal.run(p);
                }
            }
        });
    }

    let jump_to_slowest = {
        let data = data.clone();
        move |_| {
            let Some(s) = slowest else { return };
            // Expand whatever hides it, select it, bring it to the middle.
            collapsed.update(|c| {
                let mut p = data.parent[s];
                while let Some(a) = p {
                    c.remove(&a);
                    p = data.parent[a];
                }
            });
            selected.set(Some(s));
            if let Some(pos) = position_of(s) {
                scroll_to.run(pos);
            }
        }
    };

    let total_ms = data.trace.duration_ms;
    let rows = move || {
        let (a, b) = range.get();
        visible.with(|v| v[a.min(v.len())..b.min(v.len())].to_vec())
    };
    let row = {
        let data = data.clone();
        move |i: usize| waterfall_row(&data, i, total_ms, slowest == Some(i), selected, collapsed, toggle)
    };
    let detail = {
        let data = data.clone();
        move || selected.get().filter(|&i| i < n).map(|i| step_detail(&data, i))
    };

    view! {
        {summary(&data, slowest, jump_to_slowest)}
        <div class="trace-main">
            <div class="wf">
                <div class="wf-head">
                    <span>"Step"</span>
                    <div class="wf-axis">
                        {nice_ticks(total_ms).into_iter().map(|t| {
                            let at = pct(t, total_ms);
                            let (start, end) = (t == 0.0, at > 92.0);
                            view! {
                                <span class="wf-tick" class:start=start class:end=end style:left=format!("{at:.3}%")>
                                    {if t == 0.0 { "0".to_string() } else { duration(t) }}
                                </span>
                            }
                        }).collect_view()}
                    </div>
                    <span class="num">"Duration"</span>
                </div>
                <div class="wf-scroll" node_ref=scroller data-testid="trace-scroll" role="tree" aria-label="Steps of the trace">
                    <div class="wf-spacer" style:height=move || format!("{}px", total_height.get())>
                        <div class="wf-window" style:transform=move || format!("translateY({}px)", offset_top.get())>
                            <For each=rows key=|i| *i children=row />
                        </div>
                    </div>
                </div>
            </div>
            <section class="trace-detail" data-testid="trace-detail" aria-live="polite">
                {move || detail().unwrap_or_else(|| view! {
                    <p class="muted">"Select a step to see its SQL, URL, thread and errors."</p>
                }.into_any())}
            </section>
        </div>
    }
}

/// Whether a key event goes to something that edits text, where arrows move the caret.
fn in_text_field(e: &web_sys::KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.has_attribute("contenteditable"))
}

/// Round times (steps of 1, 2, 2.5 or 5 × 10ⁿ ms) for about four gridlines across `total_ms`.
fn nice_ticks(total_ms: f64) -> Vec<f64> {
    if !total_ms.is_finite() || total_ms <= 0.0 {
        return vec![0.0];
    }
    let raw = total_ms / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    (0..=8).map(|k| k as f64 * step).take_while(|t| *t <= total_ms * 1.000_1).collect()
}

/// `12 345`: step counts of big traces read at a glance.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    // The first group has 1 to 3 digits, every later one 3.
    let head = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = String::with_capacity(digits.len() * 2);
    out.push_str(&digits[..head]);
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push('\u{202f}');
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS.mmm` local time: a trace start is compared with logs to the millisecond.
fn timestamp(ms: i64) -> String {
    format!("{}.{:03}", datetime_local(ms).replace('T', " "), ms.rem_euclid(1000))
}

/// The header of a loaded trace: what was called, where, how long, on which thread, and the way to the
/// slowest step.
fn summary(data: &Prepared, slowest: Option<usize>, jump: impl FnMut(ev::MouseEvent) + 'static) -> impl IntoView {
    let t = &data.trace;
    let txn = t.transactions.first();
    let root = t.steps.first();
    let endpoint = txn.map(|x| x.endpoint.clone()).or_else(|| root.map(|s| s.name.clone())).unwrap_or_default();
    let service = txn.map(|x| x.service.clone()).or_else(|| root.map(|s| s.service.clone())).unwrap_or_default();
    let failed = t.transactions.iter().any(|x| x.status == Status::Error)
        || (t.transactions.is_empty() && root.is_some_and(|s| s.status == Status::Error));
    let thread = txn.and_then(|x| x.thread.clone()).or_else(|| root.and_then(|s| s.thread.clone()));
    let other_services = {
        let mut set: Vec<&str> = t.steps.iter().map(|s| s.service.as_str()).filter(|s| *s != service).collect();
        set.sort_unstable();
        set.dedup();
        set.len()
    };
    let errors = (0..t.steps.len()).filter(|&i| data.is_error(i)).count();
    let slowest_view = slowest.map(|i| {
        let s = data.step(i);
        view! {
            <div class="fact fact-slowest">
                <dt>"Slowest step"</dt>
                <dd>
                    <button class="link-button" data-testid="trace-jump-slowest" title="Show the slowest step" on:click=jump>
                        {s.name.clone()}
                    </button>
                    {
                        let own = data.self_time_ms(i);
                        if s.duration_ms - own < 0.5 {
                            format!(" {}", duration(own))
                        } else {
                            format!(" {} own time, of {}", duration(own), duration(s.duration_ms))
                        }
                    }
                </dd>
            </div>
        }
    });
    view! {
        <header class="trace-summary">
            <div class="trace-title">
                <span class="status-pill" class:error=failed data-testid="trace-status">
                    {if failed { "Error" } else { "OK" }}
                </span>
                <h2 data-testid="trace-endpoint">{endpoint}</h2>
            </div>
            <dl class="trace-facts">
                <div class="fact">
                    <dt>"Service"</dt>
                    <dd data-testid="trace-service">
                        {service}
                        {(other_services > 0).then(|| view! {
                            <span class="muted">{format!(" + {other_services} more")}</span>
                        })}
                    </dd>
                </div>
                <div class="fact">
                    <dt>"Duration"</dt>
                    <dd data-testid="trace-duration">{duration(t.duration_ms)}</dd>
                </div>
                <div class="fact">
                    <dt>"Started"</dt>
                    <dd title=clock(t.start_ms)>{timestamp(t.start_ms)}</dd>
                </div>
                <div class="fact">
                    <dt>"Thread"</dt>
                    <dd data-testid="trace-header-thread">{thread.unwrap_or_else(|| "not reported".into())}</dd>
                </div>
                <div class="fact">
                    <dt>"Steps"</dt>
                    <dd data-testid="trace-step-count">
                        {thousands(t.steps.len())}
                        {(errors > 0).then(|| view! {
                            <span class="err-text">{format!(" · {errors} with errors")}</span>
                        })}
                    </dd>
                </div>
                {slowest_view}
            </dl>
        </header>
    }
}

/// One waterfall row. Built only while the row is in view.
fn waterfall_row(
    data: &Prepared,
    i: usize,
    total_ms: f64,
    is_slowest: bool,
    selected: RwSignal<Option<usize>>,
    collapsed: RwSignal<HashSet<usize>>,
    toggle: Callback<usize>,
) -> impl IntoView {
    let s = data.step(i);
    let error = data.is_error(i);
    let left = pct(s.offset_ms, total_ms);
    let width = pct(s.duration_ms, total_ms).min(100.0 - left);
    let is_collapsed = move || collapsed.with(|c| c.contains(&i));
    let has_children = data.has_children(i);
    let caret = if has_children {
        view! {
            <button
                class="wf-caret"
                data-testid="trace-caret"
                aria-label="Collapse or expand"
                tabindex="-1"
                on:click=move |e| {
                    e.stop_propagation();
                    toggle.run(i);
                }
            >
                {move || if is_collapsed() { "▸" } else { "▾" }}
            </button>
        }
        .into_any()
    } else {
        view! { <span class="wf-caret-space"></span> }.into_any()
    };
    // Past 30 levels the name would leave the column; the depth is in the tooltip.
    let indent = 4 + s.depth.min(30) * INDENT_PX;
    let slowest_label = is_slowest.then(|| {
        // After the bar when there is room, else inside its right end.
        let end = left + width;
        if end < 70.0 {
            view! { <span class="wf-slowest-label" style:left=format!("calc({end:.3}% + 6px)")>"◆ slowest step"</span> }
                .into_any()
        } else {
            view! {
                <span class="wf-slowest-label" style:right=format!("calc({:.3}% + 4px)", 100.0 - end)>"◆ slowest step"</span>
            }
            .into_any()
        }
    });
    let title = format!(
        "{} · depth {} · starts +{} · {}",
        s.name,
        s.depth,
        duration(s.offset_ms),
        duration(s.duration_ms)
    );
    view! {
        <div
            class=format!("wf-row kind-{}", kind_attr(s.kind))
            class:selected=move || selected.get() == Some(i)
            class:error=error
            class:critical=s.critical
            class:slowest=is_slowest
            role="treeitem"
            attr:aria-level=s.depth + 1
            aria-expanded=has_children.then(move || (!is_collapsed()).to_string())
            aria-selected=move || (selected.get() == Some(i)).to_string()
            data-testid="trace-row"
            data-step-kind=kind_attr(s.kind)
            data-slowest=is_slowest.then_some("true")
            data-index=i
            title=title
            on:click=move |_| selected.set(Some(i))
        >
            <div class="wf-name" style:padding-left=format!("{indent}px")>
                {caret}
                <span class=format!("badge kind-{}", kind_attr(s.kind))>{kind_label(s.kind)}</span>
                {error.then(|| view! { <span class="badge badge-error">"error"</span> })}
                <span class="wf-label">{s.name.clone()}</span>
            </div>
            <div class="wf-track">
                <div class="wf-bar" style:left=format!("{left:.3}%") style:width=format!("{width:.3}%")></div>
                {slowest_label}
            </div>
            <div class="wf-dur num">{duration(s.duration_ms)}</div>
        </div>
    }
}

/// The selected step in full: everything the row has no room for.
fn step_detail(data: &Arc<Prepared>, i: usize) -> AnyView {
    view! { <StepDetail data=data.clone() index=i /> }.into_any()
}

#[component]
fn StepDetail(data: Arc<Prepared>, index: usize) -> impl IntoView {
    let s = data.step(index);
    let total = data.trace.duration_ms;
    let error = data.is_error(index);
    let self_ms = data.self_time_ms(index);
    let UseCopyToClipboardReturn { state: copy_state, copy } = use_copy_to_clipboard();
    let span_id = s.span_id.clone();
    // sqlcommenter-style instrumentation tags the statement with the DB span or the span that issued it.
    let db_session = (s.kind == StepKind::Sql).then(|| {
        let spans: Vec<String> = std::iter::once(s.span_id.clone()).chain(s.parent_span_id.clone()).collect();
        view! { <DbSessionOfStep trace_id=data.trace.trace_id.clone() span_ids=spans /> }
    });
    let thread = match data.thread_of(index) {
        Some((name, None)) => view! { <span data-testid="trace-thread">{name}</span> }.into_any(),
        Some((name, Some(from))) => view! {
            <span data-testid="trace-thread">{name}</span>
            <span class="muted">{format!(" (from its caller {from})")}</span>
        }
        .into_any(),
        None => view! { <span data-testid="trace-thread" class="muted">"not reported"</span> }.into_any(),
    };
    let target_label = match s.kind {
        StepKind::Sql => "Database",
        StepKind::Http => "Host",
        _ => "Target",
    };
    let text = s.text.clone().map(|text| match s.kind {
        StepKind::Sql => view! {
            <h4>"SQL"</h4>
            <pre class="trace-code" data-testid="trace-sql">{text}</pre>
        }
        .into_any(),
        StepKind::Http => view! {
            <h4>"Request"</h4>
            <pre class="trace-code" data-testid="trace-url">{text}</pre>
        }
        .into_any(),
        _ => view! {
            <h4>"URL"</h4>
            <pre class="trace-code" data-testid="trace-url">{text}</pre>
        }
        .into_any(),
    });
    let exception = s.error.clone().map(|e| {
        view! {
            <div class="trace-exception" data-testid="trace-error">
                <h4>"Exception"</h4>
                <p>
                    <strong data-testid="trace-error-type">{e.kind.unwrap_or_else(|| "Error".into())}</strong>
                    {e.message.map(|m| format!(": {m}"))}
                </p>
                {e.stacktrace.map(|st| view! { <pre class="trace-code trace-stack">{st}</pre> })}
            </div>
        }
    });
    view! {
        <div class="detail-head">
            <span class=format!("badge kind-{}", kind_attr(s.kind))>{kind_label(s.kind)}</span>
            {error.then(|| view! { <span class="badge badge-error">"error"</span> })}
            <h3 data-testid="trace-detail-name">{s.name.clone()}</h3>
        </div>
        <dl class="detail-grid">
            <dt>"Service"</dt>
            <dd>{s.service.clone()}</dd>
            <dt>"Thread"</dt>
            <dd>{thread}</dd>
            <dt>"Starts"</dt>
            <dd>{format!("+{} into the trace", duration(s.offset_ms))}</dd>
            <dt>"Duration"</dt>
            <dd>{format!("{} ({:.1} % of the trace)", duration(s.duration_ms), pct(s.duration_ms, total))}</dd>
            <dt>"Self time"</dt>
            <dd data-testid="trace-self-time" title="Time not spent in child steps">{duration(self_ms)}</dd>
            <dt>"Status"</dt>
            <dd class:err-text=error>{if error { "error" } else { "ok" }}</dd>
            <dt>"Critical path"</dt>
            <dd>{if s.critical { "yes: the trace waited for it" } else { "no" }}</dd>
            {s.target.clone().map(|t| view! {
                <dt>{target_label}</dt>
                <dd data-testid="trace-target">{t}</dd>
            })}
            <dt>"Span ID"</dt>
            <dd>
                <code>{span_id.clone()}</code>
                " "
                <button class="small" data-testid="trace-copy-span" on:click=move |_| copy.run(span_id.clone())>
                    {move || match copy_state.get() {
                        CopyState::Idle => "Copy",
                        CopyState::Copied => "copied",
                        CopyState::Failed => "copy failed",
                    }}
                </button>
            </dd>
        </dl>
        {text}
        {db_session}
        {exception}
    }
}

/// The database side of an SQL step: the PostgreSQL session that ran it when a sample caught it (wait
/// event, who blocked it), found by the statement's `traceparent` comment; a link opens that moment on the
/// database page.
#[component]
fn DbSessionOfStep(trace_id: String, span_ids: Vec<String>) -> impl IntoView {
    let found = LocalResource::new(move || api::db_trace_sessions(trace_id.clone()));
    let body = move || {
        let answer = found.get()?;
        Some(match answer {
            Err(e) => view! { <p class="muted">{format!("Not available: {e}")}</p> }.into_any(),
            Ok(t) => {
                let mine: Vec<_> = t
                    .matches
                    .into_iter()
                    .filter(|m| m.span_id.as_ref().or(m.session.span_id.as_ref()).is_some_and(|id| span_ids.contains(id)))
                    .collect();
                let Some(last) = mine.last().cloned() else {
                    return Some(view! {
                        <p class="muted">
                            "No sampled PostgreSQL session was running this statement. Sessions are matched by the "
                            <code>"traceparent"</code>
                            " comment sqlcommenter-style instrumentation adds; statements shorter than the sampling interval are rarely caught."
                        </p>
                    }.into_any());
                };
                let s = &last.session;
                let wait = match (&s.wait_event_type, &s.wait_event) {
                    (Some(t), Some(e)) => format!("{t}: {e}"),
                    _ => s.wait_class.clone(),
                };
                let blocked = (!s.blocked_by.is_empty())
                    .then(|| format!("blocked by pid {}", s.blocked_by.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")));
                let href = format!("/db/{}?at={}", last.instance, last.at);
                view! {
                    <dl class="detail-grid">
                        <dt>"Instance"</dt><dd>{last.instance_name.clone()}</dd>
                        <dt data-testid="trace-db-matched-by" title="traceparent: the statement's comment names this trace; heuristic: same application name, time and statement text">{if last.matched_by == sightline_model::DbMatchKind::Heuristic { "Session (heuristic match)" } else { "Session (traceparent)" }}</dt><dd data-testid="trace-db-pid">{format!("pid {}", s.pid)}</dd>
                        <dt>"Seen"</dt><dd>{format!("in {} sample(s), last at {}", mine.len(), datetime_local(last.at).replace('T', " "))}</dd>
                        <dt>"State"</dt><dd>{s.state.clone().unwrap_or_default()}</dd>
                        <dt>"Waiting"</dt><dd data-testid="trace-db-wait">{wait}</dd>
                        {blocked.map(|b| view! { <dt>"Locks"</dt><dd class="err-text">{b}</dd> })}
                    </dl>
                    <a href=href data-testid="trace-db-link">"Open this moment on the database page"</a>
                }.into_any()
            }
        })
    };
    view! {
        <h4>"Database session"</h4>
        <div data-testid="trace-db-session">
            {move || body().unwrap_or_else(|| view! { <p class="muted">"Looking for its database session…"</p> }.into_any())}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::StepKind;

    /// A step at `depth`, starting `offset` ms into the trace and lasting `dur` ms.
    fn step(name: &str, depth: u32, offset: f64, dur: f64, thread: Option<&str>) -> Step {
        Step {
            span_id: name.into(),
            parent_span_id: None,
            depth,
            kind: StepKind::Method,
            service: "svc".into(),
            name: name.into(),
            offset_ms: offset,
            duration_ms: dur,
            status: Status::Ok,
            text: None,
            target: None,
            thread: thread.map(str::to_string),
            error: None,
            critical: false,
        }
    }

    /// root ─┬─ a ─┬─ a1
    ///       │     └─ a2
    ///       └─ b
    fn sample() -> Prepared {
        Prepared::new(Trace {
            trace_id: "t".into(),
            start_ms: 0,
            duration_ms: 100.0,
            transactions: vec![],
            steps: vec![
                step("root", 0, 0.0, 100.0, Some("main-1")),
                step("a", 1, 10.0, 50.0, None),
                step("a1", 2, 10.0, 20.0, None),
                step("a2", 2, 25.0, 20.0, None),
                step("b", 1, 70.0, 20.0, None),
            ],
            slowest_step: Some(0),
        })
    }

    #[test]
    fn parents_and_subtrees_from_depth_first_order() {
        let p = sample();
        assert_eq!(p.parent, vec![None, Some(0), Some(1), Some(1), Some(0)]);
        assert_eq!(p.subtree_end, vec![5, 4, 3, 4, 5]);
        assert!(p.has_children(0) && p.has_children(1) && !p.has_children(2) && !p.has_children(4));
    }

    #[test]
    fn collapsing_hides_exactly_the_subtree() {
        let p = sample();
        assert_eq!(p.visible(&HashSet::new()), vec![0, 1, 2, 3, 4]);
        assert_eq!(p.visible(&HashSet::from([1])), vec![0, 1, 4]);
        assert_eq!(p.visible(&HashSet::from([0])), vec![0]);
        // A collapsed step inside a collapsed one changes nothing more.
        assert_eq!(p.visible(&HashSet::from([0, 1])), vec![0]);
    }

    #[test]
    fn own_time_subtracts_the_union_of_children() {
        let p = sample();
        // a: 50 ms, children cover 10..45 (overlapping) = 35 ms.
        assert_eq!(p.self_time_ms(1), 15.0);
        // root: 100 ms minus a (10..60) and b (70..90).
        assert_eq!(p.self_time_ms(0), 30.0);
        assert_eq!(p.self_time_ms(4), 20.0);
    }

    #[test]
    fn thread_comes_from_the_nearest_caller_in_the_same_service() {
        let mut p = sample();
        assert_eq!(p.thread_of(0), Some(("main-1".into(), None)));
        assert_eq!(p.thread_of(2), Some(("main-1".into(), Some("root".into()))));
        p.trace.steps[1].service = "other".into();
        assert_eq!(p.thread_of(2), None, "a caller in another service ran on another thread");
    }

    #[test]
    fn ticks_are_round_and_inside_the_trace() {
        assert_eq!(nice_ticks(3720.0), vec![0.0, 1000.0, 2000.0, 3000.0]);
        assert_eq!(nice_ticks(1000.0), vec![0.0, 250.0, 500.0, 750.0, 1000.0]);
        assert_eq!(nice_ticks(0.0), vec![0.0]);
        assert!(nice_ticks(0.37).len() >= 3);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(10_000), "10\u{202f}000");
        assert_eq!(thousands(1_234_567), "1\u{202f}234\u{202f}567");
    }

    #[test]
    fn virtual_range_covers_the_viewport_plus_overscan() {
        use crate::hooks::visible_range;
        assert_eq!(visible_range(10_000, 0.0, 600.0, 26.0, 12), (0, 36));
        assert_eq!(visible_range(10_000, 26.0 * 5000.0, 600.0, 26.0, 12), (4988, 5036));
        assert_eq!(visible_range(10_000, 26.0 * 10_000.0, 600.0, 26.0, 12), (9988, 10_000));
        assert_eq!(visible_range(0, 0.0, 600.0, 26.0, 12), (0, 0));
    }
}
