//! Redemption-code management after the mint (`/api/redemption/*`): search, read, edit,
//! enable/disable, delete and delete-invalid. Each success has the shape the console reads;
//! each refusal is New API's envelope and changes nothing; every write is audited; a user is
//! refused everywhere; an admin's write never lands over a redemption it did not see.

use std::sync::Arc;

use reqwest::Method;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::Reply;

const NOT_FOUND: &str = "兑换码不存在";
const LOCKED: &str = "该兑换码已被使用，不能再修改其状态、额度或过期时间";
const CHANGED: &str = "兑换码已被其他操作修改（例如已被兑换），请刷新后重试";

fn now() -> i64 {
    crate::rest_helpers::now_unix()
}

/// Mints `count` codes named `name` worth `quota` as `admin`; returns their ids, ascending.
async fn mint(app: &TestApp, admin: &Session, name: &str, quota: i64, count: i64) -> Vec<i64> {
    let keys = app
        .create_codes(admin, json!({"name": name, "quota": quota, "count": count}))
        .await
        .success();
    let mut ids = Vec::new();
    for key in keys.as_array().unwrap() {
        ids.push(
            app.query_i64(&format!(
                "SELECT id FROM redemptions WHERE code = '{}'",
                key.as_str().unwrap()
            ))
            .await[0][0],
        );
    }
    ids.sort_unstable();
    ids
}

async fn key_of(app: &TestApp, id: i64) -> String {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT code FROM redemptions WHERE id = {id}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// Every column a write could touch, for "changed nothing" checks.
async fn snapshot(app: &TestApp) -> Vec<Vec<i64>> {
    app.query_i64(
        "SELECT id, status, quota, COALESCE(expires_at, 0), COALESCE(deleted_at, 0), \
         COALESCE(used_by, 0), LENGTH(name) FROM redemptions ORDER BY id",
    )
    .await
}

/// Every (id, name), by id.
async fn names(app: &TestApp) -> Vec<(i64, String)> {
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT id, name FROM redemptions ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get_by_index::<i64>(0).unwrap(),
                r.try_get_by_index::<String>(1).unwrap(),
            )
        })
        .collect()
}

async fn put(app: &TestApp, s: &Session, query: &str, body: Value) -> Reply {
    app.call(
        s,
        Method::PUT,
        &format!("/api/redemption/{query}"),
        Some(body),
    )
    .await
}

