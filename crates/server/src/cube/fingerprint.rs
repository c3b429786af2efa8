//! The fingerprint of an error message: the message with what varies between occurrences of the same
//! failure masked, so "Order 123 not found for user 8f14e45f-…" and "Order 456 not found for user 1b2c…"
//! are one error group, "Order <n> not found for user <uuid>".
//!
//! Masked: numbers (`<n>`, a unit suffix such as `ms` is kept), UUIDs (`<uuid>`), hex ids (`<hex>`), other
//! tokens that carry a long run of digits (`<id>`: `ORD-12345`), quoted literals (`<str>`), e-mail
//! addresses (`<email>`) and IPv4 addresses (`<ip>`). Whitespace runs (line breaks too) become one space.
//! Words without digits are kept as they are, so the fingerprint stays readable, and so are quoted code
//! references (`"com.shop.Merchant.getFees()"`, as Java's helpful NullPointerException messages quote
//! them): they say where it failed, not with which value.
//!
//! One pass over at most [`MAX_INPUT`] bytes, no allocation beyond the answer (it runs at ingest for every
//! failed transaction and SQL step), and the answer is at most [`MAX_FINGERPRINT`] bytes.

/// Bytes of the message read: what follows is not part of the fingerprint.
pub const MAX_INPUT: usize = 4096;
/// Longest fingerprint, in bytes (cut at a character boundary and marked with `…`).
pub const MAX_FINGERPRINT: usize = 200;
/// How far a closing quote is looked for: a lone apostrophe must not swallow the rest of the message.
const MAX_QUOTED: usize = 256;

/// The fingerprint of `message` (see the module doc).
pub fn fingerprint(message: &str) -> String {
    let s = head(message, MAX_INPUT);
    let mut out = String::with_capacity(s.len().min(MAX_FINGERPRINT + 4));
    let mut i = 0;
    while i < s.len() && out.len() < MAX_FINGERPRINT {
        let c = s[i..].chars().next().unwrap_or(' ');
        let prev_alnum = s[..i].chars().next_back().is_some_and(char::is_alphanumeric);
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            i += c.len_utf8();
        } else if let Some(len) = quoted(&s[i..]).filter(|_| !prev_alnum) {
            let literal = &s[i..i + len];
            out.push_str(if looks_like_code(&literal[1..len - 1]) { literal } else { "<str>" });
            i += len;
        } else if is_token_char(c) && !continues_token(&s[..i]) {
            let len = token_len(&s[i..]);
            mask_token(&s[i..i + len], &mut out);
            i += len;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    finish(out, i < s.len() || s.len() < message.len())
}

/// Trims, and cuts to [`MAX_FINGERPRINT`] with a `…` when the message went on.
fn finish(mut out: String, cut: bool) -> String {
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if cut || out.len() > MAX_FINGERPRINT {
        let end = floor_boundary(&out, MAX_FINGERPRINT - '…'.len_utf8());
        out.truncate(end);
        out.push('…');
    }
    out
}

/// The first `max` bytes of `s`, at a character boundary.
fn head(s: &str, max: usize) -> &str {
    &s[..floor_boundary(s, max)]
}

fn floor_boundary(s: &str, max: usize) -> usize {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Characters a maskable token is made of: `ORD-12345`, `10.0.0.1`, `a@b.io`, `1.5`, UUIDs.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@')
}

/// Whether the character before is part of a token already written (the punctuation [`token_len`] left
/// at a token's end): then this character is written as it is, not read as a new token.
fn continues_token(before: &str) -> bool {
    before.chars().next_back().is_some_and(is_token_char)
}

/// Length of the token at the start of `s`, without trailing `.`, `-` or `@` (sentence punctuation).
fn token_len(s: &str) -> usize {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    s[..end].trim_end_matches(['.', '-', '@']).len().max(s[..end].chars().next().map_or(0, char::len_utf8))
}

/// The length of a quoted literal (`'…'`, `"…"` or `` `…` ``, closed on the same line within
/// [`MAX_QUOTED`] bytes and not followed by a letter or digit) at the start of `s`.
fn quoted(s: &str) -> Option<usize> {
    let q = s.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let body = head(&s[1..], MAX_QUOTED);
    let close = body.find([q, '\n'])?;
    if body[close..].starts_with('\n') {
        return None;
    }
    let after = &s[1 + close + 1..];
    (!after.chars().next().is_some_and(char::is_alphanumeric)).then_some(close + 2)
}

/// A method call or a dotted (or `::`) path of identifiers: a place in the code, not a value.
fn looks_like_code(body: &str) -> bool {
    let path = body.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && (body.contains('.') || body.contains("::"))
        && body.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.' | ':' | '<' | '>'));
    path || (body.contains('(') && body.ends_with(')'))
}

/// Writes `t` (one token) masked when it is a number, an id, an address; as it is otherwise.
fn mask_token(t: &str, out: &mut String) {
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        if is_email(t) {
            out.push_str("<email>");
        } else {
            out.push_str(t);
        }
        return;
    }
    let mask = if is_number(t) {
        "<n>"
    } else if let Some(unit) = number_with_unit(t) {
        out.push_str("<n>");
        out.push_str(unit);
        return;
    } else if is_uuid(t) {
        "<uuid>"
    } else if is_ipv4(t) {
        "<ip>"
    } else if is_email(t) {
        "<email>"
    } else if is_hex_id(t) {
        "<hex>"
    } else if longest_digit_run(t) >= 3 || t.len() >= 8 {
        "<id>"
    } else {
        t
    };
    out.push_str(mask);
}

