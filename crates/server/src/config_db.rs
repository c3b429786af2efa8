//! The shared configuration database (`--config-db postgres://…`): where boards, deploys and alerts live
//! when several Sightline nodes serve the same data, instead of each node's own files under its data directory.
//!
//! PostgreSQL, because what these documents need is a transaction and a compare-and-set (a board save is
//! `UPDATE … WHERE id = $1 AND version = $2`, its revision written in the same transaction), which
//! ClickHouse does not offer; docs/STORE.md, "Shared configuration", says more.
//!
//! This module owns the connections and the schema; what is stored lives with its feature
//! ([`crate::boards::shared`], [`crate::deploys::shared`], [`crate::alert::shared`]). Connections are pooled (a few idle ones kept);
//! every operation runs under [`OP_TIMEOUT`], and a database that cannot be reached is a
//! [`DbError::Unavailable`] (503 for the API), never a hang. The URL's password lives only in the parsed
//! connection config: the database is named by [`ConfigDb::name`] (`user@host:port/db`) and every error
//! message passes through [`ConfigDb::scrub`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use tokio_postgres::{Client, Config};

use crate::collect::postgres::{describe, password_of, tls, Endpoint, PgUrl};
use crate::error::AppError;

/// Longest wait for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest any one operation (connecting included) may take before it is answered as unavailable.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for the next operation.
const MAX_IDLE: usize = 4;
/// Connections in use at once, per node (beyond, operations wait their turn, within [`OP_TIMEOUT`]): a
/// burst of requests must not take all of the database's `max_connections`.
const MAX_CONNECTIONS: usize = 16;
/// Key of the advisory lock that serialises schema migrations (and the first-start seeding) across nodes.
const MIGRATION_LOCK: i64 = 0x5167_6874_6c69_6e65; // "Sightline"

/// The schema, one step per version; a step runs once, in a transaction with its `schema_migrations` row,
/// and is idempotent anyway (`IF NOT EXISTS`), so a half-applied older layout is no obstacle.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "boards, their revisions, deploys and deploy checks",
        "CREATE TABLE IF NOT EXISTS config_meta (key text PRIMARY KEY, value text NOT NULL);
         CREATE TABLE IF NOT EXISTS boards (
             id text PRIMARY KEY,
             version bigint NOT NULL,
             doc text NOT NULL
         );
         CREATE TABLE IF NOT EXISTS board_versions (
             id text NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
             version bigint NOT NULL,
             doc text NOT NULL,
             PRIMARY KEY (id, version)
         );
         CREATE TABLE IF NOT EXISTS deploys (
             service text NOT NULL,
             version text NOT NULL,
             first_seen_ms bigint NOT NULL,
             PRIMARY KEY (service, version)
         );
         CREATE TABLE IF NOT EXISTS deploy_checks (
             service text NOT NULL,
             version text NOT NULL,
             verdict text NOT NULL,
             PRIMARY KEY (service, version)
         );",
    ),
    (
        2,
        "alert rules, channels, silences, instances, history and outbox",
        "CREATE TABLE IF NOT EXISTS alert_rules (id text PRIMARY KEY, version bigint NOT NULL, doc text NOT NULL);
         CREATE TABLE IF NOT EXISTS alert_channels (id text PRIMARY KEY, doc text NOT NULL);
         CREATE TABLE IF NOT EXISTS alert_silences (id text PRIMARY KEY, doc text NOT NULL);
         CREATE TABLE IF NOT EXISTS alert_instances (
             rule_id text NOT NULL,
             group_key text NOT NULL,
             doc text NOT NULL,
             PRIMARY KEY (rule_id, group_key)
         );
         CREATE TABLE IF NOT EXISTS alert_events (seq bigserial PRIMARY KEY, at_ms bigint NOT NULL, doc text NOT NULL);
         CREATE TABLE IF NOT EXISTS alert_outbox (seq bigserial PRIMARY KEY, channel_id text NOT NULL, doc text NOT NULL);
         CREATE INDEX IF NOT EXISTS alert_outbox_channel ON alert_outbox (channel_id, seq);",
    ),
];

/// Why a configuration database operation failed. The message never holds the password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// Cannot be reached, or did not answer in time: try again later (503).
    #[error("{0}")]
    Unavailable(String),
    /// Reached, and refused the statement: a bug or a broken schema (500, logged).
    #[error("{0}")]
    Failed(String),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => AppError::Unavailable(m),
            DbError::Failed(m) => AppError::Internal(anyhow!(m)),
        }
    }
}

