//! A demo PostgreSQL for `--demo`, so the database page has something real to show without any setup: when
//! Debian's server binaries are installed (`/usr/lib/postgresql/<newest>/bin`, or `SIGHTLINE_PG_BIN`), a
//! cluster under `<data_dir>/demo-postgres` (created once, reused by later starts, on the same port when it is
//! free) is started on 127.0.0.1 only, with `pg_stat_statements`, and monitored like a `--postgres` instance
//! through a `pg_monitor`-only role. A small load runs against it: a shop API (point reads, updates, inserts),
//! a report (aggregates and a slow call) and a billing batch that holds a row lock for several seconds every
//! half minute while a checkout waits for it, so the lock tree has something to show.
//!
//! Anything missing or failing is one log line and the server carries on without it. Opt out with
//! `--demo-postgres=false` (`SIGHTLINE_DEMO_POSTGRES=false`). Authentication is `trust` on loopback: the
//! cluster holds demo data only and listens on 127.0.0.1 alone (no unix socket).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use rand::Rng;
use tokio_postgres::{Client, NoTls};

/// Settings appended to `postgresql.conf` at `initdb`: loopback only, statements tracked, small and fast
/// (fsync off: the data is a demo's).
const CONF: &str = "
# added by sightline --demo
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'pg_stat_statements'
max_connections = 30
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
";

/// How often the billing batch holds its row lock, and for how long.
const LOCK_EVERY: Duration = Duration::from_secs(30);
const LOCK_HOLD_S: f64 = 8.0;

/// A running demo cluster; [`DemoPostgres::stop`] shuts it down (the server calls it at shutdown).
pub struct DemoPostgres {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    pub port: u16,
    stopped: AtomicBool,
}

impl DemoPostgres {
    /// The URL the collector uses: the `pg_monitor` role created at set-up.
    pub fn monitor_url(&self) -> String {
        format!("postgres://monitor@127.0.0.1:{}/postgres", self.port)
    }

    fn superuser_url(&self, app: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?application_name={app}", self.port)
    }

    /// Stops the cluster (fast shutdown: sessions are ended, nothing is lost that was committed). Idempotent.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let out = self.pg(Command::new(self.bin.join("pg_ctl")).arg("-D").arg(&self.data).args(["-w", "-t", "20", "-m", "fast", "stop"]));
        match out {
            Ok(_) => tracing::info!("demo PostgreSQL stopped"),
            Err(e) => tracing::warn!(error = %e, "stopping the demo PostgreSQL failed"),
        }
    }

    /// Runs a PostgreSQL tool as the cluster's owner: PostgreSQL refuses to run as root, so as root it runs as
    /// the `postgres` OS user (Debian's package creates it).
    fn pg(&self, cmd: &mut Command) -> anyhow::Result<String> {
        run_pg(self.as_postgres, cmd)
    }
}

