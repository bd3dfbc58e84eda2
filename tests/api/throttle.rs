//! Issue 10: login throttling over HTTP. Every credential check is reserved before the password
//! hash is verified, so concurrent guesses cannot outrun the count; a throttled login answers
//! 429 with `Retry-After`, the same for known and unknown names, on both surfaces.

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

fn retry_after(res: &Reply) -> u64 {
    res.header("retry-after")
        .expect("Retry-After header")
        .parse()
        .unwrap()
}

const WRONG: &str = "wrong-password-1";

#[tokio::test]
async fn fifty_concurrent_wrong_passwords_get_five_hash_checks() {
    let app = Arc::new(TestApp::spawn().await);
    app.register("alice", PASSWORD).await.success();

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.login_response("alice", WRONG).await })
        })
        .collect();
    let (mut checked, mut throttled) = (0, 0);
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            // A check that reached the hasher: the one generic refusal.
            200 => {
                res.refused_with("用户名或密码错误，或用户已被封禁");
                checked += 1;
            }
            429 => {
                assert!(retry_after(&res) >= 1);
                assert_eq!(res.body["success"], false);
                throttled += 1;
            }
            other => panic!("unexpected status {other}: {}", res.body),
        }
    }
    assert_eq!(checked, 5, "password checks that ran");
    assert_eq!(throttled, 45);

    // While the delay runs, even the right password waits: the lock does not tell guesses apart.
    let res = app.login_response("alice", PASSWORD).await;
    assert_eq!(res.status, 429);
    assert!((1..=30).contains(&retry_after(&res)));
    // Only the checks that ran left failed-login audit rows.
    let rows = app
        .query_i64("SELECT COUNT(*) FROM audit WHERE action = 'login.failed'")
        .await;
    assert_eq!(rows[0][0], 5);
}

#[tokio::test]
async fn a_throttled_login_looks_the_same_for_known_and_unknown_names() {
    let app = TestApp::spawn().await;
    app.register("alice", PASSWORD).await.success();
    for _ in 0..5 {
        app.login_response("alice", WRONG)
            .await
            .refused_with("用户名或密码错误，或用户已被封禁");
        app.login_response("nobody", WRONG)
            .await
            .refused_with("用户名或密码错误，或用户已被封禁");
    }
    let known = app.login_response("alice", WRONG).await;
    let unknown = app.login_response("nobody", WRONG).await;
    assert_eq!(known.status, 429);
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    // Both delays started at their fifth failure, a moment apart; on a loaded machine the two
    // replies may straddle a second boundary, so the whole seconds may differ by one.
    assert!(
        retry_after(&known).abs_diff(retry_after(&unknown)) <= 1,
        "{:?} vs {:?}",
        known.header("retry-after"),
        unknown.header("retry-after")
    );
    assert_eq!(
        known.body,
        json!({"success": false, "message": "尝试次数过多，请稍后再试"})
    );

    // Another account is not affected, and a success there resets nothing of alice's.
    app.register("bob", PASSWORD).await.success();
    app.login("bob", PASSWORD).await;
    assert_eq!(app.login_response("alice", PASSWORD).await.status, 429);
}

