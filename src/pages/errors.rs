//! The errors page (issue 13): per service and endpoint, how many transactions failed over the range and
//! how often, with what (exception types and masked messages), since when, and whether a kind of failure is
//! new since the service's latest deploy. A failure kind links to its failing transactions on the APM page,
//! and from there to their traces, opened at the exception; its "What's different" opens the APM page
//! comparing those failures with everything else of the service in the range (issue 14).
//!
//! URL: the shared range and service, `endpoint` and `error_type` (filters), `sort` (a column) and `desc`
//! (`1` or `0`, as on the cube page; absent: the column's natural order).

use std::cmp::Ordering;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use sightline_model::{CompareDim, EndpointErrors, ErrorGroup, ErrorsAnswer, ErrorsParams, TagFilter};

use crate::api;
use crate::components::error_view::FetchError;
use crate::components::hitmap_chart::thousands;
use crate::components::metric_chart::Sparkline;
use crate::components::rollup_note::RollupNote;
use crate::format::{clock, date_time, duration};
use crate::hooks::{now_ms, use_polled_resource, use_set_query, UseTimeRangeReturn};
use crate::pages::apm::{compare_href, transactions_href};

/// A sortable column of the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Column {
    Endpoint,
    Errors,
    ErrorRate,
    Transactions,
    FirstSeen,
    LastSeen,
}

impl Column {
    const ALL: [Column; 6] =
        [Column::Endpoint, Column::Errors, Column::ErrorRate, Column::Transactions, Column::FirstSeen, Column::LastSeen];

    /// The URL's (and the server's) name.
    fn name(self) -> &'static str {
        match self {
            Column::Endpoint => "endpoint",
            Column::Errors => "errors",
            Column::ErrorRate => "error_rate",
            Column::Transactions => "transactions",
            Column::FirstSeen => "first_seen",
            Column::LastSeen => "last_seen",
        }
    }

    fn parse(s: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Figures read best largest (or latest) first, names A to Z.
    fn desc_by_default(self) -> bool {
        self != Column::Endpoint
    }

    fn cmp(self, a: &EndpointErrors, b: &EndpointErrors) -> Ordering {
        match self {
            Column::Endpoint => (&a.service, &a.endpoint).cmp(&(&b.service, &b.endpoint)),
            Column::Errors => a.errors.cmp(&b.errors),
            Column::ErrorRate => a.error_rate.total_cmp(&b.error_rate),
            Column::Transactions => a.transactions.cmp(&b.transactions),
            Column::FirstSeen => a.first_seen_ms.cmp(&b.first_seen_ms),
            Column::LastSeen => a.last_seen_ms.cmp(&b.last_seen_ms),
        }
    }
}

/// The sort the URL asks for: the column (errors when absent or unknown) and whether descending.
fn sort_of(sort: Option<&str>, desc: Option<&str>) -> (Column, bool) {
    let col = sort.and_then(Column::parse).unwrap_or(Column::Errors);
    let desc = match desc {
        Some("0") => false,
        Some("1") => true,
        _ => col.desc_by_default(),
    };
    (col, desc)
}

/// `rows` in the order of `col` (ties: most errors first, then by name, so the order is stable).
fn sorted(mut rows: Vec<EndpointErrors>, col: Column, desc: bool) -> Vec<EndpointErrors> {
    crate::sort::sort_by(&mut rows, |a, b| {
        let o = col.cmp(a, b);
        let o = if desc { o.reverse() } else { o };
        o.then_with(|| b.errors.cmp(&a.errors)).then_with(|| Column::Endpoint.cmp(a, b))
    });
    rows
}

/// `org.springframework…HttpServerErrorException$GatewayTimeout` → `HttpServerErrorException$GatewayTimeout`:
/// the table has little room; the full type is in the tooltip.
fn short_type(t: &str) -> &str {
    t.rsplit('.').next().unwrap_or(t)
}

/// A time in the table: the clock for the last 20 hours, date and time for older ones.
fn seen(ms: i64) -> String {
    if now_ms() - ms < 20 * 3_600_000 {
        clock(ms)
    } else {
        date_time(ms)
    }
}

