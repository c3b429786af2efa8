//! The ClickHouse tables and their versioned, idempotent migrations.
//!
//! Every statement works on ClickHouse 18.16 (Debian's) and current releases: times are `Int64`
//! milliseconds (no `DateTime64`), retention drops whole day partitions (no `TTL` before 19.6), and the
//! trace lookup is the `spans` table's own primary key (no data-skipping indexes before 19.x).
//! docs/STORE.md compares the layout with the OpenTelemetry Collector's `clickhouseexporter`.

use clickhouse::Client;

use super::ch_error;
use crate::store::QueryError;

/// One migration per entry, applied in order, each once per database. Statements must be idempotent
/// (`IF NOT EXISTS`): two nodes starting together may both apply the same version.
const MIGRATIONS: &[&[&str]] = &[
    // 1: the first layout.
    &[
        // Finished transactions: what the hitmap, the list, the series and the services summary scan.
        // Ordered by service then end time, so a service's time range is one contiguous read; partitioned
        // by UTC day of end (days since the epoch: no time zone involved), so retention drops whole parts. `node`/`seq` tie a row to the commit that made it
        // visible on the node that wrote it (see `ClickHouseStore::hitmap`). `record` is the transaction
        // as the embedded store keeps it (protobuf `SpanRecord`): only a page of the list reads it.
        "CREATE TABLE IF NOT EXISTS transactions (
            end_ms Int64, duration_ns UInt64, service String, endpoint String, error UInt8, error_type String,
            trace_id FixedString(16), span_id FixedString(8), node UInt64, seq UInt64, record String
        ) ENGINE = ReplacingMergeTree
        PARTITION BY intDiv(end_ms, 86400000)
        ORDER BY (service, end_ms, trace_id, span_id)",
        // Every finished span, for opening a trace: ordered by trace id, so a trace is a primary-key lookup
        // in each day's part (small granules: a lookup reads little more than the trace). A retried span
        // collapses into one row when parts merge; readers dedupe until then.
        "CREATE TABLE IF NOT EXISTS spans (
            trace_id FixedString(16), span_id FixedString(8), start_ms Int64, record String
        ) ENGINE = ReplacingMergeTree
        PARTITION BY intDiv(start_ms, 86400000)
        ORDER BY (trace_id, span_id)
        SETTINGS index_granularity = 1024",
        // In-flight snapshots and their ends: the row with the highest `ver` of a span says whether it is
        // still listed (`live`), when it was last reported (`seen_ms`) and what it looked like.
        "CREATE TABLE IF NOT EXISTS inflight (
            trace_id FixedString(16), span_id FixedString(8), service String, ver Int64, seen_ms Int64,
            live UInt8, record String
        ) ENGINE = ReplacingMergeTree(ver)
        PARTITION BY intDiv(ver, 86400000)
        ORDER BY (trace_id, span_id)",
        // Each retention pass's cut-off: data before the highest is hidden from every query at once
        // (dropping parts frees the disk later, a day at a time).
        "CREATE TABLE IF NOT EXISTS retention (cutoff_ms Int64, at_ms Int64) ENGINE = MergeTree ORDER BY cutoff_ms",
    ],
];

/// Creates the database and brings its tables to the current version. Returns the version.
pub async fn migrate(server: &Client, database: &str) -> Result<u32, QueryError> {
    server
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database)))
        .execute()
        .await
        .map_err(ch_error)?;
    let db = server.clone().with_database(database);
    db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_ms Int64) ENGINE = MergeTree ORDER BY version")
        .execute()
        .await
        .map_err(ch_error)?;
    let applied: u32 = db.query("SELECT toUInt32(max(version)) FROM schema_migrations").fetch_one().await.map_err(ch_error)?;
    for (i, statements) in MIGRATIONS.iter().enumerate() {
        let version = i as u32 + 1;
        if version <= applied {
            continue;
        }
        for sql in *statements {
            db.query(sql).execute().await.map_err(ch_error)?;
        }
        db.query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)")
            .bind(version)
            .bind(crate::store::now_ms())
            .execute()
            .await
            .map_err(ch_error)?;
        tracing::info!(version, database, "ClickHouse schema migrated");
    }
    Ok(MIGRATIONS.len() as u32)
}

/// A database name as an identifier (refused if it is not a plain name: it is configuration, not input).
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', ""))
}

pub fn valid_database(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