#[tokio::test]
async fn the_rest_login_shares_the_count_and_answers_429_in_its_envelope() {
    let app = TestApp::spawn().await;
    app.register("alice", PASSWORD).await.success();
    // Failures on either surface count for the one account.
    for _ in 0..3 {
        app.login_response("alice", WRONG).await;
    }
    for _ in 0..2 {
        assert_eq!(app.rest_login("alice", WRONG).await.status, 401);
    }
    let res = app.rest_login("alice", PASSWORD).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(retry_after(&res) >= 1);
    assert_eq!(res.body["code"], 429);
    assert_eq!(
        res.body["error"],
        "too many attempts for this account or from this address"
    );
    assert!(res.body.get("data").is_none(), "{}", res.body);
    // English when asked.
    let en = send(
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("Accept-Language", "en")
            .json(&json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(en.status, 429);
    assert_eq!(
        en.body["message"],
        "Too many attempts, please try again later"
    );
}

#[tokio::test]
async fn a_success_before_the_limit_resets_the_account() {
    let app = TestApp::spawn().await;
    app.register("alice", PASSWORD).await.success();
    for _ in 0..4 {
        app.login_response("alice", WRONG).await;
    }
    app.login("alice", PASSWORD).await;
    for _ in 0..4 {
        app.login_response("alice", WRONG)
            .await
            .refused_with("用户名或密码错误，或用户已被封禁");
    }
    app.login("alice", PASSWORD).await;
}

#[tokio::test]
async fn failures_per_address_are_limited_over_all_accounts_whatever_x_forwarded_for_says() {
    let app = TestApp::spawn_with(|s| s.login_throttle.ip_failures_per_hour = 6).await;
    app.register("alice", PASSWORD).await.success();
    for i in 0..6 {
        // A different account each time, and a forged client address each time: the peer
        // is not a trusted proxy, so the header is ignored.
        let res = send(
            app.client
                .post(app.url("/api/user/login"))
                .header("X-Forwarded-For", format!("198.51.100.{i}"))
                .json(&json!({"username": format!("user{i}"), "password": WRONG})),
        )
        .await;
        res.refused_with("用户名或密码错误，或用户已被封禁");
    }
    let res = send(
        app.client
            .post(app.url("/api/user/login"))
            .header("X-Forwarded-For", "192.0.2.200")
            .json(&json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_eq!(res.status, 429);
    assert!(retry_after(&res) <= 3600);
}

#[tokio::test]
async fn throttling_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.login_throttle.enabled = false).await;
    app.register("alice", PASSWORD).await.success();
    for _ in 0..12 {
        app.login_response("alice", WRONG)
            .await
            .refused_with("用户名或密码错误，或用户已被封禁");
    }
    app.login("alice", PASSWORD).await;
}

/// Two instances sharing Redis count one account's failures together: five wrong passwords
/// spread over both lock the account on both. Runs when `TEST_REDIS_URL` is set (CI sets it).
#[tokio::test]
async fn two_instances_sharing_redis_throttle_one_account_together() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("TEST_REDIS_URL not set; skipping the shared-Redis throttle test");
        return;
    };
    // A prefix of its own, so parallel runs and other tests never share keys.
    let prefix = format!("throttle-test-{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::spawn_with(|s| {
        s.kv.redis_url = Some(secrecy::SecretString::from(redis));
        s.kv.key_prefix = prefix;
    })
    .await;
    let b = a.another_instance().await;
    a.register("alice", PASSWORD).await.success();
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.login_response("alice", WRONG)
            .await
            .refused_with("用户名或密码错误，或用户已被封禁");
    }
    for app in [&a, &b] {
        let res = app.login_response("alice", PASSWORD).await;
        assert_eq!(res.status, 429, "{}", res.body);
        assert!((1..=30).contains(&retry_after(&res)));
    }
    // Nobody else is affected on either instance.
    b.register("bob", PASSWORD).await.success();
    a.login("bob", PASSWORD).await;
}

/// A signed-in client guessing the current password (to change it) is guessing the login's
/// secret: the guesses count against the same account, on both surfaces, and end in the same
/// 429. Someone holding a stolen session cannot try passwords faster than a stranger.
#[tokio::test]
async fn guesses_at_the_current_password_share_the_account_count() {
    use reqwest::Method;

    use crate::rest_helpers::password_change;

    let app = TestApp::spawn().await;
    let s = app.user("alice").await;
    let tokens = app.rest_tokens("alice", PASSWORD).await;
    for i in 0..5 {
        if i % 2 == 0 {
            let body =
                json!({"original_password": format!("guess-{i}"), "password": "new-password-42"});
            app.call(&s, Method::PUT, "/api/user/self", Some(body))
                .await
                .refused_with("原密码错误");
        } else {
            let change =
                password_change(&format!("guess-{i}"), "new-password-42", "new-password-42");
            assert_eq!(app.put_password(&tokens.access, &change).await.status, 401);
        }
    }
    // The right current password waits now, on both surfaces, and so does the login.
    let body = json!({"original_password": PASSWORD, "password": "new-password-42"});
    let res = app
        .call(&s, Method::PUT, "/api/user/self", Some(body))
        .await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(retry_after(&res) >= 1);
    let change = password_change(PASSWORD, "new-password-42", "new-password-42");
    let res = app.put_password(&tokens.access, &change).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(app.login_response("alice", PASSWORD).await.status, 429);
    // The password did not change.
    let rows = app
        .query_i64("SELECT COUNT(*) FROM audit WHERE action = 'password.changed'")
        .await;
    assert_eq!(rows[0][0], 0);
}
