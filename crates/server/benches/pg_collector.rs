//! What the PostgreSQL collector costs the database it watches: a throwaway PostgreSQL 15 with 200 client
//! sessions (20 of them always running a statement), sampled every second by the real collector for 30 s.
//! Reports the collector's statements per second and their execution time (from `pg_stat_statements`,
//! filtered to the monitoring role) and the CPU of its backend process (`/proc/<pid>/stat`).
//!
//! `cargo bench -p sightline-server --bench pg_collector` (needs PostgreSQL 15, like the integration tests;
//! `PG_BENCH_SECS` changes the measured time). Results: BENCHMARKS.md.

#[path = "../tests/pg/mod.rs"]
mod pg;

use std::time::{Duration, Instant};

use sightline_server::collect::postgres::{DbHub, PgUrl};
use sightline_server::config::ServeArgs;
use tokio_postgres::NoTls;

const SESSIONS: usize = 200;
const ACTIVE: usize = 20;

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat of the collector backend");
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clk_tck() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}

/// Calls and execution time (ms) of the monitoring role's statements so far.
fn monitor_stats(c: &pg::Cluster) -> (f64, f64) {
    let out = c.psql(
        "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements \
         WHERE userid = 'monitor'::regrole",
    );
    let mut it = out.split('|').map(|v| v.trim().parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: u64 = std::env::var("PG_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let cluster = pg::Cluster::with_conf("max_connections = 260");
    cluster.psql("CREATE ROLE monitor LOGIN PASSWORD 'bench-pw' IN ROLE pg_monitor; CREATE EXTENSION pg_stat_statements;");

    // 200 client sessions: most idle, some always busy (what an application's pool looks like).
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(cluster.socket_dir()).port(cluster.port).user("postgres").dbname("postgres");
    let mut clients = Vec::new();
    for i in 0..SESSIONS {
        let mut cfg = cfg.clone();
        cfg.application_name(format!("app-{i}"));
        let (client, conn) = cfg.connect(NoTls).await.expect("open a client session");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        clients.push(client);
    }
    let busy: Vec<_> = clients
        .drain(..ACTIVE)
        .map(|c| {
            tokio::spawn(async move {
                while c.batch_execute("SELECT pg_sleep(0.2)").await.is_ok() {}
            })
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut args = ServeArgs::for_tests(dir.path());
    args.postgres = vec![PgUrl(format!("postgres://monitor:bench-pw@127.0.0.1:{}/postgres", cluster.port))];
    args.pg_interval_ms = 1000;
    let hub = DbHub::new(&args).unwrap();
    hub.spawn();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid: i32 = cluster
        .psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'sightline'")
        .parse()
        .expect("the collector is connected");

    let (calls0, ms0) = monitor_stats(&cluster);
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(pid);
    let (calls1, ms1) = monitor_stats(&cluster);

    let inst = hub.list().into_iter().next().unwrap();
    let now = sightline_server::store::now_ms();
    let samples = hub.instance(&inst.id).unwrap().samples(now - (secs as i64 + 1) * 1000, now).times.len();
    let sessions = hub.instance(&inst.id).unwrap().sessions(None).sessions.len();
    println!("pg_collector: {SESSIONS} sessions ({ACTIVE} active), 1 s sampling, {elapsed:.0} s measured");
    println!("  samples taken                 {samples}");
    println!("  non-idle sessions per sample  {sessions}");
    println!("  collector statements / s      {:.2}", (calls1 - calls0) / elapsed);
    println!("  their execution time          {:.2} ms/s ({:.2} ms per sample)", (ms1 - ms0) / elapsed, (ms1 - ms0) / samples.max(1) as f64);
    println!("  collector backend CPU         {:.2} % of one core", (cpu1 - cpu0) as f64 / clk_tck() / elapsed * 100.0);
    for b in busy {
        b.abort();
    }
}