/// The shared configuration database; see the module docs.
pub struct ConfigDb {
    /// `user@host:port/db`, safe to show and log.
    pub name: String,
    config: Config,
    tls: tls::Settings,
    password: Option<String>,
    idle: Mutex<Vec<Client>>,
    permits: tokio::sync::Semaphore,
}

/// A connection taken from the pool: back to the pool when the operation finished ([`Conn::release`]),
/// closed when it was abandoned half-way (a timeout, a cancelled request).
pub struct Conn<'a> {
    db: &'a ConfigDb,
    client: Option<Client>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a connection until released")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a connection until released")
    }
}

impl Conn<'_> {
    /// The operation is over: keep the connection for the next one (unless it broke).
    pub fn release(mut self) {
        if let Some(c) = self.client.take().filter(|c| !c.is_closed()) {
            let mut idle = crate::sync::lock(&self.db.idle);
            if idle.len() < MAX_IDLE {
                idle.push(c);
            }
        }
    }
}

impl ConfigDb {
    /// Parses the URL (errors never quote it), connects, and creates or migrates the schema. An
    /// unreachable database is an error naming it (without the password), so `serve` stops at once.
    pub async fn open(url: &PgUrl) -> anyhow::Result<Arc<Self>> {
        let db = Arc::new(Self::parse(&url.0)?);
        db.migrate().await.map_err(|e| anyhow!("{e}"))?;
        tracing::info!(db = %db.name, "boards, deploys and alerts are kept in the configuration database");
        Ok(db)
    }

    fn parse(url: &str) -> anyhow::Result<Self> {
        let (url, tls) = tls::split(url).map_err(|e| anyhow!("--config-db / SIGHTLINE_CONFIG_DB: {e}"))?;
        let mut config: Config = url.parse().map_err(|_| {
            anyhow!("--config-db / SIGHTLINE_CONFIG_DB is not a valid PostgreSQL URL (postgres://user:password@host:5432/db)")
        })?;
        config.ssl_mode(tls.mode.driver());
        config.application_name("sightline-config").connect_timeout(CONNECT_TIMEOUT).keepalives_idle(Duration::from_secs(30));
        let password = password_of(&config);
        Ok(ConfigDb {
            name: Endpoint::of(&config).to_string(),
            config,
            tls,
            password,
            idle: Mutex::default(),
            permits: tokio::sync::Semaphore::new(MAX_CONNECTIONS),
        })
    }

    /// Removes the password from a message, however the server or driver quoted it.
    pub fn scrub(&self, msg: &str) -> String {
        match &self.password {
            Some(p) => msg.replace(p.as_str(), "***"),
            None => msg.to_string(),
        }
    }

