//! Rows that anonymous clients make the server write (failed logins) are limited per client
//! address (issue 7.8), so one client cannot grow the audit table at will. Over the limit the
//! login is still refused exactly as before; only its row is not written, and the skipped rows
//! are counted and reported in at most one warning per window.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::rate_limit::{NoLimit, RateLimiter, address_key};

/// The failed-login audit budget of each client address.
pub struct FailedLoginAudit {
    limiter: Arc<dyn RateLimiter>,
    /// At most one warning per this many seconds (the limit's period).
    window_secs: i64,
    /// Rows skipped since the last warning.
    skipped: AtomicU64,
    /// When the last warning was logged (`i64::MIN`: never).
    last_warning: AtomicI64,
}

impl FailedLoginAudit {
    pub fn new(limiter: Arc<dyn RateLimiter>, window_secs: u64) -> Self {
        Self {
            limiter,
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX).max(1),
            skipped: AtomicU64::new(0),
            last_warning: AtomicI64::new(i64::MIN),
        }
    }

    /// Every failed login is written.
    pub fn unlimited() -> Self {
        Self::new(Arc::new(NoLimit), 3600)
    }

    /// Whether the failed login of a client at `ip` gets its audit row (IPv6 clients count
    /// per /64, as for every per-address limit). A limiter that fails lets the row through:
    /// losing the record is worse than one more row.
    pub async fn admit(&self, ip: Option<&str>, now: i64) -> bool {
        let key = address_key(ip);
        match self.limiter.check(&key).await {
            Ok(decision) if decision.is_allowed() => true,
            Ok(_) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                self.maybe_warn(&key, now);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed-login audit limiter unavailable; row written");
                true
            }
        }
    }

    fn maybe_warn(&self, key: &str, now: i64) {
        let last = self.last_warning.load(Ordering::Relaxed);
        let due = last == i64::MIN || now.saturating_sub(last) >= self.window_secs;
        if due
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let skipped = self.skipped.swap(0, Ordering::Relaxed);
            // The address only: never the name or the password that was tried.
            tracing::warn!(
                client = key,
                skipped,
                window_secs = self.window_secs,
                "failed logins over the per-address audit limit; their rows are not written"
            );
        }
    }

    /// Rows skipped since the last warning (for tests and metrics).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{Decision, MockRateLimiter};

    #[tokio::test]
    async fn over_the_limit_rows_are_skipped_and_counted_and_a_broken_limiter_lets_them_through() {
        let mut limiter = MockRateLimiter::new();
        let mut calls = 0;
        limiter.expect_check().returning(move |key| {
            assert_eq!(key, "203.0.113.9");
            calls += 1;
            match calls {
                1 => Ok(Decision::Allow),
                2 | 3 => Ok(Decision::Deny {
                    retry_after_secs: 5,
                }),
                _ => Err(anyhow::anyhow!("limiter down")),
            }
        });
        let audit = FailedLoginAudit::new(Arc::new(limiter), 60);
        let ip = Some("203.0.113.9");
        assert!(audit.admit(ip, 100).await);
        // The first skip warns (and resets the count), the second within the window does not.
        assert!(!audit.admit(ip, 101).await);
        assert_eq!(audit.skipped(), 0);
        assert!(!audit.admit(ip, 102).await);
        assert_eq!(audit.skipped(), 1);
        assert!(audit.admit(ip, 103).await);
    }
}
