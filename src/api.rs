//! Every request the app makes to the server, and the one error type the pages render.
//!
//! Requests are aborted when the reactive scope that started them is cleaned up (the user left the
//! page or changed the range), so stale answers never overwrite fresh ones.
//!
//! Every request leaves through [`send`]: it adds a share link's token when the page was opened with one
//! (`?share=`), and reports a 401 (the session ended) so the shell shows the sign-in page. Sign-in, users,
//! tokens, share links, settings and the audit log are in `api/auth.rs`.

mod auth;
pub mod prefetch;
pub use auth::*;

use std::fmt::Write as _;

use gloo_net::http::{Request, RequestBuilder, Response};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue};
use serde::de::DeserializeOwned;
use sightline_model::{
    ActiveList, ApiErrorBody, Board, BoardConflict, BoardHistory, BoardInvalid, BoardList, CubeAnswer, CubeParams,
    ErrorsAnswer, ErrorsParams, Health, Hitmap, MetricCatalog, MetricQueryResult, NoteHtml, NoteMarkdown, ServiceList, ToQuery, Trace,
    TransactionPage, WidgetQuery,
};
/// The query parameters of the hitmap and the transaction list are the server's own types.
pub use sightline_model::{HitmapParams, TxParams};

/// Why a request failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer at all: server down, network gone.
    #[error("cannot reach the Sightline server ({0})")]
    Unreachable(String),
    /// The server answered with an error; `message` is its own explanation.
    #[error("{message} (HTTP {status})")]
    Server { status: u16, message: String },
    /// The server answered something this app version does not understand.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

thread_local! {
    static PENDING: ArcRwSignal<u32> = ArcRwSignal::new(0);
}

/// Number of API requests in flight, for the global loading indicator.
pub fn pending() -> ArcRwSignal<u32> {
    PENDING.with(Clone::clone)
}

/// Decrements the in-flight counter however the request ends (success, error or abort).
struct PendingGuard(ArcRwSignal<u32>);

impl PendingGuard {
    fn start() -> Self {
        let p = pending();
        p.update(|n| *n += 1);
        PendingGuard(p)
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.update(|n| *n = n.saturating_sub(1));
    }
}

/// GETs `path` and decodes JSON, aborting if the calling scope is cleaned up first; counted by the
/// loading indicator.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&get_text(path).await?)
}

/// [`get_json`] before decoding. The request code exists once, not once per answer type: only the
/// decoding is generic (each generic async function is a copy of its whole state machine per type).
async fn get_text(path: &str) -> Result<String, ApiError> {
    let _pending = PendingGuard::start();
    fetch_text(path).await
}

/// An abort signal for a request that fires if the calling reactive scope is cleaned up first (the page
/// left, the resource re-run), so a stale answer never lands.
fn abort_on_cleanup() -> Option<web_sys::AbortSignal> {
    let abort = web_sys::AbortController::new().ok();
    let signal = abort.as_ref().map(|a| a.signal());
    let abort = SendWrapper::new(abort);
    on_cleanup(move || {
        if let Some(a) = abort.take() {
            a.abort();
        }
    });
    signal
}

async fn fetch_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&fetch_text(path).await?)
}

/// The body of a successful GET of `path`: the page's own request when it made this one before the app
/// ran ([`prefetch`]), otherwise a request of ours.
async fn fetch_text(path: &str) -> Result<String, ApiError> {
    let resp = match prefetch::take(path) {
        Some(answer) => {
            let answer = answer.await.map_err(|e| ApiError::Unreachable(js_message(&e)))?;
            // A successful answer comes as its text, already read by the page; any other as the response.
            if let Some(text) = answer.as_string() {
                return Ok(text);
            }
            let resp = Response::from(answer.unchecked_into::<web_sys::Response>());
            received(path, Ok(resp), share_token().is_some())?
        }
        None => {
            let signal = abort_on_cleanup();
            send(path, Request::get(path).abort_signal(signal.as_ref()), None).await?
        }
    };
    success_text(resp).await.map_err(|(e, _)| e)
}

/// What a rejected `fetch` promise says (a `TypeError` for a network failure).
fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"))
}

thread_local! {
    static SIGNED_OUT: ArcRwSignal<u32> = ArcRwSignal::new(0);
}

