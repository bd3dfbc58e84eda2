//! Key-value adapters of the domain's ports: the in-process [`LocalStore`] and the shared
//! [`RedisStore`] of the key-value port ([`open`] picks one from the configuration), and the
//! in-process [`LocalRateLimiter`] (governor's keyed GCRA limiter).

mod local;
mod redis;

pub use crate::redis::{RedisStore, redacted};
pub use local::LocalStore;

use std::sync::Arc;

use tollgate_domain::kv::KeyValueStore;
use tollgate_domain::ports::{Clock, Readiness};

/// The key-value store of one instance, and what `/readyz` should ask about it.
pub struct Kv {
    pub store: Arc<dyn KeyValueStore>,
    /// `Some` for Redis, which can be down; the in-process store always answers.
    pub readiness: Option<Arc<dyn Readiness>>,
}

/// The store the configuration asks for: Redis at `redis_url`, keys under `prefix`, shared by
/// every instance that names the same server and prefix; or, without a URL, the in-process
/// store on `clock` (one instance; `prefix` is not needed). Fails when Redis does not answer
/// within a few seconds, so an instance never runs alone while its peers share a store.
pub async fn open(
    redis_url: Option<&str>,
    prefix: &str,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Kv> {
    match redis_url {
        None => Ok(Kv {
            store: Arc::new(LocalStore::new(clock)),
            readiness: None,
        }),
        Some(url) => {
            let store = Arc::new(RedisStore::connect(url, prefix).await?);
            Ok(Kv {
                store: store.clone(),
                readiness: Some(store),
            })
        }
    }
}

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tollgate_domain::rate_limit::{Decision, RateLimit, RateLimiter};

/// A per-instance limiter of one [`RateLimit`]: a burst of `max`, then one event every
/// `period / max` (GCRA, so a key regains its allowance gradually, not all at once).
/// Behind N instances the effective limit is N times this one.
pub struct LocalRateLimiter {
    /// `None`: the limit is off.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl LocalRateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let limiter = quota(limit).map(DefaultKeyedRateLimiter::keyed);
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Forgets keys whose allowance is whole again, so the key map does not only grow (governor's
    /// keyed limiter never drops a key by itself). Call it from a periodic task.
    pub fn sweep(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// How many keys are remembered (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

fn quota(limit: RateLimit) -> Option<Quota> {
    if limit.is_unlimited() {
        return None;
    }
    let max = NonZeroU32::new(limit.max)?;
    let period = Duration::from_secs(limit.period_secs) / limit.max;
    // A period shorter than a nanosecond per event is as good as unlimited.
    Quota::with_period(period).map(|q| q.allow_burst(max))
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, key: &str) -> anyhow::Result<Decision> {
        let Some(limiter) = &self.limiter else {
            return Ok(Decision::Allow);
        };
        Ok(match limiter.check_key(&key.to_owned()) {
            Ok(()) => Decision::Allow,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                // Round up: a client that waits the advertised time is allowed.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision::Deny {
                    retry_after_secs: secs.max(1),
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn allows_the_burst_then_denies_with_a_retry_time() {
        let l = LocalRateLimiter::new(RateLimit::per_hour(3));
        for _ in 0..3 {
            assert_eq!(l.check("a").await.unwrap(), Decision::Allow);
        }
        match l.check("a").await.unwrap() {
            // One event every 1200 s.
            Decision::Deny { retry_after_secs } => {
                assert!((1..=1200).contains(&retry_after_secs), "{retry_after_secs}")
            }
            Decision::Allow => panic!("the fourth event within an hour was allowed"),
        }
        // Keys are independent.
        assert_eq!(l.check("b").await.unwrap(), Decision::Allow);
        assert_eq!(l.tracked_keys(), 2);
    }

    #[tokio::test]
    async fn a_limit_of_zero_is_off() {
        let l = LocalRateLimiter::new(RateLimit::UNLIMITED);
        for _ in 0..1000 {
            assert_eq!(l.check("a").await.unwrap(), Decision::Allow);
        }
        assert_eq!(l.tracked_keys(), 0);
    }

    #[tokio::test]
    async fn concurrent_checks_never_exceed_the_limit() {
        let l = Arc::new(LocalRateLimiter::new(RateLimit::per_hour(10)));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.check("same").await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            if t.await.unwrap().is_allowed() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 10);
    }

    #[tokio::test]
    async fn sweep_keeps_keys_that_are_still_limited() {
        let l = LocalRateLimiter::new(RateLimit::per_hour(1));
        l.check("a").await.unwrap();
        l.sweep();
        assert_eq!(l.tracked_keys(), 1, "a limited key was forgotten");
        assert!(!l.check("a").await.unwrap().is_allowed());
    }
}
