//! [`MokaCache`]: the in-process [`Cache`] on `moka::future::Cache`, bounded in entries,
//! each entry with its own time to live. Everything in it is lost when the process ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Cache, CacheError};

/// An entry: the value and the time to live it was stored with.
#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
}

/// Tells moka each entry's own time to live, counted from its last insert.
struct PerEntryTtl;

impl ::moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The default [`Cache`]: in this process's memory, at most `max_entries` entries (the
/// least used go first when it is full).
#[derive(Clone)]
pub struct MokaCache {
    name: &'static str,
    entries: ::moka::future::Cache<String, Entry>,
}

impl MokaCache {
    pub fn new(name: &'static str, max_entries: u64) -> Self {
        let entries = ::moka::future::Cache::builder()
            .name(name)
            .max_capacity(max_entries)
            .expire_after(PerEntryTtl)
            .build();
        Self { name, entries }
    }
}

impl std::fmt::Debug for MokaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MokaCache")
            .field("name", &self.name)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

#[async_trait]
impl Cache for MokaCache {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self
            .entries
            .get(key)
            .await
            .map(|entry| entry.value.to_vec()))
    }

    async fn insert(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let entry = Entry {
            value: value.into(),
            ttl,
        };
        self.entries.insert(key.to_owned(), entry).await;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(key).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_entry_is_there_until_it_is_removed_or_its_time_runs_out() {
        let cache: Arc<dyn Cache> = Arc::new(MokaCache::new("test", 100));
        assert_eq!(cache.name(), "test");
        assert_eq!(cache.get("a").await.unwrap(), None);
        cache
            .insert("a", b"one".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        cache
            .insert("short", b"two".to_vec(), Duration::from_millis(30))
            .await
            .unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(
            cache.get("short").await.unwrap().as_deref(),
            Some(&b"two"[..])
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("short").await.unwrap(), None, "expired");
        assert!(
            cache.get("a").await.unwrap().is_some(),
            "each entry its own ttl"
        );
        cache.remove("a").await.unwrap();
        assert_eq!(cache.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_insert_replaces_the_value_and_its_time_to_live() {
        let cache = MokaCache::new("test", 100);
        cache
            .insert("k", b"old".to_vec(), Duration::from_millis(30))
            .await
            .unwrap();
        cache
            .insert("k", b"new".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"new"[..]));
    }
}
