//! `GET /api/v1/compare`: "what changed" — a selection of transactions against a baseline, every
//! dimension's values ranked (see `crate::compare`). Also the `tag` filter the hitmap and the transaction
//! list share ([`tag_scope`]).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use rustc_hash::{FxHashMap, FxHashSet};
use sightline_model::{
    BaselineKind, CompareAnswer, CompareDim, CompareParams, CompareSet, TagFilter, COMPARE_DEFAULT_LIMIT, COMPARE_MAX_LIMIT,
};

use crate::api::window::FIFTEEN_MINUTES;
use crate::compare::{rank, CompareQuery, Side, Tally};
use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::TxFilter;

const DAY_MS: i64 = 24 * 60 * 60_000;
/// Longest set compared: what the columns hold at most anyway, and a bound on one scan.
const MAX_SPAN_MS: i64 = 7 * DAY_MS;

/// A parsed `tag` filter and, for a wait event, the traces it stands for.
#[derive(Debug, Default)]
pub struct TagScope {
    pub tag: Option<TagFilter>,
    pub traces: Option<Arc<FxHashSet<[u8; 16]>>>,
}

/// Parses `tag` (400 with the reason when malformed); a wait-event tag is resolved to the traces whose
/// sessions were sampled in it over `[from, to]`.
pub async fn tag_scope(state: &AppState, tag: Option<&str>, from: i64, to: i64) -> Result<TagScope, AppError> {
    let Some(tag) = parse_tag(tag)? else { return Ok(TagScope::default()) };
    let waits = match tag.dim {
        CompareDim::WaitEvent => wait_events(state, &[(from, to)]).await?,
        _ => FxHashMap::default(),
    };
    Ok(scope_of(tag, &waits))
}

fn parse_tag(tag: Option<&str>) -> Result<Option<TagFilter>, AppError> {
    tag.filter(|t| !t.is_empty()).map(TagFilter::parse).transpose().map_err(AppError::BadRequest)
}

/// `tag` with, for a wait event, the traces that `waits` (wait events by trace) says were seen in it.
fn scope_of(tag: TagFilter, waits: &FxHashMap<[u8; 16], Vec<String>>) -> TagScope {
    let traces = (tag.dim == CompareDim::WaitEvent)
        .then(|| Arc::new(waits.iter().filter(|(_, events)| events.contains(&tag.value)).map(|(t, _)| *t).collect()));
    TagScope { tag: Some(tag), traces }
}

/// The wait events of each trace's sessions over the given windows (empty without monitored databases).
async fn wait_events(state: &AppState, windows: &[(i64, i64)]) -> Result<FxHashMap<[u8; 16], Vec<String>>, AppError> {
    let db = state.db.clone();
    if db.instances().is_empty() {
        return Ok(FxHashMap::default());
    }
    let windows = windows.to_vec();
    crate::blocking::run("reading database wait events", move || Ok::<_, AppError>(db.wait_events_by_trace(&windows))).await
}

/// A validated rectangle: `[from, to)` × `[min_ms, max_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    from: i64,
    to: i64,
    min_ms: f64,
    max_ms: Option<f64>,
}

impl Rect {
    fn new(what: &str, from: Option<i64>, to: Option<i64>, min_ms: Option<f64>, max_ms: Option<f64>) -> Result<Rect, AppError> {
        let (Some(from), Some(to)) = (from, to) else {
            return Err(AppError::BadRequest(format!("{what}: both ends of the time range are required")));
        };
        // Saturating: `to - from` of a far-apart pair overflows i64 (found by fuzz/api_query).
        if from >= to || to.saturating_sub(from) > MAX_SPAN_MS {
            return Err(AppError::BadRequest(format!("{what}: the time range must be non-empty and at most 7 days ({from}..{to})")));
        }
        let min_ms = min_ms.unwrap_or(0.0);
        if !(min_ms.is_finite() && min_ms >= 0.0) {
            return Err(AppError::BadRequest(format!("{what}: the minimum duration must be ≥ 0, not {min_ms}")));
        }
        if let Some(max) = max_ms.filter(|m| !(m.is_finite() && *m > min_ms)) {
            return Err(AppError::BadRequest(format!("{what}: the maximum duration ({max}) must be above the minimum ({min_ms})")));
        }
        Ok(Rect { from, to, min_ms, max_ms })
    }

    fn any_duration(from: i64, to: i64) -> Rect {
        Rect { from, to, min_ms: 0.0, max_ms: None }
    }

    fn filter(&self, service: &Option<String>, scope: &TagScope) -> TxFilter {
        TxFilter {
            from: self.from,
            to: self.to,
            min_ms: self.min_ms,
            max_ms: self.max_ms,
            service: service.clone(),
            endpoint: None,
            status: None,
            error_type: None,
            cells: None,
            tag: scope.tag.clone(),
            traces: scope.traces.clone(),
        }
    }

