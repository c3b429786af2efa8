//! Sign-in, roles and tokens: who may do what (docs/AUTH.md).
//!
//! One concept per file: `store` (the `<data_dir>/auth` database), `password` (argon2id), `session`
//! (cookie sessions, sign-in and sign-out), `users`, `token` (API tokens), `share` (board share links),
//! `principal` (who is asking), `rules` (what each route requires), `routes` (the route builder that
//! records a rule for every route, and the gate that enforces it), `csrf`, `rate_limit` (sign-in
//! failures), `tls` (serving HTTPS), `cli` (`sightline user …`).
//!
//! Users, sessions, tokens, share links and settings are few: they are read into memory at start, so
//! deciding a request never touches the disk. Every change is written to the database (fsynced, with its
//! audit entry) on the blocking pool before memory and the answer reflect it.

pub mod cli;
pub mod csrf;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod routes;
pub mod rules;
pub mod session;
pub mod share;
pub mod store;
pub mod tls;
pub mod token;
pub mod users;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{header, HeaderMap, Uri};
use sightline_model::{AuditEntry, AuthSettings, Me};

pub use principal::{ClientAddr, Principal};
pub use routes::{gate, Gate, RouteRule, Routes};
pub use rules::Rule;
use store::{AuthDb, Change, OpenError, SessionRecord, ShareRecord, TokenRecord, UserRecord};

use crate::config::ServeArgs;
use crate::error::AppError;

/// How often last-used times are saved and ended sessions dropped.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// A session's last-seen time is moved at most this often (it only has to be right to the minute).
const TOUCH_EVERY_MS: i64 = 30_000;

/// The serve options that concern access; see `ServeArgs`.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Requests without credentials act as an admin (`--auto-sign-in`; loopback only).
    pub auto_sign_in: bool,
    pub lifetimes: session::Lifetimes,
    /// The server itself serves HTTPS: cookies are `Secure`.
    pub tls: bool,
    /// Trust `X-Forwarded-For`, `-Proto` and `-Host` from a reverse proxy in front.
    pub behind_proxy: bool,
    /// The deprecated `--ingest-token`.
    pub legacy_ingest_token: Option<String>,
}

impl AuthConfig {
    /// From the serve options; refuses auto sign-in on an address other machines can reach.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        // Both listeners: a request without credentials on the OTLP/gRPC port is signed in the same way.
        let grpc = args.otlp_grpc_addr.0.filter(|a| !a.ip().is_loopback());
        let loopback = args.addr.ip().is_loopback() && grpc.is_none();
        let auto_sign_in = match args.auto_sign_in {
            Some(true) if !loopback => anyhow::bail!(
                "--auto-sign-in signs every visitor in as an admin, so it only works on loopback addresses \
                 (127.0.0.1 or [::1]), not on {}: leave it off and sign in (or let an admin turn on anonymous viewers)",
                match grpc {
                    Some(g) => format!("{g} (--otlp-grpc-addr)"),
                    None => format!("{} (--addr)", args.addr),
                }
            ),
            Some(on) => on,
            None => args.demo && loopback,
        };
        Ok(AuthConfig {
            auto_sign_in,
            lifetimes: session::Lifetimes {
                idle_ms: (args.session_idle_secs.max(1) as i64).saturating_mul(1000),
                max_ms: (args.session_max_secs.max(1) as i64).saturating_mul(1000),
            },
            tls: args.tls_cert.is_some(),
            behind_proxy: args.behind_proxy,
            legacy_ingest_token: args.ingest_token.clone().filter(|t| !t.is_empty()),
        })
    }
}

/// What is kept in memory; mirrors the database (see [`Memory::apply`]).
#[derive(Default)]
struct Memory {
    users: HashMap<String, UserRecord>,
    sessions: HashMap<[u8; 32], SessionRecord>,
    tokens: HashMap<String, TokenRecord>,
    /// Token id by the hash of its secret.
    token_by_hash: HashMap<String, String>,
    shares: HashMap<String, ShareRecord>,
    settings: AuthSettings,
    /// Sessions and tokens whose last-seen/last-used time moved since the last save.
    dirty_sessions: HashSet<[u8; 32]>,
    dirty_tokens: HashSet<String>,
}

