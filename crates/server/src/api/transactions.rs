//! `GET /api/v1/transactions`: the transactions inside a drag-selected rectangle.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::{Order, Scale, Status, TransactionPage};

use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::api::hitmap::HitmapParams;
use crate::store::{now_ms, CellRange, TxFilter, TxQuery};

/// Largest page: bigger selections are paged with the cursor.
pub const MAX_LIMIT: usize = 1000;

/// Query of `GET /api/v1/transactions`. `min_ms` is inclusive (0 keeps 0 ms transactions), `max_ms`
/// exclusive, and absent means no upper bound, so the hitmap's "≥ max" band is selectable.
///
/// Alternatively (or additionally) a rectangle of hitmap cells: `col_from..=col_to`, `row_from..=row_to`
/// of the grid given by `from`, `to`, `cols`, `rows`, `ymax`, `scale` (same defaults as the hitmap). The
/// cells are matched with the functions that binned the hitmap, so the list is exactly what was counted.
#[derive(Debug, Deserialize)]
pub struct TxParams {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub status: Option<Status>,
    pub order: Option<Order>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    pub cols: Option<u32>,
    pub rows: Option<u32>,
    pub ymax: Option<f64>,
    pub scale: Option<Scale>,
    pub col_from: Option<u32>,
    pub col_to: Option<u32>,
    pub row_from: Option<u32>,
    pub row_to: Option<u32>,
}

impl TxParams {
    /// The store query, or why the parameters make no sense.
    pub fn query(self, now_ms: i64) -> Result<TxQuery, AppError> {
        let to = self.to.unwrap_or(now_ms);
        let from = self.from.unwrap_or(to - 15 * 60_000);
        if from >= to {
            return Err(AppError::BadRequest(format!("from ({from}) must be before to ({to})")));
        }
        let min_ms = self.min_ms.unwrap_or(0.0);
        if !(min_ms.is_finite() && min_ms >= 0.0) {
            return Err(AppError::BadRequest(format!("min_ms must be ≥ 0, not {min_ms}")));
        }
        if let Some(max) = self.max_ms {
            if !(max.is_finite() && max > min_ms) {
                return Err(AppError::BadRequest(format!("max_ms ({max}) must be above min_ms ({min_ms})")));
            }
        }
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(AppError::BadRequest(format!("limit must be 1..={MAX_LIMIT}, not {limit}")));
        }
        let cells = self.cells(from, to)?;
        Ok(TxQuery {
            filter: TxFilter {
                from,
                to,
                min_ms,
                max_ms: self.max_ms,
                service: self.service.filter(|s| !s.is_empty()),
                endpoint: self.endpoint.filter(|s| !s.is_empty()),
                status: self.status,
                cells,
            },
            order: self.order.unwrap_or_default(),
            limit,
            cursor: self.cursor.filter(|s| !s.is_empty()),
        })
    }
}

impl TxParams {
    /// The cell rectangle, when any of `col_from`, `col_to`, `row_from`, `row_to` is given.
    fn cells(&self, from: i64, to: i64) -> Result<Option<CellRange>, AppError> {
        if self.col_from.is_none() && self.col_to.is_none() && self.row_from.is_none() && self.row_to.is_none() {
            return Ok(None);
        }
        let grid = HitmapParams {
            from: Some(from),
            to: Some(to),
            service: None,
            cols: self.cols,
            rows: self.rows,
            ymax: self.ymax,
            scale: self.scale,
        }
        .grid(to)?;
        let cols = (self.col_from.unwrap_or(0), self.col_to.unwrap_or(grid.cols - 1));
        let rows = (self.row_from.unwrap_or(0), self.row_to.unwrap_or(grid.rows));
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
}

/// One page of the selection (slowest or newest first) with the exact total.
pub async fn list(State(state): State<AppState>, Query(p): Query<TxParams>) -> ApiResult<TransactionPage> {
    let query = p.query(now_ms())?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.transactions(&query))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("transactions task failed: {e}")))??;
    Ok(Json(page))
}
