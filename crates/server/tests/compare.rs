//! "What changed" over spans ingested through the real OTLP endpoint: planted causes are ranked first (a
//! slow band of one endpoint + one SQL statement; an error burst from one instance), a value present alike
//! in both sets is not ranked, every count equals a brute-force count over the raw transactions (including
//! an exporter's retry of the same spans), the tag filter narrows the hitmap and the list to exactly the
//! transactions with the value, the deploy baseline compares with the minutes before a new version, and
//! bad parameters are 400s that say why.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use sightline_model::{CompareAnswer, CompareDim, Hitmap, TransactionPage};
use sightline_server::sql::normalize_sql;

const MINUTE: i64 = 60_000;
const LEDGER: &str = "SELECT * FROM ledger WHERE account = 42 ORDER BY at DESC";
const STATEMENTS: [&str; 3] =
    ["SELECT * FROM items WHERE id = 7", "SELECT name FROM users WHERE id = 9", "UPDATE carts SET n = 2 WHERE id = 3"];
const ENDPOINTS: [(&str, &str); 4] =
    [("GET /api/items", "GET"), ("POST /api/pay", "POST"), ("GET /api/user", "GET"), ("POST /api/cart", "POST")];
const PEER: &str = "payments.example:443";

/// One generated transaction, as the brute-force count sees it.
#[derive(Debug, Clone)]
struct Tx {
    trace: u64,
    service: &'static str,
    end_ms: i64,
    dur_ms: f64,
    endpoint: &'static str,
    method: &'static str,
    instance: String,
    version: &'static str,
    error: Option<&'static str>,
    tenant: &'static str,
    /// `(kind, name, self ms)` of each step.
    steps: Vec<(&'static str, String, f64)>,
}

impl Tx {
    /// Every `(dimension, value)` the transaction has.
    fn values(&self) -> BTreeSet<(CompareDim, String)> {
        let mut v = BTreeSet::from([
            (CompareDim::Service, self.service.to_string()),
            (CompareDim::Endpoint, self.endpoint.to_string()),
            (CompareDim::Instance, self.instance.clone()),
            (CompareDim::Version, self.version.to_string()),
            (CompareDim::HttpMethod, self.method.to_string()),
            (CompareDim::HttpStatus, if self.error.is_some() { "500" } else { "200" }.to_string()),
            (CompareDim::Status, if self.error.is_some() { "error" } else { "ok" }.to_string()),
            (CompareDim::Thread, "http-nio-8080-exec-1".to_string()),
            (CompareDim::Attribute, format!("tenant={}", self.tenant)),
        ]);
        if let Some(e) = self.error {
            v.insert((CompareDim::ErrorType, e.to_string()));
        }
        for (kind, name, _) in &self.steps {
            match *kind {
                "sql" => v.insert((CompareDim::Statement, name.clone())),
                "http" => v.insert((CompareDim::HttpTarget, name.clone())),
                _ => false,
            };
        }
        v
    }
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Ten minutes of `shop` traffic from `base`: four endpoints on four instances, 1–3 steps each, half of
/// the transactions of tenant `acme` (everywhere alike). Planted: in minutes 4–5, 60 % of the payments
/// run the ledger statement slowly (≥ 1 s); in minute 7, `shop-3` fails fast with `ConnectionReset` on
/// 80 % of its transactions (elsewhere the same error hits 2 % of everything).
fn generate(base: i64) -> Vec<Tx> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for n in 0..4000u64 {
        let minute = (n / 400) as i64;
        let end_ms = base + minute * MINUTE + rng.below(59_000) as i64 + 500;
        let (endpoint, method) = ENDPOINTS[rng.below(4) as usize];
        let instance = format!("shop-{}", 1 + rng.below(4));
        let tenant = if n % 2 == 0 { "acme" } else { "globex" };
        let mut steps = Vec::new();
        let mut dur_ms = 20.0 + rng.below(250) as f64;
        let slow = endpoint == "POST /api/pay" && (4..6).contains(&minute) && rng.chance(60);
        if slow {
            let self_ms = 900.0 + rng.below(500) as f64;
            steps.push(("sql", normalize_sql(LEDGER), self_ms));
            dur_ms = self_ms + 100.0 + rng.below(100) as f64;
        }
        for _ in 0..1 + rng.below(3) {
            let sql = normalize_sql(STATEMENTS[rng.below(3) as usize]);
            let ms = 1.0 + rng.below(10) as f64;
            match steps.iter_mut().find(|(k, name, _)| *k == "sql" && *name == sql) {
                Some(s) => s.2 += ms,
                None => steps.push(("sql", sql, ms)),
            }
        }
        if (endpoint == "POST /api/pay" || endpoint == "GET /api/items") && rng.chance(50) {
            steps.push(("http", PEER.to_string(), 5.0 + rng.below(20) as f64));
        }
        let burst = minute == 7 && instance == "shop-3" && rng.chance(80);
        let error = (burst || rng.chance(2)).then_some("ConnectionReset");
        if burst {
            dur_ms = 2.0 + rng.below(5) as f64;
            steps.clear();
        }
        out.push(Tx { trace: 10_000 + n, service: "shop", end_ms, dur_ms, endpoint, method, instance, version: "2.0", error, tenant, steps });
    }
    out
}

/// The spans of `tx`: the transaction and one child per step execution (a SQL step's self time split over
/// the executions merged into it is not needed: one execution per distinct step).
fn spans(tx: &Tx) -> Vec<Span> {
    let mut root = server_span(tx.trace, 1, tx.endpoint, tx.end_ms, tx.dur_ms);
    root.attributes = vec![
        kv("http.request.method", tx.method),
        kv_int("http.response.status_code", if tx.error.is_some() { 500 } else { 200 }),
        kv("thread.name", "http-nio-8080-exec-1"),
        kv("tenant", tx.tenant),
        kv_int("client.port", 40_000 + tx.trace as i64),
    ];
    if let Some(e) = tx.error {
        root = failed(root, e, "connection reset by peer");
    }
    let start_ns = root.start_time_unix_nano;
    let mut out = vec![root];
    let mut at = start_ns + 100_000;
    for (i, (kind, name, ms)) in tx.steps.iter().enumerate() {
        let end = at + (ms * 1e6) as u64;
        let id = 2 + i as u64;
        out.push(match *kind {
            "sql" => {
                // The statement as sent; the store normalizes it (`name` is already normalized, and
                // normalizing is idempotent).
                db_span(tx.trace, id, 1, at, end, if *name == normalize_sql(LEDGER) { LEDGER } else { name })
            }
            _ => Span {
                trace_id: trace_id(tx.trace),
                span_id: span_id(id),
                parent_span_id: span_id(1),
                name: "POST".into(),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: at,
                end_time_unix_nano: end,
                attributes: vec![kv("http.request.method", "POST"), kv("url.full", "https://payments.example/charge"), kv("server.address", "payments.example"), kv_int("server.port", 443)],
                ..Default::default()
            },
        });
        at = end;
    }
    out
}

/// One request per instance and version, as an SDK per process would send.
fn requests(txs: &[Tx]) -> Vec<ExportTraceServiceRequest> {
    let mut by: BTreeMap<(&str, String, &str), Vec<Span>> = BTreeMap::new();
    for tx in txs {
        by.entry((tx.service, tx.instance.clone(), tx.version)).or_default().extend(spans(tx));
    }
    by.into_iter()
        .map(|((service, instance, version), spans)| {
            let mut r = request(service, spans);
            let attrs = &mut r.resource_spans[0].resource.as_mut().unwrap().attributes;
            attrs.push(kv("service.instance.id", &instance));
            attrs.push(kv("service.version", version));
            r
        })
        .collect()
}

async fn ingest(app: &TestApp, txs: &[Tx]) {
    for r in requests(txs) {
        let (status, body) = app.post_proto(&r).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
}

async fn compare(app: &TestApp, query: &str) -> CompareAnswer {
    app.get_ok(&format!("/api/v1/compare?{query}&limit=200")).await
}

fn enc(s: &str) -> String {
    use sightline_model::ToQuery;
    sightline_model::TxParams { tag: Some(s.to_string()), ..Default::default() }.to_query()["tag=".len()..].to_string()
}

/// Counts by brute force over the raw transactions and checks every value and step of the answer, and that
/// every value over-represented by brute force is in the answer.
fn check_against_brute_force(a: &CompareAnswer, sel: &[&Tx], base: &[&Tx]) {
    assert_eq!((a.selection.count, a.baseline.count), (sel.len() as u64, base.len() as u64));
    let count = |set: &[&Tx]| {
        let mut m: BTreeMap<(CompareDim, String), u64> = BTreeMap::new();
        for tx in set {
            for v in tx.values() {
                *m.entry(v).or_default() += 1;
            }
        }
        m
    };
    let (cs, cb) = (count(sel), count(base));
    let key = |v: &sightline_model::RankedValue| match &v.key {
        Some(k) => (v.dim, format!("{k}={}", v.value)),
        None => (v.dim, v.value.clone()),
    };
    for v in a.values.iter().chain(&a.outcomes) {
        let k = key(v);
        assert_eq!((v.selected, v.baseline), (cs.get(&k).copied().unwrap_or(0), cb.get(&k).copied().unwrap_or(0)), "{k:?}");
    }
    let share = |n: u64, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let listed: BTreeSet<_> = a.values.iter().chain(&a.outcomes).map(key).collect();
    for (k, n) in &cs {
        let score = share(*n, sel.len()) - share(cb.get(k).copied().unwrap_or(0), base.len());
        if score > 1e-9 {
            assert!(listed.contains(k) || a.values.len() == 200, "{k:?} scores {score} but is not listed");
        }
    }
    let step_ms = |set: &[&Tx], name: &str| set.iter().flat_map(|t| &t.steps).filter(|s| s.1 == name).map(|s| s.2).sum::<f64>();
    for s in &a.steps {
        let (ws, wb) = (step_ms(sel, &s.name) / sel.len() as f64, step_ms(base, &s.name) / base.len().max(1) as f64);
        assert!((s.selected_ms - ws).abs() < 1e-3 && (s.baseline_ms - wb).abs() < 1e-3, "{}: {s:?} vs {ws} / {wb}", s.name);
    }
}

#[tokio::test]
async fn planted_causes_rank_first_and_counts_are_exact() {
    let app = TestApp::new().await;
    let base = (now_ms() / MINUTE - 20) * MINUTE;
    let txs = generate(base);
    ingest(&app, &txs).await;
    // An exporter's retry of everything: nothing is counted twice.
    ingest(&app, &txs).await;
    let (wf, wt) = (base, base + 10 * MINUTE);

    // A slow band: minutes 4–5, ≥ 900 ms.
    let (sf, st) = (base + 4 * MINUTE, base + 6 * MINUTE);
    let a = compare(&app, &format!("from={sf}&to={st}&min_ms=900&window_from={wf}&window_to={wt}")).await;
    let top: Vec<_> = a.values.iter().take(2).map(|v| (v.dim, v.value.as_str())).collect();
    let ledger = normalize_sql(LEDGER);
    assert_eq!(top, [(CompareDim::Statement, ledger.as_str()), (CompareDim::Endpoint, "POST /api/pay")], "{:#?}", &a.values[..4]);
    assert_eq!(a.steps[0].name, ledger);
    assert!(a.steps[0].extra_ms > 800.0, "{:?}", a.steps[0]);
    // The tenant is half of both sets: not a finding.
    assert!(a.values.iter().position(|v| v.key.as_deref() == Some("tenant")).is_none_or(|i| i >= 5 && a.values[i].score < 0.1), "{:#?}", a.values);
    // The port of each client is not kept as a dimension.
    assert!(a.values.iter().all(|v| v.key.as_deref() != Some("client.port")));
    let in_rect = |t: &Tx, f: i64, to: i64, min: f64| t.end_ms >= f && t.end_ms < to && t.dur_ms >= min;
    let sel: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, sf, st, 900.0)).collect();
    let rest: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, wf, wt, 0.0) && !in_rect(t, sf, st, 900.0)).collect();
    assert!(sel.len() > 50, "the band holds {}", sel.len());
    check_against_brute_force(&a, &sel, &rest);
    assert_eq!(a.scanned, txs.len() as u64);

    // An error burst: the errors of minute 7 against the other errors of the window.
    let (bf, bt) = (base + 7 * MINUTE, base + 8 * MINUTE);
    let a = compare(&app, &format!("from={bf}&to={bt}&window_from={wf}&window_to={wt}&tag=status%3Derror")).await;
    assert_eq!((a.values[0].dim, a.values[0].value.as_str()), (CompareDim::Instance, "shop-3"), "{:#?}", &a.values[..3]);
    let errors = |t: &&Tx| t.error.is_some();
    let sel: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, bf, bt, 0.0)).filter(errors).collect();
    let rest: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, wf, wt, 0.0) && !in_rect(t, bf, bt, 0.0)).filter(errors).collect();
    check_against_brute_force(&a, &sel, &rest);

    // From the errors page: the window's failures (`only`) against everything else; the value that defines
    // the selection is not listed as a finding, and the burst's instance leads.
    let a = compare(&app, &format!("from={wf}&to={wt}&only=error_type%3DConnectionReset&window_from={wf}&window_to={wt}")).await;
    assert_eq!(a.selection.count, txs.iter().filter(|t| t.error.is_some()).count() as u64);
    assert!(a.values.iter().chain(&a.outcomes).all(|v| v.filter != "error_type=ConnectionReset"), "{:#?}", a.outcomes);
    assert_eq!((a.values[0].dim, a.values[0].value.as_str()), (CompareDim::Instance, "shop-3"), "{:#?}", &a.values[..3]);

    // Another region as the baseline: the band against the same durations a minute earlier.
    let a = compare(&app, &format!("from={sf}&to={st}&min_ms=900&baseline=region&base_from={}&base_to={sf}&base_min_ms=0", sf - 2 * MINUTE)).await;
    let region: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, sf - 2 * MINUTE, sf, 0.0)).collect();
    let sel: Vec<&Tx> = txs.iter().filter(|t| in_rect(t, sf, st, 900.0)).collect();
    check_against_brute_force(&a, &sel, &region);
    assert_eq!(a.baseline.label, "the other region");

    // Yesterday holds nothing: everything is new, and the answer says so.
    let a = compare(&app, &format!("from={sf}&to={st}&min_ms=900&baseline=yesterday")).await;
    assert_eq!(a.baseline.count, 0);
    assert!(a.note.as_deref().unwrap_or_default().contains("holds no transaction"), "{:?}", a.note);
}

