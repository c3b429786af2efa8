//! A throwaway ZooKeeper for replicated ClickHouse tests: Debian's `zookeeper` (3.8) run standalone from a
//! config of our own on a free loopback port, its data in a temp dir — never the system service. Without the
//! package the tests fail, they never skip (`cargo xtask setup` installs it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const JAR: &str = "/usr/share/java/zookeeper.jar";
const JAVA: &str = "/usr/bin/java";

/// One ZooKeeper server; killed (and its files removed) when dropped.
pub struct ZooKeeper {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl ZooKeeper {
    /// Starts a standalone server and waits until it answers `ruok`.
    pub fn start() -> Self {
        for f in [JAR, JAVA] {
            assert!(
                Path::new(f).is_file(),
                "{f} not found: install ZooKeeper (`apt-get install -y zookeeper`, done by `cargo xtask setup`). This test does not skip."
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::write(
            d.join("zoo.cfg"),
            format!(
                "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok\n",
                d.join("data").display()
            ),
        )
        .unwrap();
        // The server's log goes to a file in its dir (read on failure), not to the test's output.
        std::fs::write(
            d.join("log4j.properties"),
            format!(
                "log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File={}\n\
                 log4j.appender.F.layout=org.apache.log4j.PatternLayout\n",
                d.join("zookeeper.log").display()
            ),
        )
        .unwrap();
        let child = Command::new(JAVA)
            .args(["-Xmx256m", "-cp"])
            .arg(format!("{}:{JAR}", d.display()))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(d.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ZooKeeper with {JAVA}: {e}"));
        let mut zk = ZooKeeper { dir, port, child: Some(child) };
        super::wait_until_it_answers("ZooKeeper", &mut zk, |z| z.child.as_mut().unwrap(), Self::answers, Self::log);
        zk
    }

    /// Whether the server answers ZooKeeper's `ruok` with `imok`.
    pub fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(500)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"ruok").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out == "imok"
    }

    /// The `<zookeeper>` section of a ClickHouse config that uses this server.
    pub fn clickhouse_config(&self) -> String {
        format!("<zookeeper><node><host>127.0.0.1</host><port>{}</port></node></zookeeper>", self.port)
    }

    fn log(&self) -> String {
        let d = self.dir.path();
        let mut s = std::fs::read_to_string(d.join("stderr")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(d.join("zookeeper.log")).unwrap_or_default());
        s
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
