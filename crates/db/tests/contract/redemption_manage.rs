//! `RedemptionRepository` after the mint: search, compare-and-set edits and soft deletes, the
//! purge of invalid codes, and an edit racing a redemption.

use tollgate_domain::redemption_manage::is_invalid;
use tollgate_domain::{ManageRedemptionError, RedemptionChanges, RedemptionQuery};

use super::*;

fn named(code_key: &str, name: &str) -> NewRedemption {
    NewRedemption {
        name: name.to_owned(),
        ..code(code_key, 100, None)
    }
}

fn audit(action: AuditAction) -> AuditEntry {
    AuditEntry::new(action, Some(UserId::new(1)), None, NOW)
}

async fn get(repo: &SeaRedemptionRepository, key: &str) -> Redemption {
    let all = repo
        .list(PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap();
    all.items
        .into_iter()
        .find(|r| r.code == key)
        .unwrap_or_else(|| panic!("code {key} not listed"))
}

async fn search_names(repo: &SeaRedemptionRepository, keyword: &str) -> Vec<String> {
    let page = repo
        .search(
            &RedemptionQuery::from_keyword(keyword),
            PageRequest::new(Some(1), Some(100)),
        )
        .await
        .unwrap();
    assert_eq!(page.total as usize, page.items.len(), "{keyword}");
    page.items.into_iter().map(|r| r.name).collect()
}

async fn search_matches_a_name_prefix_case_sensitively_or_the_id(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let names = [
        "promo", "Promo", "promo-2", "promo_x", "promoAx", "100%off", "100 off", "春节", "other",
    ];
    let codes: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| named(&format!("k{i}"), n))
        .collect();
    mint(&repo, &codes).await.unwrap();

    // Newest first; `_` and `%` match literally; case matters on every backend.
    assert_eq!(
        search_names(&repo, "promo").await,
        ["promoAx", "promo_x", "promo-2", "promo"]
    );
    assert_eq!(search_names(&repo, "promo_").await, ["promo_x"]);
    assert_eq!(search_names(&repo, "100%").await, ["100%off"]);
    assert_eq!(search_names(&repo, "Pro").await, ["Promo"]);
    assert_eq!(search_names(&repo, "春").await, ["春节"]);
    assert!(search_names(&repo, "nothing").await.is_empty());
    // No keyword: every live code.
    assert_eq!(search_names(&repo, "").await.len(), names.len());

    // A numeric keyword is also the id.
    let other = get(&repo, "k8").await;
    assert_eq!(
        search_names(&repo, &other.id.to_string()).await,
        ["other"],
        "id {}",
        other.id
    );
    assert_eq!(search_names(&repo, "100").await, ["100 off", "100%off"]);

    // Paging counts every match.
    let page = repo
        .search(
            &RedemptionQuery::from_keyword("promo"),
            PageRequest::new(Some(2), Some(3)),
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (4, 1));
    assert_eq!(page.items[0].name, "promo");

    // Deleted codes are invisible to search and find.
    exec(
        &db,
        "UPDATE redemptions SET deleted_at = 1 WHERE code = 'k0'",
    )
    .await;
    assert_eq!(
        search_names(&repo, "promo").await,
        ["promoAx", "promo_x", "promo-2"]
    );
    let deleted_id = query_i64(&db, "SELECT id FROM redemptions WHERE code = 'k0'").await[0];
    assert_eq!(repo.find(deleted_id).await.unwrap(), None);
    assert_eq!(repo.find(other.id).await.unwrap(), Some(other));
    assert_eq!(repo.find(999_999).await.unwrap(), None);
}

async fn an_edit_applies_over_the_code_as_read_with_its_audit(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    mint(&repo, &[code("edit-me", 500, Some(NOW + 60))])
        .await
        .unwrap();
    let seen = get(&repo, "edit-me").await;
    let changes = RedemptionChanges {
        name: Some("renamed".into()),
        quota: Some(400),
        expires_at: Some(None),
        status: Some(RedemptionStatus::Disabled),
    };
    let (before, after) = changes.audit_values(&seen);
    let entry = audit(AuditAction::RedemptionUpdated).change(before, after);
    let updated = repo.update(&seen, &changes, &entry).await.unwrap();
    assert_eq!(
        updated,
        Redemption {
            name: "renamed".into(),
            quota: 400,
            expires_at: None,
            status: RedemptionStatus::Disabled,
            ..seen.clone()
        }
    );
    assert_eq!(get(&repo, "edit-me").await, updated);
    assert_eq!(audit_count(&db, AuditAction::RedemptionUpdated).await, 1);

    // Setting an expiry again.
    let changes = RedemptionChanges {
        expires_at: Some(Some(NOW + 5)),
        ..RedemptionChanges::default()
    };
    let again = repo
        .update(&updated, &changes, &audit(AuditAction::RedemptionUpdated))
        .await
        .unwrap();
    assert_eq!(again.expires_at, Some(NOW + 5));
}

