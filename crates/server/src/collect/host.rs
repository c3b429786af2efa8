//! Host collector: samples the machine Sightline runs on (whole-machine CPU and memory, and its busiest
//! processes) every `--host-interval-ms` with `sysinfo`, on the blocking pool so a slow `/proc` walk never
//! stalls the runtime. Samples are kept for `--host-history-minutes`: in memory for the API and metrics, and
//! in their own fjall database under `<data_dir>/host` ([`SampleLog`], written on the blocking pool), reloaded
//! at start.
//!
//! Per sample only the top [`TOP_N`] processes by CPU and the top [`TOP_N`] by resident memory are kept, so
//! history stays bounded however many processes the machine runs. Command lines are masked
//! ([`mask_command`]) before they are stored: the API and boards may be seen by people who must not read a
//! database password passed on a command line.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sightline_model::{HostProcess, HostProcessPoint, HostProcesses};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use super::durable::{Interner, SampleLog, Series};
use crate::blocking;
use crate::config::ServeArgs;
use crate::error::AppError;
use crate::store::now_ms;

/// Processes kept per sample by CPU, and again by resident memory.
pub const TOP_N: usize = 30;
/// Longest command line kept, in characters.
pub const MAX_COMMAND_CHARS: usize = 512;
/// History budget (approximate heap bytes), beside the age bound: a tiny interval cannot exhaust memory.
const HISTORY_MAX_BYTES: usize = 64 << 20;
/// What a masked secret is shown as.
const MASK: &str = "***";

/// The machine's samples; written by the collector task, read by the API and the metric queries.
pub struct HostHub {
    enabled: bool,
    interval: Duration,
    max_age_ms: i64,
    host: String,
    ring: Mutex<Ring>,
    /// `<data_dir>/host`, opened only when the collector is on.
    store: Option<Arc<HostLog>>,
}

/// The host's durable history: one series, keyed by time.
type HostLog = SampleLog<StoredHostSample>;

#[derive(Default)]
struct Ring {
    samples: VecDeque<Arc<HostSample>>,
    bytes: usize,
}

/// One sample of the machine.
#[derive(Debug, Clone)]
pub struct HostSample {
    pub t: i64,
    /// Whole machine, 0..=100.
    pub cpu_percent: f64,
    pub memory_used: u64,
    pub memory_total: u64,
    /// The kept processes, busiest CPU first.
    pub processes: Vec<ProcSample>,
}

/// One process in a sample. Strings are shared with the previous sample when unchanged, so an hour of
/// history holds each command line about once.
#[derive(Debug, Clone)]
pub struct ProcSample {
    pub pid: u32,
    pub name: Arc<str>,
    pub command: Arc<str>,
    /// Percent of one core since the previous sample.
    pub cpu_percent: f64,
    pub rss: u64,
    pub started_ms: i64,
}

