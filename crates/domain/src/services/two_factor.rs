//! Two-factor authentication management (spec §6.2–6.3, docs/security.md "Two-factor
//! authentication"): status, setup, enable, disable, backup-code regeneration, the admin's
//! statistics and reset, and the check of a second factor that the login step uses.
//!
//! Backup codes are hashed with the [`PasswordHasher`] port (argon2id). A backup code has
//! only 36^8 ≈ 2^41 values: a fast hash (even a keyed one, whose key would sit next to the
//! rows) falls to an offline search in minutes once the table leaks, while argon2id makes
//! that search cost years. The price is one argon2 verification per unused code when a
//! backup code is typed (at most [`BACKUP_CODE_COUNT`]), which is rare and throttled with
//! every other credential check.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::hierarchy::{self, AdminOp, HierarchyError};
use crate::ports::{Clock, PasswordHasher, UserRepository};
use crate::session::SessionId;
use crate::throttle::{LoginThrottle, Subject, Throttled};
use crate::two_factor::{
    BACKUP_CODE_COUNT, BackupCode, BeginSetupError, ResetOutcome, SecondFactor, TotpCode,
    TotpEngine, TotpFormatError, TotpSecret, TwoFactorCounts, TwoFactorRecord, TwoFactorRepository,
};
use crate::user::{Password, User, UserId};

/// Why a two-factor request of a user was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    /// No code in the request (New API's "参数错误").
    #[error("a code is required")]
    MissingCode,
    /// A TOTP was required and the code is not six digits.
    #[error(transparent)]
    TotpFormat(TotpFormatError),
    /// Setup while enabled: disable first.
    #[error("two-factor authentication is enabled; disable it before setting it up again")]
    DisableFirst,
    /// Enable while enabled.
    #[error("two-factor authentication is already enabled")]
    AlreadyEnabled,
    /// Enable before setup.
    #[error("set up two-factor authentication first")]
    NotSetUp,
    #[error("two-factor authentication is not enabled")]
    NotEnabled,
    /// Neither a TOTP nor a backup code.
    #[error("the code is neither a TOTP nor a backup code")]
    MalformedCode,
    /// A wrong code, a used backup code, or a TOTP whose time step was already accepted.
    #[error("the code is wrong")]
    WrongCode,
    /// Too many recent code checks for this user or from this address.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for TwoFactorError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

impl From<TotpFormatError> for TwoFactorError {
    fn from(e: TotpFormatError) -> Self {
        match e {
            TotpFormatError::Missing => Self::MissingCode,
            other => Self::TotpFormat(other),
        }
    }
}

/// Why an admin's reset of a user's two-factor authentication was refused.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorAdminError {
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    #[error("two-factor authentication is not enabled")]
    NotEnabled,
    /// The user changed between the hierarchy check and the write; nothing was written.
    #[error("the user was changed meanwhile, retry")]
    Changed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for TwoFactorAdminError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// `GET /api/user/2fa/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// Whether second-factor checks of the user are throttled at the moment.
    pub locked: bool,
    /// Unused backup codes; only when enabled.
    pub backup_codes_remaining: Option<usize>,
}

/// What a setup hands out, once: the secret, how to import it, and the backup codes.
#[derive(Clone)]
pub struct TwoFactorSetup {
    pub secret: TotpSecret,
    /// The `otpauth://` URL (New API's `qr_code_data`, which its console renders as a QR
    /// code).
    pub provisioning_url: String,
    /// The same URL as a QR code, `data:image/png;base64,...`.
    pub qr_data_url: String,
    /// `XXXX-XXXX`, shown this once.
    pub backup_codes: Vec<String>,
}

impl std::fmt::Debug for TwoFactorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwoFactorSetup(<redacted>)")
    }
}

/// Which kind of second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    BackupCode,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::BackupCode => "backup_code",
        }
    }
}

/// A second factor that was accepted (and, for a TOTP step or a backup code, spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user_id: UserId,
    pub kind: FactorKind,
}

/// The ports of [`TwoFactorService`].
#[derive(Clone)]
pub struct TwoFactorPorts {
    pub repo: Arc<dyn TwoFactorRepository>,
    pub engine: Arc<dyn TotpEngine>,
    /// Hashes the backup codes (argon2id; see the module docs).
    pub hasher: Arc<dyn PasswordHasher>,
    pub users: Arc<dyn UserRepository>,
    pub clock: Arc<dyn Clock>,
    /// The issuer of the provisioning URL (the system name).
    pub issuer: String,
}

