//! Registration, login, sessions, access tokens and the root account.

use std::sync::Arc;

use crate::error::RepoError;
use crate::ports::{
    Clock, CreateUserError, PasswordHasher, SecretGenerator, SessionRepository,
    SetAccessTokenError, UserRepository,
};
use crate::session::{NewSession, SessionKind};
use crate::user::{
    CredentialRuleError, DEFAULT_GROUP, NewUser, Password, Role, User, UserId, Username,
    default_setting,
};

/// Length of a generated invitation code. New API used 4 characters from a non-crypto RNG,
/// which collide (spec §10.27); 8 alphanumerics give 2.2e14 codes.
const AFF_CODE_LEN: usize = 8;
/// Length of a generated root password.
const GENERATED_PASSWORD_LEN: usize = 24;
/// How many times a randomly generated unique value is retried after a collision.
const COLLISION_RETRIES: usize = 3;

/// Registration and login switches, and the quota a new account starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPolicy {
    pub register_enabled: bool,
    pub password_register_enabled: bool,
    pub password_login_enabled: bool,
    pub quota_for_new_user: i64,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            register_enabled: true,
            password_register_enabled: true,
            password_login_enabled: true,
            quota_for_new_user: 0,
        }
    }
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
    #[error("a root user already exists")]
    RootExists,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
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
pub enum AuthError {
    #[error("no valid session")]
    NoSession,
    #[error("invalid access token")]
    InvalidAccessToken,
    #[error("the account no longer exists")]
    UserDeleted,
    #[error("the account is disabled")]
    Disabled,
    #[error("insufficient role")]
    Forbidden,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("could not generate a unique token")]
    Collision,
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
impl From<RepoError> for AuthError {
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
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub username: String,
    pub password: String,
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
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    policy: RegistrationPolicy,
    session_ttl_secs: i64,
}

