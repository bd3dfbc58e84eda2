//! Management of codes after the mint: search, and compare-and-set edits and soft deletes,
//! each audited in its own transaction.

use anyhow::anyhow;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    Select,
};
use serde_json::json;
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::{
    ManageRedemptionError, Page, PageRequest, Redemption, RedemptionChanges, RedemptionQuery,
    RedemptionStatus, RepoError,
};

use crate::entities::redemption;
use crate::error::unexpected;
use crate::txn::{self, Abort};
use crate::user_search::{LIKE_ESCAPE, escape_like};

/// How many ids one `IN (...)` list of [`delete_invalid`] carries (far below every backend's
/// bind-parameter limit).
const ID_CHUNK: usize = 500;

fn live() -> Select<redemption::Entity> {
    redemption::Entity::find().filter(redemption::Column::DeletedAt.is_null())
}

pub(super) async fn find(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<Redemption>, RepoError> {
    let model = live()
        .filter(redemption::Column::Id.eq(id))
        .one(db)
        .await
        .map_err(|e| unexpected(e, "failed to read a redemption code"))?;
    Ok(model.map(Redemption::try_from).transpose()?)
}

/// The name starts with `prefix`, case-sensitively on every backend: SQLite's LIKE ignores
/// ASCII case, so it gets `instr(..) = 1`; PostgreSQL's LIKE and MySQL's over the
/// `utf8mb4_bin` column are case-sensitive already.
fn name_starts_with(backend: DbBackend, prefix: &str) -> Condition {
    match backend {
        DbBackend::Sqlite => {
            Condition::all().add(Expr::cust_with_values(r#"instr("name", ?) = 1"#, [prefix]))
        }
        _ => Condition::all().add(
            redemption::Column::Name
                .like(LikeExpr::new(format!("{}%", escape_like(prefix))).escape(LIKE_ESCAPE)),
        ),
    }
}

pub(super) async fn search(
    db: &DatabaseConnection,
    query: &RedemptionQuery,
    page: PageRequest,
) -> Result<Page<Redemption>, RepoError> {
    let mut any = Condition::any();
    if let Some(prefix) = &query.name_prefix {
        any = any.add(name_starts_with(db.get_database_backend(), prefix));
    }
    if let Some(id) = query.id {
        any = any.add(redemption::Column::Id.eq(id));
    }
    // No keyword: every live code (an empty OR would match nothing).
    let matching = if any.is_empty() {
        live()
    } else {
        live().filter(any)
    };
    let total = matching
        .clone()
        .count(db)
        .await
        .map_err(|e| unexpected(e, "failed to count redemption codes"))?;
    let items = if page.offset() >= total {
        Vec::new()
    } else {
        matching
            .order_by_desc(redemption::Column::Id)
            .offset(page.offset())
            .limit(page.size())
            .all(db)
            .await
            .map_err(|e| unexpected(e, "failed to search redemption codes"))?
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

/// Narrows a write to code `seen.id` while it is live and exactly as `seen`: status, name,
/// quota and expiry (compare-and-set). A redemption changes the status, so an admin's write
/// based on the unused code matches nothing once the code was redeemed.
fn unchanged_since<Q: sea_orm::QueryFilter>(query: Q, seen: &Redemption) -> Q {
    query
        .filter(redemption::Column::Id.eq(seen.id))
        .filter(redemption::Column::DeletedAt.is_null())
        .filter(redemption::Column::Status.eq(seen.status.code()))
        .filter(redemption::Column::Name.eq(seen.name.as_str()))
        .filter(redemption::Column::Quota.eq(seen.quota))
        .filter(match seen.expires_at {
            Some(t) => redemption::Column::ExpiresAt.eq(t),
            None => redemption::Column::ExpiresAt.is_null(),
        })
}

/// Why a compare-and-set write matched no row: the code is gone (or deleted), or it moved.
async fn why_unchanged(
    txn: &DatabaseTransaction,
    id: i64,
) -> Result<ManageRedemptionError, sea_orm::DbErr> {
    let live = live()
        .filter(redemption::Column::Id.eq(id))
        .count(txn)
        .await?;
    Ok(if live > 0 {
        ManageRedemptionError::Changed
    } else {
        ManageRedemptionError::NotFound
    })
}

pub(super) async fn update(
    db: &DatabaseConnection,
    seen: &Redemption,
    changes: &RedemptionChanges,
    audit: &AuditEntry,
) -> Result<Redemption, ManageRedemptionError> {
    if changes.is_empty() {
        return Err(anyhow!("an update of redemption code {} changes nothing", seen.id).into());
    }
    txn::write(db, "failed to update a redemption code", async |txn| {
        let mut update = unchanged_since(redemption::Entity::update_many(), seen);
        if let Some(name) = &changes.name {
            update = update.col_expr(redemption::Column::Name, Expr::value(name.as_str()));
        }
        if let Some(quota) = changes.quota {
            update = update.col_expr(redemption::Column::Quota, Expr::value(quota));
        }
        if let Some(expires_at) = changes.expires_at {
            update = update.col_expr(redemption::Column::ExpiresAt, Expr::value(expires_at));
        }
        if let Some(status) = changes.status {
            update = update.col_expr(redemption::Column::Status, Expr::value(status.code()));
        }
        if update.exec(txn).await?.rows_affected != 1 {
            return Err(Abort::Refused(why_unchanged(txn, seen.id).await?));
        }
        crate::audit::insert(txn, audit).await?;
        Ok(())
    })
    .await?;
    find(db, seen.id)
        .await?
        .ok_or_else(|| anyhow!("redemption code {} vanished after an update", seen.id).into())
}

pub(super) async fn delete(
    db: &DatabaseConnection,
    seen: &Redemption,
    now: i64,
    audit: &AuditEntry,
) -> Result<(), ManageRedemptionError> {
    txn::write(db, "failed to delete a redemption code", async |txn| {
        let res = unchanged_since(redemption::Entity::update_many(), seen)
            .col_expr(redemption::Column::DeletedAt, Expr::value(now))
            .exec(txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(Abort::Refused(why_unchanged(txn, seen.id).await?));
        }
        crate::audit::insert(txn, audit).await?;
        Ok(())
    })
    .await
}

/// The SQL form of [`tollgate_domain::redemption_manage::is_invalid`] (the contract tests
/// hold them equal): used, disabled, or enabled and expired before `now`.
fn invalid_at(now: i64) -> Condition {
    Condition::any()
        .add(redemption::Column::Status.is_in([
            RedemptionStatus::Used.code(),
            RedemptionStatus::Disabled.code(),
        ]))
        .add(
            Condition::all()
                .add(redemption::Column::Status.eq(RedemptionStatus::Enabled.code()))
                .add(redemption::Column::ExpiresAt.is_not_null())
                .add(redemption::Column::ExpiresAt.lt(now)),
        )
}

pub(super) async fn delete_invalid(
    db: &DatabaseConnection,
    now: i64,
    audit: &AuditEntry,
) -> Result<u64, RepoError> {
    let deleted = txn::write(
        db,
        "failed to delete invalid redemption codes",
        async |txn| {
            // Locked (PostgreSQL, MySQL; SQLite's `BEGIN IMMEDIATE` serialises writers), so the
            // rows listed in the audit are exactly the rows deleted below.
            let ids: Vec<i64> = live()
                .filter(invalid_at(now))
                .select_only()
                .column(redemption::Column::Id)
                .order_by_asc(redemption::Column::Id)
                .lock_exclusive()
                .into_tuple()
                .all(txn)
                .await?;
            if ids.is_empty() {
                return Ok(0);
            }
            let mut deleted = 0;
            for chunk in ids.chunks(ID_CHUNK) {
                deleted += redemption::Entity::update_many()
                    .col_expr(redemption::Column::DeletedAt, Expr::value(now))
                    .filter(redemption::Column::Id.is_in(chunk.iter().copied()))
                    .filter(redemption::Column::DeletedAt.is_null())
                    .exec(txn)
                    .await?
                    .rows_affected;
            }
            if deleted != ids.len() as u64 {
                return Err(anyhow!(
                    "{} invalid redemption codes were locked but {deleted} deleted",
                    ids.len()
                )
                .into());
            }
            let audit = AuditEntry {
                before: Some(json!({ "ids": ids })),
                after: Some(json!({ "count": deleted })),
                ..audit.clone()
            };
            crate::audit::insert(txn, &audit).await?;
            Ok::<_, Abort<RepoError>>(deleted)
        },
    )
    .await?;
    Ok(deleted)
}
