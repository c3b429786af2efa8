//! Sign-in, users, API tokens, share links, settings and the audit log: the JSON of `/api/v1/auth/*`,
//! `/users`, `/tokens`, `/shares`, `/boards/{id}/share(s)`, `/settings` and `/audit` (docs/AUTH.md).
//! Secrets appear in exactly two answers, once: a new token's `secret` and a new share link's `token`
//! (and a generated password when a user is created without one).

use serde::{Deserialize, Serialize};

/// What a person may do. Ordered: every role can do what the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Boards (and later alert rules, silences, saved cube queries).
    Editor,
    /// Users, tokens, settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a role: use viewer, editor or admin"))
    }
}

/// What an API token may do: act with a role, or only send traces (`POST /v1/traces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Viewer,
    Editor,
    Admin,
    /// Only `POST /v1/traces`: what an OpenTelemetry exporter or collector needs.
    Ingest,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Viewer => "viewer",
            TokenScope::Editor => "editor",
            TokenScope::Admin => "admin",
            TokenScope::Ingest => "ingest",
        }
    }

    /// The role the token acts with; `None` for ingest-only.
    pub fn role(self) -> Option<Role> {
        match self {
            TokenScope::Viewer => Some(Role::Viewer),
            TokenScope::Editor => Some(Role::Editor),
            TokenScope::Admin => Some(Role::Admin),
            TokenScope::Ingest => None,
        }
    }
}

/// Body of `POST /api/v1/auth/sign-in`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// Body of `POST /api/v1/auth/password`: a signed-in user changes their own password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// How the request that asked `GET /api/v1/auth/me` was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignedInVia {
    /// Nobody: only public routes, or reading when anonymous viewers are on.
    Anonymous,
    /// The `sightline_session` cookie of a signed-in user.
    Session,
    /// `Authorization: Bearer slt_…`.
    Token,
    /// `Authorization: Share …`: a read-only link to one board.
    Share,
    /// `--demo` / `--auto-sign-in` on a loopback address: every request without credentials is an admin.
    Demo,
}

/// Answer of `GET /api/v1/auth/me`: what the app needs at start to decide what to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub via: SignedInVia,
    /// The user's name (session), the token's name (token), `demo` (demo); `None` when anonymous or shared.
    pub name: Option<String>,
    /// What this request may do; `None` when it may read nothing (anonymous without anonymous viewers, an
    /// ingest-only token) or only one board (a share link).
    pub role: Option<Role>,
    /// The board a share link opens (`via = share`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_board: Option<String>,
    /// An admin turned on reading without signing in.
    pub anonymous_viewers: bool,
    /// The session's absolute expiry (`via = session`), ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// One user, as admins see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Answer of `GET /api/v1/users`, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserInfo>,
}

/// Body of `POST /api/v1/users`. Without `password`, one is generated and answered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub password: Option<String>,
}

/// Answer of `POST /api/v1/users` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedUser {
    pub user: UserInfo,
    /// The generated password, shown this once; `None` when the request gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

/// Body of `PUT /api/v1/users/{name}`: either or both. A new password signs the user out everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdate {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub password: Option<String>,
}

/// One API token, as admins see it (never the secret or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    pub created_ms: i64,
    pub created_by: String,
    /// Last request made with it (kept in memory, saved every minute and at shutdown).
    pub last_used_ms: Option<i64>,
}

/// Answer of `GET /api/v1/tokens`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
}

/// Answer of `POST /api/v1/tokens` (201): the secret (`slt_…`) is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: TokenInfo,
    pub secret: String,
}

/// One share link of a board (never its signed token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: String,
    pub board_id: String,
    pub created_ms: i64,
    pub created_by: String,
    pub expires_ms: i64,
}

/// Answer of `GET /api/v1/boards/{id}/shares`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareList {
    pub shares: Vec<ShareInfo>,
}

/// Body of `POST /api/v1/boards/{id}/share` (optional): how long the link works, in seconds (default 7
/// days, at most 365 days).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShare {
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// Answer of `POST /api/v1/boards/{id}/share` (201). `token` goes in `Authorization: Share <token>`;
/// `path` is the app's URL for it (`/boards/{id}?share=<token>`), to put after the server's origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedShare {
    pub share: ShareInfo,
    pub token: String,
    pub path: String,
}

/// `GET/PUT /api/v1/settings` (admin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettings {
    /// Let people who are not signed in read everything a viewer can (never change anything).
    #[serde(default)]
    pub anonymous_viewers: bool,
}

/// One change to users, tokens, share links, settings or boards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// Who: a user's name, `token:<name>`, `demo`, or `cli` for the command line.
    pub who: String,
    /// What, e.g. `user.create`, `token.revoke`, `share.create`, `settings.update`, `board.delete`.
    pub action: String,
    /// What it was done to: a user's name, a token's or link's id, a board's id.
    pub target: String,
    /// A short description (never a secret), e.g. `role editor`.
    #[serde(default)]
    pub detail: String,
}

/// Answer of `GET /api/v1/audit`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}
