//! Properties a user of the demo relies on, checked on seeded, generated data.

use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::export::{self, Backfill, Live, MAX_BATCH};
use super::incidents::{self, Incidents};
use super::otlp::{self, int_attr, str_attr, DemoSpan, Service};
use super::topology::{self, transaction, transaction_for, Endpoint, Transaction};

const S: u64 = 1_000_000_000;
/// 2025-11-24T00:00:00Z, a cycle boundary (divisible by 300 s).
const T0: u64 = 1_763_942_400 * S;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn recharge_timeout() -> Incidents {
    Incidents { recharge_timeout: true, ..Incidents::calm() }
}

fn exception_types(span: &Span) -> Vec<&str> {
    span.events.iter().filter(|e| e.name == "exception").filter_map(|e| str_attr(&e.attributes, "exception.type")).collect()
}

fn has_exception(t: &Transaction, ty: &str) -> bool {
    t.spans.iter().any(|s| exception_types(&s.span).contains(&ty))
}

fn status_code(span: &Span) -> i32 {
    span.status.as_ref().map_or(0, |s| s.code)
}

/// Structural checks on one trace given as (service name, span) pairs; panics with context on failure.
fn check_trace(spans: &[(String, Span)]) {
    let roots: Vec<_> = spans.iter().filter(|(_, s)| s.parent_span_id.is_empty()).collect();
    assert_eq!(roots.len(), 1, "exactly one root per trace");
    let (service, root) = roots[0];
    assert_eq!(service, "gateway");
    assert_eq!(root.kind, SpanKind::Server as i32);
    let by_id: HashMap<&[u8], &(String, Span)> = spans.iter().map(|p| (p.1.span_id.as_slice(), p)).collect();
    assert_eq!(by_id.len(), spans.len(), "span ids are unique");
    for (svc, s) in spans {
        assert_eq!(s.trace_id, root.trace_id);
        assert_eq!(s.span_id.len(), 8);
        assert_eq!(s.trace_id.len(), 16);
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano, "{} ends before it starts", s.name);
        assert!(s.attributes.iter().any(|a| a.key == "thread.name"), "{} has no thread.name", s.name);
        if s.parent_span_id.is_empty() {
            continue;
        }
        let (psvc, parent) = by_id.get(s.parent_span_id.as_slice()).unwrap_or_else(|| panic!("parent of {} missing", s.name));
        assert!(parent.start_time_unix_nano <= s.start_time_unix_nano && s.end_time_unix_nano <= parent.end_time_unix_nano, "{} is not inside {}", s.name, parent.name);
        if svc != psvc {
            // Crossing a process boundary: SERVER child of the caller's CLIENT span, with the remote-parent flag.
            assert_eq!(s.kind, SpanKind::Server as i32, "{} in {svc} under {psvc}", s.name);
            assert_eq!(parent.kind, SpanKind::Client as i32);
            assert_eq!(s.flags & 0x300, 0x300);
        }
    }
}

#[test]
fn generated_spans_decode_back_from_protobuf() {
    let mut r = rng(1);
    let calm = Incidents::calm();
    let all = Incidents { recharge_timeout: true, slow_query: true, payment_buggy: true, ..calm };
    let spans: Vec<DemoSpan> = (0..300).flat_map(|i| transaction(&mut r, T0 + i * S / 10, if i % 2 == 0 { &calm } else { &all }).spans).collect();
    let n = spans.len();
    let req = otlp::request(spans);
    let bytes = req.encode_to_vec();
    let back = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(back, req);
    assert_eq!(export::span_count(&back), n);
    // One ResourceSpans per process, each carrying what a real SDK's resource says.
    let mut instance_ids = HashSet::new();
    for rs in &back.resource_spans {
        let attrs = &rs.resource.as_ref().expect("resource").attributes;
        for key in ["service.name", "service.instance.id", "host.name", "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version", "deployment.version"] {
            assert!(str_attr(attrs, key).is_some_and(|v| !v.is_empty()), "resource lacks {key}");
        }
        assert!(instance_ids.insert(str_attr(attrs, "service.instance.id").unwrap().to_owned()), "one ResourceSpans per process");
        assert!(rs.scope_spans.iter().all(|s| s.scope.as_ref().is_some_and(|sc| !sc.name.is_empty())));
    }
    let services: HashSet<_> = back.resource_spans.iter().map(|rs| str_attr(&rs.resource.as_ref().unwrap().attributes, "service.name").unwrap()).collect();
    assert_eq!(services, HashSet::from(["gateway", "balance", "payment", "recharge"]));
}

