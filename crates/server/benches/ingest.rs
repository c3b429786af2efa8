//! Ingest throughput: OTLP/HTTP protobuf and OTLP/gRPC over a real socket into the durable store (fsync per
//! group commit), against bare prost decoding of the very same payloads, in the same run.
//!
//! `cargo bench -p sightline-server --bench ingest`. Each iteration sends 64 requests of 512 spans
//! (the OTel SDK's default batch) with 8 requests in flight: over HTTP on up to 8 connections, over gRPC
//! as 8 concurrent calls on one HTTP/2 connection (one tonic channel, as an SDK's exporter does).
//!
//! Besides criterion's figures, each benchmark's process CPU time per span (all threads: the store's
//! committer and fjall's workers, and for HTTP and gRPC the in-process client too) is printed at the end,
//! with the throughputs as ratios to bare prost decoding (measured first and again last; the ratios are to
//! the mean of the two): on a shared machine CPU time moves less with the load than wall time does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::uri::PathAndQuery;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use payload::{payload, SPANS_PER_REQUEST};
use prost::Message;
use sightline_server::config::ServeArgs;
use sightline_server::state::AppState;

#[path = "support/payload.rs"]
mod payload;
#[path = "support/raw_codec.rs"]
mod raw_codec;
use raw_codec::Raw;