#[tokio::test]
async fn the_tag_filter_narrows_the_hitmap_and_the_list() {
    let app = TestApp::new().await;
    let base = (now_ms() / MINUTE - 20) * MINUTE;
    let txs = generate(base);
    ingest(&app, &txs).await;
    let (from, to) = (base, base + 10 * MINUTE);
    let ledger = normalize_sql(LEDGER);
    for (tag, want) in [
        (format!("statement={ledger}"), txs.iter().filter(|t| t.steps.iter().any(|s| s.1 == ledger)).count()),
        ("instance=shop-3".to_string(), txs.iter().filter(|t| t.instance == "shop-3").count()),
        (format!("http_target={PEER}"), txs.iter().filter(|t| t.steps.iter().any(|s| s.1 == PEER)).count()),
        ("attr.tenant=acme".to_string(), txs.len() / 2),
        ("error_type=ConnectionReset".to_string(), txs.iter().filter(|t| t.error.is_some()).count()),
        ("version=9.9".to_string(), 0),
    ] {
        let h: Hitmap = app.get_ok(&format!("/api/v1/hitmap?from={from}&to={to}&tag={}", enc(&tag))).await;
        assert_eq!(h.total, want as u64, "hitmap {tag}");
        let p: TransactionPage = app.get_ok(&format!("/api/v1/transactions?from={from}&to={to}&limit=5&tag={}", enc(&tag))).await;
        assert_eq!(p.total, want as u64, "list {tag}");
    }
    for (query, says) in [
        ("/api/v1/hitmap?tag=nonsense", "tag must be"),
        ("/api/v1/transactions?tag=color%3Dred", "unknown tag dimension"),
        ("/api/v1/compare?from=10&to=5", "selection"),
        ("/api/v1/compare?from=1&to=5&baseline=region", "baseline region"),
        ("/api/v1/compare?from=1&to=5&limit=0", "limit"),
        ("/api/v1/compare?from=1&to=5&baseline=nope", "baseline"),
        ("/api/v1/compare?from=1&to=5&baseline=before_deploy&service=shop", "no deploy of shop"),
    ] {
        let (status, body) = app.get(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.to_string().contains(says), "{query}: {body}");
    }
}

