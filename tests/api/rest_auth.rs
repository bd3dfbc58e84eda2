//! `/api/v1/auth/*`: register, login, refresh, logout, 404s and languages.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};
use crate::rest_helpers::{
    AUDIENCE, ISSUER, Tokens, assert_time_near, bearer, jwt_claims, now_unix,
};

const USER_FIELDS: [&str; 8] = [
    "id",
    "username",
    "email",
    "phone",
    "avatar",
    "status",
    "created_at",
    "updated_at",
];

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

async fn user_count(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM users").await[0][0]
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT id FROM users WHERE username = '{username}'"
    ))
    .await[0][0]
}

#[tokio::test]
async fn rest_register_is_201_with_the_new_user() {
    let app = TestApp::spawn().await;
    let data = app
        .rest_register("alice", PASSWORD, None)
        .await
        .ok(201, "注册成功");
    assert_eq!(keys(&data), USER_FIELDS.into_iter().collect());
    let id = user_id(&app, "alice").await;
    assert_eq!(data["id"], id);
    assert_eq!(data["username"], "alice");
    assert_eq!(data["email"], "");
    assert_eq!(data["phone"], "");
    assert_eq!(data["avatar"], "");
    assert_eq!(data["status"], 1);
    assert_time_near(&data["created_at"], now_unix(), 120);
    assert_time_near(&data["updated_at"], now_unix(), 120);
    // Registration does not log in, and the stored account is an ordinary enabled user.
    assert_eq!(
        app.query_i64(&format!(
            "SELECT role, status, quota FROM users WHERE id = {id}"
        ))
        .await,
        vec![vec![1, 1, 0]]
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = {id}"
        ))
        .await[0][0],
        0
    );
    // The password works on both surfaces.
    app.rest_tokens("alice", PASSWORD).await;
    assert_eq!(app.login("alice", PASSWORD).await.id, id);
}

#[tokio::test]
async fn rest_register_duplicate_username_is_409() {
    let app = TestApp::spawn().await;
    app.rest_register_ok("alice").await;
    let before = user_count(&app).await;
    let error = app
        .rest_register("alice", "another-password", Some("a2@example.com"))
        .await
        .err(409, "用户名已存在");
    assert_eq!(error, "username already exists");
    // Surrounding spaces are trimmed, so this is the same name.
    app.rest_register("  alice ", PASSWORD, None)
        .await
        .err(409, "用户名已存在");
    // The compat root is taken too.
    app.rest_register("root", PASSWORD, None)
        .await
        .err(409, "用户名已存在");
    assert_eq!(user_count(&app).await, before);
    // The first account's password is untouched.
    app.rest_tokens("alice", PASSWORD).await;
}

#[tokio::test]
async fn rest_register_invalid_input_is_400_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let before = user_count(&app).await;
    let long_name = "n".repeat(21);
    let long_password = "p".repeat(129);
    let cases: Vec<(&str, Value)> = vec![
        (
            "short password",
            json!({"username": "alice", "password": "short"}),
        ),
        (
            "seven-char password",
            json!({"username": "alice", "password": "1234567"}),
        ),
        (
            "129-char password",
            json!({"username": "alice", "password": long_password}),
        ),
        ("no password", json!({"username": "alice"})),
        (
            "empty username",
            json!({"username": "", "password": PASSWORD}),
        ),
        (
            "blank username",
            json!({"username": "   ", "password": PASSWORD}),
        ),
        ("no username", json!({"password": PASSWORD})),
        (
            "21-char username",
            json!({"username": long_name, "password": PASSWORD}),
        ),
        (
            "control character",
            json!({"username": "ali\u{7}ce", "password": PASSWORD}),
        ),
        (
            "email without @",
            json!({"username": "alice", "password": PASSWORD, "email": "alice.example.com"}),
        ),
        (
            "email without a dot",
            json!({"username": "alice", "password": PASSWORD, "email": "alice@localhost"}),
        ),
        (
            "email with a space",
            json!({"username": "alice", "password": PASSWORD, "email": "al ice@example.com"}),
        ),
        (
            "email with two @",
            json!({"username": "alice", "password": PASSWORD, "email": "a@b@example.com"}),
        ),
    ];
    for (name, body) in cases {
        let reply = app.post_json("/api/v1/auth/register", &body).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        reply.err(400, "请求参数错误");
    }
    assert_eq!(user_count(&app).await, before);
    // The boundaries themselves are accepted.
    app.rest_register(&"n".repeat(20), "12345678", None)
        .await
        .ok(201, "注册成功");
}

