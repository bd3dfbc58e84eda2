//! The API description (`/api/openapi.json`, Swagger UI at `/api/docs/`) and what
//! schemathesis found against it (each finding is a regression test here).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::send;
use crate::rest_helpers::{PROFILE, bearer};

#[tokio::test]
async fn the_document_describes_both_surfaces_and_the_operational_endpoints() {
    let app = TestApp::spawn().await;
    let reply = app.anonymous(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{reply}");
    let doc = &reply.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/user/login", "post"),
        ("/api/user/self", "get"),
        ("/api/user/{id}", "delete"),
        ("/api/redemption/", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/admin/users/{id}/status", "put"),
        ("/healthz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not described"
        );
    }
    // Request schemas state the domain's limits.
    let register = &doc["components"]["schemas"]["RegisterBody"]["properties"];
    assert_eq!(register["username"]["maxLength"], 20);
    assert_eq!(register["password"]["minLength"], 8);
    // Bearer auth on the REST surface, the cookie or access token on the compat one.
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "session", "access_token", "new_api_user"] {
        assert!(schemes.contains_key(scheme), "{scheme}: {schemes:?}");
    }
}

#[tokio::test]
async fn the_docs_ui_is_served_by_tollgate_itself() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/api/docs/");

    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // Offline: no script or stylesheet from another host.
    for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(external), "{external} in {html}");
    }
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/openapi.json"));
    let bundle = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

/// Compat paths answer with and without their trailing slash (gin redirects either way;
/// New API's console calls `/api/user/` and `/api/data/self/`).
#[tokio::test]
async fn compat_paths_answer_with_and_without_the_trailing_slash() {
    let app = TestApp::spawn().await;
    let s = app.user("slashes").await;
    for path in ["/api/user/self", "/api/user/self/"] {
        let data = app.call(&s, Method::GET, path, None).await.success();
        assert_eq!(data["username"], "slashes", "{path}");
    }
    for path in ["/api/status", "/api/status/"] {
        app.anonymous(Method::GET, path, None).await.success();
    }
    let root = app.root().await;
    for path in ["/api/user/", "/api/user", "/api/group/", "/api/group"] {
        app.call(&root, Method::GET, path, None).await.success();
    }
    // The REST surface is exact.
    let token = app.rest_token("slashes", PASSWORD).await;
    let res = send(bearer(&app, Method::GET, "/api/v1/users/profile/", &token)).await;
    assert_eq!(res.status, 404, "{res}");
}

/// Found by schemathesis: serde reads a struct from a JSON array, so `[null, null]` was a
/// successful (empty) profile update. Every body is an object now.
#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused_on_both_surfaces() {
    let app = TestApp::spawn().await;
    let s = app.user("arrays").await;
    let token = app.rest_token("arrays", PASSWORD).await;
    for body in [json!([null, null]), json!(["x"]), json!("text"), json!(7)] {
        let rest = send(bearer(&app, Method::PUT, PROFILE, &token).json(&body)).await;
        let error = rest.err(400, "请求参数错误");
        assert_eq!(error, "body: must be a JSON object", "{body}");
        let compat = app
            .call(&s, Method::PUT, "/api/user/setting", Some(body.clone()))
            .await;
        compat.refused_with("无效的参数");
    }
    // An object still works.
    let ok = send(bearer(&app, Method::PUT, PROFILE, &token).json(&json!({"phone": ""}))).await;
    ok.ok(200, "更新成功");
}

/// Found by schemathesis: a POST notification without a form content type was actix's 415.
/// A gateway gets Epay's own `fail` for anything that cannot verify.
#[tokio::test]
async fn an_epay_notification_that_is_not_a_form_answers_fail() {
    let app = TestApp::spawn().await;
    for req in [
        app.client.post(app.url("/api/user/epay/notify")),
        app.client
            .post(app.url("/api/user/epay/notify"))
            .header("Content-Type", "application/json")
            .body("{\"trade_no\":\"x\"}"),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "fail");
    }
}

/// Found by schemathesis: the description said `enabled_rate` was a number while the reply
/// (New API's format) is `"12.5%"`, and it left out the 404 a non-numeric id gets on the
/// compat surface. The description now says what the server does.
#[tokio::test]
async fn the_description_matches_the_replies_schemathesis_found_it_wrong_about() {
    let app = TestApp::spawn().await;
    let doc = app
        .anonymous(Method::GET, "/api/openapi.json", None)
        .await
        .body;
    let stats = &doc["components"]["schemas"]["TwoFactorStats"]["properties"]["enabled_rate"];
    assert_eq!(stats["type"], "string", "{stats}");
    let root = app.root().await;
    let token = app
        .rest_token(crate::helpers::ROOT_USERNAME, crate::helpers::ROOT_PASSWORD)
        .await;
    let reply = send(bearer(
        &app,
        Method::GET,
        "/api/v1/admin/users/2fa/stats",
        &token,
    ))
    .await;
    let data = reply.ok(200, "获取成功");
    assert!(
        data["enabled_rate"]
            .as_str()
            .is_some_and(|r| r.ends_with('%')),
        "{data}"
    );

    for (path, method) in [
        ("/api/user/{id}", "get"),
        ("/api/redemption/{id}", "delete"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        assert!(
            responses.get("404").is_some(),
            "{method} {path}: {responses}"
        );
    }
    let reply = app
        .call(&root, Method::GET, "/api/user/-9223372036854775809", None)
        .await;
    assert_eq!(reply.status, 404, "{reply}");
    assert_eq!(reply["success"], false);
}
