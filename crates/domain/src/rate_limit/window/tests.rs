use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ports::ManualClock;

use super::*;
use crate::kv::Subscription;

/// Counters in a map (no expiry: the window number is part of the key, so the math does
/// not depend on it). `broken` makes every call fail; `calls` counts them.
#[derive(Default)]
struct MapStore {
    counters: Mutex<HashMap<String, i64>>,
    broken: bool,
    calls: AtomicUsize,
}

impl MapStore {
    fn enter(&self) -> anyhow::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        anyhow::ensure!(!self.broken, "store down");
        Ok(())
    }
}

#[async_trait]
impl KeyValueStore for MapStore {
    async fn incr(&self, key: &str, by: i64, _ttl_secs: u64) -> anyhow::Result<i64> {
        self.enter()?;
        let mut map = self.counters.lock().unwrap();
        let value = map.entry(key.to_owned()).or_default();
        *value += by;
        Ok(*value)
    }
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        self.enter()?;
        Ok(self.counters.lock().unwrap().get(key).map(i64::to_string))
    }
    async fn set(&self, _: &str, _: &str, _: u64) -> anyhow::Result<()> {
        anyhow::bail!("not used by the limiter")
    }
    async fn set_if_absent(&self, _: &str, _: &str, _: u64) -> anyhow::Result<bool> {
        anyhow::bail!("not used by the limiter")
    }
    async fn take(&self, _: &str) -> anyhow::Result<Option<String>> {
        anyhow::bail!("not used by the limiter")
    }
    async fn delete(&self, _: &str) -> anyhow::Result<()> {
        anyhow::bail!("not used by the limiter")
    }
    async fn ttl(&self, _: &str) -> anyhow::Result<Option<u64>> {
        anyhow::bail!("not used by the limiter")
    }
    async fn publish(&self, _: &str, _: &str) -> anyhow::Result<()> {
        anyhow::bail!("not used by the limiter")
    }
    async fn subscribe(&self, _: &str) -> anyhow::Result<Box<dyn Subscription>> {
        anyhow::bail!("not used by the limiter")
    }
}

fn limiter(max: u32, period_secs: u64, clock: &Arc<ManualClock>) -> (WindowLimiter, Arc<MapStore>) {
    let store = Arc::new(MapStore::default());
    let limit = RateLimit { max, period_secs };
    let l = WindowLimiter::new("t", limit, store.clone(), clock.clone());
    (l, store)
}

async fn check(l: &WindowLimiter, key: &str) -> Decision {
    l.check(key).await.unwrap()
}

#[tokio::test]
async fn a_full_window_refuses_until_the_previous_windows_weight_decays() {
    // Arrange: 10 per 100 s, all spent at the start of a window.
    let clock = ManualClock::at(1_000);
    let (l, _) = limiter(10, 100, &clock);
    for _ in 0..10 {
        assert_eq!(check(&l, "ip").await, Decision::Allow);
    }
    // Act / Assert: the 11th in the same window waits for the next window, where the ten
    // still weigh 10 × (100 − e) / 100; one more fits from e = 10.
    assert_eq!(
        check(&l, "ip").await,
        Decision::Deny {
            retry_after_secs: 100 + 10
        }
    );
    clock.set(1_100);
    assert_eq!(
        check(&l, "ip").await,
        Decision::Deny {
            retry_after_secs: 10
        }
    );
    clock.set(1_109);
    assert!(!check(&l, "ip").await.is_allowed());
    clock.set(1_110);
    assert_eq!(check(&l, "ip").await, Decision::Allow);
    // 10 × 90 / 100 + 2 > 10: the next one waits again, until e = 20.
    assert_eq!(
        check(&l, "ip").await,
        Decision::Deny {
            retry_after_secs: 10
        }
    );
    // Other keys are untouched.
    assert_eq!(check(&l, "other").await, Decision::Allow);
}

