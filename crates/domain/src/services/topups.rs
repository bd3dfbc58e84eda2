//! Online top-up: quoting, creating orders at Epay and Stripe, and settling them from the
//! providers' notifications, from reconciliation and by an admin, always through
//! [`TopUpRepository::settle`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::options::OptionsSource;
use crate::page::{Page, PageRequest};
use crate::payment::{
    CheckoutRequest, Decimal, EpayGateway, PaymentProvider, ProviderOrderState, ProviderSecret,
    StripeGateway, WebhookRejection,
};
use crate::ports::{AuditRepository, Clock, SecretGenerator};
use crate::site::SiteSettings;
use crate::topup::{
    NewTopUp, PaymentSettings, Pricing, PricingError, Quote, SettleError, Settled, SettledBy,
    Settlement, TopUp, TopUpFilter, TopUpRepository, TopUpStatus,
};
use crate::user::{User, UserId};

/// The largest Stripe quantity, as in New API.
pub const STRIPE_MAX_AMOUNT: i64 = 10_000;

/// Why a top-up request was refused. Nothing was created or credited.
#[derive(Debug, thiserror::Error)]
pub enum TopUpError {
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error("no payment method {0}")]
    UnknownMethod(String),
    #[error("Epay is not configured")]
    EpayNotConfigured,
    #[error("Stripe is not configured")]
    StripeNotConfigured,
    #[error("the payment channel must be stripe")]
    UnsupportedChannel,
    #[error("the success URL is not on this server")]
    UntrustedSuccessUrl,
    #[error("the cancel URL is not on this server")]
    UntrustedCancelUrl,
    #[error("only admins may do this")]
    Forbidden,
    #[error("the payment provider failed: {0}")]
    Provider(anyhow::Error),
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for TopUpError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// What the console submits to the Epay gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpayPurchase {
    /// `{PayAddress}/submit.php`.
    pub url: String,
    /// The signed purchase parameters (including `sign` and `sign_type`).
    pub params: BTreeMap<String, String>,
}

/// What a provider's notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// The order was credited now, or had been already (a duplicate notification).
    Settled(Box<Settled>),
    /// A valid notification that asks for nothing (an event we do not act on, or a
    /// pending order moved to failed/expired).
    Ignored,
}

/// Why a provider's notification was refused: nothing was credited, and the reason is
/// recorded in the audit log (and on the order when it exists).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("payments of this provider are not configured")]
    NotConfigured,
    #[error("the signature does not verify")]
    BadSignature,
    #[error(transparent)]
    Webhook(#[from] WebhookRejection),
    #[error("the merchant id {0:?} is not ours")]
    WrongMerchant(String),
    #[error("the trade status is {0:?}, not TRADE_SUCCESS")]
    NotPaid(String),
    #[error("the notification lacks {0}")]
    Missing(&'static str),
    #[error("the amount {0:?} is not a decimal number")]
    BadAmount(String),
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for NotifyError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// What one reconciliation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: u64,
    pub settled: u64,
    pub expired: u64,
    pub still_pending: u64,
    pub failed: u64,
}

/// What `/api/status` and the top-up page may show of the payment options (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStatus {
    /// Epay is fully configured.
    pub epay_enabled: bool,
    /// Stripe is fully configured.
    pub stripe_enabled: bool,
    pub pay_methods: Vec<crate::topup::PayMethod>,
    pub price: Decimal,
    pub min_topup: i64,
    pub stripe_unit_price: Decimal,
    pub stripe_min_topup: i64,
    pub amount_options: Vec<i64>,
    pub amount_discount: BTreeMap<i64, Decimal>,
}

/// The ports and settings of [`TopUpService`].
pub struct TopUpPorts {
    pub orders: Arc<dyn TopUpRepository>,
    pub options: Arc<dyn OptionsSource>,
    pub epay: Arc<dyn EpayGateway>,
    pub stripe: Arc<dyn StripeGateway>,
    pub audit: Arc<dyn AuditRepository>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn SecretGenerator>,
}

