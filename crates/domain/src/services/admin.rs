//! Admin user management (docs/newapi-behaviour.md §6 and the REST admin routes): listing and
//! search scoped by the hierarchy, reading, updating (a quota change is a ledger entry with the
//! admin as actor), state changes that revoke sessions at once, hard deletion, and the audit log.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::accounts::{NewAccount, RegisterError, create_user};
use crate::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord, AuditScope};
use crate::error::RepoError;
use crate::hierarchy::{self, AdminOp, HierarchyError};
use crate::options::OptionsSource;
use crate::page::{Page, PageRequest};
use crate::ports::{
    AdminChanges, AdminUpdateError, AdminWriteError, AuditRepository, Clock, MatchMode,
    PasswordHasher, SecretGenerator, StateChange, UserQuery, UserRepository,
};
use crate::user::{
    CredentialRuleError, DisplayName, Password, Remark, Role, User, UserId, UserStatus, Username,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    #[error(transparent)]
    InvalidCredential(#[from] CredentialRuleError),
    #[error("display name must be 1 to {max} characters", max = DisplayName::MAX_CHARS)]
    InvalidDisplayName,
    #[error("unknown group")]
    UnknownGroup,
    #[error("remark must be at most {max} characters", max = Remark::MAX_CHARS)]
    InvalidRemark,
    #[error("quota must not be negative")]
    InvalidQuota,
    #[error("unknown role")]
    InvalidRole,
    #[error("role changes go through promote and demote")]
    RoleChangeRefused,
    #[error("status changes go through enable and disable")]
    StatusChangeRefused,
    /// Root editing its own row asked for another role or status.
    #[error("nobody can change their own role or status")]
    OwnRoleOrStatus,
    #[error("the username is taken")]
    UsernameTaken,
    /// Another write changed the user between the read this decision rested on and the
    /// write; nothing was written. Reload and retry.
    #[error("the user was changed meanwhile, retry")]
    Changed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for AdminError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

impl From<AdminWriteError> for AdminError {
    fn from(e: AdminWriteError) -> Self {
        match e {
            AdminWriteError::NotFound => Self::NotFound,
            AdminWriteError::Changed => Self::Changed,
            AdminWriteError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// An admin's request to create a user.
#[derive(Debug, Clone, Default)]
pub struct AdminCreateInput {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    /// Role code; default 1.
    pub role: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminCreateError {
    #[error(transparent)]
    Hierarchy(#[from] crate::hierarchy::HierarchyError),
    #[error(transparent)]
    InvalidCredential(#[from] CredentialRuleError),
    #[error("display name must be 1 to {max} characters", max = DisplayName::MAX_CHARS)]
    InvalidDisplayName,
    #[error("unknown role")]
    InvalidRole,
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for AdminCreateError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// What an admin may send to update a user (compat `PUT /api/user/`). `role` and `status`
/// are accepted only when they equal the current values: they change through `manage`.
#[derive(Debug, Clone, Default)]
pub struct AdminUpdateInput {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub password: Option<String>,
    pub group: Option<String>,
    pub quota: Option<i64>,
    pub remark: Option<String>,
    pub role: Option<i32>,
    pub status: Option<i32>,
}

/// Search parameters of the admin listings.
#[derive(Debug, Clone, Default)]
pub struct UserListInput {
    pub keyword: Option<String>,
    pub match_mode: MatchMode,
    pub group: Option<String>,
    pub status: Option<UserStatus>,
    /// Leave soft-deleted users out.
    pub live_only: bool,
}

pub struct AdminService {
    users: Arc<dyn UserRepository>,
    audit: Arc<dyn AuditRepository>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    options: Arc<dyn OptionsSource>,
}

impl AdminService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        audit: Arc<dyn AuditRepository>,
        hasher: Arc<dyn PasswordHasher>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        options: Arc<dyn OptionsSource>,
    ) -> Self {
        Self {
            users,
            audit,
            hasher,
            secrets,
            clock,
            options,
        }
    }

    /// Group names (`GET /api/group/`).
    pub async fn group_names(&self) -> Result<Vec<String>, RepoError> {
        Ok(self
            .options
            .current()
            .await?
            .groups
            .ratios
            .keys()
            .cloned()
            .collect())
    }

    /// `POST /api/user/` (docs/newapi-behaviour.md §6.3): an admin creates a user with a role
    /// strictly below its own; the same insert effects as registration (new-user quota through
    /// the ledger, invitation code, default sidebar), no inviter, and the creation audited in
    /// the same transaction.
    pub async fn create_by_admin(
        &self,
        actor: &User,
        input: AdminCreateInput,
    ) -> Result<User, AdminCreateError> {
        let role = Role::from_code(input.role.unwrap_or(1)).ok_or(AdminCreateError::InvalidRole)?;
        crate::hierarchy::check_grant(actor, role)?;
        let username = Username::parse(&input.username)?;
        let password = Password::parse(&input.password)?;
        let display_name = input
            .display_name
            .filter(|d| !d.trim().is_empty())
            .map(|d| DisplayName::parse(&d))
            .transpose()
            .map_err(|_| AdminCreateError::InvalidDisplayName)?;
        let now = self.clock.now();
        let audit = AuditEntry::new(AuditAction::UserCreated, Some(actor.id), None, now).change(
            serde_json::Value::Null,
            serde_json::json!({"username": username.as_str(), "role": role.code()}),
        );
        let initial_quota = self
            .options
            .current()
            .await?
            .registration
            .quota_for_new_user;
        let (users, hasher, secrets) = (&*self.users, &*self.hasher, &*self.secrets);
        let account = NewAccount {
            username,
            password: &password,
            role,
            email: None,
            initial_quota,
            invitation: None,
            audit: Some(audit),
        };
        let mut user = create_user(users, hasher, secrets, &*self.clock, account)
            .await
            .map_err(|e| match e {
                RegisterError::UsernameTaken => AdminCreateError::UsernameTaken,
                RegisterError::InvalidInput(rule) => AdminCreateError::InvalidCredential(rule),
                other => AdminCreateError::Unexpected(anyhow::anyhow!(other)),
            })?;
        if let Some(name) = display_name.filter(|d| *d != user.display_name) {
            let changes = crate::user::ProfileChanges {
                display_name: Some(name),
                ..Default::default()
            };
            user = self
                .users
                .update_profile(user.id, &changes)
                .await
                .map_err(|e| AdminCreateError::Unexpected(anyhow::anyhow!(e)))?;
        }
        tracing::info!(actor = %actor.id, user_id = %user.id, "user created by admin");
        Ok(user)
    }

    /// Users the actor may see (role below its own, and itself), newest first.
    pub async fn list(
        &self,
        actor: &User,
        input: UserListInput,
        page: PageRequest,
    ) -> Result<Page<User>, AdminError> {
        if !actor.role.is_admin() {
            return Err(HierarchyError::NotAdmin.into());
        }
        let query = UserQuery {
            keyword: input
                .keyword
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty()),
            match_mode: input.match_mode,
            group: input.group.filter(|g| !g.is_empty()),
            status: input.status,
            visible_below: actor.role,
            also: Some(actor.id),
            live_only: input.live_only,
        };
        Ok(self.users.search(&query, page).await?)
    }

    async fn target(&self, id: UserId) -> Result<User, AdminError> {
        match self.users.find_by_id(id).await? {
            Some(u) if !u.is_deleted() => Ok(u),
            _ => Err(AdminError::NotFound),
        }
    }

    /// One user, if the actor may see it.
    pub async fn get(&self, actor: &User, id: UserId) -> Result<User, AdminError> {
        let target = self.target(id).await?;
        hierarchy::check(actor, &target, AdminOp::View)?;
        Ok(target)
    }

    /// Applies every accepted field or refuses the whole request (never a silent partial
    /// success). Root may edit its own row this way (issue 11), but never its own role or
    /// status ([`AdminError::OwnRoleOrStatus`]). A quota change is a ledger entry with the admin as actor and is audited
    /// with its old and new value; a password change revokes the user's sessions and token.
    /// The write applies only to the user as read here ([`AdminError::Changed`] otherwise).
    pub async fn update(
        &self,
        actor: &User,
        id: UserId,
        input: AdminUpdateInput,
        ip: Option<String>,
    ) -> Result<User, AdminError> {
        let target = self.target(id).await?;
        hierarchy::check(actor, &target, AdminOp::Update)?;
        if actor.id == target.id {
            let role = input.role.map(Role::from_code);
            let status = input.status.map(UserStatus::from_code);
            if role.is_some_and(|r| r != Some(target.role))
                || status.is_some_and(|s| s != Some(target.status))
            {
                return Err(AdminError::OwnRoleOrStatus);
            }
        }
        if let Some(code) = input.role {
            let role = Role::from_code(code).ok_or(AdminError::InvalidRole)?;
            if role != target.role {
                hierarchy::check_grant(actor, role)?;
                return Err(AdminError::RoleChangeRefused);
            }
        }
        if let Some(code) = input.status
            && UserStatus::from_code(code) != Some(target.status)
        {
            return Err(AdminError::StatusChangeRefused);
        }
        // The console sends the whole user back: an unchanged name is no rename, even when it
        // predates the current rules (issue 7.6).
        let username = input
            .username
            .as_deref()
            .filter(|u| u.trim() != target.username)
            .map(Username::parse)
            .transpose()?
            .filter(|u| u.as_str() != target.username);
        let display_name = input
            .display_name
            .filter(|d| d.trim() != target.display_name.as_str())
            .map(|d| DisplayName::parse(&d))
            .transpose()
            .map_err(|_| AdminError::InvalidDisplayName)?;
        let group = input.group.filter(|g| *g != target.group);
        if let Some(g) = &group
            && !self.options.current().await?.groups.ratios.contains_key(g)
        {
            return Err(AdminError::UnknownGroup);
        }
        let remark = input
            .remark
            .filter(|r| Some(r.as_str()) != target.remark.as_ref().map(Remark::as_str))
            .map(|r| Remark::parse(&r))
            .transpose()
            .map_err(|_| AdminError::InvalidRemark)?;
        let quota = input.quota.filter(|q| *q != target.balances.quota);
        if quota.is_some_and(|q| q < 0) {
            return Err(AdminError::InvalidQuota);
        }
        let password = input
            .password
            .filter(|p| !p.is_empty())
            .map(|p| Password::parse(&p))
            .transpose()?;
        let password_hash = match &password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };

        let now = self.clock.now();
        let entry = |action| {
            AuditEntry::new(action, Some(actor.id), Some(target.id), now).from_ip(ip.clone())
        };
        let mut before = Map::new();
        let mut after = Map::new();
        if let Some(u) = &username {
            before.insert("username".into(), json!(target.username));
            after.insert("username".into(), json!(u.as_str()));
        }
        if let Some(d) = &display_name {
            before.insert("display_name".into(), json!(target.display_name.as_str()));
            after.insert("display_name".into(), json!(d.as_str()));
        }
        if let Some(g) = &group {
            before.insert("group".into(), json!(target.group));
            after.insert("group".into(), json!(g));
        }
        if let Some(r) = &remark {
            before.insert(
                "remark".into(),
                json!(target.remark.as_ref().map(Remark::as_str)),
            );
            after.insert("remark".into(), json!(r.as_str()));
        }
        let mut audit = Vec::new();
        if !after.is_empty() {
            audit.push(
                entry(AuditAction::UserUpdated).change(Value::Object(before), Value::Object(after)),
            );
        }
        if let Some(q) = quota {
            audit.push(
                entry(AuditAction::QuotaChanged)
                    .change(json!({"quota": target.balances.quota}), json!({"quota": q})),
            );
        }
        if password_hash.is_some() {
            audit.push(
                entry(AuditAction::PasswordReset).change(Value::Null, json!({"by": "admin"})),
            );
        }
        if audit.is_empty() {
            return Ok(target);
        }
        let changes = AdminChanges {
            username,
            display_name,
            group,
            remark,
            password_hash,
            quota,
        };
        match self
            .users
            .admin_update(&target, &changes, actor.id, &audit, now)
            .await
        {
            Ok(user) => {
                tracing::info!(actor = %actor.id, target = %id, "user updated by admin");
                Ok(user)
            }
            Err(AdminUpdateError::UsernameTaken) => Err(AdminError::UsernameTaken),
            Err(AdminUpdateError::NotFound) => Err(AdminError::NotFound),
            Err(AdminUpdateError::QuotaOutOfRange) => Err(AdminError::InvalidQuota),
            Err(AdminUpdateError::Changed) => Err(AdminError::Changed),
            Err(AdminUpdateError::Unexpected(e)) => Err(AdminError::Unexpected(e)),
        }
    }

    /// `disable | enable | delete | promote | demote`: returns the user after the change.
    /// Disabling, deleting and demoting revoke the user's sessions, refresh tokens and access
    /// token in the same transaction. The change applies only while the user still has the
    /// role and status the hierarchy was checked on ([`AdminError::Changed`] otherwise).
    pub async fn manage(
        &self,
        actor: &User,
        id: UserId,
        op: AdminOp,
        ip: Option<String>,
    ) -> Result<User, AdminError> {
        let target = self.target(id).await?;
        hierarchy::check(actor, &target, op)?;
        let (role, status) = hierarchy::outcome(&target, op);
        let action = match op {
            AdminOp::Disable => AuditAction::UserDisabled,
            AdminOp::Enable => AuditAction::UserEnabled,
            AdminOp::Delete => AuditAction::UserDeleted,
            AdminOp::Promote => AuditAction::UserPromoted,
            AdminOp::Demote => AuditAction::UserDemoted,
            AdminOp::View | AdminOp::Update | AdminOp::HardDelete => {
                return Err(AdminError::Unexpected(anyhow::anyhow!(
                    "{op:?} is not a manage action"
                )));
            }
        };
        let now = self.clock.now();
        let audit = AuditEntry::new(action, Some(actor.id), Some(target.id), now)
            .change(
                json!({"role": target.role.code(), "status": target.status.code()}),
                json!({"role": role.code(), "status": status.code(), "deleted": op == AdminOp::Delete}),
            )
            .from_ip(ip);
        let change = StateChange {
            role,
            status,
            delete: op == AdminOp::Delete,
            revoke: hierarchy::revokes_sessions(op),
        };
        let user = self
            .users
            .admin_set_state(&target, &change, &audit, now)
            .await?;
        tracing::info!(actor = %actor.id, target = %id, ?op, "user managed by admin");
        Ok(user)
    }

    /// `DELETE /api/user/:id`: the row goes; ledger and audit history stay. Only the user as
    /// read here is deleted ([`AdminError::Changed`] otherwise).
    pub async fn hard_delete(
        &self,
        actor: &User,
        id: UserId,
        ip: Option<String>,
    ) -> Result<(), AdminError> {
        let target = self.target(id).await?;
        hierarchy::check(actor, &target, AdminOp::HardDelete)?;
        let audit = AuditEntry::new(
            AuditAction::UserHardDeleted,
            Some(actor.id),
            Some(target.id),
            self.clock.now(),
        )
        .change(
            json!({"username": target.username, "role": target.role.code()}),
            Value::Null,
        )
        .target_role(target.role)
        .from_ip(ip);
        self.users.hard_delete(&target, &audit).await?;
        tracing::info!(actor = %actor.id, target = %id, "user hard-deleted by admin");
        Ok(())
    }

    /// The audit log, scoped by [`AuditScope`]: root sees everything; an admin sees entries
    /// about users that were below it, about itself, or about no user, never root's acts.
    pub async fn audit_log(
        &self,
        actor: &User,
        mut filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, AdminError> {
        if !actor.role.is_admin() {
            return Err(HierarchyError::NotAdmin.into());
        }
        filter.scope = Some(AuditScope {
            reader: actor.id,
            reader_role: actor.role,
        });
        Ok(self.audit.list(&filter, page).await?)
    }
}

#[cfg(test)]
mod tests;
