//! Managing redemption codes after the mint (docs/newapi-behaviour.md §8.1): editing, status
//! changes, deletion and search, with the rules New API lacked (§11.4, §11.13): an edit keeps
//! the limits of the mint, a used code keeps what it credited, and nothing is written over a
//! state the admin did not see.

use crate::error::RepoError;
use crate::redemption::{NewRedemptionBatch, Redemption, RedemptionStatus};
use crate::user::Role;

/// Why managing a code was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ManageRedemptionError {
    #[error("no such code")]
    NotFound,
    #[error("name must be 1 to {max} characters")]
    InvalidName { max: usize },
    #[error("quota must be positive")]
    InvalidQuota,
    #[error("expiry is in the past")]
    ExpiryInPast,
    #[error("status must be 1 (enabled) or 2 (disabled)")]
    InvalidStatus,
    /// A used code keeps its status, quota and expiry: the ledger credited that quota.
    #[error("the code was used; its status, quota and expiry cannot change")]
    UsedCodeLocked,
    /// Raising a code's quota mints quota, which the admins' mint cap must not be bypassed by.
    #[error("only root may raise a code's quota")]
    QuotaRaiseRootOnly,
    /// Another write (a redemption, another admin) changed or deleted the code between the
    /// read this decision rested on and the write; nothing was written. Reload and retry.
    #[error("the code was changed meanwhile, retry")]
    Changed,
    #[error("only admins may manage redemption codes")]
    Forbidden,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RepoError> for ManageRedemptionError {
    fn from(e: RepoError) -> Self {
        Self::Unexpected(e.0)
    }
}

/// What an admin sent to edit a code (compat `PUT /api/redemption/`). Absent fields stay as
/// they are (New API zeroed them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedemptionEdit {
    pub name: Option<String>,
    pub quota: Option<i64>,
    /// Unix seconds; `Some(0)` removes the expiry (New API's "never").
    pub expires_at: Option<i64>,
}

/// The accepted changes of one code: only what differs from the code as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedemptionChanges {
    pub name: Option<String>,
    pub quota: Option<i64>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<i64>>,
    pub status: Option<RedemptionStatus>,
}

impl RedemptionChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The audit's before and after of these changes to `seen`, both naming the code's id.
    pub fn audit_values(&self, seen: &Redemption) -> (serde_json::Value, serde_json::Value) {
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        before.insert("id".into(), seen.id.into());
        after.insert("id".into(), seen.id.into());
        if let Some(name) = &self.name {
            before.insert("name".into(), seen.name.clone().into());
            after.insert("name".into(), name.clone().into());
        }
        if let Some(quota) = self.quota {
            before.insert("quota".into(), seen.quota.into());
            after.insert("quota".into(), quota.into());
        }
        if let Some(expires_at) = self.expires_at {
            before.insert("expires_at".into(), seen.expires_at.into());
            after.insert("expires_at".into(), expires_at.into());
        }
        if let Some(status) = self.status {
            before.insert("status".into(), seen.status.code().into());
            after.insert("status".into(), status.code().into());
        }
        (before.into(), after.into())
    }
}

/// The changes an edit of `seen` by an actor with `role` makes at `now`, by the rules of the
/// mint: a name of 1–20 characters, a positive quota, an expiry not in the past (only a new
/// expiry is checked: a rename of an expired code stays possible). Raising the quota is
/// minting, so only root (which mints without a cap) may; a used code keeps its quota and
/// expiry but may be renamed.
pub fn plan_edit(
    seen: &Redemption,
    edit: &RedemptionEdit,
    role: Role,
    now: i64,
) -> Result<RedemptionChanges, ManageRedemptionError> {
    let name = edit
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| *n != seen.name)
        .map(|n| {
            let chars = n.chars().count();
            if chars == 0 || chars > NewRedemptionBatch::MAX_NAME_CHARS {
                Err(ManageRedemptionError::InvalidName {
                    max: NewRedemptionBatch::MAX_NAME_CHARS,
                })
            } else {
                Ok(n.to_owned())
            }
        })
        .transpose()?;
    let quota = edit.quota.filter(|q| *q != seen.quota);
    if quota.is_some_and(|q| q <= 0) {
        return Err(ManageRedemptionError::InvalidQuota);
    }
    let expires_at = edit
        .expires_at
        .map(|t| (t != 0).then_some(t))
        .filter(|e| *e != seen.expires_at);
    if matches!(expires_at, Some(Some(t)) if t < now) {
        return Err(ManageRedemptionError::ExpiryInPast);
    }
    if seen.status == RedemptionStatus::Used && (quota.is_some() || expires_at.is_some()) {
        return Err(ManageRedemptionError::UsedCodeLocked);
    }
    if quota.is_some_and(|q| q > seen.quota) && role != Role::Root {
        return Err(ManageRedemptionError::QuotaRaiseRootOnly);
    }
    Ok(RedemptionChanges {
        name,
        quota,
        expires_at,
        status: None,
    })
}

/// The change of `seen`'s status to the New API status `code`: only 1 (enabled) or 2
/// (disabled) may be set, and never on a used code (re-enabling it would let it credit twice;
/// disabling it would hide that it was used). Setting the current status changes nothing.
pub fn plan_status(
    seen: &Redemption,
    code: i64,
) -> Result<RedemptionChanges, ManageRedemptionError> {
    let status = match code {
        1 => RedemptionStatus::Enabled,
        2 => RedemptionStatus::Disabled,
        _ => return Err(ManageRedemptionError::InvalidStatus),
    };
    if status == seen.status {
        return Ok(RedemptionChanges::default());
    }
    if seen.status == RedemptionStatus::Used {
        return Err(ManageRedemptionError::UsedCodeLocked);
    }
    Ok(RedemptionChanges {
        status: Some(status),
        ..RedemptionChanges::default()
    })
}

/// Whether "delete invalid codes" removes `code` at `now`: used, disabled, or enabled and
/// expired (a code expiring exactly at `now` can still be redeemed, so it stays). The
/// repository's query is held equal to this by the contract tests.
pub fn is_invalid(code: &Redemption, now: i64) -> bool {
    match code.status {
        RedemptionStatus::Used | RedemptionStatus::Disabled => true,
        RedemptionStatus::Enabled => matches!(code.expires_at, Some(t) if t < now),
    }
}

/// The admin search of codes (New API's `SearchRedemptions`): names starting with the keyword
/// (case-sensitively, on every backend), or the id when the keyword is a positive integer.
/// No keyword lists every code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedemptionQuery {
    pub name_prefix: Option<String>,
    pub id: Option<i64>,
}

impl RedemptionQuery {
    pub fn from_keyword(keyword: &str) -> Self {
        let keyword = keyword.trim();
        if keyword.is_empty() {
            return Self::default();
        }
        Self {
            name_prefix: Some(keyword.to_owned()),
            id: keyword.parse::<i64>().ok().filter(|id| *id > 0),
        }
    }
}

#[cfg(test)]
mod tests;