#[test]
fn every_trace_has_one_gateway_root_and_connected_parents() {
    let mut r = rng(2);
    let all = Incidents { recharge_timeout: true, slow_query: true, payment_buggy: true, ..Incidents::calm() };
    for i in 0..2000 {
        let inc = if i % 3 == 0 { all } else { Incidents::calm() };
        let t = transaction(&mut r, T0 + i * S / 20, &inc);
        assert_eq!(t.root().end_time_unix_nano, T0 + i * S / 20, "transactions end at the requested time");
        let spans: Vec<(String, Span)> = t.spans.iter().map(|s| (s.instance.service.name().to_owned(), s.span.clone())).collect();
        check_trace(&spans);
    }
}

#[test]
fn steps_follow_semantic_conventions() {
    let mut r = rng(3);
    let (mut sql, mut http_out, mut methods, mut downstream) = (0, 0, 0, 0);
    for i in 0..1000 {
        let t = transaction(&mut r, T0 + i * S, &Incidents::calm());
        for s in &t.spans {
            let a = &s.span.attributes;
            assert!(int_attr(a, "thread.id").is_some());
            if str_attr(a, "db.system").is_some() {
                sql += 1;
                assert_eq!(s.span.kind, SpanKind::Client as i32);
                assert_eq!(str_attr(a, "db.system"), Some("postgresql"));
                let text = str_attr(a, "db.query.text").expect("SQL steps carry db.query.text");
                assert_eq!(str_attr(a, "db.statement"), Some(text));
                let op = str_attr(a, "db.operation.name").expect("db.operation.name");
                assert!(text.starts_with(op), "{text} does not start with {op}");
                assert!(str_attr(a, "db.namespace").is_some_and(|n| n == s.instance.service.name()));
            } else if s.span.kind == SpanKind::Client as i32 {
                http_out += 1;
                assert!(str_attr(a, "http.request.method").is_some());
                assert!(str_attr(a, "url.full").is_some_and(|u| u.starts_with("http")));
                assert!(str_attr(a, "server.address").is_some());
                assert!(int_attr(a, "server.port").is_some());
                assert!(int_attr(a, "http.response.status_code").is_some());
                let template = str_attr(a, "url.template").expect("url.template");
                assert_eq!(s.span.name, format!("{} {template}", str_attr(a, "http.request.method").unwrap()));
            } else if s.span.kind == SpanKind::Server as i32 {
                downstream += usize::from(s.instance.service != Service::Gateway);
                for key in ["http.request.method", "url.path", "http.route"] {
                    assert!(str_attr(a, key).is_some(), "SERVER span lacks {key}");
                }
                assert!(int_attr(a, "http.response.status_code").is_some());
                assert_eq!(s.span.name, format!("{} {}", str_attr(a, "http.request.method").unwrap(), str_attr(a, "http.route").unwrap()));
            } else {
                assert_eq!(s.span.kind, SpanKind::Internal as i32);
                methods += 1;
                assert!(str_attr(a, "code.function").is_some() && str_attr(a, "code.namespace").is_some());
            }
        }
    }
    assert!(sql > 2000 && http_out > 1000 && methods > 3000 && downstream > 900, "sql {sql} http {http_out} methods {methods} downstream {downstream}");
}

