//! Issue 7.10: hardening headers. `Cache-Control: no-store` on every `/api/` reply (every reply
//! that could carry a secret is under `/api/`), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer` on every reply, HSTS only when `session.cookie_secure` is on.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

const HSTS: &str = "max-age=31536000";

#[track_caller]
fn assert_hardened(res: &Reply, api: bool, hsts: bool, what: &str) {
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{what}");
    if api {
        assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
    }
    assert_eq!(
        res.header("strict-transport-security"),
        hsts.then_some(HSTS),
        "{what}"
    );
}

async fn replies(app: &TestApp) -> Vec<(&'static str, bool, Reply)> {
    let alice = app.user("alice").await;
    let tokens = app.rest_user("bob").await;
    let bob = json!({"username": "bob", "password": PASSWORD});
    let carol = json!({"username": "carol", "password": PASSWORD});
    let broken = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body("{");
    vec![
        (
            "compat login",
            true,
            app.login_response("alice", PASSWORD).await,
        ),
        (
            "compat token rotation",
            true,
            app.call(&alice, Method::GET, "/api/user/token", None).await,
        ),
        ("compat self", true, app.get_self(&alice).await),
        (
            "compat 401",
            true,
            app.anonymous(Method::GET, "/api/user/self", None).await,
        ),
        (
            "compat 404",
            true,
            app.anonymous(Method::GET, "/api/nope", None).await,
        ),
        (
            "status",
            true,
            app.anonymous(Method::GET, "/api/status", None).await,
        ),
        (
            "rest register",
            true,
            app.post_json("/api/v1/auth/register", &carol).await,
        ),
        (
            "rest login",
            true,
            app.post_json("/api/v1/auth/login", &bob).await,
        ),
        (
            "rest refresh",
            true,
            app.rest_refresh(&tokens.refresh).await,
        ),
        ("rest 400", true, send(broken).await),
        ("rest 401", true, app.get_profile("x").await),
        (
            "healthz",
            false,
            app.anonymous(Method::GET, "/healthz", None).await,
        ),
        (
            "unknown path",
            false,
            app.anonymous(Method::GET, "/nope", None).await,
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
