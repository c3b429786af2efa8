//! The ClickHouse tables and their versioned, idempotent migrations, for one server or a cluster.
//!
//! Every statement works on ClickHouse 18.16 (Debian's) and current releases: times are `Int64`
//! milliseconds (no `DateTime64`), retention drops whole day partitions (no `TTL` before 19.6), and the
//! trace lookup is the `spans` table's own primary key (no data-skipping indexes before 19.x).
//! docs/STORE.md compares the layout with the OpenTelemetry Collector's `clickhouseexporter`.
//!
//! On a cluster, each shard gets the tables as `<name>_local`, and every shard a `Distributed` table
//! `<name>` over them: reads go through those; Sightline writes each row straight into the local table of
//! the shard its trace id picks ([`shard_of`], the same rule as the `Distributed` tables' sharding key), so
//! a trace's spans and transactions are on one shard and an insert is acknowledged only once that shard has
//! it. `ON CLUSTER` is not used (it needs ZooKeeper): Sightline runs the DDL on every server it is given
//! (`clickhouse/replicas.rs`: a replica down at start gets it when it answers).

use clickhouse::Client;

use super::ch_error;
use crate::store::QueryError;

/// One table: its columns, engine family, and the rest of its definition.
struct Table {
    name: &'static str,
    columns: &'static str,
    /// `ReplacingMergeTree(ver)`-style engine, without the `Replicated` prefix and its arguments.
    engine: &'static str,
    /// The engine's parameter after the replication arguments (e.g. the version column), if any.
    engine_arg: Option<&'static str>,
    tail: &'static str,
}

/// The tables of schema version 1.
const TABLES_V1: &[Table] = &[
    // Finished transactions: what the hitmap, the list, the series and the services summary scan. Ordered
    // by service then end time, so a service's time range is one contiguous read; partitioned by UTC day of
    // end (days since the epoch: no time zone involved), so retention drops whole parts. `node`/`seq` tie a
    // row to the commit that made it visible on the node that wrote it, `inserted_ms` to when (the other
    // nodes' live streams poll by it); see `ClickHouseStore::hitmap`. `record` is the transaction as the
    // embedded store keeps it (protobuf `SpanRecord`): only a page of the list reads it. `tags` and the
    // `step_*` arrays are what "what changed" counts and filters by (`clickhouse/compare.rs`).
    Table {
        name: "transactions",
        columns: "end_ms Int64, duration_ns UInt64, service String, endpoint String, error UInt8, error_type String, \
                  tags Array(String), step_kinds Array(UInt8), step_names Array(String), step_ms Array(Float32), \
                  trace_id FixedString(16), span_id FixedString(8), node UInt64, seq UInt64, inserted_ms Int64, record String",
        engine: "ReplacingMergeTree",
        engine_arg: None,
        tail: "PARTITION BY intDiv(end_ms, 86400000) ORDER BY (service, end_ms, trace_id, span_id)",
    },
    // Every finished span, for opening a trace: ordered by trace id, so a trace is a primary-key lookup in
    // each day's part (small granules: a lookup reads little more than the trace). A retried span collapses
    // into one row when parts merge; readers dedupe until then.
    Table {
        name: "spans",
        columns: "trace_id FixedString(16), span_id FixedString(8), start_ms Int64, record String",
        engine: "ReplacingMergeTree",
        engine_arg: None,
        tail: "PARTITION BY intDiv(start_ms, 86400000) ORDER BY (trace_id, span_id) SETTINGS index_granularity = 1024",
    },
    // In-flight snapshots and their ends: the row with the highest `ver` of a span says whether it is still
    // listed (`live`), when it was last reported (`seen_ms`) and what it looked like.
    Table {
        name: "inflight",
        columns: "trace_id FixedString(16), span_id FixedString(8), service String, ver Int64, seen_ms Int64, live UInt8, record String",
        engine: "ReplacingMergeTree",
        engine_arg: Some("ver"),
        tail: "PARTITION BY intDiv(ver, 86400000) ORDER BY (trace_id, span_id)",
    },
    // The cube's facts (`clickhouse/cube.rs`): one row per new transaction and per new SQL step, with every
    // cube dimension and the duration's sketch bucket; kept by their own retention (whole day partitions),
    // longer than the raw transactions. Ordered by kind then end, so a query reads its time range.
    Table {
        name: "cube_facts",
        columns: "kind UInt8, end_ms Int64, ns UInt64, error UInt8, sketch_key Int32, service String, endpoint String, \
                  instance String, status String, error_type String, error_message String, http_method String, \
                  http_status String, statement String, trace_id FixedString(16)",
        engine: "MergeTree",
        engine_arg: None,
        tail: "PARTITION BY intDiv(end_ms, 86400000) ORDER BY (kind, end_ms)",
    },
    // Each retention pass's cut-off (written to every shard): data before the highest is hidden from every
    // query at once; dropping parts frees the disk a day at a time.
    Table { name: "retention", columns: "cutoff_ms Int64, at_ms Int64", engine: "MergeTree", engine_arg: None, tail: "ORDER BY cutoff_ms" },
];

