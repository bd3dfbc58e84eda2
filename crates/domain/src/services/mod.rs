//! Use cases. Each service is a concrete struct over `Arc<dyn Port>`s.

mod accounts;
mod redemptions;

pub use accounts::{
    AccessTokenError, AccountService, AuthError, BootstrapOutcome, LoginError, LoginInput,
    LoginOutcome, RegisterError, RegisterInput, RegistrationPolicy, ResetPasswordError,
};
pub use redemptions::RedemptionService;

#[cfg(test)]
pub(crate) use accounts::tests::user as accounts_test_user;
