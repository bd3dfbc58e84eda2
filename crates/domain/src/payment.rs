//! Online top-up: payment providers, the money they carry, and the ports to them.
//!
//! Money is [`rust_decimal::Decimal`], never `f64`. The adapters (signing, HTTP clients) live
//! in `crates/payments`; only the composition root names them. Provider HTTP calls are made
//! outside database transactions.

use std::collections::BTreeMap;
use std::fmt;

pub use rust_decimal::Decimal;

/// A decimal amount as a JSON number for display (the console renders prices as numbers).
/// Never use the result in a computation.
pub fn display_number(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive as _;
    d.to_f64().unwrap_or_default()
}

/// A payment provider an order belongs to. Settlement refuses an order of another provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentProvider {
    Epay,
    Stripe,
}

impl PaymentProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Epay => "epay",
            Self::Stripe => "stripe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "epay" => Some(Self::Epay),
            "stripe" => Some(Self::Stripe),
            _ => None,
        }
    }
}

impl fmt::Display for PaymentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret of a provider (Epay merchant key, Stripe API secret, Stripe webhook secret).
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSecret(String);

impl ProviderSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderSecret(<redacted>)")
    }
}

/// The Epay merchant account, from the options `PayAddress`, `EpayId` and `EpayKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpayMerchant {
    /// `PayAddress`: the gateway's base URL, e.g. `https://pay.example.com` (no trailing `/`).
    pub address: String,
    /// `EpayId`: our merchant id (`pid`).
    pub pid: String,
    /// `EpayKey`: the shared signing key.
    pub key: ProviderSecret,
}

/// What a provider says about one of our orders when asked (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOrderState {
    /// Paid at the provider; `money` is the amount the provider says was paid.
    Paid { money: Decimal },
    /// Known to the provider and not paid (yet).
    Unpaid,
    /// Known to the provider and over without payment (a Stripe session that expired).
    Expired,
    /// The provider does not know the order.
    Unknown,
}

/// Epay: the signature rule and the order-query API of the gateway at
/// [`EpayMerchant::address`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait EpayGateway: Send + Sync {
    /// The signature of `params`: every parameter except `sign` and `sign_type` whose value is
    /// not empty, sorted by key (byte order), joined as `k=v&k=v` with raw values, the key
    /// appended with no separator, MD5, lowercase hex.
    fn sign(&self, params: &BTreeMap<String, String>, key: &ProviderSecret) -> String;

    /// Whether `params["sign"]` is the signature of `params` (constant-time comparison).
    /// A missing or empty `sign` is `false`.
    fn verify(&self, params: &BTreeMap<String, String>, key: &ProviderSecret) -> bool;

    /// Asks the gateway about order `trade_no` (`GET {address}/api.php?act=order&pid=&key=
    /// &out_trade_no=`). A transport failure or an unreadable reply is an error.
    async fn query_order(
        &self,
        merchant: &EpayMerchant,
        trade_no: &str,
    ) -> anyhow::Result<ProviderOrderState>;
}

/// What a Checkout Session is created with (`POST /v1/checkout/sessions`, mode `payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our `trade_no`, sent as `client_reference_id`.
    pub client_reference_id: String,
    /// `StripePriceId`: the one line item's price.
    pub price_id: String,
    /// The line item's quantity (the number of units bought).
    pub quantity: u32,
    pub allow_promotion_codes: bool,
    /// Sent as `customer_email` (with `customer_creation=always`) when known.
    pub customer_email: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    /// Sent as the `Idempotency-Key` header, so a retried request creates one session.
    pub idempotency_key: String,
}

/// A created Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `cs_...`: stored on the order, for reconciliation.
    pub id: String,
    /// Where the customer pays.
    pub url: String,
}

/// A Checkout Session as Stripe reports it (in a webhook event or when retrieved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSession {
    pub id: String,
    pub client_reference_id: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// In the currency's minor units.
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub customer: Option<String>,
}

impl StripeSession {
    /// What this session means for its order.
    pub fn order_state(&self) -> ProviderOrderState {
        match (self.status.as_str(), self.payment_status.as_str()) {
            ("complete", "paid") => ProviderOrderState::Paid {
                money: Decimal::new(self.amount_total.unwrap_or(0), 2),
            },
            ("expired", _) => ProviderOrderState::Expired,
            _ => ProviderOrderState::Unpaid,
        }
    }
}

/// A verified webhook event about a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_...`.
    pub id: String,
    /// The event type, e.g. `checkout.session.completed`.
    pub kind: String,
    /// `data.object`, when it is a Checkout Session; `None` for other objects.
    pub session: Option<StripeSession>,
}

/// Why a Stripe webhook delivery was refused (HTTP 400, nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    #[error("no Stripe-Signature header")]
    MissingSignature,
    #[error("the Stripe-Signature header is malformed")]
    MalformedSignature,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches the payload")]
    BadSignature,
    #[error("the payload is not a Stripe event")]
    BadPayload,
}

/// Stripe: Checkout Sessions and webhook verification, against a configurable API base URL.
#[async_trait::async_trait]
pub trait StripeGateway: Send + Sync {
    /// Creates a Checkout Session with the API secret `secret`.
    async fn create_checkout_session(
        &self,
        secret: &ProviderSecret,
        request: &CheckoutRequest,
    ) -> anyhow::Result<CheckoutSession>;

    /// Retrieves a Checkout Session (`GET /v1/checkout/sessions/{id}`).
    async fn retrieve_session(
        &self,
        secret: &ProviderSecret,
        session_id: &str,
    ) -> anyhow::Result<StripeSession>;

    /// Verifies `Stripe-Signature` (`t=...,v1=...`, HMAC-SHA256 of `"{t}.{payload}"` with the
    /// webhook secret, constant-time, any `v1` may match) with a tolerance of
    /// [`STRIPE_WEBHOOK_TOLERANCE_SECS`] around `now`, then parses the event.
    fn verify_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
        webhook_secret: &ProviderSecret,
        now: i64,
    ) -> Result<StripeEvent, WebhookRejection>;
}

/// How far a webhook signature's timestamp may be from the server's clock, in seconds.
pub const STRIPE_WEBHOOK_TOLERANCE_SECS: i64 = 300;
