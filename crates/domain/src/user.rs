//! Users: identity, role hierarchy, status, and what an account is made of. The rules on
//! usernames and passwords are in `credentials`, the value types of the profile fields in
//! `fields` and `email` (all re-exported here).

use std::fmt;

mod credentials;
mod email;
mod fields;

pub use credentials::{CredentialRuleError, Password, Username, normalize_login, username_key};
pub use email::{Email, NotificationEmail};
pub use fields::{AvatarUrl, DisplayName, FieldError, Phone, Remark};

/// A user's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The strict hierarchy of docs/newapi-behaviour.md §7: user(1) < admin(10) < root(100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Admin,
    Root,
}

impl Role {
    pub fn code(self) -> i32 {
        match self {
            Role::User => 1,
            Role::Admin => 10,
            Role::Root => 100,
        }
    }

    /// Parses a stored or requested role code; anything but 1, 10 or 100 is refused.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Role::User),
            10 => Some(Role::Admin),
            100 => Some(Role::Root),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// Account status, with New API's codes (1 enabled, 2 disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Enabled,
    Disabled,
}

impl UserStatus {
    pub fn code(self) -> i32 {
        match self {
            UserStatus::Enabled => 1,
            UserStatus::Disabled => 2,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(UserStatus::Enabled),
            2 => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

/// A user as the domain sees it. Secrets (password hash, access-token hash) are not part of
/// it, so no code path can serialise them by accident. Profile fields carry their value types;
/// values read back from the database keep what was stored (`from_stored`), even where it
/// predates a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    /// As stored: names that predate the current rules stay readable (issue 7.6).
    pub username: String,
    pub display_name: DisplayName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub avatar: Option<AvatarUrl>,
    /// An admin's note (New API's `remark`); never shown to the user.
    pub remark: Option<Remark>,
    pub role: Role,
    pub status: UserStatus,
    pub group: String,
    pub balances: Balances,
    pub affiliate: Affiliate,
    /// The user's settings, a JSON object stored as a string (docs/newapi-behaviour.md §2.2).
    pub setting: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

/// A user's quota balance and what it has used, in quota units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balances {
    /// What is left to spend; changes only through the ledger.
    pub quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
}

/// A user's side of the invitation programme (docs/newapi-behaviour.md §8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affiliate {
    /// The user's own invitation code, once generated.
    pub code: Option<String>,
    /// How many users registered with the code.
    pub count: i64,
    /// Invitation rewards not yet moved to quota; changes only through the ledger.
    pub quota: i64,
    /// Every reward ever credited.
    pub history_quota: i64,
    /// Who invited this user.
    pub inviter_id: Option<UserId>,
}

impl User {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    pub fn is_enabled(&self) -> bool {
        self.status == UserStatus::Enabled && !self.is_deleted()
    }

    /// The `sidebar_modules` string inside `setting`, or `""` when absent or unreadable.
    pub fn sidebar_modules(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.setting)
            .ok()
            .and_then(|v| v.get("sidebar_modules")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Everything needed to insert a user. The adapter applies `initial_quota` through the ledger
/// in the same transaction as the insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub username: Username,
    pub display_name: DisplayName,
    pub password_hash: String,
    pub role: Role,
    pub group: String,
    /// Stored unverified only where a surface allows it; `None` otherwise.
    pub email: Option<Email>,
    pub aff_code: String,
    pub setting: String,
    pub initial_quota: i64,
    /// The inviter and the rewards of this registration, when an invitation code was used.
    pub invitation: Option<Invitation>,
    /// Written in the same transaction (an admin's creation of the user).
    pub audit: Option<crate::audit::AuditEntry>,
    pub created_at: i64,
}

/// An accepted invitation (docs/newapi-behaviour.md §4.1, §8.2): the adapter links the inviter,
/// raises its `aff_count` by one whatever the rewards are, and applies each non-zero reward through
/// the ledger, all in the transaction that inserts the new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invitation {
    pub inviter_id: UserId,
    /// Credited to the inviter's `aff_quota` (and `aff_history_quota`).
    pub inviter_reward: i64,
    /// Credited to the new user's `quota`.
    pub invitee_bonus: i64,
    /// At most this many invitations reward the inviter per rolling 24 h; 0 = unlimited.
    /// Beyond it the invitee is still linked and counted, and its own bonus still paid.
    pub reward_daily_limit: u32,
}

/// The rolling window of [`Invitation::reward_daily_limit`].
pub const INVITER_REWARD_WINDOW_SECS: i64 = 86_400;

impl Invitation {
    /// Whether this invitation pays the inviter, given how many invitations rewarded it in
    /// the last [`INVITER_REWARD_WINDOW_SECS`]. Adapters count inside the insert transaction,
    /// after serialising the inviter's invitations.
    pub fn rewards_inviter(&self, rewarded_in_window: u64) -> bool {
        self.inviter_reward > 0
            && (self.reward_daily_limit == 0
                || rewarded_in_window < u64::from(self.reward_daily_limit))
    }
}

/// Changes to a user's profile; `None` leaves a field as it is. For the optional contact
/// fields, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub username: Option<Username>,
    pub display_name: Option<DisplayName>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub avatar: Option<Option<AvatarUrl>>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The group every new user starts in.
pub const DEFAULT_GROUP: &str = "default";

/// The settings object a new user gets (docs/newapi-behaviour.md §2.2): `gotify_priority` 0 and the
/// role's default sidebar, itself a JSON string nested in the object.
pub fn default_setting(role: Role) -> String {
    use serde_json::json;
    let mut sidebar = json!({
        "chat": {"enabled": true, "playground": true, "chat": true},
        "console": {"enabled": true, "detail": true, "token": true, "log": true,
                    "midjourney": true, "task": true},
        "personal": {"enabled": true, "topup": true, "personal": true},
    });
    if role.is_admin() {
        sidebar["admin"] = json!({
            "enabled": true, "channel": true, "models": true, "redemption": true,
            "user": true, "setting": role == Role::Root,
        });
    }
    json!({"gotify_priority": 0, "sidebar_modules": sidebar.to_string()}).to_string()
}

#[cfg(test)]
mod tests;
