//! "What changed" and the cube on ClickHouse give the embedded store's answers, side by side on the same
//! richer data than the conformance suite's.
//!
//! "What changed": every dimension (attributes, duplicated ones, HTTP method and status, versions,
//! instances, error types and failures without one), SQL/HTTP/method steps and nested transactions, wait
//! events, `only`, selections by cells, by service and status and by a tag, baselines that overlap the
//! selection or not; and the tag filter of every value the tally lists narrows the hitmap and the list to
//! the same transactions on both stores.
//!
//! The cube: every dimension grouped and filtered (the empty value too), SQL steps with and without their
//! transaction in the request, zero durations, series, every measure as the sort in both directions, cuts
//! into `other`, after exporters' retries. The one difference allowed is the order among rows that tie on
//! the sort measure (see `store/clickhouse/cube.rs`).
//!
//! The same on a cluster of two shards, and through the HTTP API: a node on ClickHouse answers `/api/v1/compare`, `/api/v1/cube` and the
//! tag-filtered hitmap and list as a node on the embedded store does.

#[path = "../benches/support/compare_data.rs"]
mod compare_data;
#[path = "ch/mod.rs"]
mod ch;
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use sightline_model::{CompareDim, CubeAnswer, CubeDim, CubeMeasure, CubeRow, Grid, Order, Scale, Status, TagFilter};
use sightline_server::compare::{CompareQuery, Tally};
use sightline_server::cube::CubeQuery;
use sightline_server::store::clickhouse::{ClickHouseStore, Options, Target};
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, AttrRecord, ErrorRecord, SpanRecord};
use sightline_server::store::{CellRange, HitmapFilter, QueryError, TraceStore, TxFilter, TxQuery};

const MINUTE: i64 = 60_000;

fn trace_id(n: u64) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    t[8..].copy_from_slice(&n.to_be_bytes());
    t
}

fn span(n: u64, id: u64, parent: Option<u64>, step_kind: u32, name: &str, start_ns: u64, end_ns: u64) -> SpanRecord {
    SpanRecord {
        trace_id: trace_id(n).to_vec(),
        span_id: (id | 1 << 60).to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| (p | 1 << 60).to_be_bytes().to_vec()).unwrap_or_default(),
        service: "checkout".into(),
        name: name.into(),
        span_kind: if step_kind == kind::TRANSACTION { 2 } else { 3 },
        start_ns,
        end_ns,
        step_kind,
        is_transaction: step_kind == kind::TRANSACTION,
        ..Default::default()
    }
}