impl HostHub {
    /// Reads the settings and reloads the stored history; nothing is sampled until [`HostHub::spawn`].
    pub fn new(args: &ServeArgs) -> anyhow::Result<Self> {
        let store = match args.host_collector {
            true => Some(Arc::new(HostLog::open(&args.data_dir.join("host"), 4 << 20, "host samples")?)),
            false => None,
        };
        let hub = HostHub {
            enabled: args.host_collector,
            // sysinfo's CPU figures are meaningless over less than its minimum update interval.
            interval: Duration::from_millis(args.host_interval_ms).max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL),
            max_age_ms: args.host_history_minutes.max(1) as i64 * 60_000,
            host: System::host_name().ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into()),
            ring: Mutex::new(Ring::default()),
            store,
        };
        if let Some(st) = &hub.store {
            let stored = st.load(&Series::only(), now_ms() - hub.max_age_ms)?;
            if !stored.is_empty() {
                tracing::info!(samples = stored.len(), "reloaded stored host samples");
            }
            let mut strings = Interner::default();
            stored.into_iter().for_each(|s| hub.push(s.into_sample(&mut strings)));
        }
        Ok(hub)
    }

    /// Makes the stored samples durable; called at shutdown.
    pub fn flush(&self) {
        if let Some(st) = &self.store {
            if let Err(e) = st.flush() {
                tracing::error!(error = ?e, "flushing the host samples failed");
            }
        }
    }

    /// Whether `--host-collector` is on (the host metrics are then available, even before the first sample).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Time between two samples: no chart bucket of host metrics is narrower than twice this.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// This machine's name: the `host` dimension.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How far back samples are kept.
    pub fn max_age_ms(&self) -> i64 {
        self.max_age_ms
    }

    /// Starts the collector task (when enabled); it ends with the runtime or when the hub is dropped.
    pub fn spawn(self: &Arc<Self>) {
        if !self.enabled {
            return;
        }
        tracing::info!(host = %self.host, interval_ms = self.interval.as_millis() as u64, "sampling this host");
        let (hub, interval) = (Arc::downgrade(self), self.interval);
        tokio::spawn(collect(hub, interval, self.store.clone(), self.max_age_ms));
    }

    /// Adds a sample and drops what is too old or over the memory budget.
    pub fn push(&self, s: HostSample) {
        let mut r = crate::sync::lock(&self.ring);
        let t = s.t;
        r.bytes += sample_bytes(&s);
        r.samples.push_back(Arc::new(s));
        while let Some(front) = r.samples.front() {
            if front.t >= t - self.max_age_ms && r.bytes <= HISTORY_MAX_BYTES {
                break;
            }
            let b = sample_bytes(front);
            r.samples.pop_front();
            r.bytes -= b;
        }
    }

    /// The samples taken in `[from, to)`, oldest first.
    pub fn samples_in(&self, from: i64, to: i64) -> Vec<Arc<HostSample>> {
        let r = crate::sync::lock(&self.ring);
        let start = r.samples.partition_point(|s| s.t < from);
        r.samples.range(start..).take_while(|s| s.t < to).cloned().collect()
    }

    /// The sample nearest `at`, or the newest without it.
    pub fn nearest(&self, at: Option<i64>) -> Option<Arc<HostSample>> {
        let r = crate::sync::lock(&self.ring);
        let Some(at) = at else { return r.samples.back().cloned() };
        let i = r.samples.partition_point(|s| s.t < at);
        let after = r.samples.get(i);
        let before = i.checked_sub(1).and_then(|j| r.samples.get(j));
        match (before, after) {
            (Some(b), Some(a)) => Some(if at - b.t <= a.t - at { b } else { a }.clone()),
            (b, a) => b.or(a).cloned(),
        }
    }

    /// The sample nearest `at` as the API shows it.
    pub fn processes(&self, at: Option<i64>) -> Option<HostProcesses> {
        let s = self.nearest(at)?;
        Some(HostProcesses {
            host: self.host.clone(),
            at: s.t,
            cpu_percent: s.cpu_percent,
            memory_used_bytes: s.memory_used,
            memory_total_bytes: s.memory_total,
            processes: s
                .processes
                .iter()
                .map(|p| HostProcess {
                    pid: p.pid,
                    name: p.name.to_string(),
                    command: p.command.to_string(),
                    cpu_percent: p.cpu_percent,
                    rss_bytes: p.rss,
                    started_ms: p.started_ms,
                })
                .collect(),
        })
    }

    /// CPU and memory of `pid` in `[from, to)`, where it was among the kept processes; `None` when no kept
    /// sample has it. Pids are reused, so only the newest process with that pid (same start time) counts.
    pub fn process_history(&self, pid: u32, from: i64, to: i64) -> Option<Vec<HostProcessPoint>> {
        let r = crate::sync::lock(&self.ring);
        let started = r.samples.iter().rev().find_map(|s| s.processes.iter().find(|p| p.pid == pid))?.started_ms;
        let start = r.samples.partition_point(|s| s.t < from);
        Some(
            r.samples
                .range(start..)
                .take_while(|s| s.t < to)
                .filter_map(|s| {
                    let p = s.processes.iter().find(|p| p.pid == pid && p.started_ms == started)?;
                    Some(HostProcessPoint { t: s.t, cpu_percent: p.cpu_percent, rss_bytes: p.rss })
                })
                .collect(),
        )
    }
}

