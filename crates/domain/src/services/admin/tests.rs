use std::sync::Arc;

use mockall::predicate::eq;

use super::*;
use crate::ports::{
    MockAuditRepository, MockClock, MockPasswordHasher, MockSecretGenerator, MockUserRepository,
};
use crate::services::accounts_test_user as user;
use crate::user::Balances;

const NOW: i64 = 1_700_000_000;

#[derive(Default)]
struct Mocks {
    users: MockUserRepository,
    audit: MockAuditRepository,
    hasher: MockPasswordHasher,
    secrets: MockSecretGenerator,
}

impl Mocks {
    /// `target` is what the repository returns for id 2.
    fn with_target(target: User) -> Self {
        let mut m = Self::default();
        m.users
            .expect_find_by_id()
            .with(eq(UserId::new(2)))
            .returning(move |_| Ok(Some(target.clone())));
        m
    }

    fn service(self) -> AdminService {
        self.service_with(crate::services::RegistrationPolicy::default())
    }

    fn service_with(self, policy: crate::services::RegistrationPolicy) -> AdminService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        AdminService::new(
            Arc::new(self.users),
            Arc::new(self.audit),
            Arc::new(self.hasher),
            Arc::new(self.secrets),
            Arc::new(clock),
            Arc::new(crate::options::StaticOptions::with(
                policy,
                crate::groups::GroupSettings::default(),
            )),
        )
    }
}

