//! The soak and restart benchmark behind `cargo xtask soak` (not a test: it runs for minutes).
//!
//! Starts the real `sightline` binary (`--bin`, built with the `server` profile by xtask) on a data
//! directory, optionally filled first with `--seed-transactions N` stored transactions (then it also times
//! a full reopen of the store, which is what the server did before listening until issue 16), and reports
//! the time to health and to a complete history. Then, for `--minutes` (0: skip), sends OTLP/HTTP protobuf
//! at `--spans-per-sec` (the ingest benchmark's payload: 512 spans of 64 eight-span traces per request,
//! retried until acknowledged like an exporter does), samples the server's RSS (`/proc/PID/status`) and
//! retained transactions (`/metrics`) every `--sample-secs`, kills it with SIGKILL at the midpoint and
//! restarts it, and at the end checks that every acknowledged transaction is stored (the transaction
//! list's total over the soak's window, once the history is read).
//!
//! With each sample it also reads the store's memory parts from `/metrics` (columns in memory, memtables,
//! block cache, evicted transactions), and at the end gives RSS min/max/mean over every sample from
//! `--warmup-secs` on (both sides of the kill), which is the "flat after warm-up" figure. The server's own
//! options go after `--`, e.g. `-- --memory-budget 64MiB`.
//!
//! ```text
//! cargo xtask soak [--spans-per-sec 10000] [--minutes 10] [--sample-secs 5] [--seed-transactions 0]
//!                  [--warmup-secs 120] [--data-dir DIR] [-- server args…]
//! ```

#[path = "../benches/support/payload.rs"]
mod payload;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::{now_ms, TraceStore};

const MINUTE: i64 = 60_000;
/// Concurrent senders: enough to keep the rate while one waits on a group commit's fsync.
const SENDERS: u64 = 4;

struct Args {
    bin: PathBuf,
    spans_per_sec: f64,
    minutes: f64,
    sample_secs: u64,
    seed_transactions: u64,
    warmup_secs: u64,
    data_dir: Option<PathBuf>,
    server_args: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        bin: PathBuf::from("target/server/sightline"),
        spans_per_sec: 10_000.0,
        minutes: 10.0,
        sample_secs: 5,
        seed_transactions: 0,
        warmup_secs: 120,
        data_dir: None,
        server_args: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--bin" => a.bin = value("--bin").into(),
            "--spans-per-sec" => a.spans_per_sec = value("--spans-per-sec").parse().expect("--spans-per-sec: a number"),
            "--minutes" => a.minutes = value("--minutes").parse().expect("--minutes: a number"),
            "--sample-secs" => a.sample_secs = value("--sample-secs").parse().expect("--sample-secs: a number"),
            "--seed-transactions" => a.seed_transactions = value("--seed-transactions").parse().expect("a count"),
            "--warmup-secs" => a.warmup_secs = value("--warmup-secs").parse().expect("--warmup-secs: a number"),
            "--data-dir" => a.data_dir = Some(value("--data-dir").into()),
            "--" => {
                a.server_args = it.collect();
                break;
            }
            other => panic!("unknown argument {other:?} (see the header of crates/server/examples/soak.rs)"),
        }
    }
    a
}

/// The server under test; its pid and port stay known across the restart.
struct Server {
    child: Child,
    started: Instant,
}

fn spawn(args: &Args, dir: &Path, port: u16) -> Server {
    let child = Command::new(&args.bin)
        .arg("serve")
        .args(&args.server_args)
        .env("SIGHTLINE_ADDR", format!("127.0.0.1:{port}"))
        .env("SIGHTLINE_DATA_DIR", dir)
        .env("SIGHTLINE_DIST", dir.join("no-dist"))
        .env("SIGHTLINE_LOG", "warn")
        .env("SIGHTLINE_AUTO_SIGN_IN", "true")
        .env("SIGHTLINE_OTLP_GRPC_ADDR", "")
        .env_remove("SIGHTLINE_INGEST_TOKEN")
        .env_remove("SIGHTLINE_DEMO")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", args.bin.display()));
    Server { child, started: Instant::now() }
}

/// Resident memory of `pid` in bytes.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// CPU seconds (user + system, all threads) and minor page faults of `pid` so far, from `/proc/PID/stat`
/// (its times are in USER_HZ, 100 per second on Linux whatever the kernel's tick).
fn cpu_and_faults(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3 of proc(5).
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(((field(14)? + field(15)?) as f64 / 100.0, field(10)?))
}

