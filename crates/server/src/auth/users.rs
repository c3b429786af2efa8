//! Users and their roles: created by an admin (users page, `POST /api/v1/users`) or on the command line
//! (`sightline user add`), and once, at the first start on a new data directory, the `admin` account.
//! There is always at least one admin: removing or demoting the last one is refused.

use sightline_model::{CreatedUser, NewUser, Role, UserInfo, UserUpdate};

use super::store::{Change, UserRecord};
use super::{audit, audit_by, password, session, Auth, Principal};
use crate::error::AppError;

/// The account made at the first start.
pub const FIRST_ADMIN: &str = "admin";
/// Longest user name.
pub const MAX_NAME_LEN: usize = 64;

/// Names are what people type to sign in and what board histories show: letters, digits and `._@-`.
pub fn check_name(name: &str) -> Result<(), AppError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(AppError::BadRequest(format!(
            "a user name is 1 to {MAX_NAME_LEN} letters, digits or . _ @ - (got {:?})",
            name.chars().take(MAX_NAME_LEN + 1).collect::<String>()
        )));
    }
    Ok(())
}

fn info(u: &UserRecord) -> UserInfo {
    UserInfo { name: u.name.clone(), role: u.role, created_ms: u.created_ms, updated_ms: u.updated_ms }
}

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("no user {name:?}"))
}

/// Whether `name` is the only admin left.
fn last_admin(m: &super::Memory, name: &str) -> bool {
    m.users.get(name).is_some_and(|u| u.role == Role::Admin) && m.users.values().filter(|u| u.role == Role::Admin).count() == 1
}

impl Auth {
    /// At a server's start: when there is no user at all, makes `admin` with `password` or a generated one.
    /// Answers the generated password, which the caller prints once; `None` when nothing was generated.
    /// Blocking.
    pub fn bootstrap(&self, password: Option<String>, now_ms: i64) -> anyhow::Result<Option<String>> {
        if !self.mem().users.is_empty() {
            if !self.mem().users.values().any(|u| u.role == Role::Admin) {
                tracing::warn!("no user has the admin role: add one with `sightline user add NAME --role admin`");
            }
            return Ok(None);
        }
        let generated = password.is_none().then(password::generate);
        let pw = password.or_else(|| generated.clone()).unwrap_or_default();
        if let Err(why) = password::check_strength(&pw) {
            anyhow::bail!("SIGHTLINE_ADMIN_PASSWORD is not accepted: {why}");
        }
        let user = UserRecord { name: FIRST_ADMIN.into(), role: Role::Admin, phc: password::hash(&pw)?, created_ms: now_ms, updated_ms: now_ms };
        let entry = audit_by("sightline", "user.create", FIRST_ADMIN, "first start: role admin");
        self.change(|m| match m.users.is_empty() {
            true => Ok((Change { put_users: vec![user], audit: Some(entry), ..Change::default() }, ())),
            false => Err(AppError::Conflict("a user was created meanwhile".into())),
        })
        .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
        Ok(generated)
    }

    /// Every user, by name.
    pub fn list_users(&self) -> Vec<UserInfo> {
        let mut out: Vec<UserInfo> = self.mem().users.values().map(info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Creates a user (with a generated password when none is given, answered once). Blocking (argon2).
    pub fn create_user(&self, who: &str, new: NewUser, now_ms: i64) -> Result<CreatedUser, AppError> {
        check_name(&new.name)?;
        let generated = new.password.is_none().then(password::generate);
        let pw = new.password.or_else(|| generated.clone()).unwrap_or_default();
        password::check_strength(&pw).map_err(AppError::BadRequest)?;
        let user = UserRecord { name: new.name.clone(), role: new.role, phc: password::hash(&pw)?, created_ms: now_ms, updated_ms: now_ms };
        let out = CreatedUser { user: info(&user), generated_password: generated };
        self.change(|m| {
            if m.users.contains_key(&new.name) {
                return Err(AppError::Conflict(format!("there is already a user {:?}", new.name)));
            }
            let entry = audit_by(who, "user.create", &new.name, &format!("role {}", new.role));
            Ok((Change { put_users: vec![user], audit: Some(entry), ..Change::default() }, out))
        })
    }

    /// Changes a user's role and/or password; a new password ends the user's sessions. Blocking (argon2).
    pub fn update_user(&self, who: &str, name: &str, update: UserUpdate, now_ms: i64) -> Result<UserInfo, AppError> {
        if update.role.is_none() && update.password.is_none() {
            return Err(AppError::BadRequest("nothing to change: give `role` and/or `password`".into()));
        }
        let phc = match &update.password {
            Some(pw) => {
                password::check_strength(pw).map_err(AppError::BadRequest)?;
                Some(password::hash(pw)?)
            }
            None => None,
        };
        self.change(|m| {
            let mut user = m.users.get(name).cloned().ok_or_else(|| not_found(name))?;
            let mut what = Vec::new();
            let mut change = Change::default();
            if let Some(role) = update.role.filter(|r| *r != user.role) {
                if last_admin(m, name) {
                    return Err(AppError::Conflict(format!("{name:?} is the last admin: make another admin first")));
                }
                what.push(format!("role {} → {role}", user.role));
                user.role = role;
            }
            if let Some(phc) = phc {
                user.phc = phc;
                change.remove_sessions = session::sessions_of(m, name, None);
                what.push("password changed, signed out everywhere".to_string());
            }
            user.updated_ms = now_ms;
            change.audit = Some(audit_by(who, "user.update", name, &what.join("; ")));
            let out = info(&user);
            change.put_users = vec![user];
            Ok((change, out))
        })
    }

    /// Removes a user and ends their sessions (their board revisions keep their name). Blocking.
    pub fn delete_user(&self, who: &str, name: &str) -> Result<(), AppError> {
        self.change(|m| {
            if !m.users.contains_key(name) {
                return Err(not_found(name));
            }
            if last_admin(m, name) {
                return Err(AppError::Conflict(format!("{name:?} is the last admin: make another admin first")));
            }
            let change = Change {
                remove_users: vec![name.to_string()],
                remove_sessions: session::sessions_of(m, name, None),
                audit: Some(audit_by(who, "user.delete", name, "")),
                ..Change::default()
            };
            Ok((change, ()))
        })
    }

    /// A signed-in user changes their own password (knowing the current one); their other sessions end.
    /// Blocking (argon2).
    pub fn change_own_password(&self, p: &Principal, current: &str, new: &str, now_ms: i64) -> Result<(), AppError> {
        let Principal::User { name, session, .. } = p else {
            return Err(AppError::Forbidden("only a signed-in user can change their password".into()));
        };
        let phc = self.mem().users.get(name).map(|u| u.phc.clone()).ok_or_else(|| not_found(name))?;
        if !password::verify(current, &phc) {
            return Err(AppError::Forbidden("the current password is wrong".into()));
        }
        password::check_strength(new).map_err(AppError::BadRequest)?;
        let phc = password::hash(new)?;
        self.change(|m| {
            let mut user = m.users.get(name).cloned().ok_or_else(|| not_found(name))?;
            user.phc = phc;
            user.updated_ms = now_ms;
            let change = Change {
                put_users: vec![user],
                remove_sessions: session::sessions_of(m, name, Some(*session)),
                audit: Some(audit(p, "user.password", name, "own password changed, other sessions ended")),
                ..Change::default()
            };
            Ok((change, ()))
        })
    }
}