pub struct TwoFactorService {
    repo: Arc<dyn TwoFactorRepository>,
    engine: Arc<dyn TotpEngine>,
    hasher: Arc<dyn PasswordHasher>,
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    issuer: String,
    /// `None`: code checks are not throttled (unit tests that are not about it).
    throttle: Option<Arc<LoginThrottle>>,
}

impl TwoFactorService {
    pub fn new(ports: TwoFactorPorts) -> Self {
        Self {
            repo: ports.repo,
            engine: ports.engine,
            hasher: ports.hasher,
            users: ports.users,
            clock: ports.clock,
            issuer: ports.issuer,
            throttle: None,
        }
    }

    /// Throttles every check of a code against an enabled record (the login step, disable,
    /// regeneration) as a credential check of the user (`Subject::SecondFactor`).
    pub fn with_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Whether the user has two-factor authentication on, whether code checks must wait
    /// (the throttle's delay is running), and how many backup codes are left.
    pub async fn status(&self, user: UserId) -> Result<TwoFactorStatus, TwoFactorError> {
        let enabled = self.repo.find(user).await?.is_some_and(|r| r.enabled);
        let backup_codes_remaining = if enabled {
            Some(self.repo.unused_backup_codes(user).await?.len())
        } else {
            None
        };
        let locked = match &self.throttle {
            Some(t) if enabled => t.is_waiting(&Subject::SecondFactor(user)).await,
            _ => false,
        };
        Ok(TwoFactorStatus {
            enabled,
            locked,
            backup_codes_remaining,
        })
    }

    /// Whether the user must pass a second factor to log in.
    pub async fn is_enabled(&self, user: UserId) -> Result<bool, RepoError> {
        Ok(self.repo.find(user).await?.is_some_and(|r| r.enabled))
    }