#[test]
fn recharge_timeout_pins_gateway_transactions_at_three_seconds() {
    let mut r = rng(4);
    let mut timed_out = 0;
    let n = 3000;
    for i in 0..n {
        let t = transaction_for(&mut r, Endpoint::Recharge, T0 + i * S, &recharge_timeout());
        if !has_exception(&t, "java.net.SocketTimeoutException") {
            continue;
        }
        timed_out += 1;
        let d = t.duration_ns() as f64 / 1e9;
        assert!((3.0..=3.3).contains(&d), "timed-out transaction took {d} s");
        let root = t.root();
        assert_eq!(status_code(root), StatusCode::Error as i32);
        assert_eq!(int_attr(&root.attributes, "http.response.status_code"), Some(504));
        assert!(!exception_types(root).is_empty(), "the gateway transaction carries the exception event");
        let telco = t.spans.iter().find(|s| str_attr(&s.span.attributes, "url.full") == Some(topology::TELCO_URL)).expect("telco call");
        assert_eq!(telco.instance.service, Service::Recharge);
        assert!(exception_types(&telco.span).contains(&"java.net.SocketTimeoutException"));
        let ev = &telco.span.events[0].attributes;
        assert!(str_attr(ev, "exception.stacktrace").is_some_and(|s| s.contains("TelcoClient.topUp")));
        assert!(telco.span.end_time_unix_nano - telco.span.start_time_unix_nano >= 3 * S);
    }
    assert!(timed_out as f64 > 0.7 * n as f64, "only {timed_out} of {n} recharges timed out during the incident");
    // Outside the incident, timeouts are rare.
    let calm = (0..3000).filter(|i| has_exception(&transaction_for(&mut r, Endpoint::Recharge, T0 + i * S, &Incidents::calm()), "java.net.SocketTimeoutException")).count();
    assert!(calm < 15, "{calm} timeouts without the incident");
}

#[test]
fn slow_query_incident_makes_the_ledger_query_take_800_to_1500_ms() {
    let mut r = rng(5);
    let inc = Incidents { slow_query: true, ..Incidents::calm() };
    let ledger_ms = |t: &Transaction| {
        t.spans
            .iter()
            .filter(|s| str_attr(&s.span.attributes, "db.collection.name") == Some("ledger_entries") && str_attr(&s.span.attributes, "db.operation.name") == Some("SELECT"))
            .map(|s| (s.span.end_time_unix_nano - s.span.start_time_unix_nano) as f64 / 1e6)
            .next()
    };
    let slow: Vec<f64> = (0..1000).filter_map(|i| ledger_ms(&transaction_for(&mut r, Endpoint::Balance, T0 + i * S, &inc))).filter(|ms| *ms >= 800.0).collect();
    assert!(slow.len() > 600, "{} slow ledger queries", slow.len());
    assert!(slow.iter().all(|ms| *ms <= 1500.0));
    let calm_slow = (0..1000).filter_map(|i| ledger_ms(&transaction_for(&mut r, Endpoint::Balance, T0 + i * S, &Incidents::calm()))).filter(|ms| *ms >= 800.0).count();
    assert!(calm_slow < 10, "{calm_slow} slow ledger queries without the incident");
}

#[test]
fn bad_payment_deploy_bursts_500s_with_a_new_deployment_version() {
    let mut r = rng(6);
    let in_burst = Incidents::at(T0 + (incidents::PAYMENT_DEPLOY_AT + 5) * S);
    let after = Incidents::at(T0 + (incidents::PAYMENT_DEPLOY_AT + incidents::INCIDENT_SECS + 5) * S);
    assert!(in_burst.payment_buggy && !after.payment_buggy);
    assert_ne!(in_burst.payment_version, after.payment_version, "the hotfix is a new deployment.version");
    let burst: Vec<Transaction> = (0..1000).map(|i| transaction_for(&mut r, Endpoint::Pay, T0 + i * S, &in_burst)).collect();
    let npe = burst.iter().filter(|t| has_exception(t, "java.lang.NullPointerException")).count();
    let five_hundreds = burst.iter().filter(|t| int_attr(&t.root().attributes, "http.response.status_code") == Some(500)).count();
    assert!(npe > 400 && five_hundreds >= npe, "npe {npe}, 500s {five_hundreds}");
    for t in &burst {
        for s in t.spans.iter().filter(|s| s.instance.service == Service::Payment) {
            let v = str_attr(&s.instance.resource().attributes, "deployment.version").unwrap().to_owned();
            assert_eq!(v, in_burst.payment_version.to_string());
        }
    }
    let calm_errors = (0..1000).filter(|i| status_code(transaction_for(&mut r, Endpoint::Pay, T0 + i * S, &after).root()) == StatusCode::Error as i32).count();
    assert!(calm_errors < 30, "{calm_errors} errors after the hotfix");
}

