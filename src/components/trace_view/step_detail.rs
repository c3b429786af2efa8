//! The chosen step of a trace in full (service, thread, timing, SQL or URL, exception) and, for an SQL step,
//! the PostgreSQL session that ran it.

use std::sync::Arc;

use leptos::prelude::*;
use sightline_model::{StepError, StepKind};

use super::prepared::Prepared;
use super::{kind_attr, kind_label, pct};
use crate::api;
use crate::format::{datetime_local, duration};
use crate::hooks::{use_copy_to_clipboard, CopyState, UseCopyToClipboardReturn};

/// The selected step in full: everything the row has no room for.
#[component]
pub(super) fn StepDetail(data: Arc<Prepared>, index: usize) -> impl IntoView {
    let s = data.step(index);
    let total = data.trace.duration_ms;
    let error = data.is_error(index);
    let UseCopyToClipboardReturn { state: copy_state, copy } = use_copy_to_clipboard();
    let span_id = s.span_id.clone();
    // sqlcommenter-style instrumentation tags the statement with the DB span or the span that issued it.
    let db_session = (s.kind == StepKind::Sql).then(|| {
        let spans: Vec<String> = std::iter::once(s.span_id.clone()).chain(s.parent_span_id.clone()).collect();
        view! { <DbSessionOfStep trace_id=data.trace.trace_id.clone() span_ids=spans /> }
    });
    let thread = thread_view(&data, index);
    let target_label = match s.kind {
        StepKind::Sql => "Database",
        StepKind::Http => "Host",
        _ => "Target",
    };
    let text = s.text.clone().map(|text| text_view(s.kind, text));
    let exception = s.error.clone().map(exception_view);
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
            <dd data-testid="trace-self-time" title="Time not spent in child steps">{duration(s.self_ms)}</dd>
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

/// The step's thread, or its caller's (said so), or that none was reported.
fn thread_view(data: &Prepared, index: usize) -> AnyView {
    match data.thread_of(index) {
        Some((name, None)) => view! { <span data-testid="trace-thread">{name}</span> }.into_any(),
        Some((name, Some(from))) => view! {
            <span data-testid="trace-thread">{name}</span>
            <span class="muted">{format!(" (from its caller {from})")}</span>
        }
        .into_any(),
        None => view! { <span data-testid="trace-thread" class="muted">"not reported"</span> }.into_any(),
    }
}

/// The step's SQL, request or URL text under its heading.
fn text_view(kind: StepKind, text: String) -> AnyView {
    match kind {
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
    }
}

/// The exception the step recorded: type, message, stack.
fn exception_view(e: StepError) -> impl IntoView {
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
