use std::sync::Arc;

use mockall::predicate::eq;

use super::*;
use crate::ports::{
    AccessClaims, MockAccessTokenCodec, MockAuditRepository, MockPasswordHasher,
    MockSecretGenerator, MockSessionRepository, MockUserRepository,
};
use crate::services::RegistrationPolicy;
use crate::services::accounts::tests::{NOW, clock, secrets, user};
use crate::session::{ActiveSession, TokenHash};
use crate::user::UserStatus;

const TTL: i64 = 30 * 86_400;

struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    hasher: MockPasswordHasher,
    secrets: MockSecretGenerator,
    codec: MockAccessTokenCodec,
    audit: MockAuditRepository,
}

impl Mocks {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            hasher: MockPasswordHasher::new(),
            secrets: secrets(),
            codec: MockAccessTokenCodec::new(),
            audit: MockAuditRepository::new(),
        }
    }

    fn service(self, policy: RegistrationPolicy) -> AuthService {
        AuthService::new(
            CorePorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                hasher: Arc::new(self.hasher),
                secrets: Arc::new(self.secrets),
                clock: Arc::new(clock()),
                audit: Arc::new(self.audit),
            },
            Arc::new(self.codec),
            Arc::new(crate::options::StaticOptions::with(
                policy,
                crate::groups::GroupSettings::default(),
            )),
            SessionTtl {
                web_secs: TTL,
                refresh_secs: 2 * TTL,
            },
        )
    }
}

fn login_input(login: &str, password: &str) -> LoginInput {
    LoginInput {
        login: login.into(),
        password: password.into(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}
#[tokio::test]
async fn login_of_an_unknown_user_still_runs_the_hasher_and_fails_generically() {
    let mut m = Mocks::new();
    m.users.expect_find_credentials().returning(|_| Ok(None));
    m.hasher
        .expect_verify()
        .times(1)
        .withf(|_, hash| hash.is_none())
        .returning(|_, _| Ok(false));
    // The failure is audited, with no target for an unknown name.
    m.audit
        .expect_record()
        .withf(|e| e.action == AuditAction::LoginFailed && e.target_id.is_none())
        .times(1)
        .returning(|_| Ok(()));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.login(login_input("ghost", "password1")).await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn login_of_a_disabled_user_with_the_right_password_fails_like_a_wrong_password() {
    let mut m = Mocks::new();
    m.users.expect_find_credentials().returning(|_| {
        let mut u = user(3, Role::User);
        u.status = UserStatus::Disabled;
        Ok(Some((u, "hash".into())))
    });
    m.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    m.audit
        .expect_record()
        .withf(|e| e.action == AuditAction::LoginFailed && e.target_id == Some(UserId::new(3)))
        .times(1)
        .returning(|_| Ok(()));
    // No session may be created.
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.login(login_input("user3", "password1")).await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn successful_login_stores_only_the_token_hash_with_the_configured_ttl() {
    let mut m = Mocks::new();
    m.users
        .expect_find_credentials()
        .with(eq("alice"))
        .returning(|_| Ok(Some((user(5, Role::User), "hash".into()))));
    m.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "password1" && hash.as_deref() == Some("hash"))
        .returning(|_, _| Ok(true));
    m.sessions
        .expect_create()
        .times(1)
        .withf(|s: &NewSession| {
            s.token_hash == TokenHash::from_hex("h(plain-token)")
                && s.user_id == UserId::new(5)
                && s.expires_at == NOW + TTL
                && s.ip.as_deref() == Some("127.0.0.1")
                && s.audit.as_ref().is_some_and(|a| {
                    a.action == AuditAction::LoginSucceeded && a.ip.as_deref() == Some("127.0.0.1")
                })
        })
        .returning(|_| Ok(SessionId::new(11)));
    m.users
        .expect_record_login()
        .with(eq(UserId::new(5)), eq(NOW))
        .times(1)
        .returning(|_, _| Ok(()));
    let svc = m.service(RegistrationPolicy::default());

    let out = svc
        .login(login_input(" alice ", "password1"))
        .await
        .unwrap();

    assert_eq!(out.session_token, "plain-token");
    assert_eq!(out.user.last_login_at, Some(NOW));
}

#[tokio::test]
async fn empty_credentials_and_disabled_login_are_refused_before_any_lookup() {
    let svc = Mocks::new().service(RegistrationPolicy::default());
    assert!(matches!(
        svc.login(login_input("  ", "password1")).await,
        Err(LoginError::MissingCredentials)
    ));
    let svc = Mocks::new().service(RegistrationPolicy {
        password_login_enabled: false,
        ..Default::default()
    });
    assert!(matches!(
        svc.login(login_input("alice", "password1")).await,
        Err(LoginError::PasswordLoginDisabled)
    ));
}

#[tokio::test]
async fn a_session_of_a_deleted_user_does_not_authenticate() {
    let mut m = Mocks::new();
    m.sessions.expect_find_active().returning(|_, _| {
        Ok(Some(ActiveSession {
            id: SessionId::new(1),
            user_id: UserId::new(9),
            kind: SessionKind::Web,
            created_at: 0,
        }))
    });
    m.users.expect_find_by_id().returning(|_| {
        let mut u = user(9, Role::User);
        u.deleted_at = Some(NOW);
        Ok(Some(u))
    });
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_session("tok").await,
        Err(AuthError::UserDeleted)
    ));
}

#[tokio::test]
async fn an_unknown_or_expired_session_is_no_session() {
    let mut m = Mocks::new();
    m.sessions
        .expect_find_active()
        .with(eq(TokenHash::from_hex("h(tok)")), eq(NOW))
        .returning(|_, _| Ok(None));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_session("tok").await,
        Err(AuthError::NoSession)
    ));
}

