//! Admin user management on both surfaces: listing and search, create and update (quota
//! through the ledger), sessions that follow the account across instances, and the audit log.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, TestApp};
use crate::reply::{Reply, send};

#[tokio::test]
async fn the_list_is_scoped_paged_stable_and_free_of_secrets() {
    let app = TestApp::spawn().await;
    let adm = app.admin("adm").await;
    app.admin("adm2").await;
    for i in 0..12 {
        app.register(&format!("u{i:02}"), PASSWORD).await;
    }
    app.exec("UPDATE users SET deleted_at = 5 WHERE username = 'u03'")
        .await;
    let page = app
        .call(&adm, Method::GET, "/api/user/?p=1&page_size=5", None)
        .await;
    let d = &page["data"];
    // 12 users + the admin itself; not root, not the other admin.
    assert_eq!(
        (
            d["total"].as_u64(),
            d["page"].as_u64(),
            d["page_size"].as_u64()
        ),
        (Some(13), Some(1), Some(5))
    );
    let items = d["items"].as_array().unwrap();
    let ids: Vec<i64> = items.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    for u in items {
        assert!(u.get("DeletedAt").is_some(), "DeletedAt key present");
        assert!(u.get("setting").is_none() && u.get("access_token").is_none());
        assert_eq!(u["password"], "");
    }
    let all = app
        .call(&adm, Method::GET, "/api/user/?p=1&page_size=100", None)
        .await;
    let names: Vec<&str> = all["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"adm") && !names.contains(&"adm2") && !names.contains(&ROOT_USERNAME));
    let deleted = all["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "u03")
        .unwrap();
    assert!(deleted["DeletedAt"].is_string(), "{deleted}");
    let text = all.to_string();
    assert!(!text.contains("argon2"), "no password hash");
    // page_size is capped and defaults to 10.
    let capped = app
        .call(&adm, Method::GET, "/api/user/?page_size=1000", None)
        .await;
    assert_eq!(capped["data"]["page_size"], 100);
    let default = app.call(&adm, Method::GET, "/api/user", None).await;
    assert_eq!(default["data"]["page_size"], 10);
}

#[tokio::test]
async fn compat_search_matches_substrings_ids_and_groups() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    for name in ["alpha", "xalphay", "beta"] {
        app.register(name, PASSWORD).await;
    }
    app.exec("UPDATE users SET user_group = 'vip' WHERE username = 'beta'")
        .await;
    let names = |v: &Reply| -> Vec<String> {
        let mut n: Vec<String> = v["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let r = app
        .call(&root, Method::GET, "/api/user/search?keyword=alpha", None)
        .await;
    assert_eq!(names(&r), ["alpha", "xalphay"]);
    let beta_id = app
        .query_i64("SELECT id FROM users WHERE username = 'beta'")
        .await[0][0];
    let r = app
        .call(
            &root,
            Method::GET,
            &format!("/api/user/search?keyword={beta_id}"),
            None,
        )
        .await;
    assert!(names(&r).contains(&"beta".to_owned()));
    let r = app
        .call(
            &root,
            Method::GET,
            "/api/user/search?keyword=&group=vip",
            None,
        )
        .await;
    assert_eq!(names(&r), ["beta"]);
}

#[tokio::test]
async fn rest_admin_list_has_pagination_filters_and_refuses_non_admins() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.register(&format!("user{i}"), PASSWORD).await;
    }
    app.exec("UPDATE users SET status = 2 WHERE username IN ('user1', 'user2')")
        .await;
    let token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let body = app
        .rest_get(&token, "/api/v1/admin/users?page=1&page_size=3")
        .await;
    let status = body.status;
    assert_eq!((status, body["code"].as_i64()), (200, Some(200)));
    let p = &body["data"]["pagination"];
    assert_eq!(
        (
            p["page"].as_u64(),
            p["page_size"].as_u64(),
            p["total"].as_u64(),
            p["pages"].as_u64()
        ),
        (Some(1), Some(3), Some(8), Some(3))
    );
    assert_eq!(body["data"]["users"].as_array().unwrap().len(), 3);
    let disabled = app.rest_get(&token, "/api/v1/admin/users?status=0").await;
    let users = disabled["data"]["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|u| u["status"] == 0));
    let found = app
        .rest_get(&token, "/api/v1/admin/users?search=user1")
        .await;
    assert_eq!(found["data"]["pagination"]["total"], 1);
    let default = app.rest_get(&token, "/api/v1/admin/users").await;
    assert_eq!(default["data"]["pagination"]["page_size"], 10);
    let status = app
        .rest_get(&token, "/api/v1/admin/users?status=7")
        .await
        .status;
    assert_eq!(status, 400);

    let user = app.rest_token("user0", PASSWORD).await;
    let body = app.rest_get(&user, "/api/v1/admin/users").await;
    let status = body.status;
    assert_eq!((status, body["code"].as_i64()), (403, Some(403)));
    let res = send(
        app.client
            .put(app.url("/api/v1/admin/users/999999/status"))
            .bearer_auth(&token)
            .json(&json!({"status": 0})),
    )
    .await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn admins_create_users_below_their_role_only() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_new_user = 42).await;
    let adm = app.admin("adm").await;
    let root = app.root().await;
    let ok = app
        .call(
            &adm,
            Method::POST,
            "/api/user/",
            Some(json!({"username": "made", "password": PASSWORD, "display_name": "Made"})),
        )
        .await;
    assert_eq!(ok, json!({"success": true, "message": ""}));
    let made = app.login("made", PASSWORD).await;
    let me = app.get_self(&made).await["data"].clone();
    assert_eq!(
        (
            me["role"].as_i64(),
            me["quota"].as_i64(),
            me["display_name"].as_str()
        ),
        (Some(1), Some(42), Some("Made"))
    );
    let higher = app
        .call(
            &adm,
            Method::POST,
            "/api/user/",
            Some(json!({"username": "boss", "password": PASSWORD, "role": 10})),
        )
        .await;
    assert_eq!(
        higher,
        json!({"success": false, "message": "无法创建权限大于等于自己的用户"})
    );
    let by_root = app
        .call(
            &root,
            Method::POST,
            "/api/user/",
            Some(json!({"username": "boss", "password": PASSWORD, "role": 10})),
        )
        .await;
    assert_eq!(by_root["success"], true);
    let root2 = app
        .call(
            &root,
            Method::POST,
            "/api/user/",
            Some(json!({"username": "root2", "password": PASSWORD, "role": 100})),
        )
        .await;
    assert_eq!(root2["success"], false);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE username IN ('root2')")
            .await[0][0],
        0
    );
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn an_admin_update_applies_every_field_or_refuses_and_quota_goes_through_the_ledger() {
    let app = TestApp::spawn().await;
    let adm = app.admin("adm").await;
    let u = app.user("target").await;
    // The console sends the whole user object back, with its edits.
    let mut body = app
        .call(&adm, Method::GET, &format!("/api/user/{}", u.id), None)
        .await["data"]
        .clone();
    body["quota"] = json!(750_000);
    body["display_name"] = json!("Target T.");
    body["remark"] = json!("vip customer");
    let reply = app
        .call(&adm, Method::PUT, "/api/user/", Some(body.clone()))
        .await;
    assert_eq!(reply, json!({"success": true, "message": ""}));
    let after = app
        .call(&adm, Method::GET, &format!("/api/user/{}", u.id), None)
        .await["data"]
        .clone();
    assert_eq!(
        (
            after["quota"].as_i64(),
            after["display_name"].as_str(),
            after["remark"].as_str()
        ),
        (Some(750_000), Some("Target T."), Some("vip customer"))
    );
    let ledger = app
        .query_i64(&format!(
            "SELECT delta, actor_id FROM ledger WHERE user_id = {} AND kind = 'admin_adjustment'",
            u.id
        ))
        .await;
    assert_eq!(ledger, vec![vec![750_000, adm.id]]);
    app.assert_ledger_balanced().await;

    // A field it cannot apply is refused, and nothing of the request is applied.
    let mut refused = after.clone();
    refused["role"] = json!(10);
    refused["quota"] = json!(1);
    let reply = app
        .call(&adm, Method::PUT, "/api/user/", Some(refused))
        .await;
    assert_eq!(reply["success"], false);
    let mut bad_group = after.clone();
    bad_group["group"] = json!("no-such-group");
    bad_group["quota"] = json!(1);
    let reply = app
        .call(&adm, Method::PUT, "/api/user/", Some(bad_group))
        .await;
    assert_eq!(reply, json!({"success": false, "message": "分组不存在"}));
    let negative = app
        .call(
            &adm,
            Method::PUT,
            "/api/user/",
            Some(json!({"id": u.id, "quota": -1})),
        )
        .await;
    assert_eq!(
        negative,
        json!({"success": false, "message": "额度不能为负数"})
    );
    let same = app
        .call(&adm, Method::GET, &format!("/api/user/{}", u.id), None)
        .await["data"]
        .clone();
    assert_eq!(
        (same["quota"].as_i64(), same["role"].as_i64()),
        (Some(750_000), Some(1))
    );
}

#[tokio::test]
async fn unknown_actions_and_ids_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let u = app.user("someone").await;
    let r = app
        .call(
            &root,
            Method::POST,
            "/api/user/manage",
            Some(json!({"id": u.id, "action": "explode"})),
        )
        .await;
    assert_eq!(r, json!({"success": false, "message": "无效的操作"}));
    let r = app
        .call(
            &root,
            Method::POST,
            "/api/user/manage",
            Some(json!({"id": 999_999, "action": "disable"})),
        )
        .await;
    assert_eq!(r, json!({"success": false, "message": "用户不存在"}));
    let r = app.call(&root, Method::GET, "/api/user/999999", None).await;
    assert_eq!(r, json!({"success": false, "message": "用户不存在"}));
    let groups = app.call(&root, Method::GET, "/api/group/", None).await;
    assert_eq!(groups["data"], json!(["default", "svip", "vip"]));
}

