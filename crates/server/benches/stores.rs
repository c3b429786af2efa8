//! The embedded store against ClickHouse (one server, and two shards on this machine), side by side on the
//! same data through the same `TraceStore` calls a handler makes: ingest, the hitmap, the drag-select
//! first page and opening a trace; and this process's memory while ClickHouse holds the data.
//!
//! `SIGHTLINE_BENCH_N=1000000 cargo bench -p sightline-server --bench stores` (N transactions per store;
//! 10 000 000 takes several minutes to seed; `SIGHTLINE_BENCH_STORES=clickhouse,embedded` runs only those of
//! `clickhouse`, `clickhouse_2_shards`, `embedded`). The ClickHouse servers are Debian's, started here from
//! their binary on loopback ports, with their data in temp dirs (as the tests do).

#[path = "support/mix.rs"]
mod mix;
#[path = "../tests/ch/mod.rs"]
mod ch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_model::{Grid, Order, Scale};
use sightline_server::store::clickhouse::{schema::Layout, ClickHouseStore, Options, Target};
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::{HitmapFilter, TraceStore, TxFilter, TxQuery};
use tokio::runtime::Runtime;

const WINDOW_MS: i64 = 4 * 3_600_000;
/// Spans per `append`, as a batch of OTLP requests grouped by the committer.
const BATCH: u64 = 20_000;

fn n() -> u64 {
    std::env::var("SIGHTLINE_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

/// The window ends a minute from now, so no store's retention touches it.
fn t0() -> i64 {
    sightline_server::store::now_ms() / 60_000 * 60_000 - WINDOW_MS + 60_000
}


/// This process's resident memory, MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

/// Appends `n` transactions (two appends in flight, as concurrent requests are); prints spans/s and RSS.
fn seed(rt: &Runtime, name: &str, store: &Arc<dyn TraceStore>, t0: i64, n: u64) {
    let mut rng = StdRng::seed_from_u64(42);
    let rss0 = rss_mb();
    let started = Instant::now();
    let mut i = 0;
    let mut in_flight = std::collections::VecDeque::new();
    let mut marks = Vec::new();
    while i < n {
        let batch: Vec<SpanRecord> = (i..(i + BATCH).min(n)).map(|j| {
            // In time order, as they arrive: each batch covers a slice of the window (plus a little disorder).
            let end = t0 + (j as i128 * WINDOW_MS as i128 / n as i128) as i64 + rng.random_range(0..1_000);
            mix::transaction_ending(&mut rng, end.min(t0 + WINDOW_MS - 1), j)
        }).collect();
        i += batch.len() as u64;
        in_flight.push_back(rt.spawn(store.append(batch)));
        if in_flight.len() >= 2 {
            rt.block_on(in_flight.pop_front().unwrap()).unwrap().unwrap();
        }
        if i % (n / 4).max(1) < BATCH {
            marks.push(format!("{:.0} MB at {i}", rss_mb()));
        }
    }
    for f in in_flight {
        rt.block_on(f).unwrap().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: stored {n} transactions in {secs:.1} s = {:.0} spans/s (no HTTP); RSS {rss0:.0} MB before, {}",
        n as f64 / secs,
        marks.join(", ")
    );
}

struct Backend {
    name: &'static str,
    store: Arc<dyn TraceStore>,
    /// The ClickHouse servers, if any (kept running while the store is measured).
    servers: Vec<ch::ClickHouse>,
    _keep: Box<dyn std::any::Any>,
}

/// Waits (up to 15 minutes) until ClickHouse has merged the seeding's inserts: a store that has been taking
/// traffic for hours is mostly merged parts, while right after 500 bulk inserts the queries would race the
/// background merges for the two cores (measured: the first hitmaps several times slower than later ones).
fn settle(servers: &[ch::ClickHouse]) {
    let started = Instant::now();
    let quiet = || servers.iter().all(|s| s.sql("SELECT count() FROM system.merges") == "0");
    let parts = || servers.iter().map(|s| s.sql("SELECT count() FROM system.parts WHERE active AND database = 'bench'")).collect::<Vec<_>>();
    let mut last = parts();
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let now = parts();
        if quiet() && now == last {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            eprintln!("merges still running after 15 minutes; measuring anyway");
            break;
        }
        last = now;
    }
    eprintln!("merges settled in {:.0} s: active parts per server {:?}", started.elapsed().as_secs_f64(), last);
}

fn clickhouse(rt: &Runtime, shards: usize) -> Backend {
    let db = "bench";
    if shards == 1 {
        let server = ch::ClickHouse::start();
        let target = Target::parse(&server.url(db)).unwrap();
        let store = rt.block_on(ClickHouseStore::open(vec![target], Options { max_age_ms: i64::MAX / 4, ..Default::default() })).unwrap();
        return Backend { name: "clickhouse", store: Arc::new(store), servers: vec![server], _keep: Box::new(()) };
    }
    let ports: Vec<(u16, u16)> = (0..shards).map(|_| (ch::free_port(), ch::free_port())).collect();
    let config = format!(
        "<remote_servers><bench>{}</bench></remote_servers>",
        ports.iter().map(|(_, t)| format!("<shard><replica><host>127.0.0.1</host><port>{t}</port></replica></shard>")).collect::<String>()
    );
    let servers: Vec<ch::ClickHouse> = ports.iter().map(|(h, t)| ch::ClickHouse::start_on(*h, *t, &config)).collect();
    let targets = servers.iter().map(|s| Target::parse(&s.url(db)).unwrap()).collect();
    let options = Options { max_age_ms: i64::MAX / 4, layout: Layout { cluster: Some("bench".into()), replicated: false }, ..Default::default() };
    let store = rt.block_on(ClickHouseStore::open(targets, options)).unwrap();
    Backend { name: "clickhouse_2_shards", store: Arc::new(store), servers, _keep: Box::new(()) }
}

fn embedded(rt: &Runtime) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = rt
        .block_on(sightline_server::blocking::run("open", move || {
            EmbeddedStore::open(&path, Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX })
        }))
        .unwrap();
    Backend { name: "embedded", store: Arc::new(store), servers: Vec::new(), _keep: Box::new(dir) }
}

