//! The login throttling policy over the in-process store, with a clock the tests move.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tollgate_domain::ports::{ManualClock, MockSecretGenerator};
use tollgate_domain::session::TokenHash;
use tollgate_domain::throttle::{LoginThrottle, Subject, ThrottlePolicy, Throttled};
use tollgate_domain::user::UserId;
use tollgate_kv::LocalStore;

struct Fixture {
    clock: Arc<ManualClock>,
    throttle: Arc<LoginThrottle>,
}

fn fixture(policy: ThrottlePolicy) -> Fixture {
    // 10:00:00 on some day, so hour windows are whole.
    let clock = ManualClock::at(1_764_583_200);
    let kv = Arc::new(LocalStore::new(clock.clone()));
    let mut secrets = MockSecretGenerator::new();
    secrets.expect_hash().returning(|s| {
        TokenHash::from_hex(s.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    });
    let throttle = LoginThrottle::new(kv, clock.clone(), Arc::new(secrets), policy);
    Fixture {
        clock,
        throttle: Arc::new(throttle),
    }
}

fn alice() -> Subject {
    Subject::login("alice")
}

const IP: Option<&str> = Some("203.0.113.7");

impl Fixture {
    /// One wrong password: admitted and failed, or the refusal.
    async fn fail(&self, who: &Subject, ip: Option<&str>) -> Result<(), Throttled> {
        let attempt = self.throttle.begin(who, ip).await?;
        self.throttle.failed(attempt).await;
        Ok(())
    }

    async fn succeed(&self, who: &Subject, ip: Option<&str>) -> Result<(), Throttled> {
        let attempt = self.throttle.begin(who, ip).await?;
        self.throttle.succeeded(attempt).await;
        Ok(())
    }
}

#[tokio::test]
async fn fifty_concurrent_guesses_reach_the_hasher_five_times() {
    let f = fixture(ThrottlePolicy::default());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let throttle = f.throttle.clone();
            tokio::spawn(async move { throttle.begin(&alice(), IP).await })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(attempt) => admitted.push(attempt),
            Err(t) => {
                assert!(t.retry_after_secs >= 1);
                refused += 1;
            }
        }
    }
    assert_eq!(admitted.len(), 5, "checks that would reach the hasher");
    assert_eq!(refused, 45);
    for attempt in admitted {
        f.throttle.failed(attempt).await;
    }
    // The sixth attempt waits the first delay.
    assert_eq!(
        f.fail(&alice(), IP).await,
        Err(Throttled {
            retry_after_secs: 30
        })
    );
}

#[tokio::test]
async fn the_delay_doubles_with_each_failure_up_to_fifteen_minutes() {
    let f = fixture(ThrottlePolicy::default());
    for _ in 0..5 {
        f.fail(&alice(), IP).await.unwrap();
    }
    let mut waits = Vec::new();
    for _ in 0..8 {
        let Err(t) = f.fail(&alice(), IP).await else {
            panic!("an attempt inside the delay was admitted");
        };
        waits.push(t.retry_after_secs);
        // One second early is still refused; on time is admitted (and fails again).
        f.clock.advance(t.retry_after_secs - 1);
        assert!(f.fail(&alice(), IP).await.is_err());
        f.clock.advance(1);
        f.fail(&alice(), IP).await.unwrap();
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
}

#[tokio::test]
async fn a_success_ends_the_streak() {
    let f = fixture(ThrottlePolicy::default());
    for _ in 0..4 {
        f.fail(&alice(), IP).await.unwrap();
    }
    f.succeed(&alice(), IP).await.unwrap();
    for _ in 0..4 {
        f.fail(&alice(), IP).await.unwrap();
    }
    f.fail(&alice(), IP).await.unwrap();
    assert!(
        f.fail(&alice(), IP).await.is_err(),
        "five fresh failures lock"
    );
}

#[tokio::test]
async fn a_streak_is_forgotten_twelve_hours_after_it_started() {
    let f = fixture(ThrottlePolicy::default());
    for _ in 0..5 {
        f.fail(&alice(), IP).await.unwrap();
    }
    assert!(f.fail(&alice(), IP).await.is_err());
    f.clock.advance(12 * 3600);
    for _ in 0..5 {
        f.fail(&alice(), IP).await.unwrap();
    }
}

#[tokio::test]
async fn accounts_are_throttled_apart_and_unknown_names_alike() {
    let f = fixture(ThrottlePolicy::default());
    let nobody = Subject::login("no-such-user");
    for _ in 0..5 {
        f.fail(&alice(), IP).await.unwrap();
        f.fail(&nobody, IP).await.unwrap();
    }
    let a = f.fail(&alice(), IP).await;
    let n = f.fail(&nobody, IP).await;
    assert_eq!(a, n);
    assert!(a.is_err());
    // Another account from the same address is untouched.
    f.succeed(&Subject::login("bob"), IP).await.unwrap();
    // The second factor of a user is its own subject.
    f.fail(&Subject::SecondFactor(UserId::new(7)), IP)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_address_gets_a_hundred_failures_an_hour_over_all_accounts() {
    let f = fixture(ThrottlePolicy::default());
    for i in 0..100 {
        f.fail(&Subject::login(&format!("user{i}")), IP)
            .await
            .unwrap();
    }
    let refused = f.fail(&Subject::login("user-new"), IP).await;
    assert!(matches!(refused, Err(t) if t.retry_after_secs <= 3600));
    // Logging in to one's own account does not clear the address's count.
    assert!(f.succeed(&Subject::login("mine"), IP).await.is_err());
    // Another address is not affected.
    f.fail(&Subject::login("user-new"), Some("198.51.100.1"))
        .await
        .unwrap();
    f.clock.advance(3600);
    f.fail(&Subject::login("user-new"), IP).await.unwrap();
}

#[tokio::test]
async fn at_most_a_hundred_checks_an_hour_reach_the_hasher_even_with_successes() {
    let f = fixture(ThrottlePolicy::default());
    for _ in 0..100 {
        f.succeed(&alice(), IP).await.unwrap();
    }
    let Err(t) = f.succeed(&alice(), IP).await else {
        panic!("the 101st check within the hour was admitted");
    };
    assert_eq!(
        t.retry_after_secs, 3600,
        "the clock stands at the start of an hour"
    );
    f.clock.advance(3600);
    f.succeed(&alice(), IP).await.unwrap();
}

#[tokio::test]
async fn throttling_off_admits_everything() {
    let f = fixture(ThrottlePolicy::OFF);
    for _ in 0..500 {
        f.fail(&alice(), IP).await.unwrap();
    }
}
