use std::sync::Arc;

use super::*;
use crate::groups::GroupSettings;
use crate::ports::{
    MockClock, MockHostResolver, MockPasswordHasher, MockSecretGenerator, MockSessionRepository,
    MockUserRepository,
};
use crate::services::accounts_test_user as user;
use crate::user::{Role, UserId};

const NOW: i64 = 1_700_000_000;

#[derive(Default)]
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    hasher: MockPasswordHasher,
}

impl Mocks {
    fn service(self) -> ProfileService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        ProfileService::new(
            CorePorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                hasher: Arc::new(self.hasher),
                secrets: Arc::new(MockSecretGenerator::new()),
                clock: Arc::new(clock),
                audit: Arc::new(crate::ports::MockAuditRepository::new()),
            },
            Arc::new(MockHostResolver::new()),
            Arc::new(crate::options::StaticOptions::with(
                crate::services::RegistrationPolicy::default(),
                GroupSettings::default(),
            )),
        )
    }
}

fn change(current: Option<&str>, new: &str) -> Option<PasswordChange> {
    Some(PasswordChange {
        current: current.map(str::to_owned),
        new: new.to_owned(),
    })
}

#[tokio::test]
async fn a_display_name_change_needs_no_password() {
    let mut m = Mocks::default();
    m.users
        .expect_update_profile()
        .withf(|id, c| {
            *id == UserId::new(1)
                && c.display_name.as_ref().is_some_and(|d| d == "New Name")
                && c.username.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(user(1, Role::User)));
    m.service()
        .update_self(
            &user(1, Role::User),
            Some(SessionId::new(3)),
            Some(" New Name "),
            None,
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn empty_values_change_nothing() {
    // No expectations: any repository call fails the test.
    Mocks::default()
        .service()
        .update_self(
            &user(1, Role::User),
            None,
            Some("  "),
            change(None, ""),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_long_display_name_or_short_password_is_refused_before_any_write() {
    let svc = Mocks::default().service();
    assert!(matches!(
        svc.update_self(
            &user(1, Role::User),
            None,
            Some(&"x".repeat(21)),
            None,
            None
        )
        .await,
        Err(ProfileError::InvalidDisplayName)
    ));
    assert!(matches!(
        svc.update_self(
            &user(1, Role::User),
            None,
            None,
            change(Some("old-password"), "short"),
            None
        )
        .await,
        Err(ProfileError::InvalidCredential(_))
    ));
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let mut m = Mocks::default();
    m.users
        .expect_find_password_hash()
        .returning(|_| Ok(Some("stored".into())));
    m.hasher.expect_verify().returning(|_, _| Ok(false));
    let err = m
        .service()
        .update_self(
            &user(1, Role::User),
            Some(SessionId::new(3)),
            Some("Name"),
            change(Some("bad"), "new-password"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProfileError::WrongPassword));
}

#[tokio::test]
async fn a_password_change_revokes_the_other_sessions_and_the_token_but_keeps_this_session() {
    let mut m = Mocks::default();
    m.users
        .expect_find_password_hash()
        .returning(|_| Ok(Some("stored".into())));
    m.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "old-password" && hash.as_deref() == Some("stored"))
        .returning(|_, _| Ok(true));
    m.hasher.expect_hash().returning(|_| Ok("new-hash".into()));
    m.users
        .expect_change_password()
        .withf(|id, hash, keep, revoke_token, audit, now| {
            *id == UserId::new(1)
                && hash == "new-hash"
                && *keep == Some(SessionId::new(3))
                && *revoke_token
                && audit.action == crate::audit::AuditAction::PasswordChanged
                && audit.ip.as_deref() == Some("10.1.2.3")
                && *now == NOW
        })
        .times(1)
        .returning(|_, _, _, _, _, _| Ok(()));
    m.service()
        .update_self(
            &user(1, Role::User),
            Some(SessionId::new(3)),
            None,
            change(Some("old-password"), "new-password"),
            Some("10.1.2.3".into()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_account_without_a_password_may_set_a_first_one() {
    let mut m = Mocks::default();
    m.users
        .expect_find_password_hash()
        .returning(|_| Ok(Some(String::new())));
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users
        .expect_change_password()
        .times(1)
        .returning(|_, _, _, _, _, _| Ok(()));
    m.service()
        .update_self(
            &user(1, Role::User),
            None,
            None,
            change(None, "first-password"),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_rest_password_change_checks_confirmation_policy_and_old_password() {
    let svc = Mocks::default().service();
    let u = user(1, Role::User);
    assert!(matches!(
        svc.change_password(&u, None, "old", "new-password", "other-password", None)
            .await,
        Err(ChangePasswordError::Mismatch)
    ));
    assert!(matches!(
        svc.change_password(&u, None, "old", "short", "short", None)
            .await,
        Err(ChangePasswordError::InvalidPassword(_))
    ));
    let mut m = Mocks::default();
    m.users
        .expect_find_password_hash()
        .returning(|_| Ok(Some("stored".into())));
    m.hasher.expect_verify().returning(|_, _| Ok(false));
    assert!(matches!(
        m.service()
            .change_password(&u, None, "wrong", "new-password", "new-password", None)
            .await,
        Err(ChangePasswordError::WrongOldPassword)
    ));
}

#[tokio::test]
async fn sending_back_a_name_that_predates_the_rules_is_no_rename() {
    let svc = Mocks::default().service();
    let legacy = User {
        username: "root\u{200B}".into(),
        ..user(1, Role::User)
    };
    let input = ProfileInput {
        username: Some(" root\u{200B} ".into()),
        ..Default::default()
    };
    // No repository call is expected: nothing changes.
    let same = svc.update_profile(&legacy, input).await.unwrap();
    assert_eq!(same.username, legacy.username);
}

#[tokio::test]
async fn a_valid_email_is_refused_as_unverified_before_any_write() {
    let svc = Mocks::default().service();
    let input = ProfileInput {
        username: Some("renamed".into()),
        email: Some("alice@example.com".into()),
        ..Default::default()
    };
    assert!(matches!(
        svc.update_profile(&user(1, Role::User), input).await,
        Err(ProfileError::EmailUnverified)
    ));
}

#[tokio::test]
async fn invalid_profile_fields_are_refused_before_any_write() {
    let svc = Mocks::default().service();
    let u = user(1, Role::User);
    let cases = [
        (
            ProfileInput {
                email: Some("nope".into()),
                ..Default::default()
            },
            "e-mail",
        ),
        (
            ProfileInput {
                phone: Some("12ab".into()),
                ..Default::default()
            },
            "phone",
        ),
        (
            ProfileInput {
                phone: Some("+1234".into()),
                ..Default::default()
            },
            "phone",
        ),
        (
            ProfileInput {
                avatar: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
            "avatar",
        ),
        (
            ProfileInput {
                avatar: Some("ftp://x.org/a.png".into()),
                ..Default::default()
            },
            "avatar",
        ),
        (
            ProfileInput {
                avatar: Some(format!("https://x.org/{}", "a".repeat(600))),
                ..Default::default()
            },
            "avatar",
        ),
        (
            ProfileInput {
                username: Some("".into()),
                ..Default::default()
            },
            "username",
        ),
    ];
    for (input, what) in cases {
        assert!(svc.update_profile(&u, input).await.is_err(), "{what}");
    }
}

#[tokio::test]
async fn empty_strings_clear_contact_fields_and_absent_fields_stay() {
    let mut m = Mocks::default();
    m.users
        .expect_update_profile()
        .withf(|_, c| {
            c.email == Some(None)
                && c.phone == Some(Some(Phone::parse("13800138000").unwrap()))
                && c.avatar.is_none()
                && c.username.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(user(1, Role::User)));
    let input = ProfileInput {
        email: Some("".into()),
        phone: Some("13800138000".into()),
        ..Default::default()
    };
    m.service()
        .update_profile(&user(1, Role::User), input)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_valid_sidebar_is_merged_into_the_settings() {
    let mut m = Mocks::default();
    m.users
        .expect_set_setting()
        .withf(|_, json| {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            v["gotify_priority"] == 0 && v["sidebar_modules"] == r#"{"chat":{"enabled":false}}"#
        })
        .times(1)
        .returning(|_, _| Ok(()));
    m.service()
        .set_sidebar(&user(1, Role::User), r#"{"chat": {"enabled": false}}"#)
        .await
        .unwrap();
    let svc = Mocks::default().service();
    assert!(matches!(
        svc.set_sidebar(&user(1, Role::User), "not json").await,
        Err(ProfileError::InvalidSidebar)
    ));
}

#[tokio::test]
async fn root_cannot_delete_itself_and_a_user_deletion_revokes_every_session() {
    let svc = Mocks::default().service();
    assert!(matches!(
        svc.delete_self(&user(1, Role::Root)).await,
        Err(DeleteSelfError::Root)
    ));
    // One repository step does it all (deletion, revocations, audit): no separate session
    // call that could fail after the deletion committed.
    let mut m = Mocks::default();
    m.users
        .expect_soft_delete()
        .withf(|id, audit, now| {
            *id == UserId::new(5)
                && *now == NOW
                && audit.action == AuditAction::UserSelfDeleted
                && audit.actor_id == Some(UserId::new(5))
                && audit.target_id == Some(UserId::new(5))
                && audit.at == NOW
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    m.service().delete_self(&user(5, Role::User)).await.unwrap();
}

#[tokio::test]
async fn the_owner_is_confirmed_by_the_password_or_a_login_of_the_last_ten_minutes() {
    let proof = |password: Option<&str>, created: Option<i64>| OwnerProof {
        password: password.map(str::to_owned),
        session_created_at: created,
    };
    // No password: only the login time decides, with no hash spent.
    let svc = Mocks::default().service();
    let owner = user(1, Role::User);
    for (created, ok) in [
        (None, false),
        (Some(NOW), true),
        (Some(NOW - FRESH_LOGIN_SECS), true),
        (Some(NOW - FRESH_LOGIN_SECS - 1), false),
        (Some(NOW + 60), false),
    ] {
        let got = svc.confirm_owner(&owner, &proof(None, created)).await;
        assert_eq!(got.is_ok(), ok, "{created:?}: {got:?}");
        if !ok {
            assert!(matches!(got, Err(OwnerProofError::Required)));
        }
    }
    // A password is checked even with a fresh login; a wrong one is refused.
    let mut m = Mocks::default();
    m.users
        .expect_find_password_hash()
        .returning(|_| Ok(Some("stored".into())));
    m.hasher
        .expect_verify()
        .returning(|pw, hash| Ok(pw == "right" && hash.as_deref() == Some("stored")));
    let svc = m.service();
    assert!(
        svc.confirm_owner(&owner, &proof(Some("right"), None))
            .await
            .is_ok()
    );
    assert!(matches!(
        svc.confirm_owner(&owner, &proof(Some("wrong"), Some(NOW)))
            .await,
        Err(OwnerProofError::WrongPassword)
    ));
}
