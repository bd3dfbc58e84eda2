//! The audit log: who did what to whom, with before/after where it matters. Each entry is
//! written in the same transaction as the act it records.

use serde_json::Value;

use crate::user::{Role, UserId};

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
    RefreshTokenReused,
    TopUpSettled,
    TopUpCompletedByAdmin,
    PaymentRefused,
    RedemptionUpdated,
    RedemptionDeleted,
    RedemptionsPurged,
    TwoFactorEnabled,
    TwoFactorDisabled,
    TwoFactorBackupCodesRegenerated,
    TwoFactorReset,
}

impl AuditAction {
    pub const ALL: [AuditAction; 29] = [
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
        AuditAction::RefreshTokenReused,
        AuditAction::TopUpSettled,
        AuditAction::TopUpCompletedByAdmin,
        AuditAction::PaymentRefused,
        AuditAction::RedemptionUpdated,
        AuditAction::RedemptionDeleted,
        AuditAction::RedemptionsPurged,
        AuditAction::TwoFactorEnabled,
        AuditAction::TwoFactorDisabled,
        AuditAction::TwoFactorBackupCodesRegenerated,
        AuditAction::TwoFactorReset,
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
            AuditAction::RefreshTokenReused => "refresh_token.reused",
            AuditAction::TopUpSettled => "topup.settled",
            AuditAction::TopUpCompletedByAdmin => "topup.completed_by_admin",
            AuditAction::PaymentRefused => "payment.refused",
            AuditAction::RedemptionUpdated => "redemption.updated",
            AuditAction::RedemptionDeleted => "redemption.deleted",
            AuditAction::RedemptionsPurged => "redemption.purged",
            AuditAction::TwoFactorEnabled => "two_factor.enabled",
            AuditAction::TwoFactorDisabled => "two_factor.disabled",
            AuditAction::TwoFactorBackupCodesRegenerated => "two_factor.codes_regenerated",
            AuditAction::TwoFactorReset => "two_factor.reset",
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
    /// The actor's role when the entry was written. `None` on a new entry means "look it up
    /// in the same transaction": the repository stores the role the user row has then.
    pub actor_role: Option<Role>,
    /// The target's role when the entry was written (filled like `actor_role`). A stored
    /// entry with a target but no role (its user was gone before roles were recorded) is
    /// shown to root only.
    pub target_role: Option<Role>,
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
            actor_role: None,
            target_role: None,
        }
    }

    /// Records the target's role as the caller knows it (for acts after which the target's
    /// row is gone, such as a hard delete).
    pub fn target_role(mut self, role: Role) -> Self {
        self.target_role = Some(role);
        self
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

/// Filters of the audit listing. `scope` limits it to what one reader may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    pub target_id: Option<UserId>,
    pub action: Option<AuditAction>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// `None`: every entry (internal use only; readers always get a scope).
    pub scope: Option<AuditScope>,
}

/// Who reads the audit log, and so which entries it may see (issue 7.8). The rule works on
/// the roles stored with each entry, never on live user rows, so deleting or re-roling an
/// account does not change who may read what was written about it.
///
/// - Root sees every entry.
/// - Any other reader never sees an entry whose actor is root, or whose actor's role is
///   unknown (a user that was gone before roles were recorded: it may have been root).
/// - Of the rest it sees entries about no user, about itself, and about users whose role
///   was strictly below its own when the entry was written; an unknown target role hides
///   the entry (root only).
///
/// The repository translates this rule into its query; [`AuditScope::allows`] is the
/// reference the contract tests compare the query against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditScope {
    pub reader: UserId,
    pub reader_role: Role,
}

impl AuditScope {
    pub fn allows(&self, entry: &AuditEntry) -> bool {
        if self.reader_role == Role::Root {
            return true;
        }
        let actor_ok = match (entry.actor_id, entry.actor_role) {
            (None, _) => true,
            (Some(_), Some(role)) => role < Role::Root,
            (Some(_), None) => false,
        };
        let target_ok = match (entry.target_id, entry.target_role) {
            (None, _) => true,
            (Some(id), _) if id == self.reader => true,
            (Some(_), Some(role)) => role < self.reader_role,
            (Some(_), None) => false,
        };
        actor_ok && target_ok
    }
}

/// The oldest creation time an entry may have to survive a purge at `now` when entries are
/// kept `retention_days` days; `None` when they are kept forever (0).
pub fn retention_cutoff(now: i64, retention_days: u32) -> Option<i64> {
    (retention_days > 0).then(|| now.saturating_sub(i64::from(retention_days) * 86_400))
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

    #[test]
    fn every_action_name_fits_the_audit_column() {
        // `audit.action` is VARCHAR(32) (migration 000007).
        for a in AuditAction::ALL {
            assert!(a.as_str().len() <= 32, "{} is too long", a.as_str());
        }
    }

    fn entry(
        actor: Option<(i64, Option<Role>)>,
        target: Option<(i64, Option<Role>)>,
    ) -> AuditEntry {
        let mut e = AuditEntry::new(
            AuditAction::UserUpdated,
            actor.map(|a| UserId::new(a.0)),
            target.map(|t| UserId::new(t.0)),
            0,
        );
        e.actor_role = actor.and_then(|a| a.1);
        e.target_role = target.and_then(|t| t.1);
        e
    }

    #[test]
    fn the_scope_rule_as_a_table() {
        use Role::{Admin, Root, User};
        let admin = AuditScope {
            reader: UserId::new(5),
            reader_role: Admin,
        };
        let root = AuditScope {
            reader: UserId::new(1),
            reader_role: Root,
        };
        let cases: [(AuditEntry, bool); 14] = [
            // Anonymous acts about no user (a failed login for an unknown name).
            (entry(None, None), true),
            // A failed login on a user's account, on an admin's, on the reader's own.
            (entry(None, Some((7, Some(User)))), true),
            (entry(None, Some((6, Some(Admin)))), false),
            (entry(None, Some((5, Some(Admin)))), true),
            // Another admin acting on a user; on itself (its login); on the reader.
            (entry(Some((6, Some(Admin))), Some((7, Some(User)))), true),
            (entry(Some((6, Some(Admin))), Some((6, Some(Admin)))), false),
            (entry(Some((6, Some(Admin))), Some((5, Some(Admin)))), true),
            // Root's acts, whoever the target, even the reader itself.
            (entry(Some((1, Some(Root))), Some((7, Some(User)))), false),
            (entry(Some((1, Some(Root))), Some((5, Some(Admin)))), false),
            (entry(Some((1, Some(Root))), None), false),
            // Unknown roles (rows from before roles were recorded, users gone): root only.
            (entry(Some((9, None)), Some((7, Some(User)))), false),
            (entry(Some((7, Some(User))), Some((9, None))), false),
            // The reader's own acts about itself or a user.
            (entry(Some((5, Some(Admin))), Some((5, Some(Admin)))), true),
            (entry(Some((5, Some(Admin))), Some((7, Some(User)))), true),
        ];
        for (i, (e, visible)) in cases.iter().enumerate() {
            assert_eq!(admin.allows(e), *visible, "case {i}: {e:?}");
            assert!(root.allows(e), "root sees case {i}");
        }
    }

    #[test]
    fn retention_zero_keeps_forever() {
        assert_eq!(retention_cutoff(1_000_000, 0), None);
        assert_eq!(retention_cutoff(1_000_000, 1), Some(1_000_000 - 86_400));
        assert_eq!(
            retention_cutoff(0, u32::MAX),
            Some(-(i64::from(u32::MAX) * 86_400))
        );
    }
}