pub struct TopUpService {
    p: TopUpPorts,
}

impl TopUpService {
    pub fn new(ports: TopUpPorts) -> Self {
        Self { p: ports }
    }

    async fn settings(&self) -> Result<PaymentSettings, RepoError> {
        Ok(self.p.options.current().await?.payments)
    }

    /// The payment options and the site's unit of quota (`QuotaPerUnit`, `QuotaDisplayType`),
    /// read together: a price always uses the values in force now.
    async fn priced(&self) -> Result<(PaymentSettings, SiteSettings), RepoError> {
        let o = self.p.options.current().await?;
        Ok((o.payments, o.site))
    }

    /// With TOKENS display, Epay amounts are requested in quota units.
    fn epay_pricing<'a>(
        &self,
        s: &'a PaymentSettings,
        site: &SiteSettings,
        group: &str,
    ) -> Pricing<'a> {
        Pricing {
            unit_price: s.price,
            min_topup: s.min_topup,
            max_amount: None,
            group_ratio: s.topup_group_ratio.get(group).copied(),
            discounts: &s.amount_discount,
            quota_per_unit: site.quota_per_unit,
            tokens_display: !site.quota_display.is_currency(),
        }
    }

    /// Stripe charges `quantity × the Stripe Price`: neither the group ratio nor a discount
    /// reaches Stripe, so neither is shown, and the order credits exactly the units paid
    /// (ADR 0014).
    fn stripe_pricing<'a>(
        &self,
        s: &'a PaymentSettings,
        site: &SiteSettings,
        none: &'a BTreeMap<i64, Decimal>,
    ) -> Pricing<'a> {
        Pricing {
            unit_price: s.stripe_unit_price,
            min_topup: s.stripe_min_topup,
            max_amount: Some(STRIPE_MAX_AMOUNT),
            group_ratio: None,
            discounts: none,
            quota_per_unit: site.quota_per_unit,
            tokens_display: false,
        }
    }

    /// The public side of the payment options.
    pub async fn status(&self) -> Result<PaymentStatus, TopUpError> {
        let s = self.settings().await?;
        Ok(PaymentStatus {
            epay_enabled: s.epay_merchant().is_some(),
            stripe_enabled: s.stripe_enabled(),
            pay_methods: s.pay_methods,
            price: s.price,
            min_topup: s.min_topup,
            stripe_unit_price: s.stripe_unit_price,
            stripe_min_topup: s.stripe_min_topup,
            amount_options: s.amount_options,
            amount_discount: s.amount_discount,
        })
    }

    /// `POST /api/user/amount`: the Epay price of `amount` for this user.
    pub async fn quote_epay(&self, user: &User, amount: i64) -> Result<Quote, TopUpError> {
        let (s, site) = self.priced().await?;
        Ok(self.epay_pricing(&s, &site, &user.group).quote(amount)?)
    }

    /// `POST /api/user/stripe/amount`.
    pub async fn quote_stripe(&self, amount: i64) -> Result<Quote, TopUpError> {
        let (s, site) = self.priced().await?;
        let none = BTreeMap::new();
        Ok(self.stripe_pricing(&s, &site, &none).quote(amount)?)
    }

    /// A unique trade number: `{prefix}{user}NO{random}{unix seconds}`.
    fn trade_no(&self, prefix: &str, user: UserId, now: i64) -> String {
        let random: String = self
            .p
            .secrets
            .token()
            .plaintext
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        format!("{prefix}{user}NO{random}{now}")
    }

    /// `POST /api/user/pay`: prices the amount, stores a pending order that credits the
    /// quota paid for, and returns the signed purchase for the gateway.
    pub async fn start_epay(
        &self,
        user: &User,
        amount: i64,
        method: &str,
    ) -> Result<EpayPurchase, TopUpError> {
        let (s, site) = self.priced().await?;
        let quote = self.epay_pricing(&s, &site, &user.group).quote(amount)?;
        if !s.pay_methods.iter().any(|m| m.kind == method) {
            return Err(TopUpError::UnknownMethod(method.to_owned()));
        }
        let merchant = s.epay_merchant().ok_or(TopUpError::EpayNotConfigured)?;
        let now = self.p.clock.now();
        let trade_no = self.trade_no("USR", user.id, now);
        self.p
            .orders
            .create(&NewTopUp {
                user_id: user.id,
                provider: PaymentProvider::Epay,
                payment_method: method.to_owned(),
                trade_no: trade_no.clone(),
                amount,
                money: quote.pay,
                credited_quota: quote.credited_quota,
                created_at: now,
            })
            .await?;
        let mut params = BTreeMap::from([
            ("pid".to_owned(), merchant.pid.clone()),
            ("type".to_owned(), method.to_owned()),
            ("out_trade_no".to_owned(), trade_no),
            (
                "notify_url".to_owned(),
                format!("{}/api/user/epay/notify", s.callback_address()),
            ),
            ("name".to_owned(), format!("TUC{amount}")),
            ("money".to_owned(), format!("{:.2}", quote.pay)),
            ("device".to_owned(), "pc".to_owned()),
            (
                "return_url".to_owned(),
                format!("{}/console/log", s.server_address),
            ),
            ("sign_type".to_owned(), "MD5".to_owned()),
        ]);
        let sign = self.p.epay.sign(&params, &merchant.key);
        params.insert("sign".to_owned(), sign);
        Ok(EpayPurchase {
            url: format!("{}/submit.php", merchant.address),
            params,
        })
    }

    /// `POST /api/user/stripe/pay`: stores a pending order, then creates the Checkout
    /// Session (outside any transaction) and returns its URL. A session that cannot be
    /// created fails the order.
    pub async fn start_stripe(
        &self,
        user: &User,
        amount: i64,
        method: &str,
        success_url: Option<&str>,
        cancel_url: Option<&str>,
    ) -> Result<String, TopUpError> {
        if method != "stripe" {
            return Err(TopUpError::UnsupportedChannel);
        }
        let (s, site) = self.priced().await?;
        let none = BTreeMap::new();
        let quote = self.stripe_pricing(&s, &site, &none).quote(amount)?;
        if !s.stripe_enabled() {
            return Err(TopUpError::StripeNotConfigured);
        }
        let success_url =
            redirect(&s, success_url, "/console/log").ok_or(TopUpError::UntrustedSuccessUrl)?;
        let cancel_url =
            redirect(&s, cancel_url, "/console/topup").ok_or(TopUpError::UntrustedCancelUrl)?;
        let quantity = u32::try_from(amount).map_err(|_| PricingError::Overflow)?;
        let now = self.p.clock.now();
        let trade_no = self.trade_no("ref_", user.id, now);
        self.p
            .orders
            .create(&NewTopUp {
                user_id: user.id,
                provider: PaymentProvider::Stripe,
                payment_method: "stripe".to_owned(),
                trade_no: trade_no.clone(),
                amount,
                money: quote.pay,
                credited_quota: quote.credited_quota,
                created_at: now,
            })
            .await?;
        let request = CheckoutRequest {
            client_reference_id: trade_no.clone(),
            price_id: s.stripe_price_id.clone(),
            quantity,
            allow_promotion_codes: s.stripe_promotion_codes_enabled,
            customer_email: user.email.as_deref().map(str::to_owned),
            success_url,
            cancel_url,
            idempotency_key: trade_no.clone(),
        };
        let secret = ProviderSecret::new(s.stripe_api_secret.clone());
        match self
            .p
            .stripe
            .create_checkout_session(&secret, &request)
            .await
        {
            Ok(session) => {
                self.p
                    .orders
                    .set_provider_ref(&trade_no, &session.id)
                    .await?;
                Ok(session.url)
            }
            Err(e) => {
                tracing::warn!(error = %e, %trade_no, "Stripe refused a checkout session");
                self.p
                    .orders
                    .close(
                        &trade_no,
                        TopUpStatus::Failed,
                        "checkout session not created",
                        now,
                    )
                    .await?;
                Err(TopUpError::Provider(e))
            }
        }
    }

    /// Records a refused notification in the audit log.
    async fn record_refusal(
        &self,
        provider: PaymentProvider,
        err: &NotifyError,
        ip: Option<String>,
    ) {
        let entry = AuditEntry::new(AuditAction::PaymentRefused, None, None, self.p.clock.now())
            .change(
                json!(null),
                json!({"provider": provider.as_str(), "reason": err.to_string()}),
            )
            .from_ip(ip);
        if let Err(e) = self.p.audit.record(&entry).await {
            tracing::error!(error = %e.0, "failed to audit a refused payment notification");
        }
    }

    /// The Epay notification (`GET`/`POST /api/user/epay/notify`). `Ok` means the order is
    /// credited (now or before): the gateway is told `success` only then.
    pub async fn epay_notify(
        &self,
        params: &BTreeMap<String, String>,
        ip: Option<String>,
    ) -> Result<NotifyOutcome, NotifyError> {
        let outcome = self.epay_notify_inner(params).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "refused an Epay notification");
            self.record_refusal(PaymentProvider::Epay, e, ip).await;
        }
        outcome
    }

    async fn epay_notify_inner(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<NotifyOutcome, NotifyError> {
        let s = self.settings().await?;
        let merchant = s.epay_merchant().ok_or(NotifyError::NotConfigured)?;
        if !self.p.epay.verify(params, &merchant.key) {
            return Err(NotifyError::BadSignature);
        }
        let field = |name: &'static str| {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or(NotifyError::Missing(name))
        };
        let pid = field("pid")?;
        if *pid != merchant.pid {
            return Err(NotifyError::WrongMerchant(pid.clone()));
        }
        let status = field("trade_status")?;
        if status != "TRADE_SUCCESS" {
            return Err(NotifyError::NotPaid(status.clone()));
        }
        let trade_no = field("out_trade_no")?;
        let money = field("money")?;
        let paid = money
            .parse::<Decimal>()
            .map_err(|_| NotifyError::BadAmount(money.clone()))?;
        let settled = self
            .settle(
                trade_no,
                PaymentProvider::Epay,
                Some(paid),
                SettledBy::Notification,
                &s,
            )
            .await?;
        Ok(NotifyOutcome::Settled(Box::new(settled)))
    }

    async fn settle(
        &self,
        trade_no: &str,
        provider: PaymentProvider,
        paid: Option<Decimal>,
        settled_by: SettledBy,
        s: &PaymentSettings,
    ) -> Result<Settled, SettleError> {
        let now = self.p.clock.now();
        let (action, actor) = match settled_by {
            SettledBy::Admin(admin) => (AuditAction::TopUpCompletedByAdmin, Some(admin)),
            _ => (AuditAction::TopUpSettled, None),
        };
        let settlement = Settlement {
            trade_no: trade_no.to_owned(),
            provider,
            paid,
            rebate_percent: s.topup_rebate_percent,
            settled_by,
            now,
            audit: AuditEntry::new(action, actor, None, now),
        };
        let settled = self.p.orders.settle(&settlement).await?;
        if let Settled::Credited { order, rebate } = &settled {
            tracing::info!(
                trade_no = %order.trade_no, user_id = %order.user_id, quota = order.credited_quota,
                rebate, "top-up settled"
            );
        }
        Ok(settled)
    }

    /// The Stripe webhook (`POST /api/stripe/webhook`): verified on the raw body, then
    /// `checkout.session.completed` (paid) and `async_payment_succeeded` settle, `expired`
    /// and `async_payment_failed` close a pending order; other events are ignored.
    pub async fn stripe_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        ip: Option<String>,
    ) -> Result<NotifyOutcome, NotifyError> {
        let outcome = self.stripe_webhook_inner(payload, signature).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "refused a Stripe webhook");
            self.record_refusal(PaymentProvider::Stripe, e, ip).await;
        }
        outcome
    }

    async fn stripe_webhook_inner(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<NotifyOutcome, NotifyError> {
        let s = self.settings().await?;
        if s.stripe_webhook_secret.is_empty() {
            return Err(NotifyError::NotConfigured);
        }
        let secret = ProviderSecret::new(s.stripe_webhook_secret.clone());
        let event =
            self.p
                .stripe
                .verify_webhook(payload, signature, &secret, self.p.clock.now())?;
        let Some(session) = event.session else {
            return Ok(NotifyOutcome::Ignored);
        };
        let Some(trade_no) = session.client_reference_id.clone() else {
            return Ok(NotifyOutcome::Ignored);
        };
        let now = self.p.clock.now();
        match event.kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                match session.order_state() {
                    ProviderOrderState::Paid { .. } => {
                        let settled = self
                            .settle(
                                &trade_no,
                                PaymentProvider::Stripe,
                                None,
                                SettledBy::Notification,
                                &s,
                            )
                            .await?;
                        Ok(NotifyOutcome::Settled(Box::new(settled)))
                    }
                    // Completed but not paid yet: the async event follows.
                    _ => Ok(NotifyOutcome::Ignored),
                }
            }
            "checkout.session.expired" => {
                self.close_stripe(
                    &trade_no,
                    TopUpStatus::Expired,
                    "checkout session expired",
                    now,
                )
                .await
            }
            "checkout.session.async_payment_failed" => {
                self.close_stripe(
                    &trade_no,
                    TopUpStatus::Failed,
                    "asynchronous payment failed",
                    now,
                )
                .await
            }
            _ => Ok(NotifyOutcome::Ignored),
        }
    }

    /// Closes a pending Stripe order; an order of another provider is refused, a settled one
    /// is left alone (New API could flip a completed order to expired).
    async fn close_stripe(
        &self,
        trade_no: &str,
        status: TopUpStatus,
        reason: &str,
        now: i64,
    ) -> Result<NotifyOutcome, NotifyError> {
        let order = self
            .p
            .orders
            .find_by_trade_no(trade_no)
            .await?
            .ok_or_else(|| SettleError::UnknownOrder(trade_no.to_owned()))?;
        if order.provider != PaymentProvider::Stripe {
            return Err(SettleError::WrongProvider {
                trade_no: trade_no.to_owned(),
                expected: PaymentProvider::Stripe,
                actual: order.provider,
            }
            .into());
        }
        self.p.orders.close(trade_no, status, reason, now).await?;
        Ok(NotifyOutcome::Ignored)
    }

    /// `POST /api/user/topup/complete`: an admin settles a pending order by hand (the money
    /// arrived but no notification did). Audited with the actor.
    pub async fn complete_by_admin(
        &self,
        actor: &User,
        trade_no: &str,
    ) -> Result<Settled, TopUpError> {
        if !actor.role.is_admin() || !actor.is_enabled() {
            return Err(TopUpError::Forbidden);
        }
        let s = self.settings().await?;
        let order = self
            .p
            .orders
            .find_by_trade_no(trade_no)
            .await?
            .ok_or_else(|| SettleError::UnknownOrder(trade_no.to_owned()))?;
        Ok(self
            .settle(
                trade_no,
                order.provider,
                None,
                SettledBy::Admin(actor.id),
                &s,
            )
            .await?)
    }

    /// The user's own orders, newest first.
    pub async fn list_own(
        &self,
        user: &User,
        page: PageRequest,
    ) -> Result<Page<TopUp>, TopUpError> {
        Ok(self.p.orders.list_for_user(user.id, page).await?)
    }

    /// Every order (admin).
    pub async fn list_all(
        &self,
        actor: &User,
        filter: &TopUpFilter,
        page: PageRequest,
    ) -> Result<Page<TopUp>, TopUpError> {
        if !actor.role.is_admin() || !actor.is_enabled() {
            return Err(TopUpError::Forbidden);
        }
        Ok(self.p.orders.list(filter, page).await?)
    }

    /// Asks the providers about pending orders older than `min_age_secs` (at most `limit`)
    /// and settles the paid ones or closes the expired ones, through the same settlement.
    /// Provider calls happen outside any transaction; one failing order does not stop the run.
    pub async fn reconcile(
        &self,
        min_age_secs: i64,
        limit: u64,
    ) -> Result<ReconcileReport, TopUpError> {
        let s = self.settings().await?;
        let now = self.p.clock.now();
        let pending = self
            .p
            .orders
            .pending_before(now.saturating_sub(min_age_secs), limit)
            .await?;
        let mut report = ReconcileReport::default();
        for order in pending {
            report.checked += 1;
            let state = match self.ask_provider(&s, &order).await {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(trade_no = %order.trade_no, error = %e, "reconciliation could not ask the provider");
                    report.failed += 1;
                    continue;
                }
            };
            match state {
                ProviderOrderState::Paid { money } => {
                    // Stripe reports the charged total, which follows the Stripe Price, not
                    // our preview; Epay reports the order's own amount and must match it.
                    let paid = (order.provider == PaymentProvider::Epay).then_some(money);
                    match self
                        .settle(
                            &order.trade_no,
                            order.provider,
                            paid,
                            SettledBy::Reconciliation,
                            &s,
                        )
                        .await
                    {
                        Ok(_) => report.settled += 1,
                        Err(e) => {
                            tracing::warn!(trade_no = %order.trade_no, error = %e, "reconciliation could not settle");
                            report.failed += 1;
                        }
                    }
                }
                ProviderOrderState::Expired => {
                    self.p
                        .orders
                        .close(
                            &order.trade_no,
                            TopUpStatus::Expired,
                            "expired at the provider",
                            now,
                        )
                        .await?;
                    report.expired += 1;
                }
                ProviderOrderState::Unpaid | ProviderOrderState::Unknown => {
                    report.still_pending += 1
                }
            }
        }
        Ok(report)
    }

    async fn ask_provider(
        &self,
        s: &PaymentSettings,
        order: &TopUp,
    ) -> anyhow::Result<ProviderOrderState> {
        match order.provider {
            PaymentProvider::Epay => {
                let merchant = s
                    .epay_merchant()
                    .ok_or_else(|| anyhow::anyhow!("Epay is not configured"))?;
                self.p.epay.query_order(&merchant, &order.trade_no).await
            }
            PaymentProvider::Stripe => {
                let Some(session_id) = order.provider_ref.as_deref() else {
                    return Ok(ProviderOrderState::Unknown);
                };
                if s.stripe_api_secret.is_empty() {
                    anyhow::bail!("Stripe is not configured");
                }
                let secret = ProviderSecret::new(s.stripe_api_secret.clone());
                let session = self.p.stripe.retrieve_session(&secret, session_id).await?;
                if session.client_reference_id.as_deref() != Some(order.trade_no.as_str()) {
                    anyhow::bail!("session {session_id} belongs to another order");
                }
                Ok(session.order_state())
            }
        }
    }
}

/// A redirect after Stripe checkout: the given URL when it is on this server
/// (`ServerAddress`'s origin), the default path when none is given; `None` when it points
/// elsewhere.
fn redirect(s: &PaymentSettings, given: Option<&str>, default_path: &str) -> Option<String> {
    let given = given.map(str::trim).filter(|u| !u.is_empty());
    let Some(given) = given else {
        return Some(format!("{}{default_path}", s.server_address));
    };
    let ours = url::Url::parse(&s.server_address).ok()?;
    let theirs = url::Url::parse(given).ok()?;
    (theirs.origin() == ours.origin()).then(|| given.to_owned())
}

#[cfg(test)]
mod tests;
