//! Registration, the root account and the operator's password reset.

use std::sync::Arc;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::ports::{
    AuditRepository, Clock, CreateUserError, PasswordHasher, SecretGenerator, SessionRepository,
    UserRepository,
};
use crate::rate_limit::{Decision, NoLimit, RateLimiter, address_key};
use crate::user::{
    CredentialRuleError, DEFAULT_GROUP, DisplayName, Email, Invitation, NewUser, Password, Role,
    User, Username, default_setting,
};

/// Length of a generated invitation code. New API used 4 characters from a non-crypto RNG,
/// which collide (docs/newapi-behaviour.md §11.9); 8 alphanumerics give 2.2e14 codes.
const AFF_CODE_LEN: usize = 8;
/// Length of a generated root password.
const GENERATED_PASSWORD_LEN: usize = 24;
/// How many times a randomly generated unique value is retried after a collision.
pub(super) const COLLISION_RETRIES: usize = 3;

/// The ports every account use case needs, shared by the services.
#[derive(Clone)]
pub struct CorePorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub secrets: Arc<dyn SecretGenerator>,
    pub clock: Arc<dyn Clock>,
    pub audit: Arc<dyn AuditRepository>,
}

/// Registration and login switches, and the quota a new account starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPolicy {
    pub register_enabled: bool,
    pub password_register_enabled: bool,
    pub password_login_enabled: bool,
    pub quota_for_new_user: i64,
    /// Credited to the inviter's `aff_quota` per invitee (`QuotaForInviter`).
    pub quota_for_inviter: i64,
    /// Credited to a new user who registers with an invitation code (`QuotaForInvitee`).
    pub quota_for_invitee: i64,
    /// At most this many invitations pay the inviter a reward per rolling 24 h
    /// (`AffRewardDailyLimit`); 0 = unlimited, as in New API.
    pub aff_reward_daily_limit: u32,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            register_enabled: true,
            password_register_enabled: true,
            password_login_enabled: true,
            quota_for_new_user: 0,
            quota_for_inviter: 0,
            quota_for_invitee: 0,
            aff_reward_daily_limit: 0,
        }
    }
}

