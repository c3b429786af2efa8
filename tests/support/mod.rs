//! End-to-end harness: the real `sightline` binary serving the real built app, driven by real headless
//! Chromium through ChromeDriver. `cargo xtask test` builds both and sets the paths below.
#![allow(dead_code)]

pub mod auth;
pub mod demo;
pub mod input;
pub mod otlp;
pub mod receiver;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// Longest wait for anything the UI should show.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An unused TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `sightline serve`, killed on drop.
pub struct Server {
    pub port: u16,
    pub data_dir: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(&[]).await
    }

    /// Starts the binary with extra `serve` arguments on a fresh port and data directory.
    pub async fn start_with(extra: &[&str]) -> Server {
        let mut s = Server {
            port: free_port(),
            data_dir: tempfile::tempdir().unwrap(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn().await;
        s
    }

    fn bin() -> PathBuf {
        std::env::var_os("SIGHTLINE_BIN").map(PathBuf::from).unwrap_or_else(|| repo().join("target/debug/sightline"))
    }

    fn dist() -> PathBuf {
        let d = std::env::var_os("SIGHTLINE_DIST").map(PathBuf::from).unwrap_or_else(|| repo().join("dist"));
        assert!(d.join("index.html").is_file(), "the app is not built at {} (run `cargo xtask test`)", d.display());
        d
    }

    /// (Re)starts the process on the same port and data directory.
    pub async fn spawn(&mut self) {
        let bin = Self::bin();
        assert!(bin.is_file(), "server binary missing at {} (run `cargo xtask test`)", bin.display());
        let child = Command::new(bin)
            .args(["serve", "--addr", &format!("127.0.0.1:{}", self.port), "--data-dir"])
            .arg(self.data_dir.path())
            .arg("--dist")
            .arg(Self::dist())
            .args(&self.extra)
            // Sign-in (issue 10): requests without credentials act as the demo admin, as before sign-in
            // existed, unless the test says otherwise (`--auto-sign-in=false`; `--demo` decides by itself).
            .args(self.extra.iter().all(|a| !a.starts_with("--auto-sign-in") && a != "--demo").then_some("--auto-sign-in"))
            // Browser tests run servers side by side: none takes the OTLP/gRPC default port 4317.
            .args(self.extra.iter().all(|a| !a.starts_with("--otlp-grpc-addr")).then_some("--otlp-grpc-addr="))
            .env("SIGHTLINE_ADMIN_PASSWORD", auth::ADMIN_PASSWORD)
            .env("SIGHTLINE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start sightline");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(self.url("/api/v1/health")).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("sightline did not become healthy on port {}", self.port);
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A ChromeDriver process and one headless Chromium session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Chromium's profile (~100 MB once used): deleted when the browser is, after the driver is gone.
    profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let profile = tempfile::tempdir().unwrap();
        let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("http://127.0.0.1:{port}");
        loop {
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Browser { client, driver, profile },
                Err(e) if Instant::now() > deadline => panic!("cannot start a Chromium session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Waits until `css` matches an element and returns it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {UI_TIMEOUT:?}: {e}"))
    }

    /// Waits until the element's text satisfies `pred`; returns the text.
    pub async fn wait_text(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if pred(&t) {
                        return t;
                    }
                    last = t;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("text of `{css}` never matched; last seen: {last:?}");
    }

    /// Waits until a JavaScript expression is truthy.
    pub async fn wait_js(&self, expr: &str) {
        self.wait_js_within(expr, UI_TIMEOUT).await
    }

    /// Waits until a JavaScript expression is truthy, at most `timeout` (for what takes longer than the
    /// UI should, e.g. a collector's first samples).
    pub async fn wait_js_within(&self, expr: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(v) = self.client.execute(&format!("return !!({expr});"), vec![]).await {
                if v.as_bool() == Some(true) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{expr}` never became true");
    }

    /// Runs JavaScript and returns its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Whether an element matching `css` exists right now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The page's current URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Ends the Chromium session (so no browser outlives its test), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Drags with the (left) mouse from one point to another, both in CSS px relative to the top-left
    /// corner of the element matching `css`: real pointer events, as a user's drag.
    pub async fn drag(&self, css: &str, from: (f64, f64), to: (f64, f64)) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let rect = self.js(&format!("const r = document.querySelector('{css}').getBoundingClientRect(); return [r.left, r.top];")).await;
        let (left, top) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        let step = Some(Duration::from_millis(120));
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo { duration: None, x: (left + from.0).round(), y: (top + from.1).round() })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::MoveTo { duration: step, x: (left + (from.0 + to.0) / 2.0).round(), y: (top + (from.1 + to.1) / 2.0).round() })
            .then(PointerAction::MoveTo { duration: step, x: (left + to.0).round(), y: (top + to.1).round() })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(mouse).await.expect("drag");
        let _ = self.client.release_actions().await;
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
