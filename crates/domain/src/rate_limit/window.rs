//! [`WindowLimiter`]: a sliding-window estimate from two fixed-window counters of the
//! key-value store.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Decision, RateLimit, RateLimiter};
use crate::kv::KeyValueStore;
use crate::ports::Clock;

/// Counts events per key in fixed windows of `period_secs` (aligned to the Unix epoch) and
/// estimates the last `period_secs` as the current window's count plus the previous window's
/// count weighted by how much of it still overlaps:
///
/// ```text
/// estimate = previous × (period − elapsed) / period + current
/// ```
///
/// An event is allowed while the estimate, itself included, is at most `max`. This is the
/// approximation Cloudflare describes for its own limits: two counters per key instead of a
/// log of timestamps (New API's sliding log, spec §8.1), exact within one fixed window (never
/// more than `max`), smooth across the boundary; a client that saves its whole allowance for
/// the end of one window and spends it again at the start of the next can pass up to about
/// `2 × max` in the worst single period, `max` on average.
///
/// Checking and counting are one atomic step: `incr` returns each concurrent caller a distinct
/// count, so N callers never get more than the limit allows. A refused event is given back
/// (`incr` by −1), so hammering a closed limit does not keep it closed: only allowed events
/// count, and `Retry-After` is the time until the estimate lets one more through if nothing
/// else arrives.
///
/// When the store fails the event is allowed and a warning logged: a limiter must not take
/// the service down (docs/security.md).
pub struct WindowLimiter {
    store: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    limit: RateLimit,
    /// The namespace of this limit's counters, `rl:<name>:`.
    prefix: String,
}

impl WindowLimiter {
    /// A limiter named `name` (which keeps its counters apart from other limits' counters of
    /// the same key) that allows `limit`.
    pub fn new(
        name: &str,
        limit: RateLimit,
        store: Arc<dyn KeyValueStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            clock,
            limit,
            prefix: format!("rl:{name}:"),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    async fn count(&self, key: &str) -> anyhow::Result<Decision> {
        let period = self.limit.period_secs;
        let max = u64::from(self.limit.max);
        let now = u64::try_from(self.clock.now()).unwrap_or(0);
        let (window, elapsed) = (now / period, now % period);
        let current_key = format!("{}{key}:{window}", self.prefix);
        let previous_key = format!("{}{key}:{}", self.prefix, window.wrapping_sub(1));
        // Alive through the next window too, where it is the previous one.
        let ttl = period.saturating_mul(2);
        let current = self.store.incr(&current_key, 1, ttl).await?;
        let previous = match self.store.get(&previous_key).await? {
            Some(text) => text.parse::<i64>().unwrap_or(0),
            None => 0,
        };
        let current = u64::try_from(current).unwrap_or(0);
        let previous = u64::try_from(previous).unwrap_or(0);
        if within(previous, current, elapsed, period, max) {
            return Ok(Decision::Allow);
        }
        // Only allowed events count: give this one back.
        if let Err(e) = self.store.incr(&current_key, -1, ttl).await {
            tracing::warn!(error = %e, key = %current_key, "could not give back a refused event");
        }
        Ok(Decision::Deny {
            retry_after_secs: retry_after(
                previous,
                current.saturating_sub(1),
                elapsed,
                period,
                max,
            ),
        })
    }
}

/// Whether `previous × (period − elapsed) / period + current ≤ max`, in exact integers.
fn within(previous: u64, current: u64, elapsed: u64, period: u64, max: u64) -> bool {
    let weighted = u128::from(previous) * u128::from(period - elapsed);
    weighted + u128::from(current) * u128::from(period) <= u128::from(max) * u128::from(period)
}

/// Seconds until one more event fits, when `others` events were allowed in the current
/// window so far and nothing else arrives (at least 1).
pub(super) fn retry_after(previous: u64, others: u64, elapsed: u64, period: u64, max: u64) -> u64 {
    // The first elapsed time `e` of a window with `prev` weighted events and `count` events
    // at which one more fits: prev × (period − e) ≤ (max − count − 1) × period.
    let first_fit = |prev: u64, count: u64| -> u64 {
        let room = u128::from(max - count - 1) * u128::from(period);
        let remaining = match room.checked_div(u128::from(prev)) {
            Some(r) => u64::try_from(r).unwrap_or(u64::MAX).min(period),
            None => period,
        };
        period - remaining
    };
    let wait = if others < max {
        // Room in this window once the previous one's weight has decayed enough.
        first_fit(previous, others).saturating_sub(elapsed)
    } else {
        // This window is full: in the next one, this window's count is the previous one.
        (period - elapsed) + first_fit(others, 0)
    };
    wait.max(1)
}

#[async_trait]
impl RateLimiter for WindowLimiter {
    async fn check(&self, key: &str) -> anyhow::Result<Decision> {
        if self.limit.is_unlimited() {
            return Ok(Decision::Allow);
        }
        match self.count(key).await {
            Ok(decision) => Ok(decision),
            Err(e) => {
                tracing::warn!(
                    limit = %self.prefix,
                    error = %e,
                    "rate-limit store unavailable; the request is let through"
                );
                Ok(Decision::Allow)
            }
        }
    }
}

#[cfg(test)]
mod tests;