#[test]
fn durations_have_a_long_tail() {
    let mut r = rng(7);
    let mut all: Vec<u64> = (0..10_000).map(|i| transaction(&mut r, T0 + i * S, &Incidents::calm()).duration_ns()).collect();
    all.sort_unstable();
    let (p50, p99) = (all[5_000], all[9_900]);
    assert!(p99 >= 5 * p50, "p50 {p50} ns, p99 {p99} ns");
    // Not only the mix of endpoints: one endpoint alone has a long tail too.
    let mut bal: Vec<u64> = (0..10_000).map(|i| transaction_for(&mut r, Endpoint::Balance, T0 + i * S, &Incidents::calm()).duration_ns()).collect();
    bal.sort_unstable();
    assert!(bal[9_900] >= 5 * bal[5_000], "balance p50 {} p99 {}", bal[5_000], bal[9_900]);
    assert!(bal[5_000] > 1_000_000 && bal[5_000] < 100_000_000, "balance p50 {} ns is not plausible", bal[5_000]);
}

#[test]
fn incident_schedule_recurs_every_cycle() {
    let at = |off: u64| Incidents::at(T0 + 7 * incidents::CYCLE_SECS * S + off * S);
    assert!(at(incidents::RECHARGE_TIMEOUT_AT).recharge_timeout);
    assert!(at(incidents::SLOW_QUERY_AT + 59).slow_query);
    assert!(at(incidents::PAYMENT_DEPLOY_AT).payment_buggy);
    let quiet = at(0);
    assert!(!quiet.recharge_timeout && !quiet.slow_query && !quiet.payment_buggy);
    // Within any 5-minute span every incident happens, and they never overlap.
    let mut seen = [false; 3];
    for off in 0..incidents::CYCLE_SECS {
        let i = Incidents::at(T0 + 123 * S + off * S);
        assert!(u8::from(i.recharge_timeout) + u8::from(i.slow_query) + u8::from(i.payment_buggy) <= 1);
        seen[0] |= i.recharge_timeout;
        seen[1] |= i.slow_query;
        seen[2] |= i.payment_buggy;
    }
    assert_eq!(seen, [true; 3]);
}

/// Every span of a request stream, with its service name.
fn decode_all(reqs: &[ExportTraceServiceRequest]) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for req in reqs {
        let req = ExportTraceServiceRequest::decode(req.encode_to_vec().as_slice()).expect("decodes");
        for rs in req.resource_spans {
            let svc = str_attr(&rs.resource.as_ref().unwrap().attributes, "service.name").unwrap().to_owned();
            for ss in rs.scope_spans {
                out.extend(ss.spans.into_iter().map(|s| (svc.clone(), s)));
            }
        }
    }
    out
}

