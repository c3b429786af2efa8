//! The `--clickhouse` servers as a node uses them: which shard each one is a replica of, which of them are
//! in use, failover between a shard's replicas, and taking into use a server that did not answer at start.
//!
//! A server's shard is its place in `--clickhouse` (each shard's replicas together, shards in the cluster's
//! order) against the cluster's layout in `system.clusters`, read from the first server that answers — not
//! a question to every server, so a node starts while a replica is down. With `--clickhouse-replicated` a
//! server that answers must agree through its `{shard}` macro. A server is *in use* (read from, written to)
//! only once its tables are prepared: at start the servers that answer are prepared, every shard needs one;
//! the others are tried every [`RETRY_EVERY`] and taken into use when they answer, without a restart.

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{ch_error, schema, Target};
use crate::store::{QueryError, ReplicaState, ReplicaStatus};

/// How often a server that did not answer at start is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(5);
/// How long one step of preparing a server may take: one that accepts connections but never answers must
/// not hold the start (it counts as unavailable).
const PREPARE_TIMEOUT: Duration = Duration::from_secs(30);

/// One `--clickhouse` server.
pub struct Server {
    target: Target,
    /// Without a database, for what is asked before the store's database exists (the cluster's layout, the
    /// `{shard}` macro, creating it). Shares its connections with `client`.
    unscoped: Client,
    /// On the store's database.
    client: Client,
    /// A [`ReplicaState`] (`as u8`). In use once its tables are prepared (and, replicated, its `{shard}`
    /// macro is its shard's): only then is it read from or written to. Never left: an outage later is
    /// [`Shard::run`]'s to go around.
    state: AtomicU8,
}

impl Server {
    fn endpoint(&self) -> &str {
        &self.target.endpoint
    }

    fn state(&self) -> ReplicaState {
        match self.state.load(Ordering::Acquire) {
            s if s == ReplicaState::InUse as u8 => ReplicaState::InUse,
            s if s == ReplicaState::Refused as u8 => ReplicaState::Refused,
            _ => ReplicaState::Waiting,
        }
    }

    fn set_state(&self, state: ReplicaState) {
        self.state.store(state as u8, Ordering::Release);
    }

    fn in_use(&self) -> bool {
        self.state() == ReplicaState::InUse
    }
}

/// One shard of the cluster: its replicas (one server without replication). Also every server at once, for
/// reads: each has the `Distributed` tables, which reach every shard through any of its replicas.
pub struct Shard {
    replicas: Vec<Arc<Server>>,
    /// The replica tried first: the last one that answered.
    preferred: AtomicUsize,
}

impl Shard {
    fn of(replicas: Vec<Arc<Server>>) -> Shard {
        Shard { replicas, preferred: AtomicUsize::new(0) }
    }

    pub fn replica_count(&self) -> usize {
        self.replicas.len()
    }

    /// Each replica's state, as shard `shard` (from 1) of Sightline's own metrics.
    pub fn statuses(&self, shard: usize) -> impl Iterator<Item = ReplicaStatus> + '_ {
        self.replicas.iter().map(move |s| ReplicaStatus { shard, server: s.endpoint().to_string(), state: s.state() })
    }

    /// Runs `op` on the preferred replica in use, and on the next while one is unavailable (down, or
    /// read-only because it lost ZooKeeper); the one that answers is preferred from then on. Other errors
    /// are not retried elsewhere: they would fail the same way. A replica not in use yet is skipped.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, QueryError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, clickhouse::error::Error>>,
    {
        let n = self.replicas.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last = None;
        for k in 0..n {
            let i = (first + k) % n;
            let server = &self.replicas[i];
            if !server.in_use() {
                continue;
            }
            match op(server.client.clone()).await.map_err(ch_error) {
                Ok(v) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(QueryError::Unavailable(m)) if n > 1 => {
                    tracing::warn!(error = %m, server = server.endpoint(), "a ClickHouse server is unavailable; trying the next that can answer");
                    last = Some(QueryError::Unavailable(m));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            let names: Vec<&str> = self.replicas.iter().map(|s| s.endpoint()).collect();
            QueryError::Unavailable(format!("ClickHouse cannot answer: {} has not answered since the node started", names.join(", ")))
        }))
    }
}

