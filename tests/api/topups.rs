//! Online top-up end to end: Epay and Stripe orders against local fakes of the providers,
//! exactly-once settlement under concurrency, forged notifications, reconciliation, the
//! rebate, and the admin's order list and manual completion.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_tests::fakes::epay::{FakeEpay, epay_query_string, signed_epay_params};
use tollgate_tests::fakes::stripe::FakeStripe;

use crate::helpers::{Session, TestApp};
use crate::reply::{Reply, send};

const PID: &str = "1001";
const KEY: &str = "epay-merchant-key";
const STRIPE_SECRET: &str = "sk_test_tollgate";
const WEBHOOK_SECRET: &str = "whsec_tollgate";
const UNIT: i64 = 500_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Root configures Epay against `gateway` through the options API.
async fn configure_epay(app: &TestApp, root: &Session, gateway: &FakeEpay) {
    for (key, value) in [
        ("PayAddress", gateway.address()),
        ("EpayId", PID),
        ("EpayKey", KEY),
        ("ServerAddress", "https://gw.example.com"),
    ] {
        app.set_option(root, key, json!(value)).await.success();
    }
}

async fn configure_stripe(app: &TestApp, root: &Session) {
    for (key, value) in [
        ("StripeApiSecret", STRIPE_SECRET),
        ("StripeWebhookSecret", WEBHOOK_SECRET),
        ("StripePriceId", "price_tollgate"),
        ("ServerAddress", "https://gw.example.com"),
    ] {
        app.set_option(root, key, json!(value)).await.success();
    }
}

async fn spawn_with_stripe(stripe: &FakeStripe) -> TestApp {
    let base = stripe.api_base().to_string();
    TestApp::spawn_with(move |s| s.payments.stripe_api_base = base).await
}

/// `POST /api/user/pay`; returns the reply body (outside the envelope).
async fn pay(app: &TestApp, s: &Session, amount: i64, method: &str) -> Value {
    let body = json!({"amount": amount, "payment_method": method, "top_up_code": ""});
    app.call(s, Method::POST, "/api/user/pay", Some(body))
        .await
        .body
}

/// Places an Epay order of `amount` and returns its trade number and price.
async fn epay_order(app: &TestApp, s: &Session, amount: i64) -> (String, String) {
    let reply = pay(app, s, amount, "alipay").await;
    assert_eq!(reply["message"], "success", "{reply}");
    let params = &reply["data"];
    (
        params["out_trade_no"].as_str().unwrap().to_owned(),
        params["money"].as_str().unwrap().to_owned(),
    )
}

/// The gateway calls `GET /api/user/epay/notify?...`; returns the plain-text answer.
async fn notify(app: &TestApp, params: &BTreeMap<String, String>) -> String {
    let url = format!(
        "{}?{}",
        app.url("/api/user/epay/notify"),
        epay_query_string(params)
    );
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn quota_of(app: &TestApp, user_id: i64) -> i64 {
    app.query_i64(&format!("SELECT quota FROM users WHERE id = {user_id}"))
        .await[0][0]
}

async fn credits(app: &TestApp, kind: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM ledger WHERE kind = '{kind}'"
    ))
    .await[0][0]
}

async fn refusals(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM audit WHERE action = 'payment.refused'")
        .await[0][0]
}

async fn order_status(app: &TestApp, trade_no: &str) -> String {
    let rows = app
        .query_i64(&format!(
            "SELECT CASE status WHEN 'pending' THEN 0 WHEN 'success' THEN 1 WHEN 'failed' THEN 2 \
             ELSE 3 END FROM top_ups WHERE trade_no = '{trade_no}'"
        ))
        .await;
    ["pending", "success", "failed", "expired"][rows[0][0] as usize].to_owned()
}