/// Disabling, deleting, demoting and an admin's password reset end the user's cookie
/// sessions, REST sessions and access token at once, also on another instance.
#[tokio::test]
async fn sessions_follow_the_account_across_two_instances() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let root = first.root().await;
    for (name, action) in [
        ("dis", "disable"),
        ("del", "delete"),
        ("dem", "demote"),
        ("pwd", "reset"),
    ] {
        first.register(name, PASSWORD).await;
        if action == "demote" {
            first
                .exec(&format!(
                    "UPDATE users SET role = 10 WHERE username = '{name}'"
                ))
                .await;
        }
        // The user is active on the second instance: cookie, access token and JWT.
        let cookie = second.login(name, PASSWORD).await;
        let token = send(second.as_user(Method::GET, "/api/user/token", &cookie)).await;
        let token = token["data"].as_str().unwrap().to_owned();
        let jwt = second.rest_token(name, PASSWORD).await;
        assert_eq!(second.get_self(&cookie).await["success"], true);

        let reply = if action == "reset" {
            first
                .call(
                    &root,
                    Method::PUT,
                    "/api/user/",
                    Some(json!({"id": cookie.id, "password": "reset-by-admin-1"})),
                )
                .await
        } else {
            first
                .call(
                    &root,
                    Method::POST,
                    "/api/user/manage",
                    Some(json!({"id": cookie.id, "action": action})),
                )
                .await
        };
        assert_eq!(reply["success"], true, "{action}: {reply}");

        // The very next requests on the second instance are refused.
        let res = send(second.as_user(Method::GET, "/api/user/self", &cookie)).await;
        assert_eq!(res.status, 401, "{action}: cookie");
        let by_token =
            send(second.with_token(Method::GET, "/api/user/self", &token, cookie.id)).await;
        assert_eq!(
            by_token["success"], false,
            "{action}: access token {by_token}"
        );
        let status = second.rest_get(&jwt, "/api/v1/users/profile").await.status;
        assert_eq!(status, 401, "{action}: jwt");
    }
}