#[component]
pub fn ErrorsPage(tr: UseTimeRangeReturn) -> impl IntoView {
    let query = use_query_map();
    // Refetch when the window moves by whole minutes (the figures are per minute), not on every live tick.
    let minutes = Memo::new(move |_| {
        let (from, to) = tr.window.get();
        (from.div_euclid(60_000), (to + 59_999).div_euclid(60_000))
    });
    let params = Memo::new(move |_| {
        let (from, to) = minutes.get();
        query.with(|q| ErrorsParams {
            from: from * 60_000,
            to: to * 60_000,
            service: tr.service.get(),
            endpoint: q.get("endpoint").filter(|s| !s.is_empty()),
            error_type: q.get("error_type").filter(|s| !s.is_empty()),
            // Sorting by transactions is the page's own; any other name goes to the server, which keeps the
            // top endpoints in that order (and says so when it does not know the name).
            sort: q.get("sort").filter(|s| s != Column::Transactions.name()),
        })
    });
    let sort = Memo::new(move |_| query.with(|q| sort_of(q.get_str("sort"), q.get_str("desc"))));
    let answer = use_polled_resource(move || api::errors(params.get()));
    view! {
        <section class="analysis-page" data-testid="page-errors">
            <div class="panel">
                <div class="panel-head">
                    <h2>"Errors by endpoint"</h2>
                    <span class="muted">"failed transactions over the range · click a failure to list them"</span>
                    <span class="spacer"></span>
                    <ErrorFilters answer=answer.data />
                </div>
                <FetchError error=answer.error what="the errors" />
                {move || answer.data.get().map(|a| view! { <ErrorsTable answer=a sort=sort /> })}
                {move || answer.loading.get().then(|| view! { <p class="muted">"Loading…"</p> })}
            </div>
        </section>
    }
}

/// Endpoint and error-type filters (the service is the top bar's): typed, or picked from what is listed.
#[component]
fn ErrorFilters(answer: Signal<Option<ErrorsAnswer>>) -> impl IntoView {
    let query = use_query_map();
    let set_query = use_set_query();
    let options = move |types: bool| {
        let mut v: Vec<String> = answer.with(|a| {
            a.iter()
                .flat_map(|a| &a.endpoints)
                .flat_map(|e| if types { e.groups.iter().map(|g| g.error_type.clone()).collect() } else { vec![e.endpoint.clone()] })
                .filter(|s| !s.is_empty())
                .collect()
        });
        crate::sort::sort(&mut v);
        v.dedup();
        v.into_iter().map(|o| view! { <option value=o></option> }).collect_view()
    };
    let field = move |param: &'static str, label: &'static str, list: &'static str| {
        let set_query = set_query.clone();
        view! {
            <input type="search" class="filter-input" list=list placeholder=label aria-label=label
                data-testid=format!("filter-{param}")
                prop:value=move || query.with(|q| q.get(param).unwrap_or_default())
                on:change=move |e| {
                    let v = event_target_value(&e).trim().to_string();
                    set_query(vec![(param, (!v.is_empty()).then_some(v))]);
                } />
        }
    };
    view! {
        {field("endpoint", "Endpoint", "errors-endpoints")}
        {field("error_type", "Error type", "errors-types")}
        <datalist id="errors-endpoints">{move || options(false)}</datalist>
        <datalist id="errors-types">{move || options(true)}</datalist>
    }
}

/// The table of endpoints with errors, sorted as the URL says; or the empty state.
#[component]
fn ErrorsTable(answer: ErrorsAnswer, sort: Memo<(Column, bool)>) -> impl IntoView {
    let note = view! { <RollupNote from=answer.from raw_since=answer.raw_since_ms /> };
    if answer.endpoints.is_empty() {
        return view! {
            {note}
            <p class="empty-note" data-testid="errors-empty">"No failed transactions in this range."</p>
        }
        .into_any();
    }
    let step = answer.step_ms;
    let range = (answer.from, answer.to, answer.raw_since_ms);
    let rows = answer.endpoints;
    let body = move || {
        let (col, desc) = sort.get();
        sorted(rows.clone(), col, desc)
            .into_iter()
            .map(|e| view! { <EndpointRow e=e step_ms=step range=range /> })
            .collect_view()
    };
    view! {
        {note}
        <div class="table-scroll">
        <table class="grid-table errors-table" data-testid="errors-table">
            <thead><tr>
                <SortHeader col=Column::Endpoint label="Endpoint" sort=sort />
                <SortHeader col=Column::Errors label="Errors" sort=sort />
                <SortHeader col=Column::ErrorRate label="Error rate" sort=sort />
                <SortHeader col=Column::Transactions label="Transactions" sort=sort />
                <th>"Over the range"</th>
                <th>"Failures (exception · message)"</th>
                <SortHeader col=Column::FirstSeen label="First seen" sort=sort />
                <SortHeader col=Column::LastSeen label="Last seen" sort=sort />
            </tr></thead>
            <tbody>{body}</tbody>
        </table>
        </div>
    }
    .into_any()
}

