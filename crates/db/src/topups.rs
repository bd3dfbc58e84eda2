//! [`TopUpRepository`] over sea-orm: orders and their one settlement transaction.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Select,
};
use serde_json::json;
use tollgate_domain::payment::{Decimal, PaymentProvider};
use tollgate_domain::topup::{
    NewTopUp, SettleError, Settled, Settlement, TopUp, TopUpFilter, TopUpRepository, TopUpStatus,
};
use tollgate_domain::{LedgerEntry, Page, PageRequest, RepoError, UserId};

use crate::entities::{top_up, user};
use crate::error::unexpected;
use crate::ledger::{ApplyError, apply_entry};
use crate::txn::{self, Abort};

/// Money in minor units: the domain's amounts have at most two decimals.
fn to_cents(money: Decimal) -> anyhow::Result<i64> {
    let cents = money
        .checked_mul(Decimal::ONE_HUNDRED)
        .filter(|c| c.fract().is_zero())
        .ok_or_else(|| anyhow!("{money} is not a whole number of cents"))?;
    i64::try_from(cents).map_err(|_| anyhow!("{money} does not fit in cents"))
}

impl TryFrom<top_up::Model> for TopUp {
    type Error = anyhow::Error;

    fn try_from(m: top_up::Model) -> Result<Self, Self::Error> {
        let provider = PaymentProvider::parse(&m.provider)
            .ok_or_else(|| anyhow!("top-up {} has the unknown provider {}", m.id, m.provider))?;
        let status = TopUpStatus::parse(&m.status)
            .ok_or_else(|| anyhow!("top-up {} has the unknown status {}", m.id, m.status))?;
        Ok(TopUp {
            id: m.id,
            user_id: UserId::new(m.user_id),
            provider,
            payment_method: m.payment_method,
            trade_no: m.trade_no,
            amount: m.amount,
            money: Decimal::new(m.money_cents, 2),
            credited_quota: m.credited_quota,
            status,
            created_at: m.created_at,
            completed_at: m.completed_at,
            failure_reason: m.failure_reason,
            provider_ref: m.provider_ref,
        })
    }
}

/// [`TopUpRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaTopUpRepository {
    db: DatabaseConnection,
}

impl SeaTopUpRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn page(
        &self,
        query: Select<top_up::Entity>,
        page: PageRequest,
    ) -> Result<Page<TopUp>, RepoError> {
        let total = query
            .clone()
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count top-up orders"))?;
        let items = if page.offset() >= total {
            Vec::new()
        } else {
            query
                .order_by_desc(top_up::Column::Id)
                .offset(page.offset())
                .limit(page.size())
                .all(&self.db)
                .await
                .map_err(|e| unexpected(e, "failed to list top-up orders"))?
                .into_iter()
                .map(TopUp::try_from)
                .collect::<Result<_, _>>()?
        };
        Ok(Page {
            items,
            total,
            request: page,
        })
    }
}

/// The order with this trade number, locked for the rest of the transaction (PostgreSQL and
/// MySQL; SQLite's write transaction already excludes other writers).
async fn find_locked(
    txn: &DatabaseTransaction,
    trade_no: &str,
) -> Result<Option<TopUp>, Abort<SettleError>> {
    let row = top_up::Entity::find()
        .filter(top_up::Column::TradeNo.eq(trade_no))
        .lock_exclusive()
        .one(txn)
        .await?;
    Ok(row.map(TopUp::try_from).transpose()?)
}

/// A reason cut to the `failure_reason` column (255 characters).
fn fit_reason(reason: &str) -> String {
    reason.chars().take(255).collect()
}

/// Records why a notification was refused on a pending order.
async fn record_refusal<C: ConnectionTrait>(
    conn: &C,
    order_id: i64,
    reason: &str,
) -> Result<(), sea_orm::DbErr> {
    let reason = fit_reason(reason);
    top_up::Entity::update_many()
        .col_expr(top_up::Column::FailureReason, Expr::value(reason))
        .filter(top_up::Column::Id.eq(order_id))
        .filter(top_up::Column::Status.eq(TopUpStatus::Pending.as_str()))
        .exec(conn)
        .await
        .map(|_| ())
}

/// What one settlement transaction decided; refusals commit their `failure_reason`.
enum Outcome {
    Settled(Settled),
    Refused(SettleError),
}

/// The inviter's share of `credited` at `percent`, rounded down to whole units.
fn rebate_of(credited: i64, percent: Decimal) -> i64 {
    Decimal::from(credited)
        .checked_mul(percent)
        .and_then(|d| d.checked_div(Decimal::ONE_HUNDRED))
        .map(|d| d.floor())
        .and_then(|d| i64::try_from(d).ok())
        .unwrap_or(0)
}

