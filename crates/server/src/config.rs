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
    /// Serve the app and the API (and ingest OTLP on the same port).
    Serve(ServeArgs),
}

/// Options of `sightline serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SIGHTLINE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
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
    /// Bearer token required on `POST /v1/traces` when set.
    #[arg(long, env = "SIGHTLINE_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Drop stored transactions older than this many hours.
    #[arg(long, env = "SIGHTLINE_RETENTION_HOURS", default_value_t = 72)]
    pub retention_hours: u64,
    /// Keep the store under this many megabytes (oldest data goes first).
    #[arg(long, env = "SIGHTLINE_RETENTION_MB", default_value_t = 4096)]
    pub retention_mb: u64,
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
}

impl ServeArgs {
    /// Options for tests: an ephemeral port and the given data directory.
    pub fn for_tests(data_dir: &Path) -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("literal address"),
            data_dir: data_dir.to_path_buf(),
            demo: false,
            demo_postgres: false,
            dist: None,
            ingest_token: None,
            retention_hours: 72,
            retention_mb: 4096,
            postgres: Vec::new(),
            pg_interval_ms: 2000,
            pg_history_minutes: 60,
            // Off: tests that want it turn it on (and spawn it) themselves.
            host_collector: false,
            host_interval_ms: 5000,
            host_history_minutes: 60,
            request_timeout_ms: 30_000,
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
