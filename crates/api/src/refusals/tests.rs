//! One test per table: every row's compat message and REST status, as the black-box tests
//! pin them on the routes that reach them.

use actix_web::http::StatusCode;
use tollgate_domain::hierarchy::{AdminOp, HierarchyError};
use tollgate_domain::options::OptionError;
use tollgate_domain::ports::AffTransferError;
use tollgate_domain::services::{
    AccessTokenError, AdminCreateError, AdminError, ChangePasswordError, DeleteSelfError,
    LoginError, OptionsError, OwnerProofError, ProfileError, RefreshError, RegisterError,
    SettingsUpdateError,
};
use tollgate_domain::user::CredentialRuleError;
use tollgate_domain::user_settings::SettingsError;
use tollgate_domain::{CreateRedemptionsError, ManageRedemptionError, RedeemError};

use super::*;

const BAD: StatusCode = StatusCode::BAD_REQUEST;

/// The compat message and REST status of a refusal.
fn sides(e: &impl Refuse) -> (Msg, StatusCode) {
    let r = e.refusal().expect("a refusal, not an unexpected failure");
    match r.compat {
        Compat::Msg(m) => (m, r.status),
        other => panic!("not a plain message: {other:?}"),
    }
}

fn unexpected() -> anyhow::Error {
    anyhow::anyhow!("boom")
}

#[test]
fn credential_rules() {
    let cases = [
        (
            CredentialRuleError::UsernameLength { max: 20 },
            Msg::UsernameLength,
        ),
        (
            CredentialRuleError::UsernameCharacters,
            Msg::UsernameCharacters,
        ),
        (
            CredentialRuleError::PasswordLength { min: 8, max: 20 },
            Msg::PasswordLength,
        ),
        (CredentialRuleError::UsernameUnsafe, Msg::UsernameUnsafe),
    ];
    for (e, msg) in cases {
        let r = credential(&e);
        assert_eq!((r.compat, r.status), (Compat::Msg(msg), BAD));
        assert_eq!(r.error, Detail::Text(e.to_string().into()));
    }
}

#[test]
fn hierarchy_wording_depends_on_the_operation() {
    use AdminOp::*;
    use HierarchyError::*;
    let cases = [
        (NotAdmin, View, Msg::InsufficientPrivileges),
        (TargetNotBelow, View, Msg::NoPermissionView),
        (TargetNotBelow, HardDelete, Msg::NoPermissionDelete),
        (TargetNotBelow, Update, Msg::NoPermissionUpdate),
        (RoleNotBelow, Promote, Msg::NoPermissionGrant),
        (OnlyRootPromotes, Promote, Msg::OnlyRootPromotes),
        (AlreadyAdmin, Promote, Msg::AlreadyAdmin),
        (AlreadyCommon, Demote, Msg::AlreadyCommon),
        (RootProtected, Disable, Msg::CannotDisableRoot),
        (RootProtected, Demote, Msg::CannotDemoteRoot),
        (RootProtected, Delete, Msg::CannotDeleteRootUser),
    ];
    for (e, op, msg) in cases {
        let r = hierarchy(e, op);
        assert_eq!(r.compat, Compat::Msg(msg), "{e:?} {op:?}");
        assert_eq!(
            (r.status, r.rest),
            (StatusCode::FORBIDDEN, Msg::RestForbidden)
        );
    }
    let detail = hierarchy(NotAdmin, View).error;
    assert_eq!(detail, Detail::Text("admin role required".into()));
}

#[test]
fn register_table() {
    use RegisterError::*;
    assert_eq!(
        sides(&RegistrationDisabled),
        (Msg::RegisterDisabled, StatusCode::FORBIDDEN)
    );
    assert_eq!(
        sides(&PasswordRegistrationDisabled),
        (Msg::PasswordRegisterDisabled, StatusCode::FORBIDDEN)
    );
    assert_eq!(
        sides(&UsernameTaken),
        (Msg::UsernameTaken, StatusCode::CONFLICT)
    );
    assert_eq!(
        UsernameTaken.refusal().unwrap().rest,
        Msg::RestUsernameTaken
    );
    assert_eq!(sides(&EmailTaken).1, StatusCode::CONFLICT);
    assert_eq!(sides(&InvalidEmail).1, BAD);
    let limited = RateLimited {
        retry_after_secs: 42,
    }
    .refusal()
    .unwrap();
    assert_eq!(limited.compat, Compat::Msg(Msg::RegisterRateLimited));
    assert_eq!(
        (limited.status, limited.retry_after),
        (StatusCode::TOO_MANY_REQUESTS, Some(42))
    );
    assert!(RootExists.refusal().is_none());
    assert!(Unexpected(unexpected()).refusal().is_none());
}

