//! The `--demo` workload: a small fintech system (gateway → balance, payment, recharge) with incidents.
//!
//! It feeds the server exactly like real OpenTelemetry traffic: protobuf `ExportTraceServiceRequest`s
//! through [`crate::ingest::accept_protobuf`], the function behind `POST /v1/traces`, so everything a
//! user sees in the demo is also what real services will show. Generation is pure and seedable
//! ([`topology`], [`export`]); this module only drives it with the wall clock.

mod catalog;
pub mod export;
pub mod incidents;
pub mod otlp;
pub mod postgres;
pub mod topology;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_model::{Grid, Hitmap, Scale};

use crate::state::AppState;

/// Overall rate of gateway transactions: a few tens per second fill the hitmap without loading a laptop.
pub const TRANSACTIONS_PER_SECOND: f64 = 25.0;
/// History generated at start, so a new user sees a full 15-minute hitmap with past incidents at once.
pub const BACKFILL: Duration = Duration::from_secs(15 * 60);
/// How often the live loop wakes up; finer than the 200–500 ms export schedule it simulates.
const TICK: Duration = Duration::from_millis(50);

/// Starts the generator in the background: backfill first, then the live workload forever.
pub fn spawn(state: AppState) {
    tokio::spawn(run(state));
}

async fn run(state: AppState) {
    let mut rng = StdRng::from_os_rng();
    let start = now_ns();
    tracing::info!(tps = TRANSACTIONS_PER_SECOND, schedule = %incidents::Incidents::describe_schedule(), "demo workload starting");

    let began = std::time::Instant::now();
    let mut sender = Sender::default();
    // A restart on the same data directory fills only the gap, instead of doubling the last 15 minutes.
    let probe = state.store.hitmap(backfill_probe(start), crate::store::HitmapFilter::service(otlp::Service::Gateway.name()));
    let from = match probe.await {
        Ok(hitmap) => backfill_start(&hitmap, start),
        Err(e) => {
            tracing::warn!(error = %e, "cannot see the stored demo history; backfilling the whole window");
            start - BACKFILL.as_nanos() as u64
        }
    };
    let mut backfill = export::Backfill::new(StdRng::seed_from_u64(rng.random()), from, start, TRANSACTIONS_PER_SECOND);
    while let Some(req) = backfill.next_request() {
        sender.send(&state, req).await;
        // Backfill is CPU work between awaits; let request handlers in between.
        tokio::task::yield_now().await;
    }
    tracing::info!(
        window_s = (start - from) / 1_000_000_000,
        spans = sender.spans,
        requests = sender.requests,
        failed = sender.failures,
        elapsed_ms = began.elapsed().as_millis() as u64,
        "demo backfill sent"
    );

    let mut live = export::Live::new(StdRng::seed_from_u64(rng.random()), start, TRANSACTIONS_PER_SECOND);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for req in live.poll(now_ns()) {
            sender.send(&state, req).await;
        }
    }
}

/// One-second columns over the backfill window, one row: enough to see where stored history ends.
fn backfill_probe(start_ns: u64) -> Grid {
    let to = (start_ns / 1_000_000) as i64;
    let secs = BACKFILL.as_secs() as u32;
    Grid { from: to - i64::from(secs) * 1000, to, cols: secs, rows: 1, ymax_ms: 1e9, scale: Scale::Linear }
}

/// Where the backfill starts (ns): after the last second that already has gateway transactions in
/// `probe`, or at the start of the window if it has none.
fn backfill_start(probe: &Hitmap, start_ns: u64) -> u64 {
    let g = &probe.grid;
    let window_start = start_ns - BACKFILL.as_nanos() as u64;
    let filled = |c: u32| (0..g.total_rows()).any(|r| probe.ok[g.index(c, r)] + probe.err[g.index(c, r)] > 0);
    match (0..g.cols).rev().find(|c| filled(*c)) {
        Some(c) => ((g.col_start(c + 1).max(0) as u64) * 1_000_000).clamp(window_start, start_ns),
        None => window_start,
    }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Sends requests through the ingest path and keeps counts; a failing store must not flood the log.
#[derive(Default)]
struct Sender {
    requests: u64,
    spans: u64,
    failures: u64,
}

impl Sender {
    async fn send(&mut self, state: &AppState, req: ExportTraceServiceRequest) {
        let spans = export::span_count(&req) as u64;
        let body = Bytes::from(req.encode_to_vec());
        self.requests += 1;
        self.spans += spans;
        match crate::ingest::accept_protobuf(state, crate::ingest::Protocol::Demo, body).await {
            Ok(outcome) if outcome.rejected_spans > 0 => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::warn!(rejected = outcome.rejected_spans, message = ?outcome.message, failures = self.failures, "demo spans rejected by ingest");
                }
            }
            Ok(_) => {}
            Err(e) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures = self.failures, "demo export failed");
                }
            }
        }
    }
}