/// Every server (for reads) and the shards (for writes), in the cluster's order.
pub struct Servers {
    pub readers: Shard,
    pub shards: Vec<Shard>,
}

/// Groups `targets` into shards and prepares the tables of those that answer; the others are taken into use
/// by a background task when they answer (it ends with the store). Fails with a clear message when the
/// servers and the cluster disagree, when a server that answers is misconfigured, or when a shard has no
/// server that answers (its traces could not be stored).
pub async fn open(targets: &[Target], database: &str, layout: &schema::Layout) -> anyhow::Result<Servers> {
    let servers: Vec<Arc<Server>> = targets
        .iter()
        .map(|t| {
            let unscoped = t.client();
            Arc::new(Server { target: t.clone(), client: unscoped.clone().with_database(database), unscoped, state: AtomicU8::new(ReplicaState::Waiting as u8) })
        })
        .collect();
    let sizes = shard_sizes(&servers, layout).await?;
    // The servers of each shard (indices into `servers`), by their place in `--clickhouse`.
    let mut groups: Vec<Vec<usize>> = Vec::with_capacity(sizes.len());
    for size in sizes {
        let from = groups.iter().map(Vec::len).sum::<usize>();
        groups.push((from..from + size).collect());
    }
    let n = groups.len();

    // Why each server is not in use (`None`: it is, or will be once prepared).
    let mut unavailable: Vec<Option<String>> = vec![None; servers.len()];
    let macros = match layout.replicated {
        true => shard_macros(&servers, &groups, &mut unavailable).await?,
        false => vec![None; n],
    };
    let prepared = futures::future::join_all(
        (0..servers.len()).filter(|&i| unavailable[i].is_none()).map(|i| {
            let s = &servers[i];
            async move { (i, within(s, prepare(s, database, layout)).await) }
        }),
    )
    .await;
    for (i, result) in prepared {
        match result {
            Ok(()) => servers[i].set_state(ReplicaState::InUse),
            Err(QueryError::Unavailable(e)) => unavailable[i] = Some(e),
            Err(e) => anyhow::bail!("cannot prepare ClickHouse database {database} at {}: {e}", servers[i].endpoint()),
        }
    }
    for (k, group) in groups.iter().enumerate() {
        if group.iter().all(|&i| !servers[i].in_use()) {
            let why: Vec<String> = group
                .iter()
                .map(|&i| format!("cannot prepare ClickHouse database {database} at {}: {}", servers[i].endpoint(), unavailable[i].as_deref().unwrap_or("unavailable")))
                .collect();
            match why.as_slice() {
                [one] if n == 1 => anyhow::bail!("{one}"),
                _ => anyhow::bail!("no ClickHouse server of {} answers, so its traces could not be stored: {}", shard_name(k, n), why.join("; ")),
            }
        }
    }

    let mut pending = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        if let Some(e) = &unavailable[i] {
            tracing::warn!(
                server = server.endpoint(),
                error = %e,
                "a ClickHouse replica does not answer at start: the node starts without it (its shard has another) and takes it into use once it answers"
            );
            let k = groups.iter().position(|g| g.contains(&i)).expect("every server is in a shard");
            pending.push(Pending { server: Arc::downgrade(server), shard_macro: macros[k].clone(), state: State::Unavailable });
        }
    }
    if !pending.is_empty() {
        tokio::spawn(take_into_use(pending, database.to_string(), layout.clone()));
    }
    let shards = groups.iter().map(|g| Shard::of(g.iter().map(|&i| servers[i].clone()).collect())).collect();
    Ok(Servers { readers: Shard::of(servers), shards })
}

/// "shard 2 of 3", for messages.
fn shard_name(k: usize, n: usize) -> String {
    if n == 1 { "the shard".to_string() } else { format!("shard {} of {n}", k + 1) }
}

