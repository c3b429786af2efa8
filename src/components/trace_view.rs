//! The trace of one transaction, as an operator reads it to find where the thread was stuck: a drawer over
//! the page with a summary, a waterfall of the steps (SQL, HTTP, methods, errors) and the chosen step's
//! detail (full SQL, URL, thread, exception).
//!
//! Only the rows in view are in the DOM (fixed row height, see `use_virtual_list`), so a trace of 10 000
//! steps opens and scrolls like one of ten. Keyboard: Esc closes, ↑/↓ move the selection, ←/→ collapse and
//! expand.
//!
//! `prepared` derives the tree from the depth-first step list, `waterfall` draws and navigates it,
//! `step_detail` shows the chosen step.

mod prepared;
mod step_detail;
mod waterfall;

use std::sync::Arc;

use leptos::error::Errors;
use leptos::ev;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos_use::{use_event_listener_with_options, UseEventListenerOptions};
use sightline_model::{Status, StepKind, Trace};

use crate::api;
use crate::components::error_view::ErrorList;
use crate::format::{clock, datetime_local, duration};
use crate::hooks::{use_copy_to_clipboard, CopyState, UseCopyToClipboardReturn};
use prepared::Prepared;
use step_detail::StepDetail;
use waterfall::{use_waterfall, Waterfall};

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
pub fn TraceView(
    #[prop(into)] trace_id: Signal<String>,
    on_close: Callback<()>,
    /// Opened to see a failure (from the errors page): start at the step that recorded the exception of this
    /// type (any type when empty) instead of the slowest step, and mark it.
    #[prop(default = None)]
    focus_error: Option<String>,
) -> impl IntoView {
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
                    {move || {
                        let focus_error = focus_error.clone();
                        Suspend::new(async move {
                        match trace.await {
                            Ok(t) => view! { <TraceBody trace=t focus_error=focus_error /> }.into_any(),
                            Err(e) => {
                                let mut errors = Errors::default();
                                errors.insert_with_default_key(e);
                                view! { <ErrorList errors=ArcRwSignal::new(errors) /> }.into_any()
                            }
                        }
                    })}}
                </Transition>
            </div>
        </aside>
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
fn TraceBody(trace: Trace, focus_error: Option<String>) -> impl IntoView {
    mark(LOADED_MARK);
    let data = Arc::new(Prepared::new(trace));
    let n = data.trace.steps.len();
    let focus = focus_error.as_deref().and_then(|t| data.exception_step(t));
    let tree = use_waterfall(data.clone(), focus);
    let jump_to_slowest = {
        let data = data.clone();
        move |_| {
            if let Some(s) = data.slowest() {
                tree.show(&data, s);
            }
        }
    };
    let detail = {
        let data = data.clone();
        move || {
            tree.selected.get().filter(|&i| i < n).map(|i| view! { <StepDetail data=data.clone() index=i /> }.into_any())
        }
    };
    let focus_note = focus.map(|i| {
        let s = data.step(i);
        let kind = s.error.as_ref().and_then(|e| e.kind.clone()).unwrap_or_else(|| "the failure".into());
        // The package is in the detail beside; here the class name is what the eye looks for.
        let short = kind.rsplit('.').next().unwrap_or(&kind).to_string();
        let show = {
            let data = data.clone();
            move |_| tree.show(&data, i)
        };
        view! {
            <p class="trace-focus" data-testid="trace-focus">
                "Opened at the exception: "
                <button class="link-button" title=format!("{kind}: show the step that recorded it") on:click=show>{short}</button>
                {format!(" in {}", s.name)}
            </p>
        }
    });
    view! {
        {summary(&data, jump_to_slowest)}
        {focus_note}
        <div class="trace-main">
            <Waterfall data=data.clone() tree=tree />
            <section class="trace-detail" data-testid="trace-detail" aria-live="polite">
                {move || detail().unwrap_or_else(|| view! {
                    <p class="muted">"Select a step to see its SQL, URL, thread and errors."</p>
                }.into_any())}
            </section>
        </div>
    }
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
fn summary(data: &Prepared, jump: impl FnMut(ev::MouseEvent) + 'static) -> impl IntoView {
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
    let slowest_view = data.slowest().map(|i| {
        let s = data.step(i);
        view! {
            <div class="fact fact-slowest">
                <dt>"Slowest step"</dt>
                <dd>
                    <button class="link-button" data-testid="trace-jump-slowest" title="Show the slowest step" on:click=jump>
                        {s.name.clone()}
                    </button>
                    {
                        if s.duration_ms - s.self_ms < 0.5 {
                            format!(" {}", duration(s.self_ms))
                        } else {
                            format!(" {} own time, of {}", duration(s.self_ms), duration(s.duration_ms))
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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(10_000), "10\u{202f}000");
        assert_eq!(thousands(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
