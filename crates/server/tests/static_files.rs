//! The app's files: sent precompressed (the `.br` / `.gz` the build wrote beside them) to a browser that
//! accepts the encoding, as they are to one that does not; unknown paths get `index.html` (the app's
//! router takes over), precompressed too.

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
