//! `GET /api/v1/hitmap` (counts per cell) and `GET /api/v1/hitmap/live` (new transactions as they are stored).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use sightline_model::{Grid, Hitmap, HitmapParams, LivePoint};
use tokio_stream::wrappers::BroadcastStream;

use crate::api::window::{Window, Within};
use crate::error::{ApiResult, AppError, Query};
use crate::state::AppState;
use crate::store::HitmapFilter;

/// Largest grid the server bins: wider than any screen, small enough that an answer stays a few hundred KB.
pub const MAX_COLS: u32 = 2000;
pub const MAX_ROWS: u32 = 1000;

/// The grid of `p` over `window` (its `from`/`to` were read by [`Within`]), or why it makes no sense.
/// Defaults: 240 × 100 cells, `ymax` 5 s, linear.
pub fn grid(window: Window, p: &HitmapParams) -> Result<Grid, AppError> {
    let cols = p.cols.unwrap_or(240);
    if cols == 0 || cols > MAX_COLS {
        return Err(AppError::BadRequest(format!("cols must be 1..={MAX_COLS}, not {cols}")));
    }
    let rows = p.rows.unwrap_or(100);
    if rows == 0 || rows > MAX_ROWS {
        return Err(AppError::BadRequest(format!("rows must be 1..={MAX_ROWS}, not {rows}")));
    }
    let ymax_ms = p.ymax.unwrap_or(5000.0);
    if !(ymax_ms.is_finite() && ymax_ms > 0.0) {
        return Err(AppError::BadRequest(format!("ymax must be a positive number of ms, not {ymax_ms}")));
    }
    Ok(Grid { from: window.from(), to: window.to(), cols, rows, ymax_ms, scale: p.scale.unwrap_or_default() })
}

/// Counts every transaction of the window into the grid, split ok / error.
pub async fn show(
    State(state): State<AppState>,
    Within(window): Within,
    Query(p): Query<HitmapParams>,
) -> ApiResult<Hitmap> {
    let grid = grid(window, &p)?;
    let scope = crate::api::compare::tag_scope(&state, p.tag.as_deref(), grid.from, grid.to).await?;
    let filter = HitmapFilter { service: p.service.filter(|s| !s.is_empty()), tag: scope.tag, traces: scope.traces };
    Ok(Json(state.store.hitmap(grid, filter).await?))
}

/// Query of `GET /api/v1/hitmap/live`.
#[derive(Debug, Deserialize)]
pub struct LiveParams {
    pub service: Option<String>,
}

/// Server-sent events: each `data:` is a JSON array of [`LivePoint`]s for transactions just stored (one
/// event per ingest request), its `id:` the batch's sequence number (compare with `Hitmap::seq`). A client that falls behind skips what it missed and should refetch the grid.
pub async fn live(
    State(state): State<AppState>,
    Query(p): Query<LiveParams>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let service = p.service.filter(|s| !s.is_empty());
    // Counted in `sightline_sse_clients` while the stream lives: the closure owns the guard, and axum drops
    // the stream when the client goes away.
    let client = state.own_metrics.sse_client();
    let stream = BroadcastStream::new(state.live.subscribe()).filter_map(move |msg| {
        let _counted = &client;
        let service = service.clone();
        async move {
            let batch = match msg {
                Ok(b) => b,
                // Lagged: tell the client so it can refetch the grid.
                Err(_) => return Some(Ok(Event::default().event("lagged").data("{}"))),
            };
            let selected: Vec<&LivePoint> = match &service {
                Some(s) => batch.points.iter().filter(|p| &p.service == s).collect(),
                None => batch.points.iter().collect(),
            };
            if selected.is_empty() {
                return None;
            }
            let data = serde_json::to_string(&selected).unwrap_or_else(|_| "[]".into());
            Some(Ok(Event::default().id(batch.seq.to_string()).data(data)))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