    /// An idle connection, or a new one (waiting while [`MAX_CONNECTIONS`] are in use).
    pub async fn conn(&self) -> Result<Conn<'_>, DbError> {
        let permit = self.permits.acquire().await.map_err(|_| DbError::Unavailable(self.unreachable("shutting down")))?;
        let reused = {
            let mut idle = crate::sync::lock(&self.idle);
            idle.retain(|c| !c.is_closed());
            idle.pop()
        };
        let client = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        Ok(Conn { db: self, client: Some(client), _permit: permit })
    }

    async fn connect(&self) -> Result<Client, DbError> {
        let connector = self.tls.connector().map_err(|e| DbError::Unavailable(self.unreachable(&e)))?;
        let connecting = tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(connector));
        let (client, connection) = match connecting.await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(DbError::Unavailable(self.unreachable(&tls::explain(describe(&e), self.tls.mode)))),
            Err(_) => return Err(DbError::Unavailable(self.unreachable(&format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))),
        };
        let name = self.name.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // The driver's message names the server, never the password.
                tracing::debug!(db = %name, error = %describe(&e), "configuration database connection ended");
            }
        });
        Ok(client)
    }

    /// A connection of its own, outside the pool (the alert leader's, which holds a session lock). The
    /// server is asked to probe it (TCP keepalives), so a leader that vanished from the network releases
    /// its lock within about half a minute, not when the operating system gives up hours later.
    pub async fn dedicated(&self) -> Result<Client, DbError> {
        let client = self.connect().await?;
        self.within(
            "setting keepalives",
            client.batch_execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"),
        )
        .await?;
        Ok(client)
    }

    fn unreachable(&self, why: &str) -> String {
        self.scrub(&format!("cannot reach the configuration database {}: {why}", self.name))
    }

    /// Runs `op` (which uses a connection taken with [`ConfigDb::conn`]) under [`OP_TIMEOUT`], mapping the
    /// driver's errors: connection trouble and timeouts are [`DbError::Unavailable`].
    pub async fn within<T>(
        &self,
        what: &str,
        op: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, DbError> {
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.classify(what, &e)),
            Err(_) => Err(DbError::Unavailable(self.unreachable(&format!("{what}: no answer within {} s", OP_TIMEOUT.as_secs())))),
        }
    }

    /// [`ConfigDb::conn`] and [`ConfigDb::within`] together, for an operation of one connection.
    pub async fn with_conn<T>(
        &self,
        what: &str,
        op: impl for<'c> FnOnce(&'c mut Client) -> futures::future::BoxFuture<'c, Result<T, tokio_postgres::Error>>,
    ) -> Result<T, DbError> {
        let mut conn = tokio::time::timeout(OP_TIMEOUT, self.conn())
            .await
            .map_err(|_| DbError::Unavailable(self.unreachable("no connection within the time limit")))??;
        let out = self.within(what, op(&mut conn)).await;
        if out.is_ok() {
            conn.release();
        }
        out
    }

    fn classify(&self, what: &str, e: &tokio_postgres::Error) -> DbError {
        let msg = describe(e);
        let lost = match e.as_db_error() {
            // Connection exceptions, shutdowns, "too many connections", read-only standby.
            Some(db) => {
                let code = db.code().code();
                code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") || code == "25006"
            }
            None => {
                e.is_closed()
                    || msg.starts_with("error connecting")
                    || msg.starts_with("error communicating")
                    || msg.starts_with("timeout")
                    || msg.starts_with("error performing TLS")
            }
        };
        match lost {
            true => DbError::Unavailable(self.unreachable(&format!("{what}: {msg}"))),
            false => DbError::Failed(self.scrub(&format!("configuration database {}: {what}: {msg}", self.name))),
        }
    }

    /// Creates or migrates the schema: the steps of [`MIGRATIONS`] not recorded in `schema_migrations`, under
    /// an advisory lock so nodes starting together do not race.
    async fn migrate(&self) -> Result<(), DbError> {
        self.with_conn("creating the schema", |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                         version integer PRIMARY KEY,
                         description text NOT NULL,
                         applied_at timestamptz NOT NULL DEFAULT now()
                     )",
                )
                .await?;
                let applied: Vec<i32> = tx.query("SELECT version FROM schema_migrations", &[]).await?.iter().map(|r| r.get(0)).collect();
                for (version, description, sql) in MIGRATIONS {
                    if applied.contains(version) {
                        continue;
                    }
                    tx.batch_execute(sql).await?;
                    tx.execute("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", &[version, description]).await?;
                    tracing::info!(version, description, "configuration database migrated");
                }
                tx.commit().await
            })
        })
        .await
    }

    /// Runs `seed` once per database, ever: the first node to start does it (under the migration lock, so
    /// a second node starting at the same time waits and then skips it); `key` records that it was done.
    pub async fn once(
        &self,
        key: &'static str,
        seed: impl for<'t> FnOnce(&'t tokio_postgres::Transaction<'t>) -> futures::future::BoxFuture<'t, Result<(), tokio_postgres::Error>>
            + Send
            + 'static,
    ) -> Result<bool, DbError> {
        self.with_conn("seeding", move |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
                let done = tx.query_opt("SELECT 1 FROM config_meta WHERE key = $1", &[&key]).await?.is_some();
                if done {
                    return Ok(false);
                }
                seed(&tx).await?;
                tx.execute("INSERT INTO config_meta (key, value) VALUES ($1, '1')", &[&key]).await?;
                tx.commit().await?;
                Ok(true)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_in_the_name_or_errors() {
        let db = ConfigDb::parse("postgres://sightline:s3cr3t-pw@db.example:6543/config?sslmode=disable").unwrap();
        assert_eq!(db.name, "sightline@db.example:6543/config");
        assert_eq!(db.scrub("password s3cr3t-pw rejected"), "password *** rejected");
        let bad = ConfigDb::parse("postgres://u:s3cr3t-pw@host:notaport/db").err().unwrap().to_string();
        assert!(!bad.contains("s3cr3t-pw"), "{bad}");
        assert!(format!("{:?}", PgUrl("postgres://u:s3cr3t-pw@h/db".into())).contains("u@h"));
    }
}