/// 600 transactions over 20 minutes from `t0`, each with its steps, one request per 100 transactions.
fn data(t0: i64) -> Vec<Vec<SpanRecord>> {
    const SERVICES: [&str; 3] = ["checkout", "search", "auth"];
    const ENDPOINTS: [&str; 4] = ["GET /a", "POST /pay", "GET /user", "PUT /cart"];
    let mut requests = vec![Vec::new(); 6];
    for i in 0..600u64 {
        let n = i + 1;
        let end_ms = t0 + (i as i64 * 2_000) + (i % 7) as i64;
        let dur_ns = if i % 97 == 5 { 0 } else { (i * 37 % 997 + 1) * 1_300_000 + i % 3 };
        let end_ns = end_ms as u64 * 1_000_000;
        let start = end_ns - dur_ns;
        let mut tx = span(n, 1, None, kind::TRANSACTION, ENDPOINTS[(i % 4) as usize], start, end_ns);
        tx.service = SERVICES[(i % 3) as usize].into();
        tx.thread = Some(format!("exec-{}", i % 3));
        tx.error = i % 5 == 2;
        if tx.error {
            tx.failure = Some(ErrorRecord {
                kind: [Some("Boom"), Some("Timeout"), None][(i % 3) as usize].map(Into::into),
                message: (i % 4 != 0).then(|| format!("order {} failed after {} ms", i * 7, i % 9)),
                ..Default::default()
            });
        }
        if i % 2 == 0 {
            tx.instance = Some(format!("pod-{}", i % 4));
        }
        if i % 3 != 0 {
            tx.version = Some(format!("1.{}", i % 3));
        }
        if i % 5 != 4 {
            tx.http_method = Some(if i % 2 == 0 { "GET" } else { "POST" }.into());
            tx.http_status = Some([200, 404, 500, 503][(i % 4) as usize]);
        }
        if i % 2 == 1 {
            tx.attributes.push(AttrRecord { key: "tenant".into(), value: ["acme", "globex", "initech"][(i % 3) as usize].into() });
        }
        if i % 7 < 3 {
            tx.attributes.push(AttrRecord { key: "feature.flag".into(), value: if i % 2 == 0 { "on" } else { "off" }.into() });
        }
        if i % 50 == 0 {
            // The same attribute twice: counted twice by both stores.
            tx.attributes.push(AttrRecord { key: "dup".into(), value: "x".into() });
            tx.attributes.push(AttrRecord { key: "dup".into(), value: "x".into() });
        }
        let r = &mut requests[(i / 100) as usize];
        let service = tx.service.clone();
        let mut steps = Vec::new();
        if i % 3 == 0 {
            steps.push(span(n, 2, Some(1), kind::METHOD, "Repo.find", start, start + dur_ns / 2));
        }
        if i % 4 < 2 {
            let mut q = span(n, 3, Some(if i % 3 == 0 { 2 } else { 1 }), kind::SQL, "query", start, start + dur_ns / 4);
            q.text = Some(format!("SELECT * FROM items WHERE id = {}", i % 11));
            steps.push(q);
            if i % 4 == 1 {
                let mut u = span(n, 4, Some(1), kind::SQL, "update", start, start + dur_ns / 8);
                u.text = Some(format!("UPDATE carts SET n = {} WHERE id = 3", i % 5));
                steps.push(u);
            }
        }
        if i % 6 == 1 {
            let mut h = span(n, 5, Some(1), kind::HTTP, "GET", start, start + dur_ns / 3);
            h.target = Some(["api.example:443", "pay.example:443"][(i % 12 / 6) as usize].into());
            steps.push(h);
        }
        if i % 25 == 0 {
            // A nested transaction with its own step.
            let mut inner = span(n, 6, Some(1), kind::TRANSACTION, "GET /inner", start, start + dur_ns / 2);
            inner.is_transaction = true;
            inner.service = "inventory".into();
            let mut q = span(n, 7, Some(6), kind::SQL, "inner query", start, start + dur_ns / 5);
            q.text = Some("SELECT 1".into());
            steps.push(inner);
            steps.push(q);
        }
        for s in &mut steps {
            if !s.is_transaction {
                s.service = service.clone();
            }
        }
        r.push(tx);
        r.extend(steps);
    }
    requests
}

async fn stores() -> (Arc<dyn TraceStore>, Arc<dyn TraceStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
    let embedded = sightline_server::blocking::run("opening the store", move || EmbeddedStore::open(&path, retention)).await.unwrap();
    let url = ch::shared().url(&ch::fresh_database());
    let options = Options { max_age_ms: i64::MAX / 4, ..Default::default() };
    let clickhouse = ClickHouseStore::open(vec![Target::parse(&url).unwrap()], options).await.unwrap();
    (Arc::new(embedded), Arc::new(clickhouse), dir)
}

