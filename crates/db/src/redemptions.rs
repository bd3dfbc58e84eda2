//! [`RedemptionRepository`] over sea-orm.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use tollgate_domain::ports::RedemptionRepository;
use tollgate_domain::{
    CreateRedemptionsError, LedgerEntry, MoneyError, NewRedemption, Page, PageRequest, RedeemError,
    Redeemed, Redemption, RedemptionStatus, RepoError, UserId,
};

use crate::begin_write;
use crate::entities::redemption;
use crate::error::{is_unique_violation, rollback, unexpected};
use crate::ledger::{ApplyError, apply_entry};

impl TryFrom<redemption::Model> for Redemption {
    type Error = anyhow::Error;

    /// Fails on a status code the domain does not know, instead of guessing.
    fn try_from(m: redemption::Model) -> Result<Self, Self::Error> {
        let status = RedemptionStatus::from_code(m.status).ok_or_else(|| {
            anyhow!(
                "redemption {} has the unknown status code {}",
                m.id,
                m.status
            )
        })?;
        Ok(Redemption {
            id: m.id,
            created_by: UserId(m.created_by),
            code: m.code,
            status,
            name: m.name,
            quota: m.quota,
            created_at: m.created_at,
            redeemed_at: m.redeemed_at,
            used_by: m.used_by.map(UserId),
            expires_at: m.expires_at,
        })
    }
}

/// [`RedemptionRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaRedemptionRepository {
    db: DatabaseConnection,
}

impl SeaRedemptionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Explains a claim that matched no row, from the code's committed state.
    async fn why_unavailable(&self, code: &str, now: i64) -> RedeemError {
        let found = redemption::Entity::find()
            .filter(redemption::Column::Code.eq(code))
            .one(&self.db)
            .await;
        let model = match found {
            Ok(Some(m)) if m.deleted_at.is_none() => m,
            Ok(_) => return RedeemError::NotFound,
            Err(e) => return unexpected(e, "failed to read a redemption code").into(),
        };
        match Redemption::try_from(model) {
            Ok(r) => r.unavailable_reason(now).unwrap_or_else(|| {
                anyhow!("a redeemable code matched no row; the claim raced an update").into()
            }),
            Err(e) => e.into(),
        }
    }
}

/// Translates a refused credit. The transaction is rolled back, so the code stays unused.
fn redeem_error(err: ApplyError) -> RedeemError {
    match err {
        ApplyError::UserMissing => RedeemError::AccountUnavailable,
        ApplyError::Overflow => RedeemError::BalanceOverflow,
        // The (redemption, code id) entry exists: this code was credited already.
        ApplyError::AlreadyApplied => RedeemError::AlreadyUsed,
        ApplyError::Insufficient => anyhow!("a redemption code would debit the balance").into(),
        ApplyError::Db(e) => e.into(),
    }
}

#[async_trait]
impl RedemptionRepository for SeaRedemptionRepository {
    #[tracing::instrument(skip_all, fields(count = codes.len()))]
    async fn create_batch(&self, codes: &[NewRedemption]) -> Result<(), CreateRedemptionsError> {
        if codes.is_empty() {
            return Ok(());
        }
        let rows = codes.iter().map(|c| redemption::ActiveModel {
            id: NotSet,
            created_by: Set(c.created_by.get()),
            code: Set(c.code.clone()),
            status: Set(RedemptionStatus::Enabled.code()),
            name: Set(c.name.clone()),
            quota: Set(c.quota),
            created_at: Set(c.created_at),
            redeemed_at: Set(None),
            used_by: Set(None),
            expires_at: Set(c.expires_at),
            deleted_at: Set(None),
        });
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        match redemption::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                rollback(txn).await;
                return Err(if is_unique_violation(&e) {
                    CreateRedemptionsError::CodeCollision
                } else {
                    unexpected(e, "failed to insert redemption codes").into()
                });
            }
        }
        txn.commit()
            .await
            .map_err(|e| unexpected(e, "failed to commit redemption codes"))?;
        Ok(())
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Redemption>, RepoError> {
        let live = redemption::Entity::find().filter(redemption::Column::DeletedAt.is_null());
        let total = live
            .clone()
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count redemption codes"))?;
        let items = if page.offset() >= total {
            Vec::new()
        } else {
            live.order_by_desc(redemption::Column::Id)
                .offset(page.offset())
                .limit(page.size())
                .all(&self.db)
                .await
                .map_err(|e| unexpected(e, "failed to list redemption codes"))?
                .into_iter()
                .map(Redemption::try_from)
                .collect::<Result<_, _>>()?
        };
        Ok(Page {
            items,
            total,
            request: page,
        })
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn redeem(&self, code: &str, user_id: UserId, now: i64) -> Result<Redeemed, RedeemError> {
        if code.is_empty() {
            return Err(RedeemError::EmptyCode);
        }
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;

        // The claim: only one transaction can move this row from enabled to used.
        let claimed = redemption::Entity::update_many()
            .col_expr(
                redemption::Column::Status,
                Expr::value(RedemptionStatus::Used.code()),
            )
            .col_expr(redemption::Column::UsedBy, Expr::value(user_id.get()))
            .col_expr(redemption::Column::RedeemedAt, Expr::value(now))
            .filter(redemption::Column::Code.eq(code))
            .filter(redemption::Column::Status.eq(RedemptionStatus::Enabled.code()))
            .filter(redemption::Column::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(redemption::Column::ExpiresAt.is_null())
                    .add(redemption::Column::ExpiresAt.gte(now)),
            )
            .exec(&txn)
            .await;
        match claimed {
            Ok(res) if res.rows_affected == 1 => {}
            Ok(_) => {
                // Read the reason outside the transaction: on MySQL a read inside it could
                // come from an older snapshot.
                rollback(txn).await;
                return Err(self.why_unavailable(code, now).await);
            }
            Err(e) => {
                rollback(txn).await;
                return Err(unexpected(e, "failed to claim a redemption code").into());
            }
        }

        let claimed: Option<(i64, i64)> = match redemption::Entity::find()
            .select_only()
            .column(redemption::Column::Id)
            .column(redemption::Column::Quota)
            .filter(redemption::Column::Code.eq(code))
            .into_tuple()
            .one(&txn)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                rollback(txn).await;
                return Err(unexpected(e, "failed to read a claimed redemption code").into());
            }
        };
        let Some((redemption_id, quota)) = claimed else {
            rollback(txn).await;
            return Err(anyhow!("the claimed redemption code vanished").into());
        };

        let entry = match LedgerEntry::redemption(user_id, redemption_id, quota) {
            Ok(entry) => entry,
            Err(e) => {
                rollback(txn).await;
                return Err(match e {
                    MoneyError::Overflow => RedeemError::BalanceOverflow,
                    other => anyhow!("redemption code {redemption_id} is unusable: {other}").into(),
                });
            }
        };
        let balance_after = match apply_entry(&txn, &entry, now).await {
            Ok(balance) => balance,
            Err(e) => {
                rollback(txn).await;
                return Err(redeem_error(e));
            }
        };
        txn.commit()
            .await
            .map_err(|e| unexpected(e, "failed to commit a redemption"))?;
        Ok(Redeemed {
            redemption_id,
            quota,
            balance_after,
        })
    }
}
