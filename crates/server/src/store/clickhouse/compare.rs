//! "What changed" on ClickHouse: the same [`Tally`] as the embedded store's columns, counted by ClickHouse.
//!
//! Each transaction row carries what the embedded store interns per row (`store/columns/tags.rs`): its tags
//! as canonical strings in `tags` (instance, thread, HTTP method and status, version, uninterpreted
//! attributes; see [`tag_key`]) and its steps, worked out at ingest, as three aligned arrays (`step_kinds`,
//! `step_names`, `step_ms`: self time as the embedded columns keep it, `f32` ms). A comparison is then a few `GROUP BY`s over the windows of
//! the two sets, each row flagged `in_sel` / `in_base` by the conditions the list uses ([`Inner::where_of`]):
//! the fixed dimensions and the sets' sizes grouped by service, endpoint and outcome; the tags with
//! `ARRAY JOIN tags`; the steps with `ARRAY JOIN` of the step arrays; the wait events by trace id (the few
//! traces the database samples name). Only the grouped rows come back.
//!
//! Step self times are the embedded columns' `f32` milliseconds, so the sums agree to the last bits of their
//! addition order. One difference: nothing is capped here (the
//! embedded store stops interning new values past `MAX_TAGS` / `MAX_STEPS`, counted in `dropped`; here
//! `dropped` is always 0).

use std::sync::Arc;

use clickhouse::Row;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use sightline_model::{CompareDim, TagFilter};

use super::{Inner, Where};
use crate::compare::{CompareQuery, Side, StepCount, Tally, ValueCount};
use crate::store::record::{kind, SpanRecord};
use crate::store::{QueryError, TxFilter};

/// Separates the parts of a [`tag_key`].
const SEP: char = '\u{1f}';

/// A SQL text past this many bytes is sent with a larger `max_query_size` (ClickHouse parses 256 KiB by
/// default): a wait-event filter lists its traces' ids.
const LONG_QUERY: usize = 200_000;

/// One tag as stored in the `tags` column: `dimension ␟ key length ␟ key value`. The key's length makes the
/// string unambiguous whatever bytes the key holds; dimensions other than attributes have an empty key.
pub fn tag_key(dim: CompareDim, key: Option<&str>, value: &str) -> String {
    let key = key.unwrap_or("");
    format!("{}{SEP}{}{SEP}{key}{value}", dim.name(), key.len())
}

/// The dimension, attribute key and value of a [`tag_key`].
fn parse_tag(s: &str) -> Option<(CompareDim, Option<String>, String)> {
    let (dim, rest) = s.split_once(SEP)?;
    let (len, rest) = rest.split_once(SEP)?;
    let dim = CompareDim::parse(dim)?;
    let len: usize = len.parse().ok()?;
    let (key, value) = (rest.get(..len)?, rest.get(len..)?);
    Some((dim, (dim == CompareDim::Attribute).then(|| key.to_string()), value.to_string()))
}

/// A transaction's tags, as the embedded store records them (`Profiles::push_row`), in the same order.
pub fn tags_of(s: &SpanRecord) -> Vec<String> {
    let mut tags = Vec::new();
    let fixed = [
        (CompareDim::Instance, s.instance.as_deref()),
        (CompareDim::Thread, s.thread.as_deref()),
        (CompareDim::HttpMethod, s.http_method.as_deref()),
        (CompareDim::Version, s.version.as_deref()),
    ];
    for (dim, v) in fixed {
        if let Some(v) = v {
            tags.push(tag_key(dim, None, v));
        }
    }
    if let Some(code) = s.http_status {
        tags.push(tag_key(CompareDim::HttpStatus, None, &crate::cube::facts::http_status_text(code)));
    }
    for a in &s.attributes {
        tags.push(tag_key(CompareDim::Attribute, Some(&a.key), &a.value));
    }
    tags
}

/// A transaction's steps as the three aligned columns `step_kinds`, `step_names`, `step_ms`.
pub fn steps_of(s: &SpanRecord) -> (Vec<u8>, Vec<String>, Vec<f32>) {
    let kinds = s.steps.iter().map(|st| st.kind as u8).collect();
    let names = s.steps.iter().map(|st| st.name.clone()).collect();
    // As the embedded columns keep it (`Profiles::push_row`).
    let ms = s.steps.iter().map(|st| st.self_ns as f32 / 1e6).collect();
    (kinds, names, ms)
}