async fn a_stale_edit_or_delete_changes_nothing(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    mint(
        &repo,
        &[
            code("stale", 500, None),
            code("redeemed", 500, None),
            code("gone", 500, None),
        ],
    )
    .await
    .unwrap();
    let disable = RedemptionChanges {
        status: Some(RedemptionStatus::Disabled),
        ..RedemptionChanges::default()
    };
    let entry = audit(AuditAction::RedemptionUpdated);

    // Another admin changed the quota after this read.
    let stale = get(&repo, "stale").await;
    exec(&db, "UPDATE redemptions SET quota = 1 WHERE code = 'stale'").await;
    let res = repo.update(&stale, &disable, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::Changed)),
        "{res:?}"
    );
    let res = repo.delete(&stale, NOW, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::Changed)),
        "{res:?}"
    );
    assert_eq!(get(&repo, "stale").await.status, RedemptionStatus::Enabled);

    // Redeemed after this read: never disabled, edited or re-enabled over the redemption.
    let unused = get(&repo, "redeemed").await;
    repo.redeem("redeemed", alice.id, NOW).await.unwrap();
    let res = repo.update(&unused, &disable, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::Changed)),
        "{res:?}"
    );
    assert_eq!(get(&repo, "redeemed").await.status, RedemptionStatus::Used);

    // Deleted, or never existed.
    let gone = get(&repo, "gone").await;
    exec(
        &db,
        "UPDATE redemptions SET deleted_at = 1 WHERE code = 'gone'",
    )
    .await;
    let res = repo.update(&gone, &disable, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::NotFound)),
        "{res:?}"
    );
    let res = repo.delete(&gone, NOW, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::NotFound)),
        "{res:?}"
    );
    let never = Redemption {
        id: 999_999,
        ..gone
    };
    let res = repo.delete(&never, NOW, &entry).await;
    assert!(
        matches!(res, Err(ManageRedemptionError::NotFound)),
        "{res:?}"
    );

    assert_eq!(audit_count(&db, AuditAction::RedemptionUpdated).await, 0);
}

async fn a_delete_is_soft_and_the_ledger_keeps_its_reference(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    mint(&repo, &[code("used", 500, None), code("unused", 500, None)])
        .await
        .unwrap();
    let redeemed = repo.redeem("used", alice.id, NOW).await.unwrap();
    for key in ["used", "unused"] {
        let seen = get(&repo, key).await;
        repo.delete(&seen, NOW, &audit(AuditAction::RedemptionDeleted))
            .await
            .unwrap();
        assert_eq!(repo.find(seen.id).await.unwrap(), None);
    }
    assert_eq!(
        repo.list(PageRequest::default()).await.unwrap().total,
        0,
        "deleted codes are not listed"
    );
    // A deleted code cannot be redeemed.
    let res = repo.redeem("unused", alice.id, NOW).await;
    assert!(matches!(res, Err(RedeemError::NotFound)), "{res:?}");
    // The rows stay, so the ledger's reference still names an existing code.
    let id = redeemed.redemption_id;
    let rows = |sql: String| {
        let db = db.clone();
        async move { query_i64(&db, &sql).await }
    };
    assert_eq!(
        rows(format!(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'redemption' AND reference = '{id}'"
        ))
        .await,
        [1]
    );
    assert_eq!(
        rows(format!("SELECT COUNT(*) FROM redemptions WHERE id = {id}")).await,
        [1]
    );
    assert_eq!(
        query_i64(
            &db,
            &format!("SELECT deleted_at FROM redemptions WHERE deleted_at = {NOW}")
        )
        .await,
        [NOW, NOW]
    );
    assert_eq!(audit_count(&db, AuditAction::RedemptionDeleted).await, 2);
    assert_eq!(imbalances(&db).await, []);
}

