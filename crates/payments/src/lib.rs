//! Payment adapters of the domain's ports in `tollgate_domain::payment`:
//! [`EpayClient`] implements `EpayGateway` (MD5 signing rule, order query) and
//! [`StripeClient`] implements `StripeGateway` (Checkout Sessions, webhook signatures).
//!
//! Both are small hand-written reqwest clients (ADR 0011), over rustls with the ring provider
//! that the rest of the tree already uses. Every call has a timeout, follows no redirect, and
//! turns failures into errors that never carry a merchant key or API secret (the Epay key
//! travels in a query string, so no error or log line here prints a request URL).
//!
//! This crate depends on `tollgate-domain` and on HTTP/crypto crates only; it must not depend
//! on the database, actix-web or the api crate. Only the composition root names it.

use std::time::Duration;

use anyhow::Context as _;

pub mod epay;
pub mod stripe;

pub use epay::{EpayClient, epay_sign, epay_verify};
pub use stripe::{
    DEFAULT_STRIPE_API_BASE, StripeApiError, StripeClient, stripe_signature_header,
    verify_stripe_webhook,
};

/// The timeout of one provider call (connect, send, and read the whole reply) unless the
/// caller gives another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a provider reply may hold; a larger one is an error (a gateway answers a few
/// hundred bytes).
const MAX_REPLY_BYTES: usize = 256 * 1024;

/// Installs rustls' ring provider as the process default, once; later calls do nothing.
///
/// reqwest is built with `rustls-no-provider` (the default provider, aws-lc, is a C build), so
/// building any `reqwest::Client` in a process whose tree enables that feature panics unless a
/// provider is installed first. The clients of this crate call it themselves; the binary's
/// `main` and test harnesses that build their own `reqwest::Client` call it too.
pub fn install_crypto_provider() {
    // Err means a provider is already installed (by an earlier call or by another crate).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of the adapters: a whole-call timeout, no redirects (a redirected Epay
/// query would carry the key to wherever the `Location` points), no proxy from the
/// environment's defaults beyond reqwest's own.
fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("failed to build the payment HTTP client")
}

/// Describes a transport failure without the request URL (it may hold the Epay key).
fn transport_error(provider: &str, timeout: Duration, e: reqwest::Error) -> anyhow::Error {
    let e = e.without_url();
    if e.is_timeout() {
        anyhow::anyhow!("{provider} did not answer within {timeout:?}")
    } else if e.is_connect() {
        anyhow::anyhow!("could not connect to {provider}: {}", source_chain(&e))
    } else {
        anyhow::anyhow!("the request to {provider} failed: {}", source_chain(&e))
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Reads the reply body, refusing one larger than [`MAX_REPLY_BYTES`].
async fn read_body(
    provider: &str,
    timeout: Duration,
    mut reply: reqwest::Response,
) -> anyhow::Result<Vec<u8>> {
    if reply
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        anyhow::bail!("the reply of {provider} is too large");
    }
    let mut body = Vec::new();
    while let Some(chunk) = reply
        .chunk()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?
    {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            anyhow::bail!("the reply of {provider} is too large");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
