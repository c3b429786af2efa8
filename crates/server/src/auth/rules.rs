//! Access rules: what each route requires, and the one function that decides. The table of which route has
//! which rule is built with the router (`crate::app`); docs/AUTH.md lists it.

use sightline_model::Role;

use super::Principal;
use crate::error::AppError;

/// What a route requires. Roles are ordered: viewer < editor < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Anyone: health, sign-in, who-am-I (and the app's own files, which are not API routes).
    Public,
    /// A signed-in user with a session: sign-out, changing one's own password.
    Session,
    /// Viewer or above (anonymous too when anonymous viewers are on).
    Read,
    /// [`Rule::Read`], or any share link: the data a board's widgets draw (metric series, hitmap counts,
    /// deploys, services, database sessions and metrics, host processes).
    ReadShared,
    /// [`Rule::Read`], or a share link naming the board in the path's `{id}`.
    ReadSharedBoard,
    /// Editor or above: boards, share links.
    Edit,
    /// Admin: users, tokens, settings, the audit log.
    Admin,
    /// Sending traces (`POST /v1/traces`, and OTLP/gRPC `Export` through `Auth::authorize`): an ingest-only
    /// token, the deprecated ingest token, or editor and above.
    Ingest,
}

impl Rule {
    /// One line for docs and test failures.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Public => "anyone",
            Rule::Session => "a signed-in user (session)",
            Rule::Read => "viewer+",
            Rule::ReadShared => "viewer+, or any share link",
            Rule::ReadSharedBoard => "viewer+, or a share link of this board",
            Rule::Edit => "editor+",
            Rule::Admin => "admin",
            Rule::Ingest => "ingest token, or editor+",
        }
    }
}

/// What a decision needs besides the rule and the principal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The admin setting: anonymous requests read like viewers.
    pub anonymous_viewers: bool,
    /// `--ingest-token` is set: then `/v1/traces` needs a token even under auto sign-in, as before.
    pub legacy_ingest: bool,
    /// The `{id}` of the route's path, for [`Rule::ReadSharedBoard`].
    pub board: Option<&'a str>,
}

/// Allows, or says why not: 401 for "sign in first", 403 for "signed in, but not allowed".
pub fn decide(rule: Rule, p: &Principal, cx: Context<'_>) -> Result<(), AppError> {
    let needs = |min: Role| match p.role(cx.anonymous_viewers) {
        Some(r) if r >= min => Ok(()),
        _ => Err(denied(p, &format!("this needs the {min} role"))),
    };
    match (rule, p) {
        (Rule::Public, _) => Ok(()),
        (Rule::Session, Principal::User { .. }) => Ok(()),
        (Rule::Session, _) => Err(denied(p, "this needs a signed-in user")),
        (Rule::Read, _) => needs(Role::Viewer),
        (Rule::ReadShared, Principal::Share { .. }) => Ok(()),
        (Rule::ReadSharedBoard, Principal::Share { board_id, .. }) => match cx.board == Some(board_id.as_str()) {
            true => Ok(()),
            false => Err(AppError::Forbidden(format!("this share link opens board {board_id:?} only"))),
        },
        (Rule::ReadShared | Rule::ReadSharedBoard, _) => needs(Role::Viewer),
        (Rule::Edit, _) => needs(Role::Editor),
        (Rule::Admin, _) => needs(Role::Admin),
        (Rule::Ingest, Principal::LegacyIngest) => Ok(()),
        (Rule::Ingest, Principal::Token { scope: sightline_model::TokenScope::Ingest, .. }) => Ok(()),
        (Rule::Ingest, Principal::Demo) if cx.legacy_ingest => {
            Err(AppError::Unauthenticated("this server requires an ingest token: send Authorization: Bearer <token>".into()))
        }
        (Rule::Ingest, _) => needs(Role::Editor),
    }
}

/// 401 when nobody signed in (the app then shows its sign-in page), 403 otherwise.
fn denied(p: &Principal, what: &str) -> AppError {
    match p {
        Principal::Anonymous => AppError::Unauthenticated(format!("sign in first: {what}")),
        Principal::Token { scope: sightline_model::TokenScope::Ingest, .. } | Principal::LegacyIngest => {
            AppError::Forbidden("an ingest token may only send traces (POST /v1/traces)".into())
        }
        Principal::Share { .. } => AppError::Forbidden("a share link only reads the board it names".into()),
        _ => AppError::Forbidden(format!("{} may not do this: {what}", p.author())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::TokenScope;

    fn user(role: Role) -> Principal {
        Principal::User { name: "u".into(), role, session: [0; 32], expires_ms: 0 }
    }

    #[test]
    fn roles_are_ordered_and_links_stay_on_their_board() {
        let cx = Context::default();
        assert!(decide(Rule::Read, &user(Role::Viewer), cx).is_ok());
        assert!(matches!(decide(Rule::Edit, &user(Role::Viewer), cx), Err(AppError::Forbidden(_))));
        assert!(decide(Rule::Admin, &user(Role::Admin), cx).is_ok());
        assert!(matches!(decide(Rule::Read, &Principal::Anonymous, cx), Err(AppError::Unauthenticated(_))));
        let anon = Context { anonymous_viewers: true, ..cx };
        assert!(decide(Rule::Read, &Principal::Anonymous, anon).is_ok());
        assert!(matches!(decide(Rule::Edit, &Principal::Anonymous, anon), Err(AppError::Unauthenticated(_))));
        let link = Principal::Share { link_id: "l".into(), board_id: "a".into() };
        assert!(decide(Rule::ReadSharedBoard, &link, Context { board: Some("a"), ..cx }).is_ok());
        assert!(decide(Rule::ReadSharedBoard, &link, Context { board: Some("b"), ..cx }).is_err());
        assert!(decide(Rule::ReadShared, &link, cx).is_ok());
        assert!(decide(Rule::Read, &link, cx).is_err());
        let ingest = Principal::Token { id: "t".into(), name: "otel".into(), scope: TokenScope::Ingest };
        assert!(decide(Rule::Ingest, &ingest, cx).is_ok());
        assert!(decide(Rule::Read, &ingest, cx).is_err());
        assert!(decide(Rule::Ingest, &Principal::Demo, cx).is_ok());
        assert!(decide(Rule::Ingest, &Principal::Demo, Context { legacy_ingest: true, ..cx }).is_err());
        assert!(decide(Rule::Ingest, &user(Role::Viewer), cx).is_err());
        assert!(decide(Rule::Session, &Principal::Demo, cx).is_err());
    }
}
