//! The key-value port: counters with expiry, one-time values and an invalidation channel.
//!
//! One instance keeps them in process (`tollgate_kv::LocalStore`); many instances share Redis
//! (`tollgate_kv::RedisStore`), so a counter or a one-time value means the same on every
//! instance. Nothing here guards money: the database statement is the guarantee there. The
//! store carries login throttling, rate limits, pending two-factor logins and invalidation
//! messages, all of which are safe to lose (a restart of an in-process store forgets them).
//!
//! Every operation is atomic on its key: N concurrent `incr` calls return N distinct values,
//! and of N concurrent `take` calls of one key exactly one gets the value.

use async_trait::async_trait;

/// Keys and values are plain strings; callers namespace keys (`throttle:acct:alice`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// Adds `by` to the counter at `key` and returns the new value. A missing (or expired)
    /// counter starts at 0 and expires `ttl_secs` after this call; an existing counter keeps
    /// its expiry (a fixed window). `ttl_secs` is at least 1.
    async fn incr(&self, key: &str, by: i64, ttl_secs: u64) -> anyhow::Result<i64>;

    /// The value at `key`, if present and not expired.
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>>;

    /// Sets `key` to `value`, expiring after `ttl_secs`, replacing what was there.
    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<()>;

    /// Sets `key` to `value` with expiry only when `key` is absent. `true` when it was set;
    /// of N concurrent callers exactly one gets `true`.
    async fn set_if_absent(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<bool>;

    /// Removes `key` and returns its value: a one-time value is taken at most once.
    async fn take(&self, key: &str) -> anyhow::Result<Option<String>>;

    /// Removes `key` (absent is not an error).
    async fn delete(&self, key: &str) -> anyhow::Result<()>;

    /// Seconds until `key` expires (rounded up, at least 1), or `None` when it is absent.
    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>>;

    /// Sends `payload` to every current subscriber of `channel`, on every instance sharing the
    /// store. Delivery is best effort: a subscriber that is disconnected misses the message,
    /// so receivers pair it with expiry (a cache entry's TTL).
    async fn publish(&self, channel: &str, payload: &str) -> anyhow::Result<()>;

    /// Starts receiving the messages published to `channel` from now on.
    async fn subscribe(&self, channel: &str) -> anyhow::Result<Box<dyn Subscription>>;
}

/// Messages of one channel, in the order they were published.
#[async_trait]
pub trait Subscription: Send {
    /// The next message; `None` when the store is gone for good.
    async fn next(&mut self) -> Option<String>;
}
