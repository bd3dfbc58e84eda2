//! The Redis adapter of the key-value port: what several instances share, so a counter or a
//! one-time value means the same on every instance and a message reaches all of them.
//!
//! One [`ConnectionManager`] carries everything: it multiplexes commands over one connection,
//! reconnects by itself, and, speaking RESP3, receives pub/sub messages on the same connection
//! and subscribes again after a reconnect (messages published while it was disconnected are
//! lost, which the port allows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo as _, Msg, ProtocolVersion, PushInfo, Script};
use tokio::sync::mpsc;
use tollgate_domain::RepoError;
use tollgate_domain::kv::{KeyValueStore, Subscription};
use tollgate_domain::ports::Readiness;

/// The whole of [`RedisStore::connect`], retries included: a server that does not answer
/// stops the start instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt to open the socket (and say hello).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// One command's reply. Everything the port sends is O(1) on the server, so a longer wait
/// means the server or the network is in trouble; the caller gets an error instead.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts per (re)connection before the pending commands fail; the next command starts
/// another round.
const CONNECT_RETRIES: usize = 3;
/// How many messages a slow subscriber may fall behind before it misses some.
const SUBSCRIBER_CAPACITY: usize = 256;

/// `INCRBY`, and an expiry only when the key has none, i.e. when this call created it: the
/// window is fixed at creation and never slides. One script, so no other client runs between
/// the two (a counter can never be left without an expiry).
const INCR_SCRIPT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return n
";

/// The key-value port over Redis (6 or later: RESP3 and `GETDEL` need it; 7 is tested).
///
/// Every key and channel is stored under a prefix (`tollgate:` by default) so several
/// installations, or a test run, can share one Redis database.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    incr: Script,
    subscribers: Arc<Subscribers>,
}

/// Local subscribers per (prefixed) channel. The connection subscribes to a channel once;
/// its messages fan out here.
#[derive(Default)]
struct Subscribers(Mutex<HashMap<String, Vec<mpsc::Sender<String>>>>);

impl Subscribers {
    /// The map survives a panic of another thread holding the lock: every write is a single
    /// push or retain.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<mpsc::Sender<String>>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, channel: String, tx: mpsc::Sender<String>) {
        self.lock().entry(channel).or_default().push(tx);
    }

    /// Hands a pushed message to the subscribers of its channel, forgetting those that are
    /// gone. Never blocks (it runs on the connection's reader): a full subscriber misses it.
    fn deliver(&self, push: PushInfo) {
        let Some(msg) = Msg::from_push_info(push) else {
            // Subscription confirmations, disconnection notices: nothing to hand out.
            return;
        };
        let Ok(payload) = msg.get_payload::<String>() else {
            tracing::warn!("a pub/sub message that is not UTF-8 was dropped");
            return;
        };
        let mut map = self.lock();
        let Some(senders) = map.get_mut(msg.get_channel_name()) else {
            return;
        };
        senders.retain(|tx| match tx.try_send(payload.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("an invalidation message was dropped for a slow receiver");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if senders.is_empty() {
            map.remove(msg.get_channel_name());
        }
    }
}

impl std::fmt::Debug for RedisStore {
    /// Names the prefix only: the connection's details may hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) and checks that the
    /// server answers, giving up after 10 s (retries included). Keys and channels are stored
    /// under `prefix`. Errors name the server without the URL's credentials.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let shown = redacted(url);
        let info = url
            .into_connection_info()
            .with_context(|| format!("kv.redis_url ({shown}) is not a redis:// URL"))?;
        // Pub/sub on the shared connection needs RESP3, whatever the URL asked for.
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client = Client::open(info).with_context(|| format!("opening Redis at {shown}"))?;

        let subscribers = Arc::new(Subscribers::default());
        let sink = subscribers.clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ATTEMPT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_push_sender(move |push: PushInfo| {
                sink.deliver(push);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();
        let connecting = async {
            let mut conn = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(|_| conn)
        };
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "connecting to Redis at {shown}: no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )
            })?
            .with_context(|| format!("connecting to Redis at {shown}"))?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            incr: Script::new(INCR_SCRIPT),
            subscribers,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The server's id of the current connection (`CLIENT ID`), to find it in `CLIENT LIST`
    /// (and, in tests, to drop it with `CLIENT KILL ID`).
    pub async fn connection_id(&self) -> anyhow::Result<i64> {
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut self.conn())
            .await
            .map_err(failed("CLIENT ID"))
    }

    /// A handle on the shared connection (cheap: the manager is an `Arc`).
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// `url` as it may be shown: scheme, host, port and database, never the user or password. A
/// URL that does not parse is not shown at all (the password could be anywhere in it).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            // Both fail only for URLs that cannot have credentials, which is fine.
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Redis takes expiries as signed 64-bit seconds, at least 1.
fn expiry(ttl_secs: u64) -> i64 {
    i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX)
}

