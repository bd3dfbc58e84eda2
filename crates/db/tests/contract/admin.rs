//! `UserRepository`, admin writes: compare-and-set on the state the admin read; username keys.

use super::*;

fn admin_audit(action: AuditAction, target: UserId) -> AuditEntry {
    AuditEntry::new(action, Some(UserId::new(1)), Some(target), NOW)
}

fn set_state(role: Role, status: UserStatus, delete: bool) -> StateChange {
    StateChange {
        role,
        status,
        delete,
        revoke: true,
    }
}

async fn reread(users: &SeaUserRepository, id: UserId) -> User {
    users.find_by_id(id).await.unwrap().unwrap()
}

async fn admin_writes_apply_only_to_the_state_they_read(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 100).await;
    sessions
        .create(&session("alice-web", alice.id, NOW + 100))
        .await
        .unwrap();
    let live = |db: DatabaseConnection| async move {
        active_user(
            &SeaSessionRepository::new(db),
            &TokenHash::from_hex("alice-web"),
            NOW,
        )
        .await
        .unwrap()
        .is_some()
    };
    let audits = |db: DatabaseConnection| async move {
        query_i64(&db, "SELECT COUNT(*) FROM audit").await[0]
    };

    // A write on the state as read applies, with its audit record.
    let stale = reread(&users, alice.id).await;
    let promoted = users
        .admin_set_state(
            &stale,
            &StateChange {
                revoke: false,
                ..set_state(Role::Admin, UserStatus::Enabled, false)
            },
            &admin_audit(AuditAction::UserPromoted, alice.id),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(audits(db.clone()).await, 1);

    // Every write based on the old read is refused as Changed, and writes nothing: no state,
    // no revocation, no ledger entry, no audit record.
    let disable = users
        .admin_set_state(
            &stale,
            &set_state(Role::User, UserStatus::Disabled, false),
            &admin_audit(AuditAction::UserDisabled, alice.id),
            NOW,
        )
        .await;
    assert!(
        matches!(disable, Err(AdminWriteError::Changed)),
        "{disable:?}"
    );
    let quota = AdminChanges {
        quota: Some(999),
        ..Default::default()
    };
    let edit = users
        .admin_update(
            &stale,
            &quota,
            UserId::new(1),
            &[admin_audit(AuditAction::QuotaChanged, alice.id)],
            NOW,
        )
        .await;
    assert!(matches!(edit, Err(AdminUpdateError::Changed)), "{edit:?}");
    let gone = users
        .hard_delete(&stale, &admin_audit(AuditAction::UserHardDeleted, alice.id))
        .await;
    assert!(matches!(gone, Err(AdminWriteError::Changed)), "{gone:?}");
    let now = reread(&users, alice.id).await;
    assert_eq!(
        (now.role, now.status, now.balances.quota),
        (Role::Admin, UserStatus::Enabled, 100)
    );
    assert!(live(db.clone()).await, "the refused writes revoked nothing");
    assert_eq!(audits(db.clone()).await, 1);
    assert_eq!(imbalances(&db).await, []);
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);

    // An audited field that moved since the read refuses the update (its "before" would lie).
    let fresh = reread(&users, alice.id).await;
    users
        .update_profile(
            alice.id,
            &ProfileChanges {
                display_name: Some(DisplayName::parse("Renamed").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rename = AdminChanges {
        display_name: Some(DisplayName::parse("By admin").unwrap()),
        ..Default::default()
    };
    let edit = users
        .admin_update(
            &fresh,
            &rename,
            UserId::new(1),
            &[admin_audit(AuditAction::UserUpdated, alice.id)],
            NOW,
        )
        .await;
    assert!(matches!(edit, Err(AdminUpdateError::Changed)), "{edit:?}");
    assert_eq!(reread(&users, alice.id).await.display_name, "Renamed");
    // Fields that did not change are not compared: another field's edit applies.
    let fresh = reread(&users, alice.id).await;
    users
        .admin_update(
            &fresh,
            &AdminChanges {
                remark: Some(Remark::parse("vip").unwrap()),
                quota: Some(250),
                ..Default::default()
            },
            UserId::new(1),
            &[
                admin_audit(AuditAction::UserUpdated, alice.id),
                admin_audit(AuditAction::QuotaChanged, alice.id),
            ],
            NOW,
        )
        .await
        .unwrap();
    let now = reread(&users, alice.id).await;
    assert_eq!(
        (now.remark.as_deref(), now.balances.quota),
        (Some("vip"), 250)
    );
    assert_eq!(audits(db.clone()).await, 3);

    // A soft-deleted user has moved too.
    let before_delete = reread(&users, alice.id).await;
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = {NOW} WHERE id = {}",
            alice.id
        ),
    )
    .await;
    let enable = users
        .admin_set_state(
            &before_delete,
            &set_state(Role::Admin, UserStatus::Enabled, false),
            &admin_audit(AuditAction::UserEnabled, alice.id),
            NOW,
        )
        .await;
    assert!(
        matches!(enable, Err(AdminWriteError::Changed)),
        "{enable:?}"
    );

    // A row that is gone is NotFound, not Changed.
    let bob = create_user(&db, "bob", 0).await;
    exec(&db, &format!("DELETE FROM users WHERE id = {}", bob.id)).await;
    let disable = users
        .admin_set_state(
            &bob,
            &set_state(Role::User, UserStatus::Disabled, false),
            &admin_audit(AuditAction::UserDisabled, bob.id),
            NOW,
        )
        .await;
    assert!(
        matches!(disable, Err(AdminWriteError::NotFound)),
        "{disable:?}"
    );
    let edit = users
        .admin_update(
            &bob,
            &rename,
            UserId::new(1),
            &[admin_audit(AuditAction::UserUpdated, bob.id)],
            NOW,
        )
        .await;
    assert!(matches!(edit, Err(AdminUpdateError::NotFound)), "{edit:?}");
    let gone = users
        .hard_delete(&bob, &admin_audit(AuditAction::UserHardDeleted, bob.id))
        .await;
    assert!(matches!(gone, Err(AdminWriteError::NotFound)), "{gone:?}");
    assert_eq!(audits(db.clone()).await, 3);

    // Hard deletion on the state as read removes the row, its sessions and audits it.
    let carol = create_user(&db, "carol", 0).await;
    sessions
        .create(&session("carol-web", carol.id, NOW + 100))
        .await
        .unwrap();
    users
        .hard_delete(&carol, &admin_audit(AuditAction::UserHardDeleted, carol.id))
        .await
        .unwrap();
    assert!(users.find_by_id(carol.id).await.unwrap().is_none());
    assert_eq!(audit_count(&db, AuditAction::UserHardDeleted).await, 1);
}

