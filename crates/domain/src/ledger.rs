//! The quota ledger (docs/architecture.md, "Money"): every balance change is one [`LedgerEntry`],
//! applied in the same transaction as a conditional update of the balance. A unique (kind,
//! reference) key makes each credit idempotent. Invariant: each balance equals the sum of its
//! entries.

use crate::user::UserId;

/// Which balance of a user an entry moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    /// Spendable quota (`users.quota`).
    Quota,
    /// Invitation rewards that can still be transferred (`users.aff_quota`).
    AffQuota,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Quota => "quota",
            Account::AffQuota => "aff_quota",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quota" => Some(Account::Quota),
            "aff_quota" => Some(Account::AffQuota),
            _ => None,
        }
    }
}

/// Why a balance moved. Together with the reference it identifies the business event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    /// Quota granted to a new account (`QuotaForNewUser`).
    SignupBonus,
    /// A redemption code was redeemed; reference = the code's id.
    Redemption,
    /// The bonus of a user who registered with an invitation code; reference = that user's id.
    InviteeBonus,
    /// The inviter's reward (to `aff_quota`); reference = the invitee's id.
    InviterReward,
    /// Invitation rewards moved out of `aff_quota`; reference = the transfer's id.
    AffTransferOut,
    /// ... and into `quota`; reference = the same transfer id.
    AffTransferIn,
    /// An admin set a user's quota; reference = the id of the audit record of that change.
    AdminAdjustment,
    /// A settled top-up order; reference = the order's id.
    TopUp,
    /// The inviter's rebate on an invitee's top-up (to `aff_quota`); reference = the order's id.
    TopUpRebate,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::SignupBonus => "signup_bonus",
            LedgerKind::Redemption => "redemption",
            LedgerKind::InviteeBonus => "invitee_bonus",
            LedgerKind::InviterReward => "inviter_reward",
            LedgerKind::AffTransferOut => "aff_transfer_out",
            LedgerKind::AffTransferIn => "aff_transfer_in",
            LedgerKind::AdminAdjustment => "admin_adjustment",
            LedgerKind::TopUp => "topup",
            LedgerKind::TopUpRebate => "topup_rebate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signup_bonus" => Some(LedgerKind::SignupBonus),
            "redemption" => Some(LedgerKind::Redemption),
            "invitee_bonus" => Some(LedgerKind::InviteeBonus),
            "inviter_reward" => Some(LedgerKind::InviterReward),
            "aff_transfer_out" => Some(LedgerKind::AffTransferOut),
            "aff_transfer_in" => Some(LedgerKind::AffTransferIn),
            "admin_adjustment" => Some(LedgerKind::AdminAdjustment),
            "topup" => Some(LedgerKind::TopUp),
            "topup_rebate" => Some(LedgerKind::TopUpRebate),
            _ => None,
        }
    }
}

/// A money rule was broken; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("a ledger entry must move a non-zero amount")]
    ZeroDelta,
    #[error("the balance would overflow")]
    Overflow,
    #[error("the balance is insufficient")]
    Insufficient,
    #[error("this event was already applied")]
    AlreadyApplied,
}

/// One validated balance change, not yet applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    user_id: UserId,
    account: Account,
    delta: i64,
    kind: LedgerKind,
    reference: String,
    actor_id: Option<UserId>,
}

impl LedgerEntry {
    /// Builds an entry; a zero delta is refused so every row records a real movement.
    pub fn new(
        user_id: UserId,
        account: Account,
        delta: i64,
        kind: LedgerKind,
        reference: impl Into<String>,
        actor_id: Option<UserId>,
    ) -> Result<Self, MoneyError> {
        if delta == 0 {
            return Err(MoneyError::ZeroDelta);
        }
        // i64::MIN has no positive counterpart; refusing it keeps every bound computable.
        if delta == i64::MIN {
            return Err(MoneyError::Overflow);
        }
        Ok(Self {
            user_id,
            account,
            delta,
            kind,
            reference: reference.into(),
            actor_id,
        })
    }

    /// The quota a new account starts with; reference = the new user's id.
    pub fn signup_bonus(user_id: UserId, quota: i64) -> Result<Self, MoneyError> {
        Self::new(
            user_id,
            Account::Quota,
            quota,
            LedgerKind::SignupBonus,
            user_id.to_string(),
            None,
        )
    }

