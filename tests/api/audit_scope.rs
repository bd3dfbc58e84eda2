//! Issue 7.8: who may read which audit entries, what a failed login leaves behind, and how
//! many rows one client can make the server write.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};

/// Registers `name` and makes it an admin through root's own route (audited, actor root).
async fn promoted_admin(app: &TestApp, root: &Session, name: &str) -> Session {
    let reg = app.register(name, PASSWORD).await;
    assert_eq!(reg["success"], true, "{reg}");
    // No login before the promotion: every entry about the user is written while an admin.
    let id = app
        .query_i64(&format!("SELECT id FROM users WHERE username = '{name}'"))
        .await[0][0];
    let reply = app
        .call(
            root,
            Method::POST,
            "/api/user/manage",
            Some(json!({"id": id, "action": "promote"})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    app.login(name, PASSWORD).await
}

async fn audit(app: &TestApp, token: &str, query: &str) -> Value {
    let reply = app.audit_log(token, query).await;
    assert_eq!(reply.status, 200);
    reply.body
}

fn total(page: &Value) -> u64 {
    page["data"]["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn entries_about_a_hard_deleted_admin_stay_hidden_from_other_admins() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let a = promoted_admin(&app, &root, "admin-a").await;
    let b = promoted_admin(&app, &root, "admin-b").await;
    // B acts and is acted upon: its own login, a failed login on its name.
    app.login_response("admin-b", "wrong-password-1").await;
    let a_token = app.rest_token("admin-a", PASSWORD).await;
    let query = format!("target={}", b.id);
    assert_eq!(
        total(&audit(&app, &a_token, &query).await),
        0,
        "B is A's peer"
    );

    let reply = app
        .call(&root, Method::DELETE, &format!("/api/user/{}", b.id), None)
        .await;
    assert_eq!(reply["success"], true, "{reply}");

    // The row is gone; the entries about B still carry B's role at the time.
    let after = audit(&app, &a_token, &query).await;
    assert_eq!(total(&after), 0, "{after}");
    // Root still sees all of them, the hard deletion included.
    let root_token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let all = audit(&app, &root_token, &query).await;
    let actions: Vec<&str> = all["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "user.promoted",
        "login.succeeded",
        "login.failed",
        "user.hard_deleted",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    // A still sees itself.
    assert!(total(&audit(&app, &a_token, &format!("target={}", a.id)).await) > 0);
}

#[tokio::test]
async fn a_failed_login_for_an_unknown_name_leaves_no_trace_of_the_typed_text() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    promoted_admin(&app, &root, "watcher").await;
    let victim = app.user("victim").await;
    // The classic slip: the password typed into the name field.
    let typed = "hunter2-Pa55word!";
    let reply: Value = app.login_response(typed, "whatever-else").await.body;
    assert_eq!(reply["success"], false);
    // A failed login on an existing account keeps its target.
    app.login_response("victim", "not-the-password").await;

    for (user, password) in [("watcher", PASSWORD), (ROOT_USERNAME, ROOT_PASSWORD)] {
        let token = app.rest_token(user, password).await;
        let page = audit(&app, &token, "action=login.failed").await;
        let text = page.to_string();
        assert!(!text.contains(typed), "{user} sees the typed name: {text}");
        let entries = page["data"]["entries"].as_array().unwrap();
        assert!(
            entries.iter().any(|e| e["target_id"] == victim.id),
            "{user}: the failed login on victim is missing: {text}"
        );
    }
    // Not in the table either.
    let stored = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE {} LIKE '%{typed}%' OR {} LIKE '%{typed}%'",
            app.column("after"),
            app.column("before"),
        ))
        .await;
    assert_eq!(stored[0][0], 0);
}

#[tokio::test]
async fn admins_never_see_what_root_did_nor_roots_address() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    promoted_admin(&app, &root, "adm").await;
    let u = app.user("someone").await;
    // Root acts on a user below the admin: an entry the admin would otherwise see.
    let reply = app
        .call(
            &root,
            Method::POST,
            "/api/user/manage",
            Some(json!({"id": u.id, "action": "disable"})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let reply = app
        .call(
            &root,
            Method::PUT,
            "/api/user/",
            Some(json!({"id": u.id, "quota": 700})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");

    let adm = app.rest_token("adm", PASSWORD).await;
    let by_root = audit(&app, &adm, &format!("actor={}", root.id)).await;
    assert_eq!(total(&by_root), 0, "{by_root}");
    let about_u = audit(&app, &adm, &format!("target={}", u.id)).await;
    assert!(
        about_u["data"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_id"] != root.id),
        "{about_u}"
    );
    // The user's own login is still visible to the admin.
    assert!(total(&about_u) >= 1, "{about_u}");
    // Root reads its own acts.
    let root_token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let mine = audit(&app, &root_token, &format!("actor={}", root.id)).await;
    assert!(total(&mine) >= 3, "{mine}");
}

#[tokio::test]
async fn failed_logins_beyond_the_per_address_limit_are_refused_but_not_written_row_by_row() {
    let app = TestApp::spawn_with(|s| s.audit.failed_login_records_per_hour = 3).await;
    app.user("target").await;
    for i in 0..8 {
        let reply: Value = app
            .login_response(if i % 2 == 0 { "target" } else { "nobody" }, "wrong")
            .await
            .body;
        assert_eq!(reply["success"], false, "attempt {i}: {reply}");
    }
    let rows = app
        .query_i64("SELECT COUNT(*) FROM audit WHERE action = 'login.failed'")
        .await;
    assert_eq!(rows[0][0], 3);
    // The right password still works: the limit is on rows, not on logins.
    app.login("target", PASSWORD).await;
}
