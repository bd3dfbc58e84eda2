//! Rate limits: how many events a key (a client address, an account) may cause in a period.
//!
//! The rule is a value ([`RateLimit`]); the counting is a port ([`RateLimiter`]) with an
//! in-process adapter (`tollgate-kv`) and, for many instances, a shared one. A limiter never
//! guards money: the database statement is the guarantee there. It keeps one client from
//! spending what every client shares (registrations, audit rows, hash verifications).

use async_trait::async_trait;

/// At most `max` events per `period_secs` for one key, with a burst of `max`. `max == 0`
/// turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub period_secs: u64,
}

impl RateLimit {
    /// No limit at all.
    pub const UNLIMITED: RateLimit = RateLimit {
        max: 0,
        period_secs: 1,
    };

    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            period_secs: 3600,
        }
    }

    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            period_secs: 60,
        }
    }

    pub fn is_unlimited(self) -> bool {
        self.max == 0 || self.period_secs == 0
    }
}

/// What a limiter says about one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; the event was counted.
    Allow,
    /// Refused; the next event of this key may be allowed after this many seconds (>= 1).
    Deny { retry_after_secs: u64 },
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Counts events per key against one [`RateLimit`]. The check and the count are one atomic
/// step: N concurrent callers never get more than the limit allows.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one event of `key` and says whether it is within the limit.
    async fn check(&self, key: &str) -> anyhow::Result<Decision>;
}

/// A limiter that allows everything (a limit of 0, or tests that are not about limits).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLimit;

#[async_trait]
impl RateLimiter for NoLimit {
    async fn check(&self, _key: &str) -> anyhow::Result<Decision> {
        Ok(Decision::Allow)
    }
}
