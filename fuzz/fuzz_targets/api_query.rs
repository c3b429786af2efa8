//! The API's query strings: one string read as the parameters of each endpoint that takes a free-form
//! query (hitmap, transactions, cube, errors, compare) exactly as axum's `Query` reads it
//! (`serde_urlencoded`), then the server's own checks of each (`common/api.rs`). Errors (400s) are fine;
//! a panic is not.
#![no_main]

#[path = "common/api.rs"]
mod api;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    api::check(api::Params {
        window: serde_urlencoded::from_str(query).ok(),
        hitmap: serde_urlencoded::from_str(query).ok(),
        tx: serde_urlencoded::from_str(query).ok(),
        cube: serde_urlencoded::from_str(query).ok(),
        errors: serde_urlencoded::from_str(query).ok(),
        compare: serde_urlencoded::from_str(query).ok(),
    });
});