/// Time to a healthy answer, then to a complete history (`history` absent from health), since `started`;
/// and the RSS of `pid` then.
async fn wait_ready(http: &reqwest::Client, base: &str, started: Instant, pid: u32) -> (Duration, Duration, u64) {
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut healthy = None;
    loop {
        assert!(Instant::now() < deadline, "the server did not become ready within an hour");
        if let Ok(r) = http.get(format!("{base}/api/v1/health")).send().await {
            if let Ok(h) = r.json::<sightline_model::Health>().await {
                let at = started.elapsed();
                let health = *healthy.get_or_insert(at);
                if h.history.is_none() {
                    return (health, at, rss(pid).unwrap_or(0));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(if healthy.is_some() { 100 } else { 10 })).await;
    }
}

/// What one scrape of `/metrics` says about the store.
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    stored: Option<u64>,
    columns: u64,
    memtables: u64,
    cache: u64,
    evicted: u64,
}

async fn metrics(http: &reqwest::Client, base: &str) -> Option<Parts> {
    let text = http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    let value = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(' ')))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|v| v as u64)
    };
    Some(Parts {
        stored: value("sightline_store_transactions"),
        columns: value("sightline_store_memory_bytes{part=\"columns\"}").unwrap_or(0),
        memtables: value("sightline_store_memory_bytes{part=\"memtables\"}").unwrap_or(0),
        cache: value("sightline_store_memory_bytes{part=\"block_cache\"}").unwrap_or(0),
        evicted: value("sightline_store_evicted_transactions").unwrap_or(0),
    })
}

