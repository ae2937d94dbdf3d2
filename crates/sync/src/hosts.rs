//! Per-host backoff: a host that fails (the PLC directory, a did:web host, a PDS) is
//! probed by one job at a time, with exponential delays capped at `max`, while the other
//! jobs deferred on it wait without holding a worker slot. One success clears it, so work
//! deferred on a host is retried within `max` of the host answering again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backoff::Backoff;
use syntax::Did;

/// The host a DID's identity is resolved at: `plc` for did:plc, the domain for did:web.
pub fn identity_host(did: &Did) -> String {
    match did.as_str().strip_prefix("did:web:") {
        Some(rest) => rest.split(':').next().unwrap_or(rest).to_ascii_lowercase(),
        None => "plc".to_owned(),
    }
}

/// The host of a URL (`https://pds.example:443/x` → `pds.example:443`).
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

#[derive(Debug)]
struct HostState {
    backoff: Backoff,
    next_probe: Instant,
    probing: bool,
}

/// The backoff state of every failing host (healthy hosts have no entry).
#[derive(Debug)]
pub struct Hosts {
    initial: Duration,
    max: Duration,
    failing: HashMap<String, HostState>,
}

/// Whether a job on a host may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The host is healthy, or this job is its probe.
    Run,
    /// The host is failing: wait until then.
    WaitUntil(Instant),
}

impl Hosts {
    /// Delays start at `initial` and double up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            failing: HashMap::new(),
        }
    }

    /// May a job on `host` run at `now`? A failing host admits one probe once its delay
    /// has passed; the rest wait for its next probe time.
    pub fn admit(&mut self, host: &str, now: Instant) -> Admission {
        match self.failing.get_mut(host) {
            None => Admission::Run,
            Some(s) if !s.probing && now >= s.next_probe => {
                s.probing = true;
                Admission::Run
            }
            Some(s) => Admission::WaitUntil(s.next_probe.max(now + Duration::from_millis(100))),
        }
    }

    /// `host` answered: it is healthy again.
    pub fn succeeded(&mut self, host: &str) {
        self.failing.remove(host);
    }

    /// `host` failed at `now`: its next probe is after the next backoff delay.
    pub fn failed(&mut self, host: &str, now: Instant) -> Instant {
        let (initial, max) = (self.initial, self.max);
        let s = self
            .failing
            .entry(host.to_owned())
            .or_insert_with(|| HostState {
                backoff: Backoff::new(initial, max),
                next_probe: now,
                probing: false,
            });
        s.probing = false;
        s.next_probe = now + s.backoff.next_delay();
        s.next_probe
    }

    /// Hosts currently failing.
    pub fn failing(&self) -> usize {
        self.failing.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_host_admits_one_probe_at_a_time_and_clears_on_success() {
        let mut h = Hosts::new(Duration::from_secs(1), Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(h.admit("plc", t0), Admission::Run);
        let next = h.failed("plc", t0);
        assert!(next > t0 && next <= t0 + Duration::from_secs(1));
        assert!(matches!(h.admit("plc", t0), Admission::WaitUntil(_)));
        assert_eq!(
            h.admit("pds.example", t0),
            Admission::Run,
            "other hosts run"
        );
        let later = t0 + Duration::from_secs(2);
        assert_eq!(h.admit("plc", later), Admission::Run, "the probe");
        assert!(
            matches!(h.admit("plc", later), Admission::WaitUntil(_)),
            "one probe only"
        );
        h.succeeded("plc");
        assert_eq!(h.admit("plc", later), Admission::Run);
        assert_eq!(h.failing(), 0);
    }

    #[test]
    fn delays_are_capped_so_recovery_is_noticed_within_the_cap() {
        let mut h = Hosts::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut now = Instant::now();
        for _ in 0..20 {
            let next = h.failed("pds", now);
            assert!(next - now <= Duration::from_secs(30));
            now = next;
        }
    }

    #[test]
    fn hosts_are_named_by_identity_method_and_url() {
        assert_eq!(identity_host(&Did::parse("did:plc:abc").unwrap()), "plc");
        assert_eq!(
            identity_host(&Did::parse("did:web:Example.com").unwrap()),
            "example.com"
        );
        assert_eq!(
            identity_host(&Did::parse("did:web:localhost%3A8080").unwrap()),
            "localhost%3a8080"
        );
        assert_eq!(
            url_host("https://pds.example:443/xrpc?x"),
            "pds.example:443"
        );
        assert_eq!(url_host("http://127.0.0.1:9"), "127.0.0.1:9");
    }
}
