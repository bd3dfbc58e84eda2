//! Contract tests of the key-value port: one story per behaviour, each run against every
//! adapter — `LocalStore` always, `RedisStore` when `TEST_REDIS_URL` is set
//! (`redis://127.0.0.1:6379/15`). Each Redis run uses its own random key prefix, so parallel
//! tests and parallel runs never share a key, and every key it writes expires by itself.
//!
//! Time: `LocalStore` follows an injected clock the stories move; Redis expires keys in real
//! time, so there the stories sleep, with TTLs of a few seconds.
//!
//! The last module holds what only Redis can show: two instances sharing one server, key
//! prefixes, resubscription after a dropped connection, and the connection's errors.

// Stories are helper fns, not `#[test]`s, so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tollgate_domain::kv::{KeyValueStore, Subscription};
use tollgate_domain::ports::{Clock, ManualClock};
use tollgate_kv::{LocalStore, RedisStore};

/// How many callers race in the concurrency stories.
const RACERS: usize = 50;
/// How long a story waits for a published message before it calls it lost.
const DELIVERY: Duration = Duration::from_secs(5);

/// One adapter under test, with the means to let time pass for it.
struct Backend {
    name: &'static str,
    store: Arc<dyn KeyValueStore>,
    clock: Option<Arc<ManualClock>>,
}

impl Backend {
    /// Lets `secs` seconds pass: the manual clock moves, or the test sleeps a little longer
    /// than that (Redis expires in real time, with millisecond precision).
    async fn pass(&self, secs: u64) {
        match &self.clock {
            Some(clock) => clock.advance(secs),
            None => tokio::time::sleep(Duration::from_millis(secs * 1000 + 150)).await,
        }
    }
}

fn local() -> Backend {
    let clock = ManualClock::at(1_800_000_000);
    Backend {
        name: "in-process",
        store: Arc::new(LocalStore::new(clock.clone())),
        clock: Some(clock),
    }
}

/// `TEST_REDIS_URL`, when set and not empty.
fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A prefix no other test or run uses.
fn unique_prefix() -> String {
    format!("tollgate-test:{}:", uuid::Uuid::new_v4().simple())
}

/// Connects to the test Redis under `prefix`. A configured server that cannot be reached
/// fails the test: it must never be skipped silently. Also leaves the marker `.ci/run` looks
/// for to prove these tests reached Redis.
async fn connect(url: &str, prefix: &str) -> RedisStore {
    let store = RedisStore::connect(url, prefix)
        .await
        .unwrap_or_else(|e| panic!("TEST_REDIS_URL is set but Redis is unusable: {e:#}"));
    let marker = RedisStore::connect(url, "tollgate-test:").await.unwrap();
    marker.set("contract-ran", "1", 3600).await.unwrap();
    store
}

async fn redis(url: &str) -> Backend {
    Backend {
        name: "redis",
        store: Arc::new(connect(url, &unique_prefix()).await),
        clock: None,
    }
}

/// Runs `story` against the in-process store, then against Redis when configured.
async fn on_every_store<F, Fut>(story: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    story(local()).await;
    if let Some(url) = redis_url() {
        story(redis(&url).await).await;
    }
}

/// One `#[tokio::test]` per story, each on a multi-threaded runtime (the races are real).
macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod on_every_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    super::on_every_store(super::$story).await;
                }
            )*
        }
    };
}

stories!(
    a_counter_counts_from_its_first_increment,
    concurrent_increments_return_distinct_values,
    a_counter_keeps_the_expiry_of_its_creation,
    a_counter_expires_and_starts_again,
    values_are_set_read_replaced_and_deleted,
    of_concurrent_set_if_absent_exactly_one_wins,
    a_value_is_taken_exactly_once,
    a_message_reaches_the_subscribers_of_its_channel_only,
    a_subscriber_sees_only_what_is_published_after_it_subscribed,
    a_subscription_ends_when_the_store_is_gone,
);

