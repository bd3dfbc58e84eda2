//! `TwoFactorRepository`: setup, enable, replay-proof TOTP steps, single-use backup codes,
//! disable and admin reset with session revocation, statistics, and hard deletion.

use std::sync::Arc;

use tollgate_db::SeaTwoFactorRepository;
use tollgate_domain::two_factor::{
    BeginSetupError, ResetOutcome, TotpSecret, TwoFactorCounts, TwoFactorRepository as _,
};

use super::*;

const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn hashes(prefix: &str) -> Vec<String> {
    (1..=4).map(|i| format!("{prefix}-hash-{i}")).collect()
}

async fn setup(repo: &SeaTwoFactorRepository, user: UserId, prefix: &str) {
    repo.begin_setup(user, &TotpSecret::new(SECRET), &hashes(prefix), NOW)
        .await
        .unwrap();
}

/// Sets up and enables two-factor authentication at step 100.
async fn enabled(repo: &SeaTwoFactorRepository, user: UserId) {
    setup(repo, user, "first").await;
    let audit = self_audit(AuditAction::TwoFactorEnabled, user);
    assert!(repo.enable(user, 100, &audit, NOW).await.unwrap());
}

async fn row_count(db: &DatabaseConnection, table: &str, user: UserId) -> i64 {
    query_i64(
        db,
        &format!(
            "SELECT COUNT(*) FROM {table} WHERE user_id = {}",
            user.get()
        ),
    )
    .await[0]
}

async fn active_sessions(db: &DatabaseConnection, user: UserId) -> Vec<i64> {
    query_i64(
        db,
        &format!(
            "SELECT id FROM sessions WHERE user_id = {} AND revoked_at IS NULL ORDER BY id",
            user.get()
        ),
    )
    .await
}

async fn setup_is_stored_disabled_and_enabled_once(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    assert_eq!(repo.find(alice).await.unwrap(), None);

    setup(&repo, alice, "first").await;
    let record = repo.find(alice).await.unwrap().unwrap();
    assert_eq!(record.secret.expose(), SECRET);
    assert!(!record.enabled);
    assert_eq!(record.last_step, None);
    // A setup's codes do not count before it is enabled.
    assert!(repo.unused_backup_codes(alice).await.unwrap().is_empty());
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 4);

    // A second setup replaces the disabled record and its codes.
    setup(&repo, alice, "second").await;
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 4);

    let audit = self_audit(AuditAction::TwoFactorEnabled, alice);
    assert!(repo.enable(alice, 100, &audit, NOW).await.unwrap());
    assert!(
        !repo.enable(alice, 101, &audit, NOW).await.unwrap(),
        "already enabled"
    );
    assert_eq!(audit_count(&db, AuditAction::TwoFactorEnabled).await, 1);
    let record = repo.find(alice).await.unwrap().unwrap();
    assert!(record.enabled);
    assert_eq!(record.last_step, Some(100));
    let mut codes: Vec<String> = repo
        .unused_backup_codes(alice)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.hash)
        .collect();
    codes.sort();
    assert_eq!(codes, hashes("second"));

    // Setup never replaces an enabled record.
    let refused = repo
        .begin_setup(alice, &TotpSecret::new("OTHER"), &hashes("third"), NOW)
        .await;
    assert!(matches!(refused, Err(BeginSetupError::AlreadyEnabled)));
    assert_eq!(
        repo.find(alice).await.unwrap().unwrap().secret.expose(),
        SECRET
    );
}

async fn a_totp_step_is_accepted_once_and_only_forward(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    setup(&repo, alice, "c").await;
    assert!(
        !repo.claim_step(alice, 100, NOW).await.unwrap(),
        "not enabled yet"
    );
    let audit = self_audit(AuditAction::TwoFactorEnabled, alice);
    assert!(repo.enable(alice, 100, &audit, NOW).await.unwrap());
    // The step that enabled it is spent.
    assert!(!repo.claim_step(alice, 100, NOW).await.unwrap());
    assert!(!repo.claim_step(alice, 99, NOW).await.unwrap());
    assert!(repo.claim_step(alice, 101, NOW).await.unwrap());
    assert!(!repo.claim_step(alice, 101, NOW).await.unwrap());
    assert!(repo.claim_step(alice, 103, NOW).await.unwrap());
    assert!(!repo.claim_step(alice, 102, NOW).await.unwrap());
    // Another user's steps are its own.
    let bob = create_user(&db, "bob", 0).await.id;
    enabled(&repo, bob).await;
    assert!(repo.claim_step(bob, 101, NOW).await.unwrap());
}

