//! `GET /api/v1/errors`: per service and endpoint, the failures of a range (see `crate::errors`).

use axum::extract::State;
use axum::Json;
use sightline_model::{ErrorsAnswer, ErrorsParams};

use crate::api::cube::check_range;
use crate::errors::{self, ErrorsQuery, ErrorsSort};
use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::now_ms;

/// The endpoints with failures in the range, sorted as asked.
pub async fn list(State(state): State<AppState>, Query(p): Query<ErrorsParams>) -> ApiResult<ErrorsAnswer> {
    let now = now_ms();
    let q = parse(p, now, state.cube_retention_ms)?;
    Ok(Json(errors::errors(&*state.store, &state.deploys, &q, now, state.cube_retention_ms).await?))
}

/// The checked request, or a 400 naming every problem (range, sort).
pub fn parse(p: ErrorsParams, now_ms: i64, retention_ms: i64) -> Result<ErrorsQuery, AppError> {
    let mut problems = check_range(p.from, p.to, now_ms, retention_ms);
    let sort = match p.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => ErrorsSort::Errors,
        Some(s) => ErrorsSort::parse(s).unwrap_or_else(|| {
            let known: Vec<&str> = ErrorsSort::ALL.iter().map(|o| o.name()).collect();
            problems.push(format!("unknown sort {s:?} (known: {})", known.join(", ")));
            ErrorsSort::Errors
        }),
    };
    if !problems.is_empty() {
        return Err(AppError::BadRequest(format!("bad errors query: {}", problems.join("; "))));
    }
    let given = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(ErrorsQuery {
        from: p.from,
        to: p.to,
        service: given(p.service),
        endpoint: given(p.endpoint),
        error_type: given(p.error_type),
        sort,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_range_and_sort_are_named_together() {
        let now = 1_800_000_000_000;
        let p = ErrorsParams { from: now, to: now - 1, sort: Some("loudest".into()), ..Default::default() };
        let e = parse(p, now, 86_400_000).unwrap_err().to_string();
        assert!(e.contains("must be before to") && e.contains("\"loudest\"") && e.contains("last_seen"), "{e}");
        let p = ErrorsParams { from: now - 60_000, to: now, sort: Some("error_rate".into()), service: Some(String::new()), ..Default::default() };
        let q = parse(p, now, 86_400_000).unwrap();
        assert_eq!((q.sort, q.service), (ErrorsSort::ErrorRate, None));
    }
}
