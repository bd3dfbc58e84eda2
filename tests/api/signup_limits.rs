//! Issue 7.3: registrations are rate limited per client address on both surfaces (429 with
//! `Retry-After`, nothing created), and invitation rewards are capped per inviter per rolling
//! 24 h (`AffRewardDailyLimit`), also under a storm of concurrent registrations.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tollgate_db::testing::ScratchDb;

use crate::helpers::{PASSWORD, TestApp};
use crate::reply::{Reply, send};

fn retry_after(res: &Reply) -> u64 {
    res.header("retry-after")
        .expect("Retry-After header")
        .parse()
        .unwrap()
}

async fn users(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM users").await[0][0]
}

#[tokio::test]
async fn registrations_per_address_are_limited_across_both_surfaces() {
    let app = TestApp::spawn_with(|s| s.rate_limits.register_per_ip_per_hour = 3).await;
    let before = users(&app).await;
    assert_eq!(app.register("one", PASSWORD).await.status, 200);
    assert_eq!(app.rest_register("two", PASSWORD, None).await.status, 201);
    // Malformed attempts are refused before they count.
    let short = send(
        app.client
            .post(app.url("/api/user/register"))
            .json(&json!({"username": "bad", "password": "short"})),
    )
    .await;
    assert_eq!(short.body["success"], false);
    assert_eq!(app.register("three", PASSWORD).await.status, 200);

    let res = app.register("four", PASSWORD).await;
    assert_eq!(res.status, 429);
    // A sliding window of an hour: the wait is at most two windows (ADR 0016).
    let wait = retry_after(&res);
    assert!((1..=2 * 3600).contains(&wait), "{wait}");
    assert_eq!(
        res.body,
        json!({"success": false, "message": "注册过于频繁，请稍后再试"})
    );

    let res = app.rest_register("five", PASSWORD, None).await;
    assert_eq!(res.status, 429);
    assert!(retry_after(&res) >= 1);
    let body = res.body;
    assert_eq!(body["code"], 429, "{body}");
    assert_eq!(body["message"], "注册过于频繁，请稍后再试");
    assert_eq!(body["error"], "too many registrations from this address");
    assert!(body.get("data").is_none(), "{body}");

    let en = send(
        app.client
            .post(app.url("/api/user/register"))
            .header("Accept-Language", "en")
            .json(&json!({"username": "six", "password": PASSWORD})),
    )
    .await;
    assert_eq!(en.status, 429);
    assert_eq!(
        en.body["message"],
        "Too many registrations, please try again later"
    );

    assert_eq!(users(&app).await, before + 3, "refusals create nothing");
    // Logging in is not registering: the limited address can still sign in.
    app.login("one", PASSWORD).await;
}

#[tokio::test]
async fn a_limit_of_zero_turns_registration_limiting_off() {
    let app = TestApp::spawn_with(|s| s.rate_limits.register_per_ip_per_hour = 0).await;
    for i in 0..15 {
        assert_eq!(app.register(&format!("u{i}"), PASSWORD).await.status, 200);
    }
}

async fn aff_code(app: &TestApp, s: &crate::helpers::Session) -> String {
    let reply = app.call(s, Method::GET, "/api/user/aff", None).await;
    reply["data"].as_str().unwrap().to_owned()
}

/// 50 concurrent registrations with one invitation code pay the inviter at most the cap; every
/// invitee is linked and counted and gets its own bonus; balances equal the ledger.
async fn an_invitation_storm_pays_at_most_the_daily_limit(scratch: ScratchDb) {
    const INVITEES: usize = 50;
    const LIMIT: i64 = 5;
    let app = Arc::new(
        TestApp::spawn_on(scratch, |s| {
            s.registration.quota_for_inviter = 100_000;
            s.registration.quota_for_invitee = 7_000;
        })
        .await,
    );
    let root = app.root().await;
    let set = app
        .call(
            &root,
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "AffRewardDailyLimit", "value": LIMIT})),
        )
        .await;
    assert_eq!(set["success"], true, "{set}");
    let inviter = app.user("inviter").await;
    let code = Arc::new(aff_code(&app, &inviter).await);

    let barrier = Arc::new(tokio::sync::Barrier::new(INVITEES));
    let mut storm = tokio::task::JoinSet::new();
    for i in 0..INVITEES {
        let (app, code, barrier) = (app.clone(), code.clone(), barrier.clone());
        storm.spawn(async move {
            barrier.wait().await;
            send(app.client.post(app.url("/api/user/register")).json(
                &json!({"username": format!("farm{i}"), "password": PASSWORD, "aff_code": *code}),
            ))
            .await
            .body
        });
    }
    for reply in storm.join_all().await {
        assert_eq!(reply["success"], true, "{reply}");
    }

    let them = app.get_self(&inviter).await["data"].clone();
    assert_eq!(
        (
            them["aff_count"].as_i64(),
            them["aff_quota"].as_i64(),
            them["aff_history_quota"].as_i64()
        ),
        (
            Some(INVITEES as i64),
            Some(LIMIT * 100_000),
            Some(LIMIT * 100_000)
        )
    );
    let counts = app
        .query_i64(&format!(
            "SELECT \
             (SELECT COUNT(*) FROM ledger WHERE kind = 'inviter_reward'), \
             (SELECT COUNT(*) FROM ledger WHERE kind = 'invitee_bonus'), \
             (SELECT COUNT(*) FROM users WHERE inviter_id = {})",
            inviter.id
        ))
        .await;
    assert_eq!(counts, [vec![LIMIT, INVITEES as i64, INVITEES as i64]]);

    // quota and aff_quota alike.
    app.assert_ledger_balanced().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_storm_pays_at_most_the_daily_limit_on_file_sqlite() {
    an_invitation_storm_pays_at_most_the_daily_limit(ScratchDb::sqlite().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_storm_pays_at_most_the_daily_limit_on_postgres() {
    match ScratchDb::postgres_from_env().await.unwrap() {
        Some(db) => an_invitation_storm_pays_at_most_the_daily_limit(db).await,
        None => eprintln!("TEST_DATABASE_URL unset: PostgreSQL run skipped"),
    }
}
