//! One refusal table per domain error, shared by both surfaces (ADR 0012).
//!
//! Each table is one exhaustive `match` over a domain error enum that gives, side by side,
//! the compat message (`/api/*`, HTTP 200 `success: false`, or 429 with `Retry-After`) and the
//! REST status, message and developer detail (`/api/v1/*`). `None` means the error is not a
//! refusal: it is logged and both surfaces answer an opaque 500. A new variant does not
//! compile until its row is written, so no business refusal becomes a silent 500.

use std::borrow::Cow;
use std::fmt::Debug;

use actix_web::http::StatusCode;
use tollgate_domain::hierarchy::{AdminOp, HierarchyError};
use tollgate_domain::options::OptionError;
use tollgate_domain::ports::AffTransferError;
use tollgate_domain::services::TopUpError;
use tollgate_domain::services::{
    AccessTokenError, AdminCreateError, AdminError, ChangePasswordError, DeleteSelfError,
    LoginError, OptionsError, OwnerProofError, ProfileError, RefreshError, RegisterError,
    SettingsUpdateError, SetupError,
};
use tollgate_domain::services::{SecondFactorLoginError, TwoFactorAdminError, TwoFactorError};
use tollgate_domain::topup::{PricingError, SettleError};
use tollgate_domain::turnstile::HumanCheckError;
use tollgate_domain::two_factor::TotpFormatError;
use tollgate_domain::user::CredentialRuleError;
use tollgate_domain::user_settings::SettingsError;
use tollgate_domain::{CreateRedemptionsError, ManageRedemptionError, RedeemError};

use crate::i18n::Msg;

/// How both surfaces refuse one domain error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The compat surface's message.
    pub compat: Compat,
    /// The REST surface's status.
    pub status: StatusCode,
    /// The REST surface's `message`.
    pub rest: Msg,
    /// The REST surface's `error`: a short detail for developers, never a secret.
    pub error: Detail,
    /// Seconds for `Retry-After`; set on both surfaces (429) when present.
    pub retry_after: Option<u64>,
}

/// The compat surface's message of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compat {
    /// A catalogue message.
    Msg(Msg),
    /// An option value refused (`OptionValueInvalid`, naming the key).
    OptionValueInvalid(String),
    /// An unknown option (`OptionUnknown`, naming the key).
    OptionUnknown(String),
    /// An option that needs e-mail delivery (`OptionNotAvailable`, naming the key).
    OptionNotAvailable(String),
    /// The transfer minimum (`TransferMinimum`), the quota in the configured display.
    TransferMinimum(i64),
    /// The mint limit (`MintLimitExceeded`), the quota left in the configured display.
    MintLimitExceeded(i64),
    /// The smallest top-up amount (`TopUpMinimum`), in request units.
    TopUpMinimum(i64),
    /// The largest top-up amount (`TopUpMaximum`), in request units.
    TopUpMaximum(i64),
}

/// The REST `error` detail of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Text(Cow<'static, str>),
    /// A catalogue message, in the request's language.
    Msg(Msg),
}

/// A domain error with a refusal table.
pub trait Refuse: Debug {
    /// How both surfaces refuse it; `None` is an unexpected failure (opaque 500).
    fn refusal(&self) -> Option<Refusal>;
}

fn row(compat: Msg, status: StatusCode, rest: Msg, error: impl Into<Cow<'static, str>>) -> Refusal {
    Refusal {
        compat: Compat::Msg(compat),
        status,
        rest,
        error: Detail::Text(error.into()),
        retry_after: None,
    }
}

/// A 400 whose REST detail is the error's own text.
fn invalid(compat: Msg, e: &impl ToString) -> Refusal {
    row(
        compat,
        StatusCode::BAD_REQUEST,
        Msg::RestBadRequest,
        e.to_string(),
    )
}

fn username_taken() -> Refusal {
    row(
        Msg::UsernameTaken,
        StatusCode::CONFLICT,
        Msg::RestUsernameTaken,
        "username already exists",
    )
}

fn email_taken() -> Refusal {
    row(
        Msg::RestEmailTaken,
        StatusCode::CONFLICT,
        Msg::RestEmailTaken,
        "email already registered",
    )
}