/// Samples (and stores) every `interval` until the hub is gone. `sysinfo` computes CPU from the difference
/// between two refreshes, so the first refresh only primes it and is not recorded. The `/proc` walk and the
/// disk write run on the blocking pool; the sample enters the in-memory history after it is on disk.
async fn collect(hub: Weak<HostHub>, interval: Duration, store: Option<Arc<HostLog>>, max_age_ms: i64) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sampler: Option<Sampler> = None;
    let mut recorded = 0u64;
    loop {
        tick.tick().await;
        if hub.strong_count() == 0 {
            return;
        }
        let (s, store) = (sampler.take(), store.clone());
        let expire = recorded.is_multiple_of(300);
        // The outer error is a panic of the closure, the inner one a system `sysinfo` cannot read.
        let done = blocking::run("sampling this host", move || {
            let sampled = sample_and_store(s, store.as_deref(), expire, max_age_ms);
            Ok::<_, AppError>(sampled)
        })
        .await;
        match done {
            Ok(Ok((s, sample))) => {
                sampler = Some(s);
                match (sample, hub.upgrade()) {
                    (Some(sample), Some(hub)) => {
                        recorded += 1;
                        hub.push(sample)
                    }
                    (_, None) => return,
                    (None, Some(_)) => {}
                }
            }
            // Not a passing condition (an unsupported system): say so once and stop.
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read this host's CPU, memory and processes; the host collector stops");
                return;
            }
            // The sampler is lost with the panic; the next tick starts (and primes) a new one.
            Err(e) => tracing::error!(error = %e, "host sampling failed; starting over"),
        }
    }
}

/// One tick's blocking work: refresh (a new sampler after a failure), store the sample, and now and then
/// drop what fell out of the age bound on disk. A failed write is logged: the sample still goes to memory.
fn sample_and_store(
    sampler: Option<Sampler>,
    store: Option<&HostLog>,
    expire: bool,
    max_age_ms: i64,
) -> Result<(Sampler, Option<HostSample>), sysinfo::Error> {
    blocking::assert_off_runtime();
    let mut s = match sampler {
        Some(s) => s,
        None => Sampler::new()?,
    };
    let sample = s.sample(now_ms());
    if let (Some(st), Some(sample)) = (store, &sample) {
        if let Err(e) = st.put(&Series::only(), sample.t, &StoredHostSample::of(sample)) {
            tracing::warn!(error = ?e, "storing a host sample failed");
        }
        if expire {
            if let Err(e) = st.expire(&Series::only(), sample.t - max_age_ms) {
                tracing::warn!(error = ?e, "expiring stored host samples failed");
            }
        }
    }
    Ok((s, sample))
}

/// A sample as stored (the in-memory one shares strings through `Arc`s). The JSON shape is the on-disk
/// format of `<data_dir>/host`: change it only with a migration.
#[derive(Serialize, Deserialize)]
struct StoredHostSample {
    t: i64,
    cpu_percent: f64,
    memory_used: u64,
    memory_total: u64,
    /// (pid, name, command, cpu_percent, rss, started_ms)
    processes: Vec<(u32, String, String, f64, u64, i64)>,
}

impl StoredHostSample {
    fn of(s: &HostSample) -> Self {
        StoredHostSample {
            t: s.t,
            cpu_percent: s.cpu_percent,
            memory_used: s.memory_used,
            memory_total: s.memory_total,
            processes: s
                .processes
                .iter()
                .map(|p| (p.pid, p.name.to_string(), p.command.to_string(), p.cpu_percent, p.rss, p.started_ms))
                .collect(),
        }
    }

    fn into_sample(self, strings: &mut Interner) -> HostSample {
        let processes = self
            .processes
            .into_iter()
            .map(|(pid, name, command, cpu_percent, rss, started_ms)| ProcSample {
                pid,
                name: strings.intern(name),
                command: strings.intern(command),
                cpu_percent,
                rss,
                started_ms,
            })
            .collect();
        HostSample { t: self.t, cpu_percent: self.cpu_percent, memory_used: self.memory_used, memory_total: self.memory_total, processes }
    }
}

/// Owns the `sysinfo` state between samples, and the previous sample's strings for sharing.
struct Sampler {
    sys: System,
    primed: bool,
    previous: HashMap<u32, (i64, Arc<str>, Arc<str>)>,
}

