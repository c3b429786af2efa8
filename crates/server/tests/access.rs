//! The access table, walked: every route the router has (from its own recorded table, so a route added
//! later is walked too, and a route added without a rule is refused by the gate) × every kind of caller,
//! each answer checked against what the route's rule says: 401, 403, or let through (2xx, or a 4xx that is
//! not about access, e.g. 404 for the made-up ids used here).

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use sightline_server::app::route_table;
use sightline_server::auth::{RouteRule, Rule};
use sightline_server::config::TEST_ADMIN_PASSWORD;
use tower::ServiceExt;

/// The callers walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Editor,
    Admin,
    /// An API token with the editor role (Bearer: no cookie, no cross-site check).
    EditorToken,
    IngestToken,
    /// A share link of board A, asking about board A (or about routes without a board).
    ShareA,
    /// The same link asking about board B.
    ShareAOnB,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Through,
    Unauthenticated,
    Forbidden,
}

/// The policy, written out independently of `auth::rules` (the table of docs/AUTH.md). A new `Rule`
/// variant does not compile until it is added here.
fn expect(rule: Rule, who: Who) -> Expect {
    use Expect::*;
    use Who::*;
    match (rule, who) {
        (Rule::Public, _) => Through,
        (_, Anonymous) => Unauthenticated,
        (Rule::Session, Viewer | Editor | Admin) => Through,
        (Rule::Session, _) => Forbidden,
        (Rule::Read, Viewer | Editor | Admin | EditorToken) => Through,
        (Rule::ReadShared, Viewer | Editor | Admin | EditorToken | ShareA | ShareAOnB) => Through,
        (Rule::ReadSharedBoard, Viewer | Editor | Admin | EditorToken | ShareA) => Through,
        (Rule::Read | Rule::ReadShared | Rule::ReadSharedBoard, _) => Forbidden,
        (Rule::Edit, Editor | Admin | EditorToken) => Through,
        (Rule::Edit, _) => Forbidden,
        (Rule::Admin, Admin) => Through,
        (Rule::Admin, _) => Forbidden,
        (Rule::Ingest, Editor | Admin | EditorToken | IngestToken) => Through,
        (Rule::Ingest, _) => Forbidden,
    }
}

/// Credentials of every caller, made through the API itself.
struct Callers {
    app: TestApp,
    board_a: String,
    board_b: String,
    editor_token: String,
    ingest_token: String,
    share_a: String,
}

const HOST: &str = "sightline.test";
const ORIGIN: &str = "http://sightline.test";