#[tokio::test]
async fn the_price_follows_the_options_and_bad_amounts_are_refused_outside_the_envelope() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let alice = app.user("alice").await;
    let amount = |v: i64| {
        let (app, alice) = (&app, &alice);
        async move {
            let body = json!({"amount": v, "top_up_code": ""});
            app.call(alice, Method::POST, "/api/user/amount", Some(body))
                .await
                .body
        }
    };
    assert_eq!(
        amount(10).await,
        json!({"message": "success", "data": "73.00"})
    );
    app.set_option(
        &root,
        "payment_setting.amount_discount",
        json!(r#"{"100": 0.9}"#),
    )
    .await
    .success();
    app.set_option(&root, "TopupGroupRatio", json!(r#"{"default": 1.5}"#))
        .await
        .success();
    assert_eq!(amount(100).await["data"], "985.50");
    app.set_option(&root, "MinTopUp", json!("5"))
        .await
        .success();
    assert_eq!(
        amount(4).await,
        json!({"message": "error", "data": "充值数量不能小于 5"})
    );
    // Not configured: no order is created.
    let reply = pay(&app, &alice, 10, "alipay").await;
    assert_eq!(
        reply,
        json!({"message": "error", "data": "当前管理员未配置支付信息"})
    );
    let reply = pay(&app, &alice, 10, "bitcoin").await;
    assert_eq!(reply, json!({"message": "error", "data": "支付方式不存在"}));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM top_ups").await[0][0], 0);
}

#[tokio::test]
async fn an_epay_order_is_signed_and_one_notify_sent_many_times_credits_once() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    let alice = app.user("alice").await;

    let reply = pay(&app, &alice, 10, "alipay").await;
    assert_eq!(reply["url"], format!("{}/submit.php", gateway.address()));
    let params: BTreeMap<String, String> = serde_json::from_value(reply["data"].clone()).unwrap();
    assert_eq!(params["money"], "73.00");
    assert_eq!(
        params["notify_url"],
        "https://gw.example.com/api/user/epay/notify"
    );
    assert_eq!(
        params,
        signed_epay_params(params.clone(), KEY),
        "signed with the merchant key"
    );
    let trade_no = params["out_trade_no"].clone();
    assert_eq!(order_status(&app, &trade_no).await, "pending");

    gateway.mark_paid(&trade_no, "73.00", "alipay");
    let paid = gateway.notify_params(&trade_no, "TUC10");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (url, client) = (
            format!(
                "{}?{}",
                app.url("/api/user/epay/notify"),
                epay_query_string(&paid)
            ),
            app.client.clone(),
        );
        set.spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
    }
    for answer in set.join_all().await {
        assert_eq!(
            answer, "success",
            "a settled order answers success to every copy"
        );
    }
    for _ in 0..100 {
        assert_eq!(notify(&app, &paid).await, "success");
    }
    assert_eq!(quota_of(&app, alice.id).await, 10 * UNIT);
    assert_eq!(credits(&app, "topup").await, 1);
    assert_eq!(order_status(&app, &trade_no).await, "success");
    app.assert_ledger_balanced().await;
    // The user sees the order.
    let own = app
        .call(
            &alice,
            Method::GET,
            "/api/user/topup/self?p=1&page_size=10",
            None,
        )
        .await
        .success();
    assert_eq!(own["total"], 1);
    assert_eq!(own["items"][0]["status"], "success");
    assert_eq!(own["items"][0]["credited_quota"], 10 * UNIT);
}

