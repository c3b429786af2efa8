//! Sign-in, roles and share links in real headless Chromium against the real server (issue 10): sign in
//! (wrong password, too many attempts, then the app), a viewer sees no edit controls and a crafted PUT from
//! the page is 403, an editor's save shows them as the author in the history, sign out, an ended session
//! lands on the sign-in page and comes back to its page, the admin page (users, tokens shown once, settings,
//! audit), a share link opens its board read-only without a session and no other board, and the demo
//! opens straight into the app as the demo admin.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use reqwest::Method;
use serde_json::json;
use support::auth::{ApiSession, ADMIN_PASSWORD};
use support::{Browser, Server};

/// A server that asks everyone to sign in, the admin's API session, and a user `name` with `role` whose
/// password is `<name>-password`.
async fn server_with_user(name: &str, role: &str) -> (Server, ApiSession) {
    let server = Server::start_signed_out(&[]).await;
    let admin = ApiSession::admin(&server).await;
    admin.add_user(name, role, &format!("{name}-password")).await;
    (server, admin)
}

/// Waits until the top bar knows who is signed in (edit controls follow the role from then on).
async fn signed_in_as(b: &Browser, name: &str, role: &str) {
    b.wait_text("[data-testid=user-name]", |t| t == name).await;
    b.wait_text("[data-testid=user-role]", |t| t == role).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_wrong_password_then_right_one_then_sign_out() {
    let (server, _admin) = server_with_user("carol", "viewer").await;
    let b = Browser::start().await;

    // Not signed in: any page shows the sign-in page, remembering where the user wanted to go.
    b.client.goto(&server.url("/boards?range=1h")).await.unwrap();
    b.find("[data-testid=page-sign-in]").await;
    b.wait_js("location.pathname === '/sign-in' && new URLSearchParams(location.search).get('next') === '/boards?range=1h'").await;
    assert!(!b.exists("[data-testid=nav-boards]").await, "no top bar on the sign-in page");

    // A wrong password says so, and is not kept in the form or put in the URL.
    b.submit_sign_in("admin", "not-the-password").await;
    b.wait_text("[data-testid=sign-in-error]", |t| t == "Wrong name or password.").await;
    assert_eq!(b.js("return document.querySelector('[data-testid=sign-in-password]').value").await, "");
    assert!(!b.url().await.contains("not-the-password"));

    // Too many failures for one account: the server's wait, in words.
    for _ in 0..5 {
        let r = reqwest::Client::new()
            .post(server.url("/api/v1/auth/sign-in"))
            .json(&json!({"name": "carol", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert!(r.status() == 401 || r.status() == 429, "{}", r.status());
    }
    b.submit_sign_in("carol", "carol-password").await;
    let msg = b.wait_text("[data-testid=sign-in-error]", |t| t.starts_with("Too many attempts")).await;
    assert!(msg.contains("try again in") && msg.ends_with(" s."), "{msg}");

    // The right password: back to the page asked for, signed in.
    b.submit_sign_in("admin", ADMIN_PASSWORD).await;
    b.find("[data-testid=page-boards]").await;
    b.wait_js("location.pathname === '/boards' && location.search === '?range=1h'").await;
    signed_in_as(&b, "admin", "admin").await;
    b.find("[data-testid=nav-admin]").await;

    // Sign out: the sign-in page, and the app stays closed.
    b.click("[data-testid=user-menu-button]").await;
    b.click("[data-testid=sign-out]").await;
    b.find("[data-testid=page-sign-in]").await;
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.find("[data-testid=page-sign-in]").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_sees_no_edit_controls_and_a_crafted_put_is_refused() {
    let (server, admin) = server_with_user("vera", "viewer").await;
    let id = admin.add_board("Payments").await;
    let b = Browser::start().await;
    b.sign_in_at(&server, "/boards", "vera", "vera-password").await;
    signed_in_as(&b, "vera", "viewer").await;

    // The list: the boards, nothing that changes them.
    let row = format!("[data-testid=board-row][data-board-id='{id}']");
    b.wait_text(&format!("{row} [data-testid=board-link]"), |t| t == "Payments").await;
    for control in ["new-board", "rename", "duplicate", "delete", "import", "import-json"] {
        assert!(!b.exists(&format!("[data-testid={control}]")).await, "a viewer sees {control}");
    }
    assert!(!b.exists("[data-testid=nav-admin]").await, "no Admin link for a viewer");

    // A board: no Edit, no Share; the history can be read, not restored.
    b.click(&format!("{row} [data-testid=board-link]")).await;
    b.wait_text("[data-testid=board-title]", |t| t == "Payments").await;
    b.find("[data-testid=widget]").await;
    assert!(!b.exists("[data-testid=edit]").await && !b.exists("[data-testid=share]").await);
    b.click("[data-testid=history]").await;
    b.click("[data-testid=history-row]").await;
    b.find("[data-testid=history-diff]").await;
    assert!(!b.exists("[data-testid=history-restore]").await, "a viewer cannot restore");
    // `?edit=1` does not open the editor either.
    b.client.goto(&server.url(&format!("/boards/{id}?edit=1"))).await.unwrap();
    b.find("[data-testid=widget]").await;
    signed_in_as(&b, "vera", "viewer").await;
    assert!(!b.exists("[data-testid=save]").await && !b.exists("[data-testid=add-widget]").await);

    // A crafted PUT with the page's own cookie: the server refuses it (403), and the board is unchanged.
    let board = admin.ok(Method::GET, &format!("/api/v1/boards/{id}"), None).await;
    let mut changed = board.clone();
    changed["title"] = json!("Hacked");
    let status = b
        .fetch_status(
            &format!("/api/v1/boards/{id}"),
            json!({"method": "PUT", "headers": {"content-type": "application/json"}, "body": changed.to_string()}),
        )
        .await;
    assert_eq!(status, 403);
    let after = admin.ok(Method::GET, &format!("/api/v1/boards/{id}"), None).await;
    assert_eq!(after["title"], "Payments");

    // The admin page says it is for admins.
    b.client.goto(&server.url("/admin")).await.unwrap();
    b.find("[data-testid=admin-only]").await;
    assert!(!b.exists("[data-testid=admin-users]").await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editor_saves_a_board_and_the_history_names_them() {
    let (server, admin) = server_with_user("eddie", "editor").await;
    let b = Browser::start().await;
    b.sign_in_at(&server, "/boards", "eddie", "eddie-password").await;
    signed_in_as(&b, "eddie", "editor").await;

    b.click("[data-testid=new-board]").await;
    b.find("[data-testid=board-title-input]").await;
    b.set_value("[data-testid=board-title-input]", "Eddie's board").await;
    b.click("[data-testid=save]").await;
    b.wait_text("[data-testid=notice]", |t| t.contains("Saved as version 2")).await;
    b.click("[data-testid=history]").await;
    b.wait_js("document.querySelectorAll('[data-testid=history-author]').length === 2").await;
    let authors = b.js("return [...document.querySelectorAll('[data-testid=history-author]')].map(e => e.textContent)").await;
    assert_eq!(authors, json!(["eddie", "eddie"]), "created and saved by eddie");

    // The admin sees the same in the API.
    let id = b.js("return location.pathname.split('/')[2]").await;
    let history = admin.ok(Method::GET, &format!("/api/v1/boards/{}/versions", id.as_str().unwrap()), None).await;
    assert_eq!(history["versions"][0]["author"], "eddie");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ended_session_goes_to_sign_in_and_comes_back_to_its_page() {
    let (server, admin) = server_with_user("sam", "editor").await;
    let id = admin.add_board("Checkout").await;
    let b = Browser::start().await;
    let page = format!("/boards/{id}?range=1h&live=0");
    b.sign_in_at(&server, &page, "sam", "sam-password").await;
    b.wait_text("[data-testid=board-title]", |t| t == "Checkout").await;

    // Sam signs out everywhere from another browser: this one's session has ended too.
    let other = ApiSession::sign_in(&server, "sam", "sam-password").await;
    other.ok(Method::POST, "/api/v1/auth/sign-out-everywhere", None).await;

    // The next request of the page is refused (401): the sign-in page, which remembers the page.
    b.click("[data-testid=history]").await;
    b.find("[data-testid=page-sign-in]").await;
    b.find("[data-testid=sign-in-reason]").await;
    b.submit_sign_in("sam", "sam-password").await;
    b.wait_text("[data-testid=board-title]", |t| t == "Checkout").await;
    let (path, search) = (b.js("return location.pathname").await, b.js("return location.search").await);
    assert_eq!(format!("{}{}", path.as_str().unwrap(), search.as_str().unwrap()), page);
    signed_in_as(&b, "sam", "editor").await;

    // `next` never leads to another site.
    b.client.goto(&server.url("/sign-in?next=//example.com/x")).await.unwrap();
    b.submit_sign_in("sam", "sam-password").await;
    b.wait_js("location.pathname !== '/sign-in'").await;
    assert!(b.url().await.starts_with(&server.url("/")), "{}", b.url().await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_page_manages_users_tokens_settings_and_shows_the_audit_log() {
    let server = Server::start_signed_out(&[]).await;
    let b = Browser::start().await;
    b.sign_in_at(&server, "/admin", "admin", ADMIN_PASSWORD).await;
    b.find("[data-testid=page-admin]").await;
    b.find("[data-testid=user-row][data-user=admin]").await;

    // Add an editor with a password.
    b.set_value("[data-testid=user-add-name]", "nina").await;
    b.set_value("[data-testid=user-add-role]", "editor").await;
    b.set_value("[data-testid=user-add-password]", "nina-password").await;
    b.click("[data-testid=user-add]").await;
    b.wait_text("[data-testid=users-outcome]", |t| t == "Added nina as editor.").await;
    b.find("[data-testid=user-row][data-user=nina]").await;
    ApiSession::sign_in(&server, "nina", "nina-password").await;
    // Make her a viewer.
    b.set_value("[data-testid=user-row][data-user=nina] [data-testid=user-role-select]", "viewer").await;
    b.wait_text("[data-testid=users-outcome]", |t| t == "nina is now viewer.").await;
    // Set a new password: the old one stops working.
    b.click("[data-testid=user-row][data-user=nina] [data-testid=user-set-password]").await;
    b.set_value("[data-testid=user-row][data-user=nina] [data-testid=user-new-password]", "nina-new-password").await;
    b.click("[data-testid=user-row][data-user=nina] [data-testid=user-password-save]").await;
    b.wait_text("[data-testid=users-outcome]", |t| t.starts_with("New password set for nina")).await;
    ApiSession::sign_in(&server, "nina", "nina-new-password").await;
    // A refused change is shown: the last admin cannot be demoted.
    b.set_value("[data-testid=user-row][data-user=admin] [data-testid=user-role-select]", "viewer").await;
    b.wait_text("[data-testid=users-outcome]", |t| t.contains("role not changed") && t.contains("409")).await;
    b.wait_js("document.querySelector('[data-user=admin] [data-testid=user-role-select]').value === 'admin'").await;
    // Remove, after confirming.
    b.click("[data-testid=user-row][data-user=nina] [data-testid=user-remove]").await;
    b.click("[data-testid=confirm-yes]").await;
    b.wait_text("[data-testid=users-outcome]", |t| t.starts_with("Removed nina")).await;
    b.wait_js("!document.querySelector('[data-testid=user-row][data-user=nina]')").await;

    // An API token: its secret is shown once, and works.
    b.set_value("[data-testid=token-name]", "ci").await;
    b.set_value("[data-testid=token-scope]", "viewer").await;
    b.click("[data-testid=token-create]").await;
    b.find("[data-testid=token-secret]").await;
    let secret = b.js("return document.querySelector('[data-testid=token-secret-value]').value").await;
    let secret = secret.as_str().unwrap().to_string();
    assert!(secret.starts_with("slt_"), "{secret}");
    b.wait_text("[data-testid=token-row][data-token=ci]", |t| t.contains("viewer") && t.contains("never")).await;
    let r = reqwest::Client::new().get(server.url("/api/v1/boards")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 200);
    b.click("[data-testid=token-secret-done]").await;
    assert!(!b.exists("[data-testid=token-secret]").await, "the secret is gone once dismissed");
    b.client.refresh().await.unwrap();
    b.find("[data-testid=token-row][data-token=ci]").await;
    let page = b.js("return document.body.innerText").await;
    assert!(!page.as_str().unwrap().contains(&secret), "the secret is never shown again");
    // Revoke, after confirming: refused from then on.
    b.click("[data-testid=token-row][data-token=ci] [data-testid=token-revoke]").await;
    b.click("[data-testid=confirm-yes]").await;
    b.wait_js("!document.querySelector('[data-testid=token-row][data-token=ci]')").await;
    let r = reqwest::Client::new().get(server.url("/api/v1/boards")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Anonymous viewers on: a browser without a session reads the app as an anonymous viewer.
    b.click("[data-testid=anonymous-viewers]").await;
    b.wait_text("[data-testid=settings-outcome]", |t| t.starts_with("Anonymous viewers are on")).await;
    let anon = Browser::start().await;
    anon.client.goto(&server.url("/boards")).await.unwrap();
    anon.find("[data-testid=page-boards]").await;
    anon.find("[data-testid=user-anonymous]").await;
    anon.find("[data-testid=sign-in-link]").await;
    assert!(!anon.exists("[data-testid=new-board]").await);
    anon.close().await;

    // The audit log names who did what.
    b.client.refresh().await.unwrap();
    b.find("[data-testid=audit-table]").await;
    let rows = b.js("return [...document.querySelectorAll('[data-testid=audit-row]')].map(r => r.querySelector('[data-testid=audit-who]').textContent + ' ' + r.querySelector('[data-testid=audit-action]').textContent)").await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    for expected in ["admin user.create", "admin user.update", "admin user.delete", "admin token.create", "admin token.revoke", "admin settings.update"] {
        assert!(rows.iter().any(|r| r == expected), "{expected} missing from {rows:?}");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_link_opens_its_board_read_only_without_a_session_and_nothing_else() {
    let server = Server::start_signed_out(&[]).await;
    let admin = ApiSession::admin(&server).await;
    let shared = admin.add_board("Status wall").await;
    let other = admin.add_board("Internal").await;
    let b = Browser::start().await;
    b.sign_in_at(&server, &format!("/boards/{shared}"), "admin", ADMIN_PASSWORD).await;

    // The board's Share dialog makes a link (here for 1 day) and lists it.
    b.click("[data-testid=share]").await;
    b.find("[data-testid=share-links]").await;
    b.set_value("[data-testid=share-expiry]", "86400").await;
    b.click("[data-testid=share-create]").await;
    b.find("[data-testid=share-created]").await;
    let link = b.js("return document.querySelector('[data-testid=share-created-link]').value").await;
    let link = link.as_str().unwrap().to_string();
    assert!(link.starts_with(&server.url(&format!("/boards/{shared}?share="))), "{link}");
    b.wait_js("document.querySelectorAll('[data-testid=share-row]').length === 1").await;
    let expires = admin.ok(Method::GET, &format!("/api/v1/boards/{shared}/shares"), None).await["shares"][0]["expires_ms"].as_i64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((expires - now - 86_400_000).abs() < 120_000, "expires in a day: {expires}");

    // Someone without an account opens it: the board, read-only, its widgets drawn.
    let guest = Browser::start().await;
    guest.client.goto(&link).await.unwrap();
    guest.wait_text("[data-testid=board-title]", |t| t == "Status wall").await;
    guest.find("[data-testid=readonly-badge]").await;
    guest.find("[data-testid=user-share]").await;
    guest.find("[data-testid=widget]").await;
    for control in ["edit", "share", "history"] {
        assert!(!guest.exists(&format!("[data-testid={control}]")).await, "a share link shows {control}");
    }
    // The same link on another board: the server's refusal, where the board would be.
    let token = link.split("share=").nth(1).unwrap();
    guest.client.goto(&server.url(&format!("/boards/{other}?share={token}"))).await.unwrap();
    let err = guest.wait_text("[data-testid=error]", |t| t.contains("403")).await;
    assert!(!err.contains("Internal"), "{err}");
    assert!(guest.url().await.contains("/boards/"), "a share link is never sent to the sign-in page");

    // Revoked: the link stops working, and says so.
    b.click("[data-testid=share-revoke]").await;
    b.find("[data-testid=share-none]").await;
    guest.client.goto(&link).await.unwrap();
    guest.wait_text("[data-testid=error]", |t| t.contains("401") && t.contains("share link is not valid")).await;
    assert!(guest.url().await.contains("share="), "stays on the link's page");
    guest.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_opens_straight_into_the_app_as_the_demo_admin() {
    let server = Server::start_with(&["--demo", "--demo-postgres=false"]).await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/")).await.unwrap();
    b.find("[data-testid=page-apm]").await;
    b.wait_text("[data-testid=user-demo]", |t| t.split_whitespace().collect::<Vec<_>>().join(" ") == "demo admin (automatic sign-in)").await;
    b.find("[data-testid=nav-admin]").await;
    assert!(!b.url().await.contains("sign-in"));
    b.close().await;
}

/// Screenshots of the sign-in page, the user menu and the admin page, for looking at (not run by default):
/// `cargo test -p sightline-app --test e2e_auth -- --ignored` writes them to `target/auth-screenshots/`.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn screenshots() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/auth-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start_signed_out(&[]).await;
    let admin = ApiSession::admin(&server).await;
    admin.add_user("ann", "editor", "ann-password").await;
    admin.ok(Method::POST, "/api/v1/tokens", Some(json!({"name": "otel-collector", "scope": "ingest"}))).await;
    let id = admin.add_board("APM overview").await;
    let b = Browser::start().await;
    b.client.goto(&server.url("/boards")).await.unwrap();
    b.find("[data-testid=page-sign-in]").await;
    b.submit_sign_in("admin", "wrong").await;
    b.find("[data-testid=sign-in-error]").await;
    b.screenshot(&dir.join("sign-in.png")).await;
    b.submit_sign_in("admin", ADMIN_PASSWORD).await;
    b.find("[data-testid=page-boards]").await;
    b.click("[data-testid=user-menu-button]").await;
    b.find("[data-testid=user-menu]").await;
    b.screenshot(&dir.join("user-menu.png")).await;
    b.client.goto(&server.url("/admin")).await.unwrap();
    b.find("[data-testid=audit-table]").await;
    b.set_value("[data-testid=token-name]", "ci").await;
    b.click("[data-testid=token-create]").await;
    b.find("[data-testid=token-secret]").await;
    b.screenshot(&dir.join("admin.png")).await;
    b.client.goto(&server.url(&format!("/boards/{id}"))).await.unwrap();
    b.click("[data-testid=share]").await;
    b.click("[data-testid=share-create]").await;
    b.find("[data-testid=share-created]").await;
    b.screenshot(&dir.join("share.png")).await;
    b.client.goto(&server.url(&format!("/boards/{id}"))).await.unwrap();
    b.click("[data-testid=history]").await;
    b.find("[data-testid=history-author]").await;
    b.screenshot(&dir.join("history.png")).await;
    let demo = Server::start_with(&["--demo", "--demo-postgres=false"]).await;
    b.client.goto(&demo.url("/apm")).await.unwrap();
    b.find("[data-testid=user-demo]").await;
    b.screenshot(&dir.join("demo.png")).await;
    b.close().await;
}