#[tokio::test]
async fn rest_malformed_bodies_are_400_envelopes() {
    let app = TestApp::spawn().await;
    let before = user_count(&app).await;
    let url = app.url("/api/v1/auth/register");
    let json_type = ("Content-Type", "application/json");
    let requests = vec![
        (
            "broken JSON",
            app.client
                .post(&url)
                .header(json_type.0, json_type.1)
                .body("{\"username\": \"alice\", "),
        ),
        (
            "a JSON string",
            app.client
                .post(&url)
                .header(json_type.0, json_type.1)
                .body("\"alice\""),
        ),
        (
            "wrong type",
            app.client
                .post(&url)
                .json(&json!({"username": 5, "password": PASSWORD})),
        ),
        (
            "empty body",
            app.client.post(&url).header(json_type.0, json_type.1),
        ),
        (
            "not JSON content type",
            app.client
                .post(&url)
                .header("Content-Type", "text/plain")
                .body(json!({"username": "alice", "password": PASSWORD}).to_string()),
        ),
        (
            "over 64 KiB",
            app.client.post(&url).json(
                &json!({"username": "alice", "password": PASSWORD, "pad": "x".repeat(70_000)}),
            ),
        ),
        (
            "broken login JSON",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header(json_type.0, json_type.1)
                .body("{"),
        ),
        (
            "broken refresh JSON",
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .header(json_type.0, json_type.1)
                .body("nope"),
        ),
    ];
    for (name, req) in requests {
        let reply = send(req).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        reply.err(400, "请求参数错误");
    }
    assert_eq!(user_count(&app).await, before);
}

#[tokio::test]
async fn rest_register_ignores_role_quota_and_status() {
    let app = TestApp::spawn().await;
    let body = json!({
        "username": "mallory",
        "password": PASSWORD,
        "role": 100,
        "quota": 999_999_999,
        "status": 2,
        "id": 1,
        "group": "vip",
        "used_quota": -5,
        "aff_quota": 777,
        "deleted_at": 1,
    });
    let data = app
        .post_json("/api/v1/auth/register", &body)
        .await
        .ok(201, "注册成功");
    assert_eq!(data["status"], 1);
    assert_ne!(data["id"], 1);
    let tokens = app.rest_tokens("mallory", PASSWORD).await;
    let profile = app.profile_of(&tokens.access).await;
    assert_eq!(profile["status"], 1);
    assert_eq!(profile["username"], "mallory");
    let compat = app.login("mallory", PASSWORD).await;
    let me = app.get_self(&compat).await;
    assert_eq!(me["success"], true, "{me}");
    assert_eq!(me["data"]["role"], 1);
    assert_eq!(me["data"]["quota"], 0);
    assert_eq!(me["data"]["status"], 1);
    assert_eq!(me["data"]["group"], "default");
    assert_eq!(me["data"]["aff_quota"], 0);
    // Root is still root, and still id 1.
    assert_eq!(
        app.query_i64("SELECT id, role FROM users WHERE username = 'root'")
            .await,
        vec![vec![1, 100]]
    );
}