/// Counts API answers of 401 ("sign in first": the session ended, or nobody is signed in). The shell
/// (`crate::hooks::provide_session`) watches it and shows the sign-in page.
pub fn signed_out() -> ArcRwSignal<u32> {
    SIGNED_OUT.with(Clone::clone)
}

/// The sign-in call: its 401 means a wrong name or password, not an ended session.
const SIGN_IN: &str = "/api/v1/auth/sign-in";

/// The share link's token of the page the user is on (`/boards/{id}?share=<token>`). Read from the address
/// bar at each request, so it lives exactly as long as the page does and is never stored.
pub fn share_token() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search).ok()?.get("share").filter(|t| !t.is_empty())
}

/// The one place requests leave the app: sends `builder` (with `body` as JSON when given) and the share
/// link's token as `Authorization: Share <token>` when the page has one, and reports a 401 to
/// [`signed_out`] — except from sign-in itself, and on a shared board, whose expired or revoked link is
/// shown as the page's error (signing in would not make the link work).
async fn send(path: &str, builder: RequestBuilder, body: Option<String>) -> Result<Response, ApiError> {
    let share = share_token();
    let builder = match &share {
        Some(token) => builder.header("authorization", &format!("Share {token}")),
        None => builder,
    };
    let sent = match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(b)
            .map_err(|e| ApiError::Decode(e.to_string()))?
            .send()
            .await,
        None => builder.send().await,
    };
    received(path, sent.map_err(|e| ApiError::Unreachable(e.to_string())), share.is_some())
}

/// An answer to `path` as it came, with a 401 reported to [`signed_out`] (see [`send`]).
fn received(path: &str, sent: Result<Response, ApiError>, shared: bool) -> Result<Response, ApiError> {
    let resp = sent?;
    if resp.status() == 401 && path != SIGN_IN && !shared {
        SIGNED_OUT.with(|s| s.update(|n| *n += 1));
    }
    Ok(resp)
}

/// The body of a successful answer; otherwise the server's own message as [`ApiError::Server`], with the
/// body for callers that read more from it (a board's 409 and 400).
async fn success_text(resp: Response) -> Result<String, (ApiError, String)> {
    if resp.ok() {
        return resp.text().await.map_err(|e| (ApiError::Decode(e.to_string()), String::new()));
    }
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ApiErrorBody>(&text).map(|b| b.error).unwrap_or_else(|_| resp.status_text());
    Err((ApiError::Server { status, message }, text))
}

/// Reads JSON; an empty body (204) reads as `null`, so `()` and `Option<_>` accept it.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ApiError::Decode(e.to_string()))
}

/// Sends `method path` with an optional JSON body and decodes the answer; counted by the loading indicator.
async fn send_json<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> Result<T, ApiError> {
    decode(&send_text(method, path, body).await?)
}

async fn send_text(method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
    let _pending = PendingGuard::start();
    let resp = send(path, builder(method, path), body).await?;
    success_text(resp).await.map_err(|(e, _)| e)
}

fn builder(method: &str, path: &str) -> RequestBuilder {
    match method {
        "GET" => Request::get(path),
        "POST" => Request::post(path),
        "PUT" => Request::put(path),
        _ => Request::delete(path),
    }
}

/// JSON of a request body.
fn to_body<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Decode(e.to_string()))
}

/// Builds `path?k=v&…` from the parameters that are set, URL-escaping values.
pub fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let mut url = path.to_string();
    let mut sep = '?';
    for (k, v) in params {
        if let Some(v) = v {
            let _ = write!(url, "{sep}{k}={}", js_sys::encode_uri_component(v));
            sep = '&';
        }
    }
    url
}

/// Not counted by the loading indicator: it runs every few seconds in the background.
pub async fn health() -> Result<Health, ApiError> {
    fetch_json("/api/v1/health").await
}

pub async fn services(from: i64, to: i64) -> Result<ServiceList, ApiError> {
    get_json(&with_query("/api/v1/services", &[("from", Some(from.to_string())), ("to", Some(to.to_string()))]))
        .await
}

pub async fn hitmap(p: HitmapParams) -> Result<Hitmap, ApiError> {
    get_json(&format!("/api/v1/hitmap?{}", p.to_query())).await
}

/// A drag-selection on the hitmap: a time window and a duration band (`max_ms: None` = open-ended).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub from: i64,
    pub to: i64,
    pub min_ms: f64,
    pub max_ms: Option<f64>,
}