    /// Starts (or restarts) a setup: a new secret and new backup codes, stored disabled
    /// until [`Self::enable`]; a disabled record from an earlier setup is replaced. Refused
    /// while enabled.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn setup(&self, user: &User) -> Result<TwoFactorSetup, TwoFactorError> {
        if self.is_enabled(user.id).await? {
            return Err(TwoFactorError::DisableFirst);
        }
        let secret = self.engine.new_secret()?;
        let (codes, hashes) = self.new_backup_codes().await?;
        match self
            .repo
            .begin_setup(user.id, &secret, &hashes, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(BeginSetupError::AlreadyEnabled) => return Err(TwoFactorError::DisableFirst),
            Err(BeginSetupError::Unexpected(e)) => return Err(TwoFactorError::Unexpected(e)),
        }
        let provisioning_url = self
            .engine
            .provisioning_url(&secret, &self.issuer, &user.username);
        let qr_data_url = self.engine.qr_data_url(&provisioning_url)?;
        tracing::info!("two-factor setup started");
        Ok(TwoFactorSetup {
            secret,
            provisioning_url,
            qr_data_url,
            backup_codes: codes,
        })
    }

    /// Turns a set-up record on with a current TOTP (backup codes are not accepted here).
    /// The code's time step counts as used. Audited.
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    pub async fn enable(
        &self,
        user: UserId,
        code: &str,
        ip: Option<String>,
    ) -> Result<(), TwoFactorError> {
        require_code(code)?;
        let record = self
            .repo
            .find(user)
            .await?
            .ok_or(TwoFactorError::NotSetUp)?;
        if record.enabled {
            return Err(TwoFactorError::AlreadyEnabled);
        }
        let code = TotpCode::parse(code)?;
        let now = self.clock.now();
        let step = self
            .engine
            .verify(&record.secret, &code, now)?
            .ok_or(TwoFactorError::WrongCode)?;
        let audit =
            AuditEntry::new(AuditAction::TwoFactorEnabled, Some(user), Some(user), now).from_ip(ip);
        if !self.repo.enable(user, step, &audit, now).await? {
            // Enabled meanwhile by another request, or that step was already used.
            return Err(match self.repo.find(user).await? {
                Some(r) if r.enabled => TwoFactorError::AlreadyEnabled,
                Some(_) => TwoFactorError::WrongCode,
                None => TwoFactorError::NotSetUp,
            });
        }
        tracing::info!("two-factor authentication enabled");
        Ok(())
    }

    /// Turns two-factor authentication off with a current TOTP or an unused backup code:
    /// the record and the codes are deleted and every other session of the user is revoked
    /// (`keep` is the session making the request). Audited.
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    pub async fn disable(
        &self,
        user: UserId,
        code: &str,
        keep: Option<SessionId>,
        ip: Option<String>,
    ) -> Result<(), TwoFactorError> {
        require_code(code)?;
        let record = self.enabled_record(user).await?;
        let kind = self
            .check(&record, &parse_either(code)?, ip.as_deref())
            .await?;
        let now = self.clock.now();
        let audit = AuditEntry::new(AuditAction::TwoFactorDisabled, Some(user), Some(user), now)
            .change(Value::Null, json!({ "via": kind.as_str() }))
            .from_ip(ip);
        if !self.repo.disable(user, keep, &audit, now).await? {
            return Err(TwoFactorError::NotEnabled);
        }
        tracing::info!("two-factor authentication disabled");
        Ok(())
    }

    /// Replaces the backup codes with new ones, shown once; needs a current TOTP (a backup
    /// code cannot mint new ones). Audited (never the codes).
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    pub async fn regenerate_backup_codes(
        &self,
        user: UserId,
        code: &str,
        ip: Option<String>,
    ) -> Result<Vec<String>, TwoFactorError> {
        require_code(code)?;
        let record = self.enabled_record(user).await?;
        let code = TotpCode::parse(code)?;
        self.check(&record, &SecondFactor::Totp(code), ip.as_deref())
            .await?;
        let (codes, hashes) = self.new_backup_codes().await?;
        let now = self.clock.now();
        let audit = AuditEntry::new(
            AuditAction::TwoFactorBackupCodesRegenerated,
            Some(user),
            Some(user),
            now,
        )
        .change(Value::Null, json!({ "count": codes.len() }))
        .from_ip(ip);
        if !self
            .repo
            .replace_backup_codes(user, &hashes, &audit, now)
            .await?
        {
            return Err(TwoFactorError::NotEnabled);
        }
        tracing::info!("backup codes regenerated");
        Ok(codes)
    }

    /// The second step of a login: a current TOTP (whose step is then spent) or an unused
    /// backup code (then used up). Of concurrent requests with one backup code or one TOTP
    /// step, exactly one succeeds.
    pub async fn verify_second_factor(
        &self,
        user: UserId,
        code: &str,
        ip: Option<&str>,
    ) -> Result<Verified, TwoFactorError> {
        require_code(code)?;
        let record = self.enabled_record(user).await?;
        let kind = self.check(&record, &parse_either(code)?, ip).await?;
        Ok(Verified {
            user_id: user,
            kind,
        })
    }

    /// `GET /api/user/2fa/stats` (admin).
    pub async fn counts(&self, actor: &User) -> Result<TwoFactorCounts, TwoFactorAdminError> {
        if !actor.role.is_admin() {
            return Err(HierarchyError::NotAdmin.into());
        }
        Ok(self.repo.counts().await?)
    }

    /// An admin turns a user's two-factor authentication off (the user lost the
    /// authenticator and the codes). The hierarchy applies as to any change of the user
    /// (strictly below the admin); every session of the user is revoked. Audited with the
    /// admin as actor.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, target = %id))]
    pub async fn admin_reset(
        &self,
        actor: &User,
        id: UserId,
        ip: Option<String>,
    ) -> Result<(), TwoFactorAdminError> {
        let target = match self.users.find_by_id(id).await? {
            Some(u) if !u.is_deleted() => u,
            _ => return Err(TwoFactorAdminError::UserNotFound),
        };
        // A reset changes the user: the rule of an update (target strictly below).
        hierarchy::check(actor, &target, AdminOp::Update)?;
        let now = self.clock.now();
        let audit = AuditEntry::new(AuditAction::TwoFactorReset, Some(actor.id), Some(id), now)
            .target_role(target.role)
            .from_ip(ip);
        match self.repo.admin_reset(id, target.role, &audit, now).await? {
            ResetOutcome::Reset => {
                tracing::info!("two-factor authentication reset by an admin");
                Ok(())
            }
            ResetOutcome::NotEnabled => Err(TwoFactorAdminError::NotEnabled),
            ResetOutcome::Changed => Err(TwoFactorAdminError::Changed),
        }
    }

    async fn enabled_record(&self, user: UserId) -> Result<TwoFactorRecord, TwoFactorError> {
        match self.repo.find(user).await? {
            Some(r) if r.enabled => Ok(r),
            _ => Err(TwoFactorError::NotEnabled),
        }
    }

    /// Checks and spends a second factor of an enabled record, through the throttle: the
    /// attempt is reserved before the check and counts as a failure unless it succeeds.
    async fn check(
        &self,
        record: &TwoFactorRecord,
        factor: &SecondFactor,
        ip: Option<&str>,
    ) -> Result<FactorKind, TwoFactorError> {
        let Some(throttle) = &self.throttle else {
            return self.check_code(record, factor).await;
        };
        let attempt = throttle
            .begin(&Subject::SecondFactor(record.user_id), ip)
            .await?;
        let checked = self.check_code(record, factor).await;
        match &checked {
            Ok(_) => throttle.succeeded(attempt).await,
            Err(_) => throttle.failed(attempt).await,
        }
        checked
    }

    /// [`Self::check`] without the throttle.
    async fn check_code(
        &self,
        record: &TwoFactorRecord,
        factor: &SecondFactor,
    ) -> Result<FactorKind, TwoFactorError> {
        let now = self.clock.now();
        match factor {
            SecondFactor::Totp(code) => {
                let step = self
                    .engine
                    .verify(&record.secret, code, now)?
                    .ok_or(TwoFactorError::WrongCode)?;
                // A step already accepted (by this code or another) is a replay.
                if !self.repo.claim_step(record.user_id, step, now).await? {
                    return Err(TwoFactorError::WrongCode);
                }
                Ok(FactorKind::Totp)
            }
            SecondFactor::Backup(code) => {
                self.spend_backup_code(record.user_id, code, now).await?;
                Ok(FactorKind::BackupCode)
            }
        }
    }

    /// Finds the unused code that matches and marks it used; a lost race for it is a wrong
    /// code.
    async fn spend_backup_code(
        &self,
        user: UserId,
        code: &BackupCode,
        now: i64,
    ) -> Result<(), TwoFactorError> {
        let stored = self.repo.unused_backup_codes(user).await?;
        if stored.is_empty() {
            // The same cost as a wrong code, so the count of codes left does not show.
            self.hasher.verify(code.as_str(), None).await?;
            return Err(TwoFactorError::WrongCode);
        }
        for candidate in stored {
            if self
                .hasher
                .verify(code.as_str(), Some(candidate.hash))
                .await?
            {
                return if self
                    .repo
                    .consume_backup_code(user, candidate.id, now)
                    .await?
                {
                    Ok(())
                } else {
                    Err(TwoFactorError::WrongCode)
                };
            }
        }
        Err(TwoFactorError::WrongCode)
    }

    /// [`BACKUP_CODE_COUNT`] new codes as shown (`XXXX-XXXX`) and their hashes.
    async fn new_backup_codes(&self) -> Result<(Vec<String>, Vec<String>), TwoFactorError> {
        let mut shown = Vec::with_capacity(BACKUP_CODE_COUNT);
        let mut hashes = Vec::with_capacity(BACKUP_CODE_COUNT);
        // A repeat among 2^41 values means a broken generator more than bad luck: a few
        // draws more, then give up loudly.
        for _ in 0..BACKUP_CODE_COUNT * 2 {
            if shown.len() == BACKUP_CODE_COUNT {
                return Ok((shown, hashes));
            }
            let code = self.engine.backup_code()?;
            let display = code.display();
            if shown.contains(&display) {
                continue;
            }
            let password = Password::parse(code.as_str())
                .map_err(|e| anyhow::anyhow!("a backup code is not hashable: {e}"))?;
            hashes.push(self.hasher.hash(&password).await?);
            shown.push(display);
        }
        if shown.len() == BACKUP_CODE_COUNT {
            return Ok((shown, hashes));
        }
        Err(anyhow::anyhow!("the backup-code generator repeats itself").into())
    }
}

/// New API checks for a missing code before anything else.
fn require_code(raw: &str) -> Result<(), TwoFactorError> {
    if crate::two_factor::normalize(raw).is_empty() {
        return Err(TwoFactorError::MissingCode);
    }
    Ok(())
}

/// A code where a TOTP or a backup code is accepted.
fn parse_either(raw: &str) -> Result<SecondFactor, TwoFactorError> {
    require_code(raw)?;
    SecondFactor::parse(raw).ok_or(TwoFactorError::MalformedCode)
}

#[cfg(test)]
mod tests;