/// Many admin writes from one read, at the same moment: exactly one applies, the others are
/// refused as Changed, and exactly one audit record is written.
async fn concurrent_admin_writes_from_one_read_have_one_winner(db: DatabaseConnection) {
    const WRITERS: usize = 8;
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let seen = reread(&users, alice.id).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (users, seen, start) = (users.clone(), seen.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                // Half promote, half disable: conflicting changes of one row.
                let (action, change) = if i % 2 == 0 {
                    (
                        AuditAction::UserPromoted,
                        set_state(Role::Admin, UserStatus::Enabled, false),
                    )
                } else {
                    (
                        AuditAction::UserDisabled,
                        set_state(Role::User, UserStatus::Disabled, false),
                    )
                };
                let audit = admin_audit(action, seen.id);
                users
                    .admin_set_state(&seen, &change, &audit, NOW)
                    .await
                    .map(|_| change)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(change) => winners.push(change),
            Err(AdminWriteError::Changed) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let now = reread(&users, alice.id).await;
    assert_eq!((now.role, now.status), (winners[0].role, winners[0].status));
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM audit").await, [1]);
}

/// Issue 7.6: the unique `username_key` makes case and look-alike spellings collide, on
/// insert, on a profile rename and on an admin rename, on every backend.
async fn username_keys_collide_case_and_confusable_insensitively(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let root = users.create(&new_user("root", "AFF-R", 0)).await.unwrap();
    for (i, name) in ["ROOT", "Root", "ｒｏｏｔ", "r00t", "ROOT "]
        .iter()
        .enumerate()
    {
        let dup = users.create(&new_user(name, &format!("AFF-{i}"), 0)).await;
        assert!(
            matches!(dup, Err(CreateUserError::UsernameTaken)),
            "{name}: {dup:?}"
        );
    }
    let bob = create_user(&db, "bob", 0).await;
    let rename = |name: &str| ProfileChanges {
        username: Some(Username::parse(name).unwrap()),
        ..Default::default()
    };
    let taken = users.update_profile(bob.id, &rename("Root")).await;
    assert!(
        matches!(taken, Err(UpdateProfileError::UsernameTaken)),
        "{taken:?}"
    );
    let admin = AdminChanges {
        username: Some(Username::parse("R00T").unwrap()),
        ..Default::default()
    };
    let taken = users.admin_update(&bob, &admin, root.id, &[], NOW).await;
    assert!(
        matches!(taken, Err(AdminUpdateError::UsernameTaken)),
        "{taken:?}"
    );
    // A user may change the case of its own name.
    let renamed = users.update_profile(bob.id, &rename("Bob")).await.unwrap();
    assert_eq!(renamed.username, "Bob");
    // The index itself refuses a duplicate key, whatever writes it.
    let raw = db
        .execute_unprepared(&format!(
            "UPDATE users SET username_key = 'root' WHERE id = {}",
            bob.id
        ))
        .await;
    assert!(raw.is_err(), "{raw:?}");
    assert_eq!(
        query_i64(&db, "SELECT COUNT(*) FROM users WHERE username_key = 'bob'").await,
        [1]
    );
}

/// Issue 7.6: the migration backfills keys in id order and leaves `NULL` on later rows whose
/// key an older row holds, instead of failing; those rows keep logging in by their name.
async fn the_username_key_backfill_keeps_colliding_rows(db: DatabaseConnection) {
    use migration::MigrationTrait as _;
    use migration::m20261201_000011_add_username_key::Migration as AddUsernameKey;
    use sea_orm::TransactionTrait as _;

    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let carol = create_user(&db, "carol", 0).await;
    let dave = create_user(&db, "dave", 0).await;
    // Down, the old rows, and up again on ONE connection: SQLite checks a new column against
    // the schema a connection cached, so a pooled connection that still sees the column would
    // refuse the `up` as a duplicate (this flaked about 1 run in 13 on the pool).
    let txn = db.begin().await.unwrap();
    let manager = migration::SchemaManager::new(&txn);
    AddUsernameKey.down(&manager).await.unwrap();
    // Names that an older release let in beside "alice".
    for (user, name) in [(&bob, "ALICE"), (&carol, "ａｌｉｃｅ"), (&dave, "Dave")] {
        txn.execute_unprepared(&format!(
            "UPDATE users SET username = '{name}' WHERE id = {}",
            user.id
        ))
        .await
        .unwrap();
    }
    AddUsernameKey.up(&manager).await.unwrap();
    txn.commit().await.unwrap();

    let key_of = async |id: UserId| {
        query_i64(
            &db,
            &format!("SELECT COUNT(*) FROM users WHERE id = {id} AND username_key IS NOT NULL"),
        )
        .await
    };
    assert_eq!(key_of(alice.id).await, [1]);
    assert_eq!(key_of(bob.id).await, [0]);
    assert_eq!(key_of(carol.id).await, [0]);
    assert_eq!(key_of(dave.id).await, [1]);
    assert_eq!(
        query_i64(
            &db,
            "SELECT COUNT(*) FROM users WHERE username_key IN ('alice', 'dave')"
        )
        .await,
        [2]
    );
    // The later duplicates log in by their stored name...
    let (found, _) = users.find_credentials("ALICE").await.unwrap().unwrap();
    assert_eq!(found.id, bob.id);
    // ...no new look-alike gets in...
    let dup = users.create(&new_user("Alice", "AFF-NEW", 0)).await;
    assert!(
        matches!(dup, Err(CreateUserError::UsernameTaken)),
        "{dup:?}"
    );
    // ...and a new name gives the row a key.
    let renamed = users
        .update_profile(
            bob.id,
            &ProfileChanges {
                username: Some(Username::parse("bobby").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.username, "bobby");
    assert_eq!(key_of(bob.id).await, [1]);
}

#[test]
fn the_migrations_frozen_key_function_agrees_with_the_domain() {
    for name in [
        "root",
        "ROOT",
        "ｒｏｏｔ",
        "r00t",
        "r\u{43E}\u{43E}t",
        "Jose\u{301}",
        "STRASSE",
        "straße",
        "张三abc",
        "Иван",
        "John Doe",
        "a_b-c.d",
        "\u{3394}",
    ] {
        assert_eq!(
            migration::m20261201_000011_add_username_key::username_key(name),
            tollgate_domain::user::username_key(name),
            "{name:?}"
        );
    }
}

/// Sets `seen`'s quota to `quota` as an admin who read `seen`, with its audit record.
async fn set_quota(
    users: &SeaUserRepository,
    seen: &User,
    quota: i64,
) -> Result<User, AdminUpdateError> {
    let changes = AdminChanges {
        quota: Some(quota),
        ..Default::default()
    };
    let audit = [admin_audit(AuditAction::QuotaChanged, seen.id)];
    users
        .admin_update(seen, &changes, UserId::new(1), &audit, NOW)
        .await
}

/// The "before" of every quota-change audit record, oldest first.
async fn quota_befores(db: &DatabaseConnection) -> Vec<serde_json::Value> {
    let filter = AuditFilter {
        action: Some(AuditAction::QuotaChanged),
        ..AuditFilter::default()
    };
    let mut records = SeaAuditRepository::new(db.clone())
        .list(&filter, PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items;
    records.sort_by_key(|r| r.id);
    records
        .into_iter()
        .map(|r| r.entry.before.unwrap_or_default())
        .collect()
}

/// The first column of a query over the ledger rows of one kind, in id order.
async fn ledger_of_kind(db: &DatabaseConnection, column: &str, kind: LedgerKind) -> Vec<i64> {
    let sql = format!(
        "SELECT {column} FROM ledger WHERE kind = '{}' ORDER BY id",
        kind.as_str()
    );
    query_i64(db, &sql).await
}

/// An admin's quota change starts from the balance stored when it writes, not the one the admin
/// read: spending in between (a credit by redemption, a debit by another admin) is neither
/// overwritten nor lost, the audit's "before" is that stored balance and the ledger delta is
/// computed from it.
async fn an_admin_quota_change_starts_from_the_stored_balance(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let codes = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 100).await;
    let seen = reread(&users, alice.id).await;

    // Between the admin's read and write: a redemption credits 50 ...
    mint(&codes, &[code("between", 50, None)]).await.unwrap();
    codes.redeem("between", alice.id, NOW).await.unwrap();
    // ... and another admin, from a fresh read, debits the balance to 70.
    let other = reread(&users, alice.id).await;
    assert_eq!(other.balances.quota, 150);
    assert_eq!(
        set_quota(&users, &other, 70).await.unwrap().balances.quota,
        70
    );

    // The first admin's write, on its older read of 100.
    let after = set_quota(&users, &seen, 250).await.unwrap();
    assert_eq!(after.balances.quota, 250);
    assert_eq!(
        quota_befores(&db).await,
        [
            serde_json::json!({ "quota": 150 }),
            serde_json::json!({ "quota": 70 }),
        ]
    );
    assert_eq!(
        ledger_of_kind(&db, "delta", LedgerKind::AdminAdjustment).await,
        [-80, 180]
    );
    // Setting the stored balance again writes the audit record but no ledger row.
    let same = reread(&users, alice.id).await;
    set_quota(&users, &same, 250).await.unwrap();
    assert_eq!(
        ledger_of_kind(&db, "delta", LedgerKind::AdminAdjustment)
            .await
            .len(),
        2
    );
    assert_eq!(quota_befores(&db).await.len(), 3);
    assert!(imbalances(&db).await.is_empty());
}

/// Redemptions racing an admin's quota change made on a stale read: whichever committed before
/// the admin's write is in its audit "before" and its delta; whichever came after adds to the
/// admin's value.
async fn concurrent_spends_around_an_admin_quota_change_are_all_kept(db: DatabaseConnection) {
    const SPENDS: i64 = 12;
    const EACH: i64 = 10;
    let users = SeaUserRepository::new(db.clone());
    let codes = SeaRedemptionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 1_000).await;
    let batch: Vec<_> = (0..SPENDS)
        .map(|i| code(&format!("race-{i}"), EACH, None))
        .collect();
    mint(&codes, &batch).await.unwrap();
    let seen = reread(&users, alice.id).await;
    // The admin's read is stale before the race starts.
    codes.redeem("race-0", alice.id, NOW).await.unwrap();

    let mut tasks = Vec::new();
    for i in 1..SPENDS {
        let codes = codes.clone();
        tasks.push(tokio::spawn(async move {
            codes
                .redeem(&format!("race-{i}"), alice.id, NOW)
                .await
                .unwrap();
        }));
    }
    let admin = {
        let users = users.clone();
        tokio::spawn(async move { set_quota(&users, &seen, 5_000).await.unwrap() })
    };
    for task in tasks {
        task.await.unwrap();
    }
    admin.await.unwrap();

    // Ledger ids follow the order in which the writers held the user's row.
    let admin_id = ledger_of_kind(&db, "id", LedgerKind::AdminAdjustment).await;
    let [admin_id] = admin_id[..] else {
        panic!("one admin adjustment expected: {admin_id:?}")
    };
    let credits = ledger_of_kind(&db, "id", LedgerKind::Redemption).await;
    assert_eq!(credits.len() as i64, SPENDS);
    let earlier = credits.iter().filter(|&&id| id < admin_id).count() as i64;
    let before = 1_000 + EACH * earlier;
    assert_eq!(
        quota_befores(&db).await,
        [serde_json::json!({ "quota": before })]
    );
    assert_eq!(
        ledger_of_kind(&db, "delta", LedgerKind::AdminAdjustment).await,
        [5_000 - before]
    );
    let later = SPENDS - earlier;
    assert_eq!(
        reread(&users, alice.id).await.balances.quota,
        5_000 + EACH * later
    );
    assert!(imbalances(&db).await.is_empty());
}

stories!(
    admin_writes_apply_only_to_the_state_they_read,
    username_keys_collide_case_and_confusable_insensitively,
    the_username_key_backfill_keeps_colliding_rows,
    an_admin_quota_change_starts_from_the_stored_balance,
    ;
    concurrent:
    concurrent_admin_writes_from_one_read_have_one_winner,
    concurrent_spends_around_an_admin_quota_change_are_all_kept,
);
