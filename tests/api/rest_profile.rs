//! `/api/v1/users/profile` and `/api/v1/users/password`: one domain behind both
//! surfaces, validation before any change, no mass assignment, session revocation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::send;
use crate::rest_helpers::{Tokens, assert_time_near, now_unix, password_change};

const NEW_PASSWORD: &str = "a-brand-new-password";

#[tokio::test]
async fn rest_profile_get_returns_the_seed_fields() {
    let app = TestApp::spawn().await;
    let registered = app
        .rest_register("alice", PASSWORD, Some("alice@example.com"))
        .await
        .ok(201, "注册成功");
    let tokens = app.rest_tokens("alice", PASSWORD).await;
    let data = app.get_profile(&tokens.access).await.ok(200, "获取成功");
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "email",
            "phone",
            "avatar",
            "status",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(data["id"], tokens.user_id);
    assert_eq!(data["username"], "alice");
    assert_eq!(
        data["email"], "",
        "an unverified address is not stored (issue 7.7)"
    );
    assert_eq!(data["phone"], "");
    assert_eq!(data["avatar"], "");
    assert_eq!(data["status"], 1);
    assert_eq!(data["created_at"], registered["created_at"]);
    assert_time_near(&data["created_at"], now_unix(), 120);
    assert_time_near(&data["updated_at"], now_unix(), 120);
}

#[tokio::test]
async fn rest_profile_get_without_a_token_is_401() {
    let app = TestApp::spawn().await;
    send(app.client.get(app.url("/api/v1/users/profile")))
        .await
        .unauthenticated();
    send(
        app.client
            .put(app.url("/api/v1/users/profile"))
            .json(&json!({"username": "x"})),
    )
    .await
    .unauthenticated();
}

#[tokio::test]
async fn rest_profile_put_updates_every_field_and_both_surfaces_see_it() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let before = app.profile_of(&tokens.access).await;
    let change = json!({
        "username": "alice2",
        "phone": "+8613800138000",
        "avatar": "https://example.com/a.png",
    });
    let data = app
        .put_profile(&tokens.access, &change)
        .await
        .ok(200, "更新成功");
    assert_eq!(data["id"], tokens.user_id);
    assert_eq!(data["username"], "alice2");
    assert_eq!(data["phone"], "+8613800138000");
    assert_eq!(data["avatar"], "https://example.com/a.png");
    assert_eq!(data["status"], 1);
    assert_eq!(data["created_at"], before["created_at"]);
    assert_time_near(&data["updated_at"], now_unix(), 120);
    // GET reads the same, and the token keeps working under the new name.
    assert_eq!(app.profile_of(&tokens.access).await, data);
    // One domain serves both surfaces: the compat console sees the new name and address.
    let compat = app.login("alice2", PASSWORD).await;
    assert_eq!(compat.id, tokens.user_id);
    let me = app.get_self(&compat).await;
    let status = me.status;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["username"], "alice2");
    // The old name no longer logs in; the new name does.
    app.rest_login("alice", PASSWORD).await.err(401, "认证失败");
    app.rest_tokens("alice2", PASSWORD).await;
}

#[tokio::test]
async fn rest_profile_put_is_partial_and_an_empty_string_clears() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    app.put_profile(
        &tokens.access,
        &json!({"phone": "13800138000", "avatar": "http://x.example/a"}),
    )
    .await
    .ok(200, "更新成功");
    // Only the phone changes.
    let data = app
        .put_profile(&tokens.access, &json!({"phone": "13900139000"}))
        .await
        .ok(200, "更新成功");
    assert_eq!(data["username"], "alice");
    assert_eq!(data["phone"], "13900139000");
    assert_eq!(data["avatar"], "http://x.example/a");
    // An empty body changes nothing.
    let same = app
        .put_profile(&tokens.access, &json!({}))
        .await
        .ok(200, "更新成功");
    assert_eq!(same, data);
    // Empty strings clear the optional fields (stored as NULL).
    let cleared = app
        .put_profile(
            &tokens.access,
            &json!({"email": "", "phone": " ", "avatar": ""}),
        )
        .await
        .ok(200, "更新成功");
    assert_eq!(
        (&cleared["email"], &cleared["phone"], &cleared["avatar"]),
        (&json!(""), &json!(""), &json!(""))
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND email IS NULL AND phone IS NULL \
             AND avatar IS NULL",
            tokens.user_id
        ))
        .await[0][0],
        1
    );
    // Keeping one's own username is not a conflict.
    app.put_profile(&tokens.access, &json!({"username": "alice"}))
        .await
        .ok(200, "更新成功");
}