/// The invitation a registration gets (docs/newapi-behaviour.md §4.1, §8.2). An unknown code, or
/// one of a disabled or deleted account, is silently no invitation, as in New API; a known inviter
/// is always linked and counted, whatever the rewards are (New API counted only paid invitations,
/// docs/newapi-behaviour.md §11.9).
pub fn invitation_for(policy: &RegistrationPolicy, inviter: Option<&User>) -> Option<Invitation> {
    let inviter = inviter.filter(|u| u.is_enabled())?;
    Some(Invitation {
        inviter_id: inviter.id,
        inviter_reward: policy.quota_for_inviter,
        invitee_bonus: policy.quota_for_invitee,
        reward_daily_limit: policy.aff_reward_daily_limit,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("registration is disabled")]
    RegistrationDisabled,
    #[error("password registration is disabled")]
    PasswordRegistrationDisabled,
    #[error(transparent)]
    InvalidInput(#[from] CredentialRuleError),
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the e-mail address is taken")]
    EmailTaken,
    #[error("the e-mail address is invalid")]
    InvalidEmail,
    #[error("a root user already exists")]
    RootExists,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error("too many registrations from this address; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    InvalidPassword(#[from] CredentialRuleError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for RegisterError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}
impl From<RepoError> for ResetPasswordError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// Raw registration input (strings as received).
#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    pub username: String,
    pub password: String,
    /// Checked for syntax where a surface asks for it (`/api/v1`), never stored: until e-mail
    /// verification exists an address is unverified, and an unverified address must never
    /// become a login name or block its owner's registration (issue 7.7).
    pub email: Option<String>,
    /// The inviter's invitation code.
    pub aff_code: Option<String>,
    /// The client's address: registrations are rate limited per address.
    pub ip: Option<String>,
}

/// What the first-start bootstrap did.
#[derive(Debug, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// A root user already existed; nothing was done.
    AlreadySetUp,
    /// A root user was created; `generated_password` is set when no password was supplied.
    Created {
        username: String,
        generated_password: Option<String>,
    },
}

/// Accounts: self-service registration, the root account and the operator's password reset.
pub struct AccountService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    options: Arc<dyn OptionsSource>,
    /// Registrations per client address ([`NoLimit`] unless configured).
    register_limiter: Arc<dyn RateLimiter>,
}

impl AccountService {
    /// Takes from `ports` the ones it uses (no sessions, no audit repository).
    pub fn new(ports: &CorePorts, options: Arc<dyn OptionsSource>) -> Self {
        Self {
            users: ports.users.clone(),
            hasher: ports.hasher.clone(),
            secrets: ports.secrets.clone(),
            clock: ports.clock.clone(),
            options,
            register_limiter: Arc::new(NoLimit),
        }
    }

    /// Limits self-service registrations per client address (both surfaces share it).
    pub fn with_register_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.register_limiter = limiter;
        self
    }

    /// The registration and login switches in force now (runtime options).
    pub async fn policy(&self) -> Result<RegistrationPolicy, RepoError> {
        Ok(self.options.current().await?.registration)
    }

    /// Self-service registration with username and password (docs/newapi-behaviour.md §4.1).
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: RegisterInput) -> Result<User, RegisterError> {
        let policy = self.policy().await?;
        if !policy.register_enabled {
            return Err(RegisterError::RegistrationDisabled);
        }
        if !policy.password_register_enabled {
            return Err(RegisterError::PasswordRegistrationDisabled);
        }
        let username = Username::parse(&input.username)?;
        let password = Password::parse(&input.password)?;
        if let Some(e) = input
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Email::parse(e).map_err(|_| RegisterError::InvalidEmail)?;
        }
        // Every well-formed attempt counts, before the password is hashed or anything stored.
        let key = address_key(input.ip.as_deref());
        if let Decision::Deny { retry_after_secs } = self.register_limiter.check(&key).await? {
            tracing::warn!(client = %key, retry_after_secs, "registration rate limited");
            return Err(RegisterError::RateLimited { retry_after_secs });
        }
        let inviter = match input.aff_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => self.users.find_inviter(code).await?,
        };
        let invitation = invitation_for(&policy, inviter.as_ref());
        let user = self
            .create_user(NewAccount {
                username,
                password: &password,
                role: Role::User,
                email: None,
                initial_quota: policy.quota_for_new_user,
                invitation,
                audit: None,
            })
            .await?;
        tracing::info!(user_id = %user.id, invited = invitation.is_some(), "user registered");
        Ok(user)
    }

    async fn create_user(&self, account: NewAccount<'_>) -> Result<User, RegisterError> {
        let (users, hasher) = (&*self.users, &*self.hasher);
        create_user(users, hasher, &*self.secrets, &*self.clock, account).await
    }

    /// Whether the installation has a root user (`/api/status` `setup`).
    pub async fn is_set_up(&self) -> Result<bool, RepoError> {
        self.users.root_exists().await
    }

    /// Creates a root user; refused when one exists (use [`Self::reset_password`] instead).
    pub async fn create_root(&self, username: &str, password: &str) -> Result<User, RegisterError> {
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        if self.users.root_exists().await? {
            return Err(RegisterError::RootExists);
        }
        let user = self
            .create_user(NewAccount {
                username,
                password: &password,
                role: Role::Root,
                email: None,
                initial_quota: 0,
                invitation: None,
                audit: None,
            })
            .await?;
        tracing::info!(user_id = %user.id, "root user created");
        Ok(user)
    }

    /// First start: make sure a root exists. With `credentials`, create that root; otherwise
    /// create `root` with a random password that the caller must show once.
    pub async fn bootstrap_root(
        &self,
        credentials: Option<(String, String)>,
    ) -> Result<BootstrapOutcome, RegisterError> {
        if self.users.root_exists().await? {
            return Ok(BootstrapOutcome::AlreadySetUp);
        }
        let (username, password, generated) = match credentials {
            Some((u, p)) => (u, p, false),
            None => {
                let p = self.secrets.alphanumeric(GENERATED_PASSWORD_LEN);
                ("root".to_owned(), p, true)
            }
        };
        match self.create_root(&username, &password).await {
            Ok(user) => Ok(BootstrapOutcome::Created {
                username: user.username,
                generated_password: generated.then_some(password),
            }),
            // Another instance bootstrapped at the same moment.
            Err(RegisterError::RootExists) => Ok(BootstrapOutcome::AlreadySetUp),
            Err(RegisterError::UsernameTaken) if self.users.root_exists().await? => {
                Ok(BootstrapOutcome::AlreadySetUp)
            }
            Err(e) => Err(e),
        }
    }

    /// Sets a new password and revokes every session of the user.
    pub async fn reset_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<User, ResetPasswordError> {
        let password = Password::parse(password)?;
        let user = self
            .users
            .find_by_username(username.trim())
            .await?
            .filter(|u| !u.is_deleted())
            .ok_or(ResetPasswordError::UserNotFound)?;
        let hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        // An operator's reset ends every session and the access token, with its audit record,
        // in one transaction.
        let audit = AuditEntry::new(AuditAction::PasswordReset, None, Some(user.id), now)
            .change(serde_json::Value::Null, serde_json::json!({ "by": "cli" }));
        self.users
            .change_password(user.id, &hash, None, true, &audit, now)
            .await?;
        tracing::info!(user_id = %user.id, "password reset");
        Ok(user)
    }
}