    /// The credit of one redeemed code; reference = the code's id, so a code credits once.
    /// The actor is the admin who created the code: the entry says whose money it is.
    pub fn redemption(
        user_id: UserId,
        code_id: i64,
        quota: i64,
        created_by: UserId,
    ) -> Result<Self, MoneyError> {
        Self::new(
            user_id,
            Account::Quota,
            quota,
            LedgerKind::Redemption,
            code_id.to_string(),
            Some(created_by),
        )
    }

    /// The new user's invitation bonus; reference = the new user's id.
    pub fn invitee_bonus(invitee: UserId, quota: i64) -> Result<Self, MoneyError> {
        Self::new(
            invitee,
            Account::Quota,
            quota,
            LedgerKind::InviteeBonus,
            invitee.to_string(),
            None,
        )
    }

    /// The inviter's reward into `aff_quota`; reference = the invitee's id, so one invitee
    /// rewards once.
    pub fn inviter_reward(
        inviter: UserId,
        invitee: UserId,
        quota: i64,
    ) -> Result<Self, MoneyError> {
        Self::new(
            inviter,
            Account::AffQuota,
            quota,
            LedgerKind::InviterReward,
            invitee.to_string(),
            None,
        )
    }

    /// The two entries of moving `amount` from `aff_quota` to `quota` (docs/newapi-behaviour.md
    /// §5.6), sharing the transfer's reference. Applied together in one transaction, they conserve
    /// `quota + aff_quota`.
    pub fn aff_transfer(
        user_id: UserId,
        amount: i64,
        reference: &str,
    ) -> Result<[Self; 2], MoneyError> {
        if amount <= 0 {
            return Err(MoneyError::ZeroDelta);
        }
        Ok([
            Self::new(
                user_id,
                Account::AffQuota,
                -amount,
                LedgerKind::AffTransferOut,
                reference,
                Some(user_id),
            )?,
            Self::new(
                user_id,
                Account::Quota,
                amount,
                LedgerKind::AffTransferIn,
                reference,
                Some(user_id),
            )?,
        ])
    }

    /// An admin's change of a user's quota by `delta`; reference = the audit record's id.
    pub fn admin_adjustment(
        user_id: UserId,
        delta: i64,
        admin: UserId,
        audit_id: i64,
    ) -> Result<Self, MoneyError> {
        Self::new(
            user_id,
            Account::Quota,
            delta,
            LedgerKind::AdminAdjustment,
            format!("audit:{audit_id}"),
            Some(admin),
        )
    }

    /// The credit of a settled top-up order; reference = the order's id, so an order
    /// credits once. The actor is the admin of a manual completion.
    pub fn top_up(
        user_id: UserId,
        order_id: i64,
        quota: i64,
        actor: Option<UserId>,
    ) -> Result<Self, MoneyError> {
        Self::new(
            user_id,
            Account::Quota,
            quota,
            LedgerKind::TopUp,
            order_id.to_string(),
            actor,
        )
    }

    /// The inviter's rebate on an invitee's order, into `aff_quota`; reference = the order's
    /// id, so an order pays one rebate.
    pub fn top_up_rebate(inviter: UserId, order_id: i64, quota: i64) -> Result<Self, MoneyError> {
        Self::new(
            inviter,
            Account::AffQuota,
            quota,
            LedgerKind::TopUpRebate,
            order_id.to_string(),
            None,
        )
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }
    pub fn account(&self) -> Account {
        self.account
    }
    pub fn delta(&self) -> i64 {
        self.delta
    }
    pub fn kind(&self) -> LedgerKind {
        self.kind
    }
    pub fn reference(&self) -> &str {
        &self.reference
    }
    pub fn actor_id(&self) -> Option<UserId> {
        self.actor_id
    }

    /// The bounds the current balance must satisfy for this entry to apply: the result must
    /// stay within `0..=i64::MAX`. Adapters put these into the conditional `UPDATE`.
    pub fn allowed_balance_range(&self) -> (i64, i64) {
        if self.delta > 0 {
            (i64::MIN, i64::MAX - self.delta)
        } else {
            // `new` refuses i64::MIN, so the negation cannot overflow.
            (-self.delta, i64::MAX)
        }
    }

