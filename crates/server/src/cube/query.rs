//! Answering a [`CubeQuery`] from buckets: which buckets cover the range ([`plan`]), then filter, group,
//! merge, rank and cut ([`answer`]). Storage-independent: the store hands over a way to fetch a bucket.
//!
//! The work is bounded: at most [`MAX_GROUPS`] groups are ranked (the rest are merged into `other` and the
//! answer says it was cut), a series holds at most [`MAX_SERIES_CELLS`] cells, a plan at most
//! [`MAX_PIECES`] buckets. Stored blobs are merged straight from their bytes (`cube::blob`), on two
//! threads when there are many.

use std::collections::HashMap;
use std::sync::Arc;

use sightline_model::{CubeAnswer, CubeMeasures, CubeRow};

use super::acc::Acc;
use super::blob::{self, CellView};
use super::rollup::{Bucket, Cell, DimIds, Interner, MINUTE_MS, TIERS};
use super::{CubeQuery, MAX_GROUP_BY};
use crate::store::QueryError;

/// Groups ranked at most; beyond, the answer is cut (the rest still counts in `other` and `total`).
pub const MAX_GROUPS: usize = 200_000;
/// Cells of all series together (kept rows + other, times steps). Lower than the metric series' bound
/// (`columns::MAX_SERIES_CELLS`) because each cube cell carries a sketch, not a few numbers.
pub const MAX_SERIES_CELLS: usize = 100_000;
/// Buckets one query may read: a range of decades at day resolution, or weeks at minute steps.
pub const MAX_PIECES: usize = 200_000;
/// From this many stored buckets on, the merge is split over two threads.
const PARALLEL_PIECES: usize = 16;
/// Memory a query's group sketches may take as dense windows (`cube::acc`); beyond it they stay sparse.
const DENSE_BUDGET: usize = 64 << 20;

/// One bucket a query reads, and the step of the series it falls in (0 without a series).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub tier: usize,
    pub start: i64,
    /// Still open (in memory), not a stored blob: only minute buckets are ever open.
    pub open: bool,
    pub step: usize,
}

/// The range a query answers: `[from, to)` aligned out to whole minutes.
pub fn aligned(from: i64, to: i64) -> (i64, i64) {
    (from.div_euclid(MINUTE_MS) * MINUTE_MS, (to + MINUTE_MS - 1).div_euclid(MINUTE_MS) * MINUTE_MS)
}

/// The steps of a series over `[from, to)`: aligned to multiples of `step` since the epoch (so an hourly
/// series reads hour buckets), the first and last cut to the range. Without a step, the whole range.
pub fn steps(from: i64, to: i64, step: Option<i64>) -> Vec<(i64, i64)> {
    let Some(step) = step else { return vec![(from, to)] };
    let mut out = Vec::new();
    let mut a = from;
    while a < to {
        let b = ((a.div_euclid(step) + 1) * step).min(to);
        out.push((a, b));
        a = b;
    }
    out
}

/// The buckets covering `[from, to)` (minute-aligned), per step of `step_ms` when set: the coarsest closed
/// buckets that fit whole, finer ones at the edges. A bucket of tier `t` is closed (stored) when it starts
/// before `closed_until[t]`.
pub fn plan(from: i64, to: i64, step_ms: Option<i64>, closed_until: &[i64; 4]) -> Result<Vec<Piece>, QueryError> {
    let step = step_ms.unwrap_or(to - from).max(MINUTE_MS);
    // Upper bound on the pieces before building them: each step costs at most its days plus its edges.
    let nsteps = (to - from) / step + 2;
    let per_step = step / TIERS[3] + 2 * (9 + 5 + 23) + 1;
    if (nsteps as i128) * (per_step as i128) > MAX_PIECES as i128 {
        return Err(QueryError::Invalid(format!(
            "the cube query would read too many buckets ({nsteps} steps of {} min): ask for a shorter range or a larger step",
            step / MINUTE_MS
        )));
    }
    let mut out = Vec::new();
    for (i, (a, b)) in steps(from, to, step_ms).into_iter().enumerate() {
        cover(a, b, 3, i, closed_until, &mut out);
    }
    Ok(out)
}

