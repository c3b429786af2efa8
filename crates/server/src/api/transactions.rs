//! `GET /api/v1/transactions`: the transactions inside a drag-selected rectangle.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use sightline_model::{Order, Status, TransactionPage};

use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::{now_ms, TxFilter, TxQuery};

/// Largest page: bigger selections are paged with the cursor.
pub const MAX_LIMIT: usize = 1000;

/// Query of `GET /api/v1/transactions`. `min_ms` is inclusive (0 keeps 0 ms transactions), `max_ms`
/// exclusive, and absent means no upper bound, so the hitmap's "≥ max" band is selectable.
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
        Ok(TxQuery {
            filter: TxFilter {
                from,
                to,
                min_ms,
                max_ms: self.max_ms,
                service: self.service.filter(|s| !s.is_empty()),
                endpoint: self.endpoint.filter(|s| !s.is_empty()),
                status: self.status,
            },
            order: self.order.unwrap_or_default(),
            limit,
            cursor: self.cursor.filter(|s| !s.is_empty()),
        })
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
