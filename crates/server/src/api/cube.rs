//! `GET /api/v1/cube`: the pivot over the cube's rollups (see `sightline_model::CubeParams`). The query is
//! checked here, once, and every problem is named in one 400; the store then answers a bounded question.

use axum::extract::State;
use axum::Json;
use sightline_model::{parse_cube_filter, parse_dims, CubeAnswer, CubeDim, CubeMeasure, CubeParams};

use crate::api::window::Window;
use crate::blocking;
use crate::cube::query::{aligned, MAX_SERIES_CELLS};
use crate::cube::{CubeQuery, DEFAULT_LIMIT, MAX_GROUP_BY, MAX_LIMIT};
use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::now_ms;

const MINUTE_MS: i64 = 60_000;
/// How far past now a range may reach (clocks of reporting hosts drift; the future holds no data).
const MAX_FUTURE_MS: i64 = 24 * 60 * MINUTE_MS;

/// The rows of one cube query.
pub async fn query(State(state): State<AppState>, Query(p): Query<CubeParams>) -> ApiResult<CubeAnswer> {
    let q = parse(&p, now_ms(), state.cube_retention_ms)?;
    let mut answer = state.store.cube(q).await?;
    if answer.group_by.contains(&CubeDim::Instance) {
        // Scans the host history per instance: on the blocking pool.
        let (instances, hosts) = (state.instances.clone(), state.host.clone());
        answer = blocking::run("joining instances with host samples", move || {
            instances.annotate(&mut answer, &hosts);
            Ok::<_, AppError>(answer)
        })
        .await?;
    }
    Ok(Json(answer))
}

/// The validated query of `p`, or a 400 listing every problem (unknown names, range, limits).
pub fn parse(p: &CubeParams, now_ms: i64, retention_ms: i64) -> Result<CubeQuery, AppError> {
    let mut problems = Vec::new();
    let group_by = noted(parse_dims(p.group_by.as_deref().unwrap_or("")), &mut problems).unwrap_or_default();
    let filter = noted(parse_cube_filter(p.filter.as_deref().unwrap_or("")), &mut problems).unwrap_or_default();
    let sort = match p.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => CubeMeasure::Count,
        Some(s) => {
            let known = || format!("unknown measure {s:?} to sort by (known: {})", measure_names());
            noted(CubeMeasure::parse(s).ok_or_else(known), &mut problems).unwrap_or(CubeMeasure::Count)
        }
    };
    let q = CubeQuery {
        from: p.from,
        to: p.to,
        group_by,
        filter,
        sort,
        desc: p.desc.unwrap_or(true),
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
        step_ms: p.step_ms,
    };
    problems.extend(check(&q, now_ms, retention_ms));
    match problems.is_empty() {
        true => Ok(q),
        false => Err(AppError::BadRequest(format!("bad cube query: {}", problems.join("; ")))),
    }
}

/// What is wrong with a query built in the server (a cube metric) or parsed from the wire: the range (in
/// order, within the retention, not far in the future), the group-by, the limit, the series' size.
pub fn check(q: &CubeQuery, now_ms: i64, retention_ms: i64) -> Vec<String> {
    let mut problems = check_range(q.from, q.to, now_ms, retention_ms);
    if q.group_by.len() > MAX_GROUP_BY {
        problems.push(format!("group_by names {} dimensions; at most {MAX_GROUP_BY}", q.group_by.len()));
    }
    for (i, d) in q.group_by.iter().enumerate() {
        if q.group_by[..i].contains(d) {
            problems.push(format!("group_by names {:?} twice", d.name()));
        }
    }
    if !(1..=MAX_LIMIT).contains(&q.limit) {
        problems.push(format!("limit must be 1..={MAX_LIMIT}, not {}", q.limit));
    }
    if let Some(step) = q.step_ms {
        if step <= 0 || step % MINUTE_MS != 0 {
            problems.push(format!("step_ms must be a whole number of minutes (a multiple of {MINUTE_MS}), not {step}"));
        } else if problems.is_empty() {
            // The cube's own bound on series, checked for the most rows the limit allows, before any work.
            let (from, to) = aligned(q.from, q.to);
            // Unsigned: `to - from + step` overflows i64 for a step near i64::MAX (found by fuzz/api_query);
            // both are positive here.
            let steps = ((to - from) as u64).div_ceil(step as u64) as usize;
            let rows = q.limit + 1;
            if steps.saturating_mul(rows) > MAX_SERIES_CELLS {
                problems.push(format!(
                    "{rows} rows × {steps} steps of series is more than {MAX_SERIES_CELLS} cells: \
                     ask for a longer step_ms, a shorter range or a smaller limit"
                ));
            }
        }
    }
    problems
}