#[tokio::test]
async fn rest_login_returns_a_token_pair_and_the_user() {
    let app = TestApp::spawn().await;
    let user = app.rest_register_ok("alice").await;
    let data = app.rest_login("alice", PASSWORD).await.ok(200, "登录成功");
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["user"]["id"], user["id"]);
    assert_eq!(data["user"]["username"], "alice");
    assert_eq!(data["user"]["status"], 1);
    assert_time_near(&data["refresh_expires_at"], now_unix() + 30 * 86_400, 120);
    let tokens = Tokens::from_data(&data);
    assert_eq!(tokens.access.split('.').count(), 3);
    assert!(tokens.refresh.len() >= 32, "{}", tokens.refresh);
    assert!(!tokens.refresh.contains('.'), "the refresh token is no JWT");
    let claims = jwt_claims(&tokens.access);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], user["id"].as_i64().unwrap().to_string());
    assert_eq!(claims["typ"], "access");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now_unix()).abs() <= 120);
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 900);
    // The sid is the stored refresh session of this user.
    assert_eq!(
        app.query_i64(&format!(
            "SELECT user_id FROM sessions WHERE id = {} AND kind = 'refresh' AND revoked_at IS NULL",
            tokens.sid
        ))
        .await,
        vec![vec![tokens.user_id]]
    );
    assert_eq!(app.profile_of(&tokens.access).await["username"], "alice");
}

#[tokio::test]
async fn rest_login_expires_in_follows_the_configured_ttl() {
    let app = TestApp::spawn_with(|s| s.jwt.access_ttl_secs = 120).await;
    app.rest_register_ok("alice").await;
    let data = app.rest_login("alice", PASSWORD).await.ok(200, "登录成功");
    assert_eq!(data["expires_in"], 120);
    let claims = jwt_claims(data["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
}

#[tokio::test]
async fn rest_login_failures_are_one_indistinguishable_401() {
    let app = TestApp::spawn().await;
    app.rest_register_ok("alice").await;
    app.rest_register_ok("disabled").await;
    app.rest_register_ok("deleted").await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'disabled'")
        .await;
    app.exec("UPDATE users SET deleted_at = 1 WHERE username = 'deleted'")
        .await;
    let attempts = [
        ("wrong password", "alice", "wrong-password"),
        ("unknown user", "nobody", PASSWORD),
        ("disabled user", "disabled", PASSWORD),
        ("deleted user", "deleted", PASSWORD),
    ];
    let mut errors = BTreeSet::new();
    for (name, username, password) in attempts {
        let reply = app.rest_login(username, password).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        errors.insert(reply.err(401, "认证失败"));
    }
    assert_eq!(errors.len(), 1, "the refusals differ: {errors:?}");
    // None of them opened a session.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM sessions").await[0][0],
        0
    );
    // Missing credentials are a bad request, not a failed login.
    for body in [
        json!({"username": "alice"}),
        json!({"password": PASSWORD}),
        json!({"username": "   ", "password": PASSWORD}),
        json!({}),
    ] {
        app.post_json("/api/v1/auth/login", &body)
            .await
            .err(400, "请求参数错误");
    }
}

#[tokio::test]
async fn rest_refresh_rotates_the_pair_within_one_session() {
    let app = TestApp::spawn().await;
    let first = app.rest_user("alice").await;
    let data = app.rest_refresh(&first.refresh).await.ok(200, "令牌已刷新");
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["user"]["username"], "alice");
    let second = Tokens::from_data(&data);
    assert_ne!(second.refresh, first.refresh);
    // The new access token belongs to the same session, so the old one is not revoked.
    assert_eq!(second.sid, first.sid);
    assert_eq!(app.profile_of(&second.access).await["username"], "alice");
    assert_eq!(app.profile_of(&first.access).await["username"], "alice");
    // The new pair rotates again, within the same session.
    let third = Tokens::from_data(
        &app.rest_refresh(&second.refresh)
            .await
            .ok(200, "令牌已刷新"),
    );
    assert_eq!(third.sid, first.sid);
    app.profile_of(&third.access).await;
    // Still exactly one session row. (Replaying a spent token revokes the session: see
    // `refresh_reuse.rs`.)
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = {}",
            first.user_id
        ))
        .await[0][0],
        1
    );
}

