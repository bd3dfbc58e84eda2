//! The domain's `WindowLimiter` over the key-value adapters: the counters it writes expire once
//! they can no longer weigh, and racing callers get exactly the limit on every store.

use std::sync::Arc;

use tollgate_domain::kv::KeyValueStore;
use tollgate_domain::ports::ManualClock;
use tollgate_domain::rate_limit::{Decision, RateLimit, RateLimiter, WindowLimiter};
use tollgate_kv::{LocalStore, RedisStore};

#[tokio::test]
async fn counters_live_two_windows_and_the_limit_holds_on_the_store() {
    // Arrange: 2 per 60 s, the clock at the start of a window.
    let clock = ManualClock::at(6_000);
    let store = Arc::new(LocalStore::new(clock.clone()));
    let limit = RateLimit {
        max: 2,
        period_secs: 60,
    };
    let limiter = WindowLimiter::new("t", limit, store.clone(), clock.clone());

    // Act / Assert: two pass, the third waits for the next window plus the decay.
    for ip in ["a", "b"] {
        for _ in 0..2 {
            assert_eq!(limiter.check(ip).await.unwrap(), Decision::Allow);
        }
    }
    assert_eq!(
        limiter.check("a").await.unwrap(),
        Decision::Deny {
            retry_after_secs: 60 + 30
        }
    );
    assert_eq!(store.len(), 2, "one counter per key and window");

    // Still there as the previous window, and still weighing.
    clock.set(6_060 + 29);
    assert!(!limiter.check("a").await.unwrap().is_allowed());
    clock.set(6_060 + 30);
    assert!(limiter.check("a").await.unwrap().is_allowed());

    // Two windows after their creation the first window's counters are gone.
    clock.set(6_000 + 120);
    assert_eq!(store.len(), 1, "only the counter written at 6090 is left");
}

/// `TEST_REDIS_URL`, when set and not empty.
fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Racing callers never pass more than the limit, and refused ones leave no count behind,
/// on the in-process store and on Redis (when `TEST_REDIS_URL` is set). The window number
/// comes from the injected clock, so the race cannot straddle a window boundary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_callers_get_exactly_the_limit_on_every_store() {
    let clock = ManualClock::at(1_800_000_000);
    let mut stores: Vec<(&str, Arc<dyn KeyValueStore>)> =
        vec![("in-process", Arc::new(LocalStore::new(clock.clone())))];
    if let Some(url) = redis_url() {
        let prefix = format!("tollgate-test:{}:", uuid::Uuid::new_v4().simple());
        let redis = RedisStore::connect(&url, &prefix)
            .await
            .unwrap_or_else(|e| panic!("TEST_REDIS_URL is set but Redis is unusable: {e:#}"));
        stores.push(("redis", Arc::new(redis)));
    }
    for (name, store) in stores {
        let limit = RateLimit {
            max: 7,
            period_secs: 600,
        };
        let limiter = Arc::new(WindowLimiter::new(
            "race",
            limit,
            store.clone(),
            clock.clone(),
        ));
        let racers: Vec<_> = (0..50)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move { l.check("203.0.113.9").await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        for r in racers {
            if r.await.unwrap().is_allowed() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 7, "{name}");
        let window = 1_800_000_000 / 600;
        let counter = store
            .get(&format!("rl:race:203.0.113.9:{window}"))
            .await
            .unwrap();
        assert_eq!(
            counter.as_deref(),
            Some("7"),
            "{name}: refusals were counted"
        );
        assert!(
            store
                .ttl(&format!("rl:race:203.0.113.9:{window}"))
                .await
                .unwrap()
                > Some(600)
        );
    }
}
