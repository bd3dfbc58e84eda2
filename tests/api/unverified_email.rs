//! Issue 7.7: an e-mail address nobody verified is never stored, so it is never a login name
//! and never blocks the owner's registration.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::send;

const EMAIL_UNVERIFIED: &str = "邮箱验证开放前不能设置邮箱";

#[tokio::test]
async fn an_address_sent_at_rest_registration_is_not_stored_and_cannot_be_squatted() {
    let app = TestApp::spawn().await;
    // Mallory registers first with alice's address.
    let mallory = app
        .rest_register("mallory", "mallorys-password", Some("alice@example.com"))
        .await
        .ok(201, "注册成功");
    assert_eq!(mallory["email"], "", "not stored");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email IS NOT NULL")
            .await[0][0],
        0
    );
    // The owner of the address is not refused.
    let alice = app
        .rest_register("alice", PASSWORD, Some("alice@example.com"))
        .await
        .ok(201, "注册成功");
    assert_eq!(alice["email"], "");
    // The address logs into nobody's account, on either surface.
    let compat = app
        .login_response("alice@example.com", "mallorys-password")
        .await;
    assert_eq!(compat["success"], false, "{compat}");
    app.rest_login("alice@example.com", "mallorys-password")
        .await
        .err(401, "认证失败");
    // The compat registration drops the address too.
    let reply = send(
        app.client
            .post(app.url("/api/user/register"))
            .json(&json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"})),
    )
    .await;
    assert_eq!(reply["success"], true, "{reply}");
    app.rest_register("bob2", PASSWORD, Some("bob@example.com"))
        .await
        .ok(201, "注册成功");
}

#[tokio::test]
async fn a_profile_update_cannot_set_an_unverified_address_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mallory = app.rest_user("mallory").await;
    let before = app.profile_of(&mallory.access).await;
    for body in [
        json!({"email": "alice@example.com"}),
        json!({"email": "alice@example.com", "phone": "13800138000", "username": "mal2"}),
    ] {
        let error = app
            .put_profile(&mallory.access, &body)
            .await
            .err(400, EMAIL_UNVERIFIED);
        assert_eq!(
            error,
            "the e-mail address cannot be set until e-mail verification is available"
        );
    }
    assert_eq!(
        app.profile_of(&mallory.access).await,
        before,
        "nothing changed"
    );
    // The owner registers with it; the address logs into nobody's account.
    app.rest_register("alice", PASSWORD, Some("alice@example.com"))
        .await
        .ok(201, "注册成功");
    app.rest_login("alice@example.com", PASSWORD)
        .await
        .err(401, "认证失败");
    // Clearing an address is always allowed.
    app.put_profile(&mallory.access, &json!({"email": ""}))
        .await
        .ok(200, "更新成功");
}

#[tokio::test]
async fn an_address_stored_before_the_fix_is_not_a_login_name() {
    let app = TestApp::spawn().await;
    let squatter = app.rest_user("mallory").await;
    app.exec(&format!(
        "UPDATE users SET email = 'alice@example.com' WHERE id = {}",
        squatter.user_id
    ))
    .await;
    app.rest_login("alice@example.com", PASSWORD)
        .await
        .err(401, "认证失败");
    let compat = app.login_response("alice@example.com", PASSWORD).await;
    assert_eq!(compat["success"], false, "{compat}");
    // The account itself still logs in by its name.
    app.rest_tokens("mallory", PASSWORD).await;
}
