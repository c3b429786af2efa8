//! Who is asking: read from the request's credentials once, by the gate ([`super::routes`]), and handed to
//! handlers as the [`Principal`] extractor.
//!
//! Credentials, in order: `Authorization: Bearer <token>` (an API token, or the deprecated ingest token),
//! `Authorization: Share <token>` (a board share link), the `sightline_session` cookie. A request with none
//! is anonymous — or the demo admin when auto sign-in is on (`--demo` on a loopback address).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use sightline_model::{Role, SignedInVia, TokenScope};

use super::csrf::Strictness;
use super::{session, share, token, Auth};

/// The one asking; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials (a reader when anonymous viewers are on).
    Anonymous,
    /// No credentials, with auto sign-in on: acts as an admin.
    Demo,
    /// A signed-in user (session cookie).
    User { name: String, role: Role, session: [u8; 32], expires_ms: i64 },
    /// An API token.
    Token { id: String, name: String, scope: TokenScope },
    /// A board share link.
    Share { link_id: String, board_id: String },
    /// The deprecated `--ingest-token`: may only send traces.
    LegacyIngest,
}

impl Principal {
    /// The role this principal acts with; `None` when it has none (anonymous without anonymous viewers,
    /// ingest-only tokens, share links: those are allowed by their own rules).
    pub fn role(&self, anonymous_viewers: bool) -> Option<Role> {
        match self {
            Principal::Anonymous => anonymous_viewers.then_some(Role::Viewer),
            Principal::Demo => Some(Role::Admin),
            Principal::User { role, .. } => Some(*role),
            Principal::Token { scope, .. } => scope.role(),
            Principal::Share { .. } | Principal::LegacyIngest => None,
        }
    }

    /// How it signed in, for `GET /api/v1/auth/me`.
    pub fn via(&self) -> SignedInVia {
        match self {
            Principal::Anonymous => SignedInVia::Anonymous,
            Principal::Demo => SignedInVia::Demo,
            Principal::User { .. } => SignedInVia::Session,
            Principal::Token { .. } | Principal::LegacyIngest => SignedInVia::Token,
            Principal::Share { .. } => SignedInVia::Share,
        }
    }

    /// The name shown for it: a user's name, `token:<name>`, `demo`; what board revisions and the audit log
    /// record as the author.
    pub fn author(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Demo => "demo".into(),
            Principal::User { name, .. } => name.clone(),
            Principal::Token { name, .. } => format!("token:{name}"),
            Principal::Share { link_id, .. } => format!("share:{link_id}"),
            Principal::LegacyIngest => "ingest-token".into(),
        }
    }

    /// The name for `/auth/me` (`None` for anonymous and share links).
    pub fn display_name(&self) -> Option<String> {
        match self {
            Principal::Anonymous | Principal::Share { .. } => None,
            Principal::Token { name, .. } => Some(name.clone()),
            other => Some(other.author()),
        }
    }
}

/// Handlers take the principal the gate found; without the gate (never in the real router) it is anonymous.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned().unwrap_or(Principal::Anonymous))
    }
}

/// The client's address, for the per-address sign-in limit: the TCP peer, or behind a trusted proxy
/// (`--behind-proxy`) the last address of `X-Forwarded-For` (the one the proxy itself added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<crate::state::AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::state::AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if state.auth.config.behind_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        Ok(ClientAddr(peer))
    }
}

/// What the gate learned from a request's credentials.
#[derive(Debug, Clone)]
pub struct Identified {
    pub principal: Principal,
    /// Why credentials the request presented were not accepted (a revoked token, an expired session): the
    /// message of the 401 if the route needs more than the principal it fell back to.
    pub refused: Option<&'static str>,
    /// Whether an `Authorization` header was presented and refused: then only public routes answer.
    pub bad_authorization: bool,
    /// How strictly cross-site checks apply ([`super::csrf`]).
    pub strictness: Strictness,
}

impl Auth {
    /// Reads the request's credentials; see the module docs. Memory only: no disk on the request path.
    pub fn identify(&self, headers: &HeaderMap, now_ms: i64) -> Identified {
        let fallback = if self.config.auto_sign_in { Principal::Demo } else { Principal::Anonymous };
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let value = value.to_str().unwrap_or("").trim();
            let (scheme, credential) = value.split_once(' ').map_or((value, ""), |(s, c)| (s, c.trim()));
            let found = match scheme.to_ascii_lowercase().as_str() {
                "bearer" => self.bearer(credential, now_ms).ok_or("the token is not valid: mistyped, revoked or deleted"),
                "share" => self.shared(credential, now_ms).ok_or("the share link is not valid: it expired or was revoked"),
                _ => Err("unsupported Authorization: use `Bearer <token>` or `Share <link token>`"),
            };
            return match found {
                Ok(principal) => Identified { principal, refused: None, bad_authorization: false, strictness: Strictness::Exempt },
                Err(why) => Identified {
                    principal: Principal::Anonymous,
                    refused: Some(why),
                    bad_authorization: true,
                    strictness: Strictness::Exempt,
                },
            };
        }
        if let Some(id) = session::from_headers(headers) {
            if let Some(principal) = self.session_user(&session::hash(id), now_ms) {
                return Identified { principal, refused: None, bad_authorization: false, strictness: Strictness::Cookie };
            }
            return Identified {
                principal: fallback,
                refused: Some("your session has ended: sign in again"),
                bad_authorization: false,
                strictness: Strictness::NoCredentials,
            };
        }
        Identified { principal: fallback, refused: None, bad_authorization: false, strictness: Strictness::NoCredentials }
    }

    fn bearer(&self, secret: &str, now_ms: i64) -> Option<Principal> {
        if let Some(legacy) = self.config.legacy_ingest_token.as_deref() {
            if token::constant_time_eq(secret.as_bytes(), legacy.as_bytes()) {
                return Some(Principal::LegacyIngest);
            }
        }
        if !secret.starts_with(token::PREFIX) {
            return None;
        }
        let t = self.use_token(&token::hash_hex(secret), now_ms)?;
        Some(Principal::Token { id: t.id, name: t.name, scope: t.scope })
    }

    fn shared(&self, token: &str, now_ms: i64) -> Option<Principal> {
        let claim = share::verify(&self.share_key, token)?;
        if claim.expires_ms <= now_ms || !self.share_exists(&claim.link_id, &claim.board_id) {
            return None;
        }
        Some(Principal::Share { link_id: claim.link_id, board_id: claim.board_id })
    }
}
