//! Redemption codes (docs/newapi-behaviour.md §8.1): admin-issued vouchers a user redeems once for
//! quota.

use crate::user::{Role, UserId};

/// Code status, with New API's codes (1 enabled, 2 disabled, 3 used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedemptionStatus {
    Enabled,
    Disabled,
    Used,
}

impl RedemptionStatus {
    pub fn code(self) -> i32 {
        match self {
            RedemptionStatus::Enabled => 1,
            RedemptionStatus::Disabled => 2,
            RedemptionStatus::Used => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(RedemptionStatus::Enabled),
            2 => Some(RedemptionStatus::Disabled),
            3 => Some(RedemptionStatus::Used),
            _ => None,
        }
    }
}

/// A stored redemption code.
#[derive(Debug, Clone, PartialEq)]
pub struct Redemption {
    pub id: i64,
    /// The admin who created it.
    pub created_by: UserId,
    pub code: String,
    pub status: RedemptionStatus,
    pub name: String,
    pub quota: i64,
    pub created_at: i64,
    pub redeemed_at: Option<i64>,
    pub used_by: Option<UserId>,
    /// `None` never expires.
    pub expires_at: Option<i64>,
}

impl Redemption {
    /// Why this code cannot be redeemed at `now`, if it cannot. Adapters use it to explain a
    /// claim that matched no row; the claim itself is a conditional update.
    pub fn unavailable_reason(&self, now: i64) -> Option<RedeemError> {
        match self.status {
            RedemptionStatus::Used => Some(RedeemError::AlreadyUsed),
            RedemptionStatus::Disabled => Some(RedeemError::Disabled),
            RedemptionStatus::Enabled if matches!(self.expires_at, Some(t) if t < now) => {
                Some(RedeemError::Expired)
            }
            RedemptionStatus::Enabled => None,
        }
    }
}

/// Why a batch of codes was refused. Nothing is created.
#[derive(Debug, thiserror::Error)]
pub enum CreateRedemptionsError {
    #[error("name must be 1 to {max} characters")]
    InvalidName { max: usize },
    #[error("count must be at least 1")]
    CountTooSmall,
    #[error("count must be at most {max}")]
    CountTooLarge { max: u32 },
    #[error("quota must be positive")]
    InvalidQuota,
    #[error("expiry is in the past")]
    ExpiryInPast,
    #[error("only admins may create redemption codes")]
    Forbidden,
    #[error("a generated code collided with an existing one")]
    CodeCollision,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error("the batch's total quota exceeds the largest amount")]
    TotalTooLarge,
    #[error("the batch exceeds the admin's mint limit of {limit} per 24 h ({remaining} left)")]
    MintLimitExceeded { limit: i64, remaining: i64 },
}

/// A validated request for a batch of codes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRedemptionBatch {
    name: String,
    quota: i64,
    count: u32,
    expires_at: Option<i64>,
}

impl NewRedemptionBatch {
    pub const MAX_NAME_CHARS: usize = 20;
    pub const MAX_COUNT: u32 = 100;

