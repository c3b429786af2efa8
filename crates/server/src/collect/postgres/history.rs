//! Active-session history of one instance: every sample's sessions, lock waits, metric point and statement
//! deltas, in a ring buffer bounded by age and by (approximate) bytes, so any recent moment can be replayed.
//! The ring is in memory; the collector also writes each sample to `<data_dir>/postgres` in its stored form
//! ([`StoredSample`]), from which the ring is refilled at start.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sightline_model::{DbLockNode, DbLockWait, DbMetricPoint, DbSession, DbStatement, DbWindowSession};

use crate::collect::durable::Interner;

/// One collector sample, immutable once recorded.
#[derive(Debug, Clone)]
pub struct Sample {
    pub t: i64,
    /// Non-idle sessions and every session that blocks another one.
    pub sessions: Vec<DbSession>,
    /// One entry per session waiting for a lock held by another session.
    pub locks: Vec<LockEntry>,
    pub metrics: DbMetricPoint,
    /// `pg_stat_statements` work done since the previous sample (only statements that ran).
    pub statements: Vec<StatementDelta>,
}

/// A waiting session and the lock it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct LockEntry {
    pub pid: i32,
    pub wait: DbLockWait,
}

/// Work of one statement (one `(user, database, queryid)` entry) between two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementDelta {
    pub queryid: i64,
    pub query: Arc<str>,
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
}

impl Sample {
    /// Rough heap size, for the byte bound: strings dominate.
    fn approx_bytes(&self) -> usize {
        let s: usize = self
            .sessions
            .iter()
            .map(|s| {
                200 + [&s.user, &s.database, &s.application_name, &s.client_addr, &s.state, &s.wait_event, &s.query]
                    .iter()
                    .map(|o| o.as_ref().map_or(0, |x| x.len()))
                    .sum::<usize>()
            })
            .sum();
        // Statement texts are shared `Arc<str>`s: count the entry, not the text.
        256 + s + self.locks.len() * 128 + self.statements.len() * 64
    }
}

/// Bounded, time-ordered samples.
#[derive(Debug)]
pub struct History {
    samples: VecDeque<(Arc<Sample>, usize)>,
    bytes: usize,
    max_age_ms: i64,
    max_bytes: usize,
}

impl History {
    pub fn new(max_age_ms: i64, max_bytes: usize) -> Self {
        History { samples: VecDeque::new(), bytes: 0, max_age_ms, max_bytes }
    }

