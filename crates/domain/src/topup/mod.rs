//! Top-up orders: a user buys quota from a payment provider. The quota an order credits is
//! computed and stored when the order is created, so a later price or ratio change never
//! alters it; one settlement operation (`pending -> success`, the ledger credit, the rebate
//! and the audit record, in one transaction) is the only way an order credits anything.

mod pricing;
pub mod settings;

use std::fmt;

use async_trait::async_trait;

pub use pricing::{Pricing, PricingError, Quote};
pub use settings::{PayMethod, PaymentSettings};

use crate::audit::AuditEntry;
use crate::error::RepoError;
use crate::page::{Page, PageRequest};
use crate::payment::{Decimal, PaymentProvider};
use crate::user::UserId;

/// The state of an order. Only `Pending` moves, and only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopUpStatus {
    Pending,
    Success,
    Failed,
    Expired,
}

impl TopUpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "success" => Some(Self::Success),
            "failed" => Some(Self::Failed),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for TopUpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUp {
    pub id: i64,
    pub user_id: UserId,
    pub provider: PaymentProvider,
    /// `alipay`, `wxpay`, ... for Epay; `stripe` for Stripe.
    pub payment_method: String,
    pub trade_no: String,
    /// Units bought: whole USD of quota (New API's `amount`), or tokens with TOKENS display.
    pub amount: i64,
    /// What the customer is charged, in the shop's currency (2 decimals).
    pub money: Decimal,
    /// The quota settlement credits, fixed at creation.
    pub credited_quota: i64,
    pub status: TopUpStatus,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// Why the order failed or expired, or why a settlement attempt was refused last.
    pub failure_reason: Option<String>,
    /// The provider's id of the payment (a Stripe Checkout Session id), when it has one.
    pub provider_ref: Option<String>,
}

/// An order to insert (always `Pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopUp {
    pub user_id: UserId,
    pub provider: PaymentProvider,
    pub payment_method: String,
    pub trade_no: String,
    pub amount: i64,
    pub money: Decimal,
    pub credited_quota: i64,
    pub created_at: i64,
}

/// Who or what settles an order; recorded in the audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettledBy {
    /// The provider's notification (Epay notify, Stripe webhook).
    Notification,
    /// The reconciliation task, after asking the provider.
    Reconciliation,
    /// An admin's manual completion.
    Admin(UserId),
}

/// A settlement to apply: the order, what it must match, and the records to write with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub trade_no: String,
    /// The order must belong to this provider.
    pub provider: PaymentProvider,
    /// The paid amount reported by the provider must equal the order's `money` exactly.
    /// `None` when no amount is reported (an admin's manual completion).
    pub paid: Option<Decimal>,
    /// `TopupRebatePercent` at settlement: the inviter of the order's user gets this share of
    /// the credited quota on `aff_quota`, in the same transaction. Zero pays nothing.
    pub rebate_percent: Decimal,
    pub settled_by: SettledBy,
    pub now: i64,
    /// The audit entry of the settlement (action, actor, target); the adapter adds the order
    /// id, the credited quota and the rebate to its details.
    pub audit: AuditEntry,
}

/// What a settlement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// This call moved the order to `success` and credited it.
    Credited { order: TopUp, rebate: i64 },
    /// The order was already `success`: nothing was credited (a duplicate notification).
    AlreadySettled { order: TopUp },
}

/// Why a settlement credited nothing. A refusal of a notification is recorded on the order
/// (`failure_reason`) when the order exists.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("no order {0}")]
    UnknownOrder(String),
    #[error("order {trade_no} belongs to {actual}, not {expected}")]
    WrongProvider {
        trade_no: String,
        expected: PaymentProvider,
        actual: PaymentProvider,
    },
    #[error("order {trade_no} costs {expected}, the provider reported {paid}")]
    AmountMismatch {
        trade_no: String,
        expected: Decimal,
        paid: Decimal,
    },
    #[error("order {trade_no} is {status}, not pending")]
    NotPending {
        trade_no: String,
        status: TopUpStatus,
    },
    #[error("the credit of order {0} breaks a money rule")]
    Money(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Filters of the admin's order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopUpFilter {
    pub user_id: Option<UserId>,
    pub status: Option<TopUpStatus>,
    pub provider: Option<PaymentProvider>,
    /// A substring of the trade number.
    pub trade_no: Option<String>,
}

/// Where orders live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TopUpRepository: Send + Sync {
    /// Inserts a pending order; its `trade_no` is unique.
    async fn create(&self, order: &NewTopUp) -> Result<TopUp, RepoError>;

    async fn find_by_trade_no(&self, trade_no: &str) -> Result<Option<TopUp>, RepoError>;

    /// Records the provider's id of the payment (a Stripe session id) on a pending order.
    async fn set_provider_ref(&self, trade_no: &str, provider_ref: &str) -> Result<(), RepoError>;

    /// In ONE transaction: the conditional `pending -> success` transition of the order
    /// (exactly one row, else nothing happens), the ledger credit of `credited_quota` (kind
    /// `topup`, reference = the order id), the inviter's rebate (kind `topup_rebate`) and the
    /// audit entry. Checks provider and amount first; a refusal writes only the order's
    /// `failure_reason` (when the order exists and is pending).
    async fn settle(&self, settlement: &Settlement) -> Result<Settled, SettleError>;

    /// Moves a pending order to `Failed` or `Expired` with a reason; `false` when the order
    /// is not pending (nothing changes).
    async fn close(
        &self,
        trade_no: &str,
        status: TopUpStatus,
        reason: &str,
        now: i64,
    ) -> Result<bool, RepoError>;

    /// A user's own orders, newest first.
    async fn list_for_user(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Page<TopUp>, RepoError>;

    /// Every order matching `filter`, newest first (admin).
    async fn list(&self, filter: &TopUpFilter, page: PageRequest)
    -> Result<Page<TopUp>, RepoError>;

    /// Pending orders created at or before `created_before`, oldest first, at most `limit`.
    async fn pending_before(
        &self,
        created_before: i64,
        limit: u64,
    ) -> Result<Vec<TopUp>, RepoError>;
}

impl From<RepoError> for SettleError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}
