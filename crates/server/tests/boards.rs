//! Flex boards over the real router: CRUD, stale saves, history and restore, refused imports, templates,
//! the default board, and durability across a `kill -9` of the real binary.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use sightline_model::{move_widget, resize_widget, validate, Board, BoardConflict, BoardHistory, BoardInvalid, BoardList};

async fn ok<T: serde::de::DeserializeOwned>(app: &TestApp, method: &str, uri: &str, body: Option<Value>, want: StatusCode) -> T {
    let (s, v) = app.call(method, uri, body).await;
    assert_eq!(s, want, "{method} {uri}: {v}");
    serde_json::from_value(v).unwrap()
}

async fn templates(app: &TestApp) -> Vec<Board> {
    ok(app, "GET", "/api/v1/boards/templates", None, StatusCode::OK).await
}

/// Creates a board from the "APM overview" template.
async fn from_template(app: &TestApp) -> Board {
    let mut t = templates(app).await.remove(0);
    t.id = String::new();
    ok(app, "POST", "/api/v1/boards", Some(json!(t)), StatusCode::CREATED).await
}

/// Every board, whole: to prove that a refused request changed nothing.
async fn everything(app: &TestApp) -> Vec<(Board, BoardHistory)> {
    let list: BoardList = ok(app, "GET", "/api/v1/boards", None, StatusCode::OK).await;
    let mut out = Vec::new();
    for s in list.boards {
        let b: Board = ok(app, "GET", &format!("/api/v1/boards/{}", s.id), None, StatusCode::OK).await;
        let h: BoardHistory = ok(app, "GET", &format!("/api/v1/boards/{}/versions", s.id), None, StatusCode::OK).await;
        out.push((b, h));
    }
    out
}

