//! Authentication: cookie sessions and access tokens (compat), JWT access tokens with rotating
//! refresh tokens (`/api/v1`), and role checks. Role and status are always read live.

use std::sync::Arc;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::ports::{
    AccessTokenCodec, AuditRepository, Clock, PasswordHasher, SecretGenerator, SessionRepository,
    SetAccessTokenError, TokenRejected, UserRepository,
};
use crate::session::{NewSession, Rotation, SessionId, SessionKind};
use crate::throttle::{LoginThrottle, Subject, Throttled};
use crate::user::{Role, User, UserId};

use super::accounts::{COLLISION_RETRIES, CorePorts};

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTtl {
    /// The compat surface's cookie session.
    pub web_secs: i64,
    /// A `/api/v1` refresh token (sliding: each refresh starts it again).
    pub refresh_secs: i64,
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
    /// Too many recent failures for this login name or client address; the same refusal for
    /// every name, known or not.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for LoginError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
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

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no valid session")]
    NoSession,
    #[error("invalid access token")]
    InvalidAccessToken,
    #[error("the access token has expired")]
    ExpiredAccessToken,
    #[error("the account no longer exists")]
    UserDeleted,
    #[error("the account is disabled")]
    Disabled,
    #[error("insufficient role")]
    Forbidden,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for AuthError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("could not generate a unique token")]
    Collision,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// An authenticated user and, when a session (not an access token) authenticated it, that
/// session's id.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session_id: Option<SessionId>,
    /// When that session was created (its login); `None` for an access token.
    pub session_created_at: Option<i64>,
}

/// What `/api/v1` login and refresh hand out: a short-lived JWT and a refresh token, each
/// shown once.
#[derive(Debug)]
pub struct ApiTokens {
    pub user: User,
    pub access_token: String,
    pub access_expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, already rotated, revoked or expired refresh token, or the account is gone.
    #[error("invalid refresh token")]
    Invalid,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for RefreshError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// Authentication: password login on both surfaces, cookie sessions, compat access tokens,
/// `/api/v1` JWTs with rotating refresh tokens, logout, and role checks.
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditRepository>,
    codec: Arc<dyn AccessTokenCodec>,
    options: Arc<dyn OptionsSource>,
    ttl: SessionTtl,
    failed_login_audit: Arc<super::FailedLoginAudit>,
    /// `None`: credential checks are not throttled (unit tests that are not about it).
    throttle: Option<Arc<LoginThrottle>>,
}