const REQUESTS: usize = 64;
/// Connections (or tasks) in flight; `SIGHTLINE_BENCH_CONCURRENCY` overrides the default 8.
fn concurrency() -> usize {
    std::env::var("SIGHTLINE_BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}

fn benches(c: &mut Criterion) {
    // As the server binary does first thing (`main`): the allocator's memory as it is in production. With
    // transparent huge pages on, ~4 % of this benchmark's samples were the kernel zeroing 2 MiB pages that
    // mimalloc had purged and faulted back in.
    if let Err(e) = sightline_server::allocator::no_transparent_huge_pages() {
        eprintln!("transparent huge pages stay on: {e}");
    }
    let concurrency = concurrency();
    eprintln!("{concurrency} requests in flight");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base, grpc_addr, state) = rt.block_on(async {
        let args = ServeArgs::for_tests(dir.path());
        let state = AppState::open(&args).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = sightline_server::app::router(state.clone(), None);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let grpc_state = state.clone();
        tokio::spawn(async move {
            sightline_server::ingest::grpc::serve(grpc_state, grpc, None, std::future::pending()).await.unwrap()
        });
        (format!("http://{addr}/v1/traces"), grpc_addr, state)
    });
    let grpc_channel = rt.block_on(async {
        tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}")).unwrap().connect().await.unwrap()
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    let mut seed = 0u64;
    let mut next_payloads = || -> Arc<Vec<bytes::Bytes>> {
        seed += 1;
        Arc::new((0..REQUESTS).map(|i| bytes::Bytes::from(payload(seed * 1000 + i as u64))).collect())
    };
    let bytes_per_iter: usize = next_payloads().iter().map(|p| p.len()).sum();
    eprintln!("payload: {REQUESTS} requests × {SPANS_PER_REQUEST} spans, {} KiB per request", bytes_per_iter / REQUESTS / 1024);

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements((REQUESTS * SPANS_PER_REQUEST) as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    let decode_payloads = next_payloads();
    let bare = |p: &bytes::Bytes| ExportTraceServiceRequest::decode(p.clone()).unwrap().resource_spans[0].scope_spans[0].spans.len();
    g.bench_function("bare_prost_decode", |b| b.iter_custom(|iters| timed("bare_prost_decode", iters, || decode_payloads.iter().map(bare).sum())));

    // The CPU part of ingest without HTTP or storage: decode, validate and reduce to stored records. The
    // reference (prost's message tree, then `convert`) and what ingest runs (one pass over the bytes).
    let reference = |p: &bytes::Bytes| sightline_server::ingest::convert(&ExportTraceServiceRequest::decode(p.clone()).unwrap()).spans.len();
    g.bench_function("decode_and_convert", |b| {
        b.iter_custom(|iters| timed("decode_and_convert", iters, || decode_payloads.iter().map(reference).sum()))
    });
    let one_pass = |p: &bytes::Bytes| sightline_server::ingest::decode_protobuf_records(p).unwrap().spans.len();
    g.bench_function("one_pass_decode_and_convert", |b| {
        b.iter_custom(|iters| timed("one_pass_decode_and_convert", iters, || decode_payloads.iter().map(one_pass).sum()))
    });

    // What "what changed" adds to a request's preparation: each transaction's steps and self times, worked
    // out over the converted spans (the store does it once per request). Compare with the durable figures.
    let converted: Vec<_> = decode_payloads.iter().map(|p| sightline_server::ingest::decode_protobuf_records(p).unwrap().spans).collect();
    g.bench_function("transaction_steps", |b| {
        b.iter(|| {
            let n: usize = converted.iter().map(|spans| sightline_server::compare::profile::steps_of_transactions(spans).len()).sum();
            assert_eq!(n, REQUESTS * SPANS_PER_REQUEST);
        })
    });

    // Everything but HTTP: `ingest::accept_protobuf` (decode, convert, durable group commit) from 8 tasks.
    g.bench_function("accept_protobuf_durable_no_http", |b| {
        b.iter_custom(|iters| {
            let state = state.clone();
            fan_out("accept_protobuf_durable_no_http", &rt, iters, concurrency, &mut next_payloads, move |p| {
                let state = state.clone();
                async move {
                    let out = sightline_server::ingest::accept_protobuf(&state, sightline_server::ingest::Protocol::Http, p).await.unwrap();
                    assert_eq!(out.accepted_spans as usize, SPANS_PER_REQUEST);
                }
            })
        })
    });

    let http_send = move |p: bytes::Bytes| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r = client.post(&base).header("content-type", "application/x-protobuf").body(p).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    g.bench_function("otlp_http_protobuf_durable", |b| {
        b.iter_custom(|iters| fan_out("otlp_http_protobuf_durable", &rt, iters, concurrency, &mut next_payloads, http_send.clone()))
    });

    // The same payloads as raw message bytes (no client-side re-encoding), like the HTTP case's body.
    g.bench_function("otlp_grpc_protobuf_durable", |b| {
        b.iter_custom(|iters| {
            let channel = grpc_channel.clone();
            fan_out("otlp_grpc_protobuf_durable", &rt, iters, concurrency, &mut next_payloads, move |p| {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                async move {
                    grpc.ready().await.unwrap();
                    let path = PathAndQuery::from_static(sightline_server::ingest::grpc::EXPORT_PATH);
                    let answer = grpc.unary(tonic::Request::new(p), path, Raw).await.unwrap().into_inner();
                    assert!(answer.is_empty(), "no partial success expected");
                }
            })
        })
    });
    // Bare decoding once more, last: the ratios are to the mean of this and the first measurement, so that a
    // machine that slows down or speeds up during the run (a shared machine does, by 10-30 % within a
    // minute) moves both sides of the ratio alike.
    g.bench_function("bare_prost_decode_after", |b| {
        b.iter_custom(|iters| timed("bare_prost_decode_after", iters, || decode_payloads.iter().map(bare).sum()))
    });
    g.finish();
    report();
}

/// Per benchmark: iterations, wall time and process CPU time, over every iteration criterion ran.
static TALLY: Mutex<Vec<(&'static str, u64, Duration, Duration)>> = Mutex::new(Vec::new());

/// The process's CPU time so far (user + system, all threads), from `/proc/self/stat` in clock ticks.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
    // Linux's USER_HZ is 100 on every configuration this runs on.
    Duration::from_millis(ticks * 10)
}

fn tally(name: &'static str, iters: u64, wall: Duration, cpu: Duration) {
    let mut t = TALLY.lock().unwrap();
    match t.iter_mut().find(|(n, ..)| *n == name) {
        Some(row) => {
            row.1 += iters;
            row.2 += wall;
            row.3 += cpu;
        }
        None => t.push((name, iters, wall, cpu)),
    }
}

/// `iters` runs of `f` (which returns the spans it handled), timed and tallied.
fn timed(name: &'static str, iters: u64, mut f: impl FnMut() -> usize) -> Duration {
    let (started, cpu) = (Instant::now(), cpu_time());
    for _ in 0..iters {
        assert_eq!(std::hint::black_box(f()), REQUESTS * SPANS_PER_REQUEST);
    }
    let wall = started.elapsed();
    tally(name, iters, wall, cpu_time().saturating_sub(cpu));
    wall
}

/// Spans/s and CPU µs per span of each benchmark (over all of criterion's iterations, warm-up included),
/// and each throughput as a share of bare prost decoding's: the mean of its two measurements, first and
/// last, when both ran (a filter can leave one out).
fn report() {
    let t = TALLY.lock().unwrap();
    let spans = (REQUESTS * SPANS_PER_REQUEST) as f64;
    let rate = |iters: u64, wall: Duration| iters as f64 * spans / wall.as_secs_f64();
    let bares: Vec<f64> = t.iter().filter(|r| r.0.starts_with("bare_prost_decode")).map(|r| rate(r.1, r.2)).collect();
    let bare = (!bares.is_empty()).then(|| bares.iter().sum::<f64>() / bares.len() as f64);
    eprintln!("\n{:<36} {:>12} {:>14} {:>10}", "benchmark (all iterations)", "spans/s", "CPU µs/span", "vs bare");
    for &(name, iters, wall, cpu) in t.iter() {
        let r = rate(iters, wall);
        let share = bare.map_or(String::new(), |b| format!("{:.0} %", 100.0 * r / b));
        let cpu_per_span = cpu.as_secs_f64() * 1e6 / (iters as f64 * spans);
        eprintln!("{name:<36} {:>10.0} k {cpu_per_span:>14.2} {share:>10}", r / 1e3);
    }
}

/// Time of `iters` rounds, each sending a fresh set of payloads (fresh ids: retries of stored transactions
/// would be skipped as duplicates) through `send` from `concurrency` tasks.
fn fan_out<F, Fut>(
    name: &'static str,
    rt: &tokio::runtime::Runtime,
    iters: u64,
    concurrency: usize,
    next_payloads: &mut impl FnMut() -> Arc<Vec<bytes::Bytes>>,
    send: F,
) -> Duration
where
    F: Fn(bytes::Bytes) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (mut total, mut cpu) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let payloads = next_payloads();
        let (started, cpu_before) = (Instant::now(), cpu_time());
        rt.block_on(async {
            let tasks: Vec<_> = (0..concurrency)
                .map(|w| {
                    let (send, payloads) = (send.clone(), payloads.clone());
                    tokio::spawn(async move {
                        for p in payloads.iter().skip(w).step_by(concurrency) {
                            send(p.clone()).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        total += started.elapsed();
        cpu += cpu_time().saturating_sub(cpu_before);
    }
    tally(name, iters, total, cpu);
    total
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