impl Callers {
    async fn new() -> Self {
        let app = TestApp::with(|a| a.auto_sign_in = Some(false)).await;
        let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
        for (name, role) in [("viewer", "viewer"), ("editor", "editor")] {
            let (s, v) = call(&app, Method::POST, "/api/v1/users", &cookie(&admin), Some(json!({"name": name, "role": role, "password": format!("{name}-password")}))).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        let token = |scope: &'static str| {
            let (app, admin) = (&app, admin.clone());
            async move {
                let (s, v) = call(app, Method::POST, "/api/v1/tokens", &cookie(&admin), Some(json!({"name": scope, "scope": scope}))).await;
                assert_eq!(s, StatusCode::CREATED, "{v}");
                v["secret"].as_str().unwrap().to_string()
            }
        };
        let editor_token = token("editor").await;
        let ingest_token = token("ingest").await;
        let mut boards = Vec::new();
        for title in ["Board A", "Board B"] {
            let mut b = serde_json::to_value(sightline_server::boards::templates::default_board()).unwrap();
            b["id"] = json!("");
            b["title"] = json!(title);
            let (s, v) = call(&app, Method::POST, "/api/v1/boards", &cookie(&admin), Some(b)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            boards.push(v["id"].as_str().unwrap().to_string());
        }
        let (s, v) = call(&app, Method::POST, &format!("/api/v1/boards/{}/share", boards[0]), &cookie(&admin), None).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let share_a = v["token"].as_str().unwrap().to_string();
        Callers { app, board_b: boards.pop().unwrap(), board_a: boards.pop().unwrap(), editor_token, ingest_token, share_a }
    }

    /// The headers `who` sends: a fresh session for users (a sign-out route may have ended the last one).
    async fn headers(&self, who: Who) -> Vec<(header::HeaderName, String)> {
        match who {
            Who::Anonymous => vec![],
            Who::Viewer => cookie(&sign_in(&self.app, "viewer", "viewer-password").await),
            Who::Editor => cookie(&sign_in(&self.app, "editor", "editor-password").await),
            Who::Admin => cookie(&sign_in(&self.app, "admin", TEST_ADMIN_PASSWORD).await),
            Who::EditorToken => vec![(header::AUTHORIZATION, format!("Bearer {}", self.editor_token))],
            Who::IngestToken => vec![(header::AUTHORIZATION, format!("Bearer {}", self.ingest_token))],
            Who::ShareA | Who::ShareAOnB => vec![(header::AUTHORIZATION, format!("Share {}", self.share_a))],
        }
    }

    /// The route's path with its parameters filled: board A (or B) for reads of a board, made-up ids
    /// everywhere else (so nothing real is changed or deleted), and a valid time window.
    fn uri(&self, r: &RouteRule, who: Who) -> String {
        let board = if who == Who::ShareAOnB { &self.board_b } else { &self.board_a };
        let reads_board = r.method == Method::GET && r.path.starts_with("/api/v1/boards/{id}");
        let mut path = String::new();
        for seg in r.path.split('/').skip(1) {
            path.push('/');
            path.push_str(match seg {
                "{id}" if reads_board => board,
                "{id}" => "no-such-id",
                "{name}" => "no-such-user",
                "{trace_id}" => "0123456789abcdef0123456789abcdef",
                "{n}" | "{pid}" => "1",
                "{*rest}" => "anything",
                s => s,
            });
        }
        let now = now_ms();
        format!("{path}?from={}&to={now}", now - 60_000)
    }
}

async fn sign_in(app: &TestApp, name: &str, password: &str) -> String {
    let (s, h, body) = app
        .send(
            Request::post("/api/v1/auth/sign-in")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .body(Body::from(json!({"name": name, "password": password}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "sign-in as {name}: {}", String::from_utf8_lossy(&body));
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

fn cookie(pair: &str) -> Vec<(header::HeaderName, String)> {
    vec![(header::COOKIE, pair.to_string())]
}

/// A same-origin request (the browser's `Origin`), with a JSON body for methods that take one.
async fn call(app: &TestApp, method: Method, uri: &str, headers: &[(header::HeaderName, String)], body: Option<Value>) -> (StatusCode, Value) {
    let resp = app.router.clone().oneshot(request(method, uri, headers, body)).await.unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn request(method: Method, uri: &str, headers: &[(header::HeaderName, String)], body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method.clone()).uri(uri).header(header::HOST, HOST).header(header::ORIGIN, ORIGIN);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    let body = match (method, body) {
        (_, Some(v)) => Body::from(v.to_string()),
        (Method::GET | Method::HEAD, None) => Body::empty(),
        // An empty object: enough to pass the gate and be refused (or accepted) by the handler itself.
        (_, None) => Body::from("{}"),
    };
    b.header(header::CONTENT_TYPE, "application/json").body(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_its_rule_says() {
    let callers = Callers::new().await;
    let table = route_table();
    assert!(table.len() >= 45, "the table lists every route: {}", table.len());
    let mut seen = std::collections::HashSet::new();
    for r in &table {
        assert!(seen.insert((r.method.clone(), r.path.clone())), "{} {} is listed twice", r.method, r.path);
    }
    let mut failures = Vec::new();
    let mut walked = 0;
    for r in &table {
        for who in [Who::Anonymous, Who::Viewer, Who::Editor, Who::Admin, Who::EditorToken, Who::IngestToken, Who::ShareA, Who::ShareAOnB] {
            // Asking about board B only differs on routes that name a board.
            if who == Who::ShareAOnB && !r.path.starts_with("/api/v1/boards/{id}") {
                continue;
            }
            let uri = callers.uri(r, who);
            let headers = callers.headers(who).await;
            let resp = callers.app.router.clone().oneshot(request(r.method.clone(), &uri, &headers, None)).await.unwrap();
            let status = resp.status();
            // The live stream never ends: its status is all there is to check.
            let body = match r.path.ends_with("/live") {
                true => Value::Null,
                false => {
                    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                }
            };
            walked += 1;
            let want = expect(r.rule, who);
            let ok = match want {
                Expect::Unauthenticated => status == StatusCode::UNAUTHORIZED,
                Expect::Forbidden => status == StatusCode::FORBIDDEN,
                // Through the gate: any answer but 401/403 and server errors, and never the router's own
                // "no such route" (the table and the router agree).
                Expect::Through => {
                    status != StatusCode::UNAUTHORIZED
                        && status != StatusCode::FORBIDDEN
                        && !status.is_server_error()
                        && status != StatusCode::METHOD_NOT_ALLOWED
                        && !(r.path != "/api/{*rest}" && r.path != "/api" && body["error"].as_str().is_some_and(|e| e.starts_with("no API route")))
                }
            };
            if !ok {
                failures.push(format!("{} {uri} as {who:?} (rule: {}): want {want:?}, got {status} {body}", r.method, r.rule.describe()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {walked} answers broke the rules:\n{}", failures.len(), failures.join("\n"));
}

/// A route added to the router without going through `auth::Routes` has no rule: the gate refuses it for
/// everyone, even an admin (default deny).
#[tokio::test]
async fn a_route_without_a_rule_is_refused() {
    let app = TestApp::new().await;
    let (router, table) = sightline_server::app::routes().into_parts();
    let router = router.route("/api/v1/forgotten", axum::routing::get(|| async { "secret" }));
    let gate = sightline_server::auth::Gate::new(app.state.auth.clone(), &table);
    let router: axum::Router = router
        .layer(axum::middleware::from_fn_with_state(gate, sightline_server::auth::gate))
        .with_state(app.state.clone());
    // Auto sign-in is on in this app: the request is the demo admin, and still refused.
    let resp = router.oneshot(Request::get("/api/v1/forgotten").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// A Prometheus scraper reads `GET /metrics` with an API token of the viewer role (docs/API.md); without
/// credentials it is asked to sign in, and an ingest-only token is refused. The answer is the text format.
#[tokio::test]
async fn prometheus_scrapes_metrics_with_a_viewer_token() {
    let app = TestApp::with(|a| a.auto_sign_in = Some(false)).await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let mut secrets = Vec::new();
    for scope in ["viewer", "ingest"] {
        let (s, v) = call(&app, Method::POST, "/api/v1/tokens", &cookie(&admin), Some(json!({"name": format!("prometheus-{scope}"), "scope": scope}))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        secrets.push(v["secret"].as_str().unwrap().to_string());
    }
    // As Prometheus sends it: a bearer token, no cookie, no Origin.
    let scrape = |token: Option<&str>| {
        let mut b = Request::get("/metrics");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        app.router.clone().oneshot(b.body(Body::empty()).unwrap())
    };
    let resp = scrape(Some(&secrets[0])).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("# TYPE sightline_ingest_spans_accepted_total counter"), "{text}");
    assert_eq!(scrape(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(Some(&secrets[1])).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(scrape(Some("not-a-token")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
