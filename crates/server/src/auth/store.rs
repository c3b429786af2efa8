//! The auth database, `<data_dir>/auth`: its own fjall database, apart from the trace store and the boards,
//! so retention never sees it and the command line (`sightline user …`) can open it alone. Keyspaces:
//!
//! - `users`: name → [`UserRecord`] (JSON, with the argon2id PHC string);
//! - `sessions`: SHA-256 of the session id → [`SessionRecord`] (the id itself is only in the cookie);
//! - `tokens`: token id → [`TokenRecord`] (SHA-256 of the secret, never the secret);
//! - `shares`: link id → [`ShareRecord`];
//! - `settings`: `settings` → [`AuthSettings`], `share_secret` → the 32-byte HMAC key of share links;
//! - `audit`: time (ms, BE) ‖ sequence (BE) → [`AuditEntry`], so iteration is in time order.
//!
//! Every change is one batch (the change and its audit entry together), fsynced before the caller answers.
//! Last-seen and last-used times are the exception: saved by [`AuthDb::save_usage`] every minute and at
//! shutdown without an fsync of their own, since losing a minute of them costs nothing.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sightline_model::{AuditEntry, AuthSettings, Role, TokenScope};

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub phc: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A session as stored, under the SHA-256 of its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

/// An API token as stored: the hash of its secret, never the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    /// SHA-256 of the whole secret (`slt_…`), hex.
    pub hash: String,
    pub created_ms: i64,
    pub created_by: String,
    pub last_used_ms: Option<i64>,
}

/// A board share link as stored (its token is derived from these fields and the server's key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareRecord {
    pub id: String,
    pub board_id: String,
    pub created_ms: i64,
    pub created_by: String,
    pub expires_ms: i64,
}

/// Everything the auth database holds except the audit log, read once at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<UserRecord>,
    pub sessions: Vec<([u8; 32], SessionRecord)>,
    pub tokens: Vec<TokenRecord>,
    pub shares: Vec<ShareRecord>,
    pub settings: AuthSettings,
}

/// One change to write: records to put or remove, in one batch with an audit entry.
#[derive(Default)]
pub struct Change {
    pub put_users: Vec<UserRecord>,
    pub remove_users: Vec<String>,
    pub put_sessions: Vec<([u8; 32], SessionRecord)>,
    pub remove_sessions: Vec<[u8; 32]>,
    pub put_tokens: Vec<TokenRecord>,
    pub remove_tokens: Vec<String>,
    pub put_shares: Vec<ShareRecord>,
    pub remove_shares: Vec<String>,
    pub settings: Option<AuthSettings>,
    pub audit: Option<AuditEntry>,
}

/// The open auth database; see the module docs.
pub struct AuthDb {
    db: Database,
    users: Keyspace,
    sessions: Keyspace,
    tokens: Keyspace,
    shares: Keyspace,
    settings: Keyspace,
    audit: Keyspace,
    /// Tells apart audit entries written in the same millisecond.
    audit_seq: AtomicU64,
}

/// Why the auth database could not be opened: the one case a person can fix is told apart.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (a running server) holds the database.
    #[error("the auth database in {0} is in use by another process (a running server?)")]
    Locked(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn encode<T: Serialize>(v: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(v).context("encoding an auth record")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).context("decoding an auth record")
}

fn all<T: DeserializeOwned>(ks: &Keyspace) -> anyhow::Result<Vec<(Vec<u8>, T)>> {
    let mut out = Vec::new();
    for kv in ks.iter() {
        let (k, v) = kv.into_inner()?;
        out.push((k.to_vec(), decode(&v)?));
    }
    Ok(out)
}

