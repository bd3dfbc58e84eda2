//! Stripe: Checkout Sessions over the REST API (form-encoded requests, bearer secret) and the
//! `Stripe-Signature` check of webhook deliveries.
//!
//! Only three things are used: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`
//! and the `v1` webhook signature, so this is a small reqwest client rather than async-stripe
//! (ADR 0011). The API base URL is configuration (`payments.stripe_api_base`), so tests point
//! it at a local fake.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use tollgate_domain::payment::{
    CheckoutRequest, CheckoutSession, ProviderSecret, STRIPE_WEBHOOK_TOLERANCE_SECS, StripeEvent,
    StripeGateway, StripeSession, WebhookRejection,
};
use url::Url;

use crate::{http_client, read_body, transport_error};

const PROVIDER: &str = "Stripe";

/// Stripe's API, the default of `payments.stripe_api_base`.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The longest id or idempotency key accepted (Stripe's own limit for idempotency keys).
const MAX_ID_LEN: usize = 255;

/// The Stripe adapter.
#[derive(Debug, Clone)]
pub struct StripeClient {
    api_base: Url,
    http: reqwest::Client,
    timeout: Duration,
}

impl StripeClient {
    /// A client of the API at `api_base` (normally [`DEFAULT_STRIPE_API_BASE`]; a path prefix is
    /// kept) whose every call gives up after `timeout`. Fails when `api_base` is not an http(s)
    /// URL without query, or if the TLS stack cannot be set up.
    pub fn new(api_base: Url, timeout: Duration) -> anyhow::Result<Self> {
        if !matches!(api_base.scheme(), "http" | "https")
            || api_base.cannot_be_a_base()
            || api_base.query().is_some()
            || api_base.fragment().is_some()
        {
            bail!("the Stripe API base must be an http(s) URL without query or fragment");
        }
        Ok(Self {
            api_base,
            http: http_client(timeout)?,
            timeout,
        })
    }

    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `{api_base}/v1/checkout/sessions[/{id}]`; the segments are percent-encoded by `url`.
    fn sessions_url(&self, id: Option<&str>) -> Url {
        let mut url = self.api_base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v1", "checkout", "sessions"]);
            if let Some(id) = id {
                segments.push(id);
            }
        }
        url
    }

    /// Sends `request` with the secret and reads a 2xx JSON reply, or Stripe's error.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        secret: &ProviderSecret,
    ) -> anyhow::Result<T> {
        if secret.expose().is_empty() {
            bail!("the Stripe API secret is not set");
        }
        let reply = request
            .bearer_auth(secret.expose())
            .send()
            .await
            .map_err(|e| transport_error(PROVIDER, self.timeout, e))?;
        let status = reply.status();
        let body = read_body(PROVIDER, self.timeout, reply).await?;
        if !status.is_success() {
            return Err(StripeApiError::from_reply(status.as_u16(), &body, secret).into());
        }
        serde_json::from_slice(&body).map_err(|_| anyhow!("{PROVIDER}'s reply is not readable"))
    }
}

/// A refusal by Stripe's API (a non-2xx reply), with Stripe's own explanation. Reaches callers
/// inside the `anyhow::Error` (`err.downcast_ref::<StripeApiError>()`). The message never holds
/// the API secret: Stripe masks keys itself, and any copy of the secret is cut out here too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeApiError {
    /// The HTTP status of the reply.
    pub status: u16,
    /// Stripe's `error.type`, e.g. `invalid_request_error`.
    pub kind: Option<String>,
    /// Stripe's `error.code`, e.g. `resource_missing`.
    pub code: Option<String>,
    /// Stripe's `error.message`, or a short text when the reply had none.
    pub message: String,
}

impl StripeApiError {
    fn from_reply(status: u16, body: &[u8], secret: &ProviderSecret) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: Body,
        }
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "type")]
            kind: Option<String>,
            code: Option<String>,
            message: Option<String>,
        }
        let parsed = serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error);
        let (kind, code, message) = match parsed {
            Some(b) => (b.kind, b.code, b.message),
            None => (None, None, None),
        };
        let redact = |s: String| {
            let s: String = s.chars().take(500).collect();
            let secret = secret.expose();
            if secret.is_empty() {
                s
            } else {
                s.replace(secret, "<redacted>")
            }
        };
        Self {
            status,
            kind: kind.map(redact),
            code: code.map(redact),
            message: message
                .map(redact)
                .unwrap_or_else(|| "no error message in the reply".to_owned()),
        }
    }
}

