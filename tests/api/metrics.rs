//! Issue 11: `/metrics` in Prometheus text format (optionally behind a bearer token), and
//! `X-Request-Id` on every reply.
//!
//! The recorder is process-global and the tests run in parallel in this one process, so the
//! counters hold every test's traffic: the assertions are on increases and presence, never on
//! exact totals.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use tollgate_api::proxies::TrustedProxies;
use tollgate_tests::fakes::epay::{FakeEpay, epay_query_string};

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::send;

const TOKEN: &str = "scrape-token-for-tests";

/// `GET /metrics` with an optional `Authorization` header: status and body.
async fn scrape_with(app: &TestApp, authorization: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"))
}

/// The metrics text of an app without a token.
async fn scrape(app: &TestApp) -> String {
    let (status, text) = scrape_with(app, None).await;
    assert_eq!(status, 200, "{text}");
    text
}

/// The value of one series (`name{labels}` exactly as rendered), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(
        r#"tollgate_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#
    )
}

fn logins(surface: &str, step: &str, outcome: &str) -> String {
    format!(r#"tollgate_logins_total{{surface="{surface}",step="{step}",outcome="{outcome}"}}"#)
}

#[tokio::test]
async fn requests_are_counted_per_route_pattern_with_a_real_histogram() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    // As rendered: the text format escapes the pattern's backslash.
    let route = r"/api/user/{id:\\d+}";
    let series = requests("GET", route, 200);
    let before = value(&scrape(&app).await, &series);

    for _ in 0..2 {
        app.call(&root, Method::GET, &format!("/api/user/{}", root.id), None)
            .await
            .success();
    }

    let text = scrape(&app).await;
    assert!(value(&text, &series) >= before + 2.0, "{series}: {text}");
    assert!(
        !text.contains(&format!("route=\"/api/user/{}\"", root.id)),
        "a raw path became a label: {text}"
    );
    assert!(
        text.contains("# TYPE tollgate_http_request_duration_seconds histogram"),
        "{text}"
    );
    let buckets = format!(
        r#"tollgate_http_request_duration_seconds_bucket{{method="GET",route="{route}",status="200",le="+Inf"}}"#
    );
    assert!(value(&text, &buckets) >= 2.0, "{buckets}: {text}");
    assert!(
        text.contains(&format!(
            r#"tollgate_http_request_duration_seconds_bucket{{method="GET",route="{route}",status="200",le="0.005"}}"#
        )),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_path_is_counted_as_unmatched_never_by_its_path() {
    let app = TestApp::spawn().await;
    let path = format!("/no-such-page-{}", uuid::Uuid::new_v4().simple());
    let series = requests("GET", "unmatched", 404);
    let before = value(&scrape(&app).await, &series);

    let reply = app.anonymous(Method::GET, &path, None).await;
    assert_eq!(reply.status, 404, "{reply}");

    let text = scrape(&app).await;
    assert!(value(&text, &series) > before, "{series}: {text}");
    assert!(!text.contains(&path), "{text}");
}

#[tokio::test]
async fn failed_and_successful_logins_move_their_counters() {
    let app = TestApp::spawn().await;
    app.register("metrics-mia", PASSWORD).await.success();
    let failure = logins("compat", "password", "failure");
    let success = logins("compat", "password", "success");
    let rest_failure = logins("rest", "password", "failure");
    let text = scrape(&app).await;
    let before = [&failure, &success, &rest_failure].map(|s| value(&text, s));

    app.login_response("metrics-mia", "wrong-password")
        .await
        .refused_with("用户名或密码错误，或用户已被封禁");
    app.login("metrics-mia", PASSWORD).await;
    app.rest_login("metrics-mia", "wrong-password")
        .await
        .err(401, "认证失败");

    let text = scrape(&app).await;
    let after = [&failure, &success, &rest_failure].map(|s| value(&text, s));
    for ((series, before), after) in [&failure, &success, &rest_failure]
        .iter()
        .zip(before)
        .zip(after)
    {
        assert!(after > before, "{series}: {before} -> {after}");
    }
}

#[tokio::test]
async fn ledger_entries_callbacks_and_the_pool_are_reported() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let alice = app.user("metrics-alice").await;
    let entries =
        r#"tollgate_ledger_entries_total{kind="redemption",account="quota",direction="credit"}"#;
    let units =
        r#"tollgate_ledger_units_total{kind="redemption",account="quota",direction="credit"}"#;
    let callbacks = r#"tollgate_payment_callbacks_total{provider="epay",outcome="not_configured"}"#;
    let text = scrape(&app).await;
    let before = [entries, units, callbacks].map(|s| value(&text, s));

    let key = app.code(&root, 1234).await;
    app.redeem(&alice, &key).await.success();
    // Epay is not configured here: the gateway is told `fail`.
    let res = app
        .client
        .get(app.url("/api/user/epay/notify?out_trade_no=T1"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.text().await.expect("body"), "fail");

    let text = scrape(&app).await;
    let after = [entries, units, callbacks].map(|s| value(&text, s));
    assert!(after[0] > before[0], "{entries}: {text}");
    assert!(after[1] >= before[1] + 1234.0, "{units}: {text}");
    assert!(after[2] > before[2], "{callbacks}: {text}");
    for gauge in [
        r#"tollgate_db_pool_connections{state="idle"}"#,
        r#"tollgate_db_pool_connections{state="in_use"}"#,
        "tollgate_db_pool_max_connections",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{gauge} "))),
            "{gauge}: {text}"
        );
    }
    assert!(text.contains("# HELP tollgate_logins_total"), "{text}");
}

#[tokio::test]
async fn a_settled_epay_order_moves_the_payment_counters() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let gateway = FakeEpay::start("1001", "epay-merchant-key").await;
    for (key, value) in [
        ("PayAddress", gateway.address()),
        ("EpayId", "1001"),
        ("EpayKey", "epay-merchant-key"),
        ("ServerAddress", "https://gw.example.com"),
    ] {
        app.set_option(&root, key, json!(value)).await.success();
    }
    let alice = app.user("metrics-payer").await;
    let body = json!({"amount": 10, "payment_method": "alipay", "top_up_code": ""});
    let order = app
        .call(&alice, Method::POST, "/api/user/pay", Some(body))
        .await
        .body;
    let trade_no = order["data"]["out_trade_no"].as_str().expect("trade no");
    gateway.mark_paid(trade_no, "73.00", "alipay");
    let notify_url = format!(
        "{}?{}",
        app.url("/api/user/epay/notify"),
        epay_query_string(&gateway.notify_params(trade_no, "TUC10"))
    );
    let series = [
        r#"tollgate_payment_callbacks_total{provider="epay",outcome="credited"}"#,
        r#"tollgate_payment_callbacks_total{provider="epay",outcome="duplicate"}"#,
        r#"tollgate_topup_settlements_total{provider="epay",via="notification",outcome="credited"}"#,
        r#"tollgate_topup_settlements_total{provider="epay",via="notification",outcome="already_settled"}"#,
        r#"tollgate_ledger_entries_total{kind="topup",account="quota",direction="credit"}"#,
    ];
    let text = scrape(&app).await;
    let before = series.map(|s| value(&text, s));

    // The notification, then the gateway's retry of it.
    for _ in 0..2 {
        let answer = app.client.get(&notify_url).send().await.expect("notify");
        assert_eq!(answer.text().await.expect("body"), "success");
    }

    let text = scrape(&app).await;
    for (series, before) in series.iter().zip(before) {
        assert!(value(&text, series) > before, "{series}: {text}");
    }
}

