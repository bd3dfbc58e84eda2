use std::sync::Arc;

use serde_json::json;
use tollgate_db::testing::ScratchDb;

use crate::helpers::{Session, TestApp};
use crate::reply::send;

#[tokio::test]
async fn redeeming_credits_the_quota_once_and_data_is_the_amount() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let s = app.user("alice").await;
    let key = app.code(&root, 500_000).await;

    let reply = app.redeem(&s, &key).await;
    assert_eq!(
        reply,
        json!({"success": true, "message": "", "data": 500_000})
    );
    assert_eq!(app.get_self(&s).await["data"]["quota"], 500_000);

    let again = app.redeem(&s, &key).await;
    assert_eq!(
        again,
        json!({"success": false, "message": "兑换失败，该兑换码已被使用"})
    );
    assert_eq!(app.get_self(&s).await["data"]["quota"], 500_000);
}

#[tokio::test]
async fn each_unusable_code_state_has_its_own_message_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let s = app.user("alice").await;
    let expired = app.code(&root, 10).await;
    let disabled = app.code(&root, 10).await;
    app.exec(&format!(
        "UPDATE redemptions SET expires_at = 1 WHERE code = '{expired}'"
    ))
    .await;
    app.exec(&format!(
        "UPDATE redemptions SET status = 2 WHERE code = '{disabled}'"
    ))
    .await;

    let cases = [
        (expired.as_str(), "兑换失败，该兑换码已过期"),
        (disabled.as_str(), "兑换失败，该兑换码已被禁用"),
        ("0123456789abcdef0123456789abcdef", "兑换失败，无效的兑换码"),
        ("", "兑换失败，未提供兑换码"),
        ("   ", "兑换失败，未提供兑换码"),
    ];
    for (key, message) in cases {
        assert_eq!(
            app.redeem(&s, key).await,
            json!({"success": false, "message": message}),
            "{key:?}"
        );
    }
    assert_eq!(app.get_self(&s).await["data"]["quota"], 0);
    let unchanged = app
        .query_i64("SELECT COUNT(*) FROM redemptions WHERE used_by IS NULL AND redeemed_at IS NULL")
        .await;
    assert_eq!(unchanged[0][0], 2);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM ledger").await[0][0], 0);
}

#[tokio::test]
async fn a_credit_that_would_overflow_the_balance_is_refused_and_the_code_stays_unused() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let s = app.user("alice").await;
    let key = app.code(&root, 10).await;
    app.exec(&format!(
        "UPDATE users SET quota = {} WHERE id = {}",
        i64::MAX - 5,
        s.id
    ))
    .await;
    assert_eq!(
        app.redeem(&s, &key).await,
        json!({"success": false, "message": "兑换失败，额度超出上限"})
    );
    let unused = app
        .query_i64(&format!(
            "SELECT status FROM redemptions WHERE code = '{key}'"
        ))
        .await;
    assert_eq!(unused[0][0], 1);
}

#[tokio::test]
async fn redeeming_needs_an_authenticated_user() {
    let app = TestApp::spawn().await;
    let res = send(
        app.client
            .post(app.url("/api/user/topup"))
            .json(&json!({"key": "x"})),
    )
    .await;
    assert_eq!(res.status, 401);
}

/// 32 users redeem one code at the same moment, over HTTP: exactly one wins.
async fn concurrent_redemptions_of_one_code(scratch: ScratchDb) {
    const USERS: usize = 32;
    const QUOTA: i64 = 123_456;
    let app = Arc::new(TestApp::spawn_on(scratch, |s| s.registration.quota_for_new_user = 7).await);
    let root = app.root().await;
    let key = Arc::new(app.code(&root, QUOTA).await);

    let mut sessions = tokio::task::JoinSet::new();
    for i in 0..USERS {
        let app = app.clone();
        sessions.spawn(async move { app.user(&format!("racer{i}")).await });
    }
    let users: Vec<Session> = sessions.join_all().await;

    let barrier = Arc::new(tokio::sync::Barrier::new(USERS));
    let mut racers = tokio::task::JoinSet::new();
    for s in users.clone() {
        let (app, key, barrier) = (app.clone(), key.clone(), barrier.clone());
        racers.spawn(async move {
            barrier.wait().await;
            let reply = app.redeem(&s, &key).await;
            (s.id, reply)
        });
    }
    let results = racers.join_all().await;

    let winners: Vec<i64> = results
        .iter()
        .filter(|(_, r)| r["success"] == true)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one success: {results:?}");
    for (_, r) in results.iter().filter(|(_, r)| r["success"] != true) {
        assert_eq!(r["message"], "兑换失败，该兑换码已被使用", "{r}");
    }
    let owner = app
        .query_i64(&format!(
            "SELECT used_by, status FROM redemptions WHERE code = '{key}'"
        ))
        .await;
    assert_eq!(
        owner[0],
        vec![winners[0], 3],
        "the code belongs to the winner"
    );

    app.assert_ledger_balanced().await;
    for (id, quota) in app.quotas().await {
        if users.iter().any(|u| u.id == id) {
            let expected = if id == winners[0] { QUOTA + 7 } else { 7 };
            assert_eq!(quota, expected, "user {id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_on_file_sqlite() {
    concurrent_redemptions_of_one_code(ScratchDb::sqlite().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_on_postgres() {
    match ScratchDb::postgres_from_env().await.unwrap() {
        Some(db) => concurrent_redemptions_of_one_code(db).await,
        None => eprintln!("TEST_DATABASE_URL unset: PostgreSQL run skipped"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_on_mysql() {
    match ScratchDb::mysql_from_env().await.unwrap() {
        Some(db) => concurrent_redemptions_of_one_code(db).await,
        None => eprintln!("TEST_MYSQL_URL unset: MySQL run skipped"),
    }
}
