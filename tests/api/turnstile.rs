//! Issue 10: Turnstile (spec §8.2 without its defects, §10 item 25). While root has it on,
//! login and registration on both surfaces need `?turnstile=<token>`, verified with the
//! provider (here a local fake) on every request: no session whitelist, and a wrong password
//! costs nothing but a new token. The secret key is never listed.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_tests::fakes::turnstile::{FakeTurnstile, SiteVerifyCall};

use crate::helpers::{PASSWORD, ROOT_USERNAME, Session, TestApp, session_cookie};
use crate::reply::{Reply, send};

const SITE_KEY: &str = "0x4AAAAAAAtestsitekey";
const SECRET_KEY: &str = "0x4AAAAAAAtestsecret-do-not-show";
const EMPTY: &str = "Turnstile token 为空";
const FAILED: &str = "Turnstile 校验失败，请刷新重试！";

/// An app whose `turnstile.verify_url` is the fake's, with root logged in (before the check is
/// on) and the check turned on with both keys.
async fn with_turnstile_on() -> (TestApp, FakeTurnstile, Session) {
    let fake = FakeTurnstile::start(SECRET_KEY).await;
    let url = fake.verify_url();
    let app = TestApp::spawn_with(|s| s.turnstile.verify_url = url).await;
    let root = app.root().await;
    turn_on(&app, &root).await;
    (app, fake, root)
}

fn with_token(path: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{path}?turnstile={t}"),
        None => path.to_owned(),
    }
}

async fn login(app: &TestApp, name: &str, password: &str, token: Option<&str>) -> Reply {
    let url = app.url(&with_token("/api/user/login", token));
    send(
        app.client
            .post(url)
            .json(&json!({"username": name, "password": password})),
    )
    .await
}

async fn register(app: &TestApp, name: &str, token: Option<&str>) -> Reply {
    let url = app.url(&with_token("/api/user/register", token));
    send(
        app.client
            .post(url)
            .json(&json!({"username": name, "password": PASSWORD})),
    )
    .await
}

async fn rest(app: &TestApp, path: &str, name: &str, token: Option<&str>) -> Reply {
    let url = app.url(&with_token(path, token));
    send(
        app.client
            .post(url)
            .json(&json!({"username": name, "password": PASSWORD})),
    )
    .await
}

#[tokio::test]
async fn off_no_token_is_needed_and_the_provider_is_never_asked() {
    let fake = FakeTurnstile::start(SECRET_KEY).await;
    let url = fake.verify_url();
    let app = TestApp::spawn_with(|s| s.turnstile.verify_url = url).await;
    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    assert_eq!(status["turnstile_check"], false);

    register(&app, "ann", None).await.success();
    login(&app, "ann", PASSWORD, None).await.success();
    rest(&app, "/api/v1/auth/register", "ben", Some(""))
        .await
        .ok(201, "注册成功");
    assert_eq!(fake.calls(), []);
}

#[tokio::test]
async fn on_login_and_register_need_a_fresh_token_on_both_surfaces() {
    // Arrange
    let (app, fake, _root) = with_turnstile_on().await;

    // Act / Assert: the compat surface answers New API's messages at HTTP 200.
    register(&app, "cat", None).await.refused_with(EMPTY);
    register(&app, "cat", Some("")).await.refused_with(EMPTY);
    register(&app, "cat", Some("forged"))
        .await
        .refused_with(FAILED);
    let good = fake.issue();
    register(&app, "cat", Some(&good)).await.success();
    // The same token again: the provider refuses a duplicate; nothing was whitelisted.
    login(&app, "cat", PASSWORD, Some(&good))
        .await
        .refused_with(FAILED);
    login(&app, "cat", PASSWORD, None).await.refused_with(EMPTY);
    let session = login(&app, "cat", PASSWORD, Some(&fake.issue())).await;
    session.success();
    // A logged-in browser still needs a token for the next login (New API skipped it).
    let cookie = session_cookie(&session.headers).unwrap();
    let again = send(
        app.client
            .post(app.url("/api/user/login"))
            .header("Cookie", format!("session={cookie}"))
            .json(&json!({"username": "cat", "password": PASSWORD})),
    )
    .await;
    again.refused_with(EMPTY);

    // The REST surface: 400 without a token, 403 with a bad one, the envelope either way.
    let missing = rest(&app, "/api/v1/auth/login", "cat", None).await;
    assert_eq!(
        missing.err(400, EMPTY),
        "the turnstile query parameter is required"
    );
    let bad = rest(&app, "/api/v1/auth/register", "dog", Some("forged")).await;
    assert_eq!(bad.err(403, FAILED), "turnstile check failed");
    rest(&app, "/api/v1/auth/register", "dog", Some(&fake.issue()))
        .await
        .ok(201, "注册成功");
    rest(&app, "/api/v1/auth/login", "dog", Some(&fake.issue()))
        .await
        .ok(200, "登录成功");

    // The provider got our secret, the token and the client's address, once per request
    // that carried a token.
    let calls = fake.calls();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert_eq!(
        calls[0],
        SiteVerifyCall {
            secret: SECRET_KEY.into(),
            response: "forged".into(),
            remoteip: Some("127.0.0.1".into()),
        }
    );
}

