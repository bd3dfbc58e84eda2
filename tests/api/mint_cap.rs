//! Issue 7.2: every mint of redemption codes is audited (never with its codes), the ledger
//! entry of a redemption names the code's creator, and a non-root admin may mint at most
//! `AdminMintQuotaDailyLimit` per rolling 24 h, also under concurrency. Root is not capped.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_db::testing::ScratchDb;

use crate::helpers::{ROOT_PASSWORD, ROOT_USERNAME, Session, TestApp};
use crate::reply::send;

/// The `redemption.created` audit entries, newest first, as root reads them.
async fn mint_records(app: &TestApp) -> Vec<Value> {
    let token = app.rest_token(ROOT_USERNAME, ROOT_PASSWORD).await;
    let reply = app.audit_log(&token, "action=redemption.created").await;
    reply["data"]["entries"].as_array().unwrap().clone()
}

fn mint_body(quota: i64, count: i64) -> Value {
    json!({"name": "promo", "quota": quota, "count": count})
}

async fn codes_of(app: &TestApp, s: &Session) -> i64 {
    app.query_i64(&format!(
        "SELECT COUNT(*) FROM redemptions WHERE created_by = {}",
        s.id
    ))
    .await[0][0]
}

#[tokio::test]
async fn every_mint_is_audited_without_its_codes_and_the_ledger_names_the_creator() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let adm = app.admin("adm").await;
    let reply = app.create_codes(&adm, mint_body(1_000, 3)).await;
    assert_eq!(reply["success"], true, "{reply}");
    let keys: Vec<String> = reply["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    app.create_codes(&root, mint_body(5, 1)).await;

    let records = mint_records(&app).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let by_admin = &records[1];
    assert_eq!(by_admin["actor_id"], adm.id);
    assert_eq!(by_admin["ip"], "127.0.0.1");
    assert_eq!(
        by_admin["after"],
        json!({"name": "promo", "count": 3, "quota": 1000, "total": 3000, "expires_at": null})
    );
    assert_eq!(records[0]["actor_id"], root.id);
    let text = serde_json::to_string(&records).unwrap();
    for key in &keys {
        assert!(!text.contains(key.as_str()), "the audit shows a code");
    }

    // The redemption's ledger entry names the admin who minted the code.
    let user = app.user("alice").await;
    assert_eq!(app.redeem(&user, &keys[0]).await["success"], true);
    let actor = app
        .query_i64(&format!(
            "SELECT actor_id FROM ledger WHERE kind = 'redemption' AND user_id = {}",
            user.id
        ))
        .await;
    assert_eq!(actor, [vec![adm.id]]);
}

#[tokio::test]
async fn a_non_root_admin_mints_at_most_the_daily_limit_and_root_is_unlimited() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    app.set_option(&root, "AdminMintQuotaDailyLimit", json!(1_000_000))
        .await
        .success();
    let adm = app.admin("adm").await;

    assert_eq!(
        app.create_codes(&adm, mint_body(200_000, 3)).await["success"],
        true
    );
    // 600,000 minted, 400,000 left: a batch of 500,000 is refused whole.
    let refused = app.create_codes(&adm, mint_body(250_000, 2)).await;
    assert_eq!(
        refused,
        json!({
            "success": false,
            "message": "超出管理员 24 小时内的兑换码生成额度上限，剩余可生成 ＄0.800000 额度"
        })
    );
    assert_eq!(
        codes_of(&app, &adm).await,
        3,
        "a refused batch creates nothing"
    );
    assert_eq!(
        app.create_codes(&adm, mint_body(400_000, 1)).await["success"],
        true
    );
    let over = app.create_codes(&adm, mint_body(1, 1)).await;
    assert_eq!(over["success"], false, "{over}");
    assert_eq!(
        over["message"],
        "超出管理员 24 小时内的兑换码生成额度上限，剩余可生成 ＄0.000000 额度"
    );
    let en = send(
        app.as_user(Method::POST, "/api/redemption/", &adm)
            .header("Accept-Language", "en")
            .json(&mint_body(1, 1)),
    )
    .await;
    assert_eq!(
        en["message"],
        "Exceeds the administrators' minting limit per 24 hours; $0.000000 quota left"
    );
    assert_eq!(codes_of(&app, &adm).await, 4);
    assert_eq!(mint_records(&app).await.len(), 2, "refusals are not mints");

    // Each admin has its own allowance; root has none to exhaust.
    let other = app.admin("other").await;
    assert_eq!(
        app.create_codes(&other, mint_body(1_000_000, 1)).await["success"],
        true
    );
    let huge = app
        .create_codes(&root, mint_body(1_000_000_000_000_000, 100))
        .await;
    assert_eq!(huge["success"], true, "{huge}");

    // The window rolls: codes minted more than 24 h ago no longer count.
    app.exec(&format!(
        "UPDATE redemptions SET created_at = created_at - 86401 WHERE created_by = {}",
        adm.id
    ))
    .await;
    assert_eq!(
        app.create_codes(&adm, mint_body(1_000_000, 1)).await["success"],
        true
    );

    // A limit of 0 leaves minting to root.
    app.set_option(&root, "AdminMintQuotaDailyLimit", json!(0))
        .await
        .success();
    assert_eq!(
        app.create_codes(&other, mint_body(1, 1)).await["success"],
        false
    );
}

