//! Login with a second factor, on every login path (spec §3.2, §6.4, minus the defects of
//! §10.4; docs/security.md "Two-factor authentication").
//!
//! A password login of a user with 2FA opens no session. It leaves a *pending login* in the
//! key-value store and hands the client a challenge (a random 256-bit token; the store keeps
//! only its hash): in a cookie on the compat surface, in the reply on `/api/v1`. The second
//! step presents the challenge and a code. A pending login
//! - lives [`PendingLoginPolicy::ttl_secs`] (5 minutes by default), not as long as a cookie;
//! - belongs to the surface that started it (a compat challenge opens no `/api/v1` tokens);
//! - takes at most [`PendingLoginPolicy::max_wrong_codes`] wrong codes, then it is gone: each
//!   try is counted *before* the code is checked, so concurrent guesses cannot outrun it;
//! - is taken once (`take`) by the step that succeeds, so it opens one session at most.
//!
//! Every code check also goes through the login throttle, keyed by the user
//! ([`crate::throttle::Subject::SecondFactor`]), because a user can start new pending logins
//! as often as the password step lets it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ApiTokens;
use super::authn::{AuthService, LoginError, LoginInput, LoginOutcome};
use super::two_factor::{TwoFactorError, TwoFactorService};
use crate::kv::KeyValueStore;
use crate::ports::SecretGenerator;
use crate::session::SessionKind;
use crate::user::{User, UserId};

/// How long a pending login waits and how many wrong codes it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLoginPolicy {
    pub ttl_secs: u64,
    pub max_wrong_codes: u32,
}

impl Default for PendingLoginPolicy {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            max_wrong_codes: 5,
        }
    }
}

/// What a password login leads to.
#[derive(Debug)]
pub enum LoginStep<T> {
    /// No second factor: the session is open.
    Done(T),
    /// The user has 2FA: no session yet; the challenge (shown once) completes the login with
    /// a code.
    SecondFactor { challenge: String },
}

/// Why the second step of a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorLoginError {
    /// No code in the request (New API's "参数错误"); the try is not counted.
    #[error("a code is required")]
    MissingCode,
    /// No such pending login: never started, expired, completed, ended by too many wrong
    /// codes, or started on the other surface.
    #[error("the login expired; log in again")]
    Expired,
    /// The code was refused (wrong, malformed, throttled, or 2FA was turned off meanwhile).
    #[error(transparent)]
    Code(#[from] TwoFactorError),
    /// The account can no longer log in (disabled or deleted since the password step).
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The stored half of a pending login.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    user: i64,
    /// `web` or `refresh`: the session it may open.
    kind: String,
}

/// Password logins on both surfaces, with the second step when the user has 2FA.
pub struct LoginFlow {
    auth: Arc<AuthService>,
    two_factor: Arc<TwoFactorService>,
    kv: Arc<dyn KeyValueStore>,
    secrets: Arc<dyn SecretGenerator>,
    policy: PendingLoginPolicy,
}

impl LoginFlow {
    pub fn new(
        auth: Arc<AuthService>,
        two_factor: Arc<TwoFactorService>,
        kv: Arc<dyn KeyValueStore>,
        secrets: Arc<dyn SecretGenerator>,
        policy: PendingLoginPolicy,
    ) -> Self {
        Self {
            auth,
            two_factor,
            kv,
            secrets,
            policy,
        }
    }

    pub fn policy(&self) -> PendingLoginPolicy {
        self.policy
    }

