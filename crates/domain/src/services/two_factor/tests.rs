use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mockall::predicate::eq;

use super::*;
use crate::ports::{MockPasswordHasher, MockUserRepository};
use crate::services::accounts::tests::{NOW, clock, user};
use crate::two_factor::{MockTotpEngine, MockTwoFactorRepository, StoredBackupCode};
use crate::user::Role;

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const ALICE: i64 = 5;

struct Mocks {
    repo: MockTwoFactorRepository,
    engine: MockTotpEngine,
    hasher: MockPasswordHasher,
    users: MockUserRepository,
}

impl Mocks {
    fn new() -> Self {
        Self {
            repo: MockTwoFactorRepository::new(),
            engine: MockTotpEngine::new(),
            hasher: MockPasswordHasher::new(),
            users: MockUserRepository::new(),
        }
    }

    fn service(self) -> TwoFactorService {
        TwoFactorService::new(TwoFactorPorts {
            repo: Arc::new(self.repo),
            engine: Arc::new(self.engine),
            hasher: Arc::new(self.hasher),
            users: Arc::new(self.users),
            clock: Arc::new(clock()),
            issuer: "Tollgate".to_owned(),
        })
    }

    /// The user has a record, enabled or not.
    fn with_record(mut self, enabled: bool) -> Self {
        self.repo.expect_find().returning(move |id| {
            Ok(Some(TwoFactorRecord {
                user_id: id,
                secret: TotpSecret::new(SECRET),
                enabled,
                last_step: None,
                created_at: NOW,
                updated_at: NOW,
            }))
        });
        self
    }

    /// "123456" is the code of step 42; every other code is wrong.
    fn with_totp(mut self) -> Self {
        self.engine.expect_verify().returning(|secret, code, now| {
            assert_eq!(secret.expose(), SECRET);
            assert_eq!(now, NOW);
            Ok((code.as_str() == "123456").then_some(42))
        });
        self
    }
}