#[tokio::test]
async fn the_audit_log_records_acts_with_before_after_and_is_scoped() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let adm = app.admin("adm").await;
    let u = app.user("victim").await;
    let bad: Value = app.login_response("victim", "wrong-password").await.body;
    assert_eq!(bad["success"], false);
    app.call(
        &adm,
        Method::POST,
        "/api/user/manage",
        Some(json!({"id": u.id, "action": "disable"})),
    )
    .await;
    app.call(
        &adm,
        Method::PUT,
        "/api/user/",
        Some(json!({"id": u.id, "quota": 500})),
    )
    .await;

    let token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let body = app
        .rest_get(&token, &format!("/api/v1/admin/audit?target={}", u.id))
        .await;
    let status = body.status;
    assert_eq!(status, 200);
    let entries = body["data"]["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "login.succeeded",
        "login.failed",
        "user.disabled",
        "quota.changed",
    ] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
    let quota = entries
        .iter()
        .find(|e| e["action"] == "quota.changed")
        .unwrap();
    assert_eq!(
        (
            quota["before"]["quota"].as_i64(),
            quota["after"]["quota"].as_i64()
        ),
        (Some(0), Some(500))
    );
    assert_eq!(quota["actor_id"], adm.id);
    assert!(quota["ip"].is_string() && quota["created_at"].is_string());
    let disabled = entries
        .iter()
        .find(|e| e["action"] == "user.disabled")
        .unwrap();
    assert_eq!(
        (
            disabled["before"]["status"].as_i64(),
            disabled["after"]["status"].as_i64()
        ),
        (Some(1), Some(2))
    );

    // A logout is a session revocation, audited.
    let leaving = app.user("leaving").await;
    send(app.as_user(Method::GET, "/api/user/logout", &leaving)).await;
    let revoked = app
        .rest_get(
            &token,
            &format!(
                "/api/v1/admin/audit?action=sessions.revoked&target={}",
                leaving.id
            ),
        )
        .await;
    assert_eq!(revoked["data"]["pagination"]["total"], 1, "{revoked}");
    assert_eq!(revoked["data"]["entries"][0]["ip"], "127.0.0.1");
    // A password change is audited with the client's address too.
    let changer = app.user("changer").await;
    let body = json!({"password": "another-password-1", "original_password": PASSWORD});
    app.call(&changer, Method::PUT, "/api/user/self", Some(body))
        .await;
    let changed = app
        .rest_get(
            &token,
            &format!(
                "/api/v1/admin/audit?action=password.changed&target={}",
                changer.id
            ),
        )
        .await;
    assert_eq!(
        changed["data"]["entries"][0]["ip"], "127.0.0.1",
        "{changed}"
    );

    let only = app
        .rest_get(&token, "/api/v1/admin/audit?action=login.failed")
        .await;
    assert!(
        only["data"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "login.failed")
    );
    let none = app
        .rest_get(&token, "/api/v1/admin/audit?from=4102444800")
        .await;
    assert_eq!(none["data"]["pagination"]["total"], 0);
    let status = app
        .rest_get(&token, "/api/v1/admin/audit?action=nope")
        .await
        .status;
    assert_eq!(status, 400);

    // An admin does not see entries about root (root's logins).
    let adm_token = app.rest_token("adm", PASSWORD).await;
    let scoped = app
        .rest_get(
            &adm_token,
            &format!("/api/v1/admin/audit?target={}", root.id),
        )
        .await;
    assert_eq!(scoped["data"]["pagination"]["total"], 0, "{scoped}");
    let mine = app
        .rest_get(&adm_token, &format!("/api/v1/admin/audit?target={}", u.id))
        .await;
    assert!(mine["data"]["pagination"]["total"].as_u64().unwrap() >= 4);
    // A plain user cannot read the log.
    app.register("plain", PASSWORD).await;
    let plain = app.rest_token("plain", PASSWORD).await;
    let body = app.rest_get(&plain, "/api/v1/admin/audit").await;
    let status = body.status;
    assert_eq!((status, body["code"].as_i64()), (403, Some(403)));
}

