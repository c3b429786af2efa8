//! The cube on ClickHouse: the embedded store's answers, computed from the facts themselves.
//!
//! The embedded store keeps per-minute rollups, rolled up into coarser tiers, each cell with a sketch of its
//! durations, because it must answer months of data from one process's memory and disk. On ClickHouse the
//! facts (`crate::cube::facts`: one per new transaction, one per new SQL step) are rows of `cube_facts`, and
//! a query groups them: by the asked dimensions, the series' step and the sketch bucket of the duration
//! (worked out in Rust at ingest with `cube::sketch::key_of`, so no floating-point function of ClickHouse's
//! decides a bucket). What comes back per group is exactly what a merged rollup cell holds (count, errors,
//! summed ns as `Cell::add` rounds them, first and last end, the sketch's bins), so the same
//! [`crate::cube::query::measures`] turns it into the same figures: merging cells is exact whatever the
//! tiers, which is why the rollups need no counterpart here.
//!
//! Facts are counted once as on the embedded store: a transaction's and its request's SQL steps' when the
//! transaction is new, a SQL step that came without its transaction when its span was not stored before.
//! They are written before the transactions, so a commit failing between the two inserts is counted again
//! on the exporter's retry (the embedded store writes both in one batch). Retention: days before
//! `--cube-retention-days` are not stored and are dropped a partition at a time, like the embedded tiers.
//!
//! Where the answers can differ: ties in the sort measure are broken by the group's values (the embedded
//! store breaks them by interning order, which depends on its history), and beyond `MAX_GROUPS` groups the
//! ones ranked are the first by value rather than the first found.

use std::collections::{BTreeMap, HashMap};

use clickhouse::Row;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use sightline_model::{CubeAnswer, CubeDim};

use super::{day_end_ms, Inner, Where};
use crate::cube::query::{self, measures, MAX_GROUPS, MAX_SERIES_CELLS};
use crate::cube::rollup::{bucket_of, kind_code, Cell, MINUTE_MS, NDIMS};
use crate::cube::{sketch, CubeQuery, Fact};
use crate::store::record::{SpanRef, SpanTimes};
use crate::store::QueryError;

/// The `cube_facts` column of each dimension, indexed by `CubeDim as usize`.
const DIM_COLUMNS: [&str; NDIMS] =
    ["service", "endpoint", "instance", "status", "error_type", "error_message", "http_method", "http_status", "statement"];

/// `sketch_key` of a duration in the sketch's zero bucket.
const ZERO_KEY: i32 = i32::MIN;

/// One fact, as stored.
#[derive(Row, Serialize, Deserialize)]
pub(super) struct FactRow {
    kind: u8,
    end_ms: i64,
    /// As `Cell::add` sums it.
    ns: u64,
    error: u8,
    sketch_key: i32,
    service: String,
    endpoint: String,
    instance: String,
    status: String,
    error_type: String,
    error_message: String,
    http_method: String,
    http_status: String,
    statement: String,
    /// The shard's: a fact is on the shard of its trace.
    pub(super) trace_id: [u8; 16],
}

impl FactRow {
    fn of(f: &Fact<'_>, trace_id: [u8; 16]) -> FactRow {
        let d = |c: CubeDim| f.dims[c as usize].to_string();
        FactRow {
            kind: kind_code(f.kind),
            end_ms: f.end_ms,
            ns: (f.duration_ms.max(0.0) * 1e6).round() as u64,
            error: f.error as u8,
            sketch_key: sketch::key_of(f.duration_ms).unwrap_or(ZERO_KEY),
            service: d(CubeDim::Service),
            endpoint: d(CubeDim::Endpoint),
            instance: d(CubeDim::Instance),
            status: d(CubeDim::Status),
            error_type: d(CubeDim::ErrorType),
            error_message: d(CubeDim::ErrorMessage),
            http_method: d(CubeDim::HttpMethod),
            http_status: d(CubeDim::HttpStatus),
            statement: d(CubeDim::Statement),
            trace_id,
        }
    }
}

/// Which transaction decides whether a fact counts.
pub(super) enum FactOwner {
    /// Counted with this transaction of the same request, if it is new.
    Transaction([u8; 24]),
    /// A SQL step that came without its transaction: counted unless this span (started then) is stored.
    Alone { ids: [u8; 24], start_ms: i64 },
}