/// The condition of a `tag` filter over `transactions`, as the embedded store's `compile_tag` matches it;
/// `None` when nothing can match (an unknown status, a wait event without traces).
pub(super) fn tag_cond(t: &TagFilter, traces: Option<&Arc<FxHashSet<[u8; 16]>>>) -> Option<Where> {
    let mut w = Where::default();
    let v = t.value.as_str();
    // Lambda parameters named apart from any alias of the query around (the hitmap's `k`).
    let step = |k: u32| format!("arrayExists((tag_step_kind, tag_step_name) -> tag_step_kind = {k} AND tag_step_name = ?, step_kinds, step_names)");
    match t.dim {
        CompareDim::Service => w.and_bound("service = ?", v),
        CompareDim::Endpoint => w.and_bound("endpoint = ?", v),
        CompareDim::Status => match v {
            "ok" => w.and("error = 0".into()),
            "error" => w.and("error = 1".into()),
            _ => return None,
        },
        // Ingest never records an empty exception type; an empty one here means "none", which is not a value.
        CompareDim::ErrorType if v.is_empty() => return None,
        CompareDim::ErrorType => {
            w.and("error = 1".into());
            w.and_bound("error_type = ?", v);
        }
        CompareDim::Statement => w.and_bound(&step(kind::SQL), v),
        CompareDim::HttpTarget => w.and_bound(&step(kind::HTTP), v),
        CompareDim::WaitEvent => w.and(format!("trace_id IN ({})", trace_list(traces.filter(|t| !t.is_empty())?.iter()))),
        CompareDim::Attribute => w.and_bound("has(tags, ?)", &tag_key(t.dim, Some(t.key.as_deref()?), v)),
        dim => w.and_bound("has(tags, ?)", &tag_key(dim, None, v)),
    }
    Some(w)
}

/// `unhex('…'), …` of trace ids, for an `IN`.
pub(super) fn trace_list<'a>(ids: impl Iterator<Item = &'a [u8; 16]>) -> String {
    let v: Vec<String> = ids.map(|t| format!("unhex('{}')", const_hex::encode(t))).collect();
    v.join(",")
}

impl Where {
    /// `self AND (other)`, binds in order.
    pub(super) fn and_where(&mut self, other: Where) {
        self.and(format!("({})", other.sql));
        self.binds.extend(other.binds);
    }

    /// Lets ClickHouse parse a long text (a wait-event filter lists its traces' ids).
    pub(super) fn sized(&self, q: clickhouse::query::Query) -> clickhouse::query::Query {
        // The whole query is a little longer than the condition: room for both.
        if self.sql.len() > LONG_QUERY {
            q.with_option("max_query_size", (self.sql.len() * 2).to_string())
        } else {
            q
        }
    }
}

/// The two sets of a comparison as SQL: which rows to read, and how each is flagged.
struct Sets {
    /// `[from, to)` of each set that can match anything: what is read (and counted as `scanned`).
    window: String,
    selection: Option<Where>,
    baseline: Option<Where>,
    exclude_selection: bool,
}

impl Sets {
    /// `SELECT <keys>, sum(<sel> AS in_sel), sum(<base> AS in_base)<more> FROM transactions<join> WHERE
    /// <window><extra> [AND (in_sel OR in_base)] GROUP BY <keys>`: one level, so that on a cluster the
    /// `Distributed` table has the shards group their own rows. The sets' conditions and binds come in
    /// the order they appear.
    fn grouped(&self, keys: &str, more: &str, join: &str, extra: &str, only_in_sets: bool) -> Where {
        let mut q = Where { sql: format!("SELECT {keys}, sum(("), binds: Vec::new() };
        let push = |w: &Option<Where>, q: &mut Where| match w {
            Some(w) => {
                q.sql.push_str(&format!("({})", w.sql));
                q.binds.extend(w.binds.iter().cloned());
            }
            None => q.sql.push('0'),
        };
        push(&self.selection, &mut q);
        q.sql.push_str(") AS in_sel), sum((");
        push(&self.baseline, &mut q);
        q.sql.push_str(if self.exclude_selection { " AND NOT in_sel) AS in_base)" } else { ") AS in_base)" });
        q.sql.push_str(&format!("{more} FROM transactions{join} WHERE ({}){extra}", self.window));
        if only_in_sets {
            q.sql.push_str(" AND (in_sel OR in_base)");
        }
        q.sql.push_str(&format!(" GROUP BY {keys}"));
        q
    }
}

