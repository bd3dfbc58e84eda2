//! Issue 10: New API's request limits (spec §8.1) per client address, with New API's 429
//! replies (spec §0.2): the critical limit (`CT`, 20 per 20 min) counted per route group, and
//! the global one (`GA`) over every `/api/*` route of both surfaces. The harness turns both off;
//! these tests turn them on.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {reply}"))
        .parse()
        .unwrap()
}

/// New API's limiter reply: 429, `Retry-After`, and nothing else.
#[track_caller]
fn assert_empty_429(reply: &Reply, within_secs: u64) {
    assert_eq!(reply.status, 429, "{reply}");
    assert_eq!(reply.body, serde_json::Value::Null, "{reply}");
    assert_eq!(reply.header("content-length"), Some("0"), "{reply}");
    let wait = retry_after(reply);
    assert!((1..=within_secs).contains(&wait), "Retry-After {wait}");
}

#[tokio::test]
async fn the_21st_login_from_one_address_is_refused_on_both_surfaces() {
    // Arrange: New API's critical limit, 20 per 1200 s.
    let app = TestApp::spawn_with(|s| s.rate_limits.critical.enabled = true).await;
    let (max, period) = (
        app.settings.rate_limits.critical.max,
        app.settings.rate_limits.critical.period_secs,
    );
    assert_eq!((max, period), (20, 1200));
    app.register("alice", PASSWORD).await.success();

    // Act: twenty logins pass, on either surface.
    for i in 0..max {
        if i % 2 == 0 {
            app.login("alice", PASSWORD).await;
        } else {
            app.rest_login("alice", PASSWORD).await.ok(200, "登录成功");
        }
    }
    let compat = app.login_response("alice", PASSWORD).await;
    let rest = send(
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("Accept-Language", "en")
            .json(&json!({"username": "alice", "password": PASSWORD})),
    )
    .await;

    // Assert: the 21st is refused, before any password is checked, in each surface's shape.
    assert_empty_429(&compat, 2 * period);
    let error = rest.err(429, "Too many requests, please try again later");
    assert_eq!(error, "rate limit exceeded");
    assert!((1..=2 * period).contains(&retry_after(&rest)));
    // Other routes of the address are not critical.
    app.anonymous(Method::GET, "/api/status", None)
        .await
        .success();
}

#[tokio::test]
async fn redeem_attempts_do_not_block_login_nor_registration() {
    // Arrange
    let app = TestApp::spawn_with(|s| s.rate_limits.critical.enabled = true).await;
    let max = app.settings.rate_limits.critical.max;
    let user = app.user("bob").await;

    // Act: the address spends its whole redeem allowance on bad codes.
    for _ in 0..max {
        let reply = app.redeem(&user, "no-such-code").await;
        assert_eq!(reply.status, 200, "{reply}");
        assert_eq!(reply.body["success"], false, "{reply}");
    }
    let refused = app.redeem(&user, "no-such-code").await;

    // Assert: redeem is closed; login and registration are not (New API shared one bucket).
    assert_empty_429(&refused, 2400);
    app.login("bob", PASSWORD).await;
    app.register("carol", PASSWORD).await.success();
    app.rest_login("carol", PASSWORD).await.ok(200, "登录成功");
}

#[tokio::test]
async fn the_global_limit_counts_every_api_route_of_both_surfaces_together() {
    // Arrange: 4 requests per minute.
    let app = TestApp::spawn_with(|s| {
        s.rate_limits.global_api.enabled = true;
        s.rate_limits.global_api.max = 4;
        s.rate_limits.global_api.period_secs = 60;
    })
    .await;

    // Act: two compat requests, one REST, one unknown /api path: four.
    app.anonymous(Method::GET, "/api/status", None)
        .await
        .success();
    app.anonymous(Method::GET, "/api/user/groups", None)
        .await
        .success();
    let rest = app.rest_login("nobody", "wrong-password").await;
    assert_eq!(rest.status, 401, "{rest}");
    assert_eq!(
        app.anonymous(Method::GET, "/api/no-such-route", None)
            .await
            .status,
        404
    );

    // Assert: the fifth is refused on either surface; health checks and the payment
    // providers' callbacks are not counted.
    assert_empty_429(&app.anonymous(Method::GET, "/api/status", None).await, 120);
    let rest = app.rest_login("nobody", "wrong-password").await;
    rest.err(429, "请求过于频繁，请稍后再试");
    assert!(retry_after(&rest) >= 1);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let webhook = send(
        app.client
            .post(app.url("/api/stripe/webhook"))
            .header("Stripe-Signature", "t=1,v1=00")
            .body("{}"),
    )
    .await;
    assert_ne!(webhook.status, 429, "{webhook}");
}

#[tokio::test]
async fn limits_that_are_off_never_refuse() {
    let app = TestApp::spawn().await;
    assert!(!app.settings.rate_limits.critical.enabled);
    assert!(!app.settings.rate_limits.global_api.enabled);
    app.register("dave", PASSWORD).await.success();
    for _ in 0..25 {
        app.login("dave", PASSWORD).await;
    }
}

/// Two instances sharing Redis count one address together: the limit means what it says
/// behind a load balancer. Runs when `TEST_REDIS_URL` is set (CI sets it).
#[tokio::test]
async fn two_instances_sharing_redis_share_the_critical_limit() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("TEST_REDIS_URL not set; skipping the shared-Redis rate-limit test");
        return;
    };
    let prefix = format!("ratelimit-test-{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::spawn_with(|s| {
        s.kv.redis_url = Some(secrecy::SecretString::from(redis));
        s.kv.key_prefix = prefix;
        s.rate_limits.critical.enabled = true;
        s.rate_limits.critical.max = 3;
    })
    .await;
    let b = a.another_instance().await;
    a.register("erin", PASSWORD).await.success();

    a.login("erin", PASSWORD).await;
    b.login("erin", PASSWORD).await;
    a.rest_login("erin", PASSWORD).await.ok(200, "登录成功");
    for app in [&a, &b] {
        assert_empty_429(&app.login_response("erin", PASSWORD).await, 2400);
    }
}
