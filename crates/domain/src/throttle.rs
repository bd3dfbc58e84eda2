//! Login throttling: how often one account, and one client address, may have a credential
//! checked (a password, a second-factor code).
//!
//! The policy (docs/security.md, "Login throttling"):
//! - **Per account**, keyed by the normalised login name whether or not such an account exists,
//!   so a refusal reveals nothing. The first [`ThrottlePolicy::free_failures`] consecutive
//!   failures cost nothing; from then on every further attempt waits a delay that starts at
//!   [`ThrottlePolicy::first_delay_secs`] and doubles with each failure up to
//!   [`ThrottlePolicy::max_delay_secs`]. A success resets the account; so does
//!   [`ThrottlePolicy::reset_after_secs`] after the first failure of a streak. Whatever the
//!   failures, at most [`ThrottlePolicy::max_checks_per_hour`] checks per clock hour reach the
//!   password hasher.
//! - **Per client address** (IPv6 per /64), at most [`ThrottlePolicy::ip_failures_per_hour`]
//!   failures per hour across all accounts; a success from the address does not reset it, so
//!   one's own account cannot be used to clear the count.
//!
//! Reserve first, verify second: an attempt is counted *before* the hash is checked, in one
//! atomic step of the key-value store, and given back when it turns out to be refused. Fifty
//! concurrent wrong passwords therefore reach the hasher exactly `free_failures` times, not
//! fifty. The attempt that takes the last free slot closes the gate for the next delay before
//! it verifies; later attempts must win the gate (`set_if_absent`), so one check per delay.
//!
//! The store failing never locks everyone out: the check is let through with a warning. The
//! store carries no money, and the password hash still has to match.

use std::sync::Arc;

use crate::kv::KeyValueStore;
use crate::ports::{Clock, SecretGenerator};
use crate::rate_limit::address_key;
use crate::user::UserId;

/// The numbers of the throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Consecutive failures of one account that cost no delay.
    pub free_failures: u32,
    /// The delay after the last free failure; it doubles with every further failure.
    pub first_delay_secs: u64,
    /// The longest delay.
    pub max_delay_secs: u64,
    /// A streak of failures is forgotten this long after it started.
    pub reset_after_secs: u64,
    /// Checks of one account per clock hour, successes included; 0 = no cap.
    pub max_checks_per_hour: u32,
    /// Failures from one client address per hour, over all accounts; 0 = no limit.
    pub ip_failures_per_hour: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay_secs: 30,
            max_delay_secs: 15 * 60,
            reset_after_secs: 12 * 3600,
            max_checks_per_hour: 100,
            ip_failures_per_hour: 100,
        }
    }
}

impl ThrottlePolicy {
    /// No throttling at all (tests that are not about it).
    pub const OFF: ThrottlePolicy = ThrottlePolicy {
        free_failures: u32::MAX,
        first_delay_secs: 0,
        max_delay_secs: 0,
        reset_after_secs: 1,
        max_checks_per_hour: 0,
        ip_failures_per_hour: 0,
    };

    fn is_off(&self) -> bool {
        self.free_failures == u32::MAX
            && self.max_checks_per_hour == 0
            && self.ip_failures_per_hour == 0
    }

    /// The delay that follows the `failures`-th consecutive failure (0 while still free).
    pub fn delay_after(&self, failures: u64) -> u64 {
        let free = u64::from(self.free_failures);
        if failures < free {
            return 0;
        }
        let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(62);
        self.first_delay_secs
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_secs)
    }
}

/// Whose credential is checked: an account by its login name, or a user's second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The login name as typed, normalised (the same string for every spelling the login
    /// accepts).
    Login(String),
    /// The second-factor step of a user who passed the password.
    SecondFactor(UserId),
}

impl Subject {
    /// A login name as typed: trimmed and NFKC-normalised, like the lookup.
    pub fn login(typed: &str) -> Self {
        Self::Login(crate::user::normalize_login(typed.trim()))
    }
}

/// A refused attempt: try again after this many seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; retry after {retry_after_secs} s")]
pub struct Throttled {
    pub retry_after_secs: u64,
}

/// One admitted check, to be settled with [`LoginThrottle::succeeded`] or
/// [`LoginThrottle::failed`]. Dropping it unsettled counts as a failure.
#[derive(Debug)]
#[must_use = "settle the attempt with succeeded() or failed()"]
pub struct Attempt {
    account: String,
    ip: Option<String>,
}

/// Throttles credential checks over the key-value store.
pub struct LoginThrottle {
    kv: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    policy: ThrottlePolicy,
}

impl LoginThrottle {
    pub fn new(
        kv: Arc<dyn KeyValueStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
        policy: ThrottlePolicy,
    ) -> Self {
        Self {
            kv,
            clock,
            secrets,
            policy,
        }
    }

