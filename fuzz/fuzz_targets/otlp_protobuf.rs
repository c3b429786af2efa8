//! OTLP/HTTP protobuf ingest without the store: the bytes of a `POST /v1/traces` body (already gunzipped)
//! through the server's own decoding — the one-pass decoder ingest runs, checked against prost's decoding
//! and `convert` (the same accept/reject decision, the same records) — then every accepted span as the
//! embedded store keeps it (encoded, decoded back: must be the same record) and as the list views
//! summarise it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use sightline_server::ingest::{convert, decode_protobuf, decode_protobuf_records, decode_protobuf_records_only};
use sightline_server::store::record::SpanRecord;

fuzz_target!(|data: &[u8]| {
    let reference = decode_protobuf(bytes::Bytes::copy_from_slice(data)).map(convert);
    let one_pass = decode_protobuf_records_only(data);
    match (&reference, &one_pass) {
        (Ok(r), Ok(o)) => assert_eq!(r, o, "the one-pass decoder's records are prost's"),
        (Err(_), Err(_)) => {}
        _ => panic!("prost and the one-pass decoder disagree: {:?} / {:?}", reference.is_ok(), one_pass.is_ok()),
    }
    // What ingest runs: the one-pass records, or prost's error.
    let Ok(converted) = decode_protobuf_records(data) else { return };
    for span in converted.spans {
        let stored = span.encode_to_vec();
        assert_eq!(SpanRecord::decode(&stored[..]).as_ref(), Ok(&span), "a stored span reads back unchanged");
        let _ = span.summary();
        let _ = (span.step_kind(), span.step_error(), span.error_text(), span.ids());
    }
});
