//! The transactions "what changed" and the cube are measured and compared on (`benches/compare.rs`,
//! `tests/clickhouse_compare.rs`): what the demo's carry — an instance (of 8), a thread (of 200), a version
//! (of 3), two attributes, and three steps (two SQL statements of 40, one HTTP peer of 5) as child spans.

use rand::rngs::StdRng;
use rand::Rng;
use sightline_server::store::record::{kind, AttrRecord, SpanRecord};

/// Transaction `i` of `n` spread evenly over `[t0, t0 + window_ms)`, with its three steps (steps first).
pub fn transaction(rng: &mut StdRng, t0: i64, window_ms: i64, n: u64, i: u64) -> [SpanRecord; 4] {
    let end_ms = t0 + (i as i64 * window_ms) / n as i64;
    let dur_ms = 5.0 + (rng.random::<f64>() * 6.0).exp();
    let mut trace_id = vec![0u8; 16];
    trace_id[..8].copy_from_slice(&rng.random::<u64>().to_be_bytes());
    trace_id[8..].copy_from_slice(&(i + 1).to_be_bytes());
    let start_ns = ((end_ms as f64 - dur_ms) * 1e6) as u64;
    let end_ns = end_ms as u64 * 1_000_000;
    let tx = SpanRecord {
        trace_id: trace_id.clone(),
        span_id: ((i + 1) << 8).to_be_bytes().to_vec(),
        service: ["gateway", "balance", "payment", "recharge", "ledger"][(i % 5) as usize].into(),
        name: format!("GET /api/e{}", rng.random_range(0..40)),
        span_kind: 2,
        start_ns,
        end_ns,
        error: rng.random_range(0..50) == 0,
        step_kind: kind::TRANSACTION,
        thread: Some(format!("exec-{}", i % 200)),
        instance: Some(format!("pod-{}", i % 8)),
        http_method: Some("GET".into()),
        http_status: Some(200),
        version: Some(format!("3.{}.0", i % 3)),
        attributes: vec![
            AttrRecord { key: "tenant".into(), value: format!("t{}", rng.random_range(0..50)) },
            AttrRecord { key: "plan".into(), value: ["free", "pro", "team"][rng.random_range(0..3)].into() },
        ],
        is_transaction: true,
        ..Default::default()
    };
    let child = |n: u64, k: u32, text: String, target: &str| SpanRecord {
        trace_id: trace_id.clone(),
        span_id: (((i + 1) << 8) | n).to_be_bytes().to_vec(),
        parent_span_id: ((i + 1) << 8).to_be_bytes().to_vec(),
        service: tx.service.clone(),
        name: "step".into(),
        span_kind: 3,
        start_ns: start_ns + n * 1000,
        end_ns: start_ns + n * 1000 + 500_000,
        step_kind: k,
        text: Some(text),
        target: Some(target.into()),
        ..Default::default()
    };
    let sql = |rng: &mut StdRng| format!("SELECT * FROM t{} WHERE id = 1", rng.random_range(0..40));
    [
        child(1, kind::SQL, sql(rng), "postgresql/bank"),
        child(2, kind::SQL, sql(rng), "postgresql/bank"),
        child(3, kind::HTTP, "GET https://x/".into(), ["a:443", "b:443", "c:443", "d:443", "e:443"][rng.random_range(0..5)]),
        tx,
    ]
}
