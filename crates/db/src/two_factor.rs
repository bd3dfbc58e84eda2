//! [`TwoFactorRepository`] over sea-orm.
//!
//! Replay and double use are refused by single conditional statements, so they hold on every
//! backend and across instances: a TOTP step is claimed with
//! `UPDATE two_factors SET last_step = s WHERE user_id = u AND (last_step IS NULL OR
//! last_step < s)`, a backup code with `UPDATE ... SET used_at = t WHERE id = i AND used_at
//! IS NULL`; exactly one of any number of concurrent callers changes the row.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QuerySelect as _,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::two_factor::{
    BeginSetupError, ResetOutcome, StoredBackupCode, TotpSecret, TwoFactorCounts, TwoFactorRecord,
    TwoFactorRepository,
};
use tollgate_domain::{RepoError, Role, SessionId, UserId};

use crate::entities::{two_factor, two_factor_backup_code as code, user};
use crate::error::unexpected;
use crate::txn::{self, Abort};

/// [`TwoFactorRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaTwoFactorRepository {
    db: DatabaseConnection,
}

impl SeaTwoFactorRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(m: two_factor::Model) -> TwoFactorRecord {
    TwoFactorRecord {
        user_id: UserId::new(m.user_id),
        secret: TotpSecret::new(m.secret),
        enabled: m.enabled_at.is_some(),
        last_step: m.last_step,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// A step later than the last accepted one.
fn step_is_new(step: i64) -> Condition {
    Condition::any()
        .add(two_factor::Column::LastStep.is_null())
        .add(two_factor::Column::LastStep.lt(step))
}

/// Inserts the backup codes of `user`, inside the caller's transaction.
async fn insert_codes(
    txn: &DatabaseTransaction,
    user: UserId,
    hashes: &[String],
    now: i64,
) -> Result<(), sea_orm::DbErr> {
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes.iter().map(|hash| code::ActiveModel {
        id: NotSet,
        user_id: Set(user.get()),
        code_hash: Set(hash.clone()),
        created_at: Set(now),
        used_at: Set(None),
    });
    code::Entity::insert_many(rows).exec(txn).await?;
    Ok(())
}

/// Deletes the user's enabled record and every backup code, inside the caller's
/// transaction; `false` (nothing deleted) without an enabled record. The record goes first,
/// so a disabled record's codes are never touched when there is nothing to delete; the codes
/// are deleted explicitly even though the foreign key cascades.
async fn delete_enabled(txn: &DatabaseTransaction, user: UserId) -> Result<bool, sea_orm::DbErr> {
    let deleted = two_factor::Entity::delete_many()
        .filter(two_factor::Column::UserId.eq(user.get()))
        .filter(two_factor::Column::EnabledAt.is_not_null())
        .exec(txn)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Ok(false);
    }
    code::Entity::delete_many()
        .filter(code::Column::UserId.eq(user.get()))
        .exec(txn)
        .await?;
    Ok(true)
}

/// Deletes the user's record and backup codes whatever their state, inside the caller's
/// transaction (a hard delete of the user).
pub(crate) async fn delete_all_in(
    txn: &DatabaseTransaction,
    user: UserId,
) -> Result<(), sea_orm::DbErr> {
    code::Entity::delete_many()
        .filter(code::Column::UserId.eq(user.get()))
        .exec(txn)
        .await?;
    two_factor::Entity::delete_many()
        .filter(two_factor::Column::UserId.eq(user.get()))
        .exec(txn)
        .await?;
    Ok(())
}

#[async_trait]
impl TwoFactorRepository for SeaTwoFactorRepository {
    async fn find(&self, user: UserId) -> Result<Option<TwoFactorRecord>, RepoError> {
        let found = two_factor::Entity::find_by_id(user.get())
            .one(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read a two-factor record"))?;
        Ok(found.map(record))
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn begin_setup(
        &self,
        user: UserId,
        secret: &TotpSecret,
        code_hashes: &[String],
        now: i64,
    ) -> Result<(), BeginSetupError> {
        txn::write(
            &self.db,
            "failed to store a two-factor setup",
            async |txn| {
                let existing = two_factor::Entity::find_by_id(user.get())
                    .lock_exclusive()
                    .one(txn)
                    .await?;
                if existing.as_ref().is_some_and(|r| r.enabled_at.is_some()) {
                    return Err(Abort::Refused(BeginSetupError::AlreadyEnabled));
                }
                if existing.is_some() {
                    code::Entity::delete_many()
                        .filter(code::Column::UserId.eq(user.get()))
                        .exec(txn)
                        .await?;
                    two_factor::Entity::delete_by_id(user.get())
                        .exec(txn)
                        .await?;
                }
                two_factor::Entity::insert(two_factor::ActiveModel {
                    user_id: Set(user.get()),
                    secret: Set(secret.expose().to_owned()),
                    enabled_at: Set(None),
                    last_step: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                })
                .exec(txn)
                .await?;
                insert_codes(txn, user, code_hashes, now).await?;
                Ok(())
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn enable(
        &self,
        user: UserId,
        step: i64,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError> {
        txn::write(
            &self.db,
            "failed to enable two-factor authentication",
            async |txn| {
                let changed = two_factor::Entity::update_many()
                    .col_expr(two_factor::Column::EnabledAt, Expr::value(now))
                    .col_expr(two_factor::Column::LastStep, Expr::value(step))
                    .col_expr(two_factor::Column::UpdatedAt, Expr::value(now))
                    .filter(two_factor::Column::UserId.eq(user.get()))
                    .filter(two_factor::Column::EnabledAt.is_null())
                    .filter(step_is_new(step))
                    .exec(txn)
                    .await?
                    .rows_affected;
                if changed != 1 {
                    return Ok::<_, Abort<RepoError>>(false);
                }
                crate::audit::insert(txn, audit).await?;
                Ok(true)
            },
        )
        .await
    }

    async fn claim_step(&self, user: UserId, step: i64, now: i64) -> Result<bool, RepoError> {
        let changed = two_factor::Entity::update_many()
            .col_expr(two_factor::Column::LastStep, Expr::value(step))
            .col_expr(two_factor::Column::UpdatedAt, Expr::value(now))
            .filter(two_factor::Column::UserId.eq(user.get()))
            .filter(two_factor::Column::EnabledAt.is_not_null())
            .filter(step_is_new(step))
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to claim a TOTP step"))?
            .rows_affected;
        Ok(changed == 1)
    }

    async fn unused_backup_codes(&self, user: UserId) -> Result<Vec<StoredBackupCode>, RepoError> {
        // Codes of an enabled record only: a setup's codes count once it is enabled.
        let enabled = Query::select()
            .column(two_factor::Column::UserId)
            .from(two_factor::Entity)
            .and_where(two_factor::Column::UserId.eq(user.get()))
            .and_where(two_factor::Column::EnabledAt.is_not_null())
            .to_owned();
        let rows: Vec<(i64, String)> = code::Entity::find()
            .select_only()
            .column(code::Column::Id)
            .column(code::Column::CodeHash)
            .filter(code::Column::UserId.in_subquery(enabled))
            .filter(code::Column::UsedAt.is_null())
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read backup codes"))?;
        Ok(rows
            .into_iter()
            .map(|(id, hash)| StoredBackupCode { id, hash })
            .collect())
    }

    async fn consume_backup_code(
        &self,
        user: UserId,
        id: i64,
        now: i64,
    ) -> Result<bool, RepoError> {
        let changed = code::Entity::update_many()
            .col_expr(code::Column::UsedAt, Expr::value(now))
            .filter(code::Column::Id.eq(id))
            .filter(code::Column::UserId.eq(user.get()))
            .filter(code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to use a backup code"))?
            .rows_affected;
        Ok(changed == 1)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn replace_backup_codes(
        &self,
        user: UserId,
        code_hashes: &[String],
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError> {
        txn::write(&self.db, "failed to replace backup codes", async |txn| {
            // Touching the enabled record locks it against a concurrent disable.
            let touched = two_factor::Entity::update_many()
                .col_expr(two_factor::Column::UpdatedAt, Expr::value(now))
                .filter(two_factor::Column::UserId.eq(user.get()))
                .filter(two_factor::Column::EnabledAt.is_not_null())
                .exec(txn)
                .await?
                .rows_affected;
            if touched != 1 {
                return Ok::<_, Abort<RepoError>>(false);
            }
            code::Entity::delete_many()
                .filter(code::Column::UserId.eq(user.get()))
                .exec(txn)
                .await?;
            insert_codes(txn, user, code_hashes, now).await?;
            crate::audit::insert(txn, audit).await?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn disable(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError> {
        txn::write(
            &self.db,
            "failed to disable two-factor authentication",
            async |txn| {
                if !delete_enabled(txn, user).await? {
                    return Ok::<_, Abort<RepoError>>(false);
                }
                crate::sessions::revoke_all_in(txn, user, keep, now).await?;
                crate::audit::insert(txn, audit).await?;
                Ok(true)
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn admin_reset(
        &self,
        user: UserId,
        role: Role,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<ResetOutcome, RepoError> {
        txn::write(
            &self.db,
            "failed to reset two-factor authentication",
            async |txn| {
                // The user as the hierarchy saw it, locked until the commit (PostgreSQL,
                // MySQL; SQLite's write transaction already excludes other writers).
                let current: Option<i32> = user::Entity::find_by_id(user.get())
                    .filter(user::Column::DeletedAt.is_null())
                    .select_only()
                    .column(user::Column::Role)
                    .lock_exclusive()
                    .into_tuple()
                    .one(txn)
                    .await?;
                if current != Some(role.code()) {
                    return Ok::<_, Abort<RepoError>>(ResetOutcome::Changed);
                }
                if !delete_enabled(txn, user).await? {
                    return Ok(ResetOutcome::NotEnabled);
                }
                crate::sessions::revoke_all_in(txn, user, None, now).await?;
                crate::audit::insert(txn, audit).await?;
                Ok(ResetOutcome::Reset)
            },
        )
        .await
    }

    async fn counts(&self) -> Result<TwoFactorCounts, RepoError> {
        let live = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::DeletedAt.is_null())
            .to_owned();
        let total_users = user::Entity::find()
            .filter(user::Column::DeletedAt.is_null())
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count users"))?;
        let enabled_users = two_factor::Entity::find()
            .filter(two_factor::Column::EnabledAt.is_not_null())
            .filter(two_factor::Column::UserId.in_subquery(live))
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to count two-factor records"))?;
        Ok(TwoFactorCounts {
            total_users,
            enabled_users,
        })
    }
}
