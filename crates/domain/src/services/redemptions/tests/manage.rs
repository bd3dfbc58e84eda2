use mockall::predicate::eq;
use serde_json::json;

use super::{NOW, actor, service};
use crate::audit::{AuditAction, AuditEntry};
use crate::ports::MockRedemptionRepository;
use crate::redemption::{Redemption, RedemptionStatus};
use crate::redemption_manage::{ManageRedemptionError, RedemptionChanges, RedemptionEdit};
use crate::user::{Role, UserId, UserStatus};

fn stored(status: RedemptionStatus) -> Redemption {
    Redemption {
        id: 7,
        created_by: UserId::new(1),
        code: "0123456789abcdef0123456789abcdef".into(),
        status,
        name: "promo".into(),
        quota: 500,
        created_at: 0,
        redeemed_at: None,
        used_by: None,
        expires_at: None,
    }
}

fn repo_with(code: Redemption) -> MockRedemptionRepository {
    let mut repo = MockRedemptionRepository::new();
    repo.expect_find()
        .with(eq(7))
        .returning(move |_| Ok(Some(code.clone())));
    repo
}

#[tokio::test]
async fn an_edit_writes_the_changes_over_the_code_as_read_with_its_audit() {
    // Arrange
    let mut repo = repo_with(stored(RedemptionStatus::Enabled));
    repo.expect_update()
        .times(1)
        .withf(
            |seen: &Redemption, changes: &RedemptionChanges, audit: &AuditEntry| {
                *seen == stored(RedemptionStatus::Enabled)
                    && *changes
                        == RedemptionChanges {
                            name: Some("spring".into()),
                            quota: Some(400),
                            ..RedemptionChanges::default()
                        }
                    && audit.action == AuditAction::RedemptionUpdated
                    && audit.actor_id == Some(UserId::new(1))
                    && audit.target_id.is_none()
                    && audit.at == NOW
                    && audit.ip.as_deref() == Some("192.0.2.7")
                    && audit.before == Some(json!({"id": 7, "name": "promo", "quota": 500}))
                    && audit.after == Some(json!({"id": 7, "name": "spring", "quota": 400}))
                    && !format!("{:?}{:?}", audit.before, audit.after).contains(&seen.code)
            },
        )
        .returning(|seen, _, _| {
            Ok(Redemption {
                name: "spring".into(),
                quota: 400,
                ..seen.clone()
            })
        });
    let edit = RedemptionEdit {
        name: Some("spring".into()),
        quota: Some(400),
        expires_at: Some(0),
    };
    // Act
    let out = service(repo)
        .edit(&actor(Role::Admin), 7, &edit, Some("192.0.2.7".into()))
        .await
        .unwrap();
    // Assert
    assert_eq!((out.name.as_str(), out.quota), ("spring", 400));
}

#[tokio::test]
async fn an_edit_that_changes_nothing_writes_nothing() {
    let repo = repo_with(stored(RedemptionStatus::Enabled));
    let edit = RedemptionEdit {
        name: Some("promo".into()),
        quota: Some(500),
        expires_at: Some(0),
    };
    let out = service(repo)
        .edit(&actor(Role::Admin), 7, &edit, None)
        .await
        .unwrap();
    assert_eq!(out, stored(RedemptionStatus::Enabled));
}

#[tokio::test]
async fn a_refused_status_change_never_reaches_the_write() {
    let repo = repo_with(stored(RedemptionStatus::Used));
    assert!(matches!(
        service(repo)
            .set_status(&actor(Role::Root), 7, 1, None)
            .await,
        Err(ManageRedemptionError::UsedCodeLocked)
    ));
}

#[tokio::test]
async fn a_code_changed_meanwhile_is_reported_as_such() {
    let mut repo = repo_with(stored(RedemptionStatus::Enabled));
    repo.expect_update()
        .times(1)
        .returning(|_, _, _| Err(ManageRedemptionError::Changed));
    assert!(matches!(
        service(repo)
            .set_status(&actor(Role::Admin), 7, 2, None)
            .await,
        Err(ManageRedemptionError::Changed)
    ));
}

#[tokio::test]
async fn an_unknown_code_is_not_found() {
    let mut repo = MockRedemptionRepository::new();
    repo.expect_find().returning(|_| Ok(None));
    let svc = service(repo);
    let admin = actor(Role::Admin);
    assert!(matches!(
        svc.get(&admin, 99).await,
        Err(ManageRedemptionError::NotFound)
    ));
    assert!(matches!(
        svc.delete(&admin, 99, None).await,
        Err(ManageRedemptionError::NotFound)
    ));
}

#[tokio::test]
async fn a_delete_is_audited_with_the_state_it_removed() {
    let mut repo = repo_with(stored(RedemptionStatus::Disabled));
    repo.expect_delete()
        .times(1)
        .withf(|seen: &Redemption, now: &i64, audit: &AuditEntry| {
            seen.id == 7
                && *now == NOW
                && audit.action == AuditAction::RedemptionDeleted
                && audit.before
                    == Some(json!({
                        "id": 7, "name": "promo", "quota": 500, "status": 2, "expires_at": null
                    }))
        })
        .returning(|_, _, _| Ok(()));
    service(repo)
        .delete(&actor(Role::Admin), 7, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_invalid_codes_passes_the_clock_and_returns_the_count() {
    let mut repo = MockRedemptionRepository::new();
    repo.expect_delete_invalid()
        .times(1)
        .withf(|now: &i64, audit: &AuditEntry| {
            *now == NOW
                && audit.action == AuditAction::RedemptionsPurged
                && audit.actor_id == Some(UserId::new(1))
        })
        .returning(|_, _| Ok(3));
    assert_eq!(
        service(repo)
            .delete_invalid(&actor(Role::Admin), None)
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn plain_or_disabled_users_manage_nothing_and_nothing_is_read() {
    let svc = service(MockRedemptionRepository::new());
    let mut disabled_admin = actor(Role::Admin);
    disabled_admin.status = UserStatus::Disabled;
    for who in [actor(Role::User), disabled_admin] {
        assert!(matches!(
            svc.get(&who, 7).await,
            Err(ManageRedemptionError::Forbidden)
        ));
        assert!(matches!(
            svc.search(&who, "", crate::PageRequest::default()).await,
            Err(ManageRedemptionError::Forbidden)
        ));
        assert!(matches!(
            svc.delete_invalid(&who, None).await,
            Err(ManageRedemptionError::Forbidden)
        ));
        assert!(matches!(
            svc.set_status(&who, 7, 2, None).await,
            Err(ManageRedemptionError::Forbidden)
        ));
    }
}