    fn set(&self, label: String, side: &Side, excludes: Option<&Rect>) -> CompareSet {
        CompareSet {
            label,
            from: self.from,
            to: self.to,
            min_ms: self.min_ms,
            max_ms: self.max_ms,
            excludes: excludes.map(|r| (r.from, r.to, r.min_ms, r.max_ms)),
            count: side.count,
            errors: side.errors,
            mean_ms: if side.count == 0 { 0.0 } else { side.sum_ms / side.count as f64 },
        }
    }
}

/// What [`compare`] checks before it reads anything: the selection, `limit`, `only`, and the baseline when
/// it needs no state (`None`: before the last deploy, which [`compare`] looks up).
pub struct Checked {
    pub selection: Rect,
    pub limit: usize,
    pub only: Option<TagFilter>,
    /// `(rectangle, label, whether the selection is excluded from it)`.
    pub baseline: Option<(Rect, String, bool)>,
}

/// The checks of [`compare`] that need no state (400 naming the problem); public for the fuzz target
/// (fuzz/), which feeds it any query string.
pub fn check(p: &CompareParams) -> Result<Checked, AppError> {
    let selection = Rect::new("selection", p.from, p.to, p.min_ms, p.max_ms)?;
    let limit = p.limit.unwrap_or(COMPARE_DEFAULT_LIMIT);
    if limit == 0 || limit > COMPARE_MAX_LIMIT {
        return Err(AppError::BadRequest(format!("limit must be 1..={COMPARE_MAX_LIMIT}, not {limit}")));
    }
    let only = match p.only.as_deref().filter(|o| !o.is_empty()) {
        Some(o) => {
            let t = TagFilter::parse(o).map_err(AppError::BadRequest)?;
            if t.dim == CompareDim::WaitEvent {
                return Err(AppError::BadRequest("only=wait_event=… is not supported: use tag=wait_event=…".into()));
            }
            Some(t)
        }
        None => None,
    };
    let baseline = match p.baseline.unwrap_or_default() {
        BaselineKind::Rest => {
            let to = p.window_to.unwrap_or(selection.to).max(selection.to);
            let from = p.window_from.unwrap_or(to.saturating_sub(FIFTEEN_MINUTES)).min(selection.from);
            Some((Rect::new("window", Some(from), Some(to), None, None)?, "the rest of the window".to_string(), true))
        }
        BaselineKind::Yesterday => Some((
            Rect::any_duration(selection.from.saturating_sub(DAY_MS), selection.to.saturating_sub(DAY_MS)),
            "the same time yesterday".to_string(),
            false,
        )),
        BaselineKind::Region => {
            let r = Rect::new("baseline region", p.base_from, p.base_to, p.base_min_ms, p.base_max_ms)?;
            Some((r, "the other region".to_string(), false))
        }
        BaselineKind::BeforeDeploy => None,
    };
    Ok(Checked { selection, limit, only, baseline })
}

/// Ranks what is different about the selection; see [`CompareParams`] for the baselines.
pub async fn compare(State(state): State<AppState>, Query(p): Query<CompareParams>) -> ApiResult<CompareAnswer> {
    let Checked { selection, limit, only, baseline } = check(&p)?;
    let service = p.service.clone().filter(|s| !s.is_empty());
    let (baseline, label, exclude) = match baseline {
        Some(b) => b,
        None => {
            let (rect, label) = before_deploy(&state, &selection, &service, &only).await?;
            (rect, label, false)
        }
    };
    // One read of the samples serves both the wait-event dimension and a wait-event `tag`, so they agree.
    let waits = wait_events(&state, &[(selection.from, selection.to), (baseline.from, baseline.to)]).await?;
    let scope = parse_tag(p.tag.as_deref())?.map(|t| scope_of(t, &waits)).unwrap_or_default();
    let query = CompareQuery {
        selection: selection.filter(&service, &scope),
        only,
        baseline: baseline.filter(&service, &scope),
        exclude_selection: exclude,
        wait_events: Arc::new(waits),
    };
    let only = query.only.as_ref().map(TagFilter::to_param);
    let tally = state.store.compare(query).await?;
    let mut a = answer(&tally, &selection, &baseline, label, exclude, limit + 1);
    // The value that defines the selection (`only`) is trivially over-represented: it is not a finding.
    for list in [&mut a.values, &mut a.outcomes] {
        list.retain(|v| Some(&v.filter) != only.as_ref());
        list.truncate(limit);
    }
    Ok(Json(a))
}