async fn the_purge_deletes_exactly_the_invalid_codes(db: DatabaseConnection) {
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let codes = [
        code("enabled", 1, None),
        code("expires-later", 1, Some(NOW + 1)),
        code("expires-now", 1, Some(NOW)),
        code("expired", 1, Some(NOW - 1)),
        code("disabled", 1, None),
        code("disabled-later", 1, Some(NOW + 1)),
        code("used", 1, None),
        code("deleted-used", 1, None),
    ];
    mint(&repo, &codes).await.unwrap();
    // `expired` is arranged by hand: it could not be minted in the past.
    exec(
        &db,
        "UPDATE redemptions SET status = 2 WHERE code IN ('disabled', 'disabled-later')",
    )
    .await;
    repo.redeem("used", alice.id, NOW).await.unwrap();
    repo.redeem("deleted-used", alice.id, NOW).await.unwrap();
    exec(
        &db,
        "UPDATE redemptions SET deleted_at = 1 WHERE code = 'deleted-used'",
    )
    .await;

    let live = repo
        .list(PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items;
    let mut expected: Vec<i64> = live
        .iter()
        .filter(|r| is_invalid(r, NOW))
        .map(|r| r.id)
        .collect();
    expected.sort_unstable();
    assert_eq!(expected.len(), 4, "expired, disabled, disabled-later, used");

    let purged = repo
        .delete_invalid(NOW, &audit(AuditAction::RedemptionsPurged))
        .await
        .unwrap();
    assert_eq!(purged, 4);
    let left: Vec<String> = repo
        .list(PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(left, ["expires-now", "expires-later", "enabled"]);

    let backend = db.get_database_backend();
    let (before, after) = (quoted(backend, "before"), quoted(backend, "after"));
    let stmt = Statement::from_string(
        backend,
        format!("SELECT {before}, {after}, actor_id FROM audit WHERE action = 'redemption.purged'"),
    );
    let rows = db.query_all_raw(stmt).await.unwrap();
    assert_eq!(rows.len(), 1);
    let text = |i| rows[0].try_get_by_index::<String>(i).unwrap();
    let before: serde_json::Value = serde_json::from_str(&text(0)).unwrap();
    let after: serde_json::Value = serde_json::from_str(&text(1)).unwrap();
    assert_eq!(before, serde_json::json!({ "ids": expected }));
    assert_eq!(after, serde_json::json!({ "count": 4 }));

    // Nothing left to purge: nothing deleted, nothing audited.
    let again = repo
        .delete_invalid(NOW, &audit(AuditAction::RedemptionsPurged))
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(audit_count(&db, AuditAction::RedemptionsPurged).await, 1);
    assert_eq!(imbalances(&db).await, []);
}

fn quoted(backend: sea_orm::DbBackend, column: &str) -> String {
    match backend {
        sea_orm::DbBackend::MySql => format!("`{column}`"),
        _ => format!("\"{column}\""),
    }
}

/// An admin disabling or re-pricing an unused code while users redeem it: either the edit
/// lands first (the redemption then credits the new quota or is refused), or the redemption
/// does (the edit is refused as changed). Never both, and the ledger always credits the
/// quota the code shows.
async fn edits_racing_redemptions_never_lose_an_update(db: DatabaseConnection) {
    const ROUNDS: usize = 12;
    let repo = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let mut credited = 0;
    for round in 0..ROUNDS {
        let key = format!("race-{round}");
        mint(&repo, &[code(&key, 1_000, None)]).await.unwrap();
        let seen = get(&repo, &key).await;
        let changes = if round % 2 == 0 {
            RedemptionChanges {
                status: Some(RedemptionStatus::Disabled),
                ..RedemptionChanges::default()
            }
        } else {
            RedemptionChanges {
                quota: Some(400),
                ..RedemptionChanges::default()
            }
        };
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let edit = {
            let (repo, start, seen, changes) =
                (repo.clone(), start.clone(), seen.clone(), changes.clone());
            tokio::spawn(async move {
                start.wait().await;
                repo.update(&seen, &changes, &audit(AuditAction::RedemptionUpdated))
                    .await
            })
        };
        let redeem = {
            let (repo, start, key) = (repo.clone(), start.clone(), key.clone());
            tokio::spawn(async move {
                start.wait().await;
                repo.redeem(&key, alice.id, NOW).await
            })
        };
        let (edit, redeem) = (edit.await.unwrap(), redeem.await.unwrap());
        let stored = get(&repo, &key).await;
        match (&edit, &redeem) {
            (Ok(_), Ok(r)) => {
                // The edit landed first: only a re-pricing lets the redemption through,
                // at the new quota.
                assert_eq!(changes.quota, Some(400), "round {round}");
                assert_eq!((r.quota, stored.quota), (400, 400), "round {round}");
                assert_eq!(stored.status, RedemptionStatus::Used);
                credited += 400;
            }
            (Ok(_), Err(RedeemError::Disabled)) => {
                assert_eq!(stored.status, RedemptionStatus::Disabled, "round {round}");
            }
            (Err(ManageRedemptionError::Changed), Ok(r)) => {
                assert_eq!((r.quota, stored.quota), (1_000, 1_000), "round {round}");
                assert_eq!(stored.status, RedemptionStatus::Used, "round {round}");
                credited += 1_000;
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    let users = SeaUserRepository::new(db.clone());
    assert_eq!(
        users
            .find_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .quota,
        credited
    );
    assert_eq!(imbalances(&db).await, []);
}

stories!(
    search_matches_a_name_prefix_case_sensitively_or_the_id,
    an_edit_applies_over_the_code_as_read_with_its_audit,
    a_stale_edit_or_delete_changes_nothing,
    a_delete_is_soft_and_the_ledger_keeps_its_reference,
    the_purge_deletes_exactly_the_invalid_codes,
    ;
    concurrent:
    edits_racing_redemptions_never_lose_an_update,
);
