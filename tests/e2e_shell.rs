//! The app shell in real headless Chromium against the real server: loading, navigation, the time range
//! in the URL across reloads, unknown routes, theme, and a server that goes away and comes back.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::json;
use support::{Browser, Server};

#[tokio::test(flavor = "multi_thread")]
async fn app_loads_and_navigates_between_pages_keeping_the_range() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/")).await.unwrap();
    b.find("[data-testid=page-apm]").await;
    assert_eq!(b.find("[data-testid=brand]").await.text().await.unwrap(), "Sightline");

    // The first load is the APM page's code only: every other page is a module of its own, fetched when a
    // link to it is pointed at or focused, or when it is opened.
    let fetched = |module: &str| format!("performance.getEntriesByType('resource').some(e => e.name.includes('/{module}'))");
    b.wait_js("document.querySelector('[data-testid=nav-boards]') !== null").await;
    let modules = b.js("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname).filter(p => p.endsWith('.wasm'))").await;
    assert_eq!(modules.as_array().map(Vec::len), Some(1), "one wasm module on the first load: {modules}");
    assert!(modules[0].as_str().unwrap().ends_with("/sightline-app_bg.wasm"), "{modules}");
    b.js("document.querySelector('[data-testid=nav-boards]').focus(); return null").await;
    b.wait_js(&fetched("split_boards_page.wasm")).await;
    assert_eq!(b.js(&format!("return {}", fetched("split_db_page.wasm"))).await, false, "only the page pointed at is fetched");

    b.find("[data-testid=range-1h]").await.click().await.unwrap();
    b.wait_js("location.search.includes('range=1h')").await;

    for (nav, page, path) in [
        ("nav-boards", "page-boards", "/boards"),
        ("nav-db", "page-db", "/db"),
        ("nav-servers", "page-servers", "/servers"),
        ("nav-apm", "page-apm", "/apm"),
    ] {
        b.find(&format!("[data-testid={nav}]")).await.click().await.unwrap();
        b.find(&format!("[data-testid={page}]")).await;
        let url = b.url().await;
        assert!(url.contains(path), "{url} should be on {path}");
        assert!(url.contains("range=1h"), "navigation must keep the time range: {url}");
        let current = b.js(&format!("return document.querySelector('[data-testid={nav}]').getAttribute('aria-current')")).await;
        assert_eq!(current, "page", "{nav} should be marked as the current page");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_range_lives_in_the_url_and_survives_reload() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm")).await.unwrap();
    b.find("[data-testid=page-apm]").await;
    // Default: last 15 minutes, live.
    b.wait_text("[data-testid=range-label]", |t| t == "Last 15m").await;
    b.wait_text("[data-testid=live-toggle]", |t| t.contains("Live")).await;

    b.find("[data-testid=range-6h]").await.click().await.unwrap();
    b.wait_text("[data-testid=range-label]", |t| t == "Last 6h").await;
    b.find("[data-testid=live-toggle]").await.click().await.unwrap();
    b.wait_text("[data-testid=live-toggle]", |t| t.contains("Paused")).await;
    let url = b.url().await;
    assert!(url.contains("range=6h") && url.contains("live=0"), "{url}");

    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=range-label]", |t| t == "Last 6h").await;
    b.wait_text("[data-testid=live-toggle]", |t| t.contains("Paused")).await;
    let selected = b.js("return document.querySelector('[data-testid=range-6h]').classList.contains('selected')").await;
    assert_eq!(selected, true);

    // A custom absolute range: set the two inputs as a user would, apply, reload.
    b.find("[data-testid=range-custom]").await.click().await.unwrap();
    b.find("[data-testid=custom-range]").await;
    b.js(r#"
        const set = (sel, v) => { const i = document.querySelector(sel); i.value = v;
            i.dispatchEvent(new Event('input', { bubbles: true })); };
        set('[data-testid=custom-from]', '2026-01-02T03:04:00');
        set('[data-testid=custom-to]', '2026-01-02T05:04:00');
    "#)
    .await;
    b.find("[data-testid=custom-apply]").await.click().await.unwrap();
    b.wait_js("location.search.includes('from=') && location.search.includes('to=')").await;
    let expected = b.js("return [new Date('2026-01-02T03:04:00').getTime(), new Date('2026-01-02T05:04:00').getTime()]").await;
    let url = b.url().await;
    assert!(url.contains(&format!("from={}", expected[0])), "{url} should carry from={}", expected[0]);
    assert!(url.contains(&format!("to={}", expected[1])), "{url}");
    assert!(!url.contains("range="), "an absolute range replaces the relative one: {url}");

    b.client.refresh().await.unwrap();
    b.wait_text("[data-testid=range-label]", |t| t.contains("2026-01-02 03:04:00") && t.contains("05:04:00")).await;
    b.wait_text("[data-testid=live-toggle]", |t| t.contains("Paused")).await;

    // An inverted custom range is refused with a message, the URL untouched.
    b.find("[data-testid=range-custom]").await.click().await.unwrap();
    b.js(r#"
        const i = document.querySelector('[data-testid=custom-to]'); i.value = '2020-01-01T00:00:00';
        i.dispatchEvent(new Event('input', { bubbles: true }));
    "#)
    .await;
    b.find("[data-testid=custom-apply]").await.click().await.unwrap();
    b.wait_text("[data-testid=custom-range] .field-error", |t| t.contains("before")).await;
    assert!(b.url().await.contains(&format!("from={}", expected[0])));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_shows_a_friendly_page_and_deep_links_load_the_app() {
    let server = Server::start().await;
    // Deep links are served the app (history fallback), not a 404 from the file server.
    let resp = reqwest::get(server.url("/apm?from=1&to=2")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("sightline-app"));
    // Unknown API routes stay JSON errors.
    let resp = reqwest::get(server.url("/api/v1/no-such-thing")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no-such-thing"));

    let b = Browser::start().await;
    b.client.goto(&server.url("/no/such/page")).await.unwrap();
    b.find("[data-testid=page-not-found]").await;
    b.wait_text("[data-testid=page-not-found]", |t| t.contains("/no/such/page")).await;
    // The shell is still there to get back.
    b.find("[data-testid=nav-apm]").await.click().await.unwrap();
    b.find("[data-testid=page-apm]").await;
    b.close().await;
}

/// The page's background as the user sees it (computed, after the theme's CSS variables apply).
const BACKGROUND: &str = "return getComputedStyle(document.body).backgroundColor";

#[tokio::test(flavor = "multi_thread")]
async fn theme_switches_and_is_remembered() {
    let server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm")).await.unwrap();
    b.find("[data-testid=theme-toggle]").await;
    let label_before = b.find("[data-testid=theme-toggle]").await.text().await.unwrap();
    let bg_before = b.js(BACKGROUND).await;
    b.find("[data-testid=theme-toggle]").await.click().await.unwrap();
    // The page itself changed colour: the attribute the stylesheet keys on, and the computed background.
    b.wait_js(&format!("getComputedStyle(document.body).backgroundColor !== {bg_before}")).await;
    let theme = b.js("return document.documentElement.getAttribute('data-theme')").await;
    let bg_after = b.js(BACKGROUND).await;
    let (dark, light) = (json!("rgb(11, 17, 32)"), json!("rgb(244, 246, 251)"));
    match theme.as_str() {
        Some("light") => assert_eq!(bg_after, light, "light theme, light background"),
        Some("dark") => assert_eq!(bg_after, dark, "dark theme, dark background"),
        other => panic!("data-theme is {other:?}"),
    }
    assert!(bg_before == dark || bg_before == light, "{bg_before}");
    assert_ne!(b.find("[data-testid=theme-toggle]").await.text().await.unwrap(), label_before, "the button names the new theme");

    // A reload keeps it.
    b.client.refresh().await.unwrap();
    b.find("[data-testid=theme-toggle]").await;
    b.wait_js(&format!("document.documentElement.getAttribute('data-theme') === {theme}")).await;
    assert_eq!(b.js(BACKGROUND).await, bg_after);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_is_announced_and_recovery_is_noticed() {
    let mut server = Server::start().await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/apm")).await.unwrap();
    b.find("[data-testid=page-apm]").await;
    assert!(!b.exists("[data-testid=server-unreachable]").await);

    server.kill();
    b.wait_text("[data-testid=server-unreachable]", |t| t.contains("Cannot reach the Sightline server")).await;
    // A view loaded now says why it is empty instead of showing nothing.
    b.find("[data-testid=range-1h]").await.click().await.unwrap();
    b.wait_text("[data-testid=page-apm] [data-testid=error]", |t| t.contains("cannot reach the Sightline server")).await;
    // So does the top bar's service picker: beside it, and in its list.
    b.wait_text("[data-testid=services-error]", |t| t.contains("services unavailable")).await;
    let option = b.js("return document.querySelector('[data-testid=services-error-option]').textContent").await;
    assert!(option.as_str().unwrap().starts_with("Could not load the services: cannot reach the Sightline server"), "{option}");
    // A page whose code has not been fetched yet (the pages after the first load are split out of the main
    // wasm module) says so in its place; the app keeps working.
    b.find("[data-testid=nav-alerts]").await.click().await.unwrap();
    b.wait_text("[data-testid=page-not-loaded]", |t| t.contains("Could not load this page") && t.contains("Open the page again")).await;

    server.spawn().await;
    b.wait_js("!document.querySelector('[data-testid=server-unreachable]')").await;
    // Opened again, the page's code is fetched this time.
    b.find("[data-testid=nav-apm]").await.click().await.unwrap();
    b.find("[data-testid=page-apm]").await;
    b.find("[data-testid=nav-alerts]").await.click().await.unwrap();
    b.find("[data-testid=page-alerts]").await;
    assert!(!b.exists("[data-testid=page-not-loaded]").await);
    b.find("[data-testid=nav-apm]").await.click().await.unwrap();
    // The next range asks again, and the warnings go.
    b.find("[data-testid=range-6h]").await.click().await.unwrap();
    b.wait_js("!document.querySelector('[data-testid=services-error]') && !document.querySelector('[data-testid=page-apm] [data-testid=error]')").await;
    b.close().await;
}