/// The cube facts of one request and what decides whether each counts; CPU work, done where `append` is
/// called (off the async runtime), so the committer only looks up and inserts.
pub(super) fn prepare_facts(spans: &[SpanRef<'_>]) -> Vec<(FactRow, FactOwner)> {
    let mut out = Vec::new();
    for ((fact, owner), s) in crate::cube::facts::facts_and_owners(spans).into_iter().zip(spans) {
        let Some(fact) = fact else { continue };
        let owner = match owner.filter(|o| !spans[*o].in_flight()) {
            Some(o) => FactOwner::Transaction(spans[o].ids()),
            None if s.is_transaction => FactOwner::Transaction(s.ids()),
            None => FactOwner::Alone { ids: s.ids(), start_ms: s.start_ms() },
        };
        out.push((FactRow::of(&fact, super::ids_of(&s.trace_id, &s.span_id).0), owner));
    }
    out
}

impl Inner {
    /// The days the cube keeps: facts ending before this are neither stored nor answered.
    fn cube_oldest(&self, now_ms: i64) -> i64 {
        bucket_of(3, now_ms.saturating_sub(self.cube_max_age_ms))
    }

    /// The new facts of a group of requests, out of what [`prepare_facts`] found in each: `new` are the
    /// transactions counted now, as `(request, ids)`.
    pub(super) async fn cube_facts(
        &self,
        requests: Vec<(usize, Vec<(FactRow, FactOwner)>)>,
        new: &FxHashSet<(usize, [u8; 24])>,
    ) -> Result<Vec<FactRow>, QueryError> {
        let oldest = self.cube_oldest(super::super::now_ms());
        let mut out = Vec::new();
        // SQL steps that came without their (finished) transaction: counted unless stored before.
        let mut alone: Vec<(FactRow, [u8; 24], i64)> = Vec::new();
        for (r, facts) in requests {
            for (fact, owner) in facts {
                match owner {
                    FactOwner::Transaction(ids) if new.contains(&(r, ids)) => out.push(fact),
                    FactOwner::Transaction(_) => {}
                    FactOwner::Alone { ids, start_ms } => alone.push((fact, ids, start_ms)),
                }
            }
        }
        if !alone.is_empty() {
            let stored = self.stored_spans(alone.iter().map(|(_, ids, start)| (*ids, *start))).await?;
            let mut seen: FxHashSet<[u8; 24]> = FxHashSet::default();
            for (fact, ids, _) in alone {
                if !stored.contains(&ids) && seen.insert(ids) {
                    out.push(fact);
                }
            }
        }
        out.retain(|f| f.end_ms >= oldest);
        Ok(out)
    }

    /// Which of these spans are stored: a primary-key lookup of their traces in the days they started.
    async fn stored_spans(&self, spans: impl Iterator<Item = ([u8; 24], i64)>) -> Result<FxHashSet<[u8; 24]>, QueryError> {
        let spans: Vec<([u8; 24], i64)> = spans.collect();
        let (lo, hi) = spans.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s.1), hi.max(s.1)));
        let traces: FxHashSet<[u8; 16]> = spans.iter().map(|(ids, _)| ids[..16].try_into().expect("24-byte ids")).collect();
        let sql = format!(
            "SELECT trace_id, span_id FROM spans WHERE start_ms >= {lo} AND start_ms <= {hi} AND trace_id IN ({})",
            super::compare::trace_list(traces.iter())
        );
        #[derive(Row, Deserialize)]
        struct R {
            trace_id: [u8; 16],
            span_id: [u8; 8],
        }
        let w = Where { sql, binds: Vec::new() };
        let rows: Vec<R> = self.read(|c| w.bind(c.query(&w.sql)).fetch_all()).await?;
        Ok(rows.into_iter().map(|r| super::join_ids(&r.trace_id, &r.span_id)).collect())
    }

    /// Drops the cube's days before its retention on every shard (whole days, as the embedded tiers).
    pub(super) async fn cube_retention(&self, now_ms: i64) -> Result<(), QueryError> {
        let cutoff = self.cube_oldest(now_ms);
        let table = self.layout.local("cube_facts");
        let (table, database) = (table.as_str(), self.target.database.as_str());
        self.each_shard(|c| async move {
            let parts: Vec<String> =
                c.query("SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active").bind(database).bind(table).fetch_all().await?;
            for p in parts {
                if day_end_ms(&p).is_some_and(|end| end <= cutoff) {
                    c.query(&format!("ALTER TABLE {table} DROP PARTITION {p}")).execute().await?;
                }
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Answers `q` as the embedded store's cube does.
    pub(super) async fn cube(&self, q: CubeQuery) -> Result<CubeAnswer, QueryError> {
        let (from, to) = query::aligned(q.from, q.to);
        // The same bounds on the work as the embedded store's (its plan refuses what would read too much).
        query::Plans::new(from, to, q.step_ms, &[i64::MAX; 4])?;
        let steps = q.step_ms.map(|s| query::steps(from, to, Some(s)));
        if let Some(s) = &steps {
            if s.len() > MAX_SERIES_CELLS / 2 {
                return Err(query::too_many_series_cells(2, s.len()));
            }
        }
        let mut w = Where::default();
        w.and(format!("kind = {} AND end_ms >= {from} AND end_ms < {to}", kind_code(q.kind())));
        for (d, v) in &q.filter {
            w.and_bound(&format!("{} = ?", DIM_COLUMNS[*d as usize]), v);
        }
        let key = match q.group_by.is_empty() {
            true => "emptyArrayString()".to_string(),
            false => format!("[{}]", q.group_by.iter().map(|d| DIM_COLUMNS[*d as usize]).collect::<Vec<_>>().join(", ")),
        };
        let step = match q.step_ms {
            Some(s) => format!("toUInt32(intDiv(end_ms, {s}) - intDiv({from}, {s}))"),
            None => "toUInt32(0)".into(),
        };
        let sql = format!(
            "SELECT {key} AS group_key, {step} AS step, sketch_key, count(), sum(error), sum(ns), min(end_ms), max(end_ms) \
             FROM cube_facts WHERE {} GROUP BY group_key, step, sketch_key",
            w.sql
        );
        #[derive(Row, Deserialize)]
        struct R {
            key: Vec<String>,
            step: u32,
            sketch_key: i32,
            n: u64,
            errors: u64,
            ns: u64,
            first: i64,
            last: i64,
        }
        let (rows, raw_since_ms) = futures::try_join!(
            async { self.read(|c| w.bind(c.query(&sql)).fetch_all::<R>()).await },
            self.raw_since()
        )?;
        // Each group's cell over the range, and per step when a series is asked.
        let mut groups: BTreeMap<Vec<String>, Cell> = BTreeMap::new();
        let mut per_step: HashMap<(Vec<String>, u32), Cell> = HashMap::new();
        for r in rows {
            let add = |c: &mut Cell| {
                c.count += r.n;
                c.errors += r.errors;
                c.sum_ns = c.sum_ns.saturating_add(r.ns);
                c.first_ms = c.first_ms.min(r.first);
                c.last_ms = c.last_ms.max(r.last);
                match r.sketch_key {
                    ZERO_KEY => c.sketch.zero += r.n,
                    k => c.sketch.add_key(k, r.n),
                }
            };
            add(groups.entry(r.key.clone()).or_default());
            if steps.is_some() {
                add(per_step.entry((r.key, r.step)).or_default());
            }
        }
        let secs = (to - from) as f64 / 1000.0;
        let mut total = Cell::default();
        let mut overflow = Cell::default();
        for c in groups.values() {
            total.merge(c);
        }
        if groups.len() > MAX_GROUPS {
            let first_left_out = groups.keys().nth(MAX_GROUPS).cloned().expect("more than MAX_GROUPS groups");
            for (_, c) in groups.split_off(&first_left_out) {
                overflow.merge(&c);
            }
        }
        let ranked = query::rank(&q, secs, groups, overflow);
        let (mut rows, mut other_row) = ranked.rows(q.group_by.len(), secs, Vec::clone);
        let (mut step_ms, mut timestamps) = (0, Vec::new());
        if let (Some(step), Some(steps)) = (q.step_ms, steps) {
            let kept: HashMap<&[String], usize> = ranked.kept.iter().enumerate().map(|(i, (k, _))| (k.as_slice(), i)).collect();
            let nrows = kept.len() + 1;
            if nrows.saturating_mul(steps.len()) > MAX_SERIES_CELLS {
                return Err(query::too_many_series_cells(nrows, steps.len()));
            }
            let mut cells = vec![vec![Cell::default(); steps.len()]; nrows];
            for ((k, s), c) in &per_step {
                let row = kept.get(k.as_slice()).copied().unwrap_or(nrows - 1);
                let at = cells[row]
                    .get_mut(*s as usize)
                    .ok_or_else(|| QueryError::Storage(anyhow::anyhow!("cube step {s} out of range")))?;
                at.merge(c);
            }
            let mut series = cells
                .into_iter()
                .map(|row| row.iter().zip(&steps).map(|(c, (a, b))| measures(c, (b - a) as f64 / 1000.0)).collect::<Vec<_>>());
            for row in rows.iter_mut().chain(other_row.as_mut()) {
                row.series = series.next().unwrap_or_default();
            }
            step_ms = step;
            timestamps = steps.iter().map(|s| s.0).collect();
        }
        Ok(CubeAnswer {
            from,
            to,
            group_by: q.group_by.clone(),
            rows,
            other: other_row,
            total: measures(&total, secs),
            groups: ranked.groups,
            cut: ranked.cut,
            step_ms,
            timestamps,
            raw_since_ms,
            usage: Vec::new(),
        })
    }

    /// The start of the minute of the oldest raw transaction kept, as the embedded store reports it.
    async fn raw_since(&self) -> Result<Option<i64>, QueryError> {
        let (n, oldest): (u64, i64) = self.read(|c| c.query(&format!("SELECT count(), min(end_ms) FROM transactions WHERE end_ms >= {}", self.horizon())).fetch_one()).await?;
        Ok((n > 0).then(|| oldest.div_euclid(MINUTE_MS) * MINUTE_MS))
    }
}