/// Each shard's `{shard}` macro as its replicas that answer say (`None`: none answers; each one that does
/// not is noted in `unavailable`). Fails when a server that answers has none, or its shard's replicas
/// disagree, or two shards have the same: `--clickhouse` is not in the cluster's order.
async fn shard_macros(servers: &[Arc<Server>], groups: &[Vec<usize>], unavailable: &mut [Option<String>]) -> anyhow::Result<Vec<Option<String>>> {
    let n = groups.len();
    let read = futures::future::join_all(servers.iter().map(|s| within(s, shard_macro(s)))).await;
    let mut macros: Vec<Option<String>> = vec![None; n];
    let mut said_by = vec![0; n];
    for (k, group) in groups.iter().enumerate() {
        for &i in group {
            match &read[i] {
                Ok(m) => match &macros[k] {
                    Some(other) if other != m => anyhow::bail!(
                        "{} and {} are replicas of {} by their place in --clickhouse, but their {{shard}} macros differ ('{other}', '{m}'): \
                         list each shard's replicas together, shards in the cluster's order",
                        servers[said_by[k]].endpoint(),
                        servers[i].endpoint(),
                        shard_name(k, n)
                    ),
                    _ => (macros[k], said_by[k]) = (Some(m.clone()), i),
                },
                Err(QueryError::Unavailable(e)) => unavailable[i] = Some(e.clone()),
                Err(e) => anyhow::bail!("cannot read the {{shard}} macro of {}: {e}", servers[i].endpoint()),
            }
        }
    }
    for a in 0..n {
        for b in a + 1..n {
            if let (Some(x), Some(y)) = (&macros[a], &macros[b]) {
                anyhow::ensure!(
                    x != y,
                    "{} ({}) and {} ({}) by their place in --clickhouse have the same {{shard}} macro '{x}': list each shard's \
                     replicas together, shards in the cluster's order, as many servers per shard as the cluster has replicas",
                    shard_name(a, n),
                    servers[said_by[a]].endpoint(),
                    shard_name(b, n),
                    servers[said_by[b]].endpoint()
                );
            }
        }
    }
    Ok(macros)
}

/// How many replicas each shard has, in the cluster's order: one server without a cluster; on a cluster,
/// its layout, read from the first server that answers, which `--clickhouse` must match — one server per
/// shard, or with `--clickhouse-replicated` every replica — or traces would be written where the
/// `Distributed` tables do not expect them.
async fn shard_sizes(servers: &[Arc<Server>], layout: &schema::Layout) -> anyhow::Result<Vec<usize>> {
    let Some(cluster) = &layout.cluster else { return Ok(vec![1; servers.len()]) };
    #[derive(Row, Deserialize)]
    struct R {
        replicas: u64,
    }
    let sql = "SELECT toUInt64(count()) AS replicas FROM system.clusters WHERE cluster = ? GROUP BY shard_num ORDER BY shard_num";
    let mut errors = Vec::new();
    for server in servers {
        let rows: Vec<R> = match within(server, async { server.unscoped.query(sql).bind(cluster).fetch_all().await.map_err(ch_error) }).await {
            Ok(rows) => rows,
            Err(e) => {
                errors.push(format!("{}: {e}", server.endpoint()));
                continue;
            }
        };
        let at = server.endpoint();
        anyhow::ensure!(!rows.is_empty(), "cluster {cluster} is not in system.clusters on {at}: name a cluster of its <remote_servers>");
        let sizes: Vec<usize> = rows.iter().map(|r| r.replicas as usize).collect();
        if layout.replicated {
            let total: usize = sizes.iter().sum();
            anyhow::ensure!(
                total == servers.len(),
                "cluster {cluster} has {} shard(s) of {} replica(s) on {at}, {total} servers in all, but --clickhouse names {}: with \
                 --clickhouse-replicated give every replica, each shard's together, shards in the cluster's order",
                sizes.len(),
                sizes.iter().map(usize::to_string).collect::<Vec<_>>().join("/"),
                servers.len()
            );
            return Ok(sizes);
        }
        anyhow::ensure!(
            sizes.len() == servers.len(),
            "cluster {cluster} has {} shard(s) on {at} but --clickhouse names {} (list each shard's server in the cluster's order)",
            sizes.len(),
            servers.len()
        );
        return Ok(vec![1; servers.len()]);
    }
    anyhow::bail!("cannot read cluster {cluster}: no --clickhouse server answers ({})", errors.join("; "))
}

