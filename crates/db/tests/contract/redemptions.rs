//! `RedemptionRepository`: listing, minting under a cap, redeeming through the ledger.

use super::*;

async fn codes_are_listed_newest_first_in_pages(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let codes: Vec<_> = (0..25)
        .map(|i| code(&format!("code-{i:02}"), 100 + i, None))
        .collect();
    mint(&repo, &codes).await.unwrap();
    mint(&repo, &[]).await.unwrap();

    let first = repo
        .list(PageRequest::new(Some(1), Some(10)))
        .await
        .unwrap();
    assert_eq!((first.total, first.items.len()), (25, 10));
    assert_eq!(first.request, PageRequest::new(Some(1), Some(10)));
    assert_eq!(first.items[0].code, "code-24");
    assert!(
        first.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest id first"
    );
    let c = &first.items[0];
    assert_eq!(
        (c.status, c.quota, c.name.as_str()),
        (RedemptionStatus::Enabled, 124, "promo")
    );
    assert_eq!(
        (c.created_by, c.created_at, c.expires_at),
        (UserId::new(1), NOW, None)
    );
    assert_eq!((c.used_by, c.redeemed_at), (None, None));

    let third = repo
        .list(PageRequest::new(Some(3), Some(10)))
        .await
        .unwrap();
    assert_eq!((third.total, third.items.len()), (25, 5));
    assert_eq!(third.items.last().unwrap().code, "code-00");
    let beyond = repo
        .list(PageRequest::new(Some(4), Some(10)))
        .await
        .unwrap();
    assert_eq!((beyond.total, beyond.items.len()), (25, 0));
    let absurd = repo
        .list(PageRequest::new(Some(i64::MAX), Some(100)))
        .await
        .unwrap();
    assert!(absurd.items.is_empty());

    // Soft-deleted codes are not listed or counted.
    exec(
        &db,
        "UPDATE redemptions SET deleted_at = 1 WHERE code = 'code-24'",
    )
    .await;
    let first = repo
        .list(PageRequest::new(Some(1), Some(10)))
        .await
        .unwrap();
    assert_eq!((first.total, first.items[0].code.as_str()), (24, "code-23"));
}

async fn duplicate_code_refuses_the_whole_batch(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    mint(&repo, &[code("taken", 1, None)]).await.unwrap();

    let batch = [
        code("fresh-1", 1, None),
        code("taken", 1, None),
        code("fresh-2", 1, None),
    ];
    let res = mint(&repo, &batch).await;
    assert!(
        matches!(res, Err(CreateRedemptionsError::CodeCollision)),
        "{res:?}"
    );

    let within = [code("twin", 1, None), code("twin", 1, None)];
    let res = mint(&repo, &within).await;
    assert!(
        matches!(res, Err(CreateRedemptionsError::CodeCollision)),
        "{res:?}"
    );

    let listed = repo.list(PageRequest::default()).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].code, "taken");
}

async fn redeem_credits_once_through_the_ledger(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 100).await;
    let bob = create_user(&db, "bob", 0).await;
    // The code's creator, an admin that is neither redeemer.
    let creator = UserId::new(4242);
    let gift = NewRedemption {
        expires_at: Some(NOW + 60),
        ..code_by(creator, "gift", 500, NOW)
    };
    mint(&repo, &[gift]).await.unwrap();
    let id = find_code(&db, "gift").await.id;

    let redeemed = repo.redeem("gift", alice.id, NOW).await.unwrap();
    assert_eq!(
        (
            redeemed.redemption_id,
            redeemed.quota,
            redeemed.balance_after
        ),
        (id, 500, 600)
    );

    let used = find_code(&db, "gift").await;
    assert_eq!(used.status, RedemptionStatus::Used);
    assert_eq!(
        (used.used_by, used.redeemed_at),
        (Some(alice.id), Some(NOW))
    );
    let users = SeaUserRepository::new(db.clone());
    assert_eq!(
        users
            .find_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .quota,
        600
    );

    let row = query_i64(
        &db,
        &format!(
            "SELECT balance_after FROM ledger WHERE kind = 'redemption' AND reference = '{id}' \
             AND user_id = {} AND actor_id = {} AND delta = 500 AND account = 'quota' \
             AND created_at = {NOW}",
            alice.id,
            creator.get()
        ),
    )
    .await;
    assert_eq!(row, [600]);
    assert_eq!(imbalances(&db).await, []);

    for user in [alice.id, bob.id] {
        let again = repo.redeem("gift", user, NOW).await;
        assert!(matches!(again, Err(RedeemError::AlreadyUsed)), "{again:?}");
    }
    assert_eq!(
        users
            .find_by_id(bob.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .quota,
        0
    );
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [2]);
}