    /// Pure form of the rule the adapter enforces in SQL.
    pub fn apply_to(&self, balance: i64) -> Result<i64, MoneyError> {
        let next = balance
            .checked_add(self.delta)
            .ok_or(MoneyError::Overflow)?;
        if next < 0 {
            return Err(MoneyError::Insufficient);
        }
        Ok(next)
    }
}

/// A user whose stored balance differs from the sum of its ledger entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imbalance {
    pub user_id: UserId,
    pub account: Account,
    pub balance: i64,
    pub ledger_sum: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(delta: i64) -> LedgerEntry {
        LedgerEntry::new(
            UserId::new(1),
            Account::Quota,
            delta,
            LedgerKind::Redemption,
            "1",
            None,
        )
        .unwrap()
    }

    #[test]
    fn zero_delta_is_refused() {
        assert_eq!(
            LedgerEntry::new(
                UserId::new(1),
                Account::Quota,
                0,
                LedgerKind::Redemption,
                "1",
                None
            ),
            Err(MoneyError::ZeroDelta)
        );
    }

    #[test]
    fn an_aff_transfer_is_two_entries_that_conserve_the_total() {
        let [out, inn] = LedgerEntry::aff_transfer(UserId::new(3), 700, "t1").unwrap();
        assert_eq!((out.account(), out.delta()), (Account::AffQuota, -700));
        assert_eq!((inn.account(), inn.delta()), (Account::Quota, 700));
        assert_eq!(out.reference(), inn.reference());
        assert_ne!(out.kind(), inn.kind());
        for amount in [0, -1, i64::MIN] {
            assert!(LedgerEntry::aff_transfer(UserId::new(3), amount, "t").is_err());
        }
    }

    #[test]
    fn minimum_i64_delta_is_refused() {
        assert_eq!(
            LedgerEntry::new(
                UserId::new(1),
                Account::Quota,
                i64::MIN,
                LedgerKind::Redemption,
                "1",
                None
            ),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn credit_that_would_overflow_is_refused() {
        assert_eq!(entry(10).apply_to(i64::MAX - 9), Err(MoneyError::Overflow));
        assert_eq!(entry(10).apply_to(i64::MAX - 10), Ok(i64::MAX));
    }

    #[test]
    fn debit_below_zero_is_refused() {
        assert_eq!(entry(-10).apply_to(9), Err(MoneyError::Insufficient));
        assert_eq!(entry(-10).apply_to(10), Ok(0));
    }

    #[test]
    fn allowed_range_matches_apply_to() {
        for delta in [1, 7, 500_000, i64::MAX, -1, -7, -500_000, i64::MIN + 1] {
            let e = entry(delta);
            let (lo, hi) = e.allowed_balance_range();
            for balance in [0, 1, 6, 7, 8, 499_999, 500_000, i64::MAX - 7, i64::MAX] {
                let in_range = balance >= lo && balance <= hi;
                assert_eq!(
                    in_range,
                    e.apply_to(balance).is_ok(),
                    "delta {delta} balance {balance}"
                );
            }
        }
    }

    #[test]
    fn kinds_and_accounts_round_trip_through_their_names() {
        for k in [
            LedgerKind::SignupBonus,
            LedgerKind::Redemption,
            LedgerKind::InviteeBonus,
            LedgerKind::InviterReward,
            LedgerKind::AffTransferOut,
            LedgerKind::AffTransferIn,
            LedgerKind::AdminAdjustment,
            LedgerKind::TopUp,
            LedgerKind::TopUpRebate,
        ] {
            assert_eq!(LedgerKind::parse(k.as_str()), Some(k));
        }
        for a in [Account::Quota, Account::AffQuota] {
            assert_eq!(Account::parse(a.as_str()), Some(a));
        }
    }

    #[test]
    fn a_redemption_credits_the_redeemer_and_names_the_codes_creator() {
        let e = LedgerEntry::redemption(UserId::new(7), 42, 500, UserId::new(2)).unwrap();
        assert_eq!(
            (e.user_id(), e.delta(), e.reference(), e.actor_id()),
            (UserId::new(7), 500, "42", Some(UserId::new(2)))
        );
    }
}