/// Errors name the operation, never the key: some keys carry secrets (a pending login's
/// challenge).
fn failed(op: &'static str) -> impl FnOnce(redis::RedisError) -> anyhow::Error {
    move |e| anyhow::Error::new(e).context(format!("Redis {op} failed"))
}

#[async_trait]
impl KeyValueStore for RedisStore {
    async fn incr(&self, key: &str, by: i64, ttl_secs: u64) -> anyhow::Result<i64> {
        self.incr
            .key(self.key(key))
            .arg(by)
            .arg(expiry(ttl_secs))
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed("INCRBY"))
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(failed("GET"))
    }

    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<()> {
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("EX")
            .arg(expiry(ttl_secs))
            .query_async(&mut self.conn())
            .await
            .map_err(failed("SET"))
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<bool> {
        // `OK` when set, nil when the key exists.
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(expiry(ttl_secs))
            .query_async(&mut self.conn())
            .await
            .map_err(failed("SET NX"))?;
        Ok(reply.is_some())
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<String>> {
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(failed("GETDEL"))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(failed("DEL"))
    }

    /// `PTTL` rounded up to whole seconds. A key without any expiry cannot be written through
    /// the port (every write sets one, and `incr` repairs a counter that lacks it), so it was
    /// written by something else under our prefix: that is an error, not a number a caller
    /// would put in `Retry-After`.
    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>> {
        let ms: i64 = redis::cmd("PTTL")
            .arg(self.key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(failed("PTTL"))?;
        match ms {
            -2 => Ok(None),
            -1 => anyhow::bail!(
                "a key under the store's prefix has no expiry (written outside Tollgate?)"
            ),
            ms => {
                let ms = u64::try_from(ms).unwrap_or(0);
                Ok(Some(ms.div_ceil(1000).max(1)))
            }
        }
    }

    async fn publish(&self, channel: &str, payload: &str) -> anyhow::Result<()> {
        redis::cmd("PUBLISH")
            .arg(self.key(channel))
            .arg(payload)
            .query_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(failed("PUBLISH"))
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<Box<dyn Subscription>> {
        let channel = self.key(channel);
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        // Registered before the server confirms, so nothing published after the confirmation
        // is missed. Subscribing again to a channel the connection already has is harmless.
        self.subscribers.add(channel.clone(), tx);
        self.conn()
            .subscribe(&channel)
            .await
            .map_err(failed("SUBSCRIBE"))?;
        Ok(Box::new(RedisSubscription { rx }))
    }
}

/// Messages of one channel; the connection's reader fills the queue.
struct RedisSubscription {
    rx: mpsc::Receiver<String>,
}

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

/// `/readyz` asks Redis for a `PING` when it is configured: without it, throttling and pending
/// logins fail.
#[async_trait]
impl Readiness for RedisStore {
    async fn check(&self) -> Result<(), RepoError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(|e| RepoError(failed("PING")(e)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_the_server_and_drop_the_credentials() {
        assert_eq!(
            redacted("redis://user:hunter2@cache.internal:6380/3?protocol=resp3"),
            "redis://cache.internal:6380/3"
        );
        assert_eq!(
            redacted("redis://:hunter2@127.0.0.1/15"),
            "redis://127.0.0.1/15"
        );
        assert_eq!(redacted("redis//:hunter2@x"), "<unparsable URL>");
    }

    #[tokio::test]
    async fn a_failed_connection_does_not_show_the_password() {
        // Port 1 on localhost refuses at once.
        for url in ["redis://:hunter2@127.0.0.1:1/15", "redis//:hunter2@nowhere"] {
            let err = RedisStore::connect(url, "t:").await.unwrap_err();
            let shown = format!("{err:#} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("Redis") || shown.contains("redis"),
                "{shown}"
            );
        }
    }
}
