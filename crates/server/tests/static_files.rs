//! The app's files: sent precompressed (the `.br` / `.gz` the build wrote beside them) to a browser that
//! accepts the encoding, as they are to one that does not; unknown paths get `index.html` (the app's
//! router takes over), precompressed too. Files named after their content are kept by browsers for a year.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[tokio::test]
async fn app_files_are_sent_precompressed_when_accepted() {
    let app = common::TestApp::new().await;
    let dist = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("app.wasm", "raw wasm"),
        ("app.wasm.br", "brotli wasm"),
        ("app.wasm.gz", "gzip wasm"),
        ("index.html", "<html>raw</html>"),
        ("index.html.br", "brotli index"),
        ("index.html.gz", "gzip index"),
        ("app-2dab10ed58276a5_bg.wasm", "hashed wasm"),
    ] {
        std::fs::write(dist.path().join(name), body).unwrap();
    }
    let router = sightline_server::app::router(app.state.clone(), Some(dist.path()));
    for (path, accept, encoding, body) in [
        ("/app.wasm", Some("gzip, deflate, br"), Some("br"), "brotli wasm"),
        ("/app.wasm", Some("gzip"), Some("gzip"), "gzip wasm"),
        ("/app.wasm", None, None, "raw wasm"),
        ("/apm?sel=1,2", Some("br"), Some("br"), "brotli index"),
        ("/", None, None, "<html>raw</html>"),
    ] {
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_ENCODING, a);
        }
        let resp = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path} {accept:?}");
        assert_eq!(resp.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()), encoding, "{path} {accept:?}");
        let got = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(got, body.as_bytes(), "{path} {accept:?}");
    }
}

/// A file named after its content (Trunk's hash, or in the split app's hashed directory) is kept by the browser for a year; the page, which names
/// the current ones, is checked on every load.
#[tokio::test]
async fn hashed_files_are_immutable_and_the_page_is_revalidated() {
    let app = common::TestApp::new().await;
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir(dist.path().join("app-2dab10ed58276a53")).unwrap();
    for name in [
        "index.html",
        "app-2dab10ed58276a5_bg.wasm",
        "main-fbe5855589d76c45.css",
        "favicon.svg",
        "app-2dab10ed58276a53/split_alerts_page_4945268502452396428.wasm",
        "app-2dab10ed58276a53/__wasm_split.js",
    ] {
        std::fs::write(dist.path().join(name), name).unwrap();
    }
    let router = sightline_server::app::router(app.state.clone(), Some(dist.path()));
    const YEAR: &str = "public, max-age=31536000, immutable";
    for (path, cache) in [
        ("/app-2dab10ed58276a5_bg.wasm", YEAR),
        ("/main-fbe5855589d76c45.css", YEAR),
        // The split app's directory is named after the build: its chunks are kept as long.
        ("/app-2dab10ed58276a53/split_alerts_page_4945268502452396428.wasm", YEAR),
        ("/app-2dab10ed58276a53/__wasm_split.js", YEAR),
        ("/", "no-cache"),
        ("/apm?range=1h", "no-cache"),
        ("/favicon.svg", "no-cache"),
        // An app route that only looks like a built file gets the page, which is not kept.
        ("/boards/deploys-0123456789abcdef.json", "no-cache"),
    ] {
        let resp = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some(cache), "{path}");
    }
    // API answers are not the app's files.
    let resp = router.oneshot(Request::get("/api/v1/health").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.headers().get(header::CACHE_CONTROL), None);
}