#[tokio::test]
async fn a_wrong_password_costs_only_a_new_token() {
    let (app, fake, _root) = with_turnstile_on().await;
    register(&app, "eve", Some(&fake.issue())).await.success();

    login(&app, "eve", "not-the-password", Some(&fake.issue()))
        .await
        .refused_with("用户名或密码错误，或用户已被封禁");
    let data = login(&app, "eve", PASSWORD, Some(&fake.issue()))
        .await
        .success();
    assert_eq!(data["username"], "eve");
}

#[tokio::test]
async fn the_secret_is_never_shown_and_status_reports_the_site_key() {
    // Arrange: enabling needs both keys.
    let fake = FakeTurnstile::start(SECRET_KEY).await;
    let url = fake.verify_url();
    let app = TestApp::spawn_with(|s| s.turnstile.verify_url = url).await;
    let root = app.root().await;
    let refused = app
        .set_option(&root, "TurnstileCheckEnabled", json!(true))
        .await;
    assert_eq!(refused.body["success"], false, "{refused}");
    turn_on(&app, &root).await;

    // Act
    let options = app
        .call(&root, Method::GET, "/api/option/", None)
        .await
        .success();
    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();

    // Assert
    assert!(!options.to_string().contains(SECRET_KEY), "{options}");
    let keys: Vec<&Value> = options
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["key"])
        .collect();
    assert!(!keys.contains(&&json!("TurnstileSecretKey")), "{keys:?}");
    assert_eq!(app.option(&root, "TurnstileSiteKey").await, SITE_KEY);
    assert_eq!(app.option(&root, "TurnstileCheckEnabled").await, "true");
    assert_eq!(status["turnstile_check"], true);
    assert_eq!(status["turnstile_site_key"], SITE_KEY);
    // The audit log says the secret was set, never what it is.
    let leaked = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE {} LIKE '%{SECRET_KEY}%' OR {} LIKE '%{SECRET_KEY}%'",
            app.column("after"),
            app.column("before"),
        ))
        .await;
    assert_eq!(leaked[0][0], 0);
    let set = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE {} LIKE '%TurnstileSecretKey%(set)%'",
            app.column("after"),
        ))
        .await;
    assert_eq!(set[0][0], 1);
    // Root's session survives the switch; a new root login needs a token like any other.
    app.get_self(&root).await.success();
    login(&app, ROOT_USERNAME, "whatever", None)
        .await
        .refused_with(EMPTY);
}

/// Sets both keys and turns the check on as `root`.
async fn turn_on(app: &TestApp, root: &Session) {
    for (key, value) in [
        ("TurnstileSiteKey", json!(SITE_KEY)),
        ("TurnstileSecretKey", json!(SECRET_KEY)),
        ("TurnstileCheckEnabled", json!(true)),
    ] {
        app.set_option(root, key, value).await.success();
    }
}

#[tokio::test]
async fn an_unreachable_provider_refuses_the_request() {
    // Arrange: nothing listens at the verify URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/turnstile/v0/siteverify",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let app = TestApp::spawn_with(|s| {
        s.turnstile.verify_url = url;
        s.turnstile.timeout_secs = 2;
    })
    .await;
    let root = app.root().await;
    turn_on(&app, &root).await;

    // Act / Assert: the check fails closed.
    login(&app, ROOT_USERNAME, "x", Some("any-token"))
        .await
        .refused_with(FAILED);
    let rest = rest(&app, "/api/v1/auth/login", "root", Some("any-token")).await;
    assert_eq!(rest.err(503, FAILED), "turnstile verification unavailable");
}