async fn next(sub: &mut Box<dyn Subscription>, name: &str) -> Option<String> {
    tokio::time::timeout(DELIVERY, sub.next())
        .await
        .unwrap_or_else(|_| panic!("{name}: no message within {DELIVERY:?}"))
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

async fn a_counter_counts_from_its_first_increment(b: Backend) {
    let kv = &b.store;
    assert_eq!(kv.get("hits").await.unwrap(), None, "{}", b.name);
    assert_eq!(kv.incr("hits", 1, 60).await.unwrap(), 1, "{}", b.name);
    assert_eq!(kv.incr("hits", 4, 60).await.unwrap(), 5, "{}", b.name);
    assert_eq!(
        kv.get("hits").await.unwrap().as_deref(),
        Some("5"),
        "{}",
        b.name
    );
    // Keys are independent.
    assert_eq!(kv.incr("other", 1, 60).await.unwrap(), 1, "{}", b.name);
}

async fn concurrent_increments_return_distinct_values(b: Backend) {
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let kv = b.store.clone();
            tokio::spawn(async move { kv.incr("race", 1, 60).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    let expected: Vec<i64> = (1..=i64::try_from(RACERS).unwrap()).collect();
    assert_eq!(seen, expected, "{}: lost or repeated increments", b.name);
    assert_eq!(
        b.store.get("race").await.unwrap(),
        Some(RACERS.to_string()),
        "{}",
        b.name
    );
}

async fn a_counter_keeps_the_expiry_of_its_creation(b: Backend) {
    let kv = &b.store;
    assert_eq!(kv.incr("window", 1, 3).await.unwrap(), 1, "{}", b.name);
    b.pass(1).await;
    // A sliding window would start 3 s again here.
    assert_eq!(kv.incr("window", 1, 3).await.unwrap(), 2, "{}", b.name);
    assert_eq!(
        kv.ttl("window").await.unwrap(),
        Some(2),
        "{}: expiry slid",
        b.name
    );
    b.pass(2).await;
    assert_eq!(
        kv.get("window").await.unwrap(),
        None,
        "{}: expiry slid",
        b.name
    );
}

async fn a_counter_expires_and_starts_again(b: Backend) {
    let kv = &b.store;
    assert_eq!(kv.incr("attempts", 1, 1).await.unwrap(), 1, "{}", b.name);
    assert_eq!(kv.incr("attempts", 1, 1).await.unwrap(), 2, "{}", b.name);
    assert_eq!(kv.ttl("attempts").await.unwrap(), Some(1), "{}", b.name);
    b.pass(1).await;
    assert_eq!(kv.get("attempts").await.unwrap(), None, "{}", b.name);
    assert_eq!(kv.ttl("attempts").await.unwrap(), None, "{}", b.name);
    // A new window, with an expiry of its own.
    assert_eq!(kv.incr("attempts", 1, 30).await.unwrap(), 1, "{}", b.name);
    assert_eq!(kv.ttl("attempts").await.unwrap(), Some(30), "{}", b.name);
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

async fn values_are_set_read_replaced_and_deleted(b: Backend) {
    let kv = &b.store;
    assert_eq!(kv.get("v").await.unwrap(), None, "{}", b.name);
    assert_eq!(kv.ttl("v").await.unwrap(), None, "{}", b.name);

    kv.set("v", "first", 10).await.unwrap();
    assert_eq!(
        kv.get("v").await.unwrap().as_deref(),
        Some("first"),
        "{}",
        b.name
    );
    assert_eq!(kv.ttl("v").await.unwrap(), Some(10), "{}", b.name);

    // `set` replaces the value and its expiry.
    kv.set("v", "second", 20).await.unwrap();
    assert_eq!(
        kv.get("v").await.unwrap().as_deref(),
        Some("second"),
        "{}",
        b.name
    );
    assert_eq!(kv.ttl("v").await.unwrap(), Some(20), "{}", b.name);

    kv.delete("v").await.unwrap();
    assert_eq!(kv.get("v").await.unwrap(), None, "{}", b.name);
    assert_eq!(kv.ttl("v").await.unwrap(), None, "{}", b.name);
    // Deleting what is absent is not an error.
    kv.delete("v").await.unwrap();

    // Values expire.
    kv.set("short", "x", 1).await.unwrap();
    assert_eq!(
        kv.get("short").await.unwrap().as_deref(),
        Some("x"),
        "{}",
        b.name
    );
    b.pass(1).await;
    assert_eq!(kv.get("short").await.unwrap(), None, "{}", b.name);
}

async fn of_concurrent_set_if_absent_exactly_one_wins(b: Backend) {
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let kv = b.store.clone();
            tokio::spawn(async move {
                let won = kv.set_if_absent("lock", &i.to_string(), 60).await.unwrap();
                won.then_some(i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{}: winners {winners:?}", b.name);
    // The winner's value is the one stored, and a later caller loses too.
    let kv = &b.store;
    assert_eq!(
        kv.get("lock").await.unwrap(),
        Some(winners[0].to_string()),
        "{}",
        b.name
    );
    assert!(
        !kv.set_if_absent("lock", "late", 60).await.unwrap(),
        "{}",
        b.name
    );
    assert_eq!(kv.ttl("lock").await.unwrap(), Some(60), "{}", b.name);

    // Once the value expires, the key is free again.
    assert!(
        kv.set_if_absent("brief", "a", 1).await.unwrap(),
        "{}",
        b.name
    );
    assert!(
        !kv.set_if_absent("brief", "b", 1).await.unwrap(),
        "{}",
        b.name
    );
    assert_eq!(
        kv.get("brief").await.unwrap().as_deref(),
        Some("a"),
        "{}",
        b.name
    );
    b.pass(1).await;
    assert!(
        kv.set_if_absent("brief", "c", 1).await.unwrap(),
        "{}",
        b.name
    );
    assert_eq!(
        kv.get("brief").await.unwrap().as_deref(),
        Some("c"),
        "{}",
        b.name
    );
}

async fn a_value_is_taken_exactly_once(b: Backend) {
    b.store.set("code", "secret", 60).await.unwrap();
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let kv = b.store.clone();
            tokio::spawn(async move { kv.take("code").await.unwrap() })
        })
        .collect();
    let mut taken = Vec::new();
    for t in tasks {
        taken.extend(t.await.unwrap());
    }
    assert_eq!(taken, ["secret"], "{}", b.name);
    let kv = &b.store;
    assert_eq!(kv.get("code").await.unwrap(), None, "{}", b.name);
    assert_eq!(kv.take("code").await.unwrap(), None, "{}", b.name);

    // An expired value cannot be taken.
    kv.set("stale", "old", 1).await.unwrap();
    b.pass(1).await;
    assert_eq!(kv.take("stale").await.unwrap(), None, "{}", b.name);
}

// ---------------------------------------------------------------------------------------------
// Publish / subscribe
// ---------------------------------------------------------------------------------------------

async fn a_message_reaches_the_subscribers_of_its_channel_only(b: Backend) {
    let kv = &b.store;
    let mut first = kv.subscribe("users").await.unwrap();
    let mut second = kv.subscribe("users").await.unwrap();
    let mut other = kv.subscribe("options").await.unwrap();

    kv.publish("users", "u:1").await.unwrap();
    kv.publish("options", "o:1").await.unwrap();
    kv.publish("users", "u:2").await.unwrap();

    // Messages of one channel arrive in order, to every subscriber of it; a subscriber of
    // another channel sees none of them (its first message is its own channel's).
    for sub in [&mut first, &mut second] {
        assert_eq!(
            next(sub, b.name).await.as_deref(),
            Some("u:1"),
            "{}",
            b.name
        );
        assert_eq!(
            next(sub, b.name).await.as_deref(),
            Some("u:2"),
            "{}",
            b.name
        );
    }
    assert_eq!(
        next(&mut other, b.name).await.as_deref(),
        Some("o:1"),
        "{}",
        b.name
    );
    kv.publish("options", "o:2").await.unwrap();
    assert_eq!(
        next(&mut other, b.name).await.as_deref(),
        Some("o:2"),
        "{}",
        b.name
    );
}

async fn a_subscriber_sees_only_what_is_published_after_it_subscribed(b: Backend) {
    let kv = &b.store;
    // Nobody listens: not an error, and the message is gone.
    kv.publish("sessions", "early").await.unwrap();
    let mut sub = kv.subscribe("sessions").await.unwrap();
    kv.publish("sessions", "late").await.unwrap();
    assert_eq!(
        next(&mut sub, b.name).await.as_deref(),
        Some("late"),
        "{}",
        b.name
    );
}

async fn a_subscription_ends_when_the_store_is_gone(b: Backend) {
    let mut sub = b.store.subscribe("gone").await.unwrap();
    drop(b.store);
    assert_eq!(next(&mut sub, b.name).await, None, "{}", b.name);
}

// ---------------------------------------------------------------------------------------------
// Redis only: what several instances sharing one server see
// ---------------------------------------------------------------------------------------------

mod shared_redis {
    use super::*;

    /// The test Redis, or `None` (the test passes without checking anything when no Redis is
    /// configured; `.ci/run` configures one).
    fn url() -> Option<String> {
        let url = redis_url();
        if url.is_none() {
            eprintln!("TEST_REDIS_URL is not set: skipping a Redis-only test");
        }
        url
    }

    /// A plain connection beside the store, to look at what it wrote.
    async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_sharing_redis_see_one_counter_and_one_channel() {
        let Some(url) = url() else { return };
        let prefix = unique_prefix();
        let a: Arc<dyn KeyValueStore> = Arc::new(connect(&url, &prefix).await);
        let b: Arc<dyn KeyValueStore> = Arc::new(connect(&url, &prefix).await);

        // Each instance counts half the attempts; together they count all of them once.
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let kv = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { kv.incr("throttle:acct:alice", 1, 60).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        let expected: Vec<i64> = (1..=i64::try_from(RACERS).unwrap()).collect();
        assert_eq!(seen, expected);
        for kv in [&a, &b] {
            assert_eq!(
                kv.get("throttle:acct:alice").await.unwrap(),
                Some(RACERS.to_string())
            );
        }
        assert_eq!(a.incr("throttle:acct:alice", 1, 60).await.unwrap(), 51);
        assert_eq!(b.incr("throttle:acct:alice", 1, 60).await.unwrap(), 52);

        // A one-time value stored by one instance is taken once, by the other.
        assert!(a.set_if_absent("pending:1", "alice", 60).await.unwrap());
        assert!(!b.set_if_absent("pending:1", "mallory", 60).await.unwrap());
        assert_eq!(b.take("pending:1").await.unwrap().as_deref(), Some("alice"));
        assert_eq!(a.take("pending:1").await.unwrap(), None);

        // A message published by one instance reaches the other's subscriber.
        let mut on_b = b.subscribe("invalidate").await.unwrap();
        a.publish("invalidate", "user:7").await.unwrap();
        assert_eq!(next(&mut on_b, "redis").await.as_deref(), Some("user:7"));
    }

    #[tokio::test]
    async fn prefixes_keep_installations_apart() {
        let Some(url) = url() else { return };
        let (p1, p2) = (unique_prefix(), unique_prefix());
        let one = connect(&url, &p1).await;
        let two = connect(&url, &p2).await;
        assert_eq!(one.incr("k", 1, 60).await.unwrap(), 1);
        assert_eq!(two.incr("k", 1, 60).await.unwrap(), 1);
        assert_eq!(one.incr("k", 1, 60).await.unwrap(), 2);

        // The key is stored under the prefix, with the expiry of its creation.
        let mut raw = raw(&url).await;
        let stored: Option<String> = redis::cmd("GET")
            .arg(format!("{p1}k"))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(stored.as_deref(), Some("2"));
        let ttl: i64 = redis::cmd("TTL")
            .arg(format!("{p1}k"))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((1..=60).contains(&ttl), "{ttl}");
        let bare: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(bare, None, "a key was written without its prefix");

        // Channels are prefixed too: a message of one installation does not reach the other.
        let mut on_two = two.subscribe("ch").await.unwrap();
        one.publish("ch", "for one").await.unwrap();
        two.publish("ch", "for two").await.unwrap();
        assert_eq!(next(&mut on_two, "redis").await.as_deref(), Some("for two"));
    }

    #[tokio::test]
    async fn a_key_without_expiry_is_reported_and_a_counter_gets_one() {
        let Some(url) = url() else { return };
        let prefix = unique_prefix();
        let kv = connect(&url, &prefix).await;
        let mut raw = raw(&url).await;
        // Written without an expiry by someone else (the `incr` below gives it one).
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}foreign"))
            .arg("5")
            .query_async(&mut raw)
            .await
            .unwrap();
        let err = kv.ttl("foreign").await.unwrap_err();
        assert!(err.to_string().contains("no expiry"), "{err:#}");
        // `incr` never leaves a counter without an expiry.
        assert_eq!(kv.incr("foreign", 1, 60).await.unwrap(), 6);
        assert_eq!(kv.ttl("foreign").await.unwrap(), Some(60));
    }

    #[tokio::test]
    async fn a_subscriber_is_subscribed_again_after_the_connection_drops() {
        let Some(url) = url() else { return };
        let prefix = unique_prefix();
        let listener = connect(&url, &prefix).await;
        let publisher = connect(&url, &prefix).await;
        let mut sub = listener.subscribe("invalidate").await.unwrap();

        // Kill the listener's connection from the server's side.
        let id = listener.connection_id().await.unwrap();
        let mut raw = raw(&url).await;
        let _: () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut raw)
            .await
            .unwrap();

        // Messages published while it reconnects are lost (the port allows it); once it is
        // back, it is subscribed again without anyone asking.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let got = loop {
            publisher.publish("invalidate", "after").await.unwrap();
            if let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
                break msg;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message after the reconnect"
            );
        };
        assert_eq!(got.as_deref(), Some("after"));
        assert_ne!(
            listener.connection_id().await.unwrap(),
            id,
            "not reconnected"
        );
        // Commands work on the new connection too.
        assert_eq!(listener.incr("after-reconnect", 1, 60).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_refused_password_is_not_shown() {
        let Some(url) = url() else { return };
        // A user that does not exist (the test server's default user takes any password).
        let mut with_password = url::Url::parse(&url).unwrap();
        with_password.set_username("tollgate-nobody").unwrap();
        with_password.set_password(Some("hunter2-secret")).unwrap();
        let err = RedisStore::connect(with_password.as_str(), "t:")
            .await
            .unwrap_err();
        let shown = format!("{err:#} | {err:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(!shown.contains("tollgate-nobody"), "{shown}");
        // The server is named, so the operator knows which one refused.
        assert!(
            shown.contains("connecting to Redis at redis://127.0.0.1"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn open_picks_redis_when_a_url_is_given_and_reports_its_readiness() {
        let Some(url) = url() else { return };
        let clock: Arc<dyn Clock> = ManualClock::at(0);
        let opened = tollgate_kv::open(Some(&url), &unique_prefix(), clock)
            .await
            .unwrap();
        let readiness = opened.readiness.expect("Redis is checked by /readyz");
        readiness.check().await.unwrap();
        // Real time, not the (frozen) clock: the store is Redis.
        opened.store.set("k", "v", 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1150)).await;
        assert_eq!(opened.store.get("k").await.unwrap(), None);
    }
}

#[tokio::test]
async fn open_picks_the_in_process_store_without_a_url() {
    let clock = ManualClock::at(1_000);
    let opened = tollgate_kv::open(None, "ignored:", clock.clone())
        .await
        .unwrap();
    assert!(opened.readiness.is_none(), "nothing to check in process");
    opened.store.set("k", "v", 5).await.unwrap();
    clock.advance(5);
    assert_eq!(
        opened.store.get("k").await.unwrap(),
        None,
        "not on the given clock"
    );
}
