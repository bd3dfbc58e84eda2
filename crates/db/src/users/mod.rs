//! [`UserRepository`] over sea-orm.
//!
//! The trait's writes live by seam: [`create`] (registration and invitations), [`account`]
//! (what a user does to their own account) and [`admin`] (compare-and-set writes on the state
//! an admin read). Reads are here.

mod account;
mod admin;
mod create;

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, Select,
};
use tollgate_domain::audit::AuditEntry;
use tollgate_domain::ports::{
    AdminChanges, AdminUpdateError, AdminWriteError, AffTransferError, AffTransferred,
    CreateUserError, SetAccessTokenError, StateChange, UpdateProfileError, UserQuery,
    UserRepository,
};
use tollgate_domain::{
    Affiliate, AvatarUrl, Balances, DisplayName, Email, NewUser, Page, PageRequest, Phone,
    ProfileChanges, Remark, RepoError, Role, SessionId, TokenHash, User, UserId, UserStatus,
    Username,
};

use crate::entities::user;
use crate::error::{unexpected, unix_now};

impl TryFrom<user::Model> for User {
    type Error = anyhow::Error;

    /// Fails on a role or status code the domain does not know, instead of guessing.
    fn try_from(m: user::Model) -> Result<Self, Self::Error> {
        let role = Role::from_code(m.role)
            .ok_or_else(|| anyhow!("user {} has the unknown role code {}", m.id, m.role))?;
        let status = UserStatus::from_code(m.status)
            .ok_or_else(|| anyhow!("user {} has the unknown status code {}", m.id, m.status))?;
        // Stored values are taken as they are: rows imported from New API or written before
        // a rule may not pass today's `parse`.
        Ok(User {
            id: UserId::new(m.id),
            username: m.username,
            display_name: DisplayName::from_stored(m.display_name),
            email: m.email.map(Email::from_stored),
            phone: m.phone.map(Phone::from_stored),
            avatar: m.avatar.map(AvatarUrl::from_stored),
            remark: m.remark.map(Remark::from_stored),
            role,
            status,
            group: m.user_group,
            balances: Balances {
                quota: m.quota,
                used_quota: m.used_quota,
                request_count: m.request_count,
            },
            affiliate: Affiliate {
                code: m.aff_code,
                count: m.aff_count,
                quota: m.aff_quota,
                history_quota: m.aff_history_quota,
                inviter_id: m.inviter_id.map(UserId::new),
            },
            setting: m.setting,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
            deleted_at: m.deleted_at,
        })
    }
}

/// [`UserRepository`] over sea-orm.
#[derive(Debug, Clone)]
pub struct SeaUserRepository {
    pub(crate) db: DatabaseConnection,
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
        self.create_user(new).await
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
        self.store_access_token(id, hash, audit).await
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
        self.store_aff_code_if_missing(id, code).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<User, UpdateProfileError> {
        self.apply_profile(id, changes).await
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
        self.delete_own_account(id, audit, now).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %id, amount))]
    async fn transfer_aff_quota(
        &self,
        id: UserId,
        amount: i64,
        reference: &str,
        now: i64,
    ) -> Result<AffTransferred, AffTransferError> {
        self.move_aff_quota(id, amount, reference, now).await
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
        self.admin_edit(seen, changes, actor, audit, now).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %seen.id))]
    async fn admin_set_state(
        &self,
        seen: &User,
        change: &StateChange,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<User, AdminWriteError> {
        self.admin_state(seen, change, audit, now).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %seen.id))]
    async fn hard_delete(&self, seen: &User, audit: &AuditEntry) -> Result<(), AdminWriteError> {
        self.admin_delete(seen, audit).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<SessionId>,
        revoke_token: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), RepoError> {
        self.replace_password(id, hash, keep, revoke_token, audit, now)
            .await
    }
}

/// Rows a new `username` collides with: the same name, or the same canonical key (issue 7.6).
fn username_taken(username: &Username) -> Condition {
    Condition::any()
        .add(user::Column::Username.eq(username.as_str()))
        .add(user::Column::UsernameKey.eq(username.key()))
}

/// The column value of an optional text value type (`NULL` for `None`).
fn stored_text(value: Option<&impl AsRef<str>>) -> Option<String> {
    value.map(|v| v.as_ref().to_owned())
}
