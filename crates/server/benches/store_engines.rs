//! fjall vs redb for Sightline's write pattern, measured once to choose the durable store (docs/STORE.md).
//!
//! `cargo bench -p sightline-server --bench store_engines`. Not a criterion bench: one pass per engine
//! over the same prepared batches, printing spans/s. Each batch is what one ingest request of 512 spans
//! becomes (one span chunk, one transaction record and one minute key per trace) and is committed durably
//! (fsync) before the next, as the group committer does. Then 2 000 random trace reads (prefix scans).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sightline_server::store::record::SpanTimes;
use sightline_server::store::record::{chunk_key, minute_key, tx_key, SpanChunk};

#[path = "support/payload.rs"]
mod payload;

const BATCHES: usize = 2000;

/// (key, value) triples per batch: chunks, transactions, minute index.
type Batch = Vec<(u8, Vec<u8>, Vec<u8>)>;

fn batches() -> (Vec<Batch>, Vec<[u8; 16]>) {
    let mut out = Vec::with_capacity(BATCHES);
    let mut traces = Vec::new();
    let mut chunk_id = 0u64;
    for b in 0..BATCHES {
        let req = ExportTraceServiceRequest::decode(&payload::payload(b as u64 + 1)[..]).unwrap();
        let spans: Vec<_> = sightline_server::ingest::convert(&req).spans.iter().map(|s| s.to_record()).collect();
        let mut groups: HashMap<[u8; 16], Vec<_>> = HashMap::new();
        let mut batch = Batch::new();
        for s in spans {
            if s.is_transaction {
                batch.push((1, tx_key(s.end_ms(), &s.ids()).to_vec(), s.encode_to_vec()));
            }
            groups.entry(s.trace_id[..16].try_into().unwrap()).or_default().push(s);
        }
        for (trace, spans) in groups {
            let minute = (spans[0].start_ns / 60_000_000_000) as i64;
            batch.push((2, minute_key(minute, &trace).to_vec(), Vec::new()));
            chunk_id += 1;
            batch.push((0, chunk_key(&trace, chunk_id).to_vec(), SpanChunk { spans }.encode_to_vec()));
            traces.push(trace);
        }
        out.push(batch);
    }
    (out, traces)
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn report(engine: &str, write: Duration, reads: &[Duration], bytes: u64) {
    let spans = (BATCHES * payload::SPANS_PER_REQUEST) as f64;
    let mut r = reads.to_vec();
    r.sort();
    println!(
        "{engine:>9}: {:>8.0} spans/s durable ({BATCHES} fsynced batches in {:.2?}, {:.2} ms/batch); trace read p50 {:.1?} p95 {:.1?}; {:.1} MiB on disk",
        spans / write.as_secs_f64(),
        write,
        write.as_secs_f64() * 1000.0 / BATCHES as f64,
        r[r.len() / 2],
        r[r.len() * 95 / 100],
        bytes as f64 / 1048576.0
    );
}

fn fjall_run(batches: &[Batch], picks: &[[u8; 16]], kv_sep: bool, round: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = fjall::Database::builder(dir.path()).open().unwrap();
    let ks: Vec<fjall::Keyspace> = ["spans", "tx", "minutes"]
        .iter()
        .map(|n| {
            db.keyspace(n, || {
                let o = fjall::KeyspaceCreateOptions::default();
                if kv_sep && *n == "spans" {
                    o.with_kv_separation(Some(fjall::KvSeparationOptions::default().separation_threshold(512)))
                } else {
                    o
                }
            })
            .unwrap()
        })
        .collect();
    let t = Instant::now();
    for b in batches {
        let mut batch = db.batch();
        for (k, key, value) in b {
            batch.insert(&ks[*k as usize], &key[..], &value[..]);
        }
        batch.commit().unwrap();
        db.persist(fjall::PersistMode::SyncData).unwrap();
    }
    let write = t.elapsed();
    let reads: Vec<Duration> = picks
        .iter()
        .map(|trace| {
            let t = Instant::now();
            let n: usize = ks[0].prefix(trace).map(|kv| SpanChunk::decode(&*kv.value().unwrap()).unwrap().spans.len()).sum();
            assert!(n > 0);
            t.elapsed()
        })
        .collect();
    db.persist(fjall::PersistMode::SyncAll).unwrap();
    let name = if kv_sep { format!("fjall+kv#{round}") } else { format!("fjall#{round}") };
    report(&name, write, &reads, dir_size(dir.path()));
}

fn main() {
    // Ignore criterion/cargo-bench flags such as `--bench`.
    let (batches, traces) = batches();
    let mut rng = StdRng::seed_from_u64(1);
    let picks: Vec<[u8; 16]> = (0..2000).map(|_| traces[rng.random_range(0..traces.len())]).collect();

    // fjall: three keyspaces, one write batch per request, journal fsync; with and without key-value
    // separation for the span chunks, twice each, alternating, because the machine is shared.
    for round in 0..2 {
        for kv_sep in [false, true] {
            fjall_run(&batches, &picks, kv_sep, round);
        }
    }

    // redb: three tables, one write transaction per request (commit = fsync, redb's default durability).
    {
        use redb::TableDefinition;
        const TABLES: [TableDefinition<&[u8], &[u8]>; 3] =
            [TableDefinition::new("spans"), TableDefinition::new("tx"), TableDefinition::new("minutes")];
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db.redb")).unwrap();
        let t = Instant::now();
        for b in &batches {
            let w = db.begin_write().unwrap();
            {
                let mut tables: Vec<_> = TABLES.iter().map(|d| w.open_table(*d).unwrap()).collect();
                for (k, key, value) in b {
                    tables[*k as usize].insert(&key[..], &value[..]).unwrap();
                }
            }
            w.commit().unwrap();
        }
        let write = t.elapsed();
        let r = db.begin_read().unwrap();
        let spans = r.open_table(TABLES[0]).unwrap();
        let reads: Vec<Duration> = picks
            .iter()
            .map(|trace| {
                let t = Instant::now();
                let mut end = trace.to_vec();
                end.extend_from_slice(&[0xff; 8]);
                let n: usize = spans
                    .range(&trace[..]..&end[..])
                    .unwrap()
                    .map(|kv| SpanChunk::decode(kv.unwrap().1.value()).unwrap().spans.len())
                    .sum();
                assert!(n > 0);
                t.elapsed()
            })
            .collect();
        report("redb", write, &reads, dir_size(dir.path()));
    }
}