impl Inner {
    /// Counts both sets of `q` (see [`CompareQuery`]); the same tally as the embedded store's.
    pub(super) async fn compare(&self, q: CompareQuery) -> Result<Tally, QueryError> {
        let selection = match (self.where_of(&q.selection)?, &q.only) {
            (Some(mut w), Some(only)) => tag_cond(only, None).map(|o| {
                w.and_where(o);
                w
            }),
            (w, _) => w,
        };
        let baseline = self.where_of(&q.baseline)?;
        let horizon = self.horizon();
        let range = |f: &TxFilter| format!("(end_ms >= {} AND end_ms < {})", f.from.max(horizon), f.to);
        let window: Vec<String> = [(&selection, &q.selection), (&baseline, &q.baseline)]
            .into_iter()
            .filter(|(w, _)| w.is_some())
            .map(|(_, f)| range(f))
            .collect();
        if window.is_empty() {
            return Ok(Tally::default());
        }
        let sets = Sets { window: window.join(" OR "), selection, baseline, exclude_selection: q.exclude_selection };
        let (groups, tags, steps, waits) =
            futures::try_join!(self.compare_groups(&sets), self.compare_tags(&sets), self.compare_steps(&sets), self.compare_waits(&sets, &q.wait_events))?;

        let mut t = Tally::default();
        let mut values: FxHashMap<(CompareDim, Option<String>, String), (u64, u64)> = FxHashMap::default();
        let mut add = |dim, key: Option<String>, value: String, s: u64, b: u64| {
            let e = values.entry((dim, key, value)).or_default();
            e.0 += s;
            e.1 += b;
        };
        for g in groups {
            t.scanned += g.n;
            t.selection.count += g.sel;
            t.baseline.count += g.base;
            t.selection.errors += g.sel_errors;
            t.baseline.errors += g.base_errors;
            add_ns(&mut t.selection, g.sel_ns);
            add_ns(&mut t.baseline, g.base_ns);
            if g.sel + g.base == 0 {
                continue;
            }
            add(CompareDim::Service, None, g.service, g.sel, g.base);
            add(CompareDim::Endpoint, None, g.endpoint, g.sel, g.base);
            add(CompareDim::Status, None, if g.error == 1 { "error" } else { "ok" }.into(), g.sel, g.base);
            if g.error == 1 && !g.error_type.is_empty() {
                add(CompareDim::ErrorType, None, g.error_type, g.sel, g.base);
            }
        }
        for r in tags {
            let (dim, key, value) =
                parse_tag(&r.tag).ok_or_else(|| QueryError::Storage(anyhow::anyhow!("a stored tag is not one Sightline wrote: {:?}", r.tag)))?;
            add(dim, key, value, r.sel, r.base);
        }
        for (event, (s, b)) in waits {
            add(CompareDim::WaitEvent, None, event, s, b);
        }
        for r in steps {
            let k = r.kind as u32;
            // The presence of a statement or HTTP peer is a dimension value too.
            match k {
                kind::SQL => add(CompareDim::Statement, None, r.name.clone(), r.sel, r.base),
                kind::HTTP => add(CompareDim::HttpTarget, None, r.name.clone(), r.sel, r.base),
                _ => {}
            }
            t.steps.push(StepCount {
                kind: k,
                name: r.name,
                selected_tx: r.sel,
                baseline_tx: r.base,
                selected_ms: r.sel_ms,
                baseline_ms: r.base_ms,
            });
        }
        t.values = values
            .into_iter()
            .filter(|(_, (s, b))| s + b > 0)
            .map(|((dim, key, value), (selected, baseline))| ValueCount { dim, key, value, selected, baseline })
            .collect();
        t.canonicalize();
        Ok(t)
    }

    /// The sets' sizes and the fixed dimensions: one row per service, endpoint and outcome in the windows.
    async fn compare_groups(&self, sets: &Sets) -> Result<Vec<Group>, QueryError> {
        let more = ", sum(in_sel * error), sum(in_base * error), sum(in_sel * duration_ns), sum(in_base * duration_ns), count()";
        let q = sets.grouped("service, endpoint, error, error_type", more, "", "", false);
        self.read(|c| q.bind(c.query(&q.sql)).fetch_all()).await
    }

