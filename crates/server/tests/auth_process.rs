//! Sign-in against the real `sightline` binary, where a real process matters: the first admin's password
//! printed once and working after a restart, secrets kept out of the log and of every answer, the `user`
//! command line, and HTTPS with `Secure` cookies.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use sha2::Digest;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Every answer of a scripted session, for checking what leaked into it.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    /// Sends; records status, headers and body (unless `secret_by_design`: the one answer that must carry
    /// a new secret); answers (status, Set-Cookie pair, JSON body).
    async fn send(&mut self, rb: reqwest::RequestBuilder, secret_by_design: bool) -> (u16, Option<String>, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let headers = format!("{:?}", r.headers());
        let body = r.text().await.unwrap();
        if !secret_by_design {
            self.0.push(format!("{status} {headers} {body}"));
        }
        (status, cookie, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

fn sign_in_body(name: &str, password: &str) -> Value {
    json!({"name": name, "password": password})
}

/// The password printed at first start, from the server's stderr.
fn printed_password(log: &str) -> Option<String> {
    log.lines().find_map(|l| l.trim().strip_prefix("password: ")).map(str::to_string)
}

/// Polls `path` until the file holds `what` (the server writes its log as it goes).
fn wait_for_text(path: &Path, what: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(what) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_password_is_printed_once_and_works_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SIGHTLINE_AUTO_SIGN_IN", "false"), ("SIGHTLINE_LOG", "info")];
    let log1 = dir.path().join("first.log");
    let server = Server::start_logging(dir.path(), &env, Some(&log1));
    let first = wait_for_text(&log1, "password: ");
    let password = printed_password(&first).unwrap_or_else(|| panic!("no password printed at first start:\n{first}"));
    assert!(password.len() >= 16, "{password}");
    assert!(first.contains("name: admin"), "{first}");
    let r = client().post(format!("{}/api/v1/auth/sign-in", server.base)).json(&sign_in_body("admin", &password)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    server.stop();

    let log2 = dir.path().join("second.log");
    let server = Server::start_logging(dir.path(), &env, Some(&log2));
    let r = client().post(format!("{}/api/v1/auth/sign-in", server.base)).json(&sign_in_body("admin", &password)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the printed password after a restart");
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    // A session survives the restart too.
    let r = client().get(format!("{}/api/v1/users", server.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let second = std::fs::read_to_string(&log2).unwrap();
    assert!(printed_password(&second).is_none() && !second.contains(&password), "a second start printed a password:\n{second}");
    // Without credentials nothing is readable on a server without auto sign-in.
    let r = client().get(format!("{}/api/v1/boards", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// A scripted session touching every kind of secret; none of them may appear in the server's log (at
/// debug level) or in any answer other than the one that hands it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log_or_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let admin_pw = "admin-pw-7f3a9c21";
    let ann_pw = "ann-pw-91be44d0";
    let env = [("SIGHTLINE_AUTO_SIGN_IN", "false"), ("SIGHTLINE_LOG", "debug"), ("SIGHTLINE_ADMIN_PASSWORD", admin_pw)];
    let server = Server::start_logging(dir.path(), &env, Some(&log));
    let base = server.base.clone();
    let c = client();
    let mut t = Transcript::default();
    let post = |path: &str| c.post(format!("{base}{path}")).header("origin", &base);
    let get = |path: &str| c.get(format!("{base}{path}"));

    let (s, admin, _) = t.send(post("/api/v1/auth/sign-in").json(&sign_in_body("admin", admin_pw)), true).await;
    assert_eq!(s, 200);
    let admin = admin.unwrap();
    let (s, _, _) = t.send(post("/api/v1/users").header("cookie", &admin).json(&json!({"name": "ann", "role": "editor", "password": ann_pw})), false).await;
    assert_eq!(s, 201);
    let (_, ann, _) = t.send(post("/api/v1/auth/sign-in").json(&sign_in_body("ann", ann_pw)), true).await;
    let ann = ann.unwrap();
    let (s, _, _) = t.send(post("/api/v1/auth/sign-in").json(&sign_in_body("ann", "wrong-password")), false).await;
    assert_eq!(s, 401);
    let (_, _, ingest) = t.send(post("/api/v1/tokens").header("cookie", &admin).json(&json!({"name": "otel", "scope": "ingest"})), true).await;
    let ingest = ingest["secret"].as_str().unwrap().to_string();
    let (_, _, editor) = t.send(post("/api/v1/tokens").header("cookie", &admin).json(&json!({"name": "ci", "scope": "editor"})), true).await;
    let editor = editor["secret"].as_str().unwrap().to_string();
    let spans = proto(&request("svc", vec![server_span(1, 1, "GET /", now_ms(), 1.0)]));
    let (s, _, _) = t
        .send(c.post(format!("{base}/v1/traces")).bearer_auth(&ingest).header("content-type", "application/x-protobuf").body(spans), false)
        .await;
    assert_eq!(s, 200);
    let (_, _, boards) = t.send(get("/api/v1/boards").bearer_auth(&editor), false).await;
    let board = boards["boards"][0]["id"].as_str().unwrap().to_string();
    let (_, _, link) = t.send(post(&format!("/api/v1/boards/{board}/share")).header("cookie", &ann), true).await;
    let link = link["token"].as_str().unwrap().to_string();
    let (s, _, _) = t.send(get(&format!("/api/v1/boards/{board}")).header("authorization", format!("Share {link}")), false).await;
    assert_eq!(s, 200);
    // The app's own URL with the link in its query, as a browser opens it.
    t.send(get(&format!("/boards/{board}?share={link}")), false).await;
    for path in ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit", "/api/v1/auth/me", "/api/v1/settings", &format!("/api/v1/boards/{board}/shares")] {
        let (s, _, _) = t.send(get(path).header("cookie", &admin), false).await;
        assert_eq!(s, 200, "{path}");
    }
    t.send(post("/api/v1/auth/sign-out-everywhere").header("cookie", &ann), false).await;
    server.stop();

    let session_id = |pair: &str| pair.split_once('=').unwrap().1.to_string();
    let mut secrets: Vec<(String, String)> = [
        ("admin password", admin_pw.to_string()),
        ("ann's password", ann_pw.to_string()),
        ("admin's session id", session_id(&admin)),
        ("ann's session id", session_id(&ann)),
        ("admin's session hash", const_hex::encode(sha2::Sha256::digest(session_id(&admin).as_bytes()))),
        ("ingest token", ingest.clone()),
        ("ingest token body", ingest["slt_".len()..].to_string()),
        ("editor token", editor.clone()),
        ("share link signature", link.rsplit('.').next().unwrap().to_string()),
        ("argon2 hash", "$argon2".into()),
    ]
    .into_iter()
    .map(|(what, s)| (what.to_string(), s))
    .collect();
    secrets.extend(stored_secrets(&dir.path().join("auth")).await);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("signed in"), "the log was captured at debug level:\n{log_text}");
    let plain = strip_ansi(&log_text);
    assert!(plain.contains(&format!("path=/boards/{board}}}")), "requests are logged, by path:\n{plain}");
    for (what, secret) in &secrets {
        assert!(!plain.contains(secret.as_str()), "the {what} is in the server's log");
        for answer in &t.0 {
            assert!(!answer.contains(secret.as_str()), "the {what} is in an answer: {answer}");
        }
    }
}

/// The log without its colour codes (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// What the auth database holds that must stay secret (read after the server stopped): password hashes,
/// token hashes, the share-link key.
async fn stored_secrets(auth_dir: &Path) -> Vec<(String, String)> {
    let auth_dir = auth_dir.to_path_buf();
    let (snapshot, share_key) = tokio::task::spawn_blocking(move || {
        sightline_server::blocking::allow(|| {
            let db = sightline_server::auth::store::AuthDb::open(&auth_dir).unwrap();
            (db.load().unwrap(), db.share_secret().unwrap())
        })
    })
    .await
    .unwrap();
    assert!(snapshot.tokens.len() == 2 && snapshot.users.len() == 2);
    // Last use is kept in memory and saved at shutdown (SIGTERM) at the latest.
    assert!(snapshot.tokens.iter().all(|t| t.last_used_ms.is_some()), "{:?}", snapshot.tokens.iter().map(|t| t.last_used_ms).collect::<Vec<_>>());
    let mut out = vec![("share key".to_string(), const_hex::encode(share_key))];
    out.extend(snapshot.users.iter().map(|u| ("a password hash".to_string(), u.phc.clone())));
    out.extend(snapshot.tokens.iter().map(|t| ("a token hash".to_string(), t.hash.clone())));
    out
}

fn sightline(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("user")
        .args(args)
        .env("SIGHTLINE_DATA_DIR", data_dir)
        .env("SIGHTLINE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_on_the_command_line_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out) = sightline(d, &["add", "bob", "--role", "editor", "--password-stdin"], Some("bob-password\n"));
    assert!(ok, "{out}");
    assert!(out.contains("added user bob (editor)"), "{out}");
    let (ok, out) = sightline(d, &["add", "root", "--role", "admin"], None);
    assert!(ok, "{out}");
    let root_pw = printed_password(&out).unwrap_or_else(|| panic!("no generated password: {out}"));
    let (ok, out) = sightline(d, &["set-role", "bob", "viewer"], None);
    assert!(ok && out.contains("bob is now viewer"), "{out}");
    let (ok, out) = sightline(d, &["add", "bob", "--role", "admin", "--password-stdin"], Some("another-password\n"));
    assert!(!ok && out.contains("already a user"), "{out}");
    let (ok, out) = sightline(d, &["list"], None);
    assert!(ok, "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["bob", "viewer"]), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["root", "admin"]), "{out}");

    // Users existed before the first start: no `admin` is made, nothing is printed.
    let log = d.join("server.log");
    let server = Server::start_logging(d, &[("SIGHTLINE_AUTO_SIGN_IN", "false")], Some(&log));
    let sign_in = |name: &'static str, pw: String| {
        let base = server.base.clone();
        async move { client().post(format!("{base}/api/v1/auth/sign-in")).json(&sign_in_body(name, &pw)).send().await.unwrap() }
    };
    let me: Value = sign_in("bob", "bob-password".into()).await.json().await.unwrap();
    assert_eq!(me["role"], "viewer");
    assert_eq!(sign_in("root", root_pw.clone()).await.status(), 200);
    assert_eq!(sign_in("admin", "anything-at-all".into()).await.status(), 401);
    // While the server holds the database the command line says what to do instead.
    let (ok, out) = sightline(d, &["list"], None);
    assert!(!ok && out.contains("stop the server") && out.contains("users page"), "{out}");
    server.stop();
    assert!(printed_password(&std::fs::read_to_string(&log).unwrap()).is_none());

    let (ok, out) = sightline(d, &["passwd", "bob"], None);
    assert!(ok, "{out}");
    let new_pw = printed_password(&out).unwrap();
    let (ok, out) = sightline(d, &["remove", "root"], None);
    assert!(!ok && out.contains("last admin"), "{out}");
    let server = Server::start(d, &[("SIGHTLINE_AUTO_SIGN_IN", "false")]);
    let base = server.base.clone();
    let r = client().post(format!("{base}/api/v1/auth/sign-in")).json(&sign_in_body("bob", &new_pw)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client().post(format!("{base}/api/v1/auth/sign-in")).json(&sign_in_body("bob", "bob-password")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    server.stop();
    let (ok, out) = sightline(d, &["remove", "bob"], None);
    assert!(ok && out.contains("removed user bob"), "{out}");
}

/// One HTTP/1.1 request over TLS, trusting `ca_pem`; answers the response head and body as text.
async fn https(port: u16, ca_pem: &str, request: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut out)).await.unwrap().ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_session_cookie_is_secure() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("SIGHTLINE_AUTO_SIGN_IN", "false"),
            ("SIGHTLINE_ADMIN_PASSWORD", "tls-admin-password"),
            ("SIGHTLINE_TLS_CERT", cert_path.to_str().unwrap()),
            ("SIGHTLINE_TLS_KEY", key_path.to_str().unwrap()),
        ],
    );
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let body = sign_in_body("admin", "tls-admin-password").to_string();
    let answer = https(
        port,
        &ca,
        &format!(
            "POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: https://localhost:{port}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_else(|| panic!("{answer}"));
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // Plain HTTP on the TLS port gets no answer a browser would take.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/health")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
