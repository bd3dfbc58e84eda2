//! Admin writes: compare-and-set on the state the admin read, so a write never applies to a
//! user whose role, status or audited fields moved since.

use anyhow::anyhow;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, DatabaseTransaction, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QuerySelect as _,
};
use tollgate_domain::audit::{AuditAction, AuditEntry};
use tollgate_domain::ports::{AdminChanges, AdminUpdateError, AdminWriteError, StateChange};
use tollgate_domain::{LedgerEntry, RepoError, User, UserId};

use super::SeaUserRepository;
use crate::entities::{session, user};
use crate::error::{is_unique_violation, unix_now};
use crate::ledger::{ApplyError, apply_entry};
use crate::txn::{self, Abort};

impl SeaUserRepository {
    pub(super) async fn admin_edit(
        &self,
        seen: &User,
        changes: &AdminChanges,
        actor: UserId,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<User, AdminUpdateError> {
        txn::write(&self.db, "failed to update a user", async |txn| {
            admin_update_in(txn, seen, changes, actor, audit, now).await
        })
        .await?;
        self.find_user(user::Entity::find_by_id(seen.id.get()))
            .await
            .map_err(|RepoError(e)| e)?
            .ok_or(AdminUpdateError::NotFound)
    }

    pub(super) async fn admin_state(
        &self,
        seen: &User,
        change: &StateChange,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<User, AdminWriteError> {
        let id = seen.id;
        let StateChange {
            role,
            status,
            delete,
            revoke,
        } = *change;
        txn::write(&self.db, "failed to change a user's state", async |txn| {
            let mut update = unchanged_since(user::Entity::update_many(), seen)
                .col_expr(user::Column::Role, Expr::value(role.code()))
                .col_expr(user::Column::Status, Expr::value(status.code()))
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()));
            if delete {
                update = update.col_expr(user::Column::DeletedAt, Expr::value(now));
            }
            if revoke {
                update = update.col_expr(
                    user::Column::AccessTokenHash,
                    Expr::value(Option::<String>::None),
                );
            }
            if update.exec(txn).await?.rows_affected != 1 {
                return Err(Abort::Refused(why_unchanged(txn, id).await?));
            }
            if revoke {
                crate::sessions::revoke_all_in(txn, id, None, now).await?;
            }
            crate::audit::insert(txn, audit).await?;
            Ok(())
        })
        .await?;
        Ok(self
            .find_user(user::Entity::find_by_id(id.get()))
            .await?
            .ok_or_else(|| RepoError::msg(format!("user {id} vanished after a state change")))?)
    }

    pub(super) async fn admin_delete(
        &self,
        seen: &User,
        audit: &AuditEntry,
    ) -> Result<(), AdminWriteError> {
        let id = seen.id;
        txn::write(&self.db, "failed to delete a user", async |txn| {
            // Rolled back with the rest when the compare-and-set below refuses.
            session::Entity::delete_many()
                .filter(session::Column::UserId.eq(id.get()))
                .exec(txn)
                .await?;
            // Two-factor rows too (their foreign keys cascade as well): no orphans.
            crate::two_factor::delete_all_in(txn, id).await?;
            let res = unchanged_since(user::Entity::delete_many(), seen)
                .filter(user::Column::Username.eq(seen.username.as_str()))
                .exec(txn)
                .await?;
            if res.rows_affected != 1 {
                return Err(Abort::Refused(why_unchanged(txn, id).await?));
            }
            // The row is gone: the entry keeps the role it had (the state the delete matched).
            let audit = AuditEntry {
                target_role: audit.target_role.or(Some(seen.role)),
                ..audit.clone()
            };
            crate::audit::insert(txn, &audit).await?;
            Ok(())
        })
        .await
    }
}

