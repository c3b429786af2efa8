//! The API's query parameters as typed values: every number drawn from its whole range (extreme times,
//! steps and sizes that a mutated query string rarely spells out), then the same checks as `api_query`
//! (`common/api.rs`). This target found the i64 overflows of docs/FUZZING.md within seconds.
#![no_main]

#[path = "common/api.rs"]
mod api;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sightline_model::{BaselineKind, CompareParams, CubeParams, ErrorsParams, HitmapParams, Order, Scale, Status, TxParams};
use sightline_server::api::window::WindowParams;

#[derive(Debug, Arbitrary)]
struct Input {
    from: Option<i64>,
    to: Option<i64>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    cols: Option<u32>,
    rows: Option<u32>,
    ymax: Option<f64>,
    log: Option<bool>,
    error: Option<bool>,
    newest: Option<bool>,
    cells: [Option<u32>; 4],
    limit: Option<usize>,
    tag: Option<String>,
    only: Option<String>,
    baseline: Option<u8>,
    window: (Option<i64>, Option<i64>),
    base: (Option<i64>, Option<i64>, Option<f64>, Option<f64>),
    group_by: Option<String>,
    filter: Option<String>,
    sort: Option<String>,
    desc: Option<bool>,
    step_ms: Option<i64>,
}

fn pick<T>(b: Option<bool>, yes: T, no: T) -> Option<T> {
    b.map(|b| if b { yes } else { no })
}

fuzz_target!(|i: Input| {
    let baseline = i.baseline.map(|b| match b % 4 {
        0 => BaselineKind::Rest,
        1 => BaselineKind::Yesterday,
        2 => BaselineKind::Region,
        _ => BaselineKind::BeforeDeploy,
    });
    let (from_or_0, to_or_0) = (i.from.unwrap_or(0), i.to.unwrap_or(0));
    api::check(api::Params {
        window: Some(WindowParams { from: i.from, to: i.to }),
        hitmap: Some(HitmapParams {
            from: i.from,
            to: i.to,
            service: None,
            cols: i.cols,
            rows: i.rows,
            ymax: i.ymax,
            scale: pick(i.log, Scale::Log, Scale::Linear),
            tag: i.tag.clone(),
        }),
        tx: Some(TxParams {
            from: i.from,
            to: i.to,
            min_ms: i.min_ms,
            max_ms: i.max_ms,
            status: pick(i.error, Status::Error, Status::Ok),
            order: pick(i.newest, Order::Newest, Order::Slowest),
            limit: i.limit,
            cols: i.cols,
            rows: i.rows,
            ymax: i.ymax,
            scale: pick(i.log, Scale::Log, Scale::Linear),
            col_from: i.cells[0],
            col_to: i.cells[1],
            row_from: i.cells[2],
            row_to: i.cells[3],
            tag: i.tag.clone(),
            ..Default::default()
        }),
        cube: Some(CubeParams {
            from: from_or_0,
            to: to_or_0,
            group_by: i.group_by,
            filter: i.filter,
            sort: i.sort.clone(),
            desc: i.desc,
            limit: i.limit,
            step_ms: i.step_ms,
        }),
        errors: Some(ErrorsParams { from: from_or_0, to: to_or_0, sort: i.sort, ..Default::default() }),
        compare: Some(CompareParams {
            from: i.from,
            to: i.to,
            min_ms: i.min_ms,
            max_ms: i.max_ms,
            service: None,
            tag: i.tag,
            only: i.only,
            baseline,
            window_from: i.window.0,
            window_to: i.window.1,
            base_from: i.base.0,
            base_to: i.base.1,
            base_min_ms: i.base.2,
            base_max_ms: i.base.3,
            limit: i.limit,
        }),
    });
});