/// A refused username or password, on every route.
pub fn credential(e: &CredentialRuleError) -> Refusal {
    let compat = match e {
        CredentialRuleError::UsernameLength { .. } => Msg::UsernameLength,
        CredentialRuleError::UsernameCharacters => Msg::UsernameCharacters,
        CredentialRuleError::PasswordLength { .. } => Msg::PasswordLength,
        CredentialRuleError::UsernameUnsafe => Msg::UsernameUnsafe,
    };
    invalid(compat, e)
}

/// A hierarchy refusal; the compat wording depends on the operation (New API's).
pub fn hierarchy(e: HierarchyError, op: AdminOp) -> Refusal {
    let compat = match (e, op) {
        (HierarchyError::NotAdmin, _) => Msg::InsufficientPrivileges,
        (HierarchyError::TargetNotBelow, AdminOp::View) => Msg::NoPermissionView,
        (HierarchyError::TargetNotBelow, AdminOp::HardDelete) => Msg::NoPermissionDelete,
        (HierarchyError::TargetNotBelow, _) => Msg::NoPermissionUpdate,
        (HierarchyError::RoleNotBelow, _) => Msg::NoPermissionGrant,
        (HierarchyError::OnlyRootPromotes, _) => Msg::OnlyRootPromotes,
        (HierarchyError::AlreadyAdmin, _) => Msg::AlreadyAdmin,
        (HierarchyError::AlreadyCommon, _) => Msg::AlreadyCommon,
        (HierarchyError::RootProtected, AdminOp::Disable) => Msg::CannotDisableRoot,
        (HierarchyError::RootProtected, AdminOp::Demote) => Msg::CannotDemoteRoot,
        (HierarchyError::RootProtected, _) => Msg::CannotDeleteRootUser,
    };
    let error = match e {
        HierarchyError::NotAdmin => Cow::Borrowed("admin role required"),
        other => Cow::Owned(other.to_string()),
    };
    row(compat, StatusCode::FORBIDDEN, Msg::RestForbidden, error)
}

impl Refuse for RegisterError {
    fn refusal(&self) -> Option<Refusal> {
        let disabled = |compat| {
            row(
                compat,
                StatusCode::FORBIDDEN,
                Msg::RegisterDisabled,
                "registration is disabled",
            )
        };
        Some(match self {
            Self::RegistrationDisabled => disabled(Msg::RegisterDisabled),
            Self::PasswordRegistrationDisabled => disabled(Msg::PasswordRegisterDisabled),
            Self::InvalidInput(rule) => credential(rule),
            Self::InvalidEmail => invalid(Msg::EmailInvalid, &"invalid e-mail address"),
            Self::UsernameTaken => username_taken(),
            Self::EmailTaken => email_taken(),
            // Only `create-root` (the CLI) meets it; a route never should.
            Self::RootExists => return None,
            Self::RateLimited { retry_after_secs } => Refusal {
                retry_after: Some(*retry_after_secs),
                ..row(
                    Msg::RegisterRateLimited,
                    StatusCode::TOO_MANY_REQUESTS,
                    Msg::RegisterRateLimited,
                    "too many registrations from this address",
                )
            },
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for SetupError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::AlreadySetUp => row(
                Msg::SetupAlreadyDone,
                StatusCode::CONFLICT,
                Msg::SetupAlreadyDone,
                "a root user already exists",
            ),
            Self::UsernameTooLong => invalid(Msg::SetupUsernameLength, self),
            Self::PasswordMismatch => invalid(Msg::SetupPasswordMismatch, self),
            Self::InvalidInput(rule) => credential(rule),
            Self::UsernameTaken => username_taken(),
            Self::Unexpected(_) => return None,
        })
    }
}

/// A throttled credential check: 429 with `Retry-After` on both surfaces, the same for every
/// login name.
pub fn throttled(t: &tollgate_domain::throttle::Throttled) -> Refusal {
    Refusal {
        retry_after: Some(t.retry_after_secs),
        ..row(
            Msg::LoginThrottled,
            StatusCode::TOO_MANY_REQUESTS,
            Msg::LoginThrottled,
            "too many attempts for this account or from this address",
        )
    }
}

