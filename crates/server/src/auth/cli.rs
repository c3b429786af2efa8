//! `sightline user add|list|set-role|passwd|remove`: managing users from the command line, for the first
//! admin on a server that is not running yet, or for getting back in after losing every admin password.
//! They open `<data_dir>/auth` directly; the database belongs to one process at a time, so while a server
//! runs on the same data directory they say so and point to the users page instead.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use sightline_model::{NewUser, Role, UserUpdate};

use super::store::OpenError;
use super::{session, Auth, AuthConfig};

/// Options of `sightline user`.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The server's data directory (the same as `serve`'s).
    #[arg(long, env = "SIGHTLINE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserAction {
    /// Add a user. Without --password-stdin a password is generated and printed once.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List,
    /// Change a user's role.
    SetRole { name: String, role: Role },
    /// Set a new password (ends the user's sessions). Without --password-stdin one is generated and printed.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user (refused for the last admin).
    Remove { name: String },
}

/// Who the audit log names for command-line changes.
const WHO: &str = "cli";

/// Runs `sightline user …` on the blocking pool (argon2 and the database are blocking work).
pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || crate::blocking::allow(|| run_blocking(args)))
        .await
        .context("the user command failed")?
}

fn open(args: &UserArgs) -> anyhow::Result<Auth> {
    let dir = args.data_dir.join("auth");
    let config = AuthConfig {
        auto_sign_in: false,
        lifetimes: session::Lifetimes { idle_ms: 1, max_ms: 1 },
        tls: false,
        behind_proxy: false,
        legacy_ingest_token: None,
    };
    match Auth::open(&dir, config) {
        Ok(a) => Ok(a),
        Err(OpenError::Locked(_)) => anyhow::bail!(
            "a Sightline server is running on {}: stop the server first, or manage users on the users page \
             (signed in as an admin) instead",
            args.data_dir.display()
        ),
        Err(OpenError::Other(e)) => Err(e),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn run_blocking(args: UserArgs) -> anyhow::Result<()> {
    let auth = open(&args)?;
    let now = crate::store::now_ms();
    match args.action {
        UserAction::Add { name, role, password_stdin } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let created = auth.create_user(WHO, NewUser { name, role, password }, now)?;
            println!("added user {} ({})", created.user.name, created.user.role);
            if let Some(pw) = created.generated_password {
                println!("password: {pw}\n(shown only this once)");
            }
        }
        UserAction::List => {
            for u in auth.list_users() {
                println!("{:<24} {}", u.name, u.role);
            }
        }
        UserAction::SetRole { name, role } => {
            let u = auth.update_user(WHO, &name, UserUpdate { role: Some(role), password: None }, now)?;
            println!("{} is now {}", u.name, u.role);
        }
        UserAction::Passwd { name, password_stdin } => {
            let (password, generated) = match password_stdin {
                true => (read_password()?, false),
                false => (super::password::generate(), true),
            };
            let pw = password.clone();
            auth.update_user(WHO, &name, UserUpdate { role: None, password: Some(password) }, now)?;
            println!("new password set for {name}; their sessions have ended");
            if generated {
                println!("password: {pw}\n(shown only this once)");
            }
        }
        UserAction::Remove { name } => {
            auth.delete_user(WHO, &name)?;
            println!("removed user {name}");
        }
    }
    auth.flush()
}

