//! Sign-in for the browser tests: a server that asks everyone to sign in, users made through the API as
//! an admin would, and signing a browser in through the sign-in page.

use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{json, Value};

use super::{Browser, Server};

/// The first admin's password on every test server (`SIGHTLINE_ADMIN_PASSWORD`); the admin is `admin`.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

impl Server {
    /// A server without auto sign-in: the app shows its sign-in page until someone signs in.
    pub async fn start_signed_out(extra: &[&str]) -> Server {
        let mut args = vec!["--auto-sign-in=false"];
        args.extend_from_slice(extra);
        Server::start_with(&args).await
    }
}

/// A signed-in API client with its own session cookie, sending `Origin` on writes as a browser does.
pub struct ApiSession {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

impl ApiSession {
    /// Signs in as `name`; panics with the server's answer if that fails.
    pub async fn sign_in(server: &Server, name: &str, password: &str) -> ApiSession {
        let client = reqwest::Client::new();
        let base = server.url("");
        let r = client
            .post(server.url("/api/v1/auth/sign-in"))
            .header(ORIGIN, &base)
            .json(&json!({"name": name, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let cookie = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|c| c.starts_with("sightline_session=")).map(str::to_string));
        match cookie {
            Some(cookie) => ApiSession { base, cookie, client },
            None => panic!("sign-in as {name} answered {status}: {}", r.text().await.unwrap_or_default()),
        }
    }

    /// The first admin, signed in.
    pub async fn admin(server: &Server) -> ApiSession {
        Self::sign_in(server, "admin", ADMIN_PASSWORD).await
    }

    /// Sends `method path` with the session (and `body` as JSON); answers the status and the JSON body
    /// (`null` when there is none).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header(COOKIE, &self.cookie).header(ORIGIN, &self.base);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like [`send`](Self::send), and panics unless the answer is a success.
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.send(method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    /// Adds a user with a role and password.
    pub async fn add_user(&self, name: &str, role: &str, password: &str) {
        self.ok(reqwest::Method::POST, "/api/v1/users", Some(json!({"name": name, "role": role, "password": password}))).await;
    }

    /// Creates a board from the first template under `title`; answers its id.
    pub async fn add_board(&self, title: &str) -> String {
        let templates = self.ok(reqwest::Method::GET, "/api/v1/boards/templates", None).await;
        let mut board = templates[0].clone();
        board["id"] = json!("");
        board["title"] = json!(title);
        let created = self.ok(reqwest::Method::POST, "/api/v1/boards", Some(board)).await;
        created["id"].as_str().unwrap().to_string()
    }
}

impl Browser {
    /// Opens `path`, which must land on the sign-in page, and signs in there; waits until the app has left
    /// the sign-in page.
    pub async fn sign_in_at(&self, server: &Server, path: &str, name: &str, password: &str) {
        self.client.goto(&server.url(path)).await.unwrap();
        self.submit_sign_in(name, password).await;
        self.wait_js("location.pathname !== '/sign-in'").await;
    }

    /// Fills in the sign-in form (already on screen) and sends it.
    pub async fn submit_sign_in(&self, name: &str, password: &str) {
        let n = self.find("[data-testid=sign-in-name]").await;
        n.clear().await.unwrap();
        n.send_keys(name).await.unwrap();
        let p = self.find("[data-testid=sign-in-password]").await;
        p.clear().await.unwrap();
        p.send_keys(password).await.unwrap();
        self.find("[data-testid=sign-in-submit]").await.click().await.unwrap();
    }

    /// Runs `fetch(path, init)` in the page (with its cookie, as the app would) and answers the status.
    pub async fn fetch_status(&self, path: &str, init: Value) -> u16 {
        let script = "const [path, init, done] = arguments; fetch(path, init).then(r => done(r.status), e => done(String(e)));";
        let v = self.client.execute_async(script, vec![json!(path), init]).await.unwrap();
        v.as_u64().unwrap_or_else(|| panic!("fetch {path} failed: {v}")) as u16
    }
}
