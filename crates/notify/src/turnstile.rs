//! [`TurnstileClient`]: Cloudflare Turnstile's `siteverify` call, the HTTP adapter of the
//! domain's [`HumanVerifier`].
//!
//! `POST {verify_url}` with the form fields `secret`, `response` (the widget's token) and
//! `remoteip`; the JSON reply's `success` says whether the token is good. Cloudflare answers
//! HTTP 200 for a refused token too (`success: false` with `error-codes`), so any other status,
//! a transport failure or an unreadable reply is an error, never a refusal. The secret travels
//! in the body only; no error or log line here carries it or the token.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use serde::Deserialize;
use tollgate_domain::payment::ProviderSecret;
use tollgate_domain::turnstile::HumanVerifier;
use url::Url;

/// Cloudflare's endpoint (`turnstile.verify_url` by default).
pub const DEFAULT_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

/// The largest reply read; `siteverify` answers a few hundred bytes.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Error codes that mean our configuration is wrong rather than the visitor's token.
const CONFIGURATION_ERRORS: [&str; 2] = ["missing-input-secret", "invalid-input-secret"];

/// The `siteverify` client: one POST per check, with a whole-call timeout and no redirects.
#[derive(Debug, Clone)]
pub struct TurnstileClient {
    http: reqwest::Client,
    verify_url: Url,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct SiteVerifyReply {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

impl TurnstileClient {
    /// A client of `verify_url` whose every call gives up after `timeout`. Fails only if the
    /// TLS stack cannot be set up.
    pub fn new(verify_url: Url, timeout: Duration) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("failed to build the Turnstile HTTP client")?;
        Ok(Self {
            http,
            verify_url,
            timeout,
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> anyhow::Error {
        let e = e.without_url();
        if e.is_timeout() {
            anyhow!(
                "Turnstile siteverify did not answer within {:?}",
                self.timeout
            )
        } else {
            anyhow!("the request to Turnstile siteverify failed: {e}")
        }
    }
}

#[async_trait]
impl HumanVerifier for TurnstileClient {
    #[tracing::instrument(skip_all)]
    async fn verify<'a>(
        &self,
        secret: &ProviderSecret,
        token: &str,
        remote_ip: Option<&'a str>,
    ) -> anyhow::Result<bool> {
        let mut form = vec![("secret", secret.expose()), ("response", token)];
        if let Some(ip) = remote_ip {
            form.push(("remoteip", ip));
        }
        let mut reply = self
            .http
            .post(self.verify_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = reply.status();
        if !status.is_success() {
            bail!("Turnstile siteverify answered HTTP {status}");
        }
        let mut body = Vec::new();
        while let Some(chunk) = reply.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                bail!("the reply of Turnstile siteverify is too large");
            }
            body.extend_from_slice(&chunk);
        }
        let reply: SiteVerifyReply = serde_json::from_slice(&body)
            .context("the reply of Turnstile siteverify is not its JSON")?;
        if !reply.success {
            let codes = reply.error_codes.join(",");
            if reply
                .error_codes
                .iter()
                .any(|c| CONFIGURATION_ERRORS.contains(&c.as_str()))
            {
                tracing::warn!(%codes, "Turnstile refused our secret key: check TurnstileSecretKey");
            } else {
                tracing::info!(%codes, "Turnstile token refused");
            }
        }
        Ok(reply.success)
    }
}

#[cfg(test)]
mod tests;
