//! Root saving its own row in the console's user editor (`PUT /api/user/`, issue 11): its
//! display name, group, quota, remark and password change, audited like any edit, with the
//! quota through the ledger; its role and status never change this way. Admins still cannot
//! edit root, peers or themselves.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::Reply;

/// The body the console's editor sends (recorded: step 30b), with `changes` applied.
fn editor_body(id: i64, changes: Value) -> Value {
    let mut body = json!({
        "quota": 0,
        "group": "default",
        "username": ROOT_USERNAME,
        "password": "",
        "display_name": ROOT_USERNAME,
        "remark": "",
        "github_id": "",
        "oidc_id": "",
        "wechat_id": "",
        "email": "",
        "telegram_id": "",
        "id": id,
    });
    for (k, v) in changes.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    body
}

async fn save(app: &TestApp, s: &Session, body: Value) -> Reply {
    app.call(s, Method::PUT, "/api/user/", Some(body)).await
}

async fn audit_count(app: &TestApp, action: &str, target: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM audit WHERE action = '{action}' AND actor_id = {target} \
         AND target_id = {target}"
    ))
    .await[0][0]
}

#[tokio::test]
async fn root_edits_its_own_display_name_group_quota_and_remark() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let changes = json!({"display_name": "Root Admin", "quota": 5_000_000, "group": "vip",
                         "remark": "the operator"});
    assert_eq!(
        save(&app, &root, editor_body(root.id, changes)).await.body,
        json!({"success": true, "message": ""})
    );
    let me = app.get_self(&root).await.success();
    assert_eq!(me["display_name"], "Root Admin");
    assert_eq!(me["quota"], 5_000_000);
    assert_eq!(me["group"], "vip");
    assert_eq!((&me["role"], &me["status"]), (&json!(100), &json!(1)));
    let row = app
        .call(&root, Method::GET, &format!("/api/user/{}", root.id), None)
        .await
        .success();
    assert_eq!(row["remark"], "the operator");
    // The quota moved through the ledger, as root's own act, and both edits are audited.
    app.assert_ledger_balanced().await;
    let adjustments = app
        .query_i64(&format!(
            "SELECT delta FROM ledger WHERE kind = 'admin_adjustment' AND user_id = {}",
            root.id
        ))
        .await;
    assert_eq!(adjustments, [[5_000_000]]);
    assert_eq!(audit_count(&app, "user.updated", root.id).await, 1);
    assert_eq!(audit_count(&app, "quota.changed", root.id).await, 1);
    // Sending the same row again changes nothing and writes nothing.
    let same = json!({"display_name": "Root Admin", "quota": 5_000_000, "group": "vip",
                      "remark": "the operator"});
    save(&app, &root, editor_body(root.id, same))
        .await
        .success();
    assert_eq!(audit_count(&app, "user.updated", root.id).await, 1);
}

#[tokio::test]
async fn root_sets_its_own_password_and_logs_in_with_it() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let new_password = "a-brand-new-root-password";
    save(
        &app,
        &root,
        editor_body(root.id, json!({"password": new_password})),
    )
    .await
    .success();
    assert_eq!(audit_count(&app, "password.reset", root.id).await, 1);
    assert_eq!(
        app.login_response(ROOT_USERNAME, ROOT_PASSWORD).await["success"],
        false
    );
    let again = app.login(ROOT_USERNAME, new_password).await;
    assert_eq!(app.get_self(&again).await.success()["role"], json!(100));
}

#[tokio::test]
async fn root_cannot_change_its_own_role_or_status_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    for change in [
        json!({"role": 10}),
        json!({"role": 1}),
        json!({"status": 2}),
        json!({"role": 100, "status": 2}),
    ] {
        let mut body = editor_body(root.id, json!({"display_name": "Renamed", "quota": 42}));
        for (k, v) in change.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        save(&app, &root, body)
            .await
            .refused_with("无法修改自己的角色或状态");
    }
    let me = app.get_self(&root).await.success();
    assert_eq!(
        (
            &me["display_name"],
            &me["quota"],
            &me["role"],
            &me["status"]
        ),
        (&json!(ROOT_USERNAME), &json!(0), &json!(100), &json!(1))
    );
    assert_eq!(audit_count(&app, "user.updated", root.id).await, 0);
    // Sending its current role and status is no change.
    let body = editor_body(
        root.id,
        json!({"display_name": "Root Admin", "role": 100, "status": 1}),
    );
    save(&app, &root, body).await.success();
    // The manage actions stay refused on root, itself included.
    for action in ["disable", "demote", "delete"] {
        let reply = app
            .call(
                &root,
                Method::POST,
                "/api/user/manage",
                Some(json!({"id": root.id, "action": action})),
            )
            .await;
        assert_eq!(reply.body["success"], false, "{action}: {}", reply.body);
    }
}

#[tokio::test]
async fn admins_still_cannot_edit_root_peers_or_themselves() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let admin = app.admin("admin1").await;
    let peer = app.admin("admin2").await;
    let refused = "无权更新同权限等级或更高权限等级的用户信息";
    for (target, name) in [
        (root.id, ROOT_USERNAME),
        (peer.id, "admin2"),
        (admin.id, "admin1"),
    ] {
        let body = editor_body(
            target,
            json!({"username": name, "display_name": "Hijacked", "quota": 1}),
        );
        save(&app, &admin, body).await.refused_with(refused);
    }
    // Root may still edit the admins.
    let body = editor_body(
        peer.id,
        json!({"username": "admin2", "display_name": "Second Admin"}),
    );
    save(&app, &root, body).await.success();
    assert_eq!(
        app.get_self(&peer).await.success()["display_name"],
        "Second Admin"
    );
}
