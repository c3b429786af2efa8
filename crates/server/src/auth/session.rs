//! Browser sessions: a random 256-bit id in the `sightline_session` cookie, stored on the server only as
//! its SHA-256 (a copy of the database does not sign anyone in). A session ends when it has not been used
//! for `idle` (12 h by default), `max` after sign-in (7 days) whatever happens, at sign-out, or when its
//! user signs out everywhere, changes password, or is removed.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::store::{Change, SessionRecord};
use super::{audit, password, Auth, Principal, TOUCH_EVERY_MS};
use crate::error::AppError;

/// The cookie's name.
pub const COOKIE: &str = "sightline_session";

/// How long sessions live (`--session-idle-secs`, `--session-max-secs`).
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle_ms: i64,
    pub max_ms: i64,
}

/// A new session id: 32 random bytes, hex.
pub fn new_id() -> String {
    const_hex::encode(rand::random::<[u8; 32]>())
}

/// What the server stores instead of the id.
pub fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Lifetimes {
    /// Whether `s` may still be used at `now_ms`.
    pub fn alive(&self, s: &SessionRecord, now_ms: i64) -> bool {
        now_ms - s.last_seen_ms < self.idle_ms && now_ms - s.created_ms < self.max_ms
    }

    /// When `s` ends at the latest (its absolute expiry).
    pub fn expires_ms(&self, s: &SessionRecord) -> i64 {
        s.created_ms + self.max_ms
    }
}

/// The session id from the request's `Cookie` headers, if any.
pub fn from_headers(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site
/// sub-requests or POSTs), Path=/, Secure when the app is served over TLS; kept by the browser until the
/// session's absolute expiry.
pub fn set_cookie(id: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"))
        .expect("hex id and fixed attributes are a valid header value")
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    set_cookie("", 0, secure)
}

/// A new session after a successful sign-in: its id (for the cookie, nowhere else) and who it is.
pub struct SignedIn {
    pub id: String,
    pub principal: Principal,
}

impl Auth {
    /// The user of a live session, moving its last-seen time (in memory; saved every minute).
    pub(super) fn session_user(&self, hash: &[u8; 32], now_ms: i64) -> Option<Principal> {
        let mut m = self.mem();
        let s = m.sessions.get_mut(hash)?;
        if !self.config.lifetimes.alive(s, now_ms) {
            return None;
        }
        // Coarse, but never so coarse that a session in use could look idle.
        if now_ms - s.last_seen_ms >= TOUCH_EVERY_MS.min(self.config.lifetimes.idle_ms / 4) {
            s.last_seen_ms = now_ms;
            m.dirty_sessions.insert(*hash);
        }
        let s = &m.sessions[hash];
        let expires_ms = self.config.lifetimes.expires_ms(s);
        let user = m.users.get(&s.user)?;
        Some(Principal::User { name: user.name.clone(), role: user.role, session: *hash, expires_ms })
    }

    /// Checks a name and password (rate-limited per account and per address) and starts a session.
    /// Blocking: argon2 runs here.
    pub fn sign_in(&self, name: &str, password: &str, addr: Option<IpAddr>, now_ms: i64) -> Result<SignedIn, AppError> {
        if let Some(secs) = self.limiter.check(name, addr, now_ms) {
            return Err(AppError::TooManyRequests { retry_after_secs: secs });
        }
        let phc = self.mem().users.get(name).map(|u| u.phc.clone());
        let ok = match &phc {
            Some(phc) => password::verify(password, phc),
            None => {
                password::verify_nobody(password);
                false
            }
        };
        if !ok {
            self.limiter.failed(name, addr, now_ms);
            tracing::info!(user = name, "sign-in failed: wrong name or password");
            return Err(AppError::Unauthenticated("wrong name or password".into()));
        }
        self.limiter.succeeded(name);
        let id = new_id();
        let hash = hash(&id);
        let record = SessionRecord { user: name.to_string(), created_ms: now_ms, last_seen_ms: now_ms };
        self.change(|m| {
            if !m.users.contains_key(name) {
                return Err(AppError::Unauthenticated("wrong name or password".into()));
            }
            Ok((Change { put_sessions: vec![(hash, record)], ..Change::default() }, ()))
        })?;
        tracing::info!(user = name, "signed in");
        let principal = self.session_user(&hash, now_ms).ok_or_else(|| anyhow::anyhow!("the new session vanished"))?;
        Ok(SignedIn { id, principal })
    }

    /// Ends one session. Blocking.
    pub fn sign_out(&self, hash: [u8; 32]) -> Result<(), AppError> {
        self.change(|_| Ok((Change { remove_sessions: vec![hash], ..Change::default() }, ())))
    }

    /// Ends every session of `user`, except `keep` (the one changing its own password stays signed in).
    /// Blocking.
    pub fn end_sessions(&self, who: &Principal, user: &str, keep: Option<[u8; 32]>, why: &str) -> Result<usize, AppError> {
        self.change(|m| {
            let ended = sessions_of(m, user, keep);
            let n = ended.len();
            let entry = audit(who, "user.sign-out-everywhere", user, &format!("{why}: {n} sessions ended"));
            Ok((Change { remove_sessions: ended, audit: Some(entry), ..Change::default() }, n))
        })
    }
}

/// The session hashes of `user`, but `keep`.
pub(super) fn sessions_of(m: &super::Memory, user: &str, keep: Option<[u8; 32]>) -> Vec<[u8; 32]> {
    m.sessions.iter().filter(|(h, s)| s.user == user && Some(**h) != keep).map(|(h, _)| *h).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others_and_expiry_has_two_limits() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; sightline_session=abc123 ; x=y"));
        assert_eq!(from_headers(&h), Some("abc123"));
        h.insert(header::COOKIE, HeaderValue::from_static("sightline_session_x=1"));
        assert_eq!(from_headers(&h), None);
        let l = Lifetimes { idle_ms: 10, max_ms: 100 };
        let s = SessionRecord { user: "a".into(), created_ms: 0, last_seen_ms: 95 };
        assert!(l.alive(&s, 99));
        assert!(!l.alive(&s, 100), "absolute limit");
        assert!(!l.alive(&SessionRecord { last_seen_ms: 50, ..s.clone() }, 60), "idle limit");
        let c = set_cookie(&new_id(), 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"), "{c}");
        assert_ne!(hash("a"), hash("b"));
    }
}