#[tokio::test]
async fn first_start_has_a_default_board_and_three_templates() {
    let app = TestApp::new().await;
    let list: BoardList = ok(&app, "GET", "/api/v1/boards", None, StatusCode::OK).await;
    assert_eq!(list.boards.len(), 1);
    assert_eq!((list.boards[0].id.as_str(), list.boards[0].title.as_str(), list.boards[0].version), ("overview", "APM overview", 1));
    let t = templates(&app).await;
    assert_eq!(t.iter().map(|b| b.title.as_str()).collect::<Vec<_>>(), ["APM overview", "Database overview", "Servers"]);
    for b in &t {
        assert_eq!(validate(b), Ok(()));
    }
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = TestApp::new().await;
    let created = from_template(&app).await;
    assert!(created.id.starts_with("apm-overview-"), "{}", created.id);
    assert_eq!(created.version, 1);
    assert!(created.updated_ms > 0);
    let read: Board = ok(&app, "GET", &format!("/api/v1/boards/{}", created.id), None, StatusCode::OK).await;
    assert_eq!(read, created);

    // Move and resize like the editor does, rename, save.
    let mut edit = read.clone();
    edit.title = "Checkout".into();
    assert!(move_widget(&mut edit.widgets, "hitmap", 0, 0));
    assert!(resize_widget(&mut edit.widgets, "tps", 12, 6));
    let saved: Board = ok(&app, "PUT", &format!("/api/v1/boards/{}", edit.id), Some(json!(edit)), StatusCode::OK).await;
    assert_eq!(saved.version, 2);
    let reread: Board = ok(&app, "GET", &format!("/api/v1/boards/{}", edit.id), None, StatusCode::OK).await;
    assert_eq!(reread.widgets, edit.widgets, "layout and queries come back identical");
    assert_eq!((reread.title.as_str(), reread.version), ("Checkout", 2));

    let list: BoardList = ok(&app, "GET", "/api/v1/boards", None, StatusCode::OK).await;
    assert_eq!(list.boards.iter().map(|b| b.title.as_str()).collect::<Vec<_>>(), ["APM overview", "Checkout"], "sorted by title");

    // A body for another board is refused, not written under this URL.
    let (s, v) = app.call("PUT", "/api/v1/boards/overview", Some(json!(reread))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["problems"][0].as_str().unwrap().contains("the URL is board \"overview\""), "{v}");

    // Deleting from a stale screen is refused with the current board; from the current version it goes.
    let (s, v) = app.call("DELETE", &format!("/api/v1/boards/{}?version=1", edit.id), None).await;
    assert_eq!((s, v["current"]["version"].as_u64()), (StatusCode::CONFLICT, Some(2)), "{v}");
    let (s, _) = app.call("DELETE", &format!("/api/v1/boards/{}?version=2", edit.id), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = app.call("GET", &format!("/api/v1/boards/{}", edit.id), None).await;
    assert_eq!((s, v["status"].as_u64()), (StatusCode::NOT_FOUND, Some(404)));
    let (s, _) = app.call("DELETE", &format!("/api/v1/boards/{}", edit.id), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call("GET", &format!("/api/v1/boards/{}/versions", edit.id), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the history went with the board");
    let (s, _) = app.call("PUT", "/api/v1/boards/nope", Some(json!(edit))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stale_save_answers_409_with_the_current_board() {
    let app = TestApp::new().await;
    let uri = "/api/v1/boards/overview";
    let mut first: Board = ok(&app, "GET", uri, None, StatusCode::OK).await;
    let mut second = first.clone();

    first.widgets.retain(|w| w.id != "errors");
    let saved: Board = ok(&app, "PUT", uri, Some(json!(first)), StatusCode::OK).await;
    assert_eq!(saved.version, 2);

    second.title = "Mine".into();
    let (s, v) = app.call("PUT", uri, Some(json!(second))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let c: BoardConflict = serde_json::from_value(v).unwrap();
    assert_eq!(c.status, 409);
    assert!(c.error.contains("you edited version 1, it is now at version 2"), "{}", c.error);
    assert_eq!(c.current, saved, "the conflict carries the board as it is now");
    let now: Board = ok(&app, "GET", uri, None, StatusCode::OK).await;
    assert_eq!(now, saved, "nothing was overwritten");

    // Rebased on the current version (the user chose "overwrite"), the save goes through.
    second.version = c.current.version;
    let over: Board = ok(&app, "PUT", uri, Some(json!(second)), StatusCode::OK).await;
    assert_eq!((over.version, over.title.as_str()), (3, "Mine"));
}

#[tokio::test]
async fn every_save_is_kept_and_can_be_restored() {
    let app = TestApp::new().await;
    let original = from_template(&app).await;
    let uri = format!("/api/v1/boards/{}", original.id);
    let mut b = original.clone();
    for i in 0..3u32 {
        b.title = format!("Edit {i}");
        assert!(move_widget(&mut b.widgets, "slowest", 12, 0));
        b = ok(&app, "PUT", &uri, Some(json!(b)), StatusCode::OK).await;
    }
    let h: BoardHistory = ok(&app, "GET", &format!("{uri}/versions"), None, StatusCode::OK).await;
    assert_eq!(h.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [4, 3, 2, 1]);
    assert_eq!(h.versions[0].title, "Edit 2");
    let v1: Board = ok(&app, "GET", &format!("{uri}/versions/1"), None, StatusCode::OK).await;
    assert_eq!(v1, original);
    let v3: Board = ok(&app, "GET", &format!("{uri}/versions/3"), None, StatusCode::OK).await;
    assert_eq!(v3.title, "Edit 1");

    let restored: Board = ok(&app, "POST", &format!("{uri}/versions/1/restore"), None, StatusCode::OK).await;
    assert_eq!(restored.version, 5, "a restore is a new revision; history is not rewritten");
    assert_eq!((restored.title.as_str(), &restored.widgets), (original.title.as_str(), &original.widgets));
    let current: Board = ok(&app, "GET", &uri, None, StatusCode::OK).await;
    assert_eq!(current, restored);
    let h: BoardHistory = ok(&app, "GET", &format!("{uri}/versions"), None, StatusCode::OK).await;
    assert_eq!(h.versions.len(), 5);

    let (s, v) = app.call("GET", &format!("{uri}/versions/99"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"].as_str().unwrap().contains("has no version 99"));
    let (s, _) = app.call("POST", &format!("{uri}/versions/99/restore"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call("GET", &format!("{uri}/versions/latest"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_invalid_import_lists_its_problems_and_touches_nothing() {
    let app = TestApp::new().await;
    from_template(&app).await;
    let before = everything(&app).await;

    let mut bad = json!(templates(&app).await.remove(0));
    bad["format_version"] = json!(2);
    bad["id"] = json!("overview"); // taken: must not overwrite it
    bad["widgets"][0]["kind"] = json!("pie");
    bad["widgets"][1]["w"] = json!(30);
    bad["widgets"][2]["x"] = json!(4); // onto the first widget
    let (s, v) = app.call("POST", "/api/v1/boards", Some(bad.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let e: BoardInvalid = serde_json::from_value(v).unwrap();
    assert_eq!(e.status, 400);
    let has = |m: &str| assert!(e.problems.iter().any(|p| p.contains(m)), "no {m:?} in {:#?}", e.problems);
    has("format_version 2 is not supported");
    has("widget \"tps\": unknown kind \"pie\"");
    has("widget \"p95\": 30 columns wide, the grid has 24");
    has("widgets \"tps\" and \"error-rate\" overlap");
    assert!(e.error.starts_with("the board is not valid: "));

    // JSON that is not a board at all, and JSON that is not JSON.
    let (s, v) = app.call("POST", "/api/v1/boards", Some(json!({"title": "x", "widgets": "no"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["problems"][0].as_str().unwrap().starts_with("not a board: "), "{v}");
    let raw = Request::post("/api/v1/boards").header("content-type", "application/json").body(Body::from("{\"title\":")).unwrap();
    let (s, _, body) = app.send(raw).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));

    // An invalid save of an existing board is refused the same way.
    let mut cur: Value = app.call("GET", "/api/v1/boards/overview", None).await.1;
    cur["widgets"][0]["h"] = json!(0);
    let (s, v) = app.call("PUT", "/api/v1/boards/overview", Some(cur)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["problems"][0].as_str().unwrap().contains("is empty"), "{v}");

    assert_eq!(everything(&app).await, before, "boards and their histories are untouched");

    // The same board, fixed, imports; its taken id is replaced, the original is left alone.
    let mut fixed = templates(&app).await.remove(0);
    fixed.id = "overview".into();
    let imported: Board = ok(&app, "POST", "/api/v1/boards", Some(json!(fixed)), StatusCode::CREATED).await;
    assert_ne!(imported.id, "overview");
    assert_eq!(everything(&app).await.len(), before.len() + 1);
}

/// Notes are rendered by the server for the app: Markdown in, HTML out, raw HTML and script links made
/// harmless; bad bodies and oversized notes are refused in the usual error shape.
#[tokio::test]
async fn a_note_renders_as_safe_html() {
    let app = TestApp::new().await;
    let note = "Page **#payments** <script>alert(1)</script> [wiki](https://wiki.example) [x](javascript:alert(1))";
    let v: Value = ok(&app, "POST", "/api/v1/notes/render", Some(json!({"text": note})), StatusCode::OK).await;
    let html = v["html"].as_str().unwrap();
    assert!(html.contains("Page <strong>#payments</strong>"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script"), "{html}");
    assert!(html.contains(r#"<a href="https://wiki.example">wiki</a>"#), "{html}");
    assert!(!html.contains("javascript"), "{html}");

    let (s, v) = app.call("POST", "/api/v1/notes/render", Some(json!({"markdown": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].is_string(), "{v}");
    let long = "x".repeat(sightline_server::boards::notes::MAX_NOTE_BYTES + 1);
    let (s, v) = app.call("POST", "/api/v1/notes/render", Some(json!({"text": long}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("at most 256 KiB"), "{v}");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A saved board, its history and the "default board already created" mark survive `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let base = server.base.clone();
    let c = client();
    let mut t: Board = c.get(format!("{base}/api/v1/boards/templates")).send().await.unwrap().json::<Vec<Board>>().await.unwrap().remove(1);
    t.title = "Durable".into();
    let r = c.post(format!("{base}/api/v1/boards")).json(&t).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let mut b: Board = r.json().await.unwrap();
    assert!(resize_widget(&mut b.widgets, "sessions", 12, 4));
    let r = c.put(format!("{base}/api/v1/boards/{}", b.id)).json(&b).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let saved: Board = r.json().await.unwrap();
    let r = c.delete(format!("{base}/api/v1/boards/overview")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    server.kill9();

    let server = Server::start(dir.path(), &[]);
    let base = server.base.clone();
    let list: BoardList = c.get(format!("{base}/api/v1/boards")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.boards.len(), 1, "the deleted default board is not re-created: {list:?}");
    let back: Board = c.get(format!("{base}/api/v1/boards/{}", saved.id)).send().await.unwrap().json().await.unwrap();
    assert_eq!(back, saved);
    let h: BoardHistory = c.get(format!("{base}/api/v1/boards/{}/versions", saved.id)).send().await.unwrap().json().await.unwrap();
    assert_eq!(h.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
}