async fn a_backup_code_is_used_once_and_only_by_its_owner(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    let bob = create_user(&db, "bob", 0).await.id;
    enabled(&repo, alice).await;
    enabled(&repo, bob).await;
    let codes = repo.unused_backup_codes(alice).await.unwrap();
    assert_eq!(codes.len(), 4);
    let first = codes[0].id;
    assert!(
        !repo.consume_backup_code(bob, first, NOW).await.unwrap(),
        "not bob's code"
    );
    assert!(repo.consume_backup_code(alice, first, NOW).await.unwrap());
    assert!(!repo.consume_backup_code(alice, first, NOW).await.unwrap());
    let left = repo.unused_backup_codes(alice).await.unwrap();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|c| c.id != first));
}

async fn regenerating_replaces_every_code_of_an_enabled_record(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    let audit = self_audit(AuditAction::TwoFactorBackupCodesRegenerated, alice);
    setup(&repo, alice, "c").await;
    assert!(
        !repo
            .replace_backup_codes(alice, &hashes("new"), &audit, NOW)
            .await
            .unwrap(),
        "not enabled"
    );
    assert_eq!(
        audit_count(&db, AuditAction::TwoFactorBackupCodesRegenerated).await,
        0
    );
    let audit_enable = self_audit(AuditAction::TwoFactorEnabled, alice);
    assert!(repo.enable(alice, 1, &audit_enable, NOW).await.unwrap());
    let used = repo.unused_backup_codes(alice).await.unwrap()[0].id;
    assert!(repo.consume_backup_code(alice, used, NOW).await.unwrap());
    assert!(
        repo.replace_backup_codes(alice, &hashes("new"), &audit, NOW)
            .await
            .unwrap()
    );
    let mut codes: Vec<String> = repo
        .unused_backup_codes(alice)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.hash)
        .collect();
    codes.sort();
    assert_eq!(codes, hashes("new"));
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 4);
    assert_eq!(
        audit_count(&db, AuditAction::TwoFactorBackupCodesRegenerated).await,
        1
    );
}

async fn disabling_deletes_everything_and_revokes_the_other_sessions(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    let bob = create_user(&db, "bob", 0).await.id;
    let mut ids = Vec::new();
    for hash in ["a1", "a2", "a3"] {
        ids.push(
            sessions
                .create(&session(hash, alice, NOW + 100))
                .await
                .unwrap(),
        );
    }
    sessions
        .create(&session("b1", bob, NOW + 100))
        .await
        .unwrap();
    let audit = self_audit(AuditAction::TwoFactorDisabled, alice);
    // Without an enabled record nothing happens, a disabled setup included.
    setup(&repo, alice, "c").await;
    assert!(
        !repo
            .disable(alice, Some(ids[0]), &audit, NOW)
            .await
            .unwrap()
    );
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 4);
    assert_eq!(active_sessions(&db, alice).await.len(), 3);

    let audit_enable = self_audit(AuditAction::TwoFactorEnabled, alice);
    assert!(repo.enable(alice, 1, &audit_enable, NOW).await.unwrap());
    assert!(
        repo.disable(alice, Some(ids[0]), &audit, NOW)
            .await
            .unwrap()
    );
    assert_eq!(repo.find(alice).await.unwrap(), None);
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 0);
    assert_eq!(active_sessions(&db, alice).await, [ids[0].get()]);
    assert_eq!(active_sessions(&db, bob).await.len(), 1);
    assert_eq!(audit_count(&db, AuditAction::TwoFactorDisabled).await, 1);
    assert!(!repo.disable(alice, None, &audit, NOW).await.unwrap());
    assert_eq!(audit_count(&db, AuditAction::TwoFactorDisabled).await, 1);
}

