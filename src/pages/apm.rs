//! The APM page: per-service summary and (next) the hitmap.

use leptos::prelude::*;

use leptos_router::hooks::use_query_map;

use crate::api;
use crate::components::error_view::ErrorList;
use crate::components::trace_view::TraceView;
use crate::hooks::use_set_query;
use crate::format::duration;
use crate::hooks::UseTimeRangeReturn;

#[component]
pub fn ApmPage(tr: UseTimeRangeReturn) -> impl IntoView {
    let services = LocalResource::new(move || {
        let (from, to) = tr.window.get();
        api::services(from, to)
    });
    let query = use_query_map();
    let open_trace = Memo::new(move |_| query.with(|q| q.get("trace")));
    let set_query = use_set_query();
    let close_trace = Callback::new(move |_| set_query(vec![("trace", None)]));
    view! {
        {move || open_trace.get().map(|id| view! { <TraceView trace_id=id on_close=close_trace /> })}
        <section data-testid="page-apm">
            <h1 class="page-title">"APM"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors=errors /> }>
                    {move || Suspend::new(async move {
                        services.await.map(|list| view! {
                            <table class="grid-table" data-testid="service-summary">
                                <thead><tr>
                                    <th>"Service"</th><th class="num">"Transactions"</th><th class="num">"TPS"</th>
                                    <th class="num">"p95"</th><th class="num">"Error rate"</th>
                                </tr></thead>
                                <tbody>
                                    {list.services.into_iter().map(|s| view! {
                                        <tr>
                                            <td>{s.name}</td>
                                            <td class="num">{s.transactions}</td>
                                            <td class="num">{format!("{:.1}", s.tps)}</td>
                                            <td class="num">{duration(s.p95_ms)}</td>
                                            <td class="num">{format!("{:.1} %", s.error_rate * 100.0)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
