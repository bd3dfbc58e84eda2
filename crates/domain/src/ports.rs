//! Ports: what the domain needs from the outside world. Adapters live in other crates.
//!
//! Each repository method is one atomic business step; the adapter owns the transaction.

use async_trait::async_trait;

use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::error::RepoError;
use crate::ledger::Imbalance;
use crate::page::{Page, PageRequest};
use crate::redemption::{
    CreateRedemptionsError, MintCap, NewRedemption, RedeemError, Redeemed, Redemption,
};
use crate::redemption_manage::{ManageRedemptionError, RedemptionChanges, RedemptionQuery};
use crate::session::{ActiveSession, NewSession, Rotation, SecretToken, SessionId, TokenHash};
use crate::user::{
    DisplayName, NewUser, Password, ProfileChanges, Remark, Role, User, UserId, UserStatus,
    Username,
};

/// Why inserting a user failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the e-mail address is taken")]
    EmailTaken,
    #[error("the invitation code is taken")]
    AffCodeTaken,
    /// A root user was to be created while a live one exists.
    #[error("a root user already exists")]
    RootExists,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why a profile update failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateProfileError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the e-mail address is taken")]
    EmailTaken,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why moving invitation rewards to quota failed. Nothing was moved.
#[derive(Debug, thiserror::Error)]
pub enum AffTransferError {
    #[error("the amount is below the minimum of {min}")]
    BelowMinimum { min: i64 },
    #[error("the invitation balance is insufficient")]
    Insufficient,
    #[error("the quota would overflow")]
    Overflow,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The balances after a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AffTransferred {
    pub quota: i64,
    pub aff_quota: i64,
}

/// How an admin search keyword matches text columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// `column LIKE 'kw%'`: served by the indexes.
    #[default]
    Prefix,
    /// `column LIKE '%kw%'` (New API's search): a scan of the visible rows.
    Contains,
}

/// An admin listing or search of users (docs/newapi-behaviour.md §6.1; the REST admin list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// Matches username, display name or e-mail (case-sensitive), and the id when numeric.
    pub keyword: Option<String>,
    pub match_mode: MatchMode,
    /// Exact group filter.
    pub group: Option<String>,
    pub status: Option<UserStatus>,
    /// Hierarchy scope: only users whose role is strictly below this one are listed...
    pub visible_below: Role,
    /// ...plus this user (the actor may always see itself).
    pub also: Option<UserId>,
    /// Leave soft-deleted users out (the REST list); the compat list shows them greyed.
    pub live_only: bool,
}

/// Admin changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminChanges {
    pub username: Option<Username>,
    pub display_name: Option<DisplayName>,
    pub group: Option<String>,
    pub remark: Option<Remark>,
    /// A new password hash; the user's sessions and access token are revoked with it.
    pub password_hash: Option<String>,
    /// A new quota, applied as one ledger entry of the difference, with the admin as actor.
    pub quota: Option<i64>,
}

/// An admin's change of a user's role and status (`manage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub role: Role,
    pub status: UserStatus,
    /// Soft-delete the user too.
    pub delete: bool,
    /// Revoke every session and the access token.
    pub revoke: bool,
}

/// Why an admin update failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminUpdateError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error("no such user")]
    NotFound,
    #[error("the quota must stay within 0..=i64::MAX")]
    QuotaOutOfRange,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    /// The row no longer holds the state the admin's decision rested on.
    #[error("the user was changed meanwhile")]
    Changed,
}