#[tokio::test]
async fn the_deploy_baseline_compares_with_the_minutes_before_the_new_version() {
    let app = TestApp::new().await;
    let base = (now_ms() / MINUTE - 20) * MINUTE;
    let mut txs = generate(base);
    // `shop` ships 2.1 at minute 5; its transactions get slower.
    for t in txs.iter_mut().filter(|t| t.end_ms >= base + 5 * MINUTE) {
        t.version = "2.1";
        t.dur_ms += 300.0;
    }
    // Older versions first, as a deploy happens.
    let (before, after): (Vec<Tx>, Vec<Tx>) = txs.iter().cloned().partition(|t| t.version == "2.0");
    ingest(&app, &before).await;
    ingest(&app, &after).await;
    let (sf, st) = (base + 6 * MINUTE, base + 8 * MINUTE);
    let a = compare(&app, &format!("from={sf}&to={st}&baseline=before_deploy")).await;
    assert!(a.baseline.label.contains("shop 2.1"), "{}", a.baseline.label);
    let deploy = after.iter().map(|t| t.end_ms - t.dur_ms as i64).min().unwrap();
    assert!((a.baseline.to - deploy).abs() <= 1, "baseline ends at the deploy: {} vs {deploy}", a.baseline.to);
    assert_eq!(a.baseline.to - a.baseline.from, st - sf);
    assert_eq!((a.values[0].dim, a.values[0].value.as_str()), (CompareDim::Version, "2.1"));
    let sel: Vec<&Tx> = txs.iter().filter(|t| t.end_ms >= sf && t.end_ms < st).collect();
    let prior: Vec<&Tx> = txs.iter().filter(|t| t.end_ms >= a.baseline.from && t.end_ms < a.baseline.to).collect();
    check_against_brute_force(&a, &sel, &prior);
    assert!(a.selection.mean_ms > a.baseline.mean_ms + 100.0, "{} vs {}", a.selection.mean_ms, a.baseline.mean_ms);
}