#[tokio::test]
async fn rest_refresh_refuses_garbage_and_foreign_tokens() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let compat = app.login("alice", PASSWORD).await;
    for (name, body) in [
        ("empty", json!({"refresh_token": ""})),
        ("missing", json!({})),
        ("null", json!({"refresh_token": null})),
        ("garbage", json!({"refresh_token": "not-a-refresh-token"})),
        ("access token", json!({"refresh_token": tokens.access})),
        (
            "compat session cookie",
            json!({"refresh_token": compat.cookie}),
        ),
        (
            "refresh token with a suffix",
            json!({"refresh_token": format!("{}x", tokens.refresh)}),
        ),
    ] {
        let reply = app.post_json("/api/v1/auth/refresh", &body).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        assert_eq!(
            reply.err(401, "未认证"),
            "invalid or expired refresh token",
            "{name}"
        );
    }
    // The compat session was not turned into a REST session, and the real pair still works.
    assert_eq!(app.get_self(&compat).await["success"], true);
    app.rest_refresh(&tokens.refresh)
        .await
        .ok(200, "令牌已刷新");
}

#[tokio::test]
async fn rest_refresh_for_a_disabled_user_is_refused_and_ends_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'alice'")
        .await;
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
    // Observed: the refused refresh revoked the session, so re-enabling the account does not
    // revive the pair.
    app.exec("UPDATE users SET status = 1 WHERE username = 'alice'")
        .await;
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
    app.get_profile(&tokens.access).await.unauthenticated();
    // A fresh login works again.
    let again = app.rest_tokens("alice", PASSWORD).await;
    app.profile_of(&again.access).await;
}

#[tokio::test]
async fn rest_refresh_for_a_deleted_user_is_refused() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    app.exec("UPDATE users SET deleted_at = 1 WHERE username = 'alice'")
        .await;
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
}

async fn concurrent_refreshes(app: &TestApp, refresh: &str, racers: usize) -> Vec<Reply> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..racers {
        let req = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh}));
        set.spawn(send(req));
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    app.rest_register_ok("alice").await;
    for (round, racers) in [2, 2, 2, 2, 8].into_iter().enumerate() {
        // Each round on a fresh session: the losers are replays and revoke it.
        let refresh = app.rest_tokens("alice", PASSWORD).await.refresh;
        let replies = concurrent_refreshes(&app, &refresh, racers).await;
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            replies
                .iter()
                .map(|r| (r.status, &r.body))
                .collect::<Vec<_>>()
        );
        for r in &replies {
            if r.status == 200 {
                r.ok(200, "令牌已刷新");
            } else {
                r.err(401, "未认证");
            }
        }
        let data = winners[0].ok(200, "令牌已刷新");
        let won = Tokens::from_data(&data);
        app.get_profile(&won.access).await.unauthenticated();
    }
}

#[tokio::test]
async fn rest_logout_ends_the_session_and_only_that_one() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let other = app.rest_tokens("alice", PASSWORD).await;
    let data = app.rest_logout(&tokens.access).await.ok(200, "已退出登录");
    assert_eq!(data, Value::Null);
    app.get_profile(&tokens.access).await.unauthenticated();
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
    app.rest_logout(&tokens.access).await.unauthenticated();
    // Another login of the same user is a different session and keeps working.
    app.profile_of(&other.access).await;
    app.rest_refresh(&other.refresh).await.ok(200, "令牌已刷新");
}

#[tokio::test]
async fn rest_logout_without_a_token_is_401() {
    let app = TestApp::spawn().await;
    send(app.client.post(app.url("/api/v1/auth/logout")))
        .await
        .unauthenticated();
}

#[tokio::test]
async fn rest_unknown_endpoints_are_404_envelopes() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api/v1/nope"),
        (Method::POST, "/api/v1/nope"),
        (Method::GET, "/api/v1/users/nope"),
        (Method::DELETE, "/api/v1/auth/register/extra"),
        (Method::GET, "/api/v1/"),
    ] {
        let reply = send(app.client.request(method.clone(), app.url(path))).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
        assert_eq!(reply.err(404, "资源不存在"), "no such endpoint");
    }
}

