//! Use cases. Each service is a concrete struct over `Arc<dyn Port>`s.

mod accounts;
mod admin;
mod affiliate;
mod audit_limit;
mod authn;
mod options;
mod profile;
mod redemptions;
mod second_factor;
mod topups;
mod two_factor;

pub use accounts::{
    AccountService, BootstrapOutcome, CorePorts, RegisterError, RegisterInput, RegistrationPolicy,
    ResetPasswordError, SETUP_ROOT_QUOTA, SETUP_USERNAME_MAX_CHARS, SetupError, SetupInput,
    invitation_for,
};
pub use admin::{
    AdminCreateError, AdminCreateInput, AdminError, AdminService, AdminUpdateInput, UserListInput,
};
pub use affiliate::AffiliateService;
pub use audit_limit::FailedLoginAudit;
pub use authn::{
    AccessTokenError, ApiTokens, AuthError, AuthService, Authenticated, LoginError, LoginInput,
    LoginOutcome, RefreshError, SessionTtl,
};
pub use options::{OptionsError, OptionsService, StoredOptions};
pub use profile::{
    ChangePasswordError, DeleteSelfError, FRESH_LOGIN_SECS, OwnerProof, OwnerProofError,
    PasswordChange, ProfileError, ProfileInput, ProfileService, SettingsUpdateError,
};
pub use redemptions::RedemptionService;
pub use second_factor::{LoginFlow, LoginStep, PendingLoginPolicy, SecondFactorLoginError};
pub use topups::{
    EpayPurchase, NotifyError, NotifyOutcome, PaymentStatus, ReconcileReport, STRIPE_MAX_AMOUNT,
    TopUpError, TopUpPorts, TopUpService,
};
pub use two_factor::{
    FactorKind, TwoFactorAdminError, TwoFactorError, TwoFactorPorts, TwoFactorService,
    TwoFactorSetup, TwoFactorStatus, Verified,
};

#[cfg(test)]
pub(crate) use accounts::tests::user as accounts_test_user;