    /// The store key of a subject. A typed login name is often a password typed into the
    /// wrong field, so only its hash is ever written to the store.
    fn key(&self, subject: &Subject) -> String {
        match subject {
            Subject::Login(name) => {
                let hash = self.secrets.hash(name);
                let short: String = hash.as_str().chars().take(32).collect();
                format!("throttle:acct:{short}")
            }
            Subject::SecondFactor(user) => format!("throttle:2fa:{}", user.get()),
        }
    }

    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// Whether checks of `subject` must wait at the moment (its delay is running). Reads
    /// only; counts nothing. A store failure reads as "not waiting".
    pub async fn is_waiting(&self, subject: &Subject) -> bool {
        if self.policy.is_off() {
            return false;
        }
        let gate = gate_key(&self.key(subject));
        match self.kv.get(&gate).await {
            Ok(at) => at.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "login throttle unavailable");
                false
            }
        }
    }

    /// Admits one check of `subject` from `ip`, or says how long to wait. The same answer
    /// for every name, whether or not an account has it. `ip` is `None` only where the
    /// caller cannot know it; the per-address limit is then skipped.
    pub async fn begin(&self, subject: &Subject, ip: Option<&str>) -> Result<Attempt, Throttled> {
        let account = self.key(subject);
        // No address (a check inside an authenticated request that does not carry one):
        // only the account is counted, rather than every such caller under one key.
        let ip_key = ip
            .filter(|_| self.policy.ip_failures_per_hour > 0)
            .map(|ip| format!("throttle:ip:{}", address_key(Some(ip))));
        let attempt = Attempt {
            account,
            ip: ip_key,
        };
        if self.policy.is_off() {
            return Ok(attempt);
        }
        match self.admit(&attempt).await {
            Ok(None) => Ok(attempt),
            Ok(Some(refusal)) => {
                tracing::info!(
                    retry_after = refusal.retry_after_secs,
                    "credential check throttled"
                );
                Err(refusal)
            }
            Err(e) => {
                tracing::warn!(error = %e, "login throttle unavailable; check let through");
                Ok(attempt)
            }
        }
    }

    /// The check succeeded: the account's streak is over; the address's reservation is given
    /// back (a success is not a failure), but its earlier failures stand.
    pub async fn succeeded(&self, attempt: Attempt) {
        let result = async {
            self.kv.delete(&fails_key(&attempt.account)).await?;
            self.kv.delete(&gate_key(&attempt.account)).await?;
            if let Some(ip) = &attempt.ip {
                self.kv.incr(ip, -1, HOUR).await?;
            }
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "login throttle could not record a success");
        }
    }

    /// The check failed: the reservations made by [`begin`](Self::begin) stand as the
    /// failure (nothing more to write).
    pub async fn failed(&self, attempt: Attempt) {
        drop(attempt);
    }

    /// `Ok(None)`: admitted and counted. `Ok(Some(_))`: refused, with every reservation given
    /// back.
    async fn admit(&self, attempt: &Attempt) -> anyhow::Result<Option<Throttled>> {
        let now = self.clock.now();
        let p = self.policy;

        // The client address: failures per hour.
        if let Some(ip) = &attempt.ip {
            let n = self.kv.incr(ip, 1, HOUR).await?;
            if n > i64::from(p.ip_failures_per_hour) {
                self.kv.incr(ip, -1, HOUR).await?;
                let wait = self.kv.ttl(ip).await?.unwrap_or(1);
                return Ok(Some(Throttled::after(wait)));
            }
        }

        // The account: checks per clock hour.
        let hour_key = (p.max_checks_per_hour > 0).then(|| {
            let hour = now.div_euclid(3600);
            format!("{}:hour:{hour}", attempt.account)
        });
        if let Some(key) = &hour_key {
            let left_in_hour = u64::try_from(3600 - now.rem_euclid(3600)).unwrap_or(3600);
            let n = self.kv.incr(key, 1, left_in_hour).await?;
            if n > i64::from(p.max_checks_per_hour) {
                self.kv.incr(key, -1, left_in_hour).await?;
                self.give_back_ip(attempt).await?;
                return Ok(Some(Throttled::after(left_in_hour)));
            }
        }

        // The account: consecutive failures, reserved before the check.
        if p.free_failures == u32::MAX {
            return Ok(None);
        }
        let fails = fails_key(&attempt.account);
        let gate = gate_key(&attempt.account);
        let n = self.kv.incr(&fails, 1, p.reset_after_secs.max(1)).await?;
        let n = u64::try_from(n).unwrap_or(0);
        let free = u64::from(p.free_failures);
        if n < free {
            return Ok(None);
        }
        let delay = p.delay_after(n).max(1);
        let unlock_at = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        let admitted = if n == free {
            // The last free attempt closes the gate for whoever comes next.
            self.kv.set(&gate, &unlock_at.to_string(), delay).await?;
            true
        } else {
            self.kv
                .set_if_absent(&gate, &unlock_at.to_string(), delay)
                .await?
        };
        if admitted {
            return Ok(None);
        }
        self.kv.incr(&fails, -1, p.reset_after_secs.max(1)).await?;
        if let Some(key) = &hour_key {
            self.kv.incr(key, -1, 1).await?;
        }
        self.give_back_ip(attempt).await?;
        let wait = match self.kv.get(&gate).await? {
            Some(at) => at
                .parse::<i64>()
                .ok()
                .map_or(1, |at| u64::try_from(at.saturating_sub(now)).unwrap_or(1)),
            None => 1,
        };
        Ok(Some(Throttled::after(wait)))
    }

    async fn give_back_ip(&self, attempt: &Attempt) -> anyhow::Result<()> {
        if let Some(ip) = &attempt.ip {
            self.kv.incr(ip, -1, HOUR).await?;
        }
        Ok(())
    }
}

const HOUR: u64 = 3600;

fn fails_key(account: &str) -> String {
    format!("{account}:fails")
}

fn gate_key(account: &str) -> String {
    format!("{account}:gate")
}

impl Throttled {
    fn after(secs: u64) -> Self {
        Self {
            retry_after_secs: secs.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_the_cap() {
        let p = ThrottlePolicy::default();
        let delays: Vec<u64> = (1..=12).map(|n| p.delay_after(n)).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900],
            "the 5th failure starts a 30 s delay"
        );
        assert_eq!(p.delay_after(u64::MAX), 900);
    }

    #[test]
    fn login_subjects_are_normalised_like_the_lookup() {
        assert_eq!(Subject::login(" ａｌｉｃｅ "), Subject::login("alice"));
        assert_ne!(Subject::login("Alice"), Subject::login("alice"));
    }
}
