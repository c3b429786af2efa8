//! The columns' "what changed" part: each transaction's tags (instance, thread, HTTP method and status,
//! version, attributes) and steps (statement, HTTP peer, method, with self time), interned to ids so a row
//! costs a few integers, and the `tag` filter compiled against them.

use rustc_hash::{FxHashMap, FxHashSet};
use sightline_model::{CompareDim, TagFilter};

use super::{Block, Columns, Interner, NO_ERROR_TYPE};
use crate::cube::facts::http_status_text;
use crate::store::record::{kind, SpanRecord};

/// Distinct tags (dimension values) and distinct steps kept in memory. A high-cardinality attribute (a
/// request id sent as an attribute) would otherwise grow the tables with every transaction; past the cap
/// new values are not recorded (counted in [`Profiles::dropped`], and the answer says so).
pub const MAX_TAGS: usize = 500_000;
pub const MAX_STEPS: usize = 200_000;

/// One interned tag.
#[derive(Debug, Clone)]
pub struct TagInfo {
    pub dim: CompareDim,
    /// The attribute key's id in [`Profiles::attr_keys`], for [`CompareDim::Attribute`].
    pub key: Option<u32>,
    pub value: Box<str>,
}

/// Interned tags and steps.
#[derive(Debug, Default)]
pub struct Profiles {
    /// `(dimension, attribute key id or u32::MAX)` → value → tag id.
    tag_ids: FxHashMap<(CompareDim, u32), FxHashMap<Box<str>, u32>>,
    pub tags: Vec<TagInfo>,
    pub attr_keys: Interner,
    /// Per step kind (`kind::SQL`, `HTTP`, `METHOD`) → name → step id.
    step_ids: [FxHashMap<Box<str>, u32>; 3],
    /// `(kind, name)` of each step id.
    pub steps: Vec<(u32, Box<str>)>,
    /// Values not recorded because a table was full.
    pub dropped: u64,
}

const NO_KEY: u32 = u32::MAX;

fn kind_slot(k: u32) -> usize {
    match k {
        kind::SQL => 0,
        kind::HTTP => 1,
        _ => 2,
    }
}

impl Profiles {
    fn tag(&mut self, dim: CompareDim, key: Option<&str>, value: &str) -> Option<u32> {
        let key = match key {
            Some(k) => self.attr_keys.intern(k),
            None => NO_KEY,
        };
        let values = self.tag_ids.entry((dim, key)).or_default();
        if let Some(id) = values.get(value) {
            return Some(*id);
        }
        if self.tags.len() >= MAX_TAGS {
            self.dropped += 1;
            return None;
        }
        let id = self.tags.len() as u32;
        values.insert(value.into(), id);
        self.tags.push(TagInfo { dim, key: (key != NO_KEY).then_some(key), value: value.into() });
        Some(id)
    }

    fn step(&mut self, k: u32, name: &str) -> Option<u32> {
        let slot = &mut self.step_ids[kind_slot(k)];
        if let Some(id) = slot.get(name) {
            return Some(*id);
        }
        if self.steps.len() >= MAX_STEPS {
            self.dropped += 1;
            return None;
        }
        let id = self.steps.len() as u32;
        slot.insert(name.into(), id);
        self.steps.push((k, name.into()));
        Some(id)
    }

    pub fn tag_id(&self, dim: CompareDim, key: Option<&str>, value: &str) -> Option<u32> {
        let key = match key {
            Some(k) => self.attr_keys.get(k)?,
            None => NO_KEY,
        };
        self.tag_ids.get(&(dim, key))?.get(value).copied()
    }

    pub fn step_id(&self, k: u32, name: &str) -> Option<u32> {
        self.step_ids[kind_slot(k)].get(name).copied()
    }