impl Memory {
    fn apply(&mut self, c: Change) {
        for u in c.remove_users {
            self.users.remove(&u);
        }
        for u in c.put_users {
            self.users.insert(u.name.clone(), u);
        }
        for h in c.remove_sessions {
            self.sessions.remove(&h);
            self.dirty_sessions.remove(&h);
        }
        for (h, s) in c.put_sessions {
            self.sessions.insert(h, s);
        }
        for id in c.remove_tokens {
            if let Some(t) = self.tokens.remove(&id) {
                self.token_by_hash.remove(&t.hash);
            }
            self.dirty_tokens.remove(&id);
        }
        for t in c.put_tokens {
            self.token_by_hash.insert(t.hash.clone(), t.id.clone());
            self.tokens.insert(t.id.clone(), t);
        }
        for id in c.remove_shares {
            self.shares.remove(&id);
        }
        for s in c.put_shares {
            self.shares.insert(s.id.clone(), s);
        }
        if let Some(s) = c.settings {
            self.settings = s;
        }
    }
}

/// Users, sessions, tokens, share links and settings; see the module docs.
pub struct Auth {
    db: AuthDb,
    mem: Mutex<Memory>,
    /// Serialises changes, so a check (e.g. "the last admin") and its write cannot interleave with another.
    write: Mutex<()>,
    share_key: [u8; 32],
    pub config: AuthConfig,
    pub limiter: rate_limit::SignInLimiter,
}

impl Auth {
    /// Opens `<dir>` (`<data_dir>/auth`) and reads it into memory. Blocking: call on the blocking pool.
    pub fn open(dir: &Path, config: AuthConfig) -> Result<Self, OpenError> {
        let db = AuthDb::open(dir)?;
        let snapshot = db.load()?;
        let share_key = db.share_secret()?;
        let mut mem = Memory { settings: snapshot.settings, ..Memory::default() };
        mem.apply(Change {
            put_users: snapshot.users,
            put_sessions: snapshot.sessions,
            put_tokens: snapshot.tokens,
            put_shares: snapshot.shares,
            ..Change::default()
        });
        Ok(Auth { db, mem: Mutex::new(mem), write: Mutex::new(()), share_key, config, limiter: Default::default() })
    }

    fn mem(&self) -> MutexGuard<'_, Memory> {
        self.mem.lock().expect("auth memory lock")
    }

    /// Checks with `plan` (under the write lock), writes what it returns, then applies it in memory. Blocking.
    fn change<T>(&self, plan: impl FnOnce(&Memory) -> Result<(Change, T), AppError>) -> Result<T, AppError> {
        crate::blocking::assert_off_runtime();
        let _w = self.write.lock().expect("auth write lock");
        let (change, out) = plan(&self.mem())?;
        self.db.apply(&change)?;
        self.mem().apply(change);
        Ok(out)
    }

    /// The current settings.
    pub fn settings(&self) -> AuthSettings {
        self.mem().settings.clone()
    }

    /// Changes the settings (admin). Blocking.
    pub fn update_settings(&self, who: &Principal, settings: AuthSettings) -> Result<AuthSettings, AppError> {
        self.change(|_| {
            let entry = audit(who, "settings.update", "settings", &format!("anonymous_viewers {}", settings.anonymous_viewers));
            Ok((Change { settings: Some(settings.clone()), audit: Some(entry), ..Change::default() }, settings))
        })
    }

    /// Appends an audit entry on its own (board changes). Blocking.
    pub fn record(&self, who: &Principal, action: &str, target: &str, detail: &str) -> Result<(), AppError> {
        self.change(|_| Ok((Change { audit: Some(audit(who, action, target, detail)), ..Change::default() }, ())))
    }

    /// The newest `limit` audit entries at or before `before_ms`. Blocking.
    pub fn audit(&self, before_ms: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>, AppError> {
        Ok(self.db.audit(before_ms, limit)?)
    }

    /// The answer of `GET /api/v1/auth/me` for `p`.
    pub fn me(&self, p: &Principal) -> Me {
        let anonymous_viewers = self.settings().anonymous_viewers;
        Me {
            via: p.via(),
            name: p.display_name(),
            role: p.role(anonymous_viewers),
            share_board: match p {
                Principal::Share { board_id, .. } => Some(board_id.clone()),
                _ => None,
            },
            anonymous_viewers,
            expires_ms: match p {
                Principal::User { expires_ms, .. } => Some(*expires_ms),
                _ => None,
            },
        }
    }

    /// The request's own `host[:port]`, which a same-site `Origin` names.
    pub fn request_host(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        let forwarded = self.config.behind_proxy.then(|| headers.get("x-forwarded-host")).flatten();
        forwarded
            .or_else(|| headers.get(header::HOST))
            .and_then(|v| v.to_str().ok())
            .map(|h| h.split(',').next().unwrap_or("").trim().to_string())
            .or_else(|| uri.authority().map(|a| a.to_string()))
            .filter(|h| !h.is_empty())
    }

    /// Whether cookies get `Secure`: served over TLS, by this server or by a trusted proxy.
    pub fn secure_cookies(&self, headers: &HeaderMap) -> bool {
        self.config.tls
            || (self.config.behind_proxy
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
    }

    /// Saves last-seen/last-used times and drops ended sessions. Blocking.
    pub fn save_usage(&self, now_ms: i64) -> anyhow::Result<()> {
        crate::blocking::assert_off_runtime();
        let _w = self.write.lock().expect("auth write lock");
        let (sessions, tokens, ended) = {
            let mut m = self.mem();
            let lifetimes = self.config.lifetimes;
            let ended: Vec<[u8; 32]> = m.sessions.iter().filter(|(_, s)| !lifetimes.alive(s, now_ms)).map(|(h, _)| *h).collect();
            let dirty: Vec<[u8; 32]> = m.dirty_sessions.drain().collect();
            let sessions = dirty.iter().filter_map(|h| m.sessions.get(h).map(|s| (*h, s.clone()))).collect::<Vec<_>>();
            let dirty: Vec<String> = m.dirty_tokens.drain().collect();
            let tokens = dirty.iter().filter_map(|id| m.tokens.get(id).cloned()).collect::<Vec<_>>();
            (sessions, tokens, ended)
        };
        self.db.save_usage(&sessions, &tokens)?;
        if !ended.is_empty() {
            let change = Change { remove_sessions: ended, ..Change::default() };
            self.db.apply(&change)?;
            self.mem().apply(change);
        }
        Ok(())
    }

    /// Saves usage every minute, on the blocking pool; stops with the runtime.
    pub fn spawn_maintenance(self: &Arc<Self>) {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let a = auth.clone();
                if let Err(e) = crate::blocking::run("saving sign-in usage", move || a.save_usage(crate::store::now_ms())).await {
                    tracing::error!(error = %e, "saving last-used times failed");
                }
            }
        });
    }

    /// Saves usage and makes everything durable (shutdown). Blocking.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.save_usage(crate::store::now_ms())?;
        self.db.flush()
    }
}

