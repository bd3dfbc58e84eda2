//! Issue 7.10: hardening headers. `Cache-Control: no-store` on every `/api/` reply (every reply
//! that could carry a secret is under `/api/`), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer` on every reply, HSTS only when `session.cookie_secure` is on.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::rest_helpers::{bearer, rest_user};

const HSTS: &str = "max-age=31536000";

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[track_caller]
fn assert_hardened(res: &Response, api: bool, hsts: bool, what: &str) {
    assert_eq!(
        header(res, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(res, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    if api {
        assert_eq!(header(res, "cache-control"), Some("no-store"), "{what}");
    }
    assert_eq!(
        header(res, "strict-transport-security"),
        hsts.then_some(HSTS),
        "{what}"
    );
}

async fn replies(app: &TestApp) -> Vec<(&'static str, bool, Response)> {
    let alice = app.user("alice").await;
    let tokens = rest_user(app, "bob").await;
    let c = &app.client;
    vec![
        (
            "compat login",
            true,
            app.login_response("alice", PASSWORD).await,
        ),
        (
            "compat token rotation",
            true,
            app.as_user(Method::GET, "/api/user/token", &alice)
                .send()
                .await
                .unwrap(),
        ),
        (
            "compat self",
            true,
            app.as_user(Method::GET, "/api/user/self", &alice)
                .send()
                .await
                .unwrap(),
        ),
        (
            "compat 401",
            true,
            c.get(app.url("/api/user/self")).send().await.unwrap(),
        ),
        (
            "compat 404",
            true,
            c.get(app.url("/api/nope")).send().await.unwrap(),
        ),
        (
            "status",
            true,
            c.get(app.url("/api/status")).send().await.unwrap(),
        ),
        (
            "rest register",
            true,
            c.post(app.url("/api/v1/auth/register"))
                .json(&json!({"username": "carol", "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "rest login",
            true,
            c.post(app.url("/api/v1/auth/login"))
                .json(&json!({"username": "bob", "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "rest refresh",
            true,
            c.post(app.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": tokens.refresh}))
                .send()
                .await
                .unwrap(),
        ),
        (
            "rest 400",
            true,
            c.post(app.url("/api/v1/auth/login"))
                .header("Content-Type", "application/json")
                .body("{")
                .send()
                .await
                .unwrap(),
        ),
        (
            "rest 401",
            true,
            bearer(app, Method::GET, "/api/v1/users/profile", "x")
                .send()
                .await
                .unwrap(),
        ),
        (
            "healthz",
            false,
            c.get(app.url("/healthz")).send().await.unwrap(),
        ),
        (
            "unknown path",
            false,
            c.get(app.url("/nope")).send().await.unwrap(),
        ),
    ]
}

#[tokio::test]
async fn every_reply_is_hardened_and_api_replies_are_not_stored() {
    let app = TestApp::spawn().await;
    for (what, api, res) in replies(&app).await {
        assert_hardened(&res, api, false, what);
    }
}

#[tokio::test]
async fn hsts_is_sent_when_cookies_are_secure() {
    let app = TestApp::spawn_with(|s| s.session.cookie_secure = true).await;
    for (what, api, res) in replies(&app).await {
        assert_hardened(&res, api, true, what);
    }
}
