use serde_json::Value;
use tollgate_db::testing::ScratchDb;

use crate::helpers::TestApp;
use crate::reply::send;

async fn status(app: &TestApp) -> Value {
    let res = send(
        app.client
            .get(app.url("/api/status"))
            // The logged-out console sends -1; public routes must ignore it.
            .header("New-API-User", "-1"),
    )
    .await;
    assert_eq!(res.status, 200);
    res.body
}

#[tokio::test]
async fn status_reports_the_fields_the_console_boots_with() {
    let app = TestApp::spawn_with(|s| {
        s.system_name = "My Gateway".into();
        s.quota.per_unit = 1000;
        s.registration.password_register_enabled = false;
    })
    .await;
    let body = status(&app).await;
    assert_eq!(body["success"], true);
    let d = &body["data"];
    assert_eq!(d["setup"], true);
    assert_eq!(d["system_name"], "My Gateway");
    assert_eq!(d["quota_per_unit"], 1000);
    assert_eq!(d["chats"], serde_json::json!([]));
    assert_eq!(d["pay_methods"], serde_json::json!([]));
    assert_eq!(d["register_enabled"], true);
    assert_eq!(d["password_register_enabled"], false);
    assert_eq!(d["github_oauth"], false);
    assert!(d["start_time"].as_i64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn a_fresh_installation_without_root_credentials_gets_a_generated_root() {
    // No root_username/password: the bootstrap creates `root` with a random password.
    let app = TestApp::spawn_on(ScratchDb::sqlite().unwrap(), |s| {
        s.root_username = None;
        s.root_password = None;
    })
    .await;
    assert_eq!(status(&app).await["data"]["setup"], true);
    let roots = app
        .query_i64("SELECT COUNT(*) FROM users WHERE role = 100 AND username = 'root'")
        .await;
    assert_eq!(roots[0][0], 1);
    // The well-known default password of older gateways does not work.
    assert_eq!(app.login_response("root", "123456").await["success"], false);
}