/// An audit entry made now by `who`.
fn audit(who: &Principal, action: &str, target: &str, detail: &str) -> AuditEntry {
    audit_by(&who.author(), action, target, detail)
}

fn audit_by(who: &str, action: &str, target: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        at_ms: crate::store::now_ms(),
        who: who.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.to_string(),
    }
}

/// Opens the auth database for `serve`: on a new data directory creates the first admin and prints its
/// password once (to stderr, whatever the log level), and warns about the deprecated ingest token.
pub async fn open_for_serve(args: &ServeArgs) -> anyhow::Result<Arc<Auth>> {
    let config = AuthConfig::from_args(args)?;
    if config.legacy_ingest_token.is_some() {
        tracing::warn!(
            "--ingest-token / SIGHTLINE_INGEST_TOKEN is deprecated: create an ingest-only API token \
             (POST /api/v1/tokens with scope \"ingest\") and send it as Authorization: Bearer <token>"
        );
    }
    let dir = args.data_dir.join("auth");
    let admin_password = args.admin_password.clone().or_else(|| std::env::var("SIGHTLINE_ADMIN_PASSWORD").ok()).filter(|p| !p.is_empty());
    let auto = config.auto_sign_in;
    let (auth, generated) = crate::blocking::run("opening the auth database", move || {
        let auth = Auth::open(&dir, config).map_err(|e| match e {
            OpenError::Locked(d) => anyhow::anyhow!("the auth database in {d} is in use: is another Sightline server running on this data directory?"),
            OpenError::Other(e) => e,
        })?;
        let generated = auth.bootstrap(admin_password, crate::store::now_ms())?;
        anyhow::Ok((auth, generated))
    })
    .await?;
    if let Some(pw) = generated {
        // Printed, not logged: the one place the password appears, once; a second start prints nothing.
        eprintln!(
            "\nSightline created the first user on this data directory:\n    name: {}\n    password: {pw}\n\
             Sign in with it and change it (Users page, or `sightline user passwd {}`). It is not shown again.\n",
            users::FIRST_ADMIN,
            users::FIRST_ADMIN
        );
    }
    if auto {
        tracing::info!("auto sign-in is on: requests without credentials act as the demo admin (loopback only)");
    }
    let auth = Arc::new(auth);
    auth.spawn_maintenance();
    Ok(auth)
}
