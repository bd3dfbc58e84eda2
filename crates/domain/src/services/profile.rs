//! Self-service on one's own account: profile, password, settings, deletion, groups and
//! models (docs/newapi-behaviour.md §5, §9; the REST profile and password routes).

use std::sync::Arc;

use crate::audit::{AuditAction, AuditEntry};
use crate::error::RepoError;
use crate::groups::GroupView;
use crate::options::OptionsSource;
use crate::ports::{Clock, HostResolver, PasswordHasher, UpdateProfileError, UserRepository};
use crate::session::SessionId;
use crate::throttle::{LoginThrottle, Subject, Throttled};
use crate::user::{
    AvatarUrl, CredentialRuleError, DisplayName, Email, Password, Phone, ProfileChanges, Role,
    User, Username,
};
use crate::user_settings::{
    NotificationSettingsInput, SettingsError, apply_notification_settings,
    notification_targets_differ, validate_sidebar_modules,
};

use super::accounts::CorePorts;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("display name must be 1 to {max} characters", max = DisplayName::MAX_CHARS)]
    InvalidDisplayName,
    #[error(transparent)]
    InvalidCredential(#[from] CredentialRuleError),
    #[error("the original password is wrong")]
    WrongPassword,
    #[error("invalid e-mail address")]
    InvalidEmail,
    #[error("invalid phone number")]
    InvalidPhone,
    #[error("avatar must be an http(s) URL of at most {max} characters", max = AvatarUrl::MAX_CHARS)]
    InvalidAvatar,
    #[error("invalid sidebar configuration")]
    InvalidSidebar,
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the e-mail address is taken")]
    EmailTaken,
    #[error("no such user")]
    NotFound,
    /// Issue 7.7: nothing can prove the address is the user's, so it is not stored.
    #[error("the e-mail address cannot be set until e-mail verification is available")]
    EmailUnverified,
    /// Too many wrong passwords for the account: the login's throttle.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for ProfileError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

impl From<UpdateProfileError> for ProfileError {
    fn from(e: UpdateProfileError) -> Self {
        match e {
            UpdateProfileError::UsernameTaken => Self::UsernameTaken,
            UpdateProfileError::EmailTaken => Self::EmailTaken,
            UpdateProfileError::NotFound => Self::NotFound,
            UpdateProfileError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the new passwords differ")]
    Mismatch,
    #[error(transparent)]
    InvalidPassword(#[from] CredentialRuleError),
    #[error("the old password is wrong")]
    WrongOldPassword,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for ChangePasswordError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteSelfError {
    #[error("the root account cannot delete itself")]
    Root,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsUpdateError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Owner(#[from] OwnerProofError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// How long after its login a cookie session alone confirms the owner for the acts that
/// need [`OwnerProof`] (issue 7.11): 10 minutes, the console's "just logged in" window.
pub const FRESH_LOGIN_SECS: i64 = 600;

/// What a caller offers to show it is the account's owner right now, for deleting the
/// account and changing notification targets (issue 7.11). An access token, or a session
/// that logged in long ago, proves possession of a credential that may have leaked; the
/// current password or a fresh login proves the person.
#[derive(Clone, Default)]
pub struct OwnerProof {
    /// The current password, when the request carried one.
    pub password: Option<String>,
    /// When the cookie session of the request logged in (`None` for an access token).
    pub session_created_at: Option<i64>,
}

impl std::fmt::Debug for OwnerProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerProof")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("session_created_at", &self.session_created_at)
            .finish()
    }
}

impl OwnerProof {
    /// A cookie session that logged in at most [`FRESH_LOGIN_SECS`] before `now`.
    pub fn has_fresh_login(&self, now: i64) -> bool {
        self.session_created_at
            .is_some_and(|t| t <= now && now - t <= FRESH_LOGIN_SECS)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OwnerProofError {
    /// Neither a password nor a fresh login.
    #[error("the current password or a fresh login is required")]
    Required,
    #[error("the password is wrong")]
    WrongPassword,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A password change: the current password (required when the account has one) and the new.
#[derive(Clone, Default)]
pub struct PasswordChange {
    pub current: Option<String>,
    pub new: String,
}

/// The contact fields of the REST profile; `None` leaves a field, `Some("")` clears an
/// optional one.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
}

pub struct ProfileService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    resolver: Arc<dyn HostResolver>,
    options: Arc<dyn OptionsSource>,
    /// `None`: password checks are not throttled (unit tests that are not about it).
    throttle: Option<Arc<LoginThrottle>>,
}

impl ProfileService {
    pub fn new(
        ports: CorePorts,
        resolver: Arc<dyn HostResolver>,
        options: Arc<dyn OptionsSource>,
    ) -> Self {
        Self {
            users: ports.users,
            hasher: ports.hasher,
            clock: ports.clock,
            resolver,
            options,
            throttle: None,
        }
    }

    /// Throttles the checks of a signed-in user's current password like the login's: a guess
    /// at it is a guess at the login's secret, so it counts against the same account.
    pub fn with_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Whether `password` is `user`'s current password (`stored`; `None` never matches),
    /// through the login throttle.
    async fn password_matches(
        &self,
        user: &User,
        password: &str,
        stored: Option<String>,
        ip: Option<&str>,
    ) -> anyhow::Result<Result<bool, Throttled>> {
        let Some(throttle) = &self.throttle else {
            return Ok(Ok(self.hasher.verify(password, stored).await?));
        };
        let attempt = match throttle
            .begin(&Subject::login(user.username.as_str()), ip)
            .await
        {
            Ok(a) => a,
            Err(t) => return Ok(Err(t)),
        };
        let matched = self.hasher.verify(password, stored).await;
        match &matched {
            Ok(true) => throttle.succeeded(attempt).await,
            _ => throttle.failed(attempt).await,
        }
        Ok(Ok(matched?))
    }

    /// Compat `PUT /api/user/self` profile mode (docs/newapi-behaviour.md §5.2): display name and
    /// password only; empty values leave a field unchanged. The current password is needed only to
    /// change the password (New API demanded it for any change, docs/newapi-behaviour.md §11.6). A
    /// password change revokes every other session of the user.
    pub async fn update_self(
        &self,
        user: &User,
        current_session: Option<SessionId>,
        display_name: Option<&str>,
        password: Option<PasswordChange>,
        ip: Option<String>,
    ) -> Result<(), ProfileError> {
        let display_name = display_name
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(DisplayName::parse)
            .transpose()
            .map_err(|_| ProfileError::InvalidDisplayName)?;
        let password = password.filter(|p| !p.new.is_empty());
        let new_password = password
            .as_ref()
            .map(|p| Password::parse(&p.new))
            .transpose()?;
        if let (Some(change), Some(_)) = (&password, &new_password) {
            let stored = self
                .users
                .find_password_hash(user.id)
                .await?
                .ok_or(ProfileError::NotFound)?;
            // Accounts without a password (OAuth-only) may set a first one.
            if !stored.is_empty() {
                let current = change.current.clone().unwrap_or_default();
                if !self
                    .password_matches(user, &current, Some(stored), ip.as_deref())
                    .await??
                {
                    return Err(ProfileError::WrongPassword);
                }
            }
        }
        if let Some(name) = display_name {
            let changes = ProfileChanges {
                display_name: Some(name),
                ..Default::default()
            };
            self.users.update_profile(user.id, &changes).await?;
        }
        if let Some(new) = new_password {
            self.set_password(user, &new, current_session, ip).await?;
        }
        Ok(())
    }

    /// REST `PUT /api/v1/users/password`: the old password is always required.
    pub async fn change_password(
        &self,
        user: &User,
        current_session: Option<SessionId>,
        old: &str,
        new: &str,
        confirm: &str,
        ip: Option<String>,
    ) -> Result<(), ChangePasswordError> {
        if new != confirm {
            return Err(ChangePasswordError::Mismatch);
        }
        let new = Password::parse(new)?;
        let stored = self.users.find_password_hash(user.id).await?;
        if !self
            .password_matches(user, old, stored, ip.as_deref())
            .await??
        {
            return Err(ChangePasswordError::WrongOldPassword);
        }
        self.set_password(user, &new, current_session, ip).await?;
        Ok(())
    }

    async fn set_password(
        &self,
        user: &User,
        password: &Password,
        keep_session: Option<SessionId>,
        ip: Option<String>,
    ) -> Result<(), RepoError> {
        let hash = self.hasher.hash(password).await.map_err(RepoError)?;
        let now = self.clock.now();
        let audit = AuditEntry::new(
            AuditAction::PasswordChanged,
            Some(user.id),
            Some(user.id),
            now,
        )
        .from_ip(ip);
        // The access token may have leaked with the old password: revoked in the same
        // transaction unless root turned `RevokeAccessTokenOnPasswordChange` off.
        let revoke_token = self
            .options
            .current()
            .await?
            .revoke_access_token_on_password_change;
        self.users
            .change_password(user.id, &hash, keep_session, revoke_token, &audit, now)
            .await?;
        tracing::info!(user_id = %user.id, "password changed");
        Ok(())
    }

    /// REST `PUT /api/v1/users/profile`: validates every field before changing any.
    ///
    /// An e-mail address can be cleared but not set (issue 7.7): until e-mail verification
    /// exists an address would be unverified, and an unverified address must never become a
    /// login name or block its owner's registration.
    pub async fn update_profile(
        &self,
        user: &User,
        input: ProfileInput,
    ) -> Result<User, ProfileError> {
        let email = optional(input.email.as_deref(), Email::parse)
            .map_err(|_| ProfileError::InvalidEmail)?;
        if matches!(email, Some(Some(_))) {
            return Err(ProfileError::EmailUnverified);
        }
        // Sending one's own name back is no rename, even when the stored name predates the
        // current rules or shares its key with an older account (issue 7.6).
        let username = input
            .username
            .as_deref()
            .filter(|u| u.trim() != user.username)
            .map(Username::parse)
            .transpose()?
            .filter(|u| u.as_str() != user.username);
        let changes = ProfileChanges {
            username,
            display_name: None,
            email,
            phone: optional(input.phone.as_deref(), Phone::parse)
                .map_err(|_| ProfileError::InvalidPhone)?,
            avatar: optional(input.avatar.as_deref(), AvatarUrl::parse)
                .map_err(|_| ProfileError::InvalidAvatar)?,
        };
        if changes.is_empty() {
            return Ok(user.clone());
        }
        Ok(self.users.update_profile(user.id, &changes).await?)
    }

    /// `PUT /api/user/self {sidebar_modules}`: a validated sidebar, merged into `setting`.
    pub async fn set_sidebar(&self, user: &User, raw: &str) -> Result<(), ProfileError> {
        let sidebar = validate_sidebar_modules(raw).map_err(|_| ProfileError::InvalidSidebar)?;
        let mut setting: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&user.setting).unwrap_or_default();
        setting.insert("sidebar_modules".into(), serde_json::Value::String(sidebar));
        let json = serde_json::Value::Object(setting).to_string();
        self.users.set_setting(user.id, &json).await?;
        Ok(())
    }

    /// Checks that the caller is the account's owner right now: a password, when sent, must be
    /// the current one; without one, only a fresh login will do (issue 7.11).
    pub async fn confirm_owner(
        &self,
        user: &User,
        proof: &OwnerProof,
    ) -> Result<(), OwnerProofError> {
        match proof.password.as_deref().filter(|p| !p.is_empty()) {
            Some(password) => {
                let stored = self
                    .users
                    .find_password_hash(user.id)
                    .await
                    .map_err(|e| OwnerProofError::Unexpected(e.0))?
                    .filter(|h| !h.is_empty());
                // No stored password (an OAuth-only account) never matches. The request's
                // address is not known here: only the account is counted.
                if !self
                    .password_matches(user, password, stored, None)
                    .await??
                {
                    return Err(OwnerProofError::WrongPassword);
                }
                Ok(())
            }
            None if proof.has_fresh_login(self.clock.now()) => Ok(()),
            None => Err(OwnerProofError::Required),
        }
    }

    /// `PUT /api/user/setting` (docs/newapi-behaviour.md §5.7), keeping what the request does not
    /// own. A change of where notifications go (channel, address, credential) needs [`OwnerProof`].
    pub async fn update_notification_settings(
        &self,
        user: &User,
        input: NotificationSettingsInput,
        proof: &OwnerProof,
    ) -> Result<(), SettingsUpdateError> {
        let json =
            apply_notification_settings(&user.setting, input, self.resolver.as_ref()).await?;
        if notification_targets_differ(&user.setting, &json) {
            self.confirm_owner(user, proof).await?;
        }
        self.users
            .set_setting(user.id, &json)
            .await
            .map_err(|e| SettingsUpdateError::Unexpected(e.0))?;
        Ok(())
    }

    /// `DELETE /api/user/self` (docs/newapi-behaviour.md §5.3): soft delete, the access token
    /// cleared, every session and refresh token revoked and the act audited, all in one
    /// transaction; the ledger stays. Root cannot delete itself.
    pub async fn delete_self(&self, user: &User) -> Result<(), DeleteSelfError> {
        if user.role == Role::Root {
            return Err(DeleteSelfError::Root);
        }
        let now = self.clock.now();
        let audit = AuditEntry::new(
            AuditAction::UserSelfDeleted,
            Some(user.id),
            Some(user.id),
            now,
        );
        self.users
            .soft_delete(user.id, &audit, now)
            .await
            .map_err(|e| DeleteSelfError::Unexpected(e.0))?;
        tracing::info!(user_id = %user.id, "account deleted by its owner");
        Ok(())
    }

    /// The group table for a user of `user_group` ("" for an anonymous caller),
    /// docs/newapi-behaviour.md §9.3.
    pub async fn groups(&self, user_group: &str) -> Result<Vec<GroupView>, RepoError> {
        Ok(self.options.current().await?.groups.group_view(user_group))
    }

    /// The models the user's usable groups may use, sorted.
    pub async fn models(&self, user: &User) -> Result<Vec<String>, RepoError> {
        Ok(self.options.current().await?.groups.models_for(&user.group))
    }
}

/// `None` keeps the field; `Some("")` clears it; anything else must parse.
fn optional<T, E>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<Option<T>>, E> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(v) => parse(v).map(|v| Some(Some(v))),
    }
}

#[cfg(test)]
mod tests;