impl AuthDb {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        crate::blocking::assert_off_runtime();
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // A handful of small records: one background worker and a small cache.
        let db = match Database::builder(dir).worker_threads(1).cache_size(2 * 1024 * 1024).open() {
            Ok(db) => db,
            Err(fjall::Error::Locked) => return Err(OpenError::Locked(dir.display().to_string())),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot open the auth database in {}", dir.display())).into())
            }
        };
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default).with_context(|| format!("keyspace {name}"));
        Ok(AuthDb {
            users: ks("users")?,
            sessions: ks("sessions")?,
            tokens: ks("tokens")?,
            shares: ks("shares")?,
            settings: ks("settings")?,
            audit: ks("audit")?,
            db,
            audit_seq: AtomicU64::new(0),
        })
    }

    /// Reads everything but the audit log.
    pub fn load(&self) -> anyhow::Result<Snapshot> {
        crate::blocking::assert_off_runtime();
        let mut sessions = Vec::new();
        for (k, s) in all::<SessionRecord>(&self.sessions)? {
            match <[u8; 32]>::try_from(k.as_slice()) {
                Ok(hash) => sessions.push((hash, s)),
                Err(_) => tracing::warn!("skipping a malformed session key in the auth database"),
            }
        }
        Ok(Snapshot {
            users: all(&self.users)?.into_iter().map(|(_, v)| v).collect(),
            sessions,
            tokens: all(&self.tokens)?.into_iter().map(|(_, v)| v).collect(),
            shares: all(&self.shares)?.into_iter().map(|(_, v)| v).collect(),
            settings: match self.settings.get("settings")? {
                Some(v) => decode(&v)?,
                None => AuthSettings::default(),
            },
        })
    }

    /// The HMAC key of share links: made at the first start (32 random bytes) and kept here.
    pub fn share_secret(&self) -> anyhow::Result<[u8; 32]> {
        crate::blocking::assert_off_runtime();
        if let Some(v) = self.settings.get("share_secret")? {
            return <[u8; 32]>::try_from(&v[..]).map_err(|_| anyhow::anyhow!("the stored share-link key is malformed"));
        }
        let key: [u8; 32] = rand::random();
        self.settings.insert("share_secret", key)?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(key)
    }

    /// Writes `change` as one batch and fsyncs it.
    pub fn apply(&self, change: &Change) -> anyhow::Result<()> {
        crate::blocking::assert_off_runtime();
        let mut batch = self.db.batch();
        for u in &change.put_users {
            batch.insert(&self.users, u.name.as_str(), encode(u)?);
        }
        for name in &change.remove_users {
            batch.remove(&self.users, name.as_str());
        }
        for (hash, s) in &change.put_sessions {
            batch.insert(&self.sessions, hash.as_slice(), encode(s)?);
        }
        for hash in &change.remove_sessions {
            batch.remove(&self.sessions, hash.as_slice());
        }
        for t in &change.put_tokens {
            batch.insert(&self.tokens, t.id.as_str(), encode(t)?);
        }
        for id in &change.remove_tokens {
            batch.remove(&self.tokens, id.as_str());
        }
        for s in &change.put_shares {
            batch.insert(&self.shares, s.id.as_str(), encode(s)?);
        }
        for id in &change.remove_shares {
            batch.remove(&self.shares, id.as_str());
        }
        if let Some(settings) = &change.settings {
            batch.insert(&self.settings, "settings", encode(settings)?);
        }
        if let Some(entry) = &change.audit {
            self.add_audit(&mut batch, entry)?;
        }
        batch.commit().context("writing to the auth database")?;
        self.db.persist(PersistMode::SyncAll).context("persisting the auth database")?;
        Ok(())
    }

    fn add_audit(&self, batch: &mut OwnedWriteBatch, entry: &AuditEntry) -> anyhow::Result<()> {
        let mut key = Vec::with_capacity(16);
        key.extend_from_slice(&entry.at_ms.to_be_bytes());
        key.extend_from_slice(&self.audit_seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        batch.insert(&self.audit, key, encode(entry)?);
        Ok(())
    }

    /// Saves last-seen and last-used times (no fsync: the next fsynced change or shutdown carries them).
    pub fn save_usage(&self, sessions: &[([u8; 32], SessionRecord)], tokens: &[TokenRecord]) -> anyhow::Result<()> {
        crate::blocking::assert_off_runtime();
        if sessions.is_empty() && tokens.is_empty() {
            return Ok(());
        }
        let mut batch = self.db.batch();
        for (hash, s) in sessions {
            batch.insert(&self.sessions, hash.as_slice(), encode(s)?);
        }
        for t in tokens {
            batch.insert(&self.tokens, t.id.as_str(), encode(t)?);
        }
        batch.commit().context("saving last-used times")?;
        Ok(())
    }

    /// The newest `limit` audit entries at or before `before_ms`, newest first.
    pub fn audit(&self, before_ms: Option<i64>, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        crate::blocking::assert_off_runtime();
        let end = before_ms.unwrap_or(i64::MAX);
        let mut upper = end.to_be_bytes().to_vec();
        upper.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut out = Vec::new();
        // Times are non-negative, so big-endian bytes sort like the numbers.
        for kv in self.audit.range(..=upper).rev().take(limit) {
            let (_, v) = kv.into_inner()?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    /// Makes everything durable (shutdown).
    pub fn flush(&self) -> anyhow::Result<()> {
        crate::blocking::assert_off_runtime();
        self.db.persist(PersistMode::SyncAll).context("persisting the auth database")
    }
}
