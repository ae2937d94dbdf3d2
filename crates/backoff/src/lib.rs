//! The workspace's one exponential backoff with jitter, driven by `tokio::time` (so tests
//! can pause time). A [`Policy`] says how delays grow and how they are jittered; a
//! [`Backoff`] follows one policy through consecutive failures (one per host in
//! `sync::hosts`, one per connection in the firehose). Callers that keep their own failure
//! count (the XMTP client, the verifier pool) ask [`Policy::delay`] directly.

use std::time::Duration;

use rand::Rng;

/// How a delay is spread around its exponential base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform in `[base/2, base]` ("equal jitter"): retries of one caller spread out, and
    /// never wait longer than the base.
    Equal,
    /// Uniform in `[0.75·base, 1.25·base]`: a pool's rounds stay near the base.
    Quarter,
}

impl Jitter {
    /// A jittered delay around `base`.
    pub fn apply(self, base: Duration) -> Duration {
        let r: f64 = rand::rng().random();
        match self {
            Jitter::Equal => base.mul_f64(0.5 + r * 0.5),
            Jitter::Quarter => base.mul_f64(0.75 + r * 0.5),
        }
    }
}

/// An exponential schedule: the n-th base is `min(max, initial · 2^n)`, then jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The first base delay.
    pub initial: Duration,
    /// The largest base delay.
    pub max: Duration,
    /// How each delay is spread around its base.
    pub jitter: Jitter,
}

impl Policy {
    /// Equal jitter from `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            jitter: Jitter::Equal,
        }
    }

    /// The same schedule with another jitter.
    pub fn with_jitter(self, jitter: Jitter) -> Self {
        Self { jitter, ..self }
    }

    /// The base (unjittered) delay after `attempt` earlier failures.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The jittered delay after `attempt` earlier failures.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.jitter.apply(self.ceiling(attempt))
    }
}

/// A policy followed through consecutive failures.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Policy,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff with equal jitter from `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self::with_policy(Policy::new(initial, max))
    }

    /// A fresh backoff following `policy`.
    pub fn with_policy(policy: Policy) -> Self {
        Self { policy, attempt: 0 }
    }

    /// Forgets past failures (after a healthy connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay (advances the attempt counter).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.policy.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// Sleeps for the next delay.
    pub async fn wait(&mut self) {
        let d = self.next_delay();
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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

    #[test]
    fn quarter_jitter_stays_within_a_quarter_of_the_base() {
        let p = Policy::new(Duration::from_secs(10), Duration::from_secs(3600))
            .with_jitter(Jitter::Quarter);
        for n in 0..8u32 {
            let base = p.ceiling(n);
            assert_eq!(base, Duration::from_secs(10 << n));
            let d = p.delay(n);
            assert!(
                d >= base.mul_f64(0.75) && d <= base.mul_f64(1.25),
                "{n}: {d:?}"
            );
        }
    }
}