/// `/proc/loadavg`'s first three fields.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// Fills `dir/store` with `n` transactions ending over the 6 hours before now − 2 min, then times a full
/// reopen (the columns rebuilt before returning: the pre-issue-16 start-up).
fn seed(dir: &Path, n: u64) -> Duration {
    let store_dir = dir.join("store");
    let retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = EmbeddedStore::open(&store_dir, retention).expect("open the store to seed it");
    let have = store.transaction_count() as u64;
    let started = Instant::now();
    let newest = now_ms() - 2 * MINUTE;
    let span = 6 * 60 * MINUTE;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let services = ["gateway", "balance", "payment", "recharge", "ledger"];
    let endpoints = ["GET /a", "GET /b", "POST /c", "POST /d", "GET /e", "PUT /f", "GET /g", "DELETE /h"];
    // As exporters send them: requests of 64 transactions that ended within the same ~second, in time
    // order over the 6 hours, 8 in flight (so commits group as under real ingest). The store's records are
    // per request, so the shape of the requests is what a restart reads.
    const PER_REQUEST: u64 = 64;
    let step = span as f64 / n as f64;
    let mut i = have;
    while i < n {
        let mut requests = Vec::new();
        for _ in 0..8 {
            if i >= n {
                break;
            }
            let batch: Vec<SpanRecord> = (i..(i + PER_REQUEST).min(n))
                .map(|j| {
                    let r = next();
                    let end_ms = newest - span + (j as f64 * step) as i64 + (r % 1000) as i64;
                    let dur_ms = ((r >> 20) % 3000) as f64 * 0.7;
                    let mut trace_id = vec![0xee; 16];
                    trace_id[8..].copy_from_slice(&(j + 1).to_be_bytes());
                    SpanRecord {
                        trace_id,
                        span_id: (j + 1).to_be_bytes().to_vec(),
                        service: services[(j % 5) as usize].into(),
                        name: endpoints[((r >> 40) % 8) as usize].into(),
                        span_kind: 2,
                        start_ns: ((end_ms as f64 - dur_ms) * 1e6) as u64,
                        end_ns: end_ms as u64 * 1_000_000,
                        error: (r >> 50) % 50 == 0,
                        step_kind: kind::TRANSACTION,
                        thread: Some(format!("exec-{}", j % 200)),
                        is_transaction: true,
                        ..Default::default()
                    }
                })
                .collect();
            i += batch.len() as u64;
            requests.push(store.append(batch));
        }
        for done in rt.block_on(futures::future::join_all(requests)) {
            done.expect("seeding");
        }
    }
    if n > have {
        eprintln!("seeded {} transactions in {:.1?}", n - have, started.elapsed());
    }
    drop(store);
    let started = Instant::now();
    let store = EmbeddedStore::open(&store_dir, retention).expect("reopen the store");
    let took = started.elapsed();
    eprintln!("full reopen (rebuild before answering, as before issue 16): {} transactions in {took:.2?}", store.transaction_count());
    drop(store);
    took
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mb(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

struct Sample {
    at: Duration,
    phase: &'static str,
    rss: u64,
    stored: Option<u64>,
    parts: Parts,
}

fn main() {
    let args = parse_args();
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("data directory");
    let before = (args.seed_transactions > 0).then(|| seed(&dir, args.seed_transactions));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(soak(args, dir, before));
}

async fn soak(args: Args, dir: PathBuf, before: Option<Duration>) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let server = spawn(&args, &dir, port);
    let (health, complete, rss_ready) = wait_ready(&http, &base, server.started, server.child.id()).await;
    let parts = metrics(&http, &base).await.unwrap_or_default();
    let retained = parts.stored.unwrap_or(0);
    println!("\n## start on {} stored transactions (load average {})", retained, load_average());
    if let Some(b) = before {
        println!("before (full rebuild, then listen): health after ≥ {:.2} s", b.as_secs_f64());
    }
    println!(
        "after: health {:.3} s, complete history {:.2} s, RSS {:.0} MB{}",
        health.as_secs_f64(),
        complete.as_secs_f64(),
        mb(rss_ready),
        if retained > 0 { format!(" = {:.0} bytes per retained transaction", rss_ready as f64 / retained as f64) } else { String::new() }
    );
    println!(
        "store parts: columns in memory {:.1} MB, memtables {:.1} MB, block cache {:.1} MB; {} transactions' columns evicted to disk",
        mb(parts.columns),
        mb(parts.memtables),
        mb(parts.cache),
        parts.evicted
    );
    let server = Arc::new(Mutex::new(server));
    if args.minutes <= 0.0 {
        stop(&server);
        return;
    }

    // The load: request k is due at k × interval; each is retried until acknowledged.
    let sample = ExportTraceServiceRequest::decode(&payload::payload(0)[..]).expect("payload decodes");
    let spans = payload::SPANS_PER_REQUEST as f64;
    let tx_per_request = sample.resource_spans[0].scope_spans[0].spans.iter().filter(|s| s.kind == SpanKind::Server as i32).count() as u64;
    let interval = Duration::from_secs_f64(spans / args.spans_per_sec);
    let length = Duration::from_secs_f64(args.minutes * 60.0);
    let run = now_ms();
    let t0 = Instant::now();
    let from_ms = run - MINUTE;
    let next = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (http, base, next, acked, retries) = (http.clone(), base.clone(), next.clone(), acked.clone(), retries.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let due = interval * k as u32;
                if due >= length {
                    return;
                }
                tokio::time::sleep_until((t0 + due).into()).await;
                // Unique trace ids per run and request (the payload numbers traces within its seed).
                let body = payload::payload((run as u64) << 20 | k);
                loop {
                    let r = http.post(format!("{base}/v1/traces")).header("content-type", "application/x-protobuf").body(body.clone()).send().await;
                    if r.is_ok_and(|r| r.status().is_success()) {
                        acked.fetch_add(tx_per_request, Ordering::Relaxed);
                        break;
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }

    // Sampling, and the kill -9 at the midpoint.
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let restarted = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (http, base, server, samples, restarted) = (http.clone(), base.clone(), server.clone(), samples.clone(), restarted.clone());
        let every = Duration::from_secs(args.sample_secs);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let pid = server.lock().unwrap().child.id();
                let phase = if restarted.load(Ordering::Relaxed) { "after kill -9" } else { "before" };
                let rss = rss(pid).unwrap_or(0);
                // No sample while the server is down (between the kill and the restart's first answer):
                // a process that is not serving yet says nothing about steady memory.
                let Some(parts) = metrics(&http, &base).await else { continue };
                let s = Sample { at: t0.elapsed(), phase, rss, stored: parts.stored, parts };
                println!(
                    "{:>7.0} s  {:<14} RSS {:>7.1} MB  stored {:>9}  columns {:>6.1} MB  memtables {:>5.1} MB  cache {:>5.1} MB  evicted {:>9}",
                    s.at.as_secs_f64(),
                    s.phase,
                    mb(s.rss),
                    s.stored.map_or("-".into(), |n| n.to_string()),
                    mb(parts.columns),
                    mb(parts.memtables),
                    mb(parts.cache),
                    parts.evicted
                );
                samples.lock().unwrap().push(s);
            }
        })
    };
    tokio::time::sleep_until((t0 + length / 2).into()).await;
    let acked_at_kill = acked.load(Ordering::Relaxed);
    let first_life = cpu_and_faults(server.lock().unwrap().child.id()).unwrap_or_default();
    {
        let mut s = server.lock().unwrap();
        s.child.kill().expect("SIGKILL");
        s.child.wait().expect("reap");
        *s = spawn(&args, &dir, port);
    }
    restarted.store(true, Ordering::Relaxed);
    let (started, pid) = {
        let s = server.lock().unwrap();
        (s.started, s.child.id())
    };
    let (health2, complete2, _) = wait_ready(&http, &base, started, pid).await;
    println!(
        "-- kill -9 at {:.0} s ({} transactions acknowledged): health after {:.3} s, complete history after {:.2} s",
        (length / 2).as_secs_f64(),
        acked_at_kill,
        health2.as_secs_f64(),
        complete2.as_secs_f64()
    );
    for s in senders {
        s.await.unwrap();
    }
    let sent_in = t0.elapsed();
    sampler.abort();

    // Every acknowledged transaction must be stored (retries of unacknowledged requests are idempotent).
    wait_ready(&http, &base, Instant::now(), pid).await;
    let url = format!("{base}/api/v1/transactions?from={from_ms}&to={}&service=payment&limit=1", now_ms() + MINUTE);
    let page: sightline_model::TransactionPage = http.get(url).send().await.expect("list").json().await.expect("list JSON");
    let acked = acked.load(Ordering::Relaxed);
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let second_life = cpu_and_faults(pid).unwrap_or_default();
    stop(&server);

    println!(
        "\n## soak: {:.0} spans/s for {:.1} min (sent in {:.0} s), server args {:?}, load average at the end {}",
        args.spans_per_sec,
        args.minutes,
        sent_in.as_secs_f64(),
        args.server_args,
        load_average()
    );
    println!("| t (s) | phase | RSS (MB) | stored transactions | columns in memory (MB) | memtables (MB) | block cache (MB) | evicted transactions |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for s in &samples {
        println!(
            "| {:.0} | {} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {} |",
            s.at.as_secs_f64(),
            s.phase,
            mb(s.rss),
            s.stored.map_or("-".into(), |n| n.to_string()),
            mb(s.parts.columns),
            mb(s.parts.memtables),
            mb(s.parts.cache),
            s.parts.evicted
        );
    }
    // Flatness after warm-up: every sample from `--warmup-secs` on, both sides of the kill.
    let warm: Vec<u64> = samples.iter().filter(|s| s.at.as_secs() >= args.warmup_secs && s.rss > 0).map(|s| s.rss).collect();
    if let (Some(lo), Some(hi)) = (warm.iter().min(), warm.iter().max()) {
        let mean = warm.iter().sum::<u64>() as f64 / warm.len() as f64;
        println!(
            "RSS from {} s on ({} samples, the restart included): {:.0}–{:.0} MB, mean {:.0} MB, spread {:+.1} % / {:+.1} %",
            args.warmup_secs,
            warm.len(),
            mb(*lo),
            mb(*hi),
            mean / 1_048_576.0,
            (*lo as f64 / mean - 1.0) * 100.0,
            (*hi as f64 / mean - 1.0) * 100.0
        );
    }
    // Flatness after warm-up: the second half of each phase (before the kill, after the restart).
    for phase in ["before", "after kill -9"] {
        let of: Vec<u64> = samples.iter().filter(|s| s.phase == phase && s.rss > 0).map(|s| s.rss).collect();
        let tail = &of[of.len() / 2..];
        if let (Some(lo), Some(hi)) = (tail.iter().min(), tail.iter().max()) {
            let mean = tail.iter().sum::<u64>() as f64 / tail.len() as f64;
            println!(
                "RSS {phase}, second half of the phase: {:.0}–{:.0} MB, mean {:.0} MB, spread {:+.1} % / {:+.1} %",
                mb(*lo),
                mb(*hi),
                mean / 1_048_576.0,
                (*lo as f64 / mean - 1.0) * 100.0,
                (*hi as f64 / mean - 1.0) * 100.0
            );
        }
    }
    // What the load cost the server: both processes' CPU (the second's includes its history load and the
    // final count) and minor page faults, per acknowledged span.
    let acked_spans = acked as f64 * spans / tx_per_request as f64;
    let (cpu, faults) = (first_life.0 + second_life.0, first_life.1 + second_life.1);
    println!(
        "server: {acked_spans:.0} spans acknowledged in {:.0} s = {:.0} spans/s; CPU {cpu:.1} s = {:.2} µs per span; {faults} minor page faults = {:.2} per span",
        sent_in.as_secs_f64(),
        acked_spans / sent_in.as_secs_f64(),
        cpu / acked_spans * 1e6,
        faults as f64 / acked_spans
    );
    println!("restart after kill -9: health {:.3} s, complete history {:.2} s", health2.as_secs_f64(), complete2.as_secs_f64());
    println!("retried requests (refused or unanswered, e.g. during the restart): {}", retries.load(Ordering::Relaxed));
    let lost = acked.saturating_sub(page.total);
    println!("acknowledged transactions: {acked}, found: {}, lost: {lost}", page.total);
    if lost > 0 || page.total > acked {
        eprintln!("FAILED: found {} transactions for {acked} acknowledged", page.total);
        std::process::exit(1);
    }
}

fn stop(server: &Arc<Mutex<Server>>) {
    let mut s = server.lock().unwrap();
    let pid = s.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = s.child.wait();
}
