use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

/// The console's register request: any body, and the `turnstile` query it always sends.
async fn post_register(app: &TestApp, body: Value) -> Reply {
    app.anonymous(Method::POST, "/api/user/register?turnstile=", Some(body))
        .await
}

#[tokio::test]
async fn the_consoles_register_body_with_nulls_and_extra_fields_is_accepted() {
    let app = TestApp::spawn().await;
    let body = post_register(
        &app,
        json!({
            "username": "alice", "password": PASSWORD, "password2": PASSWORD,
            "email": "", "verification_code": "", "wechat_verification_code": "",
            "aff_code": null
        }),
    )
    .await;
    assert_eq!(body, json!({"success": true, "message": ""}));
    // Registration does not log in: no cookie, and login works with the password.
    app.login("alice", PASSWORD).await;
}

#[tokio::test]
async fn a_new_user_gets_the_configured_quota_through_the_ledger_and_default_sidebar() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_new_user = 250_000).await;
    let s = app.user("bob").await;
    let me = app.get_self(&s).await;
    let d = &me["data"];
    assert_eq!(d["quota"], 250_000);
    assert_eq!(d["role"], 1);
    assert_eq!(d["status"], 1);
    assert_eq!(d["group"], "default");
    assert_eq!(d["display_name"], "bob");
    let sidebar: Value = serde_json::from_str(d["sidebar_modules"].as_str().unwrap()).unwrap();
    assert_eq!(sidebar["personal"]["topup"], true);
    assert!(sidebar.get("admin").is_none());
    let setting: Value = serde_json::from_str(d["setting"].as_str().unwrap()).unwrap();
    assert_eq!(setting["gotify_priority"], 0);
    // Balance equals the ledger.
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"username": "carol", "password": "short"}),
            "密码长度必须为8-128个字符",
        ),
        (
            json!({"username": "", "password": PASSWORD}),
            "用户名长度必须为1-20个字符",
        ),
        (
            json!({"username": "   ", "password": PASSWORD}),
            "用户名长度必须为1-20个字符",
        ),
        (
            json!({"username": "a".repeat(21), "password": PASSWORD}),
            "用户名长度必须为1-20个字符",
        ),
        (
            json!({"username": "carol", "password": "p".repeat(129)}),
            "密码长度必须为8-128个字符",
        ),
        (json!({"username": "carol"}), "密码长度必须为8-128个字符"),
    ];
    for (body, expected) in cases {
        let reply = post_register(&app, body.clone()).await;
        assert_eq!(reply["success"], false, "{body}");
        assert!(
            reply["message"].as_str().unwrap().contains(expected),
            "{body}: {reply}"
        );
    }
    // Malformed JSON is "invalid parameters" at HTTP 200, as New API answers.
    let res = send(
        app.client
            .post(app.url("/api/user/register"))
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(res.status, 200);
    let reply: Value = res.body;
    assert_eq!(reply, json!({"success": false, "message": "无效的参数"}));
    // Only the bootstrap root exists.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM users").await[0][0], 1);
}

#[tokio::test]
async fn passwords_are_counted_in_characters_and_names_of_20_characters_fit() {
    let app = TestApp::spawn().await;
    // 8 characters, 24 bytes.
    let reply = post_register(
        &app,
        json!({"username": "名".repeat(20), "password": "密码密码密码密码"}),
    )
    .await;
    assert_eq!(reply["success"], true, "{reply}");
    app.login(&"名".repeat(20), "密码密码密码密码").await;
}

#[tokio::test]
async fn a_taken_username_is_refused_in_the_request_language() {
    let app = TestApp::spawn().await;
    app.register("dave", PASSWORD).await;
    let zh = app.register("dave", PASSWORD).await;
    assert_eq!(zh["message"], "用户名已存在，或已注销");
    let en = send(
        app.client
            .post(app.url("/api/user/register"))
            .header("Accept-Language", "en-US,en;q=0.9")
            .json(&json!({"username": "dave", "password": PASSWORD})),
    )
    .await;
    assert_eq!(en["message"], "Username already exists or has been deleted");
}

#[tokio::test]
async fn registration_switches_come_from_configuration() {
    let app = TestApp::spawn_with(|s| s.registration.enabled = false).await;
    assert_eq!(
        app.register("erin", PASSWORD).await["message"],
        "管理员关闭了新用户注册"
    );
    let app = TestApp::spawn_with(|s| s.registration.password_register_enabled = false).await;
    assert_eq!(
        app.register("erin", PASSWORD).await["message"],
        "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册"
    );
}

#[tokio::test]
async fn role_quota_and_other_privileged_fields_in_the_body_are_ignored() {
    let app = TestApp::spawn().await;
    let reply = post_register(
        &app,
        json!({"username": "mallory", "password": PASSWORD, "role": 100, "quota": 999_999_999,
               "status": 1, "group": "vip", "aff_quota": 5, "access_token": "x"}),
    )
    .await;
    assert_eq!(reply["success"], true);
    let s = app.login("mallory", PASSWORD).await;
    let d = app.get_self(&s).await["data"].clone();
    assert_eq!(
        (d["role"].as_i64(), d["quota"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(d["group"], "default");
    assert_eq!(d["aff_quota"], 0);
}