    /// Appends the tags and steps of transaction `s` to block `b`'s row being pushed.
    pub(super) fn push_row(&mut self, b: &mut Block, s: Option<&SpanRecord>) {
        if let Some(s) = s {
            let fixed = [
                (CompareDim::Instance, s.instance.as_deref()),
                (CompareDim::Thread, s.thread.as_deref()),
                (CompareDim::HttpMethod, s.http_method.as_deref()),
                (CompareDim::Version, s.version.as_deref()),
            ];
            for (dim, v) in fixed {
                if let Some(id) = v.and_then(|v| self.tag(dim, None, v)) {
                    b.tags.push(id);
                }
            }
            if let Some(id) = s.http_status.and_then(|c| self.tag(CompareDim::HttpStatus, None, &http_status_text(c))) {
                b.tags.push(id);
            }
            for a in &s.attributes {
                if let Some(id) = self.tag(CompareDim::Attribute, Some(&a.key), &a.value) {
                    b.tags.push(id);
                }
            }
            for st in &s.steps {
                if let Some(id) = self.step(st.kind, &st.name) {
                    b.steps.push((id, st.self_ns as f32 / 1e6));
                }
            }
        }
        b.tags_end.push(b.tags.len() as u32);
        b.steps_end.push(b.steps.len() as u32);
    }
}

impl Block {
    /// Row `i`'s tag ids.
    pub(super) fn tags_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.tags_end[i - 1] as usize };
        &self.tags[start..self.tags_end[i] as usize]
    }

    /// Row `i`'s `(step id, self ms)`, one per distinct step.
    pub(super) fn steps_of(&self, i: usize) -> &[(u32, f32)] {
        let start = if i == 0 { 0 } else { self.steps_end[i - 1] as usize };
        &self.steps[start..self.steps_end[i] as usize]
    }

    pub(super) fn trace_of(&self, i: usize) -> [u8; 16] {
        self.ids[i][..16].try_into().expect("24-byte ids")
    }
}

/// A `tag` filter resolved to ids once per query.
#[derive(Debug, Clone)]
pub(super) enum TagMatch {
    Service(u32),
    Endpoint(u32),
    Error(bool),
    ErrorType(u32),
    Tag(u32),
    Step(u32),
    /// Transactions of these traces (a wait event: the traces whose sessions were seen in it).
    Traces(std::sync::Arc<FxHashSet<[u8; 16]>>),
}

impl TagMatch {
    #[inline]
    pub(super) fn matches(&self, b: &Block, i: usize) -> bool {
        match self {
            TagMatch::Service(s) => b.service[i] == *s,
            TagMatch::Endpoint(e) => b.endpoint[i] == *e,
            TagMatch::Error(e) => b.error[i] == *e,
            TagMatch::ErrorType(t) => b.error_type[i] == *t && *t != NO_ERROR_TYPE,
            TagMatch::Tag(t) => b.tags_of(i).contains(t),
            TagMatch::Step(s) => b.steps_of(i).iter().any(|(id, _)| id == s),
            TagMatch::Traces(t) => t.contains(&b.trace_of(i)),
        }
    }
}

impl Columns {
    /// Resolves a tag filter; `None` when it names a value never stored (nothing can match).
    /// `traces`: for a wait-event filter, the traces it stands for (worked out by the caller from the
    /// database samples); a wait-event filter without them matches nothing.
    pub(super) fn compile_tag(
        &self,
        t: &TagFilter,
        traces: Option<&std::sync::Arc<FxHashSet<[u8; 16]>>>,
    ) -> Option<TagMatch> {
        let v = t.value.as_str();
        Some(match t.dim {
            CompareDim::Service => TagMatch::Service(self.services.get(v)?),
            CompareDim::Endpoint => TagMatch::Endpoint(self.endpoints.get(v)?),
            CompareDim::Status => match v {
                "ok" => TagMatch::Error(false),
                "error" => TagMatch::Error(true),
                _ => return None,
            },
            CompareDim::ErrorType => TagMatch::ErrorType(self.error_types.get(v)?),
            CompareDim::Statement => TagMatch::Step(self.profiles.step_id(kind::SQL, v)?),
            CompareDim::HttpTarget => TagMatch::Step(self.profiles.step_id(kind::HTTP, v)?),
            CompareDim::WaitEvent => TagMatch::Traces(traces?.clone()),
            CompareDim::Attribute => TagMatch::Tag(self.profiles.tag_id(t.dim, t.key.as_deref(), v)?),
            dim => TagMatch::Tag(self.profiles.tag_id(dim, None, v)?),
        })
    }
}