fn answer(t: &Tally, selection: &Rect, baseline: &Rect, label: String, exclude: bool, limit: usize) -> CompareAnswer {
    let mut notes = Vec::new();
    if t.selection.count == 0 {
        notes.push("the selection holds no transaction".to_string());
    }
    if t.baseline.count == 0 {
        notes.push(format!("the baseline ({label}) holds no transaction: every value of the selection is new"));
    }
    if t.dropped > 0 {
        notes.push(format!(
            "{} attribute or step values were not recorded (more distinct values than the store keeps)",
            t.dropped
        ));
    }
    let (values, outcomes) = rank::values(t, limit);
    CompareAnswer {
        selection: selection.set("the selection".to_string(), &t.selection, None),
        baseline: baseline.set(label, &t.baseline, exclude.then_some(selection)),
        values,
        outcomes,
        steps: rank::steps(t, limit),
        scanned: t.scanned,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// The baseline before the last deploy of the selection's service: a span as long as the selection,
/// ending at the deploy, any duration.
async fn before_deploy(
    state: &AppState,
    selection: &Rect,
    service: &Option<String>,
    only: &Option<TagFilter>,
) -> Result<(Rect, String), AppError> {
    let service = match service {
        Some(s) => s.clone(),
        None => {
            // The service with most transactions in the selection: count the selection alone.
            let empty = Rect::any_duration(selection.from, selection.from + 1);
            let q = CompareQuery {
                selection: selection.filter(&None, &TagScope::default()),
                only: only.clone(),
                baseline: TxFilter { to: empty.from, ..empty.filter(&None, &TagScope::default()) },
                exclude_selection: false,
                wait_events: Arc::default(),
            };
            let t = state.store.compare(q).await?;
            t.values
                .iter()
                .filter(|v| v.dim == CompareDim::Service)
                .max_by(|a, b| a.selected.cmp(&b.selected).then(b.value.cmp(&a.value)))
                .filter(|v| v.selected > 0)
                .map(|v| v.value.clone())
                .ok_or_else(|| AppError::BadRequest("the selection holds no transaction, so it has no service to find a deploy of".into()))?
        }
    };
    let deploy = state
        .deploys
        .list(i64::MIN, selection.to, Some(&service))
        .into_iter()
        .filter(|d| d.previous.is_some() && d.at_ms <= selection.to)
        .max_by_key(|d| d.at_ms)
        .ok_or_else(|| AppError::BadRequest(format!("no deploy of {service} was seen before the selection's end: choose another baseline")))?;
    let len = selection.to - selection.from;
    let rect = Rect::any_duration(deploy.at_ms - len, deploy.at_ms);
    Ok((rect, format!("before {service} {} was deployed", deploy.version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(q: &str) -> Result<Checked, AppError> {
        let uri: axum::http::Uri = format!("/api/v1/compare?{q}").parse().unwrap();
        check(&axum::extract::Query::<CompareParams>::try_from_uri(&uri).unwrap().0)
    }

    /// Inputs fuzz/api_query found: each overflowed i64 (a panic in debug builds, a wrapped range in release).
    #[test]
    fn far_apart_or_extreme_times_are_refused_or_clamped_not_overflowed() {
        let e = checked("from=-9223372036854775808&to=9223372036854775807").err().expect("a range wider than 7 days");
        assert!(e.to_string().contains("at most 7 days"), "{e}");
        let c = checked("from=-9223372036854775808&to=-9223372036854775000&baseline=yesterday").unwrap();
        let (base, _, exclude) = c.baseline.unwrap();
        assert_eq!((base.from, base.to, exclude), (i64::MIN, i64::MIN, false));
        let c = checked("from=-9223372036854775800&to=-9223372036854775000&baseline=rest").unwrap();
        let (base, _, exclude) = c.baseline.unwrap();
        assert_eq!((base.from, base.to, exclude), (i64::MIN, -9_223_372_036_854_775_000, true));
    }

    #[test]
    fn a_region_baseline_and_only_are_read() {
        let c = checked("from=1000&to=2000&min_ms=5&only=status%3Derror&baseline=region&base_from=0&base_to=500&limit=7").unwrap();
        assert_eq!((c.selection.from, c.selection.to, c.selection.min_ms, c.limit), (1000, 2000, 5.0, 7));
        assert_eq!(c.only.unwrap().to_param(), "status=error");
        assert_eq!(c.baseline.unwrap().0, Rect { from: 0, to: 500, min_ms: 0.0, max_ms: None });
        assert!(checked("from=1000&to=2000&baseline=before_deploy").unwrap().baseline.is_none(), "looked up by the handler");
        assert!(checked("from=1000&to=2000&only=wait_event%3DLock").is_err());
    }
}
