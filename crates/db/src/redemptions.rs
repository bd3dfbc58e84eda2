//! [`RedemptionRepository`] over sea-orm.

mod manage;

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, ConnectionTrait as _, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Statement,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::RedemptionRepository;
use tollgate_domain::{
    CreateRedemptionsError, LedgerEntry, ManageRedemptionError, MintCap, MoneyError, NewRedemption,
    Page, PageRequest, RedeemError, Redeemed, Redemption, RedemptionChanges, RedemptionQuery,
    RedemptionStatus, RepoError, UserId,
};

use crate::entities::{redemption, user};
use crate::error::{is_unique_violation, unexpected};
use crate::ledger::{ApplyError, apply_entry};
use crate::txn::{self, Abort};

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
            created_by: UserId::new(m.created_by),
            code: m.code,
            status,
            name: m.name,
            quota: m.quota,
            created_at: m.created_at,
            redeemed_at: m.redeemed_at,
            used_by: m.used_by.map(UserId::new),
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

/// The mint inside its write transaction: with a cap, lock the creator's row (PostgreSQL and
/// MySQL; SQLite's `BEGIN IMMEDIATE` already serialises writers), sum what it minted in the
/// window and check the cap; then insert the codes and the audit record.
async fn mint(
    txn: &DatabaseTransaction,
    codes: &[NewRedemption],
    creator: UserId,
    cap: Option<MintCap>,
    audit: &AuditEntry,
) -> Result<(), CreateRedemptionsError> {
    if let Some(cap) = cap {
        let locked: Option<i64> = user::Entity::find_by_id(creator.get())
            .filter(user::Column::DeletedAt.is_null())
            .select_only()
            .column(user::Column::Id)
            .lock_exclusive()
            .into_tuple()
            .one(txn)
            .await
            .map_err(|e| unexpected(e, "failed to lock the creator of redemption codes"))?;
        if locked.is_none() {
            return Err(CreateRedemptionsError::Forbidden);
        }
        let total = codes
            .iter()
            .try_fold(0_i64, |sum, c| sum.checked_add(c.quota))
            .ok_or(CreateRedemptionsError::TotalTooLarge)?;
        cap.check(minted_since(txn, creator, cap.since).await?, total)?;
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
    redemption::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                CreateRedemptionsError::CodeCollision
            } else {
                unexpected(e, "failed to insert redemption codes").into()
            }
        })?;
    crate::audit::insert(txn, audit)
        .await
        .map_err(|e| unexpected(e, "failed to audit a mint"))?;
    Ok(())
}

/// The quota of every code `creator` created after `since`, deleted or used ones included:
/// the cap limits what was minted, not what is still outstanding.
async fn minted_since(
    txn: &DatabaseTransaction,
    creator: UserId,
    since: i64,
) -> Result<i64, CreateRedemptionsError> {
    let backend = txn.get_database_backend();
    // SUM of BIGINT is NUMERIC on PostgreSQL and DECIMAL on MySQL: cast it back to i64 (an
    // out-of-range sum fails the statement, so the mint is refused, never wrapped).
    let (sum, params) = match backend {
        DbBackend::Postgres => ("CAST(COALESCE(SUM(quota), 0) AS BIGINT)", ("$1", "$2")),
        DbBackend::MySql => ("CAST(COALESCE(SUM(quota), 0) AS SIGNED)", ("?", "?")),
        _ => ("COALESCE(SUM(quota), 0)", ("?", "?")),
    };
    let sql = format!(
        "SELECT {sum} AS minted FROM redemptions WHERE created_by = {} AND created_at > {}",
        params.0, params.1
    );
    let stmt = Statement::from_sql_and_values(backend, sql, [creator.get().into(), since.into()]);
    let row = txn
        .query_one_raw(stmt)
        .await
        .map_err(|e| unexpected(e, "failed to sum an admin's minted codes"))?
        .ok_or_else(|| anyhow!("an aggregate returned no row"))?;
    Ok(row
        .try_get::<i64>("", "minted")
        .map_err(|e| unexpected(e, "failed to decode an admin's minted total"))?)
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
    async fn create_batch(
        &self,
        codes: &[NewRedemption],
        cap: Option<MintCap>,
        audit: &AuditEntry,
    ) -> Result<(), CreateRedemptionsError> {
        let Some(creator) = codes.first().map(|c| c.created_by) else {
            return Ok(());
        };
        if codes.iter().any(|c| c.created_by != creator) {
            return Err(anyhow!("a batch of redemption codes has more than one creator").into());
        }
        txn::write(&self.db, "failed to mint redemption codes", async |txn| {
            mint(txn, codes, creator, cap, audit)
                .await
                .map_err(Abort::Refused)
        })
        .await
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
        let redeemed = txn::write(&self.db, "failed to redeem a code", async |txn| {
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
                .exec(txn)
                .await?;
            if claimed.rows_affected != 1 {
                // Nothing was written; the reason is read after the transaction.
                return Ok(None);
            }
            let (redemption_id, quota, created_by): (i64, i64, i64) = redemption::Entity::find()
                .select_only()
                .column(redemption::Column::Id)
                .column(redemption::Column::Quota)
                .column(redemption::Column::CreatedBy)
                .filter(redemption::Column::Code.eq(code))
                .into_tuple()
                .one(txn)
                .await?
                .ok_or_else(|| anyhow!("the claimed redemption code vanished"))?;
            let entry =
                LedgerEntry::redemption(user_id, redemption_id, quota, UserId::new(created_by))
                    .map_err(|e| match e {
                        MoneyError::Overflow => Abort::Refused(RedeemError::BalanceOverflow),
                        other => {
                            anyhow!("redemption code {redemption_id} is unusable: {other}").into()
                        }
                    })?;
            let balance_after = apply_entry(txn, &entry, now)
                .await
                .map_err(|e| Abort::Refused(redeem_error(e)))?;
            Ok(Some(Redeemed {
                redemption_id,
                quota,
                balance_after,
            }))
        })
        .await?;
        match redeemed {
            Some(redeemed) => Ok(redeemed),
            // Read outside the transaction: on MySQL a read inside it could come from an older
            // snapshot.
            None => Err(self.why_unavailable(code, now).await),
        }
    }

    async fn find(&self, id: i64) -> Result<Option<Redemption>, RepoError> {
        manage::find(&self.db, id).await
    }

    async fn search(
        &self,
        query: &RedemptionQuery,
        page: PageRequest,
    ) -> Result<Page<Redemption>, RepoError> {
        manage::search(&self.db, query, page).await
    }

    #[tracing::instrument(skip_all, fields(redemption_id = seen.id))]
    async fn update(
        &self,
        seen: &Redemption,
        changes: &RedemptionChanges,
        audit: &AuditEntry,
    ) -> Result<Redemption, ManageRedemptionError> {
        manage::update(&self.db, seen, changes, audit).await
    }

    #[tracing::instrument(skip_all, fields(redemption_id = seen.id))]
    async fn delete(
        &self,
        seen: &Redemption,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), ManageRedemptionError> {
        manage::delete(&self.db, seen, now, audit).await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_invalid(&self, now: i64, audit: &AuditEntry) -> Result<u64, RepoError> {
        manage::delete_invalid(&self.db, now, audit).await
    }
}
