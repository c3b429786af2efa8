//! Sign-in, sessions, tokens and share links through the real router: rate limits, cross-site requests,
//! cookie attributes, expiry, revocation, the deprecated ingest token and anonymous viewers.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use sightline_server::config::TEST_ADMIN_PASSWORD;

const HOST: &str = "sightline.test";
const ORIGIN: &str = "http://sightline.test";

/// One request as a browser on this server's own page would send it (plus `extra` headers).
struct Req<'a> {
    method: Method,
    uri: &'a str,
    headers: Vec<(header::HeaderName, String)>,
    body: Option<Value>,
    from: Option<SocketAddr>,
}

fn req(method: Method, uri: &str) -> Req<'_> {
    Req { method, uri, headers: vec![(header::HOST, HOST.into()), (header::ORIGIN, ORIGIN.into())], body: None, from: None }
}

impl Req<'_> {
    fn header(mut self, k: header::HeaderName, v: impl Into<String>) -> Self {
        self.headers.retain(|(h, _)| *h != k);
        self.headers.push((k, v.into()));
        self
    }
    fn without(mut self, k: header::HeaderName) -> Self {
        self.headers.retain(|(h, _)| *h != k);
        self
    }
    fn json(mut self, v: Value) -> Self {
        self.body = Some(v);
        self
    }
    fn cookie(self, c: &str) -> Self {
        self.header(header::COOKIE, c)
    }
    fn from(mut self, addr: &str) -> Self {
        self.from = Some(addr.parse().unwrap());
        self
    }
    async fn send(self, app: &TestApp) -> (StatusCode, HeaderMap, Value) {
        let mut b = Request::builder().method(self.method).uri(self.uri);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        let body = match self.body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut r = b.body(body).unwrap();
        if let Some(a) = self.from {
            r.extensions_mut().insert(ConnectInfo(a));
        }
        let (s, h, bytes) = app.send(r).await;
        (s, h, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

async fn signed_out_app() -> TestApp {
    TestApp::with(|a| a.auto_sign_in = Some(false)).await
}

/// Signs in; answers the `name=value` of the session cookie.
async fn sign_in(app: &TestApp, name: &str, password: &str) -> String {
    let (s, h, v) = req(Method::POST, "/api/v1/auth/sign-in").json(json!({"name": name, "password": password})).send(app).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    h.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn add_user(app: &TestApp, admin: &str, name: &str, role: &str) {
    let body = json!({"name": name, "role": role, "password": format!("{name}-password")});
    let (s, _, v) = req(Method::POST, "/api/v1/users").cookie(admin).json(body).send(app).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn a_board(app: &TestApp, cookie: &str, title: &str) -> String {
    let mut b = serde_json::to_value(sightline_server::boards::templates::default_board()).unwrap();
    b["id"] = json!("");
    b["title"] = json!(title);
    let (s, _, v) = req(Method::POST, "/api/v1/boards").cookie(cookie).json(b).send(app).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// Polls `check` until it holds, at most `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited_per_account_and_per_address() {
    let app = signed_out_app().await;
    let wrong = |name: &'static str, addr: &'static str| {
        req(Method::POST, "/api/v1/auth/sign-in").json(json!({"name": name, "password": "not-the-password"})).from(addr)
    };
    for i in 0..5 {
        let (s, _, v) = wrong("admin", "10.1.1.1:5000").send(&app).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}: {v}");
        assert_eq!(v["error"], "wrong name or password");
    }
    let (s, h, v) = wrong("admin", "10.1.1.2:5000").send(&app).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let retry: u64 = h.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Limited means limited: the right password does not get through either, from anywhere.
    let right = req(Method::POST, "/api/v1/auth/sign-in").json(json!({"name": "admin", "password": TEST_ADMIN_PASSWORD}));
    assert_eq!(right.from("10.9.9.9:1").send(&app).await.0, StatusCode::TOO_MANY_REQUESTS);

    // One address guessing many names: the 21st attempt is refused before any password is checked.
    for i in 0..20 {
        let name: &'static str = Box::leak(format!("nobody{i}").into_boxed_str());
        assert_eq!(wrong(name, "10.2.2.2:6000").send(&app).await.0, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(wrong("fresh-name", "10.2.2.2:6001").send(&app).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(wrong("fresh-name", "10.3.3.3:6000").send(&app).await.0, StatusCode::UNAUTHORIZED, "another address is not limited");
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_same_origin_ones_work() {
    let app = signed_out_app().await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let board = serde_json::to_value(sightline_server::boards::templates::default_board()).unwrap();
    let post = || req(Method::POST, "/api/v1/boards").cookie(&admin).json(board.clone());
    let (s, _, v) = post().header(header::ORIGIN, "https://evil.example").send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"].as_str().unwrap().contains("cross-site"), "{v}");
    let (s, _, v) = post().without(header::ORIGIN).header(header::REFERER, "https://evil.example/page").send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _, v) = post().without(header::ORIGIN).send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a cookie without Origin or Referer: {v}");
    assert_eq!(post().send(&app).await.0, StatusCode::CREATED);
    assert_eq!(post().without(header::ORIGIN).header(header::REFERER, format!("{ORIGIN}/boards")).send(&app).await.0, StatusCode::CREATED);
    // Reading is never refused for its Origin (a cross-site page cannot read the answer anyway).
    assert_eq!(req(Method::GET, "/api/v1/boards").cookie(&admin).header(header::ORIGIN, "https://evil.example").send(&app).await.0, StatusCode::OK);
    // A bearer token is not sent by browsers on their own: no Origin needed.
    let (_, _, t) = req(Method::POST, "/api/v1/tokens").cookie(&admin).json(json!({"name": "ci", "scope": "editor"})).send(&app).await;
    let bearer = format!("Bearer {}", t["secret"].as_str().unwrap());
    let (s, _, _) = req(Method::POST, "/api/v1/boards").without(header::ORIGIN).header(header::AUTHORIZATION, bearer).json(board.clone()).send(&app).await;
    assert_eq!(s, StatusCode::CREATED);
    // Signing in from another site is refused too (no signing a victim into an attacker's account).
    let (s, _, _) = req(Method::POST, "/api/v1/auth/sign-in")
        .header(header::ORIGIN, "https://evil.example")
        .json(json!({"name": "admin", "password": TEST_ADMIN_PASSWORD}))
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_and_secure_behind_https() {
    let app = signed_out_app().await;
    let (s, h, me) = req(Method::POST, "/api/v1/auth/sign-in").json(json!({"name": "admin", "password": TEST_ADMIN_PASSWORD})).send(&app).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((me["via"].as_str(), me["name"].as_str(), me["role"].as_str()), (Some("session"), Some("admin"), Some("admin")));
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with("sightline_session=") && attrs[0].len() > 60, "{set}");
    for a in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&a), "{a} missing in {set}");
    }
    assert!(!attrs.contains(&"Secure"), "plain HTTP: {set}");
    // Behind a trusted proxy that speaks HTTPS the cookie is Secure.
    let proxied = TestApp::with(|a| {
        a.auto_sign_in = Some(false);
        a.behind_proxy = true;
    })
    .await;
    let (_, h, _) = req(Method::POST, "/api/v1/auth/sign-in")
        .header(header::HeaderName::from_static("x-forwarded-proto"), "https")
        .json(json!({"name": "admin", "password": TEST_ADMIN_PASSWORD}))
        .send(&proxied)
        .await;
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.split(';').any(|a| a.trim() == "Secure"), "{set}");
    // Signing out clears it.
    let cookie = attrs[0];
    let (s, h, _) = req(Method::POST, "/api/v1/auth/sign-out").cookie(cookie).send(&app).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(h.get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    let (s, _, v) = req(Method::GET, "/api/v1/boards").cookie(cookie).send(&app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_limit() {
    let idle = TestApp::with(|a| {
        a.auto_sign_in = Some(false);
        a.session_idle_secs = 1;
    })
    .await;
    let c = sign_in(&idle, "admin", TEST_ADMIN_PASSWORD).await;
    // In use (a request every 100 ms), it outlives its idle limit several times over.
    let busy_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < busy_until {
        assert_eq!(req(Method::GET, "/api/v1/boards").cookie(&c).send(&idle).await.0, StatusCode::OK, "a session in use");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Idle means no request at all (polling with the cookie would keep it alive): wait out the idle limit
    // from the last request, which the server cannot have seen later than now.
    let last_use = Instant::now();
    tokio::time::sleep_until((last_use + Duration::from_millis(1100)).into()).await;
    let (s, _, me) = req(Method::GET, "/api/v1/auth/me").cookie(&c).send(&idle).await;
    assert_eq!((s, me["via"].as_str()), (StatusCode::OK, Some("anonymous")));
    let (s, _, v) = req(Method::GET, "/api/v1/boards").cookie(&c).send(&idle).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "your session has ended: sign in again");

    // Used all the time, a session still ends at its absolute limit.
    let max = TestApp::with(|a| {
        a.auto_sign_in = Some(false);
        a.session_max_secs = 2;
    })
    .await;
    let c = sign_in(&max, "admin", TEST_ADMIN_PASSWORD).await;
    let started = Instant::now();
    eventually(10, "the session reaches its absolute limit", || async {
        req(Method::GET, "/api/v1/boards").cookie(&c).send(&max).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(1500), "ended early: {:?}", started.elapsed());
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_user_only() {
    let app = signed_out_app().await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    add_user(&app, &admin, "ann", "editor").await;
    let laptop = sign_in(&app, "ann", "ann-password").await;
    let phone = sign_in(&app, "ann", "ann-password").await;
    assert_ne!(laptop, phone);
    for c in [&laptop, &phone] {
        assert_eq!(req(Method::GET, "/api/v1/boards").cookie(c).send(&app).await.0, StatusCode::OK);
    }
    assert_eq!(req(Method::POST, "/api/v1/auth/sign-out-everywhere").cookie(&phone).send(&app).await.0, StatusCode::NO_CONTENT);
    for c in [&laptop, &phone] {
        assert_eq!(req(Method::GET, "/api/v1/boards").cookie(c).send(&app).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(req(Method::GET, "/api/v1/users").cookie(&admin).send(&app).await.0, StatusCode::OK, "other users stay signed in");
    // Changing a password ends the user's sessions as well; the new one works, the old one does not.
    let again = sign_in(&app, "ann", "ann-password").await;
    let (s, _, v) = req(Method::PUT, "/api/v1/users/ann").cookie(&admin).json(json!({"password": "a-new-password"})).send(&app).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(req(Method::GET, "/api/v1/boards").cookie(&again).send(&app).await.0, StatusCode::UNAUTHORIZED);
    sign_in(&app, "ann", "a-new-password").await;
    let (s, _, _) = req(Method::POST, "/api/v1/auth/sign-in").json(json!({"name": "ann", "password": "ann-password"})).send(&app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_decide_and_the_last_admin_stays() {
    let app = signed_out_app().await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    add_user(&app, &admin, "vic", "viewer").await;
    let vic = sign_in(&app, "vic", "vic-password").await;
    let board = a_board(&app, &admin, "Shared").await;
    let (s, _, mut b) = req(Method::GET, &format!("/api/v1/boards/{board}")).cookie(&vic).send(&app).await;
    assert_eq!(s, StatusCode::OK);
    b["title"] = json!("Changed by a viewer");
    let (s, _, v) = req(Method::PUT, &format!("/api/v1/boards/{board}")).cookie(&vic).json(b.clone()).send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a crafted PUT by a viewer: {v}");
    // Promoted to editor, the same save works and the history names the author.
    let (s, _, _) = req(Method::PUT, "/api/v1/users/vic").cookie(&admin).json(json!({"role": "editor"})).send(&app).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, saved) = req(Method::PUT, &format!("/api/v1/boards/{board}")).cookie(&vic).json(b).send(&app).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["author"], "vic");
    let (_, _, hist) = req(Method::GET, &format!("/api/v1/boards/{board}/versions")).cookie(&vic).send(&app).await;
    let authors: Vec<&str> = hist["versions"].as_array().unwrap().iter().map(|v| v["author"].as_str().unwrap()).collect();
    assert_eq!(authors, ["vic", "admin"]);
    // The only admin cannot be removed or demoted.
    let (s, _, v) = req(Method::DELETE, "/api/v1/users/admin").cookie(&admin).send(&app).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _, _) = req(Method::PUT, "/api/v1/users/admin").cookie(&admin).json(json!({"role": "viewer"})).send(&app).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The audit log says who did what.
    let (_, _, log) = req(Method::GET, "/api/v1/audit").cookie(&admin).send(&app).await;
    let actions: Vec<String> = log["entries"].as_array().unwrap().iter().map(|e| format!("{} {} {}", e["who"].as_str().unwrap(), e["action"].as_str().unwrap(), e["target"].as_str().unwrap())).collect();
    assert!(actions.contains(&"admin user.update vic".to_string()), "{actions:?}");
    assert!(actions.contains(&"admin user.create vic".to_string()), "{actions:?}");
}

#[tokio::test]
async fn an_ingest_token_sends_traces_and_nothing_else_and_the_old_token_still_works() {
    let app = TestApp::with(|a| {
        a.auto_sign_in = Some(false);
        a.ingest_token = Some("old-shared-token".into());
    })
    .await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let (s, _, t) = req(Method::POST, "/api/v1/tokens").cookie(&admin).json(json!({"name": "collector", "scope": "ingest"})).send(&app).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let secret = t["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("slt_"));
    let now = now_ms();
    let body = proto(&request("svc", vec![server_span(1, 1, "GET /", now, 1.0)]));
    let export = |auth: Option<String>| {
        let mut b = Request::post("/v1/traces").header("content-type", "application/x-protobuf");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::from(body.clone())).unwrap()
    };
    assert_eq!(app.send(export(Some(format!("Bearer {secret}")))).await.0, StatusCode::OK);
    assert_eq!(app.send(export(Some("Bearer old-shared-token".into()))).await.0, StatusCode::OK, "the deprecated token");
    assert_eq!(app.send(export(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(export(Some("Bearer slt_0000".into()))).await.0, StatusCode::UNAUTHORIZED);
    for (method, uri) in [(Method::GET, "/api/v1/boards"), (Method::GET, "/api/v1/services"), (Method::POST, "/api/v1/boards"), (Method::GET, "/api/v1/users")] {
        for token in [secret.as_str(), "old-shared-token"] {
            let (s, _, v) = req(method.clone(), uri).header(header::AUTHORIZATION, format!("Bearer {token}")).json(json!({})).send(&app).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri}: {v}");
        }
    }
    // Listed with its last use, never with the secret; revoked, it stops working at once.
    let (_, _, list) = req(Method::GET, "/api/v1/tokens").cookie(&admin).send(&app).await;
    let listed = &list["tokens"][0];
    assert_eq!((listed["name"].as_str(), listed["scope"].as_str()), (Some("collector"), Some("ingest")));
    assert!(listed["last_used_ms"].as_i64().unwrap() >= now);
    assert!(!list.to_string().contains(&secret[4..]));
    let id = listed["id"].as_str().unwrap();
    assert_eq!(req(Method::DELETE, &format!("/api/v1/tokens/{id}")).cookie(&admin).send(&app).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.send(export(Some(format!("Bearer {secret}")))).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_share_link_reads_its_board_only_until_revoked_or_expired() {
    let app = signed_out_app().await;
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let a = a_board(&app, &admin, "A").await;
    let b = a_board(&app, &admin, "B").await;
    let (s, _, link) = req(Method::POST, &format!("/api/v1/boards/{a}/share")).cookie(&admin).send(&app).await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let token = link["token"].as_str().unwrap().to_string();
    assert_eq!(link["path"], format!("/boards/{a}?share={token}"));
    let share = format!("Share {token}");
    let get = |uri: String| req(Method::GET, Box::leak(uri.into_boxed_str())).header(header::AUTHORIZATION, share.clone());
    assert_eq!(get(format!("/api/v1/boards/{a}")).send(&app).await.0, StatusCode::OK);
    let now = now_ms();
    assert_eq!(get(format!("/api/v1/metrics/query?metric=transactions.tps&from={}&to={now}", now - 60_000)).send(&app).await.0, StatusCode::OK);
    let (_, _, me) = get("/api/v1/auth/me".into()).send(&app).await;
    assert_eq!((me["via"].as_str(), me["share_board"].as_str()), (Some("share"), Some(a.as_str())));
    for uri in [format!("/api/v1/boards/{b}"), "/api/v1/boards".into(), format!("/api/v1/boards/{a}/versions"), "/api/v1/transactions".into()] {
        let (s, _, v) = get(uri.clone()).send(&app).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}: {v}");
    }
    let (s, _, v) = req(Method::PUT, Box::leak(format!("/api/v1/boards/{a}").into_boxed_str())).header(header::AUTHORIZATION, share.clone()).json(json!({})).send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A tampered link (another board's id in it) is not a link at all.
    let forged = format!("Share {}", token.replace(&a, &b));
    let (s, _, _) = req(Method::GET, Box::leak(format!("/api/v1/boards/{b}").into_boxed_str())).header(header::AUTHORIZATION, forged).send(&app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Revoked: refused at once.
    let (_, _, list) = req(Method::GET, Box::leak(format!("/api/v1/boards/{a}/shares").into_boxed_str())).cookie(&admin).send(&app).await;
    let id = list["shares"][0]["id"].as_str().unwrap().to_string();
    assert!(!list.to_string().contains(&token), "the list never shows the token");
    assert_eq!(req(Method::DELETE, Box::leak(format!("/api/v1/shares/{id}").into_boxed_str())).cookie(&admin).send(&app).await.0, StatusCode::NO_CONTENT);
    let (s, _, v) = get(format!("/api/v1/boards/{a}")).send(&app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    // Expired: refused once its time is up.
    let (_, _, short) = req(Method::POST, Box::leak(format!("/api/v1/boards/{a}/share").into_boxed_str())).cookie(&admin).json(json!({"expires_in_secs": 1})).send(&app).await;
    let short = format!("Share {}", short["token"].as_str().unwrap());
    let uri = format!("/api/v1/boards/{a}");
    assert_eq!(req(Method::GET, &uri).header(header::AUTHORIZATION, short.clone()).send(&app).await.0, StatusCode::OK);
    eventually(10, "the link expires", || async {
        req(Method::GET, &uri).header(header::AUTHORIZATION, short.clone()).send(&app).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test]
async fn anonymous_viewers_read_when_an_admin_says_so() {
    let app = signed_out_app().await;
    let (s, _, me) = req(Method::GET, "/api/v1/auth/me").send(&app).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((me["via"].as_str(), me["anonymous_viewers"].as_bool()), (Some("anonymous"), Some(false)));
    assert!(me["role"].is_null());
    assert_eq!(req(Method::GET, "/api/v1/boards").send(&app).await.0, StatusCode::UNAUTHORIZED);
    // Public: health, and the JSON 404 of paths that are no route (not a 401 that would hint they exist).
    assert_eq!(req(Method::GET, "/api/v1/health").send(&app).await.0, StatusCode::OK);
    for uri in ["/api/v1/no-such-thing", "/api/v1/no/such/thing", "/api/v2/x"] {
        let (s, _, v) = req(Method::GET, uri).send(&app).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}: {v}");
    }
    let admin = sign_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let (s, _, v) = req(Method::PUT, "/api/v1/settings").cookie(&admin).json(json!({"anonymous_viewers": true})).send(&app).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(req(Method::GET, "/api/v1/boards").send(&app).await.0, StatusCode::OK);
    let (_, _, me) = req(Method::GET, "/api/v1/auth/me").send(&app).await;
    assert_eq!(me["role"], "viewer");
    let (s, _, _) = req(Method::POST, "/api/v1/boards").json(json!({})).send(&app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "reading, never changing");
    assert_eq!(req(Method::GET, "/api/v1/users").send(&app).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auto_sign_in_is_the_demo_admin_and_never_on_a_network_address() {
    let app = TestApp::new().await;
    let (_, _, me) = req(Method::GET, "/api/v1/auth/me").send(&app).await;
    assert_eq!((me["via"].as_str(), me["name"].as_str(), me["role"].as_str()), (Some("demo"), Some("demo"), Some("admin")));
    let board = a_board(&app, "x=y", "By the demo").await;
    let (_, _, hist) = req(Method::GET, Box::leak(format!("/api/v1/boards/{board}/versions").into_boxed_str())).send(&app).await;
    assert_eq!(hist["versions"][0]["author"], "demo");
    // A foreign page cannot use the demo admin either.
    let (s, _, _) = req(Method::POST, "/api/v1/boards").header(header::ORIGIN, "https://evil.example").json(json!({})).send(&app).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let dir = tempfile::tempdir().unwrap();
    let mut args = sightline_server::config::ServeArgs::for_tests(dir.path());
    args.addr = "0.0.0.0:8080".parse().unwrap();
    let err = sightline_server::auth::AuthConfig::from_args(&args).unwrap_err().to_string();
    assert!(err.contains("loopback"), "{err}");
    args.auto_sign_in = None;
    args.demo = true;
    assert!(!sightline_server::auth::AuthConfig::from_args(&args).unwrap().auto_sign_in, "--demo on the network: off");
    args.addr = "127.0.0.1:8080".parse().unwrap();
    assert!(sightline_server::auth::AuthConfig::from_args(&args).unwrap().auto_sign_in, "--demo on loopback: on");
}
