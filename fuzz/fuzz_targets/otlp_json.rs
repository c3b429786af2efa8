//! OTLP/HTTP JSON ingest without the store: a `POST /v1/traces` body with `Content-Type: application/json`
//! through the server's own decoding and `convert` (the same conversion as protobuf, from other input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_server::ingest::{convert, decode_json};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = decode_json(data) else { return };
    for span in convert(&request).spans {
        let _ = span.to_record().summary();
    }
});
