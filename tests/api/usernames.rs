//! Issue 7.6: usernames are stored NFKC-normalised and are unique case- and
//! confusable-insensitively; invisible, bidi-control and mixed-script names are refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

const TAKEN: &str = "用户名已存在，或已注销";
const UNSAFE: &str =
    "输入不合法 用户名不能包含不可见字符、双向控制字符、非ASCII符号，或混用易混淆的文字";

/// Spellings of `root` (and of `café`, registered first) that must not become new accounts,
/// with the compat message each gets.
fn lookalikes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ROOT", TAKEN),
        ("Root", TAKEN),
        ("ｒｏｏｔ", TAKEN),
        ("ＲＯＯＴ", TAKEN),
        (" root ", TAKEN),
        ("r00t", TAKEN),
        ("cafe\u{301}", TAKEN),
        ("CAFÉ", TAKEN),
        ("root\u{200B}", UNSAFE),
        ("ro\u{200D}ot", UNSAFE),
        ("\u{FEFF}root", UNSAFE),
        ("root\u{AD}", UNSAFE),
        ("\u{202E}toor", UNSAFE),
        ("root\u{2066}", UNSAFE),
        ("r\u{43E}\u{43E}t", UNSAFE),
        ("\u{440}oot", UNSAFE),
        ("r\u{3BF}ot", UNSAFE),
    ]
}

#[tokio::test]
async fn lookalike_usernames_are_refused_on_both_surfaces_and_change_nothing() {
    let app = TestApp::spawn().await;
    assert_eq!(app.register("café", PASSWORD).await["success"], true);
    let before = app.query_i64("SELECT COUNT(*) FROM users").await[0][0];
    for (name, message) in lookalikes() {
        assert_eq!(
            app.register(name, PASSWORD).await,
            json!({"success": false, "message": message}),
            "compat {name:?}"
        );
        let rest = app.rest_register(name, PASSWORD, None).await;
        let status = if message == TAKEN { 409 } else { 400 };
        assert_eq!(rest.status, status, "REST {name:?}: {}", rest.body);
    }
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users").await[0][0],
        before
    );
}

#[tokio::test]
async fn renames_to_a_lookalike_are_refused_on_every_path() {
    let app = TestApp::spawn().await;
    let mallory = app.rest_user("mallory").await;
    for name in ["ROOT", "ｒｏｏｔ", "r00t"] {
        app.put_profile(&mallory.access, &json!({"username": name}))
            .await
            .err(409, "用户名已存在");
    }
    app.put_profile(&mallory.access, &json!({"username": "r\u{43E}\u{43E}t"}))
        .await
        .err(400, "请求参数错误");
    // Admin create and update.
    let root = app.root().await;
    let created = app
        .call(
            &root,
            Method::POST,
            "/api/user/",
            Some(json!({"username": "Root", "password": PASSWORD})),
        )
        .await;
    assert_eq!(created, json!({"success": false, "message": TAKEN}));
    let mut body = app
        .call(
            &root,
            Method::GET,
            &format!("/api/user/{}", mallory.user_id),
            None,
        )
        .await["data"]
        .clone();
    body["username"] = json!("ROOT");
    let updated = app.call(&root, Method::PUT, "/api/user/", Some(body)).await;
    assert_eq!(updated, json!({"success": false, "message": TAKEN}));
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE username = 'mallory' AND id = {}",
            mallory.user_id
        ))
        .await[0][0],
        1
    );
}

#[tokio::test]
async fn names_are_stored_normalised_and_log_in_by_any_equivalent_spelling() {
    let app = TestApp::spawn().await;
    // Decomposed on the wire, stored composed (NFKC).
    assert_eq!(app.register("Jose\u{301}", PASSWORD).await["success"], true);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE username = 'José'")
            .await[0][0],
        1
    );
    // Fullwidth and decomposed spellings log in; another case does not (New API's names
    // are case-sensitive at login).
    app.login("José", PASSWORD).await;
    app.login("Jose\u{301}", PASSWORD).await;
    app.login("Ｊｏｓé", PASSWORD).await;
    let other_case: Value = app.login_response("JOSÉ", PASSWORD).await.body;
    assert_eq!(other_case["success"], false);
    // Scripts may be used alone or with Latin where they are not look-alikes.
    for name in [
        "张三abc",
        "Иван",
        "Ελένη",
        "山田タロウ",
        "John Doe",
        "a_b-c.d",
    ] {
        assert_eq!(
            app.register(name, PASSWORD).await["success"],
            true,
            "{name}"
        );
        app.login(name, PASSWORD).await;
    }
}