#[test]
fn login_refresh_and_token_tables() {
    use LoginError::*;
    assert_eq!(
        sides(&PasswordLoginDisabled),
        (Msg::PasswordLoginDisabled, StatusCode::FORBIDDEN)
    );
    assert_eq!(sides(&MissingCredentials), (Msg::InvalidParams, BAD));
    assert_eq!(
        sides(&InvalidCredentials),
        (Msg::InvalidCredentials, StatusCode::UNAUTHORIZED)
    );
    assert!(LoginError::Unexpected(unexpected()).refusal().is_none());
    assert_eq!(sides(&RefreshError::Invalid).1, StatusCode::UNAUTHORIZED);
    assert!(RefreshError::Unexpected(unexpected()).refusal().is_none());
    assert_eq!(
        sides(&AccessTokenError::Collision).0,
        Msg::TokenGenerationFailed
    );
    assert!(
        AccessTokenError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
}

#[test]
fn profile_and_password_tables() {
    use ProfileError::*;
    assert_eq!(sides(&InvalidDisplayName), (Msg::DisplayNameLength, BAD));
    assert_eq!(sides(&WrongPassword).0, Msg::WrongOriginalPassword);
    assert_eq!(sides(&InvalidSidebar), (Msg::InvalidSidebar, BAD));
    for e in [InvalidEmail, InvalidPhone, InvalidAvatar] {
        let r = e.refusal().unwrap();
        assert_eq!(
            (r.status, r.error),
            (BAD, Detail::Text(e.to_string().into()))
        );
    }
    assert_eq!(sides(&UsernameTaken).1, StatusCode::CONFLICT);
    assert_eq!(sides(&EmailTaken).1, StatusCode::CONFLICT);
    assert_eq!(sides(&NotFound).1, StatusCode::UNAUTHORIZED);
    let unverified = EmailUnverified.refusal().unwrap();
    assert_eq!(
        (unverified.status, unverified.rest),
        (BAD, Msg::RestEmailUnverified)
    );
    assert!(ProfileError::Unexpected(unexpected()).refusal().is_none());

    let mismatch = ChangePasswordError::Mismatch.refusal().unwrap();
    assert_eq!(
        (mismatch.status, mismatch.rest),
        (BAD, Msg::RestPasswordMismatch)
    );
    let wrong = ChangePasswordError::WrongOldPassword.refusal().unwrap();
    assert_eq!(
        (wrong.status, wrong.rest),
        (StatusCode::UNAUTHORIZED, Msg::RestAuthFailed)
    );
    assert_eq!(wrong.error, Detail::Msg(Msg::RestOldPasswordWrong));
    assert!(
        ChangePasswordError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
}

#[test]
fn self_service_tables() {
    assert_eq!(sides(&DeleteSelfError::Root).0, Msg::CannotDeleteRoot);
    assert!(
        DeleteSelfError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
    assert_eq!(sides(&OwnerProofError::Required).0, Msg::OwnerProofRequired);
    assert_eq!(
        sides(&OwnerProofError::WrongPassword).0,
        Msg::OwnerProofWrongPassword
    );
    assert_eq!(
        sides(&SettingsUpdateError::Owner(OwnerProofError::Required)).0,
        Msg::OwnerProofRequired
    );
    assert_eq!(
        sides(&SettingsUpdateError::Invalid(SettingsError::UrlAmbiguous)),
        (Msg::UrlAmbiguous, BAD)
    );
    assert_eq!(sides(&SettingsError::BarkUrlScheme).0, Msg::BarkUrlScheme);
    assert_eq!(
        sides(&SettingsError::GotifyTokenEmpty).0,
        Msg::GotifyTokenEmpty
    );
    assert!(
        SettingsUpdateError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );

    let below = AffTransferError::BelowMinimum { min: 5 }.refusal().unwrap();
    assert_eq!(below.compat, Compat::TransferMinimum(5));
    assert_eq!(
        sides(&AffTransferError::Insufficient).0,
        Msg::TransferInsufficient
    );
    assert_eq!(sides(&AffTransferError::Overflow).0, Msg::TransferOverflow);
    assert!(AffTransferError::NotFound.refusal().is_none());
}

#[test]
fn redemption_tables() {
    use RedeemError::*;
    let cases = [
        (EmptyCode, Msg::RedeemNoCode),
        (NotFound, Msg::RedeemInvalidCode),
        (AlreadyUsed, Msg::RedeemUsed),
        (Disabled, Msg::RedeemDisabled),
        (Expired, Msg::RedeemExpired),
        (BalanceOverflow, Msg::RedeemOverflow),
        (AccountUnavailable, Msg::RedeemFailed),
    ];
    for (e, msg) in cases {
        assert_eq!(sides(&e).0, msg, "{e:?}");
    }
    assert!(RedeemError::Unexpected(unexpected()).refusal().is_none());

    use CreateRedemptionsError as C;
    assert_eq!(
        sides(&C::InvalidName { max: 20 }).0,
        Msg::RedemptionNameLength
    );
    assert_eq!(sides(&C::CountTooSmall).0, Msg::RedemptionCountTooSmall);
    assert_eq!(
        sides(&C::CountTooLarge { max: 100 }).0,
        Msg::RedemptionCountTooLarge
    );
    assert_eq!(sides(&C::InvalidQuota).0, Msg::RedemptionQuotaInvalid);
    assert_eq!(sides(&C::ExpiryInPast).0, Msg::RedemptionExpiryInPast);
    assert_eq!(
        sides(&C::Forbidden),
        (Msg::InsufficientPrivileges, StatusCode::FORBIDDEN)
    );
    assert_eq!(sides(&C::CodeCollision).0, Msg::RedemptionGenerateFailed);
    assert_eq!(sides(&C::TotalTooLarge).0, Msg::RedemptionTotalTooLarge);
    let limit = C::MintLimitExceeded {
        limit: 10,
        remaining: 3,
    }
    .refusal()
    .unwrap();
    assert_eq!(limit.compat, Compat::MintLimitExceeded(3));
    assert!(C::Unexpected(unexpected()).refusal().is_none());
}

#[test]
fn options_table() {
    let unknown = OptionsError::Invalid(OptionError::UnknownKey("X".into()));
    assert_eq!(
        unknown.refusal().unwrap().compat,
        Compat::OptionUnknown("X".into())
    );
    let bad = OptionsError::Invalid(OptionError::InvalidValue {
        key: "Y".into(),
        reason: "secret reason".into(),
    });
    assert_eq!(
        bad.refusal().unwrap().compat,
        Compat::OptionValueInvalid("Y".into())
    );
    let later = OptionsError::Invalid(OptionError::NotAvailable("Z".into()));
    assert_eq!(
        later.refusal().unwrap().compat,
        Compat::OptionNotAvailable("Z".into())
    );
    assert_eq!(
        sides(&OptionsError::Forbidden),
        (Msg::InsufficientPrivileges, StatusCode::FORBIDDEN)
    );
    assert!(OptionsError::Unexpected(unexpected()).refusal().is_none());
}

#[test]
fn admin_tables() {
    let admin = |e| AdminRefusal(e, AdminOp::Update);
    assert_eq!(
        sides(&admin(AdminError::NotFound)),
        (Msg::UserNotFound, StatusCode::NOT_FOUND)
    );
    assert_eq!(
        sides(&AdminRefusal(
            AdminError::Hierarchy(HierarchyError::TargetNotBelow),
            AdminOp::View
        )),
        (Msg::NoPermissionView, StatusCode::FORBIDDEN)
    );
    let cases = [
        (AdminError::InvalidDisplayName, Msg::DisplayNameLength),
        (AdminError::UnknownGroup, Msg::UnknownGroup),
        (AdminError::InvalidRemark, Msg::RemarkLength),
        (AdminError::InvalidQuota, Msg::QuotaNegative),
        (AdminError::InvalidRole, Msg::InvalidParams),
        (AdminError::RoleChangeRefused, Msg::RoleChangeRefused),
        (AdminError::StatusChangeRefused, Msg::StatusChangeRefused),
        (AdminError::UsernameTaken, Msg::UsernameTaken),
    ];
    for (e, msg) in cases {
        assert_eq!(sides(&admin(e)), (msg, BAD));
    }
    assert_eq!(
        sides(&admin(AdminError::Changed)),
        (Msg::UserChangedMeanwhile, StatusCode::CONFLICT)
    );
    assert_eq!(
        sides(&admin(AdminError::OwnRoleOrStatus)),
        (Msg::CannotChangeOwnRoleOrStatus, StatusCode::FORBIDDEN)
    );
    assert!(
        admin(AdminError::Unexpected(unexpected()))
            .refusal()
            .is_none()
    );

    let higher = AdminCreateError::Hierarchy(HierarchyError::RoleNotBelow);
    assert_eq!(
        sides(&higher),
        (Msg::CannotCreateHigher, StatusCode::FORBIDDEN)
    );
    let other = AdminCreateError::Hierarchy(HierarchyError::NotAdmin);
    assert_eq!(sides(&other).0, Msg::InsufficientPrivileges);
    assert_eq!(sides(&AdminCreateError::InvalidRole).0, Msg::InvalidParams);
    assert_eq!(
        sides(&AdminCreateError::UsernameTaken).0,
        Msg::UsernameTaken
    );
    assert!(
        AdminCreateError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
}

#[test]
fn top_up_tables() {
    use tollgate_domain::payment::PaymentProvider;
    use tollgate_domain::services::TopUpError as T;
    use tollgate_domain::topup::{PricingError as P, SettleError as S, TopUpStatus};

    let min = T::Pricing(P::BelowMinimum { min: 5 }).refusal().unwrap();
    assert_eq!((min.compat, min.status), (Compat::TopUpMinimum(5), BAD));
    let max = T::Pricing(P::AboveMaximum { max: 10_000 })
        .refusal()
        .unwrap();
    assert_eq!(max.compat, Compat::TopUpMaximum(10_000));
    assert_eq!(sides(&T::Pricing(P::TooLow)), (Msg::TopUpPriceTooLow, BAD));
    assert_eq!(
        sides(&T::UnknownMethod("x".into())),
        (Msg::PayMethodMissing, BAD)
    );
    assert_eq!(
        sides(&T::EpayNotConfigured),
        (Msg::PaymentNotConfigured, StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(sides(&T::StripeNotConfigured).0, Msg::PaymentNotConfigured);
    assert_eq!(sides(&T::UnsupportedChannel).0, Msg::UnsupportedPayChannel);
    assert_eq!(sides(&T::UntrustedSuccessUrl).0, Msg::SuccessUrlUntrusted);
    assert_eq!(sides(&T::UntrustedCancelUrl).0, Msg::CancelUrlUntrusted);
    assert_eq!(
        sides(&T::Forbidden),
        (Msg::InsufficientPrivileges, StatusCode::FORBIDDEN)
    );
    let provider = T::Provider(anyhow::anyhow!("sk_test_secret rejected"))
        .refusal()
        .unwrap();
    assert_eq!(provider.compat, Compat::Msg(Msg::PaymentStartFailed));
    assert!(
        !format!("{:?}", provider.error).contains("sk_test"),
        "no provider text"
    );
    assert_eq!(
        sides(&T::Settle(S::UnknownOrder("x".into()))),
        (Msg::TopUpOrderMissing, StatusCode::NOT_FOUND)
    );
    let not_pending = S::NotPending {
        trade_no: "x".into(),
        status: TopUpStatus::Failed,
    };
    assert_eq!(
        sides(&not_pending),
        (Msg::TopUpOrderNotPending, StatusCode::CONFLICT)
    );
    let wrong = S::WrongProvider {
        trade_no: "x".into(),
        expected: PaymentProvider::Epay,
        actual: PaymentProvider::Stripe,
    };
    assert_eq!(sides(&wrong).0, Msg::TopUpOrderMismatch);
    assert_eq!(sides(&S::Money("x".into())).0, Msg::TopUpInvalidQuota);
    assert!(T::Unexpected(unexpected()).refusal().is_none());
    assert!(S::Unexpected(unexpected()).refusal().is_none());
}

#[test]
fn redemption_management_table() {
    use ManageRedemptionError::*;
    let cases = [
        (NotFound, Msg::RedemptionNotFound, StatusCode::NOT_FOUND),
        (InvalidName { max: 20 }, Msg::RedemptionNameLength, BAD),
        (InvalidQuota, Msg::RedemptionQuotaInvalid, BAD),
        (ExpiryInPast, Msg::RedemptionExpiryInPast, BAD),
        (InvalidStatus, Msg::RedemptionStatusInvalid, BAD),
        (
            UsedCodeLocked,
            Msg::RedemptionUsedLocked,
            StatusCode::CONFLICT,
        ),
        (
            QuotaRaiseRootOnly,
            Msg::RedemptionQuotaRaiseRootOnly,
            StatusCode::FORBIDDEN,
        ),
        (
            Changed,
            Msg::RedemptionChangedMeanwhile,
            StatusCode::CONFLICT,
        ),
        (
            Forbidden,
            Msg::InsufficientPrivileges,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (e, msg, status) in cases {
        assert_eq!(sides(&e), (msg, status), "{e:?}");
    }
    assert!(Unexpected(unexpected()).refusal().is_none());
}

#[test]
fn turnstile_refusals() {
    use tollgate_domain::turnstile::HumanCheckError;
    let cases = [
        (
            HumanCheckError::TokenMissing,
            Msg::TurnstileTokenEmpty,
            StatusCode::BAD_REQUEST,
        ),
        (
            HumanCheckError::Failed,
            Msg::TurnstileFailed,
            StatusCode::FORBIDDEN,
        ),
        (
            HumanCheckError::Unavailable(unexpected()),
            Msg::TurnstileFailed,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (e, msg, status) in cases {
        assert_eq!(sides(&e), (msg, status), "{e:?}");
    }
    assert!(
        HumanCheckError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
}

#[test]
fn two_factor_tables() {
    use tollgate_domain::services::{TwoFactorAdminError, TwoFactorError};
    use tollgate_domain::two_factor::TotpFormatError;

    let conflict = StatusCode::CONFLICT;
    let cases = [
        (TwoFactorError::MissingCode, Msg::TwoFactorParamError, BAD),
        (
            TwoFactorError::TotpFormat(TotpFormatError::Length),
            Msg::TwoFactorCodeLength,
            BAD,
        ),
        (
            TwoFactorError::TotpFormat(TotpFormatError::NotNumeric),
            Msg::TwoFactorCodeDigits,
            BAD,
        ),
        (
            TwoFactorError::MalformedCode,
            Msg::TwoFactorMalformedCode,
            BAD,
        ),
        (
            TwoFactorError::DisableFirst,
            Msg::TwoFactorDisableFirst,
            conflict,
        ),
        (
            TwoFactorError::AlreadyEnabled,
            Msg::TwoFactorAlreadyEnabled,
            conflict,
        ),
        (TwoFactorError::NotSetUp, Msg::TwoFactorNotSetUp, conflict),
        (
            TwoFactorError::NotEnabled,
            Msg::TwoFactorNotEnabled,
            conflict,
        ),
        (
            TwoFactorError::WrongCode,
            Msg::TwoFactorWrongCode,
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (e, msg, status) in cases {
        assert_eq!(sides(&e), (msg, status), "{e:?}");
    }
    assert!(TwoFactorError::Unexpected(unexpected()).refusal().is_none());

    let admin_cases = [
        (
            TwoFactorAdminError::UserNotFound,
            Msg::UserNotFound,
            StatusCode::NOT_FOUND,
        ),
        (
            TwoFactorAdminError::Hierarchy(HierarchyError::TargetNotBelow),
            Msg::TwoFactorNoPermission,
            StatusCode::FORBIDDEN,
        ),
        (
            TwoFactorAdminError::Hierarchy(HierarchyError::NotAdmin),
            Msg::InsufficientPrivileges,
            StatusCode::FORBIDDEN,
        ),
        (
            TwoFactorAdminError::NotEnabled,
            Msg::TwoFactorNotEnabled,
            conflict,
        ),
        (
            TwoFactorAdminError::Changed,
            Msg::UserChangedMeanwhile,
            conflict,
        ),
    ];
    for (e, msg, status) in admin_cases {
        assert_eq!(sides(&e), (msg, status), "{e:?}");
    }
    assert!(
        TwoFactorAdminError::Unexpected(unexpected())
            .refusal()
            .is_none()
    );
}

#[test]
fn setup_table() {
    use tollgate_domain::services::SetupError;
    assert_eq!(
        sides(&SetupError::AlreadySetUp),
        (Msg::SetupAlreadyDone, StatusCode::CONFLICT)
    );
    assert_eq!(
        sides(&SetupError::UsernameTooLong),
        (Msg::SetupUsernameLength, BAD)
    );
    assert_eq!(
        sides(&SetupError::PasswordMismatch),
        (Msg::SetupPasswordMismatch, BAD)
    );
    assert_eq!(
        sides(&SetupError::UsernameTaken),
        (Msg::UsernameTaken, StatusCode::CONFLICT)
    );
    assert!(SetupError::Unexpected(unexpected()).refusal().is_none());
}