    /// Compat login: a cookie session, or a pending login when the user has 2FA.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, input: LoginInput) -> Result<LoginStep<LoginOutcome>, LoginError> {
        let user = self.auth.password_step(&input).await?;
        if let Some(challenge) = self.challenge_if_needed(&user, SessionKind::Web).await? {
            return Ok(LoginStep::SecondFactor { challenge });
        }
        Ok(LoginStep::Done(
            self.auth.open_web_session(user, &input).await?,
        ))
    }

    /// `/api/v1` login: tokens, or a pending login when the user has 2FA.
    #[tracing::instrument(skip_all)]
    pub async fn login_api(&self, input: LoginInput) -> Result<LoginStep<ApiTokens>, LoginError> {
        let user = self.auth.password_step(&input).await?;
        if let Some(challenge) = self
            .challenge_if_needed(&user, SessionKind::Refresh)
            .await?
        {
            return Ok(LoginStep::SecondFactor { challenge });
        }
        Ok(LoginStep::Done(
            self.auth.open_api_session(user, &input).await?,
        ))
    }

    /// Completes a compat pending login with a code: the cookie session, as a login opens it.
    pub async fn complete(
        &self,
        challenge: &str,
        code: &str,
        input: &LoginInput,
    ) -> Result<LoginOutcome, SecondFactorLoginError> {
        let user = self
            .second_step(challenge, code, SessionKind::Web, input)
            .await?;
        Ok(self.auth.open_web_session(user, input).await?)
    }

    /// Completes an `/api/v1` pending login with a code: the tokens.
    pub async fn complete_api(
        &self,
        challenge: &str,
        code: &str,
        input: &LoginInput,
    ) -> Result<ApiTokens, SecondFactorLoginError> {
        let user = self
            .second_step(challenge, code, SessionKind::Refresh, input)
            .await?;
        Ok(self.auth.open_api_session(user, input).await?)
    }

    /// With 2FA on for `user`, a new pending login's challenge; `None` otherwise.
    async fn challenge_if_needed(
        &self,
        user: &User,
        kind: SessionKind,
    ) -> Result<Option<String>, LoginError> {
        if !self.two_factor.is_enabled(user.id).await? {
            return Ok(None);
        }
        let challenge = self.start(user.id, kind).await?;
        tracing::info!(user_id = %user.id, "password accepted; second factor required");
        Ok(Some(challenge))
    }

    /// Stores a pending login and returns its challenge.
    async fn start(&self, user: UserId, kind: SessionKind) -> anyhow::Result<String> {
        let token = self.secrets.token();
        let pending = serde_json::to_string(&Pending {
            user: user.get(),
            kind: kind.as_str().to_owned(),
        })?;
        let key = pending_key(token.hash.as_str());
        if !self
            .kv
            .set_if_absent(&key, &pending, self.policy.ttl_secs.max(1))
            .await?
        {
            anyhow::bail!("a new login challenge collided with a pending one");
        }
        Ok(token.plaintext)
    }

    /// Checks the code of a pending login of `kind` and takes the login: the user, still
    /// enabled, whose session may open now.
    async fn second_step(
        &self,
        challenge: &str,
        code: &str,
        kind: SessionKind,
        input: &LoginInput,
    ) -> Result<User, SecondFactorLoginError> {
        if crate::two_factor::normalize(code).is_empty() {
            return Err(SecondFactorLoginError::MissingCode);
        }
        if challenge.is_empty() {
            return Err(SecondFactorLoginError::Expired);
        }
        let key = pending_key(self.secrets.hash(challenge).as_str());
        let Some(raw) = self.kv.get(&key).await? else {
            return Err(SecondFactorLoginError::Expired);
        };
        let pending: Pending = serde_json::from_str(&raw)
            .map_err(|e| anyhow::anyhow!("a pending login is unreadable: {e}"))?;
        if pending.kind != kind.as_str() {
            return Err(SecondFactorLoginError::Expired);
        }
        let user = UserId::new(pending.user);

        // Count the try before the code is checked; past the limit the login is gone.
        let tries_key = format!("{key}:tries");
        let ttl = self.policy.ttl_secs.max(1);
        let tries = self.kv.incr(&tries_key, 1, ttl).await?;
        let max = i64::from(self.policy.max_wrong_codes);
        if tries > max {
            self.forget(&key, &tries_key).await?;
            return Err(SecondFactorLoginError::Expired);
        }
        match self
            .two_factor
            .verify_second_factor(user, code, input.ip.as_deref())
            .await
        {
            Ok(_) => {}
            Err(TwoFactorError::Throttled(t)) => {
                // Not checked: not a wrong code of this login.
                self.kv.incr(&tries_key, -1, ttl).await?;
                return Err(TwoFactorError::Throttled(t).into());
            }
            Err(e) => {
                if tries >= max {
                    tracing::info!(user_id = %user, "pending login ended after too many wrong codes");
                    self.forget(&key, &tries_key).await?;
                }
                return Err(e.into());
            }
        }
        // Exactly one completion takes the pending login and opens a session.
        if self.kv.take(&key).await?.is_none() {
            return Err(SecondFactorLoginError::Expired);
        }
        self.kv.delete(&tries_key).await?;
        Ok(self.auth.login_user(user).await?)
    }

    async fn forget(&self, key: &str, tries_key: &str) -> anyhow::Result<()> {
        self.kv.delete(key).await?;
        self.kv.delete(tries_key).await
    }
}

/// The store key of a pending login: the challenge's hash, never the challenge.
fn pending_key(hash: &str) -> String {
    format!("2fa:pending:{hash}")
}

#[cfg(test)]
mod tests;