/// The body of [`tollgate_domain::ports::UserRepository::admin_update`], inside its
/// transaction.
async fn admin_update_in(
    txn: &DatabaseTransaction,
    seen: &User,
    changes: &AdminChanges,
    actor: UserId,
    audit: &[AuditEntry],
    now: i64,
) -> Result<(), Abort<AdminUpdateError>> {
    let id = seen.id;
    // Compare-and-set: role and status (the hierarchy check) and the old value of every
    // audited field (the audit's "before").
    let mut update = unchanged_since(user::Entity::update_many(), seen)
        .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()));
    if let Some(u) = &changes.username {
        update = update
            .col_expr(user::Column::Username, Expr::value(u.as_str()))
            .col_expr(user::Column::UsernameKey, Expr::value(u.key()))
            .filter(user::Column::Username.eq(seen.username.as_str()));
    }
    if let Some(d) = &changes.display_name {
        update = update
            .col_expr(user::Column::DisplayName, Expr::value(d.as_str()))
            .filter(user::Column::DisplayName.eq(seen.display_name.as_str()));
    }
    if let Some(g) = &changes.group {
        update = update
            .col_expr(user::Column::UserGroup, Expr::value(g.as_str()))
            .filter(user::Column::UserGroup.eq(seen.group.as_str()));
    }
    if let Some(r) = &changes.remark {
        update = update
            .col_expr(user::Column::Remark, Expr::value(r.as_str()))
            .filter(match &seen.remark {
                Some(old) => user::Column::Remark.eq(old.as_str()),
                None => user::Column::Remark.is_null(),
            });
    }
    if let Some(h) = &changes.password_hash {
        update = update
            .col_expr(user::Column::PasswordHash, Expr::value(h.as_str()))
            .col_expr(
                user::Column::AccessTokenHash,
                Expr::value(Option::<String>::None),
            );
    }
    let res = update.exec(txn).await.map_err(|e| {
        if is_unique_violation(&e) {
            Abort::Refused(AdminUpdateError::UsernameTaken)
        } else {
            Abort::Db(e)
        }
    })?;
    if res.rows_affected != 1 {
        return Err(Abort::Refused(match why_unchanged(txn, id).await? {
            AdminWriteError::NotFound => AdminUpdateError::NotFound,
            _ => AdminUpdateError::Changed,
        }));
    }
    if changes.password_hash.is_some() {
        crate::sessions::revoke_all_in(txn, id, None, now).await?;
    }
    // The stored quota at this moment (locked), not the one the admin saw: concurrent
    // spending between the admin's read and this write is never overwritten, and the
    // audit records the real old value.
    let current_quota = match changes.quota {
        Some(_) => Some(
            user::Entity::find_by_id(id.get())
                .lock_exclusive()
                .one(txn)
                .await?
                .ok_or(Abort::Refused(AdminUpdateError::NotFound))?
                .quota,
        ),
        None => None,
    };
    let mut quota_audit_id = None;
    for entry in audit {
        let mut entry = entry.clone();
        let is_quota = entry.action == AuditAction::QuotaChanged;
        if let (true, Some(current)) = (is_quota, current_quota) {
            entry.before = Some(serde_json::json!({ "quota": current }));
        }
        let audit_id = crate::audit::insert(txn, &entry).await?;
        if is_quota {
            quota_audit_id = Some(audit_id);
        }
    }
    if let (Some(new_quota), Some(current)) = (changes.quota, current_quota) {
        let audit_id =
            quota_audit_id.ok_or_else(|| anyhow!("a quota change needs its audit record"))?;
        let out_of_range = || Abort::Refused(AdminUpdateError::QuotaOutOfRange);
        let delta = new_quota.checked_sub(current).ok_or_else(out_of_range)?;
        if delta != 0 {
            let entry = LedgerEntry::admin_adjustment(id, delta, actor, audit_id)
                .map_err(|_| out_of_range())?;
            apply_entry(txn, &entry, now).await.map_err(|e| match e {
                ApplyError::Db(e) => Abort::Unexpected(e),
                ApplyError::UserMissing => Abort::Refused(AdminUpdateError::NotFound),
                _ => out_of_range(),
            })?;
        }
    }
    Ok(())
}

/// Narrows an admin write to user `seen.id` while it is live and still has `seen`'s role and
/// status: the state its hierarchy check and audit "before" rest on (compare-and-set).
fn unchanged_since<Q: sea_orm::QueryFilter>(query: Q, seen: &User) -> Q {
    query
        .filter(user::Column::Id.eq(seen.id.get()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Role.eq(seen.role.code()))
        .filter(user::Column::Status.eq(seen.status.code()))
}

/// Why a compare-and-set admin write matched no row: the row is gone, or it moved.
async fn why_unchanged(
    txn: &DatabaseTransaction,
    id: UserId,
) -> Result<AdminWriteError, sea_orm::DbErr> {
    let exists = user::Entity::find_by_id(id.get()).count(txn).await? > 0;
    Ok(if exists {
        AdminWriteError::Changed
    } else {
        AdminWriteError::NotFound
    })
}
