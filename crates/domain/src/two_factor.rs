//! Two-factor authentication (TOTP, RFC 6238, with backup codes): the value rules of the
//! codes a user types, the records the store keeps, and the ports of the TOTP engine and the
//! store. The use cases are in [`crate::services::TwoFactorService`]; docs/security.md
//! ("Two-factor authentication") describes the design.
//!
//! Rules (spec §6.1, minus New API's defects of spec §10.4–5):
//! - a TOTP is SHA-1, 6 digits, 30 s, accepted one step either side of now; a time step
//!   once accepted for a user is never accepted again (replay);
//! - a user has [`BACKUP_CODE_COUNT`] single-use backup codes `XXXX-XXXX` of `A–Z0–9`,
//!   compared after removing dashes and spaces and upper-casing, stored only as hashes;
//! - the TOTP secret is shown once, by the setup that creates it.

use std::fmt;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::error::RepoError;
use crate::session::SessionId;
use crate::user::{Role, UserId};

/// How many backup codes a setup or a regeneration issues (New API's number). Each is good
/// for one login or one disable; four keep a user who lost the authenticator going until it
/// is replaced, and fewer hashes make a backup-code check cheaper.
pub const BACKUP_CODE_COUNT: usize = 4;

/// Characters of a backup code without its dash.
pub const BACKUP_CODE_LEN: usize = 8;

/// Digits of a TOTP code.
pub const TOTP_DIGITS: usize = 6;

/// The alphabet of backup codes.
pub const BACKUP_CODE_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A TOTP shared secret in base32 (RFC 4648, no padding). Never logged: its `Debug` is
/// redacted, and it leaves the server only in the setup reply that creates it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(String);

impl TotpSecret {
    pub fn new(base32: impl Into<String>) -> Self {
        Self(base32.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// Why a typed TOTP code is refused before it is checked (New API's two messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpFormatError {
    #[error("a code is required")]
    Missing,
    #[error("the code must be 6 digits")]
    Length,
    #[error("the code may contain digits only")]
    NotNumeric,
}

/// A well-formed TOTP code: exactly six ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    /// Removes whitespace, then requires exactly six characters, all digits.
    pub fn parse(raw: &str) -> Result<Self, TotpFormatError> {
        let code = normalize(raw);
        if code.is_empty() {
            return Err(TotpFormatError::Missing);
        }
        if code.chars().count() != TOTP_DIGITS {
            return Err(TotpFormatError::Length);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpFormatError::NotNumeric);
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// A well-formed backup code in its canonical form: eight characters of `A–Z0–9`, no dash.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(String);

impl BackupCode {
    /// Removes whitespace and dashes and upper-cases; `None` unless eight characters of
    /// `A–Z0–9` remain.
    pub fn parse(raw: &str) -> Option<Self> {
        let code: String = normalize(raw)
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let ok = code.len() == BACKUP_CODE_LEN
            && code.bytes().all(|b| BACKUP_CODE_ALPHABET.contains(&b));
        ok.then_some(Self(code))
    }

    /// The canonical form, which is what gets hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to the user once: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(BACKUP_CODE_LEN / 2);
        format!("{a}-{b}")
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(<redacted>)")
    }
}

/// What a user typed as the second factor where either kind is accepted (login, disable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Totp(TotpCode),
    Backup(BackupCode),
}

impl SecondFactor {
    /// Six digits are a TOTP; otherwise a backup code; `None` when it is neither (New API's
    /// "验证码或备用码不正确"). A code of six digits can never be a backup code (eight
    /// characters), so the order loses nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        if let Ok(code) = TotpCode::parse(raw) {
            return Some(Self::Totp(code));
        }
        BackupCode::parse(raw).map(Self::Backup)
    }
}

/// Codes are typed with spaces ("123 456"): every whitespace character is removed.
pub fn normalize(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A user's two-factor record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorRecord {
    pub user_id: UserId,
    pub secret: TotpSecret,
    /// `false` between setup and the first accepted code.
    pub enabled: bool,
    /// The last TOTP time step accepted for the user; only a later step is accepted next.
    pub last_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored backup code that is still unused: its row id and hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredBackupCode {
    pub id: i64,
    pub hash: String,
}

impl fmt::Debug for StoredBackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredBackupCode")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Counts for the admin statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorCounts {
    /// Users that are not deleted.
    pub total_users: u64,
    /// Of those, users with two-factor authentication enabled.
    pub enabled_users: u64,
}