    /// `expires_at` of `None` or `Some(0)` means "never" (New API sends 0).
    pub fn parse(
        name: &str,
        quota: i64,
        count: i64,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<Self, CreateRedemptionsError> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_NAME_CHARS {
            return Err(CreateRedemptionsError::InvalidName {
                max: Self::MAX_NAME_CHARS,
            });
        }
        if count < 1 {
            return Err(CreateRedemptionsError::CountTooSmall);
        }
        if count > i64::from(Self::MAX_COUNT) {
            return Err(CreateRedemptionsError::CountTooLarge {
                max: Self::MAX_COUNT,
            });
        }
        // New API lets admins mint negative codes that silently debit (docs/newapi-behaviour.md
        // §11.4).
        if quota <= 0 {
            return Err(CreateRedemptionsError::InvalidQuota);
        }
        // The total is audited and counted against the mint cap, so it must be exact.
        if quota.checked_mul(count).is_none() {
            return Err(CreateRedemptionsError::TotalTooLarge);
        }
        let expires_at = expires_at.filter(|t| *t != 0);
        if matches!(expires_at, Some(t) if t < now) {
            return Err(CreateRedemptionsError::ExpiryInPast);
        }
        Ok(Self {
            name: name.to_owned(),
            quota,
            count: count as u32,
            expires_at,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn quota(&self) -> i64 {
        self.quota
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
    /// `quota × count`; [`Self::parse`] refused batches where it overflows.
    pub fn total(&self) -> i64 {
        self.quota.saturating_mul(i64::from(self.count))
    }
}

/// One code to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRedemption {
    pub code: String,
    pub name: String,
    pub quota: i64,
    pub created_by: UserId,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// The rolling window of the admins' mint cap (`AdminMintQuotaDailyLimit`).
pub const MINT_WINDOW_SECS: i64 = 86_400;

/// The cap on what one non-root admin may mint: codes it created after `since` (the last 24 h)
/// plus the new batch may total at most `limit` quota units. Root mints without a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintCap {
    pub limit: i64,
    pub since: i64,
}

impl MintCap {
    /// The cap of an actor with `role` minting at `now` under `limit`: `None` for root.
    pub fn for_actor(role: Role, limit: i64, now: i64) -> Option<Self> {
        (role != Role::Root).then(|| Self {
            limit,
            since: now.saturating_sub(MINT_WINDOW_SECS),
        })
    }

    /// Whether a batch worth `total` fits beside the `minted` total of the window. Adapters
    /// call it inside the write transaction, after serialising the actor's mints.
    pub fn check(&self, minted: i64, total: i64) -> Result<(), CreateRedemptionsError> {
        let remaining = self.limit.saturating_sub(minted).max(0);
        if total > remaining {
            return Err(CreateRedemptionsError::MintLimitExceeded {
                limit: self.limit,
                remaining,
            });
        }
        Ok(())
    }
}

/// The outcome of a successful redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redeemed {
    pub redemption_id: i64,
    pub quota: i64,
    pub balance_after: i64,
}

/// Why a redemption failed. Nothing was credited and the code is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("no code was provided")]
    EmptyCode,
    #[error("no such code")]
    NotFound,
    #[error("the code was already used")]
    AlreadyUsed,
    #[error("the code is disabled")]
    Disabled,
    #[error("the code has expired")]
    Expired,
    #[error("the balance would overflow")]
    BalanceOverflow,
    #[error("the account cannot redeem")]
    AccountUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn code(status: RedemptionStatus, expires_at: Option<i64>) -> Redemption {
        Redemption {
            id: 1,
            created_by: UserId::new(1),
            code: "c".into(),
            status,
            name: "n".into(),
            quota: 1,
            created_at: 0,
            redeemed_at: None,
            used_by: None,
            expires_at,
        }
    }

    #[test]
    fn each_unavailable_state_has_its_own_reason() {
        let reason = |r: &Redemption| r.unavailable_reason(NOW).map(|e| e.to_string());
        assert_eq!(reason(&code(RedemptionStatus::Enabled, None)), None);
        assert_eq!(reason(&code(RedemptionStatus::Enabled, Some(NOW))), None);
        assert!(matches!(
            code(RedemptionStatus::Enabled, Some(NOW - 1)).unavailable_reason(NOW),
            Some(RedeemError::Expired)
        ));
        assert!(matches!(
            code(RedemptionStatus::Used, None).unavailable_reason(NOW),
            Some(RedeemError::AlreadyUsed)
        ));
        assert!(matches!(
            code(RedemptionStatus::Disabled, None).unavailable_reason(NOW),
            Some(RedeemError::Disabled)
        ));
    }

    #[test]
    fn valid_batch_parses_and_zero_expiry_means_never() {
        let b = NewRedemptionBatch::parse(" promo ", 500_000, 3, Some(0), NOW).unwrap();
        assert_eq!(
            (b.name(), b.quota(), b.count(), b.expires_at()),
            ("promo", 500_000, 3, None)
        );
    }

    #[test]
    fn name_must_be_1_to_20_characters() {
        assert!(matches!(
            NewRedemptionBatch::parse("", 1, 1, None, NOW),
            Err(CreateRedemptionsError::InvalidName { .. })
        ));
        assert!(NewRedemptionBatch::parse(&"码".repeat(20), 1, 1, None, NOW).is_ok());
        assert!(NewRedemptionBatch::parse(&"码".repeat(21), 1, 1, None, NOW).is_err());
    }

    #[test]
    fn count_must_be_1_to_100() {
        assert!(matches!(
            NewRedemptionBatch::parse("n", 1, 0, None, NOW),
            Err(CreateRedemptionsError::CountTooSmall)
        ));
        assert!(matches!(
            NewRedemptionBatch::parse("n", 1, 101, None, NOW),
            Err(CreateRedemptionsError::CountTooLarge { max: 100 })
        ));
        assert!(NewRedemptionBatch::parse("n", 1, 100, None, NOW).is_ok());
    }

    #[test]
    fn zero_or_negative_quota_is_refused() {
        for q in [0, -1, i64::MIN] {
            assert!(matches!(
                NewRedemptionBatch::parse("n", q, 1, None, NOW),
                Err(CreateRedemptionsError::InvalidQuota)
            ));
        }
    }

    #[test]
    fn a_batch_whose_total_overflows_is_refused() {
        assert!(matches!(
            NewRedemptionBatch::parse("n", i64::MAX / 2 + 1, 2, None, NOW),
            Err(CreateRedemptionsError::TotalTooLarge)
        ));
        let b = NewRedemptionBatch::parse("n", i64::MAX / 100, 100, None, NOW).unwrap();
        assert_eq!(b.total(), i64::MAX / 100 * 100);
    }

    #[test]
    fn root_mints_without_a_cap_and_admins_within_a_rolling_day() {
        assert_eq!(MintCap::for_actor(Role::Root, 1_000, NOW), None);
        assert_eq!(
            MintCap::for_actor(Role::Admin, 1_000, NOW),
            Some(MintCap {
                limit: 1_000,
                since: NOW - MINT_WINDOW_SECS
            })
        );
    }

    #[test]
    fn the_cap_admits_batches_up_to_what_is_left() {
        let cap = MintCap {
            limit: 1_000,
            since: 0,
        };
        // (already minted, batch total) -> Ok or the remaining allowance
        let cases = [
            (0, 1_000, None),
            (0, 1_001, Some(1_000)),
            (600, 400, None),
            (600, 401, Some(400)),
            (1_000, 1, Some(0)),
            // Minted beyond the cap (the limit was lowered): nothing is left, never negative.
            (5_000, 1, Some(0)),
            (i64::MAX, i64::MAX, Some(0)),
        ];
        for (minted, total, refused) in cases {
            let got = match cap.check(minted, total) {
                Ok(()) => None,
                Err(CreateRedemptionsError::MintLimitExceeded { limit, remaining }) => {
                    assert_eq!(limit, 1_000);
                    Some(remaining)
                }
                Err(other) => panic!("{other:?}"),
            };
            assert_eq!(got, refused, "minted {minted}, batch {total}");
        }
        let closed = MintCap { limit: 0, since: 0 };
        assert!(
            closed.check(0, 1).is_err(),
            "a limit of 0 lets admins mint nothing"
        );
    }

    #[test]
    fn expiry_in_the_past_is_refused() {
        assert!(matches!(
            NewRedemptionBatch::parse("n", 1, 1, Some(NOW - 1), NOW),
            Err(CreateRedemptionsError::ExpiryInPast)
        ));
        assert!(NewRedemptionBatch::parse("n", 1, 1, Some(NOW), NOW).is_ok());
    }
}
