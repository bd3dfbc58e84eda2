//! `UserRepository`: registration, lookups, unique keys, access tokens.

use super::*;

async fn user_is_created_and_found_by_id_username_and_credentials(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = users.create(&new_user("alice", "AFF1", 0)).await.unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.role, Role::User);
    assert_eq!(alice.status, UserStatus::Enabled);
    assert_eq!(alice.group, "default");
    assert_eq!((alice.balances.quota, alice.affiliate.quota), (0, 0));
    assert_eq!(alice.affiliate.code.as_deref(), Some("AFF1"));
    assert_eq!(alice.created_at, NOW);
    assert_eq!((alice.email.clone(), alice.deleted_at), (None, None));

    assert_eq!(
        users.find_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        users.find_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(users.find_by_username("nobody").await.unwrap(), None);
    assert_eq!(users.find_by_id(UserId::new(999_999)).await.unwrap(), None);

    let (found, hash) = users.find_credentials("alice").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (alice.id, "hash-of-alice"));
    assert!(users.find_credentials("nobody").await.unwrap().is_none());

    // Not by e-mail (issue 7.7): every stored address is unverified, so none is a login name.
    exec(
        &db,
        &format!(
            "UPDATE users SET email = 'alice@example.com' WHERE id = {}",
            alice.id
        ),
    )
    .await;
    assert!(
        users
            .find_credentials("alice@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // Deleted users cannot log in but are still found by id and name.
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = {NOW} WHERE id = {}",
            alice.id
        ),
    )
    .await;
    assert!(users.find_credentials("alice").await.unwrap().is_none());
    let deleted = users.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(deleted.deleted_at, Some(NOW));
    assert!(users.find_by_username("alice").await.unwrap().is_some());
}

async fn unicode_username_round_trips(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db);
    let name = "名".repeat(20);
    let created = users.create(&new_user(&name, "AFF-U", 0)).await.unwrap();
    assert_eq!(created.username, name);
    assert_eq!(
        users.find_by_username(&name).await.unwrap().unwrap().id,
        created.id
    );
}

async fn duplicate_username_is_username_taken(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    users.create(&new_user("alice", "AFF1", 100)).await.unwrap();
    let again = users.create(&new_user("alice", "AFF2", 100)).await;
    assert!(
        matches!(again, Err(CreateUserError::UsernameTaken)),
        "{again:?}"
    );

    // A deleted user's name stays reserved.
    exec(
        &db,
        "UPDATE users SET deleted_at = 1 WHERE username = 'alice'",
    )
    .await;
    let again = users.create(&new_user("alice", "AFF3", 100)).await;
    assert!(
        matches!(again, Err(CreateUserError::UsernameTaken)),
        "{again:?}"
    );

    // Nothing of the refused users was kept: one user, one ledger row.
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM users").await, [1]);
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);
}

/// Text compares byte for byte on every backend (MySQL's default collation would fold case);
/// usernames collide case-insensitively through their key only (issue 7.6).
async fn usernames_and_codes_are_case_sensitive_everywhere(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let lower = users.create(&new_user("alice", "abcd", 0)).await.unwrap();
    let found = users.find_by_username("ALICE").await.unwrap();
    assert!(found.is_none(), "{found:?}");
    let codes = SeaRedemptionRepository::new(db);
    mint(&codes, &[code("cafe", 1, None), code("CAFE", 1, None)])
        .await
        .unwrap();
    assert!(matches!(
        codes.redeem("Cafe", lower.id, NOW).await,
        Err(RedeemError::NotFound)
    ));
}

async fn duplicate_aff_code_is_aff_code_taken(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    users.create(&new_user("alice", "SAME", 0)).await.unwrap();
    let dup = users.create(&new_user("bob", "SAME", 100)).await;
    assert!(matches!(dup, Err(CreateUserError::AffCodeTaken)), "{dup:?}");
    assert!(users.find_by_username("bob").await.unwrap().is_none());
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [0]);
}