/// The audit entries with this action, newest first, as root reads them over REST.
async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let reply = app.audit_log(&token, &format!("action={action}")).await;
    reply["data"]["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn search_and_read_show_live_codes_by_name_prefix_or_id() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let spring = mint(&app, &root, "spring", 10, 2).await;
    let summer = mint(&app, &root, "Spring-sale", 10, 1).await;
    let n42 = mint(&app, &root, "42-club", 10, 1).await;

    let search = |q: String| {
        let (app, root) = (&app, root.clone());
        async move {
            app.call(
                &root,
                Method::GET,
                &format!("/api/redemption/search?{q}"),
                None,
            )
            .await
            .success()
        }
    };
    let ids = |data: &Value| -> Vec<i64> {
        data["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let data = search("keyword=spr&p=1&page_size=10".into()).await;
    assert_eq!(
        ids(&data),
        [spring[1], spring[0]],
        "case-sensitive, newest first"
    );
    assert_eq!(
        (
            data["total"].as_u64(),
            data["page"].as_u64(),
            data["page_size"].as_u64()
        ),
        (Some(2), Some(1), Some(10))
    );
    let item = &data["items"][0];
    for key in [
        "id",
        "user_id",
        "key",
        "status",
        "name",
        "quota",
        "created_time",
        "redeemed_time",
        "used_user_id",
        "expired_time",
    ] {
        assert!(item.get(key).is_some(), "{key} in {item}");
    }
    // A number is also the id; no keyword lists everything; paging as the list.
    let by_id = search(format!("keyword={}", summer[0])).await;
    assert!(ids(&by_id).contains(&summer[0]), "{by_id}");
    assert_eq!(
        ids(&search("keyword=42".into()).await).first(),
        Some(&n42[0])
    );
    assert_eq!(search("keyword=".into()).await["total"], 4);
    let page2 = search("keyword=&p=2&page_size=3".into()).await;
    assert_eq!((page2["total"].as_u64(), ids(&page2).len()), (Some(4), 1));
    // Without the trailing slash and with a bad page.
    let bare = app
        .call(
            &root,
            Method::GET,
            "/api/redemption/search/?keyword=Spring",
            None,
        )
        .await
        .success();
    assert_eq!(ids(&bare), summer);
    let bad = app
        .call(&root, Method::GET, "/api/redemption/search?p=abc", None)
        .await;
    bad.refused_with("无效的参数");

    // Read one, then not once deleted, nor an unknown id.
    let one = app
        .call(
            &root,
            Method::GET,
            &format!("/api/redemption/{}", spring[0]),
            None,
        )
        .await
        .success();
    assert_eq!(
        (
            one["id"].as_i64(),
            one["name"].as_str(),
            one["status"].as_i64()
        ),
        (Some(spring[0]), Some("spring"), Some(1))
    );
    app.exec(&format!(
        "UPDATE redemptions SET deleted_at = 1 WHERE id = {}",
        spring[0]
    ))
    .await;
    for path in [
        format!("/api/redemption/{}", spring[0]),
        format!("/api/redemption/{}/", spring[0]),
        "/api/redemption/999999".to_owned(),
    ] {
        app.call(&root, Method::GET, &path, None)
            .await
            .refused_with(NOT_FOUND);
    }
    assert_eq!(ids(&search("keyword=spring".into()).await), [spring[1]]);
}

#[tokio::test]
async fn an_edit_as_the_console_sends_it_changes_name_quota_and_expiry_and_is_audited() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let id = mint(&app, &root, "promo", 500, 1).await[0];
    // The console's edit form: the code as read, with the edited fields.
    let mut form = app
        .call(&root, Method::GET, &format!("/api/redemption/{id}"), None)
        .await
        .success();
    let expiry = now() + 3_600;
    form["name"] = json!("spring");
    form["quota"] = json!(400);
    form["expired_time"] = json!(expiry);
    let data = put(&app, &root, "", form.clone()).await.success();
    assert_eq!(
        (
            data["id"].as_i64(),
            data["name"].as_str(),
            data["quota"].as_i64(),
            data["expired_time"].as_i64(),
            data["status"].as_i64()
        ),
        (Some(id), Some("spring"), Some(400), Some(expiry), Some(1))
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT quota, expires_at FROM redemptions WHERE id = {id}"
        ))
        .await,
        [[400, expiry]]
    );
    // Without the trailing slash; expiry 0 clears it.
    let cleared = app
        .call(
            &root,
            Method::PUT,
            "/api/redemption",
            Some(json!({"id": id, "expired_time": 0})),
        )
        .await
        .success();
    assert_eq!(cleared["expired_time"], 0);

    let entries = audit(&app, "redemption.updated").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let first = &entries[1];
    assert_eq!(first["actor_id"], root.id);
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(
        first["before"],
        json!({"id": id, "name": "promo", "quota": 500, "expires_at": null})
    );
    assert_eq!(
        first["after"],
        json!({"id": id, "name": "spring", "quota": 400, "expires_at": expiry})
    );
    assert_eq!(entries[0]["after"], json!({"id": id, "expires_at": null}));
    // Resending the form unchanged writes nothing.
    put(
        &app,
        &root,
        "",
        json!({"id": id, "name": "spring", "quota": 400}),
    )
    .await
    .success();
    assert_eq!(audit(&app, "redemption.updated").await.len(), 2);
}