async fn settle_in(
    txn: &DatabaseTransaction,
    s: &Settlement,
) -> Result<Outcome, Abort<SettleError>> {
    let Some(order) = find_locked(txn, &s.trade_no).await? else {
        return Ok(Outcome::Refused(SettleError::UnknownOrder(
            s.trade_no.clone(),
        )));
    };
    let refusal = if order.provider != s.provider {
        Some(SettleError::WrongProvider {
            trade_no: order.trade_no.clone(),
            expected: s.provider,
            actual: order.provider,
        })
    } else {
        s.paid
            .filter(|paid| *paid != order.money)
            .map(|paid| SettleError::AmountMismatch {
                trade_no: order.trade_no.clone(),
                expected: order.money,
                paid,
            })
    };
    if let Some(refusal) = refusal {
        record_refusal(txn, order.id, &refusal.to_string()).await?;
        return Ok(Outcome::Refused(refusal));
    }
    match order.status {
        TopUpStatus::Success => return Ok(Outcome::Settled(Settled::AlreadySettled { order })),
        TopUpStatus::Pending => {}
        status => {
            return Ok(Outcome::Refused(SettleError::NotPending {
                trade_no: order.trade_no,
                status,
            }));
        }
    }
    // The transition: only one transaction moves this row out of pending.
    let moved = top_up::Entity::update_many()
        .col_expr(
            top_up::Column::Status,
            Expr::value(TopUpStatus::Success.as_str()),
        )
        .col_expr(top_up::Column::CompletedAt, Expr::value(s.now))
        .col_expr(top_up::Column::FailureReason, Expr::value(None::<String>))
        .filter(top_up::Column::Id.eq(order.id))
        .filter(top_up::Column::Status.eq(TopUpStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(anyhow!("top-up {} left pending under its lock", order.id).into());
    }
    let actor = match s.settled_by {
        tollgate_domain::topup::SettledBy::Admin(admin) => Some(admin),
        _ => None,
    };
    let money_error = |e: &dyn std::fmt::Display| {
        Abort::Refused(SettleError::Money(format!("{}: {e}", order.trade_no)))
    };
    let credit = LedgerEntry::top_up(order.user_id, order.id, order.credited_quota, actor)
        .map_err(|e| money_error(&e))?;
    apply_entry(txn, &credit, s.now)
        .await
        .map_err(|e| match e {
            ApplyError::Db(e) => Abort::Unexpected(e),
            other => money_error(&format!("{other:?}")),
        })?;
    let rebate = pay_rebate(txn, &order, s).await?;
    let mut audit = s.audit.clone();
    audit.target_id = Some(order.user_id);
    audit.after = Some(json!({
        "order_id": order.id,
        "trade_no": order.trade_no,
        "provider": order.provider.as_str(),
        "money": order.money.to_string(),
        "credited_quota": order.credited_quota,
        "rebate": rebate,
    }));
    crate::audit::insert(txn, &audit).await?;
    let order = TopUp {
        status: TopUpStatus::Success,
        completed_at: Some(s.now),
        failure_reason: None,
        ..order
    };
    Ok(Outcome::Settled(Settled::Credited { order, rebate }))
}

/// Credits the inviter of the order's user its share, when there is one and it is not zero.
/// An inviter that is gone gets nothing; that never blocks the order's own credit.
async fn pay_rebate(
    txn: &DatabaseTransaction,
    order: &TopUp,
    s: &Settlement,
) -> Result<i64, Abort<SettleError>> {
    let rebate = rebate_of(order.credited_quota, s.rebate_percent);
    if rebate <= 0 {
        return Ok(0);
    }
    let inviter: Option<Option<i64>> = user::Entity::find_by_id(order.user_id.get())
        .select_only()
        .column(user::Column::InviterId)
        .into_tuple()
        .one(txn)
        .await?;
    let Some(inviter) = inviter.flatten() else {
        return Ok(0);
    };
    let entry = LedgerEntry::top_up_rebate(UserId::new(inviter), order.id, rebate)
        .map_err(|e| anyhow!("rebate of order {}: {e}", order.id))?;
    match apply_entry(txn, &entry, s.now).await {
        Ok(_) => Ok(rebate),
        Err(ApplyError::UserMissing | ApplyError::Overflow) => Ok(0),
        Err(ApplyError::Db(e)) => Err(Abort::Unexpected(e)),
        Err(other) => Err(anyhow!("rebate of order {}: {other:?}", order.id).into()),
    }
}

#[async_trait]
impl TopUpRepository for SeaTopUpRepository {
    #[tracing::instrument(skip_all, fields(user_id = %order.user_id))]
    async fn create(&self, order: &NewTopUp) -> Result<TopUp, RepoError> {
        let row = top_up::ActiveModel {
            id: NotSet,
            user_id: Set(order.user_id.get()),
            provider: Set(order.provider.as_str().to_owned()),
            payment_method: Set(order.payment_method.clone()),
            trade_no: Set(order.trade_no.clone()),
            amount: Set(order.amount),
            money_cents: Set(to_cents(order.money)?),
            credited_quota: Set(order.credited_quota),
            status: Set(TopUpStatus::Pending.as_str().to_owned()),
            created_at: Set(order.created_at),
            completed_at: Set(None),
            failure_reason: Set(None),
            provider_ref: Set(None),
        };
        let id = top_up::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to insert a top-up order"))?
            .last_insert_id;
        Ok(TopUp {
            id,
            user_id: order.user_id,
            provider: order.provider,
            payment_method: order.payment_method.clone(),
            trade_no: order.trade_no.clone(),
            amount: order.amount,
            money: order.money,
            credited_quota: order.credited_quota,
            status: TopUpStatus::Pending,
            created_at: order.created_at,
            completed_at: None,
            failure_reason: None,
            provider_ref: None,
        })
    }

    async fn find_by_trade_no(&self, trade_no: &str) -> Result<Option<TopUp>, RepoError> {
        let row = top_up::Entity::find()
            .filter(top_up::Column::TradeNo.eq(trade_no))
            .one(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read a top-up order"))?;
        Ok(row.map(TopUp::try_from).transpose()?)
    }

    async fn set_provider_ref(&self, trade_no: &str, provider_ref: &str) -> Result<(), RepoError> {
        top_up::Entity::update_many()
            .col_expr(top_up::Column::ProviderRef, Expr::value(provider_ref))
            .filter(top_up::Column::TradeNo.eq(trade_no))
            .filter(top_up::Column::Status.eq(TopUpStatus::Pending.as_str()))
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to record a payment reference"))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(trade_no = %settlement.trade_no))]
    async fn settle(&self, settlement: &Settlement) -> Result<Settled, SettleError> {
        let outcome = txn::write(&self.db, "failed to settle a top-up order", async |txn| {
            settle_in(txn, settlement).await
        })
        .await;
        let result = match outcome {
            Ok(Outcome::Settled(settled)) => Ok(settled),
            Ok(Outcome::Refused(refusal)) | Err(refusal) => Err(refusal),
        };
        crate::counters::settlement(settlement, &result);
        result
    }

    async fn close(
        &self,
        trade_no: &str,
        status: TopUpStatus,
        reason: &str,
        now: i64,
    ) -> Result<bool, RepoError> {
        if !matches!(status, TopUpStatus::Failed | TopUpStatus::Expired) {
            return Err(RepoError::msg(format!(
                "an order cannot be closed as {status}"
            )));
        }
        let reason = fit_reason(reason);
        let res = top_up::Entity::update_many()
            .col_expr(top_up::Column::Status, Expr::value(status.as_str()))
            .col_expr(top_up::Column::CompletedAt, Expr::value(now))
            .col_expr(top_up::Column::FailureReason, Expr::value(reason))
            .filter(top_up::Column::TradeNo.eq(trade_no))
            .filter(top_up::Column::Status.eq(TopUpStatus::Pending.as_str()))
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to close a top-up order"))?;
        Ok(res.rows_affected == 1)
    }

    async fn list_for_user(
        &self,
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Page<TopUp>, RepoError> {
        let query = top_up::Entity::find().filter(top_up::Column::UserId.eq(user_id.get()));
        self.page(query, page).await
    }

    async fn list(
        &self,
        filter: &TopUpFilter,
        page: PageRequest,
    ) -> Result<Page<TopUp>, RepoError> {
        let mut query = top_up::Entity::find();
        if let Some(user_id) = filter.user_id {
            query = query.filter(top_up::Column::UserId.eq(user_id.get()));
        }
        if let Some(status) = filter.status {
            query = query.filter(top_up::Column::Status.eq(status.as_str()));
        }
        if let Some(provider) = filter.provider {
            query = query.filter(top_up::Column::Provider.eq(provider.as_str()));
        }
        if let Some(trade_no) = filter.trade_no.as_deref().filter(|t| !t.is_empty()) {
            query = query.filter(top_up::Column::TradeNo.contains(trade_no));
        }
        self.page(query, page).await
    }

    async fn pending_before(
        &self,
        created_before: i64,
        limit: u64,
    ) -> Result<Vec<TopUp>, RepoError> {
        top_up::Entity::find()
            .filter(top_up::Column::Status.eq(TopUpStatus::Pending.as_str()))
            .filter(top_up::Column::CreatedAt.lte(created_before))
            .order_by_asc(top_up::Column::CreatedAt)
            .order_by_asc(top_up::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to list pending top-up orders"))?
            .into_iter()
            .map(|m| TopUp::try_from(m).map_err(RepoError::from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact_and_refuse_fractions() {
        assert_eq!(to_cents("73.00".parse().unwrap()).unwrap(), 7300);
        assert_eq!(to_cents("0.1".parse().unwrap()).unwrap(), 10);
        assert!(to_cents("0.001".parse().unwrap()).is_err());
    }

    #[test]
    fn the_rebate_is_rounded_down() {
        let pct = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(rebate_of(5_000_000, pct("10")), 500_000);
        assert_eq!(rebate_of(999, pct("2.5")), 24);
        assert_eq!(rebate_of(5_000_000, pct("0")), 0);
        assert_eq!(rebate_of(i64::MAX, pct("100")), i64::MAX);
    }
}