#[tokio::test]
async fn the_listing_is_scoped_to_roles_below_the_actor_plus_itself() {
    let mut m = Mocks::default();
    m.users
        .expect_search()
        .withf(|q, _| {
            q.visible_below == Role::Admin
                && q.also == Some(UserId::new(1))
                && q.keyword.as_deref() == Some("ali")
                && q.group.is_none()
        })
        .times(1)
        .returning(|_, page| {
            Ok(Page {
                items: vec![],
                total: 0,
                request: page,
            })
        });
    let input = UserListInput {
        keyword: Some("  ali ".into()),
        group: Some(String::new()),
        ..Default::default()
    };
    m.service()
        .list(&user(1, Role::Admin), input, PageRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_cannot_read_or_change_another_admin_and_nothing_is_written() {
    let svc = Mocks::with_target(user(2, Role::Admin)).service();
    let actor = user(1, Role::Admin);
    assert!(matches!(
        svc.get(&actor, UserId::new(2)).await,
        Err(AdminError::Hierarchy(HierarchyError::TargetNotBelow))
    ));
    let input = AdminUpdateInput {
        quota: Some(5),
        ..Default::default()
    };
    assert!(matches!(
        svc.update(&actor, UserId::new(2), input, None).await,
        Err(AdminError::Hierarchy(HierarchyError::TargetNotBelow))
    ));
    assert!(matches!(
        svc.manage(&actor, UserId::new(2), AdminOp::Disable, None)
            .await,
        Err(AdminError::Hierarchy(_))
    ));
}

#[tokio::test]
async fn a_quota_change_is_audited_with_old_and_new_value() {
    let mut m = Mocks::with_target(User {
        balances: Balances {
            quota: 100,
            ..Balances::default()
        },
        ..user(2, Role::User)
    });
    m.users
        .expect_admin_update()
        .withf(|seen, changes, actor, audit, now| {
            // The write is conditioned on the user as read.
            seen.id == UserId::new(2)
                && seen.balances.quota == 100
                && seen.role == Role::User
                && changes.quota == Some(750)
                && changes.username.is_none()
                && *actor == UserId::new(1)
                && *now == NOW
                && audit.len() == 1
                && audit[0].action == AuditAction::QuotaChanged
                && audit[0].before == Some(json!({"quota": 100}))
                && audit[0].after == Some(json!({"quota": 750}))
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(user(2, Role::User)));
    let input = AdminUpdateInput {
        quota: Some(750),
        ..Default::default()
    };
    m.service()
        .update(&user(1, Role::Admin), UserId::new(2), input, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn unchanged_values_write_nothing_and_role_or_status_changes_are_refused() {
    let svc = Mocks::with_target(user(2, Role::User)).service();
    let actor = user(1, Role::Root);
    let same = AdminUpdateInput {
        username: Some("user2".into()),
        quota: Some(0),
        group: Some("default".into()),
        role: Some(1),
        status: Some(1),
        ..Default::default()
    };
    assert!(svc.update(&actor, UserId::new(2), same, None).await.is_ok());
    for (role, status) in [(Some(10), None), (None, Some(2))] {
        let input = AdminUpdateInput {
            role,
            status,
            ..Default::default()
        };
        assert!(matches!(
            svc.update(&actor, UserId::new(2), input, None).await,
            Err(AdminError::RoleChangeRefused | AdminError::StatusChangeRefused)
        ));
    }
}

#[tokio::test]
async fn root_edits_its_own_fields_but_never_its_own_role_or_status() {
    let root = user(2, Role::Root);
    let mut m = Mocks::with_target(root.clone());
    m.users
        .expect_admin_update()
        .withf(|seen, changes, actor, audit, _| {
            seen.id == UserId::new(2)
                && *actor == UserId::new(2)
                && changes.quota == Some(42)
                && changes.display_name.as_ref().map(DisplayName::as_str) == Some("Root Admin")
                && audit.iter().any(|a| a.action == AuditAction::UserUpdated)
                && audit.iter().any(|a| a.action == AuditAction::QuotaChanged)
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(user(2, Role::Root)));
    let svc = m.service();
    let input = AdminUpdateInput {
        display_name: Some("Root Admin".into()),
        quota: Some(42),
        role: Some(100),
        status: Some(1),
        ..Default::default()
    };
    svc.update(&root, UserId::new(2), input, None)
        .await
        .unwrap();
    // Asking for another role or status refuses the whole request (no second write).
    for (role, status) in [
        (Some(10), None),
        (Some(1), Some(1)),
        (None, Some(2)),
        (Some(7), None),
    ] {
        let input = AdminUpdateInput {
            display_name: Some("Renamed".into()),
            role,
            status,
            ..Default::default()
        };
        assert!(
            matches!(
                svc.update(&root, UserId::new(2), input, None).await,
                Err(AdminError::OwnRoleOrStatus)
            ),
            "{role:?} {status:?}"
        );
    }
    // An admin still cannot edit itself.
    let admin = user(2, Role::Admin);
    let svc = Mocks::with_target(admin.clone()).service();
    let input = AdminUpdateInput {
        display_name: Some("Me".into()),
        ..Default::default()
    };
    assert!(matches!(
        svc.update(&admin, UserId::new(2), input, None).await,
        Err(AdminError::Hierarchy(HierarchyError::TargetNotBelow))
    ));
}

#[tokio::test]
async fn invalid_fields_are_refused_before_any_write() {
    let svc = Mocks::with_target(user(2, Role::User)).service();
    let actor = user(1, Role::Admin);
    let cases = [
        AdminUpdateInput {
            quota: Some(-1),
            ..Default::default()
        },
        AdminUpdateInput {
            group: Some("no-such-group".into()),
            ..Default::default()
        },
        AdminUpdateInput {
            username: Some("a@b".into()),
            ..Default::default()
        },
        AdminUpdateInput {
            password: Some("short".into()),
            ..Default::default()
        },
        AdminUpdateInput {
            display_name: Some("x".repeat(21)),
            ..Default::default()
        },
        AdminUpdateInput {
            remark: Some("r".repeat(256)),
            ..Default::default()
        },
        AdminUpdateInput {
            role: Some(7),
            ..Default::default()
        },
    ];
    for input in cases {
        let shown = format!("{input:?}");
        assert!(
            svc.update(&actor, UserId::new(2), input, None)
                .await
                .is_err(),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn disabling_revokes_sessions_in_the_same_step_and_is_audited() {
    let mut m = Mocks::with_target(user(2, Role::User));
    m.users
        .expect_admin_set_state()
        .withf(|seen, change, audit, _| {
            *seen == user(2, Role::User)
                && change.role == Role::User
                && change.status == UserStatus::Disabled
                && !change.delete
                && change.revoke
                && audit.action == AuditAction::UserDisabled
                && audit.actor_id == Some(UserId::new(1))
        })
        .times(1)
        .returning(|_, _, _, _| Ok(user(2, Role::User)));
    m.service()
        .manage(
            &user(1, Role::Admin),
            UserId::new(2),
            AdminOp::Disable,
            Some("10.0.0.1".into()),
        )
        .await
        .unwrap();
}

/// The repository refused the compare-and-set: another write changed the user after the
/// service read it. Each admin write reports it as `Changed` (not "no such user").
#[tokio::test]
async fn a_write_that_lost_a_race_is_a_changed_meanwhile_refusal() {
    let mut m = Mocks::with_target(user(2, Role::User));
    m.users
        .expect_admin_set_state()
        .withf(|seen, change, audit, _| {
            seen.id == UserId::new(2)
                && seen.role == Role::User
                && seen.status == UserStatus::Enabled
                && change.role == Role::Admin
                && audit.before == Some(json!({"role": 1, "status": 1}))
        })
        .times(1)
        .returning(|_, _, _, _| Err(AdminWriteError::Changed));
    m.users
        .expect_admin_update()
        .withf(|seen, changes, _, _, _| seen.id == UserId::new(2) && changes.quota == Some(9))
        .times(1)
        .returning(|_, _, _, _, _| Err(AdminUpdateError::Changed));
    m.users
        .expect_hard_delete()
        .withf(|seen, audit| {
            seen.id == UserId::new(2)
                && seen.username == "user2"
                && audit.before == Some(json!({"username": "user2", "role": 1}))
        })
        .times(1)
        .returning(|_, _| Err(AdminWriteError::Changed));
    let svc = m.service();
    let root = user(1, Role::Root);
    assert!(matches!(
        svc.manage(&root, UserId::new(2), AdminOp::Promote, None)
            .await,
        Err(AdminError::Changed)
    ));
    let input = AdminUpdateInput {
        quota: Some(9),
        ..Default::default()
    };
    assert!(matches!(
        svc.update(&root, UserId::new(2), input, None).await,
        Err(AdminError::Changed)
    ));
    assert!(matches!(
        svc.hard_delete(&root, UserId::new(2), None).await,
        Err(AdminError::Changed)
    ));
}

#[tokio::test]
async fn a_target_gone_before_the_write_is_not_found() {
    let mut m = Mocks::with_target(user(2, Role::User));
    m.users
        .expect_admin_set_state()
        .times(1)
        .returning(|_, _, _, _| Err(AdminWriteError::NotFound));
    m.users
        .expect_hard_delete()
        .times(1)
        .returning(|_, _| Err(AdminWriteError::NotFound));
    let svc = m.service();
    let root = user(1, Role::Root);
    assert!(matches!(
        svc.manage(&root, UserId::new(2), AdminOp::Disable, None)
            .await,
        Err(AdminError::NotFound)
    ));
    assert!(matches!(
        svc.hard_delete(&root, UserId::new(2), None).await,
        Err(AdminError::NotFound)
    ));
}

#[tokio::test]
async fn a_deleted_or_unknown_target_is_not_found() {
    let svc = Mocks::with_target(User {
        deleted_at: Some(1),
        ..user(2, Role::User)
    })
    .service();
    assert!(matches!(
        svc.get(&user(1, Role::Root), UserId::new(2)).await,
        Err(AdminError::NotFound)
    ));
}

#[tokio::test]
async fn the_audit_log_is_scoped_to_the_actor() {
    let mut m = Mocks::default();
    m.audit
        .expect_list()
        .withf(|f, _| {
            f.scope
                == Some(crate::audit::AuditScope {
                    reader: UserId::new(1),
                    reader_role: Role::Admin,
                })
        })
        .times(1)
        .returning(|_, page| {
            Ok(Page {
                items: vec![],
                total: 0,
                request: page,
            })
        });
    // A scope the caller sends is replaced by the reader's own.
    let filter = AuditFilter {
        scope: Some(crate::audit::AuditScope {
            reader: UserId::new(1),
            reader_role: Role::Root,
        }),
        ..Default::default()
    };
    m.service()
        .audit_log(&user(1, Role::Admin), filter, PageRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_cannot_create_a_user_of_its_own_role_and_nothing_is_stored() {
    // No expectations: hashing or inserting would fail the test.
    let svc = Mocks::default().service();
    let input = AdminCreateInput {
        username: "bob".into(),
        password: "password1".into(),
        role: Some(Role::Admin.code()),
        ..Default::default()
    };
    let err = svc
        .create_by_admin(&user(1, Role::Admin), input)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminCreateError::Hierarchy(_)), "{err:?}");
}

#[tokio::test]
async fn a_created_user_gets_the_new_user_quota_no_inviter_and_its_audit_in_the_insert() {
    let mut m = Mocks::default();
    m.hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok("argon2-hash".into()));
    m.secrets
        .expect_alphanumeric()
        .returning(|len| "A".repeat(len));
    m.users
        .expect_create()
        .times(1)
        .withf(|n: &crate::user::NewUser| {
            n.username.as_str() == "bob"
                && n.password_hash == "argon2-hash"
                && n.role == Role::User
                && n.initial_quota == 42
                && n.invitation.is_none()
                && n.aff_code.len() == 8
                && n.audit.as_ref().is_some_and(|a| {
                    a.action == crate::audit::AuditAction::UserCreated
                        && a.actor_id == Some(UserId::new(1))
                })
        })
        .returning(|n| {
            Ok(User {
                username: n.username.to_string(),
                display_name: n.display_name.clone(),
                balances: Balances {
                    quota: n.initial_quota,
                    ..Balances::default()
                },
                ..user(5, Role::User)
            })
        });
    let svc = m.service_with(crate::services::RegistrationPolicy {
        quota_for_new_user: 42,
        ..Default::default()
    });
    let input = AdminCreateInput {
        username: "bob".into(),
        password: "password1".into(),
        ..Default::default()
    };
    let created = svc
        .create_by_admin(&user(1, Role::Admin), input)
        .await
        .unwrap();
    assert_eq!((created.id, created.balances.quota), (UserId::new(5), 42));
}
