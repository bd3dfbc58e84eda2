//! Outbound adapters for Tollgate: [`DnsResolver`], the system-DNS implementation of
//! [`HostResolver`] behind the SSRF guard for user-supplied URLs, and [`TurnstileClient`],
//! Cloudflare Turnstile's `siteverify` call behind the domain's human check (later: mail,
//! webhooks, Bark, Gotify).
//!
//! This crate may use network and runtime crates (tokio, an HTTP client, later a mailer),
//! but it must not depend on the web framework (actix-web), the database (sea-orm, sqlx,
//! `tollgate-db`) or the API crate: it only implements ports of `tollgate-domain`.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use tollgate_domain::ports::HostResolver;

mod turnstile;

pub use turnstile::{DEFAULT_VERIFY_URL, TurnstileClient};

/// Installs rustls' ring provider as the process default, once (reqwest is built with
/// `rustls-no-provider`, so a client cannot be built before a provider is installed; the
/// payment adapters do the same).
fn install_crypto_provider() {
    // Err means a provider is already installed (by an earlier call or by another crate).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves host names with the system resolver (`getaddrinfo` via tokio), bounded by a
/// timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsResolver {
    timeout: Duration,
}

impl DnsResolver {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for DnsResolver {
    fn default() -> Self {
        Self::new(Self::DEFAULT_TIMEOUT)
    }
}

#[async_trait]
impl HostResolver for DnsResolver {
    /// # Errors
    /// When the lookup fails, times out, or yields no address; the error names the host.
    #[tracing::instrument(skip(self))]
    async fn resolve(&self, host: &str) -> anyhow::Result<Vec<IpAddr>> {
        let addrs = tokio::time::timeout(self.timeout, tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| anyhow!("resolving {host:?} timed out after {:?}", self.timeout))?
            .with_context(|| format!("failed to resolve {host:?}"))?;
        let mut ips: Vec<IpAddr> = addrs.map(|addr| addr.ip()).collect();
        ips.sort_unstable();
        ips.dedup();
        if ips.is_empty() {
            return Err(anyhow!("{host:?} resolved to no address"));
        }
        Ok(ips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_timeout_is_three_seconds() {
        assert_eq!(DnsResolver::default().timeout(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback() {
        let ips = DnsResolver::default().resolve("localhost").await.unwrap();
        assert!(!ips.is_empty());
        assert!(ips.iter().all(IpAddr::is_loopback), "{ips:?}");
    }

    #[tokio::test]
    async fn an_ip_literal_resolves_to_itself() {
        let ips = DnsResolver::default().resolve("192.0.2.7").await.unwrap();
        assert_eq!(ips, vec!["192.0.2.7".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn a_name_under_the_reserved_invalid_tld_fails_and_names_the_host() {
        let err = DnsResolver::default()
            .resolve("tollgate-test.invalid")
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("tollgate-test.invalid"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn a_zero_timeout_fails_instead_of_hanging() {
        // Either the lookup loses the race against the timer or it fails; it never hangs.
        let result = DnsResolver::new(Duration::ZERO)
            .resolve("tollgate-test.invalid")
            .await;
        assert!(result.is_err());
    }
}
