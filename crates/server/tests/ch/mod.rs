//! Throwaway ClickHouse servers for tests: Debian's `clickhouse-server` (18.16) from a config of our own, on
//! free loopback ports, with its data in a temp dir — never a system service. Without the binary tests fail,
//! they never skip (`cargo xtask setup` installs it).
#![allow(dead_code)]

pub mod zookeeper;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Polls `answers` every 100 ms for up to 60 s after `server`'s process (called `name`) was started; fails
/// with its `log` when the process exits first or the time is up. The server owns its process throughout,
/// so a failed start still ends it (on drop).
pub fn wait_until_it_answers<S>(name: &str, server: &mut S, child: fn(&mut S) -> &mut Child, answers: fn(&S) -> bool, log: fn(&S) -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers(server) {
        if let Some(status) = child(server).try_wait().unwrap() {
            panic!("{name} exited ({status}) at start:\n{}", log(server));
        }
        assert!(Instant::now() < deadline, "{name} did not answer within 60 s:\n{}", log(server));
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn server_bin() -> PathBuf {
    let bin = std::env::var_os("SIGHTLINE_CLICKHOUSE_BIN").map(PathBuf::from).unwrap_or_else(|| "/usr/sbin/clickhouse-server".into());
    assert!(
        bin.is_file(),
        "{} not found: install ClickHouse (`apt-get install -y clickhouse-server`, done by `cargo xtask setup`) or point \
         SIGHTLINE_CLICKHOUSE_BIN at clickhouse-server. This test does not skip.",
        bin.display()
    );
    bin
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// One ClickHouse server; killed (and its files removed) when dropped.
pub struct ClickHouse {
    pub dir: tempfile::TempDir,
    pub http_port: u16,
    pub tcp_port: u16,
    child: Option<Child>,
}

impl ClickHouse {
    /// Starts a server and waits until it answers.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Like [`ClickHouse::start`], with extra top-level config (e.g. `<remote_servers>` for a cluster).
    pub fn start_with(extra_config: &str) -> Self {
        Self::start_on(free_port(), free_port(), extra_config)
    }

    /// Like [`ClickHouse::start_with`], on given ports (a cluster's servers must know each other's).
    pub fn start_on(http_port: u16, tcp_port: u16, extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = ClickHouse { dir, http_port, tcp_port, child: None };
        ch.write_config(extra_config);
        ch.spawn();
        ch
    }

    fn write_config(&self, extra: &str) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        std::fs::write(
            d.join("config.xml"),
            format!(
                "<?xml version=\"1.0\"?>\n<yandex>\n  <logger><level>warning</level><log>{log}</log><errorlog>{log}.err</errorlog></logger>\n  \
                 <http_port>{http}</http_port>\n  <tcp_port>{tcp}</tcp_port>\n  <listen_host>127.0.0.1</listen_host>\n  \
                 <path>{data}/</path>\n  <tmp_path>{tmp}/</tmp_path>\n  <users_config>{users}</users_config>\n  \
                 <mark_cache_size>268435456</mark_cache_size>\n  <max_concurrent_queries>100</max_concurrent_queries>\n  \
                 <default_profile>default</default_profile>\n  <default_database>default</default_database>\n{extra}\n</yandex>\n",
                log = d.join("server.log").display(),
                http = self.http_port,
                tcp = self.tcp_port,
                data = d.join("data").display(),
                tmp = d.join("tmp").display(),
                users = d.join("users.xml").display(),
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("users.xml"),
            "<?xml version=\"1.0\"?>\n<yandex>\n  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>\n  \
             <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\
             <profile>default</profile><quota>default</quota></default></users>\n  <quotas><default></default></quotas>\n</yandex>\n",
        )
        .unwrap();
        if is_root() {
            let ok = Command::new("chown").arg("-R").arg("clickhouse:").arg(d).status().unwrap().success();
            assert!(ok, "chown of the ClickHouse test dir to the clickhouse user failed");
        }
    }

    fn spawn(&mut self) {
        let bin = server_bin();
        let config = self.dir.path().join("config.xml");
        // Like PostgreSQL, run as the package's own user when we are root.
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "clickhouse", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.arg(format!("--config-file={}", config.display())).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        self.child = Some(cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())));
        wait_until_it_answers("clickhouse-server", self, |s| s.child.as_mut().unwrap(), Self::answers, Self::log);
    }

    /// Waits (as for its start) until this replica has its ZooKeeper session: ZooKeeper answering `ruok`
    /// does not mean ClickHouse has one yet (a full test run on a busy machine once failed a node's table
    /// creation with "All connection tries failed").
    pub fn wait_for_zookeeper(&mut self) {
        let in_session = |c: &Self| c.try_sql("SELECT count() FROM system.zookeeper WHERE path = '/'").is_ok();
        wait_until_it_answers("clickhouse-server's ZooKeeper session", self, |s| s.child.as_mut().unwrap(), in_session, Self::log);
    }

    /// The server's own log (for failure messages).
    pub fn log(&self) -> String {
        let d = self.dir.path();
        let mut s = std::fs::read_to_string(d.join("server.log.err")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(d.join("server.log")).unwrap_or_default());
        let tail: Vec<&str> = s.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Whether `GET /ping` answers `Ok.`.
    pub fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], self.http_port).into(), Duration::from_millis(500)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("Ok.")
    }

    /// The `--clickhouse` URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("http://127.0.0.1:{}/?database={database}", self.http_port)
    }

    /// Kills the server (as a crash or an outage would).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id();
            // `runuser` forwards signals to its child; the server itself is killed too in case it does not.
            let _ = Command::new("pkill").arg("-9").arg("-P").arg(pid.to_string()).status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.answers() {
            assert!(Instant::now() < deadline, "ClickHouse still answers after kill");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs SQL over HTTP (for set-up and checks); panics with ClickHouse's message on failure.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|body| panic!("{sql}: {body}"))
    }

    /// The answer to `sql`, or ClickHouse's error message.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        let req = format!("POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}", sql.len());
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let ok = head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200");
        if ok { Ok(body.trim().to_string()) } else { Err(body.trim().to_string()) }
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("pkill").arg("-9").arg("-P").arg(c.id().to_string()).status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One server shared by every test of this test binary (each test uses its own database). A static is never
/// dropped, so a watchdog kills the server and removes its files when the test process exits.
pub fn shared() -> &'static ClickHouse {
    static SERVER: OnceLock<ClickHouse> = OnceLock::new();
    SERVER.get_or_init(|| {
        let ch = ClickHouse::start();
        let child = ch.child.as_ref().unwrap().id();
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; pkill -9 -P {child}; kill -9 {child}; rm -rf '{dir}'",
            me = std::process::id(),
            dir = ch.dir.path().display()
        );
        // Outlives this process on purpose (it is what cleans up after it): never waited for.
        #[allow(clippy::zombie_processes)]
        Command::new("sh").arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        ch
    })
}

/// A database name no other test uses (on a shared server: unique within this process).
pub fn fresh_database() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("t_{}_{n}", std::process::id())
}