impl TwoFactorCounts {
    /// New API's `enabled_rate`: a percentage with one decimal, `"0.0%"` without users.
    pub fn enabled_rate(&self) -> String {
        if self.total_users == 0 {
            return "0.0%".to_owned();
        }
        // Integer arithmetic in tenths of a percent, rounded half up.
        let tenths = (self.enabled_users.saturating_mul(2000) / self.total_users).div_ceil(2);
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

/// Why a setup could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum BeginSetupError {
    /// An enabled record exists: setup never replaces it.
    #[error("two-factor authentication is already enabled")]
    AlreadyEnabled,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The outcome of an admin reset in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The record and the codes are gone and every session of the user is revoked.
    Reset,
    /// The user has no enabled record; nothing was written.
    NotEnabled,
    /// The user's row is gone or no longer has the role the hierarchy was checked on;
    /// nothing was written.
    Changed,
}

/// TOTP and backup-code technology: secrets, code checks, provisioning URL and QR code, and
/// the randomness of backup codes. Adapter: `tollgate_auth::TotpRs`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TotpEngine: Send + Sync {
    /// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation) in base32.
    fn new_secret(&self) -> anyhow::Result<TotpSecret>;

    /// The time step (unix seconds / 30) whose code equals `code`, searching the steps of
    /// `now` and one either side; `None` when none matches. The step lets the caller refuse
    /// a code accepted before.
    fn verify(&self, secret: &TotpSecret, code: &TotpCode, now: i64)
    -> anyhow::Result<Option<i64>>;

    /// The `otpauth://totp/...` URL that authenticator apps import, with the label and the
    /// issuer percent-encoded.
    fn provisioning_url(&self, secret: &TotpSecret, issuer: &str, account: &str) -> String;

    /// The QR code of `url` as a `data:image/png;base64,...` URL.
    fn qr_data_url(&self, url: &str) -> anyhow::Result<String>;

    /// A new random backup code (uniform over the alphabet: no modulo bias).
    fn backup_code(&self) -> anyhow::Result<BackupCode>;
}

/// Where two-factor records and backup codes live. Each method is one atomic step.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TwoFactorRepository: Send + Sync {
    /// The user's record, enabled or not.
    async fn find(&self, user: UserId) -> Result<Option<TwoFactorRecord>, RepoError>;

    /// In ONE transaction: deletes a disabled record of the user and its backup codes, then
    /// inserts a disabled record with `secret` and the backup codes `code_hashes`.
    ///
    /// # Errors
    /// - MUST return [`BeginSetupError::AlreadyEnabled`] when the user has an enabled record;
    ///   nothing is written then.
    async fn begin_setup(
        &self,
        user: UserId,
        secret: &TotpSecret,
        code_hashes: &[String],
        now: i64,
    ) -> Result<(), BeginSetupError>;

    /// Enables the user's disabled record and records `step` as its last accepted step,
    /// with `audit`, in ONE transaction; only while the record is disabled and `step` is
    /// later than its last accepted step. Returns whether it was enabled.
    async fn enable(
        &self,
        user: UserId,
        step: i64,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError>;

    /// Records `step` as the last accepted step of the user's enabled record, with one
    /// conditional update (`WHERE last_step IS NULL OR last_step < step`): of any number of
    /// concurrent claims of one step, at most one returns `true`.
    async fn claim_step(&self, user: UserId, step: i64, now: i64) -> Result<bool, RepoError>;

    /// The unused backup codes of the user (empty unless the record is enabled).
    async fn unused_backup_codes(&self, user: UserId) -> Result<Vec<StoredBackupCode>, RepoError>;

    /// Marks backup code `id` of `user` used with one conditional update
    /// (`WHERE used_at IS NULL`): of any number of concurrent calls, exactly one returns
    /// `true`.
    async fn consume_backup_code(&self, user: UserId, id: i64, now: i64)
    -> Result<bool, RepoError>;

    /// Replaces every backup code of the user's enabled record with `code_hashes`, with
    /// `audit`, in ONE transaction; `false` (nothing written) without an enabled record.
    async fn replace_backup_codes(
        &self,
        user: UserId,
        code_hashes: &[String],
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError>;

    /// The user's own disable, in ONE transaction: deletes the enabled record and every
    /// backup code, revokes every session of the user except `keep`, and writes `audit`.
    /// Returns whether an enabled record was deleted (nothing is written otherwise).
    async fn disable(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError>;

    /// An admin's reset, in ONE transaction: only while the user is live and still has
    /// `role` (the role the hierarchy was checked on), deletes the enabled record and every
    /// backup code, revokes every session of the user and writes `audit`.
    async fn admin_reset(
        &self,
        user: UserId,
        role: Role,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<ResetOutcome, RepoError>;

    /// Live users and, of those, users with an enabled record.
    async fn counts(&self) -> Result<TwoFactorCounts, RepoError>;
}

#[cfg(test)]
mod tests;
