//! Acknowledged ⇒ counted, across a crash: a process appends spans (some in the open minute, whose facts
//! live in memory and in the cube's write-ahead rows; some late, merged into stored blobs), gets its
//! acknowledgement, and is killed with SIGKILL before any shutdown or flush; reopened, the store's cube
//! counts every one of them exactly once.
//!
//! The process is this test binary run again with `CUBE_CRASH_DIR` set, running only [`crash_child`].

#[path = "cube_ref/mod.rs"]
mod cube_ref;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sightline_model::{CubeDim, CubeMeasure};
use sightline_server::cube::CubeQuery;
use sightline_server::store::embedded::{EmbeddedStore, Retention};
use sightline_server::store::record::{kind, SpanRecord};
use sightline_server::store::{now_ms, TraceStore};

const RETENTION: Retention = Retention { max_age_ms: i64::MAX / 4, max_bytes: u64::MAX };
const ACKED: &str = "CUBE-CRASH-ACKED";

/// Transactions ending at `end_ms`, ids from `first`.
fn spans(first: u64, n: u64, end_ms: i64) -> Vec<SpanRecord> {
    (first..first + n)
        .map(|i| {
            let end_ns = (end_ms - (i % 500) as i64) as u64 * 1_000_000;
            let mut trace_id = vec![9u8; 16];
            trace_id[8..].copy_from_slice(&i.to_be_bytes());
            SpanRecord {
                trace_id,
                span_id: (i | 1 << 60).to_be_bytes().to_vec(),
                service: "durable".into(),
                name: ["GET /a", "POST /b", "GET /c"][i as usize % 3].into(),
                span_kind: 2,
                start_ns: end_ns - (i % 41 + 1) * 1_000_000,
                end_ns,
                error: i % 4 == 0,
                step_kind: kind::TRANSACTION,
                is_transaction: true,
                ..Default::default()
            }
        })
        .collect()
}

/// The data: its end times are fixed by the parent (`CUBE_CRASH_NOW`) so both sides build the same spans.
fn data(now: i64) -> Vec<Vec<SpanRecord>> {
    vec![spans(1, 300, now), spans(1000, 200, now - 10 * 60_000), spans(5000, 50, now)]
}

/// The crashing side: appends, reports the acknowledgement, then waits to be killed.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(now)) = (std::env::var("CUBE_CRASH_DIR"), std::env::var("CUBE_CRASH_NOW")) else { return };
    let now: i64 = now.parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let store = EmbeddedStore::open(std::path::Path::new(&dir), RETENTION).unwrap();
    for batch in data(now) {
        rt.block_on(store.append(batch)).unwrap();
    }
    println!("{ACKED}");
    // Never reached in practice: the parent kills this process as soon as it reads the line above.
    std::thread::sleep(Duration::from_secs(60));
    std::process::exit(1);
}

#[test]
fn acknowledged_spans_are_in_the_cube_after_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("CUBE_CRASH_DIR", dir.path())
        .env("CUBE_CRASH_NOW", now.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        assert!(Instant::now() < deadline, "the child never acknowledged its appends");
        match lines.next() {
            Some(Ok(l)) if l.contains(ACKED) => break,
            Some(Ok(_)) => continue,
            other => panic!("the child ended before acknowledging: {other:?}"),
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush.
    child.wait().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let store = EmbeddedStore::open(dir.path(), RETENTION).unwrap();
    let all: Vec<SpanRecord> = data(now).concat();
    let facts = cube_ref::facts_of(&all);
    let q = CubeQuery {
        from: now - 20 * 60_000,
        to: now + 60_000,
        group_by: vec![CubeDim::Endpoint, CubeDim::Status],
        filter: BTreeMap::new(),
        sort: CubeMeasure::Count,
        desc: true,
        limit: 100,
        step_ms: None,
    };
    let a = rt.block_on(store.cube(q.clone())).unwrap();
    assert_eq!(a.total.count, 550);
    cube_ref::assert_answer(&a, &facts, &q);
    // The exporter, not having heard back in time, retries: still counted once.
    for batch in data(now) {
        rt.block_on(store.append(batch)).unwrap();
    }
    assert_eq!(rt.block_on(store.cube(q)).unwrap(), a);
}
