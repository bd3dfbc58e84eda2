//! First-run setup from the console (spec §7.10): with `bootstrap_root = false` the server
//! starts without a root, `/api/status` says `setup: false`, and `POST /api/setup` creates the
//! root exactly once, even when several setups arrive at the same moment.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_db::testing::Backend;

use crate::helpers::TestApp;
use crate::reply::{Reply, send};

const PASSWORD: &str = "first-root-password";

/// A server whose database has no root yet.
async fn unset() -> TestApp {
    TestApp::spawn_with(|s| {
        s.bootstrap_root = false;
        s.root_username = None;
        s.root_password = None;
    })
    .await
}

/// `POST /api/setup` as the logged-out console sends it.
async fn setup(app: &TestApp, body: Value) -> Reply {
    send(
        app.client
            .post(app.url("/api/setup"))
            .header("New-API-User", "-1")
            .json(&body),
    )
    .await
}

fn form(username: &str, password: &str, confirm: &str) -> Value {
    json!({
        "username": username,
        "password": password,
        "confirmPassword": confirm,
        "SelfUseModeEnabled": false,
        "DemoSiteEnabled": false,
    })
}

async fn roots(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM users WHERE role = 100")
        .await[0][0]
}

fn database_type(app: &TestApp) -> &'static str {
    match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
    }
}

#[tokio::test]
async fn an_installation_without_root_asks_for_setup_and_creates_root_once() {
    let app = unset().await;
    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    assert_eq!(status["setup"], false);
    assert_eq!(
        app.anonymous(Method::GET, "/api/setup", None).await.body,
        json!({"success": true, "message": "",
               "data": {"status": false, "root_init": false, "database_type": database_type(&app)}})
    );

    // New API's rules, checked before anything is stored.
    setup(&app, form("a-very-long-name", PASSWORD, PASSWORD))
        .await
        .refused_with("用户名长度不能超过12个字符");
    setup(&app, form("admin", PASSWORD, "another-password"))
        .await
        .refused_with("两次输入的密码不一致");
    setup(&app, form("admin", "short", "short"))
        .await
        .refused_with("输入不合法 密码长度必须为8-128个字符");
    assert_eq!(roots(&app).await, 0);

    // The modes New API offers are accepted and ignored (Tollgate has neither).
    let mut body = form("admin", PASSWORD, PASSWORD);
    body["SelfUseModeEnabled"] = json!(true);
    body["DemoSiteEnabled"] = json!(true);
    let reply = setup(&app, body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"success": true, "message": "系统初始化成功"})
    );

    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    assert_eq!(status["setup"], true);
    assert_eq!(status["self_use_mode_enabled"], false);
    assert_eq!(status["demo_site_enabled"], false);
    let setup_state = app
        .anonymous(Method::GET, "/api/setup", None)
        .await
        .success();
    assert_eq!(
        (&setup_state["status"], &setup_state["root_init"]),
        (&json!(true), &json!(true))
    );

    // The new root logs in, is root, and starts with New API's quota through the ledger.
    let root = app.login("admin", PASSWORD).await;
    let me = app.get_self(&root).await.success();
    assert_eq!(
        (&me["role"], &me["quota"]),
        (&json!(100), &json!(100_000_000))
    );
    app.assert_ledger_balanced().await;
    // Audited as a creation without an actor, from the setup form.
    let audited = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE action = 'user.created' AND actor_id IS NULL \
             AND target_id = {}",
            root.id
        ))
        .await;
    assert_eq!(audited, [[1]]);

    // Once: a second setup, with any name, is refused and creates nothing.
    setup(&app, form("other", PASSWORD, PASSWORD))
        .await
        .refused_with("系统已经初始化完成");
    assert_eq!(roots(&app).await, 1);
}

#[tokio::test]
async fn simultaneous_setups_create_exactly_one_root() {
    let app = unset().await;
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/api/setup");
            let body = form(&format!("root{i}"), PASSWORD, PASSWORD);
            tokio::spawn(async move { send(client.post(url).json(&body)).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        let reply = attempt.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        if reply.body["success"] == true {
            created += 1;
        } else {
            reply.refused_with("系统已经初始化完成");
        }
    }
    assert_eq!(created, 1);
    assert_eq!(roots(&app).await, 1);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_bootstrapped_installation_never_offers_setup() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.anonymous(Method::GET, "/api/setup", None)
            .await
            .success()["status"],
        true
    );
    setup(&app, form("intruder", PASSWORD, PASSWORD))
        .await
        .refused_with("系统已经初始化完成");
    assert!(app.login_response("intruder", PASSWORD).await["success"] == false);
    assert_eq!(roots(&app).await, 1);
}

#[tokio::test]
async fn a_name_registered_before_setup_cannot_become_root() {
    let app = unset().await;
    app.register("early", "early-password").await.success();
    setup(&app, form("early", PASSWORD, PASSWORD))
        .await
        .refused_with("用户名已存在，或已注销");
    assert_eq!(roots(&app).await, 0);
    // Another name works, and the early user stays a common user.
    setup(&app, form("boss", PASSWORD, PASSWORD))
        .await
        .success();
    let early = app
        .query_i64("SELECT role FROM users WHERE username = 'early'")
        .await;
    assert_eq!(early, [[1]]);
}