async fn unavailable_codes_say_why(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    mint(
        &repo,
        &[
            code("disabled", 10, None),
            code("expired", 10, Some(NOW - 1)),
            code("last-second", 10, Some(NOW)),
            code("deleted", 10, None),
        ],
    )
    .await
    .unwrap();
    exec(
        &db,
        "UPDATE redemptions SET status = 2 WHERE code = 'disabled'",
    )
    .await;
    exec(
        &db,
        "UPDATE redemptions SET deleted_at = 1 WHERE code = 'deleted'",
    )
    .await;

    let res = repo.redeem("disabled", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::Disabled)), "{res:?}");
    let res = repo.redeem("expired", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::Expired)), "{res:?}");
    let res = repo.redeem("unknown", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::NotFound)), "{res:?}");
    let res = repo.redeem("deleted", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::NotFound)), "{res:?}");
    let res = repo.redeem("", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::EmptyCode)), "{res:?}");

    // A code expiring at `now` is still valid.
    assert_eq!(
        repo.redeem("last-second", alice.id, NOW)
            .await
            .unwrap()
            .balance_after,
        10
    );

    // Nothing else moved.
    assert_eq!(find_code(&db, "disabled").await.used_by, None);
    assert_eq!(
        find_code(&db, "expired").await.status,
        RedemptionStatus::Enabled
    );
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);
    assert_eq!(imbalances(&db).await, []);
}

async fn overflowing_redeem_applies_nothing(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let rich = create_user(&db, "rich", 0).await;
    let near_max = i64::MAX - 5;
    exec(
        &db,
        &format!("UPDATE users SET quota = {near_max} WHERE id = {}", rich.id),
    )
    .await;
    mint(&repo, &[code("big", 10, None)]).await.unwrap();

    let res = repo.redeem("big", rich.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::BalanceOverflow)), "{res:?}");

    let big = find_code(&db, "big").await;
    assert_eq!(
        (big.status, big.used_by, big.redeemed_at),
        (RedemptionStatus::Enabled, None, None)
    );
    let users = SeaUserRepository::new(db.clone());
    assert_eq!(
        users
            .find_by_id(rich.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .quota,
        near_max
    );
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [0]);

    // Exactly up to i64::MAX is fine.
    mint(&repo, &[code("exact", 5, None)]).await.unwrap();
    assert_eq!(
        repo.redeem("exact", rich.id, NOW)
            .await
            .unwrap()
            .balance_after,
        i64::MAX
    );
}

async fn redeem_for_a_missing_account_applies_nothing(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let gone = create_user(&db, "gone", 0).await;
    exec(
        &db,
        &format!("UPDATE users SET deleted_at = {NOW} WHERE id = {}", gone.id),
    )
    .await;
    mint(&repo, &[code("gift", 10, None)]).await.unwrap();

    for user in [UserId::new(999_999), gone.id] {
        let res = repo.redeem("gift", user, NOW).await;
        assert!(
            matches!(res, Err(RedeemError::AccountUnavailable)),
            "{res:?}"
        );
    }
    assert_eq!(
        find_code(&db, "gift").await.status,
        RedemptionStatus::Enabled
    );
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [0]);
}

