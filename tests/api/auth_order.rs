//! Issue 7.12: authentication comes before input. Every authenticated route of both surfaces,
//! sent without credentials and with a malformed body or query, answers 401 (not "invalid
//! parameters"); and the REST `error` of a bad body names a field and a reason, never the
//! deserializer's text.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};
use crate::rest_helpers::bearer;

const COMPAT_AUTHED: &[(&str, &str)] = &[
    ("GET", "/api/user/"),
    ("POST", "/api/user/"),
    ("PUT", "/api/user/"),
    ("GET", "/api/user/search"),
    ("POST", "/api/user/manage"),
    ("GET", "/api/user/2"),
    ("DELETE", "/api/user/2"),
    ("GET", "/api/user/self"),
    ("PUT", "/api/user/self"),
    ("DELETE", "/api/user/self"),
    ("GET", "/api/user/self/groups"),
    ("GET", "/api/user/models"),
    ("GET", "/api/user/aff"),
    ("POST", "/api/user/aff_transfer"),
    ("PUT", "/api/user/setting"),
    ("GET", "/api/user/token"),
    ("POST", "/api/user/topup"),
    ("GET", "/api/group/"),
    ("GET", "/api/option/"),
    ("PUT", "/api/option/"),
    ("GET", "/api/redemption/"),
    ("POST", "/api/redemption/"),
    ("PUT", "/api/redemption/"),
    ("GET", "/api/redemption/search"),
    ("GET", "/api/redemption/1"),
    ("DELETE", "/api/redemption/1/"),
    ("DELETE", "/api/redemption/invalid"),
];

const REST_AUTHED: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users/profile"),
    ("PUT", "/api/v1/users/profile"),
    ("PUT", "/api/v1/users/password"),
    ("GET", "/api/v1/admin/users"),
    ("PUT", "/api/v1/admin/users/2/status"),
    ("PUT", "/api/v1/admin/users/not-a-number/status"),
    ("GET", "/api/v1/admin/audit"),
];

/// Malformed inputs: (query, content type, body).
const MALFORMED: &[(&str, &str, &str)] = &[
    (
        "?p=abc&page=abc&page_size=-x&keyword=%00&search=%00",
        "application/json",
        "{",
    ),
    (
        "",
        "application/json",
        "{\"username\": 5, \"quota\": \"x\", \"id\": \"y\"}",
    ),
    ("", "application/json", "[1, 2"),
    ("", "application/json", "\"just a string\""),
    ("", "application/json", "{\"display_name\": \"a\\u0000b\"}"),
    ("", "text/plain", "not json at all"),
    ("?p=99999999999999999999999", "application/json", "null"),
];

fn malformed(
    app: &TestApp,
    method: &str,
    path: &str,
    (query, content_type, body): (&str, &str, &str),
) -> reqwest::RequestBuilder {
    app.client
        .request(
            method.parse::<Method>().unwrap(),
            app.url(&format!("{path}{query}")),
        )
        .header("Content-Type", content_type)
        .body(body.to_owned())
}

/// Credentials that fail, each as the auth layer sees them: absent, a logged-out session
/// (a database round trip before the refusal), an unknown access token / a JWT of a revoked
/// session.
#[tokio::test]
async fn unauthenticated_requests_with_bad_input_get_the_auth_refusal_on_every_route() {
    let app = TestApp::spawn().await;
    let stale = app.user("alice").await;
    send(app.as_user(Method::GET, "/api/user/logout", &stale)).await;
    let not_logged_in =
        json!({"success": false, "message": "无权进行此操作，未登录且未提供 access token"});
    let bad_token = json!({"success": false, "message": "无权进行此操作，access token 无效"});
    for (method, path) in COMPAT_AUTHED {
        for m in MALFORMED {
            let what = format!("{method} {path} {m:?}");
            let reply = send(malformed(&app, method, path, *m)).await;
            assert_eq!(
                (reply.status, &reply.body),
                (401, &not_logged_in),
                "no credential: {what}"
            );
            let reply = send(
                malformed(&app, method, path, *m)
                    .header("Cookie", format!("session={}", stale.cookie))
                    .header("New-Api-User", stale.id.to_string()),
            )
            .await;
            assert_eq!(
                (reply.status, &reply.body),
                (401, &not_logged_in),
                "stale cookie: {what}"
            );
            let reply = send(
                malformed(&app, method, path, *m)
                    .header("Authorization", format!("Bearer {}", "x".repeat(43)))
                    .header("New-Api-User", stale.id.to_string()),
            )
            .await;
            assert_eq!(
                (reply.status, &reply.body),
                (200, &bad_token),
                "unknown token: {what}"
            );
        }
    }
    let revoked = app.rest_user("bob").await;
    send(bearer(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &revoked.access,
    ))
    .await
    .ok(200, "已退出登录");
    for (method, path) in REST_AUTHED {
        for m in MALFORMED {
            let what = format!("{method} {path} {m:?}");
            let attempts = [
                malformed(&app, method, path, *m),
                malformed(&app, method, path, *m).header("Authorization", "Bearer x.y.z"),
                malformed(&app, method, path, *m)
                    .header("Authorization", format!("Bearer {}", revoked.access)),
            ];
            for (i, req) in attempts.into_iter().enumerate() {
                if let Err(e) = send(req).await.check_unauthenticated() {
                    panic!("credential {i}: {what}: {e}");
                }
            }
        }
    }
}

#[tokio::test]
async fn authenticated_requests_with_bad_input_still_get_the_clear_refusal() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let reply = send(
        app.as_user(Method::PUT, "/api/user/self", &alice)
            .header("Content-Type", "application/json")
            .body("{"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let body: serde_json::Value = reply.body;
    assert_eq!(body, json!({"success": false, "message": "无效的参数"}));

    let tokens = app.rest_user("bob").await;
    let reply = send(
        bearer(&app, Method::PUT, "/api/v1/users/profile", &tokens.access)
            .header("Content-Type", "application/json")
            .body("{"),
    )
    .await;
    assert_eq!(reply.err(400, "请求参数错误"), "body: malformed");
}

/// The REST `error` of a refused body or query: the part, the field and a fixed reason.
#[tokio::test]
async fn rest_input_errors_name_a_field_and_a_reason_never_the_parser_text() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let url = app.url("/api/v1/auth/register");
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            app.client
                .post(&url)
                .json(&json!({"username": 5, "password": PASSWORD})),
            "body field username: wrong type or value",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({"username": "alice", "password": ["x"]})),
            "body field password: wrong type or value",
        ),
        (
            app.client
                .post(&url)
                .header("Content-Type", "application/json")
                .body("{\"username\": "),
            "body: malformed",
        ),
        (
            app.client
                .post(&url)
                .header("Content-Type", "application/json")
                .body("\"alice\""),
            "body: must be a JSON object",
        ),
        (
            app.client
                .post(&url)
                .header("Content-Type", "text/plain")
                .body("{}"),
            "body: content type must be application/json",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({"pad": "x".repeat(70_000)})),
            "body: too large",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({"username": "a\u{0}b", "password": PASSWORD})),
            "body field username: control characters are not allowed",
        ),
        (
            bearer(&app, Method::PUT, "/api/v1/users/profile", &tokens.access)
                .json(&json!({"avatar": {"url": "x"}})),
            "body field avatar: wrong type or value",
        ),
    ];
    for (req, expected) in cases {
        let reply: Reply = send(req).await;
        assert_eq!(reply.err(400, "请求参数错误"), expected, "{:?}", reply.body);
    }
}
