//! A small bounded TTL cache (mutex + hash map). Entries remember when they were fetched so
//! forced refreshes can be rate-limited.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Slot<V> {
    value: V,
    fetched: Instant,
    expires: Instant,
}

/// Bounded TTL cache.
pub(crate) struct Cache<K, V> {
    map: Mutex<HashMap<K, Slot<V>>>,
    max: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    pub fn new(max: usize) -> Self {
        Cache {
            map: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        // A panic while holding the lock cannot leave the map inconsistent; keep going.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live value and when it was fetched.
    pub fn get(&self, k: &K) -> Option<(V, Instant)> {
        let now = Instant::now();
        let map = self.lock();
        map.get(k)
            .filter(|s| s.expires > now)
            .map(|s| (s.value.clone(), s.fetched))
    }

    pub fn insert(&self, k: K, value: V, ttl: Duration) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= self.max && !map.contains_key(&k) {
            map.retain(|_, s| s.expires > now);
            if map.len() >= self.max {
                let drop_n = (self.max / 10).max(1);
                let victims: Vec<K> = map.keys().take(drop_n).cloned().collect();
                for v in victims {
                    map.remove(&v);
                }
            }
        }
        // A huge configured TTL must not overflow `Instant`: saturate at ~100 years.
        let expires = now
            .checked_add(ttl)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
            .unwrap_or(now);
        map.insert(
            k,
            Slot {
                value,
                fetched: now,
                expires,
            },
        );
    }

    pub fn remove(&self, k: &K) -> Option<V> {
        self.lock().remove(k).map(|s| s.value)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let c: Cache<u32, u32> = Cache::new(10);
        c.insert(1, 1, Duration::ZERO);
        assert_eq!(c.get(&1), None, "expired at once");
        c.insert(2, 2, Duration::MAX);
        assert_eq!(
            c.get(&2).map(|v| v.0),
            Some(2),
            "huge TTL saturates instead of panicking"
        );
        for i in 0..100 {
            c.insert(100 + i, i, Duration::from_secs(60));
        }
        assert!(c.len() <= 10);
        assert_eq!(
            c.get(&199).map(|v| v.0),
            Some(99),
            "the newest entry survives eviction"
        );
        assert_eq!(c.remove(&199), Some(99));
    }
}
