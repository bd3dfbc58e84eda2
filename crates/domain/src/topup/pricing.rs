//! What an amount costs and what it credits (docs/newapi-behaviour.md, top-up pricing).

use std::collections::BTreeMap;

use rust_decimal::RoundingStrategy;

use crate::payment::Decimal;

/// The inputs of a price, read from the options when the order is quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing<'a> {
    /// Shop currency per USD of quota (`Price`, or `StripeUnitPrice`).
    pub unit_price: Decimal,
    /// The smallest amount, in USD units (`MinTopUp`, `StripeMinTopUp`).
    pub min_topup: i64,
    /// The largest amount in request units; `None` for no bound other than overflow.
    pub max_amount: Option<i64>,
    /// `TopupGroupRatio` of the user's group; missing or not positive counts as 1.
    pub group_ratio: Option<Decimal>,
    /// `payment_setting.amount_discount`, keyed by the requested amount; only values > 0
    /// apply.
    pub discounts: &'a BTreeMap<i64, Decimal>,
    /// Quota units per USD (`QuotaPerUnit`).
    pub quota_per_unit: i64,
    /// With TOKENS display the requested amount is in quota units, not USD.
    pub tokens_display: bool,
}

/// A priced amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// The requested amount, in request units.
    pub amount: i64,
    /// What the customer pays, rounded to cents (half away from zero).
    pub pay: Decimal,
    /// The quota the order credits: exactly what was paid for, never truncated.
    pub credited_quota: i64,
}

/// Why an amount cannot be bought. Nothing is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the amount must be at least {min}")]
    BelowMinimum { min: i64 },
    #[error("the amount must be at most {max}")]
    AboveMaximum { max: i64 },
    #[error("the price is below 0.01")]
    TooLow,
    #[error("the amount is too large")]
    Overflow,
}

/// The smallest price an order may have.
fn one_cent() -> Decimal {
    Decimal::new(1, 2)
}

impl Pricing<'_> {
    /// The smallest amount, in request units (USD, or quota units with TOKENS display).
    pub fn min_amount(&self) -> Result<i64, PricingError> {
        if self.tokens_display {
            self.min_topup
                .checked_mul(self.quota_per_unit)
                .ok_or(PricingError::Overflow)
        } else {
            Ok(self.min_topup)
        }
    }

    /// Prices `amount`: `usd × unit_price × group ratio × discount`, in decimals, rounded to
    /// cents; refused below the minimum, above the maximum, under one cent or on overflow.
    pub fn quote(&self, amount: i64) -> Result<Quote, PricingError> {
        let min = self.min_amount()?;
        if amount < min {
            return Err(PricingError::BelowMinimum { min });
        }
        if let Some(max) = self.max_amount
            && amount > max
        {
            return Err(PricingError::AboveMaximum { max });
        }
        if self.quota_per_unit <= 0 {
            return Err(PricingError::Overflow);
        }
        let usd = if self.tokens_display {
            Decimal::from(amount)
                .checked_div(Decimal::from(self.quota_per_unit))
                .ok_or(PricingError::Overflow)?
        } else {
            Decimal::from(amount)
        };
        let ratio = self
            .group_ratio
            .filter(|r| *r > Decimal::ZERO)
            .unwrap_or(Decimal::ONE);
        let discount = self
            .discounts
            .get(&amount)
            .copied()
            .filter(|d| *d > Decimal::ZERO)
            .unwrap_or(Decimal::ONE);
        let pay = usd
            .checked_mul(self.unit_price)
            .and_then(|p| p.checked_mul(ratio))
            .and_then(|p| p.checked_mul(discount))
            .ok_or(PricingError::Overflow)?
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        if pay < one_cent() {
            return Err(PricingError::TooLow);
        }
        let credited_quota = if self.tokens_display {
            amount
        } else {
            amount
                .checked_mul(self.quota_per_unit)
                .ok_or(PricingError::Overflow)?
        };
        Ok(Quote {
            amount,
            pay,
            credited_quota,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn pricing(discounts: &BTreeMap<i64, Decimal>) -> Pricing<'_> {
        Pricing {
            unit_price: dec("7.3"),
            min_topup: 1,
            max_amount: None,
            group_ratio: Some(Decimal::ONE),
            discounts,
            quota_per_unit: 500_000,
            tokens_display: false,
        }
    }

    #[test]
    fn the_price_is_usd_times_price_ratio_and_discount_in_exact_decimals() {
        let discounts = BTreeMap::from([(100, dec("0.9")), (7, dec("0"))]);
        let mut p = pricing(&discounts);
        let q = p.quote(10).unwrap();
        assert_eq!((q.pay, q.credited_quota), (dec("73.00"), 5_000_000));
        // The discount is keyed by the requested amount; 0 does not apply.
        assert_eq!(p.quote(100).unwrap().pay, dec("657.00"));
        assert_eq!(p.quote(7).unwrap().pay, dec("51.10"));
        p.group_ratio = Some(dec("1.5"));
        assert_eq!(p.quote(3).unwrap().pay, dec("32.85"));
        // A missing or non-positive ratio counts as 1.
        p.group_ratio = Some(Decimal::ZERO);
        assert_eq!(p.quote(3).unwrap().pay, dec("21.90"));
        p.group_ratio = None;
        assert_eq!(p.quote(3).unwrap().pay, dec("21.90"));
        // 0.1 + 0.2 style float error cannot happen: 3 × 0.1 is exactly 0.30.
        p.unit_price = dec("0.1");
        assert_eq!(p.quote(3).unwrap().pay, dec("0.30"));
    }

    #[test]
    fn cents_round_half_away_from_zero() {
        let none = BTreeMap::new();
        let mut p = pricing(&none);
        p.unit_price = dec("0.005");
        assert_eq!(p.quote(1).unwrap().pay, dec("0.01"));
        p.unit_price = dec("0.004");
        assert_eq!(p.quote(1), Err(PricingError::TooLow));
    }

    #[test]
    fn bounds_and_overflow_are_refused() {
        let none = BTreeMap::new();
        let mut p = pricing(&none);
        p.min_topup = 5;
        assert_eq!(p.quote(4), Err(PricingError::BelowMinimum { min: 5 }));
        assert_eq!(p.quote(-1), Err(PricingError::BelowMinimum { min: 5 }));
        p.max_amount = Some(10_000);
        assert_eq!(
            p.quote(10_001),
            Err(PricingError::AboveMaximum { max: 10_000 })
        );
        p.max_amount = None;
        assert_eq!(p.quote(i64::MAX), Err(PricingError::Overflow));
    }

    #[test]
    fn tokens_display_credits_exactly_the_tokens_paid_for() {
        let none = BTreeMap::new();
        let mut p = pricing(&none);
        p.tokens_display = true;
        // The minimum is MinTopUp × QuotaPerUnit tokens.
        assert_eq!(
            p.quote(499_999),
            Err(PricingError::BelowMinimum { min: 500_000 })
        );
        // New API stored 1 USD for 750,000 tokens and credited 500,000; here the user pays
        // for 1.5 USD and gets 750,000.
        let q = p.quote(750_000).unwrap();
        assert_eq!((q.pay, q.credited_quota), (dec("10.95"), 750_000));
    }
}