/// One migration per entry, applied in order, each once per server.
const MIGRATIONS: &[&[Table]] = &[TABLES_V1];

/// How the tables are laid out.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The cluster (as named in the servers' `remote_servers`) the shards form; `None`: one server.
    pub cluster: Option<String>,
    /// Use `Replicated*MergeTree` engines (the servers need ZooKeeper and the `{shard}`/`{replica}` macros).
    pub replicated: bool,
}

impl Layout {
    /// The table a shard's rows are written to.
    pub fn local(&self, table: &str) -> String {
        match self.cluster {
            Some(_) => format!("{table}_local"),
            None => table.to_string(),
        }
    }
}

/// Creates the database on `server` (at `endpoint`, for the log) and brings its tables to the current
/// version. Statements are idempotent (`IF NOT EXISTS`): nodes starting together may both apply a version.
/// Each server is migrated apart (the caller runs this on every shard's every replica): `schema_migrations`
/// is the server's own table.
pub async fn migrate(server: &Client, endpoint: &str, database: &str, layout: &Layout) -> Result<u32, QueryError> {
    server.query(&format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database))).execute().await.map_err(ch_error)?;
    let db = server.clone().with_database(database);
    db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_ms Int64) ENGINE = MergeTree ORDER BY version")
        .execute()
        .await
        .map_err(ch_error)?;
    let applied: u32 = db.query("SELECT toUInt32(max(version)) FROM schema_migrations").fetch_one().await.map_err(ch_error)?;
    for (i, tables) in MIGRATIONS.iter().enumerate() {
        let version = i as u32 + 1;
        if version <= applied {
            continue;
        }
        for t in *tables {
            for sql in create(t, database, layout) {
                db.query(&sql).execute().await.map_err(ch_error)?;
            }
        }
        db.query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)")
            .bind(version)
            .bind(crate::store::now_ms())
            .execute()
            .await
            .map_err(ch_error)?;
        tracing::info!(version, database, server = endpoint, "ClickHouse schema migrated");
    }
    Ok(MIGRATIONS.len() as u32)
}

/// The DDL of one table in `layout`.
fn create(t: &Table, database: &str, layout: &Layout) -> Vec<String> {
    let local = layout.local(t.name);
    let engine = if layout.replicated {
        let path = format!("'/clickhouse/tables/{{shard}}/{database}/{local}', '{{replica}}'");
        match t.engine_arg {
            Some(arg) => format!("Replicated{}({path}, {arg})", t.engine),
            None => format!("Replicated{}({path})", t.engine),
        }
    } else {
        match t.engine_arg {
            Some(arg) => format!("{}({arg})", t.engine),
            None => t.engine.to_string(),
        }
    };
    let mut sql = vec![format!("CREATE TABLE IF NOT EXISTS {local} ({}) ENGINE = {engine} {}", t.columns, t.tail)];
    if let Some(cluster) = &layout.cluster {
        sql.push(format!(
            "CREATE TABLE IF NOT EXISTS {} AS {local} ENGINE = Distributed({}, {}, {local}, {})",
            t.name,
            quote_ident(cluster),
            quote_ident(database),
            // Cut-offs are written to every shard by Sightline itself; the key only has to exist.
            if t.columns.contains("trace_id") { SHARDING_KEY } else { "rand()" },
        ));
    }
    sql
}

/// The `Distributed` tables' sharding key, which [`shard_of`] computes the same way: ClickHouse's `intHash64`
/// (MurmurHash3's 64-bit finalizer) of the trace id's two halves (little-endian integers) XORed. A trace's
/// rows are on one shard, and ids that are not random in every byte (64-bit ids padded with zeros, as older
/// Zipkin/Jaeger clients send; test ids) still spread evenly.
pub const SHARDING_KEY: &str =
    "intHash64(bitXor(reinterpretAsUInt64(substring(trace_id, 1, 8)), reinterpretAsUInt64(substring(trace_id, 9, 8))))";

/// The shard (index into the `--clickhouse` list, in the cluster's order, equal weights) of a trace.
pub fn shard_of(trace_id: &[u8], shards: usize) -> usize {
    let half = |i: usize| u64::from_le_bytes(trace_id[i..i + 8].try_into().expect("16-byte trace id"));
    (int_hash64(half(0) ^ half(8)) % shards.max(1) as u64) as usize
}

/// ClickHouse's SQL `intHash64` (its `IntHash64Impl`: a constant XORed in, then MurmurHash3's finalizer).
fn int_hash64(x: u64) -> u64 {
    let mut x = x ^ 0x4CF2_D2BA_AE6D_A887;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A database or cluster name as an identifier (names are validated as plain words first).
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', ""))
}

/// A database or cluster name Sightline accepts: letters, digits and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    /// The values ClickHouse 18.16 answers for `SELECT intHash64(toUInt64(0)), intHash64(toUInt64(1))`.
    #[test]
    fn int_hash64_is_clickhouses() {
        assert_eq!(super::int_hash64(0), 4_761_183_170_873_013_810);
        assert_eq!(super::int_hash64(1), 10_577_349_846_663_553_072);
    }
}
