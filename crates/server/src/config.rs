//! Command line and environment (`SIGHTLINE_*`): the names here are a public interface that scripts use.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

/// Sightline — application and database performance monitor.
#[derive(Debug, Parser)]
#[command(name = "sightline", version, about)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, global = true, env = "SIGHTLINE_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app and the API (and ingest OTLP/HTTP on the same port, OTLP/gRPC on `--otlp-grpc-addr`).
    Serve(Box<ServeArgs>),
    /// Manage users: add, list, set-role, passwd, remove (with the server stopped).
    User(crate::auth::cli::UserArgs),
}

/// Options of `sightline serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SIGHTLINE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Address for OTLP/gRPC trace ingest (`TraceService/Export`, HTTP/2); an empty value turns it off.
    /// OTLP/HTTP is always served on `--addr`.
    #[arg(long, env = "SIGHTLINE_OTLP_GRPC_ADDR", default_value = "127.0.0.1:4317")]
    pub otlp_grpc_addr: OptionalAddr,
    /// Where the embedded store keeps its files.
    #[arg(long, env = "SIGHTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Run the built-in demo workload (gateway → balance, payment, recharge).
    #[arg(long, env = "SIGHTLINE_DEMO")]
    pub demo: bool,
    /// With `--demo`: also start a demo PostgreSQL (when its server binaries are installed) under
    /// `<data-dir>/demo-postgres`, with a small load, and monitor it. `--demo-postgres=false` turns it off.
    #[arg(long, env = "SIGHTLINE_DEMO_POSTGRES", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub demo_postgres: bool,
    /// The built app (Trunk's `dist/`); found automatically when run from the repository.
    #[arg(long, env = "SIGHTLINE_DIST")]
    pub dist: Option<PathBuf>,
    /// Deprecated (create an ingest-only API token instead): a bearer token accepted on `POST /v1/traces`;
    /// when set, sending traces always needs a token.
    #[arg(long, env = "SIGHTLINE_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Sign every request without credentials in as an admin ("demo admin"). Only on a loopback address.
    /// Default: on with `--demo` on a loopback address, off otherwise; `--auto-sign-in=false` turns it off.
    #[arg(long, env = "SIGHTLINE_AUTO_SIGN_IN", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub auto_sign_in: Option<bool>,
    /// A session ends after this many seconds without a request.
    #[arg(long, env = "SIGHTLINE_SESSION_IDLE_SECS", default_value_t = 12 * 3600)]
    pub session_idle_secs: u64,
    /// A session ends this many seconds after sign-in, used or not.
    #[arg(long, env = "SIGHTLINE_SESSION_MAX_SECS", default_value_t = 7 * 24 * 3600)]
    pub session_max_secs: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`. Session cookies are then `Secure`.
    #[arg(long, env = "SIGHTLINE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "SIGHTLINE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Behind a reverse proxy that sets `X-Forwarded-For`, `-Proto` and `-Host`: trust them (client address
    /// for sign-in limits, `Secure` cookies when the proxy speaks HTTPS, the host for cross-site checks).
    #[arg(long, env = "SIGHTLINE_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// The first admin's password on a new data directory (environment only); without it one is generated
    /// and printed once.
    #[arg(skip)]
    pub admin_password: Option<String>,
    /// Drop stored transactions older than this many hours.
    #[arg(long, env = "SIGHTLINE_RETENTION_HOURS", default_value_t = 72)]
    pub retention_hours: u64,
    /// Keep the store under this many megabytes (oldest data goes first).
    #[arg(long, env = "SIGHTLINE_RETENTION_MB", default_value_t = 4096)]
    pub retention_mb: u64,
    /// Memory the embedded store may take (e.g. `512MiB`, `2GiB`, or bytes; `none`: no limit): fjall's
    /// block cache and memtables get an eighth each, the hitmap columns the rest; beyond it the oldest
    /// minutes' columns are evicted to disk and read back when a query reaches them (exact, slower). See
    /// docs/STORE.md.
    #[arg(long, env = "SIGHTLINE_MEMORY_BUDGET", default_value = "1GiB", value_parser = parse_budget)]
    pub memory_budget: Budget,
    /// Keep the cube (per-minute statistics by service, endpoint, instance, error…) this many days, apart
    /// from the raw transactions' retention.
    #[arg(long, env = "SIGHTLINE_CUBE_RETENTION_DAYS", default_value_t = crate::store::cube::DEFAULT_RETENTION_DAYS)]
    pub cube_retention_days: u64,
    /// Keep spans and transactions in ClickHouse instead of the embedded store, e.g.
    /// `http://user:pw@ch:8123/?database=sightline` (its HTTP interface; the schema is created and migrated
    /// by Sightline). Several Sightline nodes may share one. Repeat it (or give a comma-separated list) for
    /// the shards of a cluster, in the cluster's order, with `--clickhouse-cluster`.
    #[arg(long, env = "SIGHTLINE_CLICKHOUSE", value_delimiter = ',', value_parser = crate::store::clickhouse::Target::parse, hide_env_values = true)]
    pub clickhouse: Vec<crate::store::clickhouse::Target>,
    /// The cluster (as named in the ClickHouse servers' `remote_servers`) the `--clickhouse` shards form:
    /// Sightline creates `Distributed` tables over it and writes each trace to its shard.
    #[arg(long, env = "SIGHTLINE_CLICKHOUSE_CLUSTER", value_parser = parse_cluster_name)]
    pub clickhouse_cluster: Option<String>,
    /// Create `Replicated*MergeTree` tables (the ClickHouse servers need ZooKeeper and the `{shard}` and
    /// `{replica}` macros). Give every replica with `--clickhouse`: they are grouped into shards by their
    /// `{shard}` macro, and a write or read goes to whichever replica answers.
    #[arg(long, env = "SIGHTLINE_CLICKHOUSE_REPLICATED")]
    pub clickhouse_replicated: bool,
    /// Keep boards, deploys and alerts in this PostgreSQL database instead of the data directory, e.g.
    /// `postgres://sightline:pw@db:5432/sightline` (the schema is created and migrated by Sightline), so
    /// several Sightline nodes share them. Unset: each node keeps its own, under `--data-dir`.
    #[arg(long, env = "SIGHTLINE_CONFIG_DB", hide_env_values = true)]
    pub config_db: Option<crate::collect::postgres::PgUrl>,
    /// PostgreSQL instance to monitor, e.g. `postgres://monitor:pw@db:5432/postgres` (repeatable; the
    /// environment variable takes a comma-separated list). A role with only `pg_monitor` is enough.
    #[arg(long = "postgres", env = "SIGHTLINE_POSTGRES", value_delimiter = ',', hide_env_values = true)]
    pub postgres: Vec<crate::collect::postgres::PgUrl>,
    /// How often each PostgreSQL instance is sampled, in milliseconds.
    #[arg(long, env = "SIGHTLINE_PG_INTERVAL_MS", default_value_t = 2000)]
    pub pg_interval_ms: u64,
    /// How long PostgreSQL samples (sessions, lock trees, metrics) are kept in memory, in minutes.
    #[arg(long, env = "SIGHTLINE_PG_HISTORY_MINUTES", default_value_t = 60)]
    pub pg_history_minutes: u64,
    /// Sample this machine's CPU, memory and busiest processes (the `host.*` and `process.*` metrics).
    /// `--host-collector=false` turns it off.
    #[arg(long, env = "SIGHTLINE_HOST_COLLECTOR", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub host_collector: bool,
    /// How often the host is sampled, in milliseconds.
    #[arg(long, env = "SIGHTLINE_HOST_INTERVAL_MS", default_value_t = 5000)]
    pub host_interval_ms: u64,
    /// How long host samples are kept in memory, in minutes.
    #[arg(long, env = "SIGHTLINE_HOST_HISTORY_MINUTES", default_value_t = 60)]
    pub host_history_minutes: u64,
    /// An API request not answered within this many milliseconds is abandoned with a 503 (the live stream
    /// and OTLP ingest are exempt; see `app.rs`).
    #[arg(long, env = "SIGHTLINE_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// The address users open Sightline at (e.g. `https://sightline.example.com`), for the links in alert
    /// messages; default `http(s)://<--addr>`.
    #[arg(long, env = "SIGHTLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Alerts that change within this many seconds of each other travel in one message per channel.
    #[arg(long, env = "SIGHTLINE_ALERT_GROUP_WAIT", default_value_t = 10.0)]
    pub alert_group_wait: f64,
    /// Longest wait between two attempts to deliver an alert message (the wait doubles from 1 s up to it).
    #[arg(long, env = "SIGHTLINE_ALERT_RETRY_MAX", default_value_t = 300.0)]
    pub alert_retry_max: f64,
    /// A receiver (Slack, webhook) that has not answered within this many seconds has failed; retried later.
    #[arg(long, env = "SIGHTLINE_ALERT_SEND_TIMEOUT", default_value_t = 10.0)]
    pub alert_send_timeout: f64,
    /// Deploy check: a new version's first this-many seconds are compared with as many seconds before it
    /// (less when the next version comes sooner); judged this long after the deploy.
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_AFTER", default_value_t = 300.0)]
    pub deploy_check_after: f64,
    /// Deploy check: transactions needed on each side for a verdict (else "not enough traffic").
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_MIN_TRANSACTIONS", default_value_t = 20)]
    pub deploy_check_min_transactions: u64,
    /// Deploy check: suspect when the error rate rises by more than this many percentage points…
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_ERROR_POINTS", default_value_t = 5.0)]
    pub deploy_check_error_points: f64,
    /// …and to more than this many times the rate before.
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_ERROR_FACTOR", default_value_t = 1.5)]
    pub deploy_check_error_factor: f64,
    /// Deploy check: suspect when the p95 rises to more than this many times the p95 before…
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_P95_FACTOR", default_value_t = 1.5)]
    pub deploy_check_p95_factor: f64,
    /// …and by more than this many milliseconds.
    #[arg(long, env = "SIGHTLINE_DEPLOY_CHECK_P95_MS", default_value_t = 50.0)]
    pub deploy_check_p95_ms: f64,
}

