//! Caches: short-lived values kept outside the store, behind one small trait, [`Cache`],
//! so that the in-process default ([`MokaCache`]) can give way to a shared one (Redis)
//! when several replicas serve the same deployment. The only module that knows moka.
//!
//! Values are bytes: a shared cache cannot hold Rust values, so each user of a cache
//! encodes its own (sessions are postcard). Every entry has its own time to live.
//!
//! [`LocalCache`] is the other kind: typed copies of hot reads from the store, in this
//! process only (see `service::hot_reads`).

mod local;
mod moka;

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

pub use self::local::{LocalCache, LookupObserver, no_observer};
pub use self::moka::MokaCache;

/// How a cache fails. The in-process cache never does; a networked one can.
#[derive(Debug, Error)]
pub enum CacheError {
    #[error("the cache {cache} does not answer: {message}")]
    Unavailable {
        cache: &'static str,
        message: String,
    },
}

/// A map from string keys to bytes whose entries expire. Implementations are cheap to
/// share (`Arc<dyn Cache>`), safe to call from many tasks, and never block the runtime.
///
/// A cache may forget an entry before its time (eviction under memory pressure, a restart
/// of an in-process cache): its users keep nothing in it that they cannot lose.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The cache's name, for metrics and logs (`sessions`).
    fn name(&self) -> &'static str;

    /// The value stored under `key`, unless it expired or was removed or evicted.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;

    /// Stores `value` under `key` for `ttl` from now, replacing any entry of that key and
    /// its time to live.
    async fn insert(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError>;

    /// Removes the entry of `key`, if any.
    async fn remove(&self, key: &str) -> Result<(), CacheError>;
}
