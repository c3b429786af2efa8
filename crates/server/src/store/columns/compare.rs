//! "What changed" over the columns: one pass over the blocks of the selection's and the baseline's time
//! ranges, counting every transaction of each set per dimension value and step (dense arrays indexed by the
//! interned ids, so a row costs a few increments).

use rustc_hash::FxHashMap;
use sightline_model::CompareDim;

use super::{Block, Columns, QueryError, MINUTE_MS, NO_ERROR_TYPE};
use crate::compare::{CompareQuery, Side, StepCount, Tally, ValueCount};

/// One set's counts, by id.
struct Acc<'w> {
    side: Side,
    services: Vec<u64>,
    endpoints: Vec<u64>,
    status: [u64; 2],
    error_types: Vec<u64>,
    tags: Vec<u64>,
    step_tx: Vec<u64>,
    step_ms: Vec<f64>,
    waits: FxHashMap<&'w str, u64>,
}

impl<'w> Acc<'w> {
    fn new(c: &Columns) -> Self {
        Acc {
            side: Side::default(),
            services: vec![0; c.services.len()],
            endpoints: vec![0; c.endpoints.len()],
            status: [0; 2],
            error_types: vec![0; c.error_types.len()],
            tags: vec![0; c.profiles.tags.len()],
            step_tx: vec![0; c.profiles.steps.len()],
            step_ms: vec![0.0; c.profiles.steps.len()],
            waits: FxHashMap::default(),
        }
    }

    #[inline]
    fn add(&mut self, b: &Block, i: usize, waits: &'w FxHashMap<[u8; 16], Vec<String>>) {
        self.side.count += 1;
        self.side.errors += b.error[i] as u64;
        self.side.sum_ms += b.duration_ms[i];
        self.services[b.service[i] as usize] += 1;
        self.endpoints[b.endpoint[i] as usize] += 1;
        self.status[b.error[i] as usize] += 1;
        if b.error_type[i] != NO_ERROR_TYPE {
            self.error_types[b.error_type[i] as usize] += 1;
        }
        for t in b.tags_of(i) {
            self.tags[*t as usize] += 1;
        }
        for (s, ms) in b.steps_of(i) {
            self.step_tx[*s as usize] += 1;
            self.step_ms[*s as usize] += *ms as f64;
        }
        if !waits.is_empty() {
            if let Some(events) = waits.get(&b.trace_of(i)) {
                for e in events {
                    *self.waits.entry(e.as_str()).or_default() += 1;
                }
            }
        }
    }
}

impl Columns {
    /// Counts both sets of `q`; see [`CompareQuery`].
    pub fn compare(&self, q: &CompareQuery) -> Result<Tally, QueryError> {
        let sel = self.compile(&q.selection);
        // `only` names a value never stored: the selection is empty.
        let only = q.only.as_ref().map(|t| self.compile_tag(t, None));
        let base = self.compile(&q.baseline);
        let waits = &q.wait_events;
        let mut acc = [Acc::new(self), Acc::new(self)];
        let mut scanned = 0u64;
        for (lo, hi) in minute_ranges([sel.as_ref().map(|c| (c.from, c.to)), base.as_ref().map(|c| (c.from, c.to))]) {
            for b in self.sources(lo, hi) {
                let b = self.load(b)?;
                let b = &*b;
                scanned += b.len() as u64;
                for i in 0..b.len() {
                    let in_sel = sel.as_ref().is_some_and(|c| c.matches(b, i))
                        && only.as_ref().is_none_or(|o| o.as_ref().is_some_and(|m| m.matches(b, i)));
                    let in_base = base.as_ref().is_some_and(|c| c.matches(b, i)) && !(q.exclude_selection && in_sel);
                    if in_sel {
                        acc[0].add(b, i, waits);
                    }
                    if in_base {
                        acc[1].add(b, i, waits);
                    }
                }
            }
        }
        Ok(self.tally(acc, scanned))
    }