/// `42`, `1.5`, `-3` (a leading `-` is part of the token).
fn is_number(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.bytes().filter(|b| *b == b'.').count() <= 1
}

/// `150ms`, `30s`, `2GB`: a number then at most 3 letters; the letters are returned.
fn number_with_unit(t: &str) -> Option<&str> {
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (n, unit) = t.split_at(split);
    (is_number(n) && (1..=3).contains(&unit.len()) && unit.bytes().all(|b| b.is_ascii_alphabetic())).then_some(unit)
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Four dot-separated numbers of at most 3 digits.
fn is_ipv4(t: &str) -> bool {
    let parts: [&str; 4] = match t.split('.').collect::<Vec<_>>().try_into() {
        Ok(p) => p,
        Err(_) => return false,
    };
    parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `local@domain.tld`.
fn is_email(t: &str) -> bool {
    match t.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.contains('@'),
        None => false,
    }
}

/// At least 8 hex digits, optionally `0x`-prefixed (trace ids, hashes, object addresses).
fn is_hex_id(t: &str) -> bool {
    let h = t.strip_prefix("0x").unwrap_or(t);
    (h.len() >= 8 || h.len() < t.len()) && !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
}

fn longest_digit_run(t: &str) -> usize {
    t.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_are_masked_words_kept() {
        let a = fingerprint("Order 12345 not found for user 8f14e45f-ceea-467f-a0e6-0a5d6e1f0b2c");
        let b = fingerprint("Order 7 not found for user 1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_eq!(a, "Order <n> not found for user <uuid>");
        assert_eq!(a, b);
        assert_eq!(fingerprint("card ORD-99812 declined: insufficient funds"), "card <id> declined: insufficient funds");
        assert_eq!(fingerprint("timeout after 1500ms on 10.0.0.12:5432"), "timeout after <n>ms on <ip>:<n>");
        assert_eq!(fingerprint("no account for bob@example.com (id=42)."), "no account for <email> (id=<n>).");
        assert_eq!(fingerprint("span 4bf92f3577b34da6a3ce929d0e0e4736 at 0x7ffd3a"), "span <hex> at <hex>");
        assert_eq!(fingerprint("GET /api/orders/981/items/3 failed"), "GET /api/orders/<n>/items/<n> failed");
        assert_eq!(fingerprint("java.lang.IllegalStateException: utf8 and v2 and http2 kept"), "java.lang.IllegalStateException: utf8 and v2 and http2 kept");
    }

    #[test]
    fn quoted_literals_but_not_apostrophes() {
        assert_eq!(fingerprint("column 'email' of \"users\" can't be null"), "column <str> of <str> can't be null");
        assert_eq!(fingerprint("it's `x` or it's not"), "it's <str> or it's not");
        // An unclosed quote is text.
        assert_eq!(fingerprint("bad value 'abc"), "bad value 'abc");
        // Quoted code is where it failed: kept.
        let npe = "Cannot invoke \"com.shop.FeeSchedule.rateFor(com.shop.Money)\" because the return value of \"com.shop.Merchant.getFeeSchedule()\" is null";
        assert_eq!(fingerprint(npe), npe);
        assert_eq!(fingerprint("no bean 'orderService.v2' for '3.14' or 'a b.c'"), "no bean 'orderService.v2' for <str> or <str>");
    }

    #[test]
    fn whitespace_collapses_and_length_is_bounded() {
        assert_eq!(fingerprint("  first line\n\tsecond   line  "), "first line second line");
        assert_eq!(fingerprint(""), "");
        let long = "word ".repeat(10_000);
        let f = fingerprint(&long);
        assert!(f.len() <= MAX_FINGERPRINT && f.ends_with('…'), "{} bytes", f.len());
        let wide = "é".repeat(5_000);
        assert!(fingerprint(&wide).len() <= MAX_FINGERPRINT);
        // Lots of whitespace reads only the head.
        assert_eq!(fingerprint(&format!("a{}b", " ".repeat(100_000))), "a…");
    }

    #[test]
    fn messages_differing_only_by_values_share_a_fingerprint() {
        let pairs = [
            ("Deadlock detected on row 5512 (txn 88)", "Deadlock detected on row 17 (txn 90211)"),
            ("user 'alice' locked after 3 attempts", "user 'bob' locked after 12 attempts"),
            ("payment 1b4e28ba-2fa1-11d2-883f-0016d3cca427 failed", "payment 6fa459ea-ee8a-3ca4-894e-db77e160355e failed"),
        ];
        for (a, b) in pairs {
            assert_eq!(fingerprint(a), fingerprint(b), "{a} / {b}");
        }
        assert_ne!(fingerprint("Order 1 not found"), fingerprint("Order 1 not paid"));
    }
}
