//! The host collector on this very machine: a child process that burns CPU shows up in the process list
//! (masked command line), in its own history and in the `process.*` / `host.*` metrics.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use sightline_model::{CubeAnswer, HostProcessPoint, HostProcesses, MetricCatalog, MetricQueryResult};

/// The burner's name: a script's name is its process name (the kernel's `comm`, at most 15 bytes).
const BURNER: &str = "sightline-burn";

/// Kills the child when the test ends, also when it panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A shell loop named [`BURNER`], given a secret on its command line.
fn burner(dir: &std::path::Path) -> Killed {
    let script = dir.join(BURNER);
    std::fs::write(&script, "#!/bin/sh\nwhile :; do :; done\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A just-written executable can be briefly "text file busy" while another thread forks.
    for _ in 0..50 {
        match Command::new(&script).args(["--password", "hunter2"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(c) => return Killed(c),
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("cannot start {}: {e}", script.display()),
        }
    }
    panic!("{} stayed busy", script.display());
}

/// A burner in `dir`, and an app whose host collector samples every 300 ms.
async fn burning_and_sampled(dir: &std::path::Path) -> (Killed, TestApp) {
    let child = burner(dir);
    let app = TestApp::with(|a| {
        a.host_collector = true;
        a.host_interval_ms = 300;
    })
    .await;
    app.state.host.spawn();
    (child, app)
}

/// The process list and `pid`'s history once the newest sample has `pid` busy and its history has three
/// points; `None` before (including before the first sample, answered 404).
async fn seen_busy(app: &TestApp, pid: u32) -> Option<(HostProcesses, Vec<HostProcessPoint>)> {
    let (s, v) = app.get("/api/v1/host/processes").await;
    if s != StatusCode::OK {
        return None;
    }
    let list: HostProcesses = serde_json::from_value(v).unwrap();
    let (s, v) = app.get(&format!("/api/v1/host/processes/{pid}/history")).await;
    let points: Vec<HostProcessPoint> = if s == StatusCode::OK { serde_json::from_value(v).unwrap() } else { vec![] };
    let busy = list.processes.iter().any(|p| p.pid == pid && p.cpu_percent > 20.0);
    (busy && points.len() >= 3).then_some((list, points))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_process_shows_in_the_list_its_history_and_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (child, app) = burning_and_sampled(dir.path()).await;
    let pid = child.0.id();
    let started = now_ms();

    // Poll until the burner has been seen busy in a few samples.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (list, points) = loop {
        if let Some(seen) = seen_busy(&app, pid).await {
            break seen;
        }
        assert!(Instant::now() < deadline, "the burner (pid {pid}) was not seen busy in 3 samples within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let me = list.processes.iter().find(|p| p.pid == pid).unwrap();
    assert_eq!(me.name, BURNER);
    assert!(me.cpu_percent > 20.0 && me.rss_bytes > 0, "{me:?}");
    assert!(me.command.contains("--password ***"), "{}", me.command);
    assert!(!me.command.contains("hunter2"), "{}", me.command);
    assert!(me.started_ms > 0 && me.started_ms <= now_ms());
    assert!(list.cpu_percent > 0.0 && list.cpu_percent <= 100.0);
    assert!(list.memory_used_bytes > 0 && list.memory_used_bytes <= list.memory_total_bytes);
    assert!(list.processes.len() <= 60);
    assert!(list.processes.windows(2).all(|w| w[0].cpu_percent >= w[1].cpu_percent), "sorted by CPU");
    assert!(points.windows(2).all(|w| w[0].t < w[1].t));
    assert!(points.iter().all(|p| p.rss_bytes > 0));
    // A moment in the past picks the nearest sample.
    let past: HostProcesses = app.get_ok(&format!("/api/v1/host/processes?at={}", points[0].t)).await;
    assert_eq!(past.at, points[0].t);

    // The metrics: available, one series for the burner's name, machine memory above zero.
    let c: MetricCatalog = app.get_ok("/api/v1/metrics").await;
    for name in ["host.cpu.usage", "host.memory.used", "process.cpu.usage", "process.memory.rss"] {
        assert!(c.metrics.iter().any(|m| m.name == name && m.available), "{name} not available");
    }
    let window = format!("from={}&to={}", started - 60_000, now_ms() + 1_000);
    let cpu: MetricQueryResult =
        app.get_ok(&format!("/api/v1/metrics/query?metric=process.cpu.usage&group_by=process&limit=1000&{window}")).await;
    assert!(cpu.step_ms >= 600, "no step narrower than twice the interval: {}", cpu.step_ms);
    let mine = cpu.series.iter().find(|s| s.labels.get("process").map(String::as_str) == Some(BURNER));
    let mine = mine.unwrap_or_else(|| panic!("no series for {BURNER}: {:?}", cpu.series.iter().map(|s| &s.labels).collect::<Vec<_>>()));
    // A busy loop shows well above an idle process's ~0 %, but on a loaded CI machine (load 10 on 2 cores
    // here) it gets only a share of a core: 16.7 % was seen, so the bar is 5 %.
    assert!(mine.values.iter().flatten().any(|v| *v > 5.0), "{:?}", mine.values);
    // `limit` keeps the busiest names and says how many were left out.
    let top: MetricQueryResult =
        app.get_ok(&format!("/api/v1/metrics/query?metric=process.cpu.usage&group_by=process&limit=1&{window}")).await;
    // (Only shape: samples keep arriving, so the ranking may move between two queries.)
    assert_eq!(top.series.len(), 1);
    assert!(top.truncated >= 1 && cpu.series.len() > 1);
    let rss: MetricQueryResult =
        app.get_ok(&format!("/api/v1/metrics/query?metric=process.memory.rss&filter=process:{BURNER}&{window}")).await;
    assert!(rss.series[0].values.iter().flatten().any(|v| *v > 0.0));
    let mem: MetricQueryResult = app.get_ok(&format!("/api/v1/metrics/query?metric=host.memory.used&group_by=host&{window}")).await;
    assert_eq!(mem.series.len(), 1);
    assert_eq!(mem.series[0].labels.get("host"), Some(&list.host));
    assert!(mem.series[0].values.iter().flatten().any(|v| *v > 0.0));
    let host_cpu: MetricQueryResult = app.get_ok(&format!("/api/v1/metrics/query?metric=host.cpu.usage&{window}")).await;
    assert!(host_cpu.series[0].values.iter().flatten().all(|v| (0.0..=100.0).contains(v)));
    let (s, _) = app.get(&format!("/api/v1/metrics/query?metric=host.cpu.usage&group_by=service&{window}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Unknown pid: JSON 404; an inverted window: 400.
    let (s, v) = app.get("/api/v1/host/processes/4000000000/history").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["status"], 404);
    let (s, v) = app.get(&format!("/api/v1/host/processes/{pid}/history?from=2000&to=1000")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    drop(child);
}

#[tokio::test]
async fn with_the_collector_off_host_data_is_unavailable() {
    let app = TestApp::with(|a| a.host_collector = false).await;
    let (s, v) = app.get("/api/v1/host/processes").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].as_str().unwrap().contains("host collector is off"), "{v}");
    let c: MetricCatalog = app.get_ok("/api/v1/metrics").await;
    let m = c.metrics.iter().find(|m| m.name == "process.cpu.usage").unwrap();
    assert!(!m.available && m.unavailable_reason.as_deref().unwrap().contains("--host-collector"));
    let (s, _) = app.get("/api/v1/metrics/query?metric=host.cpu.usage").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// The cube grouped by instance shows the CPU and memory of an instance whose resource names this machine's
/// `host.name` and the pid of a busy process; an instance on another host gets none (not known), and
/// grouping by anything else carries no usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_cpu_and_memory_join_its_cube_row() {
    let dir = tempfile::tempdir().unwrap();
    let (child, app) = burning_and_sampled(dir.path()).await;
    let pid = child.0.id();
    let host = app.state.host.host().to_string();
    let resource = |instance: &str, host: &str| {
        let mut req = request("payment", vec![server_span(rand_id(), 1, "POST /pay", now_ms(), 12.0)]);
        let attrs = &mut req.resource_spans[0].resource.as_mut().unwrap().attributes;
        attrs.extend([kv("service.instance.id", instance), kv("host.name", host), kv_int("process.pid", pid as i64)]);
        req
    };
    for (instance, on) in [("here-1", host.as_str()), ("elsewhere-1", "another-host")] {
        let (s, body) = app.post_proto(&resource(instance, on)).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let usage = loop {
        let window = format!("from={}&to={}", now_ms() - 600_000, now_ms() + 60_000);
        let a: CubeAnswer = app.get_ok(&format!("/api/v1/cube?group_by=instance&{window}")).await;
        assert_eq!(a.rows.len(), 2, "{a:?}");
        if let Some(u) = a.usage.iter().find(|u| u.instance == "here-1" && u.samples >= 2 && u.cpu_percent > 5.0) {
            assert!(a.usage.iter().all(|u| u.instance != "elsewhere-1"), "another host's pid is not ours: {a:?}");
            break u.clone();
        }
        assert!(Instant::now() < deadline, "no CPU for instance here-1 (pid {pid}) within 30 s: {:?}", a.usage);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((usage.host.as_str(), usage.pid), (host.as_str(), pid));
    assert!(usage.rss_bytes > 0, "{usage:?}");
    let window = format!("from={}&to={}", now_ms() - 600_000, now_ms() + 60_000);
    let by_endpoint: CubeAnswer = app.get_ok(&format!("/api/v1/cube?group_by=endpoint&{window}")).await;
    assert!(by_endpoint.usage.is_empty());
    drop(child);
}

/// A trace id no other test uses.
fn rand_id() -> u64 {
    now_ms() as u64 ^ 0x5eed
}