async fn signup_bonus_is_a_ledger_entry_and_imbalances_are_reported(db: DatabaseConnection) {
    let alice = create_user(&db, "alice", 500).await;
    let bob = create_user(&db, "bob", 0).await;
    assert_eq!(alice.balances.quota, 500);
    assert_eq!(bob.balances.quota, 0);

    let row = query_i64(
        &db,
        &format!(
            "SELECT delta FROM ledger WHERE user_id = {} AND account = 'quota' \
             AND kind = 'signup_bonus' AND reference = '{}' AND balance_after = 500 \
             AND created_at = {NOW} AND actor_id IS NULL",
            alice.id, alice.id
        ),
    )
    .await;
    assert_eq!(row, [500]);
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);
    assert_eq!(imbalances(&db).await, []);

    // A balance changed behind the ledger's back is reported, per account.
    exec(
        &db,
        &format!("UPDATE users SET quota = quota + 1 WHERE id = {}", alice.id),
    )
    .await;
    exec(
        &db,
        &format!("UPDATE users SET aff_quota = 7 WHERE id = {}", bob.id),
    )
    .await;
    assert_eq!(
        imbalances(&db).await,
        [
            Imbalance {
                user_id: alice.id,
                account: Account::Quota,
                balance: 501,
                ledger_sum: 500
            },
            Imbalance {
                user_id: bob.id,
                account: Account::AffQuota,
                balance: 7,
                ledger_sum: 0
            },
        ]
    );
}

async fn root_exists_only_for_a_live_root(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    assert!(!users.root_exists().await.unwrap());
    users.create(&new_user("alice", "AFF1", 0)).await.unwrap();
    assert!(!users.root_exists().await.unwrap());
    let mut root = new_user("root", "AFF2", 0);
    root.role = Role::Root;
    let root = users.create(&root).await.unwrap();
    assert_eq!(root.role, Role::Root);
    assert!(users.root_exists().await.unwrap());
    exec(
        &db,
        &format!("UPDATE users SET deleted_at = {NOW} WHERE id = {}", root.id),
    )
    .await;
    assert!(!users.root_exists().await.unwrap());
}

