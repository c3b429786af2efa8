//! Makes the screenshots in docs/ from the real app with the demo workload: `cargo xtask screenshots`
//! (optionally with the name of one set: `apm`, `boards`, `servers`, `errors`, `cube`).
//!
//! Not a test: it asserts nothing about the app. It waits for what each picture needs (the demo's
//! backfill stored, every widget drawn, the collector's history long enough), each wait with a deadline,
//! and fails when a deadline passes.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main]
async fn main() {
    let only = std::env::args().nth(1);
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if wanted("apm") {
        shots::apm_hitmap_and_trace().await;
    }
    if wanted("boards") {
        shots::flex_board_and_editor().await;
    }
    if wanted("servers") {
        shots::servers_page().await;
    }
    if wanted("errors") || wanted("cube") {
        shots::errors_and_cube(wanted("errors"), wanted("cube")).await;
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod shots {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::support::demo::wait_for_backfill;
    use super::support::{Browser, Server};

    /// Every widget on the page has drawn what it has (data, a number, rows, a note, or its message) and
    /// none is loading.
    const WIDGETS_DRAWN: &str = "(() => { const ws = [...document.querySelectorAll('[data-testid=widget]')]; return ws.length > 0 && ws.every(w => !w.querySelector('.widget-progress.on') && w.querySelector('[data-series]:not([data-series=\"0\"]), [data-testid=single-number-value], [data-testid=top-n-row], canvas[data-grid], [data-testid=widget-text], [data-testid=widget-error], [data-testid=db-widget-active], [data-testid=process-row], .widget-msg:not(.muted)')); })()";

    fn docs() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
    }

    /// Until the browser has painted twice since now: what the DOM shows is on the canvas too.
    async fn painted(b: &Browser) {
        b.js("window.__painted = false; requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = true; }));").await;
        b.wait_js("window.__painted === true && !document.querySelector('[data-testid=loading].active')").await;
    }

    pub async fn apm_hitmap_and_trace() {
        let server = Server::start_with(&["--demo"]).await;
        wait_for_backfill(&server).await;
        let b = Browser::start().await;
        b.client.goto(&server.url("/apm?range=15m")).await.unwrap();
        b.wait_text("[data-testid=stream-state]", |t| t == "streaming").await;
        b.wait_js("document.querySelector('[data-testid=hitmap-canvas]')?.dataset.grid && document.querySelector('[data-testid=service-row]') && document.querySelector('[data-testid=active-panel] table, [data-testid=active-empty]')").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-apm.png")).await;

        // Select the 3 s band (the recharge timeouts) and open the slowest transaction's trace.
        let v = b.js("return document.querySelector('[data-testid=hitmap-canvas]').dataset.plot.split(',').map(Number)").await;
        let (x, y, w, h) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap(), v[3].as_f64().unwrap());
        let y_of = |ms: f64| y + h - ms / 5000.0 * 100.0 * h / 101.0;
        b.drag("[data-testid=hitmap-canvas]", (x + 2.0, y_of(3_300.0)), (x + w - 2.0, y_of(2_800.0))).await;
        b.find("[data-testid=tx-row]").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-selection.png")).await;
        // What's different about that band: the panel scrolled into view, its first value hovered.
        b.find("[data-testid=compare-value]").await;
        b.js("document.querySelector('[data-testid=compare-panel]').scrollIntoView({block: 'start'}); window.scrollBy(0, -8);").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-compare.png")).await;
        b.js("window.scrollTo(0, 0);").await;
        b.find("[data-testid=tx-row]").await.click().await.unwrap();
        b.wait_js("document.querySelectorAll('[data-testid=trace-row]').length > 1").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-trace.png")).await;
        b.close().await;
    }

    pub async fn flex_board_and_editor() {
        let server = Server::start_with(&["--demo"]).await;
        wait_for_backfill(&server).await;
        let b = Browser::start().await;
        // The default board over the demo's backfilled quarter hour.
        b.client.goto(&server.url("/boards/overview?range=15m&live=0")).await.unwrap();
        b.wait_js(WIDGETS_DRAWN).await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-board.png")).await;
        b.find("[data-testid=edit]").await.click().await.unwrap();
        b.find("[data-testid=add-widget]").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-board-edit.png")).await;
        b.find("[data-testid=add-widget]").await.click().await.unwrap();
        b.find("[data-testid=editor-metric]").await;
        b.js("const e = document.querySelector('[data-testid=editor-metric]'); e.value = 'transactions.response_time'; e.dispatchEvent(new Event('change', {bubbles: true}));").await;
        b.find("[data-testid=editor-group-service]").await.click().await.unwrap();
        b.wait_js("document.querySelector('[data-testid=widget-preview] [data-series]')?.dataset.series > 1 && !document.querySelector('[data-testid=widget-preview] .widget-progress.on')").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-board-editor.png")).await;
        b.find("[data-testid=editor-cancel]").await.click().await.unwrap();
        b.find("[data-testid=discard]").await.click().await.unwrap();

        // The Database overview template over the demo PostgreSQL (when its binaries are installed).
        let t: serde_json::Value = reqwest::get(server.url("/api/v1/boards/templates")).await.unwrap().json().await.unwrap();
        let mut db = t.as_array().unwrap().iter().find(|b| b["id"] == "database-overview").unwrap().clone();
        db["id"] = "".into();
        let created: serde_json::Value = reqwest::Client::new().post(server.url("/api/v1/boards")).json(&db).send().await.unwrap().json().await.unwrap();
        b.client.goto(&server.url(&format!("/boards/{}?range=5m&live=0", created["id"].as_str().unwrap()))).await.unwrap();
        b.wait_js(WIDGETS_DRAWN).await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-board-db.png")).await;
        b.client.goto(&server.url("/boards")).await.unwrap();
        b.find("[data-testid=board-row]").await;
        b.find("[data-testid=template-servers]").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-boards.png")).await;
        b.close().await;
    }

    pub async fn servers_page() {
        let server = Server::start_with(&["--host-interval-ms", "1000"]).await;
        let b = Browser::start().await;
        b.client.goto(&server.url("/servers?range=5m")).await.unwrap();
        // A CPU line worth drawing: about fifteen samples (the live range refetches as they come).
        b.wait_js_within("document.querySelector('[data-widget-id=cpu] [data-testid=series-chart]')?.dataset.points >= 15", Duration::from_secs(90)).await;
        b.find("[data-widget-id=processes] [data-testid=process-row]").await.click().await.unwrap();
        b.wait_js("document.querySelectorAll('[data-testid=process-history] [data-series=\"1\"]').length === 2 && !document.querySelector('.widget-progress.on')").await;
        painted(&b).await;
        b.screenshot(&docs().join("screenshot-servers.png")).await;
        b.close().await;
    }

    /// Where the other theme's pictures go: beside the build, to look at, not into docs/.
    fn other_theme_dir() -> PathBuf {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Takes `name` as the browser shows it into docs/, then in the other theme beside the build (named by
    /// its theme) to look at.
    async fn both_themes(b: &Browser, name: &str) {
        painted(b).await;
        b.screenshot(&docs().join(format!("screenshot-{name}.png"))).await;
        // Clicked from script: an open trace drawer covers the top bar.
        const TOGGLE: &str = "document.querySelector('[data-testid=theme-toggle]').click()";
        b.js(TOGGLE).await;
        painted(b).await;
        let theme = b.js("return document.documentElement.dataset.theme").await;
        b.screenshot(&other_theme_dir().join(format!("screenshot-{name}-{}.png", theme.as_str().unwrap_or("other")))).await;
        b.js(TOGGLE).await;
    }

    /// The errors page and the cube over the demo's quarter hour, and a trace opened from the errors page.
    pub async fn errors_and_cube(errors: bool, cube: bool) {
        let server = super::support::demo::start().await;
        let b = Browser::start().await;
        if errors {
            b.client.goto(&server.url("/errors?range=15m&live=0")).await.unwrap();
            b.find("[data-testid=errors-row] [data-testid=errors-sparkline] path").await;
            both_themes(&b, "errors").await;
            b.find("[data-testid=errors-row] [data-testid=error-group-link]").await.click().await.unwrap();
            b.wait_js("document.querySelector('[data-testid=hitmap-canvas]')?.dataset.grid && document.querySelector('[data-testid=tx-row]')").await;
            both_themes(&b, "errors-list").await;
            b.find("[data-testid=tx-row]").await.click().await.unwrap();
            b.find("[data-testid=trace-focus]").await;
            both_themes(&b, "errors-trace").await;
        }
        if cube {
            b.client.goto(&server.url("/cube?range=15m&live=0&group_by=endpoint,status&sort=p95&limit=6")).await.unwrap();
            b.wait_js("document.querySelector('[data-testid=cube-chart] [data-testid=series-chart]')?.dataset.series > 1 && document.querySelector('[data-testid=cube-total]')").await;
            both_themes(&b, "cube").await;
            // The bottom of the pivot ("other" and the totals), to look at.
            b.js("document.querySelector('[data-testid=cube-total]').scrollIntoView({ block: 'end' })").await;
            painted(&b).await;
            b.screenshot(&other_theme_dir().join("screenshot-cube-pivot.png")).await;
        }
        b.close().await;
    }
}