/// `got` equals `want` but for how much was read and the last bits of summed milliseconds (added in
/// another order).
fn assert_same(mut got: Tally, want: &Tally, what: &str) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    got.scanned = want.scanned;
    for (g, w) in [(&mut got.selection, &want.selection), (&mut got.baseline, &want.baseline)] {
        assert!(close(g.sum_ms, w.sum_ms), "{what}: {} vs {}", g.sum_ms, w.sum_ms);
        g.sum_ms = w.sum_ms;
    }
    for (g, w) in got.steps.iter_mut().zip(&want.steps) {
        assert!(close(g.selected_ms, w.selected_ms) && close(g.baseline_ms, w.baseline_ms), "{what}: {g:?} vs {w:?}");
        (g.selected_ms, g.baseline_ms) = (w.selected_ms, w.baseline_ms);
    }
    assert_eq!(&got, want, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_tag_filters_answer_alike_on_both_stores() {
    let (embedded, clickhouse, _dir) = stores().await;
    let t0 = sightline_server::store::now_ms() / MINUTE * MINUTE - 30 * MINUTE;
    let requests = data(t0);
    for r in &requests {
        embedded.append(r.clone()).await.unwrap();
        clickhouse.append(r.clone()).await.unwrap();
    }
    let all: Vec<&SpanRecord> = requests.iter().flatten().filter(|s| s.is_transaction).collect();
    // Sessions sampled in wait events: every 9th trace in one, every 13th in two.
    let mut waits: FxHashMap<[u8; 16], Vec<String>> = FxHashMap::default();
    for t in &all {
        let n = u64::from_be_bytes(t.trace_id[8..].try_into().unwrap());
        let mut events = Vec::new();
        if n % 9 == 0 {
            events.push("Lock/tuple".to_string());
        }
        if n % 13 == 0 {
            events.extend(["IO/DataFileRead".to_string(), "Lock/transactionid".to_string()]);
        }
        if !events.is_empty() {
            waits.insert(t.trace_id[..16].try_into().unwrap(), events);
        }
    }
    let waits = Arc::new(waits);
    let whole = TxFilter { from: t0 - MINUTE, to: t0 + 25 * MINUTE, ..Default::default() };
    let grid = Grid { from: t0, to: t0 + 20 * MINUTE, cols: 40, rows: 12, ymax_ms: 1000.0, scale: Scale::Log };
    let tag = |s: &str| Some(TagFilter::parse(s).unwrap());
    let queries = [
        // A slow band against the rest of the window.
        CompareQuery {
            selection: TxFilter { from: t0 + 5 * MINUTE, to: t0 + 10 * MINUTE, min_ms: 500.0, ..Default::default() },
            only: None,
            baseline: whole.clone(),
            exclude_selection: true,
            wait_events: waits.clone(),
        },
        // One service's failures against the minutes before, not overlapping.
        CompareQuery {
            selection: TxFilter { from: t0 + 10 * MINUTE, to: t0 + 20 * MINUTE, service: Some("checkout".into()), status: Some(Status::Error), ..Default::default() },
            only: None,
            baseline: TxFilter { from: t0, to: t0 + 10 * MINUTE, ..Default::default() },
            exclude_selection: false,
            wait_events: waits.clone(),
        },
        // A rectangle of cells, narrowed to one attribute value; the baseline overlaps it.
        CompareQuery {
            selection: TxFilter {
                from: grid.from,
                to: grid.to,
                max_ms: Some(900.0),
                cells: Some(CellRange { grid, cols: (3, 30), rows: (4, 12) }),
                ..Default::default()
            },
            only: tag("attr.tenant=acme"),
            baseline: whole.clone(),
            exclude_selection: false,
            wait_events: Arc::default(),
        },
        // Narrowed to a statement; the selection itself filtered by an HTTP status.
        CompareQuery {
            selection: TxFilter { tag: tag("http_status=500"), ..whole.clone() },
            only: tag("statement=select*from items where id=?"),
            baseline: TxFilter { endpoint: Some("GET /a".into()), ..whole.clone() },
            exclude_selection: true,
            wait_events: waits.clone(),
        },
        // `only` a wait event: the embedded store matches nothing without the traces, so must ClickHouse.
        CompareQuery { selection: whole.clone(), only: tag("wait_event=Lock/tuple"), baseline: whole.clone(), exclude_selection: true, wait_events: waits.clone() },
        // An error type, and a service never seen.
        CompareQuery {
            selection: TxFilter { error_type: Some("Timeout".into()), ..whole.clone() },
            only: None,
            baseline: TxFilter { service: Some("nobody".into()), ..whole.clone() },
            exclude_selection: true,
            wait_events: Arc::default(),
        },
    ];
    let mut first = None;
    for (i, q) in queries.iter().enumerate() {
        let want = embedded.compare(q.clone()).await.unwrap();
        assert_same(clickhouse.compare(q.clone()).await.unwrap(), &want, &format!("query {i}"));
        first.get_or_insert(want);
    }
    let first = first.unwrap();
    // Every dimension is exercised.
    let dims: FxHashSet<CompareDim> = first.values.iter().map(|v| v.dim).collect();
    assert_eq!(dims.len(), CompareDim::ALL.len(), "{dims:?}");
    assert!(first.values.iter().any(|v| v.key.as_deref() == Some("dup") && v.selected + v.baseline > 0));

    // The tag filter of every value listed narrows the hitmap and the list alike.
    let hit_grid = Grid { from: whole.from, to: whole.to, cols: 26, rows: 10, ymax_ms: 1000.0, scale: Scale::Linear };
    let traces_of = |event: &str| -> Arc<FxHashSet<[u8; 16]>> {
        Arc::new(waits.iter().filter(|(_, e)| e.iter().any(|x| x == event)).map(|(t, _)| *t).collect())
    };
    for v in &first.values {
        let t = TagFilter { dim: v.dim, key: v.key.clone(), value: v.value.clone() };
        let traces = (v.dim == CompareDim::WaitEvent).then(|| traces_of(&v.value));
        let f = TxFilter { tag: Some(t.clone()), traces: traces.clone(), ..whole.clone() };
        let q = TxQuery { filter: f, order: Order::Slowest, limit: 1000, cursor: None };
        let (a, b) = (embedded.transactions(q.clone()).await.unwrap(), clickhouse.transactions(q).await.unwrap());
        assert_eq!(b.total, a.total, "{t:?}");
        assert!(a.total > 0, "{t:?}");
        assert_eq!(b.items, a.items, "{t:?}");
        let h = HitmapFilter { tag: Some(t.clone()), traces, ..Default::default() };
        let (a, b) = (embedded.hitmap(hit_grid, h.clone()).await.unwrap(), clickhouse.hitmap(hit_grid, h).await.unwrap());
        assert_eq!((b.total, b.total_err, &b.ok, &b.err), (a.total, a.total_err, &a.ok, &a.err), "{t:?}");
    }
    // A wait event seen in many traces (a long `IN` list: past ClickHouse's default query size).
    let mut many: FxHashSet<[u8; 16]> = (0..8_000u64).map(|n| trace_id(1_000_000 + n)).collect();
    many.extend(traces_of("Lock/tuple").iter());
    let f = TxFilter { tag: tag("wait_event=Lock/tuple"), traces: Some(Arc::new(many)), ..whole.clone() };
    let q = TxQuery { filter: f, order: Order::Newest, limit: 10, cursor: None };
    let (a, b) = (embedded.transactions(q.clone()).await.unwrap(), clickhouse.transactions(q).await.unwrap());
    assert_eq!((b.total, b.items), (a.total, a.items));
    assert!(a.total > 0);
    // Values that match nothing on either store.
    for s in ["status=maybe", "error_type=", "wait_event=Lock/tuple", "attr.tenant=nobody", "statement=nothing"] {
        let h = HitmapFilter { tag: tag(s), ..Default::default() };
        assert_eq!(clickhouse.hitmap(hit_grid, h.clone()).await.unwrap().total, 0, "{s}");
        assert_eq!(embedded.hitmap(hit_grid, h).await.unwrap().total, 0, "{s}");
    }
}

/// SQL steps that come without their transaction (a request cut by the exporter's batch): of the first 30
/// transactions, each a statement, some failed.
fn late_steps(t0: i64) -> Vec<SpanRecord> {
    (0..30u64)
        .map(|i| {
            let end_ns = (t0 + i as i64 * 2_000) as u64 * 1_000_000;
            let mut q = span(i + 1, 9, Some(1), kind::SQL, "late", end_ns - 2_000_000, end_ns - (i % 4) * 100_000);
            q.text = Some(format!("DELETE FROM sessions WHERE id = {i}"));
            q.instance = Some(format!("pod-{}", i % 2));
            q.error = i % 6 == 0;
            if q.error {
                q.failure = Some(ErrorRecord { kind: Some("PSQLException".into()), message: Some(format!("deadlock {i}")), ..Default::default() });
            }
            q
        })
        .collect()
}

fn cube_query((from, to): (i64, i64), group_by: &[CubeDim], filter: &[(CubeDim, &str)], (sort, desc): (CubeMeasure, bool), limit: usize, step_ms: Option<i64>) -> CubeQuery {
    CubeQuery {
        from,
        to,
        group_by: group_by.to_vec(),
        filter: filter.iter().map(|(d, v)| (*d, v.to_string())).collect::<BTreeMap<_, _>>(),
        sort,
        desc,
        limit,
        step_ms,
    }
}

/// `got` is `want` but for the order among rows tied on the sort measure (and which of them a cut keeps).
fn assert_same_cube(got: &CubeAnswer, want: &CubeAnswer, q: &CubeQuery, what: &str) {
    let sort = |a: &CubeAnswer| -> Vec<Option<f64>> { a.rows.iter().map(|r| q.sort.of(&r.measures)).collect() };
    assert_eq!(sort(got), sort(want), "{what}: sort values");
    let tie_at_cut = want.rows.len() == q.limit && want.groups > q.limit;
    let by_key = |a: &CubeAnswer| -> BTreeMap<Vec<String>, CubeRow> { a.rows.iter().map(|r| (r.key.clone(), r.clone())).collect() };
    let (g, w) = (by_key(got), by_key(want));
    if !tie_at_cut {
        assert_eq!(g, w, "{what}: rows");
        assert_eq!(got.other, want.other, "{what}: other");
    } else {
        for (k, r) in &w {
            if let Some(x) = g.get(k) {
                assert_eq!(x, r, "{what}: row {k:?}");
            }
        }
        assert_eq!(got.other.as_ref().map(|o| o.measures.count), want.other.as_ref().map(|o| o.measures.count), "{what}: other");
    }
    let strip = |a: &CubeAnswer| CubeAnswer { rows: Vec::new(), other: None, ..a.clone() };
    assert_eq!(strip(got), strip(want), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cube_answers_alike_on_both_stores() {
    let (embedded, clickhouse, _dir) = stores().await;
    let t0 = sightline_server::store::now_ms() / MINUTE * MINUTE - 30 * MINUTE;
    let requests = data(t0);
    let late = late_steps(t0);
    for store in [&embedded, &clickhouse] {
        for r in &requests {
            store.append(r.clone()).await.unwrap();
        }
        store.append(late.clone()).await.unwrap();
        // Exporters' retries: a whole request, the late steps, half of another request.
        store.append(requests[2].clone()).await.unwrap();
        store.append(late.clone()).await.unwrap();
        store.append(requests[4][..requests[4].len() / 2].to_vec()).await.unwrap();
    }
    let (from, to) = (t0 - 5 * MINUTE, t0 + 25 * MINUTE + 17);
    let mut queries = Vec::new();
    for d in CubeDim::ALL {
        for (i, m) in CubeMeasure::ALL.into_iter().enumerate() {
            queries.push(cube_query((from, to), &[d], &[], (m, i % 2 == 0), if i % 3 == 0 { 3 } else { 1000 }, None));
        }
    }
    queries.extend([
        cube_query((from, to), &[], &[], (CubeMeasure::Count, true), 1000, Some(5 * MINUTE)),
        cube_query((from, to), &[CubeDim::Service, CubeDim::Status], &[], (CubeMeasure::P95, true), 4, Some(7 * MINUTE)),
        cube_query((from, to), &[CubeDim::Endpoint, CubeDim::Statement], &[], (CubeMeasure::SumMs, true), 5, Some(10 * MINUTE)),
        cube_query((from, to), &[CubeDim::Statement], &[(CubeDim::Instance, "pod-1")], (CubeMeasure::P99, false), 1000, None),
        cube_query((from, to), &[CubeDim::Endpoint], &[(CubeDim::ErrorType, "")], (CubeMeasure::Count, true), 1000, None),
        cube_query((from, to), &[CubeDim::ErrorMessage], &[(CubeDim::Status, "error"), (CubeDim::Service, "checkout")], (CubeMeasure::Errors, true), 1000, None),
        cube_query((from, to), &[CubeDim::Service], &[(CubeDim::Service, "nobody")], (CubeMeasure::Count, true), 1000, Some(MINUTE)),
        cube_query((t0 + 3 * MINUTE + 5, t0 + 4 * MINUTE), &[CubeDim::HttpStatus, CubeDim::HttpMethod, CubeDim::Instance], &[], (CubeMeasure::AvgMs, true), 2, Some(MINUTE)),
    ]);
    let mut sql_steps = 0;
    for (i, q) in queries.iter().enumerate() {
        let want = embedded.cube(q.clone()).await.unwrap();
        let got = clickhouse.cube(q.clone()).await.unwrap();
        assert_same_cube(&got, &want, q, &format!("query {i}: {q:?}"));
        if q.group_by == [CubeDim::Statement] && q.filter.is_empty() {
            sql_steps = want.total.count;
        }
    }
    // Every other transaction runs a SELECT, every fourth an UPDATE too; 24 nested transactions' own; 30
    // late steps; each once, whatever was retried.
    assert_eq!(sql_steps, 300 + 150 + 24 + 30);
    // A query the embedded store refuses is refused alike.
    let q = cube_query((0, 400 * 86_400_000 * 365), &[], &[], (CubeMeasure::Count, true), 10, Some(MINUTE));
    assert!(matches!(embedded.cube(q.clone()).await, Err(QueryError::Invalid(_))));
    assert!(matches!(clickhouse.cube(q).await, Err(QueryError::Invalid(_))));
}

/// Timings on ClickHouse for BENCHMARKS.md (not a pass/fail test): the data of `benches/compare.rs`
/// (1.05 M transactions with 2 SQL steps and an HTTP call each, ingested through `append`), ending in the
/// last hours so the cube keeps them. `cargo test --release -p sightline-server --test clickhouse_compare
/// -- --ignored --nocapture measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_compare_and_cube_over_a_million() {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    const N: u64 = 1_050_000;
    const WINDOW_MS: i64 = 21 * 600_000;
    const BATCH: u64 = 2_000;
    let t0 = sightline_server::store::now_ms() / MINUTE * MINUTE - WINDOW_MS - 10 * MINUTE;
    let spans = |rng: &mut StdRng, i: u64| compare_data::transaction(rng, t0, WINDOW_MS, N, i);
    let (_embedded, clickhouse, _dir) = stores().await;
    let mut rng = StdRng::seed_from_u64(14);
    let started = std::time::Instant::now();
    let mut pending = Vec::new();
    for b in 0..N / BATCH {
        let batch: Vec<SpanRecord> = (b * BATCH..(b + 1) * BATCH).flat_map(|i| spans(&mut rng, i)).collect();
        pending.push(clickhouse.append(batch));
        if pending.len() == 4 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
        }
    }
    for p in pending {
        p.await.unwrap();
    }
    eprintln!("seeded {N} transactions ({} spans) in {:.1?}", N * 4, started.elapsed());
    let window = TxFilter { from: t0, to: t0 + WINDOW_MS, ..Default::default() };
    let selection = TxFilter { from: t0 + 10 * WINDOW_MS / 21, to: t0 + 11 * WINDOW_MS / 21, ..window.clone() };
    let query = CompareQuery { selection, only: None, baseline: window.clone(), exclude_selection: true, wait_events: Arc::default() };
    let time = |what: &str, mut v: Vec<std::time::Duration>| {
        v.sort();
        eprintln!("{what}: min {:.1?} median {:.1?} max {:.1?} ({} runs)", v[0], v[v.len() / 2], v[v.len() - 1], v.len());
    };
    let mut runs = Vec::new();
    for _ in 0..9 {
        let t = std::time::Instant::now();
        let tally = clickhouse.compare(query.clone()).await.unwrap();
        runs.push(t.elapsed());
        assert_eq!((tally.selection.count, tally.baseline.count), (50_000, 1_000_000));
    }
    time("compare 50k vs 1M", runs);
    let q = cube_query((t0, t0 + WINDOW_MS), &[CubeDim::Endpoint], &[], (CubeMeasure::P95, true), 1000, None);
    let mut runs = Vec::new();
    for _ in 0..9 {
        let t = std::time::Instant::now();
        let a = clickhouse.cube(q.clone()).await.unwrap();
        runs.push(t.elapsed());
        assert_eq!(a.total.count, N);
    }
    time("cube p95 by endpoint, 1.05 M transactions", runs);
    let q = cube_query((t0, t0 + WINDOW_MS), &[CubeDim::Statement], &[], (CubeMeasure::P95, true), 20, Some(10 * MINUTE));
    let mut runs = Vec::new();
    for _ in 0..9 {
        let t = std::time::Instant::now();
        let a = clickhouse.cube(q.clone()).await.unwrap();
        runs.push(t.elapsed());
        // Steps of the first transactions end before the window.
        assert!(a.total.count > 2 * N - 100);
    }
    time("cube p95 by statement (2.1 M SQL steps), top 20 with a 10-minute series", runs);
    let grid = Grid { from: t0, to: t0 + WINDOW_MS, cols: 240, rows: 60, ymax_ms: 1000.0, scale: Scale::Log };
    let h = HitmapFilter { tag: Some(TagFilter::parse("statement=select*from t7 where id=?").unwrap()), ..Default::default() };
    let mut runs = Vec::new();
    for _ in 0..9 {
        let t = std::time::Instant::now();
        clickhouse.hitmap(grid, h.clone()).await.unwrap();
        runs.push(t.elapsed());
    }
    time("hitmap of one statement's transactions", runs);
}

/// The same through the HTTP API: a node on ClickHouse answers `/api/v1/compare`, `/api/v1/cube` and a
/// tag-filtered hitmap as a node on the embedded store does, for the same OTLP requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_alike_on_a_clickhouse_node() {
    use common::{db_span, proto, request, server_span, TestApp};
    let embedded = TestApp::with(|_| {}).await;
    let url = ch::shared().url(&ch::fresh_database());
    let clickhouse = TestApp::with(|a| a.clickhouse = vec![Target::parse(&url).unwrap()]).await;
    let now = common::now_ms();
    let spans: Vec<_> = (1..=300u64)
        .flat_map(|t| {
            let end = now - 200_000 + (t as i64) * 600;
            let root = server_span(t, 1, ["GET /a", "POST /pay", "GET /b"][(t % 3) as usize], end, 5.0 + (t % 17) as f64 * 13.0);
            let start = root.start_time_unix_nano;
            let sql = ["SELECT * FROM a WHERE id = 1", "UPDATE b SET x = 2"][(t % 2) as usize];
            [root, db_span(t, 2, 1, start + 1_000_000, start + 3_000_000 + (t % 5) * 1_000_000, sql)]
        })
        .collect();
    let body = proto(&request("checkout", spans));
    for app in [&embedded, &clickhouse] {
        let (status, _) = app.post("application/x-protobuf", None, body.clone()).await;
        assert!(status.is_success(), "{status}");
    }
    let (from, to) = (now - 300_000, now + 60_000);
    let sel = format!("from={}&to={}&min_ms=100&window_from={from}&window_to={to}", now - 150_000, now - 50_000);
    let tag = "statement%3Dupdate%20b%20set%20x%3D%3F";
    for uri in [
        format!("/api/v1/compare?{sel}"),
        format!("/api/v1/compare?{sel}&only={tag}"),
        format!("/api/v1/cube?from={from}&to={to}&group_by=endpoint&sort=p95"),
        format!("/api/v1/cube?from={from}&to={to}&group_by=statement&step_ms=60000"),
        format!("/api/v1/hitmap?from={from}&to={to}&tag={tag}"),
        format!("/api/v1/transactions?from={from}&to={to}&limit=7&tag={tag}"),
    ] {
        let (a, mut want) = embedded.get(&uri).await;
        let (b, mut got) = clickhouse.get(&uri).await;
        assert_eq!((b, a), (axum::http::StatusCode::OK, axum::http::StatusCode::OK), "{uri}: {got} / {want}");
        // How much each store read, the live stream's position and the (opaque) cursor are theirs; so is the
        // order of cube rows tied on the sort measure (nothing is cut here: every row is listed).
        for v in [&mut want, &mut got] {
            if let Some(o) = v.as_object_mut() {
                o.remove("scanned");
                o.remove("seq");
                assert_eq!(o.remove("next_cursor").is_some_and(|c| !c.is_null()), uri.contains("/transactions?"), "{uri}");
                if uri.contains("/cube?") {
                    if let Some(rows) = o.get_mut("rows").and_then(|r| r.as_array_mut()) {
                        rows.sort_by_key(|r| r["key"].to_string());
                    }
                }
            }
        }
        assert_eq!(got, want, "{uri}");
    }
}