impl Sampler {
    fn new() -> Result<Self, sysinfo::Error> {
        Ok(Sampler { sys: System::new()?, primed: false, previous: HashMap::new() })
    }

    /// Refreshes everything; `None` on the priming call, whose CPU figures are not yet defined.
    fn sample(&mut self, t: i64) -> Option<HostSample> {
        // Reads all of `/proc`.
        blocking::assert_off_runtime();
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory().with_cmd(UpdateKind::Always).without_tasks();
        self.sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        if !std::mem::replace(&mut self.primed, true) {
            return None;
        }
        let all: Vec<_> = self.sys.processes().iter().filter(|(_, p)| p.thread_kind().is_none()).collect();
        let kept = keep_busiest(all, TOP_N, |(_, p)| p.cpu_usage() as f64, |(_, p)| p.memory());
        let mut previous = HashMap::with_capacity(kept.len());
        let processes = kept
            .into_iter()
            .map(|(pid, p)| {
                let pid = pid.as_u32();
                let started_ms = p.start_time() as i64 * 1000;
                let name = p.name().to_string_lossy();
                let args: Vec<_> = p.cmd().iter().map(|a| a.to_string_lossy()).collect();
                let command = match args.is_empty() {
                    // Kernel threads and processes we may not read: shown like `ps` does.
                    true => format!("[{name}]"),
                    false => mask_command(args.iter().map(|a| a.as_ref())),
                };
                let (name, command) = match self.previous.get(&pid) {
                    Some((s, n, c)) if *s == started_ms && **n == *name => {
                        (n.clone(), if **c == *command { c.clone() } else { command.into() })
                    }
                    _ => (Arc::from(name.as_ref()), Arc::from(command)),
                };
                previous.insert(pid, (started_ms, name.clone(), command.clone()));
                ProcSample { pid, name, command, cpu_percent: hundredths(p.cpu_usage()), rss: p.memory(), started_ms }
            })
            .collect();
        self.previous = previous;
        Some(HostSample {
            t,
            cpu_percent: hundredths(self.sys.global_cpu_usage()),
            memory_used: self.sys.used_memory(),
            memory_total: self.sys.total_memory(),
            processes,
        })
    }
}

/// A percentage to 0.01: sysinfo's `f32` widened as is shows digits that mean nothing (`98.50746154785156`).
fn hundredths(x: f32) -> f64 {
    (x as f64 * 100.0).round() / 100.0
}

/// Approximate heap bytes of a sample (strings counted whole, even when shared).
fn sample_bytes(s: &HostSample) -> usize {
    std::mem::size_of::<HostSample>()
        + s.processes.iter().map(|p| std::mem::size_of::<ProcSample>() + p.name.len() + p.command.len()).sum::<usize>()
}

/// The top `n` items by CPU together with the top `n` by memory (each item once), busiest CPU first.
pub fn keep_busiest<T>(items: Vec<T>, n: usize, cpu: impl Fn(&T) -> f64, rss: impl Fn(&T) -> u64) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut keep = vec![false; items.len()];
    order.sort_by(|&a, &b| cpu(&items[b]).total_cmp(&cpu(&items[a])));
    order.iter().take(n).for_each(|&i| keep[i] = true);
    order.sort_by_key(|&i| std::cmp::Reverse(rss(&items[i])));
    order.iter().take(n).for_each(|&i| keep[i] = true);
    let mut kept: Vec<T> = items.into_iter().zip(keep).filter_map(|(x, k)| k.then_some(x)).collect();
    kept.sort_by(|a, b| cpu(b).total_cmp(&cpu(a)).then_with(|| rss(b).cmp(&rss(a))));
    kept
}

