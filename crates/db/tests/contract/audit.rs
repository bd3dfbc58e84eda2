//! `AuditRepository`: stored roles, the scope query, retention and the roles migration.

use super::*;

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
    let gone = UserId::new(9_999);
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

stories!(
    audit_entries_keep_their_roles_and_the_scope_query_is_the_rule,
    audit_purge_deletes_entries_written_before,
    the_audit_roles_migration_backfills_and_forgets_unknown_login_names,
);
