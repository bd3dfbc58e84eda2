//! The auth table of console-contract §1, plus the live-status guarantees New API lacked.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn refused(message: &str) -> Value {
    json!({"success": false, "message": message})
}

async fn token_for(app: &TestApp, s: &Session) -> String {
    let reply: Value = app
        .as_user(Method::GET, "/api/user/token", s)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["success"], true, "{reply}");
    reply["data"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_session_and_no_token_is_401() {
    let app = TestApp::spawn().await;
    let (status, b) = body(
        app.client
            .get(app.url("/api/user/self"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(b, refused("无权进行此操作，未登录且未提供 access token"));
}

#[tokio::test]
async fn an_invalid_access_token_is_200_with_success_false() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/api/user/self"))
        .header("Authorization", "Bearer not-a-token")
        .header("New-Api-User", "1")
        .send()
        .await
        .unwrap();
    let (status, b) = body(res).await;
    assert_eq!(status, 200);
    assert_eq!(b, refused("无权进行此操作，access token 无效"));
}

#[tokio::test]
async fn the_new_api_user_header_is_checked_on_both_paths() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = token_for(&app, &s).await;
    let cases: [(Option<&str>, &str); 3] = [
        (None, "无权进行此操作，未提供 New-Api-User"),
        (Some("abc"), "无权进行此操作，New-Api-User 格式错误"),
        (
            Some("999999"),
            "无权进行此操作，New-Api-User 与登录用户不匹配",
        ),
    ];
    for (header, message) in cases {
        let by_cookie = app
            .client
            .get(app.url("/api/user/self"))
            .header("Cookie", format!("session={}", s.cookie));
        let by_token = app
            .client
            .get(app.url("/api/user/self"))
            .header("Authorization", format!("Bearer {token}"));
        for req in [by_cookie, by_token] {
            let req = match header {
                Some(h) => req.header("New-API-User", h),
                None => req,
            };
            let (status, b) = body(req.send().await.unwrap()).await;
            assert_eq!(status, 401, "{header:?}");
            assert_eq!(b, refused(message), "{header:?}");
        }
    }
}

#[tokio::test]
async fn the_access_token_works_with_and_without_bearer_and_rotation_kills_the_old_one() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let first = token_for(&app, &s).await;
    assert_eq!(first.len(), 43);
    for auth in [format!("Bearer {first}"), first.clone()] {
        let (status, b) = body(
            app.client
                .get(app.url("/api/user/self"))
                .header("Authorization", auth)
                .header("New-Api-User", s.id.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(b["data"]["username"], "alice");
        // The self object never reveals the token.
        assert_eq!(b["data"]["access_token"], "");
    }
    // Rotating with the token itself works (third-party clients do this) and kills it.
    let second: Value = app
        .with_token(Method::GET, "/api/user/token", &first, s.id)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = second["data"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (_, b) = body(
        app.with_token(Method::GET, "/api/user/self", &first, s.id)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(b, refused("无权进行此操作，access token 无效"));
    // Stored hashed: the plaintext is nowhere in the users table.
    let found = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE access_token_hash = '{second}'"
        ))
        .await;
    assert_eq!(found[0][0], 0);
}

#[tokio::test]
async fn a_disabled_user_is_refused_at_once_on_session_and_token() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = token_for(&app, &s).await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'alice'")
        .await;
    let (status, b) = body(
        app.as_user(Method::GET, "/api/user/self", &s)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, b), (200, refused("用户已被封禁")));
    let (status, b) = body(
        app.client
            .get(app.url("/api/user/token"))
            .header("Authorization", token)
            .header("New-Api-User", s.id.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, b), (200, refused("用户已被封禁")));
}

#[tokio::test]
async fn a_role_below_the_route_minimum_is_200_insufficient_privileges() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    for (method, path) in [
        (Method::GET, "/api/redemption/"),
        (Method::POST, "/api/redemption/"),
    ] {
        let (status, b) = body(
            app.as_user(method, path, &s)
                .json(&json!({"name": "x", "quota": 1, "count": 1}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, b),
            (200, refused("无权进行此操作，权限不足")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_routes_on_the_next_request() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    app.exec("UPDATE users SET role = 10 WHERE username = 'alice'")
        .await;
    let (_, b) = body(
        app.as_user(Method::GET, "/api/redemption/", &s)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(b["success"], true, "{b}");
    app.exec("UPDATE users SET role = 1 WHERE username = 'alice'")
        .await;
    let (_, b) = body(
        app.as_user(Method::GET, "/api/redemption/", &s)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(b, refused("无权进行此操作，权限不足"));
}

#[tokio::test]
async fn a_deleted_users_session_and_token_stop_working() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = token_for(&app, &s).await;
    app.exec("UPDATE users SET deleted_at = 1 WHERE username = 'alice'")
        .await;
    let res = app
        .as_user(Method::GET, "/api/user/self", &s)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (status, b) = body(
        app.client
            .get(app.url("/api/user/self"))
            .header("Authorization", token)
            .header("New-Api-User", s.id.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, b),
        (200, refused("无权进行此操作，access token 无效"))
    );
}

#[tokio::test]
async fn self_returns_the_console_fields_and_no_secrets() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let b = app.get_self(&s).await;
    let d = &b["data"];
    for key in [
        "id",
        "username",
        "display_name",
        "role",
        "status",
        "email",
        "group",
        "quota",
        "used_quota",
        "request_count",
        "aff_code",
        "aff_count",
        "aff_quota",
        "aff_history_quota",
        "inviter_id",
        "setting",
        "sidebar_modules",
        "permissions",
        "access_token",
        "linux_do_id",
        "stripe_customer",
    ] {
        assert!(d.get(key).is_some(), "{key} missing");
    }
    assert_eq!(d["permissions"]["sidebar_modules"]["admin"], false);
    let text = b.to_string();
    assert!(
        !text.contains("argon2") && !text.contains(&s.cookie),
        "{text}"
    );
}
