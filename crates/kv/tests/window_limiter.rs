//! The domain's `WindowLimiter` over the in-process store: the counters it writes expire once
//! they can no longer weigh, so the store holds only live windows.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tollgate_domain::ports::Clock;
use tollgate_domain::rate_limit::{Decision, RateLimit, RateLimiter, WindowLimiter};
use tollgate_kv::LocalStore;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn counters_live_two_windows_and_the_limit_holds_on_the_store() {
    // Arrange: 2 per 60 s, the clock at the start of a window.
    let clock = Arc::new(FakeClock(AtomicI64::new(6_000)));
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
    clock.0.store(6_060 + 29, Ordering::SeqCst);
    assert!(!limiter.check("a").await.unwrap().is_allowed());
    clock.0.store(6_060 + 30, Ordering::SeqCst);
    assert!(limiter.check("a").await.unwrap().is_allowed());

    // Two windows after their creation the first window's counters are gone.
    clock.0.store(6_000 + 120, Ordering::SeqCst);
    assert_eq!(store.len(), 1, "only the counter written at 6090 is left");
}
