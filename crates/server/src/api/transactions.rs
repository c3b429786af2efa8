//! `GET /api/v1/transactions`: the transactions inside a drag-selected rectangle.

use axum::extract::State;
use axum::Json;
use sightline_model::{TransactionPage, TxParams};

use crate::api::compare::{tag_scope, TagScope};
use crate::api::hitmap;
use crate::api::window::{Window, Within};
use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::{CellRange, TxFilter, TxQuery};

/// Largest page: bigger selections are paged with the cursor.
pub const MAX_LIMIT: usize = 1000;

/// The store query of `p` over `window`, or why the parameters make no sense (see [`TxParams`]);
/// `scope`: its parsed `tag`.
pub fn query(p: TxParams, window: Window, scope: TagScope) -> Result<TxQuery, AppError> {
    let min_ms = p.min_ms.unwrap_or(0.0);
    if !(min_ms.is_finite() && min_ms >= 0.0) {
        return Err(AppError::BadRequest(format!("min_ms must be ≥ 0, not {min_ms}")));
    }
    if let Some(max) = p.max_ms {
        if !(max.is_finite() && max > min_ms) {
            return Err(AppError::BadRequest(format!("max_ms ({max}) must be above min_ms ({min_ms})")));
        }
    }
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AppError::BadRequest(format!("limit must be 1..={MAX_LIMIT}, not {limit}")));
    }
    let cells = cells(&p, window)?;
    Ok(TxQuery {
        filter: TxFilter {
            from: window.from(),
            to: window.to(),
            min_ms,
            max_ms: p.max_ms,
            service: p.service.filter(|s| !s.is_empty()),
            endpoint: p.endpoint.filter(|s| !s.is_empty()),
            status: p.status,
            error_type: p.error_type.filter(|s| !s.is_empty()),
            cells,
            tag: scope.tag,
            traces: scope.traces,
        },
        order: p.order.unwrap_or_default(),
        limit,
        cursor: p.cursor.filter(|s| !s.is_empty()),
    })
}

/// The cell rectangle, when any of `col_from`, `col_to`, `row_from`, `row_to` is given.
fn cells(p: &TxParams, window: Window) -> Result<Option<CellRange>, AppError> {
    if p.col_from.is_none() && p.col_to.is_none() && p.row_from.is_none() && p.row_to.is_none() {
        return Ok(None);
    }
    let grid = hitmap::grid(window, &p.hitmap())?;
    let cols = (p.col_from.unwrap_or(0), p.col_to.unwrap_or(grid.cols - 1));
    let rows = (p.row_from.unwrap_or(0), p.row_to.unwrap_or(grid.rows));
    if cols.0 > cols.1 || cols.1 >= grid.cols {
        return Err(AppError::BadRequest(format!(
            "col_from ({}) ≤ col_to ({}) < cols ({}) is required",
            cols.0, cols.1, grid.cols
        )));
    }
    if rows.0 > rows.1 || rows.1 > grid.rows {
        return Err(AppError::BadRequest(format!(
            "row_from ({}) ≤ row_to ({}) ≤ rows ({}, the ≥ max band) is required",
            rows.0, rows.1, grid.rows
        )));
    }
    Ok(Some(CellRange { grid, cols, rows }))
}

/// One page of the selection (slowest or newest first) with the exact total.
pub async fn list(
    State(state): State<AppState>,
    Within(window): Within,
    Query(p): Query<TxParams>,
) -> ApiResult<TransactionPage> {
    let scope = tag_scope(&state, p.tag.as_deref(), window.from(), window.to()).await?;
    Ok(Json(state.store.transactions(query(p, window, scope)?).await?))
}