#[tokio::test]
async fn refused_edits_use_new_apis_messages_and_change_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let adm = app.admin("adm").await;
    let buyer = app.user("buyer").await;
    let id = mint(&app, &root, "promo", 500, 1).await[0];
    let used = mint(&app, &root, "used", 500, 1).await[0];
    app.redeem(&buyer, &key_of(&app, used).await)
        .await
        .success();
    let deleted = mint(&app, &root, "gone", 500, 1).await[0];
    app.exec(&format!(
        "UPDATE redemptions SET deleted_at = 1 WHERE id = {deleted}"
    ))
    .await;
    let before = snapshot(&app).await;
    let names_before = names(&app).await;

    let cases: Vec<(&Session, &str, Value, &str)> = vec![
        (
            &root,
            "",
            json!({"id": id, "name": ""}),
            "兑换码名称长度必须在1-20之间",
        ),
        (
            &root,
            "",
            json!({"id": id, "name": "   "}),
            "兑换码名称长度必须在1-20之间",
        ),
        (
            &root,
            "",
            json!({"id": id, "name": "x".repeat(21)}),
            "兑换码名称长度必须在1-20之间",
        ),
        (
            &root,
            "",
            json!({"id": id, "quota": 0}),
            "兑换码额度必须大于0",
        ),
        (
            &root,
            "",
            json!({"id": id, "quota": -5}),
            "兑换码额度必须大于0",
        ),
        (&root, "", json!({"id": id, "quota": "lots"}), "无效的参数"),
        (&root, "", json!({"id": id, "quota": 1.5}), "无效的参数"),
        (
            &root,
            "",
            json!({"id": id, "expired_time": 1}),
            "过期时间不能早于当前时间",
        ),
        (
            &root,
            "",
            json!({"id": id, "expired_time": now() - 60}),
            "过期时间不能早于当前时间",
        ),
        // Raising a quota is minting: not for an admin (the mint cap would not see it).
        (
            &adm,
            "",
            json!({"id": id, "quota": 501}),
            "只有超级管理员可以提高兑换码的额度",
        ),
        // A used code keeps what it credited.
        (&root, "", json!({"id": used, "quota": 100}), LOCKED),
        (
            &root,
            "",
            json!({"id": used, "expired_time": now() + 60}),
            LOCKED,
        ),
        (
            &root,
            "?status_only=true",
            json!({"id": used, "status": 1}),
            LOCKED,
        ),
        (
            &root,
            "?status_only=true",
            json!({"id": used, "status": 2}),
            LOCKED,
        ),
        (
            &root,
            "?status_only=true",
            json!({"id": id, "status": 3}),
            "无效的兑换码状态，只能设为启用（1）或禁用（2）",
        ),
        (
            &root,
            "?status_only=true",
            json!({"id": id, "status": 0}),
            "无效的兑换码状态，只能设为启用（1）或禁用（2）",
        ),
        (
            &root,
            "?status_only=true",
            json!({"id": id}),
            "无效的兑换码状态，只能设为启用（1）或禁用（2）",
        ),
        (
            &root,
            "?status_only=maybe",
            json!({"id": id, "status": 2}),
            "无效的参数",
        ),
        (&root, "", json!({"id": deleted, "name": "back"}), NOT_FOUND),
        (
            &root,
            "?status_only=1",
            json!({"id": deleted, "status": 1}),
            NOT_FOUND,
        ),
        (&root, "", json!({"id": 999_999, "name": "x"}), NOT_FOUND),
        (&root, "", json!({"name": "no id"}), NOT_FOUND),
    ];
    for (who, query, body, message) in cases {
        put(&app, who, query, body.clone())
            .await
            .refused_with(message);
        assert_eq!(snapshot(&app).await, before, "{query} {body}");
    }
    assert_eq!(names(&app).await, names_before);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM audit WHERE action = 'redemption.updated'")
            .await,
        [[0]]
    );
    // In English on request.
    let en = app
        .as_user(Method::PUT, "/api/redemption/", &root)
        .header("Accept-Language", "en")
        .json(&json!({"id": used, "quota": 1}));
    let reply = crate::reply::send(en).await;
    reply
        .refused_with("This code has been used; its status, quota and expiry can no longer change");
    // Root may raise; an admin may lower; a used code may be renamed.
    put(&app, &root, "", json!({"id": id, "quota": 900}))
        .await
        .success();
    put(&app, &adm, "", json!({"id": id, "quota": 100}))
        .await
        .success();
    let renamed = put(&app, &adm, "", json!({"id": used, "name": "archived"}))
        .await
        .success();
    assert_eq!(
        (renamed["name"].as_str(), renamed["status"].as_i64()),
        (Some("archived"), Some(3))
    );
}