/// Words that make an option name look like it carries a secret (compared lower-case, as substrings).
const SECRET_WORDS: &[&str] =
    &["passw", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key", "access-key", "private_key", "private-key", "credential", "auth"];

fn secret_name(name: &str) -> bool {
    let n = name.trim_start_matches('-').to_ascii_lowercase();
    n == "pass" || SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// The command line as one string of at most [`MAX_COMMAND_CHARS`] characters, with what looks like a secret
/// replaced by `***`: the value of `name=value` when the name looks secret (`password=…`,
/// `PGPASSWORD=…`, `-Dapp.db.password=…`), the argument after such an option (`--password x`), and the
/// password of a URL (`postgres://user:***@host`). Arguments are split at whitespace first, so a whole
/// command passed as one argument (`sh -c '…'`) is masked too.
pub fn mask_command<'a>(args: impl IntoIterator<Item = &'a str>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut hide_next = false;
    for tok in args.into_iter().flat_map(str::split_whitespace) {
        if std::mem::take(&mut hide_next) && !tok.starts_with("--") {
            out.push(MASK.into());
            continue;
        }
        if let Some((name, _)) = tok.split_once('=').filter(|(n, _)| secret_name(n)) {
            out.push(format!("{name}={MASK}"));
        } else if tok.starts_with('-') && secret_name(tok) {
            hide_next = true;
            out.push(tok.into());
        } else {
            out.push(mask_url_password(tok));
        }
    }
    let s = out.join(" ");
    match s.char_indices().nth(MAX_COMMAND_CHARS) {
        None => s,
        Some(_) => {
            let end = s.char_indices().nth(MAX_COMMAND_CHARS - 1).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// `scheme://user:secret@host…` → `scheme://user:***@host…`; anything else unchanged.
fn mask_url_password(tok: &str) -> String {
    let Some(scheme_end) = tok.find("://").map(|i| i + 3) else { return tok.into() };
    let rest = &tok[scheme_end..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else { return tok.into() };
    let Some(colon) = rest[..at].find(':') else { return tok.into() };
    format!("{}{}{MASK}{}", &tok[..scheme_end], &rest[..=colon], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let m = |s: &str| mask_command(s.split(' '));
        assert_eq!(m("psql --password hunter2 -h db"), "psql --password *** -h db");
        assert_eq!(m("app password=hunter2 user=bob"), "app password=*** user=bob");
        assert_eq!(m("java -Dspring.datasource.password=x -jar a.jar"), "java -Dspring.datasource.password=*** -jar a.jar");
        assert_eq!(m("env PGPASSWORD=x API_TOKEN=y --api-key k --secret=s"), "env PGPASSWORD=*** API_TOKEN=*** --api-key *** --secret=***");
        assert_eq!(m("sightline --postgres postgres://mon:pw@db:5432/postgres"), "sightline --postgres postgres://mon:***@db:5432/postgres");
        assert_eq!(m("curl https://example.com/a@b http://u@h/"), "curl https://example.com/a@b http://u@h/");
        // An option that takes no value does not hide the next option.
        assert_eq!(m("tool --no-password --verbose"), "tool --no-password --verbose");
        // One argument holding a whole command line.
        assert_eq!(mask_command(["sh", "-c", "mysql --password=x\t-u root"]), "sh -c mysql --password=*** -u root");
    }

    #[test]
    fn long_command_lines_are_cut() {
        let long = "é".repeat(2000);
        let c = mask_command(["x", long.as_str()]);
        assert_eq!(c.chars().count(), MAX_COMMAND_CHARS);
        assert!(c.ends_with('…'));
        let exact = "a".repeat(MAX_COMMAND_CHARS);
        assert_eq!(mask_command([exact.as_str()]), exact);
    }

    #[test]
    fn busiest_by_cpu_and_by_memory_are_kept_once() {
        // (id, cpu, rss): 0..10 with rising cpu, falling rss.
        let items: Vec<(u32, f64, u64)> = (0..10).map(|i| (i, i as f64, 100 - i as u64)).collect();
        let kept = keep_busiest(items.clone(), 3, |x| x.1, |x| x.2);
        let ids: Vec<u32> = kept.iter().map(|x| x.0).collect();
        // Top 3 CPU: 9, 8, 7; top 3 memory: 0, 1, 2; sorted by CPU.
        assert_eq!(ids, [9, 8, 7, 2, 1, 0]);
        // Overlapping tops are not repeated.
        let same: Vec<(u32, f64, u64)> = (0..10).map(|i| (i, i as f64, i as u64)).collect();
        assert_eq!(keep_busiest(same, 3, |x| x.1, |x| x.2).iter().map(|x| x.0).collect::<Vec<_>>(), [9, 8, 7]);
        assert_eq!(keep_busiest(items[..2].to_vec(), 30, |x| x.1, |x| x.2).len(), 2);
    }

    fn hub() -> HostHub {
        let mut args = ServeArgs::for_tests(std::path::Path::new("/nonexistent"));
        args.host_history_minutes = 1;
        HostHub::new(&args).unwrap()
    }

    fn sample(t: i64, procs: &[(u32, i64, f64)]) -> HostSample {
        HostSample {
            t,
            cpu_percent: 10.0,
            memory_used: 1,
            memory_total: 2,
            processes: procs
                .iter()
                .map(|&(pid, started_ms, cpu)| ProcSample { pid, name: "p".into(), command: "p".into(), cpu_percent: cpu, rss: 1, started_ms })
                .collect(),
        }
    }

    #[test]
    fn history_is_bounded_and_nearest_and_pid_reuse_are_handled() {
        let h = hub();
        assert!(h.nearest(None).is_none());
        for i in 0..100 {
            // pid 7 is one process until t = 50 s, then another one with the same pid.
            let started = if i < 50 { 0 } else { 50_000 };
            h.push(sample(i * 1000, &[(7, started, i as f64)]));
        }
        // One minute kept: 39 s ..= 99 s.
        assert_eq!(h.samples_in(0, i64::MAX).len(), 61);
        assert_eq!(h.nearest(None).unwrap().t, 99_000);
        assert_eq!(h.nearest(Some(45_400)).unwrap().t, 45_000);
        assert_eq!(h.nearest(Some(45_600)).unwrap().t, 46_000);
        assert_eq!(h.nearest(Some(0)).unwrap().t, 39_000);
        let points = h.process_history(7, 0, i64::MAX).unwrap();
        assert_eq!(points.len(), 50);
        assert_eq!(points[0].t, 50_000);
        assert!(h.process_history(8, 0, i64::MAX).is_none());
        assert_eq!(h.process_history(7, 0, 10).unwrap(), []);
    }

    #[test]
    fn what_the_collector_stores_is_reloaded_by_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ServeArgs::for_tests(dir.path());
        args.host_collector = true;
        let second = {
            let hub = HostHub::new(&args).unwrap();
            let log = hub.store.clone();
            // The collector's own blocking step, on this plain thread: the first refresh only primes.
            let (s, first) = sample_and_store(None, log.as_deref(), true, hub.max_age_ms).unwrap();
            assert!(first.is_none());
            let (_, second) = sample_and_store(Some(s), log.as_deref(), false, hub.max_age_ms).unwrap();
            second.unwrap()
        };
        let again = HostHub::new(&args).unwrap();
        let back = again.nearest(None).expect("the stored sample is back");
        assert_eq!((back.t, back.memory_total, back.processes.len()), (second.t, second.memory_total, second.processes.len()));
        assert_eq!(back.processes[0].command, second.processes[0].command);
    }

    #[test]
    fn stored_samples_come_back_after_a_restart_within_the_age_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ServeArgs::for_tests(dir.path());
        args.host_collector = true;
        let now = now_ms();
        {
            let st = HostLog::open(&dir.path().join("host"), 4 << 20, "host samples").unwrap();
            for t in [now - 2 * 3_600_000, now - 60_000, now - 30_000] {
                let stored = StoredHostSample::of(&sample(t, &[(7, 0, 12.5), (8, 0, 1.0)]));
                st.put(&Series::only(), t, &stored).unwrap();
            }
            assert_eq!(st.expire(&Series::only(), now - 3_600_000).unwrap(), 1);
            st.flush().unwrap();
        }
        let h = HostHub::new(&args).unwrap();
        let kept = h.samples_in(0, i64::MAX);
        assert_eq!(kept.iter().map(|s| s.t).collect::<Vec<_>>(), [now - 60_000, now - 30_000]);
        // Strings are shared again after the reload.
        assert!(Arc::ptr_eq(&kept[0].processes[0].command, &kept[1].processes[1].command));
        assert_eq!(h.processes(None).unwrap().processes[0].cpu_percent, 12.5);
    }
}
