//! Protobuf fields written by hand into a `Vec<u8>`, for the two encoders on ingest's hot path that write
//! prost's bytes without building prost's messages ([`SpanRef::encode`](crate::store::record::SpanRef::encode),
//! the cube's write-ahead rows). prost's `encode_varint` is generic over `BufMut` (a capacity check per
//! byte) and was not inlined there: ~7 % of ingest's instructions, though nearly every varint written is
//! one byte (a key, the length of a short string). The callers reserve the room first; lengths still come
//! from prost's `encoded_len` functions.

use prost::encoding::WireType;

/// A varint (LEB128), as prost writes it.
#[inline(always)]
pub fn put_varint(mut v: u64, buf: &mut Vec<u8>) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// A field's key.
#[inline(always)]
pub fn put_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    put_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

/// A varint field (`uint32`, `int64`, `bool`, and `int32` sign-extended to 64 bits, as prost writes them).
#[inline(always)]
pub fn put_varint_field(tag: u32, v: u64, buf: &mut Vec<u8>) {
    put_key(tag, WireType::Varint, buf);
    put_varint(v, buf);
}

/// A `fixed64` or `double` field (a double as its bits).
#[inline(always)]
pub fn put_fixed64_field(tag: u32, v: u64, buf: &mut Vec<u8>) {
    put_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// A length-delimited field (`bytes`, `string`, an encoded message).
#[inline(always)]
pub fn put_delimited(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    put_key(tag, WireType::LengthDelimited, buf);
    put_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_are_prosts() {
        for v in [0, 1, 0x7f, 0x80, 300, 16_383, 16_384, u64::from(u32::MAX), i64::MIN as u64, u64::MAX] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_varint(v, &mut ours);
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
        }
        for (tag, wt) in [(1, WireType::Varint), (15, WireType::LengthDelimited), (16, WireType::SixtyFourBit), (20, WireType::LengthDelimited), (536_870_911, WireType::ThirtyTwoBit)] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_key(tag, wt, &mut ours);
            prost::encoding::encode_key(tag, wt, &mut theirs);
            assert_eq!(ours, theirs, "{tag}");
        }
    }
}