#[tokio::test]
async fn refused_events_are_given_back_so_hammering_does_not_extend_the_wait() {
    let clock = ManualClock::at(0);
    let (l, store) = limiter(3, 60, &clock);
    for _ in 0..3 {
        assert!(check(&l, "k").await.is_allowed());
    }
    for _ in 0..100 {
        assert!(!check(&l, "k").await.is_allowed());
    }
    assert_eq!(store.counters.lock().unwrap().get("rl:t:k:0"), Some(&3));
    // Two windows later nothing weighs any more.
    clock.set(120);
    for _ in 0..3 {
        assert!(check(&l, "k").await.is_allowed());
    }
}

/// Whatever happened before, waiting exactly the advertised `Retry-After` (and no other event)
/// lets the next event through, and it is the shortest such wait.
#[tokio::test]
async fn retry_after_is_exact_for_every_state() {
    let mut checked = 0;
    for (max, period) in [(1, 1), (1, 10), (2, 7), (3, 60), (20, 1_200), (180, 180)] {
        for burst_at in [0, 1, period / 2, period - 1] {
            for probe in [0, 1, period / 3, period - 1, period, period + period / 2] {
                // Arrange: `max` events at `burst_at`, then a refused one at `probe` later.
                let clock = ManualClock::at(i64::try_from(10 * period + burst_at).unwrap());
                let (l, _) = limiter(max, period, &clock);
                for _ in 0..max {
                    assert!(check(&l, "k").await.is_allowed());
                }
                clock.advance(probe);
                let Decision::Deny { retry_after_secs } = check(&l, "k").await else {
                    continue; // Already allowed (the weight had decayed): nothing to check.
                };
                let start = clock.now();
                let case = format!("max {max} per {period}s, burst at {burst_at}, probe {probe}");
                // Act / Assert: one second early is still refused (when there is a second to
                // spare), on time is allowed.
                if retry_after_secs > 1 {
                    clock.set(start + i64::try_from(retry_after_secs).unwrap() - 1);
                    assert!(!check(&l, "k").await.is_allowed(), "early: {case}");
                }
                clock.set(start + i64::try_from(retry_after_secs).unwrap());
                assert!(check(&l, "k").await.is_allowed(), "on time: {case}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} refusals were probed");
}

#[test]
fn retry_after_never_exceeds_two_periods_and_is_at_least_one_second() {
    for max in [1u64, 2, 5, 180] {
        for period in [1u64, 30, 1_200] {
            for previous in [0, 1, max, 3 * max] {
                for others in [0, max - 1, max] {
                    for elapsed in [0, period / 2, period - 1] {
                        let r = retry_after(previous, others, elapsed, period, max);
                        assert!((1..=2 * period).contains(&r), "{r}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn concurrent_checks_never_exceed_the_limit() {
    let clock = ManualClock::at(5);
    let (l, _) = limiter(10, 3_600, &clock);
    let l = Arc::new(l);
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
async fn a_broken_store_lets_events_through_and_an_unlimited_limit_never_asks_it() {
    let clock = ManualClock::at(0);
    let broken = Arc::new(MapStore {
        broken: true,
        ..MapStore::default()
    });
    let l = WindowLimiter::new("t", RateLimit::per_minute(1), broken.clone(), clock.clone());
    for _ in 0..5 {
        assert_eq!(check(&l, "k").await, Decision::Allow);
    }
    assert!(broken.calls.load(Ordering::SeqCst) > 0);

    let (off, store) = limiter(0, 60, &clock);
    for _ in 0..5 {
        assert_eq!(check(&off, "k").await, Decision::Allow);
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn limits_with_different_names_count_apart() {
    let clock = ManualClock::at(0);
    let store: Arc<MapStore> = Arc::new(MapStore::default());
    let a = WindowLimiter::new("a", RateLimit::per_minute(1), store.clone(), clock.clone());
    let b = WindowLimiter::new("b", RateLimit::per_minute(1), store.clone(), clock.clone());
    assert!(check(&a, "ip").await.is_allowed());
    assert!(check(&b, "ip").await.is_allowed());
    assert!(!check(&a, "ip").await.is_allowed());
}
