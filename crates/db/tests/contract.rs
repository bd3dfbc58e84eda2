//! Contract tests of the sea-orm adapters: one story per behaviour of a port, each run on a
//! fresh, migrated database of every backend from `tollgate_db::testing::all_from_env()`:
//! SQLite always, PostgreSQL when `TEST_DATABASE_URL` is set, MySQL when `TEST_MYSQL_URL` is.

// Stories are helper fns, not `#[test]`s, so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use tollgate_db::testing::all_from_env;
use tollgate_db::{
    SeaAuditRepository, SeaLedgerRepository, SeaReadiness, SeaRedemptionRepository,
    SeaSessionRepository, SeaUserRepository,
};
use tollgate_domain::audit::{AuditAction, AuditEntry, AuditFilter, AuditScope};
use tollgate_domain::ports::{
    AdminChanges, AdminUpdateError, AdminWriteError, AffTransferError, AuditRepository as _,
    CreateUserError, LedgerRepository as _, Readiness as _, RedemptionRepository as _,
    SessionRepository as _, SetAccessTokenError, StateChange, UpdateProfileError,
    UserRepository as _,
};
use tollgate_domain::{
    Account, CreateRedemptionsError, Imbalance, MintCap, NewRedemption, NewSession, NewUser,
    PageRequest, ProfileChanges, RedeemError, Redemption, RedemptionStatus, Role, Rotation,
    SessionKind, TokenHash, User, UserId, UserStatus, Username,
};

/// Business "now" of every story.
const NOW: i64 = 1_800_000_000;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Runs `story` on a fresh, migrated database of every configured backend (pool of 8), then
/// drops the scratch databases. A failure on one backend does not hide the others.
async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scratches = all_from_env().await.expect("scratch databases");
    let mut failures = Vec::new();
    for scratch in scratches {
        let backend = scratch.backend;
        let db = scratch
            .connect_migrated(8)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e:#}"));
        let outcome = tokio::spawn(story(db.clone())).await;
        let _ = db.close().await;
        if let Err(e) = scratch.drop_database().await {
            eprintln!("could not drop the scratch {backend} database: {e:#}");
        }
        if let Err(e) = outcome {
            failures.push(format!("{backend}: {}", panic_message(e)));
        }
    }
    assert!(failures.is_empty(), "story failed on {failures:#?}");
}

fn panic_message(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "non-string panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn new_user(name: &str, aff_code: &str, initial_quota: i64) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        display_name: name.to_owned(),
        password_hash: format!("hash-of-{name}"),
        role: Role::User,
        group: "default".to_owned(),
        email: None,
        aff_code: aff_code.to_owned(),
        setting: r#"{"gotify_priority":0}"#.to_owned(),
        initial_quota,
        invitation: None,
        audit: None,
        created_at: NOW,
    }
}

/// The user of the active session with this hash.
async fn active_user(
    sessions: &SeaSessionRepository,
    hash: &TokenHash,
    now: i64,
) -> Result<Option<UserId>, tollgate_domain::RepoError> {
    Ok(sessions.find_active(hash, now).await?.map(|s| s.user_id))
}

async fn create_user(db: &DatabaseConnection, name: &str, initial_quota: i64) -> User {
    SeaUserRepository::new(db.clone())
        .create(&new_user(name, &format!("aff-{name}"), initial_quota))
        .await
        .unwrap()
}

fn code(code: &str, quota: i64, expires_at: Option<i64>) -> NewRedemption {
    NewRedemption {
        expires_at,
        ..code_by(UserId(1), code, quota, NOW)
    }
}

fn code_by(creator: UserId, code: &str, quota: i64, created_at: i64) -> NewRedemption {
    NewRedemption {
        code: code.to_owned(),
        name: "promo".to_owned(),
        quota,
        created_by: creator,
        created_at,
        expires_at: None,
    }
}

/// The audit record of a mint by `creator`, as the service writes it.
fn mint_audit(creator: UserId, total: i64) -> AuditEntry {
    let mut entry = AuditEntry::new(AuditAction::RedemptionsCreated, Some(creator), None, NOW);
    entry.after = Some(serde_json::json!({ "total": total }));
    entry
}

/// Mints without a cap, audited as the first code's creator.
async fn mint(
    repo: &SeaRedemptionRepository,
    codes: &[NewRedemption],
) -> Result<(), CreateRedemptionsError> {
    let creator = codes.first().map_or(UserId(1), |c| c.created_by);
    let total = codes.iter().map(|c| c.quota).sum();
    repo.create_batch(codes, None, &mint_audit(creator, total))
        .await
}

fn session(hash: &str, user_id: UserId, expires_at: i64) -> NewSession {
    NewSession {
        token_hash: TokenHash::from_hex(hash),
        user_id,
        kind: SessionKind::Web,
        created_at: NOW,
        expires_at,
        ip: Some("127.0.0.1".to_owned()),
        user_agent: Some("contract-test".to_owned()),
        audit: None,
    }
}

/// Runs raw SQL (portable literals only) and returns the number of affected rows.
async fn exec(db: &DatabaseConnection, sql: &str) -> u64 {
    db.execute_unprepared(sql).await.unwrap().rows_affected()
}

