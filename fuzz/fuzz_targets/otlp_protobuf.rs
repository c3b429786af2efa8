//! OTLP/HTTP protobuf ingest without the store: the bytes of a `POST /v1/traces` body (already gunzipped)
//! through the server's own decoding — the one-pass decoder ingest runs, checked against prost's decoding
//! and `convert` (the same accept/reject decision, the same records) — then every accepted span as the
//! embedded store keeps it (encoded straight from the request's bytes, decoded back: must be the same
//! record, and the same bytes as the owned record's) and as the list views summarise it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use sightline_server::ingest::{convert, decode_protobuf, decode_protobuf_records, decode_protobuf_records_only};
use sightline_server::store::record::SpanRecord;

fuzz_target!(|data: &[u8]| {
    let request = decode_protobuf(bytes::Bytes::copy_from_slice(data));
    let reference = request.as_ref().map(convert);
    let one_pass = decode_protobuf_records_only(data);
    match (&reference, &one_pass) {
        (Ok(r), Ok(o)) => assert_eq!(r, o, "the one-pass decoder's records are prost's"),
        (Err(_), Err(_)) => {}
        _ => panic!("prost and the one-pass decoder disagree: {:?} / {:?}", reference.is_ok(), one_pass.is_ok()),
    }
    // What ingest runs: the one-pass records, or prost's error.
    let Ok(converted) = decode_protobuf_records(data) else { return };
    for span in converted.spans {
        let mut stored = Vec::new();
        span.encode(1, &mut stored);
        let record = span.to_record();
        let mut expected = Vec::new();
        prost::encoding::message::encode(1, &record, &mut expected);
        assert_eq!(stored, expected, "a span encodes as its owned record does");
        let span = record;
        assert_eq!(SpanRecord::decode(&span.encode_to_vec()[..]).as_ref(), Ok(&span), "a stored span reads back unchanged");
        let _ = span.summary();
        let _ = (span.step_kind(), span.step_error(), span.error_text(), span.ids());
    }
});