impl Selection {
    /// The transactions of this selection; the caller sets the other parameters (`..sel.tx_params()`).
    pub fn tx_params(&self) -> TxParams {
        TxParams { from: Some(self.from), to: Some(self.to), min_ms: Some(self.min_ms), max_ms: self.max_ms, ..Default::default() }
    }
}

pub async fn transactions(p: TxParams) -> Result<TransactionPage, ApiError> {
    get_json(&format!("/api/v1/transactions?{}", p.to_query())).await
}

/// "What changed" (issue 14): the selection compared with a baseline, every dimension's values ranked by
/// how over-represented they are, and the steps by the extra time they take. Exact counts.
pub async fn compare(p: sightline_model::CompareParams) -> Result<sightline_model::CompareAnswer, ApiError> {
    get_json(&format!("/api/v1/compare?{}", p.to_query())).await
}

pub async fn trace(trace_id: String) -> Result<Trace, ApiError> {
    get_json(&format!("/api/v1/traces/{}", js_sys::encode_uri_component(&trace_id))).await
}

/// The errors of each endpoint over a range (issue 13): counts, rate, top failure kinds, sparkline.
pub async fn errors(p: ErrorsParams) -> Result<ErrorsAnswer, ApiError> {
    get_json(&format!("/api/v1/errors?{}", p.to_query())).await
}

/// A pivot of the rolled-up statistics (issue 13): grouped, filtered, sorted, top N, optionally over time.
pub async fn cube(p: CubeParams) -> Result<CubeAnswer, ApiError> {
    get_json(&format!("/api/v1/cube?{}", p.to_query())).await
}

pub async fn active(service: Option<String>) -> Result<ActiveList, ApiError> {
    get_json(&with_query("/api/v1/active", &[("service", service)])).await
}

// ---- flex boards (issue 5) ----

/// Why a board write was refused: the cases the board page answers with its own dialog.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SaveError {
    /// Someone saved a newer revision first: `current` is the board as it is now on the server.
    #[error("{message}")]
    Conflict { message: String, current: Box<Board> },
    /// The board (e.g. an import) is not valid: every problem, in words.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Sends `body` as JSON with `method` and decodes the answer; 409 and 400 become [`SaveError`]'s own cases.
async fn send_board<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> Result<T, SaveError> {
    Ok(decode(&send_board_text(method, path, body).await?)?)
}

async fn send_board_text(method: &str, path: &str, body: Option<String>) -> Result<String, SaveError> {
    let _pending = PendingGuard::start();
    let resp = send(path, builder(method, path), body).await?;
    let status = resp.status();
    let (error, text) = match success_text(resp).await {
        Ok(text) => return Ok(text),
        Err(failed) => failed,
    };
    if status == 409 {
        if let Ok(c) = serde_json::from_str::<BoardConflict>(&text) {
            return Err(SaveError::Conflict { message: c.error, current: Box::new(c.current) });
        }
    }
    if status == 400 {
        if let Ok(i) = serde_json::from_str::<BoardInvalid>(&text) {
            return Err(SaveError::Invalid(i.problems));
        }
    }
    Err(error.into())
}

fn board_path(id: &str) -> String {
    format!("/api/v1/boards/{}", js_sys::encode_uri_component(id))
}

pub async fn boards() -> Result<BoardList, ApiError> {
    get_json("/api/v1/boards").await
}

pub async fn board_templates() -> Result<Vec<Board>, ApiError> {
    get_json("/api/v1/boards/templates").await
}

/// A board note's Markdown as HTML that is safe to put into the page (the server renders it, see
/// `crates/server/src/boards/notes.rs`); an empty note needs no request.
pub async fn render_note(text: String) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    let body = to_body(&NoteMarkdown { text })?;
    send_json::<NoteHtml>("POST", "/api/v1/notes/render", Some(body)).await.map(|n| n.html)
}

pub async fn board(id: String) -> Result<Board, ApiError> {
    get_json(&board_path(&id)).await
}

/// Creates (or imports, or duplicates) a board; the server picks a free id when `board.id` is taken or empty.
pub async fn create_board(board: Board) -> Result<Board, SaveError> {
    send_board("POST", "/api/v1/boards", Some(to_body(&board)?)).await
}

