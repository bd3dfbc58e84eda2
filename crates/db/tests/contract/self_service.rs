//! `UserRepository`, what a user does to their own account: invitations, aff transfers,
//! profile, password, deletion.

use super::*;

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
    assert_eq!(
        (invitee.balances.quota, invitee.affiliate.inviter_id),
        (210, Some(inviter.id))
    );
    let inviter = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!(
        (
            inviter.affiliate.count,
            inviter.affiliate.quota,
            inviter.affiliate.history_quota,
            inviter.balances.quota
        ),
        (1, 300, 300, 0)
    );
    // An invitation without rewards is still linked and counted, and writes no ledger row.
    let rows_before = query_i64(&db, "SELECT COUNT(*) FROM ledger").await;
    let free = users
        .create(&invited("free", inviter.id, 0, 0, 0))
        .await
        .unwrap();
    assert_eq!(free.affiliate.inviter_id, Some(inviter.id));
    assert_eq!(
        query_i64(&db, "SELECT COUNT(*) FROM ledger").await,
        rows_before
    );
    let inviter = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!((inviter.affiliate.count, inviter.affiliate.quota), (2, 300));
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
        assert_eq!(
            (invitee.balances.quota, invitee.affiliate.inviter_id),
            (50, Some(inviter.id))
        );
    }
    let them = users.find_by_id(inviter.id).await.unwrap().unwrap();
    assert_eq!(
        (
            them.affiliate.count,
            them.affiliate.quota,
            them.affiliate.history_quota
        ),
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
    assert_eq!((them.affiliate.count, them.affiliate.quota), (4, 900));
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
        (
            them.affiliate.count,
            them.affiliate.quota,
            them.affiliate.history_quota
        ),
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
    assert_eq!((after.balances.quota, after.affiliate.quota), (200, 100));
    assert!(imbalances(&db).await.is_empty());
    assert!(matches!(
        users
            .transfer_aff_quota(UserId::new(999_999), 1, "t3", NOW)
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
    assert_eq!((after.balances.quota, after.affiliate.quota), (1000, 0));
    assert!(imbalances(&db).await.is_empty());
}

async fn profile_updates_apply_or_refuse_whole(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let set_email = ProfileChanges {
        email: Some(Some(Email::parse("bob@example.com").unwrap())),
        ..Default::default()
    };
    users.update_profile(bob.id, &set_email).await.unwrap();
    let taken = users
        .update_profile(
            alice.id,
            &ProfileChanges {
                email: Some(Some(Email::parse("bob@example.com").unwrap())),
                phone: Some(Some(Phone::parse("13800138000").unwrap())),
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
                display_name: Some(DisplayName::parse("Alice").unwrap()),
                email: Some(Some(Email::parse("alice@example.com").unwrap())),
                phone: Some(Some(Phone::parse("13800138000").unwrap())),
                avatar: Some(Some(AvatarUrl::parse("https://example.com/a.png").unwrap())),
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
    assert_eq!(a.affiliate.code, None);
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

/// A password change replaces the hash, revokes every other session (and the access token when
/// asked) and writes its audit record, together; a missing or deleted user changes nothing.
async fn a_password_change_revokes_other_sessions_and_is_audited(db: DatabaseConnection) {
    let users = SeaUserRepository::new(db.clone());
    let sessions = SeaSessionRepository::new(db.clone());
    let alice = create_user(&db, "alice", 0).await;
    let bob = create_user(&db, "bob", 0).await;
    let here = sessions
        .create(&session("alice-here", alice.id, NOW + 100))
        .await
        .unwrap();
    for (hash, id) in [("alice-there", alice.id), ("bob-web", bob.id)] {
        sessions
            .create(&session(hash, id, NOW + 100))
            .await
            .unwrap();
    }
    let token = TokenHash::from_hex("alice-token");
    let audit = |id| self_audit(AuditAction::AccessTokenRotated, id);
    users
        .set_access_token(alice.id, &token, &audit(alice.id))
        .await
        .unwrap();
    let active = async |hash: &str| {
        active_user(&sessions, &TokenHash::from_hex(hash), NOW)
            .await
            .unwrap()
    };
    let changed = |id| self_audit(AuditAction::PasswordChanged, id);

    // Keep this session and the token.
    users
        .change_password(
            alice.id,
            "hash-2",
            Some(here),
            false,
            &changed(alice.id),
            NOW,
        )
        .await
        .unwrap();
    let hash = users.find_password_hash(alice.id).await.unwrap();
    assert_eq!(hash.as_deref(), Some("hash-2"));
    assert_eq!(active("alice-here").await, Some(alice.id));
    assert_eq!(active("alice-there").await, None);
    assert_eq!(
        active("bob-web").await,
        Some(bob.id),
        "other users keep theirs"
    );
    let by_token = users.find_by_access_token(&token).await.unwrap();
    assert_eq!(by_token.map(|u| u.id), Some(alice.id));
    assert_eq!(audit_count(&db, AuditAction::PasswordChanged).await, 1);

    // Keep nothing, revoke the token.
    users
        .change_password(alice.id, "hash-3", None, true, &changed(alice.id), NOW)
        .await
        .unwrap();
    assert_eq!(active("alice-here").await, None);
    assert_eq!(users.find_by_access_token(&token).await.unwrap(), None);
    assert_eq!(audit_count(&db, AuditAction::PasswordChanged).await, 2);

    // A missing user and a soft-deleted one: refused, nothing written.
    let missing = UserId::new(999_999);
    let refused = users
        .change_password(missing, "x", None, true, &changed(missing), NOW)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    users
        .soft_delete(bob.id, &self_audit(AuditAction::UserDeleted, bob.id), NOW)
        .await
        .unwrap();
    let refused = users
        .change_password(bob.id, "x", None, true, &changed(bob.id), NOW)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let bob_hash = format!(
        "SELECT COUNT(*) FROM users WHERE id = {} AND password_hash = 'hash-of-bob'",
        bob.id.get()
    );
    assert_eq!(query_i64(&db, &bob_hash).await, [1]);
    assert_eq!(audit_count(&db, AuditAction::PasswordChanged).await, 2);
}

stories!(
    an_invitation_links_counts_and_rewards_through_the_ledger,
    the_inviter_reward_stops_at_the_daily_limit,
    an_inviter_must_be_live_and_enabled,
    an_aff_transfer_moves_quota_atomically_and_conserves_the_total,
    profile_updates_apply_or_refuse_whole,
    a_soft_deleted_user_loses_its_token_and_keeps_its_ledger,
    a_missing_aff_code_is_set_once,
    a_password_change_revokes_other_sessions_and_is_audited,
    ;
    concurrent:
    concurrent_invitations_reward_at_most_the_daily_limit,
    concurrent_transfers_of_the_whole_balance_move_it_once,
);
