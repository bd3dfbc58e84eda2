//! Human verification with Cloudflare Turnstile (spec §8.2): when root turns
//! `TurnstileCheckEnabled` on, login, registration and the second-factor step need a token the
//! browser widget produced, which the server redeems with the provider ([`HumanVerifier`]).
//!
//! Two of New API's defects are not copied (spec §10 item 25): there is no whitelist (New API
//! remembers one pass in the session for 30 days, so one solved challenge covered a month of
//! password guesses), so every protected request needs a fresh token; and nothing about a
//! request outlives it, so a wrong password costs nothing beyond solving the widget again.
//! The provider itself refuses a token redeemed twice.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::RepoError;
use crate::options::{OptionError, OptionsSource, invalid};
use crate::payment::ProviderSecret;

/// The Turnstile options, under New API's key names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnstileSettings {
    /// `TurnstileCheckEnabled`; turning it on needs both keys.
    pub enabled: bool,
    /// `TurnstileSiteKey`: public, shown to the console by `/api/status`.
    pub site_key: String,
    /// `TurnstileSecretKey` (secret): accepted on write, never listed.
    pub secret_key: String,
}

/// The keys, in the order stored values are applied (both keys before the switch that needs
/// them).
pub const KEYS: [&str; 3] = [
    "TurnstileSiteKey",
    "TurnstileSecretKey",
    "TurnstileCheckEnabled",
];

/// The key whose value is a secret.
pub const SECRET_KEY: &str = "TurnstileSecretKey";

/// The longest token Cloudflare issues; a longer one is refused without asking.
const MAX_TOKEN_CHARS: usize = 2048;

/// A key as Cloudflare writes them: at most 255 characters, no spaces or control characters.
fn parse_key(key: &str, v: &str) -> Result<String, OptionError> {
    let v = v.trim();
    if v.len() > 255 || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            key,
            "must be at most 255 characters without spaces",
        ));
    }
    Ok(v.to_owned())
}

impl TurnstileSettings {
    /// The non-secret keys as text, in [`KEYS`] order.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TurnstileSiteKey", self.site_key.clone()),
            ("TurnstileCheckEnabled", self.enabled.to_string()),
        ]
    }

    /// The secret as text, for storage only (never for a reply).
    pub fn secrets(&self) -> [(&'static str, String); 1] {
        [(SECRET_KEY, self.secret_key.clone())]
    }

    /// Applies one Turnstile key; `None` when `key` is not one. The check stays on only with
    /// both keys set: enabling without them, or clearing one while on, is refused.
    pub fn set(&mut self, key: &str, value: &str) -> Option<Result<(), OptionError>> {
        let mut next = self.clone();
        let outcome = match key {
            "TurnstileCheckEnabled" => match value.trim() {
                "true" => {
                    next.enabled = true;
                    Ok(())
                }
                "false" => {
                    next.enabled = false;
                    Ok(())
                }
                _ => Err(invalid(key, "must be true or false")),
            },
            "TurnstileSiteKey" => parse_key(key, value).map(|v| next.site_key = v),
            SECRET_KEY => parse_key(key, value).map(|v| next.secret_key = v),
            _ => return None,
        };
        let outcome = outcome.and_then(|()| {
            if next.enabled && (next.site_key.is_empty() || next.secret_key.is_empty()) {
                Err(invalid(
                    key,
                    "Turnstile needs TurnstileSiteKey and TurnstileSecretKey while it is on",
                ))
            } else {
                Ok(())
            }
        });
        Some(outcome.map(|()| *self = next))
    }
}

/// Redeems a widget token with the provider (Cloudflare's `siteverify`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HumanVerifier: Send + Sync {
    /// Whether the provider accepts `token` for the site whose secret is `secret`, as seen from
    /// `remote_ip`.
    ///
    /// # Errors
    /// - MUST return an error when the provider cannot be reached or its answer not read
    ///   (never `Ok(false)`, which means the provider said no).
    async fn verify<'a>(
        &self,
        secret: &ProviderSecret,
        token: &str,
        remote_ip: Option<&'a str>,
    ) -> anyhow::Result<bool>;
}

/// Why a protected request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HumanCheckError {
    /// The check is on and the request carries no token.
    #[error("turnstile token missing")]
    TokenMissing,
    /// The provider refused the token (wrong, expired, or already used).
    #[error("turnstile check failed")]
    Failed,
    /// The provider could not be asked; the request is refused (the check fails closed).
    #[error("turnstile verification unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for HumanCheckError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// What the console needs to show the widget (`/api/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnstileStatus {
    pub enabled: bool,
    pub site_key: String,
}

/// Checks protected requests against the current options.
pub struct HumanCheck {
    verifier: Arc<dyn HumanVerifier>,
    options: Arc<dyn OptionsSource>,
}

impl HumanCheck {
    pub fn new(verifier: Arc<dyn HumanVerifier>, options: Arc<dyn OptionsSource>) -> Self {
        Self { verifier, options }
    }

    /// Whether the check is on, and the public site key.
    pub async fn status(&self) -> Result<TurnstileStatus, RepoError> {
        let t = self.options.current().await?.turnstile;
        Ok(TurnstileStatus {
            enabled: t.enabled,
            site_key: t.site_key,
        })
    }

    /// Lets a protected request through: always while the check is off; else only with a
    /// `token` the provider accepts now. Nothing is remembered, so the next request needs its
    /// own token.
    #[tracing::instrument(skip_all)]
    pub async fn check(
        &self,
        token: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(), HumanCheckError> {
        let t = self.options.current().await?.turnstile;
        if !t.enabled {
            return Ok(());
        }
        let token = token.map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Err(HumanCheckError::TokenMissing);
        }
        if token.chars().count() > MAX_TOKEN_CHARS {
            return Err(HumanCheckError::Failed);
        }
        let secret = ProviderSecret::new(t.secret_key);
        match self.verifier.verify(&secret, token, ip).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(HumanCheckError::Failed),
            Err(e) => Err(HumanCheckError::Unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests;
