//! Per-client-IP rate limiting: a GCRA token bucket per client (`rate` per second, burst
//! `2 × rate`), in a sharded table whose size is bounded.
//!
//! A client is an IPv4 address or an IPv6 /64 (one host usually holds a whole /64). An
//! entry whose bucket is full again is worth nothing and is dropped when its shard fills up.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Shards of the table, each behind its own lock.
const SHARDS: usize = 16;
const NANOS: u64 = 1_000_000_000;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u64,
    /// Seconds until the burst is whole again.
    pub reset_secs: u64,
    /// When denied: seconds until one request is allowed again (at least 1).
    pub retry_after_secs: u64,
}

/// The per-client table.
pub(crate) struct RateLimiter {
    /// Requests per second.
    rate: u32,
    /// The burst (`2 × rate`).
    burst: u64,
    /// Nanoseconds between two requests at the steady rate.
    interval: u64,
    /// How far ahead of now a client's theoretical arrival time may run: `burst × interval`.
    tolerance: u64,
    start: Instant,
    hasher: RandomState,
    shard_capacity: usize,
    /// Client key -> theoretical arrival time (ns since `start`).
    shards: Box<[Mutex<HashMap<u128, u64>>]>,
}

/// The table key of a client: the IPv4 address (IPv4-mapped IPv6 too), or the IPv6 /64.
pub(crate) fn client_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6) & !u128::from(u64::MAX),
    }
}

fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS)
}

impl RateLimiter {
    /// A limiter of `rate` requests per second per client (burst `2 × rate`), tracking at
    /// most about `clients` clients. `rate` must not be 0.
    pub(crate) fn new(rate: u32, clients: usize) -> RateLimiter {
        let rate = rate.max(1);
        let burst = u64::from(rate) * 2;
        let interval = (NANOS / u64::from(rate)).max(1);
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        RateLimiter {
            rate,
            burst,
            interval,
            tolerance: interval.saturating_mul(burst),
            start: Instant::now(),
            hasher: RandomState::new(),
            shard_capacity: clients.div_ceil(SHARDS).max(1),
            shards,
        }
    }

    /// Requests per second per client.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// The burst, reported as `RateLimit-Limit`.
    pub(crate) fn burst(&self) -> u64 {
        self.burst
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts one request from `ip` now.
    pub(crate) fn check(&self, ip: IpAddr) -> Decision {
        self.check_at(ip, self.now())
    }

    /// Counts one request from `ip` at `now` (ns since the limiter started).
    pub(crate) fn check_at(&self, ip: IpAddr, now: u64) -> Decision {
        let key = client_key(ip);
        let shard = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let mut table = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let tat = match table.get(&key) {
            Some(&tat) => tat.max(now),
            None => {
                if table.len() >= self.shard_capacity {
                    // Entries whose bucket is full again carry nothing: drop them.
                    table.retain(|_, tat| *tat > now);
                }
                if table.len() >= self.shard_capacity {
                    metrics::counter!("xrpc_rate_limit_table_full_total").increment(1);
                    return Decision {
                        allowed: false,
                        remaining: 0,
                        reset_secs: 1,
                        retry_after_secs: 1,
                    };
                }
                now
            }
        };
        let next = tat.saturating_add(self.interval);
        let ahead = next - now;
        if ahead > self.tolerance {
            return Decision {
                allowed: false,
                remaining: 0,
                reset_secs: ceil_secs(tat - now),
                retry_after_secs: ceil_secs(ahead - self.tolerance).max(1),
            };
        }
        table.insert(key, next);
        Decision {
            allowed: true,
            remaining: (self.tolerance - ahead) / self.interval,
            reset_secs: ceil_secs(ahead),
            retry_after_secs: 0,
        }
    }

    /// Clients tracked now, over all shards.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// An address of the IPv6 documentation range.
    fn v6(n: u128) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | n))
    }

    const SEC: u64 = NANOS;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    #[test]
    fn a_client_gets_twice_the_rate_as_a_burst_then_the_steady_rate() {
        let l = RateLimiter::new(10, 1_000);
        let t0 = 5 * SEC;
        for i in 0..20 {
            let d = l.check_at(ip(1), t0);
            assert!(d.allowed, "request {i} of the burst");
            assert_eq!(d.remaining, 19 - i);
        }
        let denied = l.check_at(ip(1), t0);
        assert!(!denied.allowed);
        assert_eq!(denied.remaining, 0);
        assert_eq!(denied.retry_after_secs, 1);
        assert_eq!(
            denied.reset_secs, 2,
            "a whole burst at 10/s takes 2 s to refill"
        );
        // Another client is not affected.
        assert!(l.check_at(ip(2), t0).allowed);
        // One interval later, exactly one more request.
        assert!(l.check_at(ip(1), t0 + SEC / 10).allowed);
        assert!(!l.check_at(ip(1), t0 + SEC / 10).allowed);
        // After two seconds the burst is whole again.
        let d = l.check_at(ip(1), t0 + 3 * SEC);
        assert!(d.allowed);
        assert_eq!(d.remaining, 19);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let l = RateLimiter::new(1, 1_000);
        assert!(l.check_at(v6(1), SEC).allowed);
        assert!(l.check_at(v6(2), SEC).allowed);
        assert!(!l.check_at(v6(3), SEC).allowed, "same /64: one bucket of 2");
        assert!(l.check_at(v6(1 << 64), SEC).allowed, "another /64");
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped());
        assert!(l.check_at(ip(9), SEC).allowed);
        assert!(l.check_at(mapped, SEC).allowed);
        assert!(
            !l.check_at(ip(9), SEC).allowed,
            "mapped and plain share a bucket"
        );
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(l.check_at(loopback, SEC).allowed);
        assert!(l.check_at(loopback, SEC).allowed);
        assert!(!l.check_at(loopback, SEC).allowed, "loopback is not exempt");
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_clients_whose_bucket_is_whole() {
        let clients = 64;
        let l = RateLimiter::new(1, clients);
        let cap = clients.div_ceil(SHARDS) * SHARDS;
        // Far more distinct clients than the table holds, all active in the same instant.
        let mut denied = 0;
        for n in 0..10_000 {
            if !l.check_at(v6(n << 64), SEC).allowed {
                denied += 1;
            }
        }
        assert!(l.tracked() <= cap, "{} > {cap}", l.tracked());
        assert!(
            denied >= 10_000 - cap,
            "new clients are refused while the table is full"
        );
        assert!(!l.check_at(v6(20_000 << 64), SEC).allowed);
        // Once their buckets are whole again, a new client takes their place.
        assert!(l.check_at(v6(20_000 << 64), 10 * SEC).allowed);
        assert!(l.tracked() <= cap);
    }
}