#[tokio::test]
async fn forged_or_mismatched_notifies_credit_nothing_and_are_recorded() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    let alice = app.user("alice").await;
    let (a, _) = epay_order(&app, &alice, 10).await;
    let (b, _) = epay_order(&app, &alice, 20).await;
    gateway.mark_paid(&a, "73.00", "alipay");
    let good = gateway.notify_params(&a, "TUC10");
    let resign = |change: &dyn Fn(&mut BTreeMap<String, String>)| {
        let mut p = good.clone();
        change(&mut p);
        signed_epay_params(p, KEY)
    };
    let forged: Vec<(&str, BTreeMap<String, String>)> = vec![
        ("no sign", {
            let mut p = good.clone();
            p.remove("sign");
            p
        }),
        ("wrong sign", {
            let mut p = good.clone();
            p.insert("sign".into(), "0".repeat(32));
            p
        }),
        ("signed with another key", {
            let mut p = good.clone();
            p.remove("sign");
            signed_epay_params(p, "not-the-key")
        }),
        ("tampered money", {
            let mut p = good.clone();
            p.insert("money".into(), "0.01".into());
            p
        }),
        (
            "wrong pid",
            resign(&|p| {
                p.insert("pid".into(), "2002".into());
            }),
        ),
        (
            "not paid",
            resign(&|p| {
                p.insert("trade_status".into(), "WAIT_BUYER_PAY".into());
            }),
        ),
        (
            "money lower than the order",
            resign(&|p| {
                p.insert("money".into(), "72.99".into());
            }),
        ),
        (
            "unknown order",
            resign(&|p| {
                p.insert("out_trade_no".into(), "USR9NOnope1".into());
            }),
        ),
        // Paying A's 73.00 never completes B, which costs 146.00.
        (
            "A's payment for B",
            resign(&|p| {
                p.insert("out_trade_no".into(), b.clone());
            }),
        ),
    ];
    for (what, params) in &forged {
        assert_eq!(notify(&app, params).await, "fail", "{what}");
    }
    assert_eq!(quota_of(&app, alice.id).await, 0);
    assert_eq!(credits(&app, "topup").await, 0);
    assert_eq!(refusals(&app).await, forged.len() as i64);
    assert_eq!(order_status(&app, &a).await, "pending");
    assert_eq!(order_status(&app, &b).await, "pending");
    let reason = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM top_ups WHERE trade_no = '{b}' AND failure_reason LIKE '%costs 146%'"
        ))
        .await;
    assert_eq!(reason[0][0], 1, "the mismatch is recorded on the order");
    // The genuine notify still works afterwards.
    assert_eq!(notify(&app, &good).await, "success");
    assert_eq!(quota_of(&app, alice.id).await, 10 * UNIT);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn two_instances_receiving_the_same_notify_credit_once() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    let alice = app.user("alice").await;
    for round in 0..5 {
        let (trade_no, money) = epay_order(&app, &alice, 1).await;
        gateway.mark_paid(&trade_no, &money, "alipay");
        let params = gateway.notify_params(&trade_no, "TUC1");
        let (x, y) = tokio::join!(notify(&app, &params), notify(&other, &params));
        assert_eq!(
            (x.as_str(), y.as_str()),
            ("success", "success"),
            "round {round}"
        );
    }
    assert_eq!(credits(&app, "topup").await, 5);
    assert_eq!(quota_of(&app, alice.id).await, 5 * UNIT);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn an_inviter_gets_the_rebate_once_per_settled_order() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    app.set_option(&root, "TopupRebatePercent", json!("10"))
        .await
        .success();
    let inviter = app.user("inviter").await;
    let aff = app
        .call(&inviter, Method::GET, "/api/user/aff", None)
        .await
        .success();
    send(app.client.post(app.url("/api/user/register")).json(&json!({
        "username": "invitee", "password": crate::helpers::PASSWORD, "aff_code": aff,
    })))
    .await
    .success();
    let invitee = app.login("invitee", crate::helpers::PASSWORD).await;
    let (trade_no, money) = epay_order(&app, &invitee, 10).await;
    gateway.mark_paid(&trade_no, &money, "alipay");
    let params = gateway.notify_params(&trade_no, "TUC10");
    for _ in 0..3 {
        assert_eq!(notify(&app, &params).await, "success");
    }
    let aff_quota = app
        .query_i64(&format!(
            "SELECT aff_quota FROM users WHERE id = {}",
            inviter.id
        ))
        .await[0][0];
    assert_eq!(aff_quota, UNIT, "10% of 10 units, once");
    assert_eq!(credits(&app, "topup_rebate").await, 1);
    app.assert_ledger_balanced().await;
}

async fn stripe_pay(app: &TestApp, s: &Session, body: Value) -> Reply {
    app.call(s, Method::POST, "/api/user/stripe/pay", Some(body))
        .await
}

