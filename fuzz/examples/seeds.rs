//! Writes the seed inputs of the fuzz targets into `corpus/<target>/seed-*`: what real clients send.
//! OTLP requests of the demo workload (its Java-agent-like services: HTTP, SQL, messaging, errors) in
//! protobuf and JSON, the board templates as exported JSON, and query strings as the app writes them.
//! Run from fuzz/: `cargo run --example seeds`; `cargo xtask fuzz` grows the corpus from these.

use std::fs;
use std::path::Path;

use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sightline_model::{
    BaselineKind, CompareParams, CubeParams, ErrorsParams, HitmapParams, Order, Scale, Status, ToQuery, TxParams,
};
use sightline_server::boards::templates;
use sightline_server::demo::{incidents::Incidents, otlp, topology};

const NOW_MS: i64 = 1_767_225_600_000;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed written");
}

fn main() {
    let mut rng = StdRng::seed_from_u64(16);
    let end_ns = NOW_MS as u64 * 1_000_000;
    for i in 0..8u64 {
        let at = end_ns + i * 1_000_000_000;
        let txn = topology::transaction(&mut rng, at, &Incidents::at(at));
        let request = otlp::request(txn.spans);
        write("otlp_protobuf", &format!("demo-{i}"), &request.encode_to_vec());
        write("otlp_json", &format!("demo-{i}.json"), &serde_json::to_vec(&request).expect("OTLP/JSON"));
    }
    for (i, board) in templates::all().into_iter().enumerate() {
        write("board_json", &format!("template-{i}.json"), &serde_json::to_vec_pretty(&board).expect("board JSON"));
    }
    let (from, to) = (Some(NOW_MS - 15 * 60_000), Some(NOW_MS));
    let queries = [
        HitmapParams { from, to, cols: Some(240), rows: Some(100), ymax: Some(5000.0), scale: Some(Scale::Log), ..Default::default() }
            .to_query(),
        HitmapParams { from, to, service: Some("checkout".into()), tag: Some("instance=pay-2".into()), ..Default::default() }.to_query(),
        TxParams {
            from,
            to,
            min_ms: Some(120.5),
            max_ms: Some(900.0),
            service: Some("checkout".into()),
            endpoint: Some("POST /pay".into()),
            status: Some(Status::Error),
            order: Some(Order::Slowest),
            limit: Some(50),
            col_from: Some(10),
            col_to: Some(20),
            row_from: Some(3),
            row_to: Some(100),
            tag: Some("attr.tenant=acme".into()),
            ..Default::default()
        }
        .to_query(),
        TxParams { from, to, error_type: Some("java.sql.SQLException".into()), cursor: Some("abc".into()), ..Default::default() }
            .to_query(),
        CubeParams {
            from: NOW_MS - 3_600_000,
            to: NOW_MS,
            group_by: Some("endpoint,status".into()),
            filter: Some("service:checkout,http_status:".into()),
            sort: Some("p95".into()),
            desc: Some(false),
            limit: Some(20),
            step_ms: Some(60_000),
        }
        .to_query(),
        ErrorsParams { from: NOW_MS - 3_600_000, to: NOW_MS, service: Some("checkout".into()), sort: Some("last_seen".into()), ..Default::default() }
            .to_query(),
        CompareParams {
            from,
            to,
            min_ms: Some(500.0),
            tag: Some("statement=select * from t where id=?".into()),
            only: Some("status=error".into()),
            baseline: Some(BaselineKind::Region),
            base_from: Some(NOW_MS - 3_600_000),
            base_to: Some(NOW_MS - 1_800_000),
            limit: Some(30),
            ..Default::default()
        }
        .to_query(),
        CompareParams { from, to, baseline: Some(BaselineKind::Rest), window_from: Some(NOW_MS - 3_600_000), ..Default::default() }
            .to_query(),
        CompareParams { from, to, baseline: Some(BaselineKind::Yesterday), ..Default::default() }.to_query(),
    ];
    for (i, q) in queries.iter().enumerate() {
        write("api_query", &format!("{i}"), q.as_bytes());
    }
    println!("seeds written to corpus/");
}