#[test]
fn backfill_covers_fifteen_minutes_with_every_incident() {
    let from = T0 + 1000 * S;
    let to = from + 15 * 60 * S;
    let mut b = Backfill::new(rng(8), from, to, super::TRANSACTIONS_PER_SECOND);
    let mut minutes = [0u32; 15];
    let (mut roots, mut timeouts, mut slow_queries, mut npes, mut requests) = (0, 0, 0, 0, 0);
    let mut first_requests = Vec::new();
    while let Some(req) = b.next_request() {
        requests += 1;
        assert!(export::span_count(&req) <= MAX_BATCH);
        if first_requests.len() < 20 {
            first_requests.push(req.clone());
        }
        for rs in &req.resource_spans {
            let svc = str_attr(&rs.resource.as_ref().unwrap().attributes, "service.name").unwrap();
            for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                assert!(s.end_time_unix_nano <= to && s.start_time_unix_nano >= from - 5 * S);
                let types = exception_types(s);
                timeouts += usize::from(types.contains(&"java.net.SocketTimeoutException"));
                npes += usize::from(types.contains(&"java.lang.NullPointerException") && svc == "payment" && s.kind == SpanKind::Server as i32);
                if str_attr(&s.attributes, "db.collection.name") == Some("ledger_entries") && s.end_time_unix_nano - s.start_time_unix_nano >= 800_000_000 {
                    slow_queries += 1;
                }
                if s.parent_span_id.is_empty() {
                    roots += 1;
                    assert!(s.end_time_unix_nano > from);
                    minutes[((s.end_time_unix_nano - from - 1) / (60 * S)) as usize] += 1;
                }
            }
        }
    }
    let expected = 15.0 * 60.0 * super::TRANSACTIONS_PER_SECOND;
    assert!((roots as f64 - expected).abs() < 0.05 * expected, "{roots} transactions, expected about {expected}");
    assert!(minutes.iter().all(|m| *m as f64 > 0.8 * 60.0 * super::TRANSACTIONS_PER_SECOND), "a minute is missing: {minutes:?}");
    assert!(timeouts > 50 && slow_queries > 50 && npes > 50, "timeouts {timeouts}, slow queries {slow_queries}, NPEs {npes}");
    assert!(requests as f64 > expected * 5.0 / MAX_BATCH as f64, "only {requests} requests");
    // Full batches: traces straddle requests, so parents can arrive after their children.
    let spans = decode_all(&first_requests);
    let mut traces: HashMap<Vec<u8>, Vec<(String, Span)>> = HashMap::new();
    for p in spans {
        traces.entry(p.1.trace_id.clone()).or_default().push(p);
    }
    let complete: Vec<_> = traces.values().filter(|t| t.iter().any(|(_, s)| s.parent_span_id.is_empty())).collect();
    assert!(complete.len() > 100);
    for t in complete.iter().filter(|t| t.len() >= 5) {
        // Roots end last; a trace with its root in these requests is whole unless it straddles the 20th.
        if t.iter().all(|(_, s)| s.parent_span_id.is_empty() || t.iter().any(|(_, p)| p.span_id == s.parent_span_id)) {
            check_trace(t);
        }
    }
}

