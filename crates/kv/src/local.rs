//! The in-process key-value store: enough for one instance, nothing to run beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;
use tollgate_domain::kv::{KeyValueStore, Subscription};
use tollgate_domain::ports::Clock;

/// How many messages a slow subscriber may fall behind before it misses some.
const CHANNEL_CAPACITY: usize = 256;
/// Expired entries are swept when the map has grown by this many entries since the last sweep,
/// so memory follows the live keys, not every key ever written.
const SWEEP_EVERY: usize = 1024;

/// Keys in a map behind one mutex: every operation is one short critical section, hence atomic
/// on its key. Expiry follows the injected [`Clock`] (whole seconds), so tests can move time.
/// A restart forgets everything, which is acceptable for what the port holds.
pub struct LocalStore {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// The map's size after the last sweep.
    swept_at_len: usize,
}

struct Entry {
    value: Value,
    /// Unix seconds at which the entry is gone.
    expires_at: i64,
}

enum Value {
    Counter(i64),
    Text(String),
}

impl LocalStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// How many live entries the store holds (for tests and metrics).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.lock()
            .entries
            .values()
            .filter(|e| e.expires_at > now)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map survives a panic of another thread holding the lock: every write is a single
    /// insert or remove, so the data is never half-written.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live entry at `key`, dropping it when it has expired.
    fn live<'a>(state: &'a mut State, key: &str, now: i64) -> Option<&'a mut Entry> {
        if state.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            state.entries.remove(key);
        }
        state.entries.get_mut(key)
    }

    fn insert(&self, state: &mut State, key: &str, entry: Entry, now: i64) {
        state.entries.insert(key.to_owned(), entry);
        if state.entries.len() >= state.swept_at_len + SWEEP_EVERY {
            state.entries.retain(|_, e| e.expires_at > now);
            state.swept_at_len = state.entries.len();
        }
    }

    fn sender(&self, channel: &str) -> broadcast::Sender<String> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .clone()
    }
}

fn expiry(now: i64, ttl_secs: u64) -> i64 {
    now.saturating_add(i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX))
}

fn text(entry: &Entry) -> String {
    match &entry.value {
        Value::Counter(n) => n.to_string(),
        Value::Text(s) => s.clone(),
    }
}

#[async_trait]
impl KeyValueStore for LocalStore {
    async fn incr(&self, key: &str, by: i64, ttl_secs: u64) -> anyhow::Result<i64> {
        let now = self.clock.now();
        let mut state = self.lock();
        if let Some(entry) = Self::live(&mut state, key, now) {
            let current = match &entry.value {
                Value::Counter(n) => *n,
                Value::Text(s) => s
                    .parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("the value at {key:?} is not a counter"))?,
            };
            let next = current
                .checked_add(by)
                .ok_or_else(|| anyhow::anyhow!("the counter at {key:?} would overflow"))?;
            entry.value = Value::Counter(next);
            return Ok(next);
        }
        let entry = Entry {
            value: Value::Counter(by),
            expires_at: expiry(now, ttl_secs),
        };
        self.insert(&mut state, key, entry, now);
        Ok(by)
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let now = self.clock.now();
        let mut state = self.lock();
        Ok(Self::live(&mut state, key, now).map(|e| text(e)))
    }

    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<()> {
        let now = self.clock.now();
        let mut state = self.lock();
        let entry = Entry {
            value: Value::Text(value.to_owned()),
            expires_at: expiry(now, ttl_secs),
        };
        self.insert(&mut state, key, entry, now);
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl_secs: u64) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let mut state = self.lock();
        if Self::live(&mut state, key, now).is_some() {
            return Ok(false);
        }
        let entry = Entry {
            value: Value::Text(value.to_owned()),
            expires_at: expiry(now, ttl_secs),
        };
        self.insert(&mut state, key, entry, now);
        Ok(true)
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<String>> {
        let now = self.clock.now();
        let mut state = self.lock();
        if Self::live(&mut state, key, now).is_none() {
            return Ok(None);
        }
        Ok(state.entries.remove(key).map(|e| text(&e)))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.lock().entries.remove(key);
        Ok(())
    }

    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>> {
        let now = self.clock.now();
        let mut state = self.lock();
        Ok(Self::live(&mut state, key, now).map(|e| {
            u64::try_from(e.expires_at.saturating_sub(now))
                .unwrap_or(0)
                .max(1)
        }))
    }

    async fn publish(&self, channel: &str, payload: &str) -> anyhow::Result<()> {
        // No subscriber is not an error: the message is simply not needed.
        let _ = self.sender(channel).send(payload.to_owned());
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<Box<dyn Subscription>> {
        Ok(Box::new(LocalSubscription {
            rx: self.sender(channel).subscribe(),
        }))
    }
}

struct LocalSubscription {
    rx: broadcast::Receiver<String>,
}

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self) -> Option<String> {
        loop {
            match self.rx.recv().await {
                Ok(message) => return Some(message),
                // A slow receiver skips what it missed, as a disconnected Redis subscriber
                // would; the receivers pair messages with expiry.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "invalidation messages dropped for a slow receiver"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tollgate_domain::ports::ManualClock;

    use super::*;

    fn store() -> (Arc<ManualClock>, LocalStore) {
        let clock = ManualClock::at(1_000);
        (clock.clone(), LocalStore::new(clock))
    }

    #[tokio::test]
    async fn a_counter_keeps_the_expiry_of_its_creation_and_then_starts_again() {
        let (clock, kv) = store();
        assert_eq!(kv.incr("c", 1, 60).await.unwrap(), 1);
        clock.advance(59);
        assert_eq!(kv.incr("c", 1, 60).await.unwrap(), 2);
        assert_eq!(kv.ttl("c").await.unwrap(), Some(1));
        clock.advance(1);
        assert_eq!(kv.get("c").await.unwrap(), None);
        assert_eq!(kv.incr("c", 5, 60).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn expired_entries_are_swept_as_the_map_grows() {
        let (clock, kv) = store();
        for i in 0..SWEEP_EVERY - 1 {
            kv.set(&format!("k{i}"), "v", 10).await.unwrap();
        }
        clock.advance(10);
        kv.set("fresh", "v", 10).await.unwrap();
        assert_eq!(kv.lock().entries.len(), 1, "expired entries were kept");
    }

    #[tokio::test]
    async fn a_text_value_is_not_a_counter() {
        let (_, kv) = store();
        kv.set("t", "hello", 60).await.unwrap();
        assert!(kv.incr("t", 1, 60).await.is_err());
        assert_eq!(kv.get("t").await.unwrap().as_deref(), Some("hello"));
    }
}