/// Why an admin's state change or hard deletion failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminWriteError {
    #[error("no such user")]
    NotFound,
    /// The row no longer holds the state the admin's decision rested on.
    #[error("the user was changed meanwhile")]
    Changed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for AdminWriteError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
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
    /// - MUST return [`CreateUserError::EmailTaken`] when `new.email` is set and exists.
    /// - MUST return [`CreateUserError::AffCodeTaken`] when `new.aff_code` exists.
    /// - When `new.role` is root, MUST return [`CreateUserError::RootExists`] if a live root
    ///   exists, checked inside the insert's transaction so that simultaneous creations make
    ///   exactly one root.
    /// - With `new.invitation`, MUST link the inviter, raise its `aff_count` by one, and apply
    ///   the non-zero rewards ([`crate::LedgerEntry::invitee_bonus`],
    ///   [`crate::LedgerEntry::inviter_reward`], the latter also added to
    ///   `aff_history_quota`) in the same transaction.
    async fn create(&self, new: &NewUser) -> Result<User, CreateUserError>;

    /// Any user row with this id, soft-deleted ones included.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError>;

    /// Any user row with this exact username, soft-deleted ones included.
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, RepoError>;

    /// The login lookup of docs/newapi-behaviour.md §4.2: a non-deleted user whose username equals
    /// `login`, with its password hash (empty for accounts without a password). E-mail addresses
    /// are not login names until they can be verified (issue 7.7).
    async fn find_credentials(&self, login: &str) -> Result<Option<(User, String)>, RepoError>;

    /// The non-deleted user holding this access token.
    async fn find_by_access_token(&self, hash: &TokenHash) -> Result<Option<User>, RepoError>;

    /// Whether any non-deleted user has the root role.
    async fn root_exists(&self) -> Result<bool, RepoError>;

    /// Replaces the user's access token (there is one per user) and writes `audit` (which
    /// never holds the token) in ONE transaction.
    ///
    /// # Errors
    /// - MUST return [`SetAccessTokenError::Collision`] when another user holds the same hash;
    ///   nothing is written then, the audit record neither.
    async fn set_access_token(
        &self,
        id: UserId,
        hash: &TokenHash,
        audit: &AuditEntry,
    ) -> Result<(), SetAccessTokenError>;

    /// The password hash of a non-deleted user (empty for accounts without a password).
    async fn find_password_hash(&self, id: UserId) -> Result<Option<String>, RepoError>;

    /// Replaces the password hash.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), RepoError>;

    /// Records the time of a successful login.
    async fn record_login(&self, id: UserId, at: i64) -> Result<(), RepoError>;

    /// Users matching `query`, newest id first (a stable order), soft-deleted ones included.
    async fn search(&self, query: &UserQuery, page: PageRequest) -> Result<Page<User>, RepoError>;

    /// Applies the admin's changes to user `seen.id` in ONE transaction with `audit`; a quota
    /// change is one ledger entry (kind `admin_adjustment`, actor = the admin) of the
    /// difference between the stored and the requested quota; a password change revokes the
    /// user's sessions and access token.
    ///
    /// Compare-and-set: the write applies only while the row is live and still holds
    /// `seen`'s role and status and, for every field in `changes` except password and quota,
    /// `seen`'s value (the audit's "before"). The quota's "before" is the stored quota at the
    /// moment of the write.
    ///
    /// # Errors
    /// - MUST return [`AdminUpdateError::Changed`] when the row moved away from `seen`
    ///   (soft-deleted included), [`AdminUpdateError::NotFound`] when it is gone; nothing is
    ///   written then, the audit records neither.
    async fn admin_update(
        &self,
        seen: &User,
        changes: &AdminChanges,
        actor: UserId,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<User, AdminUpdateError>;

    /// Applies `change` to user `seen.id` in ONE transaction with `audit`: role and status, a
    /// soft delete when `change.delete`, and with `change.revoke` the revocation of every
    /// session and the access token of the user. Returns the user afterwards.
    ///
    /// Compare-and-set: the write applies only while the row is live and still holds
    /// `seen`'s role and status (the state the hierarchy was checked on and the audit's
    /// "before").
    ///
    /// # Errors
    /// - MUST return [`AdminWriteError::Changed`] when the row moved away from `seen`
    ///   (soft-deleted included), [`AdminWriteError::NotFound`] when it is gone; nothing is
    ///   written then, the audit record neither.
    async fn admin_set_state(
        &self,
        seen: &User,
        change: &StateChange,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<User, AdminWriteError>;

    /// Deletes the row of user `seen.id` (sessions go with it; ledger and audit rows stay)
    /// with `audit`, in ONE transaction, only while the row is live and still holds `seen`'s
    /// role, status and username.
    ///
    /// # Errors
    /// - MUST return [`AdminWriteError::Changed`] / [`AdminWriteError::NotFound`] as
    ///   [`Self::admin_set_state`] does; nothing is deleted then, the audit record neither.
    async fn hard_delete(&self, seen: &User, audit: &AuditEntry) -> Result<(), AdminWriteError>;

    /// Sets the password hash and revokes every session of the user except `keep` (and the
    /// access token when `revoke_token`), with `audit`, in ONE transaction.
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<SessionId>,
        revoke_token: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), RepoError>;

    /// The non-deleted, enabled user whose invitation code is `code`.
    async fn find_inviter(&self, code: &str) -> Result<Option<User>, RepoError>;

    /// Sets the invitation code only if the user has none; returns the code the user has
    /// afterwards (the stored one when another request won).
    ///
    /// # Errors
    /// - MUST return [`CreateUserError::AffCodeTaken`] when another user holds `code`.
    async fn set_aff_code_if_missing(
        &self,
        id: UserId,
        code: &str,
    ) -> Result<String, CreateUserError>;

    /// Applies the changes to a non-deleted user and returns it.
    ///
    /// # Errors
    /// - MUST return [`UpdateProfileError::UsernameTaken`] / [`UpdateProfileError::EmailTaken`]
    ///   on a conflict (deleted users' names and addresses stay reserved), and
    ///   [`UpdateProfileError::NotFound`] for a missing or deleted user.
    async fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<User, UpdateProfileError>;

    /// Replaces the settings JSON of a non-deleted user.
    async fn set_setting(&self, id: UserId, setting: &str) -> Result<(), RepoError>;

    /// The owner's deletion of its account, in ONE transaction: soft-deletes the user, clears
    /// its access token, revokes every session and refresh token, and writes `audit`.
    /// Returns whether a live user was deleted (nothing is written otherwise). Ledger history
    /// stays.
    async fn soft_delete(
        &self,
        id: UserId,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError>;

    /// In ONE transaction, moves `amount` from `aff_quota` to `quota` through the two ledger
    /// entries of [`crate::LedgerEntry::aff_transfer`] (reference `reference`).
    ///
    /// # Errors
    /// - [`AffTransferError::Insufficient`] when `aff_quota < amount` at that moment,
    ///   [`AffTransferError::Overflow`], [`AffTransferError::NotFound`]; nothing is applied.
    async fn transfer_aff_quota(
        &self,
        id: UserId,
        amount: i64,
        reference: &str,
        now: i64,
    ) -> Result<AffTransferred, AffTransferError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a session and returns its id.
    async fn create(&self, session: &NewSession) -> Result<SessionId, RepoError>;

    /// The session with this token hash if it is neither revoked nor expired at `now`.
    async fn find_active(
        &self,
        hash: &TokenHash,
        now: i64,
    ) -> Result<Option<ActiveSession>, RepoError>;

    /// The session with this id if it is neither revoked nor expired at `now`.
    async fn find_active_by_id(
        &self,
        id: SessionId,
        now: i64,
    ) -> Result<Option<ActiveSession>, RepoError>;

    /// Rotates a refresh token, in one transaction: replaces the hash of the active refresh
    /// session holding `old` by `new` (one conditional update), moves its expiry to
    /// `expires_at` and remembers `old` as used by that session.
    ///
    /// When `old` was already rotated by a session that is still active, that is a replay:
    /// the session is revoked and [`crate::session::refresh_reuse_audit`] (with `ip`) written
    /// in the same transaction → [`Rotation::Reused`]. Of two concurrent rotations of one
    /// token, exactly one is `Rotated` and the other, seeing it rotated, is `Reused`.
    /// Otherwise (unknown, revoked, expired) [`Rotation::Invalid`] and nothing changes.
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: i64,
        expires_at: i64,
        ip: Option<String>,
    ) -> Result<Rotation, RepoError>;

    /// Revokes one session; returns whether an active session was revoked.
    async fn revoke(&self, hash: &TokenHash, now: i64) -> Result<bool, RepoError>;

    /// Revokes the session with this id; returns whether an active session was revoked.
    /// `audit` is written in the same transaction when the session was active.
    async fn revoke_by_id(
        &self,
        id: SessionId,
        now: i64,
        audit: Option<AuditEntry>,
    ) -> Result<bool, RepoError>;

    /// Revokes every active session of the user except `keep` (when given); returns how
    /// many were revoked.
    async fn revoke_all_for_user(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: i64,
    ) -> Result<u64, RepoError>;

    /// Deletes sessions that expired or were revoked before `before`; returns how many.
    async fn purge(&self, before: i64) -> Result<u64, RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RedemptionRepository: Send + Sync {
    /// Inserts all codes and `audit` in ONE transaction, or nothing. All codes share one
    /// creator. With `cap`, the creator's mints are serialised (SQLite: the write
    /// transaction; other backends: a lock on the creator's user row taken first), and the
    /// quota of the codes it created after `cap.since` is summed inside the transaction and
    /// checked with [`MintCap::check`], so concurrent mints never exceed the cap together.
    ///
    /// # Errors
    /// - MUST return [`CreateRedemptionsError::CodeCollision`] when a code already exists.
    /// - MUST return [`CreateRedemptionsError::MintLimitExceeded`] when the batch does not
    ///   fit under `cap`, and [`CreateRedemptionsError::Forbidden`] when the creator's row is
    ///   gone.
    async fn create_batch(
        &self,
        codes: &[NewRedemption],
        cap: Option<MintCap>,
        audit: &AuditEntry,
    ) -> Result<(), CreateRedemptionsError>;

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

    // ---- management after the mint (crate::redemption_manage) ----

    /// The live (not deleted) code with this id.
    async fn find(&self, id: i64) -> Result<Option<Redemption>, RepoError>;

    /// Live codes matching `query` (name prefix, case-sensitive on every backend, or the id),
    /// newest first; `total` counts every match.
    async fn search(
        &self,
        query: &RedemptionQuery,
        page: PageRequest,
    ) -> Result<Page<Redemption>, RepoError>;

    /// In ONE transaction: applies `changes` to the code only while it is still exactly as
    /// `seen` (live, same status, name, quota and expiry: compare-and-set, so a redemption or
    /// another admin's write in between is never overwritten), and writes `audit`. Returns the
    /// code as stored afterwards.
    ///
    /// # Errors
    /// - MUST return [`ManageRedemptionError::NotFound`] when the code is gone or deleted, and
    ///   [`ManageRedemptionError::Changed`] when it differs from `seen`; nothing is written.
    async fn update(
        &self,
        seen: &Redemption,
        changes: &RedemptionChanges,
        audit: &AuditEntry,
    ) -> Result<Redemption, ManageRedemptionError>;

    /// Soft-deletes the code at `now` with `audit`, under the compare-and-set of
    /// [`Self::update`]. The row stays (the ledger's references and the mint cap's sum keep
    /// pointing at it); it is invisible to every read and cannot be redeemed.
    ///
    /// # Errors
    /// - As [`Self::update`].
    async fn delete(
        &self,
        seen: &Redemption,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), ManageRedemptionError>;

    /// Soft-deletes, in ONE transaction, every live code that is invalid at `now` by
    /// [`crate::redemption_manage::is_invalid`] (used, disabled, or expired) and returns how
    /// many. When any was deleted, `audit` is written with `before = {"ids": [...]}` and
    /// `after = {"count": n}`; when none was, nothing is written.
    async fn delete_invalid(&self, now: i64, audit: &AuditEntry) -> Result<u64, RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LedgerRepository: Send + Sync {
    /// Every (user, account) whose stored balance differs from the sum of its entries.
    async fn imbalances(&self) -> Result<Vec<Imbalance>, RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Writes one entry on its own (for events with no other write, such as a failed login).
    /// Every write of an entry (here, and inside other repositories' transactions) MUST store
    /// the actor's and the target's roles: the entry's own when set, else the roles of their
    /// user rows read in the same transaction.
    async fn record(&self, entry: &AuditEntry) -> Result<(), RepoError>;

    /// Entries matching the filter, newest first. A `scope` in the filter MUST select exactly
    /// the entries [`crate::audit::AuditScope::allows`], judged on the roles stored with each
    /// entry.
    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError>;

    /// Deletes every entry written before `before` (unix seconds); returns how many.
    async fn purge(&self, before: i64) -> Result<u64, RepoError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OptionsRepository: Send + Sync {
    /// Every stored option, by key.
    async fn load(&self) -> Result<std::collections::BTreeMap<String, String>, RepoError>;

    /// Stores the values (insert or replace) and the audit records in ONE transaction.
    async fn save(
        &self,
        values: &[(String, String)],
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<(), RepoError>;
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

/// A clock that moves only when told, for tests of time-based rules (expiry, backoff,
/// windows) in this crate and in the adapters' tests (`mocks` feature).
#[cfg(any(test, feature = "mocks"))]
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

#[cfg(any(test, feature = "mocks"))]
impl ManualClock {
    /// A clock standing at unix second `t`.
    pub fn at(t: i64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(std::sync::atomic::AtomicI64::new(t)))
    }

    pub fn set(&self, t: i64) {
        self.0.store(t, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, secs: u64) {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(any(test, feature = "mocks"))]
impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The claims of a verified `/api/v1` access token (a JWT in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    /// The id of the session (refresh-token row) the token was issued for; revoking that
    /// session kills the token on its next use.
    pub session_id: SessionId,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Why a presented access token was refused. Deliberately coarse: clients learn nothing
/// about which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("the token is expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}

/// Issues and verifies short-lived access tokens for the REST surface.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccessTokenCodec: Send + Sync {
    /// A token for `user_id` in session `session_id`, valid from `now` for [`Self::ttl_secs`].
    fn issue(&self, user_id: UserId, session_id: SessionId, now: i64) -> anyhow::Result<String>;
    /// Verifies signature, algorithm, issuer, audience and expiry against `now`.
    fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejected>;
    fn ttl_secs(&self) -> i64;
}

/// Resolves a host name to its addresses, for the check that user-supplied URLs do not point
/// into private networks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// Every address `host` resolves to; an error when it does not resolve.
    async fn resolve(&self, host: &str) -> anyhow::Result<Vec<std::net::IpAddr>>;
}