/// An audit entry holds neither the secret nor a code.
fn assert_no_secret(entry: &AuditEntry) {
    let shown = format!("{:?} {:?}", entry.before, entry.after);
    for secret in [SECRET, "123456", "ABCD1234", "ABCD-1234"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn setup_is_refused_while_enabled_and_stores_nothing() {
    let mut m = Mocks::new().with_record(true);
    m.repo.expect_begin_setup().never();
    m.hasher.expect_hash().never();
    let svc = m.service();
    assert!(matches!(
        svc.setup(&user(ALICE, Role::User)).await,
        Err(TwoFactorError::DisableFirst)
    ));
}

#[tokio::test]
async fn setup_stores_only_hashes_and_shows_four_distinct_codes_once() {
    let mut m = Mocks::new();
    m.repo.expect_find().returning(|_| Ok(None));
    m.engine
        .expect_new_secret()
        .returning(|| Ok(TotpSecret::new(SECRET)));
    // The generator repeats its first code once: the repeat is skipped.
    let drawn = AtomicUsize::new(0);
    m.engine.expect_backup_code().returning(move || {
        let n = drawn.fetch_add(1, Ordering::SeqCst);
        let codes = ["AAAA1111", "AAAA1111", "BBBB2222", "CCCC3333", "DDDD4444"];
        Ok(BackupCode::parse(codes[n]).expect("well-formed"))
    });
    m.hasher
        .expect_hash()
        .times(4)
        .returning(|p| Ok(format!("hash({})", p.expose())));
    m.repo
        .expect_begin_setup()
        .times(1)
        .withf(|user, secret, hashes, now| {
            *user == UserId::new(ALICE)
                && secret.expose() == SECRET
                && hashes
                    == [
                        "hash(AAAA1111)",
                        "hash(BBBB2222)",
                        "hash(CCCC3333)",
                        "hash(DDDD4444)",
                    ]
                && *now == NOW
        })
        .returning(|_, _, _, _| Ok(()));
    m.engine
        .expect_provisioning_url()
        .withf(|_, issuer, account| issuer == "Tollgate" && account == "user5")
        .returning(|_, _, _| "otpauth://totp/x".to_owned());
    m.engine
        .expect_qr_data_url()
        .with(eq("otpauth://totp/x"))
        .returning(|_| Ok("data:image/png;base64,AAAA".to_owned()));
    let setup = m
        .service()
        .setup(&user(ALICE, Role::User))
        .await
        .expect("setup");
    assert_eq!(setup.secret.expose(), SECRET);
    assert_eq!(setup.provisioning_url, "otpauth://totp/x");
    assert_eq!(setup.qr_data_url, "data:image/png;base64,AAAA");
    assert_eq!(
        setup.backup_codes,
        ["AAAA-1111", "BBBB-2222", "CCCC-3333", "DDDD-4444"]
    );
    assert!(!format!("{setup:?}").contains(SECRET));
}

#[tokio::test]
async fn a_setup_that_loses_to_a_concurrent_enable_is_refused() {
    let mut m = Mocks::new();
    m.repo.expect_find().returning(|_| Ok(None));
    m.engine
        .expect_new_secret()
        .returning(|| Ok(TotpSecret::new(SECRET)));
    let drawn = AtomicUsize::new(0);
    m.engine.expect_backup_code().returning(move || {
        let n = drawn.fetch_add(1, Ordering::SeqCst);
        Ok(BackupCode::parse(&format!("CODE{n:04}")).expect("well-formed"))
    });
    m.hasher.expect_hash().returning(|_| Ok("h".to_owned()));
    m.repo
        .expect_begin_setup()
        .returning(|_, _, _, _| Err(BeginSetupError::AlreadyEnabled));
    m.engine.expect_provisioning_url().never();
    assert!(matches!(
        m.service().setup(&user(ALICE, Role::User)).await,
        Err(TwoFactorError::DisableFirst)
    ));
}

#[tokio::test]
async fn enable_takes_a_current_totp_only_and_spends_its_step() {
    let mut m = Mocks::new().with_record(false).with_totp();
    m.repo
        .expect_enable()
        .times(1)
        .withf(|user, step, audit, now| {
            assert_no_secret(audit);
            *user == UserId::new(ALICE)
                && *step == 42
                && audit.action == AuditAction::TwoFactorEnabled
                && audit.actor_id == Some(UserId::new(ALICE))
                && *now == NOW
        })
        .returning(|_, _, _, _| Ok(true));
    let svc = m.service();
    let alice = UserId::new(ALICE);
    // A backup code is not a TOTP.
    assert!(matches!(
        svc.enable(alice, "ABCD-1234", None).await,
        Err(TwoFactorError::TotpFormat(TotpFormatError::Length))
    ));
    assert!(matches!(
        svc.enable(alice, "12345a", None).await,
        Err(TwoFactorError::TotpFormat(TotpFormatError::NotNumeric))
    ));
    assert!(matches!(
        svc.enable(alice, " ", None).await,
        Err(TwoFactorError::MissingCode)
    ));
    assert!(matches!(
        svc.enable(alice, "654321", None).await,
        Err(TwoFactorError::WrongCode)
    ));
    svc.enable(alice, "123 456", None).await.expect("enabled");
}

#[tokio::test]
async fn enable_needs_a_setup_and_is_refused_when_already_enabled() {
    let mut m = Mocks::new();
    m.repo.expect_find().returning(|_| Ok(None));
    assert!(matches!(
        m.service().enable(UserId::new(1), "123456", None).await,
        Err(TwoFactorError::NotSetUp)
    ));
    let mut m = Mocks::new().with_record(true);
    m.repo.expect_enable().never();
    assert!(matches!(
        m.service().enable(UserId::new(1), "123456", None).await,
        Err(TwoFactorError::AlreadyEnabled)
    ));
}

#[tokio::test]
async fn a_totp_whose_step_was_already_accepted_is_refused() {
    let mut m = Mocks::new().with_record(true).with_totp();
    let claimed = AtomicUsize::new(0);
    m.repo
        .expect_claim_step()
        .with(eq(UserId::new(ALICE)), eq(42), eq(NOW))
        .returning(move |_, _, _| Ok(claimed.fetch_add(1, Ordering::SeqCst) == 0));
    let svc = m.service();
    let alice = UserId::new(ALICE);
    let first = svc
        .verify_second_factor(alice, "123456", None)
        .await
        .expect("first use");
    assert_eq!(first.kind, FactorKind::Totp);
    assert!(matches!(
        svc.verify_second_factor(alice, "123456", None).await,
        Err(TwoFactorError::WrongCode)
    ));
}

#[tokio::test]
async fn a_backup_code_is_spent_once_and_a_lost_race_is_a_wrong_code() {
    let mut m = Mocks::new().with_record(true);
    m.repo.expect_unused_backup_codes().returning(|_| {
        Ok(vec![
            StoredBackupCode {
                id: 1,
                hash: "h1".to_owned(),
            },
            StoredBackupCode {
                id: 2,
                hash: "h2".to_owned(),
            },
        ])
    });
    // The typed code (canonical form) matches the second hash.
    m.hasher
        .expect_verify()
        .returning(|code, hash| Ok(code == "ABCD1234" && hash.as_deref() == Some("h2")));
    let consumed = AtomicUsize::new(0);
    m.repo
        .expect_consume_backup_code()
        .with(eq(UserId::new(ALICE)), eq(2), eq(NOW))
        .returning(move |_, _, _| Ok(consumed.fetch_add(1, Ordering::SeqCst) == 0));
    m.engine.expect_verify().never();
    let svc = m.service();
    let alice = UserId::new(ALICE);
    let ok = svc
        .verify_second_factor(alice, "abcd-1234", None)
        .await
        .expect("first use");
    assert_eq!(ok.kind, FactorKind::BackupCode);
    assert!(matches!(
        svc.verify_second_factor(alice, "ABCD1234", None).await,
        Err(TwoFactorError::WrongCode)
    ));
    assert!(matches!(
        svc.verify_second_factor(alice, "WXYZ-0000", None).await,
        Err(TwoFactorError::WrongCode)
    ));
    assert!(matches!(
        svc.verify_second_factor(alice, "ABCD-12", None).await,
        Err(TwoFactorError::MalformedCode)
    ));
}

#[tokio::test]
async fn without_unused_codes_a_backup_code_still_costs_a_verification() {
    let mut m = Mocks::new().with_record(true);
    m.repo
        .expect_unused_backup_codes()
        .returning(|_| Ok(vec![]));
    m.hasher
        .expect_verify()
        .times(1)
        .withf(|_, hash| hash.is_none())
        .returning(|_, _| Ok(false));
    m.repo.expect_consume_backup_code().never();
    assert!(matches!(
        m.service()
            .verify_second_factor(UserId::new(ALICE), "ABCD1234", None)
            .await,
        Err(TwoFactorError::WrongCode)
    ));
}

#[tokio::test]
async fn the_second_factor_of_a_user_without_2fa_is_refused() {
    let mut m = Mocks::new().with_record(false);
    m.engine.expect_verify().never();
    assert!(matches!(
        m.service()
            .verify_second_factor(UserId::new(ALICE), "123456", None)
            .await,
        Err(TwoFactorError::NotEnabled)
    ));
}

#[tokio::test]
async fn disable_keeps_the_current_session_and_audits_the_kind_of_code() {
    let mut m = Mocks::new().with_record(true).with_totp();
    m.repo.expect_claim_step().returning(|_, _, _| Ok(true));
    m.repo
        .expect_disable()
        .times(1)
        .withf(|user, keep, audit, _| {
            assert_no_secret(audit);
            *user == UserId::new(ALICE)
                && *keep == Some(SessionId::new(9))
                && audit.action == AuditAction::TwoFactorDisabled
                && audit.after == Some(json!({"via": "totp"}))
                && audit.ip.as_deref() == Some("10.0.0.1")
        })
        .returning(|_, _, _, _| Ok(true));
    m.service()
        .disable(
            UserId::new(ALICE),
            "123456",
            Some(SessionId::new(9)),
            Some("10.0.0.1".to_owned()),
        )
        .await
        .expect("disabled");
}

#[tokio::test]
async fn a_wrong_code_disables_nothing() {
    let mut m = Mocks::new().with_record(true).with_totp();
    m.repo.expect_claim_step().never();
    m.repo.expect_disable().never();
    assert!(matches!(
        m.service()
            .disable(UserId::new(ALICE), "000000", None, None)
            .await,
        Err(TwoFactorError::WrongCode)
    ));
}

#[tokio::test]
async fn regenerating_backup_codes_needs_a_totp_not_a_backup_code() {
    let mut m = Mocks::new().with_record(true).with_totp();
    m.repo.expect_claim_step().returning(|_, _, _| Ok(true));
    m.repo.expect_unused_backup_codes().never();
    let drawn = AtomicUsize::new(0);
    m.engine.expect_backup_code().returning(move || {
        let n = drawn.fetch_add(1, Ordering::SeqCst);
        Ok(BackupCode::parse(&format!("NEWC{n:04}")).expect("well-formed"))
    });
    m.hasher.expect_hash().returning(|_| Ok("h".to_owned()));
    m.repo
        .expect_replace_backup_codes()
        .times(1)
        .withf(|_, hashes, audit, _| {
            assert_no_secret(audit);
            hashes.len() == 4
                && audit.action == AuditAction::TwoFactorBackupCodesRegenerated
                && !format!("{:?}", audit.after).contains("NEWC")
        })
        .returning(|_, _, _, _| Ok(true));
    let svc = m.service();
    let alice = UserId::new(ALICE);
    assert!(matches!(
        svc.regenerate_backup_codes(alice, "ABCD-1234", None).await,
        Err(TwoFactorError::TotpFormat(_))
    ));
    let codes = svc
        .regenerate_backup_codes(alice, "123456", None)
        .await
        .expect("regenerated");
    assert_eq!(codes, ["NEWC-0000", "NEWC-0001", "NEWC-0002", "NEWC-0003"]);
}

#[tokio::test]
async fn status_counts_unused_codes_only_when_enabled() {
    let mut m = Mocks::new().with_record(true);
    m.repo.expect_unused_backup_codes().returning(|_| {
        Ok(vec![StoredBackupCode {
            id: 1,
            hash: "h".to_owned(),
        }])
    });
    let status = m
        .service()
        .status(UserId::new(ALICE))
        .await
        .expect("status");
    assert_eq!(
        status,
        TwoFactorStatus {
            enabled: true,
            locked: false,
            backup_codes_remaining: Some(1)
        }
    );
    let mut m = Mocks::new().with_record(false);
    m.repo.expect_unused_backup_codes().never();
    let status = m
        .service()
        .status(UserId::new(ALICE))
        .await
        .expect("status");
    assert_eq!(status.backup_codes_remaining, None);
    assert!(!status.enabled);
}

#[tokio::test]
async fn an_admin_resets_only_users_strictly_below_it() {
    for (actor_role, target_role, allowed) in [
        (Role::Admin, Role::User, true),
        (Role::Admin, Role::Admin, false),
        (Role::Admin, Role::Root, false),
        (Role::Root, Role::Admin, true),
        (Role::User, Role::User, false),
    ] {
        let mut m = Mocks::new();
        m.users
            .expect_find_by_id()
            .returning(move |id| Ok(Some(user(id.get(), target_role))));
        m.repo
            .expect_admin_reset()
            .times(usize::from(allowed))
            .withf(move |id, role, audit, _| {
                *id == UserId::new(2)
                    && *role == target_role
                    && audit.action == AuditAction::TwoFactorReset
                    && audit.actor_id == Some(UserId::new(1))
                    && audit.target_role == Some(target_role)
            })
            .returning(|_, _, _, _| Ok(ResetOutcome::Reset));
        let got = m
            .service()
            .admin_reset(&user(1, actor_role), UserId::new(2), None)
            .await;
        assert_eq!(got.is_ok(), allowed, "{actor_role:?} -> {target_role:?}");
        if !allowed {
            assert!(matches!(got, Err(TwoFactorAdminError::Hierarchy(_))));
        }
    }
}

#[tokio::test]
async fn an_admin_reset_of_a_user_without_2fa_or_a_missing_user_is_refused() {
    let mut m = Mocks::new();
    m.users.expect_find_by_id().returning(|_| Ok(None));
    assert!(matches!(
        m.service()
            .admin_reset(&user(1, Role::Root), UserId::new(2), None)
            .await,
        Err(TwoFactorAdminError::UserNotFound)
    ));
    let mut m = Mocks::new();
    m.users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    m.repo
        .expect_admin_reset()
        .returning(|_, _, _, _| Ok(ResetOutcome::NotEnabled));
    assert!(matches!(
        m.service()
            .admin_reset(&user(1, Role::Root), UserId::new(2), None)
            .await,
        Err(TwoFactorAdminError::NotEnabled)
    ));
}

#[tokio::test]
async fn statistics_are_for_admins() {
    let mut m = Mocks::new();
    m.repo.expect_counts().returning(|| {
        Ok(TwoFactorCounts {
            total_users: 3,
            enabled_users: 1,
        })
    });
    let svc = m.service();
    assert!(matches!(
        svc.counts(&user(1, Role::User)).await,
        Err(TwoFactorAdminError::Hierarchy(HierarchyError::NotAdmin))
    ));
    let counts = svc.counts(&user(1, Role::Admin)).await.expect("counts");
    assert_eq!(counts.enabled_rate(), "33.3%");
}
