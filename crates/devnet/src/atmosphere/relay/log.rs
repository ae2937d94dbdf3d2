//! The relay's in-memory event log: strictly increasing `seq` (gaps allowed), a bounded
//! replay window, and the cursor rules of `subscribeRepos`.

use std::collections::VecDeque;

use bytes::Bytes;

/// One persisted event: its sequence number and its encoded frame.
#[derive(Debug, Clone)]
pub(crate) struct LoggedFrame {
    pub(crate) seq: i64,
    pub(crate) frame: Bytes,
}

/// Where a subscriber starts, decided from its cursor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// No cursor: live tip only.
    Live,
    /// Replay events with `seq > after`; `outdated` when events after the cursor were evicted.
    After { after: i64, outdated: bool },
    /// The cursor is ahead of the current sequence.
    Future { current: i64 },
}

/// The bounded log.
#[derive(Debug)]
pub(crate) struct EventLog {
    events: VecDeque<LoggedFrame>,
    window: usize,
    /// Highest seq assigned so far (0 before the first event).
    current: i64,
    /// Highest seq evicted from the window (0 when nothing was evicted).
    evicted: i64,
}

impl EventLog {
    /// An empty log keeping at most `window` events.
    pub(crate) fn new(window: usize) -> Self {
        EventLog {
            events: VecDeque::new(),
            window: window.max(1),
            current: 0,
            evicted: 0,
        }
    }

    /// The next seq to assign, after skipping `gap` numbers.
    pub(crate) fn next_seq(&mut self, gap: i64) -> i64 {
        self.current += 1 + gap.max(0);
        self.current
    }

    /// Appends an event whose seq came from [`EventLog::next_seq`]; evicts the oldest.
    pub(crate) fn push(&mut self, entry: LoggedFrame) {
        self.events.push_back(entry);
        while self.events.len() > self.window {
            if let Some(old) = self.events.pop_front() {
                self.evicted = old.seq;
            }
        }
    }

    /// The window size this log was made with.
    pub(crate) fn window(&self) -> usize {
        self.window
    }

    /// Events held.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Highest seq assigned so far.
    pub(crate) fn current(&self) -> i64 {
        self.current
    }

    /// Highest seq evicted from the window (0 when nothing was evicted).
    pub(crate) fn evicted(&self) -> i64 {
        self.evicted
    }

    /// Oldest seq still held.
    pub(crate) fn oldest(&self) -> Option<i64> {
        self.events.front().map(|event| event.seq)
    }

    /// Decides where a subscriber with `cursor` starts.
    pub(crate) fn start(&self, cursor: Option<i64>) -> Start {
        match cursor {
            None => Start::Live,
            Some(cursor) if cursor > self.current => Start::Future {
                current: self.current,
            },
            // Replay starts after the cursor, or after the last evicted event when the
            // cursor is older than the window (0 = the whole window, without `#info`).
            Some(cursor) => Start::After {
                after: cursor.max(self.evicted),
                outdated: cursor > 0 && cursor < self.evicted,
            },
        }
    }

    /// Up to `max` events with `seq > after`, oldest first.
    pub(crate) fn after(&self, after: i64, max: usize) -> Vec<LoggedFrame> {
        let start = self.events.partition_point(|event| event.seq <= after);
        self.events.iter().skip(start).take(max).cloned().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn log_with(window: usize, n: usize) -> EventLog {
        let mut log = EventLog::new(window);
        for _ in 0..n {
            let seq = log.next_seq(0);
            log.push(LoggedFrame {
                seq,
                frame: Bytes::new(),
            });
        }
        log
    }

    #[test]
    fn replay_resumes_just_after_the_cursor() {
        let log = log_with(10, 5);
        assert_eq!(
            log.start(Some(3)),
            Start::After {
                after: 3,
                outdated: false
            }
        );
        let seqs: Vec<i64> = log.after(3, 100).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 5]);
    }

    #[test]
    fn cursor_beyond_current_is_future() {
        let log = log_with(10, 5);
        assert_eq!(log.start(Some(6)), Start::Future { current: 5 });
        assert!(matches!(log.start(Some(5)), Start::After { after: 5, .. }));
    }

    #[test]
    fn cursor_before_the_window_is_outdated() {
        let log = log_with(3, 10);
        assert_eq!(log.oldest(), Some(8));
        assert_eq!(
            log.start(Some(2)),
            Start::After {
                after: 7,
                outdated: true
            }
        );
        assert_eq!(
            log.start(Some(7)),
            Start::After {
                after: 7,
                outdated: false
            }
        );
        assert_eq!(
            log.start(Some(0)),
            Start::After {
                after: 7,
                outdated: false
            }
        );
        let seqs: Vec<i64> = log.after(7, 100).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![8, 9, 10]);
    }

    #[test]
    fn gaps_keep_seq_strictly_increasing() {
        let mut log = EventLog::new(10);
        assert_eq!(log.next_seq(0), 1);
        assert_eq!(log.next_seq(5), 7);
        assert_eq!(log.next_seq(0), 8);
    }
}
