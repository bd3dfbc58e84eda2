//! [`UserRepository`] over sea-orm.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QuerySelect as _, Select,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::{
    AdminChanges, AdminUpdateError, AdminWriteError, AffTransferError, AffTransferred,
    CreateUserError, SetAccessTokenError, StateChange, UpdateProfileError, UserQuery,
    UserRepository,
};
use tollgate_domain::user::INVITER_REWARD_WINDOW_SECS;
use tollgate_domain::{
    Account, LedgerEntry, LedgerKind, NewUser, Page, PageRequest, ProfileChanges, RepoError, Role,
    TokenHash, User, UserId, UserStatus, Username,
};

use crate::begin_write;
use crate::entities::{ledger, user};
use crate::error::{finish, is_unique_violation, rollback, unexpected, unix_now};
use crate::ledger::{ApplyError, apply_entry};

impl TryFrom<user::Model> for User {
    type Error = anyhow::Error;

    /// Fails on a role or status code the domain does not know, instead of guessing.
    fn try_from(m: user::Model) -> Result<Self, Self::Error> {
        let role = Role::from_code(m.role)
            .ok_or_else(|| anyhow!("user {} has the unknown role code {}", m.id, m.role))?;
        let status = UserStatus::from_code(m.status)
            .ok_or_else(|| anyhow!("user {} has the unknown status code {}", m.id, m.status))?;
        Ok(User {
            id: UserId(m.id),
            username: m.username,
            display_name: m.display_name,
            email: m.email,
            role,
            status,
            group: m.user_group,
            quota: m.quota,
            used_quota: m.used_quota,
            request_count: m.request_count,
            aff_code: m.aff_code,
            aff_count: m.aff_count,
            aff_quota: m.aff_quota,
            aff_history_quota: m.aff_history_quota,
            inviter_id: m.inviter_id.map(UserId),
            setting: m.setting,
            phone: m.phone,
            avatar: m.avatar,
            remark: m.remark,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
            deleted_at: m.deleted_at,
        })
    }
}

/// How many invitations rewarded `inviter` in the window before `now`, counting at most
/// `limit` (enough to decide). A locking read, so MySQL's REPEATABLE READ sees the latest
/// committed rewards rather than an older snapshot.
async fn recent_rewards(
    txn: &DatabaseTransaction,
    inviter: UserId,
    now: i64,
    limit: u32,
) -> Result<u64, anyhow::Error> {
    let since = now.saturating_sub(INVITER_REWARD_WINDOW_SECS);
    let ids: Vec<i64> = ledger::Entity::find()
        .select_only()
        .column(ledger::Column::Id)
        .filter(ledger::Column::UserId.eq(inviter.get()))
        .filter(ledger::Column::Account.eq(Account::AffQuota.as_str()))
        .filter(ledger::Column::Kind.eq(LedgerKind::InviterReward.as_str()))
        .filter(ledger::Column::CreatedAt.gt(since))
        .limit(u64::from(limit))
        .lock_shared()
        .into_tuple()
        .all(txn)
        .await
        .map_err(|e| unexpected(e, "failed to count recent inviter rewards"))?;
    Ok(ids.len() as u64)
}

/// [`UserRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaUserRepository {
    pub(crate) db: DatabaseConnection,
}

/// Why the insert transaction of [`SeaUserRepository::create`] failed.
enum InsertFailure {
    Unique,
    Other(anyhow::Error),
}