#[tokio::test]
async fn disabling_and_enabling_is_status_only_and_the_redeem_path_follows() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let buyer = app.user("buyer").await;
    let id = mint(&app, &root, "promo", 500, 1).await[0];
    let key = key_of(&app, id).await;
    // The console's body and query.
    let data = put(
        &app,
        &root,
        "?status_only=true",
        json!({"id": id, "status": 2}),
    )
    .await
    .success();
    assert_eq!(
        (data["id"].as_i64(), data["status"].as_i64()),
        (Some(id), Some(2))
    );
    app.redeem(&buyer, &key)
        .await
        .refused_with("兑换失败，该兑换码已被禁用");
    // The name in a status-only body is ignored, as in New API.
    let data = put(
        &app,
        &root,
        "?status_only=true",
        json!({"id": id, "status": 1, "name": "ignored"}),
    )
    .await
    .success();
    assert_eq!(
        (data["status"].as_i64(), data["name"].as_str()),
        (Some(1), Some("promo"))
    );
    assert_eq!(app.redeem(&buyer, &key).await.success(), 500);
    // Used now: it cannot be enabled (or disabled) again.
    put(
        &app,
        &root,
        "?status_only=true",
        json!({"id": id, "status": 1}),
    )
    .await
    .refused_with(LOCKED);

    let entries = audit(&app, "redemption.updated").await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["before"], json!({"id": id, "status": 1}));
    assert_eq!(entries[1]["after"], json!({"id": id, "status": 2}));
    assert_eq!(entries[0]["after"], json!({"id": id, "status": 1}));
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_delete_is_soft_audited_and_keeps_the_ledger_whole() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let buyer = app.user("buyer").await;
    let ids = mint(&app, &root, "promo", 500, 3).await;
    app.redeem(&buyer, &key_of(&app, ids[0]).await)
        .await
        .success();
    let unused_key = key_of(&app, ids[1]).await;

    // The console's form (trailing slash), and without it.
    for (id, path) in [
        (ids[0], format!("/api/redemption/{}/", ids[0])),
        (ids[1], format!("/api/redemption/{}", ids[1])),
    ] {
        let reply = app.call(&root, Method::DELETE, &path, None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, json!({"success": true, "message": ""}));
        app.call(&root, Method::GET, &format!("/api/redemption/{id}"), None)
            .await
            .refused_with(NOT_FOUND);
    }
    // Again, or an unknown id: a clear refusal, nothing changes.
    let before = snapshot(&app).await;
    for path in [
        format!("/api/redemption/{}/", ids[0]),
        "/api/redemption/999999/".to_owned(),
    ] {
        app.call(&root, Method::DELETE, &path, None)
            .await
            .refused_with(NOT_FOUND);
    }
    assert_eq!(snapshot(&app).await, before);
    // A deleted code cannot be redeemed; the list no longer shows it.
    app.redeem(&buyer, &unused_key)
        .await
        .refused_with("兑换失败，无效的兑换码");
    let list = app
        .call(&root, Method::GET, "/api/redemption/", None)
        .await
        .success();
    assert_eq!(list["total"], 1);
    // The rows stay: the ledger's reference still names an existing code.
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM redemptions WHERE id = {} AND deleted_at IS NOT NULL",
            ids[0]
        ))
        .await,
        [[1]]
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'redemption' AND reference = '{}'",
            ids[0]
        ))
        .await,
        [[1]]
    );
    app.assert_ledger_balanced().await;

    let entries = audit(&app, "redemption.deleted").await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["actor_id"], root.id);
    assert_eq!(
        entries[1]["before"],
        json!({"id": ids[0], "name": "promo", "quota": 500, "status": 3, "expires_at": null})
    );
    assert_eq!(entries[1]["after"], json!({"id": ids[0], "deleted": true}));
}

#[tokio::test]
async fn deleting_invalid_codes_removes_used_disabled_and_expired_ones_and_counts_them() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let buyer = app.user("buyer").await;
    let ids = mint(&app, &root, "promo", 500, 5).await;
    let later = now() + 3_600;
    app.redeem(&buyer, &key_of(&app, ids[0]).await)
        .await
        .success();
    put(
        &app,
        &root,
        "?status_only=true",
        json!({"id": ids[1], "status": 2}),
    )
    .await
    .success();
    put(
        &app,
        &root,
        "",
        json!({"id": ids[3], "expired_time": later}),
    )
    .await
    .success();
    // Expired: arranged in the database, since no route accepts a past expiry.
    app.exec(&format!(
        "UPDATE redemptions SET expires_at = 1 WHERE id = {}",
        ids[2]
    ))
    .await;

    let reply = app
        .call(&root, Method::DELETE, "/api/redemption/invalid", None)
        .await;
    assert_eq!(
        reply.body,
        json!({"success": true, "message": "", "data": 3})
    );
    let left: Vec<i64> = app
        .query_i64("SELECT id FROM redemptions WHERE deleted_at IS NULL ORDER BY id")
        .await
        .into_iter()
        .map(|r| r[0])
        .collect();
    assert_eq!(left, [ids[3], ids[4]]);
    let entries = audit(&app, "redemption.purged").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor_id"], root.id);
    assert_eq!(
        entries[0]["before"],
        json!({"ids": [ids[0], ids[1], ids[2]]})
    );
    assert_eq!(entries[0]["after"], json!({"count": 3}));
    // Nothing left to delete: 0, and no audit record.
    let again = app
        .call(&root, Method::DELETE, "/api/redemption/invalid/", None)
        .await
        .success();
    assert_eq!(again, 0);
    assert_eq!(audit(&app, "redemption.purged").await.len(), 1);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_plain_user_is_refused_everywhere_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let user = app.user("alice").await;
    let ids = mint(&app, &root, "promo", 500, 2).await;
    app.exec(&format!(
        "UPDATE redemptions SET status = 2 WHERE id = {}",
        ids[1]
    ))
    .await;
    let before = snapshot(&app).await;
    let id = ids[0];
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            "/api/redemption/search?keyword=promo".into(),
            None,
        ),
        (Method::GET, format!("/api/redemption/{id}"), None),
        (
            Method::PUT,
            "/api/redemption/".into(),
            Some(json!({"id": id, "quota": 1})),
        ),
        (
            Method::PUT,
            "/api/redemption/?status_only=true".into(),
            Some(json!({"id": id, "status": 2})),
        ),
        (Method::DELETE, format!("/api/redemption/{id}/"), None),
        (Method::DELETE, "/api/redemption/invalid".into(), None),
    ];
    for (method, path, body) in calls {
        let reply = app.call(&user, method.clone(), &path, body.clone()).await;
        assert_eq!(reply.status, 200, "{method} {path}");
        reply.refused_with("无权进行此操作，权限不足");
        // Without credentials: the auth layer's 401.
        let anonymous = app.anonymous(method.clone(), &path, body).await;
        assert_eq!(anonymous.status, 401, "{method} {path}");
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM audit WHERE action IN \
             ('redemption.updated', 'redemption.deleted', 'redemption.purged')"
        )
        .await,
        [[0]]
    );
}