/// Imports a board from JSON text as the user gave it: the server checks it and lists every problem, and
/// creates nothing when there is one.
pub async fn import_board(json: String) -> Result<Board, SaveError> {
    send_board("POST", "/api/v1/boards", Some(json)).await
}

/// Saves a new revision; `board.version` must be the revision it was based on.
pub async fn save_board(board: Board) -> Result<Board, SaveError> {
    send_board("PUT", &board_path(&board.id), Some(to_body(&board)?)).await
}

/// Deletes a board unless someone saved a newer revision than `version`.
pub async fn delete_board(id: String, version: u64) -> Result<(), SaveError> {
    send_board::<Option<()>>("DELETE", &with_query(&board_path(&id), &[("version", Some(version.to_string()))]), None)
        .await
        .map(|_| ())
}

pub async fn board_versions(id: String) -> Result<BoardHistory, ApiError> {
    get_json(&format!("{}/versions", board_path(&id))).await
}

pub async fn board_version(id: String, n: u64) -> Result<Board, ApiError> {
    get_json(&format!("{}/versions/{n}", board_path(&id))).await
}

/// Makes revision `n` current again (as a new revision).
pub async fn restore_board_version(id: String, n: u64) -> Result<Board, SaveError> {
    send_board("POST", &format!("{}/versions/{n}/restore", board_path(&id)), None).await
}

/// Service versions first seen in `[from, to]`: the deploy markers of a board's charts.
pub async fn deploys(from: i64, to: i64) -> Result<sightline_model::DeployList, ApiError> {
    get_json(&with_query("/api/v1/deploys", &window(from, to))).await
}

/// The host sample nearest `at` (the newest when `None`): machine CPU and memory, the busiest processes.
pub async fn host_processes(at: Option<i64>) -> Result<sightline_model::HostProcesses, ApiError> {
    get_json(&with_query("/api/v1/host/processes", &[("at", at.map(|a| a.to_string()))])).await
}

/// CPU and resident memory of one process over `[from, to]`.
pub async fn host_process_history(pid: u32, from: i64, to: i64) -> Result<Vec<sightline_model::HostProcessPoint>, ApiError> {
    get_json(&with_query(&format!("/api/v1/host/processes/{pid}/history"), &window(from, to))).await
}

pub async fn metric_catalog() -> Result<MetricCatalog, ApiError> {
    get_json("/api/v1/metrics").await
}

/// One widget's series. `filter` is already resolved (board variables substituted); `max_points` is about
/// the widget's width in pixels, so the server never sends more points than can be drawn.
pub async fn metric_query(
    query: WidgetQuery,
    from: i64,
    to: i64,
    max_points: u32,
    limit: Option<u32>,
) -> Result<MetricQueryResult, ApiError> {
    let filter = query.filter.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",");
    get_json(&with_query(
        "/api/v1/metrics/query",
        &[
            ("metric", Some(query.metric)),
            ("from", Some(from.to_string())),
            ("to", Some(to.to_string())),
            ("max_points", Some(max_points.to_string())),
            ("filter", (!filter.is_empty()).then_some(filter)),
            ("group_by", (!query.group_by.is_empty()).then(|| query.group_by.join(","))),
            ("limit", limit.map(|l| l.to_string())),
        ],
    ))
    .await
}

// ---- database pages (issue 6) ----

/// Monitored PostgreSQL instances with their health. Not counted by the loading indicator: polled.
pub async fn db_instances() -> Result<sightline_model::DbInstanceList, ApiError> {
    fetch_json("/api/v1/db/instances").await
}

fn db_path(id: &str, what: &str) -> String {
    format!("/api/v1/db/instances/{}/{what}", js_sys::encode_uri_component(id))
}

/// Sessions now (`at: None`) or at the stored sample nearest `at`. Polled: not counted.
pub async fn db_sessions(id: String, at: Option<i64>) -> Result<sightline_model::DbSessions, ApiError> {
    fetch_json(&with_query(&db_path(&id, "sessions"), &[("at", at.map(|a| a.to_string()))])).await
}

/// Lock tree now (`at: None`) or at the stored sample nearest `at`. Polled: not counted.
pub async fn db_locks(id: String, at: Option<i64>) -> Result<sightline_model::DbLocks, ApiError> {
    fetch_json(&with_query(&db_path(&id, "locks"), &[("at", at.map(|a| a.to_string()))])).await
}

