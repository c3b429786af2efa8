//! The server raises its open-files soft limit to the hard one at start (crates/server/src/open_files.rs),
//! in a test binary of its own: the test lowers its own soft limit, which the server inherits.

mod common;

use common::*;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// `Max open files` (soft, hard) of a running process, as the kernel reports it.
fn limits_of(pid: u32) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text.lines().find(|l| l.starts_with("Max open files")).expect("a Max open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    (fields.next().unwrap().to_string(), fields.next().unwrap().to_string())
}

#[tokio::test]
async fn a_low_soft_limit_is_raised_to_the_hard_one() {
    let hard = getrlimit(Resource::Nofile).maximum;
    // A soft limit well below the hard one, as systemd gives services (1024 under a much higher hard limit).
    let soft = hard.map_or(1024, |h| (h / 2).min(1024));
    setrlimit(Resource::Nofile, Rlimit { current: Some(soft), maximum: hard }).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (now_soft, now_hard) = limits_of(server.child.id());
    let hard_text = hard.map_or("unlimited".to_string(), |h| h.to_string());
    assert_eq!(now_hard, hard_text);
    assert_eq!(now_soft, hard_text, "the soft limit ({soft} when started) is raised to the hard one");
    // Still serving.
    let health = reqwest::get(format!("{}/api/v1/health", server.base)).await.unwrap();
    assert!(health.status().is_success(), "{}", health.status());
}