/// A column header that sorts by it; a second click turns the order round.
#[component]
fn SortHeader(col: Column, label: &'static str, sort: Memo<(Column, bool)>) -> impl IntoView {
    let set_query = use_set_query();
    let numeric = col != Column::Endpoint;
    let click = move |_| {
        let (cur, desc) = sort.get_untracked();
        let desc = if cur == col { !desc } else { col.desc_by_default() };
        let flag = (desc != col.desc_by_default()).then(|| if desc { "1" } else { "0" }.to_string());
        set_query(vec![("sort", Some(col.name().to_string())), ("desc", flag)]);
    };
    let arrow = move || match sort.get() {
        (c, true) if c == col => " ▼",
        (c, false) if c == col => " ▲",
        _ => "",
    };
    view! {
        <th class="sortable" class:num=numeric data-testid=format!("sort-{}", col.name())
            aria-sort=move || match sort.get() { (c, d) if c == col => if d { "descending" } else { "ascending" }, _ => "none" }
            on:click=click>
            {label}{arrow}
        </th>
    }
}

/// One endpoint: its figures, sparkline and failure kinds, each linking to its failing transactions.
#[component]
fn EndpointRow(e: EndpointErrors, step_ms: i64, range: (i64, i64, Option<i64>)) -> impl IntoView {
    let query = use_query_map();
    let (from, to, raw_since) = range;
    // Transactions exist from `raw_since` on: the list can show the failures from there.
    let listable_from = raw_since.map(|r| r.max(from)).filter(|f| *f < to && e.last_seen_ms >= *f);
    let href = {
        let (service, endpoint) = (e.service.clone(), e.endpoint.clone());
        move |error_type: Option<String>| {
            let mut f = vec![("service", service.clone()), ("endpoint", endpoint.clone()), ("status", "error".to_string())];
            f.extend(error_type.map(|t| ("error_type", t)));
            listable_from.map(|lf| query.with_untracked(|q| transactions_href(q, lf, to, &f)))
        }
    };
    let spark: Vec<Option<f64>> = e.sparkline.iter().map(|v| Some(*v as f64)).collect();
    let spark_title = format!("errors per {}", duration(step_ms as f64));
    let groups = e.groups.iter().cloned().map(|g| {
        let link = href(Some(g.error_type.clone()));
        let compare = listable_from.map(|lf| query.with_untracked(|q| compare_href(q, lf, to, &e.service, &only_failures(&g.error_type))));
        view! { <GroupItem g=g href=link compare=compare /> }
    });
    let groups = groups.collect_view();
    let version = e.deployed_version.clone();
    view! {
        <tr data-testid="errors-row" data-endpoint=e.endpoint.clone() data-service=e.service.clone()>
            <td class="endpoint-cell">
                {match href(None) {
                    Some(h) => view! { <a href=h data-testid="endpoint-link" title="List the failed transactions">{e.endpoint.clone()}</a> }.into_any(),
                    None => view! { <span>{e.endpoint.clone()}</span> }.into_any(),
                }}
                <div class="muted small">
                    {e.service.clone()}
                    {e.new_since_deploy.then(|| view! {
                        <span class="new-badge" data-testid="new-since-deploy"
                            title=format!("A kind of failure first seen after the deploy of {}", version.clone().unwrap_or_default())>
                            {format!("new since deploy {}", version.clone().unwrap_or_default())}
                        </span>
                    })}
                </div>
            </td>
            <td class="num err-count" data-testid="errors-count">{thousands(e.errors)}</td>
            <td class="num" class:bad={e.error_rate >= 0.05}>{format!("{:.1} %", e.error_rate * 100.0)}</td>
            <td class="num">{thousands(e.transactions)}</td>
            <td class="spark-cell"><Sparkline values=spark from_zero=true class="errors-spark" testid="errors-sparkline" title=spark_title /></td>
            <td class="groups-cell"><ul class="error-groups">{groups}</ul></td>
            <td class="mono small">{seen(e.first_seen_ms)}</td>
            <td class="mono small">{seen(e.last_seen_ms)}</td>
        </tr>
    }
}

