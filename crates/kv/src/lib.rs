//! Key-value adapters of the domain's key-value port: the in-process [`LocalStore`] and the
//! shared [`RedisStore`] ([`open`] picks one from the configuration). Rate limits are the
//! domain's `WindowLimiter` over this port (docs/adr/0016-rate-limits-on-the-kv-port.md).

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