impl fmt::Display for StripeApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stripe refused the request (HTTP {}", self.status)?;
        if let Some(kind) = &self.kind {
            write!(f, ", {kind}")?;
        }
        if let Some(code) = &self.code {
            write!(f, ", {code}")?;
        }
        write!(f, "): {}", self.message)
    }
}

impl std::error::Error for StripeApiError {}

/// A Checkout Session as the API and webhook events carry it (the fields we use).
#[derive(Deserialize)]
struct SessionWire {
    id: String,
    object: Option<String>,
    client_reference_id: Option<String>,
    /// Nullable in Stripe's schema; read as `""` (neither complete nor expired).
    status: Option<String>,
    payment_status: String,
    amount_total: Option<i64>,
    currency: Option<String>,
    /// An id, or the customer object when expanded.
    customer: Option<Value>,
}

impl SessionWire {
    fn into_session(self) -> anyhow::Result<StripeSession> {
        if self
            .object
            .as_deref()
            .is_some_and(|o| o != "checkout.session")
        {
            bail!("the object is not a Checkout Session");
        }
        let customer = match self.customer {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
            Some(_) => bail!("the session's customer is unreadable"),
        };
        Ok(StripeSession {
            id: self.id,
            client_reference_id: self.client_reference_id,
            status: self.status.unwrap_or_default(),
            payment_status: self.payment_status,
            amount_total: self.amount_total,
            currency: self.currency,
            customer,
        })
    }
}

/// Whether `id` looks like a Checkout Session id (`cs_` then letters, digits, `_`), so that it
/// can only ever name one path segment.
fn is_session_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id.len() > 3
        && id.starts_with("cs_")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[async_trait::async_trait]
impl StripeGateway for StripeClient {
    #[tracing::instrument(skip_all, fields(client_reference_id = %request.client_reference_id))]
    async fn create_checkout_session(
        &self,
        secret: &ProviderSecret,
        request: &CheckoutRequest,
    ) -> anyhow::Result<CheckoutSession> {
        if request.quantity == 0 {
            bail!("a Checkout Session needs a quantity of at least 1");
        }
        if request.idempotency_key.is_empty() || request.idempotency_key.len() > MAX_ID_LEN {
            bail!("the idempotency key must have 1 to {MAX_ID_LEN} bytes");
        }
        let quantity = request.quantity.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("mode", "payment"),
            ("client_reference_id", &request.client_reference_id),
            ("line_items[0][price]", &request.price_id),
            ("line_items[0][quantity]", &quantity),
            (
                "allow_promotion_codes",
                if request.allow_promotion_codes {
                    "true"
                } else {
                    "false"
                },
            ),
            ("success_url", &request.success_url),
            ("cancel_url", &request.cancel_url),
        ];
        if let Some(email) = request.customer_email.as_deref().filter(|e| !e.is_empty()) {
            form.push(("customer_email", email));
            form.push(("customer_creation", "always"));
        }

