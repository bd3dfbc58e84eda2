//! Registration, login, sessions, access tokens and the root account.

use std::sync::Arc;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::ports::{
    AccessTokenCodec, AuditRepository, Clock, CreateUserError, PasswordHasher, SecretGenerator,
    SessionRepository, UserRepository,
};
use crate::rate_limit::{Decision, NoLimit, RateLimiter, address_key};
use crate::session::{NewSession, SessionKind};
use crate::user::{
    CredentialRuleError, DEFAULT_GROUP, Invitation, NewUser, Password, Role, User, Username,
    default_setting,
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

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTtl {
    /// The compat surface's cookie session.
    pub web_secs: i64,
    /// A `/api/v1` refresh token (sliding: each refresh starts it again).
    pub refresh_secs: i64,
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
pub enum LoginError {
    #[error("password login is disabled")]
    PasswordLoginDisabled,
    #[error("username or password is empty")]
    MissingCredentials,
    /// Unknown user, wrong password, disabled or deleted account: one variant, one message.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
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
impl From<RepoError> for LoginError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}
impl From<RepoError> for ResetPasswordError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// An admin's request to create a user.
#[derive(Debug, Clone, Default)]
pub struct AdminCreateInput {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    /// Role code; default 1.
    pub role: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminCreateError {
    #[error(transparent)]
    Hierarchy(#[from] crate::hierarchy::HierarchyError),
    #[error(transparent)]
    InvalidCredential(#[from] CredentialRuleError),
    #[error("display name must be 1 to 20 characters")]
    InvalidDisplayName,
    #[error("unknown role")]
    InvalidRole,
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for AdminCreateError {
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

/// Raw login input. `login` is a username or an e-mail address.
#[derive(Clone)]
pub struct LoginInput {
    pub login: String,
    pub password: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A successful login: the user and the session token to hand to the client once.
#[derive(Debug)]
pub struct LoginOutcome {
    pub user: User,
    pub session_token: String,
    pub expires_at: i64,
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

pub struct AccountService {
    pub(super) users: Arc<dyn UserRepository>,
    pub(super) sessions: Arc<dyn SessionRepository>,
    pub(super) hasher: Arc<dyn PasswordHasher>,
    pub(super) secrets: Arc<dyn SecretGenerator>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit: Arc<dyn AuditRepository>,
    pub(super) codec: Arc<dyn AccessTokenCodec>,
    pub(super) options: Arc<dyn OptionsSource>,
    pub(super) ttl: SessionTtl,
    /// Registrations per client address ([`NoLimit`] unless configured).
    pub(super) register_limiter: Arc<dyn RateLimiter>,
    pub(super) failed_login_audit: Arc<super::FailedLoginAudit>,
}

impl AccountService {
    pub fn new(
        ports: CorePorts,
        codec: Arc<dyn AccessTokenCodec>,
        options: Arc<dyn OptionsSource>,
        ttl: SessionTtl,
    ) -> Self {
        Self {
            users: ports.users,
            sessions: ports.sessions,
            hasher: ports.hasher,
            secrets: ports.secrets,
            clock: ports.clock,
            audit: ports.audit,
            codec,
            options,
            ttl,
            register_limiter: Arc::new(NoLimit),
            failed_login_audit: Arc::new(super::FailedLoginAudit::unlimited()),
        }
    }

    /// Limits self-service registrations per client address (both surfaces share it).
    pub fn with_register_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.register_limiter = limiter;
        self
    }

    /// Limits the failed-login audit rows per client address (unlimited by default).
    pub fn with_failed_login_audit(mut self, limit: super::FailedLoginAudit) -> Self {
        self.failed_login_audit = Arc::new(limit);
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
            crate::user::parse_email(e).ok_or(RegisterError::InvalidEmail)?;
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

    /// Inserts a user, retrying the random invitation code on the rare collision.
    async fn create_user(&self, account: NewAccount<'_>) -> Result<User, RegisterError> {
        let password_hash = self.hasher.hash(account.password).await?;
        let mut new = NewUser {
            display_name: account.username.as_str().to_owned(),
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
            created_at: self.clock.now(),
        };
        for _ in 0..COLLISION_RETRIES {
            new.aff_code = self.secrets.alphanumeric(AFF_CODE_LEN);
            match self.users.create(&new).await {
                Ok(user) => return Ok(user),
                Err(CreateUserError::AffCodeTaken) => continue,
                Err(CreateUserError::UsernameTaken) => return Err(RegisterError::UsernameTaken),
                Err(CreateUserError::EmailTaken) => return Err(RegisterError::EmailTaken),
                Err(CreateUserError::Unexpected(e)) => return Err(RegisterError::Unexpected(e)),
            }
        }
        Err(RegisterError::Unexpected(anyhow::anyhow!(
            "could not generate a unique invitation code"
        )))
    }

    /// Password login (docs/newapi-behaviour.md §4.2). Unknown user, wrong password and a disabled
    /// account take the same path through the hasher and give the same error.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, input: LoginInput) -> Result<LoginOutcome, LoginError> {
        let user = self.check_credentials(&input).await?;
        let (token, expires_at, _) = self
            .start_session(&user, SessionKind::Web, self.ttl.web_secs, &input)
            .await?;
        tracing::info!(user_id = %user.id, "login");
        Ok(LoginOutcome {
            user: User {
                last_login_at: Some(self.clock.now()),
                ..user
            },
            session_token: token,
            expires_at,
        })
    }

    /// The user behind a login, or the one generic refusal.
    pub(super) async fn check_credentials(&self, input: &LoginInput) -> Result<User, LoginError> {
        if !self.policy().await?.password_login_enabled {
            return Err(LoginError::PasswordLoginDisabled);
        }
        let login = input.login.trim();
        if login.is_empty() || input.password.is_empty() {
            return Err(LoginError::MissingCredentials);
        }
        // Only usernames are login names: every stored e-mail address is unverified until
        // e-mail verification exists (issue 7.7), and usernames never contain `@`.
        let login = login.to_owned();
        // Names are stored in NFKC: a fullwidth or decomposed spelling of a name logs in, its
        // other case does not (New API's names are case-sensitive). The name as typed is
        // tried first, so names stored before normalisation keep working.
        let mut found = self.users.find_credentials(&login).await?;
        let normalized = crate::user::normalize_login(&login);
        if found.is_none() && normalized != login {
            found = self.users.find_credentials(&normalized).await?;
        }
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let password_ok = self.hasher.verify(&input.password, hash).await?;
        match user {
            Some(user) if password_ok && user.is_enabled() => Ok(user),
            user => {
                tracing::info!("login refused");
                let now = self.clock.now();
                if !self
                    .failed_login_audit
                    .admit(input.ip.as_deref(), now)
                    .await
                {
                    return Err(LoginError::InvalidCredentials);
                }
                let mut entry = AuditEntry::new(
                    AuditAction::LoginFailed,
                    None,
                    user.as_ref().map(|u| u.id),
                    now,
                )
                .from_ip(input.ip.clone());
                // The typed login is kept only when it named an account (it is then that
                // account's name or address). A name that matched nothing is often a password
                // typed into the wrong field: it is never stored.
                if let Some(user) = &user {
                    let attempted: String = login.chars().take(64).collect();
                    entry = entry
                        .change(
                            serde_json::Value::Null,
                            serde_json::json!({ "login": attempted }),
                        )
                        .target_role(user.role);
                }
                self.audit.record(&entry).await?;
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// Stores a new session of `kind`; returns its token (shown once), expiry and id, and
    /// records the login time on the user.
    pub(super) async fn start_session(
        &self,
        user: &User,
        kind: SessionKind,
        ttl_secs: i64,
        input: &LoginInput,
    ) -> Result<(String, i64, i64), RepoError> {
        let now = self.clock.now();
        let token = self.secrets.token();
        let expires_at = now.saturating_add(ttl_secs);
        let id = self
            .sessions
            .create(&NewSession {
                token_hash: token.hash,
                user_id: user.id,
                kind,
                created_at: now,
                expires_at,
                ip: input.ip.clone(),
                user_agent: input.user_agent.clone(),
                audit: Some(
                    AuditEntry::new(
                        AuditAction::LoginSucceeded,
                        Some(user.id),
                        Some(user.id),
                        now,
                    )
                    .change(
                        serde_json::Value::Null,
                        serde_json::json!({ "via": kind.as_str() }),
                    )
                    .from_ip(input.ip.clone()),
                ),
            })
            .await?;
        self.users.record_login(user.id, now).await?;
        Ok((token.plaintext, expires_at, id))
    }

    /// `POST /api/user/` (docs/newapi-behaviour.md §6.3): an admin creates a user with a role
    /// strictly below its own; the same insert effects as registration (new-user quota through the
    /// ledger, invitation code, default sidebar), no inviter, and the creation audited in the same
    /// transaction.
    pub async fn create_by_admin(
        &self,
        actor: &User,
        input: AdminCreateInput,
    ) -> Result<User, AdminCreateError> {
        let role = Role::from_code(input.role.unwrap_or(1)).ok_or(AdminCreateError::InvalidRole)?;
        crate::hierarchy::check_grant(actor, role)?;
        let username = Username::parse(&input.username)?;
        let password = Password::parse(&input.password)?;
        let display_name = input
            .display_name
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if display_name
            .as_ref()
            .is_some_and(|d| d.chars().count() > 20 || d.chars().any(char::is_control))
        {
            return Err(AdminCreateError::InvalidDisplayName);
        }
        let now = self.clock.now();
        let audit = AuditEntry::new(AuditAction::UserCreated, Some(actor.id), None, now).change(
            serde_json::Value::Null,
            serde_json::json!({"username": username.as_str(), "role": role.code()}),
        );
        let mut user = self
            .create_user(NewAccount {
                username,
                password: &password,
                role,
                email: None,
                initial_quota: self.policy().await?.quota_for_new_user,
                invitation: None,
                audit: Some(audit),
            })
            .await
            .map_err(|e| match e {
                RegisterError::UsernameTaken => AdminCreateError::UsernameTaken,
                RegisterError::InvalidInput(rule) => AdminCreateError::InvalidCredential(rule),
                other => AdminCreateError::Unexpected(anyhow::anyhow!(other)),
            })?;
        if let Some(name) = display_name.filter(|d| *d != user.display_name) {
            let changes = crate::user::ProfileChanges {
                display_name: Some(name),
                ..Default::default()
            };
            user = self
                .users
                .update_profile(user.id, &changes)
                .await
                .map_err(|e| AdminCreateError::Unexpected(anyhow::anyhow!(e)))?;
        }
        tracing::info!(actor = %actor.id, user_id = %user.id, "user created by admin");
        Ok(user)
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

/// What `create_user` needs besides the generated parts.
struct NewAccount<'a> {
    username: Username,
    password: &'a Password,
    role: Role,
    email: Option<String>,
    initial_quota: i64,
    invitation: Option<Invitation>,
    audit: Option<AuditEntry>,
}

#[cfg(test)]
pub(crate) mod tests;