fn window(from: i64, to: i64) -> [(&'static str, Option<String>); 2] {
    [("from", Some(from.to_string())), ("to", Some(to.to_string()))]
}

/// Metric series over `[from, to]`. Polled: not counted.
pub async fn db_metrics(id: String, from: i64, to: i64) -> Result<sightline_model::DbMetrics, ApiError> {
    fetch_json(&with_query(&db_path(&id, "metrics"), &window(from, to))).await
}

/// Top statements by total time over `[from, to]`. Polled: not counted.
pub async fn db_statements(id: String, from: i64, to: i64) -> Result<sightline_model::DbStatements, ApiError> {
    fetch_json(&with_query(&db_path(&id, "statements"), &window(from, to))).await
}

/// Stored sample times over `[from, to]` (replay slider). Polled: not counted.
pub async fn db_samples(id: String, from: i64, to: i64) -> Result<sightline_model::DbSamples, ApiError> {
    fetch_json(&with_query(&db_path(&id, "samples"), &window(from, to))).await
}

/// The database sessions that ran statements of a trace (matched by their `traceparent` comment).
pub async fn db_trace_sessions(trace_id: String) -> Result<sightline_model::DbTraceSessions, ApiError> {
    get_json(&format!("/api/v1/db/traces/{}", js_sys::encode_uri_component(&trace_id))).await
}

/// The sessions the samples of a window saw, merged per session and statement (drag selection on the
/// database graphs). Not polled: counted by the loading indicator.
pub async fn db_window_sessions(id: String, from: i64, to: i64) -> Result<sightline_model::DbWindowSessions, ApiError> {
    get_json(&with_query(&db_path(&id, "sessions"), &window(from, to))).await
}

// ---- alerts (issue 12) ----

use sightline_model::{
    AlertEventPage, AlertRule, AlertsExport, AlertsOverview, Channel, ChannelInput, ChannelTestResult, FiringSummary,
    PreviewAnswer, PreviewRequest, RuleStatus, Silence,
};

impl ApiError {
    /// The problems of a refused write, one per line: a 400 lists every one in its message (joined by
    /// new lines or `; `); any other failure is one problem.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ApiError::Server { status: 400, message } => {
                let lines: Vec<&str> = if message.contains('\n') { message.lines().collect() } else { message.split("; ").collect() };
                lines.into_iter().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
            }
            other => vec![other.to_string()],
        }
    }

    /// Someone else saved a newer version first (409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Server { status: 409, .. })
    }
}

/// Like [`send_json`], for writes the server checks whole: a 400's `problems` (every one) become the
/// message, one per line, so [`ApiError::problems`] lists them.
async fn send_checked<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> Result<T, ApiError> {
    decode(&send_checked_text(method, path, body).await?)
}

async fn send_checked_text(method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
    let _pending = PendingGuard::start();
    let resp = send(path, builder(method, path), body).await?;
    match success_text(resp).await {
        Ok(text) => Ok(text),
        Err((ApiError::Server { status: 400, message }, text)) => {
            let message = match serde_json::from_str::<BoardInvalid>(&text) {
                Ok(i) if !i.problems.is_empty() => i.problems.join("\n"),
                _ => message,
            };
            Err(ApiError::Server { status: 400, message })
        }
        Err((e, _)) => Err(e),
    }
}

fn alert_path(kind: &str, id: &str) -> String {
    format!("/api/v1/alerts/{kind}/{}", js_sys::encode_uri_component(id))
}

/// Every rule with its state and instances.
pub async fn alerts() -> Result<AlertsOverview, ApiError> {
    get_json("/api/v1/alerts").await
}

/// Firing alerts for the top bar. Polled in the background on every page: not counted.
pub async fn alerts_firing() -> Result<FiringSummary, ApiError> {
    fetch_json("/api/v1/alerts/firing").await
}

pub async fn alert_rule(id: String) -> Result<RuleStatus, ApiError> {
    get_json(&alert_path("rules", &id)).await
}

/// Creates a rule (the server picks its id) or, when `rule.id` is set, saves a new version of it
/// (`rule.version` must be the version edited: 409 otherwise).
pub async fn save_alert_rule(rule: AlertRule) -> Result<AlertRule, ApiError> {
    if rule.id.is_empty() {
        send_checked("POST", "/api/v1/alerts/rules", Some(to_body(&rule)?)).await
    } else {
        send_checked("PUT", &alert_path("rules", &rule.id), Some(to_body(&rule)?)).await
    }
}

