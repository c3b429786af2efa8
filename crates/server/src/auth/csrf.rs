//! Cross-site request protection for state-changing requests (anything but GET, HEAD, OPTIONS). The
//! cookie is SameSite=Lax, so browsers do not send it on cross-site POSTs; this is the second lock: a
//! browser always says where a request comes from (`Origin`, or at least `Referer`), and it must be this
//! server's own host.
//!
//! - Authenticated by the session cookie: `Origin` (or, without it, `Referer`) must be present and match.
//! - Without credentials (sign-in, the demo's automatic admin): a present `Origin`/`Referer` must match;
//!   none at all is a non-browser client (curl, an exporter) and passes.
//! - Bearer and share tokens: exempt, a browser never attaches them by itself.

use axum::http::{header, HeaderMap, Method};

use crate::error::AppError;

/// Whether a missing `Origin`/`Referer` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// The request carries the session cookie.
    Cookie,
    /// The request carries no credentials the browser adds by itself.
    NoCredentials,
    /// A token in `Authorization`.
    Exempt,
}

/// Whether the method can change anything.
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `host[:port]` of an `Origin` or `Referer` value (`https://sightline.example:8443/boards` →
/// `sightline.example:8443`).
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

/// Refuses a state-changing request from another site; `host` is the request's own host (the `Host` header,
/// or `X-Forwarded-Host` behind a trusted proxy).
pub fn check(method: &Method, headers: &HeaderMap, host: Option<&str>, strictness: Strictness) -> Result<(), AppError> {
    if !changes_state(method) || strictness == Strictness::Exempt {
        return Ok(());
    }
    let source = [header::ORIGIN, header::REFERER]
        .iter()
        .find_map(|h| headers.get(h).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()));
    let Some(source) = source else {
        return match strictness {
            Strictness::Cookie => Err(AppError::Forbidden(
                "a signed-in browser request that changes something must carry an Origin header".into(),
            )),
            _ => Ok(()),
        };
    };
    match (authority(source), host) {
        (Some(from), Some(host)) if from.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(AppError::Forbidden("cross-site request refused: its Origin is not this server".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn same_origin_passes_foreign_or_missing_does_not() {
        let host = Some("localhost:8080");
        let post = Method::POST;
        let same = headers(&[(header::ORIGIN, "http://localhost:8080")]);
        let foreign = headers(&[(header::ORIGIN, "https://evil.example")]);
        let referer = headers(&[(header::REFERER, "http://localhost:8080/boards/x?edit=1")]);
        let null = headers(&[(header::ORIGIN, "null")]);
        assert!(check(&post, &same, host, Strictness::Cookie).is_ok());
        assert!(check(&post, &referer, host, Strictness::Cookie).is_ok());
        assert!(check(&post, &foreign, host, Strictness::Cookie).is_err());
        assert!(check(&post, &null, host, Strictness::NoCredentials).is_err());
        assert!(check(&post, &foreign, host, Strictness::NoCredentials).is_err());
        assert!(check(&post, &HeaderMap::new(), host, Strictness::Cookie).is_err());
        assert!(check(&post, &HeaderMap::new(), host, Strictness::NoCredentials).is_ok());
        assert!(check(&post, &foreign, host, Strictness::Exempt).is_ok());
        assert!(check(&Method::GET, &foreign, host, Strictness::Cookie).is_ok());
        assert!(check(&post, &headers(&[(header::ORIGIN, "http://localhost:8080.evil.example")]), host, Strictness::Cookie).is_err());
    }
}