impl AccountService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        hasher: Arc<dyn PasswordHasher>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        policy: RegistrationPolicy,
        session_ttl_secs: i64,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            secrets,
            clock,
            policy,
            session_ttl_secs,
        }
    }

    pub fn policy(&self) -> &RegistrationPolicy {
        &self.policy
    }

    /// Self-service registration with username and password (spec §3.1).
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: RegisterInput) -> Result<User, RegisterError> {
        if !self.policy.register_enabled {
            return Err(RegisterError::RegistrationDisabled);
        }
        if !self.policy.password_register_enabled {
            return Err(RegisterError::PasswordRegistrationDisabled);
        }
        let username = Username::parse(&input.username)?;
        let password = Password::parse(&input.password)?;
        let user = self
            .create_user(
                username,
                &password,
                Role::User,
                self.policy.quota_for_new_user,
            )
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// Inserts a user, retrying the random invitation code on the rare collision.
    async fn create_user(
        &self,
        username: Username,
        password: &Password,
        role: Role,
        initial_quota: i64,
    ) -> Result<User, RegisterError> {
        let password_hash = self.hasher.hash(password).await?;
        let mut new = NewUser {
            display_name: username.as_str().to_owned(),
            username,
            password_hash,
            role,
            group: DEFAULT_GROUP.to_owned(),
            aff_code: String::new(),
            setting: default_setting(role),
            initial_quota,
            created_at: self.clock.now(),
        };
        for _ in 0..COLLISION_RETRIES {
            new.aff_code = self.secrets.alphanumeric(AFF_CODE_LEN);
            match self.users.create(&new).await {
                Ok(user) => return Ok(user),
                Err(CreateUserError::AffCodeTaken) => continue,
                Err(CreateUserError::UsernameTaken) => return Err(RegisterError::UsernameTaken),
                Err(CreateUserError::Unexpected(e)) => return Err(RegisterError::Unexpected(e)),
            }
        }
        Err(RegisterError::Unexpected(anyhow::anyhow!(
            "could not generate a unique invitation code"
        )))
    }

    /// Password login (spec §3.2). Unknown user, wrong password and a disabled account take
    /// the same path through the hasher and give the same error.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, input: LoginInput) -> Result<LoginOutcome, LoginError> {
        if !self.policy.password_login_enabled {
            return Err(LoginError::PasswordLoginDisabled);
        }
        let login = input.login.trim();
        if login.is_empty() || input.password.is_empty() {
            return Err(LoginError::MissingCredentials);
        }
        let found = self.users.find_credentials(login).await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let password_ok = self.hasher.verify(&input.password, hash).await?;
        let user = match user {
            Some(user) if password_ok && user.is_enabled() => user,
            _ => {
                tracing::info!("login refused");
                return Err(LoginError::InvalidCredentials);
            }
        };

        let now = self.clock.now();
        let token = self.secrets.token();
        let expires_at = now.saturating_add(self.session_ttl_secs);
        self.sessions
            .create(&NewSession {
                token_hash: token.hash,
                user_id: user.id,
                kind: SessionKind::Web,
                created_at: now,
                expires_at,
                ip: input.ip,
                user_agent: input.user_agent,
            })
            .await?;
        self.users.record_login(user.id, now).await?;
        tracing::info!(user_id = %user.id, "login");
        Ok(LoginOutcome {
            user: User {
                last_login_at: Some(now),
                ..user
            },
            session_token: token.plaintext,
            expires_at,
        })
    }

    /// Revokes the session behind a cookie token. Unknown tokens are not an error.
    pub async fn logout(&self, session_token: &str) -> Result<(), RepoError> {
        let hash = self.secrets.hash(session_token);
        self.sessions.revoke(&hash, self.clock.now()).await?;
        Ok(())
    }

    /// The live user behind a session token. Role and status come from the store on every
    /// call, never from the session (spec §10.1).
    pub async fn authenticate_session(&self, session_token: &str) -> Result<User, AuthError> {
        let hash = self.secrets.hash(session_token);
        let user_id = self
            .sessions
            .find_active_user(&hash, self.clock.now())
            .await?
            .ok_or(AuthError::NoSession)?;
        match self.users.find_by_id(user_id).await? {
            Some(user) if !user.is_deleted() => Ok(user),
            _ => Err(AuthError::UserDeleted),
        }
    }

    /// The live user behind an access token.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<User, AuthError> {
        if token.is_empty() {
            return Err(AuthError::InvalidAccessToken);
        }
        let hash = self.secrets.hash(token);
        self.users
            .find_by_access_token(&hash)
            .await?
            .ok_or(AuthError::InvalidAccessToken)
    }

    /// Whether an authenticated user may use a route that needs `min_role`.
    pub fn authorize(user: &User, min_role: Role) -> Result<(), AuthError> {
        if user.is_deleted() {
            return Err(AuthError::UserDeleted);
        }
        if !user.is_enabled() {
            return Err(AuthError::Disabled);
        }
        if user.role < min_role {
            return Err(AuthError::Forbidden);
        }
        Ok(())
    }

    /// Generates a new access token, replacing the old one; the plaintext is returned once.
    pub async fn rotate_access_token(&self, user_id: UserId) -> Result<String, AccessTokenError> {
        for _ in 0..COLLISION_RETRIES {
            let token = self.secrets.token();
            match self.users.set_access_token(user_id, &token.hash).await {
                Ok(()) => {
                    tracing::info!(user_id = %user_id, "access token rotated");
                    return Ok(token.plaintext);
                }
                Err(SetAccessTokenError::Collision) => continue,
                Err(SetAccessTokenError::Unexpected(e)) => {
                    return Err(AccessTokenError::Unexpected(e));
                }
            }
        }
        Err(AccessTokenError::Collision)
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
        let user = self.create_user(username, &password, Role::Root, 0).await?;
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
        self.users.set_password_hash(user.id, &hash).await?;
        let revoked = self
            .sessions
            .revoke_all_for_user(user.id, self.clock.now())
            .await?;
        tracing::info!(user_id = %user.id, revoked, "password reset");
        Ok(user)
    }
}

#[cfg(test)]
pub(crate) mod tests;
