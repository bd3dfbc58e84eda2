//! Compat self-service: profile, deletion, groups, models, invitations, transfers, settings.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_domain::groups::GroupSettings;

use crate::helpers::{PASSWORD, Session, TestApp};
use crate::reply::{Reply, refusal, send};

// --- PUT /api/user/self -----------------------------------------------------------------

#[tokio::test]
async fn a_display_name_change_needs_no_password() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/self",
            Some(json!({"display_name": "Alice A."})),
        )
        .await;
    assert_eq!(reply, json!({"success": true, "message": ""}));
    assert_eq!(app.get_self(&s).await["data"]["display_name"], "Alice A.");
    let long = app
        .call(
            &s,
            Method::PUT,
            "/api/user/self",
            Some(json!({"display_name": "x".repeat(21)})),
        )
        .await;
    long.refused_with("输入不合法 显示名称长度必须为1-20个字符");
}

#[tokio::test]
async fn a_password_change_needs_the_original_and_revokes_the_other_sessions() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let other = app.login("alice", PASSWORD).await;

    for original in [None, Some("wrong-password")] {
        let mut body = json!({"password": "new-password-1"});
        if let Some(o) = original {
            body["original_password"] = json!(o);
        }
        app.call(&s, Method::PUT, "/api/user/self", Some(body))
            .await
            .refused_with("原密码错误");
    }
    let short = json!({"password": "short", "original_password": PASSWORD});
    app.call(&s, Method::PUT, "/api/user/self", Some(short))
        .await
        .refused_with("输入不合法 密码长度必须为8-128个字符");
    // Nothing changed so far: the old password still logs in.
    app.login("alice", PASSWORD).await;

    let body = json!({"password": "new-password-1", "original_password": PASSWORD});
    assert_eq!(
        app.call(&s, Method::PUT, "/api/user/self", Some(body))
            .await["success"],
        true
    );
    // This session lives on; the other session is dead.
    assert_eq!(app.get_self(&s).await["success"], true);
    let res = send(app.as_user(Method::GET, "/api/user/self", &other)).await;
    assert_eq!(res.status, 401);
    let old: Value = app.login_response("alice", PASSWORD).await.body;
    assert_eq!(old["success"], false);
    app.login("alice", "new-password-1").await;
}

#[tokio::test]
async fn fields_a_user_may_not_set_are_never_applied() {
    let app = TestApp::spawn().await;
    let s = app.user("mallory").await;
    let before = app.get_self(&s).await["data"].clone();
    let probe = json!({
        "role": 100, "quota": 999_999_999, "used_quota": 5, "group": "vip", "status": 2,
        "username": "root2", "aff_code": "HIJACK", "aff_quota": 10, "aff_count": 3,
        "inviter_id": 1, "access_token": "x", "email": "m@example.com", "id": 1,
        "display_name": "Mal"
    });
    let reply = app
        .call(&s, Method::PUT, "/api/user/self", Some(probe))
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let after = app.get_self(&s).await["data"].clone();
    for key in [
        "id",
        "role",
        "quota",
        "used_quota",
        "group",
        "status",
        "username",
        "aff_code",
        "aff_quota",
        "aff_count",
        "inviter_id",
        "email",
    ] {
        assert_eq!(before[key], after[key], "{key} changed");
    }
    assert_eq!(after["display_name"], "Mal");
    let token = app
        .query_i64("SELECT COUNT(*) FROM users WHERE access_token_hash IS NOT NULL")
        .await;
    assert_eq!(token[0][0], 0);
}

