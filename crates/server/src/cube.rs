//! The cube: per-minute rollups of transactions (and of SQL steps) by every dimension Sightline knows,
//! built at ingest and kept far longer than the raw transactions (own retention, coarser tiers for long
//! ranges), so any slice of any range can be re-aggregated after the raw data is gone.
//!
//! This module is the storage-independent part: which facts a batch of spans contributes ([`facts`]),
//! and the query shape ([`CubeQuery`]). The store that keeps the rollups answers
//! [`crate::store::TraceStore::cube`]; docs/STORE.md describes the tiers and their layout.

pub mod acc;
pub mod blob;
pub mod facts;
pub mod fingerprint;
pub mod query;
pub mod rollup;
pub mod sketch;

use std::borrow::Cow;
use std::collections::BTreeMap;

use sightline_model::{CubeDim, CubeMeasure};

/// What one finished transaction or SQL step contributes to the cube. Its values borrow from the span
/// where they can: at ingest a fact lives only until its values are interned, and copying nine strings
/// per transaction was most of what the rollup cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact<'a> {
    pub kind: FactKind,
    pub end_ms: i64,
    pub duration_ms: f64,
    pub error: bool,
    /// The value of each dimension, indexed by `CubeDim as usize` (empty: none).
    pub dims: [Cow<'a, str>; CubeDim::ALL.len()],
}

/// A fact that owns its values (given directly, e.g. by tests and benchmarks).
pub type OwnedFact = Fact<'static>;

impl Fact<'_> {
    pub fn into_owned(self) -> OwnedFact {
        Fact { kind: self.kind, end_ms: self.end_ms, duration_ms: self.duration_ms, error: self.error, dims: self.dims.map(|d| Cow::Owned(d.into_owned())) }
    }
}

/// Transactions and SQL steps are counted apart: a query that groups or filters by
/// [`CubeDim::Statement`] counts SQL steps, any other counts transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Transaction,
    SqlStep,
}

/// A validated cube query (see `sightline_model::CubeParams` for the wire form).
#[derive(Debug, Clone, PartialEq)]
pub struct CubeQuery {
    /// `[from, to)`, epoch ms, `from < to`.
    pub from: i64,
    pub to: i64,
    /// At most [`MAX_GROUP_BY`] dimensions, no repeats.
    pub group_by: Vec<CubeDim>,
    /// Dimension → exact value (empty string: "has none").
    pub filter: BTreeMap<CubeDim, String>,
    pub sort: CubeMeasure,
    pub desc: bool,
    /// Rows kept (1..=[`MAX_LIMIT`]); the rest are merged into `other`.
    pub limit: usize,
    /// When set, each kept row also gets a series with this step (a whole number of minutes).
    pub step_ms: Option<i64>,
}

impl CubeQuery {
    /// Which facts the query counts.
    pub fn kind(&self) -> FactKind {
        if self.group_by.contains(&CubeDim::Statement) || self.filter.contains_key(&CubeDim::Statement) {
            FactKind::SqlStep
        } else {
            FactKind::Transaction
        }
    }
}

pub const MAX_GROUP_BY: usize = 4;
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;
