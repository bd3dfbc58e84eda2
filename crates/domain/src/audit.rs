//! The audit log: who did what to whom, with before/after where it matters. Each entry is
//! written in the same transaction as the act it records.

use serde_json::Value;

use crate::user::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    LoginSucceeded,
    LoginFailed,
    PasswordChanged,
    PasswordReset,
    SessionsRevoked,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    UserHardDeleted,
    UserPromoted,
    UserDemoted,
    QuotaChanged,
    OptionChanged,
    UserSelfDeleted,
    AccessTokenRotated,
    RedemptionsCreated,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::LoginSucceeded,
        AuditAction::LoginFailed,
        AuditAction::PasswordChanged,
        AuditAction::PasswordReset,
        AuditAction::SessionsRevoked,
        AuditAction::UserCreated,
        AuditAction::UserUpdated,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::UserDeleted,
        AuditAction::UserHardDeleted,
        AuditAction::UserPromoted,
        AuditAction::UserDemoted,
        AuditAction::QuotaChanged,
        AuditAction::OptionChanged,
        AuditAction::UserSelfDeleted,
        AuditAction::AccessTokenRotated,
        AuditAction::RedemptionsCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginSucceeded => "login.succeeded",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::PasswordChanged => "password.changed",
            AuditAction::PasswordReset => "password.reset",
            AuditAction::SessionsRevoked => "sessions.revoked",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::UserEnabled => "user.enabled",
            AuditAction::UserDeleted => "user.deleted",
            AuditAction::UserHardDeleted => "user.hard_deleted",
            AuditAction::UserPromoted => "user.promoted",
            AuditAction::UserDemoted => "user.demoted",
            AuditAction::QuotaChanged => "quota.changed",
            AuditAction::OptionChanged => "option.changed",
            AuditAction::UserSelfDeleted => "user.self_deleted",
            AuditAction::AccessTokenRotated => "access_token.rotated",
            AuditAction::RedemptionsCreated => "redemption.created",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One audit record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor_id: Option<UserId>,
    pub target_id: Option<UserId>,
    pub action: AuditAction,
    /// State before the act, where it matters (never a secret).
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<String>,
    pub at: i64,
}

impl AuditEntry {
    pub fn new(
        action: AuditAction,
        actor: Option<UserId>,
        target: Option<UserId>,
        at: i64,
    ) -> Self {
        Self {
            actor_id: actor,
            target_id: target,
            action,
            before: None,
            after: None,
            ip: None,
            at,
        }
    }

    pub fn change(mut self, before: Value, after: Value) -> Self {
        self.before = Some(before);
        self.after = Some(after);
        self
    }

    pub fn from_ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// Filters of the audit listing. `visible_below` scopes it by the hierarchy: an admin sees
/// entries about users whose role is below its own (and entries without a target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    pub target_id: Option<UserId>,
    pub action: Option<AuditAction>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Role code: only entries whose target has a lower role (or no target)...
    pub visible_below: Option<i32>,
    /// ...plus entries about this user.
    pub also: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_name() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("nope"), None);
    }
}