#[tokio::test]
async fn a_sidebar_must_be_valid_json_of_flags_and_is_kept_by_the_settings_update() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let sidebar = r#"{"chat":{"enabled":false,"playground":true},"console":{"enabled":true}}"#;
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/self",
            Some(json!({"sidebar_modules": sidebar})),
        )
        .await;
    assert_eq!(reply, json!({"success": true, "message": "设置更新成功"}));
    assert_eq!(app.get_self(&s).await["data"]["sidebar_modules"], sidebar);

    for bad in [
        json!("not json"),
        json!("[1,2]"),
        json!(r#"{"chat":{"enabled":"yes"}}"#),
        json!(42),
    ] {
        let reply = app
            .call(
                &s,
                Method::PUT,
                "/api/user/self",
                Some(json!({"sidebar_modules": bad})),
            )
            .await;
        assert_eq!(reply, refusal("输入不合法 侧边栏配置无效"), "{bad}");
    }
    assert_eq!(app.get_self(&s).await["data"]["sidebar_modules"], sidebar);

    // A notification-settings update keeps the sidebar (New API dropped it,
    // docs/newapi-behaviour.md §11.7).
    let reply = app
        .call(
            &s,
            Method::PUT,
            "/api/user/setting",
            Some(json!({"notify_type": "email", "quota_warning_threshold": 100000.0})),
        )
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    assert_eq!(app.get_self(&s).await["data"]["sidebar_modules"], sidebar);
}

// --- DELETE /api/user/self --------------------------------------------------------------

#[tokio::test]
async fn root_cannot_delete_itself() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let reply = app
        .call(&root, Method::DELETE, "/api/user/self", Some(json!({})))
        .await;
    reply.refused_with("不能删除超级管理员账户");
    assert_eq!(app.get_self(&root).await["success"], true);
}

#[tokio::test]
async fn deleting_oneself_revokes_sessions_and_token_at_once_and_keeps_history() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_new_user = 1000).await;
    let s = app.user("alice").await;
    let other = app.login("alice", PASSWORD).await;
    let token = app.access_token(&s).await;

    let res = app.call(&s, Method::DELETE, "/api/user/self", None).await;
    let cookie = crate::helpers::session_set_cookie(&res.headers).unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(res["success"], true);

    for session in [&s, &other] {
        assert_eq!(app.get_self(session).await.status, 401);
    }
    app.by_token(&token, s.id, Method::GET, "/api/user/self", None)
        .await
        .refused_with("无权进行此操作，access token 无效");
    assert_eq!(
        app.login_response("alice", PASSWORD).await["success"],
        false
    );
    app.register("alice", PASSWORD)
        .await
        .refused_with("用户名已存在，或已注销");
    // The ledger keeps the account's history.
    let rows = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM ledger WHERE user_id = {}",
            s.id
        ))
        .await;
    assert_eq!(rows[0][0], 1);
}

// --- groups and models ------------------------------------------------------------------

fn groups_config() -> GroupSettings {
    GroupSettings {
        ratios: [
            ("default".into(), 1.0),
            ("vip".into(), 0.8),
            ("svip".into(), 0.5),
        ]
        .into(),
        usable: [
            ("default".into(), "默认分组".into()),
            ("vip".into(), "vip分组".into()),
            ("auto".into(), "自动选择".into()),
        ]
        .into(),
        group_group_ratio: [("vip".into(), [("default".into(), 0.9)].into())].into(),
        special_usable: [("vip".into(), [("+:svip".into(), "VIP 专享".into())].into())].into(),
        models: [
            ("default".into(), vec!["gpt-4o-mini".into()]),
            ("vip".into(), vec!["gpt-4o".into(), "gpt-4o-mini".into()]),
            ("svip".into(), vec!["o1".into()]),
        ]
        .into(),
        ..GroupSettings::default()
    }
}

#[tokio::test]
async fn public_groups_show_ratios_descriptions_and_the_auto_group() {
    let app = TestApp::spawn_with(|s| s.groups = groups_config()).await;
    let body = send(
        app.client
            .get(app.url("/api/user/groups"))
            .header("New-API-User", "-1"),
    )
    .await;
    assert_eq!(
        body["data"],
        json!({
            "auto": {"ratio": "自动", "desc": "自动选择"},
            "default": {"ratio": 1.0, "desc": "默认分组"},
            "vip": {"ratio": 0.8, "desc": "vip分组"},
        })
    );
}