/// The comparison's narrowing to one kind of failure: its exception type, or every failure when it has none.
fn only_failures(error_type: &str) -> TagFilter {
    if error_type.is_empty() {
        TagFilter { dim: CompareDim::Status, key: None, value: "error".into() }
    } else {
        TagFilter { dim: CompareDim::ErrorType, key: None, value: error_type.into() }
    }
}

/// One kind of failure: type and masked message, how many, whether it is new; links to its transactions
/// when they are still kept, and to what sets them apart ("What's different").
#[component]
fn GroupItem(g: ErrorGroup, href: Option<String>, compare: Option<String>) -> impl IntoView {
    let title = format!("{}\n{}\nfirst {} · last {}", g.error_type, g.message, date_time(g.first_seen_ms), date_time(g.last_seen_ms));
    let kind = if g.error_type.is_empty() { "(no exception type)".to_string() } else { short_type(&g.error_type).to_string() };
    let label = view! {
        <span class="error-type" data-testid="error-type">{kind}</span>
        {(!g.message.is_empty()).then(|| view! { <span class="error-message muted">{g.message.clone()}</span> })}
    };
    let label = match href {
        Some(h) => view! { <a class="error-group-link" href=h data-testid="error-group-link" title=title>{label}</a> }.into_any(),
        None => view! {
            <span class="error-group-link" title=format!("{title}\nOnly the rollup is left: the transactions are no longer kept.")>{label}</span>
        }
        .into_any(),
    };
    view! {
        <li class="error-group" data-testid="error-group" data-error-type=g.error_type.clone()>
            {label}
            <span class="group-count">{thousands(g.count)}</span>
            {g.new_since_deploy.then(|| view! { <span class="new-badge" data-testid="group-new">"new"</span> })}
            {compare.map(|h| view! {
                <a class="compare-link" href=h data-testid="error-group-compare"
                    title="Compare these failures with everything else of the service in the range">"What's different"</a>
            })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(endpoint: &str, errors: u64, rate: f64, tx: u64) -> EndpointErrors {
        EndpointErrors {
            service: "svc".into(),
            endpoint: endpoint.into(),
            transactions: tx,
            errors,
            error_rate: rate,
            first_seen_ms: 0,
            last_seen_ms: 0,
            sparkline: vec![],
            groups: vec![],
            new_since_deploy: false,
            deployed_version: None,
        }
    }

    #[test]
    fn sorts_by_the_asked_column_and_direction() {
        let rows = vec![row("b", 5, 0.5, 10), row("a", 9, 0.01, 900), row("c", 5, 0.9, 6)];
        let names = |r: Vec<EndpointErrors>| r.into_iter().map(|e| e.endpoint).collect::<Vec<_>>();
        assert_eq!(names(sorted(rows.clone(), Column::Errors, true)), ["a", "b", "c"], "ties by name");
        assert_eq!(names(sorted(rows.clone(), Column::ErrorRate, true)), ["c", "b", "a"]);
        assert_eq!(names(sorted(rows.clone(), Column::Transactions, false)), ["c", "b", "a"]);
        assert_eq!(names(sorted(rows, Column::Endpoint, false)), ["a", "b", "c"]);
        assert_eq!(sort_of(None, None), (Column::Errors, true));
        assert_eq!(sort_of(Some("endpoint"), None), (Column::Endpoint, false));
        assert_eq!(sort_of(Some("error_rate"), Some("0")), (Column::ErrorRate, false));
        assert_eq!(sort_of(Some("endpoint"), Some("1")), (Column::Endpoint, true));
        assert_eq!(short_type("org.x.HttpServerErrorException$GatewayTimeout"), "HttpServerErrorException$GatewayTimeout");
    }

    #[test]
    fn what_is_different_narrows_the_selection_to_the_failure_kind() {
        assert_eq!(only_failures("java.lang.NullPointerException").to_param(), "error_type=java.lang.NullPointerException");
        assert_eq!(only_failures("").to_param(), "status=error");
    }
}
