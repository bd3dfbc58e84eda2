use std::sync::Arc;

use mockall::predicate::eq;

use super::*;
use crate::ports::{
    MockAuditRepository, MockClock, MockPasswordHasher, MockSecretGenerator, MockSessionRepository,
    MockUserRepository,
};
use crate::session::{SecretToken, TokenHash};
use crate::user::{Affiliate, Balances, DisplayName, UserId, UserStatus};

pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn user(id: i64, role: Role) -> User {
    User {
        id: UserId::new(id),
        username: format!("user{id}"),
        display_name: DisplayName::from_stored(format!("user{id}")),
        email: None,
        phone: None,
        avatar: None,
        remark: None,
        role,
        status: UserStatus::Enabled,
        group: "default".into(),
        balances: Balances::default(),
        affiliate: Affiliate {
            code: Some("AFFCODE1".into()),
            ..Affiliate::default()
        },
        setting: default_setting(role),
        created_at: NOW,
        updated_at: NOW,
        last_login_at: None,
        deleted_at: None,
    }
}

/// The secret generator the account and authentication tests share: a hash is `h(<token>)`,
/// a random code is all `A`, and every new token is `plain-token`.
pub(crate) fn secrets() -> MockSecretGenerator {
    let mut secrets = MockSecretGenerator::new();
    secrets
        .expect_hash()
        .returning(|t| TokenHash::from_hex(format!("h({t})")));
    secrets
        .expect_alphanumeric()
        .returning(|len| "A".repeat(len));
    secrets.expect_token().returning(|| SecretToken {
        plaintext: "plain-token".into(),
        hash: TokenHash::from_hex("h(plain-token)"),
    });
    secrets
}

/// A clock stopped at [`NOW`].
pub(crate) fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(NOW);
    clock
}

struct Mocks {
    users: MockUserRepository,
    hasher: MockPasswordHasher,
    secrets: MockSecretGenerator,
}

impl Mocks {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            hasher: MockPasswordHasher::new(),
            secrets: secrets(),
        }
    }

    fn service(self, policy: RegistrationPolicy) -> AccountService {
        // No expectations on sessions and audit: the service does not use them.
        let ports = CorePorts {
            users: Arc::new(self.users),
            sessions: Arc::new(MockSessionRepository::new()),
            hasher: Arc::new(self.hasher),
            secrets: Arc::new(self.secrets),
            clock: Arc::new(clock()),
            audit: Arc::new(MockAuditRepository::new()),
        };
        let groups = crate::groups::GroupSettings::default();
        let options = crate::options::StaticOptions::with(policy, groups);
        AccountService::new(&ports, Arc::new(options))
    }
}