#[tokio::test]
async fn a_vip_user_sees_its_overrides_extra_groups_and_their_models() {
    let app = TestApp::spawn_with(|s| s.groups = groups_config()).await;
    let s = app.user("vera").await;
    app.exec("UPDATE users SET user_group = 'vip' WHERE username = 'vera'")
        .await;
    let groups = app
        .call(&s, Method::GET, "/api/user/self/groups", Some(json!({})))
        .await;
    assert_eq!(
        groups["data"]["default"]["ratio"], 0.9,
        "group-group override"
    );
    assert_eq!(
        groups["data"]["svip"],
        json!({"ratio": 0.5, "desc": "VIP 专享"})
    );
    // The public route adapts to a logged-in caller too (New API ignored the session).
    let public = send(app.as_user(Method::GET, "/api/user/groups", &s)).await;
    assert_eq!(public["data"], groups["data"]);

    let models = app
        .call(&s, Method::GET, "/api/user/models", Some(json!({})))
        .await;
    assert_eq!(models["data"], json!(["gpt-4o", "gpt-4o-mini", "o1"]));
    let plain = app.user("paul").await;
    let models = app
        .call(&plain, Method::GET, "/api/user/models", Some(json!({})))
        .await;
    assert_eq!(models["data"], json!(["gpt-4o", "gpt-4o-mini"]));
}

// --- invitations ------------------------------------------------------------------------

async fn aff_code(app: &TestApp, s: &Session) -> String {
    let reply = app
        .call(s, Method::GET, "/api/user/aff", Some(json!({})))
        .await;
    reply["data"].as_str().unwrap().to_owned()
}

async fn register_with(app: &TestApp, username: &str, aff_code: Value) -> Reply {
    let body = json!({"username": username, "password": PASSWORD, "aff_code": aff_code});
    app.anonymous(Method::POST, "/api/user/register", Some(body))
        .await
}

#[tokio::test]
async fn the_aff_code_is_stable_and_created_on_first_request_when_missing() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let code = aff_code(&app, &s).await;
    assert_eq!(code.len(), 8);
    assert_eq!(app.get_self(&s).await["data"]["aff_code"], code);
    app.exec("UPDATE users SET aff_code = NULL WHERE username = 'alice'")
        .await;
    let fresh = aff_code(&app, &s).await;
    assert_eq!(fresh.len(), 8);
    assert_eq!(aff_code(&app, &s).await, fresh, "created once");
}

