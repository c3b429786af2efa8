//! The transactions the store benchmarks bin and select: mostly fast, a long tail, a band at ~3 s, a few
//! 0 ms, a few beyond the y-range, 1 in 50 failed, five services and eight endpoints.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::Rng;
use sightline_server::store::record::{kind, SpanRecord};

const SERVICES: [&str; 5] = ["gateway", "balance", "payment", "recharge", "ledger"];
const ENDPOINTS: [&str; 8] = ["GET /a", "GET /b", "POST /c", "POST /d", "GET /e", "PUT /f", "GET /g", "DELETE /h"];

/// Transaction number `i`, ending somewhere in `[t0, t0 + window_ms)`.
pub fn transaction(rng: &mut StdRng, t0: i64, window_ms: i64, i: u64) -> SpanRecord {
    let end_ms = t0 + rng.random_range(0..window_ms);
    transaction_ending(rng, end_ms, i)
}

/// Transaction number `i`, ending at `end_ms`.
pub fn transaction_ending(rng: &mut StdRng, end_ms: i64, i: u64) -> SpanRecord {
    let dur_ms: f64 = match rng.random_range(0..100) {
        0 => 0.0,
        1..=3 => rng.random_range(2900.0..3100.0),
        4 => rng.random_range(5000.0..20000.0),
        _ => (rng.random::<f64>() * 6.0).exp(),
    };
    let mut trace_id = vec![0u8; 16];
    trace_id[..8].copy_from_slice(&rng.random::<u64>().to_be_bytes());
    trace_id[8..].copy_from_slice(&(i + 1).to_be_bytes());
    SpanRecord {
        trace_id,
        span_id: (i + 1).to_be_bytes().to_vec(),
        service: SERVICES[(i % 5) as usize].into(),
        name: ENDPOINTS[rng.random_range(0..ENDPOINTS.len())].into(),
        span_kind: 2,
        start_ns: ((end_ms as f64 - dur_ms) * 1e6) as u64,
        end_ns: end_ms as u64 * 1_000_000,
        error: rng.random_range(0..50) == 0,
        step_kind: kind::TRANSACTION,
        thread: Some(format!("exec-{}", i % 200)),
        is_transaction: true,
        ..Default::default()
    }
}
