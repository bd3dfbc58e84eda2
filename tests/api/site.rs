//! The site options (issue 11): root edits them through `PUT /api/option/`, and the console
//! reads them from `/api/status`, `/api/notice`, `/api/about` and `/api/home_page_content`.
//! `QuotaPerUnit` changes what `/api/status` shows and what a top-up costs together. Data of
//! modules Tollgate does not have yet is honestly empty, and never a 401.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};
use crate::reply::{Reply, send};

/// A public request as the logged-out console sends it (`New-API-User: -1`).
async fn public(app: &TestApp, path: &str) -> Reply {
    send(
        app.client
            .get(app.url(path))
            .header("New-API-User", "-1")
            .header("Cache-Control", "no-store"),
    )
    .await
}

async fn status(app: &TestApp) -> Value {
    public(app, "/api/status").await.success()
}

#[tokio::test]
async fn a_fresh_site_shows_the_configured_name_and_empty_pages() {
    let app = TestApp::spawn_with(|s| {
        s.system_name = "My Gateway".into();
        s.server_address = "https://gw.example.com".into();
    })
    .await;
    let d = status(&app).await;
    assert_eq!(d["system_name"], "My Gateway");
    assert_eq!(d["server_address"], "https://gw.example.com");
    for key in ["logo", "footer_html", "top_up_link"] {
        assert_eq!(d[key], "", "{key}");
    }
    assert_eq!(d["default_use_auto_group"], false);
    assert_eq!(d["display_in_currency"], true);
    assert_eq!(d["quota_display_type"], "USD");
    for path in ["/api/notice", "/api/about", "/api/home_page_content"] {
        let reply = public(&app, path).await;
        assert_eq!(
            reply.body,
            json!({"success": true, "message": "", "data": ""}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn root_edits_the_site_and_the_console_sees_it_on_the_next_request() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let values = [
        ("SystemName", "Acme AI"),
        ("Logo", "https://cdn.example.com/logo.svg"),
        (
            "Footer",
            "<a href=\"https://acme.example.com\">Acme</a>\n© 2025",
        ),
        ("Notice", "## 公告\n维护时间 02:00"),
        ("About", "https://acme.example.com/about"),
        ("HomePageContent", "# Welcome"),
        ("TopUpLink", "https://shop.example.com/buy"),
        ("DefaultUseAutoGroup", "true"),
        ("ServerAddress", "https://api.acme.example.com/"),
    ];
    for (key, value) in values {
        app.set_option(&root, key, json!(value)).await.success();
    }
    let d = status(&app).await;
    assert_eq!(d["system_name"], "Acme AI");
    assert_eq!(d["logo"], "https://cdn.example.com/logo.svg");
    assert_eq!(
        d["footer_html"],
        "<a href=\"https://acme.example.com\">Acme</a>\n© 2025"
    );
    assert_eq!(d["top_up_link"], "https://shop.example.com/buy");
    assert_eq!(d["default_use_auto_group"], true);
    // The option wins over the configured address (stored without the trailing slash).
    assert_eq!(d["server_address"], "https://api.acme.example.com");
    assert_eq!(
        public(&app, "/api/notice").await.success(),
        "## 公告\n维护时间 02:00"
    );
    assert_eq!(
        public(&app, "/api/about").await.success(),
        "https://acme.example.com/about"
    );
    assert_eq!(
        public(&app, "/api/home_page_content").await.success(),
        "# Welcome"
    );
    // Root reads them back under New API's names; a boolean may be sent as JSON.
    assert_eq!(app.option(&root, "SystemName").await, "Acme AI");
    app.set_option(&root, "DefaultUseAutoGroup", json!(false))
        .await
        .success();
    assert_eq!(status(&app).await["default_use_auto_group"], false);
    // Another instance on the same database sees the same site.
    let other = app.another_instance().await;
    assert_eq!(status(&other).await["system_name"], "Acme AI");
}

#[tokio::test]
async fn invalid_site_values_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let before = status(&app).await;
    for (key, value) in [
        ("SystemName", json!("")),
        ("SystemName", json!("x".repeat(101))),
        ("Logo", json!("javascript:alert(1)")),
        ("Logo", json!("//evil.example.com/logo.png")),
        ("TopUpLink", json!("ftp://shop.example.com")),
        ("QuotaPerUnit", json!("0")),
        ("QuotaPerUnit", json!("-1")),
        ("QuotaPerUnit", json!("2.5")),
        ("QuotaDisplayType", json!("EUR")),
        ("DisplayInCurrencyEnabled", json!("maybe")),
        ("DefaultUseAutoGroup", json!("yes")),
        ("Notice", json!("x".repeat(32_769))),
    ] {
        let reply = app.set_option(&root, key, value).await;
        reply.refused_with(&format!("选项值无效：{key}"));
    }
    assert_eq!(status(&app).await, before);
    // Only root edits them.
    let admin = app.admin("adminsite").await;
    app.set_option(&admin, "SystemName", json!("Mine"))
        .await
        .refused_with("无权进行此操作，权限不足");
    assert_eq!(status(&app).await["system_name"], before["system_name"]);
}

/// `POST /api/user/amount` as `s`: the price string, or the refusal body.
async fn price(app: &TestApp, s: &Session, amount: i64) -> Value {
    let body = json!({"amount": amount, "top_up_code": ""});
    app.call(s, Method::POST, "/api/user/amount", Some(body))
        .await
        .body
}

#[tokio::test]
async fn a_changed_quota_per_unit_changes_the_status_and_the_price_together() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let alice = app.user("alice").await;
    // With the TOKENS display the console asks for quota units, priced per QuotaPerUnit.
    app.set_option(&root, "DisplayInCurrencyEnabled", json!("false"))
        .await
        .success();
    let d = status(&app).await;
    assert_eq!(
        (
            &d["quota_per_unit"],
            &d["display_in_currency"],
            &d["quota_display_type"]
        ),
        (&json!(500_000), &json!(false), &json!("TOKENS"))
    );
    // 1,000,000 units at 500,000 per USD and 7.3 per USD.
    assert_eq!(
        price(&app, &alice, 1_000_000).await,
        json!({"message": "success", "data": "14.60"})
    );
    app.set_option(&root, "QuotaPerUnit", json!("1000000"))
        .await
        .success();
    assert_eq!(status(&app).await["quota_per_unit"], 1_000_000);
    assert_eq!(
        price(&app, &alice, 1_000_000).await,
        json!({"message": "success", "data": "7.30"})
    );
    // The minimum follows too: MinTopUp is one USD, now 1,000,000 units.
    assert_eq!(
        price(&app, &alice, 999_999).await,
        json!({"message": "error", "data": "充值数量不能小于 1000000"})
    );
    // Back to a currency display: amounts are USD again and credit the current unit.
    app.set_option(&root, "DisplayInCurrencyEnabled", json!("true"))
        .await
        .success();
    assert_eq!(status(&app).await["display_in_currency"], true);
    assert_eq!(app.option(&root, "QuotaDisplayType").await, "USD");
    assert_eq!(
        price(&app, &alice, 2).await,
        json!({"message": "success", "data": "14.60"})
    );
    for (key, value) in [
        ("PayAddress", "https://pay.example.com"),
        ("EpayId", "1001"),
        ("EpayKey", "epay-merchant-key"),
    ] {
        app.set_option(&root, key, json!(value)).await.success();
    }
    let body = json!({"amount": 2, "payment_method": "alipay", "top_up_code": ""});
    let reply = app
        .call(&alice, Method::POST, "/api/user/pay", Some(body))
        .await;
    assert_eq!(reply.body["message"], "success", "{}", reply.body);
    let credited = app.query_i64("SELECT credited_quota FROM top_ups").await;
    assert_eq!(credited, [[2_000_000]]);
}

#[tokio::test]
async fn the_invitation_transfer_minimum_is_the_current_unit() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let alice = app.user("alice").await;
    app.set_option(&root, "QuotaPerUnit", json!("1000"))
        .await
        .success();
    // Below one unit: refused, with the minimum shown in the current display ($0.001).
    let reply = app
        .call(
            &alice,
            Method::POST,
            "/api/user/aff_transfer",
            Some(json!({"quota": 999})),
        )
        .await;
    let message = reply.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(reply.body["success"], false);
    assert!(message.contains("1.000000"), "{message}");
    // One unit passes the minimum (and then finds no invitation balance).
    let reply = app
        .call(
            &alice,
            Method::POST,
            "/api/user/aff_transfer",
            Some(json!({"quota": 1000})),
        )
        .await;
    assert_eq!(reply.body["success"], false);
    assert!(
        !reply.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1.000000"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn other_modules_data_is_empty_for_everyone_and_never_a_401() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let root = app.root().await;
    let empty_list = json!({"success": true, "message": "", "data": []});
    let lists = [
        "/api/uptime/status",
        "/api/data/self",
        "/api/data/self/?start_timestamp=1796028535&end_timestamp=1796118535&default_time=hour",
        "/api/data/?username=&start_timestamp=1796028603&end_timestamp=1796118603&default_time=hour",
        "/api/data",
    ];
    for path in lists {
        assert_eq!(public(&app, path).await.body, empty_list, "{path}");
        // No session at all, and a session of each role.
        assert_eq!(
            app.anonymous(Method::GET, path, None).await.body,
            empty_list
        );
        for s in [&alice, &root] {
            let reply = app.call(s, Method::GET, path, None).await;
            assert_eq!(reply.status, 200, "{path}");
            assert_eq!(reply.body, empty_list, "{path}");
        }
    }
    let page = |p: u64, size: u64| {
        json!({"success": true, "message": "",
               "data": {"page": p, "page_size": size, "total": 0, "items": []}})
    };
    assert_eq!(public(&app, "/api/log/self").await.body, page(1, 10));
    assert_eq!(
        app.call(
            &alice,
            Method::GET,
            "/api/log/self/?p=2&page_size=20&type=0&token_name=&model_name=&start_timestamp=1796083200&end_timestamp=1796119027&group=",
            None
        )
        .await
        .body,
        page(2, 20)
    );
    assert_eq!(
        public(&app, "/api/log/self?p=0&page_size=1000").await.body,
        page(1, 100)
    );
    // A wrong method is New API's 404 JSON, not an empty 405.
    let reply = app
        .anonymous(Method::POST, "/api/uptime/status", None)
        .await;
    assert_eq!(reply.status, 404);
    reply.refused_with("未找到该接口");
}