fn register_input(username: &str, password: &str) -> RegisterInput {
    RegisterInput {
        username: username.into(),
        password: password.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn registration_is_refused_when_disabled_and_nothing_is_stored() {
    // Arrange: no expectations on the repository, so any call fails the test.
    let m = Mocks::new();
    let svc = m.service(RegistrationPolicy {
        register_enabled: false,
        ..Default::default()
    });
    // Act
    let err = svc
        .register(register_input("alice", "password1"))
        .await
        .unwrap_err();
    // Assert
    assert!(matches!(err, RegisterError::RegistrationDisabled));
}

#[tokio::test]
async fn password_registration_switch_is_checked_separately() {
    let svc = Mocks::new().service(RegistrationPolicy {
        password_register_enabled: false,
        ..Default::default()
    });
    let err = svc
        .register(register_input("alice", "password1"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::PasswordRegistrationDisabled));
}

#[tokio::test]
async fn short_password_and_long_username_are_refused_before_hashing() {
    let svc = Mocks::new().service(RegistrationPolicy::default());
    assert!(matches!(
        svc.register(register_input("alice", "short")).await,
        Err(RegisterError::InvalidInput(_))
    ));
    assert!(matches!(
        svc.register(register_input(&"a".repeat(21), "password1"))
            .await,
        Err(RegisterError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn registration_stores_a_hash_and_the_policy_quota() {
    let mut m = Mocks::new();
    m.hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok("argon2-hash".into()));
    m.users
        .expect_create()
        .times(1)
        .withf(|n: &NewUser| {
            n.username.as_str() == "alice"
                && n.display_name == "alice"
                && n.password_hash == "argon2-hash"
                && n.role == Role::User
                && n.group == "default"
                && n.initial_quota == 42
                && n.aff_code.len() == 8
                && n.created_at == NOW
        })
        .returning(|n| {
            Ok(User {
                username: n.username.to_string(),
                balances: Balances {
                    quota: n.initial_quota,
                    ..Balances::default()
                },
                ..user(7, Role::User)
            })
        });
    let svc = m.service(RegistrationPolicy {
        quota_for_new_user: 42,
        ..Default::default()
    });

    let created = svc
        .register(register_input(" alice ", "password1"))
        .await
        .unwrap();

    assert_eq!((created.id, created.balances.quota), (UserId::new(7), 42));
}

#[tokio::test]
async fn an_invitation_code_collision_is_retried() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    let mut calls = 0;
    m.users.expect_create().times(2).returning(move |_| {
        calls += 1;
        if calls == 1 {
            Err(CreateUserError::AffCodeTaken)
        } else {
            Ok(user(1, Role::User))
        }
    });
    let svc = m.service(RegistrationPolicy::default());
    assert!(
        svc.register(register_input("bob", "password1"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_taken_username_is_reported_as_such() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users
        .expect_create()
        .returning(|_| Err(CreateUserError::UsernameTaken));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.register(register_input("bob", "password1")).await,
        Err(RegisterError::UsernameTaken)
    ));
}

#[tokio::test]
async fn bootstrap_does_nothing_when_a_root_exists() {
    let mut m = Mocks::new();
    m.users.expect_root_exists().returning(|| Ok(true));
    let svc = m.service(RegistrationPolicy::default());
    assert_eq!(
        svc.bootstrap_root(None).await.unwrap(),
        BootstrapOutcome::AlreadySetUp
    );
}

#[tokio::test]
async fn bootstrap_without_credentials_creates_root_with_a_generated_password() {
    let mut m = Mocks::new();
    m.users.expect_root_exists().returning(|| Ok(false));
    m.hasher
        .expect_hash()
        .withf(|p: &Password| p.expose() == "A".repeat(24))
        .returning(|_| Ok("h".into()));
    m.users
        .expect_create()
        .withf(|n: &NewUser| n.role == Role::Root && n.username.as_str() == "root")
        .returning(|n| {
            Ok(User {
                username: n.username.to_string(),
                ..user(1, Role::Root)
            })
        });
    let svc = m.service(RegistrationPolicy::default());
    assert_eq!(
        svc.bootstrap_root(None).await.unwrap(),
        BootstrapOutcome::Created {
            username: "root".into(),
            generated_password: Some("A".repeat(24)),
        }
    );
}

#[tokio::test]
async fn bootstrap_with_credentials_does_not_echo_the_password() {
    let mut m = Mocks::new();
    m.users.expect_root_exists().returning(|| Ok(false));
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users.expect_create().returning(|n| {
        Ok(User {
            username: n.username.to_string(),
            ..user(1, Role::Root)
        })
    });
    let svc = m.service(RegistrationPolicy::default());
    let out = svc
        .bootstrap_root(Some(("admin".into(), "a-strong-password".into())))
        .await
        .unwrap();
    assert_eq!(
        out,
        BootstrapOutcome::Created {
            username: "admin".into(),
            generated_password: None
        }
    );
}

#[tokio::test]
async fn password_reset_revokes_every_session() {
    let mut m = Mocks::new();
    m.users
        .expect_find_by_username()
        .with(eq("alice"))
        .returning(|_| Ok(Some(user(6, Role::User))));
    m.hasher.expect_hash().returning(|_| Ok("new-hash".into()));
    m.users
        .expect_change_password()
        .withf(|id, hash, keep, revoke_token, audit, now| {
            *id == UserId::new(6)
                && hash == "new-hash"
                && keep.is_none()
                && *revoke_token
                && audit.action == AuditAction::PasswordReset
                && *now == NOW
        })
        .times(1)
        .returning(|_, _, _, _, _, _| Ok(()));
    let svc = m.service(RegistrationPolicy::default());
    assert!(svc.reset_password("alice", "new-password").await.is_ok());
}

// --- invitations -------------------------------------------------------------------------

#[test]
fn invitation_rewards_follow_the_policy_table() {
    let inviter = user(2, Role::User);
    let mut disabled = user(3, Role::User);
    disabled.status = UserStatus::Disabled;
    let mut deleted = user(4, Role::User);
    deleted.deleted_at = Some(NOW);
    // (inviter reward, invitee bonus, inviter) -> expected invitation
    let cases = [
        (0, 0, Some(&inviter), Some((0, 0))),
        (100, 0, Some(&inviter), Some((100, 0))),
        (0, 50, Some(&inviter), Some((0, 50))),
        (100, 50, Some(&inviter), Some((100, 50))),
        (100, 50, Some(&disabled), None),
        (100, 50, Some(&deleted), None),
        (100, 50, None, None),
    ];
    for (reward, bonus, who, expected) in cases {
        let policy = RegistrationPolicy {
            quota_for_inviter: reward,
            quota_for_invitee: bonus,
            ..Default::default()
        };
        let got = invitation_for(&policy, who).map(|i| (i.inviter_reward, i.invitee_bonus));
        assert_eq!(got, expected, "{reward} {bonus} {:?}", who.map(|u| u.id));
        if let Some(i) = invitation_for(&policy, who) {
            assert_eq!(i.inviter_id, who.unwrap().id);
        }
    }
}

#[tokio::test]
async fn registering_with_a_known_code_passes_the_invitation_to_the_store() {
    let mut m = Mocks::new();
    m.users
        .expect_find_inviter()
        .with(eq("INVITE42"))
        .returning(|_| Ok(Some(user(2, Role::User))));
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users
        .expect_create()
        .withf(|n: &NewUser| {
            n.invitation
                == Some(Invitation {
                    inviter_id: UserId::new(2),
                    inviter_reward: 300,
                    invitee_bonus: 200,
                    reward_daily_limit: 4,
                })
                && n.initial_quota == 10
        })
        .times(1)
        .returning(|_| Ok(user(9, Role::User)));
    let svc = m.service(RegistrationPolicy {
        quota_for_new_user: 10,
        quota_for_inviter: 300,
        quota_for_invitee: 200,
        aff_reward_daily_limit: 4,
        ..Default::default()
    });
    let input = RegisterInput {
        aff_code: Some(" INVITE42 ".into()),
        ..register_input("newbie", "password1")
    };
    assert!(svc.register(input).await.is_ok());
}

#[tokio::test]
async fn an_unknown_code_registers_without_an_inviter() {
    let mut m = Mocks::new();
    m.users.expect_find_inviter().returning(|_| Ok(None));
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users
        .expect_create()
        .withf(|n: &NewUser| n.invitation.is_none())
        .returning(|_| Ok(user(9, Role::User)));
    let svc = m.service(RegistrationPolicy::default());
    let input = RegisterInput {
        aff_code: Some("nope".into()),
        ..register_input("newbie", "password1")
    };
    assert!(svc.register(input).await.is_ok());
}

// --- registration rate limit ---------------------------------------------------------------

#[tokio::test]
async fn a_rate_limited_registration_hashes_and_stores_nothing() {
    use crate::rate_limit::{Decision, MockRateLimiter};
    // No expectation on the hasher or the store: calling either fails the test.
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_check()
        .with(eq("2001:db8:7:7::/64"))
        .times(1)
        .returning(|_| {
            Ok(Decision::Deny {
                retry_after_secs: 360,
            })
        });
    let svc = Mocks::new()
        .service(RegistrationPolicy::default())
        .with_register_limiter(Arc::new(limiter));
    let input = RegisterInput {
        ip: Some("2001:db8:7:7::42".into()),
        ..register_input("newbie", "password1")
    };
    assert!(matches!(
        svc.register(input).await,
        Err(RegisterError::RateLimited {
            retry_after_secs: 360
        })
    ));
}

#[tokio::test]
async fn malformed_input_is_refused_before_it_counts_against_the_limit() {
    use crate::rate_limit::MockRateLimiter;
    // The limiter has no expectation: a check would fail the test.
    let svc = Mocks::new()
        .service(RegistrationPolicy::default())
        .with_register_limiter(Arc::new(MockRateLimiter::new()));
    assert!(matches!(
        svc.register(register_input("newbie", "short")).await,
        Err(RegisterError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn an_allowed_registration_is_counted_under_the_clients_address() {
    use crate::rate_limit::{Decision, MockRateLimiter};
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok("h".into()));
    m.users
        .expect_create()
        .times(1)
        .returning(|_| Ok(user(9, Role::User)));
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_check()
        .with(eq("203.0.113.5"))
        .times(1)
        .returning(|_| Ok(Decision::Allow));
    let svc = m
        .service(RegistrationPolicy::default())
        .with_register_limiter(Arc::new(limiter));
    let input = RegisterInput {
        ip: Some("203.0.113.5".into()),
        ..register_input("newbie", "password1")
    };
    assert!(svc.register(input).await.is_ok());
}

#[tokio::test]
async fn an_invalid_email_is_refused_before_anything_is_stored() {
    let svc = Mocks::new().service(RegistrationPolicy::default());
    let input = RegisterInput {
        email: Some("not-an-email".into()),
        ..register_input("newbie", "password1")
    };
    assert!(matches!(
        svc.register(input).await,
        Err(RegisterError::InvalidEmail)
    ));
}

#[tokio::test]
async fn a_valid_email_is_never_stored_at_registration() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok("hash".into()));
    m.users
        .expect_create()
        .times(1)
        .withf(|n: &NewUser| n.email.is_none())
        .returning(|_| Ok(user(7, Role::User)));
    let svc = m.service(RegistrationPolicy::default());
    let input = RegisterInput {
        email: Some("alice@example.com".into()),
        ..register_input("newbie", "password1")
    };
    assert!(svc.register(input).await.is_ok());
}
