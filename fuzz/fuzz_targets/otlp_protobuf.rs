//! OTLP/HTTP protobuf ingest without the store: the bytes of a `POST /v1/traces` body (already gunzipped)
//! through the server's own decoding and `convert`, then every accepted span as the embedded store keeps it
//! (encoded, decoded back: must be the same record) and as the list views summarise it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use sightline_server::ingest::{convert, decode_protobuf};
use sightline_server::store::record::SpanRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = decode_protobuf(bytes::Bytes::copy_from_slice(data)) else { return };
    for span in convert(request).spans {
        let stored = span.encode_to_vec();
        assert_eq!(SpanRecord::decode(&stored[..]).as_ref(), Ok(&span), "a stored span reads back unchanged");
        let _ = span.summary();
        let _ = (span.step_kind(), span.step_error(), span.error_text(), span.ids());
    }
});