/// Inserts a user, retrying the random invitation code on the rare collision.
pub(super) async fn create_user(
    users: &dyn UserRepository,
    hasher: &dyn PasswordHasher,
    secrets: &dyn SecretGenerator,
    clock: &dyn Clock,
    account: NewAccount<'_>,
) -> Result<User, RegisterError> {
    let password_hash = hasher.hash(account.password).await?;
    let mut new = NewUser {
        display_name: DisplayName::of_username(&account.username),
        username: account.username,
        password_hash,
        role: account.role,
        group: DEFAULT_GROUP.to_owned(),
        email: account.email,
        aff_code: String::new(),
        setting: default_setting(account.role),
        initial_quota: account.initial_quota,
        invitation: account.invitation,
        audit: account.audit,
        created_at: clock.now(),
    };
    for _ in 0..COLLISION_RETRIES {
        new.aff_code = secrets.alphanumeric(AFF_CODE_LEN);
        match users.create(&new).await {
            Ok(user) => return Ok(user),
            Err(CreateUserError::AffCodeTaken) => continue,
            Err(CreateUserError::UsernameTaken) => return Err(RegisterError::UsernameTaken),
            Err(CreateUserError::EmailTaken) => return Err(RegisterError::EmailTaken),
            Err(CreateUserError::RootExists) => return Err(RegisterError::RootExists),
            Err(CreateUserError::Unexpected(e)) => return Err(RegisterError::Unexpected(e)),
        }
    }
    Err(RegisterError::Unexpected(anyhow::anyhow!(
        "could not generate a unique invitation code"
    )))
}

/// What `create_user` needs besides the generated parts.
pub(super) struct NewAccount<'a> {
    pub(super) username: Username,
    pub(super) password: &'a Password,
    pub(super) role: Role,
    pub(super) email: Option<Email>,
    pub(super) initial_quota: i64,
    pub(super) invitation: Option<Invitation>,
    pub(super) audit: Option<AuditEntry>,
}

mod setup;
pub use setup::{SETUP_ROOT_QUOTA, SETUP_USERNAME_MAX_CHARS, SetupError, SetupInput};

#[cfg(test)]
pub(crate) mod tests;
