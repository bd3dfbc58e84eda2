//! Registration: the user row, its signup bonus and its invitation, in one transaction.

use anyhow::anyhow;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, DatabaseTransaction, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QuerySelect as _,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::CreateUserError;
use tollgate_domain::user::INVITER_REWARD_WINDOW_SECS;
use tollgate_domain::{
    Account, LedgerEntry, LedgerKind, NewUser, RepoError, Role, User, UserId, UserStatus,
};

use super::{SeaUserRepository, stored_text, username_taken};
use crate::entities::{app_secret, ledger, user};
use crate::error::{is_unique_violation, unexpected, unix_now};
use crate::ledger::{ApplyError, apply_entry};
use crate::txn::{self, Abort};

/// Why the insert transaction of [`SeaUserRepository::create_user`] failed.
enum InsertFailure {
    /// A unique key was broken; which one is told after the rollback.
    Unique,
    /// A root was to be created while a live one exists.
    RootExists,
    Other(anyhow::Error),
}

/// The `app_secrets` row that serialises root creations (its value is unused).
const ROOT_CREATION_LOCK: &str = "lock:root_creation";

impl From<anyhow::Error> for InsertFailure {
    fn from(err: anyhow::Error) -> Self {
        Self::Other(err)
    }
}

impl SeaUserRepository {
    pub(super) async fn create_user(&self, new: &NewUser) -> Result<User, CreateUserError> {
        let inserted = txn::write(&self.db, "failed to insert a user", async |txn| {
            insert(txn, new).await
        })
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(InsertFailure::Unique) => return Err(self.classify_unique(new).await),
            Err(InsertFailure::RootExists) => return Err(CreateUserError::RootExists),
            Err(InsertFailure::Other(e)) => return Err(e.into()),
        };
        self.find_user(user::Entity::find_by_id(id))
            .await
            .map_err(|RepoError(e)| e)?
            .ok_or_else(|| anyhow!("the new user {id} vanished").into())
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

    pub(super) async fn store_aff_code_if_missing(
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
}

/// Inserts the user, its audit record, its signup bonus and its invitation; returns the new id.
async fn insert(txn: &DatabaseTransaction, new: &NewUser) -> Result<i64, Abort<InsertFailure>> {
    if new.role == Role::Root && root_exists_locked(txn).await? {
        return Err(Abort::Refused(InsertFailure::RootExists));
    }
    let row = user::ActiveModel {
        id: NotSet,
        username: Set(new.username.as_str().to_owned()),
        password_hash: Set(new.password_hash.clone()),
        display_name: Set(new.display_name.to_string()),
        role: Set(new.role.code()),
        status: Set(UserStatus::Enabled.code()),
        email: Set(stored_text(new.email.as_ref())),
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
        updated_at: Set(unix_now()),
        last_login_at: Set(None),
        deleted_at: Set(None),
        username_key: Set(Some(new.username.key().to_owned())),
    };
    let id = user::Entity::insert(row)
        .exec(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Abort::Refused(InsertFailure::Unique)
            } else {
                Abort::Db(e)
            }
        })?
        .last_insert_id;
    let apply = async |entry: Result<LedgerEntry, _>| -> Result<i64, Abort<InsertFailure>> {
        let entry = entry.map_err(anyhow::Error::new)?;
        apply_entry(txn, &entry, new.created_at)
            .await
            .map_err(|e| match e {
                ApplyError::Db(e) => e,
                other => anyhow!("registration credit refused: {other:?}"),
            })
            .map_err(Abort::Unexpected)
    };
    let invitee = UserId::new(id);
    if let Some(entry) = &new.audit {
        let entry = AuditEntry {
            target_id: Some(invitee),
            ..entry.clone()
        };
        crate::audit::insert(txn, &entry).await?;
    }
    if new.initial_quota > 0 {
        apply(LedgerEntry::signup_bonus(invitee, new.initial_quota)).await?;
    }
    let Some(inv) = new.invitation else {
        return Ok(id);
    };
    // Nobody can invite themselves (the ids differ by construction; checked anyway).
    if inv.inviter_id == invitee {
        return Err(anyhow!("a user cannot invite themselves").into());
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
        .await?;
    if counted.rows_affected != 1 {
        return Err(anyhow!("the inviter vanished").into());
    }
    let rewarded = if inv.inviter_reward > 0 && inv.reward_daily_limit > 0 {
        recent_rewards(txn, inv.inviter_id, new.created_at, inv.reward_daily_limit).await?
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
            .await?;
    }
    Ok(id)
}

/// Whether a live root exists, asked after taking the root-creation lock: on PostgreSQL and
/// MySQL a second creation waits here until the first commits, then sees its root (a locking
/// read, so MySQL's REPEATABLE READ reads the latest rows); SQLite's write transaction
/// already serialises. Root creations therefore make at most one root, whatever the names.
async fn root_exists_locked(txn: &DatabaseTransaction) -> Result<bool, sea_orm::DbErr> {
    let lock = app_secret::ActiveModel {
        name: Set(ROOT_CREATION_LOCK.to_owned()),
        value: Set(String::new()),
        created_at: Set(unix_now()),
    };
    app_secret::Entity::insert(lock)
        .on_conflict(
            OnConflict::column(app_secret::Column::Name)
                .do_nothing_on([app_secret::Column::Name])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    app_secret::Entity::find_by_id(ROOT_CREATION_LOCK.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?;
    let root: Option<i64> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Root.code()))
        .filter(user::Column::DeletedAt.is_null())
        .limit(1)
        .lock_shared()
        .into_tuple()
        .one(txn)
        .await?;
    Ok(root.is_some())
}

/// How many invitations rewarded `inviter` in the window before `now`, counting at most
/// `limit` (enough to decide). A locking read, so MySQL's REPEATABLE READ sees the latest
/// committed rewards rather than an older snapshot.
async fn recent_rewards(
    txn: &DatabaseTransaction,
    inviter: UserId,
    now: i64,
    limit: u32,
) -> Result<u64, sea_orm::DbErr> {
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
        .await?;
    Ok(ids.len() as u64)
}
