//! The demo workload (`serve --demo`) as the browser tests and the screenshots use it: started without its
//! PostgreSQL (not needed for transactions), and waited for until its 15-minute backfill is stored.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Server;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A demo server whose backfilled quarter hour is stored.
pub async fn start() -> Server {
    let server = Server::start_with(&["--demo", "--demo-postgres=false"]).await;
    wait_for_backfill(&server).await;
    server
}

/// Until the demo's 15-minute backfill is stored: it runs oldest first and ends with the present minute.
pub async fn wait_for_backfill(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let now = now_ms();
        let url = server.url(&format!("/api/v1/hitmap?from={}&to={now}&cols=15&rows=1&ymax=1000", now - 15 * 60_000));
        let h: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let last_minute: u64 = [28, 29].iter().map(|i| h["ok"][i].as_u64().unwrap_or(0) + h["err"][i].as_u64().unwrap_or(0)).sum();
        if h["total"].as_u64().unwrap_or(0) > 45_000 && last_minute > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "demo backfill did not complete: {h}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// GETs an API path and returns its JSON, failing the test on an error status.
pub async fn api(server: &Server, path: &str) -> serde_json::Value {
    let r = reqwest::get(server.url(path)).await.unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}