/// A socket address, or nothing (an empty string): an optional listener such as `--otlp-grpc-addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

impl std::str::FromStr for OptionalAddr {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Ok(OptionalAddr(None)),
            addr => addr.parse().map(|a| OptionalAddr(Some(a))),
        }
    }
}

/// The first admin's password in [`ServeArgs::for_tests`].
pub const TEST_ADMIN_PASSWORD: &str = "test-admin-password";

impl ServeArgs {
    /// `cube_retention_days` in ms (capped at 100 years, far from overflow): what the cube keeps, and how far
    /// back cube queries and the errors view may reach.
    pub fn cube_retention_ms(&self) -> i64 {
        (self.cube_retention_days.min(100 * 365) as i64) * 86_400_000
    }

    /// Options for tests: an ephemeral port and the given data directory.
    pub fn for_tests(data_dir: &Path) -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("literal address"),
            // Off: tests run many servers at once; the gRPC tests choose a free port.
            otlp_grpc_addr: OptionalAddr(None),
            data_dir: data_dir.to_path_buf(),
            demo: false,
            demo_postgres: false,
            dist: None,
            ingest_token: None,
            // Today's tests send requests without credentials; access tests turn this off.
            auto_sign_in: Some(true),
            session_idle_secs: 12 * 3600,
            session_max_secs: 7 * 24 * 3600,
            tls_cert: None,
            tls_key: None,
            behind_proxy: false,
            // Known to tests that sign in as the first admin.
            admin_password: Some(TEST_ADMIN_PASSWORD.into()),
            retention_hours: 72,
            retention_mb: 4096,
            memory_budget: Budget(Some(crate::store::embedded::MemoryBudget::DEFAULT)),
            cube_retention_days: crate::store::cube::DEFAULT_RETENTION_DAYS,
            clickhouse: Vec::new(),
            clickhouse_cluster: None,
            clickhouse_replicated: false,
            config_db: None,
            postgres: Vec::new(),
            pg_interval_ms: 2000,
            pg_history_minutes: 60,
            // Off: tests that want it turn it on (and spawn it) themselves.
            host_collector: false,
            host_interval_ms: 5000,
            host_history_minutes: 60,
            request_timeout_ms: 30_000,
            public_url: None,
            // Short: tests wait for grouped messages.
            alert_group_wait: 1.0,
            alert_retry_max: 300.0,
            alert_send_timeout: 10.0,
            deploy_check_after: 300.0,
            deploy_check_min_transactions: 20,
            deploy_check_error_points: 5.0,
            deploy_check_error_factor: 1.5,
            deploy_check_p95_factor: 1.5,
            deploy_check_p95_ms: 50.0,
        }
    }

    /// The deploy check's settings from the options (the span is clamped to 1 s ..= 1 day).
    pub fn deploy_check(&self) -> crate::deploys::check::CheckSettings {
        let after = if self.deploy_check_after.is_finite() { self.deploy_check_after.clamp(1.0, 86_400.0) } else { 300.0 };
        crate::deploys::check::CheckSettings {
            after: std::time::Duration::from_secs_f64(after),
            min_transactions: self.deploy_check_min_transactions,
            error_rate_points: self.deploy_check_error_points,
            error_rate_factor: self.deploy_check_error_factor,
            p95_factor: self.deploy_check_p95_factor,
            p95_ms: self.deploy_check_p95_ms,
        }
    }

    /// Alert delivery settings from the options (negative or absurd values are clamped).
    pub fn alert_delivery(&self) -> crate::alert::deliver::DeliverySettings {
        let secs = |v: f64, min: f64, max: f64| std::time::Duration::from_secs_f64(if v.is_finite() { v.clamp(min, max) } else { min });
        crate::alert::deliver::DeliverySettings {
            group_wait: secs(self.alert_group_wait, 0.0, 3600.0),
            retry_max: secs(self.alert_retry_max, 1.0, 86_400.0),
            send_timeout: secs(self.alert_send_timeout, 0.1, 600.0),
        }
    }

    /// The app directory: `--dist` if given, else `dist/` beside the working directory or above the binary
    /// (so `target/*/sightline` run from anywhere in the repo finds the repo's `dist/`).
    pub fn resolve_dist(&self) -> Option<PathBuf> {
        if let Some(d) = &self.dist {
            return Some(d.clone());
        }
        let mut candidates = vec![PathBuf::from("dist")];
        if let Ok(exe) = std::env::current_exe() {
            candidates.extend(exe.ancestors().skip(1).map(|a| a.join("dist")));
        }
        candidates.into_iter().find(|d| d.join("index.html").is_file())
    }
}

/// `--memory-budget`: bytes, or `None` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget(pub Option<u64>);

fn parse_budget(s: &str) -> Result<Budget, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "none" | "unlimited" | "off" => Ok(Budget(None)),
        _ => parse_bytes(s).map(|b| Budget(Some(b))),
    }
}

/// A size in bytes, given as `512MiB`, `2GiB`, `64MB`, `1G` or a plain number of bytes.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size: give e.g. 512MiB, 2GiB or a number of bytes"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        u => return Err(format!("unknown unit {u:?} in {s:?}: use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

fn parse_cluster_name(s: &str) -> Result<String, String> {
    if crate::store::clickhouse::schema::valid_name(s) {
        Ok(s.to_string())
    } else {
        Err("a cluster name is letters, digits and _".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_their_units() {
        assert_eq!(parse_budget("512MiB"), Ok(Budget(Some(512 << 20))));
        assert_eq!(parse_budget("2GiB"), Ok(Budget(Some(2 << 30))));
        assert_eq!(parse_budget("none"), Ok(Budget(None)));
        assert_eq!(parse_bytes("64 MB"), Ok(64_000_000));
        assert_eq!(parse_bytes("12345"), Ok(12345));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("99999999999TiB").is_err());
    }
}
