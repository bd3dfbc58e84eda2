//! What a user does to their own account: access token, profile, password, aff transfer and
//! deletion.

use anyhow::anyhow;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, DbErr, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::{
    AffTransferError, AffTransferred, SetAccessTokenError, UpdateProfileError,
};
use tollgate_domain::{LedgerEntry, ProfileChanges, RepoError, SessionId, TokenHash, User, UserId};

use super::{SeaUserRepository, stored_text, username_taken};
use crate::entities::user;
use crate::error::{is_unique_violation, unexpected, unix_now};
use crate::ledger::{ApplyError, apply_entry};
use crate::txn::{self, Abort};

impl SeaUserRepository {
    pub(super) async fn store_access_token(
        &self,
        id: UserId,
        hash: &TokenHash,
        audit: &AuditEntry,
    ) -> Result<(), SetAccessTokenError> {
        txn::write(&self.db, "failed to set an access token", async |txn| {
            let res = user::Entity::update_many()
                .col_expr(user::Column::AccessTokenHash, Expr::value(hash.as_str()))
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
                .filter(user::Column::Id.eq(id.get()))
                .exec(txn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Abort::Refused(SetAccessTokenError::Collision)
                    } else {
                        Abort::Db(e)
                    }
                })?;
            if res.rows_affected != 1 {
                return Err(DbErr::RecordNotUpdated.into());
            }
            crate::audit::insert(txn, audit).await?;
            Ok(())
        })
        .await
    }

    pub(super) async fn apply_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<User, UpdateProfileError> {
        let mut update = user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
            .filter(user::Column::Id.eq(id.get()))
            .filter(user::Column::DeletedAt.is_null());
        if let Some(username) = &changes.username {
            update = update
                .col_expr(user::Column::Username, Expr::value(username.as_str()))
                .col_expr(user::Column::UsernameKey, Expr::value(username.key()));
        }
        if let Some(name) = &changes.display_name {
            update = update.col_expr(user::Column::DisplayName, Expr::value(name.as_str()));
        }
        if let Some(email) = &changes.email {
            update = update.col_expr(
                user::Column::Email,
                Expr::value(stored_text(email.as_ref())),
            );
        }
        if let Some(phone) = &changes.phone {
            update = update.col_expr(
                user::Column::Phone,
                Expr::value(stored_text(phone.as_ref())),
            );
        }
        if let Some(avatar) = &changes.avatar {
            update = update.col_expr(
                user::Column::Avatar,
                Expr::value(stored_text(avatar.as_ref())),
            );
        }
        match update.exec(&self.db).await {
            Ok(res) if res.rows_affected == 1 => {}
            Ok(_) => return Err(UpdateProfileError::NotFound),
            Err(e) if is_unique_violation(&e) => {
                // Portable classification: which requested value belongs to someone else?
                if let Some(username) = &changes.username {
                    let taken = user::Entity::find()
                        .filter(username_taken(username))
                        .filter(user::Column::Id.ne(id.get()))
                        .count(&self.db)
                        .await
                        .map_err(|e| unexpected(e, "failed to classify a profile conflict"))?;
                    if taken > 0 {
                        return Err(UpdateProfileError::UsernameTaken);
                    }
                }
                if matches!(changes.email, Some(Some(_))) {
                    return Err(UpdateProfileError::EmailTaken);
                }
                return Err(unexpected(e, "a profile update broke a unique key").into());
            }
            Err(e) => return Err(unexpected(e, "failed to update a profile").into()),
        }
        self.find_user(user::Entity::find_by_id(id.get()))
            .await
            .map_err(|RepoError(e)| e)?
            .ok_or(UpdateProfileError::NotFound)
    }

    /// `false` when the user was already gone (nothing is written).
    pub(super) async fn delete_own_account(
        &self,
        id: UserId,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError> {
        txn::write(&self.db, "failed to delete a user", async |txn| {
            let res = user::Entity::update_many()
                .col_expr(user::Column::DeletedAt, Expr::value(now))
                .col_expr(
                    user::Column::AccessTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
                .filter(user::Column::Id.eq(id.get()))
                .filter(user::Column::DeletedAt.is_null())
                .exec(txn)
                .await?;
            if res.rows_affected != 1 {
                return Ok(false);
            }
            crate::sessions::revoke_all_in(txn, id, None, now).await?;
            crate::audit::insert(txn, audit).await?;
            Ok(true)
        })
        .await
    }

    pub(super) async fn move_aff_quota(
        &self,
        id: UserId,
        amount: i64,
        reference: &str,
        now: i64,
    ) -> Result<AffTransferred, AffTransferError> {
        let [out, into] = LedgerEntry::aff_transfer(id, amount, reference)
            .map_err(|_| AffTransferError::BelowMinimum { min: 1 })?;
        let refused = |e: ApplyError| {
            Abort::Refused(match e {
                ApplyError::Insufficient => AffTransferError::Insufficient,
                ApplyError::Overflow => AffTransferError::Overflow,
                ApplyError::UserMissing => AffTransferError::NotFound,
                ApplyError::AlreadyApplied => {
                    anyhow!("transfer reference {reference} was already used").into()
                }
                ApplyError::Db(e) => AffTransferError::Unexpected(e),
            })
        };
        txn::write(&self.db, "failed to transfer aff quota", async |txn| {
            let aff_quota = apply_entry(txn, &out, now).await.map_err(refused)?;
            let quota = apply_entry(txn, &into, now).await.map_err(refused)?;
            Ok(AffTransferred { quota, aff_quota })
        })
        .await
    }

    pub(super) async fn replace_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<SessionId>,
        revoke_token: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), RepoError> {
        txn::write(&self.db, "failed to change a password", async |txn| {
            let mut update = user::Entity::update_many()
                .col_expr(user::Column::PasswordHash, Expr::value(hash))
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
                .filter(user::Column::Id.eq(id.get()))
                .filter(user::Column::DeletedAt.is_null());
            if revoke_token {
                update = update.col_expr(
                    user::Column::AccessTokenHash,
                    Expr::value(Option::<String>::None),
                );
            }
            if update.exec(txn).await?.rows_affected != 1 {
                return Err(Abort::Refused(RepoError::msg(format!(
                    "user {id} not found for a password change"
                ))));
            }
            crate::sessions::revoke_all_in(txn, id, keep, now).await?;
            crate::audit::insert(txn, audit).await?;
            Ok(())
        })
        .await
    }
}
