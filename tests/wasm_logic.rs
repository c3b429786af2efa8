//! App logic that needs a real browser (JS Date, URL encoding), run in headless Chromium by
//! wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use sightline_app::api::with_query;
use sightline_app::format::{datetime_local, duration, parse_datetime_local};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn datetime_local_round_trips_in_the_browsers_time_zone() {
    let ms = 1_767_323_045_000; // 2026-01-02 03:04:05 UTC
    let text = datetime_local(ms);
    assert_eq!(text.len(), 19, "{text}");
    assert_eq!(parse_datetime_local(&text), Some(ms));
    assert_eq!(parse_datetime_local("yesterday"), None);
    assert_eq!(parse_datetime_local(""), None);
}

#[wasm_bindgen_test]
fn query_values_are_escaped_and_unset_ones_dropped() {
    let url = with_query(
        "/api/v1/transactions",
        &[("service", Some("pay & go/v2".into())), ("cursor", None), ("limit", Some("50".into()))],
    );
    assert_eq!(url, "/api/v1/transactions?service=pay%20%26%20go%2Fv2&limit=50");
}

#[wasm_bindgen_test]
fn durations_read_naturally() {
    assert_eq!(duration(0.25), "0.25 ms");
    assert_eq!(duration(850.0), "850 ms");
    assert_eq!(duration(3020.0), "3.02 s");
    assert_eq!(duration(125_000.0), "2 min 5 s");
}