    /// Every tag of a transaction in either set, counted per set. (`tags` itself stays the whole array
    /// beside the joined `tag`, for an `only` that filters by a tag.)
    async fn compare_tags(&self, sets: &Sets) -> Result<Vec<TagRow>, QueryError> {
        let q = sets.grouped("tag", "", " ARRAY JOIN tags AS tag", "", true);
        self.read(|c| q.bind(c.query(&q.sql)).fetch_all()).await
    }

    /// Every step of a transaction in either set: transactions running it and its summed self time, per set.
    async fn compare_steps(&self, sets: &Sets) -> Result<Vec<StepRow>, QueryError> {
        // `step_ms` holds the embedded columns' f32 values ([`steps_of`]), added up as f64 as they are there:
        // the sums differ only in the order they are added.
        let q = sets.grouped(
            "step_kind, step_name",
            ", sumIf(toFloat64(step_self_ms), in_sel), sumIf(toFloat64(step_self_ms), in_base)",
            " ARRAY JOIN step_kinds AS step_kind, step_names AS step_name, step_ms AS step_self_ms",
            "",
            true,
        );
        self.read(|c| q.bind(c.query(&q.sql)).fetch_all()).await
    }

    /// Each wait event counted once per transaction of a set whose trace was seen in it.
    async fn compare_waits(
        &self,
        sets: &Sets,
        waits: &FxHashMap<[u8; 16], Vec<String>>,
    ) -> Result<FxHashMap<String, (u64, u64)>, QueryError> {
        let mut out: FxHashMap<String, (u64, u64)> = FxHashMap::default();
        if waits.is_empty() {
            return Ok(out);
        }
        let q = sets.grouped("trace_id", "", "", &format!(" AND trace_id IN ({})", trace_list(waits.keys())), true);
        #[derive(Row, Deserialize)]
        struct R {
            trace_id: [u8; 16],
            sel: u64,
            base: u64,
        }
        let rows: Vec<R> = self.read(|c| q.bind(c.query(&q.sql)).fetch_all()).await?;
        for r in rows {
            for e in waits.get(&r.trace_id).into_iter().flatten() {
                let x = out.entry(e.clone()).or_default();
                x.0 += r.sel;
                x.1 += r.base;
            }
        }
        Ok(out)
    }
}

fn add_ns(side: &mut Side, ns: u64) {
    side.sum_ms += ns as f64 / 1e6;
}

/// One row of [`Inner::compare_groups`].
#[derive(Row, Deserialize)]
struct Group {
    service: String,
    endpoint: String,
    error: u8,
    error_type: String,
    sel: u64,
    base: u64,
    sel_errors: u64,
    base_errors: u64,
    sel_ns: u64,
    base_ns: u64,
    n: u64,
}

#[derive(Row, Deserialize)]
struct TagRow {
    tag: String,
    sel: u64,
    base: u64,
}

#[derive(Row, Deserialize)]
struct StepRow {
    kind: u8,
    name: String,
    sel: u64,
    base: u64,
    sel_ms: f64,
    base_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_strings_round_trip_whatever_the_key_holds() {
        for (dim, key, value) in [
            (CompareDim::Instance, None, "pod-1"),
            (CompareDim::Attribute, Some("tenant"), "acme"),
            (CompareDim::Attribute, Some("a\u{1f}1"), "\u{1f}x"),
            (CompareDim::Attribute, Some(""), ""),
            (CompareDim::HttpStatus, None, "500"),
        ] {
            let s = tag_key(dim, key, value);
            assert_eq!(parse_tag(&s), Some((dim, key.map(str::to_string), value.to_string())), "{s:?}");
        }
        assert_ne!(tag_key(CompareDim::Attribute, Some("a"), "b"), tag_key(CompareDim::Attribute, Some("ab"), ""));
        assert_eq!(parse_tag("nonsense"), None);
    }

    #[test]
    fn tag_filters_that_cannot_match_are_none() {
        let t = |s: &str| TagFilter::parse(s).unwrap();
        assert!(tag_cond(&t("status=maybe"), None).is_none());
        assert!(tag_cond(&t("wait_event=Lock/tuple"), None).is_none());
        assert!(tag_cond(&t("wait_event=Lock/tuple"), Some(&Arc::default())).is_none());
        assert!(tag_cond(&t("error_type="), None).is_none());
        let w = tag_cond(&t("attr.tenant=acme"), None).unwrap();
        assert_eq!((w.sql.as_str(), w.binds.as_slice()), ("has(tags, ?)", &[tag_key(CompareDim::Attribute, Some("tenant"), "acme")][..]));
    }
}
