//! [`LocalCache`]: a typed, in-process cache of values read from the store (a user's
//! picks, a job, an API token), on `moka::sync::Cache`. Unlike [`super::Cache`], it holds
//! Rust values and is never shared between processes: what it holds is a copy of what the
//! store holds, and its users decide when that copy is stale.

use std::hash::Hash;
use std::time::Duration;

/// Told of every lookup (`cache` name, whether it hit), for the hit and miss metrics.
pub type LookupObserver = fn(&'static str, bool);

/// A lookup observer that counts nothing.
pub fn no_observer(_cache: &'static str, _hit: bool) {}

/// At most `capacity` entries (the least used go first), each for at most `ttl`.
#[derive(Clone)]
pub struct LocalCache<K, V> {
    name: &'static str,
    entries: ::moka::sync::Cache<K, V>,
    observe: LookupObserver,
}

impl<K, V> LocalCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(name: &'static str, capacity: u64, ttl: Duration, observe: LookupObserver) -> Self {
        let entries = ::moka::sync::Cache::builder()
            .name(name)
            .max_capacity(capacity)
            .time_to_live(ttl)
            .build();
        Self {
            name,
            entries,
            observe,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The value of `key`, if held; counted as a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        let value = self.entries.get(key);
        (self.observe)(self.name, value.is_some());
        value
    }

    pub fn insert(&self, key: K, value: V) {
        self.entries.insert(key, value);
    }

    pub fn remove(&self, key: &K) {
        self.entries.invalidate(key);
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }
}

impl<K, V> std::fmt::Debug for LocalCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    static HITS: AtomicU64 = AtomicU64::new(0);
    static MISSES: AtomicU64 = AtomicU64::new(0);

    fn count(_cache: &'static str, hit: bool) {
        if hit { &HITS } else { &MISSES }.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn holds_values_until_removed_cleared_or_expired_and_counts_lookups() {
        let cache = LocalCache::new("test", 100, Duration::from_millis(50), count);
        assert_eq!(cache.name(), "test");
        assert_eq!(cache.get(&1), None);
        cache.insert(1, "one");
        cache.insert(2, "two");
        assert_eq!(cache.get(&1), Some("one"));
        cache.remove(&1);
        assert_eq!(cache.get(&1), None);
        cache.clear();
        assert_eq!(cache.get(&2), None);
        cache.insert(3, "three");
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(cache.get(&3), None, "expired");
        assert_eq!(HITS.load(Ordering::SeqCst), 1);
        assert_eq!(MISSES.load(Ordering::SeqCst), 4);
    }
}