#[tokio::test]
async fn an_invitation_rewards_both_sides_through_the_ledger_and_counts_the_invitee() {
    let app = TestApp::spawn_with(|s| {
        s.registration.quota_for_inviter = 300_000;
        s.registration.quota_for_invitee = 100_000;
    })
    .await;
    let inviter = app.user("inviter").await;
    let code = aff_code(&app, &inviter).await;
    assert_eq!(
        register_with(&app, "invitee", json!(code)).await["success"],
        true
    );
    let invitee = app.login("invitee", PASSWORD).await;

    let me = app.get_self(&invitee).await["data"].clone();
    assert_eq!(
        (me["quota"].as_i64(), me["inviter_id"].as_i64()),
        (Some(100_000), Some(inviter.id))
    );
    let them = app.get_self(&inviter).await["data"].clone();
    assert_eq!(
        (
            them["aff_count"].as_i64(),
            them["aff_quota"].as_i64(),
            them["aff_history_quota"].as_i64()
        ),
        (Some(1), Some(300_000), Some(300_000))
    );
    assert_eq!(
        them["quota"], 0,
        "the inviter's reward lands in aff_quota, not quota"
    );
    // Unknown and null codes register without an inviter.
    for (name, code) in [("stranger", json!("NOPE1234")), ("nulled", Value::Null)] {
        assert_eq!(register_with(&app, name, code).await["success"], true);
    }
    let uninvited = app
        .query_i64("SELECT COUNT(*) FROM users WHERE inviter_id IS NULL AND username IN ('stranger', 'nulled')")
        .await;
    assert_eq!(uninvited[0][0], 2);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn an_invitation_without_rewards_still_counts() {
    let app = TestApp::spawn().await;
    let inviter = app.user("inviter").await;
    let code = aff_code(&app, &inviter).await;
    register_with(&app, "invitee", json!(code)).await;
    let them = app.get_self(&inviter).await["data"].clone();
    assert_eq!(
        (them["aff_count"].as_i64(), them["aff_quota"].as_i64()),
        (Some(1), Some(0))
    );
}

// --- aff transfer -----------------------------------------------------------------------

/// An inviter with `invitees * 500_000` of invitation rewards.
async fn rewarded_inviter(app: &TestApp, invitees: usize) -> Session {
    let inviter = app.user("inviter").await;
    let code = aff_code(app, &inviter).await;
    for i in 0..invitees {
        assert_eq!(
            register_with(app, &format!("invitee{i}"), json!(code)).await["success"],
            true
        );
    }
    inviter
}

async fn balances(app: &TestApp, s: &Session) -> (i64, i64) {
    let d = app.get_self(s).await["data"].clone();
    (
        d["quota"].as_i64().unwrap(),
        d["aff_quota"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn transfers_below_the_minimum_malformed_or_beyond_the_balance_move_nothing() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_inviter = 500_000).await;
    let inviter = rewarded_inviter(&app, 2).await;
    assert_eq!(balances(&app, &inviter).await, (0, 1_000_000));
    let minimum = refusal("划转失败 转移额度最小为＄1.000000 额度！");
    let cases = [
        (json!(0), minimum.clone()),
        (json!(-500_000), minimum.clone()),
        (json!(499_999), minimum.clone()),
        (json!(i64::MIN), minimum.clone()),
        (json!(1_000_001), refusal("划转失败 邀请额度不足！")),
        (json!(i64::MAX), refusal("划转失败 邀请额度不足！")),
        (json!("500000"), refusal("无效的参数")),
        (json!(500_000.5), refusal("无效的参数")),
        (json!(1e30), refusal("无效的参数")),
        (Value::Null, refusal("无效的参数")),
    ];
    for (quota, expected) in cases {
        let reply = app
            .call(
                &inviter,
                Method::POST,
                "/api/user/aff_transfer",
                Some(json!({"quota": quota})),
            )
            .await;
        assert_eq!(reply, expected, "{quota}");
    }
    assert_eq!(balances(&app, &inviter).await, (0, 1_000_000));

    let reply = app
        .call(
            &inviter,
            Method::POST,
            "/api/user/aff_transfer",
            Some(json!({"quota": 600_000})),
        )
        .await;
    assert_eq!(reply["message"], "划转成功", "{reply}");
    assert_eq!(balances(&app, &inviter).await, (600_000, 400_000));
    app.assert_ledger_balanced().await;
    let en = send(
        app.as_user(Method::POST, "/api/user/aff_transfer", &inviter)
            .header("Accept-Language", "en")
            .json(&json!({"quota": 1})),
    )
    .await;
    assert_eq!(
        en["message"],
        "Transfer failed: minimum transfer quota is $1.000000 quota!"
    );
}

#[tokio::test]
async fn a_transfer_that_would_overflow_the_quota_is_refused_whole() {
    let app = TestApp::spawn_with(|s| s.registration.quota_for_inviter = 500_000).await;
    let inviter = rewarded_inviter(&app, 1).await;
    app.exec(&format!(
        "UPDATE users SET quota = {} WHERE id = {}",
        i64::MAX - 10,
        inviter.id
    ))
    .await;
    let reply = app
        .call(
            &inviter,
            Method::POST,
            "/api/user/aff_transfer",
            Some(json!({"quota": 500_000})),
        )
        .await;
    reply.refused_with("划转失败 额度超出上限");
    assert_eq!(balances(&app, &inviter).await, (i64::MAX - 10, 500_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transfers_of_the_whole_balance_move_it_exactly_once() {
    let app = Arc::new(TestApp::spawn_with(|s| s.registration.quota_for_inviter = 500_000).await);
    let inviter = rewarded_inviter(&app, 2).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, s, barrier) = (app.clone(), inviter.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            app.call(
                &s,
                Method::POST,
                "/api/user/aff_transfer",
                Some(json!({"quota": 1_000_000})),
            )
            .await
        });
    }
    let replies = tasks.join_all().await;
    let wins = replies.iter().filter(|r| r["success"] == true).count();
    assert_eq!(wins, 1, "{replies:?}");
    for r in replies.iter().filter(|r| r["success"] != true) {
        assert_eq!(r["message"], "划转失败 邀请额度不足！", "{r}");
    }
    let (quota, aff) = balances(&app, &inviter).await;
    assert_eq!((quota, aff), (1_000_000, 0));
    assert_eq!(quota + aff, 1_000_000, "quota + aff_quota is conserved");
    app.assert_ledger_balanced().await;
}

// --- PUT /api/user/setting --------------------------------------------------------------

#[tokio::test]
async fn notification_settings_are_validated_in_new_apis_order() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let cases = [
        (
            json!({"notify_type": "sms", "quota_warning_threshold": 1.0}),
            "无效的预警类型",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": 0}),
            "预警阈值必须大于0",
        ),
        (
            json!({"notify_type": "webhook", "quota_warning_threshold": 1.0}),
            "Webhook地址不能为空",
        ),
        (
            json!({"notify_type": "webhook", "quota_warning_threshold": 1.0, "webhook_url": "not a url"}),
            "无效的Webhook地址",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": 1.0, "notification_email": "nope"}),
            "无效的邮箱地址",
        ),
        (
            json!({"notify_type": "bark", "quota_warning_threshold": 1.0}),
            "Bark推送URL不能为空",
        ),
        (
            json!({"notify_type": "bark", "quota_warning_threshold": 1.0, "bark_url": "ftp://x.org/"}),
            "Bark推送URL必须以http://或https://开头",
        ),
        (
            json!({"notify_type": "gotify", "quota_warning_threshold": 1.0, "gotify_url": "https://93.184.215.14"}),
            "Gotify令牌不能为空",
        ),
    ];
    let before = app.get_self(&s).await["data"]["setting"].clone();
    for (body, message) in cases {
        let reply = app
            .call(&s, Method::PUT, "/api/user/setting", Some(body.clone()))
            .await;
        assert_eq!(reply, refusal(message), "{body}");
    }
    assert_eq!(
        app.get_self(&s).await["data"]["setting"],
        before,
        "refusals change nothing"
    );
}

#[tokio::test]
async fn urls_into_private_networks_are_refused_on_save() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let forbidden = "地址不能指向内网、本机或云元数据服务，且必须可以解析";
    for url in [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/",
        "http://[::1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://[::ffff:127.0.0.1]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "https://hooks.example.invalid/unresolvable",
    ] {
        let body =
            json!({"notify_type": "webhook", "quota_warning_threshold": 1.0, "webhook_url": url});
        let reply = app
            .call(&s, Method::PUT, "/api/user/setting", Some(body))
            .await;
        assert_eq!(reply, refusal(forbidden), "{url}");
    }
    let gotify = json!({"notify_type": "gotify", "quota_warning_threshold": 1.0,
                        "gotify_url": "http://172.16.0.1", "gotify_token": "t"});
    app.call(&s, Method::PUT, "/api/user/setting", Some(gotify))
        .await
        .refused_with(forbidden);
}