/// The first column of every row of a raw query, as i64.
async fn query_i64(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let stmt = Statement::from_string(db.get_database_backend(), sql);
    db.query_all_raw(stmt)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0).unwrap())
        .collect()
}

/// The audit record of a user's act on itself.
fn self_audit(action: AuditAction, id: UserId) -> AuditEntry {
    AuditEntry::new(action, Some(id), Some(id), NOW)
}

/// How many audit records have this action.
async fn audit_count(db: &DatabaseConnection, action: AuditAction) -> i64 {
    query_i64(
        db,
        &format!(
            "SELECT COUNT(*) FROM audit WHERE action = '{}'",
            action.as_str()
        ),
    )
    .await[0]
}

async fn find_code(db: &DatabaseConnection, code: &str) -> Redemption {
    SeaRedemptionRepository::new(db.clone())
        .list(PageRequest::new(Some(1), Some(100)))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("code {code} not listed"))
}

async fn imbalances(db: &DatabaseConnection) -> Vec<Imbalance> {
    SeaLedgerRepository::new(db.clone())
        .imbalances()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

async fn user_is_created_and_found_by_id_username_and_credentials(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = users.create(&new_user("alice", "AFF1", 0)).await.unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.role, Role::User);
    assert_eq!(alice.status, UserStatus::Enabled);
    assert_eq!(alice.group, "default");
    assert_eq!((alice.quota, alice.aff_quota), (0, 0));
    assert_eq!(alice.aff_code.as_deref(), Some("AFF1"));
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
    assert_eq!(users.find_by_id(UserId(999_999)).await.unwrap(), None);

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
    assert_eq!(alice.quota, 500);
    assert_eq!(bob.quota, 0);

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
            UserId(999_999),
            &TokenHash::from_hex("c"),
            &rotated(UserId(999_999)),
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

    assert!(users.set_password_hash(UserId(999_999), "x").await.is_err());
    assert!(users.record_login(UserId(999_999), NOW).await.is_err());
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

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

async fn session_is_active_until_it_expires(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    sessions
        .create(&session("s1", alice.id, NOW + 100))
        .await
        .unwrap();

    let hash = TokenHash::from_hex("s1");
    assert_eq!(
        active_user(&sessions, &hash, NOW).await.unwrap(),
        Some(alice.id)
    );
    assert_eq!(
        active_user(&sessions, &hash, NOW + 99).await.unwrap(),
        Some(alice.id)
    );
    assert_eq!(
        active_user(&sessions, &hash, NOW + 100).await.unwrap(),
        None
    );
    let unknown = TokenHash::from_hex("nope");
    assert_eq!(active_user(&sessions, &unknown, NOW).await.unwrap(), None);

    // The token hash is unique.
    assert!(
        sessions
            .create(&session("s1", alice.id, NOW + 100))
            .await
            .is_err()
    );
}

async fn revoked_sessions_are_inactive(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    for (hash, user) in [
        ("a1", alice.id),
        ("a2", alice.id),
        ("a3", alice.id),
        ("b1", bob.id),
    ] {
        sessions
            .create(&session(hash, user, NOW + 100))
            .await
            .unwrap();
    }
    sessions
        .create(&session("a-expired", alice.id, NOW - 1))
        .await
        .unwrap();

    let a1 = TokenHash::from_hex("a1");
    assert!(sessions.revoke(&a1, NOW).await.unwrap());
    assert!(
        !sessions.revoke(&a1, NOW + 1).await.unwrap(),
        "second revoke changes nothing"
    );
    assert_eq!(active_user(&sessions, &a1, NOW).await.unwrap(), None);
    assert!(
        !sessions
            .revoke(&TokenHash::from_hex("nope"), NOW)
            .await
            .unwrap()
    );

    // a2 and a3 are active; a1 is revoked and a-expired expired.
    assert_eq!(
        sessions
            .revoke_all_for_user(alice.id, None, NOW)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        sessions
            .revoke_all_for_user(alice.id, None, NOW)
            .await
            .unwrap(),
        0
    );
    for hash in ["a2", "a3"] {
        let hash = TokenHash::from_hex(hash);
        assert_eq!(active_user(&sessions, &hash, NOW).await.unwrap(), None);
    }
    let b1 = TokenHash::from_hex("b1");
    assert_eq!(
        active_user(&sessions, &b1, NOW).await.unwrap(),
        Some(bob.id)
    );

    // revoked_at keeps the first revocation time.
    let revoked_at = query_i64(
        &db,
        "SELECT revoked_at FROM sessions WHERE token_hash = 'a1'",
    )
    .await;
    assert_eq!(revoked_at, [NOW]);
}

async fn purge_deletes_sessions_expired_or_revoked_before(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    sessions
        .create(&session("expired", alice.id, NOW - 10))
        .await
        .unwrap();
    sessions
        .create(&session("expires-now", alice.id, NOW))
        .await
        .unwrap();
    sessions
        .create(&session("revoked", alice.id, NOW + 100))
        .await
        .unwrap();
    sessions
        .create(&session("revoked-later", alice.id, NOW + 100))
        .await
        .unwrap();
    sessions
        .create(&session("active", alice.id, NOW + 100))
        .await
        .unwrap();
    assert!(
        sessions
            .revoke(&TokenHash::from_hex("revoked"), NOW - 5)
            .await
            .unwrap()
    );
    assert!(
        sessions
            .revoke(&TokenHash::from_hex("revoked-later"), NOW)
            .await
            .unwrap()
    );

    assert_eq!(sessions.purge(NOW).await.unwrap(), 2);
    assert_eq!(sessions.purge(NOW).await.unwrap(), 0);
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM sessions").await, [3]);
    let active = TokenHash::from_hex("active");
    assert_eq!(
        active_user(&sessions, &active, NOW).await.unwrap(),
        Some(alice.id)
    );
}

// ---------------------------------------------------------------------------------------------
// Redemptions
// ---------------------------------------------------------------------------------------------

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
        (UserId(1), NOW, None)
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
    let creator = UserId(4242);
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
        users.find_by_id(alice.id).await.unwrap().unwrap().quota,
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
    assert_eq!(users.find_by_id(bob.id).await.unwrap().unwrap().quota, 0);
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
        users.find_by_id(rich.id).await.unwrap().unwrap().quota,
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

    for user in [UserId(999_999), gone.id] {
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

// ---------------------------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------------------------

async fn readiness_answers(db: DatabaseConnection) {
    SeaReadiness::new(db).check().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// One test per story, each on every backend
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Invitations, transfers, profile, deletion (self-service)
// ---------------------------------------------------------------------------------------------

fn invited(name: &str, inviter: UserId, reward: i64, bonus: i64, initial: i64) -> NewUser {
    NewUser {
        invitation: Some(tollgate_domain::Invitation {
            inviter_id: inviter,
            inviter_reward: reward,
            invitee_bonus: bonus,
            reward_daily_limit: 0,
        }),
        ..new_user(name, &format!("aff-{name}"), initial)
    }
}

async fn an_invitation_links_counts_and_rewards_through_the_ledger(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    let invitee = users
        .create(&invited("invitee", inviter.id, 300, 200, 10))
        .await
        .unwrap();
    assert_eq!((invitee.quota, invitee.inviter_id), (210, Some(inviter.id)));
    let inviter = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!(
        (
            inviter.aff_count,
            inviter.aff_quota,
            inviter.aff_history_quota,
            inviter.quota
        ),
        (1, 300, 300, 0)
    );
    // An invitation without rewards is still linked and counted, and writes no ledger row.
    let rows_before = query_i64(&db, "SELECT COUNT(*) FROM ledger").await;
    let free = users
        .create(&invited("free", inviter.id, 0, 0, 0))
        .await
        .unwrap();
    assert_eq!(free.inviter_id, Some(inviter.id));
    assert_eq!(
        query_i64(&db, "SELECT COUNT(*) FROM ledger").await,
        rows_before
    );
    let inviter = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!((inviter.aff_count, inviter.aff_quota), (2, 300));
    assert!(imbalances(&db).await.is_empty());
}

fn invited_capped(name: &str, inviter: UserId, limit: u32) -> NewUser {
    let mut new = invited(name, inviter, 300, 50, 0);
    if let Some(inv) = new.invitation.as_mut() {
        inv.reward_daily_limit = limit;
    }
    new
}

async fn the_inviter_reward_stops_at_the_daily_limit(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    for name in ["one", "two", "three"] {
        let invitee = users
            .create(&invited_capped(name, inviter.id, 2))
            .await
            .unwrap();
        // Beyond the cap the invitee is still linked and gets its own bonus.
        assert_eq!((invitee.quota, invitee.inviter_id), (50, Some(inviter.id)));
    }
    let them = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!(
        (them.aff_count, them.aff_quota, them.aff_history_quota),
        (3, 600, 600)
    );
    let rewards = "SELECT COUNT(*) FROM ledger WHERE kind = 'inviter_reward'";
    assert_eq!(query_i64(&db, rewards).await, [2]);

    // A day later the window is free again.
    exec(&db, "UPDATE ledger SET created_at = created_at - 86400").await;
    users
        .create(&invited_capped("four", inviter.id, 2))
        .await
        .unwrap();
    let them = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!((them.aff_count, them.aff_quota), (4, 900));
    assert_eq!(query_i64(&db, rewards).await, [3]);
    assert!(imbalances(&db).await.is_empty());
}

async fn concurrent_invitations_reward_at_most_the_daily_limit(db: DatabaseConnection) {
    const INVITEES: usize = 24;
    let users = SeaUserRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(INVITEES));
    let tasks: Vec<_> = (0..INVITEES)
        .map(|i| {
            let (users, start) = (users.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                users
                    .create(&invited_capped(&format!("invitee-{i}"), inviter.id, 5))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let them = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!(
        (them.aff_count, them.aff_quota, them.aff_history_quota),
        (24, 1_500, 1_500)
    );
    assert_eq!(
        query_i64(
            &db,
            "SELECT COUNT(*) FROM ledger WHERE kind = 'inviter_reward'"
        )
        .await,
        [5]
    );
    assert!(imbalances(&db).await.is_empty());
}

async fn an_inviter_must_be_live_and_enabled(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    create_user(&db, "live", 0).await;
    create_user(&db, "off", 0).await;
    create_user(&db, "gone", 0).await;
    exec(&db, "UPDATE users SET status = 2 WHERE username = 'off'").await;
    exec(
        &db,
        "UPDATE users SET deleted_at = 1 WHERE username = 'gone'",
    )
    .await;
    assert!(users.find_inviter("aff-live").await.unwrap().is_some());
    assert!(users.find_inviter("aff-off").await.unwrap().is_none());
    assert!(users.find_inviter("aff-gone").await.unwrap().is_none());
    assert!(users.find_inviter("nope").await.unwrap().is_none());
}

async fn an_aff_transfer_moves_quota_atomically_and_conserves_the_total(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    users
        .create(&invited("a", inviter.id, 300, 0, 0))
        .await
        .unwrap();
    let done = users
        .transfer_aff_quota(inviter.id, 200, "t1", NOW)
        .await
        .unwrap();
    assert_eq!((done.quota, done.aff_quota), (200, 100));
    // More than the balance: refused, nothing moves.
    assert!(matches!(
        users.transfer_aff_quota(inviter.id, 101, "t2", NOW).await,
        Err(AffTransferError::Insufficient)
    ));
    // A replayed reference is refused too.
    assert!(
        users
            .transfer_aff_quota(inviter.id, 50, "t1", NOW)
            .await
            .is_err()
    );
    let after = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!((after.quota, after.aff_quota), (200, 100));
    assert!(imbalances(&db).await.is_empty());
    assert!(matches!(
        users
            .transfer_aff_quota(UserId(999_999), 1, "t3", NOW)
            .await,
        Err(AffTransferError::NotFound)
    ));
}

async fn concurrent_transfers_of_the_whole_balance_move_it_once(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let inviter = create_user(&db, "inviter", 0).await;
    users
        .create(&invited("a", inviter.id, 1000, 0, 0))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let users = users.clone();
        let id = inviter.id;
        tasks.spawn(async move {
            users
                .transfer_aff_quota(id, 1000, &format!("c{i}"), NOW)
                .await
        });
    }
    let results = tasks.join_all().await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(AffTransferError::Insufficient)), "{r:?}");
    }
    let after = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!((after.quota, after.aff_quota), (1000, 0));
    assert!(imbalances(&db).await.is_empty());
}

async fn profile_updates_apply_or_refuse_whole(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let set_email = ProfileChanges {
        email: Some(Some("bob@example.com".into())),
        ..Default::default()
    };
    users.update_profile(bob.id, &set_email).await.unwrap();
    let taken = users
        .update_profile(
            alice.id,
            &ProfileChanges {
                email: Some(Some("bob@example.com".into())),
                phone: Some(Some("13800138000".into())),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(taken, Err(UpdateProfileError::EmailTaken)),
        "{taken:?}"
    );
    let rename = ProfileChanges {
        username: Some(Username::parse("bob").unwrap()),
        ..Default::default()
    };
    assert!(matches!(
        users.update_profile(alice.id, &rename).await,
        Err(UpdateProfileError::UsernameTaken)
    ));
    let unchanged = users.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.username.as_str(), unchanged.phone.as_deref()),
        ("alice", None)
    );

    let changed = users
        .update_profile(
            alice.id,
            &ProfileChanges {
                username: Some(Username::parse("alice2").unwrap()),
                display_name: Some("Alice".into()),
                email: Some(Some("alice@example.com".into())),
                phone: Some(Some("13800138000".into())),
                avatar: Some(Some("https://example.com/a.png".into())),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.username, "alice2");
    assert_eq!(changed.email.as_deref(), Some("alice@example.com"));
    assert_eq!(changed.avatar.as_deref(), Some("https://example.com/a.png"));
    let cleared = users
        .update_profile(
            alice.id,
            &ProfileChanges {
                phone: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.phone, cleared.display_name.as_str()),
        (None, "Alice")
    );
    // An address is not a login name (issue 7.7); the name is.
    assert!(
        users
            .find_credentials("alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let (found, _) = users
        .find_credentials(&cleared.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
}

async fn a_soft_deleted_user_loses_its_token_and_keeps_its_ledger(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 500).await;
    let bob = create_user(&db, "bob", 0).await;
    let hash = TokenHash::from_hex("tok");
    users
        .set_access_token(
            alice.id,
            &hash,
            &self_audit(AuditAction::AccessTokenRotated, alice.id),
        )
        .await
        .unwrap();
    sessions
        .create(&session("web", alice.id, NOW + 100))
        .await
        .unwrap();
    sessions
        .create(&NewSession {
            kind: SessionKind::Refresh,
            ..session("refresh", alice.id, NOW + 100)
        })
        .await
        .unwrap();
    sessions
        .create(&session("bobs", bob.id, NOW + 100))
        .await
        .unwrap();
    let deleted = self_audit(AuditAction::UserSelfDeleted, alice.id);
    assert!(users.soft_delete(alice.id, &deleted, NOW).await.unwrap());
    assert!(
        !users.soft_delete(alice.id, &deleted, NOW).await.unwrap(),
        "second delete is a no-op"
    );
    // Sessions, refresh tokens and the audit record went with the deletion, once.
    for hash in ["web", "refresh"] {
        assert_eq!(
            active_user(&sessions, &TokenHash::from_hex(hash), NOW)
                .await
                .unwrap(),
            None,
            "{hash}"
        );
    }
    assert_eq!(
        active_user(&sessions, &TokenHash::from_hex("bobs"), NOW)
            .await
            .unwrap(),
        Some(bob.id),
        "other users keep theirs"
    );
    assert_eq!(audit_count(&db, AuditAction::UserSelfDeleted).await, 1);
    assert!(users.find_by_access_token(&hash).await.unwrap().is_none());
    let gone = users.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(gone.deleted_at, Some(NOW));
    assert!(users.find_credentials("alice").await.unwrap().is_none());
    assert!(users.find_password_hash(alice.id).await.unwrap().is_none());
    assert_eq!(query_i64(&db, "SELECT COUNT(*) FROM ledger").await, [1]);
    // The name stays reserved.
    assert!(matches!(
        users.create(&new_user("alice", "other", 0)).await,
        Err(CreateUserError::UsernameTaken)
    ));
}

async fn a_missing_aff_code_is_set_once(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let a = users.create(&new_user("a", "", 0)).await.unwrap();
    let b = users.create(&new_user("b", "", 0)).await.unwrap();
    assert_eq!(a.aff_code, None);
    assert_eq!(
        users.set_aff_code_if_missing(a.id, "abc").await.unwrap(),
        "abc"
    );
    assert_eq!(
        users.set_aff_code_if_missing(a.id, "xyz").await.unwrap(),
        "abc"
    );
    assert!(matches!(
        users.set_aff_code_if_missing(b.id, "abc").await,
        Err(CreateUserError::AffCodeTaken)
    ));
}

async fn a_refresh_token_rotates_once(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let id = sessions
        .create(&NewSession {
            kind: SessionKind::Refresh,
            ..session("r1", alice.id, NOW + 100)
        })
        .await
        .unwrap();
    let web = sessions
        .create(&session("w1", alice.id, NOW + 100))
        .await
        .unwrap();
    let (r1, r2, r3) = (
        TokenHash::from_hex("r1"),
        TokenHash::from_hex("r2"),
        TokenHash::from_hex("r3"),
    );
    let Rotation::Rotated(rotated) = sessions
        .rotate(&r1, &r2, NOW, NOW + 500, None)
        .await
        .unwrap()
    else {
        panic!("the current token rotates");
    };
    assert_eq!((rotated.id, rotated.user_id), (id, alice.id));
    assert_eq!(
        sessions
            .rotate(&TokenHash::from_hex("w1"), &r3, NOW, NOW + 500, None)
            .await
            .unwrap(),
        Rotation::Invalid,
        "a web session is not a refresh token"
    );
    // The sliding expiry moved.
    assert!(
        sessions
            .find_active_by_id(id, NOW + 400)
            .await
            .unwrap()
            .is_some()
    );
    // Revoking everything but the web session leaves only it.
    assert_eq!(
        sessions
            .revoke_all_for_user(alice.id, Some(web), NOW)
            .await
            .unwrap(),
        1
    );
    assert!(sessions.find_active_by_id(id, NOW).await.unwrap().is_none());
    assert!(
        sessions
            .find_active_by_id(web, NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(sessions.revoke_by_id(web, NOW, None).await.unwrap());
    assert!(!sessions.revoke_by_id(web, NOW, None).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Admin writes: compare-and-set on the state the admin read
// ---------------------------------------------------------------------------------------------

fn admin_audit(action: AuditAction, target: UserId) -> AuditEntry {
    AuditEntry::new(action, Some(UserId(1)), Some(target), NOW)
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
            UserId(1),
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
        (now.role, now.status, now.quota),
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
                display_name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rename = AdminChanges {
        display_name: Some("By admin".into()),
        ..Default::default()
    };
    let edit = users
        .admin_update(
            &fresh,
            &rename,
            UserId(1),
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
                remark: Some("vip".into()),
                quota: Some(250),
                ..Default::default()
            },
            UserId(1),
            &[
                admin_audit(AuditAction::UserUpdated, alice.id),
                admin_audit(AuditAction::QuotaChanged, alice.id),
            ],
            NOW,
        )
        .await
        .unwrap();
    let now = reread(&users, alice.id).await;
    assert_eq!((now.remark.as_deref(), now.quota), (Some("vip"), 250));
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
            UserId(1),
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

    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let carol = create_user(&db, "carol", 0).await;
    let dave = create_user(&db, "dave", 0).await;
    let manager = migration::SchemaManager::new(&db);
    AddUsernameKey.down(&manager).await.unwrap();
    // Names that an older release let in beside "alice".
    for (user, name) in [(&bob, "ALICE"), (&carol, "ａｌｉｃｅ"), (&dave, "Dave")] {
        exec(
            &db,
            &format!(
                "UPDATE users SET username = '{name}' WHERE id = {}",
                user.id
            ),
        )
        .await;
    }
    AddUsernameKey.up(&manager).await.unwrap();

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

// ---------------------------------------------------------------------------------------------
// Audit (issue 7.8): stored roles, scope, retention
// ---------------------------------------------------------------------------------------------

async fn audit_entries_keep_their_roles_and_the_scope_query_is_the_rule(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let audit = SeaAuditRepository::new(db.clone());
    let with_role = |name: &str, role: Role| NewUser {
        role,
        ..new_user(name, &format!("aff-{name}"), 0)
    };
    let root = users.create(&with_role("root", Role::Root)).await.unwrap();
    let a = users
        .create(&with_role("adm-a", Role::Admin))
        .await
        .unwrap();
    let b = users
        .create(&with_role("adm-b", Role::Admin))
        .await
        .unwrap();
    let u = users.create(&with_role("plain", Role::User)).await.unwrap();
    let gone = UserId(9_999);
    let entry = |actor: Option<UserId>, target: Option<UserId>| {
        AuditEntry::new(AuditAction::UserUpdated, actor, target, NOW)
    };
    let mut written = vec![
        entry(None, None),
        entry(None, Some(u.id)),
        entry(None, Some(b.id)),
        entry(None, Some(a.id)),
        entry(Some(b.id), Some(u.id)),
        entry(Some(b.id), Some(b.id)),
        entry(Some(b.id), Some(a.id)),
        entry(Some(a.id), Some(u.id)),
        entry(Some(root.id), Some(u.id)),
        entry(Some(root.id), Some(a.id)),
        entry(Some(root.id), None),
        entry(Some(gone), Some(u.id)),
        entry(Some(u.id), Some(gone)),
    ];
    for e in &written {
        audit.record(e).await.unwrap();
    }
    // B's row goes; what was written about B keeps B's role. So does the deletion itself.
    // (The entry does not name B's role: the adapter records the role of the row it deletes.)
    let deletion = entry(Some(root.id), Some(b.id));
    users.hard_delete(&b, &deletion).await.unwrap();
    written.push(deletion);
    // U is promoted afterwards: entries written about U as a user stay "about a user".
    exec(
        &db,
        &format!("UPDATE users SET role = 10 WHERE id = {}", u.id.get()),
    )
    .await;

    let everything = audit
        .list(
            &AuditFilter::default(),
            PageRequest::new(Some(1), Some(100)),
        )
        .await
        .unwrap();
    assert_eq!(everything.total, written.len() as u64);
    let by_target = |t: UserId| {
        everything
            .items
            .iter()
            .filter(|r| r.entry.target_id == Some(t))
            .map(|r| r.entry.target_role)
            .collect::<Vec<_>>()
    };
    assert!(by_target(b.id).iter().all(|r| *r == Some(Role::Admin)));
    assert!(by_target(u.id).iter().all(|r| *r == Some(Role::User)));
    assert!(by_target(gone).iter().all(Option::is_none));

    for reader in [&a, &root] {
        let scope = AuditScope {
            reader: reader.id,
            reader_role: reader.role,
        };
        let filter = AuditFilter {
            scope: Some(scope),
            ..Default::default()
        };
        let page = audit
            .list(&filter, PageRequest::new(Some(1), Some(100)))
            .await
            .unwrap();
        let got: Vec<i64> = page.items.iter().map(|r| r.id).collect();
        let expected: Vec<i64> = everything
            .items
            .iter()
            .filter(|r| scope.allows(&r.entry))
            .map(|r| r.id)
            .collect();
        assert_eq!(got, expected, "reader {:?}", reader.role);
        assert_eq!(page.total, expected.len() as u64);
    }
    // The admin's view is not trivially everything or nothing.
    let a_view = everything
        .items
        .iter()
        .filter(|r| {
            AuditScope {
                reader: a.id,
                reader_role: Role::Admin,
            }
            .allows(&r.entry)
        })
        .count();
    assert_eq!(a_view, 6);
}

async fn audit_purge_deletes_entries_written_before(db: DatabaseConnection) {
    let audit = SeaAuditRepository::new(db.clone());
    for at in [NOW - 300, NOW - 200, NOW - 100] {
        audit
            .record(&AuditEntry::new(AuditAction::LoginFailed, None, None, at))
            .await
            .unwrap();
    }
    assert_eq!(audit.purge(NOW - 150).await.unwrap(), 2);
    assert_eq!(audit.purge(NOW - 150).await.unwrap(), 0);
    let left = audit
        .list(&AuditFilter::default(), PageRequest::new(Some(1), Some(10)))
        .await
        .unwrap();
    let times: Vec<i64> = left.items.iter().map(|r| r.entry.at).collect();
    assert_eq!(times, [NOW - 100]);
}

async fn the_audit_roles_migration_backfills_and_forgets_unknown_login_names(
    db: DatabaseConnection,
) {
    use migration::MigratorTrait as _;
    let users = SeaUserRepository::new(db.clone());
    let adm = users
        .create(&NewUser {
            role: Role::Admin,
            ..new_user("adm", "aff-adm", 0)
        })
        .await
        .unwrap();
    // Back to the schema before the roles (undoing any later migration too).
    let steps = migration::Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261201_000012_add_audit_roles")
        .unwrap()
        + 1;
    migration::Migrator::down(&db, Some(steps as u32))
        .await
        .unwrap();
    let a = adm.id.get();
    exec(
        &db,
        &format!(
            "INSERT INTO audit (actor_id, target_id, action, after, created_at) VALUES \
             ({a}, {a}, 'login.succeeded', NULL, 1), \
             (NULL, NULL, 'login.failed', '{{\"login\":\"typed-secret\"}}', 2), \
             (NULL, {a}, 'login.failed', '{{\"login\":\"adm\"}}', 3), \
             (NULL, 4242, 'user.disabled', NULL, 4)"
        ),
    )
    .await;
    migration::Migrator::up(&db, None).await.unwrap();
    let page = SeaAuditRepository::new(db.clone())
        .list(&AuditFilter::default(), PageRequest::new(Some(1), Some(10)))
        .await
        .unwrap();
    let by_time = |t: i64| {
        page.items
            .iter()
            .find(|r| r.entry.at == t)
            .map(|r| r.entry.clone())
            .unwrap()
    };
    let login = by_time(1);
    assert_eq!(
        (login.actor_role, login.target_role),
        (Some(Role::Admin), Some(Role::Admin))
    );
    assert_eq!(by_time(2).after, None, "the unknown name is gone");
    assert_eq!(by_time(3).after, Some(serde_json::json!({"login": "adm"})));
    assert_eq!(by_time(4).target_role, None, "unknown user: root only");
}

async fn a_replayed_refresh_token_revokes_its_session_once_audited(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let refresh = |hash: &str| NewSession {
        kind: SessionKind::Refresh,
        ..session(hash, alice.id, NOW + 100)
    };
    let id = sessions.create(&refresh("r1")).await.unwrap();
    let other = sessions.create(&refresh("o1")).await.unwrap();
    let h = TokenHash::from_hex;
    assert!(matches!(
        sessions.rotate(&h("r1"), &h("r2"), NOW, NOW + 500, None).await.unwrap(),
        Rotation::Rotated(s) if s.id == id
    ));
    assert!(matches!(
        sessions.rotate(&h("r2"), &h("r3"), NOW + 1, NOW + 500, None).await.unwrap(),
        Rotation::Rotated(s) if s.id == id
    ));
    assert_eq!(
        sessions
            .rotate(&h("nope"), &h("x"), NOW + 2, NOW + 500, None)
            .await
            .unwrap(),
        Rotation::Invalid,
        "an unknown token is no replay"
    );
    assert!(
        sessions
            .find_active_by_id(id, NOW + 2)
            .await
            .unwrap()
            .is_some()
    );
    // Replaying the first token (two generations back) revokes the whole session.
    assert_eq!(
        sessions
            .rotate(
                &h("r1"),
                &h("x"),
                NOW + 3,
                NOW + 500,
                Some("10.1.2.3".into())
            )
            .await
            .unwrap(),
        Rotation::Reused {
            session_id: id,
            user_id: alice.id
        }
    );
    assert!(
        sessions
            .find_active_by_id(id, NOW + 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions
            .find_active(&h("r3"), NOW + 3)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        sessions
            .rotate(&h("r3"), &h("y"), NOW + 3, NOW + 500, None)
            .await
            .unwrap(),
        Rotation::Invalid,
        "the current token of a revoked session no longer rotates"
    );
    // Only that family: the other session lives.
    assert!(
        sessions
            .find_active_by_id(other, NOW + 3)
            .await
            .unwrap()
            .is_some()
    );
    // One audit record, written with the revocation; a second replay adds none.
    assert_eq!(
        sessions
            .rotate(&h("r2"), &h("z"), NOW + 4, NOW + 500, None)
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let sql = format!(
        "SELECT actor_id FROM audit WHERE action = 'refresh_token.reused' AND target_id = {}",
        alice.id.get()
    );
    assert_eq!(query_i64(&db, &sql).await, vec![alice.id.get()]);
    let ip_sql = "SELECT COUNT(*) FROM audit WHERE ip = '10.1.2.3'";
    assert_eq!(query_i64(&db, ip_sql).await, vec![1]);
    // The remembered hashes go with their session.
    let uses = format!("SELECT COUNT(*) FROM refresh_token_uses WHERE session_id = {id}");
    assert_eq!(query_i64(&db, &uses).await, vec![2]);
    assert_eq!(sessions.purge(NOW + 10).await.unwrap(), 1);
    assert_eq!(query_i64(&db, &uses).await, vec![0]);
    assert!(
        sessions
            .find_active_by_id(other, NOW + 3)
            .await
            .unwrap()
            .is_some()
    );
}

async fn concurrent_rotations_have_one_winner_and_the_loser_revokes(db: DatabaseConnection) {
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    for round in 0..5 {
        let id = sessions
            .create(&NewSession {
                kind: SessionKind::Refresh,
                ..session(&format!("c{round}"), alice.id, NOW + 100)
            })
            .await
            .unwrap();
        let racers: Vec<_> = (0..2)
            .map(|i| {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    sessions
                        .rotate(
                            &TokenHash::from_hex(format!("c{round}")),
                            &TokenHash::from_hex(format!("c{round}-{i}")),
                            NOW,
                            NOW + 500,
                            None,
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for r in racers {
            outcomes.push(r.await.unwrap());
        }
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Rotated(s) if s.id == id))
            .count();
        let reused = outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Reused { session_id, .. } if *session_id == id))
            .count();
        assert_eq!((won, reused), (1, 1), "round {round}: {outcomes:?}");
        assert!(sessions.find_active_by_id(id, NOW).await.unwrap().is_none());
    }
}

macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $story() {
                on_every_backend(super::$story).await;
            }
        )*
    };
}

mod on_every_backend {
    use super::on_every_backend;

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
        unknown_role_or_status_code_is_an_error,
        session_is_active_until_it_expires,
        revoked_sessions_are_inactive,
        purge_deletes_sessions_expired_or_revoked_before,
        codes_are_listed_newest_first_in_pages,
        duplicate_code_refuses_the_whole_batch,
        redeem_credits_once_through_the_ledger,
        unavailable_codes_say_why,
        overflowing_redeem_applies_nothing,
        redeem_for_a_missing_account_applies_nothing,
        readiness_answers,
        an_invitation_links_counts_and_rewards_through_the_ledger,
        an_inviter_must_be_live_and_enabled,
        a_mint_and_its_audit_record_commit_together,
        the_mint_cap_counts_the_creators_codes_of_the_last_24_hours,
        the_inviter_reward_stops_at_the_daily_limit,
        an_aff_transfer_moves_quota_atomically_and_conserves_the_total,
        profile_updates_apply_or_refuse_whole,
        a_soft_deleted_user_loses_its_token_and_keeps_its_ledger,
        a_missing_aff_code_is_set_once,
        a_refresh_token_rotates_once,
        admin_writes_apply_only_to_the_state_they_read,
        username_keys_collide_case_and_confusable_insensitively,
        the_username_key_backfill_keeps_colliding_rows,
        audit_entries_keep_their_roles_and_the_scope_query_is_the_rule,
        audit_purge_deletes_entries_written_before,
        the_audit_roles_migration_backfills_and_forgets_unknown_login_names,
        a_replayed_refresh_token_revokes_its_session_once_audited,
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_have_one_winner_and_the_loser_revokes() {
        on_every_backend(super::concurrent_rotations_have_one_winner_and_the_loser_revokes).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_transfers_of_the_whole_balance_move_it_once() {
        on_every_backend(super::concurrent_transfers_of_the_whole_balance_move_it_once).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_redeemers_have_exactly_one_winner() {
        on_every_backend(super::concurrent_redeemers_have_exactly_one_winner).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_admin_writes_from_one_read_have_one_winner() {
        on_every_backend(super::concurrent_admin_writes_from_one_read_have_one_winner).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_capped_mints_never_exceed_the_cap() {
        on_every_backend(super::concurrent_capped_mints_never_exceed_the_cap).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_invitations_reward_at_most_the_daily_limit() {
        on_every_backend(super::concurrent_invitations_reward_at_most_the_daily_limit).await;
    }
}

#[tokio::test]
async fn connect_creates_a_missing_sqlite_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested").join("deeper").join("t.db");
    let url = format!("sqlite://{}", file.display());
    let db = tollgate_db::connect(&url, 2).await.unwrap();
    tollgate_db::migrate_up(&db).await.unwrap();
    let mode = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(mode, "wal");
    let fk = query_i64(&db, "PRAGMA foreign_keys").await;
    assert_eq!(fk, [1]);
    let sync = query_i64(&db, "PRAGMA synchronous").await;
    assert_eq!(sync, [2], "FULL");
    db.close().await.unwrap();
    assert!(file.exists());
}

#[tokio::test]
async fn connect_errors_do_not_echo_the_url() {
    let url = "postgres://user:s3cret-pw@127.0.0.1:notaport/db";
    let err = tollgate_db::connect(url, 1).await.unwrap_err();
    let text = format!("{err:#} {err:?}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(text.contains("PostgreSQL"), "{text}");
}

/// Dropping a server [`ScratchDb`] (without `drop_database`) removes its database too, so test
/// suites that only hold the guard do not pile up databases on the server.
#[tokio::test]
async fn server_scratch_databases_are_dropped_with_their_guard() {
    use tollgate_db::testing::{Backend, ScratchDb};
    let servers = [
        ScratchDb::postgres_from_env().await.unwrap(),
        ScratchDb::mysql_from_env().await.unwrap(),
    ];
    for scratch in servers.into_iter().flatten() {
        let name = scratch
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let admin_var = match scratch.backend {
            Backend::Postgres => "TEST_DATABASE_URL",
            _ => "TEST_MYSQL_URL",
        };
        let sql = match scratch.backend {
            Backend::Postgres => {
                format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'")
            }
            _ => format!(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{name}'"
            ),
        };
        let admin = tollgate_db::connect(&std::env::var(admin_var).unwrap(), 1)
            .await
            .unwrap();
        let db = scratch.connect_migrated(2).await.unwrap();
        assert_eq!(query_i64(&admin, &sql).await, [1], "{name} exists");
        drop(scratch); // with the pool still open: PostgreSQL needs FORCE
        assert_eq!(query_i64(&admin, &sql).await, [0], "{name} dropped");
        drop(db);
        admin.close().await.unwrap();
    }
}