#[tokio::test]
async fn rest_a_known_path_with_the_wrong_method_gets_an_envelope() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    for (method, path) in [
        (Method::GET, "/api/v1/auth/login"),
        (Method::DELETE, "/api/v1/users/profile"),
        (Method::POST, "/api/v1/users/password"),
    ] {
        let reply = send(bearer(&app, method.clone(), path, &tokens.access)).await;
        assert!(
            reply.status == 404 || reply.status == 405,
            "{method} {path}: {} {}",
            reply.status,
            reply.body
        );
        assert_eq!(reply.body["code"], reply.status, "{method} {path}");
        assert!(reply.body["error"].is_string(), "{method} {path}");
    }
}

#[tokio::test]
async fn rest_accept_language_en_gives_english_messages() {
    let app = TestApp::spawn().await;
    let en = |req: reqwest::RequestBuilder| req.header("Accept-Language", "en");
    let register = |username: &str| {
        en(app.client.post(app.url("/api/v1/auth/register")))
            .json(&json!({"username": username, "password": PASSWORD}))
    };
    send(register("alice")).await.ok(201, "Registered");
    send(register("alice"))
        .await
        .err(409, "Username already exists");
    send(
        en(app.client.post(app.url("/api/v1/auth/register")))
            .json(&json!({"username": "bob", "password": "short"})),
    )
    .await
    .err(400, "Bad request");
    send(
        en(app.client.post(app.url("/api/v1/auth/login")))
            .json(&json!({"username": "alice", "password": "wrong-password"})),
    )
    .await
    .err(401, "Authentication failed");
    let data = send(
        en(app.client.post(app.url("/api/v1/auth/login")))
            .json(&json!({"username": "alice", "password": PASSWORD})),
    )
    .await
    .ok(200, "Logged in");
    let tokens = Tokens::from_data(&data);
    send(en(bearer(
        &app,
        Method::GET,
        "/api/v1/users/profile",
        &tokens.access,
    )))
    .await
    .ok(200, "OK");
    send(en(app.client.get(app.url("/api/v1/users/profile"))))
        .await
        .err(401, "Unauthenticated");
    send(en(app.client.get(app.url("/api/v1/nope"))))
        .await
        .err(404, "Not found");
    // A weighted list picks the preferred language; without the header it is Chinese.
    send(
        app.client
            .get(app.url("/api/v1/nope"))
            .header("Accept-Language", "fr;q=0.9, en-US;q=0.8, zh-CN;q=0.1"),
    )
    .await
    .err(404, "Not found");
    send(app.client.get(app.url("/api/v1/nope")))
        .await
        .err(404, "资源不存在");
}

#[tokio::test]
async fn rest_usernames_cannot_contain_an_at_sign() {
    let app = TestApp::spawn().await;
    app.rest_register("mallory", "mallorys-password", None)
        .await
        .ok(201, "注册成功");
    let mallory = app.rest_tokens("mallory", "mallorys-password").await;
    // Usernames and addresses stay disjoint, for when verified addresses become login names.
    app.put_profile(&mallory.access, &json!({"username": "alice@example.com"}))
        .await
        .err(400, "请求参数错误");
    app.rest_register("bob@example.com", "eves-password-123", None)
        .await
        .err(400, "请求参数错误");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_concurrent_registrations_of_one_name_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6 {
        let req = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": "alice", "password": format!("password-{i}")}));
        set.spawn(send(req));
    }
    let replies = set.join_all().await;
    let mut created = 0;
    for r in &replies {
        if r.status == 201 {
            r.ok(201, "注册成功");
            created += 1;
        } else {
            r.err(409, "用户名已存在");
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE username = 'alice'")
            .await[0][0],
        1
    );
}