/// On a cluster of two shards (`Distributed` tables, the grouping done on the shards) the answers are the
/// same as on the embedded store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_the_cube_answer_alike_on_two_shards() {
    use sightline_server::store::clickhouse::schema::Layout;
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (ch::free_port(), ch::free_port())).collect();
    let shards: String =
        ports.iter().map(|(_, tcp)| format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>")).collect();
    let config = format!("<remote_servers><pair>{shards}</pair></remote_servers>");
    let servers: Vec<ch::ClickHouse> = ports.iter().map(|(http, tcp)| ch::ClickHouse::start_on(*http, *tcp, &config)).collect();
    let db = ch::fresh_database();
    let targets: Vec<Target> = servers.iter().map(|s| Target::parse(&s.url(&db)).unwrap()).collect();
    let options = Options { max_age_ms: i64::MAX / 4, layout: Layout { cluster: Some("pair".into()), replicated: false }, ..Default::default() };
    let clickhouse: Arc<dyn TraceStore> = Arc::new(ClickHouseStore::open(targets, options).await.unwrap());
    let (embedded, _, _dir) = stores().await;
    let t0 = sightline_server::store::now_ms() / MINUTE * MINUTE - 30 * MINUTE;
    let late = late_steps(t0);
    for store in [&embedded, &clickhouse] {
        for r in data(t0) {
            store.append(r).await.unwrap();
        }
        store.append(late.clone()).await.unwrap();
    }
    let whole = TxFilter { from: t0 - MINUTE, to: t0 + 25 * MINUTE, ..Default::default() };
    let waits: FxHashMap<[u8; 16], Vec<String>> = (1..=600u64).filter(|n| n % 9 == 0).map(|n| (trace_id(n), vec!["Lock/tuple".to_string()])).collect();
    let q = CompareQuery {
        selection: TxFilter { from: t0 + 5 * MINUTE, to: t0 + 10 * MINUTE, min_ms: 500.0, ..Default::default() },
        only: Some(TagFilter::parse("attr.tenant=acme").unwrap()),
        baseline: whole.clone(),
        exclude_selection: true,
        wait_events: Arc::new(waits),
    };
    let want = embedded.compare(q.clone()).await.unwrap();
    assert!(want.selection.count > 0);
    assert_same(clickhouse.compare(q).await.unwrap(), &want, "compare on two shards");
    for q in [
        cube_query((whole.from, whole.to), &[CubeDim::Endpoint], &[], (CubeMeasure::P95, true), 1000, Some(5 * MINUTE)),
        cube_query((whole.from, whole.to), &[CubeDim::Statement], &[], (CubeMeasure::Count, true), 1000, None),
    ] {
        let want = embedded.cube(q.clone()).await.unwrap();
        assert!(want.total.count > 0);
        assert_same_cube(&clickhouse.cube(q.clone()).await.unwrap(), &want, &q, "cube on two shards");
    }
    let grid = Grid { from: whole.from, to: whole.to, cols: 26, rows: 10, ymax_ms: 1000.0, scale: Scale::Linear };
    let h = HitmapFilter { tag: Some(TagFilter::parse("statement=select*from items where id=?").unwrap()), ..Default::default() };
    let (a, b) = (embedded.hitmap(grid, h.clone()).await.unwrap(), clickhouse.hitmap(grid, h).await.unwrap());
    assert_eq!((b.total, &b.ok, &b.err), (a.total, &a.ok, &a.err));
    assert!(a.total > 0);
}