impl AuthService {
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
            failed_login_audit: Arc::new(super::FailedLoginAudit::unlimited()),
            throttle: None,
        }
    }

    /// Throttles every credential check (docs/security.md, "Login throttling").
    pub fn with_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Limits the failed-login audit rows per client address (unlimited by default).
    pub fn with_failed_login_audit(mut self, limit: super::FailedLoginAudit) -> Self {
        self.failed_login_audit = Arc::new(limit);
        self
    }

    /// Password login (docs/newapi-behaviour.md §4.2). Unknown user, wrong password and a
    /// disabled account take the same path through the hasher and give the same error.
    /// Password only, so it exists for the unit tests of the password step alone: the
    /// routes log in through [`super::LoginFlow`], which asks for the second factor of
    /// users who have one.
    #[cfg(test)]
    pub(crate) async fn login(&self, input: LoginInput) -> Result<LoginOutcome, LoginError> {
        let user = self.check_credentials(&input).await?;
        self.open_web_session(user, &input).await
    }

    /// The cookie session of a login whose every check passed.
    pub(crate) async fn open_web_session(
        &self,
        user: User,
        input: &LoginInput,
    ) -> Result<LoginOutcome, LoginError> {
        let (token, expires_at, _) = self
            .start_session(&user, SessionKind::Web, self.ttl.web_secs, input)
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
    async fn check_credentials(&self, input: &LoginInput) -> Result<User, LoginError> {
        if !self
            .options
            .current()
            .await?
            .registration
            .password_login_enabled
        {
            return Err(LoginError::PasswordLoginDisabled);
        }
        let login = input.login.trim();
        if login.is_empty() || input.password.is_empty() {
            return Err(LoginError::MissingCredentials);
        }
        // Reserved before the hash is checked, so concurrent guesses cannot outrun the count.
        let attempt = match &self.throttle {
            Some(t) => Some(t.begin(&Subject::login(login), input.ip.as_deref()).await?),
            None => None,
        };
        let user = self.verify_password(input, login).await;
        if let (Some(t), Some(attempt)) = (&self.throttle, attempt) {
            // Anything but a verified password counts, a database failure too: a fault must
            // not open a way around the count.
            match &user {
                Ok(_) => t.succeeded(attempt).await,
                Err(_) => t.failed(attempt).await,
            }
        }
        user
    }

    /// The password check behind [`check_credentials`](Self::check_credentials).
    async fn verify_password(&self, input: &LoginInput, login: &str) -> Result<User, LoginError> {
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
    async fn start_session(
        &self,
        user: &User,
        kind: SessionKind,
        ttl_secs: i64,
        input: &LoginInput,
    ) -> Result<(String, i64, SessionId), RepoError> {
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

    /// Revokes the session behind a cookie token, audited. Unknown tokens are not an error.
    pub async fn logout(&self, session_token: &str, ip: Option<String>) -> Result<(), RepoError> {
        let hash = self.secrets.hash(session_token);
        let now = self.clock.now();
        if let Some(session) = self.sessions.find_active(&hash, now).await? {
            self.end_session(session.id, session.user_id, now, ip)
                .await?;
        }
        Ok(())
    }

    /// Revokes one session with its audit record (a logout).
    async fn end_session(
        &self,
        id: SessionId,
        user: UserId,
        now: i64,
        ip: Option<String>,
    ) -> Result<(), RepoError> {
        let audit = AuditEntry::new(AuditAction::SessionsRevoked, Some(user), Some(user), now)
            .change(
                serde_json::Value::Null,
                serde_json::json!({"session": id.get(), "reason": "logout"}),
            )
            .from_ip(ip);
        self.sessions.revoke_by_id(id, now, Some(audit)).await?;
        Ok(())
    }

    /// The live user behind a session token (docs/newapi-behaviour.md §11.1: never trust the
    /// session's copy).
    pub async fn authenticate_session(
        &self,
        session_token: &str,
    ) -> Result<Authenticated, AuthError> {
        let hash = self.secrets.hash(session_token);
        let session = self
            .sessions
            .find_active(&hash, self.clock.now())
            .await?
            .ok_or(AuthError::NoSession)?;
        let user = self.live_user(session.user_id).await?;
        Ok(Authenticated {
            user,
            session_id: Some(session.id),
            session_created_at: Some(session.created_at),
        })
    }

    /// The live user behind a compat access token.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<Authenticated, AuthError> {
        if token.is_empty() {
            return Err(AuthError::InvalidAccessToken);
        }
        let hash = self.secrets.hash(token);
        let user = self
            .users
            .find_by_access_token(&hash)
            .await?
            .ok_or(AuthError::InvalidAccessToken)?;
        Ok(Authenticated {
            user,
            session_id: None,
            session_created_at: None,
        })
    }

    /// The live user behind a `/api/v1` JWT. The token's session must still be active, so
    /// revoking a session (logout, password change, disable) kills its tokens at once.
    pub async fn authenticate_jwt(&self, token: &str) -> Result<Authenticated, AuthError> {
        let now = self.clock.now();
        let claims = self.codec.verify(token, now).map_err(|e| match e {
            TokenRejected::Expired => AuthError::ExpiredAccessToken,
            TokenRejected::Invalid => AuthError::InvalidAccessToken,
        })?;
        let session = self
            .sessions
            .find_active_by_id(claims.session_id, now)
            .await?
            // Only a refresh session backs a JWT; a cookie session's id is not a valid `sid`.
            .filter(|s| s.user_id == claims.user_id && s.kind == SessionKind::Refresh)
            .ok_or(AuthError::NoSession)?;
        let user = self.live_user(session.user_id).await?;
        Ok(Authenticated {
            user,
            session_id: Some(session.id),
            session_created_at: Some(session.created_at),
        })
    }

    async fn live_user(&self, id: UserId) -> Result<User, AuthError> {
        match self.users.find_by_id(id).await? {
            Some(user) if !user.is_deleted() => Ok(user),
            _ => Err(AuthError::UserDeleted),
        }
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
    /// The change is audited (never the token) in the same transaction.
    pub async fn rotate_access_token(
        &self,
        user_id: UserId,
        ip: Option<String>,
    ) -> Result<String, AccessTokenError> {
        let audit = AuditEntry::new(
            AuditAction::AccessTokenRotated,
            Some(user_id),
            Some(user_id),
            self.clock.now(),
        )
        .from_ip(ip);
        for _ in 0..COLLISION_RETRIES {
            let token = self.secrets.token();
            match self
                .users
                .set_access_token(user_id, &token.hash, &audit)
                .await
            {
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

    /// `/api/v1` login: the same credential check as the compat login, then a refresh
    /// session and a JWT bound to it. Password only, for the unit tests, as `login`.
    #[cfg(test)]
    pub(crate) async fn login_api(&self, input: LoginInput) -> Result<ApiTokens, LoginError> {
        let user = self.check_credentials(&input).await?;
        self.open_api_session(user, &input).await
    }

    /// The refresh session and JWT of a login whose every check passed.
    pub(crate) async fn open_api_session(
        &self,
        user: User,
        input: &LoginInput,
    ) -> Result<ApiTokens, LoginError> {
        let (refresh_token, refresh_expires_at, session_id) = self
            .start_session(&user, SessionKind::Refresh, self.ttl.refresh_secs, input)
            .await?;
        let access_token = self.codec.issue(user.id, session_id, self.clock.now())?;
        tracing::info!(user_id = %user.id, %session_id, "api login");
        Ok(ApiTokens {
            user,
            access_token,
            access_expires_in: self.codec.ttl_secs(),
            refresh_token,
            refresh_expires_at,
        })
    }

    /// Exchanges a refresh token for a new pair. The old refresh token stops working: the
    /// rotation is one conditional update, so of two concurrent refreshes only one wins.
    /// Presenting a token that was already rotated is a replay (RFC 9700 §4.14.2): the whole
    /// session is revoked, with its access tokens, and audited with `ip`. The loser of two
    /// concurrent refreshes of one token is such a replay too.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ip: Option<String>,
    ) -> Result<ApiTokens, RefreshError> {
        if refresh_token.is_empty() {
            return Err(RefreshError::Invalid);
        }
        let now = self.clock.now();
        let old = self.secrets.hash(refresh_token);
        let new = self.secrets.token();
        let expires_at = now.saturating_add(self.ttl.refresh_secs);
        let session = match self
            .sessions
            .rotate(&old, &new.hash, now, expires_at, ip)
            .await?
        {
            Rotation::Rotated(session) => session,
            Rotation::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(%user_id, %session_id, "refresh token replayed; session revoked");
                return Err(RefreshError::Invalid);
            }
            Rotation::Invalid => return Err(RefreshError::Invalid),
        };
        let user = match self.users.find_by_id(session.user_id).await? {
            Some(u) if u.is_enabled() => u,
            _ => {
                self.sessions.revoke_by_id(session.id, now, None).await?;
                return Err(RefreshError::Invalid);
            }
        };
        let access_token = self.codec.issue(user.id, session.id, now)?;
        Ok(ApiTokens {
            user,
            access_token,
            access_expires_in: self.codec.ttl_secs(),
            refresh_token: new.plaintext,
            refresh_expires_at: expires_at,
        })
    }

    /// Ends a `/api/v1` session: its refresh token and every JWT issued for it stop working.
    pub async fn logout_session(
        &self,
        session_id: SessionId,
        user: UserId,
        ip: Option<String>,
    ) -> Result<(), RepoError> {
        self.end_session(session_id, user, self.clock.now(), ip)
            .await
    }
}

/// The steps [`super::LoginFlow`] composes when a login needs a second factor: the password
/// alone, then, once the second factor passed, the user again and its session
/// ([`Self::open_web_session`], [`Self::open_api_session`]).
impl AuthService {
    /// The password step of a login: the user, or the refusal [`Self::login`] gives (the
    /// same throttling and audit).
    pub(crate) async fn password_step(&self, input: &LoginInput) -> Result<User, LoginError> {
        self.check_credentials(input).await
    }

    /// The user of a login whose second factor passed, read again: it must still be live
    /// and enabled (it may have been disabled since its password was checked).
    pub(crate) async fn login_user(&self, id: UserId) -> Result<User, LoginError> {
        match self.users.find_by_id(id).await? {
            Some(u) if u.is_enabled() => Ok(u),
            _ => Err(LoginError::InvalidCredentials),
        }
    }
}

#[cfg(test)]
mod tests;
