//! Runtime options: root only, validated on write, effective on the next request on every
//! instance, audited.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, ROOT_PASSWORD, ROOT_USERNAME, TestApp};
use crate::reply::send;

#[tokio::test]
async fn only_root_reads_and_writes_options_and_the_initial_values_come_from_configuration() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_new_user = 42).await;
    let root = app.root().await;
    let all = app.call(&root, Method::GET, "/api/option", None).await;
    let keys: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    for k in [
        "RegisterEnabled",
        "PasswordLoginEnabled",
        "EmailVerificationEnabled",
        "EmailDomainWhitelist",
        "QuotaForNewUser",
        "QuotaForInviter",
        "QuotaForInvitee",
        "GroupRatio",
        "UserUsableGroups",
        "GroupModels",
    ] {
        assert!(keys.contains(&k), "{k} missing");
    }
    assert_eq!(app.option(&root, "QuotaForNewUser").await, "42");

    app.register("adm", PASSWORD).await;
    app.exec("UPDATE users SET role = 10 WHERE username = 'adm'")
        .await;
    let adm = app.login("adm", PASSWORD).await;
    let refused = json!({"success": false, "message": "无权进行此操作，权限不足"});
    assert_eq!(
        app.call(&adm, Method::GET, "/api/option/", None).await,
        refused
    );
    assert_eq!(
        app.set_option(&adm, "RegisterEnabled", json!(false)).await,
        refused
    );
    let anonymous = send(app.client.get(app.url("/api/option/"))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(app.option(&root, "RegisterEnabled").await, "true");
}

#[tokio::test]
async fn a_switch_takes_effect_on_the_next_request_on_every_instance() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let root = first.root().await;
    assert_eq!(
        first
            .set_option(&root, "RegisterEnabled", json!(false))
            .await,
        json!({"success": true, "message": ""})
    );

    for app in [&first, &second] {
        assert_eq!(
            app.register("late", PASSWORD).await["message"],
            "管理员关闭了新用户注册"
        );
        let rest = send(
            app.client
                .post(app.url("/api/v1/auth/register"))
                .json(&json!({"username": "late", "password": PASSWORD})),
        )
        .await;
        assert_eq!(rest.status, 403);
        let status = send(app.client.get(app.url("/api/status"))).await;
        assert_eq!(status["data"]["register_enabled"], false);
    }
    first
        .set_option(&root, "RegisterEnabled", json!("true"))
        .await;
    assert_eq!(second.register("late", PASSWORD).await["success"], true);

    first
        .set_option(&root, "PasswordLoginEnabled", json!(false))
        .await;
    let body: Value = second.login_response("late", PASSWORD).await.body;
    assert_eq!(body["message"], "管理员关闭了密码登录");
}

#[tokio::test]
async fn rewards_and_groups_change_without_a_restart() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    app.set_option(&root, "QuotaForNewUser", json!(250)).await;
    let s = app.user("newcomer").await;
    assert_eq!(app.get_self(&s).await["data"]["quota"], 250);
    app.assert_ledger_balanced().await;
    let models = json!({"default": ["m-1"], "vip": ["m-2"]}).to_string();
    assert_eq!(
        app.set_option(&root, "GroupModels", json!(models)).await["success"],
        true
    );
    let got = app.call(&s, Method::GET, "/api/user/models", None).await;
    assert_eq!(got["data"], json!(["m-1", "m-2"]));
    app.set_option(
        &root,
        "GroupRatio",
        json!(r#"{"default": 1, "vip": 0.5, "gold": 2}"#),
    )
    .await;
    let groups = app.call(&root, Method::GET, "/api/group/", None).await;
    assert_eq!(groups["data"], json!(["default", "gold", "vip"]));
}

#[tokio::test]
async fn bad_values_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let before = app
        .call(&root, Method::GET, "/api/option/", None)
        .await
        .body;
    for (key, value) in [
        ("QuotaForNewUser", json!(-1)),
        ("QuotaForNewUser", json!("lots")),
        ("RegisterEnabled", json!("maybe")),
        ("GroupRatio", json!(r#"{"vip": -1}"#)),
        ("GroupRatio", json!("{not json")),
        ("EmailDomainWhitelist", json!("gmail.com, not a domain")),
        ("EmailVerificationEnabled", json!(true)),
        ("NoSuchOption", json!(1)),
    ] {
        let reply = app.set_option(&root, key, value.clone()).await;
        assert_eq!(reply["success"], false, "{key}={value}");
        assert!(
            reply["message"].as_str().unwrap().starts_with("选项值无效"),
            "{reply}"
        );
    }
    assert_eq!(
        app.call(&root, Method::GET, "/api/option/", None)
            .await
            .body,
        before
    );
}

#[tokio::test]
async fn option_changes_are_audited_with_old_and_new_values() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    app.set_option(&root, "QuotaForInviter", json!(300)).await;
    let token = &app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let audit = send(
        app.client
            .get(app.url("/api/v1/admin/audit?action=option.changed"))
            .bearer_auth(token),
    )
    .await;
    let entries = audit["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["before"], json!({"QuotaForInviter": "0"}));
    assert_eq!(entries[0]["after"], json!({"QuotaForInviter": "300"}));
    assert_eq!(entries[0]["actor_id"], root.id);
}

#[tokio::test]
async fn a_refused_value_is_named_whole_in_the_callers_language() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let zh = app.set_option(&root, "QuotaForNewUser", json!(-1)).await;
    assert_eq!(zh["message"], "选项值无效：QuotaForNewUser", "{zh}");
    let unknown = app.set_option(&root, "NoSuchOption", json!(1)).await;
    assert_eq!(unknown["message"], "选项值无效：未知的选项 NoSuchOption");
    let en = send(
        app.as_user(Method::PUT, "/api/option/", &root)
            .header("Accept-Language", "en")
            .json(&json!({"key": "EmailVerificationEnabled", "value": true})),
    )
    .await;
    assert_eq!(
        en["message"],
        "Invalid option value: EmailVerificationEnabled needs e-mail delivery, which is not \
         available yet"
    );
}