#[tokio::test]
async fn a_public_webhook_is_saved_and_its_secret_kept_when_omitted() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let first = json!({"notify_type": "webhook", "quota_warning_threshold": 250000.0,
                       "webhook_url": "https://93.184.215.14/hook", "webhook_secret": "s3cret",
                       "record_ip_log": true});
    let reply = app
        .call(&s, Method::PUT, "/api/user/setting", Some(first))
        .await;
    assert_eq!(reply, json!({"success": true, "message": "设置已更新"}));
    let again = json!({"notify_type": "webhook", "quota_warning_threshold": 100.0,
                       "webhook_url": "https://93.184.215.14/other"});
    assert_eq!(
        app.call(&s, Method::PUT, "/api/user/setting", Some(again))
            .await["success"],
        true
    );
    let setting: Value =
        serde_json::from_str(app.get_self(&s).await["data"]["setting"].as_str().unwrap()).unwrap();
    assert_eq!(setting["webhook_url"], "https://93.184.215.14/other");
    assert_eq!(
        setting["webhook_secret"], "s3cret",
        "kept when omitted (docs/newapi-behaviour.md §11.7)"
    );
    assert_eq!(setting["notify_type"], "webhook");
    assert!(
        setting.get("sidebar_modules").is_some(),
        "the sidebar survives"
    );
}

