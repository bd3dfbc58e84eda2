//! [`UserRepository`] over sea-orm.

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, DatabaseConnection, DatabaseTransaction, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, Select,
};
use tollgate_domain::ports::{CreateUserError, SetAccessTokenError, UserRepository};
use tollgate_domain::{LedgerEntry, NewUser, RepoError, Role, TokenHash, User, UserId, UserStatus};

use crate::begin_write;
use crate::entities::user;
use crate::error::{is_unique_violation, rollback, unexpected, unix_now};
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
            created_at: m.created_at,
            last_login_at: m.last_login_at,
            deleted_at: m.deleted_at,
        })
    }
}

/// [`UserRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaUserRepository {
    db: DatabaseConnection,
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
            email: Set(None),
            user_group: Set(new.group.clone()),
            quota: Set(0),
            used_quota: Set(0),
            request_count: Set(0),
            aff_code: Set(Some(new.aff_code.clone()).filter(|c| !c.is_empty())),
            aff_count: Set(0),
            aff_quota: Set(0),
            aff_history_quota: Set(0),
            inviter_id: Set(None),
            setting: Set(new.setting.clone()),
            access_token_hash: Set(None),
            created_at: Set(new.created_at),
            updated_at: Set(now),
            last_login_at: Set(None),
            deleted_at: Set(None),
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
        if new.initial_quota > 0 {
            let entry = LedgerEntry::signup_bonus(UserId(id), new.initial_quota)
                .map_err(|e| InsertFailure::Other(anyhow::Error::new(e)))?;
            apply_entry(txn, &entry, new.created_at)
                .await
                .map_err(|e| match e {
                    ApplyError::Db(e) => InsertFailure::Other(e),
                    other => InsertFailure::Other(anyhow!("signup bonus refused: {other:?}")),
                })?;
        }
        Ok(id)
    }

    /// Tells which unique key a failed insert broke. Checking which value exists is portable;
    /// constraint names and messages differ across SQLite, PostgreSQL and MySQL.
    async fn classify_unique(&self, new: &NewUser) -> CreateUserError {
        let username_taken = user::Entity::find()
            .filter(user::Column::Username.eq(new.username.as_str()))
            .count(&self.db)
            .await;
        match username_taken {
            Ok(n) if n > 0 => return CreateUserError::UsernameTaken,
            Ok(_) => {}
            Err(e) => return unexpected(e, "failed to classify a duplicate user").into(),
        }
        let aff_taken = user::Entity::find()
            .filter(user::Column::AffCode.eq(new.aff_code.as_str()))
            .count(&self.db)
            .await;
        match aff_taken {
            Ok(n) if n > 0 => CreateUserError::AffCodeTaken,
            Ok(_) => {
                anyhow!("a user insert broke a unique key that is neither username nor aff code")
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
        let model = match self.find_model(by_username).await? {
            Some(m) => Some(m),
            None => {
                let by_email = user::Entity::find()
                    .filter(user::Column::Email.eq(login))
                    .filter(user::Column::DeletedAt.is_null())
                    .order_by_asc(user::Column::Id);
                self.find_model(by_email).await?
            }
        };
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
    ) -> Result<(), SetAccessTokenError> {
        match self
            .update_column(id, user::Column::AccessTokenHash, hash.as_str().into())
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(SetAccessTokenError::Collision),
            Err(e) => Err(unexpected(e, "failed to set an access token").into()),
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
}