#[tokio::test]
async fn rest_profile_compat_password_change_revokes_rest_sessions() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let compat = app.login("alice", PASSWORD).await;
    let reply = send(app.as_user(Method::PUT, "/api/user/self", &compat).json(
        &json!({"display_name": "Alice A.", "password": NEW_PASSWORD,
                      "original_password": PASSWORD}),
    ))
    .await;
    assert_eq!(reply["success"], true, "{reply}");
    // The REST session is another session of the user: revoked at once.
    app.get_profile(&tokens.access).await.unauthenticated();
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
    app.rest_login("alice", PASSWORD).await.err(401, "认证失败");
    let again = app.rest_tokens("alice", NEW_PASSWORD).await;
    assert_eq!(app.profile_of(&again.access).await["username"], "alice");
    // The compat session that made the change survives it.
    assert_eq!(
        app.get_self(&compat).await["data"]["display_name"],
        "Alice A."
    );
}

#[tokio::test]
async fn rest_profile_compat_self_delete_kills_rest_tokens() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let compat = app.login("alice", PASSWORD).await;
    let reply = send(app.as_user(Method::DELETE, "/api/user/self", &compat)).await;
    assert_eq!(reply["success"], true, "{reply}");
    app.get_profile(&tokens.access).await.unauthenticated();
    app.rest_refresh(&tokens.refresh).await.err(401, "未认证");
    app.rest_login("alice", PASSWORD).await.err(401, "认证失败");
}

#[tokio::test]
async fn rest_profile_disabled_account_is_403_until_re_enabled() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    app.exec("UPDATE users SET status = 2 WHERE username = 'alice'")
        .await;
    app.get_profile(&tokens.access).await.disabled();
    app.put_profile(&tokens.access, &json!({"username": "renamed"}))
        .await
        .disabled();
    app.put_password(
        &tokens.access,
        &password_change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
    )
    .await
    .disabled();
    app.rest_logout(&tokens.access).await.disabled();
    // Nothing changed, and the check is live: re-enabled, the same token works again.
    app.exec("UPDATE users SET status = 1 WHERE username = 'alice'")
        .await;
    assert_eq!(app.profile_of(&tokens.access).await["username"], "alice");
    app.rest_tokens("alice", PASSWORD).await;
}

#[tokio::test]
async fn rest_profile_invalid_updates_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    app.put_profile(
        &tokens.access,
        &json!({"phone": "13800138000", "avatar": "https://x.example/a"}),
    )
    .await
    .ok(200, "更新成功");
    let before = app.profile_of(&tokens.access).await;
    let long_avatar = format!("https://example.com/{}", "a".repeat(493));
    assert_eq!(long_avatar.len(), 513);
    let cases: Vec<(&str, Value)> = vec![
        ("invalid email", json!({"email": "not-an-email"})),
        ("email without a dot", json!({"email": "a@localhost"})),
        ("phone with letters", json!({"phone": "12ab"})),
        ("phone too short", json!({"phone": "12345"})),
        ("phone too long", json!({"phone": "1234567890123456"})),
        ("phone with spaces", json!({"phone": "138 0013 8000"})),
        (
            "javascript avatar",
            json!({"avatar": "javascript:alert(1)"}),
        ),
        (
            "data avatar",
            json!({"avatar": "data:image/png;base64,AAAA"}),
        ),
        ("relative avatar", json!({"avatar": "/a.png"})),
        ("ftp avatar", json!({"avatar": "ftp://example.com/a.png"})),
        ("513-char avatar", json!({"avatar": long_avatar})),
        ("empty username", json!({"username": ""})),
        ("blank username", json!({"username": "   "})),
        ("21-char username", json!({"username": "u".repeat(21)})),
        ("number as phone", json!({"phone": 13_800_138_000_i64})),
        ("array as username", json!({"username": ["alice"]})),
        // Every field is validated before any is written.
        (
            "valid name, bad phone",
            json!({"username": "renamed", "email": "", "phone": "12ab"}),
        ),
        (
            "valid name, bad avatar",
            json!({"username": "renamed", "avatar": "javascript:alert(1)"}),
        ),
    ];
    for (name, body) in cases {
        let reply = app.put_profile(&tokens.access, &body).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        reply.err(400, "请求参数错误");
        assert_eq!(app.profile_of(&tokens.access).await, before, "{name}");
    }
    // The limits themselves are fine.
    let max_avatar = format!("https://example.com/{}", "a".repeat(492));
    assert_eq!(max_avatar.chars().count(), 512);
    let data = app
        .put_profile(
            &tokens.access,
            &json!({"avatar": max_avatar, "phone": "123456", "username": "u".repeat(20)}),
        )
        .await
        .ok(200, "更新成功");
    assert_eq!(data["avatar"], max_avatar);
}