// --- issue 7.13: self-deletion and token rotation are audited -------------------------

/// The root's view of the audit entries with `action` about user `target`.
async fn audit_entries(app: &TestApp, action: &str, target: i64) -> Vec<Value> {
    let token = app
        .rest_token(crate::helpers::ROOT_USERNAME, crate::helpers::ROOT_PASSWORD)
        .await;
    let reply = app
        .audit_log(&token, &format!("action={action}&target={target}"))
        .await;
    assert_eq!(reply.status, 200, "{action}");
    reply["data"]["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn deleting_oneself_is_audited_with_the_deletion() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let reply = app
        .call(&s, Method::DELETE, "/api/user/self", Some(json!({})))
        .await;
    assert_eq!(reply["success"], true, "{reply}");
    let entries = audit_entries(&app, "user.self_deleted", s.id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (&entries[0]["actor_id"], &entries[0]["target_id"]),
        (&json!(s.id), &json!(s.id))
    );
    // The record and the deletion are one: the user is deleted, its sessions revoked.
    let deleted = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND deleted_at IS NOT NULL",
            s.id
        ))
        .await;
    assert_eq!(deleted[0][0], 1);
    let live = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = {} AND revoked_at IS NULL",
            s.id
        ))
        .await;
    assert_eq!(live[0][0], 0);
}

#[tokio::test]
async fn rotating_the_access_token_is_audited_without_the_token() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let reply = send(app.as_user(Method::GET, "/api/user/token", &s)).await;
        tokens.push(reply["data"].as_str().unwrap().to_owned());
    }
    let entries = audit_entries(&app, "access_token.rotated", s.id).await;
    assert_eq!(entries.len(), 2, "one record per rotation: {entries:?}");
    for e in &entries {
        assert_eq!(
            (&e["actor_id"], &e["target_id"]),
            (&json!(s.id), &json!(s.id))
        );
        assert!(e["ip"].is_string(), "{e}");
        let shown = e.to_string();
        for t in &tokens {
            assert!(!shown.contains(t.as_str()), "the token leaked into {shown}");
        }
    }
}

// Issue 7.5: what is stored is the one spelling every parser reads the same way.

const AMBIGUOUS_URL: &str =
    "地址不能包含用户信息（@）、反斜杠、空白、控制字符，主机部分不能使用百分号编码";