fn cover(a: i64, b: i64, tier: usize, step: usize, closed_until: &[i64; 4], out: &mut Vec<Piece>) {
    if a >= b {
        return;
    }
    let size = TIERS[tier];
    if tier == 0 {
        for start in (a..b).step_by(size as usize) {
            out.push(Piece { tier: 0, start, open: start >= closed_until[0], step });
        }
        return;
    }
    let s = a.div_euclid(size) * size + if a.rem_euclid(size) == 0 { 0 } else { size };
    let e = b.div_euclid(size) * size;
    if s >= e {
        return cover(a, b, tier - 1, step, closed_until, out);
    }
    cover(a, s, tier - 1, step, closed_until, out);
    for start in (s..e).step_by(size as usize) {
        if start < closed_until[tier] {
            out.push(Piece { tier, start, open: false, step });
        } else {
            cover(start, start + size, tier - 1, step, closed_until, out);
        }
    }
    cover(e, b, tier - 1, step, closed_until, out);
}

/// A group's key: its ids of the asked dimensions, in the asked order.
type GroupKey = [u32; MAX_GROUP_BY];

/// Which cells the query counts and how they are grouped, in ids.
pub struct Selector {
    /// `None` when a filter value was never seen: nothing matches.
    filter: Option<Vec<(usize, u32)>>,
    group_by: Vec<usize>,
}

impl Selector {
    pub fn new(q: &CubeQuery, interner: &Interner) -> Selector {
        let filter = q.filter.iter().map(|(d, v)| interner.get(v).map(|id| (*d as usize, id))).collect();
        Selector { filter, group_by: q.group_by.iter().map(|d| *d as usize).collect() }
    }

    fn group(&self, dims: &DimIds) -> Option<GroupKey> {
        let f = self.filter.as_ref()?;
        if f.iter().any(|(d, id)| dims[*d] != *id) {
            return None;
        }
        let mut k = [0u32; MAX_GROUP_BY];
        for (slot, d) in k.iter_mut().zip(&self.group_by) {
            *slot = dims[*d];
        }
        Some(k)
    }
}

/// A fetched bucket: open (cells in memory) or stored (a blob's bytes).
pub enum Source {
    Open(Arc<Bucket>),
    Blob(Box<dyn AsRef<[u8]> + Send + Sync>),
}

/// A cell of either kind of [`Source`].
enum CellRef<'a> {
    Mem(&'a Cell),
    View(CellView<'a>),
}

impl CellRef<'_> {
    fn add_to(&self, acc: &mut Acc, budget: &mut usize) -> anyhow::Result<()> {
        match self {
            CellRef::Mem(c) => {
                acc.add_cell(c, budget);
                Ok(())
            }
            CellRef::View(v) => v.add_to(acc, budget),
        }
    }
}

/// Calls `f` with every cell of `src`.
fn each_cell(src: &Source, mut f: impl FnMut(&DimIds, CellRef<'_>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    match src {
        Source::Open(b) => b.iter().try_for_each(|(d, c)| f(d, CellRef::Mem(c))),
        Source::Blob(bytes) => blob::cells((**bytes).as_ref())?.try_for_each(|c| {
            let c = c?;
            let dims = c.dims;
            f(&dims, CellRef::View(c))
        }),
    }
}

/// Fetches a planned bucket (`None`: nothing was counted in it). Called from two threads at once.
pub type Fetch<'a> = dyn Fn(&Piece) -> anyhow::Result<Option<Source>> + Sync + 'a;

/// Turns the ids of the kept rows back into values (the store takes its lock only for that).
pub type Names<'a> = dyn Fn(&[u32]) -> Vec<String> + 'a;

/// The buckets a query reads: `whole` covers the range with the coarsest buckets (for the totals and the
/// ranking), `stepped` cuts it at the series' steps (when a series is asked).
pub struct Plans {
    pub whole: Vec<Piece>,
    pub stepped: Option<Vec<Piece>>,
}

