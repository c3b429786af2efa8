//! A throwaway PostgreSQL 15 cluster for tests (initdb in a temp dir, a free port, `pg_stat_statements`
//! preloaded), shared by the server's integration test and the browser E2E test (`#[path]`-included there).
//! Needs the server binaries in `SIGHTLINE_PG_BIN` or `/usr/lib/postgresql/15/bin`: without them tests fail,
//! they never skip.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn pg_bin() -> PathBuf {
    let dir = std::env::var_os("SIGHTLINE_PG_BIN").map(PathBuf::from).unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
    for tool in ["initdb", "pg_ctl", "postgres", "pgbench", "psql"] {
        assert!(
            dir.join(tool).is_file(),
            "{} not found: install PostgreSQL 15 (`apt-get install -y postgresql`, done by `cargo xtask setup`) \
             or point SIGHTLINE_PG_BIN at its bin directory. This test does not skip.",
            dir.join(tool).display()
        );
    }
    dir
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A throwaway PostgreSQL cluster, stopped (immediately) and deleted when dropped.
pub struct Cluster {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub as_postgres: bool,
}

impl Cluster {
    pub fn new() -> Self {
        Self::with_conf("")
    }

    /// Like [`Cluster::new`], with extra `postgresql.conf` lines (later lines win).
    pub fn with_conf(extra: &str) -> Self {
        Self::with_conf_and_files(extra, &[])
    }

    /// Like [`Cluster::with_conf`], with files (name, contents) written into the data directory before the
    /// start, readable by the cluster's owner only (as PostgreSQL wants its `server.key`).
    pub fn with_conf_and_files(extra: &str, files: &[(&str, &[u8])]) -> Self {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user.
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("-R").arg("postgres:").arg(dir.path()));
        }
        let c = Cluster { bin, dir, port: free_port(), as_postgres };
        c.pg(
            Command::new(c.bin.join("initdb"))
                .arg("-D")
                .arg(c.data())
                .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"]),
        );
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nshared_preload_libraries = 'pg_stat_statements'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\nshared_buffers = 32MB\n",
            c.port,
            c.socket_dir().display()
        );
        let mut s = fs::read_to_string(c.data().join("postgresql.conf")).unwrap();
        s.push_str(&conf);
        s.push_str(extra);
        s.push('\n');
        fs::write(c.data().join("postgresql.conf"), s).unwrap();
        for (name, contents) in files {
            let path = c.data().join(name);
            fs::write(&path, contents).unwrap();
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            if as_postgres {
                run(Command::new("chown").arg("postgres:").arg(&path));
            }
        }
        c.start();
        c
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a PostgreSQL tool as the cluster's owner and fails the test with its output if it fails.
    pub fn pg(&self, cmd: &mut Command) {
        let mut c = if self.as_postgres {
            let mut r = Command::new("runuser");
            r.args(["-u", "postgres", "--"]).arg(cmd.get_program()).args(cmd.get_args());
            r
        } else {
            let mut r = Command::new(cmd.get_program());
            r.args(cmd.get_args());
            r
        };
        run(&mut c);
    }

    pub fn start(&self) {
        self.pg(Command::new(self.bin.join("pg_ctl")).arg("-D").arg(self.data()).arg("-l").arg(self.dir.path().join("log")).args(["-w", "-t", "30", "start"]));
    }

    pub fn stop(&self, mode: &str) {
        self.pg(Command::new(self.bin.join("pg_ctl")).arg("-D").arg(self.data()).args(["-w", "-t", "30", "-m", mode, "stop"]));
    }

    pub fn pgbench(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin.join("pgbench"));
        c.arg("-h").arg(self.socket_dir()).arg("-p").arg(self.port.to_string()).args(["-U", "postgres"]).args(args).arg("postgres");
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let mut c = Command::new(self.bin.join("pg_ctl"));
            c.arg("-D").arg(self.data()).args(["-w", "-m", "immediate", "stop"]);
            let mut c = if self.as_postgres {
                let mut r = Command::new("runuser");
                r.args(["-u", "postgres", "--"]).arg(c.get_program()).args(c.get_args());
                r
            } else {
                c
            };
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    /// Runs SQL with psql as the superuser over the unix socket; returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_cmd(sql).output().expect("run psql");
        assert!(out.status.success(), "psql failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates the role Sightline monitors as (`pg_monitor` only, logging in with `password`) and
    /// `pg_stat_statements` in the `postgres` database: the set-up every monitored test cluster needs.
    pub fn create_monitor(&self, password: &str) {
        self.psql(&format!("CREATE ROLE monitor LOGIN PASSWORD '{password}' IN ROLE pg_monitor"));
        self.psql("CREATE EXTENSION pg_stat_statements");
    }

    /// A psql command (not yet run) for SQL that should run in the background, e.g. to hold a lock.
    pub fn psql_cmd(&self, sql: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.arg("-h").arg(self.socket_dir()).arg("-p").arg(self.port.to_string())
            .args(["-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        c
    }
}
