//! The devnet's clocks: a TID clock for commit revisions and record keys (13 base32-sortable
//! characters of `(microseconds since the epoch << 10) | clock id`, strictly increasing per
//! clock), and the datetime strings of records and frames.

use std::sync::Mutex;

use super::locks::lock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now as an ATProto datetime: RFC 3339, UTC, milliseconds (`createdAt`, frame `time`).
pub(crate) fn datetime_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Issues strictly increasing TIDs, even when the wall clock stalls or steps back.
#[derive(Debug)]
pub struct TidClock {
    clock_id: u16,
    last_micros: Mutex<u64>,
}

impl TidClock {
    /// A clock with the given 10-bit clock id.
    pub fn new(clock_id: u16) -> Self {
        TidClock {
            clock_id: clock_id & 0x3ff,
            last_micros: Mutex::new(0),
        }
    }

    /// The next TID.
    pub fn next(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let mut last = lock(&self.last_micros);
        let micros = now.max(*last + 1);
        *last = micros;
        syntax::Tid::from_parts(micros, self.clock_id).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_valid_and_strictly_increasing() {
        let clock = TidClock::new(7);
        let mut previous = String::new();
        for _ in 0..1000 {
            let tid = clock.next();
            let parsed = syntax::Tid::parse(&tid).unwrap();
            assert_eq!(parsed.to_u64() & 0x3ff, 7);
            assert!(tid > previous, "{tid} after {previous}");
            previous = tid;
        }
    }
}
