//! `SessionRepository`: activity, revocation, purge and refresh-token rotation.

use super::*;

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

stories!(
    session_is_active_until_it_expires,
    revoked_sessions_are_inactive,
    purge_deletes_sessions_expired_or_revoked_before,
    a_refresh_token_rotates_once,
    a_replayed_refresh_token_revokes_its_session_once_audited,
    ;
    concurrent:
    concurrent_rotations_have_one_winner_and_the_loser_revokes,
);