impl Plans {
    pub fn new(from: i64, to: i64, step_ms: Option<i64>, closed_until: &[i64; 4]) -> Result<Plans, QueryError> {
        let stepped = step_ms.map(|s| plan(from, to, Some(s), closed_until)).transpose()?;
        Ok(Plans { whole: plan(from, to, None, closed_until)?, stepped })
    }
}

/// Answers `q` over the planned buckets (with `[from, to)` the aligned range), counting the cells `sel`
/// selects. `raw_since_ms` is passed through.
pub fn answer(
    q: &CubeQuery,
    (from, to): (i64, i64),
    plans: &Plans,
    sel: Selector,
    (fetch, names): (&Fetch<'_>, &Names<'_>),
    raw_since_ms: Option<i64>,
) -> Result<CubeAnswer, QueryError> {
    let steps = q.step_ms.map(|s| steps(from, to, Some(s)));
    if steps.as_ref().is_some_and(|s| s.len() > MAX_SERIES_CELLS / 2) {
        return Err(too_many_series_cells(2, steps.map_or(0, |s| s.len())));
    }
    let secs = (to - from) as f64 / 1000.0;
    let Merged { groups, overflow, total } = groups(&sel, &plans.whole, fetch)?;
    let ranked = rank(q, secs, groups, overflow);
    let (mut rows, mut other_row) = ranked.rows(q.group_by.len(), secs, |k| names(&k[..q.group_by.len()]));
    let (mut step_ms, mut timestamps) = (0, Vec::new());
    if let (Some(step), Some(steps), Some(pieces)) = (q.step_ms, steps, plans.stepped.as_ref()) {
        let kept: HashMap<GroupKey, usize> = ranked.kept.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
        let mut series = series(&sel, &kept, &steps, pieces, fetch)?.into_iter();
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

/// Groups ranked by the query's sort (ties by key), the first `limit` of them kept and the rest merged
/// with `overflow` into "other": how both stores finish an answer (the ClickHouse store's groups come from
/// SQL, keyed by names; the embedded store's from its buckets, keyed by interned ids).
pub struct Ranked<K> {
    pub kept: Vec<(K, Cell)>,
    pub other: Cell,
    /// Groups ranked (at most [`MAX_GROUPS`]).
    pub groups: usize,
    /// Why the answer is cut, if it is.
    pub cut: Option<String>,
}

pub fn rank<K: Ord>(q: &CubeQuery, secs: f64, groups: impl IntoIterator<Item = (K, Cell)>, overflow: Cell) -> Ranked<K> {
    let cut = (overflow.count > 0).then(|| {
        format!(
            "more than {MAX_GROUPS} groups: only the first {MAX_GROUPS} found were ranked, the rest are counted in \"other\"; \
             filter or group by fewer dimensions"
        )
    });
    let mut ranked: Vec<(K, Cell, Option<f64>)> = groups
        .into_iter()
        .map(|(k, c)| {
            let v = q.sort.of(&measures(&c, secs));
            (k, c, v)
        })
        .collect();
    let groups = ranked.len();
    ranked.sort_by(|a, b| order(a.2, b.2, q.desc).then_with(|| a.0.cmp(&b.0)));
    let mut other = overflow;
    for (_, c, _) in ranked.drain(ranked.len().min(q.limit)..) {
        other.merge(&c);
    }
    Ranked { kept: ranked.into_iter().map(|(k, c, _)| (k, c)).collect(), other, groups, cut }
}

impl<K> Ranked<K> {
    /// The answer's rows (keys named by `name`) and its "other" row, without series.
    pub fn rows(&self, width: usize, secs: f64, name: impl Fn(&K) -> Vec<String>) -> (Vec<CubeRow>, Option<CubeRow>) {
        let rows = self.kept.iter().map(|(k, c)| CubeRow { key: name(k), measures: measures(c, secs), series: Vec::new() }).collect();
        let other = (self.other.count > 0).then(|| {
            let mut key = vec![String::new(); width.max(1)];
            key[0] = "other".into();
            CubeRow { key, measures: measures(&self.other, secs), series: Vec::new() }
        });
        (rows, other)
    }
}

/// The first pass: every selected cell merged into its group.
struct Groups {
    groups: HashMap<GroupKey, Acc>,
    /// Cells of groups beyond [`MAX_GROUPS`].
    overflow: Acc,
    total: Acc,
    /// Dense bytes this pass may still take.
    budget: usize,
}

impl Groups {
    fn new(budget: usize) -> Groups {
        Groups { groups: HashMap::new(), overflow: Acc::default(), total: Acc::default(), budget }
    }

    fn add(&mut self, k: GroupKey, c: CellRef<'_>) -> anyhow::Result<()> {
        c.add_to(&mut self.total, &mut self.budget)?;
        let n = self.groups.len();
        match self.groups.get_mut(&k) {
            Some(g) => c.add_to(g, &mut self.budget),
            None if n < MAX_GROUPS => c.add_to(self.groups.entry(k).or_default(), &mut self.budget),
            None => c.add_to(&mut self.overflow, &mut self.budget),
        }
    }

    fn absorb(&mut self, o: Groups) {
        let budget = &mut self.budget;
        self.total.add_acc(&o.total, budget);
        self.overflow.add_acc(&o.overflow, budget);
        for (k, c) in o.groups {
            let n = self.groups.len();
            match self.groups.get_mut(&k) {
                Some(g) => g.add_acc(&c, budget),
                None if n < MAX_GROUPS => {
                    self.groups.insert(k, c);
                }
                None => self.overflow.add_acc(&c, budget),
            }
        }
    }
}

/// Groups merged into cells.
struct Merged {
    groups: HashMap<GroupKey, Cell>,
    overflow: Cell,
    total: Cell,
}

fn groups(sel: &Selector, pieces: &[Piece], fetch: &Fetch<'_>) -> Result<Merged, QueryError> {
    let pass = |pieces: &mut dyn Iterator<Item = &Piece>, budget: usize| -> Result<Groups, QueryError> {
        let mut out = Groups::new(budget);
        if sel.filter.is_none() {
            return Ok(out);
        }
        for p in pieces {
            let Some(src) = fetch(p)? else { continue };
            each_cell(&src, |dims, c| match sel.group(dims) {
                Some(k) => out.add(k, c),
                None => Ok(()),
            })?;
        }
        Ok(out)
    };
    let g = if pieces.iter().filter(|p| !p.open).count() < PARALLEL_PIECES {
        pass(&mut pieces.iter(), DENSE_BUDGET)?
    } else {
        // Two threads (the machine has two cores), alternate pieces so both get coarse and fine ones.
        let (a, b) = std::thread::scope(|s| {
            let t = s.spawn(|| crate::blocking::allow(|| pass(&mut pieces.iter().skip(1).step_by(2), DENSE_BUDGET / 2)));
            let a = pass(&mut pieces.iter().step_by(2), DENSE_BUDGET / 2);
            (a, t.join().unwrap_or_else(|_| Err(QueryError::Storage(anyhow::anyhow!("a cube query thread panicked")))))
        });
        let mut a = a?;
        a.absorb(b?);
        a
    };
    Ok(Merged {
        groups: g.groups.into_iter().map(|(k, a)| (k, a.finish())).collect(),
        overflow: g.overflow.finish(),
        total: g.total.finish(),
    })
}

pub fn too_many_series_cells(nrows: usize, nsteps: usize) -> QueryError {
    QueryError::Invalid(format!(
        "{nrows} rows × {nsteps} steps is more than {MAX_SERIES_CELLS} series cells: ask for a larger step, a shorter range or fewer rows"
    ))
}

/// Second pass, for the kept rows (then one more for everything else): measures per step.
fn series(
    sel: &Selector,
    kept: &HashMap<GroupKey, usize>,
    steps: &[(i64, i64)],
    pieces: &[Piece],
    fetch: &Fetch<'_>,
) -> Result<Vec<Vec<CubeMeasures>>, QueryError> {
    let nrows = kept.len() + 1;
    if nrows.saturating_mul(steps.len()) > MAX_SERIES_CELLS {
        return Err(too_many_series_cells(nrows, steps.len()));
    }
    let mut cells = vec![vec![Acc::default(); steps.len()]; nrows];
    let mut budget = DENSE_BUDGET;
    for p in pieces {
        let Some(src) = fetch(p)? else { continue };
        each_cell(&src, |dims, c| match sel.group(dims) {
            Some(k) => c.add_to(&mut cells[kept.get(&k).copied().unwrap_or(nrows - 1)][p.step], &mut budget),
            None => Ok(()),
        })?;
    }
    Ok(cells
        .into_iter()
        .map(|row| row.into_iter().zip(steps).map(|(c, (a, b))| measures(&c.finish(), (b - a) as f64 / 1000.0)).collect())
        .collect())
}

/// `None` sorts last whichever the direction.
fn order(a: Option<f64>, b: Option<f64>, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Some(x), Some(y)) if desc => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => Equal,
    }
}