#[test]
fn live_reports_long_transactions_in_flight_then_finished() {
    // Start in the recharge-timeout window so there are plenty of 3 s transactions.
    let start = T0 + incidents::RECHARGE_TIMEOUT_AT * S;
    let mut live = Live::new(rng(9), start, super::TRANSACTIONS_PER_SECOND);
    let mut sent: Vec<(u64, Span, String)> = Vec::new(); // (poll time, span, service)
    let mut requests = 0;
    let mut now = start;
    while now < start + 20 * S {
        now += 50_000_000;
        for req in live.poll(now) {
            requests += 1;
            assert!(export::span_count(&req) <= MAX_BATCH);
            sent.extend(decode_all(&[req]).into_iter().map(|(svc, s)| (now, s, svc)));
        }
    }
    // Finished spans leave only after they end: a root within one tick plus one export delay; its children
    // (generated together with a root that ends now) at most IN_FLIGHT_AFTER earlier.
    for (at, s, _) in sent.iter().filter(|(_, s, _)| s.end_time_unix_nano != 0) {
        let late = if s.parent_span_id.is_empty() { 550_000_000 } else { export::IN_FLIGHT_AFTER_NS + 550_000_000 };
        assert!(s.end_time_unix_nano <= *at && *at - s.end_time_unix_nano <= late, "span exported {} ms after its end", (*at as i64 - s.end_time_unix_nano as i64) / 1_000_000);
    }
    let snapshots: Vec<_> = sent.iter().filter(|(_, s, _)| s.end_time_unix_nano == 0).collect();
    let root_snaps: Vec<_> = snapshots.iter().filter(|(_, s, _)| s.parent_span_id.is_empty()).collect();
    assert!(root_snaps.len() > 20, "{} in-flight root snapshots", root_snaps.len());
    let (mut deep, mut stuck_in_telco) = (0, 0);
    for (at, snap, svc) in &root_snaps {
        assert_eq!(svc, "gateway");
        assert!(*at - snap.start_time_unix_nano >= 1_000_000_000 - 100_000_000, "reported in flight too early");
        assert!(snap.status.is_none() && int_attr(&snap.attributes, "http.response.status_code").is_none());
        // The innermost running step is in the same snapshot: a span of this trace with no running child.
        let same: Vec<_> = snapshots.iter().filter(|(t, s, _)| t == at && s.trace_id == snap.trace_id).collect();
        deep += usize::from(same.len() >= 2);
        stuck_in_telco += usize::from(same.iter().any(|(_, s, _)| str_attr(&s.attributes, "url.full") == Some(topology::TELCO_URL)));
        for (_, s, _) in &same {
            assert!(s.parent_span_id.is_empty() || same.iter().any(|(_, p, _)| p.span_id == s.parent_span_id), "snapshot path is broken at {}", s.name);
            assert!(s.start_time_unix_nano <= *at);
        }
        // Later, the finished root replaces it.
        if let Some((fin_at, fin, _)) = sent.iter().find(|(_, s, _)| s.span_id == snap.span_id && s.end_time_unix_nano != 0) {
            assert!(fin_at >= at && fin.end_time_unix_nano - fin.start_time_unix_nano > 1_000_000_000);
        }
    }
    // Usually the thread is deep inside the transaction; during this incident, waiting on the telecom API.
    assert!(deep * 10 >= root_snaps.len() * 9, "{deep} of {} snapshots show a running step", root_snaps.len());
    assert!(stuck_in_telco * 2 >= root_snaps.len(), "{stuck_in_telco} of {} snapshots show the telco call", root_snaps.len());
    // Whole traces arrive in several requests, children before parents.
    let root_times: HashMap<&[u8], u64> = sent.iter().filter(|(_, s, _)| s.parent_span_id.is_empty() && s.end_time_unix_nano != 0).map(|(at, s, _)| (s.trace_id.as_slice(), *at)).collect();
    let split = sent.iter().filter(|(at, s, _)| s.end_time_unix_nano != 0 && root_times.get(s.trace_id.as_slice()).is_some_and(|r| r > at)).count();
    assert!(split > 100, "only {split} spans were sent before their trace's root");
    assert!(requests > 40 && requests < 400, "{requests} requests in 20 s");
    // Every finished trace whose root was sent is complete and well-formed.
    let mut traces: HashMap<Vec<u8>, Vec<(String, Span)>> = HashMap::new();
    for (_, s, svc) in sent.iter().filter(|(_, s, _)| s.end_time_unix_nano != 0) {
        traces.entry(s.trace_id.clone()).or_default().push((svc.clone(), s.clone()));
    }
    let mut checked = 0;
    // Other processes flush up to one export delay after the gateway, so skip roots that ended just now.
    let settled = |t: &&Vec<(String, Span)>| t.iter().any(|(_, s)| s.parent_span_id.is_empty() && s.end_time_unix_nano + 600_000_000 <= now);
    for t in traces.values().filter(settled) {
        if t.iter().all(|(_, s)| s.start_time_unix_nano >= start) {
            check_trace(t);
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} complete traces");
}

#[test]
fn backfill_fills_only_the_gap_after_stored_history() {
    let start = T0 + 5_000 * S;
    let grid = super::backfill_probe(start);
    assert_eq!(grid.to as u64 * 1_000_000, start);
    assert_eq!(grid.cols, 900);
    let mut h = sightline_model::Hitmap::empty(grid);
    assert_eq!(super::backfill_start(&h, start), start - 900 * S, "empty store: the whole window");
    // History up to 600 s into the window (column 599), e.g. from a run stopped five minutes ago.
    h.err[grid.index(599, grid.rows)] = 1;
    h.ok[grid.index(10, 0)] = 3;
    assert_eq!(super::backfill_start(&h, start), start - 300 * S);
    h.ok[grid.index(899, 0)] = 1;
    assert_eq!(super::backfill_start(&h, start), start, "up to date: nothing to backfill");
}
