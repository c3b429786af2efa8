//! Alerting: `GET /api/v1/alerts` (overview), `/alerts/firing` (top bar), rules (`POST /alerts/rules`,
//! `GET/PUT/DELETE /alerts/rules/{id}`), `POST /alerts/preview`, `GET /alerts/events`, silences, channels
//! (with `POST …/{id}/test`), `GET /alerts/export`, `POST /alerts/import`. The rules live in
//! [`crate::alert`]; these only translate. Invalid input answers 400 listing every problem
//! ([`AppError::Invalid`]); a stale rule save 409. Channel URLs never leave the server.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use sightline_model::alert::{
    AlertEventPage, AlertRule, AlertsExport, AlertsOverview, Channel, ChannelInput, ChannelTestResult, FiringSummary,
    PreviewAnswer, PreviewRequest, RuleStatus, Silence,
};

use crate::alert::{Alerts, EventQuery};
use crate::auth::Principal;
use crate::blocking;
use crate::error::{ApiResult, AppError, JsonBody, Path, Query};
use crate::state::AppState;

/// Runs an alert call that writes (fsyncs) or reads the disk on the blocking pool; with `--config-db`,
/// after taking in what other nodes saved, so its checks see it.
async fn with_alerts<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&std::sync::Arc<Alerts>) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    state.alerts.refresh().await?;
    let alerts = state.alerts.clone();
    blocking::run("alert store", move || f(&alerts)).await
}

/// A JSON body read as `T`; JSON that is not a `T` is answered like any invalid document (400 with
/// `problems`), naming `what`.
fn parse<T: serde::de::DeserializeOwned>(body: serde_json::Value, what: &str) -> Result<T, AppError> {
    serde_json::from_value(body).map_err(|e| AppError::Invalid(vec![format!("not {what}: {e}")]))
}

pub async fn overview(State(state): State<AppState>) -> ApiResult<AlertsOverview> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.overview()))
}

pub async fn firing(State(state): State<AppState>) -> ApiResult<FiringSummary> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.firing()))
}

/// A JSON body read as a rule: numbers that cannot be (a negative `for_s`) are named first.
fn parse_rule(body: serde_json::Value) -> Result<AlertRule, AppError> {
    let problems = crate::alert::rule::number_problems(&body);
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    parse(body, "an alert rule")
}

pub async fn create_rule(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<AlertRule>), AppError> {
    let rule = parse_rule(body)?;
    let r = with_alerts(&state, move |a| a.create_rule(rule)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

pub async fn show_rule(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<RuleStatus> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.rule_status(&id)?))
}

pub async fn update_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<AlertRule> {
    let rule = parse_rule(body)?;
    Ok(Json(with_alerts(&state, move |a| a.update_rule(&id, rule)).await?))
}

pub async fn delete_rule(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    with_alerts(&state, move |a| a.delete_rule(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The rule's values over `[from, to)` with its thresholds and when it would have fired; the rule is
/// checked first (400 listing every problem).
pub async fn preview(State(state): State<AppState>, JsonBody(body): JsonBody<serde_json::Value>) -> ApiResult<PreviewAnswer> {
    let req: PreviewRequest = parse(body, "a preview request")?;
    let problems = state.alerts.problems(&req.rule);
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    Ok(Json(state.alerts.preview(&req.rule, req.from, req.to).await?))
}

pub async fn events(State(state): State<AppState>, Query(q): Query<EventQuery>) -> ApiResult<AlertEventPage> {
    Ok(Json(with_alerts(&state, move |a| a.events(q)).await?))
}

/// Query of `GET /api/v1/alerts/silences`.
#[derive(Debug, Deserialize)]
pub struct SilenceParams {
    /// Also the expired ones (kept a day).
    #[serde(default)]
    pub all: bool,
}

pub async fn silences(State(state): State<AppState>, Query(p): Query<SilenceParams>) -> ApiResult<Vec<Silence>> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.silences(p.all)))
}

pub async fn create_silence(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<Silence>), AppError> {
    let s: Silence = parse(body, "a silence")?;
    let author = principal.author();
    let s = with_alerts(&state, move |a| a.create_silence(s, &author)).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

pub async fn delete_silence(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    with_alerts(&state, move |a| a.delete_silence(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn channels(State(state): State<AppState>) -> ApiResult<Vec<Channel>> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.channels()))
}

pub async fn create_channel(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<Channel>), AppError> {
    let input: ChannelInput = parse(body, "a channel")?;
    let c = with_alerts(&state, move |a| a.create_channel(input)).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

pub async fn update_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Channel> {
    let input: ChannelInput = parse(body, "a channel")?;
    Ok(Json(with_alerts(&state, move |a| a.update_channel(&id, input)).await?))
}

pub async fn delete_channel(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    with_alerts(&state, move |a| a.delete_channel(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message now; the answer says what the receiver said (or that it did not answer).
pub async fn test_channel(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ChannelTestResult> {
    Ok(Json(state.alerts.test_channel(&id).await?))
}

/// Rules and channels as JSON to keep in version control (without the channels' URLs).
pub async fn export(State(state): State<AppState>) -> ApiResult<AlertsExport> {
    state.alerts.refresh().await?;
    Ok(Json(state.alerts.export()))
}

/// Checks everything, then writes everything (400 listing every problem, nothing written).
pub async fn import(State(state): State<AppState>, JsonBody(body): JsonBody<serde_json::Value>) -> ApiResult<AlertsOverview> {
    let problems: Vec<String> = body
        .get("rules")
        .and_then(|r| r.as_array())
        .map(|rules| rules.iter().flat_map(crate::alert::rule::number_problems).collect())
        .unwrap_or_default();
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let x: AlertsExport = parse(body, "an alerts export")?;
    Ok(Json(with_alerts(&state, move |a| a.import(x)).await?))
}