/// A server that fails after start-up (e.g. it cannot listen on its address) must not leave the cluster
/// running: stop it when the last handle goes away, unless the shutdown already did.
impl Drop for DemoPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_pg(as_postgres: bool, cmd: &mut Command) -> anyhow::Result<String> {
    let mut c = if as_postgres {
        // util-linux's runuser lives in /usr/sbin, which a root service's PATH may lack.
        let runuser = ["/usr/sbin/runuser", "/sbin/runuser"].into_iter().find(|p| Path::new(p).is_file()).unwrap_or("runuser");
        let mut r = Command::new(runuser);
        r.args(["-u", "postgres", "--"]).arg(cmd.get_program()).args(cmd.get_args());
        r
    } else {
        let mut r = Command::new(cmd.get_program());
        r.args(cmd.get_args());
        r
    };
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", c.get_program().to_string_lossy()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        bail!("{} failed ({}): {last}", Path::new(cmd.get_program()).file_name().unwrap_or_default().to_string_lossy(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The newest installed server binaries: `SIGHTLINE_PG_BIN`, else `/usr/lib/postgresql/<highest version>/bin`.
fn find_bin() -> Option<PathBuf> {
    let has_tools = |d: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|t| d.join(t).is_file());
    if let Some(d) = std::env::var_os("SIGHTLINE_PG_BIN").map(PathBuf::from) {
        return has_tools(&d).then_some(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Starts (creating it the first time) the demo cluster and its load. `None` — after one log line saying
/// why — when the binaries are missing or anything fails: the demo goes on without a database.
pub async fn start(data_dir: &Path) -> Option<DemoPostgres> {
    let Some(bin) = find_bin() else {
        match std::env::var("SIGHTLINE_PG_BIN") {
            Ok(d) => tracing::info!("no demo PostgreSQL: SIGHTLINE_PG_BIN={d} has no initdb, pg_ctl and postgres"),
            Err(_) => tracing::info!(
                "no demo PostgreSQL: no server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql, or set SIGHTLINE_PG_BIN)"
            ),
        }
        return None;
    };
    let dir = data_dir.join("demo-postgres");
    let started = std::time::Instant::now();
    let d = dir.clone();
    let pg = match crate::blocking::run("starting the demo PostgreSQL", move || start_cluster(bin, &d)).await {
        Ok(pg) => pg,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "no demo PostgreSQL: {e:#}");
            return None;
        }
    };
    if let Err(e) = prepare(&pg).await {
        tracing::warn!("no demo PostgreSQL: setting up its demo database failed: {e:#}");
        // `pg_ctl stop` waits for the server: not on the runtime.
        let stop = move || {
            pg.stop();
            Ok::<_, crate::error::AppError>(())
        };
        let _ = crate::blocking::run("stopping the demo PostgreSQL", stop).await;
        return None;
    }
    tracing::info!(port = pg.port, dir = %dir.display(), elapsed_ms = started.elapsed().as_millis() as u64, "demo PostgreSQL running");
    spawn_load(&pg);
    Some(pg)
}

/// `initdb` once, then start on the previous port if it is free (so the instance id, and links to it, stay
/// the same across restarts), else on a new free one.
fn start_cluster(bin: PathBuf, dir: &Path) -> anyhow::Result<DemoPostgres> {
    crate::blocking::assert_off_runtime();
    let as_postgres = is_root();
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if as_postgres {
        // The `postgres` user must reach the directory: a data directory made by a root process (a temp dir)
        // may be closed to others. Allow passing through it (not listing it).
        if let Some(parent) = dir.parent() {
            let mode = fs::metadata(parent)?.permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(parent, fs::Permissions::from_mode(mode | 0o001))?;
            }
        }
        let out = Command::new("chown").arg("postgres:").arg(dir).output().context("cannot run chown")?;
        if !out.status.success() {
            bail!("cannot give {} to the postgres OS user: {}", dir.display(), String::from_utf8_lossy(&out.stderr).trim());
        }
    }
    let data = dir.join("data");
    let log = dir.join("postgres.log");
    if !data.join("PG_VERSION").is_file() {
        run_pg(
            as_postgres,
            Command::new(bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
        )?;
        let conf = data.join("postgresql.conf");
        let mut s = fs::read_to_string(&conf)?;
        s.push_str(CONF);
        fs::write(&conf, s)?;
    } else if data.join("postmaster.pid").exists() {
        // Left running by a server that was killed: stop it, or the start below would fail.
        let _ = run_pg(as_postgres, Command::new(bin.join("pg_ctl")).arg("-D").arg(&data).args(["-w", "-t", "20", "-m", "fast", "stop"]));
    }
    let port_file = dir.join("port");
    let port = fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| port_free(*p))
        .unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(54329));
    run_pg(
        as_postgres,
        Command::new(bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "30", "-o", &format!("-p {port}"), "start"]),
    )
    .with_context(|| format!("see {}", log.display()))?;
    let _ = fs::write(&port_file, port.to_string());
    Ok(DemoPostgres { bin, data, as_postgres, port, stopped: AtomicBool::new(false) })
}

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Idempotent set-up: the monitoring role, the extension, the demo tables. The monitoring role's
/// `pg_stat_statements` entries are reset: an entry keeps the text it was first recorded with, so entries of
/// a Sightline that did not yet mark its statements (`collect::postgres::sample::MARK`) would stay listed.
async fn prepare(pg: &DemoPostgres) -> anyhow::Result<()> {
    let c = connect(&pg.superuser_url("sightline-demo-setup")).await?;
    c.batch_execute(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'monitor') THEN
             CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
           END IF;
         END $$;
         CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
         SELECT pg_stat_statements_reset('monitor'::regrole);
         CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0);
         INSERT INTO accounts SELECT i, 'customer ' || i, 1000 FROM generate_series(1, 2000) i ON CONFLICT DO NOTHING;
         CREATE TABLE IF NOT EXISTS payments (id bigserial PRIMARY KEY, account_id int NOT NULL, amount bigint NOT NULL,
                                              created_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX IF NOT EXISTS payments_account ON payments (account_id);",
    )
    .await?;
    Ok(())
}