#[tokio::test]
async fn urls_that_parsers_read_differently_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let before = app.get_self(&s).await["data"]["setting"].clone();
    for url in [
        // WHATWG reads host 1.1.1.1; curl and urllib read 127.0.0.1.
        "http://1.1.1.1\\@127.0.0.1:6379/",
        "http://1.1.1.1#@127.0.0.1:6379/",
        "http://1.1.1.1?@127.0.0.1:6379/",
        "http://1.1.1.1&@127.0.0.1:6379/",
        // Userinfo of any kind, even empty.
        "http://@1.1.1.1/",
        "http://:@1.1.1.1/",
        "http://user@1.1.1.1/",
        "http://user:pass@1.1.1.1/",
        // Characters the WHATWG parser strips or rewrites silently.
        "http://1.1.1.1\t@127.0.0.1/",
        "http://1.1.1.1\n/hook",
        " http://1.1.1.1/hook",
        "http://1.1.1.1/hook\r",
        "http:\\\\1.1.1.1\\hook",
        "http://1.1.1.1\\hook",
        "http:1.1.1.1/hook",
        "http:/1.1.1.1/hook",
        // Percent-encoding in the host.
        "http://1.1.1.%31/hook",
        "http://%31.1.1.1/hook",
    ] {
        for body in [
            json!({"notify_type": "webhook", "quota_warning_threshold": 1.0, "webhook_url": url}),
            json!({"notify_type": "bark", "quota_warning_threshold": 1.0, "bark_url": url}),
            json!({"notify_type": "gotify", "quota_warning_threshold": 1.0, "gotify_url": url,
                   "gotify_token": "t"}),
        ] {
            let reply = app
                .call(&s, Method::PUT, "/api/user/setting", Some(body.clone()))
                .await;
            // Control characters (tab, line breaks) are refused earlier, at the edge, as
            // invalid input (issue 7.9); either way nothing is stored.
            let expected = if url.chars().any(char::is_control) {
                refusal("无效的参数")
            } else {
                refusal(AMBIGUOUS_URL)
            };
            assert_eq!(reply, expected, "{body}");
        }
    }
    assert_eq!(app.get_self(&s).await["data"]["setting"], before);
}

#[tokio::test]
async fn accepted_urls_are_stored_in_their_normalised_form() {
    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let stored = async |body: Value, key: &str| -> Value {
        let reply = app
            .call(&s, Method::PUT, "/api/user/setting", Some(body.clone()))
            .await;
        assert_eq!(reply["success"], true, "{body}: {reply}");
        let setting: Value =
            serde_json::from_str(app.get_self(&s).await["data"]["setting"].as_str().unwrap())
                .unwrap();
        setting[key].clone()
    };
    for (sent, normalised) in [
        ("HTTP://1.1.1.1:80/hook", "http://1.1.1.1/hook"),
        ("http://16843009/hook", "http://1.1.1.1/hook"),
        ("http://0x1.0x1.0x1.0x1/hook", "http://1.1.1.1/hook"),
        ("http://1.1.1.1", "http://1.1.1.1/"),
        ("https://1.1.1.1/a/../b/./c", "https://1.1.1.1/b/c"),
        (
            "http://[2606:4700:4700:0:0:0:0:1111]:443/x",
            "http://[2606:4700:4700::1111]:443/x",
        ),
        (
            "https://1.1.1.1/x?to=a@b.example#frag",
            "https://1.1.1.1/x?to=a@b.example#frag",
        ),
    ] {
        let body = json!({"notify_type": "webhook", "quota_warning_threshold": 1.0,
                          "webhook_url": sent});
        assert_eq!(stored(body, "webhook_url").await, normalised, "{sent}");
    }
    let bark = json!({"notify_type": "bark", "quota_warning_threshold": 1.0,
                      "bark_url": "HTTPS://1.1.1.1:443/KEY/{{title}}/{{content}}?group={{title}}"});
    assert_eq!(
        stored(bark, "bark_url").await,
        "https://1.1.1.1/KEY/{{title}}/{{content}}?group={{title}}",
        "Bark's placeholders stay readable"
    );
    let gotify = json!({"notify_type": "gotify", "quota_warning_threshold": 1.0,
                        "gotify_url": "https://1.1.1.1", "gotify_token": "t"});
    assert_eq!(stored(gotify, "gotify_url").await, "https://1.1.1.1/");
}
