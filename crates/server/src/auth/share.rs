//! Read-only share links of one board. The token is `<link id>.<board id>.<expiry ms>.<signature>`, the
//! signature an HMAC-SHA256 of the first three parts under a key made at the server's first start (kept in
//! the auth database, never shown). A link works while its signature is right, it has not expired, and
//! its id is still stored (revoking deletes it). The app opens `/boards/{id}?share=<token>` and sends the
//! token to the API as `Authorization: Share <token>`. What a link may read: docs/AUTH.md.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sightline_model::{CreatedShare, ShareInfo};

use super::store::{Change, ShareRecord};
use super::{audit, Auth, Principal};
use crate::error::AppError;

/// Default lifetime of a link, in seconds.
pub const DEFAULT_SECS: u64 = 7 * 24 * 3600;
/// Longest lifetime of a link, in seconds.
pub const MAX_SECS: u64 = 365 * 24 * 3600;

/// What a correctly signed token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub link_id: String,
    pub board_id: String,
    pub expires_ms: i64,
}

fn mac(key: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(payload.as_bytes());
    m
}

/// The token of a link.
pub fn sign(key: &[u8; 32], c: &Claim) -> String {
    let payload = format!("{}.{}.{}", c.link_id, c.board_id, c.expires_ms);
    let sig = const_hex::encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// The claim of a token whose signature is right (expiry and revocation are the caller's to check).
pub fn verify(key: &[u8; 32], token: &str) -> Option<Claim> {
    let (payload, sig) = token.rsplit_once('.')?;
    let sig = const_hex::decode(sig).ok()?;
    mac(key, payload).verify_slice(&sig).ok()?;
    let mut parts = payload.split('.');
    let (link_id, board_id, expires) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Claim { link_id: link_id.into(), board_id: board_id.into(), expires_ms: expires.parse().ok()? })
}

fn info(s: &ShareRecord) -> ShareInfo {
    ShareInfo {
        id: s.id.clone(),
        board_id: s.board_id.clone(),
        created_ms: s.created_ms,
        created_by: s.created_by.clone(),
        expires_ms: s.expires_ms,
    }
}

impl Auth {
    /// Whether link `id` of `board_id` is still stored (not revoked).
    pub(super) fn share_exists(&self, id: &str, board_id: &str) -> bool {
        self.mem().shares.get(id).is_some_and(|s| s.board_id == board_id)
    }

    /// A new link to `board_id` (the caller checked that the board exists), working for `secs`. Blocking.
    pub fn create_share(&self, who: &Principal, board_id: &str, secs: Option<u64>, now_ms: i64) -> Result<CreatedShare, AppError> {
        let secs = secs.unwrap_or(DEFAULT_SECS);
        if secs == 0 || secs > MAX_SECS {
            return Err(AppError::BadRequest(format!("a share link works for 1 to {MAX_SECS} seconds (365 days)")));
        }
        let record = ShareRecord {
            id: const_hex::encode(rand::random::<[u8; 8]>()),
            board_id: board_id.to_string(),
            created_ms: now_ms,
            created_by: who.author(),
            expires_ms: now_ms + secs as i64 * 1000,
        };
        let claim = Claim { link_id: record.id.clone(), board_id: record.board_id.clone(), expires_ms: record.expires_ms };
        let token = sign(&self.share_key, &claim);
        let path = format!("/boards/{board_id}?share={token}");
        let out = CreatedShare { share: info(&record), token, path };
        self.change(|_| {
            let entry = audit(who, "share.create", &record.id, &format!("board {board_id}, expires in {secs} s"));
            Ok((Change { put_shares: vec![record], audit: Some(entry), ..Change::default() }, out))
        })
    }

    /// The links of a board, newest first.
    pub fn list_shares(&self, board_id: &str) -> Vec<ShareInfo> {
        let mut out: Vec<ShareInfo> = self.mem().shares.values().filter(|s| s.board_id == board_id).map(info).collect();
        out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Revokes one link. Blocking.
    pub fn revoke_share(&self, who: &Principal, id: &str) -> Result<(), AppError> {
        self.change(|m| {
            let s = m.shares.get(id).ok_or_else(|| AppError::NotFound(format!("no share link {id:?}")))?;
            let entry = audit(who, "share.revoke", id, &format!("board {}", s.board_id));
            Ok((Change { remove_shares: vec![id.to_string()], audit: Some(entry), ..Change::default() }, ()))
        })
    }

    /// Revokes every link of a deleted board, so a board made later with the same id is not shared by them.
    /// Blocking.
    pub fn revoke_board_shares(&self, who: &Principal, board_id: &str) -> Result<(), AppError> {
        self.change(|m| {
            let ids: Vec<String> = m.shares.values().filter(|s| s.board_id == board_id).map(|s| s.id.clone()).collect();
            let entry = (!ids.is_empty()).then(|| audit(who, "share.revoke", board_id, &format!("board deleted: {} links", ids.len())));
            Ok((Change { remove_shares: ids, audit: entry, ..Change::default() }, ()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_unchanged_and_under_their_key() {
        let key = [7u8; 32];
        let c = Claim { link_id: "ab12".into(), board_id: "apm-overview-1".into(), expires_ms: 1_000 };
        let t = sign(&key, &c);
        assert_eq!(verify(&key, &t), Some(c.clone()));
        assert_eq!(verify(&[8u8; 32], &t), None, "another server's key");
        let forged = t.replace("apm-overview-1", "apm-overview-2");
        assert_eq!(verify(&key, &forged), None, "another board");
        let later = t.replace(".1000.", ".9999999.");
        assert_eq!(verify(&key, &later), None, "a later expiry");
        assert_eq!(verify(&key, "garbage"), None);
    }
}