/// A server's `{shard}` macro; its absence is a configuration error.
async fn shard_macro(server: &Server) -> Result<String, QueryError> {
    let macros: Vec<String> =
        server.unscoped.query("SELECT substitution FROM system.macros WHERE macro = 'shard'").fetch_all().await.map_err(ch_error)?;
    macros.into_iter().next().ok_or_else(|| {
        QueryError::Storage(anyhow::anyhow!(
            "--clickhouse-replicated: {} has no {{shard}} macro (set <macros><shard>…</shard><replica>…</replica></macros>)",
            server.endpoint()
        ))
    })
}

/// Creates or migrates the server's tables.
async fn prepare(server: &Server, database: &str, layout: &schema::Layout) -> Result<(), QueryError> {
    schema::migrate(&server.unscoped, server.endpoint(), database, layout).await.map(|_| ())
}

/// `step` on `server`, unavailable when it takes longer than [`PREPARE_TIMEOUT`].
async fn within<T>(server: &Server, step: impl Future<Output = Result<T, QueryError>>) -> Result<T, QueryError> {
    tokio::time::timeout(PREPARE_TIMEOUT, step).await.unwrap_or_else(|_| {
        Err(QueryError::Unavailable(format!("ClickHouse at {} did not answer within {} s", server.endpoint(), PREPARE_TIMEOUT.as_secs())))
    })
}

/// A server not in use yet.
struct Pending {
    /// Gone with the store.
    server: Weak<Server>,
    /// What its `{shard}` macro must be (replicated).
    shard_macro: Option<String>,
    /// What was last logged about it.
    state: State,
}

#[derive(PartialEq)]
enum State {
    Unavailable,
    /// It answers but cannot be used: this message says why.
    Refused(String),
}

/// Tries the servers that did not answer at start every [`RETRY_EVERY`] and takes each into use once it
/// answers: its `{shard}` macro checked, its tables prepared (a new replica then fetches its shard's data
/// through ZooKeeper). Logs each change of a server's state, not each try. Ends when every server is in use
/// or the store is dropped.
async fn take_into_use(mut pending: Vec<Pending>, database: String, layout: schema::Layout) {
    let mut tick = tokio::time::interval(RETRY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    while !pending.is_empty() {
        tick.tick().await;
        let mut still = Vec::with_capacity(pending.len());
        for mut p in pending {
            let Some(server) = p.server.upgrade() else { return };
            let tried = within(&server, async {
                if let Some(expected) = &p.shard_macro {
                    let m = shard_macro(&server).await?;
                    if m != *expected {
                        return Err(QueryError::Storage(anyhow::anyhow!(
                            "its {{shard}} macro is '{m}' but the other replicas of its shard (by its place in --clickhouse) say \
                             '{expected}': fix its macros or the order of --clickhouse"
                        )));
                    }
                }
                prepare(&server, &database, &layout).await
            })
            .await;
            match tried {
                Ok(()) => {
                    server.set_state(ReplicaState::InUse);
                    tracing::info!(server = server.endpoint(), "a ClickHouse replica that did not answer at start answers: its tables are prepared and it is in use");
                }
                Err(e) => {
                    let state = match &e {
                        QueryError::Unavailable(_) => State::Unavailable,
                        e => State::Refused(e.to_string()),
                    };
                    server.set_state(match state {
                        State::Unavailable => ReplicaState::Waiting,
                        State::Refused(_) => ReplicaState::Refused,
                    });
                    if state != p.state {
                        match &state {
                            State::Unavailable => tracing::warn!(server = server.endpoint(), error = %e, "a ClickHouse replica not in use yet does not answer; will retry"),
                            State::Refused(m) => tracing::error!(server = server.endpoint(), error = %m, "a ClickHouse replica answers but is kept out of use"),
                        }
                        p.state = state;
                    }
                    still.push(p);
                }
            }
        }
        pending = still;
    }
}