impl Refuse for LoginError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::PasswordLoginDisabled => row(
                Msg::PasswordLoginDisabled,
                StatusCode::FORBIDDEN,
                Msg::PasswordLoginDisabled,
                "password login is disabled",
            ),
            Self::MissingCredentials => {
                invalid(Msg::InvalidParams, &"username and password are required")
            }
            Self::InvalidCredentials => row(
                Msg::InvalidCredentials,
                StatusCode::UNAUTHORIZED,
                Msg::RestAuthFailed,
                "invalid username or password, or the account is disabled",
            ),
            Self::Throttled(t) => throttled(t),
            Self::Unexpected(_) => return None,
        })
    }
}

/// Turnstile (New API's messages on the compat surface, HTTP 200). The provider being
/// unreachable refuses the request too: the check fails closed.
impl Refuse for HumanCheckError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::TokenMissing => row(
                Msg::TurnstileTokenEmpty,
                StatusCode::BAD_REQUEST,
                Msg::TurnstileTokenEmpty,
                "the turnstile query parameter is required",
            ),
            Self::Failed => row(
                Msg::TurnstileFailed,
                StatusCode::FORBIDDEN,
                Msg::TurnstileFailed,
                "turnstile check failed",
            ),
            Self::Unavailable(_) => row(
                Msg::TurnstileFailed,
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::TurnstileFailed,
                "turnstile verification unavailable",
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for RefreshError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Invalid => row(
                Msg::NotLoggedIn,
                StatusCode::UNAUTHORIZED,
                Msg::RestUnauthenticated,
                "invalid or expired refresh token",
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for AccessTokenError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Collision => row(
                Msg::TokenGenerationFailed,
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::Internal,
                "could not generate a unique token; retry",
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for ProfileError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::InvalidDisplayName => invalid(Msg::DisplayNameLength, self),
            Self::InvalidCredential(rule) => credential(rule),
            Self::WrongPassword => row(
                Msg::WrongOriginalPassword,
                StatusCode::UNAUTHORIZED,
                Msg::RestAuthFailed,
                self.to_string(),
            ),
            Self::InvalidEmail => invalid(Msg::EmailInvalid, self),
            Self::InvalidPhone | Self::InvalidAvatar => invalid(Msg::InvalidParams, self),
            Self::InvalidSidebar => invalid(Msg::InvalidSidebar, self),
            Self::UsernameTaken => username_taken(),
            Self::EmailTaken => email_taken(),
            // The bearer's own user is gone: its token is no longer good.
            Self::NotFound => row(
                Msg::UserNotFound,
                StatusCode::UNAUTHORIZED,
                Msg::RestUnauthenticated,
                "Invalid or expired token",
            ),
            Self::EmailUnverified => row(
                Msg::RestEmailUnverified,
                StatusCode::BAD_REQUEST,
                Msg::RestEmailUnverified,
                self.to_string(),
            ),
            Self::Throttled(t) => throttled(t),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for ChangePasswordError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Mismatch => row(
                Msg::RestPasswordMismatch,
                StatusCode::BAD_REQUEST,
                Msg::RestPasswordMismatch,
                "new passwords do not match",
            ),
            Self::InvalidPassword(rule) => credential(rule),
            Self::WrongOldPassword => Refusal {
                error: Detail::Msg(Msg::RestOldPasswordWrong),
                ..row(
                    Msg::WrongOriginalPassword,
                    StatusCode::UNAUTHORIZED,
                    Msg::RestAuthFailed,
                    "",
                )
            },
            Self::Throttled(t) => throttled(t),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for DeleteSelfError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Root => row(
                Msg::CannotDeleteRoot,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for OwnerProofError {
    fn refusal(&self) -> Option<Refusal> {
        // A business reply on the compat surface, never 401: the console logs itself out on
        // any 401.
        Some(match self {
            Self::Required => row(
                Msg::OwnerProofRequired,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::WrongPassword => row(
                Msg::OwnerProofWrongPassword,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::Throttled(t) => throttled(t),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for SettingsError {
    fn refusal(&self) -> Option<Refusal> {
        let compat = match self {
            Self::InvalidNotifyType => Msg::InvalidNotifyType,
            Self::ThresholdNotPositive => Msg::ThresholdNotPositive,
            Self::WebhookUrlEmpty => Msg::WebhookUrlEmpty,
            Self::WebhookUrlInvalid => Msg::WebhookUrlInvalid,
            Self::EmailInvalid => Msg::EmailInvalid,
            Self::BarkUrlEmpty => Msg::BarkUrlEmpty,
            Self::BarkUrlInvalid => Msg::BarkUrlInvalid,
            Self::BarkUrlScheme => Msg::BarkUrlScheme,
            Self::GotifyUrlEmpty => Msg::GotifyUrlEmpty,
            Self::GotifyTokenEmpty => Msg::GotifyTokenEmpty,
            Self::GotifyUrlInvalid => Msg::GotifyUrlInvalid,
            Self::GotifyUrlScheme => Msg::GotifyUrlScheme,
            Self::UrlForbidden => Msg::UrlForbidden,
            Self::UrlAmbiguous => Msg::UrlAmbiguous,
        };
        Some(invalid(compat, self))
    }
}

impl Refuse for SettingsUpdateError {
    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Invalid(e) => e.refusal(),
            Self::Owner(e) => e.refusal(),
            Self::Unexpected(_) => None,
        }
    }
}

impl Refuse for RedeemError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::EmptyCode => invalid(Msg::RedeemNoCode, self),
            Self::NotFound => row(
                Msg::RedeemInvalidCode,
                StatusCode::NOT_FOUND,
                Msg::RestNotFound,
                self.to_string(),
            ),
            Self::AlreadyUsed => row(
                Msg::RedeemUsed,
                StatusCode::CONFLICT,
                Msg::RestBadRequest,
                self.to_string(),
            ),
            Self::Disabled => invalid(Msg::RedeemDisabled, self),
            Self::Expired => invalid(Msg::RedeemExpired, self),
            Self::BalanceOverflow => invalid(Msg::RedeemOverflow, self),
            Self::AccountUnavailable => row(
                Msg::RedeemFailed,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for AffTransferError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::BelowMinimum { min } => Refusal {
                compat: Compat::TransferMinimum(*min),
                ..invalid(Msg::InvalidParams, self)
            },
            Self::Insufficient => invalid(Msg::TransferInsufficient, self),
            Self::Overflow => invalid(Msg::TransferOverflow, self),
            // The caller's own row vanished between authentication and the write.
            Self::NotFound => return None,
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for CreateRedemptionsError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::InvalidName { .. } => invalid(Msg::RedemptionNameLength, self),
            Self::CountTooSmall => invalid(Msg::RedemptionCountTooSmall, self),
            Self::CountTooLarge { .. } => invalid(Msg::RedemptionCountTooLarge, self),
            Self::InvalidQuota => invalid(Msg::RedemptionQuotaInvalid, self),
            Self::ExpiryInPast => invalid(Msg::RedemptionExpiryInPast, self),
            Self::Forbidden => row(
                Msg::InsufficientPrivileges,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::CodeCollision => row(
                Msg::RedemptionGenerateFailed,
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::Internal,
                "could not generate unique codes; retry",
            ),
            Self::TotalTooLarge => invalid(Msg::RedemptionTotalTooLarge, self),
            Self::MintLimitExceeded { remaining, .. } => Refusal {
                compat: Compat::MintLimitExceeded(*remaining),
                ..row(
                    Msg::InsufficientPrivileges,
                    StatusCode::FORBIDDEN,
                    Msg::RestForbidden,
                    self.to_string(),
                )
            },
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for ManageRedemptionError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::NotFound => row(
                Msg::RedemptionNotFound,
                StatusCode::NOT_FOUND,
                Msg::RestNotFound,
                self.to_string(),
            ),
            Self::InvalidName { .. } => invalid(Msg::RedemptionNameLength, self),
            Self::InvalidQuota => invalid(Msg::RedemptionQuotaInvalid, self),
            Self::ExpiryInPast => invalid(Msg::RedemptionExpiryInPast, self),
            Self::InvalidStatus => invalid(Msg::RedemptionStatusInvalid, self),
            Self::UsedCodeLocked => row(
                Msg::RedemptionUsedLocked,
                StatusCode::CONFLICT,
                Msg::RedemptionUsedLocked,
                self.to_string(),
            ),
            Self::QuotaRaiseRootOnly => row(
                Msg::RedemptionQuotaRaiseRootOnly,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::Changed => row(
                Msg::RedemptionChangedMeanwhile,
                StatusCode::CONFLICT,
                Msg::RedemptionChangedMeanwhile,
                "the code was changed meanwhile; reload and retry",
            ),
            Self::Forbidden => row(
                Msg::InsufficientPrivileges,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for OptionsError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Forbidden => row(
                Msg::InsufficientPrivileges,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            // The compat message names the option, never the validator's English reason.
            Self::Invalid(e) => Refusal {
                compat: match e {
                    OptionError::UnknownKey(key) => Compat::OptionUnknown(key.clone()),
                    OptionError::InvalidValue { key, .. } => {
                        Compat::OptionValueInvalid(key.clone())
                    }
                    OptionError::NotAvailable(key) => Compat::OptionNotAvailable(key.clone()),
                },
                ..invalid(Msg::InvalidParams, e)
            },
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for AdminCreateError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Hierarchy(HierarchyError::RoleNotBelow) => Refusal {
                compat: Compat::Msg(Msg::CannotCreateHigher),
                ..hierarchy(HierarchyError::RoleNotBelow, AdminOp::Update)
            },
            Self::Hierarchy(h) => hierarchy(*h, AdminOp::Update),
            Self::InvalidCredential(rule) => credential(rule),
            Self::InvalidDisplayName => invalid(Msg::DisplayNameLength, self),
            Self::InvalidRole => invalid(Msg::InvalidParams, self),
            Self::UsernameTaken => username_taken(),
            Self::Unexpected(_) => return None,
        })
    }
}

/// An admin operation's error; the compat wording of hierarchy refusals depends on `op`.
#[derive(Debug)]
pub struct AdminRefusal(pub AdminError, pub AdminOp);

impl Refuse for AdminRefusal {
    fn refusal(&self) -> Option<Refusal> {
        let Self(e, op) = self;
        Some(match e {
            AdminError::NotFound => row(
                Msg::UserNotFound,
                StatusCode::NOT_FOUND,
                Msg::UserNotFound,
                "user not found",
            ),
            AdminError::Hierarchy(h) => hierarchy(*h, *op),
            AdminError::InvalidCredential(rule) => credential(rule),
            AdminError::InvalidDisplayName => invalid(Msg::DisplayNameLength, e),
            AdminError::UnknownGroup => invalid(Msg::UnknownGroup, e),
            AdminError::InvalidRemark => invalid(Msg::RemarkLength, e),
            AdminError::InvalidQuota => invalid(Msg::QuotaNegative, e),
            AdminError::InvalidRole => invalid(Msg::InvalidParams, e),
            AdminError::RoleChangeRefused => invalid(Msg::RoleChangeRefused, e),
            AdminError::StatusChangeRefused => invalid(Msg::StatusChangeRefused, e),
            AdminError::OwnRoleOrStatus => row(
                Msg::CannotChangeOwnRoleOrStatus,
                StatusCode::FORBIDDEN,
                Msg::CannotChangeOwnRoleOrStatus,
                e.to_string(),
            ),
            // 400 on REST (no REST route renames users yet; kept as it was).
            AdminError::UsernameTaken => invalid(Msg::UsernameTaken, e),
            AdminError::Changed => row(
                Msg::UserChangedMeanwhile,
                StatusCode::CONFLICT,
                Msg::UserChangedMeanwhile,
                "the user was changed meanwhile; reload and retry",
            ),
            AdminError::Unexpected(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests;

impl Refuse for PricingError {
    fn refusal(&self) -> Option<Refusal> {
        let bad = |compat| Refusal {
            compat,
            ..invalid(Msg::TopUpPriceTooLow, self)
        };
        Some(match self {
            Self::BelowMinimum { min } => bad(Compat::TopUpMinimum(*min)),
            Self::AboveMaximum { max } => bad(Compat::TopUpMaximum(*max)),
            Self::TooLow | Self::Overflow => invalid(Msg::TopUpPriceTooLow, self),
        })
    }
}

impl Refuse for SettleError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::UnknownOrder(_) => row(
                Msg::TopUpOrderMissing,
                StatusCode::NOT_FOUND,
                Msg::RestNotFound,
                self.to_string(),
            ),
            Self::NotPending { .. } => row(
                Msg::TopUpOrderNotPending,
                StatusCode::CONFLICT,
                Msg::TopUpOrderNotPending,
                self.to_string(),
            ),
            Self::WrongProvider { .. } | Self::AmountMismatch { .. } => row(
                Msg::TopUpOrderMismatch,
                StatusCode::CONFLICT,
                Msg::TopUpOrderMismatch,
                self.to_string(),
            ),
            Self::Money(_) => row(
                Msg::TopUpInvalidQuota,
                StatusCode::CONFLICT,
                Msg::TopUpInvalidQuota,
                self.to_string(),
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for TopUpError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::Pricing(e) => return e.refusal(),
            Self::Settle(e) => return e.refusal(),
            Self::UnknownMethod(_) => invalid(Msg::PayMethodMissing, self),
            Self::EpayNotConfigured | Self::StripeNotConfigured => row(
                Msg::PaymentNotConfigured,
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::PaymentNotConfigured,
                self.to_string(),
            ),
            Self::UnsupportedChannel => invalid(Msg::UnsupportedPayChannel, self),
            Self::UntrustedSuccessUrl => invalid(Msg::SuccessUrlUntrusted, self),
            Self::UntrustedCancelUrl => invalid(Msg::CancelUrlUntrusted, self),
            Self::Forbidden => row(
                Msg::InsufficientPrivileges,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            // The provider's own message is logged by the service, never shown.
            Self::Provider(_) => row(
                Msg::PaymentStartFailed,
                StatusCode::BAD_GATEWAY,
                Msg::PaymentStartFailed,
                "the payment provider refused the request",
            ),
            Self::Unexpected(_) => return None,
        })
    }
}

// ---- two-factor authentication (spec §6.2; docs/api.md "Two-factor authentication") ----

impl Refuse for TwoFactorError {
    fn refusal(&self) -> Option<Refusal> {
        let conflict = |msg| row(msg, StatusCode::CONFLICT, msg, self.to_string());
        Some(match self {
            Self::MissingCode => row(
                Msg::TwoFactorParamError,
                StatusCode::BAD_REQUEST,
                Msg::RestBadRequest,
                "code is required",
            ),
            Self::TotpFormat(TotpFormatError::NotNumeric) => {
                invalid(Msg::TwoFactorCodeDigits, self)
            }
            Self::TotpFormat(_) => invalid(Msg::TwoFactorCodeLength, self),
            Self::MalformedCode => invalid(Msg::TwoFactorMalformedCode, self),
            Self::DisableFirst => conflict(Msg::TwoFactorDisableFirst),
            Self::AlreadyEnabled => conflict(Msg::TwoFactorAlreadyEnabled),
            Self::NotSetUp => conflict(Msg::TwoFactorNotSetUp),
            Self::NotEnabled => conflict(Msg::TwoFactorNotEnabled),
            // As a wrong password (`ProfileError::WrongPassword`).
            Self::WrongCode => row(
                Msg::TwoFactorWrongCode,
                StatusCode::UNAUTHORIZED,
                Msg::TwoFactorWrongCode,
                self.to_string(),
            ),
            Self::Throttled(t) => throttled(t),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for SecondFactorLoginError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::MissingCode => row(
                Msg::TwoFactorParamError,
                StatusCode::BAD_REQUEST,
                Msg::RestBadRequest,
                "code is required",
            ),
            Self::Expired => row(
                Msg::TwoFactorLoginExpired,
                StatusCode::UNAUTHORIZED,
                Msg::TwoFactorLoginExpired,
                "unknown or expired login challenge; log in again",
            ),
            Self::Code(e) => return e.refusal(),
            Self::Login(e) => return e.refusal(),
            Self::Unexpected(_) => return None,
        })
    }
}

impl Refuse for TwoFactorAdminError {
    fn refusal(&self) -> Option<Refusal> {
        Some(match self {
            Self::UserNotFound => row(
                Msg::UserNotFound,
                StatusCode::NOT_FOUND,
                Msg::UserNotFound,
                "user not found",
            ),
            Self::Hierarchy(HierarchyError::TargetNotBelow) => row(
                Msg::TwoFactorNoPermission,
                StatusCode::FORBIDDEN,
                Msg::RestForbidden,
                self.to_string(),
            ),
            // A reset is checked as an update of the user.
            Self::Hierarchy(h) => hierarchy(*h, AdminOp::Update),
            Self::NotEnabled => row(
                Msg::TwoFactorNotEnabled,
                StatusCode::CONFLICT,
                Msg::TwoFactorNotEnabled,
                self.to_string(),
            ),
            Self::Changed => row(
                Msg::UserChangedMeanwhile,
                StatusCode::CONFLICT,
                Msg::UserChangedMeanwhile,
                "the user was changed meanwhile; reload and retry",
            ),
            Self::Unexpected(_) => return None,
        })
    }
}
