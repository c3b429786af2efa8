//! `GET /metrics`: Sightline's own metrics in the Prometheus text format ([`crate::own_metrics`]). Rule
//! `Read`: a scraper sends an API token with the viewer role as `Authorization: Bearer <token>`
//! (docs/API.md shows a `scrape_config`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::own_metrics::CONTENT_TYPE;
use crate::state::AppState;
use crate::store::StoreStats;

/// Reads the store's sizes (the store keeps that off the runtime), sets the scrape-time gauges and
/// renders every family. A store that cannot be read does not fail the scrape: the other metrics are what
/// an operator needs during that outage (`sightline_store_up` says it).
pub async fn scrape(State(state): State<AppState>) -> Result<Response, AppError> {
    let stats = state.store.stats().await.unwrap_or_else(StoreStats::unreadable);
    if let Some(why) = &stats.unreadable {
        tracing::warn!(error = %why, "the store's figures cannot be read for /metrics: served without them (sightline_store_up 0)");
    }
    state.own_metrics.alerts(state.alerts.counters());
    let text = state.own_metrics.render(&stats, &state.db)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
