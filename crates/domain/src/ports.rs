//! Ports: what the domain needs from the outside world. Adapters live in other crates.
//!
//! Each repository method is one atomic business step; the adapter owns the transaction.

use async_trait::async_trait;

use crate::error::RepoError;
use crate::ledger::Imbalance;
use crate::page::{Page, PageRequest};
use crate::redemption::{CreateRedemptionsError, NewRedemption, RedeemError, Redeemed, Redemption};
use crate::session::{NewSession, SecretToken, TokenHash};
use crate::user::{NewUser, Password, User, UserId};

/// Why inserting a user failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the invitation code is taken")]
    AffCodeTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why storing an access token failed.
#[derive(Debug, thiserror::Error)]
pub enum SetAccessTokenError {
    #[error("the token collided with another user's")]
    Collision,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts the user and, in the same transaction, applies `new.initial_quota` (when > 0) as
    /// a [`crate::LedgerEntry::signup_bonus`].
    ///
    /// # Errors
    /// - MUST return [`CreateUserError::UsernameTaken`] when the username exists, deleted users
    ///   included (their names stay reserved).
    /// - MUST return [`CreateUserError::AffCodeTaken`] when `new.aff_code` exists.
    async fn create(&self, new: &NewUser) -> Result<User, CreateUserError>;

    /// Any user row with this id, soft-deleted ones included.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError>;

    /// Any user row with this exact username, soft-deleted ones included.
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, RepoError>;

    /// The login lookup of spec §3.2: a non-deleted user whose username, or else e-mail,
    /// equals `login`, with its password hash (empty for accounts without a password).
    async fn find_credentials(&self, login: &str) -> Result<Option<(User, String)>, RepoError>;

    /// The non-deleted user holding this access token.
    async fn find_by_access_token(&self, hash: &TokenHash) -> Result<Option<User>, RepoError>;

    /// Whether any non-deleted user has the root role.
    async fn root_exists(&self) -> Result<bool, RepoError>;

    /// Replaces the user's access token (there is one per user).
    ///
    /// # Errors
    /// - MUST return [`SetAccessTokenError::Collision`] when another user holds the same hash.
    async fn set_access_token(
        &self,
        id: UserId,
        hash: &TokenHash,
    ) -> Result<(), SetAccessTokenError>;

    /// Replaces the password hash.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), RepoError>;

    /// Records the time of a successful login.
    async fn record_login(&self, id: UserId, at: i64) -> Result<(), RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn create(&self, session: &NewSession) -> Result<(), RepoError>;

    /// The user of the session with this hash if it is neither revoked nor expired at `now`.
    async fn find_active_user(
        &self,
        hash: &TokenHash,
        now: i64,
    ) -> Result<Option<UserId>, RepoError>;

    /// Revokes one session; returns whether an active session was revoked.
    async fn revoke(&self, hash: &TokenHash, now: i64) -> Result<bool, RepoError>;

    /// Revokes every active session of the user; returns how many were revoked.
    async fn revoke_all_for_user(&self, user_id: UserId, now: i64) -> Result<u64, RepoError>;

    /// Deletes sessions that expired or were revoked before `before`; returns how many.
    async fn purge(&self, before: i64) -> Result<u64, RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RedemptionRepository: Send + Sync {
    /// Inserts all codes or none.
    ///
    /// # Errors
    /// - MUST return [`CreateRedemptionsError::CodeCollision`] when a code already exists.
    async fn create_batch(&self, codes: &[NewRedemption]) -> Result<(), CreateRedemptionsError>;

    /// Codes, newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<Redemption>, RepoError>;

    /// In ONE transaction: claims the code for the user with a conditional update (enabled,
    /// not expired at `now`, not deleted), credits its quota through the ledger, and returns
    /// the new balance. Under any concurrency, exactly one caller wins a code.
    ///
    /// # Errors
    /// - [`RedeemError::NotFound`], [`RedeemError::AlreadyUsed`], [`RedeemError::Disabled`],
    ///   [`RedeemError::Expired`] when the claim fails, by the code's state.
    /// - [`RedeemError::BalanceOverflow`] when the credit would overflow (nothing applied).
    /// - [`RedeemError::AccountUnavailable`] when the user row is gone (nothing applied).
    async fn redeem(&self, code: &str, user_id: UserId, now: i64) -> Result<Redeemed, RedeemError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LedgerRepository: Send + Sync {
    /// Every (user, account) whose stored balance differs from the sum of its entries.
    async fn imbalances(&self) -> Result<Vec<Imbalance>, RepoError>;
}

/// Whether the backing store answers; used by `/readyz`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password (argon2id in production), off the async workers.
    async fn hash(&self, password: &Password) -> anyhow::Result<String>;

    /// Verifies `password` against `hash`. With `None` (unknown user) or an empty hash
    /// (account without a password) it still spends the cost of a real verification and
    /// returns `false`, so callers cannot be told apart by timing.
    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool>;
}

/// Randomness and token hashing, so services stay deterministic under test.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// A new 256-bit secret token (URL-safe) and its hash.
    fn token(&self) -> SecretToken;
    /// The hash under which a presented token is looked up.
    fn hash(&self, token: &str) -> TokenHash;
    /// `len` random characters from `[A-Za-z0-9]`.
    fn alphanumeric(&self, len: usize) -> String;
    /// A redemption code: 32 lowercase hex characters (a UUIDv4 without dashes).
    fn redemption_code(&self) -> String;
}

/// Wall-clock time in unix seconds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}