#[tokio::test]
async fn rest_profile_taken_username_is_409() {
    let app = TestApp::spawn().await;
    app.rest_register("bob", PASSWORD, None)
        .await
        .ok(201, "注册成功");
    let tokens = app.rest_user("alice").await;
    let before = app.profile_of(&tokens.access).await;
    let error = app
        .put_profile(&tokens.access, &json!({"username": "bob"}))
        .await
        .err(409, "用户名已存在");
    assert_eq!(error, "username already exists");
    app.put_profile(&tokens.access, &json!({"username": "root"}))
        .await
        .err(409, "用户名已存在");
    // A conflict in one field leaves the others unwritten.
    app.put_profile(
        &tokens.access,
        &json!({"username": "bob", "phone": "13800138000"}),
    )
    .await
    .err(409, "用户名已存在");
    assert_eq!(app.profile_of(&tokens.access).await, before);
    app.rest_tokens("bob", PASSWORD).await;
}

/// The columns a profile update must never touch, as integers.
async fn account_row(app: &TestApp, id: i64) -> Vec<Vec<i64>> {
    app.query_i64(&format!(
        "SELECT id, status, role, quota, used_quota, aff_quota, \
         CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, \
         CASE WHEN user_group = 'default' THEN 1 ELSE 0 END \
         FROM users WHERE id = {id}"
    ))
    .await
}

#[tokio::test]
async fn rest_profile_mass_assignment_changes_nothing_else() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let id = tokens.user_id;
    let before = account_row(&app, id).await;
    assert_eq!(before, vec![vec![id, 1, 1, 0, 0, 0, 0, 1]]);
    let data = app
        .put_profile(
            &tokens.access,
            &json!({
                "username": "alice2",
                "status": 0,
                "role": 100,
                "quota": 999,
                "used_quota": -1,
                "aff_quota": 5,
                "id": 1,
                "group": "vip",
                "user_group": "vip",
                "deleted_at": 1,
                "password": "hijacked-password",
                "password_hash": "x",
                "created_at": "2000-01-01T00:00:00Z",
            }),
        )
        .await
        .ok(200, "更新成功");
    assert_eq!(data["id"], id);
    assert_eq!(data["status"], 1);
    assert_eq!(data["username"], "alice2");
    assert_ne!(data["created_at"], "2000-01-01T00:00:00Z");
    assert_eq!(account_row(&app, id).await, before);
    // Root (id 1) is untouched and the password did not change.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE id = 1 AND username = 'root'")
            .await[0][0],
        1
    );
    app.rest_tokens("alice2", PASSWORD).await;
    app.rest_login("alice2", "hijacked-password")
        .await
        .err(401, "认证失败");
}

#[tokio::test]
async fn rest_password_wrong_old_password_is_401() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let error = app
        .put_password(
            &tokens.access,
            &password_change("not-my-password", NEW_PASSWORD, NEW_PASSWORD),
        )
        .await
        .err(401, "认证失败");
    assert_eq!(error, "旧密码错误");
    let error = send(
        crate::rest_helpers::bearer(&app, Method::PUT, "/api/v1/users/password", &tokens.access)
            .header("Accept-Language", "en")
            .json(&password_change(
                "not-my-password",
                NEW_PASSWORD,
                NEW_PASSWORD,
            )),
    )
    .await
    .err(401, "Authentication failed");
    assert_eq!(error, "Old password is incorrect");
    // The failure is about the old password, not the token: the session lives on.
    app.profile_of(&tokens.access).await;
    app.rest_tokens("alice", PASSWORD).await;
    app.rest_login("alice", NEW_PASSWORD)
        .await
        .err(401, "认证失败");
}