pub async fn delete_alert_rule(id: String) -> Result<(), ApiError> {
    send_json::<Option<()>>("DELETE", &alert_path("rules", &id), None).await.map(|_| ())
}

/// How `rule` would have behaved over `[from, to]`. Not counted: it follows every keystroke of the editor.
pub async fn alert_preview(rule: AlertRule, from: i64, to: i64) -> Result<PreviewAnswer, ApiError> {
    let body = to_body(&PreviewRequest { rule, from, to })?;
    let signal = abort_on_cleanup();
    let path = "/api/v1/alerts/preview";
    let resp = send(path, Request::post(path).abort_signal(signal.as_ref()), Some(body)).await?;
    decode(&success_text(resp).await.map_err(|(e, _)| e)?)
}

/// Filters of the alert history; `before_seq` pages to older events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertEventQuery {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub rule: Option<String>,
    pub state: Option<String>,
    pub before_seq: Option<u64>,
    pub limit: Option<u32>,
}

/// State changes, newest first.
pub async fn alert_events(q: AlertEventQuery) -> Result<AlertEventPage, ApiError> {
    get_json(&with_query(
        "/api/v1/alerts/events",
        &[
            ("from", q.from.map(|v| v.to_string())),
            ("to", q.to.map(|v| v.to_string())),
            ("rule", q.rule),
            ("state", q.state),
            ("before_seq", q.before_seq.map(|v| v.to_string())),
            ("limit", q.limit.map(|v| v.to_string())),
        ],
    ))
    .await
}

/// Alert state changes in `[from, to]` for the markers on charts (at most the newest 500). A share link
/// may not read alerts (rule names and labels are not part of a shared board): a shared board has none.
pub async fn alert_markers(from: i64, to: i64) -> Result<Vec<sightline_model::AlertEvent>, ApiError> {
    if share_token().is_some() {
        return Ok(Vec::new());
    }
    let q = AlertEventQuery { from: Some(from), to: Some(to), limit: Some(500), ..Default::default() };
    alert_events(q).await.map(|p| p.events)
}

/// Active silences; with `all`, the expired ones too.
pub async fn silences(all: bool) -> Result<Vec<Silence>, ApiError> {
    get_json(&with_query("/api/v1/alerts/silences", &[("all", all.then(|| "true".to_string()))])).await
}

pub async fn create_silence(silence: Silence) -> Result<Silence, ApiError> {
    send_checked("POST", "/api/v1/alerts/silences", Some(to_body(&silence)?)).await
}

pub async fn delete_silence(id: String) -> Result<(), ApiError> {
    send_json::<Option<()>>("DELETE", &alert_path("silences", &id), None).await.map(|_| ())
}

/// Channels, their URLs masked.
pub async fn channels() -> Result<Vec<Channel>, ApiError> {
    get_json("/api/v1/alerts/channels").await
}

/// Creates a channel (`id: None`) or updates one; `input.url: None` keeps the stored URL.
pub async fn save_channel(id: Option<String>, input: ChannelInput) -> Result<Channel, ApiError> {
    let body = Some(to_body(&input)?);
    match id {
        Some(id) => send_checked("PUT", &alert_path("channels", &id), body).await,
        None => send_checked("POST", "/api/v1/alerts/channels", body).await,
    }
}

pub async fn delete_channel(id: String) -> Result<(), ApiError> {
    send_json::<Option<()>>("DELETE", &alert_path("channels", &id), None).await.map(|_| ())
}

/// Sends a test message now and returns what the receiver answered.
pub async fn test_channel(id: String) -> Result<ChannelTestResult, ApiError> {
    send_json("POST", &format!("{}/test", alert_path("channels", &id)), None).await
}

/// Rules and channels (without their URLs) as JSON.
pub async fn alerts_export() -> Result<AlertsExport, ApiError> {
    get_json("/api/v1/alerts/export").await
}

/// Imports JSON text as the user gave it: the server checks it all and lists every problem (400), and
/// applies nothing when there is one.
pub async fn alerts_import(json: String) -> Result<serde_json::Value, ApiError> {
    send_checked("POST", "/api/v1/alerts/import", Some(json)).await
}