    /// Appends a sample (times must not go backwards; an older one is dropped) and evicts what is too old or
    /// over the byte budget. The newest sample is always kept.
    pub fn push(&mut self, sample: impl Into<Arc<Sample>>) {
        let sample = sample.into();
        if self.samples.back().is_some_and(|(b, _)| b.t > sample.t) {
            return;
        }
        let size = sample.approx_bytes();
        let newest = sample.t;
        self.samples.push_back((sample, size));
        self.bytes += size;
        while self.samples.len() > 1 {
            let (front, size) = self.samples.front().expect("len > 1");
            if front.t >= newest - self.max_age_ms && self.bytes <= self.max_bytes {
                break;
            }
            self.bytes -= *size;
            self.samples.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn latest(&self) -> Option<Arc<Sample>> {
        self.samples.back().map(|(s, _)| s.clone())
    }

    /// The newest sample when `at` is `None`, else the one whose time is nearest `at`.
    pub fn nearest(&self, at: Option<i64>) -> Option<Arc<Sample>> {
        let Some(at) = at else { return self.latest() };
        let i = self.samples.partition_point(|(s, _)| s.t < at);
        let after = self.samples.get(i);
        let before = i.checked_sub(1).and_then(|j| self.samples.get(j));
        match (before, after) {
            (Some((b, _)), Some((a, _))) => Some(if at - b.t <= a.t - at { b.clone() } else { a.clone() }),
            (Some((s, _)), None) | (None, Some((s, _))) => Some(s.clone()),
            (None, None) => None,
        }
    }

    /// Samples with `from <= t <= to`, oldest first.
    pub fn range(&self, from: i64, to: i64) -> impl Iterator<Item = &Arc<Sample>> {
        let start = self.samples.partition_point(|(s, _)| s.t < from);
        self.samples.range(start..).map(|(s, _)| s).take_while(move |s| s.t <= to)
    }
}

/// A sample as stored (the in-memory one shares statement texts through `Arc`s). The JSON shape is the
/// on-disk format of `<data_dir>/postgres`: change it only with a migration.
#[derive(Serialize, Deserialize)]
pub struct StoredSample {
    t: i64,
    sessions: Vec<DbSession>,
    locks: Vec<(i32, DbLockWait)>,
    metrics: DbMetricPoint,
    /// (queryid, query, calls, total_ms, rows)
    statements: Vec<(i64, String, i64, f64, i64)>,
}

impl StoredSample {
    pub fn of(s: &Sample) -> Self {
        StoredSample {
            t: s.t,
            sessions: s.sessions.clone(),
            locks: s.locks.iter().map(|l| (l.pid, l.wait.clone())).collect(),
            metrics: s.metrics.clone(),
            statements: s.statements.iter().map(|d| (d.queryid, d.query.to_string(), d.calls, d.total_ms, d.rows)).collect(),
        }
    }

    /// Back to a [`Sample`]; `texts` shares each statement text among the reloaded samples.
    pub fn into_sample(self, texts: &mut Interner) -> Sample {
        let statements = self
            .statements
            .into_iter()
            .map(|(queryid, query, calls, total_ms, rows)| StatementDelta { queryid, query: texts.intern(query), calls, total_ms, rows })
            .collect();
        Sample {
            t: self.t,
            sessions: self.sessions,
            locks: self.locks.into_iter().map(|(pid, wait)| LockEntry { pid, wait }).collect(),
            metrics: self.metrics,
            statements,
        }
    }
}

/// Builds the lock forest of a sample: head blockers (blocking, not waiting) at the roots, each waiter under
/// every session it waits for. Cycles (a deadlock caught between detection runs) are cut where they close.
pub fn lock_tree(sample: &Sample) -> Vec<DbLockNode> {
    let waits: HashMap<i32, &DbLockWait> = sample.locks.iter().map(|l| (l.pid, &l.wait)).collect();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for l in &sample.locks {
        for b in &l.wait.blocked_by {
            children.entry(*b).or_default().push(l.pid);
        }
    }
    for c in children.values_mut() {
        c.sort_unstable();
        c.dedup();
    }
    let sessions: HashMap<i32, &DbSession> = sample.sessions.iter().map(|s| (s.pid, s)).collect();
    let mut roots: Vec<i32> = children.keys().copied().filter(|p| !waits.contains_key(p)).collect();
    roots.sort_unstable();
    // Sessions only reachable through a cycle: start from the smallest pid of each unreached cycle.
    let mut reached = HashSet::new();
    for r in &roots {
        mark(*r, &children, &mut reached);
    }
    let mut cyclic: Vec<i32> = waits.keys().copied().filter(|p| !reached.contains(p)).collect();
    cyclic.sort_unstable();
    for p in cyclic {
        if !reached.contains(&p) {
            mark(p, &children, &mut reached);
            roots.push(p);
        }
    }
    let mut forest: Vec<DbLockNode> =
        roots.into_iter().map(|r| node(r, &waits, &children, &sessions, &mut Vec::new())).collect();
    forest.sort_by_key(|n| std::cmp::Reverse(count(n)));
    forest
}

fn mark(pid: i32, children: &HashMap<i32, Vec<i32>>, seen: &mut HashSet<i32>) {
    if seen.insert(pid) {
        for c in children.get(&pid).into_iter().flatten() {
            mark(*c, children, seen);
        }
    }
}

fn count(n: &DbLockNode) -> usize {
    n.waiters.iter().map(|w| 1 + count(w)).sum()
}

fn node(
    pid: i32,
    waits: &HashMap<i32, &DbLockWait>,
    children: &HashMap<i32, Vec<i32>>,
    sessions: &HashMap<i32, &DbSession>,
    path: &mut Vec<i32>,
) -> DbLockNode {
    path.push(pid);
    let waiters = children
        .get(&pid)
        .into_iter()
        .flatten()
        .filter(|c| !path.contains(c))
        .copied()
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| node(c, waits, children, sessions, path))
        .collect();
    path.pop();
    let s = sessions.get(&pid);
    DbLockNode {
        pid,
        user: s.and_then(|s| s.user.clone()),
        application_name: s.and_then(|s| s.application_name.clone()),
        state: s.and_then(|s| s.state.clone()),
        query: s.and_then(|s| s.query.clone()),
        xact_start: s.and_then(|s| s.xact_start),
        waiting: waits.get(&pid).map(|w| (*w).clone()),
        waiters,
    }
}

/// Sums statement deltas of the samples in the window by `queryid` and returns the top `limit` by total time.
pub fn top_statements<'a>(samples: impl Iterator<Item = &'a Arc<Sample>>, limit: usize) -> Vec<DbStatement> {
    let mut by_id: HashMap<i64, DbStatement> = HashMap::new();
    for s in samples {
        for d in &s.statements {
            let e = by_id.entry(d.queryid).or_insert_with(|| DbStatement {
                queryid: d.queryid.to_string(),
                query: d.query.to_string(),
                calls: 0,
                total_ms: 0.0,
                mean_ms: 0.0,
                rows: 0,
            });
            e.calls += d.calls;
            e.total_ms += d.total_ms;
            e.rows += d.rows;
        }
    }
    let mut v: Vec<DbStatement> = by_id
        .into_values()
        .map(|mut s| {
            s.mean_ms = if s.calls > 0 { s.total_ms / s.calls as f64 } else { 0.0 };
            s
        })
        .collect();
    v.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms).then_with(|| a.queryid.cmp(&b.queryid)));
    v.truncate(limit);
    v
}