/// The range's problems: `from < to`, not before the cube's retention, not more than a day ahead.
pub fn check_range(from: i64, to: i64, now_ms: i64, retention_ms: i64) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = Window::new(from, to) {
        problems.push(e.to_string());
    }
    // The oldest minute the cube keeps (retention drops whole minutes).
    let oldest = (now_ms - retention_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
    if from < oldest {
        problems.push(format!(
            "from ({from}) is before the cube's retention ({} days, from {oldest} on)",
            retention_ms as f64 / 86_400_000.0
        ));
    }
    if to > now_ms.saturating_add(MAX_FUTURE_MS) {
        problems.push(format!("to ({to}) is more than a day after now ({now_ms})"));
    }
    problems
}

/// The value, or `None` with the problem noted.
fn noted<T>(r: Result<T, String>, problems: &mut Vec<String>) -> Option<T> {
    r.map_err(|e| problems.push(e)).ok()
}

fn measure_names() -> String {
    CubeMeasure::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::CubeDim;

    const NOW: i64 = 1_800_000_000_000;
    const DAYS_30: i64 = 30 * 86_400_000;

    /// `CubeParams` from a query string, as the `Query` extractor reads it.
    fn params(q: &str) -> CubeParams {
        let uri: axum::http::Uri = format!("/api/v1/cube?{q}").parse().unwrap();
        axum::extract::Query::<CubeParams>::try_from_uri(&uri).unwrap().0
    }

    fn problems(q: &str) -> String {
        parse(&params(q), NOW, DAYS_30).unwrap_err().to_string()
    }

    #[test]
    fn a_good_query_with_defaults() {
        let q = parse(&params(&format!("from={}&to={NOW}&group_by=endpoint,status&filter=service:pay", NOW - 3_600_000)), NOW, DAYS_30).unwrap();
        assert_eq!(q.group_by, [CubeDim::Endpoint, CubeDim::Status]);
        assert_eq!(q.filter[&CubeDim::Service], "pay");
        assert_eq!((q.sort, q.desc, q.limit, q.step_ms), (CubeMeasure::Count, true, DEFAULT_LIMIT, None));
        let q = parse(&params(&format!("from={}&to={NOW}&sort=p95&desc=false&limit=20&step_ms=3600000", NOW - DAYS_30)), NOW, DAYS_30).unwrap();
        assert_eq!((q.sort, q.desc, q.limit, q.step_ms), (CubeMeasure::P95, false, 20, Some(3_600_000)));
        assert_eq!(parse(&params(&format!("from={}&to={NOW}&limit=1000", NOW - DAYS_30)), NOW, DAYS_30).unwrap().limit, 1000);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let h = NOW - 3_600_000;
        let e = problems(&format!("from={NOW}&to={h}&group_by=endpoint,colour&sort=speed&limit=0"));
        for part in ["must be before to", "\"colour\"", "\"speed\"", "limit must be 1..=1000, not 0"] {
            assert!(e.contains(part), "{part} in {e}");
        }
        let e = problems(&format!("from={h}&to={NOW}&group_by=service,endpoint,instance,status,http_status"));
        assert!(e.contains("at most 4"), "{e}");
        assert!(problems(&format!("from={h}&to={NOW}&group_by=endpoint,endpoint")).contains("\"endpoint\" twice"));
        assert!(problems(&format!("from={h}&to={NOW}&filter=colour:red")).contains("\"colour\""));
        assert!(problems(&format!("from={h}&to={NOW}&limit=1001")).contains("not 1001"));
        assert!(problems(&format!("from={}&to={NOW}", NOW - DAYS_30 - 3_600_000)).contains("retention"));
        assert!(problems(&format!("from={h}&to={}", NOW + 2 * 86_400_000)).contains("more than a day"));
        assert!(problems(&format!("from={h}&to={NOW}&step_ms=90000")).contains("whole number of minutes"));
        assert!(problems(&format!("from={h}&to={NOW}&step_ms=0")).contains("whole number of minutes"));
        // A step near i64::MAX is one step, not an overflow (fuzz/api_query found the panic).
        let huge = format!("from={h}&to={NOW}&step_ms=9223372036854720000");
        assert_eq!(parse(&params(&huge), NOW, DAYS_30).unwrap().step_ms, Some(9_223_372_036_854_720_000));
        // 30 days of minutes for 1000 rows: millions of cells, refused before any work.
        let e = problems(&format!("from={}&to={NOW}&group_by=endpoint&limit=1000&step_ms=60000", NOW - DAYS_30));
        assert!(e.contains("cells"), "{e}");
    }
}
