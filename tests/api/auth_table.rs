//! The auth table of docs/newapi-behaviour.md §3.2, plus the live-status guarantees New API lacked.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::reply::{refusal, send};

#[tokio::test]
async fn no_session_and_no_token_is_401() {
    let app = TestApp::spawn().await;
    let b = send(app.client.get(app.url("/api/user/self"))).await;
    let status = b.status;
    assert_eq!(status, 401);
    assert_eq!(b, refusal("无权进行此操作，未登录且未提供 access token"));
}

#[tokio::test]
async fn an_invalid_access_token_is_200_with_success_false() {
    let app = TestApp::spawn().await;
    let b = send(
        app.client
            .get(app.url("/api/user/self"))
            .header("Authorization", "Bearer not-a-token")
            .header("New-Api-User", "1"),
    )
    .await;
    let status = b.status;
    assert_eq!(status, 200);
    assert_eq!(b, refusal("无权进行此操作，access token 无效"));
}

#[tokio::test]
async fn the_new_api_user_header_is_checked_on_both_paths() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = app.access_token(&s).await;
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
            let b = send(req).await;
            let status = b.status;
            assert_eq!(status, 401, "{header:?}");
            assert_eq!(b, refusal(message), "{header:?}");
        }
    }
}

#[tokio::test]
async fn the_access_token_works_with_and_without_bearer_and_rotation_kills_the_old_one() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let first = app.access_token(&s).await;
    assert_eq!(first.len(), 43);
    for auth in [format!("Bearer {first}"), first.clone()] {
        let b = send(
            app.client
                .get(app.url("/api/user/self"))
                .header("Authorization", auth)
                .header("New-Api-User", s.id.to_string()),
        )
        .await;
        let status = b.status;
        assert_eq!(status, 200);
        assert_eq!(b["data"]["username"], "alice");
        // The self object never reveals the token.
        assert_eq!(b["data"]["access_token"], "");
    }
    // Rotating with the token itself works (third-party clients do this) and kills it.
    let second = send(app.with_token(Method::GET, "/api/user/token", &first, s.id)).await;
    let second = second["data"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let b = send(app.with_token(Method::GET, "/api/user/self", &first, s.id)).await;
    assert_eq!(b, refusal("无权进行此操作，access token 无效"));
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
    let token = app.access_token(&s).await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'alice'")
        .await;
    let b = send(app.as_user(Method::GET, "/api/user/self", &s)).await;
    let status = b.status;
    assert_eq!((status, b.body), (200, refusal("用户已被封禁")));
    let b = send(
        app.client
            .get(app.url("/api/user/token"))
            .header("Authorization", token)
            .header("New-Api-User", s.id.to_string()),
    )
    .await;
    let status = b.status;
    assert_eq!((status, b.body), (200, refusal("用户已被封禁")));
}

#[tokio::test]
async fn a_role_below_the_route_minimum_is_200_insufficient_privileges() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    for (method, path) in [
        (Method::GET, "/api/redemption/"),
        (Method::POST, "/api/redemption/"),
    ] {
        let b = send(
            app.as_user(method, path, &s)
                .json(&json!({"name": "x", "quota": 1, "count": 1})),
        )
        .await;
        let status = b.status;
        assert_eq!(
            (status, b.body),
            (200, refusal("无权进行此操作，权限不足")),
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
    let b = send(app.as_user(Method::GET, "/api/redemption/", &s)).await;
    assert_eq!(b["success"], true, "{b}");
    app.exec("UPDATE users SET role = 1 WHERE username = 'alice'")
        .await;
    let b = send(app.as_user(Method::GET, "/api/redemption/", &s)).await;
    assert_eq!(b, refusal("无权进行此操作，权限不足"));
}

#[tokio::test]
async fn a_deleted_users_session_and_token_stop_working() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let token = app.access_token(&s).await;
    app.exec("UPDATE users SET deleted_at = 1 WHERE username = 'alice'")
        .await;
    let res = send(app.as_user(Method::GET, "/api/user/self", &s)).await;
    assert_eq!(res.status, 401);
    let b = send(
        app.client
            .get(app.url("/api/user/self"))
            .header("Authorization", token)
            .header("New-Api-User", s.id.to_string()),
    )
    .await;
    let status = b.status;
    assert_eq!(
        (status, b.body),
        (200, refusal("无权进行此操作，access token 无效"))
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