/// An admin disabling or re-pricing codes while a user redeems them, over HTTP: for every
/// code, either the admin's write or the redemption wins; a write based on the unused code
/// never lands after the redemption (it is refused as changed or used), and the balance is the
/// sum of what the codes show.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_edit_racing_a_redemption_never_loses_an_update() {
    const CODES: usize = 12;
    let app = Arc::new(TestApp::spawn().await);
    let root = app.root().await;
    let adm = app.admin("adm").await;
    let buyer = app.user("buyer").await;
    let ids = mint(&app, &root, "race", 1_000, CODES as i64).await;
    let mut keys = Vec::new();
    for id in &ids {
        keys.push(key_of(&app, *id).await);
    }
    let quota_of_buyer = |app: Arc<TestApp>, id: i64| async move {
        app.query_i64(&format!("SELECT quota FROM users WHERE id = {id}"))
            .await[0][0]
    };
    let initial = quota_of_buyer(app.clone(), buyer.id).await;
    let start = Arc::new(tokio::sync::Barrier::new(2 * CODES));
    let mut tasks = Vec::new();
    for (i, (id, key)) in ids.iter().copied().zip(keys).enumerate() {
        let (app_a, app_b, start_a, start_b) =
            (app.clone(), app.clone(), start.clone(), start.clone());
        let (adm, buyer) = (adm.clone(), buyer.clone());
        let (query, body) = if i % 2 == 0 {
            ("?status_only=true", json!({"id": id, "status": 2}))
        } else {
            ("", json!({"id": id, "quota": 400}))
        };
        tasks.push(tokio::spawn(async move {
            let edit = tokio::spawn(async move {
                start_a.wait().await;
                put(&app_a, &adm, query, body).await
            });
            let redeem = tokio::spawn(async move {
                start_b.wait().await;
                app_b.redeem(&buyer, &key).await
            });
            (id, i % 2 == 0, edit.await.unwrap(), redeem.await.unwrap())
        }));
    }
    let mut credited = 0;
    for task in tasks {
        let (id, disabling, edit, redeem) = task.await.unwrap();
        let row = app
            .query_i64(&format!(
                "SELECT status, quota FROM redemptions WHERE id = {id}"
            ))
            .await[0]
            .clone();
        let edit_ok = edit.body["success"] == true;
        let redeem_ok = redeem.body["success"] == true;
        match (edit_ok, redeem_ok) {
            (true, true) => {
                // The re-pricing landed first; the redemption credited the new quota.
                assert!(
                    !disabling,
                    "code {id}: disabled and redeemed: {edit} {redeem}"
                );
                assert_eq!(
                    (row.clone(), redeem.data().as_i64()),
                    (vec![3, 400], Some(400))
                );
                credited += 400;
            }
            (true, false) => {
                assert!(disabling, "code {id}: {edit} {redeem}");
                redeem.refused_with("兑换失败，该兑换码已被禁用");
                assert_eq!(row, [2, 1_000], "code {id}");
            }
            (false, true) => {
                let message = edit.body["message"].as_str().unwrap();
                assert!(message == CHANGED || message == LOCKED, "code {id}: {edit}");
                assert_eq!(row, [3, 1_000], "code {id}");
                credited += 1_000;
            }
            (false, false) => panic!("code {id}: neither won: {edit} {redeem}"),
        }
    }
    assert_eq!(
        quota_of_buyer(app.clone(), buyer.id).await,
        initial + credited
    );
    app.assert_ledger_balanced().await;
}