#[test]
fn authorization_reads_live_status_and_role() {
    let admin = user(1, Role::Admin);
    assert!(AuthService::authorize(&admin, Role::Admin).is_ok());
    assert!(matches!(
        AuthService::authorize(&admin, Role::Root),
        Err(AuthError::Forbidden)
    ));
    let mut disabled = user(2, Role::Root);
    disabled.status = UserStatus::Disabled;
    assert!(matches!(
        AuthService::authorize(&disabled, Role::User),
        Err(AuthError::Disabled)
    ));
}

#[tokio::test]
async fn access_token_rotation_retries_a_collision_and_returns_the_plaintext_once() {
    let mut m = Mocks::new();
    let mut calls = 0;
    m.users
        .expect_set_access_token()
        .times(2)
        .withf(|id, hash, audit| {
            *id == UserId::new(4)
                && hash.as_str() == "h(plain-token)"
                // Audited with the token change, by and about the user, never the token.
                && audit.action == AuditAction::AccessTokenRotated
                && audit.actor_id == Some(UserId::new(4))
                && audit.target_id == Some(UserId::new(4))
                && audit.ip.as_deref() == Some("10.0.0.9")
                && audit.before.is_none()
                && audit.after.is_none()
        })
        .returning(move |_, _, _| {
            calls += 1;
            if calls == 1 {
                Err(SetAccessTokenError::Collision)
            } else {
                Ok(())
            }
        });
    let svc = m.service(RegistrationPolicy::default());
    assert_eq!(
        svc.rotate_access_token(UserId::new(4), Some("10.0.0.9".into()))
            .await
            .unwrap(),
        "plain-token"
    );
}

#[tokio::test]
async fn an_email_address_is_not_a_login_name() {
    let mut m = Mocks::new();
    // Passed through as typed: only a username can match it.
    m.users
        .expect_find_credentials()
        .with(eq("Alice@Example.com"))
        .returning(|_| Ok(None));
    m.hasher.expect_verify().returning(|_, _| Ok(false));
    m.audit.expect_record().returning(|_| Ok(()));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.login(login_input("Alice@Example.com", "password1"))
            .await,
        Err(LoginError::InvalidCredentials)
    ));
}

// --- /api/v1 tokens ----------------------------------------------------------------------

fn claims(user: i64, session: i64) -> AccessClaims {
    AccessClaims {
        user_id: UserId::new(user),
        session_id: SessionId::new(session),
        issued_at: NOW,
        expires_at: NOW + 900,
    }
}

#[tokio::test]
async fn a_jwt_is_refused_once_its_session_is_revoked() {
    let mut m = Mocks::new();
    m.codec.expect_verify().returning(|_, _| Ok(claims(5, 77)));
    m.sessions
        .expect_find_active_by_id()
        .with(eq(SessionId::new(77)), eq(NOW))
        .returning(|_, _| Ok(None));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_jwt("jwt").await,
        Err(AuthError::NoSession)
    ));
}

#[tokio::test]
async fn a_jwt_whose_session_belongs_to_someone_else_is_refused() {
    let mut m = Mocks::new();
    m.codec.expect_verify().returning(|_, _| Ok(claims(5, 77)));
    m.sessions.expect_find_active_by_id().returning(|_, _| {
        Ok(Some(ActiveSession {
            id: SessionId::new(77),
            user_id: UserId::new(6),
            kind: SessionKind::Refresh,
            created_at: 0,
        }))
    });
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_jwt("jwt").await,
        Err(AuthError::NoSession)
    ));
}

