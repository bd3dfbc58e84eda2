//! Issue 7.11: the compat access token reads like New API's, but deleting the account and
//! changing notification targets need the current password or a fresh login; a password
//! change revokes the access token (option `RevokeAccessTokenOnPasswordChange`, default on).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp};
use crate::reply::send;

const PROOF_REQUIRED: &str =
    "此操作需要验证身份：请在请求中提供当前密码（password），或重新登录后 10 分钟内重试";
const WRONG_PASSWORD: &str = "密码错误";

/// Makes every session of the user look as if it had logged in an hour ago.
async fn age_sessions(app: &TestApp, s: &Session) {
    app.exec(&format!(
        "UPDATE sessions SET created_at = created_at - 3600 WHERE user_id = {}",
        s.id
    ))
    .await;
}

async fn is_live(app: &TestApp, id: i64) -> bool {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM users WHERE id = {id} AND deleted_at IS NULL"
    ))
    .await[0][0]
        == 1
}

#[tokio::test]
async fn an_access_token_alone_cannot_delete_the_account() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = app.access_token(&s).await;
    // Reads stay as in New API.
    let me = app
        .by_token(&token, s.id, Method::GET, "/api/user/self", None)
        .await;
    assert_eq!(me["success"], true, "{me}");

    let reply = app
        .by_token(&token, s.id, Method::DELETE, "/api/user/self", None)
        .await;
    assert_eq!(
        (reply["success"].as_bool(), reply["message"].as_str()),
        (Some(false), Some(PROOF_REQUIRED)),
        "{reply}"
    );
    let wrong = json!({"password": "not-the-password"});
    let reply = app
        .by_token(&token, s.id, Method::DELETE, "/api/user/self", Some(wrong))
        .await;
    assert_eq!(reply["message"], WRONG_PASSWORD, "{reply}");
    assert!(is_live(&app, s.id).await, "refused, so nothing changed");

    let right = json!({"password": PASSWORD});
    let reply = app
        .by_token(&token, s.id, Method::DELETE, "/api/user/self", Some(right))
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    assert!(!is_live(&app, s.id).await);
}

#[tokio::test]
async fn a_fresh_login_deletes_as_the_console_does_and_an_old_one_needs_the_password() {
    let app = TestApp::spawn().await;
    // The console: DELETE with no body, right after logging in.
    let fresh = app.user("fresh").await;
    let reply = app
        .call(&fresh, Method::DELETE, "/api/user/self", None)
        .await;
    assert_eq!(reply["success"], true, "{reply}");

    let old = app.user("old").await;
    age_sessions(&app, &old).await;
    let reply = app.call(&old, Method::DELETE, "/api/user/self", None).await;
    assert_eq!(reply["message"], PROOF_REQUIRED, "{reply}");
    // A 401 would log the console out: the refusal is a business reply.
    let res = send(app.as_user(Method::DELETE, "/api/user/self", &old)).await;
    assert_eq!(res.status, 200);
    assert!(is_live(&app, old.id).await);
    let reply = app
        .call(
            &old,
            Method::DELETE,
            "/api/user/self",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
}

#[tokio::test]
async fn notification_targets_change_only_with_the_password_or_a_fresh_login() {
    let app = TestApp::spawn().await;
    let s = app.user("bob").await;
    let token = app.access_token(&s).await;
    let email = |addr: &str| {
        json!({"notify_type": "email", "quota_warning_threshold": 1000.0,
               "notification_email": addr, "webhook_url": "", "webhook_secret": ""})
    };
    let put =
        |body: Value| app.by_token(&token, s.id, Method::PUT, "/api/user/setting", Some(body));

    // A new target through the token alone is refused and stores nothing.
    let reply = put(email("thief@example.com")).await;
    assert_eq!(reply["message"], PROOF_REQUIRED, "{reply}");
    let stored = app.get_self(&s).await["data"]["setting"].to_string();
    assert!(!stored.contains("thief@example.com"), "{stored}");

    // Other settings (the threshold, the same default channel) still change with the token.
    let reply = put(email("")).await;
    assert_eq!(reply["success"], true, "{reply}");

    // With the current password the target changes.
    let mut body = email("bob@example.com");
    body["password"] = json!(PASSWORD);
    let reply = put(body).await;
    assert_eq!(reply["success"], true, "{reply}");
    let stored = app.get_self(&s).await["data"]["setting"].to_string();
    assert!(stored.contains("bob@example.com"), "{stored}");

    // The console after its login: a cookie session, no password.
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/setting",
            Some(email("bob2@example.com")),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    // An hour later the same change needs the password again.
    age_sessions(&app, &s).await;
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/setting",
            Some(email("bob3@example.com")),
        )
        .await;
    assert_eq!(reply["message"], PROOF_REQUIRED, "{reply}");
    // Saving without changing the target still works.
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/setting",
            Some(email("bob2@example.com")),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
}

#[tokio::test]
async fn a_password_change_revokes_the_access_token_unless_the_option_is_off() {
    let app = TestApp::spawn().await;
    let s = app.user("carol").await;
    let token = app.access_token(&s).await;
    let change = |s: &Session, from: &str, to: &str| {
        let body = json!({"original_password": from, "password": to});
        let s = s.clone();
        let app = &app;
        async move {
            app.call(&s, Method::PUT, "/api/user/self", Some(body))
                .await
        }
    };
    let reply = change(&s, PASSWORD, "second-password-1").await;
    assert_eq!(reply["success"], true, "{reply}");
    let me = app
        .by_token(&token, s.id, Method::GET, "/api/user/self", None)
        .await;
    assert_eq!(me["message"], "无权进行此操作，access token 无效", "{me}");

    // Operators who prefer New API's behaviour turn the option off.
    let root = app.root().await;
    let reply = app
        .call(
            &root,
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "RevokeAccessTokenOnPasswordChange", "value": "false"})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let token = app.access_token(&s).await;
    let reply = change(&s, "second-password-1", "third-password-1").await;
    assert_eq!(reply["success"], true, "{reply}");
    let me = app
        .by_token(&token, s.id, Method::GET, "/api/user/self", None)
        .await;
    assert_eq!(me["success"], true, "{me}");
}

#[tokio::test]
async fn an_admin_reset_always_revokes_the_access_token() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    // Even with the option off: a reset is how an account is taken back.
    let reply = app
        .call(
            &root,
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "RevokeAccessTokenOnPasswordChange", "value": "false"})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let s = app.user("dave").await;
    let token = app.access_token(&s).await;
    let reply = app
        .call(
            &root,
            Method::PUT,
            "/api/user/",
            Some(json!({"id": s.id, "password": "reset-password-1"})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let me = app
        .by_token(&token, s.id, Method::GET, "/api/user/self", None)
        .await;
    assert_eq!(me["message"], "无权进行此操作，access token 无效", "{me}");
}
