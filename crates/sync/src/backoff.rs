//! Exponential backoff with jitter, driven by `tokio::time` (so tests can pause time).

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: the n-th delay is uniformly drawn from
/// `[base/2, base]` with `base = min(max, initial * 2^n)` ("equal jitter").
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// Forgets past failures (after a healthy connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay (advances the attempt counter).
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Sleeps for the next delay.
    pub async fn wait(&mut self) {
        let d = self.next_delay();
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_bounds_and_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut bases = Vec::new();
        for n in 0..10u32 {
            let d = b.next_delay();
            let base = Duration::from_secs(1u64 << n).min(Duration::from_secs(60));
            assert!(
                d >= base / 2 && d <= base + Duration::from_millis(1),
                "{n}: {d:?}"
            );
            bases.push(base);
        }
        assert_eq!(bases.last(), Some(&Duration::from_secs(60)));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1001));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_follows_the_schedule_in_virtual_time() {
        let start = tokio::time::Instant::now();
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(30));
        for _ in 0..5 {
            b.wait().await;
        }
        // bases 2+4+8+16+30 = 60 s; with jitter the total is within [30 s, 60 s].
        let el = start.elapsed();
        assert!(
            el >= Duration::from_secs(30) && el <= Duration::from_secs(61),
            "{el:?}"
        );
    }
}