impl SeaUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn find_model(
        &self,
        select: Select<user::Entity>,
    ) -> Result<Option<user::Model>, RepoError> {
        Ok(select
            .one(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to read a user"))?)
    }

    async fn find_user(&self, select: Select<user::Entity>) -> Result<Option<User>, RepoError> {
        self.find_model(select)
            .await?
            .map(User::try_from)
            .transpose()
            .map_err(RepoError)
    }

    /// Inserts the user and its signup bonus; returns the new id.
    async fn insert(&self, txn: &DatabaseTransaction, new: &NewUser) -> Result<i64, InsertFailure> {
        let now = unix_now();
        let row = user::ActiveModel {
            id: NotSet,
            username: Set(new.username.as_str().to_owned()),
            password_hash: Set(new.password_hash.clone()),
            display_name: Set(new.display_name.clone()),
            role: Set(new.role.code()),
            status: Set(UserStatus::Enabled.code()),
            email: Set(new.email.clone()),
            user_group: Set(new.group.clone()),
            quota: Set(0),
            used_quota: Set(0),
            request_count: Set(0),
            aff_code: Set(Some(new.aff_code.clone()).filter(|c| !c.is_empty())),
            aff_count: Set(0),
            aff_quota: Set(0),
            aff_history_quota: Set(0),
            inviter_id: Set(new.invitation.map(|i| i.inviter_id.get())),
            setting: Set(new.setting.clone()),
            access_token_hash: Set(None),
            phone: Set(None),
            avatar: Set(None),
            remark: Set(None),
            created_at: Set(new.created_at),
            updated_at: Set(now),
            last_login_at: Set(None),
            deleted_at: Set(None),
            username_key: Set(Some(new.username.key().to_owned())),
        };
        let id = match user::Entity::insert(row).exec(txn).await {
            Ok(res) => res.last_insert_id,
            Err(e) if is_unique_violation(&e) => return Err(InsertFailure::Unique),
            Err(e) => {
                return Err(InsertFailure::Other(unexpected(
                    e,
                    "failed to insert a user",
                )));
            }
        };
        let apply = |entry: Result<LedgerEntry, _>| async move {
            let entry = entry.map_err(|e| InsertFailure::Other(anyhow::Error::new(e)))?;
            apply_entry(txn, &entry, new.created_at)
                .await
                .map_err(|e| match e {
                    ApplyError::Db(e) => InsertFailure::Other(e),
                    other => {
                        InsertFailure::Other(anyhow!("registration credit refused: {other:?}"))
                    }
                })
        };
        let invitee = UserId(id);
        if let Some(entry) = &new.audit {
            let entry = AuditEntry {
                target_id: Some(invitee),
                ..entry.clone()
            };
            crate::audit::insert(txn, &entry)
                .await
                .map_err(|e| InsertFailure::Other(unexpected(e, "failed to audit a new user")))?;
        }
        if new.initial_quota > 0 {
            apply(LedgerEntry::signup_bonus(invitee, new.initial_quota)).await?;
        }
        if let Some(inv) = new.invitation {
            // Nobody can invite themselves (the ids differ by construction; checked anyway).
            if inv.inviter_id == invitee {
                return Err(InsertFailure::Other(anyhow!(
                    "a user cannot invite themselves"
                )));
            }
            if inv.invitee_bonus > 0 {
                apply(LedgerEntry::invitee_bonus(invitee, inv.invitee_bonus)).await?;
            }
            // aff_count counts every invitee. This update comes first: its row lock (PostgreSQL,
            // MySQL) serialises the inviter's concurrent invitations, so the count of recent
            // rewards below cannot be raced (SQLite's write transaction already serialises).
            let counted = user::Entity::update_many()
                .col_expr(
                    user::Column::AffCount,
                    Expr::col(user::Column::AffCount).add(1),
                )
                .filter(user::Column::Id.eq(inv.inviter_id.get()))
                .filter(user::Column::DeletedAt.is_null())
                .exec(txn)
                .await
                .map_err(|e| InsertFailure::Other(unexpected(e, "failed to count an invitee")))?;
            if counted.rows_affected != 1 {
                return Err(InsertFailure::Other(anyhow!("the inviter vanished")));
            }
            let rewarded = if inv.inviter_reward > 0 && inv.reward_daily_limit > 0 {
                recent_rewards(txn, inv.inviter_id, new.created_at, inv.reward_daily_limit)
                    .await
                    .map_err(InsertFailure::Other)?
            } else {
                0
            };
            if inv.rewards_inviter(rewarded) {
                apply(LedgerEntry::inviter_reward(
                    inv.inviter_id,
                    invitee,
                    inv.inviter_reward,
                ))
                .await?;
                // aff_history_quota is lifetime rewards (not a balance, so not a ledger account).
                user::Entity::update_many()
                    .col_expr(
                        user::Column::AffHistoryQuota,
                        Expr::col(user::Column::AffHistoryQuota).add(inv.inviter_reward),
                    )
                    .filter(user::Column::Id.eq(inv.inviter_id.get()))
                    .exec(txn)
                    .await
                    .map_err(|e| {
                        InsertFailure::Other(unexpected(e, "failed to record an inviter reward"))
                    })?;
            }
        }
        Ok(id)
    }

    /// Tells which unique key a failed insert broke. Checking which value exists is portable;
    /// constraint names and messages differ across SQLite, PostgreSQL and MySQL.
    async fn classify_unique(&self, new: &NewUser) -> CreateUserError {
        let username_taken = user::Entity::find()
            .filter(username_taken(&new.username))
            .count(&self.db)
            .await;
        match username_taken {
            Ok(n) if n > 0 => return CreateUserError::UsernameTaken,
            Ok(_) => {}
            Err(e) => return unexpected(e, "failed to classify a duplicate user").into(),
        }
        if let Some(email) = &new.email {
            match user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .count(&self.db)
                .await
            {
                Ok(n) if n > 0 => return CreateUserError::EmailTaken,
                Ok(_) => {}
                Err(e) => return unexpected(e, "failed to classify a duplicate user").into(),
            }
        }
        let aff_taken = user::Entity::find()
            .filter(user::Column::AffCode.eq(new.aff_code.as_str()))
            .count(&self.db)
            .await;
        match aff_taken {
            Ok(n) if n > 0 => CreateUserError::AffCodeTaken,
            Ok(_) => {
                anyhow!("a user insert broke a unique key other than username, e-mail and aff code")
                    .into()
            }
            Err(e) => unexpected(e, "failed to classify a duplicate user").into(),
        }
    }

    /// Runs `UPDATE users SET <col> = <value>, updated_at = now WHERE id = ?`.
    async fn update_column(
        &self,
        id: UserId,
        column: user::Column,
        value: sea_orm::Value,
    ) -> Result<(), sea_orm::DbErr> {
        let res = user::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
            .filter(user::Column::Id.eq(id.get()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Err(sea_orm::DbErr::RecordNotUpdated);
        }
        Ok(())
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    #[tracing::instrument(skip_all)]
    async fn create(&self, new: &NewUser) -> Result<User, CreateUserError> {
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let id = match self.insert(&txn, new).await {
            Ok(id) => id,
            Err(failure) => {
                rollback(txn).await;
                return Err(match failure {
                    InsertFailure::Unique => self.classify_unique(new).await,
                    InsertFailure::Other(e) => e.into(),
                });
            }
        };
        txn.commit()
            .await
            .map_err(|e| unexpected(e, "failed to commit a new user"))?;
        self.find_user(user::Entity::find_by_id(id))
            .await
            .map_err(|RepoError(e)| e)?
            .ok_or_else(|| anyhow!("the new user {id} vanished").into())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        self.find_user(user::Entity::find_by_id(id.get())).await
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<User>, RepoError> {
        self.find_user(user::Entity::find().filter(user::Column::Username.eq(username)))
            .await
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<(User, String)>, RepoError> {
        let by_username = user::Entity::find()
            .filter(user::Column::Username.eq(login))
            .filter(user::Column::DeletedAt.is_null());
        let model = self.find_model(by_username).await?;
        model
            .map(|m| {
                let hash = m.password_hash.clone();
                User::try_from(m).map(|u| (u, hash))
            })
            .transpose()
            .map_err(RepoError)
    }

    async fn find_by_access_token(&self, hash: &TokenHash) -> Result<Option<User>, RepoError> {
        self.find_user(
            user::Entity::find()
                .filter(user::Column::AccessTokenHash.eq(hash.as_str()))
                .filter(user::Column::DeletedAt.is_null()),
        )
        .await
    }

    async fn root_exists(&self) -> Result<bool, RepoError> {
        let roots = user::Entity::find()
            .filter(user::Column::Role.eq(Role::Root.code()))
            .filter(user::Column::DeletedAt.is_null())
            .count(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to look for a root user"))?;
        Ok(roots > 0)
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn set_access_token(
        &self,
        id: UserId,
        hash: &TokenHash,
        audit: &AuditEntry,
    ) -> Result<(), SetAccessTokenError> {
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
            let res = user::Entity::update_many()
                .col_expr(user::Column::AccessTokenHash, Expr::value(hash.as_str()))
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
                .filter(user::Column::Id.eq(id.get()))
                .exec(&txn)
                .await?;
            if res.rows_affected != 1 {
                return Err(sea_orm::DbErr::RecordNotUpdated);
            }
            crate::audit::insert(&txn, audit).await?;
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => txn
                .commit()
                .await
                .map_err(|e| unexpected(e, "failed to commit an access token").into()),
            Err(e) => {
                rollback(txn).await;
                Err(if is_unique_violation(&e) {
                    SetAccessTokenError::Collision
                } else {
                    unexpected(e, "failed to set an access token").into()
                })
            }
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), RepoError> {
        self.update_column(id, user::Column::PasswordHash, hash.into())
            .await
            .map_err(|e| unexpected(e, "failed to set a password hash").into())
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn record_login(&self, id: UserId, at: i64) -> Result<(), RepoError> {
        self.update_column(id, user::Column::LastLoginAt, at.into())
            .await
            .map_err(|e| unexpected(e, "failed to record a login").into())
    }

    async fn find_password_hash(&self, id: UserId) -> Result<Option<String>, RepoError> {
        Ok(self
            .find_model(
                user::Entity::find_by_id(id.get()).filter(user::Column::DeletedAt.is_null()),
            )
            .await?
            .map(|m| m.password_hash))
    }

    async fn find_inviter(&self, code: &str) -> Result<Option<User>, RepoError> {
        self.find_user(
            user::Entity::find()
                .filter(user::Column::AffCode.eq(code))
                .filter(user::Column::DeletedAt.is_null())
                .filter(user::Column::Status.eq(UserStatus::Enabled.code())),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn set_aff_code_if_missing(
        &self,
        id: UserId,
        code: &str,
    ) -> Result<String, CreateUserError> {
        let res = user::Entity::update_many()
            .col_expr(user::Column::AffCode, Expr::value(code))
            .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
            .filter(user::Column::Id.eq(id.get()))
            .filter(user::Column::AffCode.is_null())
            .exec(&self.db)
            .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(CreateUserError::AffCodeTaken),
            Err(e) => return Err(unexpected(e, "failed to set an invitation code").into()),
        }
        // Whoever won (this request or a concurrent one), the stored code is the answer.
        self.find_model(user::Entity::find_by_id(id.get()))
            .await
            .map_err(|RepoError(e)| e)?
            .and_then(|m| m.aff_code)
            .ok_or_else(|| anyhow!("user {id} has no invitation code after setting one").into())
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn update_profile(
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
            update = update.col_expr(user::Column::Email, Expr::value(email.clone()));
        }
        if let Some(phone) = &changes.phone {
            update = update.col_expr(user::Column::Phone, Expr::value(phone.clone()));
        }
        if let Some(avatar) = &changes.avatar {
            update = update.col_expr(user::Column::Avatar, Expr::value(avatar.clone()));
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

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn set_setting(&self, id: UserId, setting: &str) -> Result<(), RepoError> {
        self.update_column(id, user::Column::Setting, setting.into())
            .await
            .map_err(|e| unexpected(e, "failed to save settings").into())
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn soft_delete(
        &self,
        id: UserId,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
            let res = user::Entity::update_many()
                .col_expr(user::Column::DeletedAt, Expr::value(now))
                .col_expr(
                    user::Column::AccessTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
                .filter(user::Column::Id.eq(id.get()))
                .filter(user::Column::DeletedAt.is_null())
                .exec(&txn)
                .await?;
            if res.rows_affected != 1 {
                return Ok(false);
            }
            crate::sessions::revoke_all_in(&txn, id, None, now).await?;
            crate::audit::insert(&txn, audit).await?;
            Ok::<_, sea_orm::DbErr>(true)
        }
        .await;
        Ok(finish(txn, outcome, "failed to delete a user").await?)
    }

    #[tracing::instrument(skip_all, fields(user_id = %id, amount))]
    async fn transfer_aff_quota(
        &self,
        id: UserId,
        amount: i64,
        reference: &str,
        now: i64,
    ) -> Result<AffTransferred, AffTransferError> {
        let [out, into] = LedgerEntry::aff_transfer(id, amount, reference)
            .map_err(|_| AffTransferError::BelowMinimum { min: 1 })?;
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
            let aff_quota = apply_entry(&txn, &out, now).await?;
            let quota = apply_entry(&txn, &into, now).await?;
            Ok::<_, ApplyError>(AffTransferred { quota, aff_quota })
        }
        .await;
        match outcome {
            Ok(done) => {
                txn.commit()
                    .await
                    .map_err(|e| unexpected(e, "failed to commit a transfer"))?;
                Ok(done)
            }
            Err(e) => {
                rollback(txn).await;
                Err(match e {
                    ApplyError::Insufficient => AffTransferError::Insufficient,
                    ApplyError::Overflow => AffTransferError::Overflow,
                    ApplyError::UserMissing => AffTransferError::NotFound,
                    ApplyError::AlreadyApplied => {
                        anyhow!("transfer reference {reference} was already used").into()
                    }
                    ApplyError::Db(e) => AffTransferError::Unexpected(e),
                })
            }
        }
    }

    async fn search(&self, query: &UserQuery, page: PageRequest) -> Result<Page<User>, RepoError> {
        self.search_users(query, page).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %seen.id))]
    async fn admin_update(
        &self,
        seen: &User,
        changes: &AdminChanges,
        actor: UserId,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<User, AdminUpdateError> {
        let id = seen.id;
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        match self
            .admin_update_in(&txn, seen, changes, actor, audit, now)
            .await
        {
            Ok(()) => {
                txn.commit()
                    .await
                    .map_err(|e| unexpected(e, "failed to commit an admin update"))?;
            }
            Err(e) => {
                rollback(txn).await;
                return Err(e);
            }
        }
        self.find_user(user::Entity::find_by_id(id.get()))
            .await
            .map_err(|RepoError(e)| e)?
            .ok_or(AdminUpdateError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(user_id = %seen.id))]
    async fn admin_set_state(
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
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
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
            let res = update.exec(&txn).await?;
            if res.rows_affected != 1 {
                return Ok(Err(why_unchanged(&txn, id).await?));
            }
            if revoke {
                crate::sessions::revoke_all_in(&txn, id, None, now).await?;
            }
            crate::audit::insert(&txn, audit).await?;
            Ok::<_, sea_orm::DbErr>(Ok(()))
        }
        .await;
        finish_checked(txn, outcome, "failed to change a user's state").await?;
        Ok(self
            .find_user(user::Entity::find_by_id(id.get()))
            .await?
            .ok_or_else(|| RepoError::msg(format!("user {id} vanished after a state change")))?)
    }

    #[tracing::instrument(skip_all, fields(user_id = %seen.id))]
    async fn hard_delete(&self, seen: &User, audit: &AuditEntry) -> Result<(), AdminWriteError> {
        let id = seen.id;
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
            // Rolled back with the rest when the compare-and-set below refuses.
            crate::entities::session::Entity::delete_many()
                .filter(crate::entities::session::Column::UserId.eq(id.get()))
                .exec(&txn)
                .await?;
            let res = unchanged_since(user::Entity::delete_many(), seen)
                .filter(user::Column::Username.eq(seen.username.as_str()))
                .exec(&txn)
                .await?;
            if res.rows_affected != 1 {
                return Ok(Err(why_unchanged(&txn, id).await?));
            }
            // The row is gone: the entry keeps the role it had (the state the delete matched).
            let audit = AuditEntry {
                target_role: audit.target_role.or(Some(seen.role)),
                ..audit.clone()
            };
            crate::audit::insert(&txn, &audit).await?;
            Ok::<_, sea_orm::DbErr>(Ok(()))
        }
        .await;
        finish_checked(txn, outcome, "failed to delete a user").await
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<i64>,
        revoke_token: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), RepoError> {
        let txn = begin_write(&self.db)
            .await
            .map_err(|e| unexpected(e, "failed to begin a transaction"))?;
        let outcome = async {
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
            if update.exec(&txn).await?.rows_affected != 1 {
                return Ok(false);
            }
            crate::sessions::revoke_all_in(&txn, id, keep, now).await?;
            crate::audit::insert(&txn, audit).await?;
            Ok::<_, sea_orm::DbErr>(true)
        }
        .await;
        // `false`: the user row was gone and nothing was written.
        if !finish(txn, outcome, "failed to change a password").await? {
            return Err(RepoError::msg(format!(
                "user {id} not found for a password change"
            )));
        }
        Ok(())
    }
}

/// Rows a new `username` collides with: the same name, or the same canonical key (issue 7.6).
fn username_taken(username: &Username) -> Condition {
    Condition::any()
        .add(user::Column::Username.eq(username.as_str()))
        .add(user::Column::UsernameKey.eq(username.key()))
}

impl SeaUserRepository {
    /// The body of [`UserRepository::admin_update`], inside its transaction.
    async fn admin_update_in(
        &self,
        txn: &DatabaseTransaction,
        seen: &User,
        changes: &AdminChanges,
        actor: UserId,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<(), AdminUpdateError> {
        let id = seen.id;
        let db_err = |e: sea_orm::DbErr| {
            AdminUpdateError::Unexpected(unexpected(e, "failed to update a user"))
        };
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
        match update.exec(txn).await {
            Ok(res) if res.rows_affected == 1 => {}
            Ok(_) => {
                return Err(match why_unchanged(txn, id).await.map_err(db_err)? {
                    AdminWriteError::NotFound => AdminUpdateError::NotFound,
                    _ => AdminUpdateError::Changed,
                });
            }
            Err(e) if is_unique_violation(&e) => return Err(AdminUpdateError::UsernameTaken),
            Err(e) => return Err(db_err(e)),
        }
        if changes.password_hash.is_some() {
            crate::sessions::revoke_all_in(txn, id, None, now)
                .await
                .map_err(db_err)?;
        }
        // The stored quota at this moment (locked), not the one the admin saw: concurrent
        // spending between the admin's read and this write is never overwritten, and the
        // audit records the real old value.
        let current_quota = match changes.quota {
            Some(_) => Some(
                user::Entity::find_by_id(id.get())
                    .lock_exclusive()
                    .one(txn)
                    .await
                    .map_err(db_err)?
                    .ok_or(AdminUpdateError::NotFound)?
                    .quota,
            ),
            None => None,
        };
        let mut quota_audit_id = None;
        for entry in audit {
            let mut entry = entry.clone();
            let is_quota = entry.action == tollgate_domain::audit::AuditAction::QuotaChanged;
            if let (true, Some(current)) = (is_quota, current_quota) {
                entry.before = Some(serde_json::json!({ "quota": current }));
            }
            let audit_id = crate::audit::insert(txn, &entry).await.map_err(db_err)?;
            if is_quota {
                quota_audit_id = Some(audit_id);
            }
        }
        if let (Some(new_quota), Some(current)) = (changes.quota, current_quota) {
            let audit_id = quota_audit_id.ok_or_else(|| {
                AdminUpdateError::Unexpected(anyhow!("a quota change needs its audit record"))
            })?;
            let delta = new_quota
                .checked_sub(current)
                .ok_or(AdminUpdateError::QuotaOutOfRange)?;
            if delta != 0 {
                let entry = LedgerEntry::admin_adjustment(id, delta, actor, audit_id)
                    .map_err(|_| AdminUpdateError::QuotaOutOfRange)?;
                apply_entry(txn, &entry, now).await.map_err(|e| match e {
                    ApplyError::Db(e) => AdminUpdateError::Unexpected(e),
                    ApplyError::UserMissing => AdminUpdateError::NotFound,
                    _ => AdminUpdateError::QuotaOutOfRange,
                })?;
            }
        }
        Ok(())
    }
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

/// Ends an admin write transaction: commits when the work succeeded, rolls back when it
/// failed or its compare-and-set refused (nothing of it is kept).
async fn finish_checked<T>(
    txn: DatabaseTransaction,
    outcome: Result<Result<T, AdminWriteError>, sea_orm::DbErr>,
    what: &'static str,
) -> Result<T, AdminWriteError> {
    match outcome {
        Ok(Ok(value)) => {
            txn.commit().await.map_err(|e| unexpected(e, what))?;
            Ok(value)
        }
        Ok(Err(refused)) => {
            rollback(txn).await;
            Err(refused)
        }
        Err(e) => {
            rollback(txn).await;
            Err(unexpected(e, what).into())
        }
    }
}
