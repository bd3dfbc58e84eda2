use crate::helpers::TestApp;
use crate::reply::send;

#[tokio::test]
async fn healthz_and_readyz_answer_ok_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let res = send(app.client.get(app.url(path))).await;
        assert_eq!(res.status, 200, "{path}");
        let body: serde_json::Value = res.body;
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn readyz_names_the_key_value_store_and_checks_redis_when_configured() {
    let app = TestApp::spawn().await;
    let res = send(app.client.get(app.url("/readyz"))).await;
    let body: serde_json::Value = res.body;
    assert_eq!(body["kv"], "in-process");

    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("tollgate-test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(|s| {
        s.kv.redis_url = Some(secrecy::SecretString::from(url));
        s.kv.key_prefix = prefix;
    })
    .await;
    let res = send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(res.status, 200);
    let body: serde_json::Value = res.body;
    assert_eq!(body["kv"], "ok");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn unknown_api_paths_are_404_json_never_401() {
    let app = TestApp::spawn().await;
    for path in ["/api/nope", "/api/user/nope", "/api/no/such/path/"] {
        let res = send(app.client.get(app.url(path)).header("New-API-User", "-1")).await;
        assert_eq!(res.status, 404, "{path}");
        let body: serde_json::Value = res.body;
        assert_eq!(body["success"], false, "{path}");
    }
}

/// New API's console shows "本站仅作演示之用，无服务端！" on an empty 405: a known compat path with
/// the wrong method answers New API's 404 JSON instead, like an unknown path.
#[tokio::test]
async fn a_known_compat_path_with_the_wrong_method_answers_the_404_json() {
    let app = TestApp::spawn().await;
    let unknown = app
        .anonymous(reqwest::Method::GET, "/api/no-such-path", None)
        .await;
    assert_eq!(unknown.status, 404);
    for (method, path) in [
        (reqwest::Method::GET, "/api/user/login"),
        (reqwest::Method::DELETE, "/api/user/register"),
        (reqwest::Method::PUT, "/api/status"),
        (reqwest::Method::PATCH, "/api/option/"),
        (reqwest::Method::GET, "/api/user/2fa/setup"),
        (reqwest::Method::PUT, "/api/redemption/search"),
    ] {
        let reply = app.anonymous(method.clone(), path, None).await;
        assert_eq!(
            (reply.status, &reply.body),
            (unknown.status, &unknown.body),
            "{method} {path}"
        );
    }
}