/// Merges the sessions of the samples in a window: one row per `(pid, backend_start, query)` with the longest
/// elapsed time, the waits seen and how many samples saw it; longest elapsed first. Returns the rows (at most
/// `limit`) and how many were left out.
pub fn window_sessions<'a>(samples: impl Iterator<Item = &'a Arc<Sample>>, limit: usize) -> (Vec<DbWindowSession>, usize) {
    // (pid, backend start, statement) → the merged row and how often each wait was seen.
    type Key<'q> = (i32, Option<i64>, Option<&'q str>);
    let mut rows: HashMap<Key<'a>, (DbWindowSession, HashMap<String, u32>)> = HashMap::new();
    for smp in samples {
        for x in &smp.sessions {
            let (row, waits) = rows.entry((x.pid, x.backend_start, x.query.as_deref())).or_insert_with(|| {
                let row = DbWindowSession {
                    pid: x.pid,
                    backend_start: x.backend_start,
                    user: x.user.clone(),
                    database: x.database.clone(),
                    application_name: x.application_name.clone(),
                    client_addr: x.client_addr.clone(),
                    backend_type: x.backend_type.clone(),
                    query: x.query.clone(),
                    state: None,
                    first_seen: smp.t,
                    last_seen: smp.t,
                    samples: 0,
                    max_elapsed_ms: 0.0,
                    waits: Vec::new(),
                    blocked_by: Vec::new(),
                    trace_id: x.trace_id.clone(),
                };
                (row, HashMap::new())
            });
            row.samples += 1;
            row.last_seen = smp.t;
            row.state = x.state.clone();
            row.max_elapsed_ms = row.max_elapsed_ms.max(x.elapsed_ms);
            for b in &x.blocked_by {
                if !row.blocked_by.contains(b) {
                    row.blocked_by.push(*b);
                }
            }
            let wait = match (&x.wait_event_type, &x.wait_event) {
                (Some(t), Some(e)) => format!("{t}: {e}"),
                _ => x.wait_class.clone(),
            };
            // An idle-in-transaction blocker is not "on CPU": only count what active sessions did.
            if x.state.as_deref() == Some("active") || x.wait_event_type.is_some() {
                *waits.entry(wait).or_default() += 1;
            }
        }
    }
    let mut out: Vec<DbWindowSession> = rows
        .into_values()
        .map(|(mut row, waits)| {
            let mut w: Vec<(String, u32)> = waits.into_iter().collect();
            w.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            row.waits = w;
            row.blocked_by.sort_unstable();
            row
        })
        .collect();
    out.sort_by(|a, b| {
        b.max_elapsed_ms.total_cmp(&a.max_elapsed_ms).then_with(|| b.samples.cmp(&a.samples)).then_with(|| a.pid.cmp(&b.pid))
    });
    let truncated = out.len().saturating_sub(limit);
    out.truncate(limit);
    (out, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: i32, query: &str) -> DbSession {
        DbSession {
            pid,
            user: Some("app".into()),
            database: Some("bank".into()),
            application_name: None,
            client_addr: None,
            state: Some("active".into()),
            wait_event_type: None,
            wait_event: None,
            wait_class: sightline_model::CPU_CLASS.into(),
            backend_type: Some("client backend".into()),
            backend_start: Some(0),
            xact_start: Some(0),
            query_start: Some(0),
            elapsed_ms: 0.0,
            query: Some(query.into()),
            blocked_by: vec![],
            trace_id: None,
            span_id: None,
            host_cpu_percent: None,
            host_rss_bytes: None,
        }
    }

    fn wait(pid: i32, by: &[i32]) -> LockEntry {
        LockEntry {
            pid,
            wait: DbLockWait {
                locktype: "transactionid".into(),
                mode: "ShareLock".into(),
                relation: Some("accounts".into()),
                waiting_ms: 10.0,
                blocked_by: by.to_vec(),
            },
        }
    }

    fn sample(t: i64) -> Sample {
        Sample {
            t,
            sessions: vec![],
            locks: vec![],
            metrics: DbMetricPoint::new(t, 0.0, Default::default(), 0, 100, 0),
            statements: vec![],
        }
    }

    #[test]
    fn nearest_picks_the_closest_sample_and_latest_without_at() {
        let mut h = History::new(60_000, usize::MAX);
        for t in [1000, 2000, 3000] {
            h.push(sample(t));
        }
        assert_eq!(h.nearest(None).unwrap().t, 3000);
        assert_eq!(h.nearest(Some(1400)).unwrap().t, 1000);
        assert_eq!(h.nearest(Some(1600)).unwrap().t, 2000);
        assert_eq!(h.nearest(Some(-5)).unwrap().t, 1000);
        assert_eq!(h.nearest(Some(99_999)).unwrap().t, 3000);
        assert_eq!(h.range(1500, 3000).map(|s| s.t).collect::<Vec<_>>(), vec![2000, 3000]);
    }

    #[test]
    fn history_is_bounded_by_age_and_bytes() {
        let mut h = History::new(10_000, usize::MAX);
        for t in (0..100).map(|i| i * 1000) {
            h.push(sample(t));
        }
        assert_eq!(h.len(), 11, "samples within 10 s of the newest");
        assert_eq!(h.range(i64::MIN, i64::MAX).next().unwrap().t, 89_000);
        let mut h = History::new(i64::MAX, 1000);
        for t in 0..100 {
            h.push(sample(t));
        }
        assert!(h.len() < 10 && !h.is_empty(), "{}", h.len());
        assert_eq!(h.latest().unwrap().t, 99);
    }

    #[test]
    fn lock_tree_puts_head_blockers_at_the_root() {
        let mut s = sample(0);
        s.sessions = vec![session(10, "UPDATE a"), session(20, "UPDATE b"), session(30, "UPDATE c"), session(40, "x")];
        // 20 waits for 10; 30 waits for 20; 40 waits for nobody.
        s.locks = vec![wait(20, &[10]), wait(30, &[20])];
        let f = lock_tree(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].pid, 10);
        assert!(f[0].waiting.is_none());
        assert_eq!(f[0].query.as_deref(), Some("UPDATE a"));
        assert_eq!(f[0].waiters[0].pid, 20);
        assert_eq!(f[0].waiters[0].waiting.as_ref().unwrap().mode, "ShareLock");
        assert_eq!(f[0].waiters[0].waiters[0].pid, 30);
    }

    #[test]
    fn lock_tree_survives_a_cycle() {
        let mut s = sample(0);
        s.locks = vec![wait(1, &[2]), wait(2, &[1])];
        let f = lock_tree(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].pid, 1);
        assert_eq!(f[0].waiters[0].pid, 2);
        assert!(f[0].waiters[0].waiters.is_empty());
    }

    #[test]
    fn window_sessions_merge_samples_per_session_and_statement() {
        let mut a = sample(1000);
        let mut w = session(10, "UPDATE a");
        w.elapsed_ms = 100.0;
        w.wait_event_type = Some("Lock".into());
        w.wait_event = Some("transactionid".into());
        w.blocked_by = vec![20];
        a.sessions = vec![w.clone(), session(11, "SELECT 1")];
        let mut b = sample(2000);
        w.elapsed_ms = 1100.0;
        let mut other = session(10, "UPDATE b");
        other.elapsed_ms = 5.0;
        b.sessions = vec![w, other];
        let v = [Arc::new(a), Arc::new(b)];
        let (rows, truncated) = window_sessions(v.iter(), 10);
        assert_eq!((rows.len(), truncated), (3, 0));
        assert_eq!(rows[0].query.as_deref(), Some("UPDATE a"));
        assert_eq!((rows[0].samples, rows[0].max_elapsed_ms, rows[0].first_seen, rows[0].last_seen), (2, 1100.0, 1000, 2000));
        assert_eq!(rows[0].waits, [("Lock: transactionid".to_string(), 2)]);
        assert_eq!(rows[0].blocked_by, [20]);
        assert_eq!(rows[1].query.as_deref(), Some("UPDATE b"));
        assert_eq!(window_sessions(v.iter(), 1).1, 2);
    }

    #[test]
    fn top_statements_sum_deltas_by_queryid() {
        let q: Arc<str> = Arc::from("SELECT 1");
        let mut a = sample(1);
        a.statements = vec![
            StatementDelta { queryid: 7, query: q.clone(), calls: 2, total_ms: 4.0, rows: 2 },
            StatementDelta { queryid: 8, query: Arc::from("SELECT 2"), calls: 1, total_ms: 1.0, rows: 1 },
        ];
        let mut b = sample(2);
        b.statements = vec![StatementDelta { queryid: 7, query: q, calls: 2, total_ms: 8.0, rows: 2 }];
        let v = [Arc::new(a), Arc::new(b)];
        let top = top_statements(v.iter(), 10);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].queryid, "7");
        assert_eq!(top[0].calls, 4);
        assert_eq!(top[0].total_ms, 12.0);
        assert_eq!(top[0].mean_ms, 3.0);
        assert_eq!(top_statements(v.iter(), 1).len(), 1);
    }
}