#[tokio::test]
async fn the_mint_limit_is_a_validated_root_option_with_a_default() {
    let app = TestApp::spawn().await;
    let root = app.root().await;
    let all = app.call(&root, Method::GET, "/api/option/", None).await;
    let value = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "AdminMintQuotaDailyLimit")
        .map(|o| o["value"].clone());
    assert_eq!(value, Some(json!("500000000")));
    for bad in [json!(-1), json!("lots"), json!(1.5)] {
        let reply = app
            .call(
                &root,
                Method::PUT,
                "/api/option/",
                Some(json!({"key": "AdminMintQuotaDailyLimit", "value": bad})),
            )
            .await;
        assert_eq!(reply["success"], false, "{bad}: {reply}");
    }
    let adm = app.admin("adm").await;
    let reply = app
        .call(
            &adm,
            Method::PUT,
            "/api/option/",
            Some(json!({"key": "AdminMintQuotaDailyLimit", "value": 0})),
        )
        .await;
    assert_eq!(reply["success"], false, "an admin cannot raise its own cap");
}

/// Many concurrent mints by one admin never exceed its cap together.
async fn concurrent_mints_stay_within_the_cap(scratch: ScratchDb) {
    const MINTS: usize = 12;
    let app = Arc::new(TestApp::spawn_on(scratch, |_| {}).await);
    let root = app.root().await;
    app.set_option(&root, "AdminMintQuotaDailyLimit", json!(1_000))
        .await
        .success();
    let adm = app.admin("adm").await;
    // 900 of 1,000 used: the racers contend for the last 100 from the first moment.
    assert_eq!(
        app.create_codes(&adm, mint_body(300, 3)).await["success"],
        true
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(MINTS));
    let mut mints = tokio::task::JoinSet::new();
    for _ in 0..MINTS {
        let (app, adm, barrier) = (app.clone(), adm.clone(), barrier.clone());
        mints.spawn(async move {
            barrier.wait().await;
            app.create_codes(&adm, mint_body(100, 1)).await
        });
    }
    let replies = mints.join_all().await;
    let ok = replies.iter().filter(|r| r["success"] == true).count();
    assert_eq!(ok, 1, "{replies:?}");
    let minted = app
        .query_i64(&format!(
            "SELECT quota FROM redemptions WHERE created_by = {}",
            adm.id
        ))
        .await;
    assert_eq!(minted.iter().map(|r| r[0]).sum::<i64>(), 1_000);
    assert_eq!(mint_records(&app).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mints_stay_within_the_cap_on_file_sqlite() {
    concurrent_mints_stay_within_the_cap(ScratchDb::sqlite().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mints_stay_within_the_cap_on_postgres() {
    match ScratchDb::postgres_from_env().await.unwrap() {
        Some(db) => concurrent_mints_stay_within_the_cap(db).await,
        None => eprintln!("TEST_DATABASE_URL unset: PostgreSQL run skipped"),
    }
}