#[tokio::test]
async fn a_configured_bearer_token_is_required() {
    let app = TestApp::spawn_with(|s| {
        s.metrics.bearer_token = Some(SecretString::from(TOKEN));
    })
    .await;

    for authorization in [
        None,
        Some("Bearer wrong-token"),
        Some(&*format!("Bearer {TOKEN}x")),
        Some(&*format!("Basic {TOKEN}")),
    ] {
        let (status, body) = scrape_with(&app, authorization).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert!(!body.contains("tollgate_"), "{body}");
    }
    let (status, text) = scrape_with(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("tollgate_http_requests_total"), "{text}");
}

#[tokio::test]
async fn the_api_description_documents_the_endpoint_and_its_token() {
    let app = TestApp::spawn().await;
    let doc = app
        .anonymous(Method::GET, "/api/openapi.json", None)
        .await
        .body;
    let op = &doc["paths"]["/metrics"]["get"];
    for status in ["200", "401", "404"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
    assert_eq!(op["security"], json!([{}, {"metrics_token": []}]), "{op}");
    assert_eq!(
        doc["components"]["securitySchemes"]["metrics_token"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.metrics.enabled = false).await;
    let (status, body) = scrape_with(&app, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("tollgate_"), "{body}");
}

/// The reply's `X-Request-Id` for a request that carries `incoming`.
async fn request_id(app: &TestApp, path: &str, incoming: Option<&str>) -> String {
    let mut req = app.client.get(app.url(path));
    if let Some(id) = incoming {
        req = req.header("X-Request-Id", id);
    }
    let reply = send(req).await;
    reply
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {path}: {reply}"))
        .to_owned()
}

fn is_uuid_v4(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4)
}

#[tokio::test]
async fn every_reply_carries_its_own_request_id_and_a_clients_is_replaced() {
    let app = TestApp::spawn().await;
    let mut seen = std::collections::HashSet::new();
    // Success, refusal, unknown path, operational route: each its own id.
    for path in [
        "/api/status",
        "/api/user/self",
        "/no-such-page",
        "/healthz",
        "/metrics",
    ] {
        for _ in 0..2 {
            let id = request_id(&app, path, None).await;
            assert!(is_uuid_v4(&id), "{path}: {id}");
            assert!(seen.insert(id), "{path}: an id was repeated");
        }
    }
    // The test client is not a trusted proxy here: its id is not believed.
    let id = request_id(&app, "/api/status", Some("client-chosen-id")).await;
    assert!(is_uuid_v4(&id), "{id}");
}

#[tokio::test]
async fn a_trusted_proxys_id_is_kept_when_valid() {
    let app = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    })
    .await;

    assert_eq!(
        request_id(&app, "/api/status", Some("edge-7f3a.b_c")).await,
        "edge-7f3a.b_c"
    );
    let too_long = "a".repeat(65);
    for invalid in ["has space", "semi;colon", too_long.as_str()] {
        let id = request_id(&app, "/api/status", Some(invalid)).await;
        assert!(is_uuid_v4(&id), "{invalid:?} -> {id}");
    }
}