/// Starts the demo load: each client reconnects on its own after an error (e.g. while the cluster restarts).
fn spawn_load(pg: &DemoPostgres) {
    for (app, kind) in [("shop-api", Load::Shop), ("shop-api", Load::Shop), ("checkout", Load::Checkout), ("reports", Load::Reports), ("billing-batch", Load::Batch)] {
        let url = pg.superuser_url(app);
        tokio::spawn(async move {
            loop {
                match connect(&url).await {
                    Ok(c) => {
                        let e = run_load(&c, kind).await;
                        tracing::debug!(app, error = %e, "demo PostgreSQL client stopped");
                    }
                    Err(e) => tracing::debug!(app, error = %e, "demo PostgreSQL client cannot connect"),
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        });
    }
}

#[derive(Clone, Copy)]
enum Load {
    /// Point reads, balance updates and payment inserts, ~10 a second.
    Shop,
    /// Updates account 1 every 2 s: waits whenever the batch holds it.
    Checkout,
    /// An aggregate now and then, and a slow call (a long-running session).
    Reports,
    /// Holds a row lock on account 1 for several seconds every half minute.
    Batch,
}

async fn pause(ms: std::ops::Range<u64>) {
    let ms = rand::rng().random_range(ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs one client until a statement fails; returns the error.
async fn run_load(c: &Client, kind: Load) -> tokio_postgres::Error {
    loop {
        let r = match kind {
            Load::Shop => shop(c).await,
            Load::Checkout => {
                pause(1500..2500).await;
                c.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1", &[]).await.map(drop)
            }
            Load::Reports => reports(c).await,
            Load::Batch => {
                tokio::time::sleep(LOCK_EVERY).await;
                c.batch_execute(&format!(
                    "BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = 1; SELECT pg_sleep({LOCK_HOLD_S}); COMMIT;"
                ))
                .await
            }
        };
        if let Err(e) = r {
            return e;
        }
    }
}

async fn shop(c: &Client) -> Result<(), tokio_postgres::Error> {
    let (id, amount, slow, fraud) = {
        let mut r = rand::rng();
        (r.random_range(2..=2000i32), r.random_range(1..500i64), r.random_bool(0.1), r.random_bool(0.15).then(|| r.random_range(0.1..0.6f64)))
    };
    c.query_opt("SELECT owner, balance FROM accounts WHERE id = $1", &[&id]).await?;
    c.execute("UPDATE accounts SET balance = balance - $2 WHERE id = $1", &[&id, &amount]).await?;
    c.execute("INSERT INTO payments (account_id, amount) VALUES ($1, $2)", &[&id, &amount]).await?;
    if slow {
        c.query("SELECT count(*), sum(amount) FROM payments WHERE account_id = $1 AND created_at > now() - interval '1 hour'", &[&id])
            .await?;
    }
    if let Some(secs) = fraud {
        // A slow call some requests make, as a stored function would: shows as active sessions.
        c.execute("SELECT pg_sleep($1) /* fraud check */", &[&secs]).await?;
    }
    pause(60..180).await;
    Ok(())
}

async fn reports(c: &Client) -> Result<(), tokio_postgres::Error> {
    pause(2000..5000).await;
    c.query("SELECT account_id, sum(amount) AS total FROM payments GROUP BY account_id ORDER BY total DESC LIMIT 10", &[]).await?;
    let secs = rand::rng().random_range(0.5..2.5f64);
    c.execute("SELECT pg_sleep($1) /* monthly statement export */", &[&secs]).await?;
    // Keep the table small: the demo runs for days on a laptop.
    c.execute("DELETE FROM payments WHERE id < (SELECT max(id) - 100000 FROM payments)", &[]).await?;
    Ok(())
}