async fn a_second_root_is_refused_even_when_created_at_the_same_moment(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let root = |i: usize| {
        let mut u = new_user(&format!("root{i}"), &format!("ROOT{i}"), 0);
        u.role = Role::Root;
        u
    };
    let attempts: Vec<_> = (0..4)
        .map(|i| {
            let users = users.clone();
            let new = root(i);
            tokio::spawn(async move { users.create(&new).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => created += 1,
            Err(CreateUserError::RootExists) => {}
            Err(e) => panic!("unexpected outcome: {e:?}"),
        }
    }
    assert_eq!(created, 1);
    let roots = query_i64(&db, "SELECT COUNT(*) FROM users WHERE role = 100").await;
    assert_eq!(roots, [1]);
    // Other roles are not affected; a deleted root no longer counts.
    users.create(&new_user("after", "AFTER1", 0)).await.unwrap();
    exec(
        &db,
        &format!("UPDATE users SET deleted_at = {NOW} WHERE role = 100"),
    )
    .await;
    users.create(&root(9)).await.unwrap();
}

async fn access_token_is_set_found_and_collisions_refused(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let first = TokenHash::from_hex("a".repeat(64));
    let second = TokenHash::from_hex("b".repeat(64));
    let rotated = |id| self_audit(AuditAction::AccessTokenRotated, id);

    assert_eq!(users.find_by_access_token(&first).await.unwrap(), None);
    users
        .set_access_token(alice.id, &first, &rotated(alice.id))
        .await
        .unwrap();
    assert_eq!(
        users
            .find_by_access_token(&first)
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    // Setting the same token again is not a collision with oneself.
    users
        .set_access_token(alice.id, &first, &rotated(alice.id))
        .await
        .unwrap();
    assert_eq!(audit_count(&db, AuditAction::AccessTokenRotated).await, 2);

    let taken = users
        .set_access_token(bob.id, &first, &rotated(bob.id))
        .await;
    assert!(
        matches!(taken, Err(SetAccessTokenError::Collision)),
        "{taken:?}"
    );
    // A refused change is not audited: the record commits with the token or not at all.
    assert_eq!(audit_count(&db, AuditAction::AccessTokenRotated).await, 2);
    assert_eq!(
        users
            .find_by_access_token(&first)
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );

    // Replacing the token retires the old one.
    users
        .set_access_token(alice.id, &second, &rotated(alice.id))
        .await
        .unwrap();
    assert_eq!(users.find_by_access_token(&first).await.unwrap(), None);
    users
        .set_access_token(bob.id, &first, &rotated(bob.id))
        .await
        .unwrap();
    assert_eq!(
        users
            .find_by_access_token(&first)
            .await
            .unwrap()
            .unwrap()
            .id,
        bob.id
    );

    // A deleted user's token no longer authenticates.
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = {NOW} WHERE id = {}",
            alice.id
        ),
    )
    .await;
    assert_eq!(users.find_by_access_token(&second).await.unwrap(), None);

    // An unknown user is an error, not a silent no-op.
    let missing = users
        .set_access_token(
            UserId::new(999_999),
            &TokenHash::from_hex("c"),
            &rotated(UserId::new(999_999)),
        )
        .await;
    assert!(
        matches!(missing, Err(SetAccessTokenError::Unexpected(_))),
        "{missing:?}"
    );
    assert_eq!(audit_count(&db, AuditAction::AccessTokenRotated).await, 4);
    let filter = AuditFilter {
        action: Some(AuditAction::AccessTokenRotated),
        ..Default::default()
    };
    let audited = SeaAuditRepository::new(db.clone())
        .list(&filter, PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items;
    assert!(
        audited.iter().all(|r| r.entry.actor_id == r.entry.target_id
            && r.entry.before.is_none()
            && r.entry.after.is_none()),
        "by and about the user, and never the token: {audited:?}"
    );
}

async fn password_hash_and_login_time_are_updated(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    assert_eq!(alice.last_login_at, None);

    users.set_password_hash(alice.id, "new-hash").await.unwrap();
    let (_, hash) = users.find_credentials("alice").await.unwrap().unwrap();
    assert_eq!(hash, "new-hash");

    users.record_login(alice.id, NOW + 60).await.unwrap();
    users.record_login(alice.id, NOW + 60).await.unwrap(); // same value: still one row matched
    assert_eq!(
        users
            .find_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .last_login_at,
        Some(NOW + 60)
    );

    assert!(
        users
            .set_password_hash(UserId::new(999_999), "x")
            .await
            .is_err()
    );
    assert!(users.record_login(UserId::new(999_999), NOW).await.is_err());
}

async fn unknown_role_or_status_code_is_an_error(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    exec(
        &db,
        &format!("UPDATE users SET role = 50 WHERE id = {}", alice.id),
    )
    .await;
    assert!(users.find_by_id(alice.id).await.is_err());
    exec(
        &db,
        &format!(
            "UPDATE users SET role = 1, status = 9 WHERE id = {}",
            alice.id
        ),
    )
    .await;
    assert!(users.find_by_username("alice").await.is_err());
}

stories!(
    user_is_created_and_found_by_id_username_and_credentials,
    unicode_username_round_trips,
    duplicate_username_is_username_taken,
    usernames_and_codes_are_case_sensitive_everywhere,
    duplicate_aff_code_is_aff_code_taken,
    signup_bonus_is_a_ledger_entry_and_imbalances_are_reported,
    root_exists_only_for_a_live_root,
    access_token_is_set_found_and_collisions_refused,
    password_hash_and_login_time_are_updated,
    unknown_role_or_status_code_is_an_error;
    concurrent: a_second_root_is_refused_even_when_created_at_the_same_moment,
);