/// The measures of a merged cell over `secs` seconds.
pub fn measures(c: &Cell, secs: f64) -> CubeMeasures {
    let n = c.count;
    let some = |v: f64| (n > 0).then_some(v);
    CubeMeasures {
        count: n,
        errors: c.errors,
        error_rate: some(c.errors as f64 / n.max(1) as f64),
        rate: if secs > 0.0 { n as f64 / secs } else { 0.0 },
        sum_ms: c.sum_ns as f64 / 1e6,
        avg_ms: some(c.sum_ns as f64 / 1e6 / n.max(1) as f64),
        p50: c.sketch.quantile(0.5).filter(|_| n > 0),
        p95: c.sketch.quantile(0.95).filter(|_| n > 0),
        p99: c.sketch.quantile(0.99).filter(|_| n > 0),
        first_seen_ms: (n > 0).then_some(c.first_ms),
        last_seen_ms: (n > 0).then_some(c.last_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    #[test]
    fn a_plan_uses_the_coarsest_closed_buckets_and_minutes_at_the_edges() {
        let closed = [i64::MAX; 4];
        let (from, to) = (3 * D + 5 * MINUTE_MS, 6 * D + 2 * H + 17 * MINUTE_MS);
        let p = plan(from, to, None, &closed).unwrap();
        let tiers = |t: usize| p.iter().filter(|x| x.tier == t).count();
        // 5 min → 10 min: 5 minutes; then 5 ten-minute buckets to the hour; 23 hours; 2 days; 2 hours;
        // 1 ten-minute; 7 minutes.
        assert_eq!((tiers(3), tiers(2), tiers(1), tiers(0)), (2, 23 + 2, 5 + 1, 5 + 7));
        let covered: i64 = p.iter().map(|x| TIERS[x.tier]).sum();
        assert_eq!(covered, to - from);
        // Nothing closed yet: minutes only, all open.
        let p = plan(0, H, None, &[0; 4]).unwrap();
        assert!(p.len() == 60 && p.iter().all(|x| x.open && x.tier == 0));
        // Steps split the cover.
        let p = plan(0, 2 * H, Some(H), &closed).unwrap();
        assert_eq!(p.iter().map(|x| (x.tier, x.step)).collect::<Vec<_>>(), vec![(2, 0), (2, 1)]);
        // Steps are aligned to the epoch, the first and last cut to the range: hour buckets in between.
        assert_eq!(steps(H - 5 * MINUTE_MS, 3 * H + MINUTE_MS, Some(H)), vec![(H - 5 * MINUTE_MS, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 3 * H + MINUTE_MS)]);
        let p = plan(H - 5 * MINUTE_MS, 3 * H + MINUTE_MS, Some(H), &closed).unwrap();
        assert_eq!(p.iter().filter(|x| x.tier == 2).count(), 2);
        assert!(matches!(plan(0, 100_000 * D, Some(MINUTE_MS), &closed), Err(QueryError::Invalid(_))));
    }
}