/// Issue 7.13a: on the REST surface a deleted user is gone (every route answers 404 for it),
/// so the admin list leaves soft-deleted users out, whoever deleted them; the compat list
/// keeps showing them with `DeletedAt`, as New API's console expects.
#[tokio::test]
async fn the_rest_admin_list_leaves_deleted_users_out() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let leaving = app.user("leaving").await;
    app.register("removed", PASSWORD).await;
    app.register("staying", PASSWORD).await;
    let bye = send(app.as_user(Method::DELETE, "/api/user/self", &leaving)).await;
    assert_eq!(bye.body["success"], true);
    let removed = app
        .query_i64("SELECT id FROM users WHERE username = 'removed'")
        .await[0][0];
    let managed = app
        .call(
            &root,
            Method::POST,
            "/api/user/manage",
            Some(json!({"id": removed, "action": "delete"})),
        )
        .await;
    assert_eq!(managed["success"], true, "{managed}");

    let token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    for query in ["", "?status=1", "?search=leaving", "?search=removed"] {
        let body = app
            .rest_get(&token, &format!("/api/v1/admin/users{query}"))
            .await;
        let status = body.status;
        assert_eq!(status, 200, "{body}");
        let names: Vec<&str> = body["data"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert!(
            !names.contains(&"leaving") && !names.contains(&"removed"),
            "{query}: {names:?}"
        );
        let total = body["data"]["pagination"]["total"].as_u64().unwrap();
        assert_eq!(
            total,
            names.len() as u64,
            "{query}: the total counts live users"
        );
    }
    let all = app.rest_get(&token, "/api/v1/admin/users").await;
    assert_eq!(all["data"]["pagination"]["total"], 2, "root and staying");
    // The compat list still shows them, marked deleted.
    let compat = app.call(&root, Method::GET, "/api/user/?p=1", None).await;
    let items = compat["data"]["items"].as_array().unwrap();
    for name in ["leaving", "removed"] {
        let row = items.iter().find(|u| u["username"] == name).unwrap();
        assert!(row["DeletedAt"].is_string(), "{row}");
    }
}