async fn deliver(app: &TestApp, body: &str, signature: &str) -> u16 {
    app.client
        .post(app.url("/api/stripe/webhook"))
        .header("Stripe-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_stripe_event_delivered_five_times_at_once_credits_once() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let app = spawn_with_stripe(&stripe).await;
    let root = app.root().await;
    configure_stripe(&app, &root).await;
    let alice = app.user("alice").await;

    let reply = stripe_pay(
        &app,
        &alice,
        json!({"amount": 3, "payment_method": "stripe"}),
    )
    .await;
    assert_eq!(reply.body["message"], "success", "{reply}");
    let link = reply.body["data"]["pay_link"].as_str().unwrap().to_owned();
    let session = stripe.sessions().pop().unwrap();
    assert!(link.ends_with(&session.id), "{link}");
    let trade_no = session.client_reference_id.clone().unwrap();

    // Before payment: a completed-but-unpaid event settles nothing.
    let early = stripe.webhook(
        &session.id,
        "checkout.session.completed",
        WEBHOOK_SECRET,
        now(),
    );
    assert_eq!(deliver(&app, &early.body, &early.signature).await, 200);
    assert_eq!(quota_of(&app, alice.id).await, 0);

    stripe.mark_paid(&session.id);
    let paid = stripe.webhook(
        &session.id,
        "checkout.session.completed",
        WEBHOOK_SECRET,
        now(),
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (client, url, paid) = (
            app.client.clone(),
            app.url("/api/stripe/webhook"),
            paid.clone(),
        );
        set.spawn(async move {
            client
                .post(url)
                .header("Stripe-Signature", paid.signature)
                .body(paid.body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    assert!(set.join_all().await.iter().all(|s| *s == 200));
    assert_eq!(quota_of(&app, alice.id).await, 3 * UNIT);
    assert_eq!(credits(&app, "topup").await, 1);
    assert_eq!(order_status(&app, &trade_no).await, "success");
    // An expiry arriving late does not flip a settled order (New API's defect).
    let expired = stripe.webhook(
        &session.id,
        "checkout.session.expired",
        WEBHOOK_SECRET,
        now(),
    );
    assert_eq!(deliver(&app, &expired.body, &expired.signature).await, 200);
    assert_eq!(order_status(&app, &trade_no).await, "success");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_bad_or_stale_stripe_signature_is_a_400_and_credits_nothing() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let app = spawn_with_stripe(&stripe).await;
    let root = app.root().await;
    configure_stripe(&app, &root).await;
    let alice = app.user("alice").await;
    stripe_pay(
        &app,
        &alice,
        json!({"amount": 2, "payment_method": "stripe"}),
    )
    .await;
    let session = stripe.sessions().pop().unwrap();
    stripe.mark_paid(&session.id);
    let kind = "checkout.session.completed";
    let wrong = stripe.webhook(&session.id, kind, "whsec_wrong", now());
    let stale = stripe.webhook(&session.id, kind, WEBHOOK_SECRET, now() - 3600);
    let good = stripe.webhook(&session.id, kind, WEBHOOK_SECRET, now());
    let tampered = good.body.replace("\"paid\"", "\"paid\" ");
    assert_eq!(deliver(&app, &wrong.body, &wrong.signature).await, 400);
    assert_eq!(deliver(&app, &stale.body, &stale.signature).await, 400);
    assert_eq!(deliver(&app, &tampered, &good.signature).await, 400);
    assert_eq!(deliver(&app, &good.body, "t=1,v1=00").await, 400);
    assert_eq!(quota_of(&app, alice.id).await, 0);
    assert_eq!(refusals(&app).await, 4);
    assert_eq!(deliver(&app, &good.body, &good.signature).await, 200);
    assert_eq!(quota_of(&app, alice.id).await, 2 * UNIT);
}

#[tokio::test]
async fn stripe_redirects_off_this_server_are_refused_and_create_nothing() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let app = spawn_with_stripe(&stripe).await;
    let root = app.root().await;
    configure_stripe(&app, &root).await;
    let alice = app.user("alice").await;
    let body = json!({"amount": 2, "payment_method": "stripe", "success_url": "https://evil.example.com/"});
    let reply = stripe_pay(&app, &alice, body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        "支付成功重定向URL不在可信任域名列表中"
    );
    let reply = stripe_pay(
        &app,
        &alice,
        json!({"amount": 2, "payment_method": "alipay"}),
    )
    .await;
    assert_eq!(
        reply.body,
        json!({"message": "error", "data": "不支持的支付渠道"})
    );
    let reply = stripe_pay(
        &app,
        &alice,
        json!({"amount": 10_001, "payment_method": "stripe"}),
    )
    .await;
    assert_eq!(
        reply.body,
        json!({"message": "error", "data": "充值数量不能大于 10000"})
    );
    assert_eq!(stripe.create_requests(), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM top_ups").await[0][0], 0);
}

#[tokio::test]
async fn reconciliation_credits_a_paid_but_never_notified_order_exactly_once() {
    let stripe = FakeStripe::start(STRIPE_SECRET).await;
    let base = stripe.api_base().to_string();
    let app = TestApp::spawn_with(move |s| {
        s.payments.stripe_api_base = base;
        s.payments.reconcile_interval_secs = 1;
        s.payments.reconcile_min_age_secs = 0;
    })
    .await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    configure_stripe(&app, &root).await;
    let alice = app.user("alice").await;
    let (epay_paid, money) = epay_order(&app, &alice, 2).await;
    gateway.mark_paid(&epay_paid, &money, "alipay");
    let (epay_unpaid, money) = epay_order(&app, &alice, 3).await;
    gateway.add_order(&epay_unpaid, &money, "alipay");
    stripe_pay(
        &app,
        &alice,
        json!({"amount": 4, "payment_method": "stripe"}),
    )
    .await;
    let paid_session = stripe.sessions().pop().unwrap();
    stripe.mark_paid(&paid_session.id);
    stripe_pay(
        &app,
        &alice,
        json!({"amount": 5, "payment_method": "stripe"}),
    )
    .await;
    let expired_session = stripe.sessions().pop().unwrap();
    stripe.mark_expired(&expired_session.id);

    // The task runs every second; wait until it has settled both and then run on.
    let mut settled = false;
    for _ in 0..100 {
        if quota_of(&app, alice.id).await == 6 * UNIT {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(settled, "reconciliation did not settle the paid orders");
    let queries = gateway.query_count();
    while gateway.query_count() < queries + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        quota_of(&app, alice.id).await,
        6 * UNIT,
        "later runs credit nothing"
    );
    assert_eq!(credits(&app, "topup").await, 2);
    assert_eq!(order_status(&app, &epay_unpaid).await, "pending");
    let expired_trade = expired_session.client_reference_id.unwrap();
    assert_eq!(order_status(&app, &expired_trade).await, "expired");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn admins_list_orders_and_complete_one_by_hand_exactly_once() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    let alice = app.user("alice").await;
    let admin = app.admin("boss").await;
    let (trade_no, _) = epay_order(&app, &alice, 2).await;

    let refused = app
        .call(
            &alice,
            Method::GET,
            "/api/user/topup?p=1&page_size=10",
            None,
        )
        .await;
    assert_eq!(refused.body["success"], false);
    let list = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/user/topup?keyword={}", &trade_no[..8]),
            None,
        )
        .await
        .success();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["trade_no"], trade_no);

    async fn complete_as(app: &TestApp, who: &Session, trade: &str) -> Reply {
        let body = json!({"trade_no": trade});
        app.call(who, Method::POST, "/api/user/topup/complete", Some(body))
            .await
    }
    let complete = |who, trade| complete_as(&app, who, trade);
    assert_eq!(complete(&alice, &trade_no).await.body["success"], false);
    complete(&admin, "USR0NOmissing")
        .await
        .refused_with("充值订单不存在");
    complete(&admin, "").await.refused_with("无效的参数");
    complete(&admin, &trade_no).await.success();
    complete(&admin, &trade_no).await.success();
    assert_eq!(quota_of(&app, alice.id).await, 2 * UNIT);
    assert_eq!(credits(&app, "topup").await, 1);
    let audited = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE action = 'topup.completed_by_admin' AND actor_id = {}",
            admin.id
        ))
        .await;
    assert_eq!(audited[0][0], 1);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn status_reports_online_top_up_and_options_never_list_the_secrets() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    assert_eq!(status["enable_online_topup"], false);
    assert_eq!(status["pay_methods"], json!([]));
    let gateway = FakeEpay::start(PID, KEY).await;
    configure_epay(&app, &root, &gateway).await;
    app.set_option(&root, "Price", json!("6.5")).await.success();
    let status = app
        .anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    assert_eq!(status["enable_online_topup"], true);
    assert_eq!(status["price"], 6.5);
    assert_eq!(status["pay_methods"][0]["type"], "alipay");
    let options = app
        .call(&root, Method::GET, "/api/option/", None)
        .await
        .success();
    let text = options.to_string();
    assert!(!text.contains(KEY) && !text.contains("EpayKey"), "{text}");
    let audit = app
        .query_i64(&format!(
            "SELECT COUNT(*) FROM audit WHERE {} LIKE '%epay-merchant-key%'",
            app.column("after")
        ))
        .await;
    assert_eq!(audit[0][0], 0, "the audit log never holds the key");
}