    fn tally(&self, [s, b]: [Acc<'_>; 2], scanned: u64) -> Tally {
        let mut values = Vec::new();
        let mut push = |dim, key: Option<&str>, value: &str, sel: u64, base: u64| {
            if sel + base > 0 {
                values.push(ValueCount { dim, key: key.map(str::to_string), value: value.to_string(), selected: sel, baseline: base });
            }
        };
        for (id, (x, y)) in s.services.iter().zip(&b.services).enumerate() {
            push(CompareDim::Service, None, self.services.name(id as u32), *x, *y);
        }
        for (id, (x, y)) in s.endpoints.iter().zip(&b.endpoints).enumerate() {
            push(CompareDim::Endpoint, None, self.endpoints.name(id as u32), *x, *y);
        }
        push(CompareDim::Status, None, "ok", s.status[0], b.status[0]);
        push(CompareDim::Status, None, "error", s.status[1], b.status[1]);
        for (id, (x, y)) in s.error_types.iter().zip(&b.error_types).enumerate() {
            push(CompareDim::ErrorType, None, self.error_types.name(id as u32), *x, *y);
        }
        for (t, (x, y)) in self.profiles.tags.iter().zip(s.tags.iter().zip(&b.tags)) {
            push(t.dim, t.key.map(|k| self.profiles.attr_keys.name(k)), &t.value, *x, *y);
        }
        let mut waits: Vec<(&str, u64, u64)> = s.waits.iter().map(|(k, v)| (*k, *v, b.waits.get(k).copied().unwrap_or(0))).collect();
        waits.extend(b.waits.iter().filter(|(k, _)| !s.waits.contains_key(*k)).map(|(k, v)| (*k, 0, *v)));
        for (w, x, y) in waits {
            push(CompareDim::WaitEvent, None, w, x, y);
        }
        let mut steps = Vec::new();
        for (id, (kind, name)) in self.profiles.steps.iter().enumerate() {
            let (sx, bx) = (s.step_tx[id], b.step_tx[id]);
            if sx + bx > 0 {
                // The presence of a statement or HTTP peer is a dimension value too.
                let dim = match *kind {
                    crate::store::record::kind::SQL => Some(CompareDim::Statement),
                    crate::store::record::kind::HTTP => Some(CompareDim::HttpTarget),
                    _ => None,
                };
                if let Some(dim) = dim {
                    push(dim, None, name, sx, bx);
                }
                steps.push(StepCount {
                    kind: *kind,
                    name: name.to_string(),
                    selected_tx: sx,
                    baseline_tx: bx,
                    selected_ms: s.step_ms[id],
                    baseline_ms: b.step_ms[id],
                });
            }
        }
        let mut t = Tally { selection: s.side, baseline: b.side, values, steps, scanned, dropped: self.profiles.dropped };
        t.canonicalize();
        t
    }
}

/// The inclusive minute-block ranges covering the given `[from, to)` windows, merged where they share a
/// block, so no block is scanned twice.
fn minute_ranges(windows: [Option<(i64, i64)>; 2]) -> Vec<(i64, i64)> {
    let mut r: Vec<(i64, i64)> = windows
        .into_iter()
        .flatten()
        .filter(|(f, t)| f < t)
        .map(|(f, t)| (f.div_euclid(MINUTE_MS), (t - 1).div_euclid(MINUTE_MS)))
        .collect();
    r.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (lo, hi) in r {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_when_they_share_a_block() {
        let m = MINUTE_MS;
        assert_eq!(minute_ranges([Some((0, 2 * m)), Some((m + 5, 3 * m))]), [(0, 2)]);
        assert_eq!(minute_ranges([Some((5 * m, 6 * m)), Some((0, m))]), [(0, 0), (5, 5)]);
        assert_eq!(minute_ranges([Some((0, m + 1)), Some((m + 2, m + 3))]), [(0, 1)]);
        assert_eq!(minute_ranges([None, Some((3, 3))]), []);
    }
}