/// A trace as instrumented services export them: a root and 7 steps.
fn small_trace(t0: i64) -> (Vec<SpanRecord>, [u8; 16]) {
    let trace_id = [0x5au8; 16];
    let spans = (0..8u64)
        .map(|i| SpanRecord {
            trace_id: trace_id.to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { 1u64.to_be_bytes().to_vec() },
            service: "payment".into(),
            name: if i == 0 { "POST /pay".into() } else { format!("SELECT {i}") },
            span_kind: if i == 0 { 2 } else { 3 },
            start_ns: (t0 as u64 + WINDOW_MS as u64 / 2 + i) * 1_000_000,
            end_ns: (t0 as u64 + WINDOW_MS as u64 / 2 + 100 - i) * 1_000_000,
            step_kind: if i == 0 { kind::TRANSACTION } else { kind::SQL },
            text: (i > 0).then(|| "SELECT balance FROM accounts WHERE id = $1".to_string()),
            is_transaction: i == 0,
            ..Default::default()
        })
        .collect();
    (spans, trace_id)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let n = n();
    let t0 = t0();
    let label = if n.is_multiple_of(1_000_000) { format!("{}m", n / 1_000_000) } else { n.to_string() };
    eprintln!("RSS at start: {:.0} MB", rss_mb());
    // ClickHouse first: this process's memory while it holds the data says what a node keeps per transaction.
    for make in [
        (|rt: &Runtime| clickhouse(rt, 1)) as fn(&Runtime) -> Backend,
        |rt: &Runtime| clickhouse(rt, 2),
        embedded,
    ] {
        let backend = make(&rt);
        if std::env::var("SIGHTLINE_BENCH_STORES").is_ok_and(|only| !only.split(',').any(|s| s == backend.name)) {
            continue;
        }
        let store = &backend.store;
        seed(&rt, backend.name, store, t0, n);
        settle(&backend.servers);
        let (spans, trace_id) = small_trace(t0);
        rt.block_on(store.append(spans)).unwrap();

        let mut g = c.benchmark_group(format!("{}_{label}", backend.name));
        g.sample_size(10).measurement_time(Duration::from_secs(if n >= 5_000_000 { 20 } else { 8 }));
        for scale in [Scale::Linear, Scale::Log] {
            let grid = Grid { from: t0, to: t0 + WINDOW_MS, cols: 240, rows: 100, ymax_ms: 5000.0, scale };
            let h = rt.block_on(store.hitmap(grid, HitmapFilter::default())).unwrap();
            assert_eq!(h.total, n + 1, "{}: every transaction binned", backend.name);
            g.bench_function(format!("hitmap_240x100_{}", scale.as_str()), |b| {
                b.iter(|| rt.block_on(store.hitmap(grid, HitmapFilter::default())).unwrap())
            });
        }
        let band = TxQuery {
            filter: TxFilter { from: t0, to: t0 + WINDOW_MS, min_ms: 2900.0, max_ms: Some(3100.0), ..Default::default() },
            order: Order::Slowest,
            limit: 50,
            cursor: None,
        };
        g.bench_function("drag_select_band_3s_first_page", |b| b.iter(|| rt.block_on(store.transactions(band.clone())).unwrap()));
        g.bench_function("trace_open_8_spans", |b| {
            b.iter(|| assert_eq!(rt.block_on(store.trace(trace_id, t0)).unwrap().unwrap().steps.len(), 8))
        });
        g.finish();
        eprintln!("{}: RSS after its benchmarks: {:.0} MB", backend.name, rss_mb());
    }
}

criterion_group!(stores, benches);
criterion_main!(stores);
