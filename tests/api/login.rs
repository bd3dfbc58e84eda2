use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, ROOT_USERNAME, TestApp, session_cookie, session_set_cookie};
use crate::reply::send;

#[tokio::test]
async fn login_sets_a_strict_httponly_session_cookie_and_returns_the_user() {
    let app = TestApp::spawn().await;
    app.register("alice", PASSWORD).await;
    let res = app.login_response("alice", PASSWORD).await;
    let set_cookie = session_set_cookie(&res.headers).expect("cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(set_cookie.contains(attr), "{attr} missing in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let d = &res.success();
    assert_eq!(d["username"], "alice");
    for key in ["id", "display_name", "role", "status", "group"] {
        assert!(!d[key].is_null(), "{key} missing");
    }
    // The session id never appears in a body, and no password hash anywhere.
    let text = res.body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_when_configured_and_ttl_follows_configuration() {
    let app = TestApp::spawn_with(|s| {
        s.session.cookie_secure = true;
        s.session.ttl_days = 1;
    })
    .await;
    app.register("alice", PASSWORD).await;
    let res = app.login_response("alice", PASSWORD).await;
    let set_cookie = session_set_cookie(&res.headers).unwrap();
    assert!(
        set_cookie.contains("Secure") && set_cookie.contains("Max-Age=86400"),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_account_get_one_message() {
    let app = TestApp::spawn().await;
    app.register("alice", PASSWORD).await;
    app.register("banned", PASSWORD).await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'banned'")
        .await;
    for (user, pw) in [
        ("ghost", PASSWORD),
        ("alice", "wrong-password"),
        ("banned", PASSWORD),
    ] {
        let res = app.login_response(user, pw).await;
        assert!(session_cookie(&res.headers).is_none(), "{user}");
        res.refused_with("用户名或密码错误，或用户已被封禁");
    }
}

#[tokio::test]
async fn empty_credentials_are_invalid_parameters() {
    let app = TestApp::spawn().await;
    assert_eq!(app.login_response("", "").await["message"], "无效的参数");
}

#[tokio::test]
async fn login_can_be_switched_off() {
    let app = TestApp::spawn_with(|s| s.registration.password_login_enabled = false).await;
    let reply = app
        .login_response(ROOT_USERNAME, crate::helpers::ROOT_PASSWORD)
        .await;
    assert_eq!(reply["message"], "管理员关闭了密码登录");
}

#[tokio::test]
async fn logout_revokes_the_session_on_the_server_not_just_the_cookie() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    assert_eq!(app.get_self(&s).await["success"], true);

    let res = send(app.as_user(Method::GET, "/api/user/logout", &s)).await;
    let removal = session_set_cookie(&res.headers).unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(res.body, json!({"success": true, "message": ""}));

    // A copy of the old cookie is dead.
    let res = send(app.as_user(Method::GET, "/api/user/self", &s)).await;
    assert_eq!(res.status, 401);
    // The stored session row is revoked, and only its hash was ever stored.
    let rows = app
        .query_i64("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL")
        .await;
    assert_eq!(rows[0][0], 1);
    let leaked = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE token_hash = '{}'",
            s.cookie
        ))
        .await;
    assert_eq!(leaked[0][0], 0);
}

#[tokio::test]
async fn logout_without_a_session_still_succeeds() {
    let app = TestApp::spawn().await;
    let res = send(app.client.get(app.url("/api/user/logout"))).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["success"], true);
}

#[tokio::test]
async fn sessions_expire_server_side() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    app.exec("UPDATE sessions SET expires_at = 1").await;
    let res = send(app.as_user(Method::GET, "/api/user/self", &s)).await;
    assert_eq!(res.status, 401);
}
