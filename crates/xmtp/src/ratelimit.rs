//! A client-side token bucket so that we never exceed the XMTP node's published per-IP
//! read limit (xmtp-node-go: 20,000-token bucket refilled at 4,000 per minute; each read
//! request costs one token). `RESOURCE_EXHAUSTED` from the server empties the bucket, so
//! every task backs off together.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Bucket size (burst).
    pub burst: f64,
    /// Refill per minute.
    pub per_minute: f64,
}

impl RateLimit {
    /// The published v3 read limit.
    pub const XMTP_READS: RateLimit = RateLimit {
        burst: 20_000.0,
        per_minute: 4_000.0,
    };
    /// No limit (tests against the local stand-in).
    pub const UNLIMITED: RateLimit = RateLimit {
        burst: f64::INFINITY,
        per_minute: f64::INFINITY,
    };
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    bucket: Mutex<Bucket>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            bucket: Mutex::new(Bucket {
                tokens: limit.burst,
                last: Instant::now(),
            }),
        }
    }

    /// Takes one token if available; otherwise how long until one is.
    pub fn try_take(&self) -> Result<(), Duration> {
        if self.limit.burst.is_infinite() {
            return Ok(());
        }
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let per_sec = self.limit.per_minute / 60.0;
        b.tokens =
            (b.tokens + now.duration_since(b.last).as_secs_f64() * per_sec).min(self.limit.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - b.tokens) / per_sec).max(0.001),
            ))
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        while let Err(wait) = self.try_take() {
            metrics::counter!("xmtp_api_rate_limit_waits_total").increment(1);
            tokio::time::sleep(wait).await;
        }
    }

    /// The server said we are over its limit: assume the bucket is empty.
    pub fn drain(&self) {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.tokens = b.tokens.min(0.0);
        b.last = Instant::now();
    }

    /// Tokens currently available (for tests and metrics).
    pub fn available(&self) -> f64 {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        b.tokens = (b.tokens
            + now.duration_since(b.last).as_secs_f64() * self.limit.per_minute / 60.0)
            .min(self.limit.burst);
        b.last = now;
        b.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_asks_to_wait() {
        let b = TokenBucket::new(RateLimit {
            burst: 3.0,
            per_minute: 60.0,
        });
        assert!(b.try_take().is_ok());
        assert!(b.try_take().is_ok());
        assert!(b.try_take().is_ok());
        let wait = b.try_take().unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
    }

    #[test]
    fn drained_bucket_refuses() {
        let b = TokenBucket::new(RateLimit::XMTP_READS);
        b.drain();
        assert!(b.try_take().is_err());
    }
}