async fn concurrent_redeemers_have_exactly_one_winner(db: DatabaseConnection) {
    const USERS: usize = 32;
    let repo = SeaRedemptionRepository::new(db.clone());
    let mut ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        ids.push(create_user(&db, &format!("user-{i}"), 0).await.id);
    }
    mint(&repo, &[code("race", 1_000, None)]).await.unwrap();

    let start = std::sync::Arc::new(tokio::sync::Barrier::new(USERS));
    let tasks: Vec<_> = ids
        .iter()
        .map(|&user| {
            let repo = repo.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                (user, repo.redeem("race", user, NOW).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (user, res) = task.await.unwrap();
        match res {
            Ok(redeemed) => {
                assert_eq!((redeemed.quota, redeemed.balance_after), (1_000, 1_000));
                winners.push(user);
            }
            Err(RedeemError::AlreadyUsed) => {}
            Err(other) => panic!("user {user}: unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let race = find_code(&db, "race").await;
    assert_eq!(
        (race.status, race.used_by),
        (RedemptionStatus::Used, Some(winners[0]))
    );
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);
    // SUM of BIGINT decodes as NUMERIC/DECIMAL on PostgreSQL/MySQL: add up in Rust.
    let total: i64 = query_i64(&db, "SELECT quota FROM users").await.iter().sum();
    assert_eq!(total, 1_000);
    assert_eq!(imbalances(&db).await, []);
}

/// The cap of the stories below: 1000 units per rolling 24 h before `NOW`.
const CAP: MintCap = MintCap {
    limit: 1_000,
    since: NOW - 86_400,
};

async fn audit_rows(db: &DatabaseConnection) -> Vec<i64> {
    query_i64(
        db,
        "SELECT actor_id FROM audit WHERE action = 'redemption.created' ORDER BY id",
    )
    .await
}

async fn a_mint_and_its_audit_record_commit_together(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let admin = create_user(&db, "admin", 0).await;
    let batch = [
        code_by(admin.id, "one", 300, NOW),
        code_by(admin.id, "two", 300, NOW),
    ];
    repo.create_batch(&batch, None, &mint_audit(admin.id, 600))
        .await
        .unwrap();
    assert_eq!(audit_rows(&db).await, [admin.id.get()]);
    let stmt = Statement::from_string(
        db.get_database_backend(),
        "SELECT after FROM audit WHERE action = 'redemption.created'",
    );
    let after: String = db
        .query_one_raw(stmt)
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(after, r#"{"total":600}"#);

    // A refused batch leaves neither codes nor a record.
    let clash = [
        code_by(admin.id, "three", 1, NOW),
        code_by(admin.id, "one", 1, NOW),
    ];
    let res = repo
        .create_batch(&clash, Some(CAP), &mint_audit(admin.id, 2))
        .await;
    assert!(
        matches!(res, Err(CreateRedemptionsError::CodeCollision)),
        "{res:?}"
    );
    assert_eq!(audit_rows(&db).await, [admin.id.get()]);
    assert_eq!(
        query_i64(&db, "SELECT COUNT(*) FROM redemptions").await,
        [2]
    );
}

async fn the_mint_cap_counts_the_creators_codes_of_the_last_24_hours(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let admin = create_user(&db, "admin", 0).await;
    let other = create_user(&db, "other", 0).await;
    let capped = |name: &str, quota: i64| {
        let repo = repo.clone();
        let batch = [code_by(admin.id, name, quota, NOW)];
        async move {
            repo.create_batch(&batch, Some(CAP), &mint_audit(admin.id, quota))
                .await
        }
    };
    // Outside the window, or another admin's: not counted.
    mint(&repo, &[code_by(admin.id, "old", 50_000, NOW - 86_400)])
        .await
        .unwrap();
    mint(&repo, &[code_by(other.id, "theirs", 50_000, NOW)])
        .await
        .unwrap();

    capped("a", 600).await.unwrap();
    let res = capped("b", 401).await;
    assert!(
        matches!(
            res,
            Err(CreateRedemptionsError::MintLimitExceeded {
                limit: 1_000,
                remaining: 400
            })
        ),
        "{res:?}"
    );
    capped("c", 400).await.unwrap();
    let res = capped("d", 1).await;
    assert!(
        matches!(
            res,
            Err(CreateRedemptionsError::MintLimitExceeded { remaining: 0, .. })
        ),
        "{res:?}"
    );
    // Used and deleted codes still count: the cap limits what was minted.
    exec(
        &db,
        "UPDATE redemptions SET status = 3, deleted_at = 1 WHERE code = 'a'",
    )
    .await;
    assert!(capped("e", 1).await.is_err());

    let mine = query_i64(
        &db,
        &format!(
            "SELECT quota FROM redemptions WHERE created_by = {} AND created_at > {} ORDER BY id",
            admin.id.get(),
            CAP.since
        ),
    )
    .await;
    assert_eq!(mine, [600, 400], "refused batches inserted nothing");
    assert_eq!(
        audit_rows(&db).await,
        [
            admin.id.get(),
            other.id.get(),
            admin.id.get(),
            admin.id.get()
        ]
    );

    // A creator that is gone cannot mint under a cap.
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = 1 WHERE id = {}",
            other.id.get()
        ),
    )
    .await;
    let res = repo
        .create_batch(
            &[code_by(other.id, "ghost", 1, NOW)],
            Some(CAP),
            &mint_audit(other.id, 1),
        )
        .await;
    assert!(
        matches!(res, Err(CreateRedemptionsError::Forbidden)),
        "{res:?}"
    );
}

async fn concurrent_capped_mints_never_exceed_the_cap(db: DatabaseConnection) {
    const MINTERS: usize = 16;
    let repo = SeaRedemptionRepository::new(db.clone());
    let admin = create_user(&db, "admin", 0).await;
    // 900 of 1000 used: the racers contend for the last 100 from the first moment.
    mint(&repo, &[code_by(admin.id, "earlier", 900, NOW)])
        .await
        .unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(MINTERS));
    let tasks: Vec<_> = (0..MINTERS)
        .map(|i| {
            let (repo, start) = (repo.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let batch = [code_by(admin.id, &format!("race-{i}"), 100, NOW)];
                repo.create_batch(&batch, Some(CAP), &mint_audit(admin.id, 100))
                    .await
            })
        })
        .collect();
    let mut minted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => minted += 1,
            Err(CreateRedemptionsError::MintLimitExceeded { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(minted, 1, "exactly one racer fits under the cap");
    let quotas = query_i64(&db, "SELECT quota FROM redemptions").await;
    assert_eq!(quotas.iter().sum::<i64>(), 1_000);
    assert_eq!(audit_rows(&db).await.len(), 2);
}

stories!(
    codes_are_listed_newest_first_in_pages,
    duplicate_code_refuses_the_whole_batch,
    redeem_credits_once_through_the_ledger,
    unavailable_codes_say_why,
    overflowing_redeem_applies_nothing,
    redeem_for_a_missing_account_applies_nothing,
    a_mint_and_its_audit_record_commit_together,
    the_mint_cap_counts_the_creators_codes_of_the_last_24_hours,
    ;
    concurrent:
    concurrent_redeemers_have_exactly_one_winner,
    concurrent_capped_mints_never_exceed_the_cap,
);
