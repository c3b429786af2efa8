//! API tokens for automation and ingest: `slt_` followed by 32 random bytes in hex, shown once when
//! created and stored only as their SHA-256 (a fast hash is right here: the secret is random, not a
//! password, so there is nothing to guess). Sent as `Authorization: Bearer slt_…`.
//!
//! The deprecated single ingest token (`--ingest-token`) is checked here too, in constant time.

use sha2::{Digest, Sha256};
use sightline_model::{CreatedToken, NewToken, TokenInfo};

use super::store::{Change, TokenRecord};
use super::{audit, Auth, Principal};
use crate::error::AppError;

/// Longest token name.
pub const MAX_NAME_LEN: usize = 100;

/// Every token starts with this, so a leaked one is recognisable (secret scanners, log reviews).
pub const PREFIX: &str = "slt_";

/// A new secret.
pub fn new_secret() -> String {
    format!("{PREFIX}{}", const_hex::encode(rand::random::<[u8; 32]>()))
}

/// A new token id: what lists show and `DELETE /api/v1/tokens/{id}` takes.
pub fn new_id() -> String {
    const_hex::encode(rand::random::<[u8; 8]>())
}

/// What the server stores instead of the secret.
pub fn hash_hex(secret: &str) -> String {
    const_hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares without stopping at the first differing byte, so timing does not tell how much of a guess
/// was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(a.len() ^ b.len(), |acc, (x, y)| acc | (*x ^ *y) as usize);
    diff == 0
}

fn info(t: &TokenRecord) -> TokenInfo {
    TokenInfo {
        id: t.id.clone(),
        name: t.name.clone(),
        scope: t.scope,
        created_ms: t.created_ms,
        created_by: t.created_by.clone(),
        last_used_ms: t.last_used_ms,
    }
}

impl Auth {
    /// The token whose secret hashes to `hash`, marking it used now (in memory; saved every minute).
    pub(super) fn use_token(&self, hash: &str, now_ms: i64) -> Option<TokenRecord> {
        let mut m = self.mem();
        let id = m.token_by_hash.get(hash)?.clone();
        let t = m.tokens.get_mut(&id)?;
        t.last_used_ms = Some(now_ms);
        let t = t.clone();
        m.dirty_tokens.insert(id);
        Some(t)
    }

    /// Every token, newest first.
    pub fn list_tokens(&self) -> Vec<TokenInfo> {
        let mut out: Vec<TokenInfo> = self.mem().tokens.values().map(info).collect();
        out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Creates a token; its secret is in the answer and nowhere else. Blocking.
    pub fn create_token(&self, who: &Principal, new: NewToken, now_ms: i64) -> Result<CreatedToken, AppError> {
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(AppError::BadRequest(format!("a token's name is 1 to {MAX_NAME_LEN} printable characters")));
        }
        let secret = new_secret();
        let record = TokenRecord {
            id: new_id(),
            name,
            scope: new.scope,
            hash: hash_hex(&secret),
            created_ms: now_ms,
            created_by: who.author(),
            last_used_ms: None,
        };
        let out = CreatedToken { token: info(&record), secret };
        self.change(|_| {
            let entry = audit(who, "token.create", &record.id, &format!("{:?}, scope {}", record.name, record.scope.as_str()));
            Ok((Change { put_tokens: vec![record], audit: Some(entry), ..Change::default() }, out))
        })
    }

    /// Revokes (deletes) a token: requests with it are refused from now on. Blocking.
    pub fn revoke_token(&self, who: &Principal, id: &str) -> Result<(), AppError> {
        self.change(|m| {
            let t = m.tokens.get(id).ok_or_else(|| AppError::NotFound(format!("no token {id:?}")))?;
            let entry = audit(who, "token.revoke", id, &format!("{:?}", t.name));
            Ok((Change { remove_tokens: vec![id.to_string()], audit: Some(entry), ..Change::default() }, ()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = new_secret();
        assert!(a.starts_with(PREFIX) && a.len() == 4 + 64, "{a}");
        assert_ne!(a, new_secret());
        assert_eq!(hash_hex(&a).len(), 64);
        assert!(!hash_hex(&a).contains(&a[4..]));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}