        #[derive(Deserialize)]
        struct Created {
            id: String,
            url: Option<String>,
        }
        let created: Created = self
            .call(
                self.http
                    .post(self.sessions_url(None))
                    .header("Idempotency-Key", &request.idempotency_key)
                    .form(&form),
                secret,
            )
            .await
            .context("creating a Stripe Checkout Session failed")?;
        if !is_session_id(&created.id) {
            bail!("Stripe answered with a session id that is not one");
        }
        let url = created
            .url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| anyhow!("Stripe answered a Checkout Session without a payment URL"))?;
        tracing::debug!(session_id = %created.id, "stripe checkout session created");
        Ok(CheckoutSession {
            id: created.id,
            url,
        })
    }

    #[tracing::instrument(skip_all, fields(session_id = %session_id))]
    async fn retrieve_session(
        &self,
        secret: &ProviderSecret,
        session_id: &str,
    ) -> anyhow::Result<StripeSession> {
        if !is_session_id(session_id) {
            bail!("{session_id:?} is not a Checkout Session id");
        }
        let wire: SessionWire = self
            .call(self.http.get(self.sessions_url(Some(session_id))), secret)
            .await
            .context("retrieving a Stripe Checkout Session failed")?;
        let session = wire.into_session()?;
        if session.id != session_id {
            bail!("Stripe answered about another Checkout Session");
        }
        Ok(session)
    }

    fn verify_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
        webhook_secret: &ProviderSecret,
        now: i64,
    ) -> Result<StripeEvent, WebhookRejection> {
        verify_stripe_webhook(payload, signature_header, webhook_secret, now)
    }
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp` (unix seconds):
/// `t={timestamp},v1={hex HMAC-SHA256(secret, "{timestamp}.{payload}")}`. For tests and fakes.
pub fn stripe_signature_header(payload: &[u8], secret: &ProviderSecret, timestamp: i64) -> String {
    let mac = webhook_mac(secret, timestamp.to_string().as_bytes(), payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn webhook_mac(secret: &ProviderSecret, timestamp: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp);
    mac.update(b".");
    mac.update(payload);
    mac
}

/// [`StripeGateway::verify_webhook`] as a function: the header `t=...,v1=...[,v1=...]` (other
/// schemes such as `v0` are ignored) must carry a `v1` equal to HMAC-SHA256 of
/// `"{t}.{payload}"` under `webhook_secret` (compared in constant time), `t` must be within
/// [`STRIPE_WEBHOOK_TOLERANCE_SECS`] of `now` either way, and the payload must be an event.
/// An empty secret verifies nothing (anyone can compute an HMAC under an empty key).
pub fn verify_stripe_webhook(
    payload: &[u8],
    signature_header: Option<&str>,
    webhook_secret: &ProviderSecret,
    now: i64,
) -> Result<StripeEvent, WebhookRejection> {
    let header = signature_header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(WebhookRejection::MissingSignature)?;
    let parsed = SignatureHeader::parse(header)?;
    if webhook_secret.expose().is_empty() {
        return Err(WebhookRejection::BadSignature);
    }
    let matches = parsed.signatures.iter().any(|sig| {
        webhook_mac(webhook_secret, parsed.timestamp_text.as_bytes(), payload)
            .verify_slice(sig)
            .is_ok()
    });
    if !matches {
        return Err(WebhookRejection::BadSignature);
    }
    // Checked after the signature, so `Stale` means a genuine but old (or replayed) delivery.
    if now.abs_diff(parsed.timestamp) > STRIPE_WEBHOOK_TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookRejection::Stale);
    }
    parse_event(payload).map_err(|_| WebhookRejection::BadPayload)
}

struct SignatureHeader<'a> {
    /// `t` as sent: the signed text.
    timestamp_text: &'a str,
    timestamp: i64,
    /// Every `v1` value that is valid hex (others can never match).
    signatures: Vec<Vec<u8>>,
}

impl<'a> SignatureHeader<'a> {
    fn parse(header: &'a str) -> Result<Self, WebhookRejection> {
        let mut timestamp = None;
        let mut saw_v1 = false;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(WebhookRejection::MalformedSignature)?;
            match key {
                "t" => {
                    let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                    let parsed = value.parse::<i64>().ok().filter(|_| valid);
                    match (timestamp, parsed) {
                        (None, Some(t)) => timestamp = Some((value, t)),
                        _ => return Err(WebhookRejection::MalformedSignature),
                    }
                }
                "v1" => {
                    saw_v1 = true;
                    if let Ok(sig) = hex::decode(value) {
                        signatures.push(sig);
                    }
                }
                _ => {}
            }
        }
        match timestamp {
            Some((timestamp_text, timestamp)) if saw_v1 => Ok(Self {
                timestamp_text,
                timestamp,
                signatures,
            }),
            _ => Err(WebhookRejection::MalformedSignature),
        }
    }
}

/// `{"id", "type", "data": {"object": {...}}}`; the object becomes a [`StripeSession`] when it
/// is a `checkout.session`.
fn parse_event(payload: &[u8]) -> anyhow::Result<StripeEvent> {
    #[derive(Deserialize)]
    struct EventWire {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        data: DataWire,
    }
    #[derive(Deserialize)]
    struct DataWire {
        object: serde_json::Map<String, Value>,
    }
    let event: EventWire = serde_json::from_slice(payload)?;
    let object = event.data.object;
    let session = if object.get("object").and_then(Value::as_str) == Some("checkout.session") {
        let wire: SessionWire = serde_json::from_value(Value::Object(object))?;
        Some(wire.into_session()?)
    } else {
        None
    };
    Ok(StripeEvent {
        id: event.id,
        kind: event.kind,
        session,
    })
}

#[cfg(test)]
mod tests;