async fn an_admin_reset_applies_only_to_the_user_as_checked(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    sessions
        .create(&session("a1", alice, NOW + 100))
        .await
        .unwrap();
    let audit = AuditEntry::new(
        AuditAction::TwoFactorReset,
        Some(UserId::new(1)),
        Some(alice),
        NOW,
    );
    assert_eq!(
        repo.admin_reset(alice, Role::User, &audit, NOW)
            .await
            .unwrap(),
        ResetOutcome::NotEnabled
    );
    enabled(&repo, alice).await;
    // The hierarchy was checked on an admin: alice is not one any more (or never was).
    assert_eq!(
        repo.admin_reset(alice, Role::Admin, &audit, NOW)
            .await
            .unwrap(),
        ResetOutcome::Changed
    );
    assert!(repo.find(alice).await.unwrap().is_some());
    assert_eq!(
        repo.admin_reset(alice, Role::User, &audit, NOW)
            .await
            .unwrap(),
        ResetOutcome::Reset
    );
    assert_eq!(repo.find(alice).await.unwrap(), None);
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice).await, 0);
    assert!(active_sessions(&db, alice).await.is_empty());
    assert_eq!(audit_count(&db, AuditAction::TwoFactorReset).await, 1);
    // A deleted user is "changed".
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = {NOW} WHERE id = {}",
            alice.get()
        ),
    )
    .await;
    assert_eq!(
        repo.admin_reset(alice, Role::User, &audit, NOW)
            .await
            .unwrap(),
        ResetOutcome::Changed
    );
}

async fn counts_are_of_live_users(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    let bob = create_user(&db, "bob", 0).await.id;
    let carol = create_user(&db, "carol", 0).await.id;
    enabled(&repo, alice).await;
    enabled(&repo, bob).await;
    setup(&repo, carol, "c").await;
    exec(
        &db,
        &format!(
            "UPDATE users SET deleted_at = {NOW} WHERE id = {}",
            bob.get()
        ),
    )
    .await;
    assert_eq!(
        repo.counts().await.unwrap(),
        TwoFactorCounts {
            total_users: 2,
            enabled_users: 1
        }
    );
}

async fn a_hard_deleted_user_leaves_no_two_factor_rows(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    enabled(&repo, alice.id).await;
    let audit = AuditEntry::new(
        AuditAction::UserHardDeleted,
        Some(UserId::new(1)),
        Some(alice.id),
        NOW,
    );
    users.hard_delete(&alice, &audit).await.unwrap();
    assert_eq!(row_count(&db, "two_factors", alice.id).await, 0);
    assert_eq!(row_count(&db, "two_factor_backup_codes", alice.id).await, 0);
}

/// Starts `n` tasks at once and counts the ones whose result is `true`.
async fn winners<F, Fut>(n: usize, task: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (start, fut) = (start.clone(), task());
            tokio::spawn(async move {
                start.wait().await;
                fut.await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    won
}

async fn concurrent_uses_of_one_backup_code_have_exactly_one_winner(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    enabled(&repo, alice).await;
    let id = repo.unused_backup_codes(alice).await.unwrap()[0].id;
    let won = winners(16, || {
        let repo = repo.clone();
        async move { repo.consume_backup_code(alice, id, NOW).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
}

async fn concurrent_claims_of_one_totp_step_have_exactly_one_winner(db: DatabaseConnection) {
    let repo = SeaTwoFactorRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await.id;
    enabled(&repo, alice).await;
    let won = winners(16, || {
        let repo = repo.clone();
        async move { repo.claim_step(alice, 101, NOW).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1);
}

stories!(
    setup_is_stored_disabled_and_enabled_once,
    a_totp_step_is_accepted_once_and_only_forward,
    a_backup_code_is_used_once_and_only_by_its_owner,
    regenerating_replaces_every_code_of_an_enabled_record,
    disabling_deletes_everything_and_revokes_the_other_sessions,
    an_admin_reset_applies_only_to_the_user_as_checked,
    counts_are_of_live_users,
    a_hard_deleted_user_leaves_no_two_factor_rows,
    ;
    concurrent:
    concurrent_uses_of_one_backup_code_have_exactly_one_winner,
    concurrent_claims_of_one_totp_step_have_exactly_one_winner,
);