#[tokio::test]
async fn rest_password_bad_requests_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.rest_user("alice").await;
    let other = app.rest_tokens("alice", PASSWORD).await;
    let error = app
        .put_password(
            &tokens.access,
            &password_change(PASSWORD, NEW_PASSWORD, "something-else-entirely"),
        )
        .await
        .err(400, "两次输入的新密码不一致");
    assert_eq!(error, "new passwords do not match");
    let cases: Vec<(&str, Value)> = vec![
        ("too short", password_change(PASSWORD, "short", "short")),
        (
            "seven characters",
            password_change(PASSWORD, "1234567", "1234567"),
        ),
        (
            "too long",
            password_change(PASSWORD, &"p".repeat(129), &"p".repeat(129)),
        ),
        (
            "no old password",
            json!({"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
        ),
        (
            "no new password",
            json!({"old_password": PASSWORD, "confirm_password": NEW_PASSWORD}),
        ),
        (
            "no confirmation",
            json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ),
        ("empty object", json!({})),
        (
            "number instead of string",
            json!({"old_password": PASSWORD, "new_password": 12_345_678, "confirm_password": 12_345_678}),
        ),
    ];
    for (name, body) in cases {
        let reply = app.put_password(&tokens.access, &body).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        reply.err(400, "请求参数错误");
    }
    // Nothing changed: the old password logs in, the new one does not, no session was ended.
    app.rest_tokens("alice", PASSWORD).await;
    app.rest_login("alice", NEW_PASSWORD)
        .await
        .err(401, "认证失败");
    app.profile_of(&other.access).await;
    app.rest_refresh(&other.refresh).await.ok(200, "令牌已刷新");
}

#[tokio::test]
async fn rest_password_change_revokes_every_other_session() {
    let app = TestApp::spawn().await;
    let mine = app.rest_user("alice").await;
    let second: Tokens = app.rest_tokens("alice", PASSWORD).await;
    let compat = app.login("alice", PASSWORD).await;
    assert_eq!(app.get_self(&compat).await.status, 200);
    // Someone else's sessions are not touched.
    let bob = app.rest_user("bob").await;
    let data = app
        .put_password(
            &mine.access,
            &password_change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        )
        .await
        .ok(200, "密码修改成功");
    assert_eq!(data, Value::Null);
    // The session that made the change keeps working, token and refresh token alike.
    app.profile_of(&mine.access).await;
    // Every other session of the user is gone: REST pair and compat cookie.
    app.get_profile(&second.access).await.unauthenticated();
    app.rest_refresh(&second.refresh).await.err(401, "未认证");
    let body = app.get_self(&compat).await;
    let status = body.status;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    app.rest_refresh(&mine.refresh).await.ok(200, "令牌已刷新");
    app.profile_of(&bob.access).await;
    // The new password logs in on both surfaces; the old one on neither.
    app.rest_tokens("alice", NEW_PASSWORD).await;
    app.rest_login("alice", PASSWORD).await.err(401, "认证失败");
    app.login("alice", NEW_PASSWORD).await;
    let old: Value = app.login_response("alice", PASSWORD).await.body;
    assert_eq!(old["success"], false, "{old}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_profile_concurrent_renames_to_one_name_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for name in ["u1", "u2", "u3", "u4"] {
        users.push(app.rest_user(name).await);
    }
    let mut set = tokio::task::JoinSet::new();
    for t in &users {
        let req =
            crate::rest_helpers::bearer(&app, Method::PUT, "/api/v1/users/profile", &t.access)
                .json(&json!({"username": "taken", "phone": format!("1380013800{}", t.user_id)}));
        set.spawn(send(req));
    }
    let replies = set.join_all().await;
    let mut renamed = 0;
    for r in &replies {
        if r.status == 200 {
            r.ok(200, "更新成功");
            renamed += 1;
        } else {
            r.err(409, "用户名已存在");
        }
    }
    assert_eq!(renamed, 1);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE username = 'taken'")
            .await[0][0],
        1
    );
    // The losers kept their names and phones.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE phone LIKE '1380013800%'")
            .await[0][0],
        1
    );
}