#[tokio::test]
async fn a_jwt_naming_a_cookie_session_is_refused() {
    let mut m = Mocks::new();
    m.codec.expect_verify().returning(|_, _| Ok(claims(5, 77)));
    m.sessions.expect_find_active_by_id().returning(|_, _| {
        Ok(Some(ActiveSession {
            id: SessionId::new(77),
            user_id: UserId::new(5),
            kind: SessionKind::Web,
            created_at: 0,
        }))
    });
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_jwt("jwt").await,
        Err(AuthError::NoSession)
    ));
}

#[tokio::test]
async fn expired_and_invalid_jwts_are_told_apart_only_as_expired_or_invalid() {
    let mut m = Mocks::new();
    m.codec.expect_verify().returning(|t, _| match t {
        "old" => Err(TokenRejected::Expired),
        _ => Err(TokenRejected::Invalid),
    });
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.authenticate_jwt("old").await,
        Err(AuthError::ExpiredAccessToken)
    ));
    assert!(matches!(
        svc.authenticate_jwt("bad").await,
        Err(AuthError::InvalidAccessToken)
    ));
}

#[tokio::test]
async fn api_login_binds_the_jwt_to_a_new_refresh_session() {
    let mut m = Mocks::new();
    m.users
        .expect_find_credentials()
        .returning(|_| Ok(Some((user(5, Role::User), "hash".into()))));
    m.hasher.expect_verify().returning(|_, _| Ok(true));
    m.sessions
        .expect_create()
        .withf(|s: &NewSession| s.kind == SessionKind::Refresh && s.expires_at == NOW + 2 * TTL)
        .returning(|_| Ok(SessionId::new(42)));
    m.users.expect_record_login().returning(|_, _| Ok(()));
    m.codec
        .expect_issue()
        .with(eq(UserId::new(5)), eq(SessionId::new(42)), eq(NOW))
        .returning(|_, _, _| Ok("jwt".into()));
    m.codec.expect_ttl_secs().return_const(900);
    let svc = m.service(RegistrationPolicy::default());
    let tokens = svc
        .login_api(login_input("alice", "password1"))
        .await
        .unwrap();
    assert_eq!(
        (
            tokens.access_token.as_str(),
            tokens.refresh_token.as_str(),
            tokens.access_expires_in
        ),
        ("jwt", "plain-token", 900)
    );
}

#[tokio::test]
async fn an_unknown_refresh_token_is_invalid() {
    let mut m = Mocks::new();
    m.sessions
        .expect_rotate()
        .returning(|_, _, _, _, _| Ok(Rotation::Invalid));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.refresh("unknown", None).await,
        Err(RefreshError::Invalid)
    ));
    assert!(matches!(
        svc.refresh("", None).await,
        Err(RefreshError::Invalid)
    ));
}

#[tokio::test]
async fn a_replayed_refresh_token_is_invalid_and_the_client_address_reaches_the_store() {
    let mut m = Mocks::new();
    m.sessions
        .expect_rotate()
        .withf(|_, _, now, _, ip| *now == NOW && ip.as_deref() == Some("10.0.0.9"))
        .times(1)
        .returning(|_, _, _, _, _| {
            Ok(Rotation::Reused {
                session_id: SessionId::new(8),
                user_id: UserId::new(5),
            })
        });
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.refresh("used", Some("10.0.0.9".into())).await,
        Err(RefreshError::Invalid)
    ));
}

#[tokio::test]
async fn refreshing_for_a_disabled_user_revokes_the_session() {
    let mut m = Mocks::new();
    m.sessions.expect_rotate().returning(|_, _, _, _, _| {
        Ok(Rotation::Rotated(ActiveSession {
            id: SessionId::new(8),
            user_id: UserId::new(5),
            kind: SessionKind::Refresh,
            created_at: 0,
        }))
    });
    m.users.expect_find_by_id().returning(|_| {
        let mut u = user(5, Role::User);
        u.status = UserStatus::Disabled;
        Ok(Some(u))
    });
    m.sessions
        .expect_revoke_by_id()
        .withf(|id, now, audit| *id == SessionId::new(8) && *now == NOW && audit.is_none())
        .times(1)
        .returning(|_, _, _| Ok(true));
    let svc = m.service(RegistrationPolicy::default());
    assert!(matches!(
        svc.refresh("tok", None).await,
        Err(RefreshError::Invalid)
    ));
}
